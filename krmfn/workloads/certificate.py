"""MultigresCluster → (optional) a cert-manager Certificate for the pgBackRest TLS Secret.

The render only references TLS material. When the cluster names a cert-manager issuer
(spec.pgbackrestTLS.certManager.issuerRef), cert-manager writes the Secret the pooler pods mount;
otherwise the user creates it (scripts/make-pgbackrest-tls.sh, README "pgBackRest TLS").
"""

from __future__ import annotations

from .. import defaults, naming
from ..results import ResourceRef, error
from . import objects
from .objects import BuildContext, ClusterView

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def pool_services(shards: list[dict[str, Any]]) -> list[str]:
    """Headless Service of every pool of every shard, in render order."""
    return [naming.pool_service(s["metadata"]["name"], str(p["type"]), str(p["cell"]))
            for s in shards for p in s["spec"].get("pools") or []]


def dns_names(services: list[str], namespace: str, ctx: BuildContext) -> list[str]:
    """One wildcard per headless Service: it covers each pod's registered `--hostname`
    (`<pod>.<service>.<ns>.svc.<domain>`), the host a replica's backup dials (--pg2-host)."""
    return [f"*.{svc}.{namespace}.svc.{ctx.cluster_domain}" for svc in services]


def build_certificate(view: ClusterView, shards: list[dict[str, Any]], ctx: BuildContext) -> list[dict[str, Any]]:
    issuer = view.cert_manager_issuer
    if issuer is None:
        return []
    ref = ResourceRef(naming.API_VERSION, "MultigresCluster", view.name, view.namespace)
    if not view.namespace:
        ctx.results.append(error("the pgBackRest Certificate needs the pods' DNS names, which contain the "
                                 "namespace; set metadata.namespace on the cluster.",
                                 "spec.pgbackrestTLS.certManager", ref))
        return []
    labels = naming.labels(view.name, "pgbackrest-tls")
    issuer_ref = {"name": issuer["name"], "kind": issuer.get("kind", "Issuer")}
    if issuer.get("group"):
        issuer_ref["group"] = issuer["group"]
    spec = {
        "secretName": view.pgbackrest_tls_secret,
        "commonName": defaults.PGBACKREST_CN,
        "dnsNames": dns_names(pool_services(shards), view.namespace, ctx),
        "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": issuer_ref,
    }
    name = naming.pgbackrest_certificate(view.name)
    return [objects.obj("cert-manager.io/v1", "Certificate",
                     objects.metadata(name, view, labels, objects.WAVES["registration"]), spec)]
