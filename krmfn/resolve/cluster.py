"""Resolve one MultigresCluster (plus its templates) into child custom resources.

This is the only code that knows templates. What it returns is typed (api/generated/child_types.py,
generated from the child models): the four child kinds in the design's spec shapes, and the cluster-level
facts (facts.py) the cluster's own builders read. The build stage takes these and nothing else.
"""

from __future__ import annotations

from .. import defaults, naming
from ..api.generated import child_types as ct
from ..api.validator import Invalid, alias, cell_topo, validate
from ..merge import fill_requests, merge_patch
from ..results import Result, error, warning
from . import backup as backup_options
from .facts import CellRegistration, DatabaseFacts, TableGroupFacts
from .monitoring import MonitoringFacts, resolve_monitoring
from .placement import Levels, place_cluster_level
from .templates import TemplateIndex, lookup, resolve_layers

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:  # the models' attributes; at run time the objects come from api/validator.py
    from typing import Any

    from ..api.cluster import CellTemplate, DatabaseSpec, DatabaseTemplate, MultigresCluster, PoolRef, TableGroup
    from ..api.common import ComponentRef

    Child = ct.TopoServer | ct.MultiCell | ct.MultiTableGroup | ct.MultiShard


class Resolved:
    """What resolving one cluster gives: its child CRs, its cluster-level facts, and what went
    wrong on the way."""

    __slots__ = ("name", "namespace", "children", "multiadmin", "images", "pull", "global_topo",
                 "cells", "databases", "password_secret", "pgbackrest_tls_secret",
                 "cert_manager_issuer", "gateway_tls", "gateway_issuer", "gateway_extra_names",
                 "internal_tls", "internal_issuer", "topo_tls", "topo_issuer",
                 "placement", "monitoring", "network_policy",
                 "postgres_config", "log_levels",
                 "results")

    def __init__(self, name: str, namespace: str | None) -> None:
        # A plain class, not a dataclass: importing `dataclasses` (it imports `inspect`) is a
        # seventh of the function's start-up, paid on every kpt render.
        self.name = name
        self.namespace = namespace
        self.children: list[Child] = []
        self.multiadmin: ct.ComponentSpec | None = None
        self.images = ct.ResolvedImages.load(defaults.IMAGES)
        self.pull: dict[str, Any] = {}  # imagePullPolicy and imagePullSecrets, as a pod spec takes them
        self.global_topo = ct.GlobalTopoRef(root_path=defaults.GLOBAL_ROOT)
        self.cells: list[CellRegistration] = []
        self.databases: list[DatabaseFacts] = []
        self.password_secret = ""
        self.pgbackrest_tls_secret = ""
        self.cert_manager_issuer: dict[str, Any] | None = None
        self.gateway_tls: ct.GatewayTLSRef | None = None  # None: the gateways speak plain text
        self.gateway_issuer: dict[str, Any] | None = None  # cert-manager writes the gateways' Secret
        self.internal_tls: ct.InternalTLSRef | None = None  # None: gRPC between components is plain text
        self.internal_issuer: dict[str, Any] | None = None  # cert-manager writes the components' Secret
        self.topo_tls: ct.TopoTLSRef | None = None  # None: etcd and its clients speak plain text
        self.topo_issuer: dict[str, Any] | None = None  # cert-manager writes the etcd Secret
        self.gateway_extra_names: list[str] = []  # spec.gatewayTLS.extraDNSNames
        # spec.networkPolicy as dumped ({} when unset); None when policies are turned off.
        self.network_policy: dict[str, Any] | None = {}
        self.placement = Levels()
        self.monitoring: MonitoringFacts | None = None
        self.postgres_config: dict[str, Any] | None = None  # the cluster level, under templates and pools
        self.log_levels: dict[str, str] = {}  # component -> upstream --log-level
        self.results: list[Result] = []

    def global_topo_server(self) -> ct.TopoServer | None:
        """The managed global etcd's TopoServer child; None when the global topo is external."""
        name = naming.global_topo_name(self.name)
        return next((c for c in self.children if c.kind == "TopoServer" and c.metadata["name"] == name), None)


