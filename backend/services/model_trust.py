"""Per-model trust: how far a model's own score may move the verdict away from the evidence (0-1).

Measured, not assumed: ``python -m backend eval --store-trust`` runs the model over labelled scenarios, finds
the trust at which the combined verdict's level accuracy is best (:mod:`backend.evaluation.trust`), and stores
it here under the model id the LLM server reports. The analyzer then uses, in this order:

1. ``LLM_TRUST`` (0-1), when set: an operator's override;
2. the stored trust of the model that answered (``LLM_TRUST_FILE``, default ``var/model_trust.json``);
3. :data:`DEFAULT_TRUST`, measured for the embedded model.

The store is a JSON object ``{model_id: StoredTrust}``, written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from backend.config.settings import BackendSettings

log = logging.getLogger(__name__)

# The embedded SmolLM2-135M-Instruct, measured with `python -m backend eval --store-trust` on data/synthetic
# (202 scenarios) on 2026-11-30: its own score's level accuracy is near chance and every trust above 0 lowered
# the combined accuracy, so an unknown model starts with the evidence deciding and the model writing. A good
# model earns more by being measured (BENCHMARKS.md, "Trust").
DEFAULT_TRUST = 0.0

TrustSource = Literal["LLM_TRUST", "stored", "default"]


class StoredTrust(BaseModel):
    """One model's measured trust and the figures behind it."""

    model_config = ConfigDict(extra="ignore")

    trust: float = Field(ge=0.0, le=1.0)
    measured_at: datetime
    dataset: str
    scenarios: int = Field(ge=0)
    llm_only_level_accuracy: float = Field(ge=0.0, le=1.0)
    evidence_only_level_accuracy: float = Field(ge=0.0, le=1.0)
    level_accuracy_by_trust: dict[str, float] = Field(default_factory=dict)


_STORE = TypeAdapter(dict[str, StoredTrust])


class TrustStore:
    """The JSON file of stored trusts, re-read when it changes on disk (one ``stat`` per look-up)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, StoredTrust] = {}

    def entries(self) -> dict[str, StoredTrust]:
        """Every stored model; empty when the file is missing or unreadable (logged, never raised)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._entries = _STORE.validate_json(self.path.read_bytes())
                except (OSError, ValidationError) as exc:
                    log.warning("ignoring unreadable trust store %s: %s", self.path, exc)
                    self._entries = {}
                self._stamp = stamp
            return dict(self._entries)

    def get(self, model: str) -> StoredTrust | None:
        return self.entries().get(model) if model else None

    def put(self, model: str, entry: StoredTrust) -> None:
        """Stores ``entry`` for ``model``, keeping the others; the file is replaced atomically."""
        if not model:
            raise ValueError("a trust needs the model id the LLM server reports; it reported none")
        entries = self.entries()
        entries[model] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({k: v.model_dump(mode="json") for k, v in sorted(entries.items())}, indent=2)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".model_trust.", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data + "\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def resolve_trust(settings: BackendSettings, model: str, store: TrustStore | None = None) -> tuple[float, TrustSource]:
    """(trust, where it came from) for answers of ``model``: LLM_TRUST, else stored, else DEFAULT_TRUST."""
    if settings.llm_trust is not None:
        return settings.llm_trust, "LLM_TRUST"
    stored = (store or TrustStore(settings.llm_trust_file)).get(model)
    if stored is not None:
        return stored.trust, "stored"
    return DEFAULT_TRUST, "default"
