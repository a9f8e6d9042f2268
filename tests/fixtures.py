"""Small typed child CRs and cluster contexts for the builder tests.

A builder takes one typed child and a ClusterContext (krmfn/workloads/context.py); these make
them in a line, with the values of the seed example's cluster unless a test says otherwise, so a
builder test reads what it feeds in and does not depend on resolving a whole example.
"""

from __future__ import annotations

from typing import Any

from krmfn import defaults, naming
from krmfn.api.generated import child_types as ct
from krmfn.resolve.facts import CellRegistration, DatabaseFacts, TableGroupFacts
from krmfn.workloads.context import ClusterContext

CLUSTER = "example-multigres-cluster"
NAMESPACE = "multigres"
IMAGE = "multigres/multigres:latest"
ETCD = "quay.io/coreos/etcd:v3.5.17"
GLOBAL = ct.GlobalTopoRef(root_path="/multigres/global", client_service_name=f"{CLUSTER}-global-client")


def meta(name: str, component: str, namespace: str | None = NAMESPACE, **identity: str) -> dict[str, Any]:
    """A child's metadata as resolve writes it: labels with the identity, generated-from."""
    out: dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    out["labels"] = naming.labels(CLUSTER, component, **identity)
    out["annotations"] = {naming.GENERATED_FROM: f"{namespace or ''}/{CLUSTER}"}
    return out


def claim(storage: str, modes: tuple[str, ...] = ("ReadWriteOnce",)) -> dict[str, Any]:
    return {"accessModes": list(modes), "resources": {"requests": {"storage": storage}}}


def topo_server(scope: str = "global", replicas: int = 3, namespace: str | None = NAMESPACE,
                **spec: Any) -> ct.TopoServer:
    name = f"{CLUSTER}-{scope}"
    identity = {"topo_scope": "global"} if scope == "global" else {"topo_scope": "cell", "cell": scope}
    return ct.TopoServer(metadata=meta(name, "topo", namespace, **identity), spec=ct.TopoServerSpec(
        root_path=f"/multigres/{scope}", image=ETCD, replicas=replicas,
        data_volume_claim_template=claim("10Gi"), **spec))


def gateway(replicas: int = 2, memory: str = "1Gi") -> ct.ComponentSpec:
    return ct.ComponentSpec(replicas=replicas, resources={"requests": {"cpu": "500m", "memory": "512Mi"},
                                                          "limits": {"memory": memory}})


def multicell(cell: str = "us-east-1", replicas: int = 2, global_topo: ct.GlobalTopoRef = GLOBAL,
              own_topo: bool = False) -> ct.MultiCell:
    """A cell on the global etcd, or (own_topo) with a managed etcd of its own."""
    choice = ct.CellTopoChoice(global_=ct.GlobalTopoMarker(root_path=global_topo.root_path))
    if own_topo:
        choice = ct.CellTopoChoice(managed_spec=ct.ManagedTopoSpec(root_path=f"/multigres/{cell}", replicas=3))
    spec = ct.MultiCellSpec(
        name=cell, images=ct.GatewayImages(multigateway=IMAGE), multi_gateway=gateway(replicas),
        global_topo_server=global_topo, topo_server=choice,
        all_cells=["us-east-1", "us-west-2"],
        topology_reconciliation=ct.CellReconciliation(register_cell=True, prune_tablets=True))
    return ct.MultiCell(metadata=meta(f"{CLUSTER}-{cell}", "cell", cell=cell), spec=spec)


def pool(pool_type: str = "replica", cell: str = "us-west-2", replicas: int = 2,
         storage: str = "500Gi") -> ct.ResolvedPool:
    postgres = ct.ContainerSpec(resources={"requests": {"cpu": "4", "memory": "4Gi"}})
    multipooler = ct.ContainerSpec(resources={"requests": {"cpu": "100m", "memory": "512Mi"}})
    return ct.ResolvedPool(type=pool_type, cell=cell, replicas=replicas,  # type: ignore[arg-type]
                           data_volume_claim_template=claim(storage), postgres=postgres, multipooler=multipooler)


