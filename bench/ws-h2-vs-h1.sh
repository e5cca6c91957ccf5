#!/usr/bin/env bash
# WebSocket echo throughput over HTTP/2 (RFC 8441 extended CONNECT, h2c)
# against WebSocket over HTTP/1.1 (Upgrade), same server, same load: runs
# the ws_h2_vs_h1 probe (bench/probes/src/bin/ws_h2_vs_h1/) and
# prints a markdown table. Target (issue 3): h2 >= 0.7 x h1 everywhere.
#
#   bench/ws-h2-vs-h1.sh                  the table
#   RUNS=7 DURATION_MS=3000 SLICE_MS=250 bench/ws-h2-vs-h1.sh
#   SIZES="20 1024 16384" SOCKETS="1 10 100" bench/ws-h2-vs-h1.sh
#   WINDOW=h2-default bench/ws-h2-vs-h1.sh   h2 client with 64 KiB windows
#   bench/ws-h2-vs-h1.sh --check          exit 1 if any median ratio < 0.7
#
# One server process (pinned to core 0) serves all runs; the generator
# (pinned to core 1) runs a closed loop per WebSocket: send one binary
# message, await its echo, repeat; no permessage-deflate. Each run opens
# the WebSockets over h1, over h2 with all of them on one connection
# ("h2x1", as a browser does), and over h2 on 10 connections ("h2x10",
# when there are >= 10 WebSockets), and runs one set at a time in turns
# of SLICE_MS until each has run DURATION_MS: the sets share the shared
# machine's ups and downs, which otherwise move a ratio by more than
# 0.1. The ratio of each run is taken and the table shows the median
# over RUNS runs with the min-max spread. "srv us/msg" is the server's
# CPU time per echoed message (median).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
runs=${RUNS:-5}
duration_ms=${DURATION_MS:-2000}
slice_ms=${SLICE_MS:-250}
warmup_ms=${WARMUP_MS:-500}
sizes=${SIZES:-"20 1024 16384"}
socket_counts=${SOCKETS:-"1 10 100"}
window=${WINDOW:-browser}
server_core=${SERVER_CORE:-0}
load_core=${LOAD_CORE:-1}

echo "building (release)..." >&2
cd bench
cargo build --release --quiet -p pushwire-probes --bin ws_h2_vs_h1
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/release/ws_h2_vs_h1"

server_out=$(mktemp "${TMPDIR:-/tmp}/pushwire-ws-h2-vs-h1.XXXXXX")
taskset -c "$server_core" "$bin" server >"$server_out" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -f "$server_out"' EXIT
addr=""
for _ in $(seq 100); do
  addr=$(sed -n 's/^listening //p' "$server_out")
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "$addr" ] || { echo "the server did not start:" >&2; cat "$server_out" >&2; exit 1; }

field() { # field NAME JSON
  sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"
}

# One run of the generator over SETS (h1,h2x1,...): prints one line per
# set, "set msgs_per_sec server_us_per_msg".
load() { # load SETS SOCKETS SIZE
  local json
  taskset -c "$load_core" "$bin" load --addr "$addr" --sets "$1" --sockets "$2" \
    --size "$3" --window "$window" --warmup-ms "$warmup_ms" --duration-ms "$duration_ms" \
    --slice-ms "$slice_ms" --server-pid "$server_pid" |
    while read -r json; do
      echo "$(field set "$json" | tr -d '"') $(field msgs_per_sec "$json") $(field server_cpu_us_per_msg "$json")"
    done
}

# Median, min and max of the numbers on stdin: "median min max".
stats() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan nan nan"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s %s %s\n", m, v[1], v[NR] }'
}

fmt_rate() { # median min max -> "12345 (11000-13000)"
  awk -v m="$1" -v lo="$2" -v hi="$3" 'BEGIN { printf "%.0f (%.0f-%.0f)", m, lo, hi }'
}
fmt_ratio() {
  awk -v m="$1" -v lo="$2" -v hi="$3" 'BEGIN { printf "%.2f (%.2f-%.2f)", m, lo, hi }'
}

rows=()
status=0
for size in $sizes; do
  for sockets in $socket_counts; do
    sets=h1,h2x1
    [ "$sockets" -ge 10 ] && sets+=,h2x10
    h1_rates=() h1_cpu=()
    declare -A rates=() cpus=() ratios=()
    for run in $(seq "$runs"); do
      echo "size=$size sockets=$sockets run $run/$runs" >&2
      declare -A rate=() us=()
      while read -r set r u; do rate[$set]=$r us[$set]=$u; done < <(load "$sets" "$sockets" "$size")
      h1_rates+=("${rate[h1]}") h1_cpu+=("${us[h1]}")
      for connections in 1 10; do
        [ -n "${rate[h2x$connections]:-}" ] || continue
        rates[$connections]+="${rate[h2x$connections]} "
        cpus[$connections]+="${us[h2x$connections]} "
        ratios[$connections]+="$(awk -v a="${rate[h2x$connections]}" -v b="${rate[h1]}" 'BEGIN { print a / b }') "
      done
      unset rate us
    done
    read -r m lo hi < <(printf '%s\n' "${h1_rates[@]}" | stats)
    h1_cell=$(fmt_rate "$m" "$lo" "$hi")
    read -r h1_us _ _ < <(printf '%s\n' "${h1_cpu[@]}" | stats)
    cells=()
    cpu_cells=("$(printf '%.1f' "$h1_us")")
    for connections in 1 10; do
      if [ -z "${rates[$connections]:-}" ]; then
        cells+=("-" "-")
        cpu_cells+=("-")
        continue
      fi
      read -r m lo hi < <(tr ' ' '\n' <<<"${rates[$connections]}" | grep . | stats)
      cells+=("$(fmt_rate "$m" "$lo" "$hi")")
      read -r m lo hi < <(tr ' ' '\n' <<<"${ratios[$connections]}" | grep . | stats)
      verdict=""
      if awk -v v="$m" 'BEGIN { exit !(v < 0.7) }'; then verdict=" **<0.7**"; status=1; fi
      cells+=("$(fmt_ratio "$m" "$lo" "$hi")$verdict")
      read -r us _ _ < <(tr ' ' '\n' <<<"${cpus[$connections]}" | grep . | stats)
      cpu_cells+=("$(printf '%.1f' "$us")")
    done
    unset rates cpus ratios
    rows+=("| $size | $sockets | $h1_cell | ${cells[0]} | ${cells[1]} | ${cells[2]} | ${cells[3]} | ${cpu_cells[0]} / ${cpu_cells[1]} / ${cpu_cells[2]} |")
  done
done

echo
echo "WebSocket echo, msgs/s (median of $runs runs, each set measured ${duration_ms} ms in turns of ${slice_ms} ms; min-max), server on core $server_core, generator on core $load_core, h2 client windows: $window:"
echo
echo "| size B | sockets | h1 msgs/s | h2x1 msgs/s | h2x1/h1 | h2x10 msgs/s | h2x10/h1 | srv us/msg h1 / h2x1 / h2x10 |"
echo "|-------:|--------:|----------:|------------:|--------:|-------------:|---------:|-----------------------------:|"
for row in "${rows[@]}"; do echo "$row"; done

if [ "$check" = 1 ]; then exit "$status"; fi
