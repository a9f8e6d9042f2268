"""Semantic checks: small pure functions, each returning results with a field path.

Structural problems (unknown fields, wrong types, enums, minimums) come from the models; these
checks see a cluster that parsed and say what a schema cannot: references, duplicates, limits,
and what will not run. CLUSTER_CHECKS run on the user's cluster, CHILD_CHECKS on each resolved
child, so every problem is reported in one render.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from . import checks_placement, defaults, limits, naming
from .api.validator import cell_topo
from .quantity import QuantityError, parse_quantity
from .results import ResourceRef, Result, error, info, warning

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:  # at run time a valid cluster is the pydantic-free object of api/validator.py
    from typing import Any

    from .api.cluster import CellTemplate, DatabaseTemplate, MultigresCluster
    from .api.config import RenderOptions

    ClusterCheck = Callable[[MultigresCluster], Iterable[Result]]
    from .api.generated.child_types import MultiShard, MultiShardSpec
    from .resolve.cluster import Child
    from .resourcelist import Item

    ChildCheck = Callable[[Child], Iterable[Result]]


def _cells(cluster: MultigresCluster) -> list[CellTemplate]:
    return (cluster.spec.cells.templates if cluster.spec.cells else None) or []


def _databases(cluster: MultigresCluster) -> list[DatabaseTemplate]:
    return (cluster.spec.databases.templates if cluster.spec.databases else None) or []


def _duplicates(names: list[str], path: str, what: str) -> list[Result]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(error(f"{what} {name!r} is declared twice (also at index {seen[name]}); names must "
                             "be unique, rename or merge one.", f"{path}[{i}].name"))
        else:
            seen[name] = i
    return out


def check_duplicate_cells(cluster: MultigresCluster) -> list[Result]:
    return _duplicates([c.name for c in _cells(cluster)], "spec.cells.templates", "cell")


def check_duplicate_databases(cluster: MultigresCluster) -> list[Result]:
    return _duplicates([d.name for d in _databases(cluster)], "spec.databases.templates", "database")


def check_duplicate_table_groups(cluster: MultigresCluster) -> list[Result]:
    out = []
    for d, db in enumerate(_databases(cluster)):
        tgs = (db.spec.tablegroups if db.spec else None) or []
        out += _duplicates([t.name for t in tgs], f"spec.databases.templates[{d}].spec.tablegroups",
                           "table group")
    return out


def check_pool_cells(cluster: MultigresCluster) -> list[Result]:
    declared = [c.name for c in _cells(cluster)]
    out = []
    for d, db in enumerate(_databases(cluster)):
        for t, tg in enumerate((db.spec.tablegroups if db.spec else None) or []):
            for p, pool in enumerate((tg.shard_template.pools if tg.shard_template else None) or []):
                if pool.cell not in declared:
                    out.append(error(f"pool cell {pool.cell!r} is not declared in spec.cells.templates "
                                     f"(declared: {', '.join(declared) or 'none'}); add the cell or fix "
                                     "the name.", f"spec.databases.templates[{d}].spec.tablegroups[{t}]"
                                     f".shardTemplate.pools[{p}].cell"))
    return out


def check_topo_alias_conflict(cluster: MultigresCluster) -> list[Result]:
    return [error("topoServer and toposerver are both set; they are the same field, keep only topoServer.",
                  f"spec.cells.templates[{i}].spec.toposerver")
            for i, c in enumerate(_cells(cluster))
            if c.spec is not None and c.spec.topo_server is not None and c.spec.toposerver is not None]


def check_topo_choice(cluster: MultigresCluster) -> list[Result]:
    out = []
    g = cluster.spec.global_topo_server
    if g is not None and g.managed_spec is not None and g.external is not None:
        out.append(error("globalTopoServer sets both managedSpec and external; keep one.",
                         "spec.globalTopoServer"))
    for i, c in enumerate(_cells(cluster)):
        topo = cell_topo(c.spec)
        if topo is not None and topo.managed_spec is not None and topo.external is not None:
            field = "topoServer" if c.spec and c.spec.topo_server else "toposerver"
            out.append(error("a cell topo sets both managedSpec and external; keep one (or neither, to "
                             "use the global topo).", f"spec.cells.templates[{i}].spec.{field}"))
    return out


def check_cluster_name(cluster: MultigresCluster) -> list[Result]:
    name = str(cluster.metadata.get("name", ""))
    if not naming.is_label_value(name) or naming.sanitize(name) != name:
        return [error(f"cluster name {name!r} must be a DNS-1123 label of at most 63 characters (lower-case "
                      "letters, digits, '-'), because it is used as a label value and a name prefix.",
                      "metadata.name")]
    return []


def check_label_values(cluster: MultigresCluster) -> list[Result]:
    """Cell, database and table-group names become label values."""
    out = []
    for d, db in enumerate(_databases(cluster)):
        for t, tg in enumerate((db.spec.tablegroups if db.spec else None) or []):
            if not naming.is_label_value(tg.name):
                out.append(error(f"table group name {tg.name!r} is not a valid label value (letters, digits, "
                                 "'-', '_', '.', starting and ending with a letter or digit, at most 63); rename "
                                 "it.", f"spec.databases.templates[{d}].spec.tablegroups[{t}].name"))
    for i, c in enumerate(_cells(cluster)):
        if not naming.is_label_value(c.name):
            out.append(error(f"cell name {c.name!r} is not a valid label value (letters, digits, '-', '_', "
                             "'.', at most 63); rename it.", f"spec.cells.templates[{i}].name"))
        elif "_" in c.name:
            out.append(error(f"cell name {c.name!r} contains '_'; multipooler names its replicas "
                             "`<cell>_<service-id>` and refuses a cell with '_' (upstream replicaident.go). "
                             "Use '-' instead.", f"spec.cells.templates[{i}].name"))
    for d, db in enumerate(_databases(cluster)):
        if not naming.is_label_value(db.name):
            out.append(error(f"database name {db.name!r} is not a valid label value; rename it.",
                             f"spec.databases.templates[{d}].name"))
    return out


_TAG = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[^:/@]+))?(?:@(?P<digest>.+))?$")


def _image_parts(image: str) -> tuple[str, str | None, str | None]:
    m = _TAG.match(image)
    if not m:
        return image, None, None
    return m.group("repo"), m.group("tag"), m.group("digest")


def check_images(cluster: MultigresCluster) -> list[Result]:
    images = cluster.spec.images.dump() if cluster.spec.images else {}
    topo_images = []
    g = cluster.spec.global_topo_server
    if g is not None and g.managed_spec is not None and g.managed_spec.image:
        topo_images.append(("spec.globalTopoServer.managedSpec.image", g.managed_spec.image))
    for i, c in enumerate(_cells(cluster)):
        topo = cell_topo(c.spec)
        if topo is not None and topo.managed_spec is not None and topo.managed_spec.image:
            field = "topoServer" if c.spec and c.spec.topo_server else "toposerver"
            topo_images.append((f"spec.cells.templates[{i}].spec.{field}.managedSpec.image",
                                topo.managed_spec.image))
    out = []
    for path, image in [(f"spec.images.{k}", v) for k, v in images.items()] + topo_images:
        _, tag, digest = _image_parts(image)
        if digest is None and (tag is None or tag == "latest"):
            out.append(warning(f"image {image!r} uses the moving tag 'latest'; pin a version (or digest) so "
                               "every pod runs the same build and renders stay reproducible.", path))
    postgres = images.get("postgres")
    if postgres:
        repo, tag, _ = _image_parts(postgres)
        if repo.rsplit("/", 1)[-1] == "postgres":
            major = (tag or "").split(".")[0].split("-")[0]
            version = "" if major == "17" else (" and is not PostgreSQL 17 (Multigres supports PostgreSQL 17 "
                                                "only)")
            out.append(warning(f"postgres image {postgres!r} is a plain PostgreSQL image without pgctld{version}; "
                               "the pooler pods need ghcr.io/multigres/pgctld (PostgreSQL 17 + pgctld).",
                               "spec.images.postgres"))
    return out


def check_etcd_replicas(cluster: MultigresCluster) -> list[Result]:
    out = []
    g = cluster.spec.global_topo_server
    candidates = []
    if g is not None and g.managed_spec is not None:
        candidates.append(("spec.globalTopoServer.managedSpec.replicas", g.managed_spec.replicas))
    for i, c in enumerate(_cells(cluster)):
        topo = cell_topo(c.spec)
        if topo is not None and topo.managed_spec is not None:
            field = "topoServer" if c.spec and c.spec.topo_server else "toposerver"
            candidates.append((f"spec.cells.templates[{i}].spec.{field}.managedSpec.replicas",
                               topo.managed_spec.replicas))
    for path, replicas in candidates:
        if replicas is not None and replicas > limits.MAX_ETCD_REPLICAS:
            out.append(error(f"etcd replicas {replicas} is more than {limits.MAX_ETCD_REPLICAS} (limit "
                             "MAX_ETCD_REPLICAS); use 3, 5 or 7 members.", path))
        elif replicas is not None and replicas % 2 == 0:
            out.append(warning(f"etcd with {replicas} members tolerates no more failures than "
                               f"{replicas - 1}; use an odd count ({replicas - 1} or {replicas + 1}).", path))
    return out


# ---- values that reach Kubernetes fields, validated as the API server validates them ----

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# An image reference as the container runtime parses it: [registry[:port]/]path[:tag][@digest].
_IMAGE = re.compile(r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?"
                    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


_RESOURCE_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                            r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(DNS_SUBDOMAIN.match(value))


def image_problem(image: str) -> str | None:
    """Why a container image reference would not pull (None when it is well formed)."""
    if not image.strip():
        return "is empty"
    if any(c.isspace() for c in image):
        return "contains whitespace (a space, tab or line break)"
    if not _IMAGE.match(image):
        return "is not a valid image reference ([registry/]repository[:tag][@sha256:digest], lower-case repository)"
    return None


def _all_images(cluster: MultigresCluster) -> list[tuple[str, str]]:
    images = cluster.spec.images.dump() if cluster.spec.images else {}
    found = [(f"spec.images.{k}", v) for k, v in images.items()]
    g = cluster.spec.global_topo_server
    if g is not None and g.managed_spec is not None and g.managed_spec.image is not None:
        found.append(("spec.globalTopoServer.managedSpec.image", g.managed_spec.image))
    for i, c in enumerate(_cells(cluster)):
        topo = cell_topo(c.spec)
        if topo is not None and topo.managed_spec is not None and topo.managed_spec.image is not None:
            field = "topoServer" if c.spec and c.spec.topo_server else "toposerver"
            found.append((f"spec.cells.templates[{i}].spec.{field}.managedSpec.image", topo.managed_spec.image))
    return found


def check_image_references(cluster: MultigresCluster) -> list[Result]:
    out = []
    for path, image in _all_images(cluster):
        problem = image_problem(image)
        if problem:
            out.append(error(f"image {image!r} {problem}; write a reference such as "
                             "ghcr.io/multigres/multigres:sha-6bd80b9.", path))
    return out


def check_secret_names(cluster: MultigresCluster) -> list[Result]:
    out = []
    secret = cluster.spec.postgres_password_secret
    if secret is not None and not is_dns_subdomain(secret):
        out.append(error(f"Secret name {secret!r} is not a valid Kubernetes name (lower-case letters, digits, "
                         "'-' and '.', at most 253); fix the name.", "spec.postgresPasswordSecret"))
    for i, pull in enumerate(cluster.spec.image_pull_secrets or []):
        if not is_dns_subdomain(pull.name):
            out.append(error(f"imagePullSecrets name {pull.name!r} is not a valid Secret name (lower-case "
                             "letters, digits, '-' and '.', at most 253); fix the name.",
                             f"spec.imagePullSecrets[{i}].name"))
    return out


def check_namespace(cluster: MultigresCluster) -> list[Result]:
    ns = cluster.metadata.get("namespace")
    if ns not in (None, "") and (not isinstance(ns, str) or len(ns) > 63 or not DNS_LABEL.match(ns)):
        return [error(f"namespace {ns!r} is not a valid namespace name (a DNS-1123 label: lower-case letters, "
                      "digits and '-', at most 63); fix it.", "metadata.namespace")]
    return []


def check_certificate_namespace(cluster: MultigresCluster) -> list[Result]:
    """The pgBackRest Certificate's DNS names contain the namespace: cert-manager needs one."""
    tls = cluster.spec.pgbackrest_tls
    if tls is None or tls.cert_manager is None or cluster.metadata.get("namespace"):
        return []
    return [error("the pgBackRest Certificate needs the pods' DNS names, which contain the namespace; set "
                  "metadata.namespace on the cluster.", "spec.pgbackrestTLS.certManager")]


