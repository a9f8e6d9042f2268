"""MultiCell → multigateway: a Deployment, its Service (PostgreSQL 5432) and a PodDisruptionBudget.

The cell's own etcd, when managed, is a TopoServer child of its own and built by topo.py.
Gateways take only the global topo flags: they find their cell's topo through the Cell record.
"""

from __future__ import annotations

from typing import Any

from .. import defaults, naming
from . import meta
from .meta import BuildContext


def build_multicell(child: dict[str, Any], ctx: BuildContext) -> list[dict[str, Any]]:
    spec = child["spec"]
    namespace = meta.namespace_of(child)
    cluster = naming.cluster_of(child)
    name = naming.gateway_name(child["metadata"]["name"])
    labels = naming.labels(cluster, "multigateway", **naming.identity_of(child))
    selector = naming.selector(labels)
    gateway_spec = spec.get("multiGateway") or {}
    replicas = int(gateway_spec.get("replicas", defaults.COMPONENT_REPLICAS["multigateway"]))
    pull = meta.pull_of(spec)
    p = defaults.PORTS["multigateway"]
    ports = meta.ports("multigateway")
    tmp_vol, tmp_mount = meta.tmp_volume()
    args = [
        f"--http-port={p['http']}", f"--grpc-port={p['grpc']}", f"--pg-port={p['postgres']}",
        f"--cell={spec['name']}",
        *meta.topo_flags(spec["globalTopoServer"], namespace, ctx),
        # Deployment pods have no resolvable hostname: register the pod IP, name the pod.
        "--hostname=$(POD_IP)", "--service-id=$(POD_NAME)",
    ]
    gateway = meta.container(
        "multigateway", spec["images"]["multigateway"], [f"{defaults.MULTIGRES_BIN}/multigateway"], args, pull,
        container_ports=ports, resources=gateway_spec.get("resources"),
        probes={"livenessProbe": meta.http_probe("/live", "http", delay=10),
                "readinessProbe": meta.http_probe("/ready", "http", period=5)},
        mounts=[tmp_mount])
    wave = meta.WAVES["gateway"]
    out = [
        meta.obj("apps/v1", "Deployment", meta.metadata(name, child, labels, wave), {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": meta.pod_spec([gateway], pull, defaults.NONROOT_UID, selector=selector,
                                               volumes=[tmp_vol])},
        }),
        meta.obj("v1", "Service", meta.metadata(name, child, labels, wave), {
            "type": "ClusterIP", "selector": dict(selector), "ports": meta.service_ports(ports)}),
    ]
    if replicas > 1:
        # Stateless and interchangeable: drain one gateway at a time.
        out.append(meta.obj("policy/v1", "PodDisruptionBudget",
                            meta.metadata(naming.gateway_pdb(child["metadata"]["name"]), child, labels, wave),
                            {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)},
                             "unhealthyPodEvictionPolicy": "AlwaysAllow"}))
    return out
