"""Render an example with the function and put it on the node, as a platform engineer would."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from helpers import CLI, ROOT
from knode.cluster import Node

CRDS = ROOT / "crds" / "multigres.com_crds.yaml"


def render(path: Path) -> str:
    out = subprocess.run([*CLI, "render", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def install_crds(node: Node) -> None:
    """Apply the CRDs and wait until each is Established. `kubectl wait` fails at once on a CRD the
    API server has not yet given a status (".status.conditions accessor error", seen on the node),
    so it is retried within the same 60 s."""
    node.kubectl("apply", "--server-side", "-f", str(CRDS))
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(CRDS.read_text()) if d]
    deadline = time.monotonic() + 60
    while True:
        res = node.kubectl("wait", "--for=condition=Established", *(f"crd/{n}" for n in names),
                           "--timeout=60s", check=False)
        if res.returncode == 0:
            return
        assert time.monotonic() < deadline, res.stderr
        time.sleep(1)


def password_secret(node: Node, ns: str, cluster: str, password: str = "e2e-secret-pw") -> None:
    node.kubectl("create", "secret", "generic", f"{cluster}-postgres-password", "-n", ns,
                 f"--from-literal=password={password}")


def apply_render(node: Node, text: str, *extra: str) -> None:
    node.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", *extra, input=text)


def fit_to_node(text: str, cpu: str = "10m", memory: str = "64Mi") -> str:
    """The test node has 2 cores: lower every container's CPU and memory *requests* (never the
    limits, nothing else) so a production-sized render schedules on it. Stands in for what a
    LimitRange cannot do (lower an explicit request)."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    for doc in docs:
        spec = doc.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or (spec.get("jobTemplate") or {}).get("spec", {}).get(
            "template", {}).get("spec")
        if not pod:
            continue
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            requests = (c.get("resources") or {}).get("requests")
            if requests:
                if "cpu" in requests:
                    requests["cpu"] = cpu
                if "memory" in requests:
                    requests["memory"] = memory
    return yaml.safe_dump_all(docs, sort_keys=False)


def render_cluster(cluster: dict[str, Any], extra: list[dict[str, Any]] | None = None) -> str:
    """Render a MultigresCluster given as data (plus templates), through the CLI on a temp package."""
    with tempfile.TemporaryDirectory() as tmp:
        docs = [cluster, *(extra or [])]
        (Path(tmp) / "cluster.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return render(Path(tmp))


def load_example(name: str, namespace: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The example's MultigresCluster (moved to namespace) and its other documents, without its
    function options (render.yaml): they turn the status reporter on, whose image (the function's
    own) only test_reporter_pod.py builds and imports into the node; test_minimal.py runs the
    reporter on the host instead."""
    docs: list[dict[str, Any]] = []
    for f in sorted((ROOT / "examples" / name).glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text())
                 if d and d.get("kind") not in ("Kptfile", "RenderMultigres")]
    for d in docs:
        d.setdefault("metadata", {})["namespace"] = namespace
    cluster = next(d for d in docs if d["kind"] == "MultigresCluster")
    return cluster, [d for d in docs if d is not cluster]


def tls_secret(node: Node, ns: str, cluster: str, rendered: str) -> None:
    """The pgBackRest TLS Secret, made from the render with the script the README gives users."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["bash", str(ROOT / "scripts" / "make-pgbackrest-tls.sh"), cluster, ns],
                             input=rendered, capture_output=True, text=True, cwd=tmp,
                             env={**os.environ, "PGBACKREST_TLS_DIR": str(Path(tmp) / "tls")})
        assert out.returncode == 0, out.stderr
        node.kubectl("apply", "--server-side", "-f", "-", input=out.stdout)


PINNED = {"multigres": "ghcr.io/multigres/multigres:sha-6bd80b9", "pgctld": "ghcr.io/multigres/pgctld:sha-6bd80b9",
          "etcd": "gcr.io/etcd-development/etcd:v3.6.16"}


def pin_images(spec: dict[str, Any]) -> dict[str, Any]:
    """The seed names images no test machine has (`multigres/multigres:latest`, `postgres:15.3`,
    `quay.io/coreos/etcd:v3.5.17`): point every one at the pinned builds, nothing else."""
    s = spec["spec"]
    s["images"] = {c: PINNED["multigres"] for c in ("multigateway", "multiorch", "multipooler", "multiadmin")}
    s["images"]["postgres"] = PINNED["pgctld"]
    managed = [(s.get("globalTopoServer") or {}).get("managedSpec")]
    for cell in (s.get("cells") or {}).get("templates") or []:
        topo = (cell.get("spec") or {}).get("topoServer") or (cell.get("spec") or {}).get("toposerver") or {}
        managed.append(topo.get("managedSpec"))
    for m in managed:
        if m and "image" in m:
            m["image"] = PINNED["etcd"]
    return spec


def render_warnings(cluster: dict[str, Any], extra: list[dict[str, Any]] | None = None) -> str:
    """What the render says on stderr (its warnings) for a cluster given as data."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cluster.yaml").write_text(yaml.safe_dump_all([cluster, *(extra or [])], sort_keys=False))
        out = subprocess.run([*CLI, "render", tmp], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        return out.stderr
