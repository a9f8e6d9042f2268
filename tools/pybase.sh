#!/usr/bin/env bash
# Builds a stand-in for the Dockerfile's base image, python:3.11-slim, which cannot be pulled
# here (no container registry is reachable): a Debian 12 (bookworm) minbase root with Debian's
# Python 3.11 (python3, python3-venv, python3-pip) and ca-certificates, laid out where the
# official image has its commands (/usr/local/bin/python3, python, pip) and with its ENV/CMD,
# imported into podman as docker.io/library/python:3.11-slim.
#
# Usage: tools/pybase.sh            build (or reuse) the root, import it (unless podman already
#                                   has this exact build) and print the image name
#        tools/pybase.sh path       print the cached root tarball's path only
#
# The root tarball lives in the tool cache, keyed by a hash of this script, so any change here
# builds a new one beside the old. The imported image carries the key as a label; a podman that
# already has an image of that name with that label is left alone. Timings go to stderr.
# Needs root (debootstrap, chroot), Debian's debootstrap package and podman.
set -euo pipefail
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${MULTIGRES_KRMFN_TOOLS:-$HOME/.cache/multigres-krmfn/tools}
KEY=$(cat "$TOOLS_DIR/pybase.sh" "$TOOLS_DIR/debian.sh" | sha256sum | cut -c1-10)
DIR=$CACHE_ROOT/pybase-$KEY
TARBALL=$DIR/rootfs.tar
IMAGE=docker.io/library/python:3.11-slim
SUITE=bookworm
LABEL=org.multigres-krmfn.pybase

die() { echo "pybase.sh: $*" >&2; exit 1; }
[[ ${1:-} == path ]] && { echo "$TARBALL"; exit 0; }

# shellcheck source=SCRIPTDIR/debian.sh
source "$TOOLS_DIR/debian.sh"

build() { # tmp-root
  local r=$1 m
  m=$(mirror)
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  debootstrap --variant=minbase "$SUITE" "$r" "$m" >"$DIR.tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$DIR.tmp/debootstrap.log" >&2; die "debootstrap failed"; }
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$m" "$SUITE" "$SUITE" >"$r/etc/apt/sources.list.d/debian.sources"
  rm -f "$r/etc/apt/sources.list"
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
  if ! { in_root "$r" apt-get update -qq &&
    in_root "$r" apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip ca-certificates; } \
    >>"$DIR.tmp/apt.log" 2>&1; then
    tail -20 "$DIR.tmp/apt.log" >&2; die "apt-get failed in the root"
  fi
  # Where python:3.11-slim has them: /usr/local/bin/{python3,python,pip,pip3}.
  ln -s /usr/bin/python3 "$r/usr/local/bin/python3"
  ln -s /usr/bin/python3 "$r/usr/local/bin/python"
  ln -s /usr/bin/pip3 "$r/usr/local/bin/pip"
  ln -s /usr/bin/pip3 "$r/usr/local/bin/pip3"
  in_root "$r" apt-get clean
  rm -rf "$r/var/lib/apt/lists/"* "$r/var/cache/apt/"* "$r/usr/sbin/policy-rc.d" \
    "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/info" "$r/var/log/"*.log "$r/var/cache/debconf/"*-old
  # The Dockerfile's build stage: `python -m venv` (with pip from Debian's bundled wheel) must work.
  in_root "$r" python -m venv /tmp/venv-check
  in_root "$r" /tmp/venv-check/bin/pip --version >/dev/null || die "pip does not run in a venv of the root"
  rm -rf "$r/tmp/venv-check"
  find "$r/usr/lib/python3" "$r/usr/lib/python3.11" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true
  in_root "$r" python3 --version | grep -q '^Python 3\.11\.' || die "the root's python3 is not 3.11"
  tar --numeric-owner --xattrs -C "$r" -cf "$DIR.tmp/rootfs.tar" .
}

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap and chroot)"
command -v podman >/dev/null || die "podman is missing"
mkdir -p "$CACHE_ROOT"
exec 9>"$DIR.lock"; flock 9
if [[ ! -s $TARBALL ]]; then
  start=$(date +%s)
  rm -rf "$DIR.tmp"; mkdir -p "$DIR.tmp"
  trap 'rm -rf "$DIR.tmp"' EXIT
  build "$DIR.tmp/rootfs"
  rm -rf "$DIR.tmp/rootfs"
  rm -rf "$DIR"; mv "$DIR.tmp" "$DIR"
  trap - EXIT
  echo "pybase.sh: built the root in $(($(date +%s) - start))s ($(du -m "$TARBALL" | cut -f1) MiB tar)" >&2
else
  echo "pybase.sh: reusing $TARBALL" >&2
fi
have=$(podman image inspect --format "{{ index .Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
if [[ $have == "$KEY" ]]; then
  echo "pybase.sh: podman already has $IMAGE ($LABEL=$KEY)" >&2
else
  start=$(date +%s)
  # The config of the official image that matters to a Dockerfile built on it.
  podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHON_VERSION=3.11' \
    --change "LABEL $LABEL=$KEY" \
    --change 'CMD ["python3"]' \
    --message "Debian $SUITE minbase + Debian's Python 3.11 (tools/pybase.sh $KEY)" \
    --quiet "$TARBALL" "$IMAGE" >/dev/null
  echo "pybase.sh: imported $IMAGE in $(($(date +%s) - start))s" >&2
fi
echo "$IMAGE"
