"""Start the project's LLM server as a child process and wait until it is healthy.

Used wherever another program needs a server of its own: the backend's demo and evaluation runs, the
benchmarks and the tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:``port``."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the LLM server exited with code {proc.returncode} before it was healthy")
        if is_healthy(url):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the LLM server at {url} was not healthy after {timeout:.0f} s")


class ServerProcess:
    """``python -m ai.nemotron ARGS`` on 127.0.0.1; a context manager that stops it on exit."""

    def __init__(self, *args: str, port: int | None = None, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = ["--host", "127.0.0.1", "--port", str(self.port), *args]
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> ServerProcess:
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ai.nemotron", *self.args],
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(self.url, self.proc, timeout)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def llm_server_at(url: str, *args: str, log_file: Path | None = None) -> Iterator[str]:
    """Use the LLM server at ``url`` if it answers; otherwise start the embedded one for the duration
    (on ``url``'s port when that is free) and yield its address."""
    if is_healthy(url):
        yield url
        return
    port = urlsplit(url).port
    free = port is not None and not port_in_use(port)
    with ServerProcess(*args, port=port if free else None, log_file=log_file) as server:
        yield server.url
