"""The three-node, three-zone test cluster itself (tests/knode/multinode.py).

Three nodes Ready, each labelled with its own zone; a pod on one node reaches a pod on another
through the routes between the nodes, by address and by Service name; NetworkPolicies are enforced
between nodes; stopping a node cuts it off
and leaves none of its processes running, and the control plane marks it NotReady; starting it
again brings it back Ready with its pod running again. Times go to e2e-logs/zones-cluster-times.txt.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from typing import Any

from conftest import LOG_DIR
from knode.cluster import image_archives
from knode.multinode import NODE_MONITOR_GRACE, NODES, REGION, Cluster, wait_for
from kube import get, namespace, wait

ZONE = "topology.kubernetes.io/zone"


def _image(short: str) -> str:
    return next(n for a, n in image_archives() if a.stem == short)


def _pod(name: str, ns: str, node: str, command: list[str], image: str = "multigres",
         labels: dict[str, str] | None = None, **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": _image(image), "imagePullPolicy": "Never",
                                     "command": command, "resources": {"requests": {"cpu": "5m"}}, **container}]}}


def _server(name: str, ns: str, node: str) -> dict[str, Any]:
    return _pod(name, ns, node, ["/usr/local/bin/etcd", "--data-dir=/tmp/etcd",
                                 "--listen-client-urls=http://0.0.0.0:2379",
                                 f"--advertise-client-urls=http://{name}:2379"],
                image="etcd", labels={"app": name},
                readinessProbe={"httpGet": {"path": "/health", "port": 2379}, "periodSeconds": 1})


def _get_health(zones: Cluster, ns: str, client: str, host: str, timeout: int = 5) -> subprocess.CompletedProcess[str]:
    script = (f"exec 3<>/dev/tcp/{host}/2379 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && "
              "timeout 3 cat <&3")
    return zones.kubectl("exec", "-n", ns, client, "--", "timeout", str(timeout), "bash", "-c", script, check=False)


def _record(line: str) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / "zones-cluster-times.txt", "a") as f:
        f.write(line + "\n")


def test_three_nodes_are_ready_each_in_its_own_zone(zones: Cluster) -> None:
    nodes = json.loads(zones.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    found = {n["metadata"]["name"]: n for n in nodes}
    assert sorted(found) == [s.name for s in NODES]
    for spec in NODES:
        node = found[spec.name]
        assert node["metadata"]["labels"][ZONE] == spec.zone
        assert node["metadata"]["labels"]["topology.kubernetes.io/region"] == REGION
        assert zones.node_ready(spec.name)
        addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
        assert addresses["InternalIP"] == spec.ip
    assert len({n["metadata"]["labels"][ZONE] for n in nodes}) == 3
    _record(f"three-node start: {zones.timings.get('start', 0):.1f}s "
            f"({', '.join(f'{k} {v:.1f}s' for k, v in zones.timings.items() if k != 'start')})")


def test_pods_on_different_nodes_reach_each_other(zones: Cluster) -> None:
    ns = namespace(zones, "zones-net")
    zones.apply([
        _server("server", ns, "krmfn-b"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "namespace": ns},
         "spec": {"selector": {"app": "server"}, "ports": [{"port": 2379}]}},
        _pod("client", ns, "krmfn-a", ["sleep", "infinity"]),
    ])
    wait(zones, ns, "pod/server", "condition=Ready")
    wait(zones, ns, "pod/client", "condition=Ready")
    server, client = get(zones, ns, "pod/server"), get(zones, ns, "pod/client")
    assert server["spec"]["nodeName"] == "krmfn-b" and client["spec"]["nodeName"] == "krmfn-a"
    server_ip, client_ip = server["status"]["podIP"], client["status"]["podIP"]
    assert ipaddress.ip_address(server_ip) in ipaddress.ip_network(NODES[1].pod_cidr)
    assert ipaddress.ip_address(client_ip) in ipaddress.ip_network(NODES[0].pod_cidr)
    direct = _get_health(zones, ns, "client", server_ip)
    assert '"health":"true"' in direct.stdout, direct
    by_name = _get_health(zones, ns, "client", f"server.{ns}.svc.cluster.local")
    assert '"health":"true"' in by_name.stdout, by_name


def test_network_policies_are_enforced_between_nodes(zones: Cluster) -> None:
    """Each node's agent (multinode.py) filters its own pods: a policy on a server on krmfn-b lets
    in a labelled client on krmfn-c and drops the unlabelled one on krmfn-a."""
    ns = namespace(zones, "zones-policy")
    zones.apply([
        _server("guarded", ns, "krmfn-b"),
        _pod("stranger", ns, "krmfn-a", ["sleep", "infinity"]),
        _pod("friend", ns, "krmfn-c", ["sleep", "infinity"], labels={"role": "friend"}),
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "guarded", "namespace": ns},
         "spec": {"podSelector": {"matchLabels": {"app": "guarded"}}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "friend"}}}],
                               "ports": [{"port": 2379}]}]}},
    ])
    for pod in ("guarded", "stranger", "friend"):
        wait(zones, ns, f"pod/{pod}", "condition=Ready")
    ip = get(zones, ns, "pod/guarded")["status"]["podIP"]
    wait_for(lambda: '"health":"true"' in _get_health(zones, ns, "friend", ip).stdout,
             "the labelled pod on another node to reach the guarded one", 30, interval=1)
    refused = _get_health(zones, ns, "stranger", ip, timeout=3)
    assert '"health"' not in refused.stdout, refused


def _node_condition(zones: Cluster, name: str) -> str:
    node = json.loads(zones.kubectl("get", "node", name, "-o", "json").stdout)
    return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")


def test_a_stopped_node_is_cut_off_not_ready_and_runs_nothing_until_started(zones: Cluster) -> None:
    ns = namespace(zones, "zones-stop")
    victim = NODES[2]
    zones.apply([_server("lost", ns, victim.name), _pod("watcher", ns, "krmfn-a", ["sleep", "infinity"])])
    wait(zones, ns, "pod/lost", "condition=Ready")
    wait(zones, ns, "pod/watcher", "condition=Ready")
    lost_ip = get(zones, ns, "pod/lost")["status"]["podIP"]
    assert '"health":"true"' in _get_health(zones, ns, "watcher", lost_ip).stdout
    before = zones.node_processes(victim.name)
    assert len(before) > 3, before  # containerd, kubelet, kube-proxy, shims, the pods

    t0 = time.monotonic()
    zones.stop_node(victim.name)
    assert zones.node_processes(victim.name) == []
    # Killed processes finish exiting on their own time (a shim reaps its children first).
    wait_for(lambda: not any(_alive(pid) for pid in before), f"{victim.name}'s processes gone", 15, interval=0.2)
    cut = _get_health(zones, ns, "watcher", lost_ip, timeout=3)
    assert '"health"' not in cut.stdout, cut
    wait_for(lambda: _node_condition(zones, victim.name) != "True", f"{victim.name} NotReady after its stop", 120)
    _record(f"node stopped -> NotReady: {time.monotonic() - t0:.1f}s (grace period {NODE_MONITOR_GRACE})")

    t1 = time.monotonic()
    zones.start_node(victim.name)
    ready = time.monotonic() - t1
    wait_for(lambda: '"health":"true"' in _get_health(zones, ns, "watcher",
                                                      get(zones, ns, "pod/lost")["status"].get("podIP", "")).stdout,
             "the stopped node's pod to serve again", 180, interval=1)
    _record(f"node started -> Ready: {ready:.1f}s; -> its pod serving again: {time.monotonic() - t1:.1f}s")
    assert zones.node_processes(victim.name)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
