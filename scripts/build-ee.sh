#!/usr/bin/env bash
# Build the execution environment (execution-environment.yml) with ansible-builder on this machine and print
# its name, localhost/birtha-mlflow-ee:<hash>, as the last line. No registry is reachable: the base is the
# base image scripts/build-image.sh builds (not the test hosts' layer on it), Python packages come from PyPI,
# external collections from the `ansible` package, and this collection from a tarball built here first.
#
# The tag is a hash of all the image is built from: the build context ansible-builder writes (the
# Containerfile with every step and pin, the requirement files, ansible-builder's own scripts), the
# collection's content (its MANIFEST.json, which holds the checksum of every file; the tarball's own bytes
# change with each build) and the base image's id. An unchanged tree reuses the image. A change to the
# collection alone rebuilds only the last layers: podman's layer cache keeps the dependency layers, which
# the Containerfile builds before it copies the collection in.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require podman runc flock sha256sum tar
EE_IMAGE_NAME="${EE_IMAGE_NAME:-localhost/birtha-mlflow-ee}"
definition="$REPO_ROOT/execution-environment.yml"
venv="$REPO_ROOT/.venv"
# The tarball's path is the one execution-environment.yml names (additional_build_files).
dist="$REPO_ROOT/.cache/ee"
context="$dist/context"
log_file="$BIRTHA_CACHE/ee-build.log"

# ansible-builder and ansible-galaxy, at the versions requirements-dev.txt pins.
"$REPO_ROOT/scripts/venv.sh" >&2
"$REPO_ROOT/scripts/build-image.sh" >/dev/null
# The base image, without the test hosts' layer (build-image.sh): its tag is the hash of build-image.sh.
base="${HOST_IMAGE%:*}:$(sha256sum "$REPO_ROOT/scripts/build-image.sh" | cut -c1-12)"

# One build at a time on this machine: they share podman's storage and two cores.
exec 9>"$BIRTHA_CACHE/ee-build.lock"
flock 9

# The definition names the base image by the hash tag build-image.sh gives it; a stale name would build on
# an old image, or on none.
named="$("$venv/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["images"]["base_image"]["name"])' \
  "$definition")"
base_id="$(podman image inspect --format '{{.Id}}' "$base")"
if [[ "$(podman image inspect --format '{{.Id}}' "$named" 2>/dev/null)" != "$base_id" ]]; then
  tags="$(podman image inspect --format '{{join .RepoTags ", "}}' "$base_id")"
  echo "execution-environment.yml builds on $named, which is not the image scripts/build-image.sh builds now" \
    "(tagged $tags): set images.base_image.name to its hash tag" >&2
  exit 1
fi

rm -rf "$dist"
mkdir -p "$dist"
"$venv/bin/ansible-galaxy" collection build --output-path "$dist" "$REPO_ROOT" >/dev/null
"$venv/bin/ansible-builder" create --file "$definition" --context "$context" --output-filename Containerfile >/dev/null
tarball=("$dist"/birtha-mlflow-*.tar.gz)
key="$(
  {
    (cd "$context" && find . -type f ! -name '*.tar.gz' -print0 | sort -z | xargs -0 sha256sum)
    tar -xzOf "${tarball[0]}" MANIFEST.json | sha256sum
    echo "$base_id"
  } | sha256sum | cut -c1-12
)"
image="$EE_IMAGE_NAME:$key"
if podman image exists "$image"; then
  echo "$image"; exit 0
fi

log "building the execution environment $image (log: $log_file)"
started=$SECONDS
# The two steps of `ansible-builder build`: create (above), then the container build of that context.
if ! podman build --layers --file "$context/Containerfile" --tag "$image" "$context" >"$log_file" 2>&1; then
  tail -n 30 "$log_file" >&2
  echo "building the execution environment failed; the whole log is $log_file" >&2
  exit 1
fi
log "built $image in $((SECONDS - started)) s"
echo "$image"
