#!/usr/bin/env bash
# `make package-gap`: the Debian packages installed by hand on this machine (apt-mark showmanual) that the
# repo's scripts do not install, so neither would a new machine have them. CI green on a machine where
# such a package was added by hand proves nothing for a new one.
#   scripts/package-gap.sh [BASELINE]
# BASELINE lists the packages a new machine already has, one name a line (on a new machine:
# `dpkg-query -W -f='${Package}\n'`), or tab-separated lines whose second field is the name. Default:
# $BIRTHA_PACKAGE_BASELINE, else Debian's installer record (/var/log/installer/initial-status.gz), else
# none: then the operating system's own manual packages are listed too.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
baseline="${1:-${BIRTHA_PACKAGE_BASELINE:-}}"

# One package name a line, architecture suffix dropped, sorted.
names() { sed 's/:.*//' | sort -u; }

baseline_names() {
  if [[ -n "$baseline" ]]; then
    [[ -r "$baseline" ]] || { echo "baseline $baseline cannot be read" >&2; exit 1; }
    awk -F'\t' 'NF >= 2 {print $2; next} {print $1}' "$baseline" | names
  elif [[ -r /var/log/installer/initial-status.gz ]]; then
    zcat /var/log/installer/initial-status.gz | sed -n 's/^Package: //p' | names
  else
    echo "no baseline (see the top of $0): the operating system's own manual packages are listed too" >&2
  fi
}

installed_by_repo=$(printf '%s\n' "${DEBIAN_PACKAGE_OF[@]}" "${DEBIAN_PACKAGES_EXTRA[@]}" | names)
on_new_machine=$(baseline_names)
gap=$(apt-mark showmanual | names \
  | comm -23 - <(printf '%s\n' "$installed_by_repo") \
  | comm -23 - <(printf '%s\n' "$on_new_machine"))
if [[ -z "$gap" ]]; then
  echo "no gap: every package installed by hand here is installed by the repo's scripts or is on a new machine"
  exit 0
fi
echo "installed by hand here, installed by no script of the repo (a new machine lacks them):"
printf '%s\n' "$gap" | sed 's/^/  /'
