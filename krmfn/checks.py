"""Semantic checks: small pure functions, each returning results with a field path.

Structural problems (unknown fields, wrong types, enums, minimums) come from the models; these
checks see a cluster that parsed and say what a schema cannot: references, duplicates, limits,
and what will not run. CLUSTER_CHECKS run on the user's cluster, CHILD_CHECKS on each resolved
child, so every problem is reported in one render.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from . import checks_placement, defaults, limits, naming, postgres_settings
from .api.validator import alias, cell_topo
from .quantity import QuantityError, parse_quantity
from .results import ResourceRef, Result, error, info, warning

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:  # at run time a valid cluster is the pydantic-free object of api/validator.py
    from typing import Any

    from .api.cluster import CellTemplate, DatabaseTemplate, MultigresCluster
    from .api.config import RenderOptions

    ClusterCheck = Callable[[MultigresCluster], Iterable[Result]]
    from .api.generated.child_types import MultiCell, MultiCellSpec, MultiShard, MultiShardSpec
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


# repository[:tag][@digest]: read by `image_parts` with string methods, this pattern only for
# text with a line break (compiling it was 2.6 M instructions at every start-up, docs/performance.md
# round 4; tests/test_startup_helpers.py holds the two to the same answers).
IMAGE_PARTS = r"^(?P<repo>[^@]+?)(?::(?P<tag>[^:/@]+))?(?:@(?P<digest>.+))?$"


def image_parts(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) as IMAGE_PARTS' groups give them; (image, None, None) when it
    does not match. The tag can only follow the last ':' before the first '@' (it has no ':')."""
    if "\n" in image:
        m = re.match(IMAGE_PARTS, image)
        return (m.group("repo"), m.group("tag"), m.group("digest")) if m else (image, None, None)
    head, at, digest = image.partition("@")
    if not head or (at and not digest):
        return image, None, None
    repo, colon, tag = head.rpartition(":")
    if not colon or not repo or not tag or "/" in tag:
        repo, tag = head, ""
    return repo, tag or None, digest if at else None


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
        _, tag, digest = image_parts(image)
        if digest is None and (tag is None or tag == "latest"):
            out.append(warning(f"image {image!r} uses the moving tag 'latest'; pin a version (or digest) so "
                               "every pod runs the same build and renders stay reproducible.", path))
    postgres = images.get("postgres")
    if postgres:
        repo, tag, _ = image_parts(postgres)
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

# Patterns the seed never reaches are strings, compiled by `re` on first use: compiling every pattern
# at import was start-up cost on every render (docs/performance.md).
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# An image reference as the container runtime parses it: [registry[:port]/]path[:tag][@digest].
# Read by is_image_reference with string methods (compiling it was start-up cost,
# docs/performance.md round 4; tests/test_startup_helpers.py holds the two to the same answers).
IMAGE = (r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
         r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?"
         r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_COMPONENT_CHARS = _LOWER_ALNUM | {".", "_", "-"}
_HOST_CHARS = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ.-")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("0123456789abcdefABCDEF")
_ALGORITHM_CHARS = _HOST_CHARS | frozenset("_+")


def _is_component(text: str) -> bool:
    """`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`: separators `.`, `_`, `__` or dashes between alnum runs."""
    if text == "" or text[0] not in _LOWER_ALNUM or text[-1] not in _LOWER_ALNUM:
        return False
    if not _COMPONENT_CHARS.issuperset(text):
        return False
    run = ""
    for char in text:
        if char in _LOWER_ALNUM:
            if run and run not in (".", "_", "__") and run.strip("-"):
                return False
            run = ""
        else:
            run += char
    return True


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"  # the pattern's \w (str patterns are Unicode)


def _is_digest(text: str) -> bool:
    """`[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`."""
    algorithm, colon, hexits = text.partition(":")
    if not colon or len(hexits) < 32 or not _HEX.issuperset(hexits):
        return False
    if not _ALGORITHM_CHARS.issuperset(algorithm):
        return False
    for sep in "-_+":
        algorithm = algorithm.replace(sep, ".")
    return all(part != "" and part[0] in _ALPHA for part in algorithm.split("."))


def is_image_reference(image: str) -> bool:
    """IMAGE matches (its `$` also before one final newline): `[registry/]path[:tag][@digest]`."""
    text = image[:-1] if image.endswith("\n") else image
    rest, at, digest = text.partition("@")
    if at and not _is_digest(digest):
        return False
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1:]
        if not 1 <= len(tag) <= 128 or not _is_word(tag[0]):
            return False
        if not all(_is_word(c) or c in ".-" for c in tag):
            return False
    parts = rest.split("/")
    if all(_is_component(part) for part in parts):
        return True
    host, _, port = parts[0].partition(":")
    return (len(parts) > 1 and host != "" and _HOST_CHARS.issuperset(host)
            and (":" not in parts[0] or (port.isascii() and port.isdigit()))
            and all(_is_component(part) for part in parts[1:]))
