"""MultigresCluster → (optional) a cert-manager Certificate for the pgBackRest TLS Secret.

The render only references TLS material. When the cluster names a cert-manager issuer
(spec.pgbackrestTLS.certManager.issuerRef), cert-manager writes the Secret the pooler pods mount;
otherwise the user creates it (scripts/make-pgbackrest-tls.sh, README "pgBackRest TLS").
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


def build_certificate(ctx: ClusterContext) -> list[dict[str, Any]]:
    """The Certificate, when the cluster names an issuer. A cluster without a namespace is refused
    before this runs (checks.check_certificate_namespace): the DNS names need it."""
    issuer = ctx.cert_manager_issuer
    if issuer is None or not ctx.namespace:
        return []
    labels = naming.labels(ctx.name, "pgbackrest-tls")
    issuer_ref = {"name": issuer["name"], "kind": issuer.get("kind", "Issuer")}
    if issuer.get("group"):
        issuer_ref["group"] = issuer["group"]
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
