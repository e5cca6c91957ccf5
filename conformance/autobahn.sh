#!/usr/bin/env bash
# Autobahn TestSuite conformance run (via kosoku), then compare.py.
#
#   conformance/autobahn.sh server   # kosoku drives `pushwire echo`
#   conformance/autobahn.sh client   # examples/autobahn_client drives kosoku's fuzzingserver
#
# Environment (all optional):
#   CASES            case ids or `*` globs to run, comma/space separated, e.g. "1.*,9.1.1"
#   CASES_EXCLUDE    case ids or globs to leave out, e.g. "9.*,12.*,13.*"
#   PARALLEL         server role: cases kosoku runs at once (default 2)
#   RUN_TIMEOUT      seconds for the whole kosoku/client run (default 1800)
#   SKIP_BUILD=1     do not run cargo build
#   ECHO_SERVER_CMD  server role: shell command for the echo server instead of
#                    `pushwire echo`; $PORT and $ADDR (127.0.0.1:$PORT) are set,
#                    e.g. ECHO_SERVER_CMD='python3 my_echo.py $ADDR'
#   CLIENT_CMD       client role: shell command for the client driver instead of
#                    examples/autobahn_client; $URL (ws://127.0.0.1:PORT) is set
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
ROOT=$(dirname "$(dirname "$SELF")")
cd "$ROOT"
# shellcheck source=../scripts/lib/python-venv.sh
source scripts/lib/python-venv.sh

ROLE=${1:-}
if [[ $ROLE != server && $ROLE != client ]]; then
  sed -n '2,18s/^# \{0,1\}//p' "$SELF" >&2
  exit 2
fi

# The release build every script shares (scripts/lib/release-build.sh).
TARGET_DIR=$ROOT/target
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}
OUT=$ROOT/conformance/reports/$ROLE
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pushwire-autobahn.XXXXXX")
PEER_PID=""

cleanup() {
  if [[ -n $PEER_PID ]] && kill -0 "$PEER_PID" 2>/dev/null; then
    kill "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "autobahn.sh[$ROLE]: $*" >&2; }
die() { log "$*"; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID LOGFILE: until 127.0.0.1:PORT accepts, or PID dies, or 30 s pass.
wait_port() {
  local port=$1 pid=$2 logfile=$3 i
  for ((i = 0; i < 300; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$logfile" >&2 || true
      die "peer exited before listening on port $port"
    fi
    sleep 0.1
  done
  tail -n 20 "$logfile" >&2 || true
  die "nothing listening on port $port after 30 s"
}

# Case selection, as kosoku flags.
SELECT=()
add_select() { # add_select FLAG "LIST": one FLAG per comma/space separated entry
  local flag=$1 pat pats=()
  read -ra pats <<<"${2//,/ }" || true
  for pat in ${pats[@]+"${pats[@]}"}; do SELECT+=("$flag" "$pat"); done
}
add_select -i "${CASES:-}"
add_select -x "${CASES_EXCLUDE:-}"

ensure_kosoku
if [[ ${SKIP_BUILD:-} != 1 ]]; then
  # shellcheck source=../scripts/lib/release-build.sh
  source "$ROOT/scripts/lib/release-build.sh"
  build_pushwire_release
fi
rm -rf "$OUT"
PORT=$(free_port)
ADDR=127.0.0.1:$PORT

if [[ $ROLE == server ]]; then
  if [[ -n ${ECHO_SERVER_CMD:-} ]]; then
    PORT=$PORT ADDR=$ADDR bash -c "exec $ECHO_SERVER_CMD" >"$WORK/peer.log" 2>&1 &
  else
    [[ -x $TARGET_DIR/release/pushwire ]] || die "$TARGET_DIR/release/pushwire not built"
    # Every message compressed, so that the 12.x and 13.x cases test the
    # codec on their small messages too (kosoku's 12.x/13.x cases also
    # fail to read an uncompressed text reply: they hash it as a str).
    "$TARGET_DIR/release/pushwire" echo --listen "$ADDR" --deflate-min-size 0 >"$WORK/peer.log" 2>&1 &
  fi
  PEER_PID=$!
  wait_port "$PORT" "$PEER_PID" "$WORK/peer.log"
  log "running kosoku against $ADDR (parallel ${PARALLEL:-2})"
  start=$SECONDS
  # kosoku exits 1 when any case fails; compare.py judges that against expected/.
  rc=0
  timeout "$RUN_TIMEOUT" "$KOSOKU" -p "${PARALLEL:-2}" -o "$WORK/report" ${SELECT[@]+"${SELECT[@]}"} "$ADDR" || rc=$?
  log "kosoku finished in $((SECONDS - start)) s (exit $rc)"
  ((rc == 124)) && die "kosoku did not finish within RUN_TIMEOUT=$RUN_TIMEOUT s"
  kill -0 "$PEER_PID" 2>/dev/null || { tail -n 20 "$WORK/peer.log" >&2; die "echo server died during the run"; }
else
  "$KOSOKU" -m fuzzingserver -o "$WORK/report" ${SELECT[@]+"${SELECT[@]}"} "$ADDR" >"$WORK/peer.log" 2>&1 &
  PEER_PID=$!
  wait_port "$PORT" "$PEER_PID" "$WORK/peer.log"
  URL=ws://$ADDR
  log "running client driver against $URL"
  start=$SECONDS
  rc=0
  if [[ -n ${CLIENT_CMD:-} ]]; then
    URL=$URL PORT=$PORT ADDR=$ADDR timeout "$RUN_TIMEOUT" bash -c "exec $CLIENT_CMD" || rc=$?
  else
    [[ -x $TARGET_DIR/release/examples/autobahn_client ]] || die "$TARGET_DIR/release/examples/autobahn_client not built"
    timeout "$RUN_TIMEOUT" "$TARGET_DIR/release/examples/autobahn_client" "$URL" || rc=$?
  fi
  log "client driver finished in $((SECONDS - start)) s (exit $rc)"
  # The fuzzingserver writes its report and exits once the client calls /updateReports.
  for ((i = 0; i < 600; i++)); do
    kill -0 "$PEER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$PEER_PID" 2>/dev/null; then
    die "fuzzingserver still running 60 s after the client finished: did it call /updateReports?"
  fi
  wait "$PEER_PID" || true
  PEER_PID=""
  cat "$WORK/peer.log" >&2
fi

[[ -f $WORK/report/index.json ]] || die "kosoku wrote no report (no case ran?)"
mkdir -p "$(dirname "$OUT")"
cp -r "$WORK/report" "$OUT"
# Name the single agent "pushwire": kosoku takes it from the echo server's
# `Server` header (or its host:port when there is none) in the server role, and
# from the `agent` query parameter (or the `User-Agent` header) in the client role.
python3 - "$OUT/index.json" <<'EOF'
import json, sys
path = sys.argv[1]
index = json.load(open(path))
if len(index) == 1:
    (agent,) = index
    index = {"pushwire": index[agent]}
    if agent != "pushwire":
        print(f"autobahn.sh: report agent {agent!r} renamed to 'pushwire'", file=sys.stderr)
json.dump(index, open(path, "w"), sort_keys=True, indent=3)
EOF
log "report in ${OUT#"$ROOT"/}/ (open index.html for details)"

status=0
python3 conformance/compare.py "$ROLE" || status=$?
exit "$status"
