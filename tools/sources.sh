#!/usr/bin/env bash
# Prints the path of a verified upstream source archive, fetching it first when needed.
#
# Usage: tools/sources.sh NAME      NAME: multigres pgbackrest argocd postgres_exporter
#
# These are the sources the build needs that no package registry serves. tools/versions.env pins
# each one's archive name (<PREFIX>_ARCHIVE), its upstream archive URL for the pinned commit or
# tag (<PREFIX>_URL) and the SHA-256 of its bytes (<PREFIX>_SHA256), PREFIX being NAME in upper
# case. The archive is taken from, in this order:
#   1. the cache, ${MULTIGRES_KRMFN_SOURCES_CACHE:-$HOME/.cache/multigres-krmfn/sources}/<sha256>/<archive>
#      (keyed by the checksum, so a new pin never reuses an old file);
#   2. a local mirror folder, $MULTIGRES_KRMFN_SOURCES_MIRROR, holding files named <archive>
#      (for machines that cannot reach the upstream host);
#   3. the upstream URL (curl).
# Whatever the origin, the bytes must have the pinned SHA-256 or nothing is cached and the script
# fails; the cached copy is checked again on every use.
set -euo pipefail
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/versions.env
source "$TOOLS_DIR/versions.env"
NAMES=(multigres pgbackrest argocd postgres_exporter)

die() { echo "sources.sh: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 NAME (one of: ${NAMES[*]})"
name=$1
[[ " ${NAMES[*]} " == *" $name "* ]] || die "unknown source: $name (want one of: ${NAMES[*]})"
prefix=${name^^}
archive_var=${prefix}_ARCHIVE url_var=${prefix}_URL sha_var=${prefix}_SHA256
archive=${!archive_var:?} url=${!url_var:?} sha=${!sha_var:?}

cache=${MULTIGRES_KRMFN_SOURCES_CACHE:-$HOME/.cache/multigres-krmfn/sources}
target=$cache/$sha/$archive

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f $target ]]; then
  [[ $(sha_of "$target") == "$sha" ]] || die "the cached $target does not have the pinned SHA-256 (delete it)"
  echo "$target"
  exit 0
fi

mkdir -p "$cache/$sha"
tmp=$(mktemp "$cache/$sha/.$archive.XXXXXX")
trap 'rm -f "$tmp"' EXIT
mirror=${MULTIGRES_KRMFN_SOURCES_MIRROR:-}
if [[ -n $mirror && -f $mirror/$archive ]]; then
  from=$mirror/$archive
  cp "$from" "$tmp"
else
  from=$url
  command -v curl >/dev/null || die "curl is missing (tools/host-packages.sh installs it)"
  echo "sources.sh: fetching $url" >&2
  curl -fsSL --retry 2 -o "$tmp" "$url" ||
    die "cannot fetch $url${mirror:+ (and $mirror/$archive does not exist)}; set MULTIGRES_KRMFN_SOURCES_MIRROR to a folder holding $archive"
fi
got=$(sha_of "$tmp")
[[ $got == "$sha" ]] || die "$from has SHA-256 $got, but tools/versions.env pins $sha for $archive: refused"
chmod 0644 "$tmp"
mv "$tmp" "$target"
trap - EXIT
echo "$target"