def key_range(index: int, count: int) -> str:
    """Multigres shard name for shard `index` of `count`: `0-inf` alone, else hex key ranges.

    Upstream defines only `0-inf`; for N > 1 we cut the 16-bit keyspace evenly and drop trailing
    `00` bytes (2 shards: `0-80`, `80-inf`), documented in docs/api.md.
    """
    def bound(i: int) -> str:
        text = f"{i * 65536 // count:04x}"
        return text[:2] if text.endswith("00") else text

    start = "0" if index == 0 else bound(index)
    end = "inf" if index == count - 1 else bound(index + 1)
    return f"{start}-{end}"


def _meta(name: str, namespace: str | None, labels: dict[str, str], cluster: str) -> dict[str, Any]:
    """A child CR's metadata: its name and namespace, labels, the cluster it came from, and the
    last Argo CD sync wave (naming.CHILDREN_WAVE says why)."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = labels
    meta["annotations"] = {naming.GENERATED_FROM: f"{namespace or ''}/{cluster}",
                           naming.SYNC_WAVE: naming.CHILDREN_WAVE}
    return meta


def resolve_component(ref: ComponentRef | None, section: str, index: TemplateIndex,
                      path: str) -> tuple[ct.ComponentSpec | None, list[Result]]:
    """A component's resolved spec: defaults < template section < overrides, or inline spec."""
    spec, problems = _component_layers(ref, section, index, path)
    if spec is None:
        return None, problems
    spec["resources"] = fill_requests(spec.get("resources"), defaults.COMPONENT_REQUESTS)
    return ct.ComponentSpec.load(spec), problems


def _component_layers(ref: ComponentRef | None, section: str, index: TemplateIndex,
                      path: str) -> tuple[dict[str, Any] | None, list[Result]]:
    base_defaults = {"replicas": defaults.COMPONENT_REPLICAS[section]}
    if ref is None:
        return resolve_layers(base_defaults, None, None, "ComponentSpec", path)
    if ref.template_name and ref.spec is not None:
        return None, [error(f"{section} sets both templateName and spec; keep templateName and move "
                            "the changes into overrides, or drop templateName.", path)]
    if ref.overrides and not ref.template_name:
        return None, [error("overrides need a templateName to apply to; set templateName, or write "
                            "the values in spec.", f"{path}.overrides")]
    if ref.template_name:
        base, problems = lookup(index, ref.template_name, section, f"{path}.templateName")
        if base is None:
            return None, problems
        return resolve_layers(base_defaults, base, ref.overrides, "ComponentSpec", f"{path}.overrides")
    inline = ref.spec.dump() if ref.spec is not None else None
    return resolve_layers(base_defaults, inline, None, "ComponentSpec", f"{path}.spec")


_INLINE_POOL_FIELDS = ("replicas", "data_volume_claim_template", "postgres", "multipooler", "placement",
                       "monitoring", "postgres_config")


