"""MultigresCluster: the root object a user edits (the design, "Multigres Cluster")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from .common import (
    ComponentRef,
    ContainerSpec,
    FreeForm,
    ImagePullSecret,
    Model,
    Placement,
    PullPolicy,
    ResourceRequirements,
    VolumeClaimTemplate,
)
from .day2 import LogLevels, PostgresConfig
from .monitoring import MonitoringSpec, PoolMonitoring
from .network import NetworkPolicySpec

# A Kubernetes object name (DNS-1123 subdomain), for references to the user's Secrets.
ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
# A certificate's DNS name: lower-case labels, optionally a leading wildcard label.
DNSName = Annotated[str, Field(min_length=1, max_length=253,
                               pattern=r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]

PoolType = Literal["replica", "readOnly"]
DurabilityPolicy = Literal["AT_LEAST_2", "MULTI_CELL_AT_LEAST_2"]


class Images(Model):
    """One version of each component for the whole cluster (the design's safety argument)."""

    multigateway: str | None = None
    multiorch: str | None = None
    multipooler: str | None = None
    multiadmin: str | None = None
    postgres: str | None = None


class ManagedTopoSpec(Model):
    """An etcd cluster the function renders (the TopoServer child's spec)."""

    root_path: str | None = None
    image: str | None = None
    replicas: Annotated[int, Field(ge=1, le=2147483647)] | None = None
    data_volume_claim_template: VolumeClaimTemplate | None = None
    resources: ResourceRequirements | None = None


class ExternalTopo(Model):
    address: Annotated[str, Field(min_length=1)]
    root_path: str | None = None


_ONE_TOPO: JsonDict = {"rule": "!(has(self.managedSpec) && has(self.external))",
             "message": "managedSpec and external are mutually exclusive"}


class GlobalTopoServer(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [_ONE_TOPO]})

    root_path: str | None = None
    managed_spec: ManagedTopoSpec | None = None
    external: ExternalTopo | None = None


class CellTopoServer(Model):
    """Per-cell topo: external, managed local, or (absent) the global one."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [_ONE_TOPO]})

    managed_spec: ManagedTopoSpec | None = None
    external: ExternalTopo | None = None


class TopologyReconciliation(Model):
    register_cell: bool | None = None
    prune_tablets: bool | None = None


# A label value (a zone or region name as nodes carry it).
LabelValue = Annotated[str, Field(min_length=1, max_length=63,
                                  pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]

_ONE_DOMAIN: JsonDict = {"rule": "!(has(self.zone) && has(self.region))",
                         "message": "a cell is a zone or a region: set zone or region, not both"}


class CellSpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "!(has(self.topoServer) && has(self.toposerver))",
         "message": "topoServer and toposerver are the same field; keep only topoServer"}, _ONE_DOMAIN]})

    # The cell's failure domain: its pods run on nodes labelled topology.kubernetes.io/zone (or /region).
    zone: LabelValue | None = None
    region: LabelValue | None = None
    placement: Placement | None = None

    multigateway: ComponentRef | None = None
    topo_server: CellTopoServer | None = None
    # The design spells it `toposerver` once; kept so an API server does not prune it (docs/design.md).
    toposerver: CellTopoServer | None = Field(default=None, alias="toposerver")
    topology_reconciliation: TopologyReconciliation | None = None


class CellTemplate(Model):
    name: Annotated[str, Field(min_length=1, max_length=63)]
    spec: CellSpec | None = None


class Cells(Model):
    templates: list[CellTemplate] | None = None


class Partitioning(Model):
    shards: Annotated[int, Field(ge=1, le=4096)] = 1  # the ceiling of krmfn.limits.MAX_SHARDS (raisable)


_POOL_XOR: JsonDict = {
    "rule": "!has(self.multigresDeploymentTemplate) || !(has(self.replicas) || "
            "has(self.dataVolumeClaimTemplate) || has(self.postgres) || has(self.multipooler) || "
            "has(self.placement) || has(self.monitoring) || has(self.postgresConfig))",
    "message": "a pool takes either multigresDeploymentTemplate (plus overrides) or inline fields",
}


class PoolRef(Model):
    """A pool as the user writes it: a template reference with overrides, or inline fields."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [_POOL_XOR]})

    type: PoolType
    cell: Annotated[str, Field(min_length=1)]
    multigres_deployment_template: str | None = None
    overrides: FreeForm | None = None
    replicas: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    data_volume_claim_template: VolumeClaimTemplate | None = None
    postgres: ContainerSpec | None = None
    multipooler: ContainerSpec | None = None
    postgres_config: PostgresConfig | None = None
    placement: Placement | None = None
    monitoring: PoolMonitoring | None = None


