"""The design's example (`examples/seed`, a copy with the pinned images) on the real node.

Today's Multigres runs only the table group `default` with shard `0-inf` (upstream's MVP check in
go/common/constants/multischema.go). So: the `default` table group of `production_db` serves SQL
through the gateway of each cell, and the pools of the other table groups stop exactly where the
render's warnings say they will.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from knode.cluster import Node
from kube import namespace, wait
from render import (
    apply_render,
    fit_to_node,
    install_crds,
    load_example,
    password_secret,
    pin_images,
    render_cluster,
    render_warnings,
    tls_secret,
)
from sql import PASSWORD, first_write, start_client, wait_gateway_sql

NS = "multigres"
CLUSTER = "example-multigres-cluster"
CELLS = ("us-east-1", "us-west-2")
LIMITED = ("orders_tg", "analytics_tg", "custom_tg")


def one_zone(cluster: dict) -> None:
    """The seed's cells are in two zones and this node is in none: drop the zones (the three-zone
    cluster runs placed cells on three nodes)."""
    for cell in cluster["spec"]["cells"]["templates"]:
        (cell.get("spec") or {}).pop("zone", None)


@pytest.fixture(scope="module")
def seed(node: Node) -> Iterator[str]:
    ns = namespace(node, NS)
    install_crds(node)
    password_secret(node, ns, CLUSTER, PASSWORD)
    spec, extra = load_example("seed", ns)
    pin_images(spec)
    one_zone(spec)
    rendered = render_cluster(spec, extra)
    tls_secret(node, ns, CLUSTER, rendered)
    apply_render(node, fit_to_node(rendered))
    start_client(node, ns)
    yield render_warnings(spec, extra)
    node.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)


def test_default_table_group_serves_sql_through_every_cell(seed: str, node: Node) -> None:
    wait(node, NS, "pod -l multigres.com/table-group=default,app.kubernetes.io/component=multipooler",
         "condition=Ready", timeout=300)
    first, *others = (f"{CLUSTER}-{cell}-gateway" for cell in CELLS)
    wait_gateway_sql(node, NS, first, "select 1", database="production_db", timeout=240)
    first_write(node, NS, first, "create table if not exists seed_rows (id int primary key); "
                                 "insert into seed_rows select generate_series(1, 100) on conflict do nothing",
                database="production_db")
    for gateway in (first, *others):
        out, _ = wait_gateway_sql(node, NS, gateway, "select current_database(), count(*) from seed_rows",
                                  database="production_db", timeout=120)
        assert out == "production_db|100", (gateway, out)


def _multipooler_failure(node: Node, pod: str, expected: str) -> str:
    """The multipooler container's failure message, once it has restarted: the previous
    container's log, or the current one's (between two restarts the previous log can be
    unavailable for a moment: "unable to retrieve container logs"). Returns the last logs read."""
    deadline = time.monotonic() + 180
    logs = ""
    while time.monotonic() < deadline:
        status = json.loads(node.kubectl("get", "pod", "-n", NS, pod, "-o", "json").stdout)["status"]
        mp = next((c for c in status.get("containerStatuses", []) if c["name"] == "multipooler"), None)
        if mp and mp.get("restartCount", 0) >= 1:
            logs = "".join(node.kubectl("logs", "-n", NS, pod, "-c", "multipooler", *previous, check=False).stdout
                           for previous in (("--previous",), ()))
            if expected in logs:
                return logs
        time.sleep(2)
    raise AssertionError(f"{pod}: multipooler never failed with {expected!r}; last logs: {logs[-800:]}")


@pytest.mark.parametrize("table_group", LIMITED)
def test_other_table_groups_stop_at_the_upstream_limit_the_warnings_name(seed: str, node: Node,
                                                                          table_group: str) -> None:
    assert f"table group '{table_group}'" in seed and "only starts for table group 'default'" in seed
    pods = node.kubectl("get", "pods", "-n", NS, "-l",
                        f"multigres.com/table-group={table_group},app.kubernetes.io/component=multipooler",
                        "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    assert pods
    expected = f"MVP validation failed: only default tablegroup is supported, got: {table_group}"
    for pod in pods:
        assert expected in _multipooler_failure(node, pod, expected)
