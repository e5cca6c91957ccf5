#!/usr/bin/env bash
# Cross-node fan-out through the hub on Redis (issue 21), side by side with
# the single in-memory node in the same run:
#   pushwire-hub        one `pushwire serve` (in-memory engine)
#   pushwire-hub-redis  a redis-server and two `pushwire serve` nodes on it
#                       (engine.type redis), subscribers spread over both
#                       nodes, the publisher on the first node's POST /api/publish
# 15,000 subscribers of one channel at 100 and 10 publications/s of 100 B
# (quick: 200), every server process pinned to CPU 0, the generator on CPU 1;
# deliveries/s, p99 and, for the hub on Redis, Redis CPU per publication
# (redis-server's utime+stime over the window ÷ publications).
#
#   bench/hub-redis-fanout.sh             3 runs; results in bench/results/hub-redis-fanout/
#   bench/hub-redis-fanout.sh --quick     200 subscribers, a few seconds
#   RUNS=5 OUT=/tmp/x bench/hub-redis-fanout.sh
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
  scenarios=(hub-fanout-200-100ps hub-fanout-200-10ps)
  out=${OUT:-$BENCH/results/quick/hub-redis-fanout}
  runs=${RUNS:-1}
else
  scenarios=(hub-fanout-15000-100ps hub-fanout-15000-10ps)
  out=${OUT:-$BENCH/results/hub-redis-fanout}
  runs=${RUNS:-3}
fi
"$BENCH/run.sh" run "${scenarios[@]}" --peers pushwire-hub,pushwire-hub-redis \
  --runs "$runs" --out "$out" "$@"
echo
grep '^- hub on Redis' "$out/results.md" || true
