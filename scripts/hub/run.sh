#!/usr/bin/env bash
# The hub against SDKs nobody here wrote: unmodified centrifuge-js (npm
# `centrifuge`) in Node's test runner, and `cent` 5.x plus centrifuge-python
# (PyPI) under pytest, each driving a real `pushwire serve`; and pushwire's
# own client, pushwire.js (clients/js): its unit tests, then
# pushwire-js.test.mjs against the server.
#
# Installs what is missing (npm ci into scripts/hub/node_modules from the
# committed lock file; a venv at scripts/hub/.venv from requirements.txt),
# builds `pushwire` unless PUSHWIRE_BIN names one, then runs both suites.
#
#   scripts/hub/run.sh
#   PUSHWIRE_BIN=target/release/pushwire scripts/hub/run.sh
#   HUB_SUITE=node scripts/hub/run.sh        only the Node tests (or: python)
#   scripts/hub/run.sh --test-name-pattern=recover   (extra args go to node --test)
#   PYTEST_ARGS="-k cent -x" scripts/hub/run.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/apt.sh
source "$ROOT/scripts/lib/apt.sh"
# shellcheck source=../lib/python-venv.sh
source "$ROOT/scripts/lib/python-venv.sh"
SUITE=${HUB_SUITE:-all}

ensure_node_modules() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm || {
    echo "hub/run.sh: node/npm not found and could not be installed" >&2
    return 1
  }
  local stamp=$HERE/node_modules/.package-lock.json
  # npm writes node_modules/.package-lock.json on install; it is stale when the
  # committed lock file changed after it.
  if [[ -f $stamp && -d $HERE/node_modules/centrifuge && -d $HERE/node_modules/ws &&
    ! $HERE/package-lock.json -nt $stamp ]]; then
    return 0
  fi
  echo "hub/run.sh: npm ci in scripts/hub" >&2
  local out
  out=$(mktemp)
  (cd "$HERE" && CI=true npm ci --no-audit --no-fund --loglevel=error) >"$out" 2>&1 </dev/null || {
    cat "$out" >&2
    rm -f "$out"
    echo "hub/run.sh: npm ci failed" >&2
    return 1
  }
  rm -f "$out"
  touch "$stamp"
}

ensure_venv() {
  local venv=$HERE/.venv
  local want stamp=$venv/.requirements.sha256
  want=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
  if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return 0
  fi
  _pyvenv_create "$venv" || return 1
  echo "hub/run.sh: pip install -r scripts/hub/requirements.txt" >&2
  local out
  out=$(mktemp)
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1 \
    "$venv/bin/python" -m pip install --quiet -r "$HERE/requirements.txt" >"$out" 2>&1 </dev/null || {
    cat "$out" >&2
    rm -f "$out"
    echo "hub/run.sh: pip install failed" >&2
    return 1
  }
  rm -f "$out"
  echo "$want" >"$stamp"
}

[[ $SUITE == python ]] || ensure_node_modules
[[ $SUITE == node ]] || ensure_venv

if [[ -z ${PUSHWIRE_BIN:-} ]]; then
  (cd "$ROOT" && cargo build --quiet -p pushwire-cli)
  PUSHWIRE_BIN="$ROOT/target/debug/pushwire"
fi
# The tests resolve PUSHWIRE_BIN from their own directory; hand them an absolute path.
PUSHWIRE_BIN=$(realpath "$PUSHWIRE_BIN")
[[ -x $PUSHWIRE_BIN ]] || { echo "hub/run.sh: $PUSHWIRE_BIN is not an executable" >&2; exit 1; }
export PUSHWIRE_BIN

cd "$HERE"
status=0
if [[ $SUITE != python ]]; then
  echo "==> pushwire.js unit tests (clients/js/test) in node $(node --version)"
  (cd "$ROOT/clients/js" && node --test --test-timeout=60000 test/) || status=1
  echo "==> centrifuge-js $(node -p 'require("./node_modules/centrifuge/package.json").version') and pushwire.js against pushwire serve"
  node --test --test-concurrency=1 --test-timeout=60000 "$@" ./*.test.mjs || status=1
fi
if [[ $SUITE != node ]]; then
  echo "==> cent and centrifuge-python under pytest"
  # shellcheck disable=SC2086  # PYTEST_ARGS is a list of words on purpose
  "$HERE/.venv/bin/python" -m pytest -p no:cacheprovider --timeout=60 ${PYTEST_ARGS:-} python || status=1
fi
exit $status
