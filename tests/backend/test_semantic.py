"""The semantic layer: the packaged MiniLM loads offline, paraphrases of one act rank alike, and the concept
bank reads camera text by meaning (the paraphrases are in semantic_paraphrases.py, written for these tests)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from backend.domain.concepts import CONCEPTS, CONCEPTS_BY_KEY, Severity
from backend.services.semantic import SemanticReader, clauses, get_reader, model_dir
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
