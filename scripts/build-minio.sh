#!/usr/bin/env bash
# Build the MinIO server and its client `mc` from source (the community edition ships no binaries)
# and cache them; prints the directory holding both. Needs Go; each build happens once per version.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$BIRTHA_CACHE/minio/$MINIO_VERSION"
build() {  # build <module> <version> <binary>
  local module="$1" version="$2" bin="$3"
  [[ -x "$out/$bin" ]] && return 0
  require_go
  require sha256sum
  log "building $bin ($module@$version) from source: several minutes, once"
  local gobin; gobin="$(mktemp -d)"
  # CGO off gives static binaries that run on any host image.
  CGO_ENABLED=0 GOBIN="$gobin" GOFLAGS="-trimpath -buildvcs=false" go install "$module@$version"
  mkdir -p "$out"
  install -m 0755 "$gobin/$bin" "$out/$bin.tmp" && mv "$out/$bin.tmp" "$out/$bin"
  rm -rf "$gobin"
  (cd "$out" && sha256sum "$bin" > "$bin.sha256")
}
build github.com/minio/minio "$MINIO_VERSION" minio
build github.com/minio/mc "$MC_VERSION" mc
echo "$out"
