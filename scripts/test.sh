#!/usr/bin/env bash
# Runs every pushwire test. On a fresh machine it first installs what the
# tests need (the Autobahn suite, via the PyPI package kosoku, in a venv;
# Debian's chromium, curl and nghttp2-client; the hub's SDK clients from npm
# and PyPI: centrifuge, ws, cent, centrifuge-python).
#
#   scripts/test.sh            everything
#   QUICK=1 scripts/test.sh    skip the Autobahn conformance runs
#   AUTOBAHN_FULL=1 scripts/test.sh  every compression case in both roles
#                              (the quick form keeps one size group of each)
#   SKIP_BROWSER=1 scripts/test.sh   skip the headless Chromium tests
#   SKIP_BENCH=1 scripts/test.sh     skip the side-by-side benchmark smoke run
#   FUZZ_SECONDS=N scripts/test.sh   also fuzz each target for N seconds
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A one-off build gains nothing from incremental state, which would double
# the debug artifacts on disk.
if [[ ${CI:-} == true ]]; then export CARGO_INCREMENTAL=0; fi

# Each step says how long the one before it took (the whole run has a
# time budget in CI).
STEP_START=$SECONDS
step() {
  printf '\n(%ds)\n==> %s\n' "$((SECONDS - STEP_START))" "$*"
  STEP_START=$SECONDS
}

step "toolchain"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup)" >&2; exit 1; }
if command -v rustup >/dev/null; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
fi
cargo --version

step "format"
cargo fmt --all -- --check

# Once with the axum feature (features only add code), then the library
# alone without it, for what the feature leaves unused.
step "lint, with and without the axum feature"
cargo clippy --workspace --all-targets --features pushwire/axum -- -D warnings
cargo clippy -p pushwire --lib -- -D warnings

step "docs build without warnings (broken links, missing docs)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --lib --features pushwire/axum

# The Redis engine's tests start their own redis-server processes.
step "redis-server for the Redis engine's tests"
# shellcheck source=lib/redis.sh
source scripts/lib/redis.sh
ensure_redis_server
redis-server --version

# One build of the test binaries, with axum on: features only add code, and
# clippy above has checked the library without it.
step "unit, property and integration tests"
cargo test --workspace --features pushwire/axum
# The suites below run the `pushwire` binary this build made (a build of
# their own, without the axum feature, would compile the server again).
export PUSHWIRE_BIN=$ROOT/target/debug/pushwire

if [[ ${SKIP_BROWSER:-} != 1 ]]; then
  step "browser tests: headless Chromium against pushwire serve"
  scripts/browser/run.sh
fi

step "hub: unmodified centrifuge-js, cent and centrifuge-python against pushwire serve"
scripts/hub/run.sh

step "Django example end to end"; scripts/examples/django.sh

step "HTTP/2 against independent clients: curl, nghttp, h2load"
scripts/http2-peers.sh

step "hub on Redis: many nodes"
scripts/redis/run.sh

# The smoke forms from here on (drills, benchmarks, Autobahn) need
# optimised code, not the shipped profile's link-time optimisation, which
# only lengthens their builds; run alone, their scripts build with it.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

step "load and fault drills, quick form (tests/drills/run.sh for the full sizes)"
tests/drills/run.sh --quick

step "benchmarks compile and run once"
# In the test profile, with the test build's features: criterion runs each
# benchmark once, and only criterion and the benchmarks are compiled.
cargo test --workspace --features pushwire/axum --bench codec >/dev/null
if [[ ${SKIP_BENCH:-} != 1 ]]; then
  step "side-by-side benchmarks, quick smoke run (bench/run.sh --quick)"
  bench/run.sh --quick >/dev/null
fi

if [[ ${QUICK:-} != 1 ]]; then
  if [[ ${AUTOBAHN_FULL:-} == 1 ]]; then
    step "Autobahn conformance, server role"
    conformance/autobahn.sh server
    step "Autobahn conformance, client role"
    SKIP_BUILD=1 conformance/autobahn.sh client
  else
    # The compression cases are most of the time (the fuzzing peer deflates
    # in Python): the quick form keeps one message-size group of each
    # parameter set (12.1, 12.4, 13.1, 13.2, 13.4, 13.6) and every other case.
    compression_sizes="12.2.*,12.3.*,12.5.*,13.3.*,13.5.*,13.7.*"
    step "Autobahn conformance, server role (quick form: AUTOBAHN_FULL=1 runs all 517)"
    CASES_EXCLUDE=$compression_sizes conformance/autobahn.sh server
    step "Autobahn conformance, client role (quick form)"
    SKIP_BUILD=1 CASES_EXCLUDE=$compression_sizes conformance/autobahn.sh client
  fi
fi

if [[ -n ${FUZZ_SECONDS:-} ]]; then
  step "fuzzing, ${FUZZ_SECONDS}s per target"
  fuzz/run.sh "$FUZZ_SECONDS"
fi

step "all tests passed in $((SECONDS / 60)) min $((SECONDS % 60)) s"
