"""Build stage: one typed child CR plus the read-only cluster context in, Kubernetes objects out.

Each child builder takes one child of its kind and the ClusterContext (context.py) and nothing
else; multiadmin, topology registration and the pgBackRest Certificate hang off the cluster and
take the context alone. Output order is fixed: global topo, registration, multiadmin, the
Certificate, the scheduled-backup CronJobs, then every other child in resolve order (docs/design.md, "Stages").
"""

from __future__ import annotations

import json

from .. import defaults
from .admin import build_multiadmin
from .backup import build_backup_schedules
from .cell import build_multicell
from .certificate import build_certificate
from .context import ClusterContext
from .registration import build_registration
from .shard import build_multishard
from .tablegroup import build_multitablegroup
from .topo import build_topo_server

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..resolve.cluster import Child, Resolved


def cluster_context(resolved: Resolved, cluster_domain: str) -> ClusterContext:
    """The context every builder of one cluster shares."""
    topo = resolved.global_topo_server()
    image = topo.spec.image if topo is not None else defaults.ETCD_IMAGE
    return ClusterContext(name=resolved.name, namespace=resolved.namespace, cluster_domain=cluster_domain,
                          images=resolved.images, pull=resolved.pull, multiadmin=resolved.multiadmin,
                          global_topo=resolved.global_topo, topo_image=image, cells=tuple(resolved.cells),
                          databases=tuple(resolved.databases), pgbackrest_tls_secret=resolved.pgbackrest_tls_secret,
                          cert_manager_issuer=resolved.cert_manager_issuer, placement=resolved.placement.cluster)


def build_child(child: Child, ctx: ClusterContext) -> list[dict[str, Any]]:
    """The workloads of one child CR, by its kind."""
    if child.kind == "TopoServer":
        return build_topo_server(child, ctx)
    if child.kind == "MultiCell":
        return build_multicell(child, ctx)
    if child.kind == "MultiTableGroup":
        return build_multitablegroup(child, ctx)
    return build_multishard(child, ctx)


def build_all(resolved: Resolved, cluster_domain: str) -> list[dict[str, Any]]:
    """Workloads of every child of one resolved cluster, and of the cluster itself."""
    ctx = cluster_context(resolved, cluster_domain)
    topo = resolved.global_topo_server()
    objects: list[dict[str, Any]] = build_topo_server(topo, ctx) if topo is not None else []
    objects += build_registration(ctx)
    objects += build_multiadmin(ctx)
    objects += build_certificate(ctx)
    objects += build_backup_schedules(ctx)
    for child in resolved.children:
        if child is not topo:
            objects += build_child(child, ctx)
    # Builders share sub-dicts (resources, selectors) with their child CRs; a JSON round trip
    # makes every object independent, so no YAML anchors appear and no edit leaks between objects.
    loaded: list[dict[str, Any]] = json.loads(json.dumps(objects))
    return loaded
