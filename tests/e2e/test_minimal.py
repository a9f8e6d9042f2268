"""`examples/minimal`, rendered and applied server-side on the real node, is a working Multigres
cluster: the topology is registered, the shard bootstraps from its first backup, SQL goes through
the gateway, the standbys stream with AT_LEAST_2 durability, a deleted primary is replaced with no
acknowledged write lost, a new replica restores from the backup, pods come back with their data,
and a removed pool leaves its volumes behind. The status reporter (krmfn_status, run on the host
against the node's API server, with multiadmin reached through `kubectl port-forward`) reports
the serving primary from multiadmin's real answer, and the primary's loss within 10 s.
The rendered NetworkPolicies are on (the default)
and enforced by the node's policy agent throughout: a pod that is not the database's reaches the
gateway and nothing else.

The tests run in file order on one deployment (module fixture); each builds on the previous. The
measured times go to `e2e-logs/minimal-times.txt` (docs/runtime-checks.md quotes them).
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import LOG_DIR
from failover import outcome, start_writer
from knode.cluster import Node
from kube import follow_logs, namespace, run_pod, wait
from render import (
    apply_render,
    fit_to_node,
    install_crds,
    load_example,
    password_secret,
    render_cluster,
    tls_secret,
)
from sql import (
    MULTIGRES_IMAGE,
    PASSWORD,
    first_write,
    gateway_sql,
    local_sql,
    pooler_pods,
    primary,
    start_client,
    wait_gateway_sql,
)

from krmfn import naming

NS = "minimal"
CLUSTER = "minimal"
GATEWAY = f"{CLUSTER}-zone1-gateway"
POOL_SELECTOR = "app.kubernetes.io/component=multipooler"
ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.6.16"


@dataclass
class Deployment:
    node: Node
    spec: dict[str, Any]
    extra: list[dict[str, Any]]
    applied_at: float
    times: dict[str, float] = field(default_factory=dict)

    def apply(self, spec: dict[str, Any] | None = None, *flags: str) -> None:
        if spec is not None:
            self.spec = spec
        apply_render(self.node, fit_to_node(render_cluster(self.spec, self.extra)), *flags)


@pytest.fixture(scope="module")
def deployment(node: Node) -> Iterator[Deployment]:
    ns = namespace(node, NS)
    install_crds(node)
    password_secret(node, ns, CLUSTER, PASSWORD)
    spec, extra = load_example("minimal", ns)
    tls_secret(node, ns, CLUSTER, render_cluster(spec, extra))
    dep = Deployment(node, spec, extra, time.monotonic())
    dep.apply()
    start_client(node, ns)
    yield dep
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "minimal-times.txt").write_text("".join(
        f"{k}: {v:.0f}\n" if k.endswith(("_attempts", "_restarts")) else f"{k}: {v:.1f}s\n"
        for k, v in dep.times.items()))
    # multiorch's account of the failover test's handover, to read against its write gap.
    (LOG_DIR / "minimal-multiorch.log").write_text(node.kubectl(
        "logs", "-n", ns, "-l", "app.kubernetes.io/component=multiorch", "--tail=-1", "--prefix", check=False).stdout)
    # The gateways' (every pod: a client's connections spread over them), for their failover buffers:
    # each cycle a pod starts and stops logs at info; a failover within 10 s of the last cycle's
    # end is not buffered (--buffer-min-time-between-failovers, rendered 10s; upstream 1m).
    (LOG_DIR / "minimal-gateway.log").write_text(node.kubectl(
        "logs", "-n", ns, "-l", "app.kubernetes.io/component=multigateway", "--tail=-1", "--timestamps",
        "--prefix", check=False).stdout)
    node.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)


def _all_running(node: Node, ns: str) -> bool:
    pods = json.loads(node.kubectl("get", "pods", "-n", ns, "-o", "json").stdout)["items"]
    return bool(pods) and all(p["status"].get("phase") in ("Running", "Succeeded") for p in pods)


# --- the platform part: topology ---------------------------------------------------------------

def test_etcd_multiadmin_and_gateways_become_ready(deployment: Deployment) -> None:
    node = deployment.node
    node.kubectl("rollout", "status", "-n", NS, f"statefulset/{CLUSTER}-global", "--timeout=240s", timeout=300)
    wait(node, NS, f"deployment/{CLUSTER}-multiadmin", "condition=Available", timeout=180)
    # multigateway exits when it cannot register within 10 s (1 s per attempt, hard-coded in upstream's
    # go/services/multigateway/init.go). Its pod first waits for the Cell record (init container
    # wait-for-cell); an etcd slowed by a loaded 2-core node can still fail a registration and the
    # restarts back off (CrashLoopBackOff), so allow a few minutes.
    wait(node, NS, f"deployment/{GATEWAY}", "condition=Available", timeout=420)
    pods = json.loads(node.kubectl("get", "pods", "-n", NS, "-l", "app.kubernetes.io/component=multigateway",
                                   "-o", "json").stdout)["items"]
    assert pods
    for pod in pods:
        (init,) = pod["status"]["initContainerStatuses"]
        assert init["name"] == "wait-for-cell" and init["state"]["terminated"]["exitCode"] == 0, init
    restarts = sum(c["restartCount"] for p in pods for c in p["status"]["containerStatuses"])
    deployment.times["gateway_restarts"] = restarts


def test_registration_job_writes_the_cell_and_database_records(deployment: Deployment) -> None:
    node = deployment.node
    wait(node, NS, "job -l app.kubernetes.io/component=topo-registration", "condition=Complete", timeout=240)
    # etcd answers the cluster's own pods only (NetworkPolicy): the reader carries the cluster's labels.
    keys = run_pod(node, NS, "etcd-keys", ETCD_IMAGE, [
        "/usr/local/bin/etcdctl", f"--endpoints={CLUSTER}-global-client:2379", "get", "--prefix", "--keys-only",
        "/multigres/global/"], labels=naming.selector(naming.labels(CLUSTER))).split()
    assert "/multigres/global/cells/zone1/Cell" in keys
    assert "/multigres/global/databases/postgres/Database" in keys
    # The records decode with upstream's own CLI, through multiadmin.
    admin = f"{CLUSTER}-multiadmin:15070"
    out = run_pod(node, NS, "getcell", MULTIGRES_IMAGE, [
        "bash", "-c", f"multigres getcell --name zone1 --admin-server {admin} && echo && "
                      f"multigres getdatabase --name postgres --admin-server {admin}"])
    decoder = json.JSONDecoder()
    cell, end = decoder.raw_decode(out.strip())
    database, _ = decoder.raw_decode(out.strip()[end:].strip())
    assert cell["cell"]["root"] == "/multigres/global/zone1"
    assert database["database"]["backup_location"]
    assert database["database"]["bootstrap_durability_policy"]["policy_name"] == "AT_LEAST_2"


# --- serving SQL -------------------------------------------------------------------------------

def test_serves_sql_after_bootstrapping_from_the_first_backup(deployment: Deployment) -> None:
    node = deployment.node
    deadline = time.monotonic() + 300
    while not _all_running(node, NS):
        assert time.monotonic() < deadline, node.kubectl("get", "pods", "-n", NS, "-o", "wide").stdout
        time.sleep(1)
    running = time.monotonic()
    deployment.times["apply_to_all_running"] = running - deployment.applied_at
    _, took = wait_gateway_sql(node, NS, GATEWAY, "select 1", timeout=240)
    deployment.times["all_running_to_first_query"] = took
    deployment.times["apply_to_first_query"] = time.monotonic() - deployment.applied_at
    wait(node, NS, f"pod -l {POOL_SELECTOR}", "condition=Ready", timeout=180)
    out = first_write(node, NS, GATEWAY, "create table if not exists e2e_rows (id int primary key, note text); "
                                         "insert into e2e_rows select g, 'row ' || g from generate_series(1, 1000) g "
                                         "on conflict do nothing; "
                                         "select count(*) from e2e_rows")
    assert out.splitlines()[-1] == "1000"
    pods = pooler_pods(node, NS)
    info = node.kubectl("exec", "-n", NS, pods[0], "-c", "multipooler", "--", "pgbackrest",
                        "--config=/data/pgbackrest/pgbackrest.conf", "--stanza=multigres", "info",
                        "--output=json").stdout
    backups = json.loads(info)[0]["backup"]
    assert backups and backups[0]["type"] == "full", info[:2000]


def test_standbys_stream_and_commits_wait_for_one(deployment: Deployment) -> None:
    node = deployment.node
    pods = pooler_pods(node, NS)
    main = primary(node, NS, pods)
    # The first query can succeed before the last standby has started (each pod bootstraps on its
    # own): give every standby up to 60 s to connect, then assert.
    deadline = time.monotonic() + 60
    while True:
        rows = local_sql(node, NS, main, "select application_name, state, sync_state from pg_stat_replication "
                                         "order by 1").splitlines()
        if (len(rows) == len(pods) - 1 and all(r.split("|")[1] == "streaming" for r in rows)) \
                or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert len(rows) == len(pods) - 1, rows
    names = local_sql(node, NS, main, "show synchronous_standby_names")
    assert names.startswith("ANY 1 ("), names
    for row in rows:
        name, state, sync = row.split("|")
        assert state == "streaming" and sync == "quorum" and name in names, (rows, names)
    assert local_sql(node, NS, main, "show synchronous_commit") == "on"
    # The commit returned, so a standby has flushed past the commit's WAL already.
    lsn = gateway_sql(node, NS, GATEWAY, "insert into e2e_rows values (1001, 'durable') "
                                         "returning pg_current_wal_lsn()")
    flushed = local_sql(node, NS, main, "select count(*) from pg_stat_replication "
                                        f"where sync_state = 'quorum' and flush_lsn >= '{lsn}'::pg_lsn")
    assert int(flushed) >= 1, (lsn, flushed)


@pytest.fixture(scope="module")
def reporter(deployment: Deployment) -> Iterator[None]:
    """The status reporter as a host process: the node's admin kubeconfig (its Role is proven on a
    real API server by tests/test_status_apiserver.py; test_reporter_pod.py runs the rendered pod),
    multiadmin's HTTP port forwarded to the host."""
    node = deployment.node
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    forward = subprocess.Popen([str(node.kube / "kubectl"), f"--kubeconfig={node.kubeconfig}", "port-forward", "-n",
                                NS, f"svc/{CLUSTER}-multiadmin", f"{port}:15000"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / "minimal-status-reporter.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "krmfn_status", f"--cluster={CLUSTER}", f"--namespace={NS}",
                             f"--multiadmin-url=http://127.0.0.1:{port}"], env=node.env(), stdout=log,
                            stderr=subprocess.STDOUT)
    yield
    for p in (proc, forward):
        p.terminate()
        p.wait(10)
    log.close()


