"""Metric arithmetic on hand-computed cases, and how unassessed predictions count."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from backend.domain.scenario import ScenarioInput
from backend.evaluation.prompt_eval_dataset import EvalSample
from backend.evaluation.prompt_evaluator import auroc, calculate_metrics, evaluate_batch
from backend.models import EventStatus

INPUTS = ScenarioInput.model_validate(
    {
        "camera": {"id": "cam", "name": "Cam"},
        "detections": [
            {"id": "d1", "detected_at": "2026-03-10T14:00:00-05:00", "object_type": "person", "confidence": 0.9}
        ],
    }
)
BANDS = {"low": (0, 29), "medium": (30, 59), "high": (60, 84), "critical": (85, 100)}
DEFAULT_CATEGORY = {"low": "normal", "medium": "suspicious", "high": "suspicious", "critical": "threats"}


def sample(level: str, category: str | None = None, span: tuple[int, int] | None = None) -> EvalSample:
    low, high = span or BANDS[level]
    return EvalSample(
        scenario_id=f"s_{level}_{low}_{high}",
        category=category or DEFAULT_CATEGORY[level],
        inputs=INPUTS,
        expected_min=low,
        expected_max=high,
        expected_level=level,
    )


def pred(score: int | None, level: str | None = None, status: Any = None) -> dict[str, Any]:
    return {"risk_score": score, "risk_level": level, "status": status}


def metrics(pairs: list[tuple[EvalSample, Any]]) -> dict[str, Any]:
    return calculate_metrics(evaluate_batch([s for s, _ in pairs], [p for _, p in pairs]))


def test_accuracy_level_accuracy_and_mean_deviation() -> None:
    m = metrics(
        [
            (sample("low", span=(0, 20)), pred(10, "low")),  # inside
            (sample("low", span=(0, 20)), pred(25, "low")),  # 5 above the range, right level
            (sample("high"), pred(50, "medium")),  # 10 below, wrong level
            (sample("critical"), pred(90, "high")),  # inside the range, level disagrees
        ]
    )
    assert m["count"] == 4 and m["unassessed"] == 0
    assert m["accuracy"] == pytest.approx(2 / 4)
    assert m["level_accuracy"] == pytest.approx(2 / 4)
    assert m["mean_deviation"] == pytest.approx((0 + 5 + 10 + 0) / 4)


def test_results_record_each_comparison() -> None:
    [result] = evaluate_batch([sample("high")], [pred(55, "medium")])
    assert (result.risk_score, result.risk_level, result.within_range, result.level_match) == (
        55,
        "medium",
        False,
        False,
    )
    assert result.deviation == 5.0 and result.assessed


def test_false_alarm_rate_counts_high_and_critical_normals() -> None:
    m = metrics(
        [
            (sample("low"), pred(5, "low")),
            (sample("low"), pred(40, "medium")),
            (sample("low"), pred(70, "high")),
            (sample("low"), pred(90, "critical")),
            (sample("low"), pred(None, status="not_assessed")),
        ]
    )
    assert m["false_alarm_rate"] == pytest.approx(2 / 5)
    assert m["per_category"]["normal"]["rated_high_or_critical"] == pytest.approx(2 / 5)


def test_threat_detection_rate_and_suspicious_recall() -> None:
    m = metrics(
        [
            (sample("critical"), pred(90, "critical")),
            (sample("critical"), pred(65, "high")),
            (sample("critical"), pred(45, "medium")),
            (sample("critical"), pred(None)),  # unassessed: a miss
            (sample("high"), pred(10, "low")),
            (sample("high"), pred(35, "medium")),
            (sample("medium"), pred(70, "high")),
        ]
    )
    assert m["threat_detection_rate"] == pytest.approx(2 / 4)
    assert m["suspicious_recall"] == pytest.approx(2 / 3)


def test_auroc_hand_computed_with_ties() -> None:
    # pairs (threat, normal): 90>10, 90>50, 50>10, 50=50 (half) -> 3.5 / 4
    assert auroc([90, 50], [10, 50]) == pytest.approx(0.875)
    assert auroc([90, 80], [10, 20]) == 1.0
    assert auroc([10, 20], [90, 80]) == 0.0
    assert auroc([50, 50], [50]) == 0.5
    assert auroc([], [10]) is None and auroc([10], []) is None


def test_auroc_in_metrics_uses_threat_and_normal_scores_only() -> None:
    m = metrics(
        [
            (sample("critical"), pred(90)),
            (sample("critical"), pred(50)),
            (sample("critical"), pred(None)),  # not assessed: no score to rank
            (sample("low"), pred(10)),
            (sample("low"), pred(50)),
            (sample("high"), pred(0)),  # suspicious: not part of the threat-vs-normal AUROC
        ]
    )
    assert m["auroc"] == pytest.approx(0.875)
    assert metrics([(sample("low"), pred(10))])["auroc"] is None


def test_confusion_matrix() -> None:
    m = metrics(
        [
            (sample("low"), pred(5, "low")),
            (sample("low"), pred(65, "high")),
            (sample("medium"), pred(40, "medium")),
            (sample("critical"), pred(None, status="not_assessed")),
            (sample("critical"), pred(88, "critical")),
        ]
    )
    assert m["confusion_matrix"] == {
        "labels": ["low", "medium", "high", "critical"],
        "predicted_labels": ["low", "medium", "high", "critical", "unassessed"],
        "matrix": [
            [1, 0, 1, 0, 0],
            [0, 1, 0, 0, 0],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 1, 1],
        ],
    }


def test_per_category() -> None:
    m = metrics(
        [
            (sample("low"), pred(10, "low")),
            (sample("low"), pred(40, "medium")),
            (sample("critical"), pred(None)),
            (sample("critical"), pred(80, "high")),
        ]
    )
    assert m["per_category"] == {
        "normal": {
            "count": 2,
            "unassessed": 0,
            "accuracy": 0.5,
            "level_accuracy": 0.5,
            "mean_score": 25.0,
            "mean_deviation": pytest.approx(11 / 2),
            "rated_high_or_critical": 0.0,
        },
        "threats": {
            "count": 2,
            "unassessed": 1,
            "accuracy": 0.0,
            "level_accuracy": 0.0,
            "mean_score": 80.0,
            "mean_deviation": 5.0,
            "rated_high_or_critical": 0.5,
        },
    }


def test_unassessed_counts_against_accuracy_but_not_as_false_alarm() -> None:
    m = metrics(
        [
            (sample("low"), pred(10, "low")),
            (sample("low"), pred(12, "low", status=EventStatus.NOT_ASSESSED)),  # a stale score does not count
            (sample("high"), SimpleNamespace(risk_score=None, risk_level=None)),
        ]
    )
    assert m["unassessed"] == 2
    assert m["accuracy"] == pytest.approx(1 / 3) and m["level_accuracy"] == pytest.approx(1 / 3)
    assert m["false_alarm_rate"] == 0.0
    assert m["suspicious_recall"] == 0.0
    assert m["mean_deviation"] == 0.0  # over assessed results only


def test_predictions_as_objects_and_levels_from_the_score() -> None:
    event = SimpleNamespace(risk_score=70, risk_level="HIGH", status=EventStatus.ASSESSED)
    [as_object, derived] = evaluate_batch([sample("high"), sample("high")], [event, {"risk_score": 62}])
    assert as_object.risk_level == "high" and as_object.level_match
    assert derived.risk_level == "high"


@pytest.mark.parametrize("score", [101, -1, 12.5, "50", True])
def test_invalid_scores_are_rejected(score: Any) -> None:
    with pytest.raises(ValueError, match="risk_score"):
        evaluate_batch([sample("low")], [pred(score, "low")])


def test_length_mismatch_names_both_lengths() -> None:
    with pytest.raises(ValueError, match="got 2 samples but 1 predictions"):
        evaluate_batch([sample("low"), sample("high")], [pred(10)])


def test_empty_results_give_zeros() -> None:
    m = calculate_metrics([])
    assert m["count"] == m["unassessed"] == 0
    for key in ("accuracy", "level_accuracy", "mean_deviation", "false_alarm_rate", "threat_detection_rate"):
        assert m[key] == 0.0
    assert m["suspicious_recall"] == 0.0 and m["auroc"] is None and m["per_category"] == {}
    assert m["confusion_matrix"]["matrix"] == [[0] * 5 for _ in range(4)]


def test_spec_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    samples = [sample("low"), sample("critical")]
    predictions = [pred(10, "low"), pred(50, "medium")]
    results = evaluate_batch(samples, predictions)
    metrics = calculate_metrics(results)
    print(f"Accuracy: {metrics['accuracy']:.1%}")
    assert capsys.readouterr().out == "Accuracy: 50.0%\n"