_HOST_PORT = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"



def is_dns_subdomain(value: str) -> bool:
    """RFC 1123 subdomain, as Kubernetes checks it: at most 253 characters, labels of at most 63."""
    return len(value) <= 253 and bool(re.match(DNS_SUBDOMAIN, value)) and all(len(p) <= 63 for p in value.split("."))


def image_problem(image: str) -> str | None:
    """Why a container image reference would not pull (None when it is well formed)."""
    if not image.strip():
        return "is empty"
    if any(c.isspace() for c in image):
        return "contains whitespace (a space, tab or line break)"
    if not is_image_reference(image):
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
    m = cluster.spec.monitoring
    if m is not None and m.exporter is not None and m.exporter.image is not None:
        found.append(("spec.monitoring.exporter.image", m.exporter.image))
    if cluster.spec.topo_tls is not None and cluster.spec.topo_tls.client_image is not None:
        found.append(("spec.topoTLS.clientImage", cluster.spec.topo_tls.client_image))
    return found


def check_image_references(cluster: MultigresCluster) -> list[Result]:
    out = []
    for path, image in _all_images(cluster):
        problem = image_problem(image)
        if problem:
            out.append(error(f"image {image!r} {problem}; write a reference such as "
                             "ghcr.io/multigres/multigres:sha-6bd80b9.", path))
    return out


def check_monitoring(cluster: MultigresCluster) -> list[Result]:
    """Label keys of the monitoring objects as the API server takes them, and endpoints as URLs
    the OTel SDK's exporters accept (a scheme, or they fail at start and export nothing)."""
    m = cluster.spec.monitoring
    if m is None:
        return []
    out = [error(f"label key {key!r} is not a Kubernetes label key ([prefix/]name, name at most 63 "
                 "characters of letters, digits, '-', '_', '.'); rename it.", f"spec.monitoring.labels.{key}")
           for key in m.labels or {} if not (naming.is_resource_name(key) and len(key.rsplit("/", 1)[-1]) <= 63)]
    for field in ("endpoint", "traces_endpoint"):
        url = getattr(m.otlp, field) if m.otlp is not None else None
        if url is not None and not url.startswith(("http://", "https://")):
            out.append(error(f"OTLP endpoint {url!r} has no http:// or https:// scheme; write the full URL, e.g. "
                             "http://prometheus.monitoring.svc:9090/api/v1/otlp/v1/metrics.",
                             f"spec.monitoring.otlp.{alias('OTLPSpec', field)}"))
    if m.enabled is True and m.otlp is None:
        out.append(warning("monitoring is enabled without an OTLP endpoint: the Multigres components export no "
                           "metrics, only PostgreSQL and etcd are scraped; set spec.monitoring.otlp.endpoint.",
                           "spec.monitoring"))
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
    if ns not in (None, "") and (not isinstance(ns, str) or len(ns) > 63 or not naming.is_dns_label(ns)):
        return [error(f"namespace {ns!r} is not a valid namespace name (a DNS-1123 label: lower-case letters, "
                      "digits and '-', at most 63); fix it.", "metadata.namespace")]
    return []


