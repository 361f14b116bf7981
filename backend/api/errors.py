"""Error answers: every error is JSON in FastAPI's shape ``{"detail": ...}`` and always renders.

* 422 (request validation): FastAPI's list of errors (``type``, ``loc``, ``msg``, ``input``, ``ctx``) made safe to
  encode: lone surrogates and other characters UTF-8 cannot carry become U+FFFD, NaN and infinities become text;
  at most ``MAX_ERRORS`` errors, and at most ``ECHO_BUDGET`` characters of the caller's input echoed in all (an
  input longer than what is left is cut and ends with "…"). A 5 MB body gives a short answer.
* ``HTTPException``: its status, headers and detail, the detail made safe the same way.
* a storage outage (``backend.services.outages``: the database or Redis unreachable): 503 with ``Retry-After``
  and ``{"detail": "...", "kind": "storage_unavailable", "retryable": true}``.
* another ``ServiceError``: its ``http_status``, ``kind`` and ``retryable``; ``BadInputError`` is a 422 in the
  validation shape with ``loc`` from its ``field``.
* anything else: 500 ``{"detail": "internal error", "kind": "internal"}`` (logged), never a plain-text page.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.domain.errors import BadInputError, ServiceError
from backend.services.outages import storage_outage

logger = logging.getLogger(__name__)

MAX_ERRORS = 50
ECHO_BUDGET = 4096  # characters of the caller's input echoed in one error answer, all errors together
MAX_TEXT = 1000  # characters of any one message or context value
MAX_LOC_TEXT = 200
MAX_ITEMS = 20  # items shown of a list or mapping inside an echoed input
MAX_DEPTH = 6
RETRY_AFTER_SECONDS = 2
ELLIPSIS = "…"


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with lone surrogates (which UTF-8 cannot encode) as U+FFFD."""
    if len(text) > limit:
        text = text[:limit] + ELLIPSIS
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON that always encodes: bounded depth, items and text; non-finite numbers and unknown
    objects as text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bytes | bytearray):
        return clean_text(bytes(value[: MAX_TEXT + 1]).decode("utf-8", "replace"))
    if depth >= MAX_DEPTH:
        return ELLIPSIS
    if isinstance(value, Mapping):
        items = list(value.items())
        safe = {clean_text(str(k), MAX_LOC_TEXT): json_safe(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            safe[ELLIPSIS] = f"{len(items) - MAX_ITEMS} more"
        return safe
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        shown = [json_safe(v, depth + 1) for v in items[:MAX_ITEMS]]
        return [*shown, f"{ELLIPSIS} {len(items) - MAX_ITEMS} more"] if len(items) > MAX_ITEMS else shown
    return clean_text(str(value))


class _Echo:
    """Hands out the echo budget: each input is echoed whole while the budget lasts, then cut."""

    def __init__(self, budget: int = ECHO_BUDGET) -> None:
        self.left = budget

    def __call__(self, value: Any) -> Any:
        safe = json_safe(value)
        text = json.dumps(safe, ensure_ascii=False)
        if len(text) <= self.left:
            self.left -= len(text)
            return safe
        cut, self.left = self.left, 0
        return text[:cut] + ELLIPSIS


def _loc_part(part: Any) -> str | int:
    return part if isinstance(part, int) and not isinstance(part, bool) else clean_text(str(part), MAX_LOC_TEXT)


def safe_errors(errors: Any) -> list[Any]:
    """Validation errors (FastAPI's shape) that always encode and echo at most ``ECHO_BUDGET`` characters."""
    items = list(errors) if isinstance(errors, list | tuple) else [errors]
    echo = _Echo()
    out: list[Any] = []
    for error in items[:MAX_ERRORS]:
        if not isinstance(error, Mapping):
            out.append(echo(error))
            continue
        safe: dict[str, Any] = {}
        for key, value in error.items():
            if key == "loc" and isinstance(value, list | tuple):
                safe["loc"] = [_loc_part(part) for part in value[: MAX_DEPTH * 4]]
            elif key == "input":
                safe["input"] = echo(value)
            elif key == "ctx":
                safe["ctx"] = echo(value)
            elif key == "url":
                continue
            else:
                safe[clean_text(str(key), MAX_LOC_TEXT)] = json_safe(value)
        out.append(safe)
    if len(items) > MAX_ERRORS:
        out.append({"type": "too_many_errors", "loc": [], "msg": f"{len(items) - MAX_ERRORS} more errors not shown"})
    return out


def _safe_detail(detail: Any) -> Any:
    if isinstance(detail, str):
        return clean_text(detail)
    return safe_errors(detail) if isinstance(detail, list | tuple) else _Echo()(detail)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": safe_errors(exc.errors())}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": _safe_detail(exc.detail)}, status_code=exc.status_code, headers=headers)


def internal_error_response() -> Response:
    return JSONResponse({"detail": "internal error", "kind": "internal"}, status_code=500)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Last resort (Starlette's ServerErrorMiddleware logs and re-raises the error after this answer)."""
    return internal_error_response()


async def _failure(request: Request, exc: Exception) -> Response:
    """Storage outages are 503; other service errors answer their kind; anything else is a logged 500."""
    outage = storage_outage(exc)
    if outage is not None:
        logger.warning(
            "storage unavailable", extra={"path": request.url.path, "error": repr(exc)[:MAX_TEXT], "kind": outage.kind}
        )
        return JSONResponse(
            {"detail": str(outage), "kind": outage.kind, "retryable": True},
            status_code=outage.http_status,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, BadInputError):
        loc = ["body", *exc.field.split(".")] if exc.field else ["body"]
        return JSONResponse(
            {"detail": [{"type": exc.kind, "loc": loc, "msg": clean_text(str(exc))}]}, status_code=exc.http_status
        )
    if isinstance(exc, ServiceError):
        logger.warning("request failed", extra={"path": request.url.path, "kind": exc.kind, "error": repr(exc)})
        body = {"detail": clean_text(str(exc)), "kind": exc.kind, "retryable": exc.retryable}
        return JSONResponse(body, status_code=exc.http_status)
    logger.error("request failed", extra={"path": request.url.path}, exc_info=exc)
    return internal_error_response()


FAILURES: tuple[type[Exception], ...] = (
    ServiceError,
    SQLAlchemyError,
    RedisError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for failure in FAILURES:
        app.add_exception_handler(failure, _failure)
    app.add_exception_handler(Exception, _unexpected)
