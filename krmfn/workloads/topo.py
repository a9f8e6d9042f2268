"""TopoServer → etcd: StatefulSet, headless peer Service, client Service, PodDisruptionBudget.

Members find each other by the stable DNS names the headless Service gives StatefulSet pods
(`<pod>.<peer>.<ns>.svc.<domain>`), so the member list is known at render time and no
discovery service or shell script is needed (the etcd image has no shell).
"""

from __future__ import annotations

from .. import defaults, naming
from ..merge import fill_requests
from . import objects, topo_tls

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import TopoServer, TopoTLSRef
    from .context import ClusterContext


def quorum(replicas: int) -> int:
    return replicas // 2 + 1


def max_unavailable(replicas: int) -> int:
    """Members that may be evicted at once without losing quorum: replicas - quorum.

    1 and 2 members give 0: such an etcd has no failure tolerance, so a voluntary eviction would
    stop every Multigres component from reaching the topology. The PDB then blocks node drains
    until a human decides (scale to 3, or delete the PDB) — Kubernetes' documented choice for a
    single-instance stateful application that must not be stopped silently.
    """
    return max(replicas - quorum(replicas), 0)


def _peer_url(pod: str, peer: str, namespace: str | None, ctx: ClusterContext, port: str,
              scheme: str = "http") -> str:
    host = f"{pod}.{objects.service_host(peer, namespace, ctx.cluster_domain)}"
    return f"{scheme}://{host}:{defaults.PORTS['etcd'][port]}"


def etcd_args(name: str, sts: str, peer: str, replicas: int, namespace: str | None,
              ctx: ClusterContext, tls: TopoTLSRef | None = None) -> list[str]:
    members = ",".join(f"{sts}-{i}={_peer_url(f'{sts}-{i}', peer, namespace, ctx, 'peer')}"
                       for i in range(replicas))
    p = defaults.PORTS["etcd"]
    client = topo_tls.scheme(tls)  # https with spec.topoTLS; peers and metrics stay http (topo_tls.py)
    # `[::]` is the IPv6 wildcard; on Linux (net.ipv6.bindv6only=0, the default) it accepts IPv4
    # too, so one URL serves single-stack IPv4, IPv6 and dual-stack clusters.
    return [
        "--name=$(POD_NAME)",
        f"--data-dir={defaults.ETCD_DATA_DIR}",
        f"--listen-client-urls={client}://[::]:{p['client']}",
        f"--advertise-client-urls={_peer_url('$(POD_NAME)', peer, namespace, ctx, 'client', client)}",
        f"--listen-peer-urls=http://[::]:{p['peer']}",
        f"--initial-advertise-peer-urls={_peer_url('$(POD_NAME)', peer, namespace, ctx, 'peer')}",
        f"--listen-metrics-urls=http://[::]:{p['metrics']}",
        f"--initial-cluster={members}",
        "--initial-cluster-state=new",
        f"--initial-cluster-token={name}",
        "--auto-compaction-mode=periodic",
        f"--auto-compaction-retention={defaults.ETCD_COMPACTION_RETENTION}",
        *topo_tls.server_flags(tls),
    ]


def build_topo_server(child: TopoServer, ctx: ClusterContext) -> list[dict[str, Any]]:
    """The etcd cluster of one managed TopoServer."""
    spec = child.spec
    name = child.metadata["name"]
    namespace = objects.namespace_of(child.metadata)
    labels = naming.labels(naming.cluster_of(child.metadata), "etcd", **naming.identity_of(child.metadata))
    selector = naming.selector(labels)
    sts = naming.topo_statefulset(name)
    peer = naming.topo_peer_service(name)
    client = naming.topo_client_service(name)
    replicas = spec.replicas
    pull = objects.pull_of(spec)
    wave = objects.WAVES["topo"]
    ports = objects.ports("etcd")

    etcd = objects.container(
        "etcd", spec.image, [defaults.ETCD_BIN],
        etcd_args(name, sts, peer, replicas, namespace, ctx, spec.tls), pull,
        container_ports=ports, resources=fill_requests(spec.resources, defaults.ETCD_REQUESTS),
        probes={"livenessProbe": objects.http_probe("/livez", "metrics", failures=8, delay=10),
                "readinessProbe": objects.http_probe("/readyz", "metrics", period=5)},
        mounts=[{"name": "data", "mountPath": defaults.ETCD_DATA_MOUNT}])
    volumes: list[dict[str, Any]] = []
    topo_tls.add_to(etcd, volumes, spec.tls)
    pod = objects.pod_spec([etcd], pull, defaults.NONROOT_UID, selector=selector, grace=30, placement=spec.placement,
                           volumes=volumes or None)
    statefulset = objects.stateful_set(objects.metadata(sts, child.metadata, labels, wave), labels, peer, replicas,
                                       pod, spec.data_volume_claim_template)
    peer_svc = objects.headless_service(objects.metadata(peer, child.metadata, labels, wave), labels,
                                     [p for p in ports if p["name"] in ("client", "peer")])
    client_svc = objects.obj("v1", "Service", objects.metadata(client, child.metadata, labels, wave), {
        "type": "ClusterIP",
        "selector": dict(selector),
        "ports": objects.service_ports([p for p in ports if p["name"] == "client"]),
    })
    pdb = objects.disruption_budget(objects.metadata(naming.topo_pdb(name), child.metadata, labels, wave), labels,
                                 max_unavailable(replicas))
    return [statefulset, peer_svc, client_svc, pdb]