class ShardTemplate(Model):
    pools: list[PoolRef] | None = None


class TableGroup(Model):
    name: Annotated[str, Field(min_length=1, max_length=63)]
    partitioning: Partitioning | None = None
    shard_template: ShardTemplate | None = None


class S3Backup(Model):
    """An S3 (or S3-compatible) backup repository: upstream's clustermetadata.S3Backup.

    With `credentialsSecret`, multipooler reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    (optional) AWS_SESSION_TOKEN from that Secret; without it, pgBackRest finds credentials itself
    (IRSA web identity or EC2 instance metadata).
    """

    bucket: Annotated[str, Field(min_length=1)]
    region: Annotated[str, Field(min_length=1)]
    endpoint: str | None = None
    key_prefix: str | None = None
    credentials_secret: ObjectName | None = None
    # The pooler pods' ServiceAccount, for cloud identity (IRSA): with no credentialsSecret, upstream
    # picks pgBackRest's web-id credentials when AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are in
    # the pod (EKS' webhook adds them and its own token volume), else EC2 instance metadata.
    service_account_name: ObjectName | None = None


class BackupEncryption(Model):
    """pgBackRest's repository cipher: multipooler --pgbackrest-cipher-key-file names a JSON file
    {"<generation>": "<passphrase>"} (go/services/multipooler/init.go, go/common/backup); the file is
    this Secret's `key`. Fixed when the repository is created: a key added later does not encrypt it."""

    secret_name: ObjectName
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")] | None = None


BackupType = Literal["full", "differential", "incremental"]


class BackupSchedule(Model):
    """A CronJob that asks multiadmin for a backup of the database and waits for its result."""

    cron: Annotated[str, Field(min_length=1, max_length=100)]
    type: BackupType | None = None
    time_zone: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    suspend: bool | None = None


class BackupRetention(Model):
    """pgBackRest expire settings sent with multiadmin's ExpireBackups after each scheduled backup.

    `full` counts full backups (fullType count, the default) or days (fullType time). Upstream's
    pgbackrest.conf already keeps 7 full backups and expires after every backup, so a count above 7
    cannot be kept (checked)."""

    full: Annotated[int, Field(ge=1, le=9999999)]
    full_type: Literal["count", "time"] | None = None


class BackupRestore(Model):
    """Bootstrap from the backups already in the repository (a new cluster on an old repository).

    Upstream restores a pooler with an empty data directory from the latest complete backup of its
    repository and replays the archived WAL; it has no target. The target fields exist only to be
    refused with a clear error."""

    target_time: str | None = None
    target_lsn: str | None = Field(default=None, alias="targetLSN")


_ONE_REPOSITORY: JsonDict = {"rule": "!(has(self.volumeClaimTemplate) && has(self.s3))",
                   "message": "a backup repository is a volume (volumeClaimTemplate) or s3, not both"}


