"""The read-only child kinds, in the exact spec shapes the design shows.

Fields the design does not show but a builder needs (docs/design.md: a builder reads one child CR
and nothing else) are documented additions, listed in the README: `databaseName`,
`tableGroupName`, `shardName`, `globalTopoServer` on table groups and shards,
`postgresPasswordSecret`, `gatewayTLS` on cells, `internalTLS` on cells, table groups and shards,
`imagePullPolicy`, `imagePullSecrets`, and the resolved placement
(`placement` of pools, components and TopoServers, `multiorch.cellPlacements`: docs/placement.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from .cluster import DurabilityPolicy, ExternalTopo, ManagedTopoSpec, Partitioning, PoolType
from .common import (
    ComponentSpec,
    ContainerSpec,
    FreeForm,
    ImagePullSecret,
    Model,
    Placement,
    PullPolicy,
    ResourceRequirements,
    VolumeClaimTemplate,
)
from .day2 import PostgresConfig
from .monitoring import PoolMonitoring


class PullSettings(Model):
    image_pull_policy: PullPolicy | None = None
    image_pull_secrets: list[ImagePullSecret] = []  # pydantic copies the default for each instance


class TopoTLSRef(Model):
    """The etcd TLS Secret (resolved from spec.topoTLS): etcd serves its client port with it and
    requires client certificates; every component, and the render's own etcd clients (run on
    `clientImage`), present it."""

    secret_name: str
    client_image: str


class TopoServerSpec(PullSettings):
    root_path: str
    image: str
    replicas: Annotated[int, Field(ge=1, le=2147483647)]
    data_volume_claim_template: VolumeClaimTemplate
    resources: ResourceRequirements | None = None
    placement: Placement | None = None
    tls: TopoTLSRef | None = None


class GlobalTopoRef(Model):
    """Where the global topo is: a rendered client Service, or an external address; and, with
    spec.topoTLS, the certificate every client presents to it (and to the cells' etcds)."""

    root_path: str
    client_service_name: str | None = None
    address: str | None = None
    tls: TopoTLSRef | None = None


class GlobalTopoMarker(Model):
    root_path: str


class CellTopoChoice(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "[has(self.global), has(self.external), has(self.managedSpec)].filter(x, x).size() == 1",
         "message": "exactly one of global, external, managedSpec"}]})

    global_: GlobalTopoMarker | None = Field(default=None, alias="global")
    external: ExternalTopo | None = None
    managed_spec: ManagedTopoSpec | None = None


class CellReconciliation(Model):
    register_cell: bool
    prune_tablets: bool


class ResolvedImages(Model):
    """The cluster's images after the defaults: what every child's images are taken from, and what
    the cluster-level workloads (multiadmin, topology registration) run. Not part of any CRD."""

    multigateway: str
    multiorch: str
    multipooler: str
    multiadmin: str
    postgres: str


class GatewayImages(Model):
    """The one image a cell's workloads run (the cluster's `images`, narrowed)."""

    multigateway: str


class ShardImages(Model):
    """The images a table group's and a shard's workloads run, in the order the render writes them."""

    multipooler: str
    postgres: str
    multiorch: str


class GatewayTLSRef(Model):
    """The gateways' TLS Secret and whether plaintext is refused (resolved from spec.gatewayTLS)."""

    secret_name: str
    required: bool


class InternalTLSRef(Model):
    """The components' gRPC TLS Secret and the one name every caller verifies (resolved from
    spec.internalTLS): gateways, multiorch and multiadmin register pod IPs, so the callers check
    this fixed name (--multipooler-grpc-server-name) instead of the address they dial."""

    secret_name: str
    server_name: str


class MultiCellSpec(PullSettings):
    name: str
    images: GatewayImages
    multi_gateway: ComponentSpec
    global_topo_server: GlobalTopoRef
    topo_server: CellTopoChoice
    all_cells: list[str]
    topology_reconciliation: CellReconciliation
    gateway_tls: GatewayTLSRef | None = Field(default=None, alias="gatewayTLS")
    internal_tls: InternalTLSRef | None = Field(default=None, alias="internalTLS")


