#!/usr/bin/env bash
# Run ansible-test on this checkout: `scripts/ansible-test.sh sanity --python 3.11`, `... units`.
# ansible-test wants the collection under ansible_collections/<namespace>/<name> and downloads a pip
# bootstrap script from a host these machines cannot reach. So: stage the files git knows (tracked and
# untracked-not-ignored, as in the working tree) there, and put a stand-in for the script into
# ansible-test's cache that installs the same pip version from a wheel fetched from PyPI.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT" || exit
# Without shellcheck, ansible-test skips its shellcheck test with no more than a warning.
[[ "${1:-}" != sanity ]] || require shellcheck
ansible_test="$REPO_ROOT/.venv/bin/ansible-test"
# Outside the checkout: inside it, ansible-test would see the git work tree and skip the ignored copy.
stage="$BIRTHA_CACHE/ansible-test/$(printf %s "$REPO_ROOT" | sha256sum | cut -c1-12)/ansible_collections/birtha/mlflow"

install_pip_bootstrap() {
  local version cache wheel_dir
  version="$("$REPO_ROOT/.venv/bin/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11"))["pip"])
PY
)"
  cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  wheel_dir="$HOME/.ansible/test/cache/pip-wheels"
  [[ -s "$cache" ]] && return
  mkdir -p "$wheel_dir"
  "$REPO_ROOT/.venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$wheel_dir" "pip==$version"
  cat >"$cache.tmp" <<PY
"""Stand-in for get-pip.py ($version), written by birtha.mlflow's scripts/ansible-test.sh: installs pip
from the wheel cached beside it; get-pip's own --no-setuptools/--no-wheel are what pip does anyway."""
import subprocess
import sys

WHEEL = "$wheel_dir/pip-$version-py3-none-any.whl"
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, WHEEL + "/pip", "install", "--no-index", "--find-links", "$wheel_dir", *args]))
PY
  mv "$cache.tmp" "$cache"
}

stage_checkout() {
  rm -rf "$stage"
  mkdir -p "$stage"
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -e "$f" && ! -L "$f" || -f "$f" ]] && printf '%s\0' "$f"; done \
    | tar -c --null -T - | tar -x -C "$stage"
}

# Unit tests run in the controller virtualenv, not one ansible-test makes (tests/unit/requirements.txt says why).
if [[ "${1:-}" == units ]] && ! "$REPO_ROOT/.venv/bin/python" -c 'import xdist' 2>/dev/null; then
  echo "ansible-test units needs pytest-xdist (requirements-dev.txt) in .venv: run make deps" >&2
  exit 1
fi
install_pip_bootstrap
stage_checkout
cd "$stage" || exit
exec "$ansible_test" "$@"
