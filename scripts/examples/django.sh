#!/usr/bin/env bash
# The Django example (examples/django) end to end: a real `pushwire serve`
# with the example's pushwire.json (ports and secrets adapted), Django's dev
# server (`manage.py runserver --noreload`, SQLite in a temporary file), both
# on free loopback ports, then check/e2e.py: login, the chat page and its
# token, centrifuge-python connecting with that token and over the connect
# proxy with the session cookie, a message POSTed to Django arriving through
# cent → pushwire → both clients, the RPC answered from Django's database,
# anonymous connections refused. Everything it starts is stopped on exit.
#
# Installs the example's PyPI packages (and centrifuge-python for the check)
# into examples/django/.venv on first use; builds `pushwire` unless
# PUSHWIRE_BIN names one. Then check/browser.mjs drives the chat page in
# Debian's Chromium (installed with scripts/browser's tools when missing;
# SKIP_BROWSER=1 leaves it out). Non-interactive; bounded (about 90 s once
# installed).
#
#   scripts/examples/django.sh
#   SKIP_BROWSER=1 scripts/examples/django.sh
#   PUSHWIRE_BIN=target/release/pushwire scripts/examples/django.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EX=$ROOT/examples/django
PY=$EX/.venv/bin/python

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pushwire-django.XXXXXX")
PIDS=()
cleanup() {
  local status=$? pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 ]]; then
    for log in "$WORK"/*.log; do
      [[ -f $log ]] && { echo "--- $(basename "$log") (last 40 lines)"; tail -n 40 "$log"; } >&2
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ${SKIP_BROWSER:-} != 1 ]]; then
  # shellcheck source=../lib/browser.sh
  source "$ROOT/scripts/lib/browser.sh"
  ensure_browser_tools
fi

export DJANGO_DB=$WORK/db.sqlite3
EXTRA_REQUIREMENTS=check/requirements.txt "$EX/run.sh" --setup >"$WORK/setup.log" 2>&1 || {
  echo "django.sh: setting up the example failed" >&2
  exit 1
}

if [[ -z ${PUSHWIRE_BIN:-} ]]; then
  (cd "$ROOT" && cargo build --quiet -p pushwire-cli)
  PUSHWIRE_BIN=$ROOT/target/debug/pushwire
fi
[[ -x $PUSHWIRE_BIN ]] || { echo "django.sh: $PUSHWIRE_BIN is not an executable" >&2; exit 1; }

read -r HUB_PORT DJANGO_PORT < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
HUB=http://127.0.0.1:$HUB_PORT
DJANGO=http://127.0.0.1:$DJANGO_PORT
export PUSHWIRE_URL=$HUB
PUSHWIRE_API_KEY=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
PUSHWIRE_HMAC_SECRET=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')
PUSHWIRE_PROXY_KEY=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
export PUSHWIRE_API_KEY PUSHWIRE_HMAC_SECRET PUSHWIRE_PROXY_KEY

# The example's own configuration, with this run's ports and secrets.
DJANGO_URL=$DJANGO "$PY" - "$EX/pushwire.json" "$WORK/pushwire.json" <<'PY'
import json, os, sys
config = json.load(open(sys.argv[1]))
django = os.environ["DJANGO_URL"]
config["client"]["token"]["hmac_secret_key"] = os.environ["PUSHWIRE_HMAC_SECRET"]
config["http_api"]["key"] = os.environ["PUSHWIRE_API_KEY"]
config["client"]["allowed_origins"] = [django]
config["client"]["proxy"]["connect"]["endpoint"] = django + "/centrifugo/connect"
config["rpc"]["proxy"]["endpoint"] = django + "/centrifugo/rpc"
for proxy in (config["client"]["proxy"]["connect"], config["rpc"]["proxy"]):
    proxy["static_headers"]["X-Pushwire-Proxy-Key"] = os.environ["PUSHWIRE_PROXY_KEY"]
json.dump(config, open(sys.argv[2], "w"), indent=2)
PY

"$PUSHWIRE_BIN" serve --listen "127.0.0.1:$HUB_PORT" --config "$WORK/pushwire.json" \
  </dev/null >"$WORK/pushwire.log" 2>&1 &
PIDS+=($!)
(cd "$EX" && exec "$PY" manage.py runserver --noreload "127.0.0.1:$DJANGO_PORT") \
  </dev/null >"$WORK/django.log" 2>&1 &
PIDS+=($!)

# Both up within 30 s (Django's first start compiles its modules).
deadline=$((SECONDS + 30))
until curl -sf -o /dev/null "$HUB/healthz" && curl -sf -o /dev/null "$DJANGO/accounts/login/"; do
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "django.sh: a server exited at start" >&2; exit 1; }
  done
  ((SECONDS < deadline)) || { echo "django.sh: servers not up within 30 s" >&2; exit 1; }
  sleep 0.2
done

# A check runs in the background and is waited for, so that a signal to this
# script runs the cleanup at once (bash defers traps until a foreground child ends).
run_check() {
  "$@" &
  local pid=$!
  PIDS+=("$pid")
  wait "$pid"
}

echo "django.sh: pushwire on $HUB, Django on $DJANGO"
status=0
DJANGO_URL=$DJANGO run_check timeout 80 "$PY" "$EX/check/e2e.py" || status=1
if [[ ${SKIP_BROWSER:-} != 1 ]]; then
  echo "django.sh: the chat page in Chromium"
  DJANGO_URL=$DJANGO PLAYWRIGHT_CORE=$ROOT/scripts/browser/node_modules/playwright-core/index.mjs \
    CHROMIUM_BIN=$CHROMIUM_BIN run_check timeout 90 node "$EX/check/browser.mjs" || status=1
fi
exit $status
