#!/usr/bin/env bash
# Builds the container images the test node runs, as OCI archives for
# `ctr images import`, tagged with the names the render uses by default:
#   ghcr.io/multigres/multigres:sha-<commit>   the Debian 13 root (tools/imageroot.sh)
#                                              + multiadmin, multigateway, multiorch,
#                                              multipooler, multigres in /multigres/bin,
#                                              user 65532 (as upstream's Dockerfile)
#   ghcr.io/multigres/pgctld:sha-<commit>      the same root + /usr/local/bin/pgctld,
#                                              user postgres (999), PGDATA and PATH as the
#                                              postgres:17 image upstream's Dockerfile.pgctld
#                                              builds on, entrypoint `tail -f /dev/null`
#   gcr.io/etcd-development/etcd:<version>     etcd and etcdctl in /usr/local/bin (the
#                                              layout of upstream's image; no shell)
#   localhost/multigres-krmfn/coredns:<ver>    the node's cluster DNS
#   localhost/multigres-krmfn/pause:1          the sandbox image (tools/pause)
#
# Usage: tools/images.sh          build (or reuse); prints the folder of the archives
#        tools/images.sh path     print that folder only
#        tools/images.sh names    print "<archive> <image name>" lines
# The folder is in the tool cache, keyed by every input (versions, the root, these scripts).
set -euo pipefail
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/versions.env
source "$TOOLS_DIR/versions.env"
CACHE_ROOT=${MULTIGRES_KRMFN_TOOLS:-$HOME/.cache/multigres-krmfn/tools}
die() { echo "images.sh: $*" >&2; exit 1; }

TAG=sha-${MULTIGRES_COMMIT:0:7}
names() {
  cat <<NAMES
multigres.tar ghcr.io/multigres/multigres:$TAG
pgctld.tar ghcr.io/multigres/pgctld:$TAG
etcd.tar gcr.io/etcd-development/etcd:$ETCD_VERSION
coredns.tar localhost/multigres-krmfn/coredns:$COREDNS_VERSION
pause.tar localhost/multigres-krmfn/pause:1
NAMES
}

ROOT=$("$TOOLS_DIR/imageroot.sh" path)
KEY=$(cat "$TOOLS_DIR/images.sh" "$TOOLS_DIR/oci.py" "$TOOLS_DIR/pause/main.go" "$TOOLS_DIR/versions.env" <(echo "$ROOT") |
  sha256sum | cut -c1-10)
DIR=$CACHE_ROOT/images-$KEY
case ${1:-} in
  path) echo "$DIR"; exit 0 ;;
  names) names; exit 0 ;;
esac

# Deterministic layers: sorted, numeric owners, fixed times.
layer() { # out dir [tar args...]
  local out=$1 dir=$2; shift 2
  tar --numeric-owner --sort=name --mtime=@0 --format=pax --pax-option=delete=atime,delete=ctime \
    -C "$dir" -cf "$out" "$@" .
}

build() { # tmp
  local t=$1 bin
  "$TOOLS_DIR/build.sh" etcd coredns multigres >&2
  ROOT=$("$TOOLS_DIR/imageroot.sh")
  local oci=("python3" "$TOOLS_DIR/oci.py")
  local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

  # The shared root layer (one blob for both Multigres images).
  layer "$t/root.tar" "$ROOT" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/*

  mkdir -p "$t/mg/multigres/bin"
  bin=$("$TOOLS_DIR/build.sh" path multigres)
  cp "$bin"/{multigres,multiadmin,multigateway,multiorch,multipooler} "$t/mg/multigres/bin/"
  chown -R 65532:65532 "$t/mg/multigres"
  layer "$t/mg.tar" "$t/mg"
  "${oci[@]}" "$t/multigres.tar" --name "ghcr.io/multigres/multigres:$TAG" --layer "$t/root.tar" \
    --layer "$t/mg.tar" --user 65532:65532 --workdir /multigres --env "PATH=/multigres/bin:$path" >/dev/null

  mkdir -p "$t/pg/usr/local/bin"
  cp "$bin/pgctld" "$t/pg/usr/local/bin/"
  layer "$t/pg.tar" "$t/pg"
  "${oci[@]}" "$t/pgctld.tar" --name "ghcr.io/multigres/pgctld:$TAG" --layer "$t/root.tar" --layer "$t/pg.tar" \
    --user postgres --env "PATH=$path:/usr/lib/postgresql/17/bin" --env PGDATA=/var/lib/postgresql/data \
    --env LANG=en_US.UTF-8 --entrypoint '["tail"]' --cmd '["-f","/dev/null"]' >/dev/null

  mkdir -p "$t/etcd/usr/local/bin" "$t/etcd/var/etcd" "$t/etcd/var/lib/etcd" "$t/etcd/tmp"
  chmod 1777 "$t/etcd/tmp"
  bin=$("$TOOLS_DIR/build.sh" path etcd)
  cp "$bin/etcd" "$bin/etcdctl" "$t/etcd/usr/local/bin/"
  layer "$t/etcd.layer.tar" "$t/etcd"
  "${oci[@]}" "$t/etcd.tar" --name "gcr.io/etcd-development/etcd:$ETCD_VERSION" --layer "$t/etcd.layer.tar" \
    --cmd '["/usr/local/bin/etcd"]' >/dev/null

  mkdir -p "$t/dns"
  cp "$("$TOOLS_DIR/build.sh" path coredns)/coredns" "$t/dns/coredns"
  layer "$t/dns.tar" "$t/dns"
  "${oci[@]}" "$t/coredns.tar" --name "localhost/multigres-krmfn/coredns:$COREDNS_VERSION" --layer "$t/dns.tar" \
    --entrypoint '["/coredns"]' >/dev/null

  mkdir -p "$t/pause"
  (cd "$TOOLS_DIR/pause" && GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$t/pause/pause" .)
  layer "$t/pause.layer.tar" "$t/pause"
  "${oci[@]}" "$t/pause.tar" --name "localhost/multigres-krmfn/pause:1" --layer "$t/pause.layer.tar" \
    --entrypoint '["/pause"]' >/dev/null

  rm -rf "$t/mg" "$t/pg" "$t/etcd" "$t/dns" "$t/pause" "$t"/*.layer.tar "$t/root.tar" "$t/mg.tar" "$t/pg.tar" "$t/dns.tar"
  names >"$t/names"
}

mkdir -p "$CACHE_ROOT"
exec 9>"$DIR.lock"; flock 9
if [[ -f $DIR/names ]]; then echo "$DIR"; exit 0; fi
start=$(date +%s)
rm -rf "$DIR.tmp"; mkdir -p "$DIR.tmp"
trap 'rm -rf "$DIR.tmp"' EXIT
build "$DIR.tmp"
rm -rf "$DIR"; mv "$DIR.tmp" "$DIR"
echo "built the images in $(($(date +%s) - start))s: $(du -sh "$DIR" | cut -f1)" >&2
echo "$DIR"
