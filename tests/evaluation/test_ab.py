"""Prompt A/B experiments: configuration, traffic assignment, and the statistics of the analysis."""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from backend.config.prompt_ab_config import EXPERIMENTS, Experiment, get_experiment
from backend.evaluation.ab_experiment_runner import analyze_experiment, effect_size_label, select_variant
from backend.evaluation.prompt_eval_dataset import load_synthetic_eval_dataset
from backend.services.context_enrichment import build_context
from backend.services.prompt_variants import (
    PROMPT_VARIANTS,
    SYSTEM_PROMPT_WITH_RUBRIC,
    PromptVariant,
    get_prompt_variant,
)
from backend.services.prompts import SYSTEM_PROMPT, build_prompt, estimate_tokens, to_chatml

REPO = Path(__file__).resolve().parents[2]

# --- analysis ---------------------------------------------------------------------------------------------


def test_known_case_means_sd_and_cohens_d() -> None:
    result = analyze_experiment([1, 2, 3], [4, 5, 6])
    assert (result["control_mean"], result["variant_mean"]) == (2.0, 5.0)
    assert (result["control_std"], result["variant_std"]) == (1.0, 1.0)
    assert result["cohens_d"] == pytest.approx(3.0)
    assert result["effect_size"] == "large"
    assert (result["control_n"], result["variant_n"]) == (3, 3)
    assert result["difference"] == 3.0


def test_cohens_d_sign_is_variant_minus_control() -> None:
    assert analyze_experiment([4, 5, 6], [1, 2, 3])["cohens_d"] == pytest.approx(-3.0)


def test_p_values_match_scipy() -> None:
    control, variant = [12, 15, 11, 19, 14, 13, 16], [18, 21, 17, 22, 16, 20]
    result = analyze_experiment(control, variant)
    assert result["welch_p_value"] == pytest.approx(stats.ttest_ind(variant, control, equal_var=False).pvalue)
    assert result["mann_whitney_p_value"] == pytest.approx(
        stats.mannwhitneyu(variant, control, alternative="two-sided").pvalue
    )
    assert result["significant"] is (result["welch_p_value"] < 0.05)


def test_confidence_interval_known_case() -> None:
    # Welch: se = sqrt(1/3 + 1/3), df = 4, t(0.975, 4) = 2.7764
    low, high = analyze_experiment([1, 2, 3], [4, 5, 6])["confidence_interval"]
    margin = stats.t.ppf(0.975, 4) * np.sqrt(2 / 3)
    assert (low, high) == (pytest.approx(3 - margin), pytest.approx(3 + margin))
    assert low < 3.0 < high


def test_confidence_interval_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    trials, covered = 400, 0
    for _ in range(trials):
        control, variant = rng.normal(10, 2, 25), rng.normal(11, 4, 30)  # true difference 1, unequal spreads
        low, high = analyze_experiment(control.tolist(), variant.tolist())["confidence_interval"]
        covered += low <= 1.0 <= high
    assert 0.91 <= covered / trials <= 0.99


def test_alpha_sets_the_interval_level_and_significance() -> None:
    control, variant = [10, 12, 11, 13, 12], [12, 14, 13, 15, 12]
    wide = analyze_experiment(control, variant, alpha=0.01)
    narrow = analyze_experiment(control, variant, alpha=0.2)
    assert wide["confidence_level"] == 0.99 and narrow["confidence_level"] == pytest.approx(0.8)
    assert wide["confidence_interval"][0] < narrow["confidence_interval"][0]
    assert narrow["significant"] and not wide["significant"]


def test_constant_arms() -> None:
    same = analyze_experiment([5, 5], [5, 5, 5])
    assert (same["cohens_d"], same["welch_p_value"], same["significant"]) == (0.0, 1.0, False)
    apart = analyze_experiment([5, 5], [7, 7])
    assert apart["cohens_d"] == float("inf") and apart["significant"]
    assert apart["confidence_interval"] == (2.0, 2.0)


