#!/usr/bin/env bash
# shellcheck shell=bash
# Helpers shared by ai/start_llm.sh, ai/start_nemotron.sh and ai/download_models.sh.
# Source this file (it only defines AI_DIR, REPO_ROOT and functions); do not run it.

AI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$AI_DIR")"

# ai_log MESSAGE...: timestamped line on stderr and, when AI_LOG_FILE is set, in that file too.
ai_log() {
    local line
    line="[$(date '+%Y-%m-%d %H:%M:%S')] $(basename "$0"): $*"
    printf '%s\n' "$line" >&2
    if [[ -n ${AI_LOG_FILE:-} ]]; then
        printf '%s\n' "$line" >>"$AI_LOG_FILE"
    fi
}

ai_die() {
    ai_log "ERROR: $*"
    exit 1
}

# ai_select_model 4b|30b: the GGUF models of the spec (MODEL_FILE is the local name the start scripts
# look for; MODEL_SUBDIR is the model's folder under $AI_MODELS_PATH/nemotron).
# shellcheck disable=SC2034  # the MODEL_* variables are read by the scripts that source this file
ai_select_model() {
    case $1 in
        4b)
            MODEL_REPO=bartowski/Nemotron-Mini-4B-Instruct-GGUF
            MODEL_REMOTE_FILE=Nemotron-Mini-4B-Instruct-Q4_K_M.gguf
            MODEL_FILE=nemotron-mini-4b-instruct-q4_k_m.gguf
            MODEL_SUBDIR=nemotron-mini-4b-instruct-q4km
            ;;
        30b)
            MODEL_REPO=nvidia/Nemotron-3-Nano-30B-A3B-GGUF
            MODEL_REMOTE_FILE=Nemotron-3-Nano-30B-A3B-Q4_K_M.gguf
            MODEL_FILE=Nemotron-3-Nano-30B-A3B-Q4_K_M.gguf
            MODEL_SUBDIR=nemotron-3-nano-30b-a3b-q4km
            ;;
        *) ai_die "unknown model '$1' (expected 4b or 30b)" ;;
    esac
}

# ai_model_dir SUBDIR: where a model's GGUF lives: $NEMOTRON_MODEL_DIR, else
# $AI_MODELS_PATH/nemotron/SUBDIR (the folder docker-compose.prod.yml mounts), else ai/nemotron/.
ai_model_dir() {
    if [[ -n ${NEMOTRON_MODEL_DIR:-} ]]; then
        printf '%s\n' "$NEMOTRON_MODEL_DIR"
    elif [[ -n ${AI_MODELS_PATH:-} ]]; then
        printf '%s\n' "$AI_MODELS_PATH/nemotron/$1"
    else
        printf '%s\n' "$AI_DIR/nemotron"
    fi
}

# ai_require_int NAME...: each named variable must hold an integer.
ai_require_int() {
    local name
    for name in "$@"; do
        [[ ${!name} =~ ^-?[0-9]+$ ]] || ai_die "$name must be an integer, got '${!name}'"
    done
}

# ai_server_settings MODEL CTX_SIZE GPU_LAYERS: the server settings from the NEMOTRON_* environment,
# with the given model (4b|30b), context size and GPU layers as the script's defaults.
ai_server_settings() {
    ai_select_model "$1"
    HOST=${NEMOTRON_HOST:-127.0.0.1}
    PORT=${NEMOTRON_PORT:-8091}
    CTX_SIZE=${NEMOTRON_CONTEXT_SIZE:-$2}
    GPU_LAYERS=${NEMOTRON_GPU_LAYERS:-$3}
    PARALLEL=${NEMOTRON_PARALLEL:-1}
    STARTUP_TIMEOUT=${NEMOTRON_STARTUP_TIMEOUT:-90}
    HEALTH_TIMEOUT=${NEMOTRON_HEALTH_TIMEOUT:-5}
    ai_require_int PORT CTX_SIZE GPU_LAYERS PARALLEL STARTUP_TIMEOUT HEALTH_TIMEOUT
    MODEL_PATH=$(realpath -m -- "$(ai_model_dir "$MODEL_SUBDIR")/${NEMOTRON_MODEL_FILE:-$MODEL_FILE}")
    AI_LOG_FILE=${NEMOTRON_LOG_FILE:-/tmp/nemotron.log}
    PID_FILE=${NEMOTRON_PID_FILE:-/tmp/nemotron.pid}
    case $HOST in
        0.0.0.0 | ::) HEALTH_URL="http://127.0.0.1:$PORT/health" ;;
        *:*) HEALTH_URL="http://[$HOST]:$PORT/health" ;;
        *) HEALTH_URL="http://$HOST:$PORT/health" ;;
    esac
}