def resolve_pool(pool: PoolRef, index: TemplateIndex, path: str,
                 postgres_config: dict[str, Any] | None = None) -> tuple[ct.ResolvedPool | None, list[Result]]:
    """A pool's resolved fields in the design's order: type, cell, replicas, volume, containers.

    The cluster's postgresConfig is the layer under the template's and the pool's (maps merge)."""
    base = {**defaults.POOL, "postgresConfig": dict(postgres_config)} if postgres_config else defaults.POOL
    inline_set = [f for f in _INLINE_POOL_FIELDS if getattr(pool, f) is not None]
    if pool.multigres_deployment_template and inline_set:
        return None, [error("pool sets multigresDeploymentTemplate and inline fields "
                            f"({', '.join(alias('PoolRef', f) for f in inline_set)}); "
                            "move the inline values into overrides.", path)]
    if pool.overrides and not pool.multigres_deployment_template:
        return None, [error("overrides need a multigresDeploymentTemplate to apply to; set one, or "
                            "write the values as inline pool fields.", f"{path}.overrides")]
    if pool.multigres_deployment_template:
        template, problems = lookup(index, pool.multigres_deployment_template, "shardPool",
                                    f"{path}.multigresDeploymentTemplate")
        if template is None:
            return None, problems
        spec, problems = resolve_layers(base, template, pool.overrides, "PoolSpec", f"{path}.overrides")
    else:
        inline = pool.model_dump(by_alias=True, exclude_none=True, mode="json",
                                 include=set(_INLINE_POOL_FIELDS))
        spec, problems = resolve_layers(base, inline, None, "PoolSpec", path)
    if spec is None:
        return None, problems
    for container, requests in defaults.POOL_REQUESTS.items():
        section = spec.get(container) or {}
        spec[container] = {**section, "resources": fill_requests(section.get("resources"), requests)}
    try:
        full = validate("ResolvedPool", {"type": pool.type, "cell": pool.cell, **spec})
    except Invalid as invalid:  # e.g. overrides that set a required field to null (deleting it)
        exc = invalid.error
        where = f"{path}.overrides" if pool.overrides else path
        return None, problems + [error(f"after templates and overrides the pool's {e['loc'][0]} is missing; "
                                       "null in overrides deletes a field, give a value instead.",
                                       f"{where}.{e['loc'][0]}")
                                 for e in exc.errors() if e["type"] == "missing" and e["loc"]] + (
            [] if all(e["type"] == "missing" for e in exc.errors()) else
            [error(f"the resolved pool is not valid: {exc.errors()[0]['msg']}.", where)])
    return ct.ResolvedPool.load(full.dump()), problems


def _global_topo(cluster: MultigresCluster, name: str, namespace: str | None,
                 out: Resolved) -> None:
    g = cluster.spec.global_topo_server
    spec_path = "spec.globalTopoServer"
    if g is not None and g.external is not None:
        root = g.root_path or g.external.root_path or defaults.GLOBAL_ROOT
        out.global_topo = ct.GlobalTopoRef(root_path=root, address=g.external.address, tls=out.topo_tls)
        return
    managed = g.managed_spec.dump() if g is not None and g.managed_spec is not None else {}
    root = managed.pop("rootPath", None) or (g.root_path if g else None) or defaults.GLOBAL_ROOT
    if g is not None and g.root_path and g.managed_spec and g.managed_spec.root_path \
            and g.root_path != g.managed_spec.root_path:
        out.results.append(error("globalTopoServer.rootPath and managedSpec.rootPath differ; set it "
                                 "in one place.", f"{spec_path}.managedSpec.rootPath"))
    topo = naming.global_topo_name(name)
    labels = naming.labels(name, "topo", topo_scope="global")
    out.children.append(ct.TopoServer(metadata=_meta(topo, namespace, labels, name),
                                      spec=_topo_spec(root, managed, out.pull, out.topo_tls)))
    out.global_topo = ct.GlobalTopoRef(root_path=root, client_service_name=naming.topo_client_service(topo),
                                       tls=out.topo_tls)


def _topo_spec(root: str, managed: dict[str, Any], pull: dict[str, Any],
               tls: ct.TopoTLSRef | None) -> ct.TopoServerSpec:
    """Defaults < the user's managedSpec, with the root decided by the caller; spec.topoTLS on every
    managed etcd alike (upstream's client flags are process-wide: one CA for every etcd dialled)."""
    base = {"rootPath": root, "image": defaults.ETCD_IMAGE, "replicas": defaults.TOPO_REPLICAS,
            "dataVolumeClaimTemplate": defaults.TOPO_DATA_VOLUME}
    spec = merge_patch(base, managed)
    spec["rootPath"] = root
    if tls is not None:
        spec["tls"] = tls.dump()
    return ct.TopoServerSpec.load({**pull, **spec})


