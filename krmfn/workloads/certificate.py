"""MultigresCluster → (optional) cert-manager Certificates: pgBackRest's, the gateways' and the
components' gRPC (spec.internalTLS) and etcd's (spec.topoTLS).

The render only references TLS material. When the cluster names a cert-manager issuer
(spec.pgbackrestTLS.certManager.issuerRef, spec.gatewayTLS.certManager.issuerRef), cert-manager
writes the Secret the pods mount; otherwise the user creates it (scripts/make-pgbackrest-tls.sh,
README "pgBackRest TLS"; docs/security.md "Client TLS" for the gateways).
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from .context import ClusterContext


def pool_services(ctx: ClusterContext) -> list[str]:
    """Headless Service of every pool of every shard, in render order (databases, table groups,
    shards, pools: the order resolve writes the MultiShards in)."""
    return [naming.pool_service(naming.shard_name(ctx.name, db.name, tg.name, s), p.type, p.cell)
            for db in ctx.databases for tg in db.table_groups for s in range(tg.shards) for p in tg.pools]


def dns_names(services: list[str], namespace: str, ctx: ClusterContext) -> list[str]:
    """One wildcard per headless Service: it covers each pod's registered `--hostname`
    (`<pod>.<service>.<ns>.svc.<domain>`), the host a replica's backup dials (--pg2-host)."""
    return [f"*.{svc}.{namespace}.svc.{ctx.cluster_domain}" for svc in services]


def _issuer_ref(issuer: dict[str, Any]) -> dict[str, Any]:
    out = {"name": issuer["name"], "kind": issuer.get("kind", "Issuer")}
    if issuer.get("group"):
        out["group"] = issuer["group"]
    return out


def gateway_dns_names(ctx: ClusterContext, namespace: str) -> list[str]:
    """Every name a client in the Kubernetes cluster may dial a gateway Service by, and so verify
    with sslmode=verify-full: `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`, `<svc>.<ns>.svc.<domain>`,
    for the gateway of every cell."""
    out = []
    for cell in ctx.cells:
        svc = naming.gateway_name(naming.cell_name(ctx.name, cell.name))
        out += [svc, f"{svc}.{namespace}", f"{svc}.{namespace}.svc", f"{svc}.{namespace}.svc.{ctx.cluster_domain}"]
    return out


def build_gateway_certificate(ctx: ClusterContext) -> list[dict[str, Any]]:
    """The gateways' serving Certificate, when spec.gatewayTLS names an issuer. Server auth only:
    clients authenticate with passwords, not certificates. A cluster without a namespace is refused
    before this runs (checks.check_certificate_namespace)."""
    if ctx.gateway_issuer is None or not ctx.namespace:
        return []
    secret, issuer, extra = ctx.gateway_issuer
    names = gateway_dns_names(ctx, ctx.namespace)
    spec = {
        "secretName": secret,
        "dnsNames": names + [n for n in dict.fromkeys(extra) if n not in names],
        "usages": ["digital signature", "key encipherment", "server auth"],
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": _issuer_ref(issuer),
    }
    labels = naming.labels(ctx.name, "gateway-tls")
    return [objects.obj("cert-manager.io/v1", "Certificate",
                        objects.metadata(naming.gateway_certificate(ctx.name), ctx.metadata, labels,
                                         objects.WAVES["registration"]), spec)]


def build_internal_certificate(ctx: ClusterContext) -> list[dict[str, Any]]:
    """The components' gRPC Certificate, when spec.internalTLS names an issuer: one key pair for
    every component, server and client auth (the servers require a client certificate). Its first
    name is the one every caller verifies (--multipooler-grpc-server-name); the poolers' per-pod
    wildcards let a debugging client verify a pooler by the hostname it registered. No common
    name: Go verifies the DNS names only, and a long cluster name would pass CN's 64 bytes. A cluster
    without a namespace is refused before this runs (checks.check_certificate_namespace)."""
    tls = ctx.internal_tls
    if tls is None or ctx.internal_issuer is None or not ctx.namespace:
        return []
    names = [tls.server_name] + dns_names(pool_services(ctx), ctx.namespace, ctx)
    spec = {
        "secretName": tls.secret_name,
        "dnsNames": list(dict.fromkeys(names)),
        "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": _issuer_ref(ctx.internal_issuer),
    }
    labels = naming.labels(ctx.name, "internal-tls")
    return [objects.obj("cert-manager.io/v1", "Certificate",
                        objects.metadata(naming.internal_certificate(ctx.name), ctx.metadata, labels,
                                         objects.WAVES["registration"]), spec)]


def topo_dns_names(ctx: ClusterContext, namespace: str) -> list[str]:
    """Every name a client may dial a managed etcd by: its client Service's four spellings (the
    components and the render's own clients dial the fully qualified one), and a wildcard for its
    members' per-pod names (`<pod>.<peer>.<ns>.svc.<domain>`, the advertised client URLs)."""
    topos = [naming.global_topo_name(ctx.name)] if ctx.global_topo.client_service_name else []
    topos += [naming.cell_topo_name(ctx.name, c.name) for c in ctx.cells if c.client_service_name]
    out = []
    for topo in topos:
        svc = naming.topo_client_service(topo)
        out += [svc, f"{svc}.{namespace}", f"{svc}.{namespace}.svc", f"{svc}.{namespace}.svc.{ctx.cluster_domain}",
                f"*.{naming.topo_peer_service(topo)}.{namespace}.svc.{ctx.cluster_domain}"]
    return out


def build_topo_certificate(ctx: ClusterContext) -> list[dict[str, Any]]:
    """The etcd Certificate, when spec.topoTLS names an issuer: one key pair for every managed etcd
    and every client, server and client auth (etcd requires client certificates; its JSON gateway
    also dials etcd's own gRPC with it). No common name, as for the internal one. A cluster
    without a namespace is refused before this runs (checks.check_certificate_namespace)."""
    tls = ctx.global_topo.tls
    if tls is None or ctx.topo_issuer is None or not ctx.namespace:
        return []
    spec = {
        "secretName": tls.secret_name,
        "dnsNames": list(dict.fromkeys(topo_dns_names(ctx, ctx.namespace))),
        "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": _issuer_ref(ctx.topo_issuer),
    }
    labels = naming.labels(ctx.name, "topo-tls")
    return [objects.obj("cert-manager.io/v1", "Certificate",
                        # etcd's wave: etcd cannot start before the Secret exists
                        objects.metadata(naming.topo_certificate(ctx.name), ctx.metadata, labels,
                                         objects.WAVES["topo"]), spec)]


def build_certificate(ctx: ClusterContext) -> list[dict[str, Any]]:
    """The Certificate, when the cluster names an issuer. A cluster without a namespace is refused
    before this runs (checks.check_certificate_namespace): the DNS names need it."""
    issuer = ctx.cert_manager_issuer
    if issuer is None or not ctx.namespace:
        return []
    labels = naming.labels(ctx.name, "pgbackrest-tls")
    issuer_ref = _issuer_ref(issuer)
    spec = {
        "secretName": ctx.pgbackrest_tls_secret,
        "commonName": defaults.PGBACKREST_CN,
        "dnsNames": dns_names(pool_services(ctx), ctx.namespace, ctx),
        "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": issuer_ref,
    }
    name = naming.pgbackrest_certificate(ctx.name)
    return [objects.obj("cert-manager.io/v1", "Certificate",
                        objects.metadata(name, ctx.metadata, labels, objects.WAVES["registration"]), spec)]
