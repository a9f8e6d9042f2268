"""The node's NetworkPolicy agent: kube-network-policies (tools/build.sh builds it from source).

It runs as a process on the host, like kube-proxy, with the admin kubeconfig (it only reads pods,
namespaces and NetworkPolicies). It puts an nftables table `inet kube-network-policies` in front of
the pods' traffic: the first packet of each new connection to or from a pod goes to an nfqueue,
the agent decides it against the policies, and conntrack lets the rest of an allowed connection
through. A denied packet is dropped, so a denied connection times out. Traffic the node's root
processes send (kubelet probes) is not evaluated, as NetworkPolicy leaves a pod's own node alone.

Started after cluster DNS answers (nothing before needs policies); stopped with the node, which
also deletes the table, here and after a killed run (`cleanup`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apiserver import _free_ports

from . import hoststate
from .config import NODE_NAME

TOOL = "kube-network-policies"
TABLE = ("inet", "kube-network-policies")


def binary() -> Path:
    out = subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "tools" / "build.sh"), "path", TOOL],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip()) / TOOL


def table_present(netns: str | None = None) -> bool:
    """Whether the agent's table is in place, on the host or in a node's network namespace."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return hoststate.run(*prefix, "nft", "list", "table", *TABLE, check=False).returncode == 0


def cleanup() -> None:
    """Delete the agent's table: after it stopped (it ignores SIGTERM) or a killed run."""
    if table_present():
        hoststate.run("nft", "delete", "table", *TABLE, check=False)


def with_nri_socket(socket: Path, argv: list[str]) -> list[str]:
    """`argv` in a mount namespace of its own where `socket` is at NRI's fixed path. The agent
    dials /var/run/nri/nri.sock, always (containerd/nri pkg/stub: DefaultSocketPath, no flag); the
    three-node cluster's containerds each serve theirs elsewhere (config.containerd_toml), so each
    node's agent sees its own there. A tmpfs over /run/nri keeps the host's folder untouched."""
    script = ('mkdir -p /run/nri && mount -t tmpfs tmpfs /run/nri && : > /run/nri/nri.sock && '
              'mount --bind "$0" /run/nri/nri.sock && exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", script, str(socket), *argv]


def start(proc: Callable[..., Any], kubeconfig: Path, timeout: float = 60, node: str = NODE_NAME,
          wrap: Callable[[list[str]], list[str]] | None = None, netns: str | None = None) -> None:
    """Run the agent of `node` (through the node's process starter; `wrap` puts it in the node's
    namespaces) and wait until its rules are in place (in `netns`, or the host's)."""
    (metrics,) = _free_ports(1)
    # No --disable-nri: v0.8.0 parses it but never passes it on, so the agent always asks the
    # runtime's NRI socket (the node's containerd) for pod addresses, which is what we want anyway.
    argv = [str(binary()), f"--hostname-override={node}",
            "--netfilter-bug-1766-fix=false",  # the race it works around is fixed in kernels >= 6.12
            f"--metrics-bind-address=127.0.0.1:{metrics}", "--v=1"]
    name = TOOL if node == NODE_NAME else f"{TOOL}@{node}"
    handle = proc(name, wrap(argv) if wrap else argv, env={"KUBECONFIG": str(kubeconfig)})
    deadline = time.monotonic() + timeout
    while not table_present(netns):
        if not handle.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{TOOL} did not install its nftables table:\n{handle.log_tail()}")
        time.sleep(0.2)
