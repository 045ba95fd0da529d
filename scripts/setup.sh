#!/usr/bin/env bash
# Idempotent setup: a virtualenv in .venv with the pinned requirements.
# `--browser` also makes sure Debian's Chromium is there for the real-browser tests;
# `--services` starts the local PostgreSQL cluster if it is installed but down.
# `--ray` also installs requirements-ray.txt (the `ray` executor; its tests need it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi
want_browser=no; want_services=no; want_ray=no
for arg in "$@"; do
  case "$arg" in --browser) want_browser=yes ;; --services) want_services=yes ;; --ray) want_ray=yes ;; esac
done
if [ "$want_ray" = yes ]; then
  # Its own stamp over both files: a change to either re-resolves Ray's needs against our pins.
  ray_stamp=.venv/.requirements-ray.sha
  want=$(cat requirements.txt requirements-ray.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$ray_stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install -q -r requirements.txt -r requirements-ray.txt
    echo "$want" > "$ray_stamp"
  fi
fi
if [ "$want_browser" = yes ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: /usr/bin/chromium missing; real-browser tests will skip (sudo apt-get install chromium)" >&2
  fi
fi
if [ "$want_services" = yes ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  if ! .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
