"""One table of risk levels and score bands: the API, the event store, the prompts and the demo read
``backend.domain.risk_levels`` instead of keeping copies of the level names or the 0-100 bounds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from backend.api.schemas import events as event_schemas
from backend.domain import risk_levels
from backend.domain.risk_levels import LEVEL_ORDER, MAX_SCORE, MIN_SCORE, RiskLevel

BACKEND = Path(__file__).resolve().parents[2] / "backend"
# Being rewritten elsewhere; their copies are tracked there.
PENDING = {"services/evidence_risk.py", "services/nemotron_analyzer.py"}


def test_the_event_schema_uses_the_one_table() -> None:
    assert event_schemas.RiskLevel is RiskLevel
    schema = event_schemas.EventOut.model_json_schema()
    level = next(s for s in schema["properties"]["risk_level"]["anyOf"] if "$ref" in s)["$ref"].split("/")[-1]
    assert schema["$defs"][level]["enum"] == list(LEVEL_ORDER)
    score = next(s for s in schema["properties"]["risk_score"]["anyOf"] if s.get("type") == "integer")
    assert (score["minimum"], score["maximum"]) == (MIN_SCORE, MAX_SCORE)


def test_scores_and_levels_outside_the_table_are_refused() -> None:
    score = TypeAdapter(event_schemas.RiskScore)
    assert [score.validate_python(n) for n in (MIN_SCORE, MAX_SCORE)] == [MIN_SCORE, MAX_SCORE]
    for bad in (MIN_SCORE - 1, MAX_SCORE + 1):
        with pytest.raises(ValidationError):
            score.validate_python(bad)
    level = TypeAdapter(event_schemas.RiskLevel)
    assert [level.validate_python(name) for name in ("low", "critical")] == [RiskLevel.LOW, RiskLevel.CRITICAL]
    with pytest.raises(ValidationError):
        level.validate_python("severe")


def test_the_demo_styles_every_level() -> None:
    from backend.demo import LEVEL_STYLE

    assert set(LEVEL_STYLE) == set(RiskLevel)


_COPIES = [
    re.compile(r"""["']low["']\s*,\s*["']medium["']"""),  # a list of the level names
    re.compile(r"""Literal\[\s*["'](low|medium|high|critical)["']"""),
    re.compile(r"""\b0\s*<=\s*\w+\s*<=\s*100\b"""),  # a 0..100 bounds check
    re.compile(r"""\b(ge|le)\s*=\s*100\b"""),
    re.compile(r"""\(\s*(0|30|60|85)\s*,\s*(29|59|84|100)\s*\)"""),  # a band
]


def test_no_copies_of_the_table_outside_the_domain() -> None:
    found = []
    for path in sorted(BACKEND.rglob("*.py")):
        relative = path.relative_to(BACKEND).as_posix()
        if relative.startswith("domain/") or relative in PENDING:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if any(pattern.search(line) for pattern in _COPIES):
                found.append(f"backend/{relative}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
    assert risk_levels.__file__.endswith("backend/domain/risk_levels.py")
