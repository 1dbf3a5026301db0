#!/usr/bin/env bash
# `make platform-up`: install what is missing, create the sandbox host, deploy the whole platform.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$REPO_ROOT/scripts/bootstrap.sh"
"$REPO_ROOT/scripts/build-image.sh" >/dev/null
BIRTHA_WHEEL_ARCHIVE="$("$REPO_ROOT/scripts/build-wheels.sh")"
export BIRTHA_WHEEL_ARCHIVE
"$REPO_ROOT/scripts/sandbox.sh" up
# SeaweedFS, or MinIO on a sandbox that already runs it (BIRTHA_ARTIFACT_STORE chooses on a new one).
export_sandbox_store
cd "$REPO_ROOT" || exit
exec .venv/bin/ansible-playbook -i inventories/sandbox playbooks/platform_up.yml "$@"
