"""Turning raw model output into a validated risk assessment (spec "Response Parsing", "Chain-of-Thought").

Without guided decoding the model writes ``<think>`` reasoning, prose, code fences and sometimes sloppy JSON,
so extraction is lenient. Validation is not: a score outside 0..100 or a level outside the four is an
invalid answer (:class:`RiskParseError`) that the caller retries or falls back on — a 250 is never clamped
into a plausible-looking 100. The score is the model's primary judgement; a level that contradicts the
score's band is corrected to the band, and the correction is recorded, not hidden.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend.domain.errors import LLMAnswerUnusableError
from backend.domain.llm_response import (
    REASONING_MAX_LENGTH,
    RECOMMENDED_ACTION_MAX_LENGTH,
    RISK_FACTOR_MAX_LENGTH,
    RISK_FACTORS_MAX_ITEMS,
    SUMMARY_MAX_LENGTH,
    LLMRiskResponse,
)
from backend.domain.risk_levels import LEVEL_ORDER, MAX_SCORE, MIN_SCORE, RiskLevel, level_for_score

MAX_CANDIDATES = 64  # "{" positions tried by extract_json_object
VERDICT_KEYS = frozenset({"risk_score", "risk_level"})  # an object with neither is not a verdict
_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_SURROGATE = re.compile("[\ud800-\udfff]")


class RiskParseError(LLMAnswerUnusableError):
    """The model output holds no valid risk assessment (the only exception ``parse_risk_response`` raises)."""


class ParsedRisk(BaseModel):
    """A validated assessment; ``risk_level`` always agrees with ``risk_score``'s band."""

    model_config = ConfigDict(frozen=True)

    risk_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    risk_level: RiskLevel
    summary: str
    reasoning: str = ""
    risk_factors: list[str] = Field(default_factory=list)
    recommended_action: str | None = None
    level_corrected: bool = False
    correction_note: str | None = None
    raw_level: str | None = None  # the level exactly as the model wrote it; None when it gave none

    @model_validator(mode="after")
    def _level_matches_band(self) -> ParsedRisk:
        if level_for_score(self.risk_score) != self.risk_level:
            raise ValueError(f"risk_level {self.risk_level} is outside the band of score {self.risk_score}")
        return self


def extract_reasoning_and_response(raw_output: str) -> tuple[str, str]:
    """Split output into (reasoning, response).

    Reasoning is the text of every ``<think>...</think>`` block, joined by blank lines; the response is the
    rest, stripped. An unclosed ``<think>`` (generation stopped mid-thought) makes everything after it
    reasoning. A ``</think>`` with no opening tag is also handled: chat templates that put ``<think>`` into
    the prompt make the output start inside the block, so the text before it is reasoning.
    """
    parts: list[str] = []

    def _keep(match: re.Match[str]) -> str:
        parts.append(match.group(1).strip())
        return " "

    rest = _THINK_BLOCK.sub(_keep, raw_output)
    closing = _THINK_CLOSE.search(rest)
    if closing is not None:
        parts.insert(0, rest[: closing.start()].strip())
        rest = rest[closing.end() :]
    opening = _THINK_OPEN.search(rest)
    if opening is not None:
        parts.append(rest[opening.end() :].strip())
        rest = rest[: opening.start()]
    reasoning = "\n\n".join(part for part in parts if part)
    return reasoning, rest.strip()


def _object_end(text: str, start: int) -> int | None:
    """Index just past the ``}`` that closes the ``{`` at ``start``; string- and escape-aware. None: unclosed."""
    depth = 0
    in_string = False
    escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _without_trailing_commas(candidate: str) -> str:
    """Drops commas directly before ``}``/``]`` outside strings (a common LLM slip)."""
    out: list[str] = []
    last_comma: int | None = None  # index in ``out`` of a comma followed only by whitespace so far
    in_string = False
    escaped = False
    for char in candidate:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif not char.isspace():
            if char in "}]" and last_comma is not None:
                del out[last_comma]
            last_comma = len(out) if char == "," else None
            in_string = char == '"'
        out.append(char)
    return "".join(out)


def _lenient_loads(candidate: str) -> Any:
    """``candidate`` parsed after dropping trailing commas; None if it still is not JSON."""
    try:
        return json.loads(_without_trailing_commas(candidate), strict=False)
    except json.JSONDecodeError:
        return None


