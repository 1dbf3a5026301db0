#!/usr/bin/env bash
# Build the Debian 12 systemd host image that the sandbox and every Molecule scenario run on.
# No registry is reachable, so the image is debootstrapped and imported locally. The tag carries a
# hash of this script, so editing the recipe rebuilds the image and an unchanged one is reused.
# Two images: the base (tagged with that hash; the execution environment builds on it) and the test hosts'
# (HOST_IMAGE): the base plus scripts/build-host-layer.sh's layer, the zipimport hook that keeps the compiled code of
# what Python imports from a zip (every Ansible module). Test hosts only: the execution environment AWX runs is built
# on the base, without it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require podman sha256sum
recipe_hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
image="${HOST_IMAGE%:*}:$recipe_hash"
# Its own assignment: set -e does not stop at a command substitution inside another command's arguments.
if podman image exists "$image"; then
  layered="$("$REPO_ROOT/scripts/build-host-layer.sh" "$image")"
  podman tag "$layered" "$HOST_IMAGE"
  echo "$HOST_IMAGE"; exit 0
fi
[[ $EUID -eq 0 ]] || { echo "building the host image needs root (debootstrap, rootful podman)" >&2; exit 1; }
require debootstrap tar
log "building host image $image with debootstrap (a few minutes, once)"
root="$(mktemp -d "$BIRTHA_CACHE/rootfs.XXXXXX")"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase \
  --include=python3,python3-apt,python3-venv,sudo,systemd,systemd-sysv,dbus,procps,curl,ca-certificates,iproute2,gnupg,zstd,less,openssh-server \
  bookworm "$root" http://deb.debian.org/debian >"$BIRTHA_CACHE/debootstrap.log"
cat >"$root/etc/apt/sources.list" <<'LIST'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
# TLS from inside a host must trust what the build host trusts (pip and curl fail otherwise).
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
# A container host has no consoles or kernel to manage; these units only slow boot or fail.
for unit in getty.target systemd-logind.service systemd-udevd.service console-getty.service \
            systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# sshd runs (tests reach hosts over SSH as a sudoer), but no key is baked in: each container makes its own
# host keys on first start, and users with their keys are added per test run.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
  >"$root/etc/systemd/system/ssh.service.d/host-keys.conf"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /lib/systemd/system/ssh.service "$root/etc/systemd/system/multi-user.target.wants/ssh.service"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# An old lists directory makes apt(cache_valid_time) refresh the empty package lists on first use.
touch -d @0 "$root/var/lib/apt/lists"
tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$image" >/dev/null
layered="$("$REPO_ROOT/scripts/build-host-layer.sh" "$image")"
podman tag "$layered" "$HOST_IMAGE"
echo "$HOST_IMAGE"
