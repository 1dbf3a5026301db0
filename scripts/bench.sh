#!/usr/bin/env bash
# `make bench`: the side-by-side benchmarks against the sandbox (make platform-up first). The platform's
# re-run needs the same store binaries and wheel archive platform-up deployed from (all cached).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$REPO_ROOT/scripts/bootstrap.sh"
BIRTHA_WHEEL_ARCHIVE="$("$REPO_ROOT/scripts/build-wheels.sh")"
export BIRTHA_WHEEL_ARCHIVE
export_sandbox_store
cd "$REPO_ROOT/benchmarks" || exit
exec "$REPO_ROOT/.venv/bin/python" data_lifecycle.py "$@"
