#!/usr/bin/env bash
# Create or refresh the controller virtualenv (.venv) from the pinned requirement files.
# A stamp of the requirement files' hash makes a second call a no-op.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Every make target and platform-up pass through here (make deps), even when the virtualenv is current.
link_collection
venv="$REPO_ROOT/.venv"
stamp="$venv/.birtha-requirements"
want="$(cat "$REPO_ROOT"/requirements.txt "$REPO_ROOT"/requirements-dev.txt | sha256sum | cut -c1-16)"
# The modules that run on the controller (localhost tasks, the bad-input tests) import their module_utils from a zip
# as they do on the hosts: the same compiled-code cache as the host image (scripts/zipimport), refreshed on every call.
zipimport_hook() {
  local hook="$REPO_ROOT/scripts/zipimport/birtha_zipimport_cache.py" site
  for site in "$venv"/lib/python3*/site-packages; do
    [[ -d $site ]] || continue
    # Renamed into place: a Python starting meanwhile never reads half of it.
    if ! cmp -s "$hook" "$site/birtha_zipimport_cache.py"; then
      local partial
      partial="$(mktemp "$site/.birtha_zipimport_cache.XXXXXX")"
      cp "$hook" "$partial" && chmod 0644 "$partial" && mv -f "$partial" "$site/birtha_zipimport_cache.py"
    fi
    [[ -f $site/birtha_zipimport_cache.pth ]] || echo "import birtha_zipimport_cache" >"$site/birtha_zipimport_cache.pth"
  done
}
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then zipimport_hook; exit 0; fi
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' \
  || { echo "Python 3.11 or newer is required (ansible-core 2.19); set PYTHON=/path/to/python3.11" >&2; exit 1; }
"$python" -c 'import ensurepip' 2>/dev/null \
  || { echo "$python cannot create a virtualenv: apt-get install python3-venv (make deps)" >&2; exit 1; }
log "creating the controller virtualenv in .venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -r "$REPO_ROOT/requirements.txt" -r "$REPO_ROOT/requirements-dev.txt"
echo "$want" > "$stamp"
zipimport_hook