def _pull(cluster: MultigresCluster) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cluster.spec.image_pull_policy:
        out["imagePullPolicy"] = cluster.spec.image_pull_policy
    if cluster.spec.image_pull_secrets:
        out["imagePullSecrets"] = [s.dump() for s in cluster.spec.image_pull_secrets]
    return out


def _reconciliation(cluster: MultigresCluster, cell: CellTemplate) -> ct.CellReconciliation:
    layers = [cluster.spec.topology_reconciliation, cell.spec.topology_reconciliation if cell.spec else None]
    register, prune = defaults.REGISTER_CELL, defaults.PRUNE_TABLETS
    for layer in layers:
        if layer is not None:
            register = layer.register_cell if layer.register_cell is not None else register
            prune = layer.prune_tablets if layer.prune_tablets is not None else prune
    return ct.CellReconciliation(register_cell=register, prune_tablets=prune)


def _cell_topo(cluster: MultigresCluster, cell: CellTemplate, register: bool,
               out: Resolved) -> tuple[ct.CellTopoChoice, CellRegistration]:
    """Where a cell's records live (external, its own managed etcd, or the global one), and its
    registration; a managed etcd becomes a TopoServer child of its own."""
    name, namespace = out.name, out.namespace
    topo_block = cell_topo(cell.spec)
    if topo_block is not None and topo_block.external is not None:
        ext = topo_block.external
        root = ext.root_path or defaults.cell_root(cell.name)
        return (ct.CellTopoChoice(external=ct.ExternalTopo(address=ext.address, root_path=root)),
                CellRegistration(name=cell.name, root=root, register=register, addresses=[ext.address]))
    if topo_block is not None and topo_block.managed_spec is not None:
        managed = topo_block.managed_spec.dump()
        root = managed.pop("rootPath", None) or defaults.cell_root(cell.name)
        spec = _topo_spec(root, managed, out.pull, out.topo_tls)
        topo = naming.cell_topo_name(name, cell.name)
        labels = naming.labels(name, "topo", topo_scope="cell", cell=cell.name)
        out.children.append(ct.TopoServer(metadata=_meta(topo, namespace, labels, name), spec=spec))
        choice = {k: v for k, v in spec.dump().items() if k not in ("imagePullPolicy", "imagePullSecrets", "tls")}
        return (ct.CellTopoChoice(managed_spec=ct.ManagedTopoSpec.load(choice)),
                CellRegistration(name=cell.name, root=root, register=register,
                                 client_service_name=naming.topo_client_service(topo)))
    global_root = out.global_topo.root_path
    # As upstream's createclustermetadata: a cell on the global etcd gets its own root below it.
    return (ct.CellTopoChoice(global_=ct.GlobalTopoMarker(root_path=global_root)),
            CellRegistration(name=cell.name, root=f"{global_root.rstrip('/')}/{cell.name}", register=register))


def _gateway_tls(cluster: MultigresCluster, name: str, out: Resolved) -> None:
    """spec.gatewayTLS: off when unset; plaintext still accepted unless `required`."""
    tls = cluster.spec.gateway_tls
    if tls is None:
        return
    out.gateway_tls = ct.GatewayTLSRef(secret_name=tls.secret_name or naming.gateway_tls_secret(name),
                                       required=tls.required is True)
    if tls.cert_manager is not None:
        out.gateway_issuer = tls.cert_manager.issuer_ref.dump()
        out.gateway_extra_names = list(tls.extra_dns_names or [])


def _internal_tls(cluster: MultigresCluster, name: str, out: Resolved) -> None:
    """spec.internalTLS: off when unset."""
    tls = cluster.spec.internal_tls
    if tls is None:
        return
    out.internal_tls = ct.InternalTLSRef(secret_name=tls.secret_name or naming.internal_tls_secret(name),
                                         server_name=naming.internal_server_name(name))
    if tls.cert_manager is not None:
        out.internal_issuer = tls.cert_manager.issuer_ref.dump()


