#!/usr/bin/env bash
# Fan-out through the hub, side by side (issue 19): 15,000 subscribers of
# one channel, 100 (and 10) publications/s of 100 B, every subscriber gets every
# publication; deliveries/s and publish-to-receive latency of
#   pushwire-hub  `pushwire serve` (Centrifugo protocol: connect with a token,
#                 subscribe; publisher on POST /api/publish, one in flight)
#   pushwire      `pushwire echo --broadcast` (the publisher a WebSocket client)
#   bun           Bun's server.publish (uWebSockets)
#   socket.io     Socket.IO 4 rooms on Node (publisher on POST /publish)
# in the same run, interleaved, servers on CPU 0 and the generator on CPU 1;
# prints issue 19's target lines (hub ≥ 0.9× echo --broadcast and ≥ 1.0× Bun
# in deliveries/s, p99 ≤ 1.2× echo --broadcast's).
#
#   bench/hub-fanout.sh                   5 runs; results in bench/results/hub-fanout/
#   RUNS=3 OUT=/tmp/x bench/hub-fanout.sh --seconds 3
#   bench/hub-fanout.sh --quick           200 subscribers, a few seconds
#
# Extra arguments go to pushwire-bench (bench/run.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=0
for arg in "$@"; do [ "$arg" = --quick ] && quick=1; done
if [ "$quick" = 1 ]; then
  scenarios=(hub-fanout-200-100ps hub-fanout-200-10ps)
  out=${OUT:-$BENCH/results/quick/hub-fanout}
else
  scenarios=(hub-fanout-15000-100ps hub-fanout-15000-10ps)
  out=${OUT:-$BENCH/results/hub-fanout}
fi
"$BENCH/run.sh" run "${scenarios[@]}" --peers pushwire,pushwire-hub,bun,socket.io \
  --runs "${RUNS:-5}" --out "$out" "$@"
echo
grep '^- hub fan-out' "$out/results.md" || true
