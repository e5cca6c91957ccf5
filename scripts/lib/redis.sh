# shellcheck shell=bash
# Redis for pushwire's Redis engine tests. Source it, then call:
#
#   source scripts/lib/redis.sh
#   ensure_redis_server   # Debian's redis-server and redis-cli (7.x: sharded pub/sub, cluster)
#
# Idempotent and quiet: when redis-server and redis-cli are on PATH it returns at
# once without starting apt. The tests (crates/redis/tests) start their own servers
# on free loopback ports; nothing here starts or enables a service.
# Works unattended (CI=true, no stdin); installs with apt-get as root or via sudo.

PUSHWIRE_ROOT="${PUSHWIRE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=apt.sh
source "$PUSHWIRE_ROOT/scripts/lib/apt.sh"

# Debian's redis-server (which brings redis-cli through redis-tools).
ensure_redis_server() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    return 0
  fi
  apt_install redis-server || {
    echo "redis.sh: apt-get install redis-server failed" >&2
    return 1
  }
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis.sh: redis-server or redis-cli missing after install" >&2
    return 1
  }
}
