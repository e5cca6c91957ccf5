#!/usr/bin/env bash
# pushwire's load and fault drills (issue 22): slow consumers, dead peers,
# graceful restart (memory engine and Redis), slowloris.
#
#   tests/drills/run.sh --quick        the test run's form, ~90 s after the builds
#   tests/drills/run.sh                the issue's sizes (10,000 connections; minutes)
#   tests/drills/run.sh slow --subs 2000 --rate 100      one drill, options passed on
#   tests/drills/run.sh slow --channels 100 …             subscribers in rooms of ten
#   tests/drills/soak.sh [minutes]     the soak (not part of either form)
#
# Builds `pushwire` (release, the root workspace's target/) and the drills'
# own workspace (tests/drills/target/). Each drill starts its own servers
# on free loopback ports (pushwire pinned to CPU 0, the drill's clients to
# CPU 1), prints its figures, and fails when a check fails. Files (configs,
# server logs) go to $DRILLS_TMP (default: a fresh directory under /tmp).
set -euo pipefail

DRILLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DRILLS/../.." && pwd)
say() { echo "tests/drills/run.sh: $*" >&2; }

mode=full
drill=""
if [ "${1:-}" = --quick ]; then mode=quick; shift; fi
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then drill=$1; shift; fi

say "building pushwire (release)"
# shellcheck source=../../scripts/lib/release-build.sh
source "$ROOT/scripts/lib/release-build.sh"
build_pushwire_release --quiet
say "building the drills (release)"
(cd "$DRILLS" && CARGO_TARGET_DIR="$DRILLS/target" cargo build --release --quiet)

export DRILLS_PUSHWIRE="$ROOT/target/release/pushwire"
export DRILLS_TMP=${DRILLS_TMP:-$(mktemp -d /tmp/pushwire-drills.XXXXXX)}
bin="$DRILLS/target/release/pushwire-drills"

# 10,000 clients in one process, and as many sockets in the server.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 20000 ]; then ulimit -n 20000; else ulimit -n "$hard"; fi

# The Redis variant needs redis-server (Debian's; installed when missing).
export PUSHWIRE_ROOT=$ROOT
# shellcheck source=../../scripts/lib/redis.sh
source "$ROOT/scripts/lib/redis.sh"
ensure_redis_server >/dev/null || say "redis-server is missing: the Redis restart drill will fail"

# Every process a drill starts is its child (killed when the drill ends);
# this trap ends the drill itself if the script is interrupted.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

pin=()
command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ] && pin=(taskset -c 1)
[ ${#pin[@]} -gt 0 ] || export DRILLS_SERVER_CPU=""

run_drill() {
  local name=$1; shift
  say "drill: $name $*"
  "${pin[@]}" "$bin" "$name" "$@" &
  pids+=($!)
  wait $!
}

if [ -n "$drill" ]; then
  run_drill "$drill" "$@"
  exit
fi

failed=()
if [ "$mode" = quick ]; then
  run_drill slow --subs 500 --rate 200 --seconds 6 --pad 1000 --p99-ms 1000 || failed+=(slow)
  run_drill dead --clients 20 --ping 2 --pong 1 --hold 2 --session-timeout 4 || failed+=(dead)
  run_drill restart --clients 500 --rate 100 --before 2 --spread 3 || failed+=(restart)
  run_drill slowloris --connections 1000 || failed+=(slowloris)
else
  # The issue's load: 10,000 subscribers in rooms of ten, 1,000
  # publications/s (large ones, so that the non-readers reach their bound
  # within 24 s: a client that takes nothing for 30 s is dropped as gone).
  run_drill slow --subs 10000 --channels 1000 --rate 1000 --seconds 24 --pad 48000 --p99-ms 50 \
    || failed+=(slow-rooms)
  # One channel of 10,000: a round of writes to every subscriber takes
  # ~100 ms of one core here (docs/RELIABILITY.md, "Fan-out latency").
  run_drill slow --subs 10000 --rate 50 --seconds 30 --pad 500 --p99-ms 1000 || failed+=(slow)
  run_drill dead --clients 200 --ping 5 --pong 2 --hold 5 --session-timeout 10 || failed+=(dead)
  run_drill restart --clients 10000 --rate 20 --before 5 || failed+=(restart)
  run_drill slowloris --connections 10000 || failed+=(slowloris)
fi

if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]} (server logs in $DRILLS_TMP)"
  exit 1
fi
say "all drills passed ($mode)"
