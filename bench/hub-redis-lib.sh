# shellcheck shell=bash
# Shared by bench/hub-redis-*.sh: makes sure redis-server and redis-cli are
# installed (scripts/lib/redis.sh's ensure_redis_server when the repository
# has it, Debian's packages), or says how to get them.
need_redis_server() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ -f "$root/scripts/lib/redis.sh" ]; then
    # shellcheck source=/dev/null
    source "$root/scripts/lib/redis.sh"
    ensure_redis_server
  fi
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "bench: redis-server and redis-cli are needed (apt-get install redis-server)" >&2
    exit 1
  fi
}
