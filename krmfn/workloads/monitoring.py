"""Monitoring, when a cluster asks for it: OpenTelemetry settings for every Multigres binary, a
postgres_exporter sidecar in every pooler pod, scrape annotations or PodMonitors, the alerts and the
dashboard (docs/monitoring.md).

It runs after the builders (`build_all`), over the workloads they wrote: each Multigres container is
found by its name and each pod's identity by the labels naming.py gave it, so the builders need not
know monitoring exists and a cluster without `monitoring.enabled` renders byte for byte as before.
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import ResolvedPool
    from ..resolve.monitoring import MonitoringFacts
    from .context import ClusterContext

# The containers that run a Multigres binary (servenv: go/common/servenv/servenv_unix.go reads the
# OTel settings through go/tools/telemetry/telemetry.go).
MULTIGRES_CONTAINERS = ("multiadmin", "multigateway", "multiorch", "multipooler", "pgctld")
# Pod labels that become resource attributes (multipooler sets multigres.shard, .database and
# .tablegroup itself, from its flags; the SDK gives the binary's own attributes precedence).
_ATTRIBUTES = {"cell": "multigres.cell", "database": "multigres.database", "table-group": "multigres.tablegroup",
               "pool-type": "multigres.pool_type"}
_SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics"}
# Pod labels copied onto scraped series (as multigres_com_<key>): alerts.py groups by them.
_TARGET_LABELS = [f"{naming.GROUP}/{k}" for k in ("cluster", "cell", "database", "table-group", "shard",
                                                    "pool-type", "topo-scope")]


def resource_attributes(cluster: str, pod_labels: dict[str, str]) -> str:
    """OTEL_RESOURCE_ATTRIBUTES (read by the OTel SDK's resource.Environment): who this pod is."""
    attrs = [f"multigres.cluster={cluster}"]
    for key, attribute in _ATTRIBUTES.items():
        value = pod_labels.get(f"{naming.GROUP}/{key}")
        if value:
            attrs.append(f"{attribute}={value}")
    attrs += ["k8s.namespace.name=$(POD_NAMESPACE)", "k8s.pod.name=$(POD_NAME)"]
    return ",".join(attrs)


def otel_env(m: MonitoringFacts, cluster: str, pod_labels: dict[str, str]) -> list[dict[str, Any]]:
    """The standard OTel SDK variables: metrics over OTLP to the endpoint; traces only when asked
    (upstream sets OTEL_TRACES_EXPORTER and OTEL_LOGS_EXPORTER to `none` when unset)."""
    env = [{"name": "OTEL_RESOURCE_ATTRIBUTES", "value": resource_attributes(cluster, pod_labels)}]
    if m.otlp_endpoint:
        env += [{"name": "OTEL_METRICS_EXPORTER", "value": "otlp"},
                {"name": "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "value": m.otlp_endpoint},
                {"name": "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "value": m.otlp_protocol},
                {"name": "OTEL_METRIC_EXPORT_INTERVAL", "value": str(m.export_interval_seconds * 1000)}]
    if m.traces_endpoint:
        env += [{"name": "OTEL_TRACES_EXPORTER", "value": "otlp"},
                {"name": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "value": m.traces_endpoint},
                {"name": "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "value": m.otlp_protocol}]
    return env


def _add_env(container: dict[str, Any], extra: list[dict[str, Any]]) -> None:
    """Append variables; the pod's name and namespace first, since `$(VAR)` only sees earlier ones."""
    env = container.setdefault("env", [])
    have = {e["name"] for e in env}
    for var, path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
        if var not in have:
            env.append({"name": var, "valueFrom": {"fieldRef": {"fieldPath": path}}})
    env.extend(extra)


def exporter_container(image: str, resources: dict[str, Any], pull: dict[str, Any]) -> dict[str, Any]:
    """postgres_exporter on the pod's own PostgreSQL, over the unix socket (nothing on the network).

    It reads DATA_SOURCE_URI, DATA_SOURCE_USER and DATA_SOURCE_PASS_FILE
    (exporter/datasource.go, GetDataSources: `postgresql://<user>:<password>@<uri>`). The URI has no
    host part: lib/pq would prefer it over the `host=` parameter that names the socket directory.
    The data volume is mounted read-only: connecting to a socket needs no write access to the
    file system, and the exporter must not be able to change the data directory.
    """
    socket_dir = f"{defaults.POOLER_DIR}/pg_sockets"
    uri = f"/postgres?host={socket_dir}&port={defaults.PORTS['pgctld']['postgres']}&sslmode=disable"
    env = [{"name": "DATA_SOURCE_URI", "value": uri},
           {"name": "DATA_SOURCE_USER", "value": "postgres"},
           {"name": "DATA_SOURCE_PASS_FILE", "value": f"{defaults.PASSWORD_MOUNT}/{defaults.PASSWORD_KEY}"}]
    port = {"name": naming.EXPORTER_PORT_NAME, "containerPort": defaults.EXPORTER_PORT, "protocol": "TCP"}
    mounts = [{"name": "data", "mountPath": defaults.POOLER_DIR, "readOnly": True},
              {"name": "postgres-password", "mountPath": defaults.PASSWORD_MOUNT, "readOnly": True}]
    return objects.container(
        naming.EXPORTER_CONTAINER, image, ["/bin/postgres_exporter"],
        [f"--web.listen-address=:{defaults.EXPORTER_PORT}", "--log.level=warn"], pull, env=env,
        container_ports=[port], resources=resources,
        probes={"livenessProbe": objects.http_probe("/", naming.EXPORTER_PORT_NAME, period=30)}, mounts=mounts)


def _template(workload: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = workload["spec"]["template"]
    return template


def _instrument_workload(workload: dict[str, Any], m: MonitoringFacts, cluster: str) -> None:
    template = _template(workload)
    labels = template["metadata"]["labels"]
    spec = template["spec"]
    for container in spec.get("initContainers", []) + spec["containers"]:
        if container["name"] in MULTIGRES_CONTAINERS:
            _add_env(container, otel_env(m, cluster, labels))


def _annotate(workload: dict[str, Any], port: int) -> None:
    meta = _template(workload)["metadata"]
    meta["annotations"] = {**meta.get("annotations", {}), **_SCRAPE, "prometheus.io/port": str(port)}


def _add_exporter(sts: dict[str, Any], resources: dict[str, Any], m: MonitoringFacts,
                  pull: dict[str, Any]) -> None:
    spec = _template(sts)["spec"]
    spec["containers"].append(exporter_container(m.exporter_image, resources, pull))
    if not m.pod_monitors:
        _annotate(sts, defaults.EXPORTER_PORT)


def instrument(workloads: list[dict[str, Any]], pools: dict[str, ResolvedPool], ctx: ClusterContext) -> None:
    """Add OTel settings, exporters and scrape annotations to the workloads, in place.

    `pools` maps each pool StatefulSet's name to its resolved pool (its exporter override).
    """
    m = ctx.monitoring
    if m is None:
        return
    for w in workloads:
        if w.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        _instrument_workload(w, m, ctx.name)
        component = w["metadata"]["labels"].get("app.kubernetes.io/component")
        name = w["metadata"]["name"]
        if component == "multipooler" and name in pools:
            resources = m.pool_exporter(pools[name].monitoring)
            if resources is not None:
                _add_exporter(w, resources, m, ctx.pull)
        elif component == "etcd" and not m.pod_monitors:
            _annotate(w, defaults.PORTS["etcd"]["metrics"])


def _labels(ctx: ClusterContext, component: str) -> dict[str, str]:
    m = ctx.monitoring
    return {**naming.labels(ctx.name, component), **(m.labels if m else {})}


def pod_monitor(ctx: ClusterContext, target: str, component: str, port: str) -> dict[str, Any]:
    """A prometheus-operator PodMonitor of one component's pods in the cluster's namespace."""
    labels = _labels(ctx, "monitoring")
    meta = objects.metadata(naming.pod_monitor(ctx.name, target), ctx.metadata, labels, objects.WAVES["server"])
    selector = {"app.kubernetes.io/instance": ctx.name, "app.kubernetes.io/component": component,
                f"{naming.GROUP}/cluster": ctx.name}
    return objects.obj("monitoring.coreos.com/v1", "PodMonitor", meta, {
        "selector": {"matchLabels": selector},
        "podTargetLabels": list(_TARGET_LABELS),
        "podMetricsEndpoints": [{"port": port, "path": "/metrics"}]})


def prometheus_rule(ctx: ClusterContext) -> dict[str, Any]:
    from .alerts import rule_groups  # here, not at the top: a render without monitoring never loads it

    meta = objects.metadata(naming.prometheus_rule(ctx.name), ctx.metadata, _labels(ctx, "monitoring"),
                            objects.WAVES["server"])
    return objects.obj("monitoring.coreos.com/v1", "PrometheusRule", meta,
                       {"groups": rule_groups(ctx.name, ctx.namespace)})


def dashboard_configmap(ctx: ClusterContext) -> dict[str, Any]:
    """The dashboard for Grafana's sidecar, which loads ConfigMaps labelled `grafana_dashboard`."""
    from .dashboard import dashboard_json  # here: a render without monitoring never loads it

    labels = {**_labels(ctx, "monitoring"), "grafana_dashboard": "1"}
    meta = objects.metadata(naming.dashboard_configmap(ctx.name), ctx.metadata, labels, objects.WAVES["server"])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {f"multigres-{ctx.name}.json": dashboard_json(ctx.name, ctx.namespace)}}


def monitoring_objects(ctx: ClusterContext, pools: dict[str, ResolvedPool], managed_topo: bool) -> list[dict[str, Any]]:
    """The objects Prometheus and Grafana pick up, those the cluster asked for."""
    m = ctx.monitoring
    if m is None:
        return []
    out = []
    if m.pod_monitors:
        if any(m.pool_exporter(p.monitoring) is not None for p in pools.values()):
            out.append(pod_monitor(ctx, "postgres-exporter", "multipooler", naming.EXPORTER_PORT_NAME))
        if managed_topo:
            out.append(pod_monitor(ctx, "etcd", "etcd", "metrics"))
    if m.prometheus_rules:
        out.append(prometheus_rule(ctx))
    if m.dashboards:
        out.append(dashboard_configmap(ctx))
    return out
