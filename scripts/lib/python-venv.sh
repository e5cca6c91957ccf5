# shellcheck shell=bash
# Python tooling for pushwire's scripts. Source it, then call the functions:
#
#   source scripts/lib/python-venv.sh
#   ensure_kosoku          # conformance/.venv with kosoku==$KOSOKU_VERSION
#   "$KOSOKU" --help
#
# ensure_kosoku is idempotent and quiet: when the venv already holds the right
# kosoku it returns at once without starting Python or pip. On a fresh Debian
# machine whose python3 lacks venv/ensurepip it installs python3-venv with apt.

PUSHWIRE_ROOT="${PUSHWIRE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
KOSOKU_VERSION=0.1.0
KOSOKU_VENV="$PUSHWIRE_ROOT/conformance/.venv"
KOSOKU="$KOSOKU_VENV/bin/kosoku"

# Installs Debian packages as root (or through sudo); apt-get update runs first.
_pyvenv_apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "python-venv.sh: need root to apt-get install $*" >&2; return 1; }
    sudo=(sudo)
  fi
  echo "python-venv.sh: installing $* with apt-get" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Creates the venv at $1 if it has no working python, installing python3-venv if needed.
_pyvenv_create() {
  local venv=$1
  [[ -x $venv/bin/python && -x $venv/bin/pip ]] && return 0
  command -v python3 >/dev/null || _pyvenv_apt_install python3 python3-venv
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian's python3 ships without ensurepip; it lives in python3-venv
    # (python3.X-venv on some releases, pulled in by python3-venv).
    rm -rf "$venv"
    _pyvenv_apt_install python3-venv
    python3 -m venv "$venv" >/dev/null
  fi
}

ensure_kosoku() {
  local venv=$KOSOKU_VENV dist
  # Fast path: the pinned version is installed and its entry point resolves.
  for dist in "$venv"/lib/python3*/site-packages/kosoku-"$KOSOKU_VERSION".dist-info; do
    [[ -d $dist && -x $venv/bin/python && -x $KOSOKU ]] && return 0
  done
  _pyvenv_create "$venv" || return 1
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1 \
    "$venv/bin/pip" install --quiet "kosoku==$KOSOKU_VERSION" >/dev/null || {
    echo "python-venv.sh: pip install kosoku==$KOSOKU_VERSION failed" >&2
    return 1
  }
  [[ -x $KOSOKU ]] || { echo "python-venv.sh: $KOSOKU missing after install" >&2; return 1; }
}
