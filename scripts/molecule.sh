#!/usr/bin/env bash
# Run Molecule scenarios one after another (2 cores): builds what they need first, once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$REPO_ROOT/scripts/build-image.sh" >/dev/null
BIRTHA_MINIO_DIR="$("$REPO_ROOT/scripts/build-minio.sh")"
BIRTHA_WHEEL_ARCHIVE="$("$REPO_ROOT/scripts/build-wheels.sh")"
export BIRTHA_MINIO_DIR BIRTHA_WHEEL_ARCHIVE
export PATH="$REPO_ROOT/.venv/bin:$PATH"
cd "$REPO_ROOT"
status=0
for scenario in "$@"; do
  log "molecule scenario $scenario"
  start=$SECONDS
  if ! molecule test -s "$scenario"; then
    status=1
    log "scenario $scenario FAILED after $((SECONDS - start))s"
    molecule destroy -s "$scenario" >/dev/null 2>&1 || true
  else
    log "scenario $scenario passed in $((SECONDS - start))s"
  fi
done
exit "$status"
