"""``python -m ai.nemotron``: serve a model with the llama.cpp-compatible API.

Options fall back to NEMOTRON_* environment variables, then to the defaults: the embedded
SmolLM2-135M-Instruct GGUF with the llama.cpp engine on 127.0.0.1:8091.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError

from ai.nemotron.engines import ENGINE_NAMES, create_engine
from ai.nemotron.engines.base import POOLING_TYPES
from ai.nemotron.reasoning import REASONING_FORMATS
from ai.nemotron.server import create_app
from ai.nemotron.settings import ServerSettings, embedded_model_path


def parse_args(argv: list[str] | None = None) -> ServerSettings:
    env = ServerSettings()
    p = argparse.ArgumentParser(
        prog="python -m ai.nemotron", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--engine", choices=ENGINE_NAMES, default=env.engine, help="inference engine (NEMOTRON_ENGINE)")
    p.add_argument(
        "--model",
        "-m",
        default=env.model_path,
        help="GGUF file (llamacpp) or HF model folder/name (hf); default: the embedded model (NEMOTRON_MODEL_PATH)",
    )
    p.add_argument("--host", default=env.host, help="listen address (NEMOTRON_HOST)")
    p.add_argument("--port", type=int, default=env.port, help="listen port (NEMOTRON_PORT)")
    p.add_argument(
        "--ctx-size",
        "-c",
        type=int,
        default=env.context_size,
        help="context in tokens, divided among the --parallel slots as llama-server does (NEMOTRON_CONTEXT_SIZE)",
    )
    p.add_argument(
        "--parallel",
        "-np",
        type=int,
        default=env.parallel,
        help="number of slots served at once; further requests queue (NEMOTRON_PARALLEL)",
    )
    p.add_argument("--api-key", default=env.api_key, help="require 'Authorization: Bearer KEY' (NEMOTRON_API_KEY)")
    p.add_argument(
        "--gpu-layers",
        "-ngl",
        type=int,
        default=env.gpu_layers,
        help="layers offloaded to the GPU, llamacpp engine (NEMOTRON_GPU_LAYERS)",
    )
    p.add_argument("--threads", "-t", type=int, default=env.threads, help="CPU threads (NEMOTRON_THREADS)")
    p.add_argument(
        "--n-predict",
        "-n",
        type=int,
        default=env.n_predict,
        help="most tokens a request generates when it sets no limit of its own; -1: none (NEMOTRON_N_PREDICT)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=env.max_body_bytes,
        help="largest request body accepted; larger is a 413 (NEMOTRON_MAX_BODY_BYTES)",
    )
    p.add_argument(
        "--alias",
        "-a",
        default=env.alias,
        help="model id reported by /v1/models and in answers; several comma-separated names are aliases, the "
        "first in sorted order is the id (NEMOTRON_ALIAS)",
    )
    p.add_argument(
        "--kv-unified",
        "-kvu",
        action=argparse.BooleanOptionalAction,
        default=env.kv_unified,
        help="the slots share one pool of --ctx-size KV cells, each may use it all; a request that finds the "
        "pool full is a 500 'context size has been exceeded' (NEMOTRON_KV_UNIFIED)",
    )
    p.add_argument("--tags", default=env.tags, help="comma-separated labels /v1/models reports (NEMOTRON_TAGS)")
    p.add_argument(
        "--seed", "-s", type=int, default=env.seed, help="seed of requests that give none; -1: random (NEMOTRON_SEED)"
    )
    p.add_argument(
        "--temp",
        type=float,
        default=env.temperature,
        help="temperature of requests that give none (NEMOTRON_TEMPERATURE)",
    )
    p.add_argument(
        "--reasoning-format",
        choices=REASONING_FORMATS,
        default=env.reasoning_format,
        help="chat answers' <think> block: 'none' leaves it in content; 'deepseek'/'auto' move it to "
        "reasoning_content; 'deepseek-legacy' also keeps it in content (NEMOTRON_REASONING_FORMAT)",
    )
    p.add_argument(
        "--slots",
        action=argparse.BooleanOptionalAction,
        default=env.slots_endpoint,
        help="serve GET /slots, each slot's state (--no-slots: a 501, as llama-server) (NEMOTRON_SLOTS_ENDPOINT)",
    )
    p.add_argument(
        "--metrics",
        action=argparse.BooleanOptionalAction,
        default=env.metrics,
        help="serve GET /metrics, Prometheus metrics with llama-server's names (off by default: a 501, as "
        "llama-server) (NEMOTRON_METRICS)",
    )
    p.add_argument(
        "--cors-origins",
        default=env.cors_origins,
        help="origins allowed by CORS: '*' (any; the Origin is echoed with --cors-credentials), 'localhost' "
        "(only localhost origins are echoed), or comma-separated origins (NEMOTRON_CORS_ORIGINS)",
    )
    p.add_argument(
        "--cors-methods", default=env.cors_methods, help="a preflight's allowed methods (NEMOTRON_CORS_METHODS)"
    )
    p.add_argument(
        "--cors-headers", default=env.cors_headers, help="a preflight's allowed headers (NEMOTRON_CORS_HEADERS)"
    )
    p.add_argument(
        "--sleep-idle-seconds",
        type=float,
        default=env.sleep_idle_seconds,
        help="unload the model after this many seconds without a request that needs it, reload it on the next "
        "one; /health, /props, /models, /metrics and /slots answer without waking it; -1: never "
        "(NEMOTRON_SLEEP_IDLE_SECONDS)",
    )
    p.add_argument(
        "--cors-credentials",
        action=argparse.BooleanOptionalAction,
        default=env.cors_credentials,
        help="allow credentials in CORS requests (NEMOTRON_CORS_CREDENTIALS)",
    )
    template = p.add_mutually_exclusive_group()
    template.add_argument(
        "--chat-template",
        default=env.chat_template,
        help="the chat template: Jinja text or a built-in name (chatml); default: the model's (NEMOTRON_CHAT_TEMPLATE)",
    )
    template.add_argument("--chat-template-file", type=Path, help="read the chat template (Jinja) from this file")
    p.add_argument(
        "--jinja",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="accepted for llama-server's command lines: chat templates are always Jinja here (--no-jinja: refused)",
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        default=env.verbose,
        help="chat answers carry '__verbose' with their prompt, for debugging (NEMOTRON_VERBOSE)",
    )
    p.add_argument(
        "--embedding",
        "--embeddings",
        action="store_true",
        default=env.embedding,
        help="serve /embedding, /embeddings and /v1/embeddings from a context of their own (NEMOTRON_EMBEDDING)",
    )
    p.add_argument(
        "--pooling",
        choices=POOLING_TYPES,
        default=env.pooling,
        help="how token vectors pool into one; default: the model's (none for a generative model) (NEMOTRON_POOLING)",
    )
    p.add_argument(
        "--reranking",
        "--rerank",
        action="store_true",
        help="serve /rerank (/v1/rerank, /reranking): --embedding with --pooling rank, for a reranker model",
    )
    p.add_argument(
        "--embd-normalize",
        type=int,
        default=env.embd_normalize,
        help="pooled vectors' norm: -1 none, 0 int16 range, 1 taxicab, 2 euclidean, p>2 p-norm "
        "(NEMOTRON_EMBD_NORMALIZE)",
    )
    args = p.parse_args(argv)
    if not args.jinja:
        p.error("--no-jinja: this server renders chat templates with Jinja only")
    chat_template = args.chat_template
    if args.chat_template_file is not None:
        try:
            chat_template = args.chat_template_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            p.error(f"--chat-template-file: {exc}")
    values = {
        "engine": args.engine,
        "model_path": args.model,
        "host": args.host,
        "port": args.port,
        "context_size": args.ctx_size,
        "parallel": args.parallel,
        "api_key": args.api_key,
        "gpu_layers": args.gpu_layers,
        "threads": args.threads,
        "n_predict": args.n_predict,
        "max_body_bytes": args.max_body_bytes,
        "alias": args.alias,
        "tags": args.tags,
        "kv_unified": args.kv_unified,
        "seed": args.seed,
        "temperature": args.temp,
        "reasoning_format": args.reasoning_format,
        "slots_endpoint": args.slots,
        "metrics": args.metrics,
        "sleep_idle_seconds": args.sleep_idle_seconds,
        "cors_origins": args.cors_origins,
        "cors_methods": args.cors_methods,
        "cors_headers": args.cors_headers,
        "cors_credentials": args.cors_credentials,
        "chat_template": chat_template,
        "verbose": args.verbose,
        "embedding": args.embedding or args.reranking,
        "pooling": "rank" if args.reranking else args.pooling,
        "embd_normalize": args.embd_normalize,
    }
    try:
        return ServerSettings.model_validate(values)
    except ValidationError as exc:
        p.error("; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors()))


def engine_options(settings: ServerSettings) -> dict[str, Any]:
    """Constructor arguments of the chosen engine that come from the common settings."""
    model = settings.model_path or str(embedded_model_path())
    # one context per slot, each with its share of --ctx-size (llama-server's n_ctx_slot)
    options: dict[str, Any] = {"model": model, "n_ctx": settings.slot_context_size, "threads": settings.threads}
    if settings.engine == "llamacpp":
        options["gpu_layers"] = settings.gpu_layers
        options["parallel"] = settings.parallel  # the slots decode together, as sequences of one context
        options["kv_unified"] = settings.kv_unified
    return options


def run_server(settings: ServerSettings, extra_engine_options: dict[str, Any] | None = None) -> None:
    """Build the engine, start the HTTP server and load the model in the background."""
    logging.basicConfig(
        level=os.environ.get("NEMOTRON_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = create_engine(settings.engine, **{**engine_options(settings), **(extra_engine_options or {})})
    app = create_app(engine, settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    run_server(parse_args(argv))
