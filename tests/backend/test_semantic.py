"""The semantic layer: the packaged MiniLM loads offline, paraphrases of one act rank alike, and the concept
bank reads camera text by meaning (the paraphrases are in semantic_paraphrases.py, written for these tests)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import backend.services.semantic as semantic
from backend.domain.concepts import CONCEPTS, CONCEPTS_BY_KEY, Severity
from backend.services.semantic import SemanticReader, clauses, get_reader, model_dir, onnx_path
from tests.backend.semantic_paraphrases import ACTS, HARMLESS_ALARMING, THREATS_TOLD


@pytest.fixture(scope="module")
def reader() -> SemanticReader:
    return get_reader()


def test_the_model_ships_in_a_package_and_loads_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = model_dir()
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    vectors = get_reader().embed(["a person at the door", "A PERSON AT THE DOOR "])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.allclose(vectors[0], vectors[1])  # case and surrounding space do not matter (one cache key)


def test_the_service_runs_the_encoder_in_onnx_runtime_with_the_same_vectors_as_torch(reader: SemanticReader) -> None:
    """The exported encoder is the packaged model: every text's vector matches torch's (cosine >= 0.9999),
    and the export sits in the cache under a name carrying the model and the recipe."""
    assert reader.runtime == "onnx"
    assert onnx_path(model_dir()).is_file()
    texts = [
        "The image shows a man in a dark hoodie forcing the back door with a crowbar.",
        "a courier leaves a parcel on the step and walks back to the van",
        "smoke",
        "Two children play football on the lawn, laughing, while a dog runs after the ball.",
    ]
    torch_reader = SemanticReader(runtime="torch")
    assert torch_reader.runtime == "torch"
    cosines = (reader.embed(texts) * torch_reader.embed(texts)).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines


def test_a_failed_export_falls_back_to_torch_and_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault ONNX can't be made to produce on demand (the exporter dies after writing part of the file) is
    injected: the reader logs why and reads with torch, and the cache holds no file at all."""
    import torch

    monkeypatch.setenv("SEMANTIC_CACHE_DIR", str(tmp_path))

    def broken_export(_model: object, _args: object, path: str, **_kwargs: object) -> None:
        Path(path).write_bytes(b"half a model")
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    fallback = SemanticReader()
    assert fallback.runtime == "torch"
    assert "exporter broke" in caplog.text
    assert list(tmp_path.iterdir()) == []
    assert fallback.read("A man smashes the kitchen window with a brick and climbs inside.").threats


def test_the_export_is_written_whole_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMANTIC_CACHE_DIR", str(tmp_path))
    first = SemanticReader()
    target = onnx_path(model_dir())
    assert first.runtime == "onnx" and target.parent == tmp_path and target.is_file()
    assert not list(tmp_path.glob("*.part"))  # the temporary file was renamed into place
    stamp = target.stat().st_mtime_ns
    calls: list[object] = []
    monkeypatch.setattr(semantic, "_export_onnx", lambda *args: calls.append(args))
    second = SemanticReader()
    assert second.runtime == "onnx" and not calls and target.stat().st_mtime_ns == stamp


def _strongest_severity(reader: SemanticReader, text: str) -> str:
    reading = reader.read(text)
    if not reading.threats:
        return "ordinary"
    return CONCEPTS_BY_KEY[max(reading.threats, key=lambda m: m.similarity).concept].severity


def test_paraphrases_of_one_act_are_read_alike(reader: SemanticReader) -> None:
    """The ranking property that matters for a verdict: two tellings of the same act get the same strongest
    reading (the same severity, or both ordinary). Raw sentence vectors do not have it (they cluster by scene:
    "a person ... the front door"); the concept bank is what makes them agree."""
    pairs = [(a, b) for texts in ACTS.values() for a, b in itertools.combinations(texts, 2)]
    agree = sum(_strongest_severity(reader, a) == _strongest_severity(reader, b) for a, b in pairs)
    # Measured 2026-11-30: 38 of 50 pairs; a chance reading of 4 severities would agree on about a quarter.
    assert agree / len(pairs) >= 0.7, f"{agree}/{len(pairs)}"


