"""The servers a fault run starts, each in its own process group, and stopped whatever happens.

* ``LLMServer``: ``python -m ai.nemotron`` (the bundled model) on a private port;
* ``Backend``: ``python -m backend.api`` with the run's environment;
* ``PrivateRedis``: its own ``redis-server`` on a private port (never the shared 6379);
* ``PrivatePostgres``: its own cluster (``initdb``/``pg_ctl``) in a temporary folder on a private port (never the
  shared 5432 server). As root, its commands run as the ``postgres`` user (``initdb`` refuses root).

Every process started here is registered; ``stop_all()`` (called from the runner's ``finally`` and at exit)
kills what is left, group by group, and stops and deletes the private PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# The tree the servers run from: this checkout, or a clean export of a commit (``--source``).
_SOURCE = {"root": REPO_ROOT}


def source_root() -> Path:
    return _SOURCE["root"]


def set_source_root(path: Path) -> None:
    _SOURCE["root"] = path


def source_env(env: dict[str, str] | None = None, first: str | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the source tree (after ``first``) at the front of PYTHONPATH."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (first, str(source_root()), env.get("PYTHONPATH")) if p)
    return env


_LIVE: list[ManagedProcess] = []
_CLUSTERS: list[PrivatePostgres] = []


class ManagedProcess:
    """A child in its own session (process group): ``kill()`` signals the whole group."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None, log_path: Path) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"\n===== {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=source_root(),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if self not in _LIVE:
            _LIVE.append(self)

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL, wait: float = 10.0) -> None:
        """Signals the process group and waits for the leader; SIGKILL if it outlives ``wait``."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=wait)
        # children left in the group (none expected) go too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        if self in _LIVE:
            _LIVE.remove(self)


async def wait_http(url: str, within: float, ok: tuple[int, ...] = (200,), proc: ManagedProcess | None = None) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=3.0) as client:
        while time.monotonic() < deadline:
            if proc is not None and not proc.alive():
                raise RuntimeError(f"{proc.name} exited while starting (log: {proc.log_path})")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code in ok:
                    return
            await asyncio.sleep(0.3)
    raise TimeoutError(f"{url} did not answer {ok} within {within:.0f} s")


class LLMServer:
    """``crashes``: exit codes of the times it died without being killed by the harness (``supervise``)."""

    def __init__(
        self, port: int, log_dir: Path, parallel: int = 2, threads: int = 2, ctx_size: int | None = None
    ) -> None:
        # --ctx-size is shared by the slots (llama-server's rule): 4096 tokens per slot unless told otherwise
        ctx_size = ctx_size if ctx_size is not None else 4096 * parallel
        self.port = port
        self.crashes: list[int] = []
        self.killed = False
        self.url = f"http://127.0.0.1:{port}"
        argv = [PYTHON, "-m", "ai.nemotron", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--parallel", str(parallel), "--threads", str(threads), "--ctx-size", str(ctx_size)]
        # FAULTS_LLM_PYTHONPATH: folders put first on the LLM server's path, e.g. a llama-cpp-python built for
        # this CPU (a build with AMX kernels dies of SIGILL on a VM that does not enable AMX tile data)
        env = source_env(
            {k: v for k, v in os.environ.items() if not k.startswith("NEMOTRON_")},
            first=os.environ.get("FAULTS_LLM_PYTHONPATH"),
        )
        self.process = ManagedProcess(f"llm:{port}", argv, env, log_dir / f"llm-{port}.log")
        self.settings = f"--parallel {parallel} --threads {threads} --ctx-size {ctx_size}"

    async def start(self) -> None:
        self.process.start()
        self.killed = False
        await wait_http(f"{self.url}/health", 180, proc=self.process)

    def kill(self) -> None:
        self.killed = True
        self.process.kill(signal.SIGKILL)

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restarts the server when it dies on its own (as a supervisor would), recording its exit code."""
        while not stop.is_set():
            proc = self.process.proc
            if proc is not None and not self.killed and proc.poll() is not None:
                self.crashes.append(proc.returncode)
                with contextlib.suppress(RuntimeError, TimeoutError):
                    await self.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def stop(self) -> None:
        self.process.stop()

    async def busy(self) -> bool:
        """True while the server is generating (its /health counts the slots in use)."""
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                body = (await client.get(f"{self.url}/health")).json()
        except (httpx.HTTPError, ValueError):
            return False
        return bool(body.get("slots_processing"))


class Backend:
    def __init__(self, port: int, env: dict[str, str], log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        full_env = source_env({**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port)})
        self.process = ManagedProcess(f"backend:{port}", [PYTHON, "-m", "backend.api"], full_env, log_path)

    async def start(self) -> None:
        self.process.start()
        await wait_http(f"{self.url}/health", 120, ok=(200,), proc=self.process)

    def kill9(self) -> None:
        self.process.kill(signal.SIGKILL)

    def stop(self) -> None:
        self.process.stop()


class PrivateRedis:
    def __init__(self, port: int, log_dir: Path) -> None:
        if port == 6379:
            raise ValueError("the fault harness never touches the shared Redis on 6379")
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="faults-redis-"))
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(self.dir)]
        self.process = ManagedProcess(f"redis:{port}", argv, None, log_dir / f"redis-{port}.log")

    async def start(self) -> None:
        self.process.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if await self.ping():
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"redis-server on {self.port} did not come up")

    async def ping(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 1.0)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), 1.0)).startswith(b"+PONG")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def flush(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(b"FLUSHALL\r\n")
        await writer.drain()
        await reader.readline()
        writer.close()

    def stop(self) -> None:
        """A Redis outage: the server is stopped (SIGTERM; nothing is saved)."""
        self.process.stop()

    def cleanup(self) -> None:
        self.process.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    if which:
        return Path(which).parent
    raise FileNotFoundError("pg_ctl not found: PostgreSQL's server binaries are needed for the private cluster")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temporary folder, on ``port`` (127.0.0.1 and a socket in the folder)."""

    def __init__(self, port: int, log_dir: Path) -> None:
        if port == 5432:
            raise ValueError("the fault harness never touches the shared PostgreSQL on 5432")
        self.port = port
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.dir / "data"
        self.log = log_dir / f"postgres-{port}.log"
        self.as_user: list[str] = []
        self._uid: int | None = None
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            self._uid = pwd.getpwnam("postgres").pw_uid

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self.as_user, *argv], check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self) -> None:
        if self._uid is not None:
            os.chown(self.dir, self._uid, -1)
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.log.touch()
            os.chown(self.log, self._uid, -1)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        _CLUSTERS.append(self)
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> None:
        self._run(str(self.bin / "createdb"), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres", name)

    def cleanup(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in _CLUSTERS:
            _CLUSTERS.remove(self)


def stop_all() -> None:
    """Kills every process this harness started and still running, and removes private clusters."""
    for process in list(_LIVE):
        with contextlib.suppress(Exception):
            process.stop()
    for cluster in list(_CLUSTERS):
        with contextlib.suppress(Exception):
            cluster.cleanup()


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_cleanup() -> None:
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
