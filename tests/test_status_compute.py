"""The status reporter's computation (krmfn_status/compute.py), as pure functions.

The objects are the minimal example's own render (real names and labels), given the statuses a
live cluster would report; multiadmin's answer is in the REST gateway's JSON shape (camelCase,
enums by name, zero values left out). Every status computed must be valid under the CRD's
status schema (the pydantic models of krmfn/api/status.py, strict).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from helpers import EXAMPLES, objects, render_paths

from krmfn import yamlio
from krmfn.api.status import STATUS_MODELS
from krmfn_status.compute import Snapshot, compute

CLUSTER = "minimal"
SHARD = ("MultiShard", "minimal-postgres-default-0")
NOW, LATER = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def _live(obj: dict[str, Any], ready: bool) -> dict[str, Any]:
    """A workload as its controller reports it: rolled out, `ready` or none of its replicas ready."""
    obj = copy.deepcopy(obj)
    obj["metadata"]["generation"] = 1
    replicas = obj["spec"].get("replicas", 1)
    obj["status"] = {"observedGeneration": 1, "updatedReplicas": replicas, "readyReplicas": replicas if ready else 0}
    return obj


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    out = render_paths(EXAMPLES / "minimal")
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects(out):
        obj = copy.deepcopy(obj)
        obj["metadata"].setdefault("generation", 1)
        if obj["kind"] in ("StatefulSet", "Deployment"):
            obj = _live(obj, ready=True)
        by_kind.setdefault(obj["kind"], []).append(obj)
    by_kind["MultigresCluster"] = [{**yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text()),
                                    "metadata": {"name": CLUSTER, "namespace": "default", "generation": 2}}]
    return by_kind


def pooler(name: str, cell: str = "zone1", role: str | None = "ROUTING_ROLE_PRIMARY", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": {"component": "MULTIPOOLER", "cell": cell, "name": name},
                           "shardKey": {"database": "postgres", "tableGroup": "default", "shard": "0-inf"}, **extra}
    if role:
        out["routingState"] = {"role": role}
    return out


HEALTHY = [pooler("zone1-p0"), pooler("zone1-p1", role="ROUTING_ROLE_REPLICA"), pooler("zone1-p2", role=None)]


def snap(rendered: dict[str, list[dict[str, Any]]], poolers: list[dict[str, Any]] | None = HEALTHY,
         now: str = NOW) -> Snapshot:
    return Snapshot(CLUSTER, copy.deepcopy(rendered), copy.deepcopy(poolers), now)


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_the_shard_key_the_example_registers(rendered) -> None:
    """The pooler fixtures use the shard name the render gives its MultiShard (what multipooler registers)."""
    shard = next(o for o in rendered["MultiShard"])
    assert shard["spec"]["shardName"] == "0-inf"


def test_a_healthy_cluster_is_available_with_the_design_fields(rendered) -> None:
    statuses = compute(snap(rendered))
    root = statuses[("MultigresCluster", CLUSTER)]
    assert _condition(root, "Available")["status"] == "True", root
    assert _condition(root, "Progressing")["status"] == "False", root
    assert root["cells"] == {"zone1": {"gatewayAvailable": "True", "topoServerAvailable": "True"}}
    assert root["databases"] == {"postgres": {"desiredInstances": 3, "readyInstances": 3, "servingWrites": "True",
                                              "multiorchAvailable": "True"}}
    assert root["globalTopoServer"] == {"etcd": {"available": "True"}}
    assert root["multiadmin"] == {"available": "True", "serviceName": "minimal-multiadmin"}
    shard = statuses[SHARD]
    assert (shard["primaryCell"], shard["primaryPooler"], shard["servingWrites"]) == ("zone1", "zone1-p0", "True")
    assert (shard["totalPods"], shard["readyPods"], shard["observedGeneration"]) == (3, 3, 1)
    assert root["observedGeneration"] == 2


def test_every_status_is_valid_under_the_crd_schema(rendered) -> None:
    for (kind, _name), status in compute(snap(rendered)).items():
        STATUS_MODELS[kind].model_validate(status, by_alias=True, by_name=False, strict=True)


def test_a_lost_primary_makes_the_shard_and_the_cluster_unavailable_with_a_message(rendered) -> None:
    statuses = compute(snap(rendered, poolers=HEALTHY[1:]))
    shard = _condition(statuses[SHARD], "Available")
    assert (shard["status"], shard["reason"]) == ("False", "NoPrimary")
    assert "no pooler of shard 0-inf is a serving primary" in shard["message"]
    root = statuses[("MultigresCluster", CLUSTER)]
    assert _condition(root, "Available")["status"] == "False"
    assert "MultiShard minimal-postgres-default-0: no pooler" in _condition(root, "Available")["message"]
    assert root["databases"]["postgres"]["servingWrites"] == "False"


def test_a_primary_that_does_not_serve_is_no_primary(rendered) -> None:
    statuses = compute(snap(rendered, poolers=[pooler("zone1-p0", servingStatus="DISABLED")]))
    assert statuses[SHARD]["servingWrites"] == "False"


def test_a_pooler_of_another_shard_is_not_this_shards_primary(rendered) -> None:
    other = pooler("zone1-x")
    other["shardKey"]["tableGroup"] = "other"
    assert compute(snap(rendered, poolers=[other]))[SHARD]["servingWrites"] == "False"


def test_multiadmin_unreachable_is_unknown_not_false(rendered) -> None:
    statuses = compute(snap(rendered, poolers=None))
    shard = statuses[SHARD]
    assert shard["servingWrites"] == "Unknown" and "primaryCell" not in shard
    assert _condition(shard, "Available")["reason"] == "MultiadminUnreachable"


def test_a_pod_not_ready_is_progressing(rendered) -> None:
    data = copy.deepcopy(rendered)
    data["StatefulSet"] = [dict(s, status={**s["status"], "readyReplicas": 2}) if "replica" in s["metadata"]["name"]
                           else s for s in data["StatefulSet"]]
    statuses = compute(snap(data))
    shard = statuses[SHARD]
    assert (shard["readyPods"], _condition(shard, "Progressing")["reason"]) == (2, "PodsNotReady")
    assert _condition(statuses[("MultigresCluster", CLUSTER)], "Progressing")["status"] == "True"


def test_a_gateway_down_makes_the_cell_unavailable(rendered) -> None:
    data = copy.deepcopy(rendered)
    data["Deployment"] = [_live(d, ready=not d["metadata"]["name"].endswith("-gateway")) for d in data["Deployment"]]
    statuses = compute(snap(data))
    cell = statuses[("MultiCell", "minimal-zone1")]
    assert (_condition(cell, "Available")["status"], cell["gatewayReadyReplicas"]) == ("False", 0)
    assert statuses[("MultigresCluster", CLUSTER)]["cells"]["zone1"]["gatewayAvailable"] == "False"


def test_a_rollout_in_progress_is_progressing(rendered) -> None:
    data = copy.deepcopy(rendered)
    for sts in data["StatefulSet"]:
        sts["metadata"]["generation"] = 2
    statuses = compute(snap(data))
    assert _condition(statuses[("TopoServer", "minimal-global")], "Progressing")["reason"] == "RollingOut"


def test_etcd_without_quorum_is_unavailable(rendered) -> None:
    data = copy.deepcopy(rendered)
    for sts in data["StatefulSet"]:
        if sts["metadata"]["name"] == "minimal-global":
            sts["status"]["readyReplicas"] = 1
    statuses = compute(snap(data))
    topo = _condition(statuses[("TopoServer", "minimal-global")], "Available")
    assert (topo["status"], topo["reason"]) == ("False", "NoQuorum")
    assert statuses[("MultigresCluster", CLUSTER)]["cells"]["zone1"]["topoServerAvailable"] == "False"


def test_a_transition_time_is_kept_while_the_condition_holds(rendered) -> None:
    """An unchanged condition keeps its time, so an idle reporter writes nothing; a flip restamps it."""
    first = compute(snap(rendered, now=NOW))
    data = copy.deepcopy(rendered)
    for shard in data["MultiShard"]:
        shard["status"] = first[SHARD]
    again = compute(snap(data, now=LATER))
    assert again[SHARD] == first[SHARD]
    flipped = compute(snap(data, poolers=[], now=LATER))
    assert _condition(flipped[SHARD], "Available")["lastTransitionTime"] == LATER
    assert _condition(flipped[SHARD], "Progressing")["lastTransitionTime"] == NOW


def test_templates_get_their_observed_generation(rendered) -> None:
    data = copy.deepcopy(rendered)
    data["MultigresDeploymentTemplate"] = [{"metadata": {"name": "t", "generation": 4}, "spec": {}}]
    assert compute(snap(data))[("MultigresDeploymentTemplate", "t")] == {"observedGeneration": 4}
