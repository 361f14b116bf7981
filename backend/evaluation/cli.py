"""``python -m backend eval`` and ``python -m backend ab``: the analyzer over labelled scenarios."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ai.nemotron.launch import REPO, llm_server_at
from backend.config.prompt_ab_config import get_experiment
from backend.config.prompt_variants import PROMPT_VARIANTS
from backend.config.settings import get_settings
from backend.evaluation.ab_experiment_runner import analyze_experiment
from backend.evaluation.eval_runner import Prediction, run_predictions, score_all
from backend.evaluation.prompt_eval_dataset import EvalSample, load_synthetic_eval_dataset
from backend.evaluation.prompt_evaluator import evaluate_batch
from backend.evaluation.report import write_report
from backend.evaluation.trust import TrustFit, fit_trust, stored_trust
from backend.services.llm_client import LLMClient
from backend.services.model_trust import TrustStore
from backend.services.nemotron_analyzer import NemotronAnalyzer

console = Console()
DEFAULT_LLM_URL = "http://127.0.0.1:8091"


def add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=Path, default=REPO / "data" / "synthetic", help="scenario folder")
    p.add_argument("--categories", nargs="*", default=None, help="only these categories")
    p.add_argument("--limit", type=int, default=None, help="at most this many scenarios per category")
    p.add_argument("--json-out", type=Path, default=None, help="predictions and metrics as JSON")
    p.add_argument("--report-dir", type=Path, default=None, help="Markdown report with PNG plots")
    p.add_argument(
        "--llm-url",
        default=DEFAULT_LLM_URL,
        help="LLM server (default: the embedded one, started for the run if none answers)",
    )
    p.add_argument("--concurrency", type=int, default=1, help="analyses in flight at once")


def _samples(args: argparse.Namespace) -> list[EvalSample]:
    samples = load_synthetic_eval_dataset(args.dataset, args.categories)
    if args.limit is not None:
        taken: Counter[str] = Counter()
        kept = []
        for sample in samples:
            if taken[sample.category] < args.limit:
                taken[sample.category] += 1
                kept.append(sample)
        samples = kept
    if not samples:
        raise SystemExit(f"no scenarios found in {args.dataset}")
    return samples


async def _predict(url: str, samples: list[EvalSample], variant: str, concurrency: int, label: str) -> list[Prediction]:
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with LLMClient(url) as llm:
        analyzer = NemotronAnalyzer(llm_client=llm, prompt_variant=variant)
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(label, total=len(samples))
            return await run_predictions(
                analyzer, samples, concurrency=concurrency, on_done=lambda _: progress.advance(task)
            )


SLOT_CONTEXT = 4096  # tokens per analysis: LLM_PROMPT_TOKEN_BUDGET (2560) plus room for the answer


def _run_with_llm(args: argparse.Namespace, work: Callable[[str], Any]) -> Any:
    log = REPO / "var" / "llm-server.log"
    log.parent.mkdir(exist_ok=True)
    slots = max(1, args.concurrency)
    # --ctx-size is shared by the slots (llama-server's rule): each analysis gets SLOT_CONTEXT tokens
    with llm_server_at(
        args.llm_url, "--parallel", str(slots), "--ctx-size", str(SLOT_CONTEXT * slots), log_file=log
    ) as url:
        return work(url)


def run_eval(args: argparse.Namespace) -> int:
    samples = _samples(args)
    predictions = _run_with_llm(
        args, lambda url: asyncio.run(_predict(url, samples, args.prompt_variant, args.concurrency, "eval"))
    )
    metrics = score_all(samples, predictions)
    config = {
        "dataset": str(args.dataset),
        "scenarios": len(samples),
        "prompt_variant": args.prompt_variant,
        "llm_url": args.llm_url,
    }
    for scorer, m in metrics.items():
        console.print(
            f"{scorer:>13}: false alarms {m['false_alarm_rate']:.1%}, threat detection "
            f"{m['threat_detection_rate']:.1%}, level accuracy {m['level_accuracy']:.1%}, "
            f"accuracy {m['accuracy']:.1%}, unassessed {m['unassessed']}"
        )
    fit = _trust(args, predictions)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(
            json.dumps(
                {
                    "config": config,
                    "metrics": metrics,
                    "trust_fit": fit.model_dump() if fit else None,
                    "predictions": [p.model_dump() for p in predictions],
                },
                indent=2,
            )
        )
    if args.report_dir:
        path = write_report(args.report_dir, "Risk verdict evaluation", predictions, metrics, config)
        console.print(f"report: {path}")
    return 0


def _trust(args: argparse.Namespace, predictions: list[Prediction]) -> TrustFit | None:
    """The model's own quality and the trust it earns (printed), stored for it with --store-trust."""
    try:
        fit = fit_trust(predictions)
    except ValueError as exc:
        console.print(f"[yellow]trust not measured: {exc}[/]")
        if args.store_trust:
            raise SystemExit("--store-trust: nothing to store") from exc
        return None
    curve = ", ".join(f"{t}: {a:.0%}" for t, a in fit.level_accuracy_by_trust.items())
    used = sorted({p.trust for p in predictions if p.trust is not None})
    console.print(
        f"model {fit.model!r}: own level accuracy {fit.llm_only_level_accuracy:.1%} (evidence alone "
        f"{fit.evidence_only_level_accuracy:.1%}); level accuracy by trust {curve}; best trust {fit.trust:g} "
        f"(this run used {', '.join(f'{t:g}' for t in used) or '-'})"
    )
    if args.store_trust:
        store = TrustStore(get_settings().llm_trust_file)
        store.put(fit.model, stored_trust(fit, str(args.dataset)))
        console.print(f"stored trust {fit.trust:g} for {fit.model!r} in {store.path}")
    return fit


