#!/usr/bin/env bash
# The many-nodes drills: `pushwire serve` nodes sharing real redis-server
# processes, driven by unmodified centrifuge-js (npm `centrifuge`) in Node's
# test runner. Each test file starts its own Redis (one server, or a
# three-master Redis Cluster) on free loopback ports without persistence,
# its own nodes, and stops them after:
#
#   two-nodes.test.mjs      1,000 publications through B's API, received on A
#                           in order, once each; presence from either node
#   failover.test.mjs       node A killed (SIGKILL) under ~1,000 publications/s
#                           through B: the client fails over to B and recovers
#                           every publication exactly once, in order
#   redis-outage.test.mjs   Redis killed, restarted empty (recovered: false),
#                           frozen (error 100 within the io_timeout)
#   cluster.test.mjs        drill 1 on a three-master cluster, sharded pub/sub
#   shards.test.mjs         channels spread over two redis-servers (address list)
#   emulation.test.mjs      http_stream/sse on A, /emulation POSTs to B
#   long-poll.test.mjs      a long-poll session on A, polled and closed through B
#   nodes.test.mjs          info and channels through either node cover both;
#                           B killed: channels answers within its bound, info
#                           drops B after the liveness window
#
# Installs what is missing (Debian's redis-server and redis-cli; npm ci in
# scripts/hub, whose harness and node_modules these tests import), builds
# `pushwire` unless PUSHWIRE_BIN names one, runs the files one at a time and
# prints the figures each drill saw. Every process it started is stopped on
# exit, ctrl-c or SIGTERM.
#
#   scripts/redis/run.sh
#   PUSHWIRE_BIN=target/release/pushwire scripts/redis/run.sh
#   scripts/redis/run.sh failover.test.mjs        only some files
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HUB=$ROOT/scripts/hub
# shellcheck source=../lib/apt.sh
source "$ROOT/scripts/lib/apt.sh"

if [[ -f $ROOT/scripts/lib/redis.sh ]]; then
  # shellcheck source=/dev/null
  source "$ROOT/scripts/lib/redis.sh"
else
  # The same as scripts/lib/redis.sh's, for a tree that does not have it yet.
  ensure_redis_server() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
    apt_install redis-server
  }
fi

ensure_hub_node_modules() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm || {
    echo "redis/run.sh: node/npm not found and could not be installed" >&2
    return 1
  }
  local stamp=$HUB/node_modules/.package-lock.json
  if [[ -f $stamp && -d $HUB/node_modules/centrifuge && -d $HUB/node_modules/ws &&
    -d $HUB/node_modules/eventsource && ! $HUB/package-lock.json -nt $stamp ]]; then
    return 0
  fi
  echo "redis/run.sh: npm ci in scripts/hub" >&2
  local out
  out=$(mktemp)
  (cd "$HUB" && CI=true npm ci --no-audit --no-fund --loglevel=error) >"$out" 2>&1 </dev/null || {
    cat "$out" >&2
    rm -f "$out"
    echo "redis/run.sh: npm ci failed" >&2
    return 1
  }
  rm -f "$out"
  touch "$stamp"
}

ensure_redis_server
ensure_hub_node_modules

if [[ -z ${PUSHWIRE_BIN:-} ]]; then
  (cd "$ROOT" && cargo build --quiet -p pushwire-cli)
  PUSHWIRE_BIN="$ROOT/target/debug/pushwire"
fi
PUSHWIRE_BIN=$(realpath "$PUSHWIRE_BIN")
[[ -x $PUSHWIRE_BIN ]] || { echo "redis/run.sh: $PUSHWIRE_BIN is not an executable" >&2; exit 1; }
export PUSHWIRE_BIN

# Redis' working directories, pushwire's configs (the hub harness writes
# them under the test process's TMPDIR) and the TAP copy live here.
DRILLS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pushwire-redis-drills.XXXXXX")
export DRILLS_TMP

# The test runner runs in a process group of its own (job control on), so
# that whatever it started — redis-server, pushwire — goes with it when
# this script is interrupted.
set -m
runner=
cleanup() {
  local status=$?
  if [[ -n $runner ]] && kill -0 "$runner" 2>/dev/null; then
    kill -TERM -- "-$runner" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$runner" 2>/dev/null || true
  fi
  rm -rf "$DRILLS_TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$HERE"
files=("$@")
[[ ${#files[@]} -gt 0 ]] || files=(two-nodes.test.mjs failover.test.mjs redis-outage.test.mjs cluster.test.mjs shards.test.mjs emulation.test.mjs long-poll.test.mjs nodes.test.mjs)
echo "==> many nodes on $(redis-server --version | cut -d' ' -f1-3): centrifuge-js $(node -p "require('$HUB/node_modules/centrifuge/package.json').version") against pushwire serve"
TMPDIR=$DRILLS_TMP node --test --test-concurrency=1 --test-timeout=90000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$DRILLS_TMP/report.tap" \
  "${files[@]}" &
runner=$!
status=0
wait "$runner" || status=$?
runner=
echo "==> figures"
grep -o 'figure: .*' "$DRILLS_TMP/report.tap" | sed 's/^figure: /  /' || true
exit $status
