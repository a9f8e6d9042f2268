"""ClusterContext: what every builder may read besides its one child (read-only).

A builder takes one typed child and this context, and nothing else: no ResourceList, no options
object, no other child. The context holds the render options a builder needs (the cluster DNS
domain) and the resolved cluster-level facts that multiadmin, topology registration and the
pgBackRest Certificate are built from (they hang off the cluster in the design, not off a child).
"""

from __future__ import annotations

from .. import naming

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import ComponentSpec, GlobalTopoRef, InternalTLSRef, ResolvedImages
    from ..resolve.facts import CellRegistration, DatabaseFacts
    from ..resolve.monitoring import MonitoringFacts

_set = object.__setattr__


class ClusterContext:
    """The cluster a child belongs to, as its builders see it. Assigning a field raises: builders
    share one context, so none may change what the next one reads."""

    __slots__ = ("name", "namespace", "metadata", "cluster_domain", "images", "pull", "multiadmin",
                 "global_topo", "topo_image", "cells", "databases", "pgbackrest_tls_secret", "cert_manager_issuer",
                 "gateway_issuer", "internal_tls", "internal_issuer", "topo_issuer", "placement", "monitoring",
                 "network_policy",
                 "log_levels")

    name: str
    namespace: str | None
    metadata: dict[str, Any]
    cluster_domain: str
    images: ResolvedImages
    pull: dict[str, Any]
    multiadmin: ComponentSpec | None
    global_topo: GlobalTopoRef
    topo_image: str
    cells: tuple[CellRegistration, ...]
    databases: tuple[DatabaseFacts, ...]
    pgbackrest_tls_secret: str
    cert_manager_issuer: dict[str, Any] | None
    # (secret name, issuerRef, extra DNS names) of the gateways' Certificate; None: no Certificate
    gateway_issuer: tuple[str, dict[str, Any], tuple[str, ...]] | None
    internal_tls: InternalTLSRef | None  # spec.internalTLS resolved; None: gRPC in plain text
    internal_issuer: dict[str, Any] | None  # its issuerRef; None: no Certificate for it
    topo_issuer: dict[str, Any] | None  # spec.topoTLS's issuerRef; None: no etcd Certificate
    placement: dict[str, Any] | None  # the cluster level, for pods of no cell and no component
    monitoring: MonitoringFacts | None
    network_policy: dict[str, Any] | None  # spec.networkPolicy as dumped; None: render no policies
    log_levels: dict[str, str]

    def __init__(self, *, name: str, namespace: str | None, cluster_domain: str, images: ResolvedImages,
                 pull: dict[str, Any], global_topo: GlobalTopoRef, topo_image: str,
                 multiadmin: ComponentSpec | None = None, cells: tuple[CellRegistration, ...] = (),
                 databases: tuple[DatabaseFacts, ...] = (), pgbackrest_tls_secret: str = "",
                 cert_manager_issuer: dict[str, Any] | None = None,
                 gateway_issuer: tuple[str, dict[str, Any], tuple[str, ...]] | None = None,
                 internal_tls: InternalTLSRef | None = None, internal_issuer: dict[str, Any] | None = None,
                 topo_issuer: dict[str, Any] | None = None,
                 placement: dict[str, Any] | None = None,
                 monitoring: MonitoringFacts | None = None,
                 network_policy: dict[str, Any] | None = None,
                 log_levels: dict[str, str] | None = None) -> None:
        meta: dict[str, Any] = {"name": name}
        if namespace:
            meta["namespace"] = namespace
        meta["labels"] = naming.labels(name)
        meta["annotations"] = {naming.GENERATED_FROM: f"{namespace or ''}/{name}"}
        values = {"name": name, "namespace": namespace, "metadata": meta, "cluster_domain": cluster_domain,
                  "images": images, "pull": pull, "multiadmin": multiadmin, "global_topo": global_topo,
                  "topo_image": topo_image, "cells": cells, "databases": databases,
                  "pgbackrest_tls_secret": pgbackrest_tls_secret, "cert_manager_issuer": cert_manager_issuer,
                  "gateway_issuer": gateway_issuer, "internal_tls": internal_tls, "internal_issuer": internal_issuer,
                  "topo_issuer": topo_issuer,
                  "placement": placement, "monitoring": monitoring,
                  "network_policy": network_policy,
                  "log_levels": dict(log_levels or {})}
        for key, value in values.items():
            _set(self, key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ClusterContext is read-only (tried to set {name!r})")