def check_certificate_namespace(cluster: MultigresCluster) -> list[Result]:
    """The rendered Certificates' DNS names contain the namespace: cert-manager needs one."""
    if cluster.metadata.get("namespace"):
        return []
    out = []
    tls = cluster.spec.pgbackrest_tls
    if tls is not None and tls.cert_manager is not None:
        out.append(error("the pgBackRest Certificate needs the pods' DNS names, which contain the namespace; set "
                         "metadata.namespace on the cluster.", "spec.pgbackrestTLS.certManager"))
    gateway = cluster.spec.gateway_tls
    if gateway is not None and gateway.cert_manager is not None:
        out.append(error("the gateways' Certificate needs the Services' DNS names, which contain the namespace; "
                         "set metadata.namespace on the cluster.", "spec.gatewayTLS.certManager"))
    internal = cluster.spec.internal_tls
    if internal is not None and internal.cert_manager is not None:
        out.append(error("the components' gRPC Certificate needs the pooler pods' DNS names, which contain the "
                         "namespace; set metadata.namespace on the cluster.", "spec.internalTLS.certManager"))
    topo = cluster.spec.topo_tls
    if topo is not None and topo.cert_manager is not None:
        out.append(error("the etcd Certificate needs the etcd Services' DNS names, which contain the namespace; "
                         "set metadata.namespace on the cluster.", "spec.topoTLS.certManager"))
    return out


def check_gateway_tls(cluster: MultigresCluster) -> list[Result]:
    """extraDNSNames only reach the Certificate the render writes: without certManager they would
    be silently ignored."""
    tls = cluster.spec.gateway_tls
    if tls is None or tls.extra_dns_names is None or tls.cert_manager is not None:
        return []
    return [error("extraDNSNames go into the rendered cert-manager Certificate, and there is none without "
                  "certManager; set certManager.issuerRef, or put the names in your own certificate and drop "
                  "extraDNSNames.", "spec.gatewayTLS.extraDNSNames")]


def check_topo_tls(cluster: MultigresCluster) -> list[Result]:
    """Upstream's etcd client flags are process-wide (go/common/topoclient/etcdtopo/store.go): with
    spec.topoTLS every component also dials an external etcd over TLS with the cluster's client
    certificate, and the registration Job and gateways' wait do too. Say so where it is set."""
    if cluster.spec.topo_tls is None:
        return []
    addresses: list[str] = []
    g = cluster.spec.global_topo_server
    if g is not None and g.external is not None:
        addresses.append(g.external.address)
    for c in _cells(cluster):
        topo = cell_topo(c.spec)
        if topo is not None and topo.external is not None:
            addresses.append(topo.external.address)
    if not addresses:
        return []
    return [warning(f"spec.topoTLS applies to every etcd the components dial, the external ones too "
                    f"({', '.join(addresses)}): they must serve TLS with a certificate the Secret's ca.crt "
                    "verifies, for the address dialled, and accept its client certificate (docs/security.md "
                    "\"etcd TLS\").", "spec.topoTLS")]


def _expression_problems(selector: Any, path: str) -> list[Result]:
    out = []
    for i, expr in enumerate((selector.match_expressions if selector else None) or []):
        needs_values = expr.operator in ("In", "NotIn")
        if needs_values != bool(expr.values):
            what = "needs at least one value" if needs_values else "takes no values"
            out.append(error(f"operator {expr.operator} {what}; fix values.", f"{path}.matchExpressions[{i}]"))
    return out


def _cidr_problem(cidr: str, within: Any = None) -> str | None:
    import ipaddress  # only here: most renders have no ipBlock (start-up cost, docs/performance.md)
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return f"{cidr!r} is not a CIDR such as 10.0.0.0/8 or fd00::/8"
    if within is not None and (net.version != within.version or not net.subnet_of(within)):
        return f"{cidr!r} is not inside the block's cidr {str(within)!r}"
    return None


def _peer_problems(peer: Any, path: str) -> list[Result]:
    selectors = [s for s in (peer.pod_selector, peer.namespace_selector) if s is not None]
    if peer.ip_block is None:
        if not selectors:
            return [error("a client needs podSelector, namespaceSelector or ipBlock.", path)]
        return (_expression_problems(peer.pod_selector, f"{path}.podSelector")
                + _expression_problems(peer.namespace_selector, f"{path}.namespaceSelector"))
    if selectors:
        return [error("ipBlock cannot be combined with podSelector or namespaceSelector; write two clients.", path)]
    problem = _cidr_problem(peer.ip_block.cidr)
    if problem:
        return [error(f"{problem}; fix it.", f"{path}.ipBlock.cidr")]
    import ipaddress
    block = ipaddress.ip_network(peer.ip_block.cidr, strict=False)
    return [error(f"{problem}; fix it.", f"{path}.ipBlock.except[{i}]")
            for i, cidr in enumerate(peer.ip_block.except_ or []) if (problem := _cidr_problem(cidr, block))]


