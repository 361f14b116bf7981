"""A small end-to-end evaluation on the embedded model: the CLI, the real analyzer, the real LLM server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai.nemotron.launch import REPO, ServerProcess


@pytest.fixture(scope="module")
def llm_url() -> Iterator[str]:
    with ServerProcess("--ctx-size", "4096") as server:
        yield server.url


def backend_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
        env={**os.environ, **(env or {})},
    )


def test_eval_writes_predictions_metrics_and_report(llm_url: str, tmp_path: Path) -> None:
    out, report, trust = tmp_path / "eval.json", tmp_path / "report", tmp_path / "trust.json"
    result = backend_cli(
        "eval",
        *("--limit", "1", "--llm-url", llm_url, "--json-out", str(out), "--report-dir", str(report)),
        "--store-trust",
        env={"LLM_TRUST_FILE": str(trust), "LLM_TRUST": ""},
    )
    data = json.loads(out.read_text())
    predictions = data["predictions"]
    assert sorted(p["category"] for p in predictions) == ["normal", "suspicious", "threats"]
    for p in predictions:
        assert {
            "scenario_id",
            "category",
            "risk_score",
            "risk_level",
            "expected_min",
            "expected_max",
            "expected_level",
            "status",
        } <= p.keys()
    assert set(data["metrics"]) == {"combined", "llm_only", "evidence_only", "oracle"}
    assert data["trust_fit"]["trust"] in [i / 10 for i in range(11)]
    assert set(data["trust_fit"]["level_accuracy_by_trust"]) == {f"{i / 10:.1f}" for i in range(11)}
    stored = json.loads(trust.read_text())
    assert stored[data["trust_fit"]["model"]]["trust"] == data["trust_fit"]["trust"]
    assert "best trust" in result.stdout
    assert data["metrics"]["combined"]["count"] == 3
    assert (report / "report.md").read_text().startswith("# Risk verdict evaluation")
    assert (report / "confusion_matrix.png").stat().st_size > 1000
    assert (report / "score_distribution.png").stat().st_size > 1000


def test_ab_runs_both_arms_and_reports_the_statistics(llm_url: str, tmp_path: Path) -> None:
    out = tmp_path / "ab.json"
    backend_cli(
        "ab",
        "--experiment",
        "rubric_vs_current",
        "--categories",
        "threats",
        "--limit",
        "2",
        "--llm-url",
        llm_url,
        "--json-out",
        str(out),
    )
    data = json.loads(out.read_text())
    assert len(data["control"]) == len(data["variant"]) == 2
    assert [p["scenario_id"] for p in data["control"]] == [p["scenario_id"] for p in data["variant"]]
    for key in ("control_mean", "variant_mean", "welch_p_value", "mann_whitney_p_value", "cohens_d", "significant"):
        assert key in data["analysis"]
