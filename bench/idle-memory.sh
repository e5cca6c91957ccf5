#!/usr/bin/env bash
# Server memory per idle WebSocket connection: runs the idle_memory probe
# (bench/probes/src/bin/idle_memory/) against `pushwire echo` for
# 1,000 and 10,000 connections, with and without permessage-deflate, and
# prints a markdown table. Target: <= 1 KiB of RSS per idle connection.
#
#   bench/idle-memory.sh                       the table
#   bench/idle-memory.sh --arena-max 2         server runs with MALLOC_ARENA_MAX=2
#                                              (glibc only: the binary allocates with
#                                              jemalloc where the platform has it)
#   bench/idle-memory.sh --check               exit 1 if idle (no deflate) > 1024 B
#   COUNTS="1000 10000" bench/idle-memory.sh   connection counts to run
#
# "idle" is the RSS delta over N connections that only did the handshake;
# "after 1 echo" is after each sent one 64-byte message and got it back
# (with deflate that allocates both zlib states, which context takeover
# keeps). Kernel socket memory is not in RSS. Needs ~2 x N file
# descriptors in all (client and server are separate processes) and the
# loopback addresses 127.0.0.2 onwards (Linux routes all of 127/8).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

arena=""
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arena-max) arena="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
counts=${COUNTS:-"1000 10000"}

# Each process holds up to N sockets.
max_n=0
for n in $counts; do [ "$n" -gt "$max_n" ] && max_n=$n; done
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((max_n + 200)) ]; then
  ulimit -n $((max_n + 200)) 2>/dev/null || {
    echo "open-file limit $(ulimit -n) is too low for $max_n connections (raise ulimit -n)" >&2
    exit 1
  }
fi

echo "building (release)..." >&2
cargo build --release --quiet -p pushwire-cli --bins
(cd bench && cargo build --release --quiet -p pushwire-probes --bin idle_memory)

target_dir() { # target_dir DIR: the cargo target directory of the workspace in DIR
  (cd "$1" && cargo metadata --format-version 1 --no-deps) |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}
server="$(target_dir .)/release/pushwire"
probe="$(target_dir bench)/release/idle_memory"

extra=()
[ -n "$arena" ] && extra+=(--child-env "MALLOC_ARENA_MAX=$arena")

field() { # field NAME JSON
  sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"
}

rows=()
status=0
for n in $counts; do
  for deflate in no yes; do
    args=(--server-bin "$server" --connections "$n" --json "${extra[@]}")
    [ "$deflate" = yes ] && args+=(--deflate)
    echo "running: N=$n deflate=$deflate" >&2
    if ! out=$("$probe" "${args[@]}"); then
      echo "idle_memory failed for N=$n deflate=$deflate" >&2
      exit 1
    fi
    json=$(tail -n 1 <<<"$out")
    idle=$(field idle_bytes_per_conn "$json")
    echoed=$(field echoed_bytes_per_conn "$json")
    negotiated=$(field deflate_negotiated "$json")
    baseline=$(field baseline_rss_kib "$json")
    secs=$(field total_secs "$json")
    verdict=""
    if [ "$deflate" = no ]; then
      if awk -v v="$idle" 'BEGIN { exit !(v <= 1024) }'; then verdict=pass; else verdict=FAIL; status=1; fi
    fi
    rows+=("$(printf '| %6s | %-7s | %5s | %11.0f | %12.0f | %8s | %7.1f | %-6s |' \
      "$n" "$deflate" "$negotiated" "$idle" "$echoed" "$baseline" "$secs" "$verdict")")
  done
done

echo
echo "Server RSS per idle connection (\`pushwire echo\`, jemalloc${arena:+, MALLOC_ARENA_MAX=$arena}), bytes:"
echo
echo "|      N | deflate | negot | idle B/conn | after 1 echo | base KiB |   run s | <=1KiB |"
echo "|-------:|---------|------:|------------:|-------------:|---------:|--------:|--------|"
for row in "${rows[@]}"; do echo "$row"; done

if [ "$check" = 1 ]; then exit "$status"; fi
