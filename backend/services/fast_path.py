"""Which detections skip the batch wait and are analyzed at once (they still join their batch)."""

from __future__ import annotations

from collections.abc import Collection

from backend.domain.scenario import DetectionIn


def fast_path_trigger(detection: DetectionIn, threshold: float, object_types: Collection[str]) -> str | None:
    """What sends a detection down the fast path, or None.

    ``"weapon"``/``"violence"`` when its enrichment flags one as detected with ``confidence >= threshold``
    (any object type); otherwise its object type when that is one of ``object_types`` and the detection's own
    confidence is at least ``threshold``.
    """
    enrichment = detection.enrichment
    for name, flag in (("weapon", enrichment.weapon), ("violence", enrichment.violence)):
        if flag is not None and flag.detected and flag.confidence >= threshold:
            return name
    if detection.object_type in object_types and detection.confidence >= threshold:
        return detection.object_type
    return None
