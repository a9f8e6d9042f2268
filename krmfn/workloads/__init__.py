"""Build stage: one typed child CR plus the read-only cluster context in, Kubernetes objects out.

Each child builder takes one child of its kind and the ClusterContext (context.py) and nothing
else; multiadmin, topology registration and the pgBackRest Certificate hang off the cluster and
take the context alone. Output order is fixed: global topo, registration, multiadmin, the
Certificate, the scheduled-backup CronJobs, then every other child in resolve order; NetworkPolicies
come with what they protect (the cluster's own ones, for multiadmin, gateways, multiorch and the
registration Job, right after the global topo) (docs/design.md, "Stages").
"""

from __future__ import annotations

from .. import defaults, naming
from .admin import build_multiadmin
from .backup import build_backup_schedules
from .cell import build_multicell
from .certificate import (
    build_certificate,
    build_gateway_certificate,
    build_internal_certificate,
    build_topo_certificate,
)
from .context import ClusterContext
from .monitoring import instrument, monitoring_objects
from .network_policy import build_cluster_policies, build_shard_policy, build_table_group_policy, build_topo_policy
from .registration import build_registration
from .shard import build_multishard
from .tablegroup import build_multitablegroup
from .topo import build_topo_server

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import ResolvedPool
    from ..resolve.cluster import Child, Resolved


def cluster_context(resolved: Resolved, cluster_domain: str) -> ClusterContext:
    """The context every builder of one cluster shares."""
    topo = resolved.global_topo_server()
    image = topo.spec.image if topo is not None else defaults.ETCD_IMAGE
    return ClusterContext(name=resolved.name, namespace=resolved.namespace, cluster_domain=cluster_domain,
                          images=resolved.images, pull=resolved.pull, multiadmin=resolved.multiadmin,
                          global_topo=resolved.global_topo, topo_image=image, cells=tuple(resolved.cells),
                          databases=tuple(resolved.databases), pgbackrest_tls_secret=resolved.pgbackrest_tls_secret,
                          cert_manager_issuer=resolved.cert_manager_issuer, gateway_issuer=_gateway_issuer(resolved),
                          internal_tls=resolved.internal_tls, internal_issuer=resolved.internal_issuer,
                          topo_issuer=resolved.topo_issuer,
                          placement=resolved.placement.cluster,
                          monitoring=resolved.monitoring,
                          network_policy=resolved.network_policy, log_levels=resolved.log_levels)


def _gateway_issuer(resolved: Resolved) -> tuple[str, dict[str, Any], tuple[str, ...]] | None:
    if resolved.gateway_tls is None or resolved.gateway_issuer is None:
        return None
    return resolved.gateway_tls.secret_name, resolved.gateway_issuer, tuple(resolved.gateway_extra_names)


def build_child(child: Child, ctx: ClusterContext) -> list[dict[str, Any]]:
    """The workloads of one child CR, by its kind."""
    if child.kind == "TopoServer":
        return build_topo_server(child, ctx) + build_topo_policy(child, ctx)
    if child.kind == "MultiCell":
        return build_multicell(child, ctx)
    if child.kind == "MultiTableGroup":
        return build_multitablegroup(child, ctx) + build_table_group_policy(child, ctx)
    return build_multishard(child, ctx) + build_shard_policy(child, ctx)


def pool_map(children: list[Child]) -> dict[str, ResolvedPool]:
    """Each pool StatefulSet's name and its resolved pool (what monitoring reads per pool)."""
    out = {}
    for child in children:
        if child.kind == "MultiShard":
            for pool in child.spec.pools:
                out[naming.pool_name(child.metadata["name"], pool.type, pool.cell)] = pool
    return out


def build_extras(resolved: Resolved, cluster_domain: str, reporter_image: str | None,
                 spec_writers: list[str] | None) -> list[dict[str, Any]]:
    """The cluster-level objects the options add: the status reporter (when given its image) and
    the read-only policy of the children (when given who may write their spec)."""
    from .readonly import build_read_only_policy
    from .reporter import build_status_reporter

    ctx = cluster_context(resolved, cluster_domain)
    out = build_status_reporter(ctx, reporter_image) if reporter_image else []
    if spec_writers is not None:
        out += build_read_only_policy(ctx, spec_writers)
    return [_own_metadata(obj) for obj in out]


def build_all(resolved: Resolved, cluster_domain: str) -> list[dict[str, Any]]:
    """Workloads of every child of one resolved cluster, and of the cluster itself."""
    ctx = cluster_context(resolved, cluster_domain)
    topo = resolved.global_topo_server()
    objects: list[dict[str, Any]] = build_child(topo, ctx) if topo is not None else []
    objects += build_cluster_policies(ctx)
    objects += build_registration(ctx)
    objects += build_multiadmin(ctx)
    objects += build_certificate(ctx)
    objects += build_gateway_certificate(ctx)
    objects += build_internal_certificate(ctx)
    objects += build_topo_certificate(ctx)
    objects += build_backup_schedules(ctx)
    for child in resolved.children:
        if child is not topo:
            objects += build_child(child, ctx)
    if ctx.monitoring is not None:
        pools = pool_map(resolved.children)
        instrument(objects, pools, ctx)
        objects += monitoring_objects(ctx, pools, topo is not None)
    # Builders share sub-dicts (resources, selectors, pull secrets) with their child CRs and with
    # each other, and nothing edits them after this point except the render's annotations: each
    # object gets its own metadata and annotations, and the rest stays shared (the writer emits no
    # anchors). A JSON round trip of everything was half of a large render's time, and copied a
    # 300,000-entry list into every pod.
    return [_own_metadata(obj) for obj in objects]


def _own_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj["metadata"])
    if "annotations" in meta:
        meta["annotations"] = dict(meta["annotations"])
    return {**obj, "metadata": meta}