def _shard_status(node: Node) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(node.kubectl("get", "multishards", "-n", NS, "-o", "json").stdout)[
        "items"][0].get("status") or {}
    return status


def _condition(status: dict[str, Any], kind: str) -> str:
    return next((c["status"] for c in status.get("conditions", []) if c["type"] == kind), "")


def test_the_status_reporter_reports_the_serving_primary(deployment: Deployment, reporter: None) -> None:
    node = deployment.node
    deadline = time.monotonic() + 90
    while True:
        shard = _shard_status(node)
        if shard.get("servingWrites") == "True" and _condition(shard, "Available") == "True":
            break
        assert time.monotonic() < deadline, shard
        time.sleep(1)
    assert shard["primaryCell"] == "zone1" and shard["readyPods"] == shard["totalPods"] == 3, shard
    table = node.kubectl("get", "multigresclusters,multishards", "-n", NS).stdout
    (LOG_DIR / "minimal-kubectl-get.txt").write_text(table)
    cluster = json.loads(node.kubectl("get", "multigrescluster", CLUSTER, "-n", NS, "-o", "json").stdout)["status"]
    assert cluster["databases"]["postgres"]["servingWrites"] == "True", cluster
    assert cluster["cells"]["zone1"] == {"gatewayAvailable": "True", "topoServerAvailable": "True"}, cluster


