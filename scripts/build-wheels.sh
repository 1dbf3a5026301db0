#!/usr/bin/env bash
# Build the wheel archive the mlflow_server role installs from on hosts without a package index.
# Keyed by the role's pinned constraints, so a second call is a no-op; prints the archive's path.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
constraints="$REPO_ROOT/roles/mlflow_server/files/constraints-$MLFLOW_VERSION.txt"
[[ -f "$constraints" ]] || { echo "no pinned constraints for MLflow $MLFLOW_VERSION: $constraints" >&2; exit 1; }
key="$(sha256sum "$constraints" | cut -c1-12)"
archive="$BIRTHA_CACHE/wheels/mlflow-$MLFLOW_VERSION-$key.tar"
if [[ -f "$archive" ]]; then echo "$archive"; exit 0; fi
log "building the MLflow $MLFLOW_VERSION wheel cache (a few minutes, once)"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
"$python" -m pip --version >/dev/null 2>&1 \
  || { echo "$python has no pip, which builds the wheel archive: apt-get install python3-pip (make deps)" >&2; exit 1; }
mkdir -p "$(dirname "$archive")"
dir="$(mktemp -d "$BIRTHA_CACHE/wheels.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
# Hosts run Debian 12's Python 3.11, the same ABI as the controller's, so these wheels install there.
"$python" -m pip wheel --quiet --wheel-dir "$dir" --requirement "$constraints"
# Only the wheels, no "." entry: unpacking must not change the target directory's mode.
(cd "$dir" && find . -maxdepth 1 -name "*.whl" -printf "%f\n" | sort | tar -cf "$archive.tmp" -T -)
mv "$archive.tmp" "$archive"
echo "$archive"
