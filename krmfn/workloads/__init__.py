"""Build stage: one child CR in, Kubernetes objects out (docs/design.md, "Stages").

Each builder reads one child CR (plus render options in a BuildContext) and nothing else; the
multiadmin and registration builders read a small view of the cluster itself. Output order is
fixed: global topo, registration, multiadmin, then every other child in resolve order.
"""

from __future__ import annotations

import json

from .. import defaults, naming
from ..results import Result
from .admin import build_multiadmin
from .cell import build_multicell
from .certificate import build_certificate
from .objects import BuildContext, ClusterView
from .registration import build_registration
from .shard import build_multishard
from .tablegroup import build_multitablegroup
from .topo import build_topo_server

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


BUILDERS = {
    "TopoServer": build_topo_server,
    "MultiCell": build_multicell,
    "MultiTableGroup": build_multitablegroup,
    "MultiShard": build_multishard,
}


def cluster_view(resolved: Any) -> ClusterView:
    """The cluster-level facts multiadmin and registration need, shaped like a child CR."""
    meta: dict[str, Any] = {"name": resolved.name}
    if resolved.namespace:
        meta["namespace"] = resolved.namespace
    meta["labels"] = naming.labels(resolved.name)
    meta["annotations"] = {naming.GENERATED_FROM: f"{resolved.namespace or ''}/{resolved.name}"}
    global_topo = [c for c in resolved.of_kind("TopoServer")
                   if c["metadata"]["name"] == naming.global_topo_name(resolved.name)]
    image = global_topo[0]["spec"]["image"] if global_topo else defaults.ETCD_IMAGE
    return ClusterView(metadata=meta, images=dict(resolved.images), pull=dict(resolved.pull),
                       multiadmin=resolved.multiadmin, global_topo=dict(resolved.global_topo),
                       topo_image=image, cell_registrations=list(resolved.cell_registrations),
                       databases=list(resolved.databases),
                       pgbackrest_tls_secret=resolved.pgbackrest_tls_secret,
                       cert_manager_issuer=resolved.cert_manager_issuer)


def build_all(resolved: Any, options: Any) -> tuple[list[dict[str, Any]], list[Result]]:
    """Workloads of every child of one resolved cluster, and what building them found."""
    ctx = BuildContext(cluster_domain=getattr(options, "cluster_domain", "cluster.local"))
    view = cluster_view(resolved)
    global_name = naming.global_topo_name(resolved.name)
    children = list(resolved.children)
    first = [c for c in children if c["kind"] == "TopoServer" and c["metadata"]["name"] == global_name]
    rest = [c for c in children if c not in first]
    objects: list[dict[str, Any]] = []
    for child in first:
        objects += build_topo_server(child, ctx)
    objects += build_registration(view, ctx)
    objects += build_multiadmin(view, ctx)
    objects += build_certificate(view, [c for c in children if c["kind"] == "MultiShard"], ctx)
    for child in rest:
        builder = BUILDERS.get(child["kind"])
        if builder is not None:
            objects += builder(child, ctx)
    # Builders share sub-dicts (resources, selectors) with their child CRs; a JSON round trip
    # makes every object independent, so no YAML anchors appear and no edit leaks between objects.
    return json.loads(json.dumps(objects)), ctx.results
