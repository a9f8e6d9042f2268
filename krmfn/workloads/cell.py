"""MultiCell → multigateway: a Deployment, its Service (PostgreSQL 5432) and a PodDisruptionBudget.

The cell's own etcd, when managed, is a TopoServer child of its own and built by topo.py.
Gateways take only the global topo flags: they find their cell's topo through the Cell record.
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects
from .objects import BuildContext

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def build_multicell(child: dict[str, Any], ctx: BuildContext) -> list[dict[str, Any]]:
    spec = child["spec"]
    namespace = objects.namespace_of(child)
    cluster = naming.cluster_of(child)
    name = naming.gateway_name(child["metadata"]["name"])
    labels = naming.labels(cluster, "multigateway", **naming.identity_of(child))
    gateway_spec = spec.get("multiGateway") or {}
    replicas = int(gateway_spec.get("replicas", defaults.COMPONENT_REPLICAS["multigateway"]))
    pull = objects.pull_of(spec)
    p = defaults.PORTS["multigateway"]
    args = [
        *objects.server_flags("multigateway"), f"--pg-port={p['postgres']}", f"--cell={spec['name']}",
        *objects.topo_flags(spec["globalTopoServer"], namespace, ctx), *objects.DEPLOYMENT_IDENTITY,
    ]
    gateway, tmp = objects.server_container("multigateway", spec["images"]["multigateway"], args, pull,
                                         gateway_spec.get("resources"))
    wave = objects.WAVES["gateway"]
    out = [
        objects.deployment(objects.metadata(name, child, labels, wave), labels, replicas, [gateway], pull,
                        defaults.NONROOT_UID, [tmp]),
        objects.obj("v1", "Service", objects.metadata(name, child, labels, wave), {
            "type": "ClusterIP", "selector": naming.selector(labels),
            "ports": objects.service_ports(gateway["ports"])}),
    ]
    if replicas > 1:
        # Stateless and interchangeable: drain one gateway at a time.
        pdb_meta = objects.metadata(naming.gateway_pdb(child["metadata"]["name"]), child, labels, wave)
        out.append(objects.disruption_budget(pdb_meta, labels, 1))
    return out
