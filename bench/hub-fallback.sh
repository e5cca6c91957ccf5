#!/usr/bin/env bash
# The hub's fallback transports beside its WebSocket (issue 20, "Numbers"):
# the same hub (`pushwire serve`), clients authenticated with the bench's
# token, one scenario per transport — WebSocket, HTTP streaming
# (POST /connection/http_stream), SSE (GET /connection/sse?cf_connect=…) and
# long polling (POST /connection/long_poll, held polls with a cursor); the
# emulation transports post their later commands (subscribes, pongs) to
# POST /emulation. Browser-sized request heads. In one run:
#   idle memory   server RSS growth per session, 10,000 sessions subscribed to
#                 2 channels (long polling: the session between polls plus the
#                 poll it holds); a fresh server per run
#   fan-out       1,000 and 10,000 subscribers of one channel, 10 and 100
#                 publications/s of 100 B through POST /api/publish;
#                 deliveries/s, p50/p99 publish-to-receive latency
#   bytes         bytes the subscribers' sockets read and wrote per delivered
#                 message (HTTP heads of polls and /emulation posts included),
#                 1,000 subscribers at 10 publications/s
# Servers on CPU 0, the generator on CPU 1; the fallbacks run on a fresh
# server each time (a long-poll session outlives its client by 50 s).
#
#   bench/hub-fallback.sh                 3 runs; results in bench/results/hub-fallback/
#   RUNS=1 OUT=/tmp/x bench/hub-fallback.sh --seconds 3
#   bench/hub-fallback.sh --quick         200 sessions, 50 and 200 subscribers, 1 run (about a minute)
#
# Extra arguments go to pushwire-bench (bench/run.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=0
for arg in "$@"; do [ "$arg" = --quick ] && quick=1; done
if [ "$quick" = 1 ]; then
  idle=200 few=50 many=200 runs=${RUNS:-1}
  out=${OUT:-$BENCH/results/quick/hub-fallback}
else
  idle=10000 few=1000 many=10000 runs=${RUNS:-3}
  out=${OUT:-$BENCH/results/hub-fallback}
fi
transports=(ws http-stream sse long-poll)
scenarios=()
for t in "${transports[@]}"; do scenarios+=("hub-fallback-idle-$idle-$t"); done
for n in "$few" "$many"; do
  for rate in 10 100; do
    for t in "${transports[@]}"; do scenarios+=("hub-fallback-$n-${rate}ps-$t"); done
  done
done
for t in "${transports[@]}"; do scenarios+=("hub-fallback-bytes-$few-10ps-$t"); done
"$BENCH/run.sh" run "${scenarios[@]}" --peers pushwire-hub --runs "$runs" --out "$out" "$@"
