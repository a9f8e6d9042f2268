"""`tree`: the resolved hierarchy with the counts known at render time (the design's status).

A render function has no live status; what it can promise is the desired side: instances per
database, cells and their topo source, and where each instance goes (the pool StatefulSet).
"""

from __future__ import annotations

from typing import Any

from . import naming
from .resolve.cluster import Resolved


def _branch(lines: list[str], prefix: str, entries: list[tuple[str, Any]]) -> None:
    """entries: (label, children) where children is a list of the same shape."""
    for i, (label, children) in enumerate(entries):
        last = i == len(entries) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
        _branch(lines, prefix + ("    " if last else "│   "), children)


def desired_instances(database: dict[str, Any]) -> int:
    """Pods a database asks for: shards × pool replicas, summed over its table groups."""
    return sum(tg["shards"] * sum(p["replicas"] for p in tg["pools"]) for tg in database["tableGroups"])


def _topo_label(resolved: Resolved) -> str:
    g = resolved.global_topo
    if "address" in g:
        return f"global topo: external {g['address']} (root {g['rootPath']})"
    topo = next(c for c in resolved.of_kind("TopoServer") if c["metadata"]["labels"].get(
        "multigres.com/topo-scope") == "global")
    spec = topo["spec"]
    return (f"global topo: managed TopoServer {topo['metadata']['name']} ({spec['replicas']} × {spec['image']}, "
            f"root {spec['rootPath']})")


def _cell_label(cell: dict[str, Any]) -> str:
    spec = cell["spec"]
    topo = spec["topoServer"]
    if "global" in topo:
        source = f"topo global (root {topo['global']['rootPath']})"
    elif "external" in topo:
        source = f"topo external {topo['external']['address']} (root {topo['external']['rootPath']})"
    else:
        managed = topo["managedSpec"]
        source = f"topo managed local, {managed['replicas']} × etcd (root {managed['rootPath']})"
    return f"cell {spec['name']}: {source}; multigateway × {spec['multiGateway'].get('replicas', 0)}"


def _database_entries(resolved: Resolved, database: dict[str, Any]) -> list[tuple[str, Any]]:
    entries = []
    for tg in database["tableGroups"]:
        shards = []
        for s in range(tg["shards"]):
            shard = naming.shard_name(resolved.name, database["name"], tg["name"], s)
            pools: list[tuple[str, list[Any]]] = [
                (f"pool {p['type']} @ {p['cell']}: {p['replicas']} instance(s) → StatefulSet "
                 f"{naming.pool_name(shard, p['type'], p['cell'])}", []) for p in tg["pools"]]
            shards.append((f"shard {s} (MultiShard {shard})", pools))
        per_shard = sum(p["replicas"] for p in tg["pools"])
        entries.append((f"table group {tg['name']}: {tg['shards']} shard(s) × {per_shard} = "
                        f"{tg['shards'] * per_shard} instance(s)", shards))
    return entries


def format_tree(resolved_clusters: list[Resolved], items: Any = None) -> str:
    lines: list[str] = []
    for resolved in resolved_clusters:
        lines.append(f"MultigresCluster {resolved.namespace or ''}/{resolved.name}")
        cells = resolved.of_kind("MultiCell")
        dbs = [(f"database {db['name']}: desiredInstances {desired_instances(db)} "
                f"(durability {db['durabilityPolicy']})", _database_entries(resolved, db))
               for db in resolved.databases]
        admin = resolved.multiadmin or {}
        _branch(lines, "", [
            (_topo_label(resolved), []),
            (f"cells ({len(cells)})", [(_cell_label(c), []) for c in cells]),
            (f"multiadmin × {admin.get('replicas', 0)} (Service {naming.multiadmin_name(resolved.name)})", []),
            (f"databases ({len(dbs)})", dbs),
        ])
    return "\n".join(lines) + ("\n" if lines else "")
