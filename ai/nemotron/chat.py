"""Chat messages to a prompt with the model's own Jinja template (ChatML when the model has none)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ai.nemotron.errors import InvalidRequestError

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _raise(message: str) -> None:
    raise TemplateError(message)


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    return env.from_string(template)


def render_chat(messages: list[dict[str, str]], template: str | None, special_tokens: dict[str, str]) -> str:
    """The prompt text for ``messages``, ending where the assistant's answer begins."""
    try:
        return _compile(template or CHATML_TEMPLATE).render(
            messages=messages, add_generation_prompt=True, **special_tokens
        )
    except TemplateError as exc:
        raise InvalidRequestError(f"chat template could not render these messages: {exc}") from exc
