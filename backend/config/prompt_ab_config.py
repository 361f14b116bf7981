"""Prompt A/B experiments (spec "A/B Testing"): which two prompt variants compete, and on what.

An experiment names two keys of ``PROMPT_VARIANTS`` (``backend.services.prompt_variants``; validated here, so
an experiment can never point at a prompt that does not exist or compare a prompt with itself), the share of
traffic the variant gets, and the metric of ``calculate_metrics`` that decides.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.services.prompt_variants import PROMPT_VARIANTS


class Experiment(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    control: str  # prompt variant key of the control arm
    variant: str  # prompt variant key of the treatment arm
    traffic_split: float = Field(default=0.5, ge=0.0, le=1.0)  # share of traffic sent to the variant
    metric: str = "level_accuracy"

    @model_validator(mode="after")
    def _arms_exist_and_differ(self) -> Experiment:
        for arm in (self.control, self.variant):
            if arm not in PROMPT_VARIANTS:
                raise ValueError(f"unknown prompt variant {arm!r}; known: {', '.join(PROMPT_VARIANTS)}")
        control, variant = PROMPT_VARIANTS[self.control], PROMPT_VARIANTS[self.variant]
        if (control.system_prompt, control.reasoning) == (variant.system_prompt, variant.reasoning):
            raise ValueError(f"experiment {self.name!r}: {self.control!r} and {self.variant!r} build the same prompt")
        return self


EXPERIMENTS: dict[str, Experiment] = {
    experiment.name: experiment
    for experiment in (
        Experiment(
            name="rubric_vs_current",
            description="Does an explicit point-based scoring rubric make the model's levels more accurate?",
            control="current",
            variant="rubric",
        ),
        Experiment(
            name="cot_vs_current",
            description="Does built-in reasoning ('detailed thinking on') bring scores closer to the labels?",
            control="current",
            variant="cot",
            metric="mean_deviation",
        ),
    )
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; KeyError listing the known ones otherwise."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None
