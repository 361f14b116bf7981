"""``python -m bench.faults``: the fault harness (``make faults``). See bench/faults/README.md and RELIABILITY.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from bench.faults import fuzz
from bench.faults.procs import (
    REPO_ROOT,
    Backend,
    LLMServer,
    PrivatePostgres,
    PrivateRedis,
    install_cleanup,
    set_source_root,
    stop_all,
)
from bench.faults.report import render_table
from bench.faults.scenarios import SCENARIOS, Harness, Row, Scenario, load_average, run_stream_scenario

LLM_PORT, FUZZ_LLM_PORT, FUZZ_BACKEND_PORT, DEAD_LLM_PORT = 18950, 18951, 18949, 18959
PROXY_BACKEND_PORT, PROXY_LLM_PORT = 18960, 18961
POSTGRES_PORT, REDIS_PORT = 15433, 16390
FUZZ_LLM_CONTEXT = 256  # bounds what an out-of-range generation length costs
FUZZ_NAMES = ("schemathesis/backend", "schemathesis/llm-server")

# The backend's settings for the runs: short batch windows and a quick first retry so a run takes minutes;
# everything else is the backend's default. --env KEY=VALUE overrides or adds.
BACKEND_ENV = {
    "BATCH_WINDOW_SECONDS": "30",
    "BATCH_IDLE_SECONDS": "10",
    "RETRY_INTERVAL_SECONDS": "2",
    "ANALYSIS_LEASE_SECONDS": "90",
    "LOG_LEVEL": "INFO",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    p.add_argument("--long", action="store_true", help="run the 10-minute LLM outages (only them, unless --all)")
    p.add_argument("--all", action="store_true", help="every scenario: the default set and the 10-minute outages")
    p.add_argument("--only", action="append", default=[], help="run the tests whose name contains this (repeatable)")
    p.add_argument("--no-fuzz", action="store_true", help="skip the schemathesis rows")
    p.add_argument("--fuzz-requests", type=int, default=5000, help="schemathesis requests per server (at least)")
    p.add_argument("--fuzz-db", choices=("postgresql", "sqlite"), default="postgresql", help="backend DB under fuzz")
    p.add_argument("--observe", type=float, default=240.0, help="seconds to watch after a fault ends (>= 240)")
    p.add_argument("--env", action="append", default=[], help="backend setting KEY=VALUE for every run")
    p.add_argument("--quick", action="store_true", help="a smoke test of the harness: streams and faults 1/4 as long")
    p.add_argument("--list", action="store_true", help="list the tests and exit")
    p.add_argument(
        "--source",
        default=None,
        help="run the servers from a clean export (git archive) of this commit instead of the working tree",
    )
    p.add_argument("--out", type=Path, default=None, help="results folder (default var/faults/<UTC time>)")
    return p.parse_args(argv)


def selected(args: argparse.Namespace) -> tuple[list[Scenario], list[str]]:
    scenarios = [s for s in SCENARIOS if args.all or (s.long == args.long and s.default)]
    fuzzes = [] if args.no_fuzz or (args.long and not args.all) else list(FUZZ_NAMES)
    if args.only:
        scenarios = [s for s in SCENARIOS if any(o in s.name for o in args.only)]
        fuzzes = [f for f in FUZZ_NAMES if any(o in f for o in args.only)]
    if args.quick:
        scenarios = [
            replace(
                s,
                detections=s.detections // 4,
                duration=s.duration / 4,
                fault_at=s.fault_at / 4,
                fault_seconds=max(s.fault_seconds / 4, min(s.fault_seconds, 3.0)),
            )
            for s in scenarios
        ]
    return scenarios, fuzzes


def git(*argv: str) -> str:
    return subprocess.run(["git", *argv], cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout.strip()


def git_state(source: str | None) -> tuple[str, str]:
    if source is not None:
        commit = git("rev-parse", "--short=12", f"{source}^{{commit}}")
        if not commit:
            raise SystemExit(f"--source {source}: no such commit")
        return commit, f"servers run from a clean export of {commit} (git archive)"
    commit = git("rev-parse", "--short=12", "HEAD")
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "backend", "ai").splitlines()]
    return commit, (
        f"working tree, uncommitted changes in {len(dirty)} files under backend/ and ai/" if dirty else "clean"
    )


def export_source(commit: str, into: Path) -> Path:
    """A clean tree of ``commit`` (``git archive``; the repository is only read)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO_ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def machine() -> str:
    try:
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        gib = int(mem.split()[1]) / 1024 / 1024
    except (OSError, StopIteration, ValueError):
        gib = 0.0
    return f"{platform.machine()}, {os.cpu_count()} vCPU, {gib:.0f} GiB, no GPU, Python {platform.python_version()}"


