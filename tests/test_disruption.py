"""The shard's one PodDisruptionBudget: a drain never takes a shard below what its durability policy
needs to commit and to appoint a new primary (krmfn/workloads/disruption.py, docs/placement.md)."""

from __future__ import annotations

import itertools

import fixtures
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krmfn.resolve.facts import DatabaseFacts
from krmfn.workloads.disruption import shard_max_unavailable
from krmfn.workloads.shard import build_multishard


def upstream_allows(policy: str, pods: list[str], lost: tuple[int, ...]) -> bool:
    """Upstream's rules, transcribed for one set of lost pods (go/common/consensus): the rest can
    satisfy the policy, are a strict majority of the cohort, and the lost ones cannot satisfy it."""
    multi_cell, n = policy.startswith("MULTI_CELL_"), 2

    def satisfied(members: list[str]) -> bool:
        return len(set(members) if multi_cell else members) >= n

    gone = [pods[i] for i in lost]
    rest = [c for i, c in enumerate(pods) if i not in lost]
    return satisfied(rest) and len(rest) >= len(pods) // 2 + 1 and not satisfied(gone)


def brute_force(policy: str, pods_per_cell: dict[str, int]) -> int:
    """The largest k such that losing every possible k pods is allowed."""
    pods = [c for c, n in pods_per_cell.items() for _ in range(n)]
    best = 0
    for k in range(1, len(pods) + 1):
        if all(upstream_allows(policy, pods, lost) for lost in itertools.combinations(range(len(pods)), k)):
            best = k
    return best


POLICIES = ["AT_LEAST_2", "MULTI_CELL_AT_LEAST_2"]


@pytest.mark.parametrize(("policy", "pods", "expected"), [
    # the seed's orders_tg shard 0: two replicas in us-west-2, one read-only in us-east-1
    ("AT_LEAST_2", {"us-west-2": 2, "us-east-1": 1}, 1),
    ("MULTI_CELL_AT_LEAST_2", {"us-west-2": 2, "us-east-1": 1}, 0),  # losing us-east-1's pod leaves one cell
    ("AT_LEAST_2", {"a": 2}, 0),              # one loss leaves a single pooler: no commit
    ("AT_LEAST_2", {"a": 3}, 1),
    ("AT_LEAST_2", {"a": 5}, 1),              # two lost poolers could commit on their own: no revocation
    ("MULTI_CELL_AT_LEAST_2", {"a": 2, "b": 2}, 1),
    ("MULTI_CELL_AT_LEAST_2", {"a": 1, "b": 1, "c": 1}, 1),
    ("MULTI_CELL_AT_LEAST_2", {"a": 3}, 0),   # never satisfiable: nothing to keep, nothing to give
])
def test_budget(policy: str, pods: dict[str, int], expected: int) -> None:
    assert shard_max_unavailable(policy, pods) == expected == brute_force(policy, pods)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(POLICIES), st.dictionaries(st.sampled_from("abcd"), st.integers(0, 4), min_size=1))
def test_budget_is_the_largest_that_upstream_allows_for_any_lost_pods(policy: str, pods: dict[str, int]) -> None:
    assert shard_max_unavailable(policy, pods) == brute_force(policy, pods)


def _budget(policy: str) -> dict:
    db = DatabaseFacts(name="production_db", durability_policy=policy,  # type: ignore[arg-type]
                       backup=fixtures.filesystem_backup())
    ctx = fixtures.context(databases=(db,))
    (pdb,) = [o for o in build_multishard(fixtures.shard(), ctx) if o["kind"] == "PodDisruptionBudget"]
    return pdb


@pytest.mark.parametrize(("policy", "expected"), [("AT_LEAST_2", 1), ("MULTI_CELL_AT_LEAST_2", 0)])
def test_the_seed_orders_shard_budget_follows_its_database_policy(policy: str, expected: int) -> None:
    pdb = _budget(policy)
    assert pdb["spec"]["maxUnavailable"] == expected
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert selector["multigres.com/shard"] == "0" and "multigres.com/pool-type" not in selector
    assert "multigres.com/cell" not in selector
