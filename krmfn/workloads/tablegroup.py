"""MultiTableGroup → multiorch: one Deployment per cell that hosts one of its pools.

Each watches `<db>/<tg>` (docs/design.md, "Deviations"): a table group's failover is decided in every cell
where it has instances.
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects
from .objects import BuildContext

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def pool_cells(pools: list[dict[str, Any]]) -> list[str]:
    """Cells hosting the pools, in first-appearance order (deterministic, follows the spec)."""
    return list(dict.fromkeys(str(p["cell"]) for p in pools))


def build_multitablegroup(child: dict[str, Any], ctx: BuildContext) -> list[dict[str, Any]]:
    spec = child["spec"]
    namespace = objects.namespace_of(child)
    cluster = naming.cluster_of(child)
    tg = child["metadata"]["name"]
    orch_spec = (spec.get("multiorch") or {}).get("spec") or {}
    pull = objects.pull_of(spec)
    replicas = int(orch_spec.get("replicas", defaults.COMPONENT_REPLICAS["multiorch"]))
    out = []
    for cell in pool_cells((spec.get("shardTemplate") or {}).get("pools") or []):
        name = naming.multiorch_deployment(tg, cell)
        labels = naming.labels(cluster, "multiorch", **{**naming.identity_of(child), "cell": cell})
        args = [
            *objects.server_flags("multiorch"), f"--cell={cell}",
            f"--watch-targets={spec['databaseName']}/{spec['tableGroupName']}",
            *(f"--{flag}={value}" for flag, value in defaults.MULTIORCH_TIMING.items()),
            *objects.topo_flags(spec["globalTopoServer"], namespace, ctx), *objects.DEPLOYMENT_IDENTITY,
        ]
        orch, tmp = objects.server_container("multiorch", spec["images"]["multiorch"], args, pull,
                                          orch_spec.get("resources"))
        out.append(objects.deployment(objects.metadata(name, child, labels, objects.WAVES["server"]), labels, replicas,
                                   [orch], pull, defaults.NONROOT_UID, [tmp]))
    return out
