#!/usr/bin/env bash
# `make platform-harden`: the sandbox with TLS on every connection and least-privilege defaults (README "Security
# model"). Records platform_tls: true in the sandbox inventory (a local file, not in git) and deploys again.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
switch="$REPO_ROOT/inventories/sandbox/group_vars/all/tls.yml"
printf -- '---\n# Written by make platform-harden (README "Security model").\nplatform_tls: true\n' >"$switch"
log "platform_tls: true recorded in ${switch#"$REPO_ROOT"/}"
exec "$REPO_ROOT/scripts/platform-up.sh" "$@"