def check_network_policy(cluster: MultigresCluster) -> list[Result]:
    """Client lists of spec.networkPolicy: the shapes Kubernetes would refuse, and an empty list,
    which a NetworkPolicy would read as "from anywhere" (leave the field out for the default)."""
    policy = cluster.spec.network_policy
    out: list[Result] = []
    fields = {"gatewayClients": "gateway_clients", "adminClients": "admin_clients", "metricsClients": "metrics_clients"}
    for field, attribute in fields.items():
        peers = getattr(policy, attribute, None)
        path = f"spec.networkPolicy.{field}"
        if peers is not None and not peers:
            out.append(error("an empty client list would let every source in; list at least one client, or "
                             "leave the field out for the default (docs/security.md).", path))
        for i, peer in enumerate(peers or []):
            out.extend(_peer_problems(peer, f"{path}[{i}]"))
    return out


def address_problem(address: str) -> str | None:
    if any(c.isspace() for c in address):
        return "contains whitespace; it is passed as a command-line argument, so write host:port alone"
    parts = address.split(",")
    if not all(re.match(_HOST_PORT, part) for part in parts):
        return "is not host:port (or a comma-separated list of them)"
    for part in parts:
        tail = part.rpartition("]")[2] if part.startswith("[") else part  # after an IPv6 address
        port = tail.rpartition(":")[2] if ":" in tail else None
        if port is not None and not 1 <= int(port) <= 65535:  # the pattern allows 1 to 5 digits
            return f"has port {port}, which is not a TCP port (1 to 65535)"
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
                    elif key == "backupLocation" and _mount_clash(sub):
                        out.append(error(f"backupLocation {sub!r} is, or contains, a path the pooler pods already "
                                         f"mount ({_mount_clash(sub)}); the API server refuses two volumes at one "
                                         "path. Use a path of its own, such as /backups.", f"{path}.{key}"))
                elif key not in ("overrides", "images"):
                    stack.append((f"{path}.{key}", sub))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return sorted(out, key=lambda r: r.path)


# What the pooler pods mount (workloads/shard.py, objects.py): the backup volume may be none of
# these, nor a folder above one (`/` would hold them all).
POOLER_MOUNTS = (defaults.POOLER_DIR, defaults.PASSWORD_MOUNT, defaults.PGBACKREST_CERT_DIR, defaults.PG_HBA_MOUNT,
                 "/dev/shm", "/tmp")


def _mount_clash(location: str) -> str | None:
    """The pooler mount a backup location would collide with, if any."""
    import posixpath

    normal = posixpath.normpath("/" + location.lstrip("/"))  # `//tmp` is /tmp to the kubelet
    for mount in POOLER_MOUNTS:
        if normal == mount or normal == "/" or mount.startswith(normal.rstrip("/") + "/"):
            return mount
    return None


def check_options(options: RenderOptions, prefix: str) -> list[Result]:
    """RenderMultigres / ConfigMap options: clusterDomain goes into DNS names and arguments; each
    limit is one that can be set, within its ceiling."""
    out = [error(f"{problem}; see docs/limits.md.", f"{prefix}.limits.{key}")
           for key, problem in limits.check_limits(options.limits or {})]
    domain = options.cluster_domain
    if not is_dns_subdomain(domain) or len(domain) > MAX_CLUSTER_DOMAIN:
        out.append(error(f"clusterDomain {domain[:80]!r} is not a DNS domain of at most {MAX_CLUSTER_DOMAIN} "
                         "characters (lower-case letters, digits, '-' and '.', labels of at most 63, no spaces), "
                         "such as cluster.local.", f"{prefix}.clusterDomain"))
    return out


