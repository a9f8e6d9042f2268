"""A real Kubernetes API server (kube-apiserver + etcd) for tests.

`ApiServer` starts etcd and kube-apiserver on 127.0.0.1 (free ports, a private temp dir, a
self-generated serving certificate, a service-account key, one static admin token in
`system:masters`, RBAC authorization), waits for `/readyz`, writes a kubeconfig and always stops
both processes again. The class does not depend on pytest:

    with ApiServer(etcd=..., kube_apiserver=...) as server:
        server.kubectl("apply", "--server-side", "-f", "crds.yaml")

`locate_binaries()` finds the two binaries: `$KUBEBUILDER_ASSETS` (the envtest convention: a
directory holding `etcd` and `kube-apiserver`) or the project's tool cache, built or reused through
`make tools-etcd tools-kubernetes`. The session fixture `apiserver` (registered in conftest.py)
puts both together and skips with a reason when the tools are missing (fails under REQUIRE_TOOLS=1).
See docs/development.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REQUIRE_TOOLS, require_tool

ROOT = Path(__file__).resolve().parent.parent

ADMIN_USER = "admin"
ADMIN_GROUP = "system:masters"


class ToolsUnavailable(Exception):
    """The binaries cannot be found or built here (the fixture skips; REQUIRE_TOOLS=1 fails)."""


class StartupError(Exception):
    """etcd or kube-apiserver did not come up; the message ends with the tail of its log."""


class KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"kubectl {' '.join(self.cmd[3:])} exited {self.returncode}:\n{self.stderr}{self.output}"


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    source: str  # where they came from, for messages
    kubectl: Path | None = None  # envtest assets ship a kubectl of the same version


# --- locating the binaries -------------------------------------------------------------------

def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _cache_dir(tool: str) -> Path:
    out = subprocess.run(["bash", str(ROOT / "tools" / "build.sh"), "path", tool],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return Path(out.stdout.strip())


def locate_binaries() -> Binaries:
    """etcd and kube-apiserver: from $KUBEBUILDER_ASSETS, else the tool cache (built when missing).

    A KUBEBUILDER_ASSETS that lacks either binary is a ValueError (a misconfiguration, not a
    missing tool). Raises ToolsUnavailable when the binaries are not cached and cannot be built.
    """
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        etcd, kas = Path(assets) / "etcd", Path(assets) / "kube-apiserver"
        missing = [p.name for p in (etcd, kas) if not _executable(p)]
        if missing:
            raise ValueError(f"KUBEBUILDER_ASSETS={assets} has no executable {' or '.join(missing)}")
        kubectl = Path(assets) / "kubectl"
        return Binaries(etcd, kas, f"KUBEBUILDER_ASSETS={assets}", kubectl if _executable(kubectl) else None)

    etcd = _cache_dir("etcd") / "etcd"
    kas = _cache_dir("kubernetes") / "kube-apiserver"
    cached = _executable(etcd) and _executable(kas)
    if not cached and not shutil.which("go"):
        raise ToolsUnavailable("etcd/kube-apiserver are not built and Go is not installed "
                               "(install Go and run `make tools-etcd tools-kubernetes`, "
                               "or set KUBEBUILDER_ASSETS)")
    # A no-op when cached; otherwise a long build (kube-apiserver takes many minutes).
    if not cached:
        print("building etcd and kube-apiserver (make tools-etcd tools-kubernetes); this takes a while",
              file=sys.stderr)
    make = shutil.which("make")
    cmd = ([make, "-C", str(ROOT), "tools-etcd", "tools-kubernetes"] if make
           else ["bash", str(ROOT / "tools" / "build.sh"), "etcd", "kubernetes"])
    # Two test sessions must not build the same tool into the same cache at once.
    cache_root = etcd.parent.parent.parent
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / ".apiserver-fixture.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if build.returncode != 0 or not (_executable(etcd) and _executable(kas)):
        tail = "\n".join((build.stdout + build.stderr).splitlines()[-15:])
        raise ToolsUnavailable(f"`{' '.join(cmd)}` did not produce etcd and kube-apiserver "
                               f"(exit {build.returncode}):\n{tail}")
    # kubectl is built with kube-apiserver (tools/build.sh kubernetes): the same version, and no
    # kubectl on PATH needed.
    kubectl = kas.parent / "kubectl"
    return Binaries(etcd, kas, "tool cache (make tools-etcd tools-kubernetes)",
                    kubectl if _executable(kubectl) else None)


# --- processes ---------------------------------------------------------------------------------

def _free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held open together, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the thread that started it dies, so a
    killed test run (SIGKILL, OOM) leaves no orphan. Linux only; elsewhere teardown must do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class _Process:
    """One server process in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.name, self.log = name, log
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                env={**os.environ, **(env or {})})
        self.peak_rss_kib: int | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def vm_hwm_kib(self) -> int | None:
        """Peak resident set size so far (VmHWM), or None once the process is gone."""
        try:
            for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL after `grace` seconds; records peak memory."""
        hwm = self.vm_hwm_kib()
        if hwm is not None:
            self.peak_rss_kib = hwm
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        else:
            # Reap anything the leader left behind in its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)


def _get(url: str, context: ssl.SSLContext | None = None, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=2, context=context) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


# --- the server --------------------------------------------------------------------------------

class ApiServer:
    """etcd + kube-apiserver on 127.0.0.1. Use as a context manager, or start() / stop().

    After start(): `url`, `token` (admin, group system:masters), `kubeconfig` (a file),
    `ca_file`, `startup_seconds`, `version`; `kubectl(*args)` runs kubectl against it.
    After stop(): `peak_rss_kib` maps "etcd"/"kube-apiserver" to VmHWM (KiB) read just before
    teardown. `peak_rss_kib_now()` reads it while running.

    The processes are started in their own process groups and die with the starting thread
    (PR_SET_PDEATHSIG on Linux), so start and stop from the same, long-lived thread.
    """

    def __init__(self, etcd: str | Path, kube_apiserver: str | Path, *, kubectl: str = "kubectl",
                 openssl: str = "openssl", workdir: str | Path | None = None, keep_workdir: bool = False,
                 startup_timeout: float = 90.0, extra_apiserver_flags: list[str] | None = None):
        self.etcd_bin, self.kube_apiserver_bin = str(etcd), str(kube_apiserver)
        self.kubectl_bin, self.openssl_bin = kubectl, openssl
        self._workdir_arg = Path(workdir) if workdir else None
        self.keep_workdir = keep_workdir
        self.startup_timeout = startup_timeout
        self.extra_apiserver_flags = list(extra_apiserver_flags or [])
        self.workdir: Path | None = None
        self.url = ""
        self.token = ""
        self.kubeconfig: Path | None = None
        self.ca_file: Path | None = None
        self.version = ""
        self.startup_seconds: float | None = None
        self.peak_rss_kib: dict[str, int] = {}
        self._procs: list[_Process] = []

    # lifecycle

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, attempts: int = 3) -> ApiServer:
        """Start both processes and wait until /readyz is ok. Cleans up after itself on failure."""
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                break
            except StartupError as err:
                self.stop()
                # Another process may have taken a port between picking and binding: retry.
                if "address already in use" not in str(err) or attempt == attempts:
                    raise
            except BaseException:
                self.stop()
                raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd (idempotent); remove the temp dir unless keep_workdir."""
        for proc in reversed(self._procs):
            proc.stop()
            if proc.peak_rss_kib is not None:
                self.peak_rss_kib[proc.name] = proc.peak_rss_kib
        self._procs = []
        if self.workdir and not self.keep_workdir and self._workdir_arg is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def peak_rss_kib_now(self) -> dict[str, int]:
        return {p.name: hwm for p in self._procs if (hwm := p.vm_hwm_kib()) is not None}

    # kubectl

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess:
        """Run kubectl against this server; raises KubectlError (with stderr) on failure if check."""
        assert self.kubeconfig and self.workdir, "ApiServer is not started"
        cmd = [self.kubectl_bin, f"--kubeconfig={self.kubeconfig}",
               f"--cache-dir={self.workdir / 'kubectl-cache'}", *args]
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, cmd, result.stdout, result.stderr)
        return result

    def env(self) -> dict[str, str]:
        """Environment for other clients: os.environ plus KUBECONFIG."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    # internals

    def _start_once(self) -> None:
        if self._workdir_arg:
            self.workdir = self._workdir_arg
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="multigres-krmfn-apiserver-"))
        work = self.workdir
        shutil.rmtree(work / "etcd", ignore_errors=True)
        client_port, peer_port, secure_port = _free_ports(3)
        etcd_url = f"http://127.0.0.1:{client_port}"
        self._procs.append(_Process("etcd", [
            self.etcd_bin,
            "--name=test",
            f"--data-dir={work / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=test=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync=true",          # a throwaway store: no fsync, much faster
            "--quota-backend-bytes=268435456",  # 256 MiB is plenty for tests
            "--log-level=warn",
        ], work / "etcd.log", env={"GOMEMLIMIT": "256MiB"}))
        self._wait(lambda: '"health":"true"' in _get(f"{etcd_url}/health")[1], "etcd")

        self.token = secrets.token_hex(16)
        (work / "tokens.csv").write_text(f'{self.token},{ADMIN_USER},{ADMIN_USER},"{ADMIN_GROUP}"\n')
        sa_key = work / "sa.key"
        subprocess.run([self.openssl_bin, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", str(sa_key)], check=True, capture_output=True)
        # --service-account-key-file wants the public half (it does not read a PKCS#8 private key).
        sa_pub = work / "sa.pub"
        subprocess.run([self.openssl_bin, "pkey", "-in", str(sa_key), "-pubout", "-out", str(sa_pub)],
                       check=True, capture_output=True)
        certs = work / "certs"
        self._procs.append(_Process("kube-apiserver", [
            self.kube_apiserver_bin,
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # 1.37 refuses a loopback advertise address for the endpoints of the `kubernetes`
            # Service; nothing here needs that Service's endpoints.
            "--endpoint-reconciler-type=none",
            f"--secure-port={secure_port}",
            # No --tls-cert-file: a self-signed CA + serving cert for 127.0.0.1 go into --cert-dir.
            f"--cert-dir={certs}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            f"--token-auth-file={work / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            "--profiling=false",
            *self.extra_apiserver_flags,
        ], work / "kube-apiserver.log", env={"GOMEMLIMIT": "768MiB"}))
        self.url = f"https://127.0.0.1:{secure_port}"
        self.ca_file = certs / "apiserver.crt"
        self._wait(self._ready, "kube-apiserver")
        self.version = json.loads(_get(f"{self.url}/version", self._ssl(), self.token)[1])["gitVersion"]
        self.kubeconfig = work / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.url,
                                                      "certificate-authority": str(self.ca_file)}}],
            "users": [{"name": ADMIN_USER, "user": {"token": self.token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": ADMIN_USER,
                                                      "namespace": "default"}}],
            "current-context": "test",
        }, indent=2))

    def _ssl(self) -> ssl.SSLContext:
        # The self-generated file holds the serving cert followed by the CA that signed it.
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _ready(self) -> bool:
        if not self.ca_file or not self.ca_file.exists():
            return False
        return _get(f"{self.url}/readyz", self._ssl(), self.token) == (200, "ok")

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            for proc in self._procs:
                if not proc.alive():
                    raise StartupError(f"{proc.name} exited with {proc.popen.returncode} while waiting for "
                                       f"{what}; {proc.log}:\n{proc.log_tail()}")
            with contextlib.suppress(OSError, ssl.SSLError, ValueError):
                if ready():
                    return
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {p.log}:\n{p.log_tail()}" for p in self._procs)
                raise StartupError(f"{what} not ready after {self.startup_timeout:.0f}s\n{tails}")
            time.sleep(0.1)


# --- pytest ------------------------------------------------------------------------------------

def _unavailable(reason: str):
    if REQUIRE_TOOLS:
        pytest.fail(f"REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def apiserver() -> Iterator[ApiServer]:
    """A running API server for the whole session; tests share it (use their own namespaces/names)."""
    openssl = require_tool("openssl")
    try:
        binaries = locate_binaries()
    except ToolsUnavailable as err:
        _unavailable(str(err))
    except ValueError as err:
        pytest.fail(str(err))
    kubectl = require_tool("kubectl", str(binaries.kubectl) if binaries.kubectl else None)
    keep = os.environ.get("MULTIGRES_KRMFN_APISERVER_KEEP") == "1"
    with ApiServer(binaries.etcd, binaries.kube_apiserver, kubectl=kubectl, openssl=openssl,
                   keep_workdir=keep) as server:
        print(f"\napiserver: {server.version} from {binaries.source} at {server.url}, "
              f"ready in {server.startup_seconds:.1f}s" + (f", files in {server.workdir}" if keep else ""),
              file=sys.stderr)
        yield server
    mib = {name: f"{kib / 1024:.0f} MiB" for name, kib in server.peak_rss_kib.items()}
    print(f"\napiserver: peak memory (VmHWM) {mib}", file=sys.stderr)
