"""Running local processes in tests, with cleanup that also happens on failure.

`ProcessGroup` starts each process in its own session (so its pid is also its process-group id),
sends its output to a log file, and on `stop()` (or leaving the `with` block, or interpreter exit)
terminates exactly the process groups it started: SIGTERM, a grace period, then SIGKILL. Nothing
is ever looked up or killed by name.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_LIVE_GROUPS: list[ProcessGroup] = []


@dataclass
class Proc:
    name: str
    argv: list[str]
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, limit: int = 4000) -> str:
        """The last `limit` characters of the process's combined stdout/stderr."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:]


@dataclass
class ProcessGroup:
    """Processes started by one test (or fixture); `stop()` ends them all."""

    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        _LIVE_GROUPS.append(self)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
              cwd: str | Path | None = None) -> Proc:
        log = self.log_dir / f"{name}.log"
        with open(log, "wb") as fh:
            popen = subprocess.Popen(list(argv), stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
        proc = Proc(name, list(argv), popen, log)
        self.procs.append(proc)
        return proc

    def check_alive(self) -> None:
        """Raise with the process's output if any process has exited."""
        for p in self.procs:
            if not p.alive():
                raise RuntimeError(f"{p.name} exited with {p.popen.returncode}: {p.argv}\n--- output ---\n{p.output()}")

    def stop(self, grace: float = 5.0) -> None:
        for p in self.procs:
            _signal_group(p, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        for p in self.procs:
            # SIGKILL the whole group even if the leader exited: children it started may remain.
            _signal_group(p, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=5)
        self.procs.clear()
        if self in _LIVE_GROUPS:
            _LIVE_GROUPS.remove(self)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(p: Proc, sig: signal.Signals) -> None:
    # start_new_session=True made the child a session (and group) leader: its pgid is its pid,
    # so this reaches only what this helper started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, sig)


@atexit.register
def _stop_leftovers() -> None:
    for group in list(_LIVE_GROUPS):
        group.stop(grace=1.0)


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2,
             alive: ProcessGroup | None = None) -> T:
    """Call `check` until it returns something truthy; fail after `timeout` seconds.

    With `alive`, fail early (with the process output) as soon as one of its processes exits.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if alive is not None:
            alive.check_alive()
        try:
            result = check()
            if result:
                return result
        except Exception as err:  # noqa: BLE001 - retried until the deadline, then reported
            last_error = err
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last error: {last_error!r}")
        time.sleep(interval)


def can_bind(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def http_json(url: str, body: Any = None, timeout: float = 5.0) -> Any:
    """GET (body None) or POST a JSON body; the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for 'every key starting with prefix'."""
    b = bytearray(prefix)
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\x00"


def etcd_range(client_url: str, prefix: bytes, timeout: float = 5.0) -> dict[bytes, bytes]:
    """Every key/value under `prefix`, read through etcd's v3 JSON gateway (`/v3/kv/range`)."""
    answer = http_json(f"{client_url}/v3/kv/range", {"key": b64(prefix), "range_end": b64(prefix_end(prefix))},
                       timeout=timeout)
    return {base64.b64decode(kv["key"]): base64.b64decode(kv.get("value", "")) for kv in answer.get("kvs", [])}


def url_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


# --- rendered Kubernetes containers as local processes ---------------------------------------

# Sample values for the downward API, the way the kubelet would fill them in.
SAMPLE_POD_IP = "10.244.1.23"
SAMPLE_HOST_IP = "10.0.0.7"
SAMPLE_NODE = "node-1"


def pod_spec(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload object (Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob...)."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return dict(spec)
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template")
    return (template or {}).get("spec") if isinstance(template, dict) else None


def sample_pod_name(obj: Mapping[str, Any], index: int = 0) -> str:
    name = obj["metadata"]["name"]
    return f"{name}-{index}" if obj.get("kind") == "StatefulSet" else f"{name}-5d8f7c9b4-x2x7q"


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined variables are replaced, `$$` is a literal `$`,
    undefined references are left as they are."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i) and ")" in text[i + 2:]:
            end = text.index(")", i + 2)
            name = text[i + 2:end]
            if name in env:
                out.append(env[name])
            else:
                out.append(text[i:end + 1])
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def field_value(path: str, obj: Mapping[str, Any], pod_name: str, pod_ip: str) -> str:
    meta = obj.get("metadata") or {}
    template_meta = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    if path == "metadata.name":
        return pod_name
    if path == "metadata.namespace":
        return str(meta.get("namespace") or "default")
    if path == "status.podIP":
        return pod_ip
    if path == "status.hostIP":
        return SAMPLE_HOST_IP
    if path == "spec.nodeName":
        return SAMPLE_NODE
    if path == "spec.serviceAccountName":
        return "default"
    for kind in ("labels", "annotations"):
        prefix = f"metadata.{kind}['"
        if path.startswith(prefix) and path.endswith("']"):
            key = path[len(prefix):-2]
            if kind == "labels" and key == "apps.kubernetes.io/pod-index":
                return pod_name.rsplit("-", 1)[-1]
            return str((template_meta.get(kind) or {}).get(key, f"sample-{key}"))
    return f"sample-{path}"


def container_env(container: Mapping[str, Any], obj: Mapping[str, Any], pod_name: str,
                  pod_ip: str = SAMPLE_POD_IP) -> dict[str, str]:
    """The container's environment as the kubelet builds it (in order, each value expanded against
    the ones before it), with sample values for the downward API, Secrets and ConfigMaps."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            env[name] = expand(str(item.get("value") or ""), env)
            continue
        source = item.get("valueFrom") or {}
        if "fieldRef" in source:
            env[name] = field_value(source["fieldRef"]["fieldPath"], obj, pod_name, pod_ip)
        elif "resourceFieldRef" in source:
            env[name] = "1"
        elif "secretKeyRef" in source:
            env[name] = "sample-secret-value"
        elif "configMapKeyRef" in source:
            env[name] = "sample-configmap-value"
        else:
            env[name] = ""
    return env


def container_argv(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """command + args with `$(VAR)` references expanded (as the kubelet does)."""
    return [expand(str(a), env) for a in [*(container.get("command") or []), *(container.get("args") or [])]]


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A minimal process environment (no inherited ETCD_*/POSTGRES_* surprises) plus `extra`."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME")}
    return {**base, **extra}
