#!/usr/bin/env bash
# pushwire in a real browser: installs Debian chromium, redis-server and the
# npm test tools when missing, builds `pushwire` (unless PUSHWIRE_BIN names one), and runs
# the Node test files here against `pushwire serve`.
#
#   scripts/browser/run.sh
#   PUSHWIRE_BIN=target/release/pushwire scripts/browser/run.sh
#   scripts/browser/run.sh --test-name-pattern=WebSocket   (extra args go to node --test)
#
# Screenshots of /, /chat, /support (both sides) and /admin at desktop and
# phone sizes go to $SCREENSHOT_DIR (default: target/browser-screenshots).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/browser.sh
source "$ROOT/scripts/lib/browser.sh"
ensure_browser_tools
# restart.test.mjs runs the hub on a real redis-server.
# shellcheck source=../lib/redis.sh
source "$ROOT/scripts/lib/redis.sh"
ensure_redis_server >/dev/null

if [[ -z ${PUSHWIRE_BIN:-} ]]; then
  (cd "$ROOT" && cargo build --quiet -p pushwire-cli)
  PUSHWIRE_BIN="$ROOT/target/debug/pushwire"
fi
# The tests resolve PUSHWIRE_BIN from their own directory; hand them an absolute path.
PUSHWIRE_BIN=$(realpath "$PUSHWIRE_BIN")
[[ -x $PUSHWIRE_BIN ]] || { echo "run.sh: $PUSHWIRE_BIN is not an executable" >&2; exit 1; }
export PUSHWIRE_BIN

export SCREENSHOT_DIR=${SCREENSHOT_DIR:-$ROOT/target/browser-screenshots}
mkdir -p "$SCREENSHOT_DIR"
SCREENSHOT_DIR=$(realpath "$SCREENSHOT_DIR")
echo "run.sh: screenshots go to $SCREENSHOT_DIR" >&2

cd "$HERE"
exec node --test --test-timeout=60000 "$@" ./*.test.mjs
