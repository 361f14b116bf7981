"""Access: the API key, the WebSocket's Origin, JSON-only writes and the body-size limit, as pure ASGI middleware.

* ``ApiKeyMiddleware``: with a key set (``API_KEY`` or ``API_KEY_FILE``), every HTTP route but ``OPEN_PATHS``
  (``/health``, ``/metrics``) needs ``Authorization: Bearer <key>``; otherwise 401 with
  ``WWW-Authenticate: Bearer``. The WebSocket takes the same header, or ``?api_key=<key>`` (browsers cannot set
  headers on a WebSocket). Keys are compared with ``hmac.compare_digest`` on the SHA-256 of their bytes: the time
  taken depends neither on how much of a guess is right nor on the key's length. It also checks the WebSocket's
  ``Origin`` (with or without a key): allowed when absent (not a browser), when listed in ``ALLOWED_ORIGINS``,
  or, with no origins configured, when it names the server's own host (the ``Host`` header); otherwise the
  handshake is refused with 403.
  A refused handshake answers an HTTP status (the ASGI denial-response extension) where the server supports it,
  else it is closed with code 1008 (policy violation).
* ``JsonOnlyMiddleware``: state-changing requests (POST, PUT, PATCH, DELETE) need ``Content-Type:
  application/json`` (or ``application/*+json``), even without a body; anything else is 415. A browser form or a
  no-cors ``fetch`` cannot send that type without a CORS preflight, so no write can be forged cross-site
  (``ALLOWED_ORIGINS`` decides the preflight, through Starlette's ``CORSMiddleware``).
* ``BodyLimitMiddleware``: a request body over ``MAX_BODY_BYTES`` is 413, decided from ``Content-Length`` before
  anything is read, or, for a streamed (chunked) body, as soon as the chunks received pass the limit; the body
  is never read whole.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from email.message import Message
from urllib.parse import parse_qsl, urlsplit

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

OPEN_PATHS = frozenset({"/health", "/metrics"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WS_POLICY_VIOLATION = 1008


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str, headers: dict[str, str]
) -> None:
    """An error answer for an HTTP request or a WebSocket handshake (denial response, else close 1008)."""
    response = JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": detail[:120]})
        return
    await response(scope, receive, send)


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, *, api_key: str | None, allowed_origins: Collection[str]) -> None:
        self.app = app
        self._key = api_key.encode("utf-8") if api_key else None
        self._key_digest = hashlib.sha256(self._key or b"").digest()
        self._origins = frozenset(o.rstrip("/") for o in allowed_origins)

    def _key_matches(self, offered: str | None) -> bool:
        if self._key is None:
            return True
        # offered is latin-1 text standing for the bytes sent (header, or query decoded as latin-1): the bytes
        # are compared, so a key in any encoding works and any byte string is a fair guess
        candidate = offered.encode("latin-1", "replace") if offered is not None else b""
        # digests of equal length: the comparison's time does not even depend on the key's length
        matches = hmac.compare_digest(hashlib.sha256(candidate).digest(), self._key_digest)
        return matches and offered is not None

    def _origin_allowed(self, headers: Headers) -> bool:
        origin = headers.get("origin")
        if origin is None:
            return True
        origin = origin.rstrip("/")
        if self._origins:
            return "*" in self._origins or origin in self._origins
        host = headers.get("host")
        return host is not None and urlsplit(origin).netloc.lower() == host.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["type"] == "websocket":
            if not self._origin_allowed(headers):
                await _refuse(scope, receive, send, 403, "origin not allowed", {})
                return
            offered = _bearer(headers)
            if offered is None:
                raw_query = scope.get("query_string", b"").decode("latin-1")
                query = dict(parse_qsl(raw_query, keep_blank_values=True, encoding="latin-1"))
                offered = query.get("api_key")
        else:
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await self.app(scope, receive, send)  # a CORS preflight carries no credentials
                return
            offered = _bearer(headers)
        if not self._key_matches(offered):
            error = "missing" if offered is None else "invalid"
            challenge = "Bearer" if offered is None else 'Bearer error="invalid_token"'
            detail = f"{error} API key: send 'Authorization: Bearer <key>'"
            await _refuse(scope, receive, send, 401, detail, {"WWW-Authenticate": challenge})
            return
        await self.app(scope, receive, send)


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class JsonOnlyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in STATE_CHANGING
            and scope["path"] not in OPEN_PATHS
            and not is_json(Headers(scope=scope).get("content-type"))
        ):
            detail = "state-changing requests take JSON only: send 'Content-Type: application/json'"
            await _refuse(scope, receive, send, 415, detail, {})
            return
        await self.app(scope, receive, send)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self._limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self._limit
            except ValueError:
                await _refuse(scope, receive, send, 400, "Content-Length is not a number", {})
                return
            if too_large:
                await _refuse(scope, receive, send, 413, BodyTooLarge(self._limit).detail, {"Connection": "close"})
                return
        received = 0
        started = False

        async def counted_receive() -> AsgiMessage:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._limit:
                    raise BodyTooLarge(self._limit)
            return message

        async def watched_send(message: AsgiMessage) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # read outside a route (which would have answered it itself)
            if started:
                raise
            await _refuse(scope, receive, send, 413, str(exc.detail), {"Connection": "close"})