# A Certificate's DNS names are `*.<service>.<namespace>.svc.<clusterDomain>` (workloads/certificate.py):
# with a 63-character Service and namespace, this is what is left of the 253 a DNS name may hold.
MAX_CLUSTER_DOMAIN = 253 - len("*.") - 63 - 1 - 63 - len(".svc.")


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
            # a shard without pools still costs its child and objects: it counts as one
            total += min(shards, limits.MAX_SHARDS + 1) * max(len(pools), 1)
    if total > limits.MAX_SHARD_POOLS and not out:
        out.append(error(f"shards x pools add up to {total} pool StatefulSets (a shard without pools counts as "
                         f"one), more than {limits.MAX_SHARD_POOLS} (limit MAX_SHARD_POOLS); use fewer shards or "
                         "pools, or split the cluster.", "spec.databases.templates"))
    return out


# What the builders write at most (workloads/): for the cluster (global etcd child and its 4
# objects, registration 2, multiadmin 2, Certificate 1, NetworkPolicies of the cluster's
# components and of the global etcd, monitoring's PodMonitors, rule and dashboards: 20 in all), per
# cell (MultiCell, gateway Deployment, Service, PDB; a cell etcd child, its 4 and its
# NetworkPolicy), per table group (MultiTableGroup, a multiorch Deployment per pool cell), per shard
# (MultiShard, backup claim, pg_hba ConfigMap, PDB, NetworkPolicy) and per pool of a shard
# (StatefulSet, headless Service; one more to spare). tests/test_hostile.py checks it bounds the
# examples.
OBJECTS_PER_CLUSTER, OBJECTS_PER_CELL, OBJECTS_PER_TABLE_GROUP, OBJECTS_PER_SHARD, OBJECTS_PER_POOL = 20, 10, 1, 5, 3


def estimate_objects(cluster: MultigresCluster) -> int:
    """An upper bound of the objects one cluster renders, from its spec alone: the output bound is
    checked with it before resolve and build, whose time and memory grow with the output."""
    total = OBJECTS_PER_CLUSTER + OBJECTS_PER_CELL * len(_cells(cluster))
    for db in _databases(cluster):
        for tg in (db.spec.tablegroups if db.spec else None) or []:
            shards = tg.partitioning.shards if tg.partitioning else 1
            pools = len((tg.shard_template.pools if tg.shard_template else None) or [])
            total += OBJECTS_PER_TABLE_GROUP + pools + shards * (OBJECTS_PER_SHARD + OBJECTS_PER_POOL * pools)
    return total


# Lists bounded by a limit of their own (check_sizes).
_COUNTED = frozenset({"templates", "tablegroups", "pools"})


def _entries_limit(where: str) -> str:
    return "MAX_FIELD_ENTRIES" if where.rpartition(".")[2] not in _COUNTED else "MAX_FIELD_ENTRIES or its own"


def _entries_allowed(where: str) -> int:
    """Entries a collection may hold here: a counted list (cells, databases, table groups, pools)
    up to the largest of the limits that count it exactly later (check_sizes)."""
    if where.rpartition(".")[2] not in _COUNTED:
        return limits.MAX_FIELD_ENTRIES
    return max(limits.MAX_FIELD_ENTRIES, limits.MAX_CELLS, limits.MAX_DATABASES, limits.MAX_TABLE_GROUPS,
               limits.MAX_POOLS_PER_TABLE_GROUP)


def field_size_problems(value: Any, path: str) -> list[Result]:
    """Lists, mappings and strings of a cluster or template that are larger than any real use:
    the builders copy them into every pod, so their size multiplies by the objects rendered
    (300,000 imagePullSecrets were 1.6 GiB). One result per field, found in one linear walk, on
    the raw object before it is validated (300,000 unknown keys were 300,000 validation errors)."""
    out = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, current = stack.pop()
        if isinstance(current, str):
            if len(current) > limits.MAX_VALUE_LENGTH:
                out.append(error(f"a value of {len(current):,} characters is longer than {limits.MAX_VALUE_LENGTH:,} "
                                 "(limit MAX_VALUE_LENGTH); it is copied into every pod, shorten it.", where))
            continue
        if not isinstance(current, dict | list):
            continue
        if len(current) > _entries_allowed(where):
            out.append(error(f"{len(current):,} entries is more than {_entries_allowed(where)} (limit "
                             f"{_entries_limit(where)}); it is copied into every pod, use fewer.", where))
            continue
        if isinstance(current, dict):
            stack.extend((f"{where}.{k}", v) for k, v in current.items())
        else:
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(current))
    return sorted(out, key=lambda r: r.path)


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
                for name in sub if not isinstance(name, str) or not naming.is_resource_name(name)]
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
    check_gateway_tls,
    check_topo_tls,
    check_network_policy,
    check_image_references,
    check_secret_names,
    check_monitoring,
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


