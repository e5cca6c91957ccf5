#!/usr/bin/env bash
# The hub's publish API rate (issue 19): publications/s into a channel with
# history (100 kept, 300 s, recovery forced) through POST /api/publish (one
# publication per request) and POST /api/batch (100 per request), 50
# keep-alive HTTP/1.1 connections with one request in flight each, and
# POST /api/publish with 16 in flight each (HTTP/1.1 pipelining), 100 B of
# data, no subscribers; `pushwire serve` pinned to one core (CPU 0), the
# generator on CPU 1. Target: >= 100,000 publications/s through /api/publish.
# Beside it, Bun's minimal publish API (peers/node/bun-api.js): the same
# requests and answers on the fastest HTTP server here, the floor of the job.
#
#   bench/hub-publish-api.sh              5 runs; results in bench/results/hub-api/
#   bench/hub-publish-api.sh --quick      a few seconds
#
# Extra arguments go to pushwire-bench (bench/run.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=0
for arg in "$@"; do [ "$arg" = --quick ] && quick=1; done
if [ "$quick" = 1 ]; then
  out=${OUT:-$BENCH/results/quick/hub-api}
else
  out=${OUT:-$BENCH/results/hub-api}
fi
"$BENCH/run.sh" run hub-api-publish hub-api-batch-100 hub-api-publish-pipelined16 --peers pushwire-hub,bun \
  --runs "${RUNS:-5}" --out "$out" "$@"