def _topo_tls(cluster: MultigresCluster, name: str, out: Resolved) -> None:
    """spec.topoTLS: off when unset; the render's own etcd clients run on the function's image
    unless clientImage names another."""
    tls = cluster.spec.topo_tls
    if tls is None:
        return
    from .. import __version__

    image = tls.client_image or f"{defaults.FUNCTION_IMAGE_REPOSITORY}:v{__version__}"
    out.topo_tls = ct.TopoTLSRef(secret_name=tls.secret_name or naming.topo_tls_secret(name), client_image=image)
    if tls.cert_manager is not None:
        out.topo_issuer = tls.cert_manager.issuer_ref.dump()


def _cells(cluster: MultigresCluster, index: TemplateIndex, out: Resolved) -> None:
    cells = (cluster.spec.cells.templates if cluster.spec.cells else None) or []
    all_cells = [c.name for c in cells]
    for i, cell in enumerate(cells):
        path = f"spec.cells.templates[{i}]"
        gateway, problems = resolve_component(cell.spec.multigateway if cell.spec else None, "multigateway",
                                              index, f"{path}.spec.multigateway")
        out.results.extend(problems)
        reconcile = _reconciliation(cluster, cell)
        choice, registration = _cell_topo(cluster, cell, reconcile.register_cell, out)
        out.cells.append(registration)
        if gateway is None:
            continue
        gateway.placement = out.placement.for_cell(cell.name, gateway.placement,
                                                     f"{path}.spec.multigateway.placement")
        spec = ct.MultiCellSpec(
            **_pull_fields(out.pull), name=cell.name, images=ct.GatewayImages(multigateway=out.images.multigateway),
            multi_gateway=gateway, global_topo_server=out.global_topo, topo_server=choice,
            all_cells=list(all_cells), topology_reconciliation=reconcile, gateway_tls=out.gateway_tls,
            internal_tls=out.internal_tls)
        labels = naming.labels(out.name, "cell", cell=cell.name)
        meta = _meta(naming.cell_name(out.name, cell.name), out.namespace, labels, out.name)
        out.children.append(ct.MultiCell(metadata=meta, spec=spec))


def _pull_fields(pull: dict[str, Any]) -> dict[str, Any]:
    """The pull settings as a child spec's keyword arguments."""
    return {"image_pull_policy": pull.get("imagePullPolicy"), "image_pull_secrets": pull.get("imagePullSecrets")}


def resolve_backup(spec: DatabaseSpec | None, path: str) -> tuple[ct.ResolvedBackup, list[Result]]:
    """A database's backup repository: S3 as given, else a filesystem path on a claim per shard.

    The claim defaults to ReadWriteMany and 10Gi on the cluster's default storage class; what the
    user writes in backup.volumeClaimTemplate is merged over it (JSON Merge Patch, as overrides).
    """
    backup = spec.backup if spec else None
    location = spec.backup_location if spec else None
    cipher = backup_options.cipher(backup)
    if backup is not None and backup.s3 is not None:
        problems = backup_options.problems(backup, path)
        if backup.volume_claim_template is not None:
            problems.append(error("backup sets both volumeClaimTemplate and s3; a repository is one or the other, "
                                  "keep one.", f"{path}.backup"))
        if location is not None:
            problems.append(error("backupLocation is a filesystem path and backup.s3 is set; remove "
                                  "backupLocation (the S3 repository's place is bucket and keyPrefix).",
                                  f"{path}.backupLocation"))
        return ct.ResolvedBackup(s3=ct.S3Repository.load(backup.s3.dump()), cipher=cipher), problems
    base = {"accessModes": list(defaults.BACKUP_ACCESS_MODES),
            "resources": {"requests": {"storage": defaults.BACKUP_VOLUME_SIZE}}}
    user = backup.volume_claim_template.dump() if backup is not None and backup.volume_claim_template else {}
    claim = merge_patch(base, user)
    problems = backup_options.problems(backup, path)
    if "ReadWriteMany" not in claim.get("accessModes", []):
        problems.append(warning("the backup claim is shared by every pod of a shard (all pools and cells), but its "
                                f"accessModes {claim.get('accessModes')} lack ReadWriteMany: pods on other nodes will "
                                "not start. Use ReadWriteMany (and a storage class that offers it) or backup.s3.",
                                f"{path}.backup.volumeClaimTemplate.accessModes"))
    repository = ct.FilesystemRepository(path=location or defaults.BACKUP_LOCATION, volume_claim_template=claim)
    return ct.ResolvedBackup(filesystem=repository, cipher=cipher), problems


