# shellcheck shell=bash
# Browser tooling for pushwire's browser tests. Source it, then call:
#
#   source scripts/lib/browser.sh
#   ensure_browser_tools   # Debian chromium at /usr/bin/chromium, npm ci in scripts/browser
#
# Idempotent and quiet: when chromium is installed and scripts/browser/node_modules
# matches package-lock.json it returns at once, starting neither apt nor npm.
# Works unattended (CI=true, no stdin); installs with apt-get as root or via sudo.

PUSHWIRE_ROOT="${PUSHWIRE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=apt.sh
source "$PUSHWIRE_ROOT/scripts/lib/apt.sh"
BROWSER_DIR="$PUSHWIRE_ROOT/scripts/browser"
CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"

# Debian's chromium (not a Playwright-downloaded build: only registries are reachable).
ensure_chromium() {
  [[ -x $CHROMIUM_BIN ]] && return 0
  # fonts-liberation: pages render with real glyphs in screenshots.
  apt_install chromium fonts-liberation || {
    echo "browser.sh: apt-get install chromium failed" >&2
    return 1
  }
  [[ -x $CHROMIUM_BIN ]] || { echo "browser.sh: $CHROMIUM_BIN missing after install" >&2; return 1; }
}

# npm ci in scripts/browser when node_modules is missing or older than the lock file.
ensure_browser_node_modules() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm || {
    echo "browser.sh: node/npm not found and could not be installed" >&2
    return 1
  }
  local stamp=$BROWSER_DIR/node_modules/.package-lock.json
  # npm writes node_modules/.package-lock.json on install; it is stale when the
  # committed lock file changed after it.
  if [[ -f $stamp && -d $BROWSER_DIR/node_modules/playwright-core && ! $BROWSER_DIR/package-lock.json -nt $stamp ]]; then
    return 0
  fi
  echo "browser.sh: npm ci in scripts/browser" >&2
  local out
  out=$(mktemp)
  (cd "$BROWSER_DIR" && CI=true npm ci --no-audit --no-fund --loglevel=error) >"$out" 2>&1 </dev/null || {
    cat "$out" >&2
    rm -f "$out"
    echo "browser.sh: npm ci failed" >&2
    return 1
  }
  rm -f "$out"
  touch "$stamp"
}

ensure_browser_tools() {
  ensure_chromium || return 1
  ensure_browser_node_modules || return 1
}
