"""A single-node Kubernetes cluster from the project's own builds, for the e2e tests.

`Node().start()` runs, as processes of this test run: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler (all v1.37.2 from tools/build.sh), containerd 2.x with
Debian's runc and CNI bridge plugin, kubelet, kube-proxy (iptables mode), CoreDNS as a pod, and
a local-volume provisioner (storage.py). It imports the images of tools/images.sh, waits for the
node to be Ready and cluster DNS to answer, and writes an admin kubeconfig. `stop()` tears it all
down and puts the host back as it was (hoststate.py), also after a failed start. Root only.
docs/runtime-checks.md has the versions, the measured times and what each setting is for.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apiserver import _free_ports, _Process

from . import addons, hoststate, netpol
from .api import Api
from .config import (
    API_PORT,
    API_SERVICE_IP,
    BRIDGE,
    CLUSTER_DOMAIN,
    DNS_IP,
    NODE_IP,
    NODE_NAME,
    POD_CIDR,
    SERVICE_CIDR,
    cni_conflist,
    containerd_toml,
    kube_proxy_config,
    kubeconfig,
    kubelet_config,
)
from .storage import Provisioner

ROOT = Path(__file__).resolve().parents[2]
WORK_PREFIX = "/tmp/mgk-"  # every node directory starts so; teardown of a crashed run finds them by it
USERS = {  # name -> (user, groups)
    "admin": ("admin", "system:masters"),
    "kubelet": (f"system:node:{NODE_NAME}", "system:nodes"),
    "kube-proxy": ("system:kube-proxy", ""),
    "controller-manager": ("system:kube-controller-manager", ""),
    "scheduler": ("system:kube-scheduler", ""),
}


class KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"`kubectl {' '.join(self.cmd[2:])}` exited {self.returncode}:\n{self.stderr}{self.output[-2000:]}"


class NodeError(Exception):
    """The node did not come up; the message ends with the tail of the failing component's log."""


