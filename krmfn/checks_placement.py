"""Placement checks (the style of checks.py: small pure functions, results with a field path).

Cells are Multigres' failure domains: the durability policies, one gateway and one multiorch per
cell protect data only if each cell's pods run in a failure domain of their own.
"""

from __future__ import annotations

from .resolve.placement import cell_domain
from .results import Result, error, warning
from .workloads.disruption import shard_max_unavailable, survives

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from .api.cluster import CellSpec, MultigresCluster
    from .resolve.cluster import Child


def _selects_nodes(spec: CellSpec | None) -> bool:
    """Whether a cell says where its pods run: zone, region, a nodeSelector or node affinity."""
    if spec is None:
        return False
    placement = spec.placement
    return bool(spec.zone or spec.region or (placement is not None and (
        placement.node_selector or (placement.affinity is not None and placement.affinity.node_affinity))))


def check_cells_placed(cluster: MultigresCluster) -> list[Result]:
    """Several cells, and one of them with no node selection: its pods may share nodes, or a zone,
    with another cell's, and one outage then takes both."""
    cells = (cluster.spec.cells.templates if cluster.spec.cells else None) or []
    if len(cells) < 2:
        return []
    return [warning(f"cell {c.name!r} does not say where its pods run, so they may share a zone or a node with "
                    "another cell's and one outage takes both cells. Set zone (or region, or "
                    "placement.nodeSelector) on every cell (docs/placement.md).", f"spec.cells.templates[{i}].spec")
            for i, c in enumerate(cells) if not _selects_nodes(c.spec)]


def check_cell_domain_choice(cluster: MultigresCluster) -> list[Result]:
    """A cell is a zone or a region (the CRD's CEL rule says so too; a render without an API
    server must say it as well)."""
    cells = (cluster.spec.cells.templates if cluster.spec.cells else None) or []
    return [error(f"cell {c.name!r} sets both zone and region; a cell is one failure domain: keep zone (a zone "
                  "implies its region) or region.", f"spec.cells.templates[{i}].spec.region")
            for i, c in enumerate(cells) if c.spec is not None and c.spec.zone and c.spec.region]


def _domain_path(spec: CellSpec) -> str:
    if spec.zone:
        return "zone"
    if spec.region:
        return "region"
    return "placement.nodeSelector"


def _multi_cell_users(cluster: MultigresCluster) -> dict[str, list[str]]:
    """Cell name → the databases with a MULTI_CELL_* policy that have a pool in it."""
    out: dict[str, list[str]] = {}
    for db in (cluster.spec.databases.templates if cluster.spec.databases else None) or []:
        policy = db.spec.durability_policy if db.spec else None
        if not (policy or "").startswith("MULTI_CELL_"):
            continue
        for tg in (db.spec.tablegroups if db.spec else None) or []:
            for pool in (tg.shard_template.pools if tg.shard_template else None) or []:
                users = out.setdefault(pool.cell, [])
                if db.name not in users:
                    users.append(db.name)
    return out


def check_multi_cell_domains(cluster: MultigresCluster) -> list[Result]:
    """Two cells of a MULTI_CELL_* database in one zone (or region): the policy's cross-cell
    acknowledgement may then come from the same zone, and promises nothing about losing it."""
    users = _multi_cell_users(cluster)
    seen: dict[tuple[str, str], str] = {}
    out = []
    for i, cell in enumerate((cluster.spec.cells.templates if cluster.spec.cells else None) or []):
        domain = cell_domain(cell.spec)
        if domain is None or cell.name not in users or cell.spec is None:
            continue
        if domain in seen:
            key, value = domain
            out.append(error(f"cells {seen[domain]!r} and {cell.name!r} are both in {key}={value}, and database(s) "
                             f"{', '.join(users[cell.name])} use a MULTI_CELL_* durability policy: a commit "
                             "acknowledged by both cells is then still in one zone, so the policy promises nothing. "
                             "Give each cell its own zone (or region).",
                             f"spec.cells.templates[{i}].spec.{_domain_path(cell.spec)}"))
        else:
            seen[domain] = cell.name
    return out


def check_shard_budget(child: Child) -> list[Result]:
    """A shard whose disruption budget allows no eviction: every drain of a node with one of its
    pods waits for a human (workloads/disruption.py says why)."""
    if child.kind != "MultiTableGroup":
        return []
    pods: dict[str, int] = {}
    for pool in child.spec.shard_template.pools:
        pods[pool.cell] = pods.get(pool.cell, 0) + pool.replicas
    policy = child.spec.durability_policy
    if not survives(policy, pods, 0) or shard_max_unavailable(policy, pods):
        return []  # check_durability speaks of a shard that cannot commit at all
    return [warning(f"each shard's pods ({', '.join(f'{n} in {c}' for c, n in pods.items())}) cannot lose one pod "
                    f"and still commit under {policy}, so their PodDisruptionBudget allows "
                    "no eviction and a node drain waits until you act. Add a pod, or a pool in another cell, "
                    "so that one pod may go (docs/placement.md, Disruption budgets).", "spec.shardTemplate.pools")]
