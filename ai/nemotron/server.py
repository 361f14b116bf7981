"""The HTTP server: llama.cpp's server API and its OpenAI-compatible endpoints over one engine.

The model loads in the background after start-up; until it is ready /health answers 503 "Loading model"
(and every generation endpoint 503 too), exactly like llama-server.

Bad input is a 4xx in llama.cpp's error shape, never a 5xx: the body is read with a size limit and parsed
here (not by FastAPI, so that any content type is taken, as llama-server does), checked whole by the
request models (ai.nemotron.schemas), and an input the engine refuses (a grammar, a schema) is a 400. The
error replies themselves are ASCII JSON, so no input can make them fail to encode.

Image parts in chat messages (Frigate's GenAI sends its thumbnails so) are dropped, since neither engine
has image input: the prompt says where they were removed, the answer carries ``X-Images-Dropped: N`` and
a warning is logged. llama-server without ``--mmproj`` answers 500 instead, which would leave such a
client with nothing.

Generation runs in a worker thread, token by token. While it runs, the request watches its connection:
when the client goes away (a timeout, a closed stream) the worker stops before its next token (or its
next prompt batch) and the slot is free again at once; a request still queued for a slot leaves the queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from ai.nemotron import anthropic, responses
from ai.nemotron.answers import (
    ANSWER_MODELS,
    ChatCompletionAnswer,
    CompletionAnswer,
    DetokenizeAnswer,
    TemplateAnswer,
    TextCompletionAnswer,
    TokenCountAnswer,
    TokenizeAnswer,
)
from ai.nemotron.anthropic import IMAGES_NOT_SUPPORTED, ChatFromMessages, MessagesRequest
from ai.nemotron.chat import render_chat
from ai.nemotron.constraints import Constraint, constraint_from_request
from ai.nemotron.cors import CorsMiddleware, CorsPolicy
from ai.nemotron.embeddings import (
    check_fits,
    normalize,
    openai_response,
    prompts_of,
    tokenize_mixed,
    tokenize_prompt,
)
from ai.nemotron.engines.base import BANNED, Engine, EngineSlot, Pooling, SamplingParams, TokenProbs
from ai.nemotron.errors import (
    AuthenticationError,
    ClientDisconnected,
    ContextOverflowError,
    InvalidRequestError,
    NotSupportedError,
    PayloadTooLargeError,
    ServerError,
    UnavailableError,
)
from ai.nemotron.generation import CompletionResult, run_completion
from ai.nemotron.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ai.nemotron.metrics import ServerMetrics, timings_dict
from ai.nemotron.probabilities import Cursor, chat_logprobs, completion_probabilities, legacy_logprobs
from ai.nemotron.reasoning import ThinkSplitter, prompt_opens_reasoning
from ai.nemotron.schemas import (
    REQUEST_MODELS,
    ChatCompletionRequest,
    CompletionRequest,
    DetokenizeRequest,
    EmbeddingRequest,
    ErrorBody,
    OpenAICompletionRequest,
    RerankRequest,
    TokenizeRequest,
    parse_logit_bias,
)
from ai.nemotron.settings import ServerSettings
from ai.nemotron.sleep import Sleeper, SleepMiddleware
from ai.nemotron.slots import Abandoned, SlotPool, run_in_thread
from ai.nemotron.tools import ToolPlan, history_messages, plan_tools, with_system_note

log = logging.getLogger("ai.nemotron")

PUBLIC_PATHS = frozenset({"/health", "/v1/health", "/models", "/v1/models"})
API_MODELS: tuple[type[BaseModel], ...] = (*REQUEST_MODELS, MessagesRequest)  # the request bodies described
IMAGES_DROPPED_HEADER = "X-Images-Dropped"  # on a chat answer whose request had image parts: how many


class ServerState:
    """The engine and everything that exists only once it has loaded."""

    def __init__(self, engine: Engine, settings: ServerSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.status = "loading"  # loading | ready | error
        self.load_error = ""
        self.pool = SlotPool([])
        self.metrics = ServerMetrics(lambda: self.pool.processing, lambda: self.pool.deferred, engine.decode_counts)
        self.created = int(time.time())
        # --alias (the first of its names in sorted order, as llama-server), else the file name
        self.model_id = settings.aliases[0] if settings.aliases else engine.model_name
        self.fingerprint = system_fingerprint()
        self.pooling: Pooling | None = None  # the embeddings' pooling in effect, with --embedding

    def load(self) -> None:
        try:
            self.engine.load()
            self.pool = SlotPool([self.engine.new_slot() for _ in range(self.settings.parallel)])
            if self.settings.embedding:
                self.pooling = self.engine.load_embeddings(self.settings.pooling)
        except Exception as exc:  # a broken model must show as unhealthy, never crash silently
            log.exception("model failed to load")
            self.status, self.load_error = "error", f"{type(exc).__name__}: {exc}"
            return
        self.status = "ready"
        log.info("model %s loaded with engine %s", self.engine.model_name, self.engine.name)

    def reload(self) -> None:
        """Load the model again after :meth:`Engine.unload` (sleep mode): the slots and their pool stay. A load
        that fails partway frees what it made, so that the next try starts clean (nothing leaks per retry)."""
        try:
            self.engine.load()
            if self.settings.embedding:
                self.pooling = self.engine.load_embeddings(self.settings.pooling)
        except BaseException:
            self.engine.unload()
            raise

    def require_ready(self) -> None:
        if self.status == "loading":
            raise UnavailableError("Loading model")
        if self.status == "error":
            raise UnavailableError(f"Model failed to load: {self.load_error}")


def system_fingerprint() -> str:
    """llama-server's ``system_fingerprint``: ``b<build number>`` of the llama.cpp underneath, when the
    bindings tell it (llama-cpp-python does not export it today), else a stable ``b0``."""
    try:
        import llama_cpp
    except ImportError:
        return "b0"
    number = getattr(llama_cpp, "LLAMA_BUILD_NUMBER", None)
    return f"b{number}" if isinstance(number, int) and number >= 0 else "b0"


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "none", "list", "dict"})


def _field_path(loc: Sequence[int | str]) -> str:
    """A pydantic location as a dotted field path, without the type tags of union members
    (``prompt.list[constrained-int].1`` is ``prompt.1``)."""
    parts = [str(p) for p in loc if isinstance(p, int) or not (p in _TYPE_TAGS or "[" in p or "-" in p)]
    return ".".join(parts)


def _field_error(errors: Sequence[Any]) -> InvalidRequestError:
    """A validation error as llama.cpp's 400, naming the field: the whole-body check names it in its
    context; otherwise the deepest error wins (in a union, the member that got furthest)."""
    err = max(errors, key=lambda e: len(e["loc"]))
    where = (err.get("ctx") or {}).get("field") or _field_path(err["loc"]) or "body"
    return InvalidRequestError(f"invalid field '{where}': {err['msg']}")


def _parse(model: type[BaseModel], body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _field_error(exc.errors(include_input=False)) from exc


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object, whatever its content type; at most ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the request body has {int(declared)} bytes; the limit is {limit}")
    raw = bytearray()
    try:
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                raise PayloadTooLargeError(f"the request body is over the limit of {limit} bytes")
    except ClientDisconnect as exc:
        raise ClientDisconnected("the client disconnected while sending the request body") from exc
    try:
        body = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of over 4300 digits
        raise InvalidRequestError(f"request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidRequestError("request body is not valid JSON: it nests too deeply") from exc
    if not isinstance(body, dict):
        raise InvalidRequestError("request body must be a JSON object")
    return body


async def _wait_disconnected(request: Request) -> None:
    """Return once the client has gone away (call after the body has been read whole).

    The ASGI server answers ``receive()`` with ``http.disconnect`` as soon as the connection is lost
    (and after the response is complete, by which time nobody waits here any more).
    """
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


class Generation:
    """One generation request, from prompt tokens to result, shared by all generation endpoints."""

    def __init__(
        self,
        state: ServerState,
        prompt: str | list[int],
        n_predict: int,
        stop: list[str],
        params: SamplingParams,
        body: dict[str, Any],
        cache_prompt: bool = True,
        request: Request | None = None,
        constraint: Constraint | None = None,
    ) -> None:
        """``constraint``: the decoding constraint, when the caller built it (tool calls); else it is read
        from ``body``."""
        engine = state.engine
        self.state = state
        self.request = request
        if isinstance(prompt, str):
            self.tokens = engine.tokenize(prompt, add_special=True, parse_special=True)
        else:
            self.tokens = list(prompt)
            bad = [t for t in self.tokens if not 0 <= t < engine.vocab_size]
            if bad:
                raise InvalidRequestError(f"prompt token id {bad[0]} is out of range 0..{engine.vocab_size - 1}")
        if not self.tokens:
            raise InvalidRequestError("the prompt is empty")
        if len(self.tokens) >= engine.n_ctx:
            raise ContextOverflowError(
                f"the request exceeds the available context size: the prompt has {len(self.tokens)} tokens "
                f"and the context holds {engine.n_ctx}; shorten the prompt or raise --ctx-size",
                n_prompt_tokens=len(self.tokens),
                n_ctx=engine.n_ctx,
            )
        # --n-predict is the default of a request that sets no limit (or -1), as in llama-server; the HF
        # engine's max_new_tokens (NEMOTRON_MAX_NEW_TOKENS) caps every request
        self.n_predict = n_predict if n_predict >= 0 else state.settings.n_predict
        cap = getattr(engine, "max_new_tokens", None)
        if cap is not None and cap >= 0 and not 0 <= self.n_predict <= cap:
            self.n_predict = cap
        self.stop = stop
        if body.get("logit_bias"):
            try:
                bias = parse_logit_bias(
                    body["logit_bias"],
                    lambda text: engine.tokenize(text, add_special=False, parse_special=False),
                    engine.vocab_size,
                )
            except ValueError as exc:
                raise InvalidRequestError(str(exc)) from exc
            params = params.model_copy(update={"logit_bias": bias})
        if body.get("ignore_eos") is True:  # llama-server: a -inf bias on every end-of-generation token
            banned = tuple((token, BANNED) for token in engine.end_of_generation_tokens)
            params = params.model_copy(update={"logit_bias": params.logit_bias + banned})
        self.params = params
        self.cache_prompt = cache_prompt
        if constraint is None:
            constraint = constraint_from_request(body)
        self.compiled = engine.compile_constraint(constraint) if constraint is not None else None
        self.probs: list[TokenProbs] = []  # each generated token's probabilities, when params.n_probs > 0
        self.cancelled = threading.Event()  # set: the worker stops before its next token
        self.client_gone = False
        self._wake: asyncio.Task[None] | None = None
        self.slot: EngineSlot | None = None  # the slot it runs on, once it has one

    async def run(self, on_text: Callable[[str, list[int]], None] | None = None) -> CompletionResult:
        """Generate; raises ClientDisconnected when the client left first (the slot is free by then)."""
        started = time.perf_counter()
        watcher = asyncio.create_task(self._watch_client()) if self.request is not None else None
        try:
            result = await self._generate(on_text)
        except Abandoned:
            result = None
        finally:
            if watcher is not None:
                watcher.cancel()
        if result is not None:
            self.state.metrics.observe(result, time.perf_counter() - started)
        if self.client_gone:
            self.state.metrics.cancel()
            done = 0 if result is None else result.tokens_predicted
            raise ClientDisconnected(f"the client disconnected; generation stopped after {done} tokens")
        assert result is not None  # Abandoned is raised only for a client that is gone
        return result

    def abandon(self) -> None:
        """The client is gone: the worker stops before its next token, a queued request leaves the queue."""
        if self.client_gone:
            return
        self.client_gone = True
        self.cancelled.set()
        self._wake = asyncio.get_running_loop().create_task(self.state.pool.wake())

    async def _watch_client(self) -> None:
        assert self.request is not None
        await _wait_disconnected(self.request)
        self.abandon()

    async def _generate(self, on_text: Callable[[str, list[int]], None] | None) -> CompletionResult:
        async with self.state.pool.acquire(self.tokens, self.cancelled.is_set) as slot:
            self.slot = slot
            if not self.cache_prompt:
                slot.cached_tokens = []

            def work() -> CompletionResult:
                return run_completion(
                    self.state.engine,
                    slot,
                    self.tokens,
                    n_predict=self.n_predict,
                    stop=self.stop,
                    params=self.params,
                    constraint=self.compiled,
                    cancelled=self.cancelled,
                    on_text=on_text,
                    probs=self.probs,
                )

            return await run_in_thread(work, self.cancelled, self.state.pool.executor)

    def stream(
        self,
        final: Callable[[CompletionResult], list[dict[str, Any] | str]],
        piece: Callable[[str, list[int]], list[dict[str, Any]]],
        sse: Callable[[dict[str, Any] | str], bytes] = _sse,
        error_event: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body,
    ) -> StreamingResponse:
        """Server-sent events: the ``piece`` events of each piece of text (and its token ids), then the
        ``final`` events. ``sse`` writes one event (default: ``data:`` lines); ``error_event`` is the event of an
        error body once the stream has begun (default: the body itself)."""
        queue: asyncio.Queue[tuple[str, list[int]] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def on_text(text: str, tokens: list[int]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (text, tokens))

        async def events() -> AsyncIterator[bytes]:
            task = asyncio.create_task(self.run(on_text))
            task.add_done_callback(lambda _: queue.put_nowait(None))
            try:
                while (item := await queue.get()) is not None:
                    for chunk in piece(*item):
                        yield sse(chunk)
                try:
                    result = task.result()
                except ServerError as exc:
                    yield sse(error_event(exc.body()))
                    return
                except Exception as exc:  # the status line is sent: the error can only be an event
                    log.exception("generation failed mid-stream")
                    yield sse(error_event(_internal_error(exc).body()))
                    return
                for event in final(result):
                    yield sse(event)
            finally:
                if not task.done():  # the server stopped the stream: its client is gone
                    self.abandon()  # the task ends at the next token, counts as cancelled, frees the slot
                    task.add_done_callback(lambda t: t.cancelled() or t.exception())

        return StreamingResponse(events(), media_type="text/event-stream")


def _completion_body(
    result: CompletionResult,
    state: ServerState,
    req: CompletionRequest,
    params: SamplingParams,
    with_probs: bool = True,
) -> dict[str, Any]:
    """The /completion answer; ``with_probs: False`` leaves out the probabilities (a stream's last chunk: its
    pieces carried them)."""
    return {
        "index": 0,
        "content": result.content,
        "tokens": list(result.tokens) if req.return_tokens else [],  # llama-server: only with return_tokens
        "id_slot": 0,
        "stop": True,
        "model": state.model_id,
        "tokens_predicted": result.tokens_predicted,
        "tokens_evaluated": result.tokens_evaluated,
        "generation_settings": _generation_settings(req, params),
        "prompt": req.prompt if isinstance(req.prompt, str) else "",
        "has_new_line": "\n" in result.content,
        "truncated": result.truncated,
        "stop_type": result.stop_type,
        "stopping_word": result.stopping_word,
        "tokens_cached": result.tokens_cached,
        "timings": timings_dict(result.timings),
    } | (
        {"completion_probabilities": completion_probabilities(state.engine, result.probs)}
        if params.n_probs and with_probs
        else {}
    )


def _generation_settings(req: CompletionRequest, params: SamplingParams) -> dict[str, Any]:
    """The settings a /completion answer reports, as llama-server: ``logit_bias`` as ``[{"bias", "token"}]``
    with ``null`` for a banned token (-inf)."""
    bias = [{"bias": None if value <= BANNED else value, "token": token} for token, value in params.logit_bias]
    return {
        "n_predict": req.n_predict,
        **params.model_dump(),
        "logit_bias": bias,
        "ignore_eos": req.ignore_eos,
        "stop": req.stop,
    }


def _prompt_tokens(engine: Engine, prompt: str | list[int | str]) -> str | list[int]:
    """One prompt as the generation takes it: text as it is, ids mixed with text as ids (llama.cpp's
    ``tokenize_mixed``)."""
    if isinstance(prompt, str):
        return prompt
    return tokenize_mixed(lambda text, first: engine.tokenize(text, add_special=first), prompt, "prompt")


def _response_fields(body: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """llama.cpp's ``response_fields``: only the named fields, flat, a nested one under its ``a/b`` path; a
    field the answer does not have is left out."""
    if not fields:
        return body
    out: dict[str, Any] = {}
    for path in fields:
        node: Any = body
        for key in path.split("/"):
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            out[path] = node
    return out


def _finish_reason(result: CompletionResult) -> str:
    return "length" if result.stop_type == "limit" else "stop"


def _openai_stream_end(
    last: dict[str, Any], result: CompletionResult, stream_options: dict[str, Any] | None
) -> list[dict[str, Any] | str]:
    """The closing events of a /v1/completions stream: the last chunk (usage on request, timings), [DONE]."""
    if (stream_options or {}).get("include_usage"):
        last["usage"] = _usage(result)
    last["timings"] = timings_dict(result.timings)
    return [last, "[DONE]"]


def _chat_stream_end(
    last: dict[str, Any], result: CompletionResult, stream_options: dict[str, Any] | None
) -> list[dict[str, Any] | str]:
    """The closing events of a chat stream, as llama-server and OpenAI send them: the finish chunk, then
    (with ``include_usage``) a chunk with ``"choices": []`` and the usage, the timings on whichever is
    last, then [DONE]."""
    events: list[dict[str, Any]] = [last]
    if (stream_options or {}).get("include_usage"):
        events.append({**{k: v for k, v in last.items() if k != "choices"}, "choices": [], "usage": _usage(result)})
    events[-1]["timings"] = timings_dict(result.timings)
    return [*events, "[DONE]"]


def _usage(result: CompletionResult) -> dict[str, int]:
    return {
        "prompt_tokens": result.tokens_evaluated,
        "completion_tokens": result.tokens_predicted,
        "total_tokens": result.tokens_evaluated + result.tokens_predicted,
    }


def _internal_error(exc: BaseException) -> ServerError:
    return ServerError(f"internal error: {type(exc).__name__}: {exc}")


def _error_response(exc: ServerError) -> Response:
    """llama.cpp's error body as ASCII JSON: nothing in a message (it may quote input) can fail to encode."""
    return Response(json.dumps(exc.body()), status_code=exc.status_code, media_type="application/json")


