"""Small helpers of the real-node tests: namespaces, waits and one-shot pods."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from knode.cluster import Node


def namespace(node: Node, name: str) -> str:
    node.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true")
    node.kubectl("create", "namespace", name)
    node.wait_service_account(name)
    return name


def get(node: Node, ns: str, what: str) -> Any:
    return json.loads(node.kubectl("get", "-n", ns, what, "-o", "json").stdout)


def wait(node: Node, ns: str, what: str, condition: str, timeout: int = 180) -> None:
    """kubectl wait (`what` may hold a selector: "pod -l a=b"), with the objects' state in the error."""
    res = node.kubectl("wait", "-n", ns, *what.split(), f"--for={condition}", f"--timeout={timeout}s", check=False,
                       timeout=timeout + 30)
    if res.returncode != 0:
        state = node.kubectl("get", "-n", ns, "all,pvc", "-o", "wide", check=False).stdout
        events = node.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False).stdout
        raise AssertionError(f"{what} not {condition} after {timeout}s: {res.stderr}\n{state}\n{events[-4000:]}")


def run_pod(node: Node, ns: str, name: str, image: str, command: list[str], timeout: int = 120,
            user: int | None = None, labels: dict[str, str] | None = None) -> str:
    """Run a pod to completion; returns its log, fails with it when the pod fails. `labels` make it
    one of the pods a NetworkPolicy lets in (e.g. the cluster's, to reach its etcd)."""
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [
        {"name": "main", "image": image, "imagePullPolicy": "Never", "command": command}]}
    if user is not None:
        spec["securityContext"] = {"runAsUser": user}
    meta = {"name": name, "namespace": ns, **({"labels": labels} if labels else {})}
    node.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}])
    deadline = time.monotonic() + timeout
    phase = ""
    while time.monotonic() < deadline:
        phase = get(node, ns, f"pod/{name}")["status"].get("phase", "")
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(0.5)
    log = node.kubectl("logs", "-n", ns, name, check=False).stdout
    assert phase == "Succeeded", f"pod {name} ended {phase or 'not'}: {log}"
    return log


@contextlib.contextmanager
def follow_logs(node: Node, ns: str, selector: str, path: Path) -> Iterator[None]:
    """Follows, into `path`, the logs of the pods matching `selector` that exist when it starts (every
    container, with timestamps): a deleted or rolled pod's log is gone with the pod, and this keeps
    what it said meanwhile (a resigning primary's pooler and its preStop hook, say)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(node.kube / "kubectl"), f"--kubeconfig={node.kubeconfig}", "logs", "-f", "-n", ns, "-l", selector,
           "--all-containers", "--prefix", "--timestamps", "--max-log-requests=20", "--since=5s"]
    with path.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=30)
