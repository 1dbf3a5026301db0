#!/usr/bin/env bash
# `make bench`: the side-by-side benchmarks against the sandbox (make platform-up first). The platform's
# re-run needs the same MinIO binaries and wheel archive platform-up deployed from (both cached).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$REPO_ROOT/scripts/bootstrap.sh"
BIRTHA_MINIO_DIR="$("$REPO_ROOT/scripts/build-minio.sh")"
BIRTHA_WHEEL_ARCHIVE="$("$REPO_ROOT/scripts/build-wheels.sh")"
export BIRTHA_MINIO_DIR BIRTHA_WHEEL_ARCHIVE
cd "$REPO_ROOT/benchmarks" || exit
exec "$REPO_ROOT/.venv/bin/python" data_lifecycle.py "$@"
