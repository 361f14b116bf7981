"""Loading evaluation scenarios: the committed data set, broken folders, the category filter, and the rule
that only detections.json ever reaches a sample's inputs."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from backend.domain.risk_levels import band_for_level
from backend.domain.scenario import ScenarioInput
from backend.evaluation.prompt_eval_dataset import (
    CATEGORIES,
    DEFAULT_DATA_DIR,
    EvalSample,
    load_synthetic_eval_dataset,
)

REPO_DATA = Path(__file__).resolve().parents[2] / "data" / "synthetic"
MARKER = "LABEL-ONLY-MARKER-7f3a"

DETECTIONS = {
    "camera": {"id": "front_door", "name": "Front Door"},
    "detections": [
        {"id": "d1", "detected_at": "2026-03-10T14:00:00-05:00", "object_type": "person", "confidence": 0.9}
    ],
}
LABELS = {"risk": {"min_score": 0, "max_score": 25, "level": "low", "expected_factors": ["daytime", MARKER]}}


@pytest.fixture(scope="module")
def committed() -> list[EvalSample]:
    return load_synthetic_eval_dataset()


def test_default_data_dir_is_the_repository_set() -> None:
    assert DEFAULT_DATA_DIR == REPO_DATA


def test_committed_set_size_and_split(committed: list[EvalSample]) -> None:
    counts = Counter(sample.category for sample in committed)
    assert len(committed) >= 200
    assert counts["threats"] >= 10
    assert 0.75 <= counts["normal"] / len(committed) <= 0.85
    assert 0.10 <= counts["suspicious"] / len(committed) <= 0.20


def test_committed_inputs_parse_and_order_is_deterministic(committed: list[EvalSample]) -> None:
    assert all(isinstance(sample.inputs, ScenarioInput) for sample in committed)
    keys = [(CATEGORIES.index(s.category), s.scenario_id) for s in committed]
    assert keys == sorted(keys)
    assert [s.scenario_id for s in load_synthetic_eval_dataset()] == [s.scenario_id for s in committed]


def test_committed_labels_overlap_their_level_band(committed: list[EvalSample]) -> None:
    for sample in committed:
        low, high = band_for_level(sample.expected_level)
        assert sample.expected_min <= sample.expected_max
        assert sample.expected_min <= high and sample.expected_max >= low, sample.scenario_id
        assert sample.expected_factors, sample.scenario_id


def test_committed_inputs_never_hold_labels_or_descriptions(committed: list[EvalSample]) -> None:
    for sample in committed:
        folder = REPO_DATA / sample.category / sample.scenario_id
        spec = json.loads((folder / "scenario_spec.json").read_text())
        text = sample.inputs.model_dump_json()
        assert spec["description"] not in text
        assert sample.scenario_id not in text


# --- a temporary data set -------------------------------------------------------------------------------


def _scenario(root: Path, category: str, name: str, files: dict[str, Any]) -> Path:
    folder = root / category / name
    folder.mkdir(parents=True)
    for filename, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content)
        (folder / filename).write_text(text)
    return folder


def _good(root: Path, category: str, name: str) -> Path:
    spec = {"description": f"{MARKER} a daytime visit", "scenario_id": name}
    files = {"detections.json": DETECTIONS, "expected_labels.json": LABELS, "scenario_spec.json": spec}
    return _scenario(root, category, name, files)


def test_labels_and_spec_never_reach_inputs(tmp_path: Path) -> None:
    _good(tmp_path, "normal", "visit_001")
    [sample] = load_synthetic_eval_dataset(tmp_path)
    assert MARKER not in sample.inputs.model_dump_json()
    assert sample.expected_factors == ["daytime", MARKER]
    assert (sample.expected_min, sample.expected_max, sample.expected_level) == (0, 25, "low")


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"expected_labels.json": LABELS}, "missing detections.json"),
        ({"detections.json": DETECTIONS}, "missing expected_labels.json"),
        ({"detections.json": "{not json", "expected_labels.json": LABELS}, "invalid JSON in detections.json"),
        ({"detections.json": DETECTIONS, "expected_labels.json": "[1, 2"}, "invalid JSON in expected_labels.json"),
        (
            {"detections.json": DETECTIONS | {"detections": []}, "expected_labels.json": LABELS},
            "detections.json breaks the contract",
        ),
        (
            {
                "detections.json": DETECTIONS
                | {"detections": [DETECTIONS["detections"][0] | {"detected_at": "2026-03-10T14:00:00"}]},
                "expected_labels.json": LABELS,
            },
            "detections.json breaks the contract",
        ),
        (
            {"detections.json": DETECTIONS, "expected_labels.json": {"risk": {"min_score": 50, "max_score": 10}}},
            "invalid expected_labels.json",
        ),
        (
            {"detections.json": DETECTIONS, "expected_labels.json": {"risk": LABELS["risk"] | {"level": "severe"}}},
            "invalid expected_labels.json",
        ),
        ({"detections.json": DETECTIONS, "expected_labels.json": {"detections": []}}, "invalid expected_labels.json"),
    ],
)
def test_broken_folders_are_skipped_with_a_warning(tmp_path: Path, files: dict[str, Any], reason: str) -> None:
    _good(tmp_path, "normal", "good_001")
    _scenario(tmp_path, "normal", "broken_002", files)
    with pytest.warns(UserWarning, match=f"normal/broken_002: {reason}"):
        samples = load_synthetic_eval_dataset(tmp_path)
    assert [s.scenario_id for s in samples] == ["good_001"]


def test_category_filter(tmp_path: Path) -> None:
    for category in CATEGORIES:
        _good(tmp_path, category, f"{category}_001")
    assert [s.category for s in load_synthetic_eval_dataset(tmp_path, ["threats", "normal"])] == ["normal", "threats"]
    assert load_synthetic_eval_dataset(tmp_path, []) == []
    with pytest.raises(ValueError, match=r"unknown categories \['benign'\]; known: normal, suspicious, threats"):
        load_synthetic_eval_dataset(tmp_path, ["normal", "benign"])


def test_missing_category_folder_and_stray_files_are_fine(tmp_path: Path) -> None:
    _good(tmp_path, "threats", "t_001")
    (tmp_path / "threats" / "notes.txt").write_text("not a scenario")
    assert [s.scenario_id for s in load_synthetic_eval_dataset(tmp_path)] == ["t_001"]


def test_missing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_synthetic_eval_dataset(tmp_path / "absent")


def test_a_copy_of_a_committed_scenario_loads_identically(tmp_path: Path, committed: list[EvalSample]) -> None:
    sample = committed[-1]
    shutil.copytree(REPO_DATA / sample.category / sample.scenario_id, tmp_path / sample.category / sample.scenario_id)
    assert load_synthetic_eval_dataset(str(tmp_path)) == [sample]
