"""Render an example with the function and put it on the node, as a platform engineer would."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import CLI, ROOT
from knode.cluster import Node

CRDS = ROOT / "crds" / "multigres.com_crds.yaml"


def render(path: Path) -> str:
    out = subprocess.run([*CLI, "render", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def install_crds(node: Node) -> None:
    node.kubectl("apply", "--server-side", "-f", str(CRDS))
    node.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")


def password_secret(node: Node, ns: str, cluster: str, password: str = "e2e-secret-pw") -> None:
    node.kubectl("create", "secret", "generic", f"{cluster}-postgres-password", "-n", ns,
                 f"--from-literal=password={password}")


def apply_render(node: Node, text: str, *extra: str) -> None:
    node.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", *extra, input=text)
