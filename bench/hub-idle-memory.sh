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
#   bench/hub-idle-memory.sh --breakdown  the hub alone, 10,000 connections upgraded only,
#                                         connected, subscribed to 1 and to 2 channels
#                                         (results in bench/results/hub-idle-breakdown/)
#
# Extra arguments go to pushwire-bench (bench/run.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=0
breakdown=0
args=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1; args+=("$arg") ;;
    --breakdown) breakdown=1 ;;
    *) args+=("$arg") ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"
if [ "$breakdown" = 1 ]; then
  n=10000
  [ "$quick" = 1 ] && n=200
  exec "$BENCH/run.sh" run "hub-idle-$n-upgraded" "hub-idle-$n-connected" "hub-idle-$n-1ch" \
    "hub-idle-$n" --peers pushwire-hub --runs "${RUNS:-1}" \
    --out "${OUT:-$BENCH/results/hub-idle-breakdown}" "$@"
fi
if [ "$quick" = 1 ]; then
  scenario=hub-idle-200
  out=${OUT:-$BENCH/results/quick/hub-idle-memory}
else
  scenario=hub-idle-10000
  out=${OUT:-$BENCH/results/hub-idle-memory}
fi
"$BENCH/run.sh" run "$scenario" --peers pushwire,pushwire-hub,bun,socket.io \
  --runs "${RUNS:-3}" --out "$out" "$@"
