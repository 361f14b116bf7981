"""Measuring a model's trust: the weight at which its own score best improves on the evidence.

For each trust ``t`` on :data:`TRUST_GRID`, every assessed prediction's combined score is recomputed as the
service would compute it (:func:`backend.services.evidence_risk.blend`: ``evidence + t * (model - evidence)``,
never below the floors) and its level compared with the label. The trust stored for the model is the ``t``
with the best level accuracy; among ties, the lowest (the evidence is what we can explain). A model whose own
score is no better than chance gets 0; a model as good as the labels gets 1. No model is called again: the
scores come from the evaluation's predictions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from backend.domain.risk_levels import level_for_score
from backend.evaluation.eval_runner import Prediction
from backend.services.evidence_risk import blend
from backend.services.model_trust import StoredTrust

TRUST_GRID = tuple(round(i / 10, 1) for i in range(11))


class TrustFit(BaseModel):
    model: str
    trust: float
    scenarios: int  # assessed predictions the fit used
    level_accuracy_by_trust: dict[str, float]
    llm_only_level_accuracy: float
    evidence_only_level_accuracy: float


def _accuracy(hits: list[bool]) -> float:
    return sum(hits) / len(hits) if hits else 0.0


def fit_trust(predictions: list[Prediction]) -> TrustFit:
    """The best trust on TRUST_GRID for the model that answered ``predictions`` (see the module docstring).
    Raises ValueError when no prediction was assessed (nothing to measure)."""
    assessed = [p for p in predictions if p.status == "assessed" and p.llm_score is not None]
    if not assessed:
        raise ValueError("no assessed predictions: the model's trust cannot be measured")
    by_trust = {
        f"{t:.1f}": _accuracy(
            [
                level_for_score(blend(p.evidence_score, p.evidence_floor, p.llm_score or 0, t)) == p.expected_level
                for p in assessed
            ]
        )
        for t in TRUST_GRID
    }
    best = max(by_trust.values())
    trust = min(float(t) for t, accuracy in by_trust.items() if accuracy == best)
    models = sorted({p.llm_model for p in assessed})
    return TrustFit(
        model=models[0] if len(models) == 1 else ",".join(models),
        trust=trust,
        scenarios=len(assessed),
        level_accuracy_by_trust=by_trust,
        llm_only_level_accuracy=_accuracy([level_for_score(p.llm_score or 0) == p.expected_level for p in assessed]),
        evidence_only_level_accuracy=_accuracy(
            [level_for_score(p.evidence_score) == p.expected_level for p in assessed]
        ),
    )


def stored_trust(fit: TrustFit, dataset: str) -> StoredTrust:
    """The fit as the service's trust store keeps it."""
    return StoredTrust(
        trust=fit.trust,
        measured_at=datetime.now(UTC),
        dataset=dataset,
        scenarios=fit.scenarios,
        llm_only_level_accuracy=fit.llm_only_level_accuracy,
        evidence_only_level_accuracy=fit.evidence_only_level_accuracy,
        level_accuracy_by_trust=fit.level_accuracy_by_trust,
    )