def tool_dir(tool: str) -> Path:
    out = subprocess.run(["bash", str(ROOT / "tools" / "build.sh"), "path", tool],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def build_tools() -> None:
    """Build (or reuse) every binary and image the node runs: a no-op on a warm cache."""
    subprocess.run(["bash", str(ROOT / "tools" / "build.sh"), "etcd", "kubernetes", "containerd", "coredns",
                    "multigres", netpol.TOOL], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["bash", str(ROOT / "tools" / "images.sh")], check=True, stdout=subprocess.DEVNULL)


def image_archives() -> list[tuple[Path, str]]:
    folder = Path(subprocess.run(["bash", str(ROOT / "tools" / "images.sh"), "path"], capture_output=True,
                                 text=True, check=True).stdout.strip())
    return [(folder / a, n) for a, n in (line.split() for line in (folder / "names").read_text().splitlines())]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _dns_query(name: str, server: str) -> bool:
    """One UDP A query; True when the server answers NOERROR with at least one answer."""
    qid = secrets.randbits(16)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(q, (server, 53))
        data = s.recv(512)
    rid, flags, _, ancount = struct.unpack(">HHHH", data[:8])
    return rid == qid and flags & 0xF == 0 and ancount > 0


class Node:
    """One node; `start()` then `stop()` (idempotent), or use as a context manager."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self.log = log or (lambda msg: None)
        self.work = Path()
        self.kubeconfig = Path()
        self.api: Api | None = None
        self.kube = tool_dir("kubernetes")
        self.timings: dict[str, float] = {}
        self.peak_rss_kib: dict[str, int] = {}
        self._procs: list[_Process] = []
        self._provisioner: Provisioner | None = None
        self._rss_stop = threading.Event()
        self.users = dict(USERS)
        self.controller_manager_args: list[str] = []

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 240) -> Node:
        t0 = time.monotonic()
        self._preflight()
        hoststate.restore_all(WORK_PREFIX, BRIDGE)  # what a killed run left behind
        netpol.cleanup()
        for old in Path("/tmp").glob("mgk-*"):
            shutil.rmtree(old, ignore_errors=True)
        hoststate.save(BRIDGE)
        self.work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX.rsplit("/", 1)[1], dir="/tmp"))
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - t0
        threading.Thread(target=self._watch_rss, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop every component, kill the pods' processes, restore the host, remove the directory."""
        self._rss_stop.set()
        self._record_rss()
        if self._provisioner:
            self._provisioner.stop()
        order = ["kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"]
        for name in order:
            for proc in self._procs:
                if proc.name.split("@")[0] == name:
                    proc.stop(grace=5)
        for top in hoststate.node_cgroups(BRIDGE):
            hoststate.kill_pod_processes(top)
        for proc in reversed(self._procs):
            proc.stop(grace=5)
        self._procs = []
        if self.work != Path():
            hoststate.restore_all(str(self.work), BRIDGE)
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            hoststate.restore_all(WORK_PREFIX, BRIDGE)
        netpol.cleanup()

    # --- clients ---------------------------------------------------------------------------------

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.kube / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "KUBECTL_APPLYSET": "true"})
        if check and res.returncode != 0:
            raise KubectlError(res.returncode, cmd, res.stdout, res.stderr)
        return res

    def apply(self, objects: list[dict] | str, *extra: str) -> None:
        """Server-side apply of objects (or a YAML/JSON stream)."""
        text = objects if isinstance(objects, str) else json.dumps({"apiVersion": "v1", "kind": "List",
                                                                     "items": objects})
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", *extra, input=text)

    def wait_service_account(self, ns: str, timeout: float = 60) -> None:
        """Pods are refused until the controller-manager has made the namespace's `default` account."""
        assert self.api
        api = self.api
        self._wait(lambda: api.call("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")[0] == 200,
                   f"the default service account of {ns}", timeout)

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    # --- start, step by step ---------------------------------------------------------------------

    def _preflight(self) -> None:
        if os.geteuid() != 0:
            raise NodeError("the node needs root (kubelet, containerd, network namespaces)")
        if subprocess.run(["pgrep", "-x", "kubelet"], capture_output=True).returncode == 0:
            raise NodeError("a kubelet is already running on this machine; the test node must be alone")
        missing = [t for t in ("runc", "iptables", "ip", "openssl", "conntrack") if not shutil.which(t)]
        if not Path("/usr/lib/cni/bridge").exists():
            missing.append("containernetworking-plugins (/usr/lib/cni)")
        if missing:
            raise NodeError(f"missing on this machine: {', '.join(missing)} (see docs/runtime-checks.md)")

    def _start(self, timeout: float) -> None:
        w = self.work
        for d in ("run", "pki", "manifests", "cni/net.d", "kubelet", "volumes", "logs"):
            (w / d).mkdir(parents=True, exist_ok=True)
        self._network()
        tokens = self._pki()
        self._step("containerd", self._containerd)
        importer = threading.Thread(target=self._import_images, name="import")
        importer.start()
        self._step("control plane", lambda: self._control_plane(tokens))
        importer.join()
        if self._import_error:
            raise NodeError(self._import_error)
        self._step("kubelet", lambda: self._kubelet(tokens))
        self._step("node ready", lambda: self._wait(self._node_ready, "the node to be Ready", timeout))
        for ns in ("default", "kube-system"):
            self.wait_service_account(ns, timeout)
        self.apply(self._addons())
        assert self.api
        self._provisioner = self._make_provisioner()
        self._provisioner.start()
        self._step("dns", lambda: self._wait(self._dns_ready, "CoreDNS to answer", timeout))
        self._step("network policy agent", self._network_policy)

    def _dns_ready(self) -> bool:
        """Cluster DNS answers at its Service address (the host has the node's Service rules)."""
        return _dns_query(f"kubernetes.default.svc.{CLUSTER_DOMAIN}", DNS_IP)

    def _network_policy(self) -> None:
        netpol.start(self._proc, self.kubeconfig)

    def _addons(self) -> list[dict[str, Any]]:
        return [addons.storage_class(), *addons.coredns(self._image("coredns"))]

    def _make_provisioner(self) -> Provisioner:
        assert self.api
        return Provisioner(self.api, self.work / "volumes")

    def _step(self, name: str, fn: Callable[[], None]) -> None:
        t = time.monotonic()
        fn()
        self.timings[name] = time.monotonic() - t
        self.log(f"node: {name} in {self.timings[name]:.1f}s")

    def _network(self) -> None:
        if shutil.which("modprobe"):  # else the kernel must have them already (checked below)
            for module in ("overlay", "br_netfilter"):
                hoststate.run("modprobe", module, check=False)
        if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
            raise NodeError("br_netfilter is not loaded (modprobe br_netfilter): Services need it on a bridge")
        hoststate.run("ip", "link", "add", BRIDGE, "type", "bridge")
        hoststate.run("ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE)
        hoststate.run("ip", "link", "set", BRIDGE, "up")
        hoststate.write_sysctl("net.ipv4.ip_forward", "1")
        hoststate.write_sysctl("net.bridge.bridge-nf-call-iptables", "1")
        hoststate.add_forward_guard(POD_CIDR)
        (self.work / "resolv.conf").write_text(f"nameserver {NODE_IP}\n")
        (self.work / "cni/net.d/10-krmfn.conflist").write_text(json.dumps(cni_conflist(self.work), indent=1))

    def _pki(self) -> dict[str, str]:
        pki = self.work / "pki"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
                 "-subj", "/CN=multigres-krmfn-node-ca", cwd=pki)
        sans = ",".join([f"IP:{NODE_IP}", "IP:127.0.0.1", f"IP:{API_SERVICE_IP}", "DNS:localhost", "DNS:kubernetes",
                         "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                         f"DNS:kubernetes.default.svc.{CLUSTER_DOMAIN}"])
        (pki / "apiserver.ext").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
        _openssl("req", *ec, "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver",
                 cwd=pki)
        _openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "7", "-extfile", "apiserver.ext", "-out", "apiserver.crt", cwd=pki)
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key", cwd=pki)
        _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
        tokens = {name: secrets.token_hex(16) for name in self.users}
        (pki / "tokens.csv").write_text("".join(
            f'{tokens[n]},{u},{u},"{g}"\n' if g else f"{tokens[n]},{u},{u}\n" for n, (u, g) in self.users.items()))
        server = f"https://{NODE_IP}:{API_PORT}"
        for name, (user, _) in self.users.items():
            (pki / f"{name}.kubeconfig").write_text(json.dumps(kubeconfig(server, pki / "ca.crt", user, tokens[name])))
        self.kubeconfig = pki / "admin.kubeconfig"
        self.api = Api(server, tokens["admin"], pki / "ca.crt")
        return tokens

    def _proc(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> _Process:
        proc = _Process(name, argv, self.work / "logs" / f"{name}.log", env=env)
        self._procs.append(proc)
        return proc

    def _containerd(self) -> None:
        bin_dir = tool_dir("containerd")
        conf = self.work / "containerd.toml"
        conf.write_text(containerd_toml(self.work, shutil.which("runc") or "runc"))
        self._proc("containerd", [str(bin_dir / "containerd"), "--config", str(conf)],
                   env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
        sock = self.work / "run" / "containerd.sock"
        self._wait(lambda: sock.exists() and self._ctr("version").returncode == 0, "containerd", 60)

    def _ctr(self, *args: str, work: Path | None = None) -> subprocess.CompletedProcess[str]:
        """ctr against the containerd of the node whose directory is work (default: this node's)."""
        ctr = tool_dir("containerd") / "ctr"
        sock = (work or self.work) / "run" / "containerd.sock"
        return subprocess.run([str(ctr), "--address", str(sock), "-n", "k8s.io", *args],
                              capture_output=True, text=True)

    def tag_image(self, source: str, target: str) -> None:
        """A second name for an imported image (a roll to "another version" of the same bytes)."""
        res = self._ctr("images", "tag", "--force", source, target)
        if res.returncode != 0:
            raise NodeError(f"ctr images tag {source} {target}: {res.stderr}")

    def import_image(self, archive: Path, name: str) -> float:
        """Import one more image archive (an OCI archive a test built, e.g. the function's own
        image) into this node's containerd, under name; the seconds it took. `--base-name` with
        name's repository keeps a full reference in the archive as it is and completes a tag-only
        one, and the check afterwards fails when the archive named something else."""
        t = time.monotonic()
        res = self._ctr("images", "import", "--base-name", name.rsplit(":", 1)[0], str(archive))
        listed = self._ctr("images", "ls", "-q").stdout.split()
        if res.returncode != 0 or name not in listed:
            raise NodeError(f"importing {archive} as {name} failed ({res.returncode}): {res.stdout[-1000:]}"
                            f"{res.stderr[-2000:]}\nimages now: {' '.join(listed)}")
        return time.monotonic() - t

    _import_error: str = ""

    def _import_images(self) -> None:
        t = time.monotonic()
        self._import_into(self.work)
        self.timings["images"] = time.monotonic() - t
        self.log(f"node: images imported in {self.timings['images']:.1f}s")

    def _import_into(self, work: Path) -> None:
        """Import every image into the containerd of the node whose directory is work."""
        for archive, name in image_archives():
            res = self._ctr("images", "import", str(archive), work=work)
            if res.returncode != 0 or name not in self._ctr("images", "ls", "-q", work=work).stdout.split():
                self._import_error = f"importing {archive} as {name} into {work} failed: {res.stderr[-2000:]}"
                return

    def _image(self, short: str) -> str:
        return next(n for a, n in image_archives() if a.name == f"{short}.tar")

    def _control_plane(self, tokens: dict[str, str]) -> None:
        etcd_dir = tool_dir("etcd")
        client, peer = _free_ports(2)
        etcd_url = f"http://127.0.0.1:{client}"
        self._proc("etcd", [str(etcd_dir / "etcd"), "--name=node", f"--data-dir={self.work / 'etcd'}",
                            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
                            f"--listen-peer-urls=http://127.0.0.1:{peer}",
                            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                            f"--initial-cluster=node=http://127.0.0.1:{peer}", "--unsafe-no-fsync=true",
                            "--log-level=warn"], env={"GOMEMLIMIT": "256MiB"})
        pki = self.work / "pki"
        self._proc("kube-apiserver", [
            str(self.kube / "kube-apiserver"), f"--etcd-servers={etcd_url}", f"--bind-address={NODE_IP}",
            f"--advertise-address={NODE_IP}", f"--secure-port={API_PORT}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}", f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--token-auth-file={pki / 'tokens.csv'}", "--authorization-mode=Node,RBAC", "--allow-privileged=true",
            "--kubelet-preferred-address-types=InternalIP", "--profiling=false",
        ], env={"GOMEMLIMIT": "768MiB"})
        assert self.api
        self._wait(lambda: self.api is not None and self.api.call("GET", "/readyz", timeout=2)[0] == 200,
                   "kube-apiserver", 120)
        self._proc("kube-controller-manager", [
            str(self.kube / "kube-controller-manager"), f"--kubeconfig={pki / 'controller-manager.kubeconfig'}",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
            "--use-service-account-credentials=true", "--leader-elect=false", "--bind-address=127.0.0.1",
            "--profiling=false", *self.controller_manager_args])
        self._proc("kube-scheduler", [
            str(self.kube / "kube-scheduler"), f"--kubeconfig={pki / 'scheduler.kubeconfig'}",
            "--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false"])

    def _kubelet(self, tokens: dict[str, str]) -> None:
        pki = self.work / "pki"
        conf = self.work / "kubelet.json"
        conf.write_text(json.dumps(kubelet_config(self.work), indent=1))
        self._proc("kubelet", [
            str(self.kube / "kubelet"), f"--config={conf}", f"--kubeconfig={pki / 'kubelet.kubeconfig'}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={NODE_IP}", f"--root-dir={self.work / 'kubelet'}",
            f"--cert-dir={self.work / 'kubelet' / 'pki'}"])
        proxy = self.work / "kube-proxy.json"
        proxy.write_text(json.dumps(kube_proxy_config(pki / "kube-proxy.kubeconfig"), indent=1))
        self._proc("kube-proxy", [str(self.kube / "kube-proxy"), f"--config={proxy}"])

    def _node_ready(self) -> bool:
        assert self.api
        code, body = self.api.call("GET", f"/api/v1/nodes/{NODE_NAME}", timeout=2)
        if code != 200:
            return False
        return any(c["type"] == "Ready" and c["status"] == "True" for c in body["status"].get("conditions", []))

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for proc in self._procs:
                if not proc.alive():
                    raise NodeError(f"{proc.name} exited with {proc.popen.returncode} while waiting for {what}; "
                                    f"{proc.log}:\n{proc.log_tail(40)}")
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                if ready():
                    return
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {p.name}:\n{p.log_tail(15)}" for p in self._procs)
                raise NodeError(f"{what}: not after {timeout:.0f}s\n{tails}")
            time.sleep(0.25)

    # --- memory and reports ----------------------------------------------------------------------

    def _record_rss(self) -> None:
        for proc in self._procs:
            hwm = proc.vm_hwm_kib()
            if hwm is not None:
                self.peak_rss_kib[proc.name] = max(hwm, self.peak_rss_kib.get(proc.name, 0))
        pods = self._pods_memory_kib()
        if pods is not None:
            self.peak_rss_kib["pods"] = max(pods, self.peak_rss_kib.get("pods", 0))

    def _pods_memory_kib(self) -> int | None:
        return node_pods_memory_kib()

    def _watch_rss(self) -> None:
        while not self._rss_stop.wait(2.0):
            self._record_rss()

    def collect(self, dest: Path) -> None:
        """Save every component's log, and describe/logs of every pod, into dest (after a failure)."""
        dest.mkdir(parents=True, exist_ok=True)
        for log in (self.work / "logs").glob("*.log"):
            shutil.copy(log, dest / log.name)
        if self._provisioner and self._provisioner.errors:
            (dest / "provisioner-errors.txt").write_text("\n".join(self._provisioner.errors))
        with contextlib.suppress(Exception):
            (dest / "all.txt").write_text(self.kubectl("get", "all,pvc,pv,cm,events", "-A", "-o", "wide",
                                                       check=False).stdout)
            (dest / "describe-pods.txt").write_text(self.kubectl("describe", "pods", "-A", check=False).stdout)
            pods = json.loads(self.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
            for pod in pods:
                ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
                spec = pod["spec"]
                for c in spec.get("initContainers", []) + spec.get("containers", []):
                    for prev in (False, True):
                        out = self.kubectl("logs", "-n", ns, name, "-c", c["name"], *(["--previous"] if prev else []),
                                           check=False)
                        if out.stdout:
                            suffix = ".previous" if prev else ""
                            (dest / f"pod-{ns}-{name}-{c['name']}{suffix}.log").write_text(out.stdout)


def node_pods_memory_kib(top: str = "kubepods") -> int | None:
    """Memory of every pod right now (the kubepods cgroup's usage, v1 memory controller)."""
    usage = Path(f"/sys/fs/cgroup/memory/{top}/memory.usage_in_bytes")
    try:
        return int(usage.read_text()) // 1024
    except (OSError, ValueError):
        return None
