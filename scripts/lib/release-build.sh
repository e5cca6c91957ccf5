# shellcheck shell=bash
# The one release build of pushwire that bench/run.sh, tests/drills/run.sh
# and conformance/autobahn.sh share, in the repository's target/: the
# binaries and the two examples they run (push_server, autobahn_client;
# building examples turns on the library's dev features, so every caller
# builds the same set or cargo would compile the library again).
#
#   source scripts/lib/release-build.sh
#   build_pushwire_release [--quiet]

PUSHWIRE_ROOT="${PUSHWIRE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

build_pushwire_release() {
  (cd "$PUSHWIRE_ROOT" && CARGO_TARGET_DIR="$PUSHWIRE_ROOT/target" cargo build --release "$@" \
    -p pushwire-cli -p pushwire --bins --example push_server --example autobahn_client)
}
