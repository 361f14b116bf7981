"""HTTP client for the risk model: llama.cpp's /completion or the OpenAI chat API, robustly.

It works against the project's own server, llama.cpp's llama-server, vLLM and NVIDIA NIM:
- the API (``/completion`` with a ChatML prompt, or ``/v1/chat/completions``) is configured or found by
  asking the server;
- structured output is sent in the form the server actually enforces, found by a probe request whose
  answer an unconstrained model would not give (llama.cpp ``json_schema``, NIM ``nvext.guided_json``,
  OpenAI ``response_format``); a server that enforces none gets the schema in the prompt only, and the
  parser copes;
- analyses are **streamed** (``"stream": true``, Server-Sent Events read with httpx-sse) and time out on
  **silence**: no event for ``idle_timeout`` seconds, not a fixed total, so a slow model on a CPU is never
  cut off while it is still writing. Leaving a stream closes its connection, which tells a llama.cpp-style
  server to stop generating and free the slot. A server that answers a streamed request with one JSON body
  is read whole;
- a request that failed before the server took it (connection refused or reset, 5xx) is retried with
  exponential backoff (tenacity); a timeout is **not** re-sent at once, since the server may still be busy
  with it (issue #9: re-sending queued the same long request behind the abandoned one); 4xx never are;
- a circuit breaker stops hammering a dead server and fails fast until its cool-down has passed.

Errors are the backend's kinds (``backend.domain.errors``): ``LLMUnavailableError`` (retryable) and
``LLMRequestError`` (not).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Literal

import httpx
from httpx_sse import EventSource
from pydantic import BaseModel
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from backend.config.settings import BackendSettings
from backend.domain.errors import LLMError, LLMRequestError, LLMUnavailableError

__all__ = [
    "CircuitBreaker",
    "LLMClient",
    "LLMError",
    "LLMReply",
    "LLMRequestError",
    "LLMUnavailableError",
]

log = logging.getLogger(__name__)

ApiKind = Literal["completion", "chat"]
StructuredForm = Literal["json_schema", "nvext", "response_format", "none"]
CHATML_STOPS = ["<|im_end|>", "<|im_start|>"]
GENERATION = {"temperature": 0.7, "top_p": 0.95, "max_tokens": 1536}  # the spec's payload
ERROR_TEXT_CHARS = 300  # of a server's error body quoted in an exception

_PROBE_SCHEMA = {
    "type": "object",
    "properties": {"probe": {"type": "string", "enum": ["zq7-constraint-check"]}},
    "required": ["probe"],
    "additionalProperties": False,
}
_PROBE_ANSWER = {"probe": "zq7-constraint-check"}


class _NotTaken(Exception):
    """The server did not take the request (refused, reset before an answer, 5xx): safe to send again."""


class LLMReply(BaseModel):
    text: str
    model: str = ""
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    api: ApiKind
    structured: StructuredForm


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown`` seconds one trial is let through."""

    def __init__(self, threshold: int = 5, cooldown: float = 30.0) -> None:
        self.threshold, self.cooldown = threshold, cooldown
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self.opened_at >= self.cooldown else "open"

    def check(self) -> None:
        if self.state == "open":
            raise LLMUnavailableError(f"circuit breaker open after {self.failures} consecutive LLM failures")

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class LLMClient:
    """One model server. ``idle_timeout``: seconds of silence (no streamed event, no answer byte) before a
    request fails as unavailable; ``connect_timeout``: seconds to open a connection. ``max_retries`` resends
    of a request the server did not take, ``backoff`` seconds doubling between them."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api: ApiKind | Literal["auto"] = "auto",
        structured: StructuredForm | Literal["auto"] = "auto",
        model: str | None = None,
        idle_timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(idle_timeout, connect=connect_timeout)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.base_url = base_url.rstrip("/")
        self.idle_timeout = idle_timeout
        self._api = None if api == "auto" else api
        self._structured = None if structured == "auto" else structured
        self.model = model
        self.max_retries, self.backoff = max_retries, backoff
        self.breaker = breaker or CircuitBreaker()
        self._detect_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> LLMClient:
        """The client the settings describe (LLM_URL, LLM_API_KEY, LLM_IDLE_TIMEOUT_SECONDS,
        LLM_CONNECT_TIMEOUT_SECONDS); its owner closes it (``await client.aclose()``)."""
        key = settings.llm_api_key
        return cls(
            settings.llm_url,
            api_key=key.get_secret_value() if key else None,
            idle_timeout=settings.llm_idle_timeout_seconds,
            connect_timeout=settings.llm_connect_timeout_seconds,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST, answered as one JSON body; through the circuit breaker and the retry policy."""
        return await self._send(path, body, stream=False)

    async def _send(self, path: str, body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        """Sends ``body`` (streamed when ``stream``), resending only what the server did not take."""
        self.breaker.check()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential(multiplier=self.backoff, min=self.backoff, max=30),
            retry=retry_if_exception_type(_NotTaken),
            before_sleep=lambda state: log.warning(
                "LLM %s not taken (%s); retry %d/%d",
                path,
                state.outcome.exception() if state.outcome else "",
                state.attempt_number,
                self.max_retries,
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    data = await (self._stream(path, body) if stream else self._once(path, body))
        except _NotTaken as exc:
            self.breaker.failure()
            raise LLMUnavailableError(f"LLM request {path} failed after {self.max_retries + 1} tries: {exc}") from None
        except httpx.TimeoutException as exc:
            self.breaker.failure()
            raise LLMUnavailableError(
                f"LLM request {path}: no answer for {self.idle_timeout:g} s ({type(exc).__name__}); not re-sent"
            ) from None
        except httpx.TransportError as exc:  # the connection broke after the server took the request
            self.breaker.failure()
            raise LLMUnavailableError(f"LLM request {path} broke off: {type(exc).__name__}: {exc}") from None
        self.breaker.success()
        return data

    @staticmethod
    def _refusal(path: str, response: httpx.Response, text: str) -> Exception:
        """The exception for an error answer: 4xx is the request's fault, 5xx is worth another try."""
        if response.status_code < 500:
            return LLMRequestError(f"LLM server refused {path}: {response.status_code} {text[:ERROR_TEXT_CHARS]}")
        return _NotTaken(f"{response.status_code} {text[:ERROR_TEXT_CHARS]}")

    async def _once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.post(path, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _NotTaken(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise self._refusal(path, response, response.text)
        return _json_object(path, response.text)

    async def _stream(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One streamed request, folded into the shape of the non-streamed answer (see ``_Folded``)."""
        request = self._http.build_request("POST", path, json={**body, "stream": True})
        try:
            response = await self._http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _NotTaken(f"{type(exc).__name__}: {exc}") from None
        try:
            if response.status_code >= 400:
                raise self._refusal(path, response, (await response.aread()).decode("utf-8", "replace"))
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                return _json_object(path, (await response.aread()).decode("utf-8", "replace"))
            folded = _Folded()
            async for sse in EventSource(response).aiter_sse():
                if sse.data.strip() == "[DONE]":
                    break
                chunk = _json_object(path, sse.data)
                if "error" in chunk:
                    error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
                    code = int(error.get("code") or 500)
                    message = f"{code} {str(error.get('message', ''))[:ERROR_TEXT_CHARS]}"
                    if 400 <= code < 500:
                        raise LLMRequestError(f"LLM server refused {path} mid-stream: {message}")
                    raise LLMUnavailableError(f"LLM server failed {path} mid-stream: {message}")
                folded.add(chunk)
            return folded.result()
        finally:
            await response.aclose()  # leaving early closes the connection: the server stops generating

    async def _detect(self) -> tuple[ApiKind, StructuredForm]:
        async with self._detect_lock:
            if self._api is None:
                self._api = await self._find_api()
            if self._structured is None:
                self._structured = await self._find_structured_form(self._api)
                log.info("LLM at %s: api=%s structured=%s", self.base_url, self._api, self._structured)
            return self._api, self._structured

    async def _find_api(self) -> ApiKind:
        try:
            await self._post("/completion", {"prompt": "ok", "n_predict": 1, "max_tokens": 1})
        except LLMRequestError:
            return "chat"  # no native endpoint (vLLM, NIM): the OpenAI API it is
        return "completion"

    async def _find_structured_form(self, api: ApiKind) -> StructuredForm:
        forms: list[StructuredForm] = (
            ["json_schema", "nvext", "response_format"]
            if api == "completion"
            else ["nvext", "response_format", "json_schema"]
        )
        for form in forms:
            try:
                reply = await self._generate(
                    api,
                    form,
                    _PROBE_SCHEMA,
                    "Say hello.",
                    "Say hello.",
                    "<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n",
                    max_tokens=32,
                    temperature=0.0,
                )
                if json.loads(reply.text) == _PROBE_ANSWER:
                    return form
            except (LLMRequestError, json.JSONDecodeError):
                continue
        return "none"

    def _constraint(self, form: StructuredForm, schema: dict[str, Any] | None) -> dict[str, Any]:
        if schema is None or form == "none":
            return {}
        if form == "json_schema":
            return {"json_schema": schema}
        if form == "nvext":
            return {"nvext": {"guided_json": schema}}
        return {"response_format": {"type": "json_schema", "json_schema": {"name": "risk", "schema": schema}}}

    async def _generate(
        self,
        api: ApiKind,
        form: StructuredForm,
        schema: dict[str, Any] | None,
        system: str,
        user: str,
        chatml: str,
        *,
        stream: bool = False,
        **overrides: Any,
    ) -> LLMReply:
        params = {**GENERATION, **overrides, **self._constraint(form, schema)}
        started = time.perf_counter()
        if api == "completion":
            data = await self._send(
                "/completion",
                {"prompt": chatml, "stop": CHATML_STOPS, "cache_prompt": True, **params},
                stream=stream,
            )
            timings = data.get("timings") or {}
            return LLMReply(
                text=str(data.get("content") or ""),
                model=str(data.get("model") or ""),
                api=api,
                structured=form,
                latency_ms=(time.perf_counter() - started) * 1000,
                prompt_tokens=data.get("tokens_evaluated"),
                completion_tokens=data.get("tokens_predicted"),
                cached_tokens=timings.get("cache_n"),
            )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        body = {"messages": messages, **params}
        if stream:
            body["stream_options"] = {"include_usage": True}
        if self.model:
            body["model"] = self.model
        data = await self._send("/v1/chat/completions", body, stream=stream)
        usage = data.get("usage") or {}
        choices = data.get("choices") or [{}]
        message = (choices[0] if isinstance(choices[0], dict) else {}).get("message") or {}
        return LLMReply(
            text=str(message.get("content") or ""),
            model=str(data.get("model") or ""),
            api=api,
            structured=form,
            latency_ms=(time.perf_counter() - started) * 1000,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            cached_tokens=(data.get("timings") or {}).get("cache_n"),
        )

    async def complete(
        self, *, system: str, user: str, chatml: str, schema: dict[str, Any] | None = None, **overrides: Any
    ) -> LLMReply:
        """One analysis, streamed: the ChatML prompt (for /completion) or its system/user parts (for chat).
        Raises LLMUnavailableError (retryable: down, busy, silent for ``idle_timeout`` s) or LLMRequestError."""
        api, form = await self._detect()
        return await self._generate(api, form, schema, system, user, chatml, stream=True, **overrides)

    async def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the server's own tokenizer; an estimate where there is no /tokenize."""
        try:
            data = await self._post("/tokenize", {"content": text})
            return len(data["tokens"])
        except LLMRequestError:
            return max(1, round(len(text) / 3.5))

    async def healthy(self) -> bool:
        """Whether the server's ``/health`` answers 200 (model loaded). A healthy answer closes the circuit
        breaker: the server is back, and the requests that wait for it should go now, not after a cool-down."""
        try:
            ok = (await self._http.get("/health", timeout=5)).status_code == 200
        except httpx.HTTPError:
            return False
        if ok:
            self.breaker.success()
        return ok


def _json_object(path: str, text: str) -> dict[str, Any]:
    """A JSON object from the server; anything else means the server is not a model server we understand."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise LLMUnavailableError(f"LLM server answered {path} with no JSON: {text[:ERROR_TEXT_CHARS]!r}") from None
    if not isinstance(value, dict):
        raise LLMUnavailableError(
            f"LLM server answered {path} with JSON that is no object: {text[:ERROR_TEXT_CHARS]!r}"
        )
    return value


class _Folded:
    """Streamed chunks folded into the non-streamed answer's shape.

    llama.cpp ``/completion``: each event has ``content``; the last (``stop: true``) has ``model``,
    ``tokens_evaluated``, ``tokens_predicted`` and ``timings``. OpenAI chat: ``choices[0].delta.content``
    pieces, ``usage`` on the last chunk (``stream_options.include_usage``), ``model`` on each.
    """

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.meta: dict[str, Any] = {}
        self.chat = False

    def add(self, chunk: dict[str, Any]) -> None:
        choices = chunk.get("choices")
        if isinstance(choices, list):
            self.chat = True
            for choice in choices[:1]:
                delta = choice.get("delta") or choice.get("message") or {}
                self.pieces.append(delta.get("content") or "")
        else:
            self.pieces.append(str(chunk.get("content") or ""))
        for key in ("model", "tokens_evaluated", "tokens_predicted", "timings", "usage"):
            if chunk.get(key) is not None:
                self.meta[key] = chunk[key]

    def result(self) -> dict[str, Any]:
        text = "".join(self.pieces)
        if self.chat:
            return {**self.meta, "choices": [{"message": {"content": text}}]}
        return {**self.meta, "content": text}