def address_problem(address: str) -> str | None:
    if any(c.isspace() for c in address):
        return "contains whitespace; it is passed as a command-line argument, so write host:port alone"
    if not all(_HOST_PORT.match(part) for part in address.split(",")):
        return "is not host:port (or a comma-separated list of them)"
    return None


def check_topo_addresses(cluster: MultigresCluster) -> list[Result]:
    candidates = []
    g = cluster.spec.global_topo_server
    if g is not None and g.external is not None:
        candidates.append(("spec.globalTopoServer.external.address", g.external.address))
    for i, c in enumerate(_cells(cluster)):
        topo = cell_topo(c.spec)
        if topo is not None and topo.external is not None:
            field = "topoServer" if c.spec and c.spec.topo_server else "toposerver"
            candidates.append((f"spec.cells.templates[{i}].spec.{field}.external.address", topo.external.address))
    out = []
    for path, address in candidates:
        problem = address_problem(address)
        if problem:
            out.append(error(f"topo address {address!r} {problem}.", path))
    return out


def check_paths(cluster: MultigresCluster) -> list[Result]:
    """rootPath and backupLocation reach container arguments and etcd keys: absolute, no whitespace."""
    out = []
    stack: list[tuple[str, Any]] = [("spec", cluster.spec.dump())]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, sub in value.items():
                if key in ("rootPath", "backupLocation") and isinstance(sub, str):
                    if not sub.startswith("/") or any(c.isspace() or ord(c) < 32 for c in sub):
                        out.append(error(f"{key} {sub!r} must be an absolute path (starting with '/') without "
                                         "whitespace or control characters; it is passed as a command-line "
                                         "argument.", f"{path}.{key}"))
                elif key not in ("overrides", "images"):
                    stack.append((f"{path}.{key}", sub))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return sorted(out, key=lambda r: r.path)


