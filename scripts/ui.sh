#!/usr/bin/env bash
# make ui / make ui-stop: a local Prefect server (127.0.0.1 only, SQLite under
# artifacts/prefect) and a process serving the corpus flow as a deployment.
set -euo pipefail
VENV=${VENV:-.venv}
PORT=${PREFECT_PORT:-4200}
HOME_DIR=${PREFECT_UI_HOME:-artifacts/prefect}
mkdir -p "$HOME_DIR"
HOME_DIR=$(cd "$HOME_DIR" && pwd)
URL="http://127.0.0.1:$PORT"

stop() {
  for name in serve server; do
    if [ -f "$HOME_DIR/$name.pid" ]; then
      kill "$(cat "$HOME_DIR/$name.pid")" 2>/dev/null || true
      rm -f "$HOME_DIR/$name.pid"
    fi
  done
  rm -f "$HOME_DIR/api-url"
  echo "Prefect UI stopped"
}

start() {
  if [ -f "$HOME_DIR/api-url" ] && curl -fs "$(cat "$HOME_DIR/api-url")/health" >/dev/null 2>&1; then
    echo "Prefect UI already running: $URL"; return 0
  fi
  export PREFECT_HOME="$HOME_DIR" PREFECT_SERVER_ANALYTICS_ENABLED=false
  setsid "$VENV/bin/prefect" server start --host 127.0.0.1 --port "$PORT" \
    >"$HOME_DIR/server.log" 2>&1 < /dev/null &
  echo $! > "$HOME_DIR/server.pid"
  for _ in $(seq 1 120); do
    curl -fs "$URL/api/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "$URL/api/health" >/dev/null || { echo "error: Prefect server did not start; see $HOME_DIR/server.log" >&2; stop; exit 2; }
  echo "$URL/api" > "$HOME_DIR/api-url"
  PREFECT_API_URL="$URL/api" setsid "$VENV/bin/python" -m pipelines.serve \
    >"$HOME_DIR/serve.log" 2>&1 < /dev/null &
  echo $! > "$HOME_DIR/serve.pid"
  echo "Prefect UI: $URL  (make corpus runs appear there; 'make ui-stop' stops it)"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
