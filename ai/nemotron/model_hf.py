"""HuggingFace Transformers server: ``python ai/nemotron/model_hf.py`` (from the repository root).

The same llama.cpp-compatible API as ``python -m ai.nemotron``, with the ``hf`` engine and the spec's
environment variables:

==============================  ================================  =====================================
Variable                        Default                           Meaning
==============================  ================================  =====================================
NEMOTRON_MODEL_PATH             nvidia/Nemotron-3-Nano-30B-A3B    HF folder, cached hub name, or .gguf
NEMOTRON_QUANTIZATION           4bit                              4bit, 8bit or none (BitsAndBytes)
NEMOTRON_4BIT_QUANT_TYPE        nf4                               nf4 or fp4
NEMOTRON_4BIT_DOUBLE_QUANT      true                              double quantization
NEMOTRON_COMPUTE_DTYPE          float16                           float16 or bfloat16
NEMOTRON_USE_FLASH_ATTENTION    true                              FlashAttention-2 when the GPU allows
NEMOTRON_MAX_NEW_TOKENS         1536                              cap on generated tokens per request
NEMOTRON_USE_COMPILE            true                              torch.compile() the forward pass
==============================  ================================  =====================================

NEMOTRON_HOST, NEMOTRON_PORT (8091), NEMOTRON_CONTEXT_SIZE, NEMOTRON_PARALLEL, NEMOTRON_API_KEY and
NEMOTRON_THREADS work as for the common server. Whatever the machine can't honour (no CUDA for
quantization, no flash-attn, ...) is reported with its reason in ``/health`` under ``notes``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HF_MODEL = "nvidia/Nemotron-3-Nano-30B-A3B"


class HFServerSettings(BaseSettings):
    """The spec's NEMOTRON_* variables for the HF engine."""

    model_config = SettingsConfigDict(env_prefix="NEMOTRON_", extra="ignore")

    model_path: str = DEFAULT_HF_MODEL
    quantization: Literal["4bit", "8bit", "none"] = "4bit"
    quant_type: Literal["nf4", "fp4"] = Field(default="nf4", validation_alias="NEMOTRON_4BIT_QUANT_TYPE")
    double_quant: bool = Field(default=True, validation_alias="NEMOTRON_4BIT_DOUBLE_QUANT")
    compute_dtype: Literal["float16", "bfloat16"] = "float16"
    use_flash_attention: bool = True
    max_new_tokens: int = Field(default=1536, ge=1)
    use_compile: bool = True

    def engine_options(self) -> dict[str, Any]:
        """HFEngine constructor arguments beyond the common ones (model, n_ctx, threads)."""
        return self.model_dump(exclude={"model_path"})


def main() -> None:
    from ai.nemotron.cli import run_server
    from ai.nemotron.settings import ServerSettings

    hf = HFServerSettings()
    run_server(ServerSettings(engine="hf", model_path=hf.model_path), hf.engine_options())


if __name__ == "__main__":
    # Run as a script, Python puts this file's folder first on sys.path; the repository root belongs there.
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    main()
