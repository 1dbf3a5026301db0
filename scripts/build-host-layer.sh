#!/usr/bin/env bash
# The test hosts' layer on the base image build-image.sh makes (its name is the one argument): the zipimport hook
# (scripts/zipimport) in the system Python's dist-packages, a .pth line that loads it at every start, and its cache
# directory, root's alone (0755). Prints the layered image's name. Its tag carries the base's tag and image ID and a
# hash of the hook and of this script, so a new base, hook or recipe makes a new layer and an unchanged one is reused.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require podman sha256sum
base="${1:?usage: build-host-layer.sh BASE-IMAGE}"
hook="$REPO_ROOT/scripts/zipimport/birtha_zipimport_cache.py"
layer_hash="$(cat "$hook" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-8)"
base_id="$(podman image inspect --format '{{.Id}}' "$base" | cut -c1-8)"
layered="$base-$base_id-$layer_hash"
if ! podman image exists "$layered"; then
  context="$(mktemp -d "$BIRTHA_CACHE/host-layer.XXXXXX")"
  trap 'rm -rf "$context"' EXIT
  install -m 0644 "$hook" "$context/birtha_zipimport_cache.py"
  echo "import birtha_zipimport_cache" >"$context/birtha_zipimport_cache.pth"
  chmod 0644 "$context/birtha_zipimport_cache.pth"
  install -d -m 0755 "$context/cache"
  {
    echo "FROM $base"
    echo "COPY birtha_zipimport_cache.py birtha_zipimport_cache.pth /usr/lib/python3/dist-packages/"
    echo "COPY cache /var/cache/birtha-zipimport"
  } >"$context/Containerfile"
  podman build -q --network none -t "$layered" -f "$context/Containerfile" "$context" >/dev/null
fi
echo "$layered"
