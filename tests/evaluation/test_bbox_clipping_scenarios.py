"""The scenario loader keeps scenarios whose boxes reach a little past the frame (clipped, with a note) and skips,
with a warning naming the detection, a scenario with a box wholly outside its frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backend.domain.scenario import BBox
from backend.evaluation.prompt_eval_dataset import load_synthetic_eval_dataset

SHARED_CASES = Path("/work/shared/cases/verdicts")
LABELS = {"risk": {"min_score": 85, "max_score": 100, "level": "critical", "expected_factors": ["forced_entry"]}}


def _write(root: Path, name: str, *boxes: dict[str, float]) -> None:
    folder = root / "threats" / name
    folder.mkdir(parents=True)
    detections = {
        "camera": {"id": "front_door", "name": "Front Door", "frame_width": 1920, "frame_height": 1080},
        "detections": [
            {
                "id": f"d{i}",
                "detected_at": f"2026-03-10T02:50:{i:02d}-05:00",
                "object_type": "person",
                "confidence": 0.9,
                "bbox": box,
            }
            for i, box in enumerate(boxes)
        ],
    }
    (folder / "detections.json").write_text(json.dumps(detections))
    (folder / "expected_labels.json").write_text(json.dumps(LABELS))


def _box(x: float, y: float, width: float, height: float) -> dict[str, float]:
    return {"x": x, "y": y, "width": width, "height": height}


def test_a_scenario_with_boxes_a_little_outside_the_frame_is_kept_clipped(tmp_path: Path) -> None:
    _write(tmp_path, "above_frame", _box(953, -6, 110, 906), _box(1804, 500, 120, 300), _box(10, 10, 50, 50))
    [sample] = load_synthetic_eval_dataset(tmp_path)
    above, right, inside = sample.inputs.detections
    assert (above.bbox, above.bbox_clipped_from) == (
        BBox(x=953, y=0, width=110, height=900),
        BBox(**_box(953, -6, 110, 906)),
    )
    assert (right.bbox, right.bbox_clipped_from) == (
        BBox(x=1804, y=500, width=116, height=300),
        BBox(**_box(1804, 500, 120, 300)),
    )
    assert (inside.bbox, inside.bbox_clipped_from) == (BBox(**_box(10, 10, 50, 50)), None)


@pytest.mark.parametrize(
    ("box", "reason"),
    [
        (_box(10, -120, 50, 100), r"detections\[1\]\.bbox: box lies wholly outside the 1920x1080 frame"),
        (_box(10, 10, -50, 100), r"detections\.1\.bbox\.width: Input should be greater than 0"),
        (_box(10, float("nan"), 50, 100), r"detections\.1\.bbox\.y: Input should be a finite number"),
    ],
)
def test_a_scenario_with_a_box_that_cannot_be_kept_is_skipped(tmp_path: Path, box: dict[str, Any], reason: str) -> None:
    _write(tmp_path, "good", _box(10, 10, 50, 50))
    _write(tmp_path, "bad", _box(10, 10, 50, 50), box)
    with pytest.warns(UserWarning, match=f"threats/bad: detections.json breaks the contract: .*{reason}"):
        samples = load_synthetic_eval_dataset(tmp_path)
    assert [s.scenario_id for s in samples] == ["good"]


@pytest.mark.skipif(
    not (SHARED_CASES / "threats" / "c_box_above_frame").is_dir(), reason="shared verdict cases not present"
)
def test_shared_box_above_frame_case_loads() -> None:
    samples = load_synthetic_eval_dataset(SHARED_CASES, ["threats"])
    [case] = [s for s in samples if s.scenario_id == "c_box_above_frame"]
    assert case.expected_level == "critical"
    assert all(d.bbox is not None and d.bbox.y >= 0 for d in case.inputs.detections)
    assert any(d.bbox_clipped_from is not None for d in case.inputs.detections)
