"""TopoServer → etcd: member list, probes, PDB rule, security, the external case."""

from __future__ import annotations

import fixtures
import pytest
from consistency import args_of, by_kind
from helpers import resource_list, run_text

from krmfn.workloads import build_all
from krmfn.workloads.topo import build_topo_server, max_unavailable

CTX = fixtures.context()
_global = fixtures.topo_server


def test_etcd_members_come_from_the_headless_service_dns_names() -> None:
    sts, peer, client, pdb = build_topo_server(_global(), CTX)
    assert [o["kind"] for o in (sts, peer, client, pdb)] == ["StatefulSet", "Service", "Service", "PodDisruptionBudget"]
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["serviceName"] == peer["metadata"]["name"] == "example-multigres-cluster-global-peer"
    args = args_of(sts["spec"]["template"]["spec"]["containers"][0])
    dns = "example-multigres-cluster-global-peer.multigres.svc.cluster.local"
    member = "example-multigres-cluster-global"
    assert args["--initial-cluster"] == ",".join(f"{member}-{i}=http://{member}-{i}.{dns}:2380" for i in range(3))
    assert args["--name"] == "$(POD_NAME)"
    assert args["--initial-advertise-peer-urls"] == f"http://$(POD_NAME).{dns}:2380"
    assert args["--advertise-client-urls"] == f"http://$(POD_NAME).{dns}:2379"
    assert args["--listen-metrics-urls"] == "http://[::]:2381"  # dual-stack on Linux
    assert args["--listen-client-urls"] == "http://[::]:2379" and args["--listen-peer-urls"] == "http://[::]:2380"
    assert args["--data-dir"].startswith("/var/lib/etcd/")
    assert peer["spec"]["clusterIP"] == "None" and peer["spec"]["publishNotReadyAddresses"] is True
    assert client["metadata"]["name"] == "example-multigres-cluster-global-client"
    assert [p["port"] for p in client["spec"]["ports"]] == [2379]


def test_cluster_domain_reaches_the_peer_urls() -> None:
    sts = build_topo_server(_global(), fixtures.context(cluster_domain="corp.example"))[0]
    assert "peer.multigres.svc.corp.example:2380" in args_of(sts["spec"]["template"]["spec"]["containers"][0])[
        "--initial-cluster"]


def test_probes_use_livez_and_readyz_on_the_metrics_port() -> None:
    c = build_topo_server(_global(), CTX)[0]["spec"]["template"]["spec"]["containers"][0]
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert {"name": "metrics", "containerPort": 2381, "protocol": "TCP"} in c["ports"]
    assert c["env"] == [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]


def test_etcd_runs_as_an_explicit_non_root_user() -> None:
    pod = build_topo_server(_global(), CTX)[0]["spec"]["template"]["spec"]
    sc = pod["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == sc["fsGroup"] == 65532
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    csc = pod["containers"][0]["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False and csc["capabilities"] == {"drop": ["ALL"]}
    assert csc["readOnlyRootFilesystem"] is True


def test_data_dir_is_on_the_claim_and_claims_are_retained() -> None:
    sts = build_topo_server(_global(), CTX)[0]
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}


@pytest.mark.parametrize(("replicas", "expected"), [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (7, 3)])
def test_pdb_keeps_quorum(replicas: int, expected: int) -> None:
    assert max_unavailable(replicas) == expected
    topo = fixtures.topo_server(replicas=replicas)
    pdb = build_topo_server(topo, CTX)[3]
    assert pdb["spec"]["maxUnavailable"] == expected
    assert replicas - pdb["spec"]["maxUnavailable"] >= replicas // 2 + 1


def test_pull_settings_and_resources_from_the_spec() -> None:
    topo = fixtures.topo_server(image_pull_policy="Always", image_pull_secrets=[{"name": "regcred"}],
                                resources={"requests": {"cpu": "2"}, "limits": {"memory": "1Gi"}})
    pod = build_topo_server(topo, CTX)[0]["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["containers"][0]["imagePullPolicy"] == "Always"
    # What the spec sizes is kept; no default request is added beside a written limit.
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "2"}, "limits": {"memory": "1Gi"}}


def test_unsized_etcd_gets_default_requests() -> None:
    pod = build_topo_server(_global(), CTX)[0]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}}


def test_metadata_copies_namespace_and_generated_from_and_sets_the_wave() -> None:
    for obj in build_topo_server(_global(), CTX):
        meta = obj["metadata"]
        assert meta["namespace"] == "multigres"
        assert meta["annotations"]["multigres.com/generated-from"] == "multigres/example-multigres-cluster"
        assert meta["annotations"]["argocd.argoproj.io/sync-wave"] == "0"
        assert meta["labels"]["multigres.com/topo-scope"] == "global"


def test_without_a_namespace_pods_use_their_own() -> None:
    topo = fixtures.topo_server(namespace=None)
    sts = build_topo_server(topo, CTX)[0]
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert "namespace" not in sts["metadata"]
    assert ".$(POD_NAMESPACE).svc.cluster.local:2380" in args_of(c)["--initial-cluster"]
    assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in c["env"]


EXTERNAL = """
apiVersion: multigres.com/v1alpha1
kind: MultigresCluster
metadata: {name: ext, namespace: db}
spec:
  globalTopoServer:
    external: {address: "etcd.example.com:2379"}
  cells:
    templates:
      - name: a
"""


def test_external_topo_renders_no_etcd_and_passes_the_address_on() -> None:
    import yaml

    out = run_text(resource_list(yaml.safe_load(EXTERNAL)))
    objs = build_all(out.resolved[0], "cluster.local")
    assert not by_kind(objs, "StatefulSet")
    gateway = by_kind(objs, "Deployment")[-1]
    args = args_of(gateway["spec"]["template"]["spec"]["containers"][0])
    assert args["--topo-global-server-addresses"] == "etcd.example.com:2379"
    job = by_kind(objs, "Job")[0]
    assert "config.kubernetes.io/depends-on" not in job["metadata"]["annotations"]
