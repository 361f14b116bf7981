#!/usr/bin/env bash
# Download the Nemotron GGUF models from HuggingFace, resumably, and verify their sha256.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ai/download_models.sh [-d DIR] [4b | 30b | all]

Downloads the GGUF models used by the LLM service (default: all):
  4b   bartowski/Nemotron-Mini-4B-Instruct-GGUF  -> nemotron-mini-4b-instruct-q4_k_m.gguf (~2.7 GB)
  30b  nvidia/Nemotron-3-Nano-30B-A3B-GGUF       -> Nemotron-3-Nano-30B-A3B-Q4_K_M.gguf (~18 GB)

Each file is fetched into FILE.part (an interrupted download resumes from there), checked
against its sha256 and only then renamed to FILE. A file already present is verified and skipped.
The expected sha256 is the X-Linked-Etag header HuggingFace sends for the file, unless
NEMOTRON_4B_SHA256 / NEMOTRON_30B_SHA256 give it. On a mismatch the .part file is deleted
and the script exits with status 1.

Options:
  -d DIR      download into DIR (default: NEMOTRON_MODEL_DIR, else
              $AI_MODELS_PATH/nemotron/<model folder> when AI_MODELS_PATH is set, else ai/nemotron)
  -h, --help  show this help

Environment:
  HF_ENDPOINT   HuggingFace base URL (https://huggingface.co)
  HF_TOKEN      access token, sent as a bearer token (none)
  NEMOTRON_4B_SHA256, NEMOTRON_30B_SHA256   expected sha256 of the files
EOF
}

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# hf_curl ARGS...: curl with the HF_TOKEN bearer header, passed in a config file so that the token
# stays off the command line.
hf_curl() {
    if [[ -n ${HF_TOKEN:-} ]]; then
        curl -K <(printf 'header = "Authorization: Bearer %s"\n' "$HF_TOKEN") "$@"
    else
        curl "$@"
    fi
}

# remote_sha256 URL: the X-Linked-Etag of URL (for files stored in LFS, their sha256).
remote_sha256() {
    hf_curl -sS -I -L --max-time 60 "$1" |
        tr -d '\r' |
        awk -F': *' 'tolower($1) == "x-linked-etag" && !found++ { gsub(/"/, "", $2); print tolower($2) }'
}

sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}

# download 4b|30b
download() {
    local key=$1 sha_var dir dest part url expected actual
    ai_select_model "$key"
    dir=${TARGET_DIR:-$(ai_model_dir "$MODEL_SUBDIR")}
    dest=$dir/$MODEL_FILE
    part=$dest.part
    url=${HF_ENDPOINT:-https://huggingface.co}/$MODEL_REPO/resolve/main/$MODEL_REMOTE_FILE
    sha_var=NEMOTRON_${key^^}_SHA256
    expected=${!sha_var:-}
    if [[ -z $expected ]]; then
        expected=$(remote_sha256 "$url") || ai_die "cannot reach $url"
    fi
    expected=${expected,,}
    [[ $expected =~ ^[0-9a-f]{64}$ ]] ||
        ai_die "no sha256 for $url (X-Linked-Etag: '$expected'); check the URL and HF_TOKEN, or set $sha_var"

    if [[ -f $dest ]]; then
        actual=$(sha256_of "$dest")
        [[ $actual == "$expected" ]] ||
            ai_die "$dest exists but its sha256 is $actual, not $expected; move it away to download it again"
        ai_log "$dest is present and verified, skipping"
        return
    fi

    mkdir -p "$dir"
    ai_log "downloading $url to $part"
    if ! hf_curl -fL --retry 3 --retry-delay 5 -C - -o "$part" "$url"; then
        # A complete .part file fails too: the server answers 416 to a range past its end.
        [[ -f $part && $(sha256_of "$part") == "$expected" ]] ||
            ai_die "download of $url failed; run again to resume from $part (delete it if this repeats)"
    fi
    actual=$(sha256_of "$part")
    if [[ $actual != "$expected" ]]; then
        rm -f "$part"
        ai_die "checksum mismatch for $MODEL_FILE: expected $expected, got $actual; deleted $part"
    fi
    mv "$part" "$dest"
    ai_log "saved and verified $dest"
}

main() {
    local models=all
    TARGET_DIR=""
    while (($#)); do
        case $1 in
            -h | --help) usage; return ;;
            -d)
                (($# >= 2)) || { usage >&2; exit 2; }
                TARGET_DIR=$2
                shift
                ;;
            4b | 30b | all) models=$1 ;;
            *) usage >&2; exit 2 ;;
        esac
        shift
    done
    command -v curl >/dev/null || ai_die "curl is required"
    if [[ $models == all ]]; then
        download 4b
        download 30b
    else
        download "$models"
    fi
}

main "$@"
