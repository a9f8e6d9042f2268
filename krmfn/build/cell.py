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
    gateway_spec = spec.get("multiGateway") or {}
    replicas = int(gateway_spec.get("replicas", defaults.COMPONENT_REPLICAS["multigateway"]))
    pull = meta.pull_of(spec)
    p = defaults.PORTS["multigateway"]
    args = [
        *meta.server_flags("multigateway"), f"--pg-port={p['postgres']}", f"--cell={spec['name']}",
        *meta.topo_flags(spec["globalTopoServer"], namespace, ctx), *meta.DEPLOYMENT_IDENTITY,
    ]
    gateway, tmp = meta.server_container("multigateway", spec["images"]["multigateway"], args, pull,
                                         gateway_spec.get("resources"))
    wave = meta.WAVES["gateway"]
    out = [
        meta.deployment(meta.metadata(name, child, labels, wave), labels, replicas, [gateway], pull,
                        defaults.NONROOT_UID, [tmp]),
        meta.obj("v1", "Service", meta.metadata(name, child, labels, wave), {
            "type": "ClusterIP", "selector": naming.selector(labels),
            "ports": meta.service_ports(gateway["ports"])}),
    ]
    if replicas > 1:
        # Stateless and interchangeable: drain one gateway at a time.
        pdb_meta = meta.metadata(naming.gateway_pdb(child["metadata"]["name"]), child, labels, wave)
        out.append(meta.disruption_budget(pdb_meta, labels, 1))
    return out
