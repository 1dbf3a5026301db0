#!/usr/bin/env bash
# Build SeaweedFS's `weed` from source and cache it; prints the directory holding it. Needs Go; once per version.
# `go install` refuses the module (its go.mod has a replace directive), so: download the module, copy its source
# out of the read-only module cache, build ./weed there. 12-22 min and 2.6 GB of memory on 2 cores.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require flock
out="$(seaweedfs_dir)"
mkdir -p "$out"
# molecule.sh starts this in the background and calls it again before the scenario that needs it: the second call
# waits here for the first.
exec 9>"$out/.lock"
flock 9
if [[ ! -x "$out/weed" ]]; then
  require_go
  require sha256sum
  module=github.com/seaweedfs/seaweedfs
  log "building weed ($module@$SEAWEEDFS_VERSION) from source: 12-22 minutes, once"
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  # Outside any module: go mod download then fetches the one module asked for. Its errors are in the JSON it prints.
  if ! (cd "$work" && go mod download -json "$module@$SEAWEEDFS_VERSION") >"$work/download.json"; then
    echo "go mod download $module@$SEAWEEDFS_VERSION failed:" >&2
    cat "$work/download.json" >&2
    exit 1
  fi
  source_dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$work/download.json")"
  if [[ ! -d "$source_dir" ]]; then
    echo "go mod download gave no source of $module@$SEAWEEDFS_VERSION:" >&2
    cat "$work/download.json" >&2
    exit 1
  fi
  cp -r "$source_dir" "$work/src" && chmod -R u+w "$work/src"
  # CGO off gives a static binary that runs on any host image.
  (cd "$work/src" && CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" go build -o "$work/weed" ./weed)
  install -m 0755 "$work/weed" "$out/weed.tmp" && mv "$out/weed.tmp" "$out/weed"
  (cd "$out" && sha256sum weed > weed.sha256)
fi
echo "$out"
