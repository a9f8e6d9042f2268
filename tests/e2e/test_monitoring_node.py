"""`examples/monitoring` on the real node, watched by a real Prometheus (built by tools/build.sh).

Prometheus runs on the host, on the node's bridge address: the pods push OTLP to it, and it
scrapes the pods the way a Prometheus without prometheus-operator does (the `prometheus.io/*`
annotations, pod labels mapped to `multigres_com_*`), with the rendered PrometheusRule's groups
as its rules file. The exporter image is built here from the postgres_exporter binary of
tools/build.sh. Within 60 s of the pods being ready: PostgreSQL up for every pooler pod, the
replication lag of every standby, a named metric from every Multigres component and etcd's.
Deleting the primary makes MultigresShardNoPrimary pending, then firing, then resolved after the
failover; every dashboard panel's query returns a series; the exporter's memory and CPU are
measured. Times and costs go to `e2e-logs/monitoring-times.txt`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import LOG_DIR
from helpers import ROOT, go_tool
from knode.cluster import Node
from knode.config import API_PORT, NODE_IP
from kube import namespace, wait
from processes import ProcessGroup, can_bind, http_json, wait_for
from render import apply_render, fit_to_node, install_crds, load_example, password_secret, render_cluster, tls_secret
from sql import PASSWORD, gateway_sql, pooler_pods, primary, start_client, wait_gateway_sql

NS = "monitoring"
CLUSTER = "monitoring"
GATEWAY = f"{CLUSTER}-zone1-gateway"
EXPORTER_IMAGE = "localhost/multigres-krmfn/postgres-exporter:1"
PROM_PORT = 19090
# For each Multigres component, a metric it exports as soon as it serves (docs/monitoring.md).
COMPONENT_METRICS = {
    "multigateway": "mg_gateway_client_connections",
    "multipooler": "mg_pooler_server_connections",
    "multiorch": "multiorch_recovery_pooler_store_size",
    "multiadmin": "rpcclient_connection_cache_size",
    "pgctld": "pgbackrest_server_up",
}
NO_PRIMARY_FOR = "4s"


@dataclass
class Watched:
    node: Node
    prometheus: str
    rendered: list[dict[str, Any]]
    ready_at: float
    times: dict[str, float] = field(default_factory=dict)

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus}/api/v1/query?query={urllib.parse.quote(expr)}"
        result: list[dict[str, Any]] = http_json(url)["data"]["result"]
        return result

    def alert_state(self, name: str) -> str | None:
        alerts = http_json(f"{self.prometheus}/api/v1/alerts")["data"]["alerts"]
        states = {a["state"] for a in alerts if a["labels"].get("alertname") == name}
        return "firing" if "firing" in states else ("pending" if "pending" in states else None)


def exporter_image(node: Node, tmp: Path) -> None:
    """The postgres_exporter binary as a one-layer image (its upstream image's layout), imported."""
    binary = go_tool("postgres_exporter", "postgres_exporter")
    layer = tmp / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        folder = tarfile.TarInfo("bin")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        info = tar.gettarinfo(binary, arcname="bin/postgres_exporter")
        info.uid = info.gid = 0
        info.mode = 0o755
        with open(binary, "rb") as fh:
            tar.addfile(info, fh)
    archive = tmp / "exporter.tar"
    subprocess.run(["python3", str(ROOT / "tools" / "oci.py"), str(archive), "--name", EXPORTER_IMAGE, "--layer",
                    str(layer), "--user", "65534:65534", "--entrypoint", '["/bin/postgres_exporter"]'],
                   check=True, capture_output=True)
    res = node._ctr("images", "import", str(archive))  # the node's own import path (knode/cluster.py)
    assert res.returncode == 0, res.stderr


def prometheus_config(node: Node, rules: Path) -> dict[str, Any]:
    kube = yaml.safe_load(node.kubeconfig.read_text())
    return {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "otlp": {"promote_resource_attributes": [
            "multigres.cluster", "multigres.cell", "multigres.database", "multigres.tablegroup",
            "multigres.shard", "multigres.pool_type", "k8s.namespace.name", "k8s.pod.name"]},
        "rule_files": [str(rules)],
        "scrape_configs": [{
            "job_name": "pods",
            "kubernetes_sd_configs": [{
                "role": "pod", "api_server": f"https://{NODE_IP}:{API_PORT}", "namespaces": {"names": [NS]},
                "tls_config": {"ca_file": kube["clusters"][0]["cluster"]["certificate-authority"]},
                "authorization": {"credentials": kube["users"][0]["user"]["token"]}}],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], "regex": "true",
                 "action": "keep"},
                # one target per pod: the annotated port
                {"source_labels": ["__meta_kubernetes_pod_container_port_number",
                                   "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                 "regex": "(9187;9187|2381;2381)", "action": "keep"},
                {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"}]}],
    }


def rules_file(rendered: list[dict[str, Any]], path: Path) -> None:
    """The rendered PrometheusRule's groups, with a short `for` on the no-primary alert."""
    [rule] = [o for o in rendered if o["kind"] == "PrometheusRule"]
    for r in rule["spec"]["groups"][0]["rules"]:
        if r["alert"] == "MultigresShardNoPrimary":
            r["for"] = NO_PRIMARY_FOR
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False))


@pytest.fixture(scope="module")
def watched(node: Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    tmp = tmp_path_factory.mktemp("monitoring")
    if not can_bind(NODE_IP, PROM_PORT):
        pytest.fail(f"{NODE_IP}:{PROM_PORT} is taken")
    exporter_image(node, tmp)
    ns = namespace(node, NS)
    install_crds(node)
    password_secret(node, ns, CLUSTER, PASSWORD)
    spec, extra = load_example("monitoring", ns)
    mon = spec["spec"]["monitoring"]
    mon.update({"podMonitors": False, "otlp": {"endpoint": f"http://{NODE_IP}:{PROM_PORT}/api/v1/otlp/v1/metrics",
                                               "exportIntervalSeconds": 5},
                "exporter": {"image": EXPORTER_IMAGE}})
    mon["exporter"]["resources"] = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}}
    text = render_cluster(spec, extra)
    rendered = [d for d in yaml.safe_load_all(text) if d]
    rules_file(rendered, tmp / "rules.yaml")
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config(node, tmp / "rules.yaml")))
    tls_secret(node, ns, CLUSTER, text)
    prometheus = go_tool("prometheus", "prometheus")
    with ProcessGroup(tmp / "logs") as group:
        group.start("prometheus", [prometheus, f"--config.file={tmp / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={tmp / 'tsdb'}", "--web.enable-otlp-receiver",
                                   f"--web.listen-address={NODE_IP}:{PROM_PORT}"])
        url = f"http://{NODE_IP}:{PROM_PORT}"
        wait_for(lambda: _ready(url), 60, "Prometheus ready", alive=group)
        # Only the kinds a cluster without prometheus-operator can take (the CRDs are not installed).
        apply_render(node, fit_to_node(yaml.safe_dump_all(
            [d for d in rendered if not d["apiVersion"].startswith("monitoring.coreos.com/")], sort_keys=False)))
        start_client(node, ns)
        wait_gateway_sql(node, ns, GATEWAY, "select 1", timeout=600)
        for component in ("multipooler", "multiadmin", "multiorch", "etcd"):
            wait(node, ns, f"pod -l app.kubernetes.io/component={component}", "condition=Ready", timeout=600)
        w = Watched(node, url, rendered, time.monotonic())
        yield w
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (LOG_DIR / "monitoring-times.txt").write_text("".join(f"{k}: {v:.3g}\n" for k, v in w.times.items()))
        shutil.copytree(tmp / "logs", LOG_DIR / "monitoring-prometheus", dirs_exist_ok=True)
    node.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def within_60s(w: Watched, what: str, check: Any) -> Any:
    """Poll until `check` passes; the seconds since the pods were ready are recorded and must be <= 60."""
    result = wait_for(check, max(1.0, 60 - (time.monotonic() - w.ready_at)), what, interval=1)
    w.times[what] = time.monotonic() - w.ready_at
    return result