def check_postgres_config(child: Child) -> list[Result]:
    """postgresConfig after cluster, template and pool were merged: Multigres' own settings and names
    postgres would not start with are refused (postgres_settings.py). Checked once per table group."""
    if child.kind != "MultiTableGroup":
        return []
    return [r for i, pool in enumerate(child.spec.shard_template.pools)
            for r in postgres_settings.problems(pool.postgres_config,
                                                f"spec.shardTemplate.pools[{i}].postgresConfig")]


CHILD_CHECKS: list[ChildCheck] = [check_requests_within_limits, check_durability, check_mvp_limits,
                                  check_replica_bounds, check_service_ids, checks_placement.check_shard_budget,
                                  check_postgres_config]


def check_unused_templates(names: list[str], used: set[str]) -> list[tuple[str, Result]]:
    return [(n, info(f"template {n!r} is not referenced by any MultigresCluster in its namespace; it has no "
                     "effect (delete it or reference it).")) for n in sorted(set(names) - used)]


# ---- Secrets: referenced, never generated ----

def secrets_by_name(items: list[Item]) -> dict[str, list[Item]]:
    """The input v1 Secrets by name: built once per render, not once per cluster."""
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


def _gateway_tls_secret(spec: MultiCellSpec) -> str | None:
    return spec.gateway_tls.secret_name if spec.gateway_tls is not None else None


def _cipher_secret(spec: MultiShardSpec) -> str | None:
    return spec.backup.cipher.secret_name if spec.backup.cipher is not None else None


def _fixed(*keys: str) -> Callable[[Any], tuple[str, ...]]:
    return lambda _spec: keys


def _cipher_key(spec: MultiShardSpec) -> tuple[str, ...]:
    """The key the cipher key file is read from (backup.encryption.key, defaulted by resolve)."""
    return (spec.backup.cipher.key,) if spec.backup.cipher is not None else ()


def _internal_tls_secret(spec: MultiShardSpec) -> str | None:
    return spec.internal_tls.secret_name if spec.internal_tls is not None else None


def _topo_tls_secret(spec: MultiShardSpec) -> str | None:
    return spec.global_topo_server.tls.secret_name if spec.global_topo_server.tls is not None else None


# (child kind, child spec field, its value, keys the pods read, what the Secret is, how to make it)
_SECRETS: list[tuple[str, str, Callable[[Any], str | None], Callable[[Any], tuple[str, ...]], str, str]] = [
    ("MultiShard", "postgresPasswordSecret", _password_secret, _fixed(defaults.PASSWORD_KEY), "the postgres password",
     "`kubectl create secret generic {name} --from-literal=" + defaults.PASSWORD_KEY + "=...`, or add it to the "
     "package with a secret manager"),
    ("MultiShard", "pgbackrestTLSSecret", _tls_secret, _fixed(*defaults.PGBACKREST_CERT_FILES),
     "pgBackRest's TLS CA, certificate and key",
     "`scripts/make-pgbackrest-tls.sh {cluster} {namespace}` (README \"pgBackRest TLS\"), or set "
     "spec.pgbackrestTLS.certManager.issuerRef on the cluster"),
    ("MultiShard", "backup.s3.credentialsSecret", _s3_secret, _fixed(*defaults.S3_CREDENTIAL_KEYS[:2]),
     "S3 credentials for pgBackRest",
     "`kubectl create secret generic {name} --from-literal=AWS_ACCESS_KEY_ID=... "
     "--from-literal=AWS_SECRET_ACCESS_KEY=...`"),
    # mounted by multipooler: without it the pooler pods do not start (and the repository is unreadable)
    ("MultiShard", "backup.cipher.secretName", _cipher_secret, _cipher_key, "the backup repository's cipher key file",
     "`kubectl create secret generic {name} --from-literal={key}='{{\"1\": \"<passphrase>\"}}'` (docs/backup.md "
     "\"Encryption\"; keep the passphrase outside the cluster too: a restore needs it)"),
    ("MultiCell", "gatewayTLS.secretName", _gateway_tls_secret, _fixed(*defaults.GATEWAY_CERT_KEYS),
     "the gateways' TLS certificate and key",
     "`kubectl create secret tls {name} --cert=tls.crt --key=tls.key` (docs/security.md \"Client TLS\"), "
     "or set spec.gatewayTLS.certManager.issuerRef on the cluster"),
    # every component mounts it; the pooler pods' warning stands for all of them
    ("MultiShard", "internalTLS.secretName", _internal_tls_secret, _fixed(*defaults.INTERNAL_CERT_KEYS),
     "the components' gRPC CA, certificate and key",
     "`kubectl create secret generic {name} --type=kubernetes.io/tls --from-file=ca.crt --from-file=tls.crt "
     "--from-file=tls.key` (docs/security.md \"Internal TLS\"), or set spec.internalTLS.certManager.issuerRef "
     "on the cluster"),
    # etcd and every component mount it; the pooler pods' warning stands for all of them
    ("MultiShard", "globalTopoServer.tls.secretName", _topo_tls_secret, _fixed(*defaults.TOPO_CERT_KEYS),
     "etcd's TLS CA, certificate and key",
     "`scripts/make-topo-tls.sh {cluster} {namespace}` (docs/security.md \"etcd TLS\"), or set "
     "spec.topoTLS.certManager.issuerRef on the cluster"),
]
_PODS = {"MultiShard": "pooler pods", "MultiCell": "gateway pods"}


