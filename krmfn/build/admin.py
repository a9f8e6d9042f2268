"""MultigresCluster → multiadmin: a Deployment and its Service `<cluster>-multiadmin`.

multiadmin hangs off the root in the seed, so it is built from the cluster view, not a child.
"""

from __future__ import annotations

from typing import Any

from .. import defaults, naming
from . import meta
from .meta import BuildContext, ClusterView


def build_multiadmin(view: ClusterView, ctx: BuildContext) -> list[dict[str, Any]]:
    spec = view.multiadmin
    if spec is None:
        return []
    name = naming.multiadmin_name(view.name)
    labels = naming.labels(view.name, "multiadmin")
    selector = naming.selector(labels)
    p = defaults.PORTS["multiadmin"]
    ports = meta.ports("multiadmin")
    tmp_vol, tmp_mount = meta.tmp_volume()
    args = [f"--http-port={p['http']}", f"--grpc-port={p['grpc']}",
            *meta.topo_flags(view.global_topo, view.namespace, ctx), "--service-map=grpc-multiadmin"]
    admin = meta.container(
        "multiadmin", view.images["multiadmin"], [f"{defaults.MULTIGRES_BIN}/multiadmin"], args, view.pull,
        container_ports=ports, resources=spec.get("resources"),
        probes={"livenessProbe": meta.http_probe("/live", "http", delay=10),
                "readinessProbe": meta.http_probe("/ready", "http", period=5)},
        mounts=[tmp_mount])
    wave = meta.WAVES["server"]
    deployment = meta.obj("apps/v1", "Deployment", meta.metadata(name, view, labels, wave), {
        "replicas": int(spec.get("replicas", defaults.COMPONENT_REPLICAS["multiadmin"])),
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": dict(labels)},
                     "spec": meta.pod_spec([admin], view.pull, defaults.NONROOT_UID, selector=selector,
                                           volumes=[tmp_vol])},
    })
    service = meta.obj("v1", "Service", meta.metadata(name, view, labels, wave), {
        "type": "ClusterIP", "selector": dict(selector), "ports": meta.service_ports(ports)})
    return [deployment, service]
