"""NetworkPolicies: each one selects the pods it means to, and together they allow exactly the
matrix of docs/security.md, for any valid cluster (hypothesis) and across two clusters sharing a
namespace.

The matrix is written here again, in terms of the pods' labels, independently of the builder;
a small evaluator applies the rendered policies the way Kubernetes defines them (a pod selected
by any policy is isolated; a connection is allowed when a rule of one of them matches source
and port), to every (source pod, destination pod, port) of the render plus pods that are not the
database's: a client in the namespace and one in another namespace.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from helpers import objects, resource_list, run_text
from test_properties import clusters

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402

COMPONENT = "app.kubernetes.io/component"
CLUSTER = "multigres.com/cluster"
SHARD = ("multigres.com/database", "multigres.com/table-group", "multigres.com/shard")
TOPO = ("multigres.com/topo-scope", "multigres.com/cell")
OUTSIDERS = [{"namespace": None, "labels": {"app": "client"}, "ports": []},
             {"namespace": "elsewhere", "labels": {"app": "client"}, "ports": []}]


def pods(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every pod template of the render: namespace, labels, the TCP ports its containers listen on."""
    found = []
    for obj in out:
        if obj["kind"] in ("StatefulSet", "Deployment", "Job"):
            template = obj["spec"]["template"]
            containers = (template["spec"].get("initContainers") or []) + template["spec"]["containers"]
            found.append({"namespace": obj["metadata"].get("namespace"), "labels": template["metadata"]["labels"],
                          "ports": [p["containerPort"] for c in containers for p in c.get("ports") or []],
                          "name": obj["metadata"]["name"]})
    return found


def _same(a: dict[str, str], b: dict[str, str], keys: tuple[str, ...]) -> bool:
    return all(a.get(k) == b.get(k) for k in keys)


def expected(src: dict[str, Any], dst: dict[str, Any], port: int) -> bool:  # noqa: C901
    """docs/security.md's matrix, from the labels (defaults: gateways open, multiadmin to its namespace)."""
    s, d = src["labels"], dst["labels"]
    same_cluster = src["namespace"] == dst["namespace"] and s.get(CLUSTER) == d[CLUSTER]
    caller = s.get(COMPONENT) if same_cluster else None
    component = d[COMPONENT]
    if component == "etcd":
        return (port == 2379 and same_cluster) or (port == 2380 and caller == "etcd" and _same(s, d, TOPO))
    if component == "multipooler":
        if port in (5432, 8432):
            return caller == "multipooler" and _same(s, d, SHARD)
        if port == 15270:
            return caller in ("multigateway", "multiadmin") or (caller == "multiorch" and _same(s, d, SHARD[:2]))
        return port in (15200, 15400) and caller == "multiadmin"
    if component == "multigateway":
        return port == 5432 or (port == 15170 and caller in ("multigateway", "multiadmin")) or caller == "multiadmin"
    if component == "multiorch":  # the pooler's preStop hook asks its table group's multiorch (handover.py)
        return caller == "multiadmin" or (port == 15370 and caller == "multipooler" and _same(s, d, SHARD[:2]))
    if component == "multiadmin":
        return src["namespace"] == dst["namespace"]
    assert component == "topo-registration", component
    return False


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"the evaluator knows matchLabels only: {selector}"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: dict[str, Any], policy_ns: str | None, src: dict[str, Any]) -> bool:
    assert set(peer) == {"podSelector"}, f"the evaluator knows podSelector peers only: {peer}"
    return src["namespace"] == policy_ns and _matches(peer["podSelector"], src["labels"])


def allowed(policies: list[dict[str, Any]], src: dict[str, Any], dst: dict[str, Any], port: int) -> bool:
    """Kubernetes' NetworkPolicy ingress semantics, for the shapes the render uses."""
    selecting = [p for p in policies if p["metadata"].get("namespace") == dst["namespace"]
                 and _matches(p["spec"]["podSelector"], dst["labels"])]
    if not selecting:
        return True
    for policy in selecting:
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"].get("ingress") or []:
            ports = {p["port"] for p in rule["ports"] if p["protocol"] == "TCP"}
            peers = rule.get("from")
            if port in ports and (peers is None or any(_peer_matches(peer, policy["metadata"].get("namespace"), src)
                                                        for peer in peers)):
                return True
    return False