class ApiKeyMiddleware:
    """``Authorization: Bearer KEY`` (or ``X-Api-Key``) on every path but the public ones (pure ASGI: it
    leaves ``receive`` alone, so that a generation can see its client disconnect)."""

    def __init__(self, app: ASGIApp, key: str, on_refused: Callable[[], None]) -> None:
        self.app = app
        self.key = hashlib.sha256(key.encode()).digest()
        self.on_refused = on_refused

    def _matches(self, given: bytes) -> bool:
        """Compared as SHA-256 digests: equal lengths, so the time taken tells nothing about the key."""
        return hmac.compare_digest(hashlib.sha256(given).digest(), self.key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in PUBLIC_PATHS:
            headers = dict(scope["headers"])
            bearer = headers.get(b"authorization", b"").removeprefix(b"Bearer ").strip()
            other = headers.get(b"x-api-key", b"")
            if not (self._matches(bearer) | self._matches(other)):
                self.on_refused()
                await _error_response(AuthenticationError("Invalid API Key"))(scope, receive, send)
                return
        await self.app(scope, receive, send)


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what}
    for code, what in (
        (400, "Invalid request (the message names the field)"),
        (401, "Missing or wrong API key (with --api-key)"),
        (413, "Request body over the limit"),
        (503, "The model is loading or failed to load"),
    )
}


