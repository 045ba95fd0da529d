#!/usr/bin/env bash
# The team stack on this machine, to try team mode out:
#   PostgreSQL database  ->  mlflow server (artifacts stored and served over HTTP)  ->  dashboard
#   (scripts/serve.sh, login on)
# Usage: scripts/team.sh up | status | down
#
# Settings (env; defaults in brackets):
#   PGHOST PGPORT PGUSER  the PostgreSQL server [127.0.0.1 5432 postgres] (libpq's own names, so a
#                         password comes from ~/.pgpass or PGPASSWORD and never appears in a URI)
#   TEAM_DB               the database, created if missing [runboard]
#   MLFLOW_PORT PORT      mlflow server's and the dashboard's ports [5000 8501]
#   ADDRESS               where both listen [127.0.0.1]; 0.0.0.0 serves the network
#   TEAM_DIR              pids, logs, served artifacts and the account file [mlruns/team]
#   RUNBOARD_ACCOUNTS     the dashboard's account file [$TEAM_DIR/accounts.toml]; with no account
#                         yet, `up` creates the launcher "admin" with a random password (in $TEAM_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
TEAM_DB="${TEAM_DB:-runboard}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}" PORT="${PORT:-8501}" ADDRESS="${ADDRESS:-127.0.0.1}"
TEAM_DIR="$(realpath -m "${TEAM_DIR:-mlruns/team}")"
export RUNBOARD_ACCOUNTS="$(realpath -m "${RUNBOARD_ACCOUNTS:-$TEAM_DIR/accounts.toml}")"
PY=.venv/bin/python
MLFLOW='mlflow server' DASHBOARD='serve\.sh|streamlit|-m dashboard'  # what their command lines contain
STORE="postgresql+psycopg://$PGUSER@$PGHOST:$PGPORT/$TEAM_DB"
# How this machine reaches both servers: the dashboard talks to mlflow locally, whatever ADDRESS is.
if [ "$ADDRESS" = 0.0.0.0 ]; then HERE=127.0.0.1; else HERE=$ADDRESS; fi
LOCAL_SERVER="http://$HERE:$MLFLOW_PORT"

public_host() {  # the name teammates use to reach this machine
  if [ "$ADDRESS" = 0.0.0.0 ]; then hostname -f 2>/dev/null || hostname; else echo "$ADDRESS"; fi
}

# NAME PATTERN: pid of a component we started, if that pid still runs a command matching PATTERN
# (a recycled pid is someone else's process and must never be signalled).
pid_of() {
  local pidfile="$TEAM_DIR/$1.pid" pid cmd
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd =~ $2 ]] || return 1
  echo "$pid"
}

# mlflow server answers only Host headers it allows (DNS rebinding): by default localhost and private
# IPs. Served on the network, teammates may use this machine's name; the dashboard still uses
# 127.0.0.1. MLFLOW_SERVER_ALLOWED_HOSTS (mlflow's own variable) overrides.
allowed_hosts() {
  [ "$ADDRESS" != 127.0.0.1 ] && [ -z "${MLFLOW_SERVER_ALLOWED_HOSTS:-}" ] || return 0
  local private='10.*,192.168.*,172.1[6-9].*,172.2[0-9].*,172.3[01].*'
  echo "$(public_host):$MLFLOW_PORT,$(public_host),localhost:*,127.0.0.1:*,$private"
}

answers() {  # URL -> exit 0 if it answers 200
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
}

wait_for() {  # NAME MARKER URL: until URL answers (a first start migrates the database: minutes
  # on a busy machine), or fail with the log's tail
  local deadline=$((SECONDS + 300))
  while [ "$SECONDS" -lt "$deadline" ]; do
    answers "$3" && return 0
    if ! pid_of "$1" "$2" >/dev/null; then
      echo "team: $1 exited; last lines of $TEAM_DIR/$1.log:" >&2; tail -n 30 "$TEAM_DIR/$1.log" >&2; return 1
    fi
    sleep 0.5
  done
  echo "team: $1 not answering at $3 after 300 s; see $TEAM_DIR/$1.log" >&2; return 1
}

start() {  # NAME COMMAND...: in its own session (so `down` stops exactly its process group)
  local name=$1; shift
  setsid "$@" > "$TEAM_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$TEAM_DIR/$name.pid"
}

