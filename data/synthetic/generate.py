"""Seeded generator of the synthetic evaluation set (layout: /work/shared/contracts/scenario-format.md).

    python -m data.synthetic.generate                                  # rewrite the committed set (seed 3731)
    python -m data.synthetic.generate --seed 9001 --out /tmp/holdout   # unseen scenarios, same archetypes

The output is a pure function of the seed: every scenario draws from its own random stream seeded with
(seed, archetype, index), so adding an archetype does not reshuffle the others. The three category folders
under ``--out`` are replaced; nothing else there is touched. A holdout set is for a generalisation check
and is not committed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from data.synthetic.archetypes import ARCHETYPES, Built

DEFAULT_SEED = 3731
DEFAULT_OUT = Path(__file__).resolve().parent
CATEGORIES = ("normal", "suspicious", "threats")


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write(folder: Path, scenario: Built, *, category: str, archetype: str, seed: int) -> None:
    folder.mkdir(parents=True)
    _write_json(folder / "detections.json", scenario.detections)
    risk = {
        "min_score": scenario.min_score,
        "max_score": scenario.max_score,
        "level": scenario.level,
        "expected_factors": list(scenario.factors),
    }
    _write_json(folder / "expected_labels.json", {"risk": risk})
    spec = {
        "scenario_id": folder.name,
        "category": category,
        "archetype": archetype,
        "description": scenario.description,
        "generator": {"script": "data/synthetic/generate.py", "seed": seed},
    }
    _write_json(folder / "scenario_spec.json", spec)


def generate(seed: int = DEFAULT_SEED, out: Path = DEFAULT_OUT, scale: float = 1.0) -> Counter[tuple[str, str]]:
    """Writes every archetype's variants under ``out``; returns the count per (category, archetype)."""
    for category in CATEGORIES:
        shutil.rmtree(out / category, ignore_errors=True)
    written: Counter[tuple[str, str]] = Counter()
    for category, archetype, build, count in ARCHETYPES:
        for index in range(max(1, round(count * scale))):
            scenario = build(random.Random(f"{seed}:{archetype}:{index}"))
            folder = out / category / f"{archetype}_{index + 1:03d}"
            _write(folder, scenario, category=category, archetype=archetype, seed=seed)
            written[category, archetype] += 1
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="data set folder (default: this folder)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every archetype's count (default 1)")
    args = parser.parse_args(argv)
    written = generate(args.seed, args.out, args.scale)
    for category in CATEGORIES:
        total = sum(n for (cat, _), n in written.items() if cat == category)
        print(f"{category}: {total}")
    print(f"total: {sum(written.values())} scenarios in {args.out}")


if __name__ == "__main__":
    main()
