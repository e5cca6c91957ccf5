#!/usr/bin/env bash
# The publish API of the hub on Redis with history on (issue 21), beside the
# in-memory engine in the same run: publications/s into `hist:bench`
# (history 100, 300 s, recovery forced) through POST /api/publish (one per
# request) and POST /api/batch (100 per request), 50 keep-alive HTTP/1.1
# connections with one request in flight each, 100 B of data, no
# subscribers, all to one node (per node); pushwire-hub-redis is a
# redis-server and two nodes, all on CPU 0, the generator on CPU 1. The
# metrics add the node's and Redis's CPU µs per publication. For reference
# only: Centrifugo publishes ~9.7 µs per publish-with-history on its Redis
# engine (its own figure, another machine).
#
#   bench/hub-redis-publish-api.sh          3 runs; results in bench/results/hub-redis-api/
#   bench/hub-redis-publish-api.sh --quick  a few seconds
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
  out=${OUT:-$BENCH/results/quick/hub-redis-api}
  runs=${RUNS:-1}
else
  out=${OUT:-$BENCH/results/hub-redis-api}
  runs=${RUNS:-3}
fi
"$BENCH/run.sh" run hub-api-publish hub-api-batch-100 --peers pushwire-hub,pushwire-hub-redis \
  --runs "$runs" --out "$out" "$@"
echo
grep '^- hub on Redis' "$out/results.md" || true
