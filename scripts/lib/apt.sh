# shellcheck shell=bash
# Installing the Debian packages a test needs. Source it, then call:
#
#   source scripts/lib/apt.sh
#   apt_install nghttp2-client
#
# Works unattended (CI=true, no stdin); installs as root or via sudo.

# Installs Debian packages (apt-get update first), as root or through sudo.
apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "apt.sh: need root to apt-get install $*" >&2; return 1; }
    sudo=(sudo -n)
  fi
  echo "apt.sh: installing $* with apt-get" >&2
  local out
  out=$(mktemp)
  # apt's chatter goes to a file, shown only when something fails.
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } \
    >"$out" 2>&1 </dev/null; then
    cat "$out" >&2
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
}
