"""schemathesis against both servers' OpenAPI, through a counting proxy, until at least ``target`` requests.

The proxy (an ASGI app in the harness's own process) forwards every request unchanged and counts the answers by
status and operation, whatever schemathesis itself reports; a request the server does not answer (connection
reset, the server gone) is counted apart. The LLM server's routes read their bodies by hand, so its OpenAPI has no
request bodies: where one is missing, the harness adds the body's JSON schema from ``ai.nemotron.schemas``. Its
generation lengths (``n_predict``, ``max_tokens``) are bounded to ``MAX_GENERATED_TOKENS`` and required, so that
5,000 requests take minutes on a 2-core CPU instead of hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.faults.procs import PYTHON, source_env, source_root

MAX_GENERATED_TOKENS = 16
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass
class ProxyCounts:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0
    server_errors: Counter[str] = field(default_factory=Counter)  # "METHOD /path -> code"
    examples: list[str] = field(default_factory=list)
    seconds_by_operation: dict[str, float] = field(default_factory=dict)
    requests_by_operation: Counter[str] = field(default_factory=Counter)

    @property
    def five_xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)


class CountingProxy:
    """An ASGI app forwarding to ``upstream``; counts every answer."""

    def __init__(self, upstream: str, timeout: float = 60.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.counts = ProxyCounts()
        # no keep-alive: a connection the server breaks is blamed on the request that broke it, not the next one
        self.client = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.upstream + path + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = [(k, v) for k, v in headers if k.lower() not in ("host", "content-length", "connection")]
        self.counts.requests += 1
        operation = f"{scope['method']} {_ID_SEGMENT.sub('/{id}', scope['path'])}"
        self.counts.requests_by_operation[operation] += 1
        started = time.monotonic()
        try:
            response = await self.client.request(scope["method"], url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.counts.no_answer += 1
            if len(self.counts.examples) < 12:
                self.counts.examples.append(f"no answer: {scope['method']} {path} {type(exc).__name__}")
            await send({"type": "http.response.start", "status": 502, "headers": [(b"x-faults-proxy", b"no-answer")]})
            await send({"type": "http.response.body", "body": b"upstream gave no answer"})
            return
        finally:
            spent = self.counts.seconds_by_operation.get(operation, 0.0) + time.monotonic() - started
            self.counts.seconds_by_operation[operation] = spent
        code = response.status_code
        self.counts.statuses[code] += 1
        if code >= 500:
            self.counts.server_errors[f"{operation} -> {code}"] += 1
            if len(self.counts.examples) < 12:
                self.counts.examples.append(f"{operation} -> {code}: {body[:160]!r}")
        drop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
        out_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items() if k not in drop]
        await send({"type": "http.response.start", "status": code, "headers": out_headers})
        await send({"type": "http.response.body", "body": response.content})


LLM_BODIES = {
    "/completion": "CompletionRequest",
    "/completions": "CompletionRequest",
    "/v1/completions": "OpenAICompletionRequest",
    "/chat/completions": "ChatCompletionRequest",
    "/v1/chat/completions": "ChatCompletionRequest",
    "/tokenize": "TokenizeRequest",
    "/detokenize": "DetokenizeRequest",
}
_DUMP_SCHEMAS = """
import json, sys
from ai.nemotron import schemas
names = sys.argv[1:]
ref = "#/components/schemas/{model}"
print(json.dumps({n: getattr(schemas, n).model_json_schema(ref_template=ref) for n in names}))
"""


def llm_body_schemas() -> dict[str, dict[str, Any]]:
    """The JSON schemas of the LLM server's request models, read from the source tree the server runs from."""
    names = sorted(set(LLM_BODIES.values()))
    done = subprocess.run(
        [PYTHON, "-c", _DUMP_SCHEMAS, *names], cwd=source_root(), env=source_env(), capture_output=True, check=True
    )
    loaded: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return loaded


def llm_openapi(schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The LLM server's OpenAPI with request bodies added where missing, generation lengths bounded; and notes."""
    bodies = llm_body_schemas()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    added: list[str] = []
    for path, name in LLM_BODIES.items():
        operation = schema.get("paths", {}).get(path, {}).get("post")
        if operation is None:
            continue
        if "requestBody" not in operation:
            body_schema = dict(bodies[name])
            components.update(body_schema.pop("$defs", {}))
            components[name] = body_schema
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            }
            added.append(path)
    for path in LLM_BODIES:
        operation = schema.get("paths", {}).get(path, {}).get("post") or {}
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        ref = body.get("$ref", "")
        target = components.get(ref.rsplit("/", 1)[-1], {}) if ref else body
        _bound_lengths(target)
    notes = [f"request bodies added from ai.nemotron.schemas: {', '.join(added)}"] if added else []
    notes.append(f"n_predict/max_tokens required and <= {MAX_GENERATED_TOKENS}")
    return schema, notes


