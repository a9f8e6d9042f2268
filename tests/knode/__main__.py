"""Run the test node by hand: `cd tests && python -m knode` (root; `--zones`: the three-node
cluster of multinode.py). It prints the kubeconfig and
keeps the node up until SIGINT/SIGTERM, then tears it down like the fixture does."""

from __future__ import annotations

import signal
import sys
import threading

from .cluster import Node, build_tools
from .multinode import Cluster


def main() -> None:
    build_tools()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    kind = Cluster if "--zones" in sys.argv[1:] else Node
    with kind(log=lambda m: print(m, file=sys.stderr)) as node:
        print(f"export KUBECONFIG={node.kubeconfig}", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