def check_options(options: RenderOptions, prefix: str) -> list[Result]:
    """RenderMultigres / ConfigMap options: clusterDomain goes into DNS names and arguments."""
    domain = options.cluster_domain
    if not is_dns_subdomain(domain):
        return [error(f"clusterDomain {domain!r} is not a DNS domain (lower-case letters, digits, '-' and '.', "
                      "no spaces), such as cluster.local.", f"{prefix}.clusterDomain")]
    return []


# ---- size limits (krmfn.limits): checked before anything takes time in proportion to them ----

def check_sizes(cluster: MultigresCluster) -> list[Result]:
    out = []
    cells = _cells(cluster)
    if len(cells) > limits.MAX_CELLS:
        out.append(error(f"{len(cells)} cells is more than {limits.MAX_CELLS} (limit MAX_CELLS); split the "
                         "cluster.", "spec.cells.templates"))
    dbs = _databases(cluster)
    if len(dbs) > limits.MAX_DATABASES:
        out.append(error(f"{len(dbs)} databases is more than {limits.MAX_DATABASES} (limit MAX_DATABASES); "
                         "split the cluster.", "spec.databases.templates"))
    total = 0
    for d, db in enumerate(dbs):
        tgs = (db.spec.tablegroups if db.spec else None) or []
        path = f"spec.databases.templates[{d}].spec.tablegroups"
        if len(tgs) > limits.MAX_TABLE_GROUPS:
            out.append(error(f"{len(tgs)} table groups is more than {limits.MAX_TABLE_GROUPS} (limit "
                             "MAX_TABLE_GROUPS); split the database.", path))
        for t, tg in enumerate(tgs):
            shards = tg.partitioning.shards if tg.partitioning else 1
            if shards > limits.MAX_SHARDS:
                out.append(error(f"{shards} shards is more than {limits.MAX_SHARDS} (limit MAX_SHARDS); use "
                                 "fewer shards.", f"{path}[{t}].partitioning.shards"))
            pools = (tg.shard_template.pools if tg.shard_template else None) or []
            if len(pools) > limits.MAX_POOLS_PER_TABLE_GROUP:
                out.append(error(f"{len(pools)} pools is more than {limits.MAX_POOLS_PER_TABLE_GROUP} (limit "
                                 "MAX_POOLS_PER_TABLE_GROUP); merge pools.", f"{path}[{t}].shardTemplate.pools"))
            total += min(shards, limits.MAX_SHARDS + 1) * len(pools)
    if total > limits.MAX_SHARD_POOLS and not out:
        out.append(error(f"shards x pools add up to {total} pool StatefulSets, more than {limits.MAX_SHARD_POOLS} "
                         "(limit MAX_SHARD_POOLS); use fewer shards or pools, or split the cluster.",
                         "spec.databases.templates"))
    return out