# --- NetworkPolicies, enforced ---------------------------------------------------------------------

def _probe_pod(node: Node, name: str, labels: dict[str, str]) -> str:
    """A bash pod that only connects out; never Ready, so no Service picks it even when its labels
    are a component's."""
    node.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS, "labels": labels},
                 "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                     "name": "probe", "image": "ghcr.io/multigres/pgctld:sha-6bd80b9", "imagePullPolicy": "Never",
                     "command": ["sleep", "infinity"], "readinessProbe": {"exec": {"command": ["false"]}},
                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}])
    wait(node, NS, f"pod/{name}", "jsonpath={.status.phase}=Running", timeout=60)
    return name


def _connect(node: Node, pod: str, targets: list[str]) -> dict[str, str]:
    """TCP connect from `pod` to each host:port: `open`, `timeout` (3 s, dropped) or `refused`."""
    script = "".join(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{t.replace(':', '/')}' 2>/dev/null; echo {t} $?; "
                     for t in targets)
    out = node.kubectl("exec", "-n", NS, pod, "--", "bash", "-c", script, timeout=60 + 5 * len(targets)).stdout
    names = {"0": "open", "124": "timeout"}
    return {t: names.get(rc, "refused") for t, rc in (line.split() for line in out.splitlines())}


def _pod_ip(node: Node, selector: str) -> str:
    return node.kubectl("get", "pods", "-n", NS, "-l", selector, "-o", "jsonpath={.items[0].status.podIP}").stdout


