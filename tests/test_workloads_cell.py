"""MultiCell → multigateway Deployment, Service and PDB."""

from __future__ import annotations

import fixtures
from consistency import args_of
from helpers import EXAMPLES, render_paths

from krmfn.api.generated import child_types as ct
from krmfn.workloads.cell import build_multicell

CTX = fixtures.context()


def test_gateway_deployment_service_and_pdb() -> None:
    deploy, svc, pdb = build_multicell(fixtures.multicell("us-east-1"), CTX)
    assert deploy["metadata"]["name"] == svc["metadata"]["name"] == "example-multigres-cluster-us-east-1-gateway"
    assert deploy["spec"]["replicas"] == 2 and pdb["spec"]["maxUnavailable"] == 1
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    args = args_of(c)
    assert args["--cell"] == "us-east-1"
    assert args["--topo-global-server-addresses"] == (
        "example-multigres-cluster-global-client.multigres.svc.cluster.local:2379")
    assert args["--topo-global-root"] == "/multigres/global"
    assert (args["--http-port"], args["--grpc-port"], args["--pg-port"]) == ("15100", "15170", "5432")
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"http": 15100, "grpc": 15170, "postgres": 5432}
    assert c["resources"]["limits"]["memory"] == "1Gi"
    assert c["livenessProbe"]["httpGet"] == {"path": "/live", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert deploy["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "3"


def test_cell_with_its_own_topo_still_talks_to_the_global_one() -> None:
    """Binaries take only global topo flags; the cell's topo is found through its Cell record."""
    deploy = build_multicell(fixtures.multicell("us-west-2"), CTX)[0]
    args = args_of(deploy["spec"]["template"]["spec"]["containers"][0])
    assert args["--topo-global-server-addresses"].startswith("example-multigres-cluster-global-client.")
    assert args["--cell"] == "us-west-2"


def test_external_global_address_is_used_as_is_and_one_replica_gets_no_pdb() -> None:
    cell = fixtures.multicell(replicas=1, global_topo=ct.GlobalTopoRef(root_path="/g", address="etcd.example.com:2379"))
    objs = build_multicell(cell, CTX)
    assert [o["kind"] for o in objs] == ["Deployment", "Service"]
    args = args_of(objs[0]["spec"]["template"]["spec"]["containers"][0])
    assert args["--topo-global-server-addresses"] == "etcd.example.com:2379"
    assert args["--topo-global-root"] == "/g"


def test_gateway_waits_for_its_cell_record_before_starting() -> None:
    """multigateway gives up registering after 10 s: its pod first waits for the Cell record the
    registration Job writes (and for the cell's own etcd when it has one); tests/test_etcd_smoke.py
    runs the script against real etcd."""
    for own_topo, cell_etcd in ((False, []), (True, ["example-multigres-cluster-us-west-2-client"
                                                     ".multigres.svc.cluster.local:2379"])):
        deploy = build_multicell(fixtures.multicell("us-west-2", own_topo=own_topo), CTX)[0]
        pod = deploy["spec"]["template"]["spec"]
        (wait,) = pod["initContainers"]
        assert wait["name"] == "wait-for-cell" and wait["image"] == pod["containers"][0]["image"]
        assert wait["command"] == ["/bin/bash"] and wait["args"][0] == "-c" and "/v3/kv/range" in wait["args"][1]
        assert wait["args"][2:] == ["wait-for-cell",
                                    "example-multigres-cluster-global-client.multigres.svc.cluster.local:2379",
                                    "/multigres/global/cells/us-west-2/Cell", *cell_etcd]
        assert wait["securityContext"]["readOnlyRootFilesystem"] is True


def test_selector_is_identity_only() -> None:
    deploy = build_multicell(fixtures.multicell("us-east-1"), CTX)[0]
    selector = deploy["spec"]["selector"]["matchLabels"]
    assert "app.kubernetes.io/managed-by" not in selector and selector["multigres.com/cell"] == "us-east-1"
    assert selector.items() <= deploy["spec"]["template"]["metadata"]["labels"].items()


def test_stateless_servers_have_a_startup_probe_on_live() -> None:
    from consistency import by_kind, output_objects

    for deploy in by_kind(output_objects(render_paths(EXAMPLES / "seed")), "Deployment"):
        (c,) = deploy["spec"]["template"]["spec"]["containers"]
        assert c["startupProbe"]["httpGet"] == {"path": "/live", "port": "http"}, deploy["metadata"]["name"]
