"""Resolve one MultigresCluster (plus its templates) into child custom resources.

Output objects have the design's spec shapes; they are plain dicts so that the build stage (and a
future in-cluster controller) can take them without knowing how they were made.
"""

from __future__ import annotations

from .. import defaults, naming
from ..api.fast import Invalid, alias, cell_topo, validate
from ..merge import fill_requests, merge_patch
from ..results import Result, error, warning
from .templates import TemplateIndex, lookup, resolve_layers

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:  # the models' attributes; at run time the objects come from api/fast.py
    from typing import Any

    from ..api.cluster import CellTemplate, DatabaseSpec, MultigresCluster, PoolRef
    from ..api.common import ComponentRef


class Resolved:
    """What resolving one cluster gives: its child CRs and what went wrong on the way."""

    __slots__ = ("name", "namespace", "children", "multiadmin", "images", "pull", "global_topo",
                 "cell_registrations", "databases", "password_secret", "pgbackrest_tls_secret",
                 "cert_manager_issuer", "results")

    def __init__(self, name: str, namespace: str | None) -> None:
        # A plain class, not a dataclass: importing `dataclasses` (it imports `inspect`) is a
        # seventh of the function's start-up, paid on every kpt render.
        self.name = name
        self.namespace = namespace
        self.children: list[dict[str, Any]] = []
        self.multiadmin: dict[str, Any] | None = None
        self.images: dict[str, str] = {}
        self.pull: dict[str, Any] = {}
        self.global_topo: dict[str, Any] = {}
        self.cell_registrations: list[dict[str, Any]] = []
        self.databases: list[dict[str, Any]] = []
        self.password_secret = ""
        self.pgbackrest_tls_secret = ""
        self.cert_manager_issuer: dict[str, Any] | None = None
        self.results: list[Result] = []

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [c for c in self.children if c["kind"] == kind]


def key_range(index: int, count: int) -> str:
    """Multigres shard name for shard `index` of `count`: `0-inf` alone, else hex key ranges.

    Upstream defines only `0-inf`; for N > 1 we cut the 16-bit keyspace evenly and drop trailing
    `00` bytes (2 shards: `0-80`, `80-inf`), documented in the README.
    """
    def bound(i: int) -> str:
        text = f"{i * 65536 // count:04x}"
        return text[:2] if text.endswith("00") else text

    start = "0" if index == 0 else bound(index)
    end = "inf" if index == count - 1 else bound(index + 1)
    return f"{start}-{end}"


