#!/usr/bin/env bash
# Check the collection the way Galaxy checks an upload: build the tarball, run galaxy-importer on it, and fail on any
# error or warning it reports (Galaxy shows warnings on the collection's page; none is acceptable here).
#
# galaxy-importer pins packages that clash with requirements-dev.txt (attrs<24), so it lives in a virtualenv of its
# own under $BIRTHA_CACHE, made once per version. Its ansible-core, ansible-lint and ansible are pinned as in
# requirements-dev.txt, so its ansible-doc reads the collection as the project's tools do (its lint is off below).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require python3 tar
GALAXY_IMPORTER_VERSION="${GALAXY_IMPORTER_VERSION:-0.4.44}"
venv="$BIRTHA_CACHE/galaxy-importer-$GALAXY_IMPORTER_VERSION"
dist="$REPO_ROOT/.cache/dist"
work="$REPO_ROOT/.cache/galaxy-importer"

pins=()
for name in ansible-core ansible-lint ansible; do
  pin="$(grep -E "^$name==" "$REPO_ROOT/requirements-dev.txt")" || { echo "requirements-dev.txt pins no $name" >&2; exit 1; }
  pins+=("$pin")
done
stamp="$venv/.birtha-pins"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "${pins[*]}" ]]; then
  log "creating galaxy-importer $GALAXY_IMPORTER_VERSION's virtualenv in $venv"
  python="${PYTHON:-python3.11}"
  command -v "$python" >/dev/null || python=python3
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "galaxy-importer==$GALAXY_IMPORTER_VERSION" "${pins[@]}"
  echo "${pins[*]}" >"$stamp"
fi

rm -rf "$dist" "$work"
mkdir -p "$dist" "$work"
"$venv/bin/ansible-galaxy" collection build --output-path "$dist" "$REPO_ROOT" >/dev/null
tarball=("$dist"/birtha-mlflow-*.tar.gz)
checked="${tarball[0]}"

# Galaxy refuses a collection without a repository URL, and stops there; galaxy.yml names none until the repository
# has a public address. Check a copy whose MANIFEST.json says so in that field, so every other check still runs, and
# say that it cannot be published yet. The tarball in .cache/dist is left as built.
repository="$(tar -xzOf "$checked" MANIFEST.json \
  | "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["collection_info"]["repository"] or "")')"
if [[ -z "$repository" ]]; then
  mkdir -p "$work/check"
  checked="$work/check/${tarball[0]##*/}"
  "$venv/bin/python" - "${tarball[0]}" "$checked" <<'PY'
import io
import json
import sys
import tarfile

with tarfile.open(sys.argv[1]) as built, tarfile.open(sys.argv[2], "w:gz") as copy:
    for member in built.getmembers():
        data = built.extractfile(member).read() if member.isfile() else None
        if member.name == "MANIFEST.json":
            manifest = json.loads(data)
            manifest["collection_info"]["repository"] = "none yet: galaxy.yml names no repository"
            data = json.dumps(manifest, indent=4).encode()
            member.size = len(data)
        copy.addfile(member, io.BytesIO(data) if data is not None else None)
PY
  log "galaxy.yml names no repository, which Galaxy requires: not publishable until it does (checking the rest)"
fi

# ansible-test sanity runs on its own (scripts/ansible-test.sh); the importer would run it in a container, which this
# machine cannot pull. Its ansible-lint is off: it runs `ansible-lint --profile production` with rules skipped on the
# tarball's files, which `make lint` already runs unskipped on the whole checkout (the tarball is a subset), and on 2
# cores it cost 7 minutes of CI, past the 180 s galaxy-importer gives it.
cat >"$work/galaxy-importer.cfg" <<EOF
[galaxy-importer]
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_DOC = True
RUN_ANSIBLE_LINT = False
CHECK_CHANGELOG = True
LOG_LEVEL_MAIN = INFO
TMP_ROOT_DIR = $work
EOF

log "galaxy-importer $GALAXY_IMPORTER_VERSION on ${checked#"$REPO_ROOT"/}"
# The importer runs ansible-doc from its own virtualenv; the checkout's ansible.cfg stays out.
set +e
(cd "$work" && env -u ANSIBLE_CONFIG PATH="$venv/bin:$PATH" GALAXY_IMPORTER_CONFIG="$work/galaxy-importer.cfg" \
  "$venv/bin/python" -m galaxy_importer.main "$checked") 2>&1 | tee "$work/output.log"
status=${PIPESTATUS[0]}
set -e
# The importer exits 0 after reporting warnings (a module's docs, a role without a README it could not load); Galaxy
# shows each of them, so each one fails this check.
findings="$(grep -E '^(WARNING|ERROR|CRITICAL):' "$work/output.log" || true)"
if ((status != 0)) || [[ -n "$findings" ]]; then
  echo "galaxy-importer: $(printf '%s\n' "$findings" | grep -c . || true) findings, exit status $status;" \
    "the whole output is .cache/galaxy-importer/output.log" >&2
  printf '%s\n' "$findings" | head -20 >&2
  exit 1
fi
log "galaxy-importer: no findings"
