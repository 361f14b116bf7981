"""Evaluation reports: a Markdown page with PNG plots (confusion matrix, score distribution per category)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from backend.evaluation.eval_runner import SCORERS, Prediction

TARGETS = {"false_alarm_rate": ("<=", 0.05), "threat_detection_rate": (">=", 0.90), "level_accuracy": (">=", 0.75)}
CATEGORIES = ("normal", "suspicious", "threats")


def _confusion_png(metrics: dict[str, dict[str, Any]], path: Path) -> None:
    fig, axes = plt.subplots(1, len(SCORERS), figsize=(5 * len(SCORERS), 4.4))
    for ax, scorer in zip(axes, SCORERS, strict=True):
        cm = metrics[scorer]["confusion_matrix"]
        rows, cols, matrix = cm["labels"], cm["predicted_labels"], cm["matrix"]
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(cols)), cols, rotation=30)
        ax.set_yticks(range(len(rows)), rows)
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center", color="black")
        ax.set_title(f"{scorer}: level accuracy {metrics[scorer]['level_accuracy']:.0%}")
        ax.set_xlabel("predicted level")
        ax.set_ylabel("expected level")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _scores_png(predictions: list[Prediction], path: Path) -> None:
    fig, axes = plt.subplots(1, len(SCORERS), figsize=(5 * len(SCORERS), 4), sharey=True)
    for ax, scorer in zip(axes, SCORERS, strict=True):
        data = [
            [
                p.as_scorer(scorer)["risk_score"]
                for p in predictions
                if p.category == c and p.as_scorer(scorer)["risk_score"] is not None
            ]
            for c in CATEGORIES
        ]
        ax.boxplot(data, tick_labels=list(CATEGORIES), showfliers=True)
        for edge in (29.5, 59.5, 84.5):
            ax.axhline(edge, color="grey", linewidth=0.6, linestyle="--")
        ax.set_ylim(-2, 102)
        ax.set_title(f"{scorer}: risk score by category")
    axes[0].set_ylabel("risk score (bands: 30 medium, 60 high, 85 critical)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _verdict(name: str, value: float) -> str:
    op, target = TARGETS[name]
    ok = value <= target if op == "<=" else value >= target
    return f"{value:.1%} ({'meets' if ok else 'misses'} {op} {target:.0%})"


def write_report(
    report_dir: Path,
    title: str,
    predictions: list[Prediction],
    metrics: dict[str, dict[str, Any]],
    config: dict[str, Any],
) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    _confusion_png(metrics, report_dir / "confusion_matrix.png")
    _scores_png(predictions, report_dir / "score_distribution.png")
    lines = [
        f"# {title}",
        "",
        "Configuration: " + ", ".join(f"{k}={v}" for k, v in config.items()),
        "",
        "| scorer | false alarms | threat detection | level accuracy | range accuracy | suspicious recall "
        "| AUROC | unassessed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for scorer in SCORERS:
        m = metrics[scorer]
        auc = "n/a" if m["auroc"] is None else f"{m['auroc']:.3f}"
        lines.append(
            f"| {scorer} | {_verdict('false_alarm_rate', m['false_alarm_rate'])} | "
            f"{_verdict('threat_detection_rate', m['threat_detection_rate'])} | "
            f"{_verdict('level_accuracy', m['level_accuracy'])} | {m['accuracy']:.1%} | "
            f"{m['suspicious_recall']:.1%} | {auc} | {m['unassessed']} |"
        )
    seconds = sorted(p.seconds for p in predictions)
    if seconds:
        lines += [
            "",
            f"{len(predictions)} scenarios; analysis time per scenario p50 "
            f"{seconds[len(seconds) // 2]:.1f} s, max {seconds[-1]:.1f} s.",
        ]
    misses = [p for p in predictions if p.risk_level != p.expected_level]
    lines += [
        "",
        "![confusion matrices](confusion_matrix.png)",
        "",
        "![scores](score_distribution.png)",
        "",
        f"## Combined verdicts off the expected level ({len(misses)})",
        "",
        "| scenario | expected | combined | LLM | evidence | status |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {p.category}/{p.scenario_id} | {p.expected_level} {p.expected_min}-{p.expected_max} | "
        f"{p.risk_level} {p.risk_score} | {p.llm_score} | {p.evidence_score} | {p.status} |"
        for p in misses
    ]
    path = report_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
