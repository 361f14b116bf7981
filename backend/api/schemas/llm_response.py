"""The LLM's answer shape (spec: ``from backend.api.schemas.llm_response import RISK_ANALYSIS_JSON_SCHEMA``);
the definitions live in :mod:`backend.domain.llm_response`."""

from backend.domain.llm_response import (
    REASONING_MAX_LENGTH,
    RECOMMENDED_ACTION_MAX_LENGTH,
    RISK_ANALYSIS_JSON_SCHEMA,
    RISK_FACTOR_MAX_LENGTH,
    RISK_FACTORS_MAX_ITEMS,
    SUMMARY_MAX_LENGTH,
    LLMRiskResponse,
)

__all__ = [
    "REASONING_MAX_LENGTH",
    "RECOMMENDED_ACTION_MAX_LENGTH",
    "RISK_ANALYSIS_JSON_SCHEMA",
    "RISK_FACTORS_MAX_ITEMS",
    "RISK_FACTOR_MAX_LENGTH",
    "SUMMARY_MAX_LENGTH",
    "LLMRiskResponse",
]