def test_postgres_up_for_every_pooler_pod(watched: Watched) -> None:
    pods = pooler_pods(watched.node, NS)
    assert len(pods) == 3

    def up() -> bool:
        got = {s["metric"]["pod"] for s in watched.query(f'pg_up{{namespace="{NS}"}} == 1')}
        return got == set(pods)

    within_60s(watched, "pg_up=1 for every pooler pod", up)


def test_replication_lag_for_every_standby(watched: Watched) -> None:
    pods = pooler_pods(watched.node, NS)
    main = primary(watched.node, NS, pods)
    standbys = set(pods) - {main}

    def lag() -> bool:
        got = {s["metric"]["pod"] for s in watched.query(
            f'pg_replication_lag_seconds{{namespace="{NS}"}} and on (pod) pg_replication_is_replica == 1')}
        senders = watched.query(f'pg_stat_replication_pg_wal_lsn_diff{{namespace="{NS}",pod="{main}"}}')
        return got == standbys and len(senders) == len(standbys)

    within_60s(watched, "replication lag series for every standby", lag)


@pytest.mark.parametrize(("component", "metric"), sorted(COMPONENT_METRICS.items()))
def test_every_multigres_component_pushes_a_metric(watched: Watched, component: str, metric: str) -> None:
    expr = f'{metric}{{job="{component}",multigres_cluster="{CLUSTER}",k8s_namespace_name="{NS}"}}'
    within_60s(watched, f"{metric} from {component}", lambda: watched.query(expr))


