#!/usr/bin/env bash
# pushwire's HTTP/2 against independent clients: curl, and nghttp2's nghttp
# and h2load (Debian packages, installed when missing), over cleartext
# HTTP/2 by prior knowledge, against `pushwire serve`. Builds `pushwire`
# unless PUSHWIRE_BIN names one.
#
#   scripts/http2-peers.sh
#   PUSHWIRE_BIN=target/release/pushwire scripts/http2-peers.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/apt.sh
source scripts/lib/apt.sh

if ! command -v h2load >/dev/null || ! command -v nghttp >/dev/null || ! command -v curl >/dev/null; then
  apt_install nghttp2-client curl
fi
if [[ -z ${PUSHWIRE_BIN:-} ]]; then
  cargo build --quiet -p pushwire-cli
  PUSHWIRE_BIN=target/debug/pushwire
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$PUSHWIRE_BIN" serve --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
server_pid=$!
base=
for _ in $(seq 1 100); do
  base=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$work/serve.log" | head -n1 || true)
  [[ -n $base ]] && break
  sleep 0.1
done
[[ -n $base ]] || { cat "$work/serve.log" >&2; echo "http2-peers.sh: pushwire serve did not start" >&2; exit 1; }
base=${base%/}
# Without --config, serve prints the server API key it generated.
key=$(grep -o 'X-API-Key: [0-9a-f]*' "$work/serve.log" | head -n1 | cut -d' ' -f2)

failures=0
check() {
  local what=$1 ok=$2 detail=$3
  if [[ $ok == 1 ]]; then
    echo "ok - $what"
  else
    echo "not ok - $what: $detail"
    failures=$((failures + 1))
  fi
}

# curl: a page, and a publication through the hub's server API.
got=$(curl -sS --http2-prior-knowledge -o "$work/page" -w '%{http_version} %{http_code}' "$base/")
check "curl GET / over HTTP/2" "$([[ $got == "2 200" && -s $work/page ]] && echo 1)" "$got"
got=$(curl -sS --http2-prior-knowledge -H "X-API-Key: $key" -H 'content-type: application/json' \
  --data-binary '{"channel":"chat:h2","data":{"text":"hello over h2"}}' \
  -w ' %{http_version} %{http_code}' "$base/api/publish")
check "curl POST /api/publish over HTTP/2" "$([[ $got == '{"result":'*' 2 200' ]] && echo 1)" "$got"

# curl: the hub's event stream, read until curl's own deadline.
curl -sS -N --http2-prior-knowledge --max-time 3 "$base/connection/uni_sse?cf_connect=%7B%7D" >"$work/sse" 2>/dev/null || true
events=$(grep -c '^data:' "$work/sse" || true)
check "curl reads an event stream over HTTP/2" "$([[ $events -ge 1 ]] && echo 1)" "$events events"

# nghttp: a request, every frame shown; it exits non-zero on errors.
if nghttp -nv "$base/healthz" >"$work/nghttp" 2>&1; then status=0; else status=$?; fi
ok=$([[ $status == 0 ]] && grep -q ':status: 200' "$work/nghttp" && ! grep -q 'recv GOAWAY' "$work/nghttp" && echo 1)
check "nghttp GET /healthz" "$ok" "exit $status: $(tail -n3 "$work/nghttp")"

# h2load: many streams at once on a few connections.
h2load_all_succeed() {
  local what=$1 n=$2
  shift 2
  h2load -n "$n" "$@" >"$work/h2load" 2>&1 || true
  local ok
  ok=$(grep -q "requests: $n total, $n started, $n done, $n succeeded, 0 failed, 0 errored, 0 timeout" "$work/h2load" &&
    grep -q "status codes: $n 2xx" "$work/h2load" && echo 1)
  check "$what" "$ok" "$(grep -E 'requests:|status codes:' "$work/h2load" | tr '\n' ' ')"
}
h2load_all_succeed "h2load: 20000 GETs, 4 connections x 50 streams" 20000 -c 4 -m 50 "$base/healthz"
# 1 KiB stream windows, 64 KiB connection windows: the 13 KiB page is
# paced by WINDOW_UPDATEs.
h2load_all_succeed "h2load: pages through 1 KiB windows" 300 -c 2 -m 10 -w 10 -W 16 "$base/"
printf '{"channel":"chat:h2load","data":{"text":"%s"}}' "$(head -c 2000 /dev/zero | tr '\0' 'p')" >"$work/body"
h2load_all_succeed "h2load: 500 POSTs with bodies" 500 -c 2 -m 10 -d "$work/body" \
  -H 'content-type: application/json' -H "X-API-Key: $key" "$base/api/publish"

if ! kill -0 "$server_pid" 2>/dev/null; then
  check "pushwire serve still runs" 0 "$(tail -n5 "$work/serve.log")"
fi
[[ $failures == 0 ]] || { echo "http2-peers.sh: $failures failed" >&2; exit 1; }
echo "http2-peers.sh: all passed"
