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
# SeaweedFS 4.53: the commit the Go proxy serves (its release tags are not module versions).
SEAWEEDFS_VERSION="${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
# The version before it (its pinned constraints ship too): molecule/ha converges it and its last test upgrades it.
MLFLOW_PREVIOUS_VERSION="${MLFLOW_PREVIOUS_VERSION:-3.16.1}"
HOST_IMAGE="${HOST_IMAGE:-localhost/birtha-debian12-systemd:latest}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO_ROOT/containers.conf}"
# iptables and debootstrap live in sbin, which a user's PATH may lack; Go is installed in /usr/local/go.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:/usr/local/go/bin"
mkdir -p "$BIRTHA_CACHE"
log() { printf '==> %s\n' "$*" >&2; }

# The checkout is the collection: collections/ansible_collections/birtha/mlflow -> ../../.. lets ansible.cfg's
# collections_path (and Molecule's) find birtha.mlflow without installing it. Made here, not kept in git: ansible-test
# sanity refuses a symlink loop. Leaves an existing link or directory alone; tests/conftest.py does the same for pytest.
link_collection() {
  local link="$REPO_ROOT/collections/ansible_collections/birtha/mlflow"
  [[ -L "$link" || -e "$link" ]] && return 0
  mkdir -p "${link%/*}"
  # Lost a race with another script: fine if the link is there now.
  ln -s ../../.. "$link" 2>/dev/null || [[ -L "$link" ]] || { echo "cannot create the link $link" >&2; return 1; }
}

# Every command the scripts and tests run on the controller, and the Debian package that provides it.
# bootstrap.sh installs these packages; require() checks the commands before a script relies on them.
declare -A DEBIAN_PACKAGE_OF=(
  [podman]=podman
  [runc]=runc
  [/usr/lib/podman/netavark]=netavark
  [/usr/lib/podman/aardvark-dns]=aardvark-dns
  [iptables]=iptables  # netavark writes a bridge network's firewall rules with it
  [newuidmap]=uidmap
  [slirp4netns]=slirp4netns
  [fuse-overlayfs]=fuse-overlayfs
  [debootstrap]=debootstrap
  [zstd]=zstd
  [gpg]=gnupg
  [openssl]=openssl
  [ip]=iproute2
  [git]=git
  [ssh-keygen]=openssh-client  # tests/awx_runs: the machine credential's key pair, made per test run
  [curl]=curl
  [flock]=util-linux
  [tar]=tar
  [sha256sum]=coreutils
  [python3]=python3
  [shellcheck]=shellcheck  # ansible-test sanity's shellcheck test (make sanity)
)
# Packages that provide no command of their own: `python3 -m venv` needs ensurepip, the wheel archive pip.
# (Read by bootstrap.sh and package-gap.sh, which source this file.)
# shellcheck disable=SC2034
DEBIAN_PACKAGES_EXTRA=(python3-venv python3-pip)

# Stop, naming each missing command and the package that provides it, before anything is changed.
require() {
  local cmd missing=() packages=()
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 && continue
    missing+=("$cmd (package ${DEBIAN_PACKAGE_OF[$cmd]:-unknown})")
    packages+=("${DEBIAN_PACKAGE_OF[$cmd]:-}")
  done
  ((${#missing[@]} == 0)) && return 0
  printf 'missing on this controller: %s\n' "${missing[@]}" >&2
  printf "install them with \`make deps\` as root (scripts/bootstrap.sh), or: sudo apt-get install %s\n" \
    "${packages[*]}" >&2
  exit 1
}

# Where scripts/build-seaweedfs.sh keeps weed (known before it is built).
seaweedfs_dir() {
  echo "$BIRTHA_CACHE/seaweedfs/$SEAWEEDFS_VERSION"
}

# The sandbox's artifact store (its inventory reads BIRTHA_ARTIFACT_STORE): the variable when set, else what the
# running sandbox host already has - a sandbox deployed on MinIO stays on it - else the default, SeaweedFS.
sandbox_store() {
  local name="${SANDBOX_NAME:-birtha-sandbox}"
  if [[ -n "${BIRTHA_ARTIFACT_STORE:-}" ]]; then
    echo "$BIRTHA_ARTIFACT_STORE"
  elif podman exec "$name" test -e /etc/systemd/system/minio.service >/dev/null 2>&1; then
    echo minio
  else
    echo seaweedfs
  fi
}

# Build (once; cached) the binaries of the sandbox's store and export BIRTHA_ARTIFACT_STORE and where they are.
export_sandbox_store() {
  BIRTHA_ARTIFACT_STORE="$(sandbox_store)"
  case "$BIRTHA_ARTIFACT_STORE" in
    # The first SeaweedFS build takes 12-22 minutes.
    seaweedfs) BIRTHA_SEAWEEDFS_DIR="$("$REPO_ROOT/scripts/build-seaweedfs.sh")" ;;
    minio) BIRTHA_MINIO_DIR="$("$REPO_ROOT/scripts/build-minio.sh")" ;;
    *) echo "BIRTHA_ARTIFACT_STORE is '$BIRTHA_ARTIFACT_STORE'; the sandbox runs seaweedfs (the default) or minio" >&2
       exit 2 ;;
  esac
  log "the sandbox's artifact store: $BIRTHA_ARTIFACT_STORE"
  export BIRTHA_ARTIFACT_STORE BIRTHA_SEAWEEDFS_DIR BIRTHA_MINIO_DIR
  # Recorded in the sandbox inventory (a local file, not in git), so a plain ansible-playbook run finds it too.
  printf -- '---\n# Written by make platform-up: the store this sandbox runs.\nplatform_artifact_store: %s\n' \
    "$BIRTHA_ARTIFACT_STORE" >"$REPO_ROOT/inventories/sandbox/group_vars/all/store.yml"
}

# Go builds MinIO, mc and SeaweedFS; 1.21 or newer fetches the toolchain the modules ask for from the module proxy.
require_go() {
  command -v go >/dev/null 2>&1 \
    || { echo "missing on this controller: go (Go 1.21 or newer; looked in PATH and /usr/local/go/bin)." \
         "Debian 12's golang-go is 1.19: install Go into /usr/local/go" >&2; exit 1; }
  local version; version="$(go env GOVERSION)"
  [[ "$(printf '%s\n' go1.21 "$version" | sort -V | head -1)" == go1.21 ]] \
    || { echo "go is $version; building MinIO or SeaweedFS needs Go 1.21 or newer (it then fetches the toolchain the module asks for)" >&2
         exit 1; }
}