def _per_scenario(metric: str, samples: list[EvalSample], predictions: list[Prediction]) -> list[float]:
    """One value per scenario for the experiment's metric (deviation, range or level hit)."""
    results = evaluate_batch(samples, [p.as_scorer("combined") for p in predictions])
    if metric == "mean_deviation":
        return [r.deviation if r.deviation is not None else 100.0 for r in results]
    field = "within_range" if metric == "accuracy" else "level_match"
    return [float(getattr(r, field)) for r in results]


def run_ab(args: argparse.Namespace) -> int:
    experiment = get_experiment(args.experiment)
    samples = _samples(args)

    def both(url: str) -> tuple[list[Prediction], list[Prediction]]:
        control = asyncio.run(_predict(url, samples, experiment.control, args.concurrency, experiment.control))
        variant = asyncio.run(_predict(url, samples, experiment.variant, args.concurrency, experiment.variant))
        return control, variant

    control, variant = _run_with_llm(args, both)
    metric = experiment.metric if experiment.metric in ("mean_deviation", "accuracy") else "level_accuracy"
    analysis = analyze_experiment(_per_scenario(metric, samples, control), _per_scenario(metric, samples, variant))
    arms = {"control": score_all(samples, control), "variant": score_all(samples, variant)}
    console.print(
        f"{experiment.name}: {experiment.control} vs {experiment.variant} on {len(samples)} scenarios, metric {metric}"
    )
    console.print(
        f"  control {analysis['control_mean']:.3f} ± {analysis['control_std']:.3f}, variant "
        f"{analysis['variant_mean']:.3f} ± {analysis['variant_std']:.3f}; Welch p="
        f"{analysis['welch_p_value']:.3g}, Mann-Whitney p={analysis['mann_whitney_p_value']:.3g}, "
        f"d={analysis['cohens_d']:.2f} ({analysis['effect_size']}), significant={analysis['significant']}"
    )
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(
            json.dumps(
                {
                    "experiment": experiment.model_dump(),
                    "metric": metric,
                    "analysis": analysis,
                    "metrics": arms,
                    "control": [p.model_dump() for p in control],
                    "variant": [p.model_dump() for p in variant],
                },
                indent=2,
            )
        )
    if args.report_dir:
        for arm, predictions in (("control", control), ("variant", variant)):
            write_report(
                args.report_dir / arm,
                f"{experiment.name}: {arm} ({getattr(experiment, arm)})",
                predictions,
                arms[arm],
                {"experiment": experiment.name, "prompt_variant": getattr(experiment, arm), "scenarios": len(samples)},
            )
    return 0


def register(commands: Any) -> None:
    """Adds the ``eval`` and ``ab`` subcommands to ``python -m backend``."""
    evaluate = commands.add_parser("eval", help="run the analyzer over labelled scenarios and score it")
    add_common_options(evaluate)
    evaluate.add_argument("--prompt-variant", choices=sorted(PROMPT_VARIANTS), default="current")
    evaluate.add_argument(
        "--store-trust",
        action="store_true",
        help="store the measured trust for the model the server reports (LLM_TRUST_FILE); the service uses it",
    )
    evaluate.set_defaults(handler=run_eval)
    ab = commands.add_parser("ab", help="run both arms of a prompt A/B experiment on the same scenarios")
    add_common_options(ab)
    ab.add_argument("--experiment", required=True, help="experiment name, e.g. rubric_vs_current")
    ab.set_defaults(handler=run_ab)
