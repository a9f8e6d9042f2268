#!/usr/bin/env bash
# Builds the image the Argo CD e2e (tests/e2e/argocd_stack.py) runs on the test node, as an OCI
# archive for `ctr images import`:
#   localhost/multigres-krmfn/argocd:<key>
#     /usr/local/bin/argocd           Argo CD's multicall binary (tools/build.sh argocd, static),
#                                     with the component names as symlinks, and upstream's
#                                     git-verify-wrapper.sh, as upstream's image has them
#     git, git daemon, redis-server,  this machine's Debian binaries with the shared libraries
#     sh, cp, ln                      `ldd` names (no package manager, no shell beyond dash)
#     user argocd (999), HOME /home/argocd, as upstream's Dockerfile
# One image for the repo-server, the application controller, the init container that copies the
# binary for the CMP sidecar (upstream's `copyutil`: sh, cp, ln), Redis and the Git server: the
# node imports one archive. The CMP sidecar itself runs the function's own image (Dockerfile).
#
# Usage: tools/argocd-image.sh     build (or reuse); prints "<archive> <image name>"
# The archive is in the tool cache, keyed by the Argo CD build, this script, oci.py and the
# versions of the host packages it copies from.
set -euo pipefail
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${MULTIGRES_KRMFN_TOOLS:-$HOME/.cache/multigres-krmfn/tools}
die() { echo "argocd-image.sh: $*" >&2; exit 1; }

PACKAGES=(git redis-server dash coreutils libc6)
"$TOOLS_DIR/build.sh" argocd >&2
BIN=$("$TOOLS_DIR/build.sh" path argocd)
KEY=$(cat "$TOOLS_DIR/argocd-image.sh" "$TOOLS_DIR/oci.py" <(echo "$BIN") \
  <(dpkg-query -W -f '${Package} ${Version}\n' "${PACKAGES[@]}") | sha256sum | cut -c1-10)
DIR=$CACHE_ROOT/argocd-image-$KEY
NAME=localhost/multigres-krmfn/argocd:$KEY

# The files to copy from the host: the programs, git's templates and every library they load.
host_files() {
  # git's builtins (fetch, index-pack, upload-pack, receive-pack) are in /usr/bin/git; the
  # daemon is the one helper the git:// protocol needs.
  local progs=(/usr/bin/git /usr/lib/git-core/git-daemon /usr/bin/redis-server /bin/dash /bin/cp /bin/ln) f
  printf '%s\n' "${progs[@]}" /usr/share/git-core/templates
  for f in "${progs[@]}"; do
    ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' || true
  done
}

build() { # tmp
  local t=$1 r=$1/root f
  mkdir -p "$r/usr/bin" "$r/usr/lib" "$r/usr/lib64" "$r/usr/sbin" "$r/usr/local/bin" "$r/etc" \
    "$r/home/argocd" "$r/tmp"
  # Merged /usr, as Debian 12: /bin/sh and /lib/x86_64-linux-gnu resolve as on the host.
  ln -s usr/bin "$r/bin"; ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"; ln -s usr/sbin "$r/sbin"
  host_files | sort -u | while read -r f; do
    # Copy what the path resolves to, at the path's own place (a library's soname link).
    mkdir -p "$r$(dirname "$(realpath -s "$f")")"
    if [[ -d $f ]]; then cp -a "$f" "$r$(dirname "$f")/"; else cp -L "$f" "$r$f" 2>/dev/null || cp -L "$f" "$r$(realpath "$f")"; fi
  done
  ln -sf dash "$r/usr/bin/sh"
  # The repo-server runs upstream's hack/git-verify-wrapper.sh (a /bin/sh script) for every revision.
  cp "$BIN/argocd" "$BIN/git-verify-wrapper.sh" "$r/usr/local/bin/"
  for f in argocd-repo-server argocd-application-controller argocd-cmp-server; do ln -s argocd "$r/usr/local/bin/$f"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nargocd:x:999:999::/home/argocd:/bin/sh\n' >"$r/etc/passwd"
  printf 'root:x:0:\nargocd:x:999:\n' >"$r/etc/group"
  chown 999:999 "$r/home/argocd"; chmod 1777 "$r/tmp"
  # Each program starts in the root (git opens /dev/null: a node only for the check).
  mkdir "$r/dev"; mknod -m 666 "$r/dev/null" c 1 3
  for f in "git --version" "redis-server --version" "sh -c true" "cp --version" "argocd version --client"; do
    chroot --userspec=999:999 "$r" /bin/sh -c "export PATH=/usr/local/bin:/usr/bin HOME=/home/argocd; $f" >/dev/null ||
      die "$f does not run in the image's root"
  done
  rm -rf "${r:?}/dev"
  tar --numeric-owner --sort=name --mtime=@0 --format=pax --pax-option=delete=atime,delete=ctime \
    -C "$r" -cf "$t/layer.tar" .
  python3 "$TOOLS_DIR/oci.py" "$t/argocd.tar" --name "$NAME" --layer "$t/layer.tar" --user 999:999 \
    --workdir /home/argocd --env PATH=/usr/local/bin:/usr/bin:/bin --env HOME=/home/argocd >/dev/null
  rm -rf "$r" "$t/layer.tar"
  echo "$NAME" >"$t/name"
}

mkdir -p "$CACHE_ROOT"
exec 9>"$DIR.lock"; flock 9
if [[ ! -f $DIR/name ]]; then
  start=$(date +%s)
  rm -rf "$DIR.tmp"; mkdir -p "$DIR.tmp"
  trap 'rm -rf "$DIR.tmp"' EXIT
  build "$DIR.tmp"
  rm -rf "$DIR"; mv "$DIR.tmp" "$DIR"
  echo "built $NAME in $(($(date +%s) - start))s: $(du -sh "$DIR" | cut -f1)" >&2
fi
[[ -f $DIR/argocd.tar ]] || die "no archive in $DIR"
echo "$DIR/argocd.tar $(cat "$DIR/name")"
