"""The `status` of each of the six kinds, in the shapes the design shows: the CRDs' status schema.

Nothing in the render writes a status: the status reporter (`krmfn_status`, a separate package
that runs in the cluster) fills it from the pods, the workloads and multiadmin. The design writes
the availability fields as strings ("True"/"False"), the way Kubernetes conditions write theirs;
"Unknown" is added for what cannot be observed (multiadmin unreachable). Every kind gets
`observedGeneration` and `conditions` (Available and Progressing, with a reason and a message),
which is what `kubectl get` columns and Argo CD's health checks read.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import Model

ConditionStatus = Literal["True", "False", "Unknown"]
Count = Annotated[int, Field(ge=0)]


class Condition(Model):
    """A Kubernetes condition (metav1.Condition's fields; reason and message always written)."""

    type: str
    status: ConditionStatus
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None
    observed_generation: Count | None = None


class Observed(Model):
    observed_generation: Count | None = None
    conditions: list[Condition] = []


class EtcdAvailability(Model):
    available: ConditionStatus


class GlobalTopoStatus(Model):
    etcd: EtcdAvailability


class CellSummary(Model):
    gateway_available: ConditionStatus
    topo_server_available: ConditionStatus


class DatabaseSummary(Model):
    desired_instances: Count
    ready_instances: Count
    serving_writes: ConditionStatus
    multiorch_available: ConditionStatus


class MultiadminSummary(Model):
    available: ConditionStatus
    service_name: str | None = None


class MultigresClusterStatus(Observed):
    global_topo_server: GlobalTopoStatus | None = None
    cells: dict[str, CellSummary] = {}
    databases: dict[str, DatabaseSummary] = {}
    multiadmin: MultiadminSummary | None = None


class MultigresDeploymentTemplateStatus(Observed):
    """A template has no workload of its own; the reporter writes its observedGeneration only."""


class TopoServerStatus(Observed):
    replicas: Count | None = None
    ready_replicas: Count | None = None
    client_service_name: str | None = None
    peer_service_name: str | None = None


class MultiCellStatus(Observed):
    gateway_replicas: Count | None = None
    gateway_ready_replicas: Count | None = None
    gateway_service_name: str | None = None


class MultiTableGroupStatus(Observed):
    shards: Count | None = None
    ready_shards: Count | None = None
    multiorch_available: ConditionStatus | None = None


class MultiShardStatus(Observed):
    primary_cell: str | None = None
    primary_pooler: str | None = None
    serving_writes: ConditionStatus | None = None
    total_pods: Count | None = None
    ready_pods: Count | None = None


STATUS_MODELS: dict[str, type[Observed]] = {
    "MultigresCluster": MultigresClusterStatus,
    "MultigresDeploymentTemplate": MultigresDeploymentTemplateStatus,
    "TopoServer": TopoServerStatus,
    "MultiCell": MultiCellStatus,
    "MultiTableGroup": MultiTableGroupStatus,
    "MultiShard": MultiShardStatus,
}