def ports_free(ports: list[int]) -> None:
    busy = []
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    if busy:
        raise SystemExit(f"ports already in use: {busy} (a harness still running, or a stray server?)")


def save(out: Path, header: dict[str, str], rows: list[Row], partial: bool) -> None:
    """table.md and results.json, rewritten after each test (a run cut short keeps what it measured)."""
    head = {**header, "status": "incomplete (written after each test)"} if partial else header
    text = "\n".join(f"- {k}: {v}" for k, v in head.items()) + "\n\n" + render_table(rows) + "\n"
    (out / "table.md").write_text(text)
    (out / "results.json").write_text(json.dumps({"header": head, "rows": [asdict(r) for r in rows]}, indent=1))


async def run(args: argparse.Namespace) -> int:
    scenarios, fuzzes = selected(args)
    if args.list:
        for s in scenarios:
            print(s.name)
        for f in fuzzes:
            print(f)
        return 0
    if fuzzes and fuzz.schemathesis_command() is None:
        raise SystemExit("schemathesis is not installed: .venv/bin/pip install schemathesis (or use --no-fuzz)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or REPO_ROOT / "var" / "faults" / stamp
    out.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="faults-work-"))
    env = dict(BACKEND_ENV)
    for item in args.env:
        key, _, value = item.partition("=")
        env[key.strip().upper()] = value
    commit, dirty = git_state(args.source)
    if args.source is not None:
        set_source_root(export_source(commit, work_dir / "src"))
    header = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "tree": dirty,
        "machine": machine(),
        "command": "python -m bench.faults " + " ".join(sys.argv[1:]),
        "backend settings": " ".join(f"{k}={v}" for k, v in env.items()) + " (the rest: defaults)",
        "llm server": f"python -m ai.nemotron (bundled SmolLM2-135M) --parallel 2 --threads 2, port {LLM_PORT}",
        "logs": str(out),
        "load average at start": f"{load_average():.1f}",
    }
    if os.environ.get("FAULTS_LLM_PYTHONPATH"):
        header["llm server"] += f" with FAULTS_LLM_PYTHONPATH={os.environ['FAULTS_LLM_PYTHONPATH']}"
    for key, value in header.items():
        print(f"{key}: {value}", flush=True)
    needs_pg = any(s.database != "sqlite" for s in scenarios) or (
        "schemathesis/backend" in fuzzes and args.fuzz_db == "postgresql"
    )
    ports = [LLM_PORT, *range(18940, 18950), PROXY_BACKEND_PORT, PROXY_LLM_PORT, FUZZ_LLM_PORT]
    ports_free(ports + ([POSTGRES_PORT, REDIS_PORT] if needs_pg else []))

    rows: list[Row] = []
    started = time.monotonic()
    llm = LLMServer(LLM_PORT, out)
    harness = Harness(work_dir, out, llm, env, max(args.observe, 240.0))
    try:
        if scenarios:
            await llm.start()
        if needs_pg:
            harness.postgres = PrivatePostgres(POSTGRES_PORT, out)
            await asyncio.to_thread(harness.postgres.init)
            harness.redis = PrivateRedis(REDIS_PORT, out)
            await harness.redis.start()
        for scenario in scenarios:
            print(f"\n== {scenario.name} ({time.monotonic() - started:.0f} s into the run)", flush=True)
            row = await run_stream_scenario(harness, scenario)
            rows.append(row)
            save(out, header, rows, partial=True)
            print(render_table([row]), f"\n({row.wall_seconds:.0f} s)", flush=True)
        llm.stop()
        if fuzzes:  # both at once: one is bound by the backend and PostgreSQL, the other by the model
            print(f"\n== {', '.join(fuzzes)} ({time.monotonic() - started:.0f} s into the run)", flush=True)
            fuzz_rows = await asyncio.gather(*(run_fuzz(name, harness, args, env) for name in fuzzes))
            rows.extend(fuzz_rows)
            save(out, header, rows, partial=True)
            print(render_table(fuzz_rows), flush=True)
    finally:
        stop_all()
        shutil.rmtree(work_dir, ignore_errors=True)
    total = time.monotonic() - started
    header["duration"] = f"{total / 60:.1f} min"
    header["load average at end"] = f"{load_average():.1f}"
    table = render_table(rows)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in header.items()))
    print("\n" + table, flush=True)
    save(out, header, rows, partial=False)
    print(f"\nwritten: {out / 'table.md'}, {out / 'results.json'}")
    return 0


