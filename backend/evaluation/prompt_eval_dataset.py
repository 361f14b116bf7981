"""Loading an evaluation data set laid out like ``data/synthetic/`` (contract: scenario-format.md).

Only ``detections.json`` becomes a sample's ``inputs`` — what a deployed system would know. The label
(``expected_labels.json``) is kept beside it for scoring, and ``scenario_spec.json`` (a description for
humans) is never read, so neither can leak into a prompt. A broken scenario folder is skipped with a
warning naming it and why, so one bad file cannot silently shrink or abort an evaluation run.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend.domain.risk_levels import MAX_SCORE, MIN_SCORE, RiskLevel
from backend.domain.scenario import ScenarioInput

Category = Literal["normal", "suspicious", "threats"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "synthetic"
DETECTIONS_FILE = "detections.json"
LABELS_FILE = "expected_labels.json"

log = logging.getLogger(__name__)


class RiskLabel(BaseModel):
    """``expected_labels.json``'s ``risk`` object; other keys of the file are ignored."""

    model_config = ConfigDict(extra="ignore")

    min_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    max_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    level: RiskLevel
    expected_factors: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> RiskLabel:
        if self.min_score > self.max_score:
            raise ValueError(f"min_score {self.min_score} is above max_score {self.max_score}")
        return self


class EvalSample(BaseModel):
    """One scenario: the analyzer's input and the ground truth it is scored against."""

    model_config = ConfigDict(frozen=True)

    scenario_id: str
    category: Category
    inputs: ScenarioInput
    expected_min: int
    expected_max: int
    expected_level: RiskLevel
    expected_factors: list[str] = Field(default_factory=list)


class _Skip(Exception):
    """A scenario folder that cannot be used, with the reason."""


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise _Skip(f"missing {path.name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Skip(f"invalid JSON in {path.name}: {exc}") from None


def _load_sample(folder: Path, category: Category) -> EvalSample:
    labels = _read_json(folder / LABELS_FILE)
    detections = _read_json(folder / DETECTIONS_FILE)
    try:
        risk = RiskLabel.model_validate(labels["risk"] if isinstance(labels, dict) and "risk" in labels else None)
    except ValidationError as exc:
        raise _Skip(f"invalid {LABELS_FILE}: {_first_error(exc)}") from None
    try:
        inputs = ScenarioInput.model_validate(detections)
    except ValidationError as exc:
        raise _Skip(f"{DETECTIONS_FILE} breaks the contract: {_first_error(exc)}") from None
    return EvalSample(
        scenario_id=folder.name,
        category=category,
        inputs=inputs,
        expected_min=risk.min_score,
        expected_max=risk.max_score,
        expected_level=risk.level,
        expected_factors=risk.expected_factors,
    )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(root)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"


def _selected(categories: Iterable[str] | None) -> tuple[Category, ...]:
    if categories is None:
        return CATEGORIES
    chosen = list(dict.fromkeys(categories))
    unknown = [c for c in chosen if c not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
    return tuple(c for c in CATEGORIES if c in chosen)


def load_synthetic_eval_dataset(
    data_dir: str | Path | None = None, categories: Iterable[str] | None = None
) -> list[EvalSample]:
    """Every usable scenario under ``data_dir`` (default: the repository's data/synthetic), ordered by
    category (normal, suspicious, threats) and scenario id. ``categories`` limits the categories read;
    an unknown category is a ValueError, a missing data_dir a FileNotFoundError."""
    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    selected = _selected(categories)
    if not root.is_dir():
        raise FileNotFoundError(f"evaluation data set not found: {root}")
    samples = []
    for category in selected:
        folder = root / category
        for scenario in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
            try:
                samples.append(_load_sample(scenario, category))
            except _Skip as skip:
                message = f"skipping scenario {category}/{scenario.name}: {skip}"
                log.warning(message)
                warnings.warn(message, stacklevel=2)
    return samples
