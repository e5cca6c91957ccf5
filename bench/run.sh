#!/usr/bin/env bash
# pushwire's side-by-side benchmarks in one command: builds `pushwire`
# (release) and the Rust peers, installs the npm peers (Node ws, Bun) when
# missing, then runs the load generator:
#
#   bench/run.sh                  every scenario, every peer; results in bench/results/
#   bench/run.sh --quick          smoke run, a few seconds; results in bench/results/quick/
#   bench/run.sh run echo-100x20B --peers pushwire,bun
#   bench/run.sh list
#
# Any arguments are passed to `pushwire-bench`; without a command, `all`
# is run. Servers are pinned to CPU 0 and the generator to CPU 1.
# A peer that cannot be built or installed is reported and left out.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")

args=("$@")
has_command=0
for arg in "${args[@]}"; do
  case "$arg" in all|run|list|help) has_command=1 ;; esac
done
[ "$has_command" = 1 ] || args+=(all)

say() { echo "bench/run.sh: $*" >&2; }

say "building pushwire (release)"
# shellcheck source=../scripts/lib/release-build.sh
source "$ROOT/scripts/lib/release-build.sh"
build_pushwire_release --quiet

say "building the load generator and the Rust peers (release)"
(cd "$BENCH" && export CARGO_TARGET_DIR="$BENCH/target" \
  && cargo build --release --quiet -p pushwire-bench -p fastwebsockets-echo -p tungstenite-echo)

node_dir="$BENCH/peers/node"
if command -v npm >/dev/null 2>&1; then
  if [ ! -x "$node_dir/node_modules/.bin/bun" ] || [ ! -d "$node_dir/node_modules/ws" ] \
     || [ ! -d "$node_dir/node_modules/socket.io" ] \
     || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
    say "installing the npm peers (ws, bun, socket.io)"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) \
      || say "npm ci failed: Node ws, Bun and Socket.IO will be reported as not run"
  fi
else
  say "npm not found: Node ws, Bun and Socket.IO will be reported as not run"
fi

# The idle scenario holds 15,000 connections in one process.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 20000 ]; then
  ulimit -n 20000
else
  ulimit -n "$hard"
fi

cd "$BENCH"
exec env CARGO_TARGET_DIR="$BENCH/target" \
  "$BENCH/target/release/pushwire-bench" --pushwire-bin "$ROOT/target/release/pushwire" "${args[@]}"