# ai_llama_server: path of llama-server: $LLAMA_SERVER_BIN when set (an empty or non-executable value
# means none), else llama-server on PATH. Fails when there is none.
ai_llama_server() {
    if [[ -v LLAMA_SERVER_BIN ]]; then
        [[ -n $LLAMA_SERVER_BIN && -x $LLAMA_SERVER_BIN ]] || return 1
        printf '%s\n' "$LLAMA_SERVER_BIN"
    else
        command -v llama-server
    fi
}

# ai_python: the repository's virtual environment Python, else python3.
ai_python() {
    if [[ -x $REPO_ROOT/.venv/bin/python ]]; then
        printf '%s\n' "$REPO_ROOT/.venv/bin/python"
    else
        command -v python3 || ai_die "python3 not found"
    fi
}

# ai_server_command: SERVER_CMD runs MODEL_PATH with llama-server when there is one, else with the
# project's own server (python -m ai.nemotron), which serves its embedded model when MODEL_PATH is missing.
ai_server_command() {
    local llama_server
    if llama_server=$(ai_llama_server); then
        [[ -f $MODEL_PATH ]] || ai_die "model file not found: $MODEL_PATH (get it with ai/download_models.sh)"
        if [[ -n ${NEMOTRON_API_KEY:-} ]]; then
            export LLAMA_API_KEY=$NEMOTRON_API_KEY  # read by llama-server; keeps the key off the command line
        fi
        SERVER_CMD=("$llama_server" --model "$MODEL_PATH" --host "$HOST" --port "$PORT"
            --n-gpu-layers "$GPU_LAYERS" --ctx-size "$CTX_SIZE" --parallel "$PARALLEL" --cont-batching --metrics)
        return
    fi
    # The project's server reads NEMOTRON_API_KEY (and NEMOTRON_ENGINE) from the environment itself.
    SERVER_CMD=("$(ai_python)" -m ai.nemotron --host "$HOST" --port "$PORT"
        --gpu-layers "$GPU_LAYERS" --ctx-size "$CTX_SIZE" --parallel "$PARALLEL" --metrics)
    if [[ -f $MODEL_PATH ]]; then
        SERVER_CMD+=(--model "$MODEL_PATH")
    else
        ai_log "NOTE: no llama-server and no model file at $MODEL_PATH:" \
            "serving the project's embedded model (SmolLM2-135M) instead"
    fi
}

ai_health_ok() {
    curl -fs -o /dev/null --max-time "$HEALTH_TIMEOUT" "$HEALTH_URL"
}

# ai_start_server: run SERVER_CMD in the background (output to AI_LOG_FILE), its pid in SERVER_PID.
ai_start_server() {
    ai_log "starting: ${SERVER_CMD[*]}"
    (cd "$REPO_ROOT" && exec "${SERVER_CMD[@]}") </dev/null >>"$AI_LOG_FILE" 2>&1 &
    SERVER_PID=$!
    disown "$SERVER_PID" # no job notices from bash, which still reaps it
    ai_log "server pid $SERVER_PID, log $AI_LOG_FILE"
}

