"""Our LLM server side by side with llama-server: same llama.cpp, same model, same threads (issue #11, point 6).

llama-server is built from the llama.cpp that llama-cpp-python vendors, outside the repository (the commands
are in ``bench/llama_server_suite.py``'s docstring); without it this script says so and exits 0.

Run from the repo root::

    .venv/bin/python -m bench.bench_vs_llama_server [--rounds 2] [--threads 2] [--bin PATH]

Both servers run at once on the bundled GGUF with the same ``--ctx-size``, ``--parallel`` and ``--threads``;
each figure is measured on one, then the other, alternating which goes first from round to round, so that a
noisy machine slows both alike. Every figure is client wall time over HTTP:

- ``generation``: one stream, ``/completion``, greedy, a fixed 128 tokens (``ignore_eos``) after a short
  prompt: generated tokens / wall seconds;
- ``prompt processing``: a fresh ~1,500-token prompt (a new first line each time, so no cache), one token
  generated: prompt tokens / wall seconds;
- ``json_schema generation``: a risk-verdict schema like the analyzer's, greedy, up to 160 tokens (the answer
  may be cut there): generated tokens / (wall seconds less the server's reported prompt time), since the two
  grammars lead to answers of different lengths (what the backend asks on every batch);
- ``N clients``: N concurrent streams of 64 tokens each (N = 1, 2, 4, 8): total generated tokens / wall
  seconds from the first request to the last answer;
- ``start to /health 200``: process start until the model answers (each server started alone, ``--rounds``
  times).

Results: a Markdown table (median, range over rounds, ours / llama-server) on stdout and
``bench/results/vs_llama_server.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ai.nemotron.launch import REPO, free_port, wait_healthy
from ai.nemotron.settings import embedded_model_path
from bench.llama_server_suite import DEFAULT_BIN

RESULTS = Path(__file__).parent / "results" / "vs_llama_server.json"
CTX_SIZE = 16384  # 2,048 tokens per slot: room for the ~1,500-token prompt
PARALLEL = 8  # one slot per client at the widest concurrency
GENERATION_TOKENS = 128
CLIENT_TOKENS = 64
SCHEMA_TOKENS = 160
CLIENTS = (1, 2, 4, 8)
SHORT_PROMPT = (
    "<|im_start|>user\nWrite a detailed incident report about a person seen at the back gate at 3am.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
RISK_SCHEMA = {
    "type": "object",
    "properties": {
        "risk_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "risk_level": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
        "summary": {"type": "string", "maxLength": 200},
        "reasoning": {"type": "string", "maxLength": 300},
    },
    "required": ["risk_score", "risk_level", "summary", "reasoning"],
    "additionalProperties": False,
}
SCHEMA_PROMPT = (
    "<|im_start|>system\nYou rate home security camera events. Answer in JSON.<|im_end|>\n<|im_start|>user\n"
    "A person in a dark hoodie stood at the back door for 4 minutes at 03:10 and tried the handle.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def long_prompt(round_index: int, target: str) -> str:
    """~1,500 tokens that no earlier request shares a prefix with (its first line is new)."""
    line = "Camera {i}: a person walked past the garage at 0{h}:{m:02d}, carrying a bag, then left by the gate.\n"
    body = "".join(line.format(i=i, h=i % 10, m=i % 60) for i in range(60))
    return f"Run {round_index} on {target} at {time.time_ns()}.\n{body}Summarise the night."


def llama_server_command(binary: Path, model: Path, port: int, threads: int) -> list[str]:
    return [
        str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "--ctx-size", str(CTX_SIZE),
        "--parallel", str(PARALLEL), "--threads", str(threads), "--threads-batch", str(threads), "--no-webui",
    ]  # fmt: skip


def ours_command(model: Path, port: int, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "ai.nemotron", "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--ctx-size", str(CTX_SIZE), "--parallel", str(PARALLEL), "--threads", str(threads),
    ]  # fmt: skip


def start(command: list[str], port: int) -> tuple[subprocess.Popen[bytes], float]:
    """The process and the seconds from its start to /health 200."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(f"http://127.0.0.1:{port}", proc, 180)
    return proc, time.perf_counter() - started


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def completion(url: str, body: dict[str, Any]) -> dict[str, Any]:
    with httpx.Client(timeout=600) as c:
        r = c.post(f"{url}/completion", json=body)
        r.raise_for_status()
        return dict(r.json())


def timed(fn: Callable[[], tuple[int, Any]]) -> float:
    """Tokens per second of ``fn``, which returns (tokens, anything)."""
    began = time.perf_counter()
    tokens, _ = fn()
    return tokens / (time.perf_counter() - began)


