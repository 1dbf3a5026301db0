#!/usr/bin/env bash
# Install what the controller is missing: Debian packages (when root), then the virtualenv.
# Safe to run again: each step checks first.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
packages=(podman runc netavark aardvark-dns debootstrap uidmap slirp4netns fuse-overlayfs zstd gnupg iproute2 git curl)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$REPO_ROOT/scripts/venv.sh"
