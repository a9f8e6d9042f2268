"""Run the test node by hand: `cd tests && python -m knode` (root). It prints the kubeconfig and
keeps the node up until SIGINT/SIGTERM, then tears it down like the fixture does."""

from __future__ import annotations

import signal
import sys
import threading

from .cluster import Node, build_tools


def main() -> None:
    build_tools()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with Node(log=lambda m: print(m, file=sys.stderr)) as node:
        print(f"export KUBECONFIG={node.kubeconfig}", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
