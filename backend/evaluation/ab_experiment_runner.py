"""Running a prompt A/B experiment: assigning traffic to an arm, and judging the collected scores.

Assignment with a key (a camera id, a batch id) is a pure function of (experiment name, key) through
SHA-256, so every process and every restart puts the same camera in the same arm — Python's ``hash()`` is
salted per process and would not. Without a key the draw is random with the experiment's traffic split.

The analysis reports both a Welch t-test (unequal variances: the arms need not spread alike) and a
Mann-Whitney U test (no normality assumption: risk scores are bounded and often bimodal), the effect size
as Cohen's d, and the confidence interval of the difference so a reader sees how big, not only whether.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from backend.config.prompt_ab_config import Experiment

# |d| below each bound gets the label (Cohen's conventions); larger is "large".
EFFECT_SIZE_LABELS = ((0.2, "negligible"), (0.5, "small"), (0.8, "medium"))


def _unit_interval(experiment_name: str, key: str) -> float:
    """A stable draw in [0, 1) from the first 8 bytes of SHA-256(name:key)."""
    digest = hashlib.sha256(f"{experiment_name}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def select_variant(experiment: Experiment, key: str | None = None, rng: random.Random | None = None) -> str:
    """The prompt variant key for one request: ``experiment.variant`` with probability ``traffic_split``,
    else ``experiment.control``. Deterministic when ``key`` is given; otherwise drawn from ``rng``."""
    draw = _unit_interval(experiment.name, key) if key is not None else (rng or random).random()
    return experiment.variant if draw < experiment.traffic_split else experiment.control


def effect_size_label(d: float) -> str:
    magnitude = abs(d)
    return next((label for bound, label in EFFECT_SIZE_LABELS if magnitude < bound), "large")


def _cohens_d(control: np.ndarray, variant: np.ndarray) -> float:
    """(mean variant - mean control) / pooled sample standard deviation; 0 or ±inf when both arms are
    constant (no spread: the difference is either nothing or infinitely many SDs)."""
    n1, n2 = len(control), len(variant)
    pooled = math.sqrt(((n1 - 1) * control.var(ddof=1) + (n2 - 1) * variant.var(ddof=1)) / (n1 + n2 - 2))
    difference = float(variant.mean() - control.mean())
    if pooled == 0:
        return 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return difference / pooled


def _welch_interval(control: np.ndarray, variant: np.ndarray, alpha: float) -> tuple[float, float]:
    """The (1 - alpha) confidence interval of mean(variant) - mean(control), Welch–Satterthwaite df."""
    difference = float(variant.mean() - control.mean())
    var1, var2 = control.var(ddof=1) / len(control), variant.var(ddof=1) / len(variant)
    standard_error = math.sqrt(var1 + var2)
    if standard_error == 0:
        return difference, difference
    df = (var1 + var2) ** 2 / (var1**2 / (len(control) - 1) + var2**2 / (len(variant) - 1))
    margin = float(stats.t.ppf(1 - alpha / 2, df)) * standard_error
    return difference - margin, difference + margin


def analyze_experiment(
    control_scores: Sequence[float], variant_scores: Sequence[float], alpha: float = 0.05
) -> dict[str, Any]:
    """Compares the two arms' scores (e.g. per-sample deviation, or risk scores). ``significant`` is the Welch
    test at ``alpha``; the confidence interval is at level 1 - alpha (95% by default)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    for arm, scores in (("control", control_scores), ("variant", variant_scores)):
        if len(scores) < 2:
            raise ValueError(f"the {arm} arm needs at least 2 scores to estimate its spread, got {len(scores)}")
    control = np.asarray(control_scores, dtype=float)
    variant = np.asarray(variant_scores, dtype=float)
    spread = control.std(ddof=1) + variant.std(ddof=1)
    if spread == 0:  # both arms constant: the tests are undefined, the answer is not
        same = bool(control.mean() == variant.mean())
        welch_p = mann_whitney_p = 1.0 if same else 0.0
    else:
        welch_p = float(stats.ttest_ind(variant, control, equal_var=False).pvalue)
        mann_whitney_p = float(stats.mannwhitneyu(variant, control, alternative="two-sided").pvalue)
    d = _cohens_d(control, variant)
    low, high = _welch_interval(control, variant, alpha)
    return {
        "control_n": len(control),
        "variant_n": len(variant),
        "control_mean": float(control.mean()),
        "variant_mean": float(variant.mean()),
        "control_std": float(control.std(ddof=1)),
        "variant_std": float(variant.std(ddof=1)),
        "difference": float(variant.mean() - control.mean()),
        "welch_p_value": welch_p,
        "mann_whitney_p_value": mann_whitney_p,
        "cohens_d": d,
        "effect_size": effect_size_label(d),
        "confidence_interval": (low, high),
        "confidence_level": 1 - alpha,
        "alpha": alpha,
        "significant": welch_p < alpha,
    }
