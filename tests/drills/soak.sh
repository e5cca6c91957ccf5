#!/usr/bin/env bash
# The soak drill (issue 22), not part of the test run: moderate load for
# a while, the server's RSS and open descriptors sampled every 10 s.
#
#   tests/drills/soak.sh [minutes]      default 60
#   tests/drills/soak.sh 5 --subs 2000 --rate 200
set -euo pipefail
DRILLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
minutes=${1:-60}
[ $# -gt 0 ] && shift
exec "$DRILLS/run.sh" soak --minutes "$minutes" "$@"
