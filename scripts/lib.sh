# Shared settings for the repo's shell scripts; sourced, never run.
# shellcheck shell=bash
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Caches live outside the checkout so fresh clones (CI) on the same machine reuse them.
BIRTHA_CACHE="${BIRTHA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/birtha-mlflow}"
# The Go module proxy serves only MinIO's final commit (2026-02-12), 11 commits after
# RELEASE.2025-10-15T17-29-55Z (bug fixes and README); the release tag itself answers 403.
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
# mc at the version MinIO itself builds against (the newest the proxy serves).
MC_VERSION="${MC_VERSION:-v0.0.0-20250313080218-cf909e1063a9}"
MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
HOST_IMAGE="${HOST_IMAGE:-localhost/birtha-debian12-systemd:latest}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO_ROOT/containers.conf}"
mkdir -p "$BIRTHA_CACHE"
log() { printf '==> %s\n' "$*" >&2; }
