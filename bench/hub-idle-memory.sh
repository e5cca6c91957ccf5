#!/usr/bin/env bash
# Memory per idle hub connection (issue 19): server RSS growth over 10,000
# hub connections, each authenticated with a token (HS256), subscribed to two
# channels, server pings on (every 25 s; the clients answer), divided by N:
# once all are subscribed ("idle"), and after every one got a ping and
# answered it ("after ping B/conn"). Side by side: bare WebSocket connections
# of `pushwire echo --broadcast` and Bun, and Socket.IO connections in a room.
# A fresh server per run. Target: <= 2 KiB per hub connection.
#
#   bench/hub-idle-memory.sh              3 runs; results in bench/results/hub-idle-memory/
#   bench/hub-idle-memory.sh --quick      200 connections, no ping wait
#
# Extra arguments go to pushwire-bench (bench/run.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=0
for arg in "$@"; do [ "$arg" = --quick ] && quick=1; done
if [ "$quick" = 1 ]; then
  scenario=hub-idle-200
  out=${OUT:-$BENCH/results/quick/hub-idle-memory}
else
  scenario=hub-idle-10000
  out=${OUT:-$BENCH/results/hub-idle-memory}
fi
"$BENCH/run.sh" run "$scenario" --peers pushwire,pushwire-hub,bun,socket.io \
  --runs "${RUNS:-3}" --out "$out" "$@"