def _table_group_pools(tg: TableGroup, index: TemplateIndex, tpath: str, out: Resolved) -> list[ct.ResolvedPool]:
    pools = []
    for p, pool in enumerate((tg.shard_template.pools if tg.shard_template else None) or []):
        resolved, problems = resolve_pool(pool, index, f"{tpath}.shardTemplate.pools[{p}]", out.postgres_config)
        out.results.extend(problems)
        if resolved is not None:
            resolved.placement = out.placement.for_cell(pool.cell, resolved.placement,
                                                        f"{tpath}.shardTemplate.pools[{p}].placement")
            pools.append(resolved)
    return pools


def _databases(cluster: MultigresCluster, index: TemplateIndex, out: Resolved) -> None:
    databases = (cluster.spec.databases.templates if cluster.spec.databases else None) or []
    for d, db in enumerate(databases):
        dpath = f"spec.databases.templates[{d}].spec"
        orch, problems = resolve_component(db.spec.multiorch if db.spec else None, "multiorch", index,
                                           f"{dpath}.multiorch")
        out.results.extend(problems)
        backup, problems = resolve_backup(db.spec, dpath)
        out.results.extend(problems)
        facts = _database_facts(db, backup)
        out.databases.append(facts)
        for t, tg in enumerate((db.spec.tablegroups if db.spec else None) or []):
            pools = _table_group_pools(tg, index, f"{dpath}.tablegroups[{t}]", out)
            shards = tg.partitioning.shards if tg.partitioning else defaults.SHARDS
            facts.table_groups.append(TableGroupFacts(name=tg.name, shards=shards, pools=pools))
            if orch is not None:
                section = _multiorch(orch, pools, out, f"{dpath}.multiorch.placement")
                _table_group_children(facts, facts.table_groups[-1], section, out)
        out.results.extend(backup_options.multi_cell_problems(facts, dpath))
    out.results.extend(backup_options.shared_repository_problems(out.databases))


def _database_facts(db: DatabaseTemplate, backup: ct.ResolvedBackup) -> DatabaseFacts:
    spec = db.spec
    options = spec.backup if spec else None
    return DatabaseFacts(name=db.name, backup=backup, schedule=options.schedule if options else None,
                         retention=options.retention if options else None,
                         durability_policy=(spec.durability_policy if spec else None) or defaults.DURABILITY_POLICY)


