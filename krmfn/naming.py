"""Every generated name and label comes from here (one jump from any object to its name).

Names are DNS-1123 (`_` becomes `-`, lower case). A name longer than its kind allows is cut and
ends in an 8-hex hash of the untruncated parts, so the same inputs give the same name forever and
two long names that share a prefix still differ.
"""

from __future__ import annotations

import re

# sha256 from CPython's built-in module: `hashlib` loads OpenSSL, about 3 % of the function's
# start-up (docs/performance.md); the digest is the same. hashlib where the module is missing.
try:
    from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]  # CPython <= 3.11
except ImportError:  # pragma: no cover
    try:
        from _sha2 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # CPython >= 3.12
    except ImportError:
        from hashlib import sha256  # type: ignore[assignment,no-redef,unused-ignore]

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def sha256_hex(data: bytes) -> str:
    """The sha256 of `data` in hex (without loading OpenSSL, see above)."""
    return str(sha256(data).hexdigest())


GROUP = "multigres.com"
API_VERSION = f"{GROUP}/v1alpha1"
MANAGED_BY = "multigres-krmfn"
GENERATED_FROM = f"{GROUP}/generated-from"

# Argo CD sync waves (workloads/objects.py has the workloads'). The child CRs go last: Argo CD waits
# for every object of a wave to be Healthy before it applies the next, and a child is Healthy only
# once the status reporter finds its workloads serving (argocd/resource_customizations), so in an
# earlier wave they would hold back the very workloads they wait for.
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
CHILDREN_WAVE = "4"

# Longest name each kind may have. Services are DNS-1035 labels; a StatefulSet's pods carry a
# `controller-revision-hash` label of `<name>-<10 chars>` that must stay within 63 characters.
NAME_LIMITS = {"Service": 63, "StatefulSet": 52, "Job": 52, "CronJob": 52, "Namespace": 63}
DEFAULT_LIMIT = 253
LABEL_VALUE_LIMIT = 63

# The name patterns below are read with string tests, each standing for the pattern next to it
# (compiling the patterns was start-up cost on every render, docs/performance.md round 4;
# tests/test_startup_helpers.py holds each test to its pattern). A pattern's `$` also matches
# before one final newline, so the tests do too (`_body`).
INVALID = r"[^a-z0-9-]+"
QUALIFIED_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
RESOURCE_NAME = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                 r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LABEL_CHARS = _LOWER_ALNUM | {"-"}
_NAME_CHARS = _ALNUM | {"-", "_", "."}


