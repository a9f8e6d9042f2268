#!/usr/bin/env bash
# Builds the Debian root that the multigres and pgctld images are made of:
# Debian 13 (trixie, the first Debian with PostgreSQL 17), PostgreSQL 17 from
# Debian's packages, pgBackRest built from its upstream source (Multigres
# refuses pgBackRest < 2.57 and trixie ships 2.55.1), the en_US.UTF-8 locale
# (Multigres' postgresql.conf template hard-codes lc_* = en_US.UTF-8 and
# postgres refuses to start without it) and procps.
#
# Usage: tools/imageroot.sh            build (or reuse) and print the root's path
#        tools/imageroot.sh path       print the path only
#
# The root lives in the tool cache, keyed by suite, pgBackRest version and a
# hash of this script, so any change here builds a new root beside the old.
# Needs root (debootstrap, chroot) and Debian's debootstrap package.
set -euo pipefail
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/versions.env
source "$TOOLS_DIR/versions.env"
CACHE_ROOT=${MULTIGRES_KRMFN_TOOLS:-$HOME/.cache/multigres-krmfn/tools}
KEY=$(cat "$TOOLS_DIR/imageroot.sh" "$TOOLS_DIR/debian.sh" | sha256sum | cut -c1-10)
DIR=$CACHE_ROOT/imageroot-$IMAGE_SUITE-pgbackrest$PGBACKREST_VERSION-$KEY
ROOT=$DIR/rootfs

die() { echo "imageroot.sh: $*" >&2; exit 1; }
[[ ${1:-} == path ]] && { echo "$ROOT"; exit 0; }

# shellcheck source=SCRIPTDIR/debian.sh
source "$TOOLS_DIR/debian.sh"

build() { # tmp-root
  local r=$1 m
  m=$(mirror)
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  debootstrap --variant=minbase "$IMAGE_SUITE" "$r" "$m" >"$DIR.tmp.log" 2>&1 ||
    { tail -20 "$DIR.tmp.log" >&2; die "debootstrap failed"; }
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$m" "$IMAGE_SUITE" "$IMAGE_SUITE" >"$r/etc/apt/sources.list.d/debian.sources"
  rm -f "$r/etc/apt/sources.list"
  # No service may start inside the build, and the package must not create a
  # cluster: pgctld runs initdb itself.
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
  mkdir -p "$r/etc/postgresql-common/createcluster.d"
  echo 'create_main_cluster = false' >"$r/etc/postgresql-common/createcluster.d/no-main.conf"
  # uid/gid 999 as in the upstream postgres image the pgctld image is built on.
  in_root "$r" groupadd -r -g 999 postgres
  in_root "$r" useradd -r -u 999 -g 999 -d /var/lib/postgresql -s /bin/bash postgres
  # The multigres image's user (upstream: USER 65532:65532).
  in_root "$r" groupadd -g 65532 nonroot
  in_root "$r" useradd -u 65532 -g 65532 -d /home/nonroot -m -s /usr/sbin/nologin nonroot
  in_root "$r" apt-get update -qq
  local runtime=(postgresql-17 locales procps libpq5 libssl3t64 libxml2 liblz4-1 libzstd1 libbz2-1.0 libyaml-0-2 zlib1g ca-certificates)
  local builddeps=(meson gcc pkg-config libpq-dev libssl-dev libxml2-dev liblz4-dev libzstd-dev libbz2-dev libyaml-dev zlib1g-dev)
  in_root "$r" apt-get install -y -qq --no-install-recommends "${runtime[@]}" >/dev/null
  echo 'en_US.UTF-8 UTF-8' >"$r/etc/locale.gen"
  in_root "$r" locale-gen >/dev/null
  # pgBackRest from its upstream source archive (checksum-verified by
  # tools/sources.sh), with meson as its README says; the build packages are
  # removed again.
  local src
  src=$("$TOOLS_DIR/sources.sh" pgbackrest)
  mkdir -p "$r/tmp/pgbr"; tar -xzf "$src" -C "$r/tmp/pgbr" --strip-components=1
  in_root "$r" apt-get install -y -qq --no-install-recommends "${builddeps[@]}" >/dev/null
  in_root "$r" sh -c 'cd /tmp/pgbr && meson setup build >/dev/null && ninja -C build >/dev/null && install -m 0755 build/src/pgbackrest /usr/bin/pgbackrest'
  in_root "$r" apt-mark manual "${runtime[@]}" >/dev/null
  in_root "$r" apt-get purge -y -qq "${builddeps[@]}" >/dev/null
  in_root "$r" apt-get autoremove -y -qq --purge >/dev/null
  in_root "$r" apt-get clean
  # pgBackRest's default config, lock and log paths, owned by the users that
  # run it (pgctld as postgres, multipooler as nonroot).
  mkdir -p "$r/etc/pgbackrest" "$r/var/log/pgbackrest" "$r/tmp/pgbackrest"
  chmod 1777 "$r/var/log/pgbackrest" "$r/tmp/pgbackrest"
  rm -rf "$r/tmp/pgbr" "$r/var/lib/apt/lists/"* "$r/var/cache/apt/"* "$r/usr/sbin/policy-rc.d" \
    "$r/usr/share/doc" "$r/usr/share/man" "$r/var/log/"*.log
  in_root "$r" pgbackrest version | grep -q "pgBackRest $PGBACKREST_VERSION" || die "pgbackrest does not run in the root"
}

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap and chroot)"
mkdir -p "$CACHE_ROOT"
exec 9>"$DIR.lock"; flock 9
if [[ -x $ROOT/usr/bin/pgbackrest ]]; then echo "$ROOT"; exit 0; fi
start=$(date +%s)
rm -rf "$DIR.tmp"; mkdir -p "$DIR.tmp"
trap 'rm -rf "$DIR.tmp"' EXIT
build "$DIR.tmp/rootfs"
rm -rf "$DIR"; mv "$DIR.tmp" "$DIR"
echo "built the image root in $(($(date +%s) - start))s" >&2
echo "$ROOT"
