"""Scoring predictions against the evaluation labels, and the numbers a homeowner judges the service by.

Two of them matter most: how often it cries wolf (``false_alarm_rate``: normal scenarios rated high or
critical) and how often it misses a real threat (``threat_detection_rate``: threats rated high or
critical). A prediction that could not be assessed (status ``not_assessed`` or no score) is kept, not
dropped: it counts as a miss for threats and suspicious scenarios, against accuracy everywhere, and never
as a false alarm — dropping it would flatter a service that fails exactly on the hard cases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.stats import rankdata

from backend.domain.risk_levels import LEVEL_ORDER, MAX_SCORE, MIN_SCORE, RiskLevel, level_for_score
from backend.evaluation.prompt_eval_dataset import EvalSample

NOT_ASSESSED = "not_assessed"
UNASSESSED = "unassessed"
ALARM_LEVELS = frozenset({RiskLevel.HIGH, RiskLevel.CRITICAL})


class EvalResult(BaseModel):
    """One sample scored: the prediction, and how it compares with the label."""

    model_config = ConfigDict(frozen=True)

    scenario_id: str
    category: str
    expected_min: int
    expected_max: int
    expected_level: RiskLevel
    risk_score: int | None  # None: not assessed
    risk_level: RiskLevel | None
    within_range: bool
    level_match: bool
    deviation: float | None  # distance from [expected_min, expected_max]; 0 inside; None when not assessed

    @property
    def assessed(self) -> bool:
        return self.risk_score is not None


def _field(prediction: Any, name: str) -> Any:
    if isinstance(prediction, Mapping):
        return prediction.get(name)
    return getattr(prediction, name, None)


def _score_and_level(prediction: Any) -> tuple[int | None, RiskLevel | None]:
    """(score, level) of one prediction; (None, None) when it was not assessed. The level is the prediction's
    own when given (that is what an event shows), else the score's band."""
    status = _field(prediction, "status")
    score = _field(prediction, "risk_score")
    if str(getattr(status, "value", status) or "").lower() == NOT_ASSESSED or score is None:
        return None, None
    if isinstance(score, bool) or not isinstance(score, int | float) or score != int(score):
        raise ValueError(f"risk_score must be an integer, got {score!r}")
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise ValueError(f"risk_score {score} is outside {MIN_SCORE}..{MAX_SCORE}")
    level = _field(prediction, "risk_level")
    return int(score), RiskLevel(str(level).strip().lower()) if level else level_for_score(int(score))


def evaluate_batch(samples: Sequence[EvalSample], predictions: Sequence[Any]) -> list[EvalResult]:
    """Scores ``predictions[i]`` against ``samples[i]``. A prediction is a dict or an object with
    ``risk_score`` and ``risk_level`` (optionally ``status``)."""
    if len(samples) != len(predictions):
        raise ValueError(f"got {len(samples)} samples but {len(predictions)} predictions; they must align")
    results = []
    for sample, prediction in zip(samples, predictions, strict=True):
        score, level = _score_and_level(prediction)
        low, high = sample.expected_min, sample.expected_max
        deviation = None if score is None else float(max(low - score, score - high, 0))
        results.append(
            EvalResult(
                scenario_id=sample.scenario_id,
                category=sample.category,
                expected_min=low,
                expected_max=high,
                expected_level=sample.expected_level,
                risk_score=score,
                risk_level=level,
                within_range=score is not None and low <= score <= high,
                level_match=level == sample.expected_level,
                deviation=deviation,
            )
        )
    return results


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def auroc(positive_scores: Sequence[float], negative_scores: Sequence[float]) -> float | None:
    """P(a positive scores above a negative), ties counted half: the Mann-Whitney U statistic over
    n_pos * n_neg, computed from ranks. None when either class is empty (undefined, not 0.5: "no data"
    must not read as "no better than chance")."""
    if not positive_scores or not negative_scores:
        return None
    ranks = rankdata(np.concatenate([np.asarray(positive_scores, float), np.asarray(negative_scores, float)]))
    n_pos, n_neg = len(positive_scores), len(negative_scores)
    u_statistic = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u_statistic / (n_pos * n_neg))


def _category_metrics(results: Sequence[EvalResult]) -> dict[str, Any]:
    scores = [r.risk_score for r in results if r.risk_score is not None]
    deviations = [r.deviation for r in results if r.deviation is not None]
    return {
        "count": len(results),
        "unassessed": len(results) - len(scores),
        "accuracy": _share(sum(r.within_range for r in results), len(results)),
        "level_accuracy": _share(sum(r.level_match for r in results), len(results)),
        "mean_score": float(np.mean(scores)) if scores else 0.0,
        "mean_deviation": float(np.mean(deviations)) if deviations else 0.0,
        "rated_high_or_critical": _share(sum(r.risk_level in ALARM_LEVELS for r in results), len(results)),
    }


def _confusion_matrix(results: Sequence[EvalResult]) -> dict[str, Any]:
    """Rows: expected level; columns: predicted level, then not assessed."""
    rows = [str(level) for level in LEVEL_ORDER]
    columns = [*rows, UNASSESSED]
    matrix = [[0] * len(columns) for _ in rows]
    for r in results:
        column = columns.index(str(r.risk_level) if r.risk_level is not None else UNASSESSED)
        matrix[rows.index(str(r.expected_level))][column] += 1
    return {"labels": rows, "predicted_labels": columns, "matrix": matrix}


def calculate_metrics(results: Sequence[EvalResult]) -> dict[str, Any]:
    """Aggregate metrics. Rates are shares of all results of their group, unassessed ones included; means of
    scores and deviations are over assessed results only. Empty groups give 0.0 (and ``auroc`` None)."""
    by_category: dict[str, list[EvalResult]] = {}
    for r in results:
        by_category.setdefault(r.category, []).append(r)
    normal = by_category.get("normal", [])
    suspicious = by_category.get("suspicious", [])
    threats = by_category.get("threats", [])
    deviations = [r.deviation for r in results if r.deviation is not None]
    medium_or_above = ALARM_LEVELS | {RiskLevel.MEDIUM}
    return {
        "count": len(results),
        "unassessed": sum(not r.assessed for r in results),
        "accuracy": _share(sum(r.within_range for r in results), len(results)),
        "level_accuracy": _share(sum(r.level_match for r in results), len(results)),
        "mean_deviation": float(np.mean(deviations)) if deviations else 0.0,
        "false_alarm_rate": _share(sum(r.risk_level in ALARM_LEVELS for r in normal), len(normal)),
        "threat_detection_rate": _share(sum(r.risk_level in ALARM_LEVELS for r in threats), len(threats)),
        "suspicious_recall": _share(sum(r.risk_level in medium_or_above for r in suspicious), len(suspicious)),
        "auroc": auroc(
            [r.risk_score for r in threats if r.risk_score is not None],
            [r.risk_score for r in normal if r.risk_score is not None],
        ),
        "per_category": {category: _category_metrics(group) for category, group in sorted(by_category.items())},
        "confusion_matrix": _confusion_matrix(results),
    }