class ResolvedPool(Model):
    type: PoolType
    cell: str
    replicas: Annotated[int, Field(ge=0, le=2147483647)]
    data_volume_claim_template: VolumeClaimTemplate
    postgres: ContainerSpec | None = None
    multipooler: ContainerSpec | None = None
    postgres_config: PostgresConfig | None = None
    placement: Placement | None = None
    monitoring: PoolMonitoring | None = None


class MultiorchSection(Model):
    spec: ComponentSpec
    # The resolved placement of the multiorch of each cell that hosts a pool (cluster, cell and
    # multiorch levels combined); `spec.placement` is the multiorch level alone.
    cell_placements: dict[str, Placement] | None = None


class ResolvedShardTemplate(Model):
    pools: list[ResolvedPool]


class MultiTableGroupSpec(PullSettings):
    """The design's table group, plus who it is and where topo is (database_name, table_group_name,
    global_topo_server, postgres_password_secret: documented additions). Fields are in the order
    the render writes them."""

    images: ShardImages
    multiorch: MultiorchSection
    partitioning: Partitioning
    shard_template: ResolvedShardTemplate
    database_name: str
    table_group_name: str
    durability_policy: DurabilityPolicy
    global_topo_server: GlobalTopoRef
    postgres_password_secret: str
    internal_tls: InternalTLSRef | None = Field(default=None, alias="internalTLS")


class FilesystemRepository(Model):
    path: str
    volume_claim_template: VolumeClaimTemplate


class S3Repository(Model):
    bucket: str
    region: str
    endpoint: str | None = None
    key_prefix: str | None = None
    credentials_secret: str | None = None
    service_account_name: str | None = None


class RepositoryCipher(Model):
    """The Secret and key of the repository's cipher key file (the key defaulted)."""

    secret_name: str
    key: str


class ResolvedBackup(Model):
    """Exactly one of filesystem (a claim per shard) or s3."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "has(self.filesystem) != has(self.s3)", "message": "exactly one of filesystem, s3"}]})

    filesystem: FilesystemRepository | None = None
    s3: S3Repository | None = None
    cipher: RepositoryCipher | None = None


class MultiShardSpec(PullSettings):
    images: ShardImages
    pools: list[ResolvedPool]
    database_name: str
    table_group_name: str
    shard_name: str
    global_topo_server: GlobalTopoRef
    postgres_password_secret: str
    backup: ResolvedBackup
    pgbackrest_tls_secret: str = Field(alias="pgbackrestTLSSecret")
    internal_tls: InternalTLSRef | None = Field(default=None, alias="internalTLS")


# The four top-level kinds are written out, not made by a factory, so that type checkers and
# readers see their fields; each is apiVersion, kind, metadata and spec, like every child CR.

class TopoServer(Model):
    """An etcd the function renders: the global topology server, or a cell's own."""

    api_version: Literal["multigres.com/v1alpha1"]
    kind: Literal["TopoServer"]
    metadata: FreeForm
    spec: TopoServerSpec


class MultiCell(Model):
    """One cell: its gateway, and which topology server holds its records."""

    api_version: Literal["multigres.com/v1alpha1"]
    kind: Literal["MultiCell"]
    metadata: FreeForm
    spec: MultiCellSpec


class MultiTableGroup(Model):
    """One table group of one database: its multiorch, partitioning and pools."""

    api_version: Literal["multigres.com/v1alpha1"]
    kind: Literal["MultiTableGroup"]
    metadata: FreeForm
    spec: MultiTableGroupSpec


class MultiShard(Model):
    """One shard of a table group: its pools of postgres + multipooler, and its backup repository."""

    api_version: Literal["multigres.com/v1alpha1"]
    kind: Literal["MultiShard"]
    metadata: FreeForm
    spec: MultiShardSpec
