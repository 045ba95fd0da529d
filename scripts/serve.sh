#!/usr/bin/env bash
# Serve the dashboard with hardened settings (README, "Login and roles"):
#   ADDRESS=0.0.0.0 PORT=8501 RUNBOARD_AUTH=accounts scripts/serve.sh
# ADDRESS (default 127.0.0.1) and PORT (default 8501) say where to listen. A non-loopback ADDRESS
# is refused while RUNBOARD_AUTH is off: with no login, anyone who reaches the port could launch.
# ALLOWED_HOSTS (space-separated; default: this host's names, localhost and ADDRESS) limits the
# Host names Streamlit accepts on its WebSocket (DNS-rebinding protection).
# Extra arguments are passed to `streamlit run` (e.g. --server.sslCertFile ...).
set -euo pipefail
cd "$(dirname "$0")/.."
ADDRESS=${ADDRESS:-127.0.0.1}
PORT=${PORT:-8501}
AUTH=$(printf '%s' "${RUNBOARD_AUTH:-off}" | tr '[:upper:]' '[:lower:]')
PY=${PYTHON:-.venv/bin/python}

case "$ADDRESS" in
  127.*|localhost|::1|'[::1]') loopback=yes ;;
  *) loopback=no ;;
esac
case "$AUTH" in
  off)
    if [ "$loopback" = no ]; then
      echo "serve.sh: refusing to serve $ADDRESS with RUNBOARD_AUTH=off (no login)." >&2
      echo "  Set RUNBOARD_AUTH=accounts (python -m dashboard.accounts add NAME --role launcher) or oidc." >&2
      exit 2
    fi ;;
  accounts)
    if ! "$PY" -m dashboard.accounts list | grep -q .; then
      echo "serve.sh: RUNBOARD_AUTH=accounts but no accounts yet: python -m dashboard.accounts add NAME --role launcher" >&2
      exit 2
    fi ;;
  oidc)
    if ! grep -qs '^\[auth' .streamlit/secrets.toml; then
      echo "serve.sh: RUNBOARD_AUTH=oidc needs an [auth] section in .streamlit/secrets.toml (see README)." >&2
      exit 2
    fi ;;
  *)
    echo "serve.sh: RUNBOARD_AUTH must be off, accounts or oidc (got '$AUTH')." >&2
    exit 2 ;;
esac
export RUNBOARD_AUTH="$AUTH"

if [ -z "${ALLOWED_HOSTS:-}" ]; then
  ALLOWED_HOSTS="localhost 127.0.0.1 $(hostname 2>/dev/null || true) $(hostname -f 2>/dev/null || true)"
  case "$ADDRESS" in 0.0.0.0|::|'[::]') ;; *) ALLOWED_HOSTS="$ALLOWED_HOSTS $ADDRESS" ;; esac
fi
host_args=()
for h in $(printf '%s\n' $ALLOWED_HOSTS | sort -u); do host_args+=(--server.allowedHosts "$h"); done

exec "$PY" -m dashboard \
  --server.address "$ADDRESS" --server.port "$PORT" --server.headless true \
  --server.enableXsrfProtection true --server.enableCORS true \
  "${host_args[@]}" \
  --browser.gatherUsageStats false \
  --client.showErrorDetails none --client.toolbarMode minimal \
  --server.fileWatcherType none --server.runOnSave false \
  "$@"
