"""Three Kubernetes nodes in three zones on one machine, for the tests of cells as failure domains.

The control plane (etcd, kube-apiserver, controller-manager, scheduler) runs on the host as for
the single node (cluster.py). Each node is a network namespace `mgk0-<x>` holding its own
containerd, kubelet and kube-proxy (processes of the test run, started with `nsenter --net`, so
they share the host's file system but not its network):

- the namespace's `eth0` is a veth whose other end is on the host bridge `mgk0` (198.18.0.1, where
  the API server listens); the node's address is 198.18.0.1<i>;
- its pods are on a bridge of their own inside the namespace, subnet 198.18.<i>.0/24; every node
  has a route to every other node's pod subnet through that node's address, and the host has one
  to each subnet (replies to pods that call the API server): pod-to-pod traffic between nodes is
  routed, node to node, as on a real cluster without an overlay;
- each node's kube-proxy writes the iptables of its own namespace; each kubelet has its own cgroup
  root (`/mgk0-<x>`), root directory, pod log directory and containerd;
- node labels: `topology.kubernetes.io/zone=zone-<x>`, `topology.kubernetes.io/region=region-1`.

`stop_node()` is a zone outage: the host end of the node's veth goes down (nothing in or out),
then its kubelet, kube-proxy and containerd are killed, then the containerd shims and every
process in the node's cgroups: nothing of the node runs. The controller-manager notices within
`NODE_MONITOR_GRACE` (the kubelets renew their lease every second) and marks the node NotReady.
`start_node()` brings the link up and starts the three programs again on the same directories.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apiserver import _Process

from . import addons, hoststate, netpol
from .cluster import Node, NodeError, _dns_query, node_pods_memory_kib, tool_dir
from .config import BRIDGE, CLUSTER_DOMAIN, NODE_IP, cni_conflist, containerd_toml, kube_proxy_config, kubelet_config
from .storage import Provisioner

REGION = "region-1"
ALL_PODS = "198.18.0.0/16"  # nodes and every node's pod subnet
LAB = "198.18.0.0/15"  # nodes, pods and Services: forwarded traffic must stay inside it
NODE_LEASE_SECONDS = 4  # the kubelet renews its lease every quarter of this
NODE_MONITOR_GRACE = "10s"  # no renewed lease for this long: NotReady


DEVICE_PLUGIN_SOCKET = Path("/var/lib/kubelet/device-plugins/kubelet.sock")


def _socket_identity(path: Path) -> tuple[int, int] | None:
    """(inode, change time) of a file, None when it is missing: a re-created socket differs."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_ctime_ns


@dataclass(frozen=True)
class NodeSpec:
    index: int  # 1, 2, 3
    letter: str  # a, b, c

    @property
    def name(self) -> str:
        return f"krmfn-{self.letter}"

    @property
    def zone(self) -> str:
        return f"zone-{self.letter}"

    @property
    def netns(self) -> str:
        """Also the host end of its veth and its cgroup root."""
        return f"{BRIDGE}-{self.letter}"

    @property
    def ip(self) -> str:
        return f"198.18.0.{10 + self.index}"

    @property
    def pod_cidr(self) -> str:
        return f"198.18.{self.index}.0/24"


NODES = [NodeSpec(1, "a"), NodeSpec(2, "b"), NodeSpec(3, "c")]


def _in_netns(spec: NodeSpec, *argv: str) -> list[str]:
    return ["nsenter", f"--net=/run/netns/{spec.netns}", "--", *argv]