def _body(model: type[BaseModel], streams: bool = False, answer: type[BaseModel] | None = None) -> dict[str, Any]:
    """FastAPI route options that describe a request body read by the route itself, and its answers (``answer``:
    the 200 body's model, from ai.nemotron.answers)."""
    ok: dict[str, Any] = {"description": "The answer (server-sent events when 'stream' is true)"}
    json_answer = {"schema": {"$ref": f"#/components/schemas/{answer.__name__}"}} if answer is not None else {}
    if streams:
        ok["content"] = {"application/json": json_answer, "text/event-stream": {}}
    elif answer is not None:
        ok["content"] = {"application/json": json_answer}
    return {
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
            }
        },
        "responses": {200: ok, **_ERRORS},
        "response_model": None,  # the answer is described by ``answer``, not by the function's return annotation
    }


def _has_tool_role(template: str | None) -> bool:
    """Whether the chat template writes ``tool`` turns itself (else tool results are sent as ``user`` turns)."""
    return template is not None and ("'tool'" in template or '"tool"' in template)


def _continuation(
    req: ChatCompletionRequest, messages: list[dict[str, Any]], add_generation_prompt: bool
) -> str | None:
    """The text an answer continues, as llama-server decides it: with ``continue_final_message``, or when the
    last message is the assistant's (its prefill), the last message's content; else None. Both
    ``continue_final_message`` and an explicit ``add_generation_prompt: true`` are a 400, as are two assistant
    messages at the end and a continued message with tool calls."""
    last = messages[-1] if messages else None
    explicit = req.continue_final_message
    if explicit and "add_generation_prompt" in req.model_fields_set and add_generation_prompt:
        raise InvalidRequestError("Cannot set both add_generation_prompt and continue_final_message to true.")
    if last is None or last["role"] != "assistant" or not (explicit or add_generation_prompt):
        return None
    if not explicit and len(messages) >= 2 and messages[-2]["role"] == "assistant":
        raise InvalidRequestError("Cannot have 2 or more assistant messages at the end of the list.")
    if last.get("tool_calls"):
        raise InvalidRequestError("Cannot continue an assistant message that contains tool calls.")
    return str(last["content"] or "")


