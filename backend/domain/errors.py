"""The backend's one exception hierarchy: every failure has a kind, and the kind says whether to retry.

``ServiceError`` is the root; ``retryable`` tells callers what to do without a list of classes:

=========================== ========= ======================================================================
kind                        retryable what it means
=========================== ========= ======================================================================
``LLMUnavailableError``     yes       connection refused/reset, timeout or silence, 5xx, open circuit breaker
``StorageUnavailableError`` yes       the database or Redis cannot be reached right now (HTTP 503)
``LLMAnswerUnusableError``  no        the model answered, but no allowed sample gave a usable verdict
``PromptOverBudgetError``   no        the prompt does not fit the model's context even summarised
``LLMRequestError``         no        the LLM server refused the request (4xx): the same request fails again
``BadInputError``           no        the caller's input is wrong (HTTP 4xx, the field named)
=========================== ========= ======================================================================

A retryable failure never uses up an event (it waits for the part to come back); a non-retryable one ends
in a terminal state with its reason. ``http_status`` is the answer the API gives for an error of the kind.
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """Root of the backend's errors. ``retryable``: a later try of the same work may succeed."""

    retryable: ClassVar[bool] = False
    http_status: ClassVar[int] = 500
    kind: ClassVar[str] = "service_error"


class LLMError(ServiceError):
    """The model gave no usable answer (base of the LLM kinds)."""

    kind = "llm_error"


class LLMUnavailableError(LLMError):
    """Connection failure, timeout or silence, 5xx after retries, or an open circuit breaker."""

    retryable = True
    http_status = 503
    kind = "llm_unavailable"


class LLMRequestError(LLMError):
    """The LLM server refused the request (4xx): retrying the same request won't help."""

    http_status = 502
    kind = "llm_request_refused"


class LLMAnswerUnusableError(LLMError):
    """Every allowed sample of the model's answer failed validation (the reasons are in the message)."""

    http_status = 502
    kind = "llm_answer_unusable"


class PromptOverBudgetError(ServiceError, ValueError):
    """The prompt cannot fit the model's context, even with the detections summarised."""

    kind = "prompt_over_budget"


class StorageUnavailableError(ServiceError):
    """The database or Redis cannot be reached (connection refused, restart in progress, pool timeout)."""

    retryable = True
    http_status = 503
    kind = "storage_unavailable"


class BadInputError(ServiceError, ValueError):
    """The caller's input is wrong; ``field`` names where (dotted path), when known."""

    http_status = 422
    kind = "bad_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def is_retryable(exc: BaseException) -> bool:
    """True for a ``ServiceError`` whose kind is retryable; False for anything else (a bug is not retried
    forever: it is retried by the attempt budget only)."""
    return isinstance(exc, ServiceError) and exc.retryable
