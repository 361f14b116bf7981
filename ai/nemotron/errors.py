"""Errors in llama.cpp server's shape: ``{"error": {"code", "message", "type"}}``."""

from __future__ import annotations

MAX_MESSAGE_CHARS = 2000  # an error quotes a little of the input, never all of it


class ServerError(Exception):
    """An error the HTTP layer turns into llama.cpp's error body with the matching status."""

    status_code = 500
    error_type = "server_error"

    def __init__(self, message: str, status_code: int | None = None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code or self.status_code
        self.error_type = error_type or self.error_type

    def body(self) -> dict[str, object]:
        message = self.message
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + "... (cut)"
        # lone surrogates (never valid in a reply) written as \udXXX escapes
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        return {"error": {"code": self.status_code, "message": message, "type": self.error_type}}


class InvalidRequestError(ServerError):
    status_code = 400
    error_type = "invalid_request_error"


class ContextOverflowError(ServerError):
    """The prompt does not fit the context window (llama-server: exceed_context_size_error). With the counts,
    the body carries them as llama-server does: ``n_prompt_tokens`` and ``n_ctx`` (the slot's context)."""

    status_code = 400
    error_type = "exceed_context_size_error"

    def __init__(self, message: str, n_prompt_tokens: int | None = None, n_ctx: int | None = None) -> None:
        super().__init__(message)
        self.counts = {"n_prompt_tokens": n_prompt_tokens, "n_ctx": n_ctx} if n_prompt_tokens is not None else {}

    def body(self) -> dict[str, object]:
        body = super().body()
        error = body["error"]
        assert isinstance(error, dict)
        error.update(self.counts)
        return body


class NotSupportedError(ServerError):
    """A feature this engine or model cannot provide (llama-server's 501 ``not_supported_error``)."""

    status_code = 501
    error_type = "not_supported_error"


class ConstraintError(InvalidRequestError):
    """A structured-output constraint the engine cannot enforce: never answered free-form."""


class PayloadTooLargeError(ServerError):
    status_code = 413
    error_type = "invalid_request_error"


class ClientDisconnected(ServerError):
    """The client went away before its answer was ready (the answer is never sent; nginx's 499)."""

    status_code = 499
    error_type = "client_disconnected"


class AuthenticationError(ServerError):
    status_code = 401
    error_type = "authentication_error"


class UnavailableError(ServerError):
    status_code = 503
    error_type = "unavailable_error"
