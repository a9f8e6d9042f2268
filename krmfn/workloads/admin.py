"""MultigresCluster → multiadmin: a Deployment and its Service `<cluster>-multiadmin`.

multiadmin hangs off the root in the design, so it is built from the cluster context alone.
"""

from __future__ import annotations

from .. import defaults, naming
from . import internal_tls, log_levels, objects, topo_tls

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from .context import ClusterContext


def build_multiadmin(ctx: ClusterContext) -> list[dict[str, Any]]:
    spec = ctx.multiadmin
    if spec is None:
        return []
    name = naming.multiadmin_name(ctx.name)
    labels = naming.labels(ctx.name, "multiadmin")
    args = [*objects.server_flags("multiadmin"), *log_levels.flags(ctx, "multiadmin"),
            *objects.topo_flags(ctx.global_topo, ctx.namespace, ctx), "--service-map=grpc-multiadmin",
            # a caller only: its own gRPC stays plain text for the `multigres` CLI (internal_tls.py)
            *internal_tls.client_flags(ctx.internal_tls)]
    admin, tmp = objects.server_container("multiadmin", ctx.images.multiadmin, args, ctx.pull, spec.resources)
    volumes = [tmp]
    internal_tls.add_to(admin, volumes, ctx.internal_tls)
    topo_tls.add_to(admin, volumes, ctx.global_topo.tls)
    wave = objects.WAVES["server"]
    replicas = defaults.COMPONENT_REPLICAS["multiadmin"] if spec.replicas is None else spec.replicas
    deployment = objects.deployment(objects.metadata(name, ctx.metadata, labels, wave), labels, replicas, [admin],
                                    ctx.pull, defaults.NONROOT_UID, volumes, placement=spec.placement)
    service = objects.obj("v1", "Service", objects.metadata(name, ctx.metadata, labels, wave), {
        "type": "ClusterIP", "selector": naming.selector(labels), "ports": objects.service_ports(admin["ports"])})
    return [deployment, service]