@pytest.mark.parametrize(("control", "variant", "arm"), [([1], [1, 2], "control"), ([1, 2], [], "variant")])
def test_too_few_values(control: list[float], variant: list[float], arm: str) -> None:
    with pytest.raises(ValueError, match=f"the {arm} arm needs at least 2 scores"):
        analyze_experiment(control, variant)


@pytest.mark.parametrize(
    ("d", "label"),
    [(0.0, "negligible"), (-0.19, "negligible"), (0.2, "small"), (0.49, "small"), (-0.5, "medium"), (0.8, "large")],
)
def test_effect_size_labels(d: float, label: str) -> None:
    assert effect_size_label(d) == label


# --- traffic assignment -----------------------------------------------------------------------------------


def test_keyed_assignment_is_deterministic_and_hash_based() -> None:
    experiment = get_experiment("rubric_vs_current")
    for key in ("front_door", "driveway", "cam-42"):
        digest = hashlib.sha256(f"{experiment.name}:{key}".encode()).digest()
        expected = experiment.variant if int.from_bytes(digest[:8], "big") / 2**64 < 0.5 else experiment.control
        assert select_variant(experiment, key) == select_variant(experiment, key) == expected


def test_keyed_assignment_is_stable_across_processes() -> None:
    keys = [f"camera_{index}" for index in range(20)]
    code = (
        "import json, sys; from backend.config.prompt_ab_config import get_experiment; "
        "from backend.evaluation.ab_experiment_runner import select_variant; "
        "e = get_experiment('cot_vs_current'); print(json.dumps([select_variant(e, k) for k in sys.argv[1:]]))"
    )
    out = subprocess.run([sys.executable, "-c", code, *keys], cwd=REPO, capture_output=True, text=True, check=True)
    experiment = get_experiment("cot_vs_current")
    assert json.loads(out.stdout) == [select_variant(experiment, key) for key in keys]


@pytest.mark.parametrize("split", [0.5, 0.2, 0.9])
def test_random_draws_respect_the_split(split: float) -> None:
    experiment = get_experiment("rubric_vs_current").model_copy(update={"traffic_split": split})
    rng = random.Random(1234)
    share = sum(select_variant(experiment, rng=rng) == "rubric" for _ in range(10_000)) / 10_000
    assert share == pytest.approx(split, abs=0.02)
    keyed = sum(select_variant(experiment, f"cam{index}") == "rubric" for index in range(10_000)) / 10_000
    assert keyed == pytest.approx(split, abs=0.02)


def test_split_extremes() -> None:
    experiment = get_experiment("cot_vs_current")
    assert select_variant(experiment.model_copy(update={"traffic_split": 0.0}), "k") == "current"
    assert select_variant(experiment.model_copy(update={"traffic_split": 1.0}), "k") == "cot"


# --- configuration ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "variant"), [("rubric_vs_current", "rubric"), ("cot_vs_current", "cot")])
def test_experiments_name_real_and_different_prompts(name: str, variant: str) -> None:
    experiment = get_experiment(name)
    assert (experiment.name, experiment.control, experiment.variant) == (name, "current", variant)
    assert experiment.traffic_split == 0.5 and experiment.metric and experiment.description
    control, treatment = PROMPT_VARIANTS[experiment.control], PROMPT_VARIANTS[experiment.variant]
    assert control.system_prompt == SYSTEM_PROMPT
    assert (treatment.system_prompt, treatment.reasoning) != (control.system_prompt, control.reasoning)


def test_unknown_experiment_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: rubric_vs_current, cot_vs_current"):
        get_experiment("bigger_font")
    with pytest.raises(KeyError, match="known: current, rubric, cot"):
        get_prompt_variant("haiku")