SIZE_CHECKS: list[ClusterCheck] = [check_sizes]


def check_replica_bounds(child: Child) -> list[Result]:
    """Replica counts, resource names and storage classes after templates and overrides."""
    if child.kind == "MultiShard":
        return []  # its pools are the table group's, checked there once
    out = []
    stack: list[tuple[str, Any]] = [("spec", child.spec.dump())]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, sub in value.items():
                problems = _bounded_field(child.kind, path, key, sub)
                if problems is None:
                    stack.append((f"{path}.{key}", sub))
                else:
                    out += problems
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return out


def _bounded_field(kind: str, path: str, key: str, sub: Any) -> list[Result] | None:
    """The problems of one field check_replica_bounds bounds, or None for a field to look inside."""
    if key == "replicas" and isinstance(sub, int) and not isinstance(sub, bool):
        return _replica_problems(kind, path, sub)
    if key in ("requests", "limits") and isinstance(sub, dict):
        return [error(f"resource name {name!r} is not valid (cpu, memory, ephemeral-storage, storage or a "
                      "domain-prefixed name such as nvidia.com/gpu); fix the key.", f"{path}.{key}.{name}")
                for name in sub if not isinstance(name, str) or not _RESOURCE_NAME.match(name)]
    if key == "storageClassName" and isinstance(sub, str):
        return [] if is_dns_subdomain(sub) else [error(
            f"storageClassName {sub!r} is not a valid StorageClass name (lower-case letters, digits, '-' and "
            "'.'); fix it.", f"{path}.storageClassName")]
    return None


