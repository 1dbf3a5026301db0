#!/usr/bin/env bash
# Install what the controller is missing: Debian packages (when root), then the virtualenv.
# Safe to run again: each step checks first. The packages are lib.sh's DEBIAN_PACKAGE_OF table, so a
# command a script needs and the package installed for it are named in one place.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mapfile -t packages < <(printf '%s\n' "${DEBIAN_PACKAGE_OF[@]}" "${DEBIAN_PACKAGES_EXTRA[@]}" | sort -u)
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
# Installed is not enough: each command must be where the scripts look for it.
require "${!DEBIAN_PACKAGE_OF[@]}"
"$REPO_ROOT/scripts/venv.sh"
