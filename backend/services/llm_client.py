"""HTTP client for the risk model: llama.cpp's /completion or the OpenAI chat API, robustly.

It works against the project's own server, llama.cpp's llama-server, vLLM and NVIDIA NIM:
- the API (``/completion`` with a ChatML prompt, or ``/v1/chat/completions``) is configured or found by
  asking the server;
- structured output is sent in the form the server actually enforces, found by a probe request whose
  answer an unconstrained model would not give (llama.cpp ``json_schema``, NIM ``nvext.guided_json``,
  OpenAI ``response_format``); a server that enforces none gets the schema in the prompt only, and the
  parser copes;
- connection errors, timeouts and 5xx answers are retried with exponential backoff; 4xx never are;
- a circuit breaker stops hammering a dead server and fails fast until its cool-down has passed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Literal

import httpx
from pydantic import BaseModel

log = logging.getLogger(__name__)

ApiKind = Literal["completion", "chat"]
StructuredForm = Literal["json_schema", "nvext", "response_format", "none"]
CHATML_STOPS = ["<|im_end|>", "<|im_start|>"]
GENERATION = {"temperature": 0.7, "top_p": 0.95, "max_tokens": 1536}  # the spec's payload

_PROBE_SCHEMA = {
    "type": "object",
    "properties": {"probe": {"type": "string", "enum": ["zq7-constraint-check"]}},
    "required": ["probe"],
    "additionalProperties": False,
}
_PROBE_ANSWER = {"probe": "zq7-constraint-check"}


class LLMError(Exception):
    """The model could not give an answer."""


class LLMUnavailableError(LLMError):
    """Connection failure, timeout, 5xx after retries, or an open circuit breaker: worth retrying later."""


class LLMRequestError(LLMError):
    """The server refused the request (4xx): retrying the same request won't help."""


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
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api: ApiKind | Literal["auto"] = "auto",
        structured: StructuredForm | Literal["auto"] = "auto",
        model: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.base_url = base_url.rstrip("/")
        self._api = None if api == "auto" else api
        self._structured = None if structured == "auto" else structured
        self.model = model
        self.max_retries, self.backoff = max_retries, backoff
        self.breaker = breaker or CircuitBreaker()
        self._detect_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries on connection errors/timeouts/5xx only, through the circuit breaker."""
        self.breaker.check()
        attempt = 0
        while True:
            try:
                response = await self._http.post(path, json=body)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    self.breaker.success()
                    return response.json()
                if response.status_code < 500:
                    raise LLMRequestError(f"LLM server refused {path}: {response.status_code} {response.text[:300]}")
                problem = f"{response.status_code} {response.text[:300]}"
            attempt += 1
            if attempt > self.max_retries:
                self.breaker.failure()
                raise LLMUnavailableError(f"LLM request {path} failed after {attempt} tries: {problem}")
            delay = self.backoff * 2 ** (attempt - 1)
            log.warning("LLM %s failed (%s); retry %d/%d in %.1fs", path, problem, attempt, self.max_retries, delay)
            await asyncio.sleep(delay)

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
        **overrides: Any,
    ) -> LLMReply:
        params = {**GENERATION, **overrides, **self._constraint(form, schema)}
        started = time.perf_counter()
        if api == "completion":
            data = await self._post(
                "/completion", {"prompt": chatml, "stop": CHATML_STOPS, "cache_prompt": True, **params}
            )
            timings = data.get("timings") or {}
            return LLMReply(
                text=data.get("content", ""),
                model=data.get("model", ""),
                api=api,
                structured=form,
                latency_ms=(time.perf_counter() - started) * 1000,
                prompt_tokens=data.get("tokens_evaluated"),
                completion_tokens=data.get("tokens_predicted"),
                cached_tokens=timings.get("cache_n"),
            )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        body = {"messages": messages, **params}
        if self.model:
            body["model"] = self.model
        data = await self._post("/v1/chat/completions", body)
        usage = data.get("usage") or {}
        return LLMReply(
            text=data["choices"][0]["message"].get("content") or "",
            model=data.get("model", ""),
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
        """One analysis: the ChatML prompt (for /completion) or its system/user parts (for chat)."""
        api, form = await self._detect()
        return await self._generate(api, form, schema, system, user, chatml, **overrides)

    async def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the server's own tokenizer; an estimate where there is no /tokenize."""
        try:
            data = await self._post("/tokenize", {"content": text})
            return len(data["tokens"])
        except LLMRequestError:
            return max(1, round(len(text) / 3.5))

    async def healthy(self) -> bool:
        try:
            return (await self._http.get("/health", timeout=5)).status_code == 200
        except httpx.HTTPError:
            return False