def _tool_plan(body: dict[str, Any]) -> tuple[ToolPlan | None, Constraint | None]:
    """The request's tool plan and the constraint it decodes under: the tool-call schema, which takes the
    request's own JSON-schema constraint as the shape of a plain answer. Another constraint kind (a grammar,
    a regex, choices) cannot be combined with tools: 400."""
    constraint = constraint_from_request(body)
    response_schema = None
    if constraint is not None and constraint.kind == "json_schema":
        response_schema = constraint.value
    elif constraint is not None and constraint.kind == "json_object":
        response_schema = {"type": "object"}
    plan = plan_tools(body, response_schema)
    if plan is None:
        return None, constraint
    if constraint is not None and response_schema is None:
        raise InvalidRequestError(
            f"tools cannot be combined with a {constraint.kind} constraint; use response_format json_schema"
        )
    return plan, Constraint("json_schema", plan.schema(), source="tools")


def create_app(engine: Engine, settings: ServerSettings) -> FastAPI:
    state = ServerState(engine, settings)
    limit = settings.max_body_bytes
    sleeper = None
    if settings.sleep_idle_seconds > 0:
        if type(engine).unload is Engine.unload:
            raise ValueError(f"--sleep-idle-seconds: the {engine.name} engine cannot unload its model")
        sleeper = Sleeper(
            settings.sleep_idle_seconds,
            engine.unload,
            state.reload,
            lambda: state.status == "ready",
            busy=lambda: bool(state.pool.processing or state.pool.deferred),
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = threading.Thread(target=state.load, name="model-loader", daemon=True)
        loader.start()
        watcher = asyncio.create_task(sleeper.watch()) if sleeper is not None else None
        yield
        if watcher is not None:
            watcher.cancel()

    app = FastAPI(title="Nemotron LLM server (llama.cpp-compatible)", lifespan=lifespan)
    app.state.server = state

    @app.exception_handler(ServerError)
    async def server_error(request: Request, exc: ServerError) -> Response:
        state.metrics.error(exc.error_type)
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return await server_error(request, ServerError(str(exc.detail), exc.status_code, kind))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return await server_error(request, _field_error(exc.errors()))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return await server_error(request, _internal_error(exc))

    if sleeper is not None:  # added first, so innermost: a request refused for its key or CORS wakes nothing
        app.add_middleware(SleepMiddleware, sleeper=sleeper)
    if settings.api_key:
        app.add_middleware(
            ApiKeyMiddleware,
            key=settings.api_key,
            on_refused=lambda: state.metrics.error(AuthenticationError.error_type),
        )
    cors = CorsPolicy(settings.cors_origins, settings.cors_methods, settings.cors_headers, settings.cors_credentials)
    app.add_middleware(CorsMiddleware, policy=cors)  # added last, so outermost: a preflight needs no key

    @app.get("/health")
    @app.get("/v1/health")
    async def health() -> JSONResponse:
        if sleeper is not None and sleeper.wake_error:
            error = UnavailableError(f"Model failed to load: {sleeper.wake_error}")
            return JSONResponse(error.body(), status_code=error.status_code)
        if state.status != "ready":
            try:
                state.require_ready()
            except ServerError as exc:
                return JSONResponse(exc.body(), status_code=exc.status_code)
        details = engine.health_details()
        body = {
            "status": "healthy" if state.status == "ready" else "unhealthy",
            "model": engine.model_name,
            "model_loaded": True,
            "engine": engine.name,
            **details,
            "slots_idle": len(state.pool.slots) - state.pool.processing,
            "slots_processing": state.pool.processing,
        }
        return JSONResponse(body)

    @app.get("/props")
    async def props() -> dict[str, Any]:
        state.require_ready()
        defaults = SamplingParams(
            temperature=settings.temperature, seed=settings.seed if settings.seed >= 0 else None
        ).model_dump()
        return {
            # n_ctx: one slot's context (--ctx-size divided among the --parallel slots), as llama-server
            "default_generation_settings": {
                "n_ctx": engine.n_ctx,
                "params": {**defaults, "seed": settings.seed, "n_predict": settings.n_predict},
            },
            "total_slots": settings.parallel,
            "model_alias": state.model_id,
            "model_path": engine.model_path,
            "chat_template": chat_template() or "",
            **engine.special_tokens,
            "build_info": f"ai.nemotron/{engine.name}",
            "is_sleeping": sleeper is not None and sleeper.sleeping,
        }

    @app.get("/slots")
    async def slots() -> list[dict[str, Any]]:
        """Each slot's state, in llama-server's shape (without ``params``, as its default)."""
        if not settings.slots_endpoint:
            raise NotSupportedError("This server does not support slots endpoint. Start it with `--slots`")
        state.require_ready()
        slots = [(slot, slot.progress) for slot in state.pool.slots]
        return [
            {
                "id": index,
                "id_task": -1,
                "n_ctx": engine.n_ctx,
                "speculative": False,
                "is_processing": state.pool.busy(slot),
                "next_token": [
                    {
                        "has_next_token": state.pool.busy(slot),
                        "has_new_line": False,
                        "n_remain": progress[1],
                        "n_decoded": progress[0],
                    }
                ],
            }
            for index, (slot, progress) in enumerate(slots)
        ]

    @app.get("/models")
    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": state.model_id,
                    "aliases": settings.aliases,
                    "tags": settings.tag_list,
                    "object": "model",
                    "created": state.created,
                    "owned_by": "llamacpp",
                    "meta": {
                        "n_ctx_train": engine.n_ctx,
                        "n_vocab": engine.vocab_size if state.status == "ready" else None,
                        "engine": engine.name,
                        "path": engine.model_path,
                    },
                    # llama-server's router reports each model's launch arguments here; Frigate's llamacpp
                    # provider reads --ctx-size from them (and --mmproj for vision, which this server lacks)
                    "status": {
                        "value": "loaded" if state.status == "ready" else state.status,
                        "args": ["--ctx-size", str(engine.n_ctx)],  # one slot's: what a request can use
                    },
                }
            ],
        }

    @app.post("/tokenize", **_body(TokenizeRequest, answer=TokenizeAnswer))
    async def tokenize(request: Request) -> dict[str, Any]:
        state.require_ready()
        req: TokenizeRequest = _parse(TokenizeRequest, await _json_body(request, limit))
        tokens = engine.tokenize(req.content, add_special=req.add_special, parse_special=True)
        if not req.with_pieces:
            return {"tokens": tokens}
        pieces = []
        for t in tokens:
            raw = engine.token_bytes(t)
            try:
                piece: str | list[int] = raw.decode("utf-8")
            except UnicodeDecodeError:
                piece = list(raw)
            pieces.append({"id": t, "piece": piece})
        return {"tokens": pieces}

    @app.post("/detokenize", **_body(DetokenizeRequest, answer=DetokenizeAnswer))
    async def detokenize(request: Request) -> dict[str, str]:
        state.require_ready()
        req: DetokenizeRequest = _parse(DetokenizeRequest, await _json_body(request, limit))
        bad = [t for t in req.tokens if not 0 <= t < engine.vocab_size]
        if bad:
            raise InvalidRequestError(f"token id {bad[0]} is out of range 0..{engine.vocab_size - 1}")
        return {"content": engine.detokenize(req.tokens)}

    @app.post("/completion", **_body(CompletionRequest, streams=True, answer=CompletionAnswer))
    @app.post("/completions", **_body(CompletionRequest, streams=True, answer=CompletionAnswer))
    async def completion(request: Request) -> Response:
        state.require_ready()
        body = await _json_body(request, limit)
        req: CompletionRequest = _parse(CompletionRequest, body)
        params = req.sampling(settings.temperature, settings.seed)
        try:
            prompts = [_prompt_tokens(engine, p) for p in req.prompts()]
        except ValueError as exc:  # the request model lets only ids and text through; kept as a last guard
            raise InvalidRequestError(str(exc)) from exc
        if len(prompts) > 1:  # a batch: a list of answers; one prompt in a list is answered alone, as llama-server
            if req.stream:
                raise InvalidRequestError("prompt: a batch of prompts cannot be streamed; send them one by one")
            answers = []
            for index, tokens in enumerate(prompts):  # one after another, each on a free slot
                one = Generation(state, tokens, req.n_predict, req.stop, params, body, req.cache_prompt, request)
                answers.append({**_completion_body(await one.run(), state, req, one.params), "index": index})
            return JSONResponse([_response_fields(a, req.response_fields) for a in answers])
        gen = Generation(state, prompts[0], req.n_predict, req.stop, params, body, req.cache_prompt, request)
        if req.stream:
            # as llama-server: each chunk has the ids of its tokens (and their probabilities, with n_probs);
            # the last one repeats none of them
            cursor = Cursor(gen.probs)

            def piece(text: str, tokens: list[int]) -> list[dict[str, Any]]:
                chunk: dict[str, Any] = {"index": 0, "content": text, "tokens": tokens, "stop": False, "id_slot": 0}
                if params.n_probs:
                    chunk["completion_probabilities"] = completion_probabilities(engine, cursor.take(len(tokens)))
                return [chunk]

            def final(r: CompletionResult) -> list[dict[str, Any] | str]:
                body = _completion_body(r, state, req, gen.params, with_probs=False)
                return [{**body, "content": "", "tokens": []}]

            return gen.stream(final=final, piece=piece)
        return JSONResponse(
            _response_fields(_completion_body(await gen.run(), state, req, gen.params), req.response_fields)
        )

    @app.post("/v1/completions", **_body(OpenAICompletionRequest, streams=True, answer=TextCompletionAnswer))
    async def openai_completion(request: Request) -> Response:
        state.require_ready()
        body = await _json_body(request, limit)
        req: OpenAICompletionRequest = _parse(OpenAICompletionRequest, body)
        n_predict = -1 if req.max_tokens is None else req.max_tokens
        params = req.sampling(settings.temperature, settings.seed)
        gen = Generation(state, req.prompt, n_predict, req.stop, params, body, req.cache_prompt, request)
        ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        def envelope(choices: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "id": ident,
                "object": "text_completion",
                "created": created,
                "model": state.model_id,
                "system_fingerprint": state.fingerprint,
                "choices": choices,
            }

        top_n = req.logprobs if req.logprobs is not None else 0
        cursor, offset = Cursor(gen.probs), 0

        def choice(text: str, finish: str | None, probs: list[TokenProbs] | None = None) -> dict[str, Any]:
            nonlocal offset
            logprobs = None
            if req.logprobs is not None and probs is not None:
                logprobs = legacy_logprobs(engine, probs, top_n, offset)
                offset += len(text)
            return {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}

        if req.stream:
            return gen.stream(
                final=lambda r: _openai_stream_end(envelope([choice("", _finish_reason(r))]), r, req.stream_options),
                piece=lambda text, tokens: [envelope([choice(text, None, cursor.take(len(tokens)))])],
            )
        result = await gen.run()
        return JSONResponse(
            {
                **envelope([choice(result.content, _finish_reason(result), result.probs)]),
                "usage": _usage(result),
                "timings": timings_dict(result.timings),
            }
        )

    def chat_template() -> str | None:
        """``--chat-template`` (or its file) when given, else the model's own (known once it is loaded)."""
        return settings.chat_template or engine.chat_template

    def chat_prompt(
        req: ChatCompletionRequest, body: dict[str, Any], add_generation_prompt: bool = True
    ) -> tuple[str, ToolPlan | None, Constraint | None, int]:
        """The prompt a chat request becomes (its messages, earlier tool calls and results, the tools' note)
        through the chat template; the tool plan and constraint it decodes under; how many images it
        dropped."""
        try:
            raw_messages = [m.as_dict() for m in req.messages]
        except ValueError as exc:
            raise InvalidRequestError(f"messages: {exc}") from exc
        continuation = _continuation(req, raw_messages, add_generation_prompt)
        if continuation is not None:  # rendered up to the answer's start, then the answer so far
            raw_messages, add_generation_prompt = raw_messages[:-1], True
        template = chat_template()
        messages: list[dict[str, Any]] = list(history_messages(raw_messages, tool_role=_has_tool_role(template)))
        for message, given in zip(messages, req.messages, strict=False):  # one each, in order
            reasoning = (given.model_extra or {}).get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:  # earlier reasoning, for templates that write it
                message["reasoning_content"] = reasoning
        plan, constraint = _tool_plan(body)
        if plan is not None:
            messages = with_system_note(messages, plan.system_note())
        prompt = render_chat(messages, template, engine.special_tokens, add_generation_prompt)
        return prompt + (continuation or ""), plan, constraint, sum(m.image_count() for m in req.messages)

    async def rendered_prompt(request: Request) -> str:
        """The prompt a chat request's body would become, without generating."""
        state.require_ready()
        body = await _json_body(request, limit)
        req: ChatCompletionRequest = _parse(ChatCompletionRequest, body)
        return chat_prompt(req, body, req.add_generation_prompt)[0]

    @app.post("/apply-template", **_body(ChatCompletionRequest, answer=TemplateAnswer))
    async def apply_template(request: Request) -> dict[str, str]:
        """llama-server's ``/apply-template``: the prompt a chat request would be."""
        return {"prompt": await rendered_prompt(request)}

    @app.post("/chat/completions/input_tokens", **_body(ChatCompletionRequest, answer=TokenCountAnswer))
    @app.post("/v1/chat/completions/input_tokens", **_body(ChatCompletionRequest, answer=TokenCountAnswer))
    async def chat_input_tokens(request: Request) -> dict[str, int]:
        """llama-server's token count of a chat request: ``{"input_tokens": n}``, the prompt it would become."""
        prompt = await rendered_prompt(request)
        return {"input_tokens": len(engine.tokenize(prompt, add_special=True, parse_special=True))}

    @app.post("/responses/input_tokens")
    @app.post("/v1/responses/input_tokens")
    async def responses_input_tokens(request: Request) -> dict[str, int]:
        """llama-server's token count of an OpenAI Responses request (``input``, ``instructions``):
        ``{"input_tokens": n}``, the chat prompt it would become (ai.nemotron.responses)."""
        state.require_ready()
        body = responses.chat_body(await _json_body(request, limit))
        req: ChatCompletionRequest = _parse(ChatCompletionRequest, body)
        prompt = chat_prompt(req, body, req.add_generation_prompt)[0]
        return {"input_tokens": len(engine.tokenize(prompt, add_special=True, parse_special=True))}

    def start_chat(
        req: ChatCompletionRequest, body: dict[str, Any], request: Request, images_allowed: bool = True
    ) -> tuple[Generation, ToolPlan | None, ThinkSplitter, str, int]:
        """A chat request's generation (not started yet), tool plan, reasoning splitter, prompt and the number
        of image parts it dropped; with ``images_allowed`` false an image is llama-server's 500."""
        prompt, plan, constraint, images = chat_prompt(req, body, req.add_generation_prompt)
        if images and not images_allowed:
            raise ServerError(IMAGES_NOT_SUPPORTED)
        if images:
            log.warning("chat request: %d image part(s) dropped, the model has no image input", images)
        n_predict = -1 if req.max_tokens is None else req.max_tokens
        params = req.sampling(settings.temperature, settings.seed)
        gen = Generation(state, prompt, n_predict, req.stop, params, body, req.cache_prompt, request, constraint)
        splitter = ThinkSplitter(
            "none" if plan is not None else req.reasoning_format or settings.reasoning_format,
            starts_open=plan is None and prompt_opens_reasoning(prompt),
        )
        return gen, plan, splitter, prompt, images

    @app.post("/v1/chat/completions", **_body(ChatCompletionRequest, streams=True, answer=ChatCompletionAnswer))
    @app.post("/chat/completions", **_body(ChatCompletionRequest, streams=True, answer=ChatCompletionAnswer))
    async def chat_completion(request: Request) -> Response:
        state.require_ready()
        body = await _json_body(request, limit)
        req: ChatCompletionRequest = _parse(ChatCompletionRequest, body)
        gen, plan, splitter, prompt, images = start_chat(req, body, request)
        verbose = {"__verbose": {"prompt": prompt}} if req.verbose or settings.verbose else {}
        headers = {IMAGES_DROPPED_HEADER: str(images)} if images else None
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def envelope(kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "id": ident,
                "object": kind,
                "created": created,
                "model": state.model_id,
                "system_fingerprint": state.fingerprint,
                "choices": choices,
            }

        top_n = req.top_logprobs or 0
        if req.stream:
            first = True
            cursor = Cursor(gen.probs)
            unsent: list[TokenProbs] = []  # probabilities of tokens whose text a chunk has not carried yet

            def deltas(pieces: list[tuple[str, str]]) -> list[dict[str, Any]]:
                """A first chunk with the role alone (as llama-server), then one chunk per piece:
                ``reasoning_content`` inside the think block, ``content`` after it; the first chunk of a
                piece carries the log-probabilities of the tokens it completes (with ``logprobs``)."""
                nonlocal first
                chunks = []
                if first:
                    first = False
                    role = {"role": "assistant", "content": None}
                    chunks.append(
                        envelope("chat.completion.chunk", [{"index": 0, "delta": role, "finish_reason": None}])
                    )
                for kind, text in pieces:
                    key = "reasoning_content" if kind == "reasoning" else "content"
                    choice: dict[str, Any] = {"index": 0, "delta": {key: text}, "finish_reason": None}
                    if req.logprobs:
                        choice["logprobs"] = chat_logprobs(engine, unsent, top_n)
                        unsent.clear()
                    chunks.append(envelope("chat.completion.chunk", [choice]))
                return chunks

            def piece(text: str, tokens: list[int]) -> list[dict[str, Any]]:
                unsent.extend(cursor.take(len(tokens)))
                if plan is not None:  # a tool call is sent whole once parsed (see final)
                    return []
                return deltas(list(splitter.feed(text)))

            def final(r: CompletionResult) -> list[dict[str, Any] | str]:
                finish = _finish_reason(r)
                chunks: list[dict[str, Any]] = []
                if plan is not None:
                    content, calls = plan.parse(r.content)
                    if calls:
                        finish = "tool_calls"
                        chunks = deltas([])  # the role chunk
                        delta = {"tool_calls": [{"index": i, **call} for i, call in enumerate(calls)]}
                        chunks.append(
                            envelope("chat.completion.chunk", [{"index": 0, "delta": delta, "finish_reason": None}])
                        )
                    else:
                        chunks = deltas([("content", content or "")])
                chunks += deltas(list(splitter.finish()))
                last = envelope("chat.completion.chunk", [{"index": 0, "delta": {}, "finish_reason": finish}])
                return [*chunks, *_chat_stream_end(last, r, req.stream_options)]

            response = gen.stream(final=final, piece=piece)
            response.headers.update(headers or {})
            return response
        result = await gen.run()
        finish = _finish_reason(result)
        if plan is not None:
            content, calls = plan.parse(result.content)
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                message["tool_calls"] = calls
                finish = "tool_calls"
        else:
            reasoning, text = splitter.split(result.content)
            message = {"role": "assistant", "content": text}
            if reasoning:  # llama-server leaves the field out when there was no reasoning
                message["reasoning_content"] = reasoning
        return JSONResponse(
            headers=headers,
            content={
                **envelope(
                    "chat.completion",
                    [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": chat_logprobs(engine, result.probs, top_n) if req.logprobs else None,
                            "finish_reason": finish,
                        }
                    ],
                ),
                "usage": _usage(result),
                "timings": timings_dict(result.timings),
                **verbose,
            },
        )

    def anthropic_chat(raw: dict[str, Any]) -> tuple[MessagesRequest, dict[str, Any], ChatFromMessages]:
        """An Anthropic request checked whole, and the OpenAI chat body and request it is served as."""
        given: MessagesRequest = _parse(MessagesRequest, raw)
        body = given.to_openai()
        return given, body, _parse(ChatFromMessages, body)

    @app.post("/v1/messages/count_tokens", **_body(MessagesRequest, answer=TokenCountAnswer))
    async def anthropic_count_tokens(request: Request) -> dict[str, int]:
        """Anthropic's token count: ``{"input_tokens": n}``, the prompt the request would become."""
        state.require_ready()
        _, body, req = anthropic_chat(await _json_body(request, limit))
        prompt, _, _, images = chat_prompt(req, body, req.add_generation_prompt)
        if images:
            raise ServerError(IMAGES_NOT_SUPPORTED)
        return {"input_tokens": len(engine.tokenize(prompt, add_special=True, parse_special=True))}

    @app.post("/v1/messages", **_body(MessagesRequest, streams=True))
    async def anthropic_messages(request: Request) -> Response:
        """Anthropic's Messages API, served by the chat path (ai.nemotron.anthropic)."""
        state.require_ready()
        given, body, req = anthropic_chat(await _json_body(request, limit))
        gen, plan, splitter, _, _ = start_chat(req, body, request, images_allowed=False)
        ident = anthropic.message_id()

        def answer(text: str) -> tuple[str, str | None, list[dict[str, Any]]]:
            """(reasoning, text, tool calls) of a whole answer."""
            if plan is not None:
                content, calls = plan.parse(text)
                return "", content, calls
            reasoning, content = splitter.split(text)
            return reasoning, content, []

        if given.stream:
            events = anthropic.MessageStream(ident, state.model_id)

            def begin() -> list[dict[str, Any]]:
                cached = gen.slot.last_cache_n if gen.slot is not None else 0
                return events.start(len(gen.tokens), cached)

            def piece(text: str, tokens: list[int]) -> list[dict[str, Any]]:
                if plan is not None:  # a tool call is sent whole once parsed (see final)
                    return begin()
                return begin() + events.pieces(list(splitter.feed(text)))

            def final(r: CompletionResult) -> list[dict[str, Any] | str]:
                out = events.start(r.tokens_evaluated, r.tokens_cached)
                calls: list[dict[str, Any]] = []
                if plan is not None:
                    content, calls = plan.parse(r.content)
                    out += events.pieces([("content", content or "")]) + events.tool_calls(calls)
                else:
                    out += events.pieces(list(splitter.finish()))
                reason = anthropic.stop_reason(r.stop_type, bool(calls))
                return [*out, *events.finish(reason, r.stopping_word, r.tokens_predicted)]

            return gen.stream(final=final, piece=piece, sse=anthropic.sse, error_event=anthropic.error_event)
        result = await gen.run()
        reasoning, content, calls = answer(result.content)
        return JSONResponse(
            anthropic.message_body(
                ident,
                state.model_id,
                anthropic.content_blocks(reasoning, content, calls),
                anthropic.stop_reason(result.stop_type, bool(calls)),
                result.stopping_word,
                anthropic.usage(result.tokens_evaluated, result.tokens_cached, result.tokens_predicted),
            )
        )

    async def embeddings(request: Request, openai: bool) -> Response:
        """The three embedding endpoints (ai.nemotron.embeddings): ``openai`` answers OpenAI's shape unless
        the body uses llama-server's ``content`` field."""
        if not settings.embedding:
            raise NotSupportedError("This server does not support embeddings. Start it with `--embeddings`")
        if settings.pooling == "rank":
            raise NotSupportedError("This server reranks (--pooling rank): its scores come from /rerank")
        state.require_ready()
        body = await _json_body(request, limit)
        req: EmbeddingRequest = _parse(EmbeddingRequest, body)
        if req.input is not None:
            field, value = "input", req.input
        elif req.content is not None:
            field, value, openai = "content", req.content, False  # llama-server: "content" is not OpenAI's
        else:
            raise InvalidRequestError('"input" or "content" must be provided')
        if openai and state.pooling == "none":
            raise InvalidRequestError("Pooling type 'none' is not OAI compatible. Please use a different pooling type")

        def tokenize(text: str, add_special: bool) -> list[int]:
            return engine.tokenize(text, add_special=add_special, parse_special=True)

        prompts = prompts_of(value, field)
        many = prompts is value  # a list of prompts: each error names its index
        token_lists = [tokenize_prompt(tokenize, p, f"{field}[{i}]" if many else field) for i, p in enumerate(prompts)]
        norm = settings.embd_normalize if req.embd_normalize is None else req.embd_normalize
        pooled = state.pooling != "none"
        results = []
        for tokens in token_lists:
            rows = await asyncio.to_thread(engine.embed, tokens)
            results.append([normalize(row, norm) for row in rows] if pooled else rows.astype(float).tolist())
        if openai:
            vectors = [rows[0] for rows in results]
            counts = [len(tokens) for tokens in token_lists]
            return JSONResponse(openai_response(vectors, counts, req.model or state.model_id, req.encoding_format))
        return JSONResponse([{"index": i, "embedding": rows} for i, rows in enumerate(results)])

    @app.post("/embedding", **_body(EmbeddingRequest))
    @app.post("/embeddings", **_body(EmbeddingRequest))
    async def embedding(request: Request) -> Response:
        return await embeddings(request, openai=False)

    @app.post("/v1/embeddings", **_body(EmbeddingRequest))
    async def openai_embeddings(request: Request) -> Response:
        return await embeddings(request, openai=True)

    @app.post("/rerank", **_body(RerankRequest))
    @app.post("/reranking", **_body(RerankRequest))
    @app.post("/v1/rerank", **_body(RerankRequest))
    @app.post("/v1/reranking", **_body(RerankRequest))
    async def rerank(request: Request) -> Response:
        """llama-server's reranking: each document scored with the query by the model's classifier (pooling
        ``rank``), sorted best first, ``top_n`` kept; Jina's answer for ``documents``, TEI's for ``texts``."""
        if not (settings.embedding and settings.pooling == "rank"):
            raise NotSupportedError("This server does not support reranking. Start it with `--reranking`")
        state.require_ready()
        body = await _json_body(request, limit)
        req: RerankRequest = _parse(RerankRequest, body)
        tei = req.texts is not None and req.documents is None
        documents = req.documents if req.documents is not None else req.texts or []
        prompts = [engine.rerank_prompt(req.query, document) for document in documents]
        for index, tokens in enumerate(prompts):  # each with the query
            check_fits(tokens, f"{'texts' if tei else 'documents'}[{index}]")
        scores = [float((await asyncio.to_thread(engine.embed, tokens))[0][0]) for tokens in prompts]
        label = "score" if tei else "relevance_score"
        ranked = sorted(range(len(documents)), key=lambda i: -scores[i])[
            : len(documents) if req.top_n is None else req.top_n
        ]
        results = [
            {"index": i, label: scores[i], **({"text": documents[i]} if tei and req.return_text else {})}
            for i in ranked
        ]
        if tei:
            return JSONResponse(results)
        total = sum(len(tokens) for tokens in prompts)
        usage = {"prompt_tokens": total, "total_tokens": total}
        return JSONResponse(
            {"model": req.model or state.model_id, "object": "list", "usage": usage, "results": results}
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        """llama-server's Prometheus metrics (ai.nemotron.metrics), with ``--metrics`` only (else its 501)."""
        if not settings.metrics:
            raise NotSupportedError("This server does not support metrics endpoint. Start it with `--metrics`")
        response = Response(state.metrics.render(), media_type=METRICS_CONTENT_TYPE)
        # as llama-server spells it: clients that read headers into a plain dict look for this case
        response.raw_headers.append((b"Process-Start-Time-Unix", str(state.metrics.started).encode()))
        return response

    def openapi() -> dict[str, Any]:
        """FastAPI's description plus the request models the routes name (they read their bodies themselves)."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _, defs = models_json_schema(
                [(model, "validation") for model in API_MODELS] + [(model, "serialization") for model in ANSWER_MODELS],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
