"""MultiTableGroup → multiorch: one Deployment per cell that hosts one of its pools.

Each watches `<db>/<tg>` (DESIGN.md §2): a table group's failover is decided in every cell
where it has instances.
"""

from __future__ import annotations

from typing import Any

from .. import defaults, naming
from . import meta
from .meta import BuildContext


def pool_cells(pools: list[dict[str, Any]]) -> list[str]:
    """Cells hosting the pools, in first-appearance order (deterministic, follows the spec)."""
    return list(dict.fromkeys(str(p["cell"]) for p in pools))


def build_multitablegroup(child: dict[str, Any], ctx: BuildContext) -> list[dict[str, Any]]:
    spec = child["spec"]
    namespace = meta.namespace_of(child)
    cluster = naming.cluster_of(child)
    tg = child["metadata"]["name"]
    orch_spec = (spec.get("multiorch") or {}).get("spec") or {}
    pull = meta.pull_of(spec)
    p = defaults.PORTS["multiorch"]
    ports = meta.ports("multiorch")
    out = []
    for cell in pool_cells((spec.get("shardTemplate") or {}).get("pools") or []):
        name = naming.multiorch_deployment(tg, cell)
        labels = naming.labels(cluster, "multiorch", **{**naming.identity_of(child), "cell": cell})
        selector = naming.selector(labels)
        tmp_vol, tmp_mount = meta.tmp_volume()
        args = [
            f"--http-port={p['http']}", f"--grpc-port={p['grpc']}", f"--cell={cell}",
            f"--watch-targets={spec['databaseName']}/{spec['tableGroupName']}",
            *meta.topo_flags(spec["globalTopoServer"], namespace, ctx),
            "--hostname=$(POD_IP)", "--service-id=$(POD_NAME)",
        ]
        orch = meta.container(
            "multiorch", spec["images"]["multiorch"], [f"{defaults.MULTIGRES_BIN}/multiorch"], args, pull,
            container_ports=ports, resources=orch_spec.get("resources"),
            probes={"livenessProbe": meta.http_probe("/live", "http", delay=10),
                    "readinessProbe": meta.http_probe("/ready", "http", period=5)},
            mounts=[tmp_mount])
        out.append(meta.obj("apps/v1", "Deployment", meta.metadata(name, child, labels, meta.WAVES["server"]), {
            "replicas": int(orch_spec.get("replicas", defaults.COMPONENT_REPLICAS["multiorch"])),
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": meta.pod_spec([orch], pull, defaults.NONROOT_UID, selector=selector,
                                               volumes=[tmp_vol])},
        }))
    return out