def render(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = run_text(resource_list(*objs))
    return objects(out)


def with_neighbour(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A second cluster of the same shape in the same namespace: its pods must stay apart."""
    cluster, secret = copy.deepcopy(objs[0]), copy.deepcopy(objs[1])
    cluster["metadata"]["name"] += "-b"
    secret["metadata"]["name"] = f"{cluster['metadata']['name']}-postgres-password"
    return [*objs, cluster, secret]


def assert_matrix(out: list[dict[str, Any]]) -> None:
    policies = [o for o in out if o["kind"] == "NetworkPolicy"]
    all_pods = pods(out)
    namespace = all_pods[0]["namespace"]
    sources = [*all_pods, *({**o, "namespace": o["namespace"] or namespace} for o in OUTSIDERS)]
    for dst in all_pods:
        assert any(_matches(p["spec"]["podSelector"], dst["labels"]) for p in policies), f"{dst['name']} is open"
        for port in dst["ports"]:
            for src in sources:
                want = expected(src, dst, port)
                assert allowed(policies, src, dst, port) == want, (src["labels"], dst["name"], port, want)


@given(clusters())
def test_policies_allow_exactly_the_matrix(objs):
    assert_matrix(render(with_neighbour(objs)))


def test_every_policy_selects_pods():
    """No policy is rendered for pods that do not exist (a selector typo would select nothing)."""
    from helpers import EXAMPLES, render_paths

    out = objects(render_paths(EXAMPLES / "seed"))
    all_pods = pods(out)
    for policy in (o for o in out if o["kind"] == "NetworkPolicy"):
        assert any(_matches(policy["spec"]["podSelector"], p["labels"]) for p in all_pods), policy["metadata"]["name"]
    assert_matrix(out)


def minimal() -> list[dict[str, Any]]:
    from helpers import EXAMPLES

    from krmfn import yamlio

    cluster = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
    return [cluster, {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": "x"},
                      "metadata": {"name": "minimal-postgres-password", "namespace": "default"}}]


def test_disabled_renders_none():
    objs = minimal()
    assert [o for o in render(objs) if o["kind"] == "NetworkPolicy"]
    objs[0]["spec"]["networkPolicy"] = {"enabled": False}
    assert not [o for o in render(objs) if o["kind"] == "NetworkPolicy"]


def test_gateway_and_admin_clients_replace_the_defaults():
    objs = minimal()
    peers = [{"namespaceSelector": {"matchLabels": {"team": "app"}}, "podSelector": {"matchLabels": {"db": "yes"}}}]
    objs[0]["spec"]["networkPolicy"] = {"gatewayClients": peers, "adminClients": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}
    out = render(objs)
    by_name = {o["metadata"]["name"].rsplit("-", 1)[-1]: o for o in out if o["kind"] == "NetworkPolicy"}
    gateway_rules = by_name["multigateway"]["spec"]["ingress"]
    assert gateway_rules[0] == {"from": peers, "ports": [{"protocol": "TCP", "port": 5432}]}
    admin_rules = by_name["multiadmin"]["spec"]["ingress"]
    assert admin_rules == [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                            "ports": [{"protocol": "TCP", "port": 15000}, {"protocol": "TCP", "port": 15070}]}]


def _ingress_ports(policy: dict[str, Any]) -> dict[int, Any]:
    """Each port a policy opens, with the `from` of its rule (None: from anywhere)."""
    return {p["port"]: rule.get("from") for rule in policy["spec"].get("ingress", []) for p in rule["ports"]}


def test_metrics_ports_open_only_with_monitoring():
    """The exporter (9187) and etcd's metrics (2381) are scrapable when monitoring is on, from
    anyone by default or from `metricsClients`; closed (kubelet probes only) when it is off."""
    objs = minimal()
    closed = [p for o in render(objs) if o["kind"] == "NetworkPolicy" for p in _ingress_ports(o)]
    assert 9187 not in closed and 2381 not in closed
    objs[0]["spec"]["monitoring"] = {"enabled": True, "otlp": {"endpoint": "http://prometheus.monitoring:9090"}}
    policies = [o for o in render(objs) if o["kind"] == "NetworkPolicy"]
    opened = {port: peers for o in policies for port, peers in _ingress_ports(o).items() if port in (9187, 2381)}
    assert opened == {9187: None, 2381: None}
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    objs[0]["spec"]["networkPolicy"] = {"metricsClients": peers}
    policies = [o for o in render(objs) if o["kind"] == "NetworkPolicy"]
    assert {port: p for o in policies for port, p in _ingress_ports(o).items() if port in (9187, 2381)} == \
        {9187: peers, 2381: peers}

