"""CORS as llama-server answers it (``--cors-origins``, ``--cors-methods``, ``--cors-headers``,
``--cors-credentials``; tools/server/server-http.cpp's pre-routing handler), as pure ASGI middleware that sits
outermost: a preflight is answered before the API key or the model state is looked at (browsers send no key
with one).

Which ``Access-Control-Allow-Origin`` every answer carries:

- ``*`` (the default) with credentials allowed (the default): the request's ``Origin`` echoed (``*`` when it
  has none), since browsers refuse ``*`` for requests with credentials;
- ``localhost``: the request's ``Origin`` echoed only when it is ``http(s)://`` localhost, 127.0.0.1 or
  ``[::1]`` (any port); any other origin gets no header (and is logged);
- one origin: that origin, whatever the request's (llama-server's rule);
- several, comma-separated: the request's ``Origin`` when it is one of them, else no header (llama-server
  writes the list itself, which no browser accepts).

An ``OPTIONS`` request on any path is a 200 with an empty ``text/html`` body and
``Access-Control-Allow-Credentials`` (``true``/``false``), ``-Methods`` and ``-Headers``. Header names are
written in llama-server's case (``Access-Control-Allow-Origin``), since some clients read them into a plain
dict.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("ai.nemotron")

DEFAULT_ORIGINS = "*"
DEFAULT_METHODS = "GET, POST, DELETE, OPTIONS"
DEFAULT_HEADERS = "*"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def origin_is_local(origin: str) -> bool:
    """``http(s)://`` localhost, 127.0.0.1 or ``[::1]``, with any port and nothing after it."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and parts.hostname in LOCAL_HOSTS
        and not (parts.path or parts.query or parts.fragment or parts.username)
    )


@dataclass(frozen=True)
class CorsPolicy:
    origins: str = DEFAULT_ORIGINS
    methods: str = DEFAULT_METHODS
    headers: str = DEFAULT_HEADERS
    credentials: bool = True

    def allowed_origin(self, origin: str | None) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for a request from ``origin`` (None: no header)."""
        if self.origins == "*":
            return (origin or "*") if self.credentials else "*"
        if self.origins == "localhost":
            if origin and origin_is_local(origin):
                return origin
            if origin:
                log.warning("(CORS) skip non-localhost origin: %s", origin)
            return None
        listed = [o.strip() for o in self.origins.split(",") if o.strip()]
        if len(listed) <= 1:
            return self.origins
        return origin if origin in listed else None


class CorsMiddleware:
    def __init__(self, app: ASGIApp, policy: CorsPolicy | None = None) -> None:
        self.app = app
        self.policy = policy or CorsPolicy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(b"origin")
        allowed = self.policy.allowed_origin(raw.decode("latin-1") if raw is not None else None)
        cors: list[tuple[bytes, bytes]] = []
        if allowed is not None:
            cors.append((b"Access-Control-Allow-Origin", allowed.encode("latin-1")))
        if scope["method"] == "OPTIONS":
            cors += [
                (b"Access-Control-Allow-Credentials", b"true" if self.policy.credentials else b"false"),
                (b"Access-Control-Allow-Methods", self.policy.methods.encode("latin-1")),
                (b"Access-Control-Allow-Headers", self.policy.headers.encode("latin-1")),
            ]
            headers = [*cors, (b"content-type", b"text/html"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"access-control-allow-origin"]
                message = {**message, "headers": [*kept, *cors]}
            await send(message)

        await self.app(scope, receive, send_with_origin)