def _table_group_children(db: DatabaseFacts, tg: TableGroupFacts, orch: ct.MultiorchSection, out: Resolved) -> None:
    """A MultiTableGroup and its MultiShards (one per shard, all with the table group's pools)."""
    name, namespace = out.name, out.namespace
    images = ct.ShardImages(multipooler=out.images.multipooler, postgres=out.images.postgres,
                            multiorch=out.images.multiorch)
    spec = ct.MultiTableGroupSpec(
        **_pull_fields(out.pull), images=images, multiorch=orch,
        partitioning=ct.Partitioning(shards=tg.shards), shard_template=ct.ResolvedShardTemplate(pools=tg.pools),
        database_name=db.name, table_group_name=tg.name, durability_policy=db.durability_policy,
        global_topo_server=out.global_topo, postgres_password_secret=out.password_secret,
        internal_tls=out.internal_tls)
    identity = {"database": db.name, "table_group": tg.name}
    meta = _meta(naming.table_group_name(name, db.name, tg.name), namespace,
                 naming.labels(name, "table-group", **identity), name)
    out.children.append(ct.MultiTableGroup(metadata=meta, spec=spec))
    for s in range(tg.shards):
        shard_spec = ct.MultiShardSpec(
            **_pull_fields(out.pull), images=images, pools=tg.pools, database_name=db.name,
            table_group_name=tg.name, shard_name=key_range(s, tg.shards), global_topo_server=out.global_topo,
            postgres_password_secret=out.password_secret, backup=db.backup,
            pgbackrest_tls_secret=out.pgbackrest_tls_secret, internal_tls=out.internal_tls)
        meta = _meta(naming.shard_name(name, db.name, tg.name, s), namespace,
                     naming.labels(name, "shard", **identity, shard=str(s)), name)
        out.children.append(ct.MultiShard(metadata=meta,
                                           spec=shard_spec))


def _multiorch(orch: ct.ComponentSpec, pools: list[ct.ResolvedPool], out: Resolved,
               path: str) -> ct.MultiorchSection:
    """The table group's multiorch and, for each cell of its pools, where that cell's one runs."""
    cells = dict.fromkeys(p.cell for p in pools)
    placed = {c: out.placement.for_cell(c, orch.placement, path) for c in cells}
    return ct.MultiorchSection(spec=orch, cell_placements={c: p for c, p in placed.items() if p} or None)


def resolve_cluster(cluster: MultigresCluster, index: TemplateIndex) -> Resolved:
    """All child CRs of one cluster, in a fixed order: topo, cells, table groups, shards."""
    name = str(cluster.metadata.get("name"))
    out = Resolved(name=name, namespace=cluster.metadata.get("namespace") or None)  # "" is unset
    images = cluster.spec.images.dump() if cluster.spec.images else {}
    out.images = ct.ResolvedImages.load({**defaults.IMAGES, **images})
    out.pull = _pull(cluster)
    out.password_secret = cluster.spec.postgres_password_secret or defaults.password_secret(name)
    tls = cluster.spec.pgbackrest_tls
    out.pgbackrest_tls_secret = (tls.secret_name if tls else None) or naming.pgbackrest_tls_secret(name)
    if tls is not None and tls.cert_manager is not None:
        out.cert_manager_issuer = tls.cert_manager.issuer_ref.dump()
    _gateway_tls(cluster, name, out)
    _internal_tls(cluster, name, out)
    _topo_tls(cluster, name, out)
    policy = cluster.spec.network_policy.dump() if cluster.spec.network_policy else {}
    out.network_policy = None if policy.get("enabled") is False else policy
    out.placement = Levels(cluster)
    out.monitoring = resolve_monitoring(cluster.spec.monitoring)
    out.postgres_config = cluster.spec.postgres_config
    out.log_levels = cluster.spec.log_levels.dump() if cluster.spec.log_levels else {}
    _global_topo(cluster, name, out.namespace, out)
    _cells(cluster, index, out)
    out.multiadmin, problems = resolve_component(cluster.spec.multiadmin, "multiadmin", index, "spec.multiadmin")
    out.results.extend(problems)
    _databases(cluster, index, out)
    place_cluster_level(cluster, out)
    out.results.extend(out.placement.results)
    for i in cell_topo_alias_used(cluster):
        out.results.append(warning("`toposerver` is accepted as an alias; the canonical spelling is "
                                   "`topoServer`. Rename it.", f"spec.cells.templates[{i}].spec.toposerver"))
    return out


def cell_topo_alias_used(cluster: MultigresCluster) -> list[int]:
    cells = (cluster.spec.cells.templates if cluster.spec.cells else None) or []
    return [i for i, c in enumerate(cells) if c.spec is not None and c.spec.toposerver is not None]