def extract_json_object(text: str, required: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The first complete top-level JSON object in ``text`` (prose, code fences and all around it) holding at
    least one of ``required`` (any object when empty).

    Each ``{`` is tried in turn, strictly first, then with trailing commas dropped; a candidate that is no
    JSON object, or one without any ``required`` key (``Detections seen: {"person": 1}`` before the verdict),
    is skipped, so braces in prose do not hide the real object after them. At most MAX_CANDIDATES openings
    are tried, which bounds the work on degenerate output (``{{{{...``).
    """
    skipped = 0
    decoder = json.JSONDecoder(strict=False)  # strict=False: raw line breaks inside strings are accepted
    unclosed_at: int | None = None
    for match in itertools.islice(re.finditer(r"\{", text), MAX_CANDIDATES):
        start = match.start()
        try:
            value = decoder.raw_decode(text, start)[0]
        except json.JSONDecodeError:
            end = _object_end(text, start)
            if end is None:
                unclosed_at = start if unclosed_at is None else unclosed_at
                continue
            value = _lenient_loads(text[start:end])
        if isinstance(value, dict):
            if not required or required & value.keys():
                return value
            skipped += 1
    if unclosed_at is not None:
        raise RiskParseError(f"no complete JSON object: '{{' at offset {unclosed_at} is never closed (truncated?)")
    if skipped:
        raise RiskParseError(f"no JSON object with {' or '.join(sorted(required))} ({skipped} other objects)")
    raise RiskParseError(f"no JSON object in the model output ({len(text)} chars)")


def _without_surrogates(text: str) -> str:
    """``text`` with lone surrogates (invalid Unicode, e.g. from a JSON ``\\ud83d`` escape) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _score(value: Any) -> int:
    """An int score from an int, float (rounded half up) or numeric string; anything else is an error."""
    if value is None:
        raise RiskParseError("risk_score is missing")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise RiskParseError(f"risk_score {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RiskParseError(f"risk_score {value!r} is not a finite number")
    if not MIN_SCORE <= value <= MAX_SCORE:
        raise RiskParseError(f"risk_score {value} is outside {MIN_SCORE}..{MAX_SCORE}")
    return math.floor(value + 0.5)


def _text(value: Any, max_len: int) -> str:
    """Free text from the model, capped to the schema's length with a visible ellipsis."""
    text = "" if value is None else _without_surrogates(str(value)).strip()
    return text if len(text) <= max_len else text[: max_len - 1].rstrip() + "…"


def _factors(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    factors = [_text(item, RISK_FACTOR_MAX_LENGTH) for item in items if item is not None]
    return [factor for factor in factors if factor][:RISK_FACTORS_MAX_ITEMS]


def _normalised(data: dict[str, Any]) -> LLMRiskResponse:
    """The lenient reading of the model's object, then validated by the strict schema model."""
    raw_level = data.get("risk_level")
    score = _score(data.get("risk_score"))
    if raw_level is None:
        level = level_for_score(score)
    else:
        try:
            level = RiskLevel(str(raw_level).strip().lower())
        except ValueError:
            raise RiskParseError(f"risk_level {raw_level!r} is not one of {', '.join(LEVEL_ORDER)}") from None
    action = data.get("recommended_action")
    return LLMRiskResponse(
        risk_score=score,
        risk_level=level,
        summary=_text(data.get("summary"), SUMMARY_MAX_LENGTH),
        reasoning=_text(data.get("reasoning"), REASONING_MAX_LENGTH) or None,
        risk_factors=_factors(data.get("risk_factors")),
        recommended_action=_text(action, RECOMMENDED_ACTION_MAX_LENGTH) or None,
    )


def parse_risk_response(raw_output: str) -> ParsedRisk:
    """Reasoning + the validated, band-consistent assessment in ``raw_output``; RiskParseError if there is none.

    RiskParseError is the only exception it raises, whatever the string (a property test holds it to that):
    text that is no valid Unicode (a lone surrogate from a ``\\ud83d`` escape) or that the schema model
    refuses is an unusable answer like any other.
    """
    try:
        return _parse(raw_output)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(part) for part in errors[0]["loc"]) if errors else ""
        message = errors[0]["msg"] if errors else "invalid"
        raise RiskParseError(f"{where or 'answer'}: {message}") from None
    except (RecursionError, UnicodeError) as exc:
        raise RiskParseError(f"unreadable model output: {type(exc).__name__}") from None


def _parse(raw_output: str) -> ParsedRisk:
    think, response = extract_reasoning_and_response(raw_output)
    data = extract_json_object(response, VERDICT_KEYS)
    answer = _normalised(data)
    raw_level = data.get("risk_level")
    band = level_for_score(answer.risk_score)
    note = None
    if raw_level is None:
        note = f"model gave no risk_level for score {answer.risk_score}; band says {band}"
    elif answer.risk_level != band:
        note = f"model said {answer.risk_level} for score {answer.risk_score}; band says {band}"
    reasoning = "\n\n".join(part for part in (think, answer.reasoning or "") if part)
    return ParsedRisk(
        risk_score=answer.risk_score,
        risk_level=band,
        summary=answer.summary,
        reasoning=reasoning,
        risk_factors=answer.risk_factors,
        recommended_action=answer.recommended_action,
        level_corrected=note is not None,
        correction_note=note,
        raw_level=None if raw_level is None else str(raw_level),
    )