# ai_wait_healthy TIMEOUT: wait until GET HEALTH_URL answers 200; fails if the server exits or the time runs out.
ai_wait_healthy() {
    local deadline=$((SECONDS + $1))
    until ai_health_ok; do
        if ! ai_running "$SERVER_PID"; then
            ai_log "server pid $SERVER_PID exited during startup; end of $AI_LOG_FILE:"
            tail -n 20 "$AI_LOG_FILE" >&2
            return 1
        fi
        if ((SECONDS >= deadline)); then
            ai_log "server not healthy at $HEALTH_URL after $1 s"
            return 1
        fi
        sleep 0.5
    done
    ai_log "server healthy at $HEALTH_URL"
}

# ai_launch: refuse when a server already answers on HEALTH_URL, then start the server (stopped again
# when this script exits, see ai_cleanup) and wait until it is healthy.
ai_launch() {
    if ai_health_ok; then
        ai_die "a server already answers on $HEALTH_URL; stop it first ($0 --stop)"
    fi
    ai_server_command
    ai_install_traps
    ai_start_server
    ai_wait_healthy "$STARTUP_TIMEOUT" || ai_die "the server did not start; see $AI_LOG_FILE"
}

# ai_detach: record the server in PID_FILE and leave it running when this script exits.
ai_detach() {
    printf '%s\n' "$SERVER_PID" >"$PID_FILE"
    ai_log "leaving server pid $SERVER_PID running; stop it with: $0 --stop"
    SERVER_PID=""
}

# ai_running PID: PID is a live process (a zombie, exited but not yet reaped by its parent, is not).
ai_running() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) } # the fields after "(command name)"
    [[ ${stat%% *} != Z ]]
}

# ai_stop_pid PID GRACE: SIGTERM, then SIGKILL if PID is still there after GRACE seconds.
ai_stop_pid() {
    local pid=$1 deadline=$((SECONDS + $2))
    ai_running "$pid" || return 0
    ai_log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    while ai_running "$pid"; do
        if ((SECONDS >= deadline)); then
            ai_log "pid $pid still running after $2 s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
}

# ai_stop_recorded: stop the service whose pid is in PID_FILE (a server, or a supervising start script).
ai_stop_recorded() {
    local pid cmd
    if [[ ! -f $PID_FILE ]]; then
        ai_log "no $PID_FILE: nothing to stop"
        return 0
    fi
    pid=$(<"$PID_FILE")
    if ! ai_running "$pid"; then
        ai_log "pid $pid from $PID_FILE is not running"
    else
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
        [[ $cmd =~ llama-server|ai\.nemotron|start_nemotron\.sh|start_llm\.sh ]] ||
            ai_die "pid $pid from $PID_FILE is not the LLM service ($cmd); not stopping it"
        ai_stop_pid "$pid" 30
    fi
    rm -f "$PID_FILE"
}

# ai_cleanup: EXIT trap of the start scripts: stop the server that is still ours (SERVER_PID, emptied by
# ai_detach) and a pending ai_sleep.
ai_cleanup() {
    trap '' TERM INT
    if [[ -n ${SLEEP_PID:-} ]]; then
        kill "$SLEEP_PID" 2>/dev/null || true
    fi
    if [[ -n ${SERVER_PID:-} ]]; then
        ai_stop_pid "$SERVER_PID" 10
    fi
    if [[ -f $PID_FILE ]] && grep -qx -e "$$" -e "${SERVER_PID:-$$}" "$PID_FILE"; then
        rm -f "$PID_FILE" # it names this script or the server it just stopped
    fi
}

ai_install_traps() {
    trap ai_cleanup EXIT
    trap 'ai_log "SIGTERM received, shutting down"; exit 143' TERM
    trap 'ai_log "SIGINT received, shutting down"; exit 130' INT
}

# ai_sleep SECONDS: a sleep that a trapped signal interrupts at once.
ai_sleep() {
    sleep "$1" &
    SLEEP_PID=$!
    wait "$SLEEP_PID"
    SLEEP_PID=""
}
