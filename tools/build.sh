#!/usr/bin/env bash
# Builds the real Go tools the tests run against (kustomize, etcd,
# kube-apiserver, the multigres binaries) from the Go module proxy, at the
# versions pinned in tools/versions.env.
#
# Usage:
#   tools/build.sh TOOL...        build (or reuse) TOOL; TOOL is one of
#                                 kustomize etcd kubernetes containerd coredns multigres
#                                 prometheus postgres_exporter kube-network-policies all
#   tools/build.sh path TOOL      print TOOL's bin dir (no build, no check)
#
# The binaries live outside the checkout, in a cache keyed by tool and version:
#   ${MULTIGRES_KRMFN_TOOLS:-$HOME/.cache/multigres-krmfn/tools}/<tool>-<version>/bin/
# so a fresh clone (or CI on the same machine) reuses them, and bumping a
# version in versions.env builds next to the old one instead of over it.
#
# Only the Go module proxy is reachable from here (no release downloads), so
# everything is compiled from module source with the local Go toolchain.
set -euo pipefail

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/versions.env
source "$TOOLS_DIR/versions.env"

CACHE_ROOT=${MULTIGRES_KRMFN_TOOLS:-$HOME/.cache/multigres-krmfn/tools}
# The builds cd into scratch dirs, so a relative root would point elsewhere.
[[ $CACHE_ROOT == /* ]] || CACHE_ROOT=$PWD/$CACHE_ROOT
ALL_TOOLS=(kustomize etcd kubernetes containerd coredns multigres prometheus postgres_exporter
           kube-network-policies seaweedfs)

# Never fetch another Go toolchain (only the module proxy is reachable, and a
# silent toolchain switch would hide a version that does not build on ours);
# never pick up a go.work from wherever we are called; keep the compiler to
# two parallel jobs so kube-apiserver's link does not compete with a second
# huge compile on a 2-core / 24 GiB machine.
export GOTOOLCHAIN=local
export GOWORK=off
export GOFLAGS="-buildvcs=false -p=${TOOLS_GO_PARALLEL:-2}"
export CGO_ENABLED=${CGO_ENABLED:-0}

die() { echo "build.sh: $*" >&2; exit 1; }

version_of() {
  case $1 in
    kustomize) echo "$KUSTOMIZE_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    containerd) echo "$CONTAINERD_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    multigres) echo "$MULTIGRES_COMMIT" ;;
    prometheus) echo "$PROMETHEUS_VERSION" ;;
    postgres_exporter) echo "$POSTGRES_EXPORTER_COMMIT" ;;
    kube-network-policies) echo "$KUBE_NETWORK_POLICIES_VERSION" ;;
    seaweedfs) echo "$SEAWEEDFS_VERSION" ;;
    *) die "unknown tool: $1 (want: ${ALL_TOOLS[*]} all)" ;;
  esac
}

binaries_of() {
  case $1 in
    kustomize) echo kustomize ;;
    etcd) echo etcd etcdctl ;;
    kubernetes) echo kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl ;;
    containerd) echo containerd ctr containerd-shim-runc-v2 ;;
    coredns) echo coredns ;;
    multigres) echo multiadmin multigateway multiorch multipooler pgctld multigres ;;
    prometheus) echo prometheus promtool ;;
    postgres_exporter) echo postgres_exporter ;;
    kube-network-policies) echo kube-network-policies ;;
    seaweedfs) echo weed ;;
  esac
}

tool_dir() { echo "$CACHE_ROOT/$1-$(version_of "$1")"; }
bin_dir() { echo "$(tool_dir "$1")/bin"; }

is_cached() {
  local b
  for b in $(binaries_of "$1"); do
    [[ -x "$(bin_dir "$1")/$b" ]] || return 1
  done
}

# Prints one field (GoMod, Time, ...) of `go list -m -json MODULE@VERSION`.
# python3 is on every machine of this project (it is a Python project), and it
# keeps the JSON handling honest.
modfield() {
  go list -m -json "$2" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# Writes the go.mod of a wrapper module. The wrappers exist because etcd's and
# Kubernetes' main modules carry replace directives, which `go install
# pkg@version` refuses; a module of our own that requires them with explicit
# versions builds the same main package.
write_wrapper_go_mod() { # dir module-path
  printf 'module %s\n\ngo 1.26.0\n' "$2" >"$1/go.mod"
}

# --- per-tool builds: each gets the empty bin dir to fill and a scratch dir ---

build_kustomize() { # bin work
  GOBIN=$1 go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
}

build_etcd() { # bin work
  local w=$2/etcd
  mkdir -p "$w/etcd" "$w/etcdctl"
  write_wrapper_go_mod "$w" multigres-krmfn.local/etcd
  # The same program as etcd's own top-level main.go: the server reads its
  # flags from os.Args.
  cat >"$w/etcd/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  # etcdctl is cheap and lets tests read keys back the way operators do.
  cat >"$w/etcdctl/main.go" <<'EOF'
package main

import "go.etcd.io/etcd/etcdctl/v3/ctlv3"

func main() { ctlv3.MustStart() }
EOF
  (
    cd "$w"
    # Pin the sibling modules too: etcd's own go.mods point them at ../api
    # etc. through replace directives that do not apply to us.
    go mod edit \
      -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
      -require="go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION" \
      -require="go.etcd.io/etcd/api/v3@$ETCD_VERSION" \
      -require="go.etcd.io/etcd/client/pkg/v3@$ETCD_VERSION" \
      -require="go.etcd.io/etcd/client/v3@$ETCD_VERSION" \
      -require="go.etcd.io/etcd/pkg/v3@$ETCD_VERSION"
    go mod tidy
    # No GitSHA stamp: a module zip carries no commit, and `etcd --version`
    # prints the real version from go.etcd.io/etcd/api/v3/version anyway.
    go build -trimpath -ldflags "-s -w" -o "$1/etcd" ./etcd
    go build -trimpath -ldflags "-s -w" -o "$1/etcdctl" ./etcdctl
  )
}

build_kubernetes() { # bin work
  local w=$2/kubernetes v=$KUBERNETES_VERSION
  local major minor patch gomod
  major=$(echo "${v#v}" | cut -d. -f1)
  minor=$(echo "$v" | cut -d. -f2)
  patch=$(echo "$v" | cut -d. -f3)
  mkdir -p "$w"
  write_wrapper_go_mod "$w" multigres-krmfn.local/kubernetes
  # Kubernetes requires its staging modules (k8s.io/api, k8s.io/client-go,
  # ...) at v0.0.0 and replaces them with ./staging/...; the same code is
  # published as k8s.io/<name> v0.<minor>.<patch>. Derive that list from the
  # go.mod the proxy serves, so a version bump needs no edit here. Only
  # modules it also requires are replaced: some staging modules (samples) are
  # never published, and a replace for a module outside the graph is unused.
  gomod=$(modfield GoMod "k8s.io/kubernetes@$v")
  local staging
  staging=$(awk '
    /=> \.\/staging\// { rep[$1] = 1 }
    /^[ \t]*k8s\.io\/[^ ]+ v0\.0\.0/ { req[$1] = 1 }
    END { for (m in rep) if (m in req) print m }' "$gomod" | sort)
  [[ -n $staging ]] || die "no staging modules found in $gomod"
  local args=(-require="k8s.io/kubernetes@$v") m
  for m in $staging; do
    args+=(-replace="$m=$m@v0.$minor.$patch")
  done
  # A main.go importing nothing but the kubernetes module keeps `go mod tidy`
  # from dropping it; the binaries are the upstream main packages themselves,
  # built from the module cache (go builds main packages of dependencies).
  printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kubelet/app"\n\nfunc main() {}\n' >"$w/main.go"
  (
    cd "$w"
    go mod edit "${args[@]}"
    go mod tidy
    local b pkgs=()
    for b in $(binaries_of kubernetes); do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    # Records the go.sum entries of every command's dependencies (tidy only
    # saw the one import of main.go).
    go get "${pkgs[@]}"
    # A module build has no git tree to stamp a version from; without these
    # /version reports v0.0.0-master and clients (kubectl, kr8s) complain.
    # The build date is the release's commit time: fixed, and meaningful.
    local date ld pkg
    date=$(modfield Time "k8s.io/kubernetes@$v")
    ld="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      go list "$pkg" >/dev/null 2>&1 || continue
      ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
      # gitCommit is unknown from a module zip; empty beats "$Format:%H$".
      ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date -X $pkg.gitCommit="
    done
    go build -trimpath -ldflags "$ld" -o "$1/" "${pkgs[@]}"
  )
}

build_containerd() { # bin work
  # no_btrfs: the btrfs snapshotter needs btrfs headers; overlayfs is used.
  local c pkgs=() m=github.com/containerd/containerd/v2/cmd
  for c in $(binaries_of containerd); do pkgs+=("$m/$c@$CONTAINERD_VERSION"); done
  GOBIN=$1 go install -tags no_btrfs -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" "${pkgs[@]}"
}

build_coredns() { # bin work
  GOBIN=$1 go install -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
}

# The NetworkPolicy agent of the test node, from the module's source with two
# patches, each checked to apply exactly where expected (a version bump that
# moves the code fails here instead of building something else):
# - the nftables `queue` expression needs the kernel's nft_queue
#   (CONFIG_NFT_QUEUE), which some kernels (this machine's) lack; the xtables
#   NFQUEUE target through nft_compat queues to the same nfqueue, so the rules
#   use that instead (nfqueue_compat.go below, our code);
# - the agent only knows the in-cluster config of a pod; it runs as a process
#   on the test node, so it reads the kubeconfig named by $KUBECONFIG
#   (clientcmd falls back to the in-cluster config when that is empty).
build_kube_network_policies() { # bin work
  local src w=$2/knp
  src=$(go mod download -json "sigs.k8s.io/kube-network-policies@$KUBE_NETWORK_POLICIES_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$src" "$w"
  chmod -R u+w "$w"
  cat >"$w/pkg/networkpolicy/nfqueue_compat.go" <<'EOF'
package networkpolicy

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// nfqueueTarget queues a packet to nfqueue `num` through the xtables NFQUEUE
// target (revision 3, struct xt_NFQ_info_v3: queuenum, queues_total, flags as
// host-order u16) run by nft_compat: the same queue as nftables' `queue`
// expression, on kernels built without nft_queue. Flag 1 is NFQ_FLAG_BYPASS
// (accept when no program listens on the queue).
func nfqueueTarget(num uint16, bypass bool) expr.Any {
	info := make(xt.Unknown, 8)
	binary.NativeEndian.PutUint16(info[0:], num)
	binary.NativeEndian.PutUint16(info[2:], 1)
	if bypass {
		binary.NativeEndian.PutUint16(info[4:], 1)
	}
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info}
}
EOF
  python3 - "$w" <<'EOF'
import pathlib, sys
root = pathlib.Path(sys.argv[1])
def patch(path, old, new, count):
    f = root / path
    text = f.read_text()
    found = text.count(old)
    if found != count:
        sys.exit(f"build.sh: {path}: expected {count} x {old!r}, found {found}")
    f.write_text(text.replace(old, new))
patch("pkg/networkpolicy/controller.go",
      "queue := &expr.Queue{Num: uint16(c.config.QueueID)}\n\tif c.config.FailOpen {\n"
      "\t\tqueue.Flag = expr.QueueFlagBypass\n\t}\n",
      "queue := nfqueueTarget(uint16(c.config.QueueID), c.config.FailOpen)\n", 2)
patch("pkg/networkpolicy/dnsagent.go", "&expr.Queue{Num: uint16(n.nfQueueID), Flag: expr.QueueFlagBypass}",
      "nfqueueTarget(uint16(n.nfQueueID), true)", 1)
patch("cmd/main.go", '"k8s.io/client-go/rest"', '"k8s.io/client-go/tools/clientcmd"', 1)
patch("cmd/main.go", "rest.InClusterConfig()", 'clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))', 1)
EOF
  (
    cd "$w"
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$1/kube-network-policies" ./cmd
  )
}

build_multigres() { # bin work
  local src c pkgs=()
  # The upstream archive at MULTIGRES_COMMIT, checksum-verified (tools/sources.sh).
  src=$("$TOOLS_DIR/sources.sh" multigres)
  mkdir -p "$2/src"
  tar -xzf "$src" -C "$2/src"
  # git archive writes the tree at the top, GitHub's archive under one folder: take either.
  local top=$2/src
  [[ -d $top/go ]] || top=$(find "$2/src" -mindepth 2 -maxdepth 2 -type d -name go -printf '%h\n' | head -1)
  [[ -n $top && -d $top/go ]] || die "no go/ folder in $src"
  for c in $(binaries_of multigres); do pkgs+=("./go/cmd/$c"); done
  # cgo (the SQL parser is C); the binaries link Debian 12's glibc, which the
  # newer glibc of the image root runs.
  (cd "$top" && CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$1/" "${pkgs[@]}")
}

build_seaweedfs() { # bin work
  # A wrapper module: SeaweedFS' go.mod has a replace directive, which `go install
  # pkg@version` refuses; the wrapper repeats it. Only the `weed` binary, pure Go.
  local w=$2/seaweedfs m=github.com/seaweedfs/seaweedfs
  mkdir -p "$w"
  write_wrapper_go_mod "$w" multigres-krmfn.local/seaweedfs
  local replace
  replace=$(grep -E '^replace ' "$(modfield GoMod "$m@$SEAWEEDFS_VERSION")")
  printf 'require %s %s\n%s\n' "$m" "$SEAWEEDFS_VERSION" "$replace" >>"$w/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s/weed"\n' "$m" >"$w/tools.go"
  (cd "$w" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$1/weed" "$m/weed")
}

# Prometheus and promtool (the rules' unit tests, and the server of the monitoring e2e) from the
# module proxy: github.com/prometheus/prometheus v0.3MM.P is Prometheus 3.MM.P. The web UI is not
# embedded (no `builtinassets` tag); the API is all the tests use. Of the service discoveries
# only Kubernetes (and the built-in file and http ones) are compiled in (upstream's plugin build
# tags): the cloud SDKs would double the build for nothing the tests use.
build_prometheus() { # bin work
  local v=$PROMETHEUS_VERSION release m=github.com/prometheus/common/version
  release=3.$(echo "$v" | cut -d. -f2 | sed 's/^3//; s/^0*//').$(echo "$v" | cut -d. -f3)
  GOBIN=$1 go install -tags remove_all_sd,enable_kubernetes_sd -ldflags "-s -w -X $m.Version=$release -X $m.Branch=module -X $m.Revision=$v" \
    "github.com/prometheus/prometheus/cmd/prometheus@$v" "github.com/prometheus/prometheus/cmd/promtool@$v"
}

# postgres_exporter from its upstream archive at POSTGRES_EXPORTER_COMMIT, checksum-verified
# (tools/sources.sh; the module proxy refuses the module).
build_postgres_exporter() { # bin work
  local src dir
  src=$("$TOOLS_DIR/sources.sh" postgres_exporter)
  mkdir -p "$2/src"
  tar -xzf "$src" -C "$2/src"
  # One top folder (postgres_exporter-<commit>/) or none: take the one holding go.mod.
  dir=$(dirname "$(find "$2/src" -maxdepth 2 -name go.mod | head -1)")
  (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w" -o "$1/" ./cmd/postgres_exporter)
}

# Runs one build into <dir>.tmp and renames it into place, so an interrupted
# or failed build never leaves a half-filled <dir> that looks cached. It runs
# in its own process (the `_build` verb), so the trap and cd are its own, and
# it is called without `||` so that `set -e` stays in force in the build
# functions (bash ignores -e inside anything tested by || or &&).
build_one() { # tool
  local tool=$1 dir tmp work
  dir=$(tool_dir "$tool")
  # One build per tool at a time (tests and a manual `make tools` may race); whoever waited
  # finds the result cached.
  mkdir -p "$(dirname "$dir")"
  exec 9>"$dir.lock"
  flock 9
  if is_cached "$tool"; then echo "cached: $(bin_dir "$tool")"; return 0; fi
  tmp=$dir.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp/bin"
  work=$(mktemp -d "${TMPDIR:-/tmp}/multigres-krmfn-$tool.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the paths are fixed
  trap "rm -rf '$work' '$tmp'" EXIT
  # Building in a scratch dir keeps go from seeing any go.mod of the caller.
  cd "$work"
  "build_${tool//-/_}" "$tmp/bin" "$work"
  local b
  for b in $(binaries_of "$tool"); do
    [[ -x "$tmp/bin/$b" ]] || die "$tool: $b was not built"
  done
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

# Builds TOOL unless cached, and reports wall time and peak RSS. GNU time
# measures the whole process tree; it needs a separate process, hence the
# script calling itself with the internal `_build` verb.
build() { # tool
  local tool=$1
  if is_cached "$tool"; then
    echo "cached: $tool $(version_of "$tool") in $(bin_dir "$tool")"
    return 0
  fi
  echo "building: $tool $(version_of "$tool") -> $(bin_dir "$tool")"
  mkdir -p "$CACHE_ROOT"
  local start rc=0 stats=""
  start=$(date +%s)
  if [[ -x /usr/bin/time ]] && /usr/bin/time -f x true >/dev/null 2>&1; then
    stats=$(mktemp)
    /usr/bin/time -v -o "$stats" "$TOOLS_DIR/build.sh" _build "$tool" || rc=$?
  else
    "$TOOLS_DIR/build.sh" _build "$tool" || rc=$?
  fi
  local secs=$(($(date +%s) - start)) rss="unknown (no GNU time)"
  if [[ -n $stats ]]; then
    # ru_maxrss of the children: the largest single process (compile/link).
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2/1024}' "$stats")
    rm -f "$stats"
  fi
  if [[ $rc -ne 0 ]]; then
    echo "FAILED: $tool $(version_of "$tool") after ${secs}s (exit $rc)" >&2
    return "$rc"
  fi
  echo "built: $tool $(version_of "$tool") in ${secs}s, peak RSS $rss -> $(bin_dir "$tool")"
}

main() {
  [[ $# -gt 0 ]] || die "usage: $0 TOOL... | path TOOL   (TOOL: ${ALL_TOOLS[*]} all)"
  case $1 in
    path)
      [[ $# -eq 2 ]] || die "usage: $0 path TOOL"
      version_of "$2" >/dev/null
      bin_dir "$2"
      return 0
      ;;
    _build)
      build_one "$2"
      return
      ;;
  esac
  local tools=() t failed=()
  for t in "$@"; do
    if [[ $t == all ]]; then tools+=("${ALL_TOOLS[@]}"); else version_of "$t" >/dev/null; tools+=("$t"); fi
  done
  # Keep going after a failure so one unavailable module does not block the
  # others, but fail the run as a whole.
  for t in "${tools[@]}"; do
    build "$t" || failed+=("$t")
  done
  [[ ${#failed[@]} -eq 0 ]] || die "failed: ${failed[*]}"
}

main "$@"
