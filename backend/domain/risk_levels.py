"""The one table of risk score bands (spec "Risk Scoring"; contract: "one table, everywhere").

Everything that maps a score to a level — the prompt rubric, the response parser's level correction,
the JSON schema's enum, the evaluation — reads this module, so the bands cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum

MIN_SCORE = 0
MAX_SCORE = 100


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


LEVEL_ORDER: tuple[RiskLevel, ...] = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL)

# Inclusive (min, max) per level; contiguous and covering MIN_SCORE..MAX_SCORE (checked by the tests).
_BANDS: dict[RiskLevel, tuple[int, int]] = {
    RiskLevel.LOW: (0, 29),
    RiskLevel.MEDIUM: (30, 59),
    RiskLevel.HIGH: (60, 84),
    RiskLevel.CRITICAL: (85, 100),
}

# The spec's "Description" column: what each level means, as the prompt rubric states it.
LEVEL_DESCRIPTIONS: dict[RiskLevel, str] = {
    RiskLevel.LOW: "normal activity",
    RiskLevel.MEDIUM: "unusual but not threatening",
    RiskLevel.HIGH: "suspicious activity",
    RiskLevel.CRITICAL: "potential security threat",
}


# What a home owner should do at each level, when the model's own advice cannot be shown
# (``backend.services.summaries.action_problems``); the spec's descriptions above, turned into an action.
LEVEL_ACTIONS: dict[RiskLevel, str] = {
    RiskLevel.LOW: "No action needed.",
    RiskLevel.MEDIUM: "Look at the clip when convenient.",
    RiskLevel.HIGH: "Check the live view now and make sure doors and windows are locked.",
    RiskLevel.CRITICAL: "Check the live view now; call the police if someone is trying to get in or is in danger.",
}


def level_for_score(score: int) -> RiskLevel:
    """The level whose band holds ``score``; a score outside 0..100 is an error, never clamped."""
    if isinstance(score, bool) or not isinstance(score, int):
        raise TypeError(f"risk score must be an int, got {type(score).__name__}")
    for level in LEVEL_ORDER:
        low, high = _BANDS[level]
        if low <= score <= high:
            return level
    raise ValueError(f"risk score {score} is outside {MIN_SCORE}..{MAX_SCORE}")


def band_for_level(level: RiskLevel | str) -> tuple[int, int]:
    """Inclusive (min, max) scores of a level; accepts the enum or its (case-insensitive) name."""
    try:
        key = RiskLevel(str(level).strip().lower())
    except ValueError:
        known = ", ".join(LEVEL_ORDER)
        raise ValueError(f"unknown risk level {level!r}; known: {known}") from None
    return _BANDS[key]