def _bound_lengths(body_schema: dict[str, Any]) -> None:
    properties = body_schema.get("properties", {})
    for name in ("n_predict", "max_tokens", "max_completion_tokens"):
        if name in properties:
            properties[name] = {"type": "integer", "minimum": 0, "maximum": MAX_GENERATED_TOKENS}
            required = body_schema.setdefault("required", [])
            if name not in required:
                required.append(name)
            break


def schemathesis_command() -> list[str] | None:
    found = Path(sys.executable).parent / "schemathesis"
    if found.exists():
        return [str(found)]
    which = shutil.which("schemathesis")
    return [which] if which else None


async def _serve(app: CountingProxy, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    return server, task


@dataclass
class FuzzResult:
    counts: ProxyCounts
    runs: int
    seconds: float
    notes: list[str]
    explicit: dict[str, int] = field(default_factory=dict)  # the minimal inputs: name -> status


async def fuzz(
    name: str,
    upstream: str,
    proxy_port: int,
    work_dir: Path,
    target: int,
    max_examples: int,
    patch: Callable[[dict[str, Any]], tuple[dict[str, Any], list[str]]] | None = None,
    explicit: list[tuple[str, str, str, bytes]] | None = None,
    log_path: Path | None = None,
) -> FuzzResult:
    """Runs schemathesis (all phases, check ``not_a_server_error``) through the proxy until ``target`` requests."""
    command = schemathesis_command()
    if command is None:
        raise FileNotFoundError("schemathesis is not installed: .venv/bin/pip install schemathesis")
    proxy = CountingProxy(upstream)
    server, task = await _serve(proxy, proxy_port)
    started = time.monotonic()
    notes: list[str] = []
    results: dict[str, int] = {}
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            schema = (await client.get(f"{upstream}/openapi.json")).json()
        if patch is not None:
            schema, notes = patch(schema)
        schema_path = work_dir / f"openapi-{name}.json"
        schema_path.write_text(json.dumps(schema))
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        for label, method, path, body in explicit or []:
            try:
                async with httpx.AsyncClient(base_url=proxy_url, timeout=120) as client:
                    response = await client.request(
                        method, path, content=body, headers={"content-type": "application/json"}
                    )
                results[label] = response.status_code
            except httpx.HTTPError:
                results[label] = 0
        runs, seed = 0, 1
        operations = sum(len(methods) for methods in schema.get("paths", {}).values()) or 1
        while proxy.counts.requests < target and runs < 6:
            runs += 1
            argv = [*command, "--no-color", "run", str(schema_path), "--url", proxy_url, "--seed", str(seed)]
            if runs == 1:  # every phase: coverage, fuzzing, stateful
                argv += ["--max-examples", str(max_examples)]
            else:  # a top-up: fuzzing only, sized to what is missing
                missing = target - proxy.counts.requests
                argv += ["--phases", "fuzzing", "--max-examples", str(math.ceil(1.2 * missing / operations) + 5)]
            argv += ["--checks", "not_a_server_error"]
            argv += ["--generation-database", "none", "--continue-on-failure", "--no-shrink"]
            argv += ["--request-timeout", "60", "--suppress-health-check", "all", "--workers", "2"]
            seed += 1
            log = (log_path or work_dir / f"schemathesis-{name}.log").open("ab")
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=work_dir,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    env=source_env(),
                    start_new_session=True,
                )
                try:
                    await process.wait()
                finally:
                    if process.returncode is None:
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(process.pid, 9)
                        await process.wait()
            finally:
                log.close()
    finally:
        server.should_exit = True
        await task
        await proxy.client.aclose()
    return FuzzResult(proxy.counts, runs, time.monotonic() - started, notes, results)


def llm_explicit_inputs() -> list[tuple[str, str, str, bytes]]:
    """The issue's minimal LLM-server inputs (each should be a 400 naming the field)."""
    lone = "a\\ud83d b"
    return [
        ("tokenize lone surrogate", "POST", "/tokenize", f'{{"content": "{lone}"}}'.encode()),
        ("prompt lone surrogate", "POST", "/completion", f'{{"prompt": "{lone}", "n_predict": 4}}'.encode()),
        (
            "chat message lone surrogate",
            "POST",
            "/v1/chat/completions",
            f'{{"messages": [{{"role": "user", "content": "{lone}"}}], "max_tokens": 4}}'.encode(),
        ),
        (
            "stop lone surrogate",
            "POST",
            "/completion",
            f'{{"prompt": "hi", "n_predict": 4, "stop": ["{lone}"]}}'.encode(),
        ),
        (
            "grammar lone surrogate",
            "POST",
            "/completion",
            f'{{"prompt": "hi", "n_predict": 4, "grammar": "{lone}"}}'.encode(),
        ),
        ("temperature 1e999", "POST", "/completion", b'{"prompt": "hi", "n_predict": 4, "temperature": 1e999}'),
        ("repeat_penalty 1e999", "POST", "/completion", b'{"prompt": "hi", "n_predict": 4, "repeat_penalty": 1e999}'),
    ]


def backend_explicit_inputs() -> list[tuple[str, str, str, bytes]]:
    from bench.faults.load import bad_inputs

    return [(b.name, b.method, b.path, b.body or b"") for b in bad_inputs("fuzz")]