def test_the_concept_bank_reads_paraphrases_to_the_right_severity(reader: SemanticReader) -> None:
    hits = 0
    total = 0
    for act, texts in ACTS.items():
        want = CONCEPTS_BY_KEY[act]
        for text in texts:
            reading = reader.read(text)
            got = {CONCEPTS_BY_KEY[m.concept].severity for m in reading.threats}
            total += 1
            hits += (want.severity in got) if want.threat else not got
    # Measured 2026-11-30: 46 of 54. The floor catches a regression without asking for a perfect model.
    assert hits / total >= 0.8, f"{hits}/{total}"


def test_threats_told_in_camera_registers_read_as_threats(reader: SemanticReader) -> None:
    missed = [text for text in THREATS_TOLD if not reader.read(text).threats]
    assert len(missed) <= 1, missed  # measured: 1 of 10


def test_harmless_scenes_with_alarming_words_mostly_read_as_ordinary(reader: SemanticReader) -> None:
    alarms = [text for text in HARMLESS_ALARMING if reader.read(text).threats]
    assert len(alarms) <= 5, alarms  # measured: 4 of 20; the evidence rules then need corroboration


@pytest.mark.parametrize(
    ("text", "concept"),
    [("smoke", "fire"), ("fire", "fire"), ("a knife", "armed"), ("looking in window", "peeping")],
)
def test_detector_words_map_to_their_concept(reader: SemanticReader, text: str, concept: str) -> None:
    assert concept in {m.concept for m in reader.read(text).threats}


@pytest.mark.parametrize("word", ["bicycle", "person", "walking", "box", "tools", "ladder", "sports ball"])
def test_a_bare_everyday_word_is_no_threat(reader: SemanticReader, word: str) -> None:
    assert not reader.read(word).threats


def test_a_threat_in_any_clause_counts_a_benign_meaning_only_for_the_whole(reader: SemanticReader) -> None:
    delivery = "A courier leaves a parcel on the step and rings the bell"
    assert not reader.read(delivery).threats
    assert reader.read(delivery).benign is not None
    both = reader.read(delivery + ", then tries the handle of the back door.")
    assert "attempted_entry" in {m.concept for m in both.threats}


def test_clauses_split_at_sentence_ends_and_commas() -> None:
    assert clauses("A man waits. He looks around, then tries the door; nobody answers") == [
        "A man waits",
        "He looks around",
        "then tries the door",
    ]  # "nobody answers" is too short to mean anything alone


def test_readings_are_cached_and_deterministic(reader: SemanticReader) -> None:
    text = "A man in a grey coat studies the front of the house for several minutes."
    first, second = reader.read(text), reader.read(text)
    assert first == second
    assert text.lower() in reader._cache


def test_the_bank_is_written_from_taxonomies() -> None:
    """Every concept names its source, severities cover the bank, and no description repeats."""
    assert all(c.source and c.descriptions for c in CONCEPTS)
    assert {c.severity for c in CONCEPTS} == set(Severity)
    descriptions = list(itertools.chain.from_iterable(c.descriptions for c in CONCEPTS))
    assert len(descriptions) == len(set(descriptions))


def test_an_unwritable_cache_home_falls_back_to_the_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only home (a container) is injected by refusing write access to it (root ignores file modes)."""
    home = tmp_path / "home" / "cache"
    monkeypatch.delenv("SEMANTIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(semantic.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    assert semantic.onnx_cache_dir() == home / "nemotron-service"
    monkeypatch.setattr(semantic.os, "access", lambda path, mode: not str(path).startswith(str(home)))
    chosen = semantic.onnx_cache_dir()
    assert chosen.parent == tmp_path / "tmp" and chosen.name.startswith("nemotron-service-")