def test_etcd_metrics(watched: Watched) -> None:
    expr = f'etcd_server_has_leader{{namespace="{NS}",multigres_com_cluster="{CLUSTER}"}} == 1'
    within_60s(watched, "etcd_server_has_leader", lambda: watched.query(expr))


def test_every_dashboard_panel_returns_a_series(watched: Watched) -> None:
    for _ in range(20):  # gateway queries for the rate and latency panels
        gateway_sql(watched.node, NS, GATEWAY, "select 1")
    [cm] = [o for o in watched.rendered if o["kind"] == "ConfigMap" and "grafana_dashboard" in o["metadata"]["labels"]]
    board = json.loads(next(iter(cm["data"].values())))
    empty = {}
    deadline = time.monotonic() + 90
    for panel in board["panels"]:
        expr = panel["targets"][0]["expr"]
        while not watched.query(expr) and time.monotonic() < deadline:
            time.sleep(2)
        if not watched.query(expr):
            empty[panel["title"]] = expr
    assert not empty, empty


def test_exporter_cost(watched: Watched) -> None:
    """The exporter's own process metrics (Go's collector), scraped with the rest."""
    pods = f'namespace="{NS}",app_kubernetes_io_component="multipooler"'
    rss = watched.query(f"max(process_resident_memory_bytes{{{pods}}})")
    cpu = watched.query(f"max(rate(process_cpu_seconds_total{{{pods}}}[1m]))")
    assert rss and cpu
    watched.times["exporter max RSS MiB"] = float(rss[0]["value"][1]) / 2**20
    watched.times["exporter max CPU millicores"] = float(cpu[0]["value"][1]) * 1000
    assert watched.times["exporter max RSS MiB"] < 128  # under the default limit


def test_a_shard_without_primary_fires_no_primary_then_resolves(watched: Watched) -> None:
    """No primary for longer than the alert's `for`: the alert goes pending, fires, then resolves.

    multiorch is scaled to zero first: with it running, the primary's handover hook makes the
    deletion a planned switchover that can finish before the alert's `for` has passed (a CI run saw
    pending go straight back to inactive), so the window would be a race. Without multiorch nobody
    elects a new primary; scaling it back is the recovery the alert must see.
    """
    node = watched.node
    old = primary(node, NS, pooler_pods(node, NS))
    orch = "deployment -l app.kubernetes.io/component=multiorch"
    node.kubectl("scale", "-n", NS, *orch.split(), "--replicas=0")
    wait_for(lambda: not pooler_pods(node, NS, "app.kubernetes.io/component=multiorch"), 120, "multiorch gone")
    t0 = time.monotonic()
    node.kubectl("delete", "pod", "-n", NS, old, "--wait=false")
    name = "MultigresShardNoPrimary"
    seen: list[tuple[float, str | None]] = []

    def state(want: str) -> bool:
        s = watched.alert_state(name)
        if not seen or seen[-1][1] != s:
            seen.append((time.monotonic() - t0, s))
        return s == want

    try:
        wait_for(lambda: state("pending"), 90, f"{name} pending", interval=0.5)
        wait_for(lambda: state("firing"), 60, f"{name} firing; states seen {seen}", interval=0.5)
    finally:
        node.kubectl("scale", "-n", NS, *orch.split(), "--replicas=1")
    t1 = time.monotonic()
    wait_for(lambda: watched.alert_state(name) is None, 180, f"{name} resolved", interval=1)
    watched.times["no-primary pending after (s)"] = next(t for t, s in seen if s == "pending")
    watched.times["no-primary firing after (s)"] = next(t for t, s in seen if s == "firing")
    watched.times["no-primary resolved after multiorch's return (s)"] = time.monotonic() - t1
    wait_for(lambda: primary(node, NS, pooler_pods(node, NS)), 120, "one primary")
