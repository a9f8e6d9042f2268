"""Fixtures of the tests that run on the real node (marker `e2e`, `make e2e`).

`node` (session): builds or reuses every tool and image (tools/build.sh, tools/images.sh), starts
the node (tests/knode/cluster.py) and always tears it down. Without root or the machine's packages
the tests skip with the reason, and fail under REQUIRE_TOOLS=1 (CI). After a failed test, every
component's log and each pod's description and logs are saved under `e2e-logs/<test name>/`
(override the folder with E2E_LOG_DIR).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REQUIRE_TOOLS, ROOT
from knode.cluster import Node, NodeError, build_tools

LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", ROOT / "e2e-logs"))


@pytest.hookimpl(tryfirst=True)  # before pytest's own `-m` deselection reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _unavailable(reason: str) -> None:
    if REQUIRE_TOOLS:
        pytest.fail(f"REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> Iterator[Node]:
    if os.geteuid() != 0:
        _unavailable("the real-node tests need root (kubelet, containerd, network namespaces)")
    if not shutil.which("go"):
        _unavailable("the real-node tests build their tools with Go, which is not installed")
    try:
        build_tools()
    except subprocess.CalledProcessError as err:
        _unavailable(f"building the node's tools or images failed: {err}")
    n = Node(log=lambda msg: print(msg, file=sys.stderr))
    try:
        n.start()
    except NodeError as err:
        n.collect(LOG_DIR / "node-start")
        pytest.fail(f"the node did not start: {err}")
    try:
        yield n
    finally:
        n.stop()
        report = LOG_DIR / "node-report.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text("".join(f"{k}: {v:.1f}s\n" for k, v in n.timings.items()) +
                          "".join(f"peak {k}: {v // 1024} MiB\n" for k, v in n.peak_rss_kib.items()))


@pytest.fixture(autouse=True)
def _save_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and "node" in request.fixturenames:
        n: Node = request.getfixturevalue("node")
        n.collect(LOG_DIR / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name))
