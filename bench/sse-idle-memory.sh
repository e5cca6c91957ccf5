#!/usr/bin/env bash
# Server memory per idle Server-Sent Events stream: runs the sse_idle
# probe (bench/probes/src/bin/sse_idle/) with N streams over
# HTTP/1.1 (one connection each) and over HTTP/2 (100 streams per h2c
# connection), reads the server's VmRSS from /proc/PID/status before and
# after, and prints a markdown table. Target (issue 3): 10,000 streams on
# one process, a heartbeat each, <= 2 KiB per idle stream.
#
#   bench/sse-idle-memory.sh                      the table
#   COUNTS="1000 10000" HTTP="h1 h2" SOURCES="channel pending" bench/sse-idle-memory.sh
#   HEARTBEAT_SECS=15 bench/sse-idle-memory.sh    heartbeat interval of every stream
#   bench/sse-idle-memory.sh --check              exit 1 if any case is > 2048 B/stream
#
# For each case a fresh server starts (pinned to core 0; the client to
# core 1); 10 streams warm it up and close; then the baseline RSS is
# read, the client opens N streams (from 127.0.0.2, 127.0.0.3, ... for
# HTTP/1.1) and prints "established" once every response head arrived.
# "idle" is the RSS delta per stream 1 s later; "after heartbeat" is read
# once every stream has sent its first heartbeat (HEARTBEAT_SECS + 1 s
# after "established"). Source "channel": each stream fed by
# Sse::channel, the sender kept in a registry (what an application
# does); "pending": an event source that never yields. Kernel socket
# buffers are not in RSS: the figures are the server's user-space memory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
counts=${COUNTS:-"1000 10000"}
protocols=${HTTP:-"h1 h2"}
sources=${SOURCES:-"channel"}
heartbeat=${HEARTBEAT_SECS:-15}
server_core=${SERVER_CORE:-0}
client_core=${CLIENT_CORE:-1}

max_n=0
for n in $counts; do [ "$n" -gt "$max_n" ] && max_n=$n; done
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((max_n + 200)) ]; then
  ulimit -n $((max_n + 200)) 2>/dev/null || {
    echo "open-file limit $(ulimit -n) is too low for $max_n streams (raise ulimit -n)" >&2
    exit 1
  }
fi

echo "building (release)..." >&2
cd bench
cargo build --release --quiet -p pushwire-probes --bin sse_idle
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/release/sse_idle"

work=$(mktemp -d "${TMPDIR:-/tmp}/pushwire-sse-idle.XXXXXX")
server_pid="" client_pid=""
stop() { # stop PID...: kill and reap
  for pid in "$@"; do
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  done
  return 0
}
trap 'stop "$client_pid" "$server_pid"; rm -rf "$work"' EXIT

vmrss_kib() { # vmrss_kib PID: the server's resident set, KiB
  if ! kill -0 "$1" 2>/dev/null; then
    echo "the server exited:" >&2
    cat "$work/server" >&2
    return 1
  fi
  sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

# wait_for_line FILE PATTERN PID SECONDS: the first line matching, while PID lives.
wait_for_line() {
  local deadline=$((SECONDS + $4)) line
  while [ "$SECONDS" -lt "$deadline" ]; do
    line=$(grep -m1 "$2" "$1" 2>/dev/null || true)
    [ -n "$line" ] && { echo "$line"; return 0; }
    kill -0 "$3" 2>/dev/null || { echo "process $3 exited:" >&2; cat "$1" >&2; return 1; }
    sleep 0.1
  done
  echo "timed out waiting for '$2':" >&2
  cat "$1" >&2
  return 1
}

# start_client N HTTP: starts the client, waits until its streams are open.
start_client() {
  local args=(client --addr "$addr" --streams "$1" --http "$2" --streams-per-connection 100 --per-ip 1000)
  taskset -c "$client_core" "$bin" "${args[@]}" >"$work/client" 2>&1 &
  client_pid=$!
  wait_for_line "$work/client" '^established' "$client_pid" 120 >/dev/null
}

rows=()
status=0
for source in $sources; do
  for http in $protocols; do
    for n in $counts; do
      echo "source=$source http=$http N=$n" >&2
      taskset -c "$server_core" "$bin" server --heartbeat-secs "$heartbeat" --source "$source" \
        >"$work/server" 2>&1 &
      server_pid=$!
      addr=$(wait_for_line "$work/server" '^listening' "$server_pid" 10 | sed 's/^listening //')
      start_client 10 "$http"
      stop "$client_pid"
      sleep 1
      base=$(vmrss_kib "$server_pid")
      begun=$SECONDS
      start_client "$n" "$http"
      open_secs=$((SECONDS - begun))
      established=$SECONDS
      sleep 1
      idle=$(vmrss_kib "$server_pid")
      sleep $((heartbeat + 1 - (SECONDS - established) > 0 ? heartbeat + 1 - (SECONDS - established) : 0))
      after=$(vmrss_kib "$server_pid")
      stop "$client_pid" "$server_pid"
      client_pid="" server_pid=""
      per_idle=$(( (idle - base) * 1024 / n ))
      per_after=$(( (after - base) * 1024 / n ))
      worst=$(( per_idle > per_after ? per_idle : per_after ))
      verdict=pass
      [ "$worst" -gt 2048 ] && { verdict=FAIL; status=1; }
      layout="1 conn each"
      [ "$http" = h2 ] && layout="$(( (n + 99) / 100 )) conns x 100"
      rows+=("| $source | $http | $layout | $n | $base | $idle | $after | $per_idle | $per_after | $open_secs | $verdict |")
    done
  done
done

echo
echo "Server RSS per idle SSE stream (heartbeat every ${heartbeat} s, glibc malloc), bytes:"
echo
echo "| source | http | connections | N | base KiB | idle KiB | after hb KiB | idle B/stream | after hb B/stream | open s | <=2KiB |"
echo "|--------|------|-------------|--:|---------:|---------:|-------------:|--------------:|------------------:|-------:|--------|"
for row in "${rows[@]}"; do echo "$row"; done

if [ "$check" = 1 ]; then exit "$status"; fi
