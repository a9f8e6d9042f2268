"""What resolving a cluster knows besides its child CRs: the cluster-level facts.

multiadmin, topology registration and the pgBackRest Certificate hang off the cluster itself in
the design, not off a child; these typed records carry what their builders read. They are not
custom resources (nothing is rendered from them as such), so they are plain classes, not models.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from ..api.cluster import BackupRetention, BackupSchedule, DurabilityPolicy
    from ..api.generated.child_types import ResolvedBackup, ResolvedPool


class CellRegistration:
    """A cell's topology record: where its topo is (a rendered Service, addresses, or the global
    etcd), under which root, and whether the function registers it at all."""

    __slots__ = ("name", "root", "register", "client_service_name", "addresses")

    def __init__(self, *, name: str, root: str, register: bool, client_service_name: str | None = None,
                 addresses: list[str] | None = None) -> None:
        self.name = name
        self.root = root
        self.register = register
        self.client_service_name = client_service_name
        self.addresses: list[str] = [] if addresses is None else addresses


class TableGroupFacts:
    """A table group's partitioning and resolved pools (shared by all of its shards)."""

    __slots__ = ("name", "shards", "pools")

    def __init__(self, *, name: str, shards: int, pools: list[ResolvedPool] | None = None) -> None:
        self.name = name
        self.shards = shards
        self.pools: list[ResolvedPool] = [] if pools is None else pools


class DatabaseFacts:
    """A database's Database record fields and its table groups."""

    __slots__ = ("name", "durability_policy", "backup", "table_groups", "schedule", "retention")

    def __init__(self, *, name: str, durability_policy: DurabilityPolicy, backup: ResolvedBackup,
                 table_groups: list[TableGroupFacts] | None = None, schedule: BackupSchedule | None = None,
                 retention: BackupRetention | None = None) -> None:
        self.name = name
        self.durability_policy: DurabilityPolicy = durability_policy
        self.backup = backup
        # Scheduled backups (workloads/backup.py): a CronJob per database that has a schedule.
        self.schedule = schedule
        self.retention = retention
        self.table_groups: list[TableGroupFacts] = [] if table_groups is None else table_groups

    def desired_instances(self) -> int:
        """Pods the database asks for: shards × pool replicas, summed over its table groups."""
        return sum(tg.shards * sum(p.replicas for p in tg.pools) for tg in self.table_groups)