def _child(kind: str, name: str, namespace: str | None, labels: dict[str, str], cluster: str,
           spec: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = labels
    meta["annotations"] = {naming.GENERATED_FROM: f"{namespace or ''}/{cluster}"}
    return {"apiVersion": naming.API_VERSION, "kind": kind, "metadata": meta, "spec": spec}


def resolve_component(ref: ComponentRef | None, section: str, index: TemplateIndex,
                      path: str) -> tuple[dict[str, Any] | None, list[Result]]:
    """A component's resolved spec: defaults < template section < overrides, or inline spec."""
    spec, problems = _component_layers(ref, section, index, path)
    if spec is not None:
        spec["resources"] = fill_requests(spec.get("resources"), defaults.COMPONENT_REQUESTS)
    return spec, problems


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


_INLINE_POOL_FIELDS = ("replicas", "data_volume_claim_template", "postgres", "multipooler")


def resolve_pool(pool: PoolRef, index: TemplateIndex, path: str) -> tuple[dict[str, Any] | None, list[Result]]:
    """A pool's resolved fields in the design's order: type, cell, replicas, volume, containers."""
    inline_set = [f for f in _INLINE_POOL_FIELDS if getattr(pool, f) is not None]
    if pool.multigres_deployment_template and inline_set:
        return None, [error("pool sets multigresDeploymentTemplate and inline fields "
                            f"({', '.join(alias('PoolRef', f) for f in inline_set)}); "
                            "move the inline values into overrides.", path)]
    if pool.overrides and not pool.multigres_deployment_template:
        return None, [error("overrides need a multigresDeploymentTemplate to apply to; set one, or "
                            "write the values as inline pool fields.", f"{path}.overrides")]
    if pool.multigres_deployment_template:
        base, problems = lookup(index, pool.multigres_deployment_template, "shardPool",
                                f"{path}.multigresDeploymentTemplate")
        if base is None:
            return None, problems
        spec, problems = resolve_layers(defaults.POOL, base, pool.overrides, "PoolSpec", f"{path}.overrides")
    else:
        inline = pool.model_dump(by_alias=True, exclude_none=True, mode="json",
                                 include=set(_INLINE_POOL_FIELDS))
        spec, problems = resolve_layers(defaults.POOL, inline, None, "PoolSpec", path)
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
    return full.dump(), problems


def _global_topo(cluster: MultigresCluster, name: str, namespace: str | None,
                 out: Resolved) -> None:
    g = cluster.spec.global_topo_server
    spec_path = "spec.globalTopoServer"
    if g is not None and g.external is not None:
        root = g.root_path or g.external.root_path or defaults.GLOBAL_ROOT
        out.global_topo = {"rootPath": root, "address": g.external.address}
        return
    managed = g.managed_spec.dump() if g is not None and g.managed_spec is not None else {}
    root = managed.pop("rootPath", None) or (g.root_path if g else None) or defaults.GLOBAL_ROOT
    if g is not None and g.root_path and g.managed_spec and g.managed_spec.root_path \
            and g.root_path != g.managed_spec.root_path:
        out.results.append(error("globalTopoServer.rootPath and managedSpec.rootPath differ; set it "
                                 "in one place.", f"{spec_path}.managedSpec.rootPath"))
    spec = _topo_spec(root, managed, cluster)
    topo = naming.global_topo_name(name)
    labels = naming.labels(name, "topo", topo_scope="global")
    out.children.append(_child("TopoServer", topo, namespace, labels, name, spec))
    out.global_topo = {"rootPath": root, "clientServiceName": naming.topo_client_service(topo)}


def _topo_spec(root: str, managed: dict[str, Any], cluster: MultigresCluster) -> dict[str, Any]:
    base = {"rootPath": root, "image": defaults.ETCD_IMAGE, "replicas": defaults.TOPO_REPLICAS,
            "dataVolumeClaimTemplate": defaults.TOPO_DATA_VOLUME}
    spec = merge_patch(base, managed)
    spec["rootPath"] = root
    return {**_pull(cluster), **spec}


def _pull(cluster: MultigresCluster) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cluster.spec.image_pull_policy:
        out["imagePullPolicy"] = cluster.spec.image_pull_policy
    if cluster.spec.image_pull_secrets:
        out["imagePullSecrets"] = [s.dump() for s in cluster.spec.image_pull_secrets]
    return out


def _reconciliation(cluster: MultigresCluster, cell: CellTemplate) -> dict[str, bool]:
    layers = [cluster.spec.topology_reconciliation, cell.spec.topology_reconciliation if cell.spec else None]
    register, prune = defaults.REGISTER_CELL, defaults.PRUNE_TABLETS
    for layer in layers:
        if layer is not None:
            register = layer.register_cell if layer.register_cell is not None else register
            prune = layer.prune_tablets if layer.prune_tablets is not None else prune
    return {"registerCell": register, "pruneTablets": prune}


def _cells(cluster: MultigresCluster, index: TemplateIndex, name: str, namespace: str | None,
           out: Resolved) -> None:
    cells = (cluster.spec.cells.templates if cluster.spec.cells else None) or []
    all_cells = [c.name for c in cells]
    for i, cell in enumerate(cells):
        path = f"spec.cells.templates[{i}]"
        gateway, problems = resolve_component(cell.spec.multigateway if cell.spec else None, "multigateway",
                                              index, f"{path}.spec.multigateway")
        out.results.extend(problems)
        topo_block = cell_topo(cell.spec)
        if topo_block is not None and topo_block.external is not None:
            ext = topo_block.external
            choice = {"external": {"address": ext.address,
                                   "rootPath": ext.root_path or defaults.cell_root(cell.name)}}
            registration = {"name": cell.name, "addresses": [ext.address], "root": choice["external"]["rootPath"]}
        elif topo_block is not None and topo_block.managed_spec is not None:
            managed = topo_block.managed_spec.dump()
            root = managed.pop("rootPath", None) or defaults.cell_root(cell.name)
            spec = _topo_spec(root, managed, cluster)
            topo = naming.cell_topo_name(name, cell.name)
            labels = naming.labels(name, "topo", topo_scope="cell", cell=cell.name)
            out.children.append(_child("TopoServer", topo, namespace, labels, name, spec))
            choice = {"managedSpec": {k: v for k, v in spec.items() if k not in ("imagePullPolicy",
                                                                                 "imagePullSecrets")}}
            registration = {"name": cell.name, "clientServiceName": naming.topo_client_service(topo),
                            "root": root}
        else:
            choice = {"global": {"rootPath": out.global_topo.get("rootPath", defaults.GLOBAL_ROOT)}}
            # As upstream's createclustermetadata: a cell on the global etcd gets its own root below it.
            registration = {"name": cell.name, "global": True,
                            "root": f"{choice['global']['rootPath'].rstrip('/')}/{cell.name}"}
        reconcile = _reconciliation(cluster, cell)
        registration["register"] = reconcile["registerCell"]
        out.cell_registrations.append(registration)
        if gateway is None:
            continue
        spec = {
            **_pull(cluster),
            "name": cell.name,
            "images": {"multigateway": out.images["multigateway"]},
            "multiGateway": gateway,
            "globalTopoServer": dict(out.global_topo),
            "topoServer": choice,
            "allCells": list(all_cells),
            "topologyReconciliation": reconcile,
        }
        labels = naming.labels(name, "cell", cell=cell.name)
        out.children.append(_child("MultiCell", naming.cell_name(name, cell.name), namespace, labels, name, spec))


def resolve_backup(spec: DatabaseSpec | None, path: str) -> tuple[dict[str, Any], list[Result]]:
    """A database's backup repository: S3 as given, else a filesystem path on a claim per shard.

    The claim defaults to ReadWriteMany and 10Gi on the cluster's default storage class; what the
    user writes in backup.volumeClaimTemplate is merged over it (JSON Merge Patch, as overrides).
    """
    backup = spec.backup if spec else None
    location = spec.backup_location if spec else None
    if backup is not None and backup.s3 is not None:
        problems = []
        if backup.volume_claim_template is not None:
            problems.append(error("backup sets both volumeClaimTemplate and s3; a repository is one or the other, "
                                  "keep one.", f"{path}.backup"))
        if location is not None:
            problems.append(error("backupLocation is a filesystem path and backup.s3 is set; remove "
                                  "backupLocation (the S3 repository's place is bucket and keyPrefix).",
                                  f"{path}.backupLocation"))
        return {"s3": backup.s3.dump()}, problems
    base = {"accessModes": list(defaults.BACKUP_ACCESS_MODES),
            "resources": {"requests": {"storage": defaults.BACKUP_VOLUME_SIZE}}}
    user = backup.volume_claim_template.dump() if backup is not None and backup.volume_claim_template else {}
    claim = merge_patch(base, user)
    problems = []
    if "ReadWriteMany" not in claim.get("accessModes", []):
        problems.append(warning("the backup claim is shared by every pod of a shard (all pools and cells), but its "
                                f"accessModes {claim.get('accessModes')} lack ReadWriteMany: pods on other nodes will "
                                "not start. Use ReadWriteMany (and a storage class that offers it) or backup.s3.",
                                f"{path}.backup.volumeClaimTemplate.accessModes"))
    return {"filesystem": {"path": location or defaults.BACKUP_LOCATION, "volumeClaimTemplate": claim}}, problems


def _databases(cluster: MultigresCluster, index: TemplateIndex, name: str, namespace: str | None,
               out: Resolved) -> None:
    databases = (cluster.spec.databases.templates if cluster.spec.databases else None) or []
    shard_images = {k: out.images[k] for k in ("multipooler", "postgres", "multiorch")}
    for d, db in enumerate(databases):
        dpath = f"spec.databases.templates[{d}].spec"
        orch, problems = resolve_component(db.spec.multiorch if db.spec else None, "multiorch", index,
                                           f"{dpath}.multiorch")
        out.results.extend(problems)
        durability = (db.spec.durability_policy if db.spec else None) or defaults.DURABILITY_POLICY
        backup, problems = resolve_backup(db.spec, dpath)
        out.results.extend(problems)
        summary: dict[str, Any] = {"name": db.name, "durabilityPolicy": durability, "backup": backup,
                                   "tableGroups": []}
        out.databases.append(summary)
        for t, tg in enumerate((db.spec.tablegroups if db.spec else None) or []):
            tpath = f"{dpath}.tablegroups[{t}]"
            pools = []
            for p, pool in enumerate((tg.shard_template.pools if tg.shard_template else None) or []):
                resolved, problems = resolve_pool(pool, index, f"{tpath}.shardTemplate.pools[{p}]")
                out.results.extend(problems)
                if resolved is not None:
                    pools.append(resolved)
            shards = tg.partitioning.shards if tg.partitioning else defaults.SHARDS
            summary["tableGroups"].append({"name": tg.name, "shards": shards, "pools": pools})
            if orch is None:
                continue
            tg_name = naming.table_group_name(name, db.name, tg.name)
            tg_spec = {
                **_pull(cluster),
                "images": dict(shard_images),
                "multiorch": {"spec": orch},
                "partitioning": {"shards": shards},
                "shardTemplate": {"pools": pools},
                "databaseName": db.name,
                "tableGroupName": tg.name,
                "durabilityPolicy": durability,
                "globalTopoServer": dict(out.global_topo),
                "postgresPasswordSecret": out.password_secret,
            }
            identity = {"database": db.name, "table_group": tg.name}
            out.children.append(_child("MultiTableGroup", tg_name, namespace,
                                       naming.labels(name, "table-group", **identity), name, tg_spec))
            for s in range(shards):
                shard_spec = {
                    **_pull(cluster),
                    "images": dict(shard_images),
                    "pools": [dict(p) for p in pools],
                    "databaseName": db.name,
                    "tableGroupName": tg.name,
                    "shardName": key_range(s, shards),
                    "globalTopoServer": dict(out.global_topo),
                    "postgresPasswordSecret": out.password_secret,
                    "backup": backup,
                    "pgbackrestTLSSecret": out.pgbackrest_tls_secret,
                }
                labels = naming.labels(name, "shard", **identity, shard=str(s))
                out.children.append(_child("MultiShard", naming.shard_name(name, db.name, tg.name, s),
                                           namespace, labels, name, shard_spec))


def resolve_cluster(cluster: MultigresCluster, index: TemplateIndex) -> Resolved:
    """All child CRs of one cluster, in a fixed order: topo, cells, table groups, shards."""
    name = str(cluster.metadata.get("name"))
    namespace = cluster.metadata.get("namespace")
    out = Resolved(name=name, namespace=namespace)
    images = cluster.spec.images.dump() if cluster.spec.images else {}
    out.images = {**defaults.IMAGES, **images}
    out.pull = _pull(cluster)
    out.password_secret = cluster.spec.postgres_password_secret or defaults.password_secret(name)
    tls = cluster.spec.pgbackrest_tls
    out.pgbackrest_tls_secret = (tls.secret_name if tls else None) or naming.pgbackrest_tls_secret(name)
    if tls is not None and tls.cert_manager is not None:
        out.cert_manager_issuer = tls.cert_manager.issuer_ref.dump()
    _global_topo(cluster, name, namespace, out)
    _cells(cluster, index, name, namespace, out)
    admin, problems = resolve_component(cluster.spec.multiadmin, "multiadmin", index, "spec.multiadmin")
    out.results.extend(problems)
    out.multiadmin = admin
    _databases(cluster, index, name, namespace, out)
    if cell_topo_alias_used(cluster):
        for i in cell_topo_alias_used(cluster):
            out.results.append(warning("`toposerver` is accepted as an alias; the canonical spelling is "
                                       "`topoServer`. Rename it.", f"spec.cells.templates[{i}].spec.toposerver"))
    return out


def cell_topo_alias_used(cluster: MultigresCluster) -> list[int]:
    cells = (cluster.spec.cells.templates if cluster.spec.cells else None) or []
    return [i for i, c in enumerate(cells) if c.spec is not None and c.spec.toposerver is not None]