class Cluster(Node):
    """Three nodes, one per zone; `start()`/`stop()` as Node, plus `stop_node()`/`start_node()`."""

    def __init__(self, log: Any = None, nodes: list[NodeSpec] | None = None):
        super().__init__(log)
        self.nodes = nodes or NODES
        self.users = {k: v for k, v in self.users.items() if k != "kubelet"}
        for spec in self.nodes:
            self.users[f"kubelet-{spec.letter}"] = (f"system:node:{spec.name}", "system:nodes")
        self.controller_manager_args = ["--node-monitor-period=1s", f"--node-monitor-grace-period={NODE_MONITOR_GRACE}"]
        self.stopped: set[str] = set()

    def spec(self, name: str) -> NodeSpec:
        return next(s for s in self.nodes if s.name == name or s.zone == name)

    def node_dir(self, spec: NodeSpec) -> Path:
        return self.work / spec.name

    # --- network ---------------------------------------------------------------------------------

    def _network(self) -> None:
        if shutil.which("modprobe"):
            for module in ("overlay", "br_netfilter"):
                hoststate.run("modprobe", module, check=False)
        if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
            raise NodeError("br_netfilter is not loaded (modprobe br_netfilter): Services need it on a bridge")
        run = hoststate.run
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
        hoststate.add_forward_guard(LAB)
        run("iptables", "-I", "FORWARD", "1", "-s", LAB, "-d", LAB, "-m", "comment", "--comment", hoststate.TAG,
            "-j", "ACCEPT")
        for spec in self.nodes:
            self._node_network(spec)

    def _node_network(self, spec: NodeSpec) -> None:
        run, ns = hoststate.run, spec.netns
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns)
        run("ip", "link", "set", ns, "master", BRIDGE, "up")
        run("ip", "-n", ns, "addr", "add", f"{spec.ip}/24", "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "route", "add", "default", "via", NODE_IP)
        for other in self.nodes:
            if other != spec:
                run("ip", "-n", ns, "route", "add", other.pod_cidr, "via", other.ip)
        run("ip", "route", "add", spec.pod_cidr, "via", spec.ip)
        run(*_in_netns(spec, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1"))
        d = self.node_dir(spec)
        for sub in ("run", "manifests", "cni/net.d", "kubelet", "pod-logs"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "resolv.conf").write_text(f"nameserver {NODE_IP}\n")
        gateway = spec.pod_cidr.replace(".0/24", ".1")
        conflist = cni_conflist(d, bridge="cni0", subnet=spec.pod_cidr, gateway=gateway,
                                range_start=spec.pod_cidr.replace(".0/24", ".10"))
        (d / "cni/net.d/10-krmfn.conflist").write_text(json.dumps(conflist, indent=1))
        _make_cgroup_root(spec.netns)

    # --- node programs ---------------------------------------------------------------------------

    def _containerd(self) -> None:
        for spec in self.nodes:
            self._start_containerd(spec)

    def _start_containerd(self, spec: NodeSpec) -> None:
        bin_dir, d = tool_dir("containerd"), self.node_dir(spec)
        conf = d / "containerd.toml"
        conf.write_text(containerd_toml(d, shutil.which("runc") or "runc", nri_socket=self.nri_socket(spec)))
        self._proc(f"containerd@{spec.name}", _in_netns(spec, str(bin_dir / "containerd"), "--config", str(conf)),
                   env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
        sock = d / "run" / "containerd.sock"
        self._wait(lambda: sock.exists() and self._ctr("version", work=d).returncode == 0,
                   f"containerd of {spec.name}", 60)

    def _import_images(self) -> None:
        t = time.monotonic()
        threads = [threading.Thread(target=self._import_into, args=(self.node_dir(s),)) for s in self.nodes]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.timings["images"] = time.monotonic() - t
        self.log(f"nodes: images imported in {self.timings['images']:.1f}s")

    def _kubelet(self, tokens: dict[str, str]) -> None:
        """One kubelet after the other: each cleans up and then listens on the same host path,
        DEVICE_PLUGIN_SOCKET (hard-coded in kubelet, not under --root-dir; kubernetes
        pkg/kubelet/cm/devicemanager/plugin/v1beta1/server.go `Start`). Started together, one may
        create its socket between another's cleanup and listen, and that one exits with "bind:
        address already in use" (a CI rehearsal, 2026-12-07). Each waits, at most 30 s, until the
        socket is a new one."""
        for spec in self.nodes:
            before = _socket_identity(DEVICE_PLUGIN_SOCKET)
            self._start_kubelet(spec)
            deadline = time.monotonic() + 30
            while _socket_identity(DEVICE_PLUGIN_SOCKET) in (None, before) and time.monotonic() < deadline:
                time.sleep(0.05)

    def _start_kubelet(self, spec: NodeSpec) -> None:
        pki, d = self.work / "pki", self.node_dir(spec)
        conf = d / "kubelet.json"
        conf.write_text(json.dumps(node_kubelet_config(d, spec), indent=1))
        labels = f"topology.kubernetes.io/zone={spec.zone},topology.kubernetes.io/region={REGION}"
        self._proc(f"kubelet@{spec.name}", _in_netns(
            spec, str(self.kube / "kubelet"), f"--config={conf}",
            f"--kubeconfig={pki / f'kubelet-{spec.letter}.kubeconfig'}", f"--hostname-override={spec.name}",
            f"--node-ip={spec.ip}", f"--root-dir={d / 'kubelet'}", f"--cert-dir={d / 'kubelet' / 'pki'}",
            f"--node-labels={labels}"))
        proxy = d / "kube-proxy.json"
        proxy.write_text(json.dumps(kube_proxy_config(pki / "kube-proxy.kubeconfig", spec.name, spec.ip, ALL_PODS),
                                    indent=1))
        self._proc(f"kube-proxy@{spec.name}", _in_netns(spec, str(self.kube / "kube-proxy"), f"--config={proxy}"))

    def node_ready(self, name: str) -> bool:
        assert self.api
        code, body = self.api.call("GET", f"/api/v1/nodes/{name}", timeout=2)
        if code != 200:
            return False
        return any(c["type"] == "Ready" and c["status"] == "True" for c in body["status"].get("conditions", []))

    def _node_ready(self) -> bool:
        return all(self.node_ready(s.name) for s in self.nodes)

    def _dns_ready(self) -> bool:
        """Every CoreDNS replica answers, asked at its pod address: the host has no Service rules
        (each node's kube-proxy writes its own namespace's); the Service path is the e2e test's."""
        assert self.api
        pods = self.api.get("/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns")["items"]
        ips = [p["status"].get("podIP") for p in pods]
        return len(ips) == len(self.nodes) and all(ip and _dns_query(f"kubernetes.default.svc.{CLUSTER_DOMAIN}", ip)
                                                   for ip in ips)

    def nri_socket(self, spec: NodeSpec) -> Path:
        return self.node_dir(spec) / "run" / "nri.sock"

    def _network_policy(self) -> None:
        """One NetworkPolicy agent per node, in the node's network namespace (its table filters
        that node's pods' traffic) and asking that node's containerd for pod addresses."""
        for spec in self.nodes:
            self._start_network_policy(spec)

    def _start_network_policy(self, spec: NodeSpec) -> None:
        netpol.start(self._proc, self.kubeconfig, node=spec.name, netns=spec.netns,
                     wrap=lambda argv: _in_netns(spec, *netpol.with_nri_socket(self.nri_socket(spec), argv)))

    def _addons(self) -> list[dict[str, Any]]:
        return [addons.storage_class("WaitForFirstConsumer"),
                *addons.coredns(self._image("coredns"), replicas=len(self.nodes))]

    def _make_provisioner(self) -> Provisioner:
        assert self.api
        return Provisioner(self.api, self.work / "volumes", [s.name for s in self.nodes])

    def _pods_memory_kib(self) -> int | None:
        values = [node_pods_memory_kib(s.netns) for s in self.nodes]
        return sum(v for v in values if v is not None) if any(v is not None for v in values) else None

    # --- zone outage -----------------------------------------------------------------------------

    def _node_procs(self, spec: NodeSpec) -> list[_Process]:
        return [p for p in self._procs if p.name.endswith(f"@{spec.name}")]

    def node_processes(self, name: str) -> list[int]:
        """Every process that belongs to the node: its programs, its shims, its pods' processes."""
        spec = self.spec(name)
        pids = set(hoststate.cgroup_pids(spec.netns))
        pids.update(p.popen.pid for p in self._node_procs(spec) if p.alive())
        needle = f"{self.node_dir(spec)}/run/containerd.sock"
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if needle in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                        pids.add(int(proc.name))
                except OSError:
                    continue
        return sorted(pids)

    def stop_node(self, name: str) -> None:
        """Cut the node's network, then kill everything it runs (a zone outage, not a shutdown)."""
        spec = self.spec(name)
        hoststate.run("ip", "link", "set", spec.netns, "down")
        self._record_rss()
        for proc in self._node_procs(spec):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait()
            self._procs.remove(proc)
        hoststate.kill_matching(f"{self.node_dir(spec)}/run/containerd.sock")
        hoststate.kill_pod_processes(spec.netns)
        self.stopped.add(spec.name)

    def start_node(self, name: str, timeout: float = 120) -> None:
        """Bring the node's network up and start its containerd, kubelet and kube-proxy again."""
        spec = self.spec(name)
        hoststate.run("ip", "link", "set", spec.netns, "up")
        self._start_containerd(spec)
        self._start_network_policy(spec)
        self._start_kubelet(spec)
        self.stopped.discard(spec.name)
        self._wait(lambda: self.node_ready(spec.name), f"{spec.name} to be Ready again", timeout)


def node_kubelet_config(work: Path, spec: NodeSpec) -> dict[str, Any]:
    """The single node's kubelet settings, plus what sharing the machine needs (its own cgroup root
    and pod log directory) and a lease renewed every second (NotReady within the grace period)."""
    conf = kubelet_config(work, address=spec.ip)
    conf.update({
        "cgroupRoot": f"/{spec.netns}",
        "podLogsDir": str(work / "pod-logs"),
        "nodeLeaseDurationSeconds": NODE_LEASE_SECONDS,
        "nodeStatusUpdateFrequency": "2s",
        "nodeStatusReportFrequency": "1m",  # a changed status is posted at once; unchanged ones rarely
    })
    return conf


def _make_cgroup_root(name: str) -> None:
    """The kubelet's cgroupRoot must exist in every controller; a cpuset child starts empty."""
    root = hoststate.CGROUP_ROOT
    for controller in root.iterdir():
        if not controller.is_dir() or controller.name == "unified":
            continue
        d = controller / name
        d.mkdir(exist_ok=True)
        if controller.name == "cpuset":
            for f in ("cpuset.cpus", "cpuset.mems"):
                (d / f).write_text((controller / f).read_text())


def wait_for(check: Any, what: str, timeout: float, interval: float = 0.5) -> float:
    """Poll check() until true; returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if check():
                return time.monotonic() - t0
        except (OSError, ValueError, RuntimeError, subprocess.SubprocessError):
            pass
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")