def test_network_policies_let_outsiders_reach_the_gateway_only(deployment: Deployment) -> None:
    node = deployment.node
    pooler, orch = _pod_ip(node, POOL_SELECTOR), _pod_ip(node, "app.kubernetes.io/component=multiorch")
    etcd, gateway = f"{CLUSTER}-global-client:2379", f"{GATEWAY}:5432"
    closed = [etcd, f"{pooler}:5432", f"{pooler}:8432", f"{pooler}:15270", f"{pooler}:15470", f"{orch}:15370"]
    outsider = _connect(node, _probe_pod(node, "outsider", {"app": "outsider"}), [gateway, *closed])
    assert outsider == {gateway: "open", **{t: "timeout" for t in closed}}, outsider
    # The same probe from a pod with multiadmin's labels: the ports multiadmin calls are open to it,
    # which shows the closed ones above are closed by the policies (not by a broken probe), and the
    # shard's PostgreSQL and pgBackRest ports stay closed even to the cluster's other components.
    admin = _probe_pod(node, "as-multiadmin", naming.selector(naming.labels(CLUSTER, "multiadmin")))
    inside = _connect(node, admin, [etcd, f"{pooler}:15270", f"{orch}:15370", f"{pooler}:5432", f"{pooler}:8432"])
    assert inside == {etcd: "open", f"{pooler}:15270": "open", f"{orch}:15370": "open",
                      f"{pooler}:5432": "timeout", f"{pooler}:8432": "timeout"}, inside
    policies = node.kubectl("get", "networkpolicies", "-n", NS, "-o", "name").stdout.split()
    # etcd, shard, multiadmin, gateways, multiorch, the table group's multiorch (from its poolers), registration
    assert len(policies) == 7, policies
    node.kubectl("delete", "pod", "-n", NS, "outsider", "as-multiadmin", "--wait=false")