def _replica_problems(kind: str, path: str, replicas: int) -> list[Result]:
    if kind == "TopoServer" or ".managedSpec" in path:
        return []  # etcd members come from the cluster only: check_etcd_replicas
    if "pools[" in path:
        limit, name = limits.MAX_POOL_REPLICAS, "MAX_POOL_REPLICAS"
    else:
        limit, name = limits.MAX_COMPONENT_REPLICAS, "MAX_COMPONENT_REPLICAS"
    if replicas > limit:
        return [error(f"replicas {replicas} is more than {limit} (limit {name}); lower it.", f"{path}.replicas")]
    return []


CLUSTER_CHECKS: list[ClusterCheck] = [
    check_cluster_name,
    check_namespace,
    check_certificate_namespace,
    check_image_references,
    check_secret_names,
    check_topo_addresses,
    check_paths,
    check_label_values,
    check_duplicate_cells,
    check_duplicate_databases,
    check_duplicate_table_groups,
    check_pool_cells,
    check_topo_alias_conflict,
    check_topo_choice,
    check_images,
    check_etcd_replicas,
    checks_placement.check_cell_domain_choice,
    checks_placement.check_cells_placed,
    checks_placement.check_multi_cell_domains,
]


# ---- checks on resolved children (they see the final values, whatever layer set them) ----

