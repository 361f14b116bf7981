"""Compatibility re-export: the prompt variants live with the prompts, in
:mod:`backend.services.prompt_variants`; import them from there."""

from backend.services.prompt_variants import (
    PROMPT_VARIANTS,
    SYSTEM_PROMPT_WITH_RUBRIC,
    PromptVariant,
    get_prompt_variant,
)

__all__ = ["PROMPT_VARIANTS", "SYSTEM_PROMPT_WITH_RUBRIC", "PromptVariant", "get_prompt_variant"]