def test_failover_keeps_every_acknowledged_row(deployment: Deployment, reporter: None) -> None:
    node = deployment.node
    pods = pooler_pods(node, NS)
    old = primary(node, NS, pods)
    start_writer(node, NS, GATEWAY, "e2e_rows", seconds=60)
    time.sleep(5)
    killed_ms = int(time.time() * 1000)
    # The deleted pod's log (its preStop hook's handover) is kept until the writer is done.
    with follow_logs(node, NS, POOL_SELECTOR, LOG_DIR / "minimal-failover-poolers.log"):
        node.kubectl("delete", "pod", "-n", NS, old, "--wait=false")
        # The status reporter shows the loss: the shard no longer Available, or Progressing.
        while not (_condition(shard := _shard_status(node), "Available") != "True"
                   or _condition(shard, "Progressing") == "True"):
            assert time.time() * 1000 - killed_ms <= 10_000, f"the status did not react within 10 s: {shard}"
            time.sleep(0.2)
        deployment.times["status_reacts_to_primary_loss"] = (time.time() * 1000 - killed_ms) / 1000
        seen = outcome(node, NS, GATEWAY, "e2e_rows", killed_ms)
    deployment.times["failover_writes_back"] = seen.back_ms / 1000
    deployment.times["failover_longest_write_gap"] = seen.gap_ms / 1000
    deployment.times["failover_failed_attempts"] = seen.failed_attempts
    assert seen.back_ms <= 30_000, f"writes came back after {seen.back_ms / 1000:.1f}s"
    assert not seen.lost, f"acknowledged rows lost: {seen.lost[:20]}"
    new = primary(node, NS, [p for p in pooler_pods(node, NS) if p != old])
    assert new != old
    deadline = time.monotonic() + 180
    while (_condition(shard := _shard_status(node), "Available") != "True"
           or _condition(shard, "Progressing") != "False"):
        assert time.monotonic() < deadline, shard
        time.sleep(0.5)
    deployment.times["primary_loss_to_status_available"] = (time.time() * 1000 - killed_ms) / 1000


def _pool(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"][0]


def test_a_new_replica_restores_from_the_backup_and_pods_keep_their_data(deployment: Deployment) -> None:
    node = deployment.node
    wait(node, NS, f"pod -l {POOL_SELECTOR}", "condition=Ready", timeout=240)
    spec = copy.deepcopy(deployment.spec)
    _pool(spec)["replicas"] = 4
    deployment.apply(spec)
    sts = f"{CLUSTER}-postgres-default-0-replica-zone1"
    node.kubectl("rollout", "status", "-n", NS, f"statefulset/{sts}", "--timeout=300s", timeout=330)
    newest = f"{sts}-3"
    deadline = time.monotonic() + 180
    while True:  # the fourth pod restores from the backup and streams: three standbys stream
        main = primary(node, NS, pooler_pods(node, NS))
        rows = local_sql(node, NS, main, "select count(*) from pg_stat_replication where state = 'streaming'")
        if rows == "3":
            break
        assert time.monotonic() < deadline, rows
        time.sleep(2)
    assert local_sql(node, NS, newest, "select count(*) from e2e_rows where id <= 1000") == "1000"
    # Every pooler pod deleted at once: they come back from their volumes, with the rows.
    with follow_logs(node, NS, POOL_SELECTOR, LOG_DIR / "minimal-delete-all-poolers.log"):  # their hooks
        node.kubectl("delete", "pod", "-n", NS, "-l", POOL_SELECTOR, "--wait=true", timeout=180)
    wait(node, NS, f"pod -l {POOL_SELECTOR}", "condition=Ready", timeout=300)
    out, _ = wait_gateway_sql(node, NS, GATEWAY, "select count(*) from e2e_rows where id <= 1000", timeout=180)
    assert out == "1000"


def test_removing_a_pool_keeps_its_volumes(deployment: Deployment) -> None:
    node = deployment.node
    spec = copy.deepcopy(deployment.spec)
    pools = spec["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"]
    pools.append({"type": "readOnly", "cell": "zone1", "replicas": 1})
    deployment.apply(spec, "--prune", "--applyset=e2e-minimal", "-n", NS)
    ro = [s for s in node.kubectl("get", "sts", "-n", NS, "-o", "name").stdout.split() if "read" in s]
    assert len(ro) == 1, ro
    ro_name = ro[0].split("/", 1)[1]
    deadline = time.monotonic() + 120
    while not (claims := [c for c in node.kubectl("get", "pvc", "-n", NS, "-o", "name").stdout.split()
                          if ro_name in c]):
        assert time.monotonic() < deadline
        time.sleep(1)
    pools.pop()
    deployment.apply(spec, "--prune", "--applyset=e2e-minimal", "-n", NS)
    assert ro[0] not in node.kubectl("get", "sts", "-n", NS, "-o", "name").stdout.split()
    left = node.kubectl("get", "pvc", "-n", NS, "-o", "name").stdout.split()
    assert all(c in left for c in claims), (claims, left)