def _resources_paths(spec: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for key in ("multiGateway",):
        if isinstance(spec.get(key), dict):
            yield f"spec.{key}.resources", spec[key].get("resources") or {}
    if isinstance(spec.get("multiorch"), dict):
        yield "spec.multiorch.spec.resources", spec["multiorch"].get("spec", {}).get("resources") or {}
    pools = spec.get("pools") or (spec.get("shardTemplate") or {}).get("pools") or []
    prefix = "spec.pools" if "pools" in spec else "spec.shardTemplate.pools"
    for i, pool in enumerate(pools):
        for container in ("postgres", "multipooler"):
            yield f"{prefix}[{i}].{container}.resources", (pool.get(container) or {}).get("resources") or {}
        dvct = pool.get("dataVolumeClaimTemplate") or {}
        yield f"{prefix}[{i}].dataVolumeClaimTemplate.resources", dvct.get("resources") or {}
    if "resources" in spec:
        yield "spec.resources", spec.get("resources") or {}


def check_requests_within_limits(child: Child) -> list[Result]:
    if child.kind == "MultiShard":
        return []  # its pools are the table group's, checked there once
    out = []
    for path, resources in _resources_paths(child.spec.dump()):
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for name, request in requests.items():
            if name not in limits:
                continue
            try:
                if parse_quantity(request) > parse_quantity(limits[name]):
                    out.append(error(f"{name} request {request} is above its limit {limits[name]}; raise "
                                     "the limit or lower the request (the template and overrides are "
                                     "merged first).", f"{path}.requests.{name}"))
            except QuantityError:
                continue
    return out


def check_durability(child: Child) -> list[Result]:
    if child.kind != "MultiTableGroup":
        return []
    pools = [p for p in child.spec.shard_template.pools if p.type == "replica"]
    policy = child.spec.durability_policy
    total = sum(p.replicas for p in pools)
    cells = {p.cell for p in pools if p.replicas > 0}
    if total < 2:
        return [warning(f"replica pools of each shard hold {total} instance(s); the durability policy "
                        f"{policy} needs at least 2 to bootstrap a shard. Raise the replica pool's replicas.",
                        "spec.shardTemplate.pools")]
    if policy == "MULTI_CELL_AT_LEAST_2" and len(cells) < 2:
        return [warning(f"durability policy {policy} needs replica pools in two cells; this table group has "
                        f"them in {len(cells)}. Add a replica pool in another cell.", "spec.shardTemplate.pools")]
    return []


def check_mvp_limits(child: Child) -> list[Result]:
    """Today's multipooler refuses any table group but `default` and any shard but `0-inf`."""
    if child.kind != "MultiShard":
        return []
    spec = child.spec
    if spec.table_group_name == "default" and spec.shard_name == "0-inf":
        return []
    return [warning(f"table group {spec.table_group_name!r} shard {spec.shard_name!r} is rendered as "
                    "designed, but today's multipooler only starts for table group 'default', shard '0-inf' "
                    "(upstream MVP limit, ValidateMVPTableGroupAndShard); its pods will not become ready "
                    "until upstream lifts it.", "spec.shardName")]


APPLICATION_NAME_LIMIT = 63


def check_service_ids(child: Child) -> list[Result]:
    """multipooler refuses to start when `<cell>_<service-id>` (its postgres application_name) is
    longer than 63 characters (go/services/multipooler/internal/manager/consensus/replicaident.go)."""
    if child.kind != "MultiTableGroup":
        return []
    out = []
    for i, pool in enumerate(child.spec.shard_template.pools):
        cell, replicas = pool.cell, pool.replicas
        room = APPLICATION_NAME_LIMIT - 1 - naming.service_id_length(replicas)
        if len(cell) > room:
            out.append(error(f"cell name {cell!r} ({len(cell)} characters) is too long for this pool's "
                             f"multipoolers: `<cell>_<service-id>` must fit {APPLICATION_NAME_LIMIT} characters "
                             f"and the service IDs of {replicas} pods take {naming.service_id_length(replicas)}. "
                             f"Shorten the cell name to at most {room} characters.",
                             f"spec.shardTemplate.pools[{i}].cell"))
    return out


CHILD_CHECKS: list[ChildCheck] = [check_requests_within_limits, check_durability, check_mvp_limits,
                                  check_replica_bounds, check_service_ids, checks_placement.check_shard_budget]


def check_unused_templates(names: list[str], used: set[str]) -> list[tuple[str, Result]]:
    return [(n, info(f"template {n!r} is not referenced by any MultigresCluster in its namespace; it has no "
                     "effect (delete it or reference it).")) for n in sorted(set(names) - used)]


# ---- Secrets: referenced, never generated ----

def _secrets_by_name(items: list[Item]) -> dict[str, list[Item]]:
    secrets: dict[str, list[Item]] = {}
    for item in items:
        if item.kind == "Secret" and item.api_version == "v1":
            secrets.setdefault(item.name, []).append(item)
    return secrets


def _password_secret(spec: MultiShardSpec) -> str | None:
    return spec.postgres_password_secret


def _tls_secret(spec: MultiShardSpec) -> str | None:
    return spec.pgbackrest_tls_secret


def _s3_secret(spec: MultiShardSpec) -> str | None:
    return spec.backup.s3.credentials_secret if spec.backup.s3 is not None else None


# (child spec field, its value, keys the pods read, what the Secret is, how to make it)
_SECRETS = [
    ("postgresPasswordSecret", _password_secret, (defaults.PASSWORD_KEY,), "the postgres password",
     "`kubectl create secret generic {name} --from-literal=" + defaults.PASSWORD_KEY + "=...`, or add it to the "
     "package with a secret manager"),
    ("pgbackrestTLSSecret", _tls_secret, tuple(defaults.PGBACKREST_CERT_FILES),
     "pgBackRest's TLS CA, certificate and key",
     "`scripts/make-pgbackrest-tls.sh {cluster} {namespace}` (README \"pgBackRest TLS\"), or set "
     "spec.pgbackrestTLS.certManager.issuerRef on the cluster"),
    ("backup.s3.credentialsSecret", _s3_secret, defaults.S3_CREDENTIAL_KEYS[:2], "S3 credentials for pgBackRest",
     "`kubectl create secret generic {name} --from-literal=AWS_ACCESS_KEY_ID=... "
     "--from-literal=AWS_SECRET_ACCESS_KEY=...`"),
]


def check_secrets(shards: list[MultiShard], items: list[Item],
                  rendered: set[tuple[str | None, str]] | None = None) -> list[Result]:
    """Secrets are referenced, never generated: warn when one the pooler pods mount is not an input.

    A Secret that a rendered cert-manager Certificate writes (`rendered`) counts as present.
    """
    secrets = _secrets_by_name(items)
    rendered = rendered or set()
    out, seen = [], set()
    for child in shards:
        ns = child.metadata.get("namespace")
        for field, value_of, keys, what, how in _SECRETS:
            name = value_of(child.spec)
            if not name or (ns, name) in seen or (ns, name) in rendered:
                continue
            seen.add((ns, name))
            found = [s for s in secrets.get(name, []) if s.namespace in (None, ns)]
            where = f" in namespace {ns!r}" if ns else ""
            ref = ResourceRef.of_child(child)
            if not found:
                make = how.format(name=name, cluster=naming.cluster_of(child.metadata), namespace=ns or "NAMESPACE")
                out.append(warning(
                    f"Secret {name!r}{where} (key{'s' if len(keys) > 1 else ''} {', '.join(map(repr, keys))}: "
                    f"{what}) is not among the inputs; the "
                    f"pooler pods will not start until it exists. Create it outside Git, e.g. {make}.",
                    f"spec.{field}", ref))
                continue
            missing = [k for k in keys if not any(k in ((s.obj.get("data") or {}) | (s.obj.get("stringData") or {}))
                                                  for s in found)]
            if missing:
                out.append(warning(f"Secret {name!r} has no key {', '.join(repr(k) for k in missing)}; the pooler "
                                   f"pods read {what} from it.", f"spec.{field}", ref))
    return out


def secrets_written_by(objects: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    """(namespace, name) of the Secrets the rendered cert-manager Certificates write."""
    return {(o["metadata"].get("namespace"), o["spec"]["secretName"]) for o in objects if o["kind"] == "Certificate"}
