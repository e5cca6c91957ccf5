#!/usr/bin/env bash
# The hub's recovery storm (issue 19): 10,000 hub clients, subscribed to one
# channel with history (namespace `storm`: 1,000 publications, 300 s,
# recovery forced), leave cleanly; 100 publications of 100 B go in through
# POST /api/batch; then all reconnect at once, each sending connect +
# subscribe with `recover:true`, its offset and epoch in one frame. Measured:
# the time until every client has `recovered:true` and its 100 missed
# publications (checked by offset: in order, none missing, none twice; a
# failure is an error of the run), per-client p50/p99, the server's peak RSS
# over its baseline (sampled every 5 ms and VmHWM), its CPU time. Then the
# same with at most 100 clients reconnecting at a time (`-paced`: under the
# server's listen backlog of 128, so no SYN waits to be sent again). The hub
# alone; a fresh server per run.
#
#   bench/hub-recovery-storm.sh           10,000 clients, 3 runs; results in bench/results/hub-recovery/
#   bench/hub-recovery-storm.sh --quick   200 clients, 1 run; results in bench/results/quick/hub-recovery/
#
# RUNS=1 for one run; extra arguments go to pushwire-bench (bench/run.sh).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=0
for arg in "$@"; do
  if [ "$arg" = --quick ]; then quick=1; fi
done
if [ "$quick" = 1 ]; then
  scenarios=(hub-recovery-storm-200 hub-recovery-storm-200-paced)
  out=${OUT:-$BENCH/results/quick/hub-recovery}
  runs=${RUNS:-1}
else
  scenarios=(hub-recovery-storm-10000 hub-recovery-storm-10000-paced)
  out=${OUT:-$BENCH/results/hub-recovery}
  runs=${RUNS:-3}
fi
exec "$BENCH/run.sh" run "${scenarios[@]}" --peers pushwire-hub --runs "$runs" --out "$out" "$@"
