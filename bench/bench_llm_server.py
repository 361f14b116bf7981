"""LLM server benchmarks (issue: LLM inference service).

Run from the repo root: python -m bench.bench_llm_server [--quick]

(a) generation through the HTTP server vs llama-cpp-python called directly (same prompt, greedy);
(b) prompt time of a second request sharing a 1,500-token prefix vs the first;
(c) aggregate generation tokens/s with 1, 2 and 4 concurrent clients;
(d) the HF engine vs the llama.cpp engine on the same model (embedded GGUF), CPU.
Results are printed as Markdown and written to bench/results/llm_server.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import llama_cpp

from ai.nemotron.launch import ServerProcess
from ai.nemotron.settings import embedded_model_path

PROMPT = (
    "<|im_start|>system\nYou are a security analyst.<|im_end|>\n<|im_start|>user\n"
    "Write a detailed incident report about a person seen at the back gate at 3am.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
RESULTS = Path(__file__).parent / "results" / "llm_server.json"


def direct_tokens_per_second(n_predict: int, threads: int) -> tuple[float, int]:
    llm = llama_cpp.Llama(model_path=str(embedded_model_path()), n_ctx=2048, n_threads=threads, verbose=False)
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    llm.set_seed(0)
    started, n = time.perf_counter(), 0
    for token in llm.generate(tokens, temp=0.0, top_k=40, top_p=0.95, min_p=0.05, reset=True):
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            break
        n += 1
        if n >= n_predict:
            break
    return n / (time.perf_counter() - started), n


def server_tokens_per_second(client: httpx.Client, n_predict: int) -> tuple[float, int]:
    body = {"prompt": PROMPT, "n_predict": n_predict, "temperature": 0, "cache_prompt": False}
    started = time.perf_counter()
    r = client.post("/completion", json=body).json()
    return r["tokens_predicted"] / (time.perf_counter() - started), r["tokens_predicted"]


def bench_overhead(client: httpx.Client, n_predict: int, reps: int, threads: int) -> dict[str, Any]:
    direct, served = [], []
    for _ in range(reps):  # interleaved so that machine noise hits both alike
        d, nd = direct_tokens_per_second(n_predict, threads)
        s, ns = server_tokens_per_second(client, n_predict)
        assert nd == ns, f"direct made {nd} tokens, server {ns}: not the same work"
        direct.append(d)
        served.append(s)
    d, s = statistics.median(direct), statistics.median(served)
    return {"tokens": nd, "direct_tps": d, "server_tps": s, "ratio": s / d}


def bench_prefix_cache(client: httpx.Client) -> dict[str, Any]:
    rules = " ".join(f"Rule {i}: a person at an entry point at night raises the risk score." for i in range(120))
    prefix = f"<|im_start|>system\n{rules}\n"
    n_prefix = len(client.post("/tokenize", json={"content": prefix}).json()["tokens"])
    first = client.post(
        "/completion",
        json={"prompt": prefix + "Batch 1: car in driveway<|im_end|>", "n_predict": 1, "cache_prompt": True},
    ).json()
    second = client.post(
        "/completion",
        json={"prompt": prefix + "Batch 2: person at door<|im_end|>", "n_predict": 1, "cache_prompt": True},
    ).json()
    t1, t2 = first["timings"], second["timings"]
    return {
        "prefix_tokens": n_prefix,
        "first_prompt_ms": t1["prompt_ms"],
        "second_prompt_ms": t2["prompt_ms"],
        "second_cache_n": t2["cache_n"],
        "ratio": t2["prompt_ms"] / t1["prompt_ms"],
    }


def bench_concurrency(url: str, clients: int, n_predict: int) -> dict[str, Any]:
    def one(i: int) -> int:
        with httpx.Client(base_url=url, timeout=600) as c:
            body = {"prompt": PROMPT + f"Report {i}:", "n_predict": n_predict, "temperature": 0.7, "seed": i}
            return c.post("/completion", json=body).json()["tokens_predicted"]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        total = sum(pool.map(one, range(clients)))
    elapsed = time.perf_counter() - started
    return {"clients": clients, "tokens": total, "seconds": elapsed, "aggregate_tps": total / elapsed}


def bench_engines(n_predict: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for engine in ("llamacpp", "hf"):
        try:
            with (
                ServerProcess("--engine", engine, "--ctx-size", "2048") as server,
                httpx.Client(base_url=server.url, timeout=600) as c,
            ):
                server_tokens_per_second(c, 8)  # warm-up
                tps, n = server_tokens_per_second(c, n_predict)
                health = c.get("/health").json()
        except Exception as exc:  # report, don't hide, an engine that can't run here
            rows.append({"engine": engine, "error": f"{type(exc).__name__}: {exc}"})
            continue
        rows.append(
            {
                "engine": engine,
                "tokens": n,
                "tps": tps,
                "quantization": health.get("quantization"),
                "attention": health.get("attention_implementation"),
                "device": health.get("device"),
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="fewer repetitions and tokens")
    args = p.parse_args()
    n_predict, reps = (64, 2) if args.quick else (128, 5)
    threads = 2
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores".strip(),
    }
    with (
        ServerProcess("--parallel", "1", "--threads", str(threads)) as server,
        httpx.Client(base_url=server.url, timeout=600) as client,
    ):
        server_tokens_per_second(client, 8)
        report["overhead"] = bench_overhead(client, n_predict, reps, threads)
        report["prefix_cache"] = bench_prefix_cache(client)
    report["concurrency"] = {}
    for slots in (1, 4):
        with ServerProcess(
            "--parallel", str(slots), "--threads", str(threads), "--ctx-size", str(4096 * slots)
        ) as server:
            report["concurrency"][f"parallel={slots}"] = [
                bench_concurrency(server.url, n, n_predict) for n in (1, 2, 4)
            ]
    report["engines"] = bench_engines(n_predict)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    o, c = report["overhead"], report["prefix_cache"]
    print(f"## LLM server ({report['date']}, {report['machine']})\n")
    print(
        f"(a) generation, {o['tokens']} tokens greedy: direct {o['direct_tps']:.1f} tok/s, server "
        f"{o['server_tps']:.1f} tok/s -> server/direct = {o['ratio']:.1%} (target >= 95%)"
    )
    print(
        f"(b) {c['prefix_tokens']}-token shared prefix: first prompt {c['first_prompt_ms']:.0f} ms, second "
        f"{c['second_prompt_ms']:.0f} ms (cache_n {c['second_cache_n']}) -> {c['ratio']:.1%} (target <= 10%)"
    )
    print("(c) aggregate generation tokens/s:")
    for slots, rows in report["concurrency"].items():
        print(f"    {slots}: " + ", ".join(f"{r['clients']} clients {r['aggregate_tps']:.1f}" for r in rows))
    print("(d) engines on the embedded model, CPU:")
    for row in report["engines"]:
        print(f"    {row}")


if __name__ == "__main__":
    main()