def images() -> ct.ShardImages:
    return ct.ShardImages(multipooler=IMAGE, postgres="postgres:15.3", multiorch=IMAGE)


def filesystem_backup() -> ct.ResolvedBackup:
    return ct.ResolvedBackup(filesystem=ct.FilesystemRepository(
        path=defaults.BACKUP_LOCATION, volume_claim_template=claim("10Gi", ("ReadWriteMany",))))


ORDERS_POOLS = (("replica", "us-west-2", 2), ("readOnly", "us-east-1", 1))


def table_group(database: str = "production_db", name: str = "orders_tg",
                pools: tuple[tuple[str, str, int], ...] = ORDERS_POOLS, shards: int = 2) -> ct.MultiTableGroup:
    spec = ct.MultiTableGroupSpec(
        images=images(), multiorch=ct.MultiorchSection(spec=ct.ComponentSpec(
            replicas=1, resources={"requests": {"cpu": "100m", "memory": "128Mi"}})),
        partitioning=ct.Partitioning(shards=shards),
        shard_template=ct.ResolvedShardTemplate(pools=[pool(*p) for p in pools]),
        database_name=database, table_group_name=name, durability_policy="AT_LEAST_2",
        global_topo_server=GLOBAL, postgres_password_secret=f"{CLUSTER}-postgres-password")
    tg = naming.table_group_name(CLUSTER, database, name)
    return ct.MultiTableGroup(metadata=meta(tg, "table-group", database=database, table_group=name), spec=spec)


def shard(index: int = 0, shard_name: str = "0-80", database: str = "production_db",
          table_group_name: str = "orders_tg",
          pools: tuple[tuple[str, str, int], ...] = ORDERS_POOLS,
          backup: ct.ResolvedBackup | None = None) -> ct.MultiShard:
    spec = ct.MultiShardSpec(
        images=images(), pools=[pool(*p) for p in pools], database_name=database,
        table_group_name=table_group_name, shard_name=shard_name, global_topo_server=GLOBAL,
        postgres_password_secret=f"{CLUSTER}-postgres-password", backup=backup or filesystem_backup(),
        pgbackrest_tls_secret=naming.pgbackrest_tls_secret(CLUSTER))
    name = naming.shard_name(CLUSTER, database, table_group_name, index)
    return ct.MultiShard(metadata=meta(name, "shard", database=database, table_group=table_group_name,
                                       shard=str(index)), spec=spec)


def context(cluster_domain: str = "cluster.local", namespace: str | None = NAMESPACE, **fields: Any) -> ClusterContext:
    """The seed-like cluster: the global etcd, two cells on it, one database of one table group."""
    values: dict[str, Any] = {
        "images": ct.ResolvedImages.load({k: IMAGE for k in defaults.IMAGES}),
        "pull": {}, "global_topo": GLOBAL, "topo_image": ETCD,
        "multiadmin": ct.ComponentSpec(replicas=1, resources={"requests": {"cpu": "100m", "memory": "128Mi"}}),
        "cells": (CellRegistration(name="us-east-1", root="/multigres/global/us-east-1", register=True),
                  CellRegistration(name="us-west-2", root="/multigres/us-west-2", register=True,
                                   client_service_name=f"{CLUSTER}-us-west-2-client")),
        "databases": (DatabaseFacts(name="production_db", durability_policy="AT_LEAST_2", backup=filesystem_backup(),
                                    table_groups=[TableGroupFacts(name="orders_tg", shards=2,
                                                                  pools=[pool(*p) for p in ORDERS_POOLS])]),),
        "pgbackrest_tls_secret": naming.pgbackrest_tls_secret(CLUSTER),
    }
    values.update(fields)
    return ClusterContext(name=CLUSTER, namespace=namespace, cluster_domain=cluster_domain, **values)
