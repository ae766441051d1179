#!/usr/bin/env bash
# What the image runs (deploy/Dockerfile); it works the same from a checkout without Docker.
#
#   serve        the app on port 8501 (LESSON1_PORT). With LESSON1_BACKEND=ray and LESSON1_RAY_START_HEAD=1 it
#                first starts a Ray head on this machine (that trains nothing: LESSON1_RAY_HEAD_ARGS) and
#                connects to it; GPU machines join it with `ray-worker`.
#   ray-worker   a Ray worker node joining the head at LESSON1_RAY_ADDRESS (host:6379), with this machine's GPUs
#   health       exits 0 when the app answers on /_stcore/health
#   anything else is run as given (bash, python ...)
#
# Every mode that trains or serves checks first that the run store (LESSON1_RUNS_DIR) is there and writable.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${LESSON1_PYTHON:-python}
PORT=${LESSON1_PORT:-8501}
RUNS=${LESSON1_RUNS_DIR:-runs}

fail() { echo "lesson1: $*" >&2; exit 78; }   # 78: a configuration error (sysexits.h)

check_run_store() {
    mkdir -p "$RUNS" 2>/dev/null || true
    [ -d "$RUNS" ] && [ -w "$RUNS" ] && [ -x "$RUNS" ] ||
        fail "the run store $RUNS is missing or not writable by $(id -un) (uid $(id -u)); mount a volume there" \
             "that this user can write (docs/DEPLOY.md)."
}

check_ray_token() {      # Ray 2.60's token authentication: without it anyone on the network could run code
    [ "${RAY_AUTH_MODE:-}" = disabled ] || [ -n "${RAY_AUTH_TOKEN:-}" ] || [ -n "${RAY_AUTH_TOKEN_PATH:-}" ] ||
        [ -f "$HOME/.ray/auth_token" ] ||
        fail "set RAY_AUTH_TOKEN to the cluster's secret, the same on every machine (docs/DEPLOY.md)."
}

case "${1:-serve}" in
serve)
    check_run_store
    if [ "${LESSON1_BACKEND:-local}" = ray ] && [ "${LESSON1_RAY_START_HEAD:-0}" = 1 ]; then
        check_ray_token
        # shellcheck disable=SC2086  # the head's arguments are words on purpose
        ray start --head --port="${LESSON1_RAY_PORT:-6379}" --dashboard-host=127.0.0.1 --disable-usage-stats \
            ${LESSON1_RAY_HEAD_ARGS:---num-cpus=0 --num-gpus=0}
        export LESSON1_RAY_ADDRESS=auto
    fi
    exec "$PYTHON" -m streamlit run streamlit_app.py --server.address 0.0.0.0 --server.port "$PORT"
    ;;
ray-worker)
    [ -n "${LESSON1_RAY_ADDRESS:-}" ] || fail "set LESSON1_RAY_ADDRESS to the Ray head's host:6379."
    check_ray_token
    check_run_store
    [ -d "$RUNS/.executors" ] ||
        echo "lesson1: warning: $RUNS has never been used by a Lesson 1 server; is the shared run store" \
             "mounted here? Runs sent to this node fail until it is." >&2
    # shellcheck disable=SC2086
    exec ray start --address="$LESSON1_RAY_ADDRESS" --block --disable-usage-stats ${LESSON1_RAY_WORKER_ARGS:-}
    ;;
health)
    exec "$PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/_stcore/health', timeout=4)"
    ;;
*)
    exec "$@"
    ;;
esac