create_db() {
  "$PY" - "$TEAM_DB" <<'PY'
import sys
import psycopg
from psycopg import sql

name = sys.argv[1]
with psycopg.connect(dbname="postgres", autocommit=True) as con:  # PGHOST/PGPORT/PGUSER from env
    if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"team: created database {name}")
PY
}

ensure_login() {  # login is on: without an account nobody could get in (and serve.sh refuses)
  [ -n "$("$PY" -m dashboard.accounts list)" ] && return 0
  local pwfile="$TEAM_DIR/admin.password"
  (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$pwfile")
  "$PY" -m dashboard.accounts add admin --role launcher --password-stdin < "$pwfile" > /dev/null
  echo "team: created the login 'admin' (launcher); its password is in $pwfile"
}

up() {
  bash scripts/setup.sh --services  # .venv, and the local PostgreSQL cluster if it is down
  [ -f scripts/serve.sh ] || { echo "team: scripts/serve.sh is missing (it serves the dashboard with login)" >&2; exit 1; }
  mkdir -p "$TEAM_DIR/artifacts"
  create_db
  if ! pid_of mlflow "$MLFLOW" >/dev/null; then
    local hosts; hosts=$(allowed_hosts)
    # Served artifacts: trainers upload checkpoints over HTTP, nobody needs a shared disk.
    start mlflow .venv/bin/mlflow server --backend-store-uri "$STORE" \
      --serve-artifacts --artifacts-destination "$TEAM_DIR/artifacts" \
      --host "$ADDRESS" --port "$MLFLOW_PORT" --workers "${MLFLOW_WORKERS:-2}" ${hosts:+--allowed-hosts "$hosts"}
  fi
  wait_for mlflow "$MLFLOW" "$LOCAL_SERVER/health"
  ensure_login
  if ! pid_of dashboard "$DASHBOARD" >/dev/null; then
    MLFLOW_TRACKING_URI="$LOCAL_SERVER" RUNBOARD_AUTH=accounts ADDRESS="$ADDRESS" PORT="$PORT" \
      start dashboard bash scripts/serve.sh
  fi
  wait_for dashboard "$DASHBOARD" "http://$HERE:$PORT/_stcore/health"
  local host; host=$(public_host)
  cat <<EOF
team stack up (pids and logs in $TEAM_DIR)
  store      $STORE
  mlflow     http://$host:$MLFLOW_PORT   artifacts in $TEAM_DIR/artifacts, served over HTTP
  dashboard  http://$host:$PORT   login on, accounts in $RUNBOARD_ACCOUNTS
Add a login (viewer or launcher; it asks for the password):
  RUNBOARD_ACCOUNTS=$RUNBOARD_ACCOUNTS $PY -m dashboard.accounts add NAME --role viewer
Train into it, from this machine or a teammate's clone:
  MLFLOW_TRACKING_URI=http://$host:$MLFLOW_PORT .venv/bin/python -m trainers.train mlp --set max_epochs=2
Stop: scripts/team.sh down (the database and the artifacts stay)
EOF
}

status() {
  local ok=0 pid
  if pid=$(pid_of mlflow "$MLFLOW") && answers "$LOCAL_SERVER/health"; then
    echo "mlflow     up (pid $pid)  http://$(public_host):$MLFLOW_PORT  store $STORE"
  else echo "mlflow     down"; ok=3; fi
  if pid=$(pid_of dashboard "$DASHBOARD") && answers "http://$HERE:$PORT/_stcore/health"; then
    echo "dashboard  up (pid $pid)  http://$(public_host):$PORT"
  else echo "dashboard  down"; ok=3; fi
  return $ok
}

stop_one() {  # NAME MARKER: SIGTERM its process group, SIGKILL after 20 s
  local pid
  pid=$(pid_of "$1" "$2") || { rm -f "$TEAM_DIR/$1.pid"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$TEAM_DIR/$1.pid"
  echo "team: stopped $1"
}

down() {
  stop_one dashboard "$DASHBOARD"
  stop_one mlflow "$MLFLOW"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  *) echo "usage: scripts/team.sh up | status | down" >&2; exit 2 ;;
esac
