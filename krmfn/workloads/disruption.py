"""How many pooler pods of one shard a voluntary disruption (a drain) may take at once.

One PodDisruptionBudget covers every pooler pod of a shard, all pools and cells together, because
what must survive a drain is the shard's ability to commit, and upstream counts the shard's poolers
as one cohort: every pooler of the shard is a member, whatever its pool type
(go/services/multiorch/store/pooler_store.go, CohortEligibleFollowerIDs: "eligibility is
membership, not streaming state or role"). A pod in two budgets could not be evicted at all (the
eviction API refuses a pod matched by more than one), so the per-pool budgets are gone.

The budget is the largest k such that losing ANY k pods of the shard (the budget cannot choose
which) leaves a shard that can still commit, even if one of them was the primary:

- the policy is still satisfiable by the rest: AT_LEAST_N needs N poolers
  (go/common/consensus/policy_at_least_n.go, SatisfiedBy), MULTI_CELL_AT_LEAST_N poolers in N
  distinct cells (go/common/consensus/policy_multi_cell.go, SatisfiedBy);
- a new primary can be appointed: the recruited poolers must be a strict majority of the cohort,
  and the poolers left out (the evicted ones) must not be able to satisfy the policy on their own
  (go/common/consensus/durability.go, CheckSufficientRecruitment: majority and revocation).

For the N=2 policies Multigres has, that is at most one pod at a time, and none when one more
loss would leave fewer than two poolers, or (MULTI_CELL_AT_LEAST_2) only one cell (docs/placement.md).
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..api.generated.child_types import MultiShard
    from .context import ClusterContext


def policy_terms(policy: str) -> tuple[bool, int]:
    """(counts cells?, N) of a durability policy name: MULTI_CELL_AT_LEAST_2 → (True, 2)."""
    multi_cell = policy.startswith("MULTI_CELL_")
    return multi_cell, int(policy.rsplit("_", 1)[1])


def cells_left_at_worst(pods_per_cell: Mapping[str, int], lost: int) -> int:
    """Cells that still have a pod when `lost` pods go, the smallest cells emptied first."""
    sizes = sorted(n for n in pods_per_cell.values() if n > 0)
    emptied = 0
    for size in sizes:
        if size > lost:
            break
        lost -= size
        emptied += 1
    return len(sizes) - emptied


def survives(policy: str, pods_per_cell: Mapping[str, int], lost: int) -> bool:
    """Whether the shard can still commit and fail over after losing any `lost` of its pods."""
    multi_cell, n = policy_terms(policy)
    total = sum(pods_per_cell.values())
    left = total - lost
    if left < total // 2 + 1 or lost >= n:  # majority; the lost ones cannot satisfy N on their own
        return False
    if multi_cell:
        return cells_left_at_worst(pods_per_cell, lost) >= n
    return left >= n


def shard_max_unavailable(policy: str, pods_per_cell: Mapping[str, int]) -> int:
    """The shard budget's maxUnavailable: the most pods any drain may take at once (0: none)."""
    lost = sum(pods_per_cell.values())
    while lost > 0 and not survives(policy, pods_per_cell, lost):
        lost -= 1
    return lost


def shard_budget(child: MultiShard, ctx: ClusterContext) -> list[dict[str, Any]]:
    """The shard's one PodDisruptionBudget over every pooler pod of all its pools (none without pods)."""
    meta, spec = child.metadata, child.spec
    pods: dict[str, int] = {}
    for pool in spec.pools:
        pods[pool.cell] = pods.get(pool.cell, 0) + pool.replicas
    if not sum(pods.values()):
        return []
    policy = next((db.durability_policy for db in ctx.databases if db.name == spec.database_name),
                  defaults.DURABILITY_POLICY)
    labels = naming.labels(naming.cluster_of(meta), "multipooler", **naming.identity_of(meta))
    pdb_meta = objects.metadata(naming.shard_pdb(meta["name"]), meta, labels, objects.WAVES["server"])
    return [objects.disruption_budget(pdb_meta, labels, shard_max_unavailable(policy, pods))]
