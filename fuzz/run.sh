#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20) each, starting from the
# committed seeds in fuzz/corpus/<target>/. Exits non-zero on any crash,
# leak, timeout or out-of-memory; the input that caused it is saved in
# fuzz/artifacts/<target>/ (gitignored).
#
# The seeds are copied to a temporary directory first and libFuzzer writes
# its new inputs there, so a run never adds files to the repository (see
# README.md for growing the committed corpus on purpose).
#
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail

seconds=${1:-20}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(frame_decoder handshake inflater deflate_round_trip
        http1_head http1_body http2_frames hpack sse_parser hub_command jwt
        http2_connection config_loader)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Targets are built as cargo-fuzz does by default: optimised, with debug
# assertions, overflow checks and AddressSanitizer. cargo-fuzz passes
# nightly-only flags (-Zsanitizer=address, ...): RUSTC_BOOTSTRAP=1 lets a
# stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
# Out of the main workspace's target/ (fuzz builds use other flags).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"

work=$(mktemp -d "${TMPDIR:-/tmp}/pushwire-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

status=0
for target in "${targets[@]}"; do
    mkdir -p "$work/$target" "$here/artifacts/$target"
    cp "$here/corpus/$target/"* "$work/$target/"
    echo "=== $target: ${seconds}s" >&2
    # -max_len: frames and handshakes of interest fit in 64 KiB.
    # -rss_limit_mb / -malloc_limit_mb: a decoder whose memory follows a
    # claimed length instead of the bytes received fails here.
    if ! cargo fuzz run "$target" "$work/$target" -- \
        -max_total_time="$seconds" \
        -max_len=65536 \
        -timeout=10 \
        -rss_limit_mb=512 \
        -malloc_limit_mb=256 \
        -print_final_stats=1 \
        -artifact_prefix="$here/artifacts/$target/"; then
        echo "=== $target: FAILED (see fuzz/artifacts/$target/)" >&2
        status=1
    fi
done
exit "$status"
