"""What reading camera text by meaning costs per batch (issue #8 budget: <= 20 ms p50 with the model warm).

    python -m bench.bench_semantic [--rounds 3]

For every scenario of the sets below, the evidence checklist (``assess_evidence``) is timed twice, side by
side: with the real semantic reader, and with a reader that finds nothing (the same rules without the
embeddings). The difference is the semantic layer's cost. Two cases are reported:
- ``cold text``: every batch's captions are new to the reader (its cache is emptied before each batch), the
  worst case: a captioner writes new words for every frame;
- ``warm text``: the cache holds the batch's texts (a track's caption repeated over its frames, a retry).
The model itself is loaded once before timing (the service loads it at start-up). Each runtime of the
reader (ONNX Runtime, the service's; torch, its fallback) is timed on the same batches, interleaved, so
their ratio is measured side by side on this noisy shared machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from backend.evaluation.prompt_eval_dataset import load_synthetic_eval_dataset
from backend.services.context_enrichment import AnalysisContext, build_context
from backend.services.evidence_risk import _texts, assess_evidence
from backend.services.semantic import SemanticReader, TextReading

REPO = Path(__file__).resolve().parents[1]
SETS = ("data/synthetic", "data/tuning", "data/generalisation")


class _NoMeaning(SemanticReader):
    """The rules without the embeddings: every text reads as nothing."""

    def __init__(self) -> None:  # no model
        pass

    def read_many(self, texts: list[str]) -> list[TextReading]:
        return [TextReading() for _ in texts]


def _time(ctx: AnalysisContext, reader: SemanticReader, *, cold: bool) -> float:
    if cold and not isinstance(reader, _NoMeaning):
        reader._cache.clear()
    started = time.perf_counter()
    assess_evidence(ctx, reader)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    contexts = [
        build_context(sample.inputs)
        for folder in SETS
        if (REPO / folder).is_dir()
        for sample in load_synthetic_eval_dataset(REPO / folder)
    ]
    readers: dict[str, SemanticReader] = {}
    for runtime in ("onnx", "torch"):
        started = time.perf_counter()
        readers[runtime] = SemanticReader(runtime=runtime)  # type: ignore[arg-type]
        print(f"{runtime}: loaded in {time.perf_counter() - started:.1f} s (runs {readers[runtime].runtime})")
    nothing = _NoMeaning()
    texts = [len({text for f in ctx.detections for _, text in _texts(f)}) for ctx in contexts]
    results: dict[tuple[str, str], list[float]] = {
        (runtime, case): [] for runtime in readers for case in ("cold text", "warm text")
    }
    for _ in range(args.rounds):
        for ctx in contexts:
            for runtime, reader in readers.items():
                base = _time(ctx, nothing, cold=False)
                results[runtime, "cold text"].append(_time(ctx, reader, cold=True) - base)
                base = _time(ctx, nothing, cold=False)
                results[runtime, "warm text"].append(_time(ctx, reader, cold=False) - base)
    print(f"## Semantic layer ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores)")
    print(f"{len(contexts)} batches x {args.rounds} rounds; distinct texts per batch")
    print(f"  median {statistics.median(texts):.0f}, max {max(texts)}")
    print("| runtime | case | p50 ms | p90 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    for (runtime, case), values in results.items():
        q = statistics.quantiles(values, n=100)
        print(f"| {runtime} | {case} | {statistics.median(values):.1f} | {q[89]:.1f} | {q[98]:.1f} |")
    cold = {runtime: statistics.median(results[runtime, "cold text"]) for runtime in readers}
    print(f"cold text p50, torch / onnx: {cold['torch'] / cold['onnx']:.2f}x")


if __name__ == "__main__":
    main()
