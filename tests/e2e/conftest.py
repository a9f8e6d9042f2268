"""Fixtures of the tests that run on the real node (marker `e2e`, `make e2e`).

`node` (session): builds or reuses every tool and image (tools/build.sh, tools/images.sh), starts
the node (tests/knode/cluster.py) and always tears it down. `zones` (session): the three-node,
three-zone cluster (tests/knode/multinode.py). Both use the same host names and addresses, so only
one runs at a time: the tests that need `zones` run after all the others, and `zones` stops the
single node first. Without root or the machine's packages
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
from function_image import Built, build, save_oci_archive
from helpers import REQUIRE_TOOLS, ROOT
from knode.cluster import Node, NodeError, build_tools
from knode.multinode import Cluster

LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", ROOT / "e2e-logs"))


_ACTIVE: list[Node] = []  # the one running node or cluster


def _uses_zones(item: pytest.Item) -> bool:
    return "zones" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)  # before pytest's own `-m` deselection reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=_uses_zones)  # stable: the three-node tests last, each group in its own order


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
def reporter_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Path]]:
    """The function's own image (function_image.py) as an OCI archive, for the tests that import it
    into the node (test_reporter_pod.py; test_argocd_sync.py, as the CMP sidecar and the reporter).
    Session scope: built once, before the node starts (the build needs no node)."""
    folder = tmp_path_factory.mktemp("reporter-image")
    built = build(folder)
    yield built, save_oci_archive(built, folder / "function-image.oci.tar")


@pytest.fixture(scope="session")
def node() -> Iterator[Node]:
    yield from _run(Node, "node")


@pytest.fixture(scope="session")
def zones() -> Iterator[Cluster]:
    for running in _ACTIVE:
        running.stop()
    for cluster in _run(Cluster, "zones"):
        assert isinstance(cluster, Cluster)
        yield cluster


def _run(kind: type[Node], label: str) -> Iterator[Node]:
    if os.geteuid() != 0:
        _unavailable("the real-node tests need root (kubelet, containerd, network namespaces)")
    if not shutil.which("go"):
        _unavailable("the real-node tests build their tools with Go, which is not installed")
    try:
        build_tools()
    except subprocess.CalledProcessError as err:
        _unavailable(f"building the node's tools or images failed: {err}")
    n = kind(log=lambda msg: print(msg, file=sys.stderr))
    try:
        n.start()
    except NodeError as err:
        n.collect(LOG_DIR / f"{label}-start")
        pytest.fail(f"the {label} cluster did not start: {err}")
    _ACTIVE.append(n)
    try:
        yield n
    finally:
        n.stop()
        _ACTIVE.remove(n)
        report = LOG_DIR / f"{label}-report.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text("".join(f"{k}: {v:.1f}s\n" for k, v in n.timings.items()) +
                          "".join(f"peak {k}: {v // 1024} MiB\n" for k, v in n.peak_rss_kib.items()))


@pytest.fixture(autouse=True)
def _save_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for name in ("node", "zones"):
            if name in request.fixturenames:
                n: Node = request.getfixturevalue(name)
                n.collect(LOG_DIR / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name))
