"""`tree`: the resolved hierarchy with the counts known at render time (the design's status).

A render function has no live status; what it can promise is the desired side: instances per
database, cells and their topo source, and where each instance goes (the pool StatefulSet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import naming

if TYPE_CHECKING:
    from .api.generated.child_types import MultiCell
    from .resolve.cluster import Resolved
    from .resolve.facts import DatabaseFacts


def _branch(lines: list[str], prefix: str, entries: list[tuple[str, Any]]) -> None:
    """entries: (label, children) where children is a list of the same shape."""
    for i, (label, children) in enumerate(entries):
        last = i == len(entries) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
        _branch(lines, prefix + ("    " if last else "│   "), children)


def _topo_label(resolved: Resolved) -> str:
    g = resolved.global_topo
    if g.address is not None:
        return f"global topo: external {g.address} (root {g.root_path})"
    topo = resolved.global_topo_server()
    assert topo is not None  # the global topo is external (above) or a rendered TopoServer
    spec = topo.spec
    return (f"global topo: managed TopoServer {topo.metadata['name']} ({spec.replicas} × {spec.image}, "
            f"root {spec.root_path})")


def _cell_label(cell: MultiCell) -> str:
    spec = cell.spec
    topo = spec.topo_server
    if topo.global_ is not None:
        source = f"topo global (root {topo.global_.root_path})"
    elif topo.external is not None:
        source = f"topo external {topo.external.address} (root {topo.external.root_path})"
    else:
        managed = topo.managed_spec
        assert managed is not None  # exactly one of the three (the CRD's rule)
        source = f"topo managed local, {managed.replicas} × etcd (root {managed.root_path})"
    return f"cell {spec.name}: {source}; multigateway × {spec.multi_gateway.replicas or 0}"


def _database_entries(resolved: Resolved, database: DatabaseFacts) -> list[tuple[str, Any]]:
    entries = []
    for tg in database.table_groups:
        shards = []
        for s in range(tg.shards):
            shard = naming.shard_name(resolved.name, database.name, tg.name, s)
            pools: list[tuple[str, list[Any]]] = [
                (f"pool {p.type} @ {p.cell}: {p.replicas} instance(s) → StatefulSet "
                 f"{naming.pool_name(shard, p.type, p.cell)}", []) for p in tg.pools]
            shards.append((f"shard {s} (MultiShard {shard})", pools))
        per_shard = sum(p.replicas for p in tg.pools)
        entries.append((f"table group {tg.name}: {tg.shards} shard(s) × {per_shard} = "
                        f"{tg.shards * per_shard} instance(s)", shards))
    return entries


def format_tree(resolved_clusters: list[Resolved]) -> str:
    lines: list[str] = []
    for resolved in resolved_clusters:
        lines.append(f"MultigresCluster {resolved.namespace or ''}/{resolved.name}")
        cells = [c for c in resolved.children if c.kind == "MultiCell"]
        dbs = [(f"database {db.name}: desiredInstances {db.desired_instances()} "
                f"(durability {db.durability_policy})", _database_entries(resolved, db))
               for db in resolved.databases]
        replicas = resolved.multiadmin.replicas if resolved.multiadmin is not None else None
        _branch(lines, "", [
            (_topo_label(resolved), []),
            (f"cells ({len(cells)})", [(_cell_label(c), []) for c in cells]),
            (f"multiadmin × {replicas or 0} (Service {naming.multiadmin_name(resolved.name)})", []),
            (f"databases ({len(dbs)})", dbs),
        ])
    return "\n".join(lines) + ("\n" if lines else "")
