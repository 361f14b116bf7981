"""What Python's JSON parser accepts but a server must refuse, found anywhere in a parsed document.

``json.loads`` turns ``"\\ud83d"`` into a lone surrogate (which no UTF-8 encoder can write back: the
tokenizer, llama.cpp and the reply itself fail on it), and ``NaN``, ``Infinity`` and ``1e999`` into
floats that are not finite (which llama.cpp's samplers and ``JSONResponse`` refuse). Deep nesting makes
recursive readers (jsonschema, the schema-to-grammar converters) overflow.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DEPTH = 64  # JSON nesting of a request body (a JSON schema of 30 levels is already unusual)
_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udXXX`` escapes: always encodable as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _surrogate(text: str) -> str | None:
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return f"lone surrogate \\u{ord(found.group()):04x} at character {found.start()}: text must be valid Unicode"


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return _surrogate(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (NaN, Infinity and numbers beyond 1.8e308 are not)"
    return None


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) or "body"


def find_unsound_value(document: Any, max_depth: int = MAX_DEPTH) -> tuple[str, str] | None:
    """The first unsound value in ``document`` (parsed JSON) as (field path, why), or None.

    Iterative, so a document of any depth is safe to inspect; the path is dotted like pydantic's
    locations (``messages.0.content``).
    """
    bad = _scalar(document)
    if bad is not None:
        return "body", bad
    stack: list[tuple[Any, tuple[str, ...], int]] = [(document, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        if not isinstance(value, dict | list):
            continue
        if depth >= max_depth:
            return _where(path), f"nests deeper than {max_depth} levels"
        if isinstance(value, list) and all(type(item) is int for item in value):
            continue  # token ids: the common long list
        nested: list[tuple[Any, tuple[str, ...], int]] = []
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            if isinstance(key, str) and (bad := _surrogate(key)) is not None:
                return _where(path), f"a key has a {bad}"
            if isinstance(item, dict | list):
                nested.append((item, (*path, str(key)), depth + 1))
            elif (bad := _scalar(item)) is not None:
                return _where((*path, str(key))), bad
        stack.extend(reversed(nested))
    return None
