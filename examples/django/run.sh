#!/usr/bin/env bash
# Runs the Django side of the example on http://127.0.0.1:8000/: a venv at
# examples/django/.venv with requirements.txt (once; again when it changes),
# the database migrated (SQLite, db.sqlite3), the demo users alice and bob,
# then Django's development server. Start the hub beside it with
#   cargo run --release -- serve --config examples/django/pushwire.json
#
#   examples/django/run.sh                  set up, then serve on 127.0.0.1:8000
#   examples/django/run.sh --setup          set up only
#   DJANGO_ADDR=127.0.0.1:9000 examples/django/run.sh
#   EXTRA_REQUIREMENTS=check/requirements.txt examples/django/run.sh --setup
#       (also installs these, relative to examples/django; the end-to-end check uses it)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../scripts/lib/python-venv.sh
source "$ROOT/scripts/lib/python-venv.sh"
VENV=$HERE/.venv
PY=$VENV/bin/python

# Installs one requirements file into the venv unless the venv already has it
# (a stamp per file holds the hash of what was installed).
install_requirements() {
  local file=$1 name want stamp out
  name=$(basename "$(dirname "$file")")-$(basename "$file")
  want=$(sha256sum "$file" | cut -d' ' -f1)
  stamp=$VENV/.installed-$name.sha256
  [[ -f $stamp && $(cat "$stamp") == "$want" ]] && return 0
  echo "run.sh: pip install -r ${file#"$HERE"/}" >&2
  out=$(mktemp)
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1 \
    "$PY" -m pip install --quiet -r "$file" >"$out" 2>&1 </dev/null || {
    cat "$out" >&2
    rm -f "$out"
    echo "run.sh: pip install -r $file failed" >&2
    return 1
  }
  rm -f "$out"
  echo "$want" >"$stamp"
}

setup() {
  _pyvenv_create "$VENV"
  install_requirements "$HERE/requirements.txt"
  local extra
  for extra in ${EXTRA_REQUIREMENTS:-}; do
    install_requirements "$HERE/$extra"
  done
  (cd "$HERE" && "$PY" manage.py migrate --noinput -v 0 && "$PY" manage.py demo_users)
}

setup
[[ ${1:-} == --setup ]] && exit 0
cd "$HERE"
echo "run.sh: log in at http://${DJANGO_ADDR:-127.0.0.1:8000}/ as alice / alice-password (or bob)" >&2
exec "$PY" manage.py runserver "${DJANGO_ADDR:-127.0.0.1:8000}"