def _body(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


def _qualified(text: str) -> bool:
    return text != "" and text[0] in _ALNUM and text[-1] in _ALNUM and _NAME_CHARS.issuperset(text)


def _dns_label(text: str) -> bool:
    return text != "" and text[0] in _LOWER_ALNUM and text[-1] in _LOWER_ALNUM and _LABEL_CHARS.issuperset(text)


def is_qualified_name(text: str) -> bool:
    """QUALIFIED_NAME: letters and digits at both ends, `-`, `_`, `.` between."""
    return _qualified(_body(text))


def is_dns_label(text: str) -> bool:
    """DNS_LABEL (without its 63-character bound)."""
    return _dns_label(_body(text))


def is_resource_name(text: str) -> bool:
    """RESOURCE_NAME: `[prefix/]name`, the prefix DNS labels joined by dots (without length bounds)."""
    prefix, slash, name = _body(text).rpartition("/")
    return _qualified(name) and (not slash or all(_dns_label(label) for label in prefix.split(".")))


def sanitize(part: str) -> str:
    """One DNS-1123 label fragment: lower case, `_` and other characters to `-`."""
    text = str(part).lower()
    if _LABEL_CHARS.issuperset(text):  # nothing for INVALID to replace: the pattern is never compiled
        return text.strip("-")
    if "__" not in text and _LABEL_CHARS.issuperset(text.replace("_", "")):  # `orders_tg`: each `_` is a run
        return text.replace("_", "-").strip("-")
    return re.sub(INVALID, "-", text).strip("-")


def limit_for(kind: str) -> int:
    return NAME_LIMITS.get(kind, DEFAULT_LIMIT)


def fit(limit: int, *parts: str) -> str:
    """Join sanitised parts; past `limit`, keep whole leading and trailing words around a hash.

    `example-multigres-cluster-production-db-orders-tg-0-replica-us-west-2` (70) becomes
    `example-<hash>-orders-tg-0-replica-us-west-2` (52): the hash of the untruncated parts keeps
    the name unique and stable; the trailing words (table group, shard, pool type, cell) keep it
    readable, since the leading ones (the cluster) are the same for every object of a cluster.
    """
    joined = "-".join(p for p in (sanitize(x) for x in parts) if p)
    if len(joined) <= limit:
        return joined
    digest = sha256_hex("\x00".join(parts).encode())[:8]
    words = joined.split("-")
    budget = limit - len(digest) - 2
    tail: list[str] = []
    while len(words) > 1 and len("-".join([words[-1], *tail])) <= budget - len(words[0]) - 1:
        tail.insert(0, words.pop())
    head = ""
    for word in words:
        candidate = f"{head}-{word}" if head else word
        if len(candidate) > budget - len("-".join(tail)):
            break
        head = candidate
    if not head:
        head = words[0][: max(1, budget - len("-".join(tail)))]
    return "-".join(p for p in (head, digest, "-".join(tail)) if p)


def object_name(kind: str, *parts: str) -> str:
    """The name of a generated object of `kind`, built from its identity parts."""
    name = fit(limit_for(kind), *parts)
    if kind == "Service" and name and not name[0].isalpha():
        name = fit(limit_for(kind), "s", *parts)
    return name


def is_label_value(value: str) -> bool:
    return len(value) <= LABEL_VALUE_LIMIT and (_body(value) == "" or _qualified(_body(value)))


# ---- child custom resources (the design's names, with the cluster prefix: docs/design.md, "Deviations") ----

def global_topo_name(cluster: str) -> str:
    return object_name("TopoServer", cluster, "global")


def cell_topo_name(cluster: str, cell: str) -> str:
    return object_name("TopoServer", cluster, cell)


def cell_name(cluster: str, cell: str) -> str:
    return object_name("MultiCell", cluster, cell)


def table_group_name(cluster: str, database: str, table_group: str) -> str:
    return object_name("MultiTableGroup", cluster, database, table_group)


def shard_name(cluster: str, database: str, table_group: str, index: int) -> str:
    return object_name("MultiShard", cluster, database, table_group, str(index))


# ---- workloads ----

def topo_statefulset(topo: str) -> str:
    return object_name("StatefulSet", topo)


def topo_peer_service(topo: str) -> str:
    return object_name("Service", topo, "peer")


def topo_client_service(topo: str) -> str:
    return object_name("Service", topo, "client")


def multiadmin_name(cluster: str) -> str:
    return object_name("Service", cluster, "multiadmin")


def gateway_name(multicell: str) -> str:
    """`<cluster>-<cell>-gateway`, the design's `gatewayServiceName`."""
    return object_name("Service", multicell, "gateway")


def pool_name(shard: str, pool_type: str, cell: str) -> str:
    """StatefulSet (and its headless Service) of one pool of one shard."""
    return object_name("StatefulSet", shard, pool_type, cell)


def status_reporter_name(cluster: str) -> str:
    """The status reporter's Deployment, ServiceAccount, Role and RoleBinding."""
    return object_name("Deployment", cluster, "status-reporter")


def read_only_policy_name(namespace: str | None, cluster: str) -> str:
    """The ValidatingAdmissionPolicy and its binding: cluster-scoped, so the namespace is in the name."""
    return object_name("ValidatingAdmissionPolicy", "multigres", namespace or "", cluster, "read-only-children")


def network_policy(*parts: str) -> str:
    """A NetworkPolicy: named after the workload it protects (a different kind, so no clash)."""
    return object_name("NetworkPolicy", *parts)


def registration_name(cluster: str) -> str:
    return object_name("Job", cluster, "register-topology")


# ---- labels ----

def labels(cluster: str, component: str | None = None, **identity: str | None) -> dict[str, str]:
    """The full label set of a generated object; identity keys map to multigres.com/<key>."""
    out = {
        "app.kubernetes.io/name": "multigres",
        "app.kubernetes.io/instance": cluster,
    }
    if component:
        out["app.kubernetes.io/component"] = component
    out["app.kubernetes.io/part-of"] = "multigres"
    out["app.kubernetes.io/managed-by"] = MANAGED_BY
    out[f"{GROUP}/cluster"] = cluster
    for key, value in identity.items():
        if value is not None:
            out[f"{GROUP}/{key.replace('_', '-')}"] = str(value)
    return out


def selector(full_labels: dict[str, str]) -> dict[str, str]:
    """Identity labels only: selectors are immutable, so never a version, hash or managed-by."""
    skip = {"app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"}
    return {k: v for k, v in full_labels.items() if k not in skip}


# ---- build stage (workloads) ----

CONTAINER_NAME_LIMIT = 63


def pool_service(shard: str, pool_type: str, cell: str) -> str:
    """Headless Service of one pool: the StatefulSet's name, kept a valid DNS-1035 Service name."""
    return object_name("Service", pool_name(shard, pool_type, cell))


def topo_pdb(topo: str) -> str:
    return object_name("PodDisruptionBudget", topo)


def shard_pdb(shard: str) -> str:
    """The one PodDisruptionBudget over every pooler pod of a shard (all pools, all cells)."""
    return object_name("PodDisruptionBudget", shard, "poolers")


def gateway_pdb(multicell: str) -> str:
    return object_name("PodDisruptionBudget", gateway_name(multicell))


def registration_configmap(cluster: str, digest: str) -> str:
    """The ConfigMap holding the records and the script of one registration Job (same digest)."""
    return object_name("ConfigMap", registration_name(cluster), digest[:8])


def backup_schedule(cluster: str, database: str) -> str:
    """The CronJob that takes a database's scheduled backups."""
    return object_name("CronJob", cluster, database, "backup")


def backup_claim(shard: str) -> str:
    """The backup repository claim of one shard, shared by all its pools and cells."""
    return object_name("PersistentVolumeClaim", shard, "backups")


def pg_hba_configmap(shard: str) -> str:
    return object_name("ConfigMap", shard, "pg-hba")


def pgbackrest_tls_secret(cluster: str) -> str:
    """The user's (or cert-manager's) kubernetes.io/tls Secret for pgBackRest, keys ca.crt/tls.crt/tls.key."""
    return f"{cluster}-pgbackrest-tls"


def pgbackrest_certificate(cluster: str) -> str:
    return object_name("Certificate", cluster, "pgbackrest")


def gateway_tls_secret(cluster: str) -> str:
    """The user's (or cert-manager's) kubernetes.io/tls Secret the gateways serve, keys tls.crt/tls.key
    (ca.crt is for the clients)."""
    return f"{cluster}-gateway-tls"


def gateway_certificate(cluster: str) -> str:
    return object_name("Certificate", cluster, "gateway")


def internal_tls_secret(cluster: str) -> str:
    """The user's (or cert-manager's) kubernetes.io/tls Secret of the components' gRPC: tls.crt,
    tls.key and ca.crt, all three mounted on every component."""
    return f"{cluster}-internal-tls"


def internal_certificate(cluster: str) -> str:
    return object_name("Certificate", cluster, "internal")


def topo_tls_secret(cluster: str) -> str:
    """The user's (or cert-manager's) kubernetes.io/tls Secret of the managed etcds and their
    clients: tls.crt, tls.key and ca.crt, mounted on etcd and every component."""
    return f"{cluster}-topo-tls"


def topo_certificate(cluster: str) -> str:
    return object_name("Certificate", cluster, "topo")


def internal_server_name(cluster: str) -> str:
    """The one name every gRPC caller verifies (upstream --multipooler-grpc-server-name): gateways,
    multiorch and multiadmin register their pod IP, which no certificate can name in advance.
    Under `.internal`, the top-level domain reserved for private use, so it never resolves."""
    return f"{cluster}.multigres.internal"


SERVICE_ID_HASH = 8


def service_id_prefix(namespace: str | None, statefulset: str) -> str:
    """The render-time half of a pooler's service ID: 8 hex of where its StatefulSet is.

    Upstream registers `<cell>_<service-id>` as the postgres application_name, at most 63
    characters (go/services/multipooler/internal/manager/consensus/replicaident.go), so the pod
    name does not fit; the pod's ordinal (label apps.kubernetes.io/pod-index) completes it at run
    time: `<prefix>-<ordinal>`. Namespace and StatefulSet name are unique, so the prefix is too
    (up to a 32-bit hash collision), and it never changes across restarts.
    """
    return sha256_hex(f"{namespace or ''}/{statefulset}".encode())[:SERVICE_ID_HASH]


def service_id_length(replicas: int) -> int:
    """Longest service ID of a pool of `replicas` pods (`<8 hex>-<ordinal>`)."""
    return SERVICE_ID_HASH + 1 + len(str(max(replicas - 1, 0)))


def registration_job(cluster: str, digest: str) -> str:
    """The registration Job, suffixed with a digest of the records it writes.

    A Job's pod template is immutable: a changed record set must be a new Job (the GitOps tool
    prunes the old one), the way kustomize suffixes generated ConfigMaps with a content hash.
    """
    return object_name("Job", registration_name(cluster), digest[:8])


def dns_label(*parts: str) -> str:
    """A DNS-1123 label (at most 63), cut with the same rule as object names."""
    return fit(CONTAINER_NAME_LIMIT, *parts)


def multiorch_deployment(table_group: str, cell: str) -> str:
    """multiorch's Deployment: a DNS label, since its name prefixes pod names and hostnames (the
    API server warns above 63 characters)."""
    return dns_label(table_group, "multiorch", cell)


def identity_of(meta: dict[str, Any]) -> dict[str, str]:
    """Identity labels of a child CR's metadata (`multigres.com/<key>` minus cluster), as labels() kwargs."""
    out = {}
    for key, value in (meta.get("labels") or {}).items():
        if key.startswith(GROUP + "/") and key != f"{GROUP}/cluster":
            out[key.split("/", 1)[1].replace("-", "_")] = str(value)
    return out


def cluster_of(meta: dict[str, Any]) -> str:
    """The cluster a child CR belongs to, from its metadata's `multigres.com/cluster` label."""
    return str((meta.get("labels") or {}).get(f"{GROUP}/cluster", ""))


# ---- monitoring (krmfn/workloads/monitoring.py) ----

EXPORTER_CONTAINER = "postgres-exporter"
EXPORTER_PORT_NAME = "pg-metrics"


def pod_monitor(cluster: str, target: str) -> str:
    """A PodMonitor of one cluster: `postgres-exporter` (pooler pods) or `etcd` (topo pods)."""
    return object_name("PodMonitor", cluster, target)


def prometheus_rule(cluster: str) -> str:
    return object_name("PrometheusRule", cluster, "alerts")


def dashboard_configmap(cluster: str) -> str:
    return object_name("ConfigMap", cluster, "dashboard")
