"""spec.monitoring: what it adds to the workloads, the objects it renders, its checks, and its docs."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from helpers import EXAMPLES, ROOT, objects, render_paths, resource_list, run_text

from krmfn import defaults, naming, yamlio
from krmfn.workloads.alerts import RULES
from krmfn.workloads.dashboard import PANELS
from krmfn.workloads.monitoring import MULTIGRES_CONTAINERS

BASE = yamlio.load((EXAMPLES / "monitoring" / "cluster.yaml").read_text())
DOCS = (ROOT / "docs" / "monitoring.md").read_text()


def render(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    return objects(run_text(resource_list(cluster)))


def with_monitoring(**changes: Any) -> dict[str, Any]:
    cluster = copy.deepcopy(BASE)
    cluster["spec"]["monitoring"].update(changes)
    return cluster


def pods(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o["spec"]["template"] for o in objs if o["kind"] in ("Deployment", "StatefulSet")]


def containers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = template["spec"]
    return {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def poolers(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in pods(objs) if t["metadata"]["labels"]["app.kubernetes.io/component"] == "multipooler"]


@pytest.fixture(scope="module")
def example() -> list[dict[str, Any]]:
    return objects(render_paths(EXAMPLES / "monitoring"))


def test_off_by_default_renders_nothing_of_it() -> None:
    objs = objects(render_paths(EXAMPLES / "minimal"))
    text = json.dumps(objs)
    assert "OTEL_" not in text and naming.EXPORTER_CONTAINER not in text and "prometheus.io/" not in text
    assert not [o for o in objs if o["apiVersion"].startswith("monitoring.coreos.com/")]


def test_enabled_false_is_the_same_as_absent() -> None:
    off = with_monitoring(enabled=False)
    absent = copy.deepcopy(BASE)
    del absent["spec"]["monitoring"]
    assert render(off) == render(absent)


def test_every_multigres_container_exports_metrics_to_the_endpoint(example: list[dict[str, Any]]) -> None:
    seen = set()
    for template in pods(example):
        for name, c in containers(template).items():
            if name not in MULTIGRES_CONTAINERS:
                assert not any(k.startswith("OTEL_") for k in env(c)), name
                continue
            seen.add(name)
            e = env(c)
            assert e["OTEL_METRICS_EXPORTER"] == "otlp"
            assert e["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] == BASE["spec"]["monitoring"]["otlp"]["endpoint"]
            assert e["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] == "http/protobuf"
            assert e["OTEL_METRIC_EXPORT_INTERVAL"] == "15000"
            assert "OTEL_TRACES_EXPORTER" not in e  # upstream defaults it to none
    assert seen == set(MULTIGRES_CONTAINERS)


def test_resource_attributes_name_the_pod_and_its_place(example: list[dict[str, Any]]) -> None:
    by_component = {t["metadata"]["labels"]["app.kubernetes.io/component"]: t for t in pods(example)}
    gateway = env(containers(by_component["multigateway"])["multigateway"])["OTEL_RESOURCE_ATTRIBUTES"]
    assert gateway.split(",") == ["multigres.cluster=monitoring", "multigres.cell=zone1",
                                  "k8s.namespace.name=$(POD_NAMESPACE)", "k8s.pod.name=$(POD_NAME)"]
    pooler = env(containers(by_component["multipooler"])["multipooler"])["OTEL_RESOURCE_ATTRIBUTES"]
    assert {"multigres.database=postgres", "multigres.tablegroup=default", "multigres.pool_type=replica"} \
        <= set(pooler.split(","))


def test_pod_variables_are_defined_before_they_are_referenced(example: list[dict[str, Any]]) -> None:
    """Kubernetes expands `$(VAR)` in an env value only from variables listed earlier."""
    for template in pods(example):
        for c in containers(template).values():
            names = [e["name"] for e in c.get("env", [])]
            for i, e in enumerate(c.get("env", [])):
                for ref in re.findall(r"\$\((\w+)\)", e.get("value", "")):
                    assert ref in names[:i], (c["name"], e["name"], ref)


def test_traces_only_when_asked() -> None:
    cluster = with_monitoring(otlp={"endpoint": "http://p:9090/api/v1/otlp/v1/metrics",
                                    "tracesEndpoint": "http://jaeger:4318/v1/traces", "protocol": "grpc",
                                    "exportIntervalSeconds": 5})
    e = env(containers(poolers(render(cluster))[0])["multipooler"])
    assert e["OTEL_TRACES_EXPORTER"] == "otlp"
    assert e["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://jaeger:4318/v1/traces"
    assert e["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] == "grpc" and e["OTEL_METRIC_EXPORT_INTERVAL"] == "5000"


def test_exporter_sidecar_reads_the_pods_postgres_over_its_socket(example: list[dict[str, Any]]) -> None:
    for template in poolers(example):
        cs = containers(template)
        exporter = cs[naming.EXPORTER_CONTAINER]
        assert exporter["image"] == defaults.EXPORTER_IMAGE
        assert exporter["ports"] == [{"name": "pg-metrics", "containerPort": 9187, "protocol": "TCP"}]
        e = env(exporter)
        socket_flag = next(a for a in cs["multipooler"]["args"] if a.startswith("--socket-file="))
        socket_dir = socket_flag.split("=", 1)[1].rsplit("/", 1)[0]
        assert e["DATA_SOURCE_URI"] == f"/postgres?host={socket_dir}&port=5432&sslmode=disable"
        password = next(m for m in exporter["volumeMounts"] if m["name"] == "postgres-password")
        assert e["DATA_SOURCE_PASS_FILE"] == f"{password['mountPath']}/{defaults.PASSWORD_KEY}"
        assert all(m["readOnly"] for m in exporter["volumeMounts"])
        assert exporter["resources"] == defaults.EXPORTER_RESOURCES
        assert exporter["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                               "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
        assert "readinessProbe" not in exporter  # the exporter never makes a database pod unready


def test_pool_override_turns_the_exporter_off_or_resizes_it() -> None:
    cluster = copy.deepcopy(BASE)
    pools = cluster["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"]
    pools.append({"type": "readOnly", "cell": "zone1", "monitoring": {"exporter": {"enabled": False}}})
    pools[0]["monitoring"] = {"exporter": {"resources": {"limits": {"memory": "64Mi"}}}}
    objs = render(cluster)
    by_type = {t["metadata"]["labels"]["multigres.com/pool-type"]: t for t in poolers(objs)}
    assert naming.EXPORTER_CONTAINER not in containers(by_type["readOnly"])
    assert containers(by_type["replica"])[naming.EXPORTER_CONTAINER]["resources"] == {
        "requests": {"cpu": "10m"}, "limits": {"memory": "64Mi"}}


def test_cluster_exporter_off_and_pool_on() -> None:
    cluster = with_monitoring(exporter={"enabled": False})
    pools = cluster["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"]
    pools.append({"type": "readOnly", "cell": "zone1", "monitoring": {"exporter": {"enabled": True}}})
    objs = render(cluster)
    have = {t["metadata"]["labels"]["multigres.com/pool-type"]: naming.EXPORTER_CONTAINER in containers(t)
            for t in poolers(objs)}
    assert have == {"replica": False, "readOnly": True}


def test_template_shard_pool_carries_the_override() -> None:
    cluster = copy.deepcopy(BASE)
    pool = cluster["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"][0]
    pool["multigresDeploymentTemplate"] = "small"
    template = {"apiVersion": "multigres.com/v1alpha1", "kind": "MultigresDeploymentTemplate",
                "metadata": {"name": "small", "namespace": "default"},
                "spec": {"shardPool": {"replicas": 3, "monitoring": {"exporter": {"enabled": False}}}}}
    objs = objects(run_text(resource_list(cluster, template)))
    assert naming.EXPORTER_CONTAINER not in containers(poolers(objs)[0])


def test_annotations_without_pod_monitors() -> None:
    objs = render(with_monitoring(podMonitors=False))
    assert not [o for o in objs if o["kind"] == "PodMonitor"]
    annotated = {t["metadata"]["labels"]["app.kubernetes.io/component"]:
                 {k: v for k, v in t["metadata"]["annotations"].items() if k.startswith("prometheus.io/")}
                 for t in pods(objs) if "prometheus.io/scrape" in t["metadata"].get("annotations", {})}
    assert annotated == {
        "etcd": {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics", "prometheus.io/port": "2381"},
        "multipooler": {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics",
                        "prometheus.io/port": "9187"}}


def test_pod_monitors_select_pods_with_the_port(example: list[dict[str, Any]]) -> None:
    monitors = [o for o in example if o["kind"] == "PodMonitor"]
    assert len(monitors) == 2
    for pm in monitors:
        assert pm["metadata"]["labels"]["release"] == "prometheus"
        selected = [t for t in pods(example)
                    if pm["spec"]["selector"]["matchLabels"].items() <= t["metadata"]["labels"].items()]
        assert selected, pm["metadata"]["name"]
        port = pm["spec"]["podMetricsEndpoints"][0]["port"]
        for t in selected:
            assert port in {p["name"] for c in containers(t).values() for p in c.get("ports", [])}
            assert "prometheus.io/scrape" not in t["metadata"].get("annotations", {})


def test_prometheus_rule_has_every_alert_for_this_cluster(example: list[dict[str, Any]]) -> None:
    [rule] = [o for o in example if o["kind"] == "PrometheusRule"]
    alerts = rule["spec"]["groups"][0]["rules"]
    assert [a["alert"] for a in alerts] == [r["alert"] for r in RULES]
    for a in alerts:
        assert "{S" not in a["expr"] and "{O" not in a["expr"]
        assert 'multigres_com_cluster="monitoring"' in a["expr"] or 'multigres_cluster="monitoring"' in a["expr"]


def test_dashboard_configmap_for_grafanas_sidecar(example: list[dict[str, Any]]) -> None:
    [cm] = [o for o in example if o["kind"] == "ConfigMap" and "grafana_dashboard" in o["metadata"]["labels"]]
    [(key, text)] = cm["data"].items()
    board = json.loads(text)
    assert key == "multigres-monitoring.json" and board["uid"] == "multigres-monitoring"
    assert [p["title"] for p in board["panels"]] == [p[0] for p in PANELS]
    assert all(p["targets"][0]["expr"] and "{S" not in p["targets"][0]["expr"] for p in board["panels"])


def test_objects_only_on_request() -> None:
    objs = render(with_monitoring(podMonitors=False, prometheusRules=False, dashboards=False))
    assert not [o for o in objs if o["apiVersion"].startswith("monitoring.coreos.com/")
                or "grafana_dashboard" in o["metadata"].get("labels", {})]


@pytest.mark.parametrize(("change", "path", "fragment"), [
    ({"labels": {"bad key!": "x"}}, "spec.monitoring.labels.bad key!", "is not a Kubernetes label key"),
    ({"otlp": {"endpoint": "prometheus:9090"}}, "spec.monitoring.otlp.endpoint", "has no http:// or https://"),
    ({"exporter": {"image": "Not An Image"}}, "spec.monitoring.exporter.image", "whitespace"),
])
def test_bad_monitoring_input_is_an_error_at_its_field(change: dict[str, Any], path: str, fragment: str) -> None:
    out = run_text(resource_list(with_monitoring(**change)))
    errors = [r for r in out.results if r.severity == "error"]
    assert any(r.path == path and fragment in r.message for r in errors), [(r.path, r.message) for r in errors]


def test_enabled_without_an_endpoint_warns() -> None:
    cluster = copy.deepcopy(BASE)
    del cluster["spec"]["monitoring"]["otlp"]
    out = run_text(resource_list(cluster))
    assert any(r.severity == "warning" and r.path == "spec.monitoring" for r in out.results)
    assert not any(k.startswith("OTEL_METRICS") for t in pods(objects(out))
                   for c in containers(t).values() for k in env(c))


def test_docs_have_a_runbook_per_alert_and_a_row_per_panel() -> None:
    headings = set(re.findall(r"^### (\w+)$", DOCS, re.M))
    assert {r["alert"] for r in RULES} <= headings
    for title, _, _ in PANELS:
        assert f"| {title} |" in DOCS, title
