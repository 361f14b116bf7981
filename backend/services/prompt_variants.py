"""The prompt variants an A/B experiment can compare: a key names how the analyzer builds its prompt.

- ``current``: the default system prompt, as production sends it.
- ``rubric``: the default system prompt plus an explicit point-based scoring rubric — the very checklist
  ``backend.services.evidence_risk`` applies, generated from its rule table so the two cannot drift apart.
- ``cot``: the default system prompt with Nemotron's built-in reasoning switched on ("detailed thinking on").

Every variant renders through :func:`backend.services.prompts.build_prompt` (same templates, same
untrusted-text handling, same token budgeting); only the system prompt differs. The experiments that compare
them are configuration: ``backend.config.prompt_ab_config`` (which imports this module, never the reverse).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from backend.services.context_enrichment import AnalysisContext
from backend.services.evidence_risk import checklist_rubric
from backend.services.prompts import (
    SYSTEM_PROMPT,
    SYSTEM_PROMPT_WITH_REASONING,
    RenderedPrompt,
    TemplateKey,
    build_prompt,
)

SYSTEM_PROMPT_WITH_RUBRIC = f"{SYSTEM_PROMPT}\n\n{checklist_rubric()}"


class PromptVariant(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    description: str
    system_prompt: str
    reasoning: bool = False  # the reasoning switch of build_prompt ("detailed thinking on")

    def build(
        self,
        ctx: AnalysisContext,
        template: TemplateKey | None = None,
        *,
        token_budget: int | None = None,
        count_tokens: Callable[[str], int] | None = None,
        evidence: str | None = None,
    ) -> RenderedPrompt:
        """The ChatML prompt for one batch with this variant's system prompt. The token budget counts the whole
        prompt, this system prompt included: a longer one leaves less room for the detections."""
        return build_prompt(
            ctx,
            template,
            reasoning=self.reasoning,
            token_budget=token_budget,
            count_tokens=count_tokens,
            evidence=evidence,
            system=self.system_prompt,
        )


PROMPT_VARIANTS: dict[str, PromptVariant] = {
    variant.key: variant
    for variant in (
        PromptVariant(key="current", description="the default system prompt", system_prompt=SYSTEM_PROMPT),
        PromptVariant(
            key="rubric",
            description="the default system prompt plus the point-based scoring rubric of the evidence checklist",
            system_prompt=SYSTEM_PROMPT_WITH_RUBRIC,
        ),
        PromptVariant(
            key="cot",
            description="the default system prompt with reasoning on ('detailed thinking on')",
            system_prompt=SYSTEM_PROMPT_WITH_REASONING,
            reasoning=True,
        ),
    )
}


def get_prompt_variant(key: str) -> PromptVariant:
    try:
        return PROMPT_VARIANTS[key]
    except KeyError:
        raise KeyError(f"unknown prompt variant {key!r}; known: {', '.join(PROMPT_VARIANTS)}") from None
