#!/usr/bin/env bash
# Installs the Debian packages that the real-node tests (tests/knode, tests/e2e), the image and tool
# builds (tools/*.sh) and the lint need and this machine lacks; a no-op when they are all there.
# Needs root to install; without root it names what is missing and the one command to run, and
# fails. tests/test_host_programs.py keeps this list in step with the programs those run: each
# program maps to the package below that provides it, or to the base system, or to tools/build.sh.
# Go (go.dev/dl, the version tools/versions.env says builds them) and kpt are not Debian packages.
set -euo pipefail
PACKAGES=(
  python3 python3-venv        # the venv of every make target
  make git                    # make targets; kpt's test runner commits each package (tests/kpt_harness.py); Argo CD's test image (git daemon)
  gcc libc6-dev               # cgo: the Multigres binaries (tools/build.sh multigres)
  time                        # GNU time: each tool build's peak memory (tools/build.sh)
  curl ca-certificates        # upstream source archives (tools/sources.sh)
  shellcheck                  # make lint, .ci/run
  debootstrap                 # the image roots (tools/imageroot.sh, tools/pybase.sh)
  runc                        # containerd's runtime (Debian's 1.1.5 works on this kernel)
  containernetworking-plugins # CNI bridge + host-local
  iptables conntrack          # kube-proxy (iptables mode), kubelet, the node's forward guard
  nftables                    # the node's teardown removes kube-proxy's nftables table (tests/knode/hoststate.py)
  iproute2 openssl            # the node's bridge; its certificates
  procps kmod                 # pgrep (no second kubelet), modprobe (overlay, br_netfilter)
  podman uidmap               # the function's own image (built and run by kpt)
  postgresql-15               # a real PostgreSQL for the exporter's smoke test (tests/test_monitoring_smoke.py)
  redis-server                # Argo CD's cache, copied into its test image (tools/argocd-image.sh)
)
if [[ ${1:-} == --list ]]; then printf '%s\n' "${PACKAGES[@]}"; exit 0; fi
missing=()
for p in "${PACKAGES[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "host-packages.sh: missing ${missing[*]}; install them with: sudo $0" >&2
  exit 1
fi
echo "host-packages.sh: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
