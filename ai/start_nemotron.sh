#!/usr/bin/env bash
# Start the Nemotron-3-Nano-30B LLM service on port 8091 and keep it running (auto-recovery).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ai/start_nemotron.sh [--once | --stop | -h]

Starts the Nemotron-3-Nano-30B-A3B LLM server, waits until GET /health answers 200, then
supervises it: the server is restarted when its process dies or when /health fails several
times in a row. SIGTERM or SIGINT stops the server and the script.

The server is llama-server when it is on PATH (or LLAMA_SERVER_BIN names it), otherwise the
project's own server (python -m ai.nemotron). Without llama-server and without the model file,
the project's embedded model is served instead.

Options:
  --once      start, wait for health, exit and leave the server running (same as NEMOTRON_SUPERVISE=0)
  --stop      stop the service recorded in NEMOTRON_PID_FILE
  -h, --help  show this help

Environment (default):
  NEMOTRON_HOST             listen address (127.0.0.1)
  NEMOTRON_PORT             port (8091)
  NEMOTRON_CONTEXT_SIZE     context size in tokens (12288)
  NEMOTRON_GPU_LAYERS       layers offloaded to the GPU (35)
  NEMOTRON_PARALLEL         parallel slots (1)
  NEMOTRON_MODEL_DIR        model folder ($AI_MODELS_PATH/nemotron/nemotron-3-nano-30b-a3b-q4km
                            when AI_MODELS_PATH is set, else ai/nemotron)
  NEMOTRON_MODEL_FILE       GGUF file name (Nemotron-3-Nano-30B-A3B-Q4_K_M.gguf)
  NEMOTRON_STARTUP_TIMEOUT  seconds to wait for /health 200 (90)
  NEMOTRON_LOG_FILE         server and script log (/tmp/nemotron.log)
  NEMOTRON_PID_FILE         pid of the service: this script, or the server with --once (/tmp/nemotron.pid)
  NEMOTRON_SUPERVISE        1: supervise, 0: like --once (1)
  NEMOTRON_HEALTH_INTERVAL  seconds between health checks (10)
  NEMOTRON_HEALTH_TIMEOUT   seconds one health check may take (5)
  NEMOTRON_HEALTH_RETRIES   consecutive failed checks that trigger a restart (3)
  NEMOTRON_MAX_RESTARTS     restarts allowed within NEMOTRON_RESTART_WINDOW before giving up (5)
  NEMOTRON_RESTART_WINDOW   seconds (600)
  NEMOTRON_RESTART_BACKOFF  delay before the first restart in a window, doubled for each next one,
                            at most 60 s (5)
  LLAMA_SERVER_BIN          llama-server binary (llama-server on PATH; empty: use the project's server)
  NEMOTRON_API_KEY          API key the server requires (none)
EOF
}

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# supervise: watch SERVER_PID and restart the server when it dies or stays unhealthy; exits on giving up.
supervise() {
    local failures=0 restarts=0 window_start=$SECONDS delay=0 reason
    while true; do
        ai_sleep "$HEALTH_INTERVAL"
        if ! ai_running "$SERVER_PID"; then
            reason="server pid $SERVER_PID exited"
        elif ai_health_ok; then
            failures=0
            continue
        else
            failures=$((failures + 1))
            ai_log "health check failed ($failures/$HEALTH_RETRIES)"
            ((failures >= HEALTH_RETRIES)) || continue
            reason="health check failed $failures times in a row"
        fi

        if ((SECONDS - window_start > RESTART_WINDOW)); then
            restarts=0
            window_start=$SECONDS
        fi
        restarts=$((restarts + 1))
        if ((restarts > MAX_RESTARTS)); then
            ai_die "$reason; giving up after $MAX_RESTARTS restarts within $RESTART_WINDOW s"
        fi
        if ((restarts == 1)); then
            delay=$RESTART_BACKOFF
        else
            delay=$((delay * 2 > 60 ? 60 : delay * 2))
        fi
        ai_log "$reason; restarting in $delay s (restart $restarts/$MAX_RESTARTS)"
        ai_stop_pid "$SERVER_PID" 10
        ai_sleep "$delay"
        failures=0
        ai_start_server
        ai_wait_healthy "$STARTUP_TIMEOUT" || ai_log "server not healthy after the restart; still watching it"
    done
}

main() {
    local supervise=${NEMOTRON_SUPERVISE:-1}
    (($# <= 1)) || { usage >&2; exit 2; }
    case ${1:-} in
        -h | --help) usage; return ;;
        --once) supervise=0 ;;
        --stop | "") ;;
        *) usage >&2; exit 2 ;;
    esac

    ai_server_settings 30b 12288 35
    if [[ ${1:-} == --stop ]]; then
        ai_stop_recorded
        return
    fi
    HEALTH_INTERVAL=${NEMOTRON_HEALTH_INTERVAL:-10}
    HEALTH_RETRIES=${NEMOTRON_HEALTH_RETRIES:-3}
    MAX_RESTARTS=${NEMOTRON_MAX_RESTARTS:-5}
    RESTART_WINDOW=${NEMOTRON_RESTART_WINDOW:-600}
    RESTART_BACKOFF=${NEMOTRON_RESTART_BACKOFF:-5}
    ai_require_int HEALTH_INTERVAL HEALTH_RETRIES MAX_RESTARTS RESTART_WINDOW RESTART_BACKOFF

    ai_launch
    if [[ $supervise == 0 ]]; then
        ai_detach
        return
    fi
    printf '%s\n' "$$" >"$PID_FILE"
    ai_log "supervising server pid $SERVER_PID (health every $HEALTH_INTERVAL s)"
    supervise
}

main "$@"
