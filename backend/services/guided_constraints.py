"""Request fragments for guided (structured) generation, NVIDIA NIM ``nvext`` form (spec NEM-3725/NEM-3726).

The LLM client merges one of these into its request body; our llama.cpp-compatible server reads the same
``nvext`` keys. Only one constraint may be sent per request, so each function returns a complete fragment.
"""

from __future__ import annotations

import copy
from typing import Any

from backend.domain.llm_response import RISK_ANALYSIS_JSON_SCHEMA
from backend.domain.risk_levels import LEVEL_ORDER

RISK_LEVEL_CHOICES: list[str] = [str(level) for level in LEVEL_ORDER]

_CHOICES: dict[str, list[str]] = {"risk_level": RISK_LEVEL_CHOICES}
# 0..100 without leading zeros: the whole output must match (guided_regex semantics).
_REGEXES: dict[str, str] = {"risk_score": "[0-9]|[1-9][0-9]|100"}


def _known(field: str, table: dict[str, Any], kind: str) -> Any:
    if field not in table:
        known = ", ".join(sorted(table))
        raise ValueError(f"no guided {kind} for field {field!r}; known fields: {known}")
    return table[field]


def get_guided_choice_config(field: str) -> dict[str, Any]:
    """``{"nvext": {"guided_choice": [...]}}`` for a field with a closed set of values (``risk_level``)."""
    return {"nvext": {"guided_choice": list(_known(field, _CHOICES, "choice"))}}


def get_guided_regex_config(field: str) -> dict[str, Any]:
    """``{"nvext": {"guided_regex": ...}}`` for a field with a textual pattern (``risk_score``)."""
    return {"nvext": {"guided_regex": _known(field, _REGEXES, "regex")}}


def get_guided_json_config() -> dict[str, Any]:
    """``{"nvext": {"guided_json": RISK_ANALYSIS_JSON_SCHEMA}}``: the whole answer object.

    The schema is deep-copied so a caller that edits its request body cannot change the shared schema.
    """
    return {"nvext": {"guided_json": copy.deepcopy(RISK_ANALYSIS_JSON_SCHEMA)}}
