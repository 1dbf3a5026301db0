#!/usr/bin/env bash
# Create (up) or remove (down) the local sandbox host: one systemd container with host networking.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${SANDBOX_NAME:-birtha-sandbox}"
require podman runc
case "${1:-}" in
  up)
    if ! podman container exists "$name"; then
      log "creating the sandbox host $name"
      # The image runs sshd (Molecule hosts are reached over SSH as AWX reaches them); with host networking it would
      # listen on this machine's port 22. Debian's ssh.service does not start while /etc/ssh/sshd_not_to_be_run
      # exists; the sandbox is reached through podman.
      podman run -d --name "$name" --hostname "$name" --add-host "$name:127.0.1.1" --network host --systemd=always \
        --volume /dev/null:/etc/ssh/sshd_not_to_be_run:ro "$HOST_IMAGE" >/dev/null
    fi
    [[ "$(podman inspect -f '{{.State.Running}}' "$name")" == true ]] || podman start "$name" >/dev/null
    # systemd reports 'running' (or 'degraded') once boot has finished.
    for _ in $(seq 60); do
      state="$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)"
      [[ "$state" == running || "$state" == degraded ]] && exit 0
      sleep 1
    done
    echo "the sandbox host $name did not finish booting (systemd state: ${state:-unknown})" >&2
    exit 1
    ;;
  down)
    if podman container exists "$name"; then
      log "removing the sandbox host $name"
      podman rm -f -t 10 "$name" >/dev/null
    fi
    rm -f "$REPO_ROOT/.cache/facts/$name" "$REPO_ROOT/inventories/sandbox/group_vars/all/store.yml"
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
