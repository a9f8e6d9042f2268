"""Cells as failure domains, on the three-zone cluster (tests/knode/multinode.py).

One Multigres cluster with three cells, one per zone (`zone-a`, `zone-b`, `zone-c`), the database
`postgres` under `MULTI_CELL_AT_LEAST_2`, one replica pool of one pod in each cell, one gateway
per cell, the global etcd with three members. In file order, on one deployment:

1. every pod of each cell runs on its zone's node, and the global etcd has one member per zone;
2. SQL goes through every cell's gateway;
3. `kubectl drain` of a node completes while the shard never drops below its durability policy
   (sampled during the drain), with no failed write beyond one failover window;
4. the zone holding the primary is lost (node network cut, kubelet, containerd and every pod
   process killed) while a writer writes through another cell's gateway: writes come back, no
   acknowledged row is lost, the topology keeps quorum; the zone comes back and its pooler rejoins
   as a streaming standby.

The measured times go to `e2e-logs/zones-times.txt` (docs/runtime-checks.md quotes them).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import LOG_DIR
from helpers import longest_write_gap
from knode.multinode import NODES, Cluster, wait_for
from kube import follow_logs, get, namespace, run_pod, wait
from render import apply_render, fit_to_node, install_crds, password_secret, render_cluster, tls_secret
from sql import (
    MULTIGRES_IMAGE,
    PASSWORD,
    first_write,
    local_sql,
    pooler_pods,
    primary,
    start_client,
    wait_gateway_sql,
)

from krmfn import naming

NS = "zones"
CLUSTER = "zones"
ZONES = [s.zone for s in NODES]
ZONE_OF_NODE = {s.name: s.zone for s in NODES}
NODE_OF_ZONE = {s.zone: s.name for s in NODES}
CELL = "multigres.com/cell"
POOL_SELECTOR = "app.kubernetes.io/component=multipooler"
MULTIGRES_PODS = "app.kubernetes.io/component in (multipooler,multiorch,multiadmin,multigateway)"
ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.6.16"
PG_IMAGE = "ghcr.io/multigres/pgctld:sha-6bd80b9"


def cluster_spec() -> dict[str, Any]:
    """Three cells, each in its own zone; one gateway per cell; one pooler per cell."""
    return {
        "apiVersion": "multigres.com/v1alpha1", "kind": "MultigresCluster",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {
            "images": {**{c: MULTIGRES_IMAGE for c in ("multigateway", "multiorch", "multipooler", "multiadmin")},
                       "postgres": PG_IMAGE},
            "globalTopoServer": {"managedSpec": {"image": ETCD_IMAGE, "replicas": 3}},
            "cells": {"templates": [{"name": z, "spec": {"zone": z, "multigateway": {"spec": {"replicas": 1}}}}
                                    for z in ZONES]},
            "databases": {"templates": [{"name": "postgres", "spec": {
                "durabilityPolicy": "MULTI_CELL_AT_LEAST_2",
                "tablegroups": [{"name": "default", "shardTemplate": {"pools": [
                    {"type": "replica", "cell": z, "replicas": 1} for z in ZONES]}}]}}]},
        },
    }


@dataclass
class Deployment:
    zones: Cluster
    rendered: str
    times: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def deployment(zones: Cluster) -> Iterator[Deployment]:
    ns = namespace(zones, NS)
    install_crds(zones)
    password_secret(zones, ns, CLUSTER, PASSWORD)
    rendered = render_cluster(cluster_spec())
    tls_secret(zones, ns, CLUSTER, rendered)
    t0 = time.monotonic()
    apply_render(zones, fit_to_node(rendered))
    for zone in ZONES:
        start_client(zones, ns, _client(zone), NODE_OF_ZONE[zone])
    dep = Deployment(zones, rendered)
    wait_for(lambda: len(pooler_pods(zones, NS)) == len(ZONES), "the pooler pods to exist", 120)
    wait(zones, NS, f"pod -l {POOL_SELECTOR}", "condition=Ready", timeout=420)
    dep.times["apply_to_poolers_ready"] = time.monotonic() - t0
    yield dep
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "zones-times.txt").write_text("".join(f"{k}: {v:.1f}\n" for k, v in dep.times.items()))
    for name in sorted(zones.stopped):  # a failed test may leave its zone down: its pods would never go
        zones.start_node(name)
    # Not waited for: the three-node cluster is the last one of the session and goes next.
    zones.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _client(zone: str) -> str:
    return f"psql-{zone}"


def _gateway(zone: str) -> str:
    return f"{CLUSTER}-{zone}-gateway"


def _pods(zones: Cluster, selector: str = "") -> list[dict[str, Any]]:
    args = ["-l", selector] if selector else []
    return json.loads(zones.kubectl("get", "pods", "-n", NS, *args, "-o", "json").stdout)["items"]


# --- 1. placement ------------------------------------------------------------------------------

def test_every_pod_of_a_cell_runs_on_its_zones_node(deployment: Deployment) -> None:
    zones = deployment.zones
    for kind in ("deployment", "statefulset"):
        for obj in json.loads(zones.kubectl("get", kind, "-n", NS, "-o", "json").stdout)["items"]:
            cell = obj["spec"]["template"]["metadata"]["labels"].get(CELL)
            if cell:  # the render itself selects the zone's nodes
                selector = obj["spec"]["template"]["spec"].get("nodeSelector") or {}
                assert selector.get("topology.kubernetes.io/zone") == cell, (obj["metadata"]["name"], selector)
    placed = [p for p in _pods(zones) if CELL in p["metadata"]["labels"]]
    components = {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in placed}
    assert components == {"multigateway", "multiorch", "multipooler"}, components
    assert {p["metadata"]["labels"][CELL] for p in placed} == set(ZONES)
    for pod in placed:
        node = pod["spec"].get("nodeName")
        assert node and ZONE_OF_NODE[node] == pod["metadata"]["labels"][CELL], (pod["metadata"]["name"], node)


def test_the_global_etcd_has_one_member_per_zone(deployment: Deployment) -> None:
    zones = deployment.zones
    zones.kubectl("rollout", "status", "-n", NS, f"statefulset/{CLUSTER}-global", "--timeout=240s", timeout=300)
    members = _pods(zones, "app.kubernetes.io/component=etcd,multigres.com/topo-scope=global")
    assert len(members) == 3
    assert sorted(ZONE_OF_NODE[p["spec"]["nodeName"]] for p in members) == ZONES


# --- 2. SQL through every cell ------------------------------------------------------------------

def test_sql_goes_through_every_cells_gateway(deployment: Deployment) -> None:
    zones = deployment.zones
    first = ZONES[0]
    _, took = wait_gateway_sql(zones, NS, _gateway(first), "select 1", timeout=300, client=_client(first))
    deployment.times["poolers_ready_to_first_query"] = took
    first_write(zones, NS, _gateway(first), "create table if not exists zone_rows (id int primary key, note text); "
                "insert into zone_rows select g, 'row ' || g from generate_series(1, 100) g on conflict do nothing",
                client=_client(first))
    for zone in ZONES:
        out, _ = wait_gateway_sql(zones, NS, _gateway(zone), "select count(*) from zone_rows", timeout=120,
                                  client=_client(zone))
        assert out == "100", (zone, out)
    main = primary(zones, NS, pooler_pods(zones, NS))
    streaming = local_sql(zones, NS, main, "select count(*) from pg_stat_replication where state = 'streaming'")
    assert streaming == "2"


# --- writers and samples -------------------------------------------------------------------------

def _gateway_ip(zones: Cluster, zone: str) -> str:
    return str(get(zones, NS, f"service/{_gateway(zone)}")["spec"]["clusterIP"])


def _writer(zones: Cluster, name: str, zone: str, via: str, seconds: int, first_id: int) -> None:
    """A pod on zone's node inserting one row every 0.1 s through the gateway at `via` (the
    Service's address: the measure is Multigres's failover, not cluster DNS's), logging `ack|fail
    <id> <ms>` per attempt."""
    script = (f"end=$(( $(date +%s) + {seconds} )); i={first_id}; "
              "while [ $(date +%s) -lt $end ]; do i=$((i+1)); "
              f"if timeout 5 psql -h {via} -U postgres -d postgres -Atq "
              "-c \"insert into zone_rows values ($i, 'w')\" "
              ">/dev/null 2>&1; then echo ack $i $(date +%s%3N); else echo fail $i $(date +%s%3N); fi; "
              "sleep 0.1; done")
    zones.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
                  "spec": {"restartPolicy": "Never", "nodeSelector": {"kubernetes.io/hostname": NODE_OF_ZONE[zone]},
                           "containers": [{
                               "name": "writer", "image": PG_IMAGE, "imagePullPolicy": "Never",
                               "command": ["bash", "-c", script], "env": [{"name": "PGPASSWORD", "value": PASSWORD}],
                               "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}]}}])
    wait(zones, NS, f"pod/{name}", "condition=Ready", timeout=60)


@dataclass
class WriterLog:
    attempts: list[tuple[str, int, int]]

    @property
    def acked(self) -> set[int]:
        return {i for kind, i, _ in self.attempts if kind == "ack"}

    def back_after(self, cut_ms: int) -> tuple[float | None, int]:
        """Seconds from cut_ms to the acknowledgement that ended the longest write gap after it (the
        gateway may hold writes rather than fail them), and the number of failed attempts after cut_ms."""
        gap = self.longest_gap(cut_ms)
        failures = [ms for kind, _, ms in self.attempts if kind == "fail" and ms >= cut_ms]
        return (None if gap is None else (gap[1] - cut_ms) / 1000), len(failures)

    def longest_gap(self, since_ms: int) -> tuple[int, int] | None:
        return longest_write_gap([ms for kind, _, ms in self.attempts if kind == "ack"], since_ms)

    def failure_window(self) -> float:
        """Seconds from the first failed attempt to the first success after the last one (0: none failed)."""
        failures = [ms for kind, _, ms in self.attempts if kind == "fail"]
        if not failures:
            return 0.0
        back = next((ms for kind, _, ms in self.attempts if kind == "ack" and ms > failures[-1]), failures[-1])
        return (back - failures[0]) / 1000


def _finish(zones: Cluster, name: str, timeout: int = 240) -> WriterLog:
    wait(zones, NS, f"pod/{name}", "jsonpath={.status.phase}=Succeeded", timeout=timeout)
    lines = zones.kubectl("logs", "-n", NS, name).stdout.splitlines()
    return WriterLog([(kind, int(i), int(ms)) for kind, i, ms in (line.split() for line in lines if line)])


def _assert_no_acknowledged_row_lost(zones: Cluster, zone: str, log: WriterLog, first_id: int) -> None:
    present = {int(x) for x in wait_gateway_sql(zones, NS, _gateway(zone),
                                                f"select id from zone_rows where id > {first_id}",
                                                timeout=120, client=_client(zone))[0].split()}
    lost = log.acked - present
    assert not lost, f"acknowledged rows lost: {sorted(lost)[:20]} of {len(log.acked)}"


class DurabilitySampler:
    """Samples, every half second, the cells whose pooler pod is Ready: MULTI_CELL_AT_LEAST_2
    needs a primary and a standby in another cell, so never fewer than two cells."""

    def __init__(self, zones: Cluster):
        self.zones, self.samples = zones, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    samples: list[int]

    def _ready_cells(self) -> int:
        assert self.zones.api
        pods = self.zones.api.get(f"/api/v1/namespaces/{NS}/pods?labelSelector={POOL_SELECTOR}")["items"]
        return len({p["metadata"]["labels"][CELL] for p in pods
                    if not p["metadata"].get("deletionTimestamp")
                    and any(c["type"] == "Ready" and c["status"] == "True"
                            for c in p["status"].get("conditions", []))})

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.samples.append(self._ready_cells())
            except RuntimeError:
                continue

    def __enter__(self) -> DurabilitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _zone_of_primary(zones: Cluster) -> tuple[str, str]:
    main = primary(zones, NS, pooler_pods(zones, NS))
    return main, ZONE_OF_NODE[get(zones, NS, f"pod/{main}")["spec"]["nodeName"]]


def _wait_streaming(zones: Cluster, pod: str, timeout: float) -> float:
    """Seconds until pod is a standby that the primary lists as streaming."""
    def streams() -> bool:
        try:
            main = primary(zones, NS, pooler_pods(zones, NS))
        except AssertionError:  # no primary, or two, for a moment
            return False
        if main == pod:
            return False
        rows = local_sql(zones, NS, main, "select application_name from pg_stat_replication "
                                          "where state = 'streaming'")
        return local_sql(zones, NS, pod, "select pg_is_in_recovery()") == "t" and bool(rows) and \
            len(rows.splitlines()) == 2
    return wait_for(streams, f"{pod} streaming as a standby", timeout, interval=2)


# --- 3. drain -------------------------------------------------------------------------------------

def test_a_drain_keeps_the_shard_within_its_durability_policy(deployment: Deployment) -> None:
    zones = deployment.zones
    old, drained = _zone_of_primary(zones)  # the primary's zone: the drain makes a failover
    writer_zone = next(z for z in ZONES if z != drained)
    _writer(zones, "drain-writer", writer_zone, _gateway_ip(zones, writer_zone), seconds=40, first_id=200_000)
    try:
        # The evicted pods' logs go with them: kept while they speak (the primary's hook among them).
        with follow_logs(zones, NS, MULTIGRES_PODS, LOG_DIR / "zones-drain.log"), DurabilitySampler(zones) as sampler:
            time.sleep(3)
            t0 = time.monotonic()
            drain_ms = int(time.time() * 1000)
            # --force: the zone's psql client is a bare pod (made again below); everything of Multigres is evicted
            res = zones.kubectl("drain", NODE_OF_ZONE[drained], "--ignore-daemonsets", "--delete-emptydir-data",
                                "--force", "--timeout=180s", check=False, timeout=240)
            deployment.times["drain_seconds"] = time.monotonic() - t0
            time.sleep(2)
        assert res.returncode == 0, res.stderr[-3000:]
        assert sampler.samples and min(sampler.samples) >= 2, sampler.samples
        deployment.times["drain_min_ready_cells"] = min(sampler.samples)
        log = _finish(zones, "drain-writer")
        (LOG_DIR / "zones-drain-writer.log").write_text(
            f"drain began {drain_ms}\n" + "".join(f"{k} {i} {ms}\n" for k, i, ms in log.attempts))
        window = log.failure_window()
        deployment.times["drain_failed_writes"] = len([a for a in log.attempts if a[0] == "fail"])
        deployment.times["drain_failure_window"] = window
        gap = log.longest_gap(drain_ms)
        assert gap is not None, "no write acknowledged after the drain began"
        deployment.times["drain_longest_write_gap"] = (gap[1] - gap[0]) / 1000
        assert window <= 15, f"writes failed over {window:.1f}s during the drain (one failover window: 15 s)"
        # The gateway holds writes while the shard changes primary (failover buffering), so the stretch
        # without an acknowledgement is the outage a client saw, failed writes or not.
        assert gap[1] - gap[0] <= 15_000, f"no write acknowledged for {(gap[1] - gap[0]) / 1000:.1f}s during the drain"
        _assert_no_acknowledged_row_lost(zones, writer_zone, log, 200_000)
    finally:  # the next test needs the zone back whatever happened here
        zones.kubectl("uncordon", NODE_OF_ZONE[drained], check=False)
        start_client(zones, NS, _client(drained), NODE_OF_ZONE[drained])
    wait(zones, NS, f"pod -l {POOL_SELECTOR}", "condition=Ready", timeout=300)
    deployment.times["uncordon_to_streaming"] = _wait_streaming(zones, old, 180)


# --- 4. zone loss ---------------------------------------------------------------------------------

def test_losing_the_primarys_zone_loses_no_acknowledged_row(deployment: Deployment) -> None:
    zones = deployment.zones
    wait(zones, NS, f"pod -l {POOL_SELECTOR}", "condition=Ready", timeout=300)
    old, lost = _zone_of_primary(zones)
    writer_zone = next(z for z in ZONES if z != lost)
    survivor = next(z for z in ZONES if z not in (lost, writer_zone))
    _writer(zones, "zone-writer", writer_zone, _gateway_ip(zones, writer_zone), seconds=75, first_id=300_000)
    time.sleep(5)
    cut_ms = int(time.time() * 1000)
    t_cut = time.monotonic()
    zones.stop_node(NODE_OF_ZONE[lost])
    assert zones.node_processes(NODE_OF_ZONE[lost]) == []
    log = _finish(zones, "zone-writer", timeout=300)
    back, failed = log.back_after(cut_ms)
    assert back is not None, f"no write succeeded after the zone was cut: {log.attempts[-5:]}"
    deployment.times["zone_cut_writes_back"] = back
    deployment.times["zone_cut_failed_attempts"] = failed
    deployment.times["zone_cut_acknowledged_rows"] = len(log.acked)
    _assert_no_acknowledged_row_lost(zones, writer_zone, log, 300_000)
    deployment.times["zone_cut_rows_lost"] = 0
    # The topology keeps quorum: a write to the global etcd succeeds with one member gone.
    out = run_pod(zones, NS, "etcd-quorum", ETCD_IMAGE, [
        "/usr/local/bin/etcdctl", f"--endpoints={CLUSTER}-global-client:2379", "--command-timeout=10s",
        "put", "/zones-e2e/quorum", "kept"], timeout=120, labels=naming.selector(naming.labels(CLUSTER)))
    assert "OK" in out, out
    new = primary(zones, NS, [p for p in pooler_pods(zones, NS) if p != old])
    assert ZONE_OF_NODE[get(zones, NS, f"pod/{new}")["spec"]["nodeName"]] in (writer_zone, survivor)
    # A cut (no TCP reset) leaves the standbys' WAL receivers looking "streaming" to multiorch for
    # 3 x wal_receiver_status_interval (6 s with the rendered 2 s), and the leader counts as live
    # for 15 s after its last health report (upstream's multiorch analysis/generator.go and
    # availability_policy.go): writes come back after about 15 s + the failover grace + the
    # promotion (20.5-31.1 s measured in CI rehearsals; 36 s with PostgreSQL's 10 s interval), not
    # within the 15 s target (docs/runtime-checks.md, "Zone loss"). The bound leaves room for that
    # spread on a shared 2-core machine; a cut that waits for a second failover round fails it.
    assert back <= 45, f"writes came back {back:.1f}s after the zone was cut"

    t_back = time.monotonic()
    zones.start_node(NODE_OF_ZONE[lost])
    deployment.times["zone_down_seconds"] = t_back - t_cut
    _wait_streaming(zones, old, 300)
    back_to_streaming = time.monotonic() - t_back
    deployment.times["zone_back_to_streaming"] = back_to_streaming
    assert back_to_streaming <= 120, f"the zone's pooler streamed {back_to_streaming:.0f}s after the zone came back"
    for zone in ZONES:
        out, _ = wait_gateway_sql(zones, NS, _gateway(zone), "select count(*) >= 100 from zone_rows", timeout=120,
                                  client=_client(zone))
        assert out == "t", (zone, out)
