"""Inference engines behind one interface (base.Engine): llama.cpp (default) and HF Transformers."""

from __future__ import annotations

from ai.nemotron.engines.base import Engine

ENGINE_NAMES = ("llamacpp", "hf")


def create_engine(name: str, **options: object) -> Engine:
    """Build (not load) the engine called ``name``; the heavy imports happen here, on demand."""
    if name == "llamacpp":
        from ai.nemotron.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(**options)  # type: ignore[arg-type]
    if name == "hf":
        from ai.nemotron.engines.hf import HFEngine

        return HFEngine(**options)  # type: ignore[arg-type]
    raise ValueError(f"unknown engine {name!r}: expected one of {', '.join(ENGINE_NAMES)}")
