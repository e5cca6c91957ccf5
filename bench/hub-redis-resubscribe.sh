#!/usr/bin/env bash
# Resubscribe time of the hub on Redis (issue 21): 10,000 subscribers of
# 1,000 channels with history (namespace `hist`) on node A of
# pushwire-hub-redis (a redis-server and two nodes, all on CPU 0), node B
# publishing a round into every channel every 250 ms through
# POST /api/batch; then node A's pub/sub connection to Redis is killed
# (CLIENT KILL ID over RESP, the connection found by matching CLIENT LIST TYPE pubsub
# with node A's sockets). Measured: the time until every subscriber is
# subscribed again and receiving (what the hub does is followed: an
# unsubscribe 2500 answered by a subscribe with recovery, as centrifuge-js
# does), per-subscriber p50/p99, and the publications lost (checked by
# offset against what the API answered: must be 0, else the run fails).
# A fresh group per run.
#
#   bench/hub-redis-resubscribe.sh          10,000 × 1,000, 1 run; results in bench/results/hub-redis-resubscribe/
#   bench/hub-redis-resubscribe.sh --quick  200 × 20, a few seconds
#   RUNS=3 bench/hub-redis-resubscribe.sh
#
# Extra arguments go to pushwire-bench (bench/run.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hub-redis-lib.sh
source "$BENCH/hub-redis-lib.sh"
need_redis_server
quick=0
for arg in "$@"; do [ "$arg" = --quick ] && quick=1; done
if [ "$quick" = 1 ]; then
  scenario=hub-redis-resubscribe-200x20
  out=${OUT:-$BENCH/results/quick/hub-redis-resubscribe}
else
  scenario=hub-redis-resubscribe-10000x1000
  out=${OUT:-$BENCH/results/hub-redis-resubscribe}
fi
exec "$BENCH/run.sh" run "$scenario" --peers pushwire-hub-redis --runs "${RUNS:-1}" --out "$out" "$@"