def test_experiments_cannot_name_missing_or_identical_prompts() -> None:
    with pytest.raises(ValidationError, match="unknown prompt variant 'haiku'"):
        Experiment(name="x", description="x", control="current", variant="haiku")
    with pytest.raises(ValidationError, match="build the same prompt"):
        Experiment(name="x", description="x", control="current", variant="current")
    with pytest.raises(ValidationError):
        Experiment(name="x", description="x", control="current", variant="cot", traffic_split=1.5)
    assert set(EXPERIMENTS) == {"rubric_vs_current", "cot_vs_current"}


def test_variants_build_their_own_system_prompt_within_the_budget() -> None:
    samples = load_synthetic_eval_dataset(categories=["normal"])
    ctx = build_context(max(samples, key=lambda s: len(s.inputs.detections)).inputs)
    assert len(ctx.detections) >= 60
    for key, variant in PROMPT_VARIANTS.items():
        prompt = variant.build(ctx, token_budget=3500)
        assert prompt.system == variant.system_prompt, key
        assert prompt.chatml.startswith(f"<|im_start|>system\n{variant.system_prompt}<|im_end|>")
        assert estimate_tokens(prompt.chatml) <= 3500, key
    assert PROMPT_VARIANTS["cot"].build(ctx).system.startswith("detailed thinking on")
    assert "Scoring rubric" in SYSTEM_PROMPT_WITH_RUBRIC and SYSTEM_PROMPT_WITH_RUBRIC.startswith(SYSTEM_PROMPT)


def test_variants_render_whole_chatml_with_their_system_prompt_first() -> None:
    ctx = build_context(load_synthetic_eval_dataset(categories=["normal"])[0].inputs)
    for key, variant in PROMPT_VARIANTS.items():
        prompt = variant.build(ctx, evidence="Checklist: 10")
        assert prompt.chatml == to_chatml(variant.system_prompt, prompt.user), key
        assert prompt.user == build_prompt(ctx, evidence="Checklist: 10").user, key  # only the system part differs
    assert PROMPT_VARIANTS["current"].build(ctx) == build_prompt(ctx)
    assert PROMPT_VARIANTS["cot"].build(ctx) == build_prompt(ctx, reasoning=True)


def test_prompt_variant_lives_with_the_prompts_and_config_re_exports_it() -> None:
    from backend.config import prompt_ab_config
    from backend.config import prompt_variants as compat

    assert PromptVariant.__module__ == "backend.services.prompt_variants"
    assert compat.PromptVariant is PromptVariant and compat.PROMPT_VARIANTS is PROMPT_VARIANTS
    assert compat.get_prompt_variant is get_prompt_variant
    assert compat.SYSTEM_PROMPT_WITH_RUBRIC is SYSTEM_PROMPT_WITH_RUBRIC
    assert prompt_ab_config.PROMPT_VARIANTS is PROMPT_VARIANTS


# Modules that still import backend.config.prompt_* from services, pending their own rewrite.
CONFIG_IMPORT_PENDING = {"nemotron_analyzer.py"}


def test_services_do_not_import_the_prompt_configuration() -> None:
    """Layers import downwards: config (the experiments) may import the prompt services, never the reverse."""

    def imports(path: Path, package: str) -> bool:
        return re.search(rf"^\s*(from|import)\s+{re.escape(package)}", path.read_text(), re.MULTILINE) is not None

    services = REPO / "backend" / "services"
    offenders = {path.name for path in services.glob("*.py") if imports(path, "backend.config.prompt_")}
    assert offenders <= CONFIG_IMPORT_PENDING
    for module in ("prompts.py", "prompt_variants.py", "context_enrichment.py"):  # no configuration at all
        assert not imports(services / module, "backend.config"), module


def test_importing_the_experiments_first_has_no_cycle() -> None:
    for first in (
        "backend.config.prompt_ab_config",
        "backend.config.prompt_variants",
        "backend.services.prompt_variants",
    ):
        code = f"import {first}; from backend.config.prompt_ab_config import get_experiment as g; g('cot_vs_current')"
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
