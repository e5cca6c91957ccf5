#!/usr/bin/env bash
# Profiles one peer's server under one scenario of the harness: runs
# `pushwire-bench run SCENARIO --peers PEER` in the background, finds the
# server it started (pinned to CPU 0) and attaches a profiler to it.
#
#   bench/profile.sh perf   [PEER] [SCENARIO]   perf record (cpu-clock, call graphs), then a report
#   bench/profile.sh strace [PEER] [SCENARIO]   syscall counts (strace -c); divide by the echoes
#
# PEER defaults to pushwire, SCENARIO to echo-100x20B. Output goes to
# bench/target/profile/. Build the harness first with bench/run.sh (or
# bench/run.sh list); pushwire itself is built here with the `profiling`
# profile, release code with debug info for the call graphs.
# perf comes from Debian's linux-perf, strace from strace.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
tool=${1:-perf}
peer=${2:-pushwire}
scenario=${3:-echo-100x20B}
seconds=5
out="$BENCH/target/profile"
mkdir -p "$out"
case "$tool" in perf|strace) ;; *) echo "usage: $0 perf|strace [PEER] [SCENARIO]" >&2; exit 2 ;; esac
command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }

(cd "$ROOT" && cargo build --profile profiling --quiet -p pushwire-cli)
ulimit -n 20000 2>/dev/null || true
"$BENCH/target/release/pushwire-bench" run "$scenario" --peers "$peer" --runs 1 --warmup 1 \
  --seconds $((seconds + 4)) --pushwire-bin "$ROOT/target/profiling/pushwire" --out "$out/results" \
  >"$out/bench.log" 2>&1 &
bench_pid=$!
trap 'kill "$bench_pid" 2>/dev/null || true' EXIT
# Wait for the server child and for the measured run to start.
server=""
for _ in $(seq 100); do
  server=$(pgrep -P "$bench_pid" | head -n 1 || true)
  [ -n "$server" ] && break
  sleep 0.1
done
[ -n "$server" ] || { echo "no server started; see $out/bench.log" >&2; exit 1; }
# Killed by a signal, the generator cannot stop its server: do it here.
trap 'kill "$bench_pid" "$server" 2>/dev/null || true' EXIT
sleep 2.5
echo "profiling $peer (pid $server) under $scenario for ${seconds}s" >&2
case "$tool" in
  perf)
    perf record -e cpu-clock -F 2000 -g -p "$server" -o "$out/$peer.perf.data" -- sleep "$seconds" 2>/dev/null
    perf report -i "$out/$peer.perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
      | grep -v '^#' | grep '%' | head -n 40 | tee "$out/$peer.perf.txt" || true
    ;;
  strace)
    timeout "$seconds" strace -c -f -p "$server" -o "$out/$peer.strace.txt" || true
    cat "$out/$peer.strace.txt"
    ;;
esac
wait "$bench_pid" || true
trap - EXIT
grep -A3 '^| peer | median' "$out/results/results.md" | tail -n 1
