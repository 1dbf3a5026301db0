#!/usr/bin/env bash
# `make platform-up`: install what is missing, create the sandbox host, deploy the whole platform.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$REPO_ROOT/scripts/bootstrap.sh"
"$REPO_ROOT/scripts/build-image.sh" >/dev/null
BIRTHA_MINIO_DIR="$("$REPO_ROOT/scripts/build-minio.sh")"
BIRTHA_WHEEL_ARCHIVE="$("$REPO_ROOT/scripts/build-wheels.sh")"
# SeaweedFS only for a sandbox on it (BIRTHA_ARTIFACT_STORE=seaweedfs): its first build takes 12-22 minutes.
if [[ "${BIRTHA_ARTIFACT_STORE:-}" == seaweedfs ]]; then
  BIRTHA_SEAWEEDFS_DIR="$("$REPO_ROOT/scripts/build-seaweedfs.sh")"
  export BIRTHA_SEAWEEDFS_DIR
fi
export BIRTHA_MINIO_DIR BIRTHA_WHEEL_ARCHIVE
"$REPO_ROOT/scripts/sandbox.sh" up
cd "$REPO_ROOT" || exit
exec .venv/bin/ansible-playbook -i inventories/sandbox playbooks/platform_up.yml "$@"
