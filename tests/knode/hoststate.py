"""The host state a kubelet, kube-proxy and CNI change, saved before the node starts and put back
after it stops (also after a crash: `start` first undoes what a killed run left behind).

What changes, measured on this machine: sysctls (kubelet: vm.overcommit_memory, kernel.panic,
kernel.panic_on_oops, kernel.keys.*; kube-proxy: route_localnet, conntrack), `KUBE-*` iptables
chains (including a KUBE-FIREWALL that drops non-loopback traffic to 127.0.0.0/8), `CNI-*`
chains, the node's bridge and the pods' veths and network namespaces, mounts under the node's
directory (kubelet bind-mounts its root dir; containerd mounts overlays and shm), and the
`kubepods` cgroups. The node assumes it is the only Kubernetes on the machine: `preflight`
refuses to start next to a running kubelet.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

SYSCTLS = [
    "vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes", "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet", "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables", "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established", "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
]
# Saved outside the node's directory so that a run killed before teardown is repaired by the next.
SAVED = Path("/run/multigres-krmfn-node.json")
TAG = "multigres-krmfn-node"  # comment on our own iptables rules
OWNED_CHAINS = ("KUBE-", "CNI-")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def run(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, input=input)


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read_sysctls() -> dict[str, str]:
    out = {}
    for key in SYSCTLS:
        with contextlib.suppress(OSError):
            out[key] = _sysctl_path(key).read_text().strip()
    return out


def write_sysctl(key: str, value: str) -> None:
    with contextlib.suppress(OSError):
        _sysctl_path(key).write_text(value + "\n")


def save(bridge: str) -> None:
    """Record the sysctls as they are now (unless a crashed run's record is still there)."""
    if not SAVED.exists():
        SAVED.write_text(json.dumps({"sysctls": read_sysctls(), "bridge": bridge}))


def restore_sysctls() -> None:
    if SAVED.exists():
        for key, value in json.loads(SAVED.read_text())["sysctls"].items():
            write_sysctl(key, value)


# --- iptables -----------------------------------------------------------------------------------

def _owned(line: str) -> bool:
    return any(c in line for c in OWNED_CHAINS) or TAG in line


def clean_iptables() -> None:
    """Remove every KUBE-*/CNI-* chain, every rule jumping to one and our tagged rules, in every
    table of iptables and ip6tables, by restoring each table without them."""
    for save_cmd, restore_cmd in (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore")):
        dump = run(save_cmd, check=False).stdout
        if not any(_owned(line) for line in dump.splitlines()):
            continue
        kept = [line for line in dump.splitlines() if not _owned(line)]
        run(restore_cmd, input="\n".join(kept) + "\n", check=False)
    # kube-proxy also looks after nftables tables of its own name in iptables mode.
    tables = run("nft", "list", "tables", check=False).stdout.split()
    for family, name in zip(tables[1::3], tables[2::3], strict=False):
        if name == "kube-proxy":
            run("nft", "delete", "table", family, name, check=False)


def add_forward_guard(pod_cidr: str) -> None:
    """Pods get no route off the machine: forwarded traffic from the pod range must stay in it."""
    run("iptables", "-I", "FORWARD", "1", "-s", pod_cidr, "!", "-d", pod_cidr,
        "-m", "comment", "--comment", TAG, "-j", "DROP")


# --- processes, mounts, cgroups, network --------------------------------------------------------

def cgroup_pids(top: str = "kubepods") -> set[int]:
    """Every process in the pids cgroup tree `top` (a node's pods)."""
    root = CGROUP_ROOT / "pids" / top
    pids: set[int] = set()
    for procs in root.rglob("cgroup.procs") if root.exists() else []:
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in procs.read_text().split())
    return pids


def kill_pod_processes(top: str = "kubepods") -> None:
    """SIGKILL everything in the kubepods cgroups (containers outlive their shims otherwise);
    `top` is a node's cgroup root when several nodes share the machine."""
    for _ in range(50):
        pids = cgroup_pids(top)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def kill_matching(needle: str) -> None:
    """SIGKILL every process whose command line mentions needle (containerd shims of this node)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)


def mounts_under(prefix: str) -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4].encode().decode("unicode_escape")
        if mount_point == prefix or mount_point.startswith(prefix.rstrip("/") + "/"):
            out.append(mount_point)
    return out


def unmount_under(prefix: str) -> None:
    for _ in range(5):
        points = mounts_under(prefix)
        if not points:
            return
        for point in sorted(points, key=len, reverse=True):
            run("umount", point, check=False)
        for point in mounts_under(prefix):
            run("umount", "-l", point, check=False)


def remove_cgroups(name: str = "kubepods") -> None:
    """rmdir the tree `name` in every v1 controller, deepest first."""
    for controller in CGROUP_ROOT.iterdir():
        top = controller / name
        if not top.is_dir():
            continue
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def remove_network(bridge: str) -> None:
    """Delete CNI's network namespaces, the three-node cluster's node namespaces (`<bridge>-*`:
    their veths, bridges and iptables go with them), the veths left on the bridge, and the bridge."""
    netns = Path("/run/netns")
    if netns.is_dir():
        for ns in [*netns.glob("cni-*"), *netns.glob(f"{bridge}-*")]:
            run("umount", str(ns), check=False)
            with contextlib.suppress(OSError):
                ns.unlink()
    links = run("ip", "-j", "link", "show", "master", bridge, check=False).stdout
    for link in json.loads(links or "[]"):
        run("ip", "link", "delete", link["ifname"], check=False)
    run("ip", "link", "delete", bridge, check=False)


def node_cgroups(bridge: str) -> list[str]:
    """The pod cgroup roots: `kubepods` (one node) and each node's `<bridge>-<zone>` (three nodes)."""
    return ["kubepods", *sorted({p.name for p in (CGROUP_ROOT / "pids").glob(f"{bridge}-*")})]


def restore_all(workdir_prefix: str, bridge: str) -> None:
    """Everything above, in order; safe to run when nothing is left."""
    for top in node_cgroups(bridge):
        kill_pod_processes(top)
    kill_matching(workdir_prefix)
    unmount_under(workdir_prefix)
    for top in node_cgroups(bridge):
        remove_cgroups(top)
    remove_network(bridge)
    clean_iptables()
    restore_sysctls()
    with contextlib.suppress(OSError):
        SAVED.unlink()