def generation(url: str) -> float:
    body = {"prompt": SHORT_PROMPT, "n_predict": GENERATION_TOKENS, "temperature": 0, "ignore_eos": True}
    return timed(lambda: (completion(url, body)["tokens_predicted"], None))


def prompt_processing(url: str, round_index: int, target: str) -> float:
    body = {"prompt": long_prompt(round_index, target), "n_predict": 1, "temperature": 0, "cache_prompt": False}
    return timed(lambda: (completion(url, body)["tokens_evaluated"], None))


def schema_generation(url: str) -> float:
    """Generated tokens per second of the constrained phase: wall time less the server's own prompt time.
    The two servers' schema grammars differ (llama-server's allows free whitespace and newlines, ours does
    not), so their greedy answers differ in length; per token is what compares."""
    body = {"prompt": SCHEMA_PROMPT, "n_predict": SCHEMA_TOKENS, "temperature": 0, "json_schema": RISK_SCHEMA}
    began = time.perf_counter()
    answer = completion(url, body)
    wall = time.perf_counter() - began
    if not answer["content"].lstrip().startswith("{"):  # not constrained: the figure would mean nothing
        raise RuntimeError(f"json_schema answer is not JSON: {answer['content'][:80]!r}")
    return float(answer["tokens_predicted"]) / (wall - answer["timings"]["prompt_ms"] / 1000.0)


def clients(url: str, n: int, round_index: int) -> float:
    def one(i: int) -> int:
        prompt = f"<|im_start|>user\nRound {round_index}, client {i}: describe a quiet street.<|im_end|>\n"
        body = {"prompt": prompt + "<|im_start|>assistant\n", "n_predict": CLIENT_TOKENS, "temperature": 0}
        return int(completion(url, {**body, "ignore_eos": True})["tokens_predicted"])

    def run() -> tuple[int, Any]:
        with ThreadPoolExecutor(n) as pool:
            return sum(pool.map(one, range(n))), None

    return timed(run)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bin", type=Path, default=DEFAULT_BIN, help="llama-server binary")
    args = p.parse_args()
    if not args.bin.is_file():
        print(f"llama-server is not built ({args.bin} missing): see bench/llama_server_suite.py for the build; skipped")
        return
    model = embedded_model_path()
    ports = {"llama-server": free_port(), "ours": free_port()}
    commands = {
        "llama-server": llama_server_command(args.bin, model, ports["llama-server"], args.threads),
        "ours": ours_command(model, ports["ours"], args.threads),
    }
    startup: dict[str, list[float]] = {t: [] for t in commands}
    for _ in range(args.rounds):  # each alone, so that the other's load does not slow it
        for target, command in commands.items():
            proc, seconds = start(command, ports[target])
            startup[target].append(seconds)
            stop(proc)
    procs = {target: start(command, ports[target])[0] for target, command in commands.items()}
    urls = {t: f"http://127.0.0.1:{port}" for t, port in ports.items()}
    figures: dict[str, dict[str, list[float]]] = {}
    measures: list[tuple[str, Callable[[str, int, str], float]]] = [
        ("generation, one stream (tok/s)", lambda url, r, t: generation(url)),
        ("prompt processing, ~1,500 tokens (tok/s)", prompt_processing),
        ("json_schema generation, after the prompt (tok/s)", lambda url, r, t: schema_generation(url)),
        *((f"{n} concurrent clients, aggregate (tok/s)", lambda url, r, t, n=n: clients(url, n, r)) for n in CLIENTS),
    ]
    try:
        for target in commands:  # warm-up: first requests page the weights in
            generation(urls[target])
        for r in range(args.rounds):
            order = list(commands) if r % 2 == 0 else list(reversed(commands))
            for name, measure in measures:
                for target in order:
                    figures.setdefault(name, {}).setdefault(target, []).append(measure(urls[target], r, target))
                    print(f"round {r + 1}: {name}: {target} {figures[name][target][-1]:.1f}", file=sys.stderr)
    finally:
        for proc in procs.values():
            stop(proc)
    rows = {name: {t: summary(v) for t, v in by_target.items()} for name, by_target in figures.items()}
    rows["start to /health 200 (s)"] = {t: summary(v) for t, v in startup.items()}
    machine = f"{platform.machine()}, {os.cpu_count()} vCPU, {platform.python_version()}"
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}, threads {args.threads}, rounds {args.rounds}\n")
    print("| figure | llama-server median (range) | ours median (range) | ours / llama-server |")
    print("| --- | --- | --- | --- |")
    for name, by_target in rows.items():
        ls, ours = by_target["llama-server"], by_target["ours"]
        cells = [f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})" for s in (ls, ours)]
        print(f"| {name} | {cells[0]} | {cells[1]} | {ours['median'] / ls['median']:.2f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"date": datetime.now(UTC).isoformat(), "machine": machine, "threads": args.threads, "figures": rows},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
