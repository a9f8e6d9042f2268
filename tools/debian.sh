# shellcheck shell=bash
# Shared by the scripts that build Debian roots (tools/imageroot.sh, tools/pybase.sh); sourced,
# not run. The caller defines die().

# The Debian mirror this machine's apt already uses (never a host of our own).
mirror() {
  local f u
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -f $f ]] || continue
    u=$(grep -Eo 'https?://[^ ]+/debian/?( |$)' "$f" | head -1 | tr -d ' ')
    [[ -n $u ]] && { echo "$u"; return; }
  done
  die "no Debian mirror found in this machine's apt sources"
}

# Run a command inside a root with a clean, non-interactive environment.
in_root() {
  chroot "$1" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    LC_ALL=C "${@:2}"
}
