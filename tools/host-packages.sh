#!/usr/bin/env bash
# Installs the Debian packages the real-node tests need and this machine lacks (root only; a
# no-op when they are all there). docs/runtime-checks.md says what each one is for.
set -euo pipefail
PACKAGES=(
  debootstrap                 # the image roots (tools/imageroot.sh, tools/pybase.sh)
  runc                        # containerd's runtime (Debian's 1.1.5 works on this kernel)
  containernetworking-plugins # CNI bridge + host-local
  iptables conntrack          # kube-proxy (iptables mode), kubelet
  iproute2 openssl            # the node's bridge; its certificates
  podman uidmap               # the function's own image (built and run by kpt)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "host-packages.sh: missing ${missing[*]} (install them as root; the real-node tests skip without)" >&2
  exit 0
fi
echo "installing: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
