"""What the status of each of the six kinds is, from what the API server and multiadmin say.

Pure functions over plain dicts (the objects as the API server serves them, multiadmin's
`GetPoolers` answer as its REST gateway serves it): no client, no clock. `compute` returns the
status to write for every object of one cluster; `main.py` only feeds it and writes the result.

Conditions follow Kubernetes' convention: `Available` (the thing works) and `Progressing` (it is
still moving toward its spec), each with a CamelCase reason and a message a person can act on.
`lastTransitionTime` is carried over from the previous status while a condition's status is
unchanged, so a write only happens when something changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from krmfn import naming

Obj = dict[str, Any]
GROUP = naming.GROUP
PRIMARY_ROLE = "ROUTING_ROLE_PRIMARY"


@dataclass
class Snapshot:
    """One cluster as the reporter last saw it: objects by kind, and multiadmin's poolers
    (None when multiadmin did not answer: then what depends on it is "Unknown")."""

    cluster: str
    objects: dict[str, list[Obj]] = field(default_factory=dict)
    poolers: list[Obj] | None = None
    now: str = "1970-01-01T00:00:00Z"

    def of(self, kind: str, **labels: str) -> list[Obj]:
        """The objects of a kind that carry these multigres.com/ labels (and this cluster's)."""
        want = {f"{GROUP}/cluster": self.cluster} | {f"{GROUP}/{k.replace('_', '-')}": v for k, v in labels.items()}
        return [o for o in self.objects.get(kind, [])
                if want.items() <= (o.get("metadata", {}).get("labels") or {}).items()]

    def named(self, kind: str, name: str) -> Obj | None:
        return next((o for o in self.objects.get(kind, []) if o["metadata"]["name"] == name), None)


def condition(kind: str, ok: bool | None, reason: str, message: str) -> Obj:
    status = "Unknown" if ok is None else "True" if ok else "False"
    return {"type": kind, "status": status, "reason": reason, "message": message}


def word(ok: bool | None) -> str:
    return "Unknown" if ok is None else "True" if ok else "False"


def _available(conditions: list[Obj]) -> bool | None:
    found = next((c["status"] for c in conditions if c["type"] == "Available"), "Unknown")
    return None if found == "Unknown" else found == "True"


def _replicas(workload: Obj | None) -> tuple[int, int]:
    """(desired, ready) of a Deployment or StatefulSet; (0, 0) when it does not exist yet."""
    if workload is None:
        return 0, 0
    spec_replicas = workload.get("spec", {}).get("replicas")
    desired = 1 if spec_replicas is None else int(spec_replicas)
    return desired, int(workload.get("status", {}).get("readyReplicas") or 0)


def _rolled_out(workload: Obj | None) -> bool:
    """The controller has seen the workload's latest spec and every replica runs it."""
    if workload is None:
        return False
    status, desired = workload.get("status", {}), _replicas(workload)[0]
    seen = status.get("observedGeneration", 0) >= workload["metadata"].get("generation", 0)
    return bool(seen and int(status.get("updatedReplicas") or 0) >= desired)


def _progressing(what: str, workloads: list[Obj | None]) -> Obj:
    missing = [w for w in workloads if w is None]
    pending = [w["metadata"]["name"] for w in workloads if w is not None and not _rolled_out(w)]
    if missing:
        return condition("Progressing", True, "WorkloadMissing", f"{what}: a workload does not exist yet")
    if pending:
        return condition("Progressing", True, "RollingOut", f"{what}: rolling out {', '.join(pending)}")
    return condition("Progressing", False, "RolledOut", f"{what}: every workload runs its latest spec")


def topo_server(snap: Snapshot, obj: Obj) -> Obj:
    name = obj["metadata"]["name"]
    sts = snap.named("StatefulSet", naming.topo_statefulset(name))
    desired, ready = _replicas(sts)
    quorum = desired // 2 + 1
    ok = sts is not None and ready >= quorum
    reason = "QuorumReady" if ok else "NoWorkload" if sts is None else "NoQuorum"
    return {"replicas": desired, "readyReplicas": ready,
            "clientServiceName": naming.topo_client_service(name), "peerServiceName": naming.topo_peer_service(name),
            "conditions": [condition("Available", ok, reason, f"etcd: {ready}/{desired} members ready "
                                     f"(quorum {quorum})"), _progressing("etcd", [sts])]}


def multi_cell(snap: Snapshot, obj: Obj) -> Obj:
    name = obj["metadata"]["name"]
    deploy = snap.named("Deployment", naming.gateway_name(name))
    desired, ready = _replicas(deploy)
    ok = ready >= 1
    reason = "GatewayReady" if ok else "NoWorkload" if deploy is None else "GatewayNotReady"
    return {"gatewayReplicas": desired, "gatewayReadyReplicas": ready,
            "gatewayServiceName": naming.gateway_name(name),
            "conditions": [condition("Available", ok, reason, f"multigateway: {ready}/{desired} ready"),
                           _progressing("multigateway", [deploy])]}


def _shard_key(spec: Obj) -> tuple[str, str, str]:
    return spec.get("databaseName", ""), spec.get("tableGroupName", ""), spec.get("shardName", "")


def _primary(poolers: list[Obj], key: tuple[str, str, str]) -> Obj | None:
    """The shard's writable pooler: routing role PRIMARY and serving (proto3 JSON omits the zero
    enum values, so a missing servingStatus is SERVING)."""
    for pooler in poolers:
        shard = pooler.get("shardKey", {})
        if (shard.get("database", ""), shard.get("tableGroup", ""), shard.get("shard", "")) != key:
            continue
        role = pooler.get("routingState", {}).get("role")
        if role == PRIMARY_ROLE and pooler.get("servingStatus", "SERVING") == "SERVING":
            return pooler
    return None


def _writes(snap: Snapshot, key: tuple[str, str, str]) -> tuple[bool | None, Obj | None]:
    if snap.poolers is None:
        return None, None
    primary = _primary(snap.poolers, key)
    return primary is not None, primary


def multi_shard(snap: Snapshot, obj: Obj) -> Obj:
    spec, labels = obj.get("spec", {}), obj["metadata"].get("labels") or {}
    pools = snap.of("StatefulSet", database=labels.get(f"{GROUP}/database", ""),
                    table_group=labels.get(f"{GROUP}/table-group", ""), shard=labels.get(f"{GROUP}/shard", ""))
    total = sum(_replicas(p)[0] for p in pools)
    ready = sum(_replicas(p)[1] for p in pools)
    serving, primary = _writes(snap, _shard_key(spec))
    out: Obj = {"totalPods": total, "readyPods": ready, "servingWrites": word(serving)}
    if primary is not None:
        out["primaryCell"] = primary.get("id", {}).get("cell", "")
        out["primaryPooler"] = primary.get("id", {}).get("name", "")
    if serving is None:
        available = condition("Available", None, "MultiadminUnreachable",
                              f"{ready}/{total} pods ready; multiadmin did not answer, so the primary is unknown")
    elif serving:
        available = condition("Available", True, "Serving", f"Shard is serving writes on {out['primaryPooler']} "
                              f"in cell {out['primaryCell']}; {ready}/{total} pods ready")
    else:
        available = condition("Available", False, "NoPrimary", f"no pooler of shard {_shard_key(spec)[2]} is a "
                              f"serving primary (multiadmin GetPoolers); {ready}/{total} pods ready")
    progressing = _progressing("pools", [*pools] or [None])
    if progressing["status"] == "False" and ready < total:
        progressing = condition("Progressing", True, "PodsNotReady", f"{ready}/{total} pods ready")
    out["conditions"] = [available, progressing]
    return out


def multi_table_group(snap: Snapshot, obj: Obj, shard_status: dict[str, Obj]) -> Obj:
    labels = obj["metadata"].get("labels") or {}
    ident = {"database": labels.get(f"{GROUP}/database", ""), "table_group": labels.get(f"{GROUP}/table-group", "")}
    shards = [s["metadata"]["name"] for s in snap.of("MultiShard", **ident)]
    ready = [s for s in shards if _available(shard_status.get(s, {}).get("conditions", [])) is True]
    orchs = [d for d in snap.of("Deployment", **ident)
             if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "multiorch"]
    orch_ok = bool(orchs) and all(_replicas(d)[1] >= 1 for d in orchs)
    ok = orch_ok and len(ready) == len(shards) > 0
    message = f"{len(ready)}/{len(shards)} shards available; multiorch {'available' if orch_ok else 'not available'}"
    return {"shards": len(shards), "readyShards": len(ready), "multiorchAvailable": word(orch_ok),
            "conditions": [condition("Available", ok, "AllShardsAvailable" if ok else "Degraded", message),
                           _progressing("multiorch", [*orchs] or [None])]}


def _cell_topo(snap: Snapshot, cell: Obj, statuses: dict[tuple[str, str], Obj]) -> bool | None:
    choice = cell.get("spec", {}).get("topoServer", {})
    if "global" in choice:
        name = naming.global_topo_name(snap.cluster)
    elif "managedSpec" in choice:
        name = naming.cell_topo_name(snap.cluster, cell.get("spec", {}).get("name", ""))
    else:
        return None  # an external etcd: nothing here observes it
    return _available(statuses.get(("TopoServer", name), {}).get("conditions", []))


def _databases(snap: Snapshot, statuses: dict[tuple[str, str], Obj]) -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    for shard in snap.of("MultiShard"):
        db = shard.get("spec", {}).get("databaseName", "")
        st = statuses[("MultiShard", shard["metadata"]["name"])]
        entry = out.setdefault(db, {"desiredInstances": 0, "readyInstances": 0, "servingWrites": "True",
                                    "multiorchAvailable": "True"})
        entry["desiredInstances"] += st["totalPods"]
        entry["readyInstances"] += st["readyPods"]
        if entry["servingWrites"] != "False" and st["servingWrites"] != "True":
            entry["servingWrites"] = st["servingWrites"]
    for group in snap.of("MultiTableGroup"):
        db = group.get("spec", {}).get("databaseName", "")
        if db in out and statuses[("MultiTableGroup", group["metadata"]["name"])]["multiorchAvailable"] != "True":
            out[db]["multiorchAvailable"] = "False"
    return out


def cluster(snap: Snapshot, obj: Obj, statuses: dict[tuple[str, str], Obj]) -> Obj:
    """The root's summary: the design's per-cell and per-database fields, and conditions over
    every child (Available when all are, Progressing when any is)."""
    global_topo = _available(statuses.get(("TopoServer", naming.global_topo_name(snap.cluster)), {})
                             .get("conditions", []))
    cells = {c.get("spec", {}).get("name", ""): {
        "gatewayAvailable": word(_available(statuses[("MultiCell", c["metadata"]["name"])]["conditions"])),
        "topoServerAvailable": word(_cell_topo(snap, c, statuses))} for c in snap.of("MultiCell")}
    admin = snap.named("Deployment", naming.multiadmin_name(snap.cluster))
    admin_ok = _replicas(admin)[1] >= 1
    down = sorted(f"{kind} {name}: {st['conditions'][0]['message']}" for (kind, name), st in statuses.items()
                  if st["conditions"] and st["conditions"][0]["status"] != "True")
    moving = sorted(f"{kind} {name}" for (kind, name), st in statuses.items()
                    if any(c["type"] == "Progressing" and c["status"] == "True" for c in st["conditions"]))
    ok = not down and admin_ok and bool(statuses)
    progress = ("still converging: " + ", ".join(moving)) if moving else "Cluster reconciliation complete."
    message = "All components are available." if ok else "; ".join(
        down + ([] if admin_ok else ["multiadmin is not available"]) or ["no child objects yet"])
    return {"globalTopoServer": {"etcd": {"available": word(global_topo)}}, "cells": cells,
            "databases": _databases(snap, statuses),
            "multiadmin": {"available": word(admin_ok), "serviceName": naming.multiadmin_name(snap.cluster)},
            "conditions": [
                condition("Available", ok, "AllComponentsAvailable" if ok else "ComponentsUnavailable", message),
                condition("Progressing", bool(moving), "Reconciling" if moving else "ReconciliationComplete",
                          progress)]}


def _stamp(new: Obj, obj: Obj, now: str) -> Obj:
    """observedGeneration, and each condition's lastTransitionTime kept while its status holds."""
    old = {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}
    for cond in new.get("conditions", []):
        previous = old.get(cond["type"])
        same = previous is not None and previous.get("status") == cond["status"]
        cond["lastTransitionTime"] = previous.get("lastTransitionTime", now) if same and previous else now
    new["observedGeneration"] = obj["metadata"].get("generation", 0)
    return new


def compute(snap: Snapshot) -> dict[tuple[str, str], Obj]:
    """(kind, name) → the status to write, for every object of the cluster in the snapshot."""
    statuses: dict[tuple[str, str], Obj] = {}
    for kind, build in (("TopoServer", topo_server), ("MultiCell", multi_cell), ("MultiShard", multi_shard)):
        for obj in snap.of(kind):
            statuses[(kind, obj["metadata"]["name"])] = build(snap, obj)
    shard_status = {name: st for (kind, name), st in statuses.items() if kind == "MultiShard"}
    for group in snap.of("MultiTableGroup"):
        statuses[("MultiTableGroup", group["metadata"]["name"])] = multi_table_group(snap, group, shard_status)
    out = {key: _stamp(st, _find(snap, key), snap.now) for key, st in statuses.items()}
    for template in snap.objects.get("MultigresDeploymentTemplate", []):
        out[("MultigresDeploymentTemplate", template["metadata"]["name"])] = {
            "observedGeneration": template["metadata"].get("generation", 0)}
    root = snap.named("MultigresCluster", snap.cluster)
    if root is not None:
        out[("MultigresCluster", snap.cluster)] = _stamp(cluster(snap, root, statuses), root, snap.now)
    return out


def _find(snap: Snapshot, key: tuple[str, str]) -> Obj:
    found = snap.named(*key)
    assert found is not None
    return found


def changed(obj: Obj, status: Obj) -> bool:
    """Whether writing `status` would change the object (the reporter writes only then)."""
    return (obj.get("status") or {}) != status