async def run_fuzz(name: str, harness: Harness, args: argparse.Namespace, env: dict[str, str]) -> Row:
    started = time.monotonic()
    notes: list[str] = []
    if name == "schemathesis/backend":
        backend_env = {**env, "LLM_URL": f"http://127.0.0.1:{DEAD_LLM_PORT}", "REDIS_URL": ""}
        if args.fuzz_db == "postgresql" and harness.postgres is not None:
            database = f"faults_fuzz_{int(time.time())}"
            await asyncio.to_thread(harness.postgres.create_database, database)
            backend_env["DATABASE_URL"] = harness.postgres.url(database)
        else:
            backend_env["DATABASE_URL"] = f"sqlite:///{harness.work_dir / 'fuzz.db'}"
        backend = Backend(FUZZ_BACKEND_PORT, backend_env, harness.log_dir / "backend-fuzz.log")
        await backend.start()
        try:
            result = await fuzz.fuzz(
                "backend",
                backend.url,
                PROXY_BACKEND_PORT,
                harness.work_dir,
                args.fuzz_requests,
                max_examples=450,
                explicit=fuzz.backend_explicit_inputs(),
                log_path=harness.log_dir / "schemathesis-backend.log",
            )
        finally:
            alive = backend.process.alive()
            backend.stop()
        test = f"schemathesis/backend ({args.fuzz_db})"
        notes.append(
            f"LLM_URL pointed at a closed port (the API is fuzzed, not the analysis); backend alive at the end: {alive}"
        )
    else:
        server = LLMServer(FUZZ_LLM_PORT, harness.log_dir, ctx_size=FUZZ_LLM_CONTEXT)
        await server.start()
        stop = asyncio.Event()
        supervisor = asyncio.create_task(server.supervise(stop))
        try:
            result = await fuzz.fuzz(
                "llm",
                server.url,
                PROXY_LLM_PORT,
                harness.work_dir,
                args.fuzz_requests,
                max_examples=300,
                patch=fuzz.llm_openapi,
                explicit=fuzz.llm_explicit_inputs(),
                log_path=harness.log_dir / "schemathesis-llm.log",
            )
        finally:
            stop.set()
            await supervisor
            server.stop()
        test = "schemathesis/llm-server"
        notes.append(f"--ctx-size {FUZZ_LLM_CONTEXT}")
        if server.crashes:
            notes.append(f"server crashed {len(server.crashes)} times (exit codes {sorted(set(server.crashes))})")
    counts = result.counts
    notes += result.notes
    if counts.server_errors:
        top = ", ".join(f"{op} x{n}" for op, n in counts.server_errors.most_common(6))
        notes.append(f"5xx by operation: {top}")
    if counts.no_answer:
        notes.append(f"{counts.no_answer} requests got no answer (connection reset / server gone)")
    explicit_bad = {k: v for k, v in result.explicit.items() if v >= 500 or v == 0}
    if explicit_bad:
        notes.append("minimal inputs answered 5xx/none: " + ", ".join(f"{k} ({v})" for k, v in explicit_bad.items()))
    classes: dict[str, int] = {}
    for code in result.explicit.values():
        key = "no answer" if code == 0 else f"{code // 100}xx"
        classes[key] = classes.get(key, 0) + 1
    explicit_cell = ", ".join(f"{n} {c}" for c, n in sorted(classes.items()))
    by_class: dict[str, int] = {}
    for code, n in counts.statuses.items():
        by_class[f"{code // 100}xx"] = by_class.get(f"{code // 100}xx", 0) + n
    return Row(
        test=test,
        load=f"{counts.requests} requests ({result.runs} schemathesis runs, {result.seconds:.0f} s)",
        faults="-",
        bad_inputs=f"generated; + {len(result.explicit)} minimal inputs ({explicit_cell})",
        lost="-",
        duplicated="-",
        server_errors=str(counts.five_xx + counts.no_answer),
        assessed_after_recovery="-",
        seconds_to_drain="-",
        notes="; ".join([*notes, "answers: " + ", ".join(f"{n} {c}" for c, n in sorted(by_class.items()))]),
        wall_seconds=time.monotonic() - started,
        details={
            "statuses": dict(counts.statuses),
            "server_errors": dict(counts.server_errors),
            "examples": counts.examples,
            "requests_by_operation": dict(counts.requests_by_operation),
            "seconds_by_operation": {k: round(v, 1) for k, v in counts.seconds_by_operation.items()},
            "explicit": result.explicit,
        },
    )


def main(argv: list[str] | None = None) -> int:
    install_cleanup()
    try:
        return asyncio.run(run(parse_args(argv)))
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        return 130
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
