"""MultigresCluster → multiadmin: a Deployment and its Service `<cluster>-multiadmin`.

multiadmin hangs off the root in the design, so it is built from the cluster view, not a child.
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects
from .objects import BuildContext, ClusterView

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def build_multiadmin(view: ClusterView, ctx: BuildContext) -> list[dict[str, Any]]:
    spec = view.multiadmin
    if spec is None:
        return []
    name = naming.multiadmin_name(view.name)
    labels = naming.labels(view.name, "multiadmin")
    args = [*objects.server_flags("multiadmin"),
            *objects.topo_flags(view.global_topo, view.namespace, ctx), "--service-map=grpc-multiadmin"]
    admin, tmp = objects.server_container("multiadmin", view.images["multiadmin"], args, view.pull,
                                       spec.get("resources"))
    wave = objects.WAVES["server"]
    replicas = int(spec.get("replicas", defaults.COMPONENT_REPLICAS["multiadmin"]))
    deployment = objects.deployment(objects.metadata(name, view, labels, wave), labels, replicas, [admin], view.pull,
                                 defaults.NONROOT_UID, [tmp])
    service = objects.obj("v1", "Service", objects.metadata(name, view, labels, wave), {
        "type": "ClusterIP", "selector": naming.selector(labels), "ports": objects.service_ports(admin["ports"])})
    return [deployment, service]
