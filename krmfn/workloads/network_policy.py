"""NetworkPolicies: who may open a connection to which port of which pod (docs/security.md).

Ingress only. Every connection Multigres makes inside a cluster ends at a pod this render
also selects, so one ingress rule at the receiving end enforces each pair of the matrix; egress
rules would have to list what the render cannot know (S3 endpoints, external topo servers, the
cluster's DNS and API addresses), and a wrong guess there silently stops backups or failover.
Who calls whom follows upstream at the pinned commit: multigateway, multiorch and multiadmin
call multipooler's gRPC (go/common/rpcclient, go/services/multigateway/poolergateway);
multiadmin calls multiorch's gRPC (go/services/multiadmin/rule_change.go) and the gateways'
(server.go), gateways call each other for query cancels (go/services/multigateway/cancel.go),
multiadmin proxies the others' HTTP status pages (`/proxy/`, go/services/multiadmin/init.go).
Nothing dials pgctld's gRPC from another pod (multipooler uses localhost). Kubelet probes come
from the node, which a pod's policy does not block (Kubernetes' documented behaviour).

Selectors are built from naming.labels, the same call every workload's pod labels come from:
tests/test_network_policy.py checks that each policy selects exactly the pods it means to.
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import MultiShard, MultiTableGroup, TopoServer
    from .context import ClusterContext

P = defaults.PORTS


def _pods(cluster: str, component: str | None = None, **identity: str) -> dict[str, Any]:
    """A peer: the pods of this namespace that carry the labels these workloads put on their pods."""
    return {"podSelector": {"matchLabels": naming.selector(naming.labels(cluster, component, **identity))}}


def _rule(peers: list[dict[str, Any]] | None, *ports: int) -> dict[str, Any]:
    """One ingress rule; `peers` None means from anywhere (the rule has no `from`)."""
    rule: dict[str, Any] = {}
    if peers is not None:
        rule["from"] = peers
    rule["ports"] = [{"protocol": "TCP", "port": port} for port in ports]
    return rule


def _scrape_rules(ctx: ClusterContext, port: int) -> list[dict[str, Any]]:
    """With monitoring on, the port Prometheus scrapes (the exporter sidecar's, etcd's metrics) is
    open to `metricsClients` (default: anyone: metrics are read-only and Prometheus usually runs
    in its own namespace). The Multigres binaries push over OTLP instead, which ingress rules do
    not touch."""
    if ctx.monitoring is None or ctx.network_policy is None:
        return []
    return [_rule(ctx.network_policy.get("metricsClients"), port)]


def _policy(name: str, source: dict[str, Any], target: dict[str, str],
            rules: list[dict[str, Any]]) -> dict[str, Any]:
    meta = objects.metadata(name, source, target, objects.WAVES["topo"])
    spec: dict[str, Any] = {"podSelector": {"matchLabels": naming.selector(target)}, "policyTypes": ["Ingress"]}
    if rules:  # no rules: nothing may connect (the API server drops an empty list, so we never write one)
        spec["ingress"] = rules
    return objects.obj("networking.k8s.io/v1", "NetworkPolicy", meta, spec)


def build_topo_policy(child: TopoServer, ctx: ClusterContext) -> list[dict[str, Any]]:
    """etcd: clients of the cluster's own pods (servers, registration Job, wait-for-cell), peers
    of the same TopoServer. Nobody else: the topology has no authentication."""
    if ctx.network_policy is None:
        return []
    cluster, meta = naming.cluster_of(child.metadata), child.metadata
    target = naming.labels(cluster, "etcd", **naming.identity_of(meta))
    members = {"podSelector": {"matchLabels": naming.selector(target)}}
    rules = [_rule([_pods(cluster)], P["etcd"]["client"]), _rule([members], P["etcd"]["peer"]),
             *_scrape_rules(ctx, P["etcd"]["metrics"])]
    return [_policy(naming.network_policy(meta["name"]), meta, target, rules)]


def build_shard_policy(child: MultiShard, ctx: ClusterContext) -> list[dict[str, Any]]:
    """Pooler pods of one shard: PostgreSQL and pgBackRest between the shard's own pods (every
    pool and cell: replication, backups from the primary); multipooler's gRPC from its callers."""
    if ctx.network_policy is None:
        return []
    cluster, meta = naming.cluster_of(child.metadata), child.metadata
    identity = naming.identity_of(meta)
    target = naming.labels(cluster, "multipooler", **identity)
    shard = [{"podSelector": {"matchLabels": naming.selector(target)}}]
    table_group = {"database": identity["database"], "table_group": identity["table_group"]}
    callers = [_pods(cluster, "multigateway"), _pods(cluster, "multiorch", **table_group), _pods(cluster, "multiadmin")]
    rules = [_rule(shard, P["pgctld"]["postgres"], P["pgctld"]["pgbackrest"]),
             _rule(callers, P["multipooler"]["grpc"]),
             _rule([_pods(cluster, "multiadmin")], P["multipooler"]["http"], P["pgctld"]["http"]),
             *_scrape_rules(ctx, defaults.EXPORTER_PORT)]
    return [_policy(naming.network_policy(meta["name"]), meta, target, rules)]


def build_table_group_policy(child: MultiTableGroup, ctx: ClusterContext) -> list[dict[str, Any]]:
    """multiorch of one table group (every cell): its gRPC from the table group's own pooler pods,
    whose primary's preStop hook asks it for a recovery cycle after a switchover (handover.py).
    Not rendered with internal TLS, where the hook does not call. Policies add up: multiadmin's
    access comes from the cluster's multiorch policy."""
    if ctx.network_policy is None or child.spec.internal_tls is not None:
        return []
    cluster, meta = naming.cluster_of(child.metadata), child.metadata
    identity = naming.identity_of(meta)
    target = naming.labels(cluster, "multiorch", **identity)
    rules = [_rule([_pods(cluster, "multipooler", **identity)], P["multiorch"]["grpc"])]
    return [_policy(naming.network_policy(meta["name"]), meta, target, rules)]


def build_cluster_policies(ctx: ClusterContext) -> list[dict[str, Any]]:
    """multiadmin, every gateway, every multiorch, and the registration Job of one cluster."""
    settings = ctx.network_policy
    if settings is None:
        return []
    name, meta = ctx.name, ctx.metadata
    admin = [_pods(name, "multiadmin")]
    out = []
    if ctx.multiadmin is not None:
        clients = settings.get("adminClients") or [{"podSelector": {}}]
        out.append(_policy(naming.network_policy(name, "multiadmin"), meta, naming.labels(name, "multiadmin"),
                           [_rule(clients, P["multiadmin"]["http"], P["multiadmin"]["grpc"])]))
    if ctx.cells:
        gw = P["multigateway"]
        out.append(_policy(naming.network_policy(name, "multigateway"), meta, naming.labels(name, "multigateway"), [
            _rule(settings.get("gatewayClients"), gw["postgres"]),
            _rule([_pods(name, "multigateway"), *admin], gw["grpc"]),
            _rule(admin, gw["http"])]))
    if ctx.databases:
        orch = P["multiorch"]
        out.append(_policy(naming.network_policy(name, "multiorch"), meta, naming.labels(name, "multiorch"),
                           [_rule(admin, orch["grpc"], orch["http"])]))
    registration = naming.labels(name, "topo-registration")
    out.append(_policy(naming.network_policy(naming.registration_name(name)), meta, registration, []))
    return out