def check_secrets(children: list[MultiShard | MultiCell], items: list[Item] | dict[str, list[Item]],
                  rendered: set[tuple[str | None, str]] | None = None) -> list[Result]:
    """Secrets are referenced, never generated: warn when one the pooler or gateway pods mount is not
    an input. A Secret that a rendered cert-manager Certificate writes (`rendered`) counts as present.
    """
    secrets = items if isinstance(items, dict) else secrets_by_name(items)
    rendered = rendered or set()
    out: list[Result] = []
    seen: set[tuple[str | None, str]] = set()
    for child in children:
        ns = child.metadata.get("namespace")
        for kind, field, value_of, keys_of, what, how in _SECRETS:
            name = value_of(child.spec) if child.kind == kind else None
            if not name or (ns, name) in seen or (ns, name) in rendered:
                continue
            keys = keys_of(child.spec)
            seen.add((ns, name))
            out += _secret_problems(child, secrets.get(name, []), name, field, keys, what, how)
    return out


def _secret_problems(child: MultiShard | MultiCell, candidates: list[Item], name: str, field: str,
                     keys: tuple[str, ...], what: str, how: str) -> list[Result]:
    ns = child.metadata.get("namespace")
    pods = _PODS[child.kind]
    # no namespace on either side: it lands wherever it is applied (reconcile.IdentityIndex)
    found = [s for s in candidates if s.namespace is None or ns is None or s.namespace == ns]
    where = f" in namespace {ns!r}" if ns else ""
    ref = ResourceRef.of_child(child)
    if not found:
        make = how.format(name=name, cluster=naming.cluster_of(child.metadata), namespace=ns or "NAMESPACE",
                          key=keys[0] if keys else "")
        return [warning(
            f"Secret {name!r}{where} (key{'s' if len(keys) > 1 else ''} {', '.join(map(repr, keys))}: "
            f"{what}) is not among the inputs; the "
            f"{pods} will not start until it exists. Create it outside Git, e.g. {make}.",
            f"spec.{field}", ref)]
    missing = [k for k in keys if not any(k in ((s.obj.get("data") or {}) | (s.obj.get("stringData") or {}))
                                          for s in found)]
    if missing:
        return [warning(f"Secret {name!r} has no key {', '.join(repr(k) for k in missing)}; the {pods} "
                        f"read {what} from it.", f"spec.{field}", ref)]
    return []


def secrets_written_by(objects: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    """(namespace, name) of the Secrets the rendered cert-manager Certificates write."""
    return {(o["metadata"].get("namespace"), o["spec"]["secretName"]) for o in objects if o["kind"] == "Certificate"}