class BackupSpec(Model):
    """Where a database's pgBackRest repository lives: a shared volume per shard (default) or S3."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [_ONE_REPOSITORY]})

    volume_claim_template: VolumeClaimTemplate | None = None
    s3: S3Backup | None = None
    encryption: BackupEncryption | None = None
    schedule: BackupSchedule | None = None
    retention: BackupRetention | None = None
    restore: BackupRestore | None = None


class DatabaseSpec(Model):
    multiorch: ComponentRef | None = None
    tablegroups: list[TableGroup] | None = Field(default=None, alias="tablegroups")
    durability_policy: DurabilityPolicy | None = None
    # The filesystem repository's path (the Database record's location and the mount point).
    backup_location: str | None = None
    backup: BackupSpec | None = None


class DatabaseTemplate(Model):
    name: Annotated[str, Field(min_length=1, max_length=63)]
    spec: DatabaseSpec | None = None


class Databases(Model):
    templates: list[DatabaseTemplate] | None = None


class IssuerRef(Model):
    name: Annotated[str, Field(min_length=1)]
    kind: str | None = None
    group: str | None = None


class CertManager(Model):
    issuer_ref: IssuerRef


class PgBackRestTLS(Model):
    """The TLS Secret of the pgBackRest servers; cert-manager may produce it."""

    secret_name: ObjectName | None = None
    cert_manager: CertManager | None = None


class GatewayTLS(Model):
    """TLS on the gateways' PostgreSQL port (multigateway --pg-tls-cert-file/--pg-tls-key-file,
    --pg-require-ssl in upstream's go/services/multigateway/init.go). Setting the block turns it on.

    The Secret (kubernetes.io/tls: tls.crt, tls.key, and ca.crt for the clients) is the user's, or
    cert-manager's when certManager names an issuer; `required` refuses plaintext sessions."""

    secret_name: ObjectName | None = None
    cert_manager: CertManager | None = None
    required: bool | None = None
    # More names for the rendered Certificate (a LoadBalancer's DNS name, say); needs certManager.
    # No length bounds on the list: the generated validator keeps pydantic off the valid-input path
    # only for unconstrained lists; the output limits bound what a long list costs.
    extra_dns_names: list[DNSName] | None = Field(default=None, alias="extraDNSNames")


class InternalTLS(Model):
    """Mutual TLS on the gRPC between components (upstream's servenv --grpc-cert/--grpc-key/--grpc-ca
    in go/common/servenv/grpc_server.go, and the callers' --multipooler-grpc-cert/-key/-ca/-server-name
    in go/common/rpcclient/conn_cache.go). Setting the block turns it on.

    The Secret (kubernetes.io/tls: tls.crt, tls.key and ca.crt, all three read by every component)
    is the user's, or cert-manager's when certManager names an issuer."""

    secret_name: ObjectName | None = None
    cert_manager: CertManager | None = None


class TopoTLS(Model):
    """TLS with client certificates between every component and the managed etcd (etcd's
    --cert-file/--key-file/--trusted-ca-file/--client-cert-auth; the components' upstream
    --topo-etcd-tls-cert/-key/-ca in go/common/topoclient/etcdtopo/store.go). Setting the block turns
    it on; etcd then refuses clients without a certificate from the CA.

    The Secret (kubernetes.io/tls: tls.crt, tls.key and ca.crt, read by etcd and every client) is the
    user's, or cert-manager's when certManager names an issuer. `clientImage` runs the render's own
    two etcd clients (the topology registration and the gateways' wait), which need TLS: the
    function's image by default."""

    secret_name: ObjectName | None = None
    cert_manager: CertManager | None = None
    client_image: Annotated[str, Field(min_length=1)] | None = None


class ClusterSpec(Model):
    images: Images | None = None
    image_pull_policy: PullPolicy | None = None
    image_pull_secrets: list[ImagePullSecret] | None = None
    global_topo_server: GlobalTopoServer | None = None
    multiadmin: ComponentRef | None = None
    cells: Cells | None = None
    databases: Databases | None = None
    topology_reconciliation: TopologyReconciliation | None = None
    postgres_password_secret: str | None = None
    pgbackrest_tls: PgBackRestTLS | None = Field(default=None, alias="pgbackrestTLS")
    gateway_tls: GatewayTLS | None = Field(default=None, alias="gatewayTLS")
    internal_tls: InternalTLS | None = Field(default=None, alias="internalTLS")
    topo_tls: TopoTLS | None = Field(default=None, alias="topoTLS")
    postgres_config: PostgresConfig | None = None
    log_levels: LogLevels | None = None
    network_policy: NetworkPolicySpec | None = None
    placement: Placement | None = None
    monitoring: MonitoringSpec | None = None


class MultigresCluster(Model):
    api_version: Literal["multigres.com/v1alpha1"]
    kind: Literal["MultigresCluster"]
    metadata: FreeForm
    spec: ClusterSpec
    # Status belongs to a live cluster; accepted (the design shows one) and never rendered.
    status: FreeForm | None = None


def cell_topo(cell: CellSpec | None) -> CellTopoServer | None:
    """The cell's topo block under either spelling."""
    if cell is None:
        return None
    return cell.topo_server or cell.toposerver
