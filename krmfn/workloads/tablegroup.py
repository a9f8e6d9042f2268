"""MultiTableGroup → multiorch: one Deployment per cell that hosts one of its pools.

Each watches `<db>/<tg>` (docs/design.md, "Deviations"): a table group's failover is decided in every cell
where it has instances.
"""

from __future__ import annotations

from .. import defaults, naming
from . import internal_tls, log_levels, objects, topo_tls

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import MultiTableGroup
    from .context import ClusterContext


def build_multitablegroup(child: MultiTableGroup, ctx: ClusterContext) -> list[dict[str, Any]]:
    spec, meta = child.spec, child.metadata
    namespace = objects.namespace_of(meta)
    orch_spec = spec.multiorch.spec
    pull = objects.pull_of(spec)
    replicas = defaults.COMPONENT_REPLICAS["multiorch"] if orch_spec.replicas is None else orch_spec.replicas
    out = []
    for cell in objects.pool_cells(spec.shard_template.pools):
        name = naming.multiorch_deployment(meta["name"], cell)
        labels = naming.labels(naming.cluster_of(meta), "multiorch", **{**naming.identity_of(meta), "cell": cell})
        args = [
            *objects.server_flags("multiorch"), *log_levels.flags(ctx, "multiorch"), f"--cell={cell}",
            f"--watch-targets={spec.database_name}/{spec.table_group_name}",
            *(f"--{flag}={value}" for flag, value in defaults.MULTIORCH_TIMING.items()),
            *objects.topo_flags(spec.global_topo_server, namespace, ctx), *objects.DEPLOYMENT_IDENTITY,
            *internal_tls.server_flags(spec.internal_tls), *internal_tls.client_flags(spec.internal_tls),
        ]
        orch, tmp = objects.server_container("multiorch", spec.images.multiorch, args, pull, orch_spec.resources)
        volumes = [tmp]
        internal_tls.add_to(orch, volumes, spec.internal_tls)
        topo_tls.add_to(orch, volumes, spec.global_topo_server.tls)
        out.append(objects.deployment(objects.metadata(name, meta, labels, objects.WAVES["server"]), labels, replicas,
                                      [orch], pull, defaults.NONROOT_UID, volumes,
                                      placement=(spec.multiorch.cell_placements or {}).get(cell)))
    return out
