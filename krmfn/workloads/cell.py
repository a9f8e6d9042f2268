"""MultiCell → multigateway: a Deployment, its Service (PostgreSQL 5432) and a PodDisruptionBudget;
with spec.gatewayTLS, the gateway serves TLS from the mounted Secret.

The cell's own etcd, when managed, is a TopoServer child of its own and built by topo.py.
Gateways take only the global topo flags: they find their cell's topo through the Cell record.
"""

from __future__ import annotations

from .. import defaults, naming
from . import internal_tls, log_levels, objects, registration, topo_tls

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import GatewayTLSRef, MultiCell
    from .context import ClusterContext


def tls_flags(tls: GatewayTLSRef | None) -> list[str]:
    """Upstream's client TLS flags (go/services/multigateway/init.go): the certificate and key, and
    --pg-require-ssl to refuse plaintext sessions (CancelRequest stays allowed in plaintext)."""
    if tls is None:
        return []
    crt, key = (f"{defaults.GATEWAY_CERT_DIR}/{k}" for k in defaults.GATEWAY_CERT_KEYS)
    return [f"--pg-tls-cert-file={crt}", f"--pg-tls-key-file={key}", *(["--pg-require-ssl"] if tls.required else [])]


def tls_volume(tls: GatewayTLSRef) -> tuple[dict[str, Any], dict[str, Any]]:
    """The TLS Secret's certificate and key, read-only. Mounted as a directory (no subPath), so a
    renewed Secret reaches the files; upstream reads them only at start, so a gateway serves the new
    certificate once it restarts (docs/security.md, "Rotation")."""
    volume = {"name": "gateway-tls", "secret": {"secretName": tls.secret_name, "defaultMode": 0o440,
                                                "items": [{"key": k, "path": k} for k in defaults.GATEWAY_CERT_KEYS]}}
    return volume, {"name": "gateway-tls", "mountPath": defaults.GATEWAY_CERT_DIR, "readOnly": True}


def build_multicell(child: MultiCell, ctx: ClusterContext) -> list[dict[str, Any]]:
    spec, meta = child.spec, child.metadata
    namespace = objects.namespace_of(meta)
    name = naming.gateway_name(meta["name"])
    labels = naming.labels(naming.cluster_of(meta), "multigateway", **naming.identity_of(meta))
    gateway_spec = spec.multi_gateway
    replicas = defaults.COMPONENT_REPLICAS["multigateway"] if gateway_spec.replicas is None else gateway_spec.replicas
    pull = objects.pull_of(spec)
    p = defaults.PORTS["multigateway"]
    args = [
        *objects.server_flags("multigateway"), *log_levels.flags(ctx, "multigateway"),
        f"--pg-port={p['postgres']}", f"--cell={spec.name}",
        *objects.topo_flags(spec.global_topo_server, namespace, ctx), *objects.DEPLOYMENT_IDENTITY,
        *defaults.GATEWAY_FLAGS,
    ]
    args += tls_flags(spec.gateway_tls)
    args += internal_tls.server_flags(spec.internal_tls) + internal_tls.client_flags(spec.internal_tls)
    gateway, tmp = objects.server_container("multigateway", spec.images.multigateway, args, pull,
                                            gateway_spec.resources)
    volumes = [tmp]
    if spec.gateway_tls is not None:
        volume, mount = tls_volume(spec.gateway_tls)
        volumes.append(volume)
        gateway["volumeMounts"].append(mount)
    internal_tls.add_to(gateway, volumes, spec.internal_tls)
    topo_tls.add_to(gateway, volumes, spec.global_topo_server.tls)
    wave = objects.WAVES["gateway"]
    cell_topo = None
    if spec.topo_server.managed_spec is not None:
        cell_topo = naming.topo_client_service(naming.cell_topo_name(naming.cluster_of(meta), spec.name))
    wait = registration.wait_for_cell_container(spec.global_topo_server, spec.name, cell_topo, namespace, ctx, pull,
                                                spec.images.multigateway)
    out = [
        objects.deployment(objects.metadata(name, meta, labels, wave), labels, replicas, [gateway], pull,
                           defaults.NONROOT_UID, volumes, init_containers=[wait], placement=gateway_spec.placement),
        objects.obj("v1", "Service", objects.metadata(name, meta, labels, wave), {
            "type": "ClusterIP", "selector": naming.selector(labels),
            "ports": objects.service_ports(gateway["ports"])}),
    ]
    if replicas > 1:
        # Stateless and interchangeable: drain one gateway at a time.
        pdb_meta = objects.metadata(naming.gateway_pdb(meta["name"]), meta, labels, wave)
        out.append(objects.disruption_budget(pdb_meta, labels, 1))
    return out
