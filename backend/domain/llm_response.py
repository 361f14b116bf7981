"""The JSON object the LLM must answer with: a JSON schema (for guided decoding) and the same shape in pydantic.

Property order is deliberate: llama.cpp's schema-to-grammar conversion keeps it, so under guided decoding
the model commits to ``risk_score`` first, then a ``risk_level`` consistent with it, then the summary.
The schema and :class:`LLMRiskResponse` must describe the same object; a test compares them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.domain.risk_levels import LEVEL_ORDER, MAX_SCORE, MIN_SCORE, RiskLevel

SUMMARY_MAX_LENGTH = 300
REASONING_MAX_LENGTH = 600
RISK_FACTOR_MAX_LENGTH = 80
RISK_FACTORS_MAX_ITEMS = 6
RECOMMENDED_ACTION_MAX_LENGTH = 200

RISK_ANALYSIS_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "risk_score": {"type": "integer", "minimum": MIN_SCORE, "maximum": MAX_SCORE},
        "risk_level": {"type": "string", "enum": [str(level) for level in LEVEL_ORDER]},
        "summary": {"type": "string", "maxLength": SUMMARY_MAX_LENGTH},
        "reasoning": {"type": "string", "maxLength": REASONING_MAX_LENGTH},
        "risk_factors": {
            "type": "array",
            "items": {"type": "string", "maxLength": RISK_FACTOR_MAX_LENGTH},
            "maxItems": RISK_FACTORS_MAX_ITEMS,
        },
        "recommended_action": {"type": "string", "maxLength": RECOMMENDED_ACTION_MAX_LENGTH},
    },
    "required": ["risk_score", "risk_level", "summary"],
    "additionalProperties": False,
}


class LLMRiskResponse(BaseModel):
    """A schema-conforming answer, validated strictly (guided decoding should only ever produce these)."""

    model_config = ConfigDict(extra="forbid")

    risk_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    risk_level: RiskLevel
    summary: str = Field(max_length=SUMMARY_MAX_LENGTH)
    reasoning: str | None = Field(default=None, max_length=REASONING_MAX_LENGTH)
    risk_factors: list[Annotated[str, StringConstraints(max_length=RISK_FACTOR_MAX_LENGTH)]] = Field(
        default_factory=list, max_length=RISK_FACTORS_MAX_ITEMS
    )
    recommended_action: str | None = Field(default=None, max_length=RECOMMENDED_ACTION_MAX_LENGTH)
