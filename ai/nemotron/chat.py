"""Chat messages to a prompt with the model's own Jinja template (ChatML when the model has none)."""

from __future__ import annotations

from datetime import datetime
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
    env.globals["strftime_now"] = _strftime_now  # Llama 3.x templates write today's date with it
    return env.from_string(template)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


BUILT_IN_TEMPLATES = {"chatml": CHATML_TEMPLATE}


def resolve_template(value: str) -> str:
    """``--chat-template``'s value as Jinja text: a built-in name (:data:`BUILT_IN_TEMPLATES`) or Jinja text
    itself (llama-server's ``--jinja --chat-template``). Raises ValueError for an unknown name or a template
    that does not compile."""
    if value in BUILT_IN_TEMPLATES:
        return BUILT_IN_TEMPLATES[value]
    if "{{" not in value and "{%" not in value:
        names = ", ".join(BUILT_IN_TEMPLATES)
        raise ValueError(
            f"unknown built-in chat template {value[:40]!r} (built in: {names}); "
            "give Jinja text or --chat-template-file"
        )
    try:
        _compile(value)
    except TemplateError as exc:
        raise ValueError(f"the chat template does not compile: {exc}") from exc
    return value


def render_chat(
    messages: list[dict[str, str]],
    template: str | None,
    special_tokens: dict[str, str],
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text for ``messages``, ending where the assistant's answer begins (with
    ``add_generation_prompt``, the default)."""
    try:
        return _compile(template or CHATML_TEMPLATE).render(
            messages=messages, add_generation_prompt=add_generation_prompt, **special_tokens
        )
    except TemplateError as exc:
        raise InvalidRequestError(f"chat template could not render these messages: {exc}") from exc
