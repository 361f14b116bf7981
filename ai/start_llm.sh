#!/usr/bin/env bash
# Start the Nemotron Mini 4B development LLM server on port 8091 and leave it running.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ai/start_llm.sh [--stop | -h]

Starts the Nemotron Mini 4B Instruct development server, waits until GET /health answers 200,
and exits, leaving the server running (its pid in NEMOTRON_PID_FILE). No auto-recovery: use
ai/start_nemotron.sh for that.

The server is llama-server when it is on PATH (or LLAMA_SERVER_BIN names it), otherwise the
project's own server (python -m ai.nemotron). Without llama-server and without the model file,
the project's embedded model is served instead.

Options:
  --stop      stop the server recorded in NEMOTRON_PID_FILE
  -h, --help  show this help

Environment (default):
  NEMOTRON_HOST             listen address (127.0.0.1)
  NEMOTRON_PORT             port (8091)
  NEMOTRON_CONTEXT_SIZE     context size in tokens (4096)
  NEMOTRON_GPU_LAYERS       layers offloaded to the GPU (99)
  NEMOTRON_PARALLEL         parallel slots (1)
  NEMOTRON_MODEL_DIR        model folder ($AI_MODELS_PATH/nemotron/nemotron-mini-4b-instruct-q4km
                            when AI_MODELS_PATH is set, else ai/nemotron)
  NEMOTRON_MODEL_FILE       GGUF file name (nemotron-mini-4b-instruct-q4_k_m.gguf)
  NEMOTRON_STARTUP_TIMEOUT  seconds to wait for /health 200 (90)
  NEMOTRON_HEALTH_TIMEOUT   seconds one health check may take (5)
  NEMOTRON_LOG_FILE         server and script log (/tmp/nemotron.log)
  NEMOTRON_PID_FILE         server pid (/tmp/nemotron.pid)
  LLAMA_SERVER_BIN          llama-server binary (llama-server on PATH; empty: use the project's server)
  NEMOTRON_API_KEY          API key the server requires (none)
EOF
}

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($# <= 1)) || { usage >&2; exit 2; }
case ${1:-} in
    -h | --help) usage; exit 0 ;;
    --stop | "") ;;
    *) usage >&2; exit 2 ;;
esac

ai_server_settings 4b 4096 99
if [[ ${1:-} == --stop ]]; then
    ai_stop_recorded
    exit 0
fi
ai_launch
ai_detach
