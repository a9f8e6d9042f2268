"""Cluster-level builders (multiadmin, registration), build_all's order, and the Secret checks."""

from __future__ import annotations

import copy
import json

import fixtures
import pytest
import topo_decode
import yaml
from consistency import args_of, by_kind
from helpers import EXAMPLES, render_paths

from krmfn import yamlio
from krmfn.checks import check_secrets, secrets_written_by
from krmfn.resolve.cluster import Resolved
from krmfn.resolve.facts import CellRegistration
from krmfn.resourcelist import Item
from krmfn.results import Result
from krmfn.workloads import build_all
from krmfn.workloads.admin import build_multiadmin
from krmfn.workloads.registration import build_registration

CTX = fixtures.context()


@pytest.fixture(scope="module")
def seed() -> Resolved:
    """The seed example resolved: build_all's tests take a whole cluster."""
    resolved: Resolved = render_paths(EXAMPLES / "seed").resolved[0]
    return resolved


def test_multiadmin() -> None:
    deploy, svc = build_multiadmin(CTX)
    assert deploy["metadata"]["name"] == svc["metadata"]["name"] == "example-multigres-cluster-multiadmin"
    args = args_of(deploy["spec"]["template"]["spec"]["containers"][0])
    assert args["--service-map"] == "grpc-multiadmin"
    assert (args["--http-port"], args["--grpc-port"]) == ("15000", "15070")
    assert args["--topo-global-root"] == "/multigres/global"
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"http": 15000, "grpc": 15070}
    assert deploy["metadata"]["annotations"]["multigres.com/generated-from"] == "multigres/example-multigres-cluster"


def _puts(objs: list[dict]) -> dict[str, bytes]:
    """etcd key → record bytes, read off the registration ConfigMap's script and binaryData."""
    from consistency import registration_records

    return {key: value for _, key, value in registration_records(objs)}


def test_registration_writes_each_cell_with_its_own_topo_and_each_database() -> None:
    cm, job = build_registration(CTX)
    puts = _puts([cm])
    assert list(puts) == ["/multigres/global/cells/us-east-1/Cell", "/multigres/global/cells/us-west-2/Cell",
                          "/multigres/global/databases/production_db/Database"]
    east = topo_decode.decode_cell(puts["/multigres/global/cells/us-east-1/Cell"])
    assert east["server_addresses"] == ["example-multigres-cluster-global-client.multigres.svc.cluster.local:2379"]
    assert east["root"] == "/multigres/global/us-east-1"  # upstream's root for a cell on the global etcd
    west = topo_decode.decode_cell(puts["/multigres/global/cells/us-west-2/Cell"])
    assert west == {"name": "us-west-2", "root": "/multigres/us-west-2", "server_addresses": [
        "example-multigres-cluster-us-west-2-client.multigres.svc.cluster.local:2379"]}
    db = topo_decode.decode_database(puts["/multigres/global/databases/production_db/Database"])
    assert db["cells"] == ["us-east-1", "us-west-2"] and db["backup_path"] == "/backups"
    assert db["policy"]["policy_name"] == "AT_LEAST_2"
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "OnFailure"
    assert pod["containers"][0]["args"][-4:] == ["get", "--prefix", "--keys-only", "/multigres/global/"]
    assert pod["containers"][0]["image"] == "quay.io/coreos/etcd:v3.5.17"  # etcdctl reads them back
    (register,) = pod["initContainers"]
    assert register["command"] == ["/bin/bash"] and register["image"] == "multigres/multigres:latest"
    assert register["args"] == ["/etc/multigres/registration/register.sh",
                                "example-multigres-cluster-global-client.multigres.svc.cluster.local:2379"]
    assert pod["volumes"] == [{"name": "records", "configMap": {"name": cm["metadata"]["name"], "defaultMode": 0o444}}]
    assert cm["metadata"]["name"].rsplit("-", 1)[1] == job["metadata"]["name"].rsplit("-", 1)[1]  # one digest
    ann = job["metadata"]["annotations"]
    assert ann["config.kubernetes.io/depends-on"] == (
        "apps/namespaces/multigres/StatefulSet/example-multigres-cluster-global")
    assert ann["argocd.argoproj.io/sync-wave"] == "1"


def test_registration_skips_unregistered_cells_and_renames_on_change() -> None:
    _, before = build_registration(CTX)
    east, west = CTX.cells
    unregistered = CellRegistration(name=east.name, root=east.root, register=False)
    cm, after = build_registration(fixtures.context(cells=(unregistered, west)))
    assert "/multigres/global/cells/us-east-1/Cell" not in _puts([cm])
    assert before["metadata"]["name"] != after["metadata"]["name"]  # a Job's template is immutable
    assert before["metadata"]["name"].startswith("example-multigres-cluster-register-topology-")


def test_external_cell_record_holds_its_address() -> None:
    cell = CellRegistration(name="x", addresses=["etcd-x:2379"], root="/multigres/x", register=True)
    cm, _ = build_registration(fixtures.context(cells=(cell,)))
    assert topo_decode.decode_cell(_puts([cm])["/multigres/global/cells/x/Cell"])["server_addresses"] == ["etcd-x:2379"]


def test_a_long_record_travels_in_binary_data_without_error() -> None:
    """A length of 128 or more is not UTF-8 (varint byte >= 0x80): binaryData carries any bytes."""
    cell = CellRegistration(name="x", addresses=["e" * 200 + ":2379"], root="/x", register=True)
    cm, _ = build_registration(fixtures.context(cells=(cell,)))
    record = topo_decode.decode_cell(_puts([cm])["/multigres/global/cells/x/Cell"])
    assert record["server_addresses"] == ["e" * 200 + ":2379"]


def test_registration_waits_for_etcd_within_a_deadline() -> None:
    cm, job = build_registration(CTX)
    assert job["spec"]["backoffLimit"] == 10 and job["spec"]["activeDeadlineSeconds"] == 1200
    script = cm["data"]["register.sh"]
    assert "GET /health" in script and "POST /v3/kv/put" in script


def test_records_survive_the_yaml_writer() -> None:
    objs = build_registration(CTX)
    back = yaml.load(yamlio.dump({"items": objs}), Loader=yamlio.CoreLoader)
    assert back == {"items": objs}


def test_build_all_order_and_no_shared_metadata(seed: Resolved) -> None:
    """Objects may share read-only sub-dicts (copying them was half of a large render); what the
    render edits afterwards (metadata, annotations) is each object's own, and every value is
    plain JSON data (no tuples), which is all the writer knows."""
    objs = build_all(seed, "cluster.local")
    kinds = [o["kind"] for o in objs]
    assert kinds[:5] == ["StatefulSet", "Service", "Service", "PodDisruptionBudget", "NetworkPolicy"]
    assert kinds[5:9] == ["NetworkPolicy"] * 4  # multiadmin, gateways, multiorch, registration: the cluster's own
    assert kinds[9:13] == ["ConfigMap", "Job", "Deployment", "Service"]  # registration, multiadmin
    assert objs == build_all(seed, "cluster.local")  # deterministic
    assert "&id" not in yamlio.dump({"items": objs})  # no YAML anchors between objects
    assert json.loads(json.dumps(objs)) == objs
    ids = [id(d) for o in objs for d in (o["metadata"], o["metadata"].get("annotations"), o) if d is not None]
    assert len(ids) == len(set(ids))


def _dicts(value: object) -> list[object]:
    if isinstance(value, dict):
        return [value] + [d for v in value.values() for d in _dicts(v)]
    if isinstance(value, list):
        return [d for v in value for d in _dicts(v)]
    return []


def _secret_results(*inputs: Item) -> list[Result]:
    """What the function says about a shard's Secrets, given these input items."""
    return check_secrets([fixtures.shard(0), fixtures.shard(1, "80-inf")], list(inputs), secrets_written_by([]))


TLS = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
       "metadata": {"name": "example-multigres-cluster-pgbackrest-tls", "namespace": "multigres"},
       "data": {"ca.crt": "", "tls.crt": "", "tls.key": ""}}


def test_missing_password_secret_is_a_warning_and_a_present_one_is_not() -> None:
    results = _secret_results(Item(TLS))
    assert [r.severity for r in results] == ["warning"]
    assert "example-multigres-cluster-postgres-password" in results[0].message
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "example-multigres-cluster-postgres-password", "namespace": "multigres"},
              "stringData": {"password": "x"}}
    results = _secret_results(Item(secret), Item(TLS))
    assert results == []
    del secret["stringData"]
    results = _secret_results(Item(secret), Item(TLS))
    assert len(results) == 1 and "has no key 'password'" in results[0].message


def test_missing_pgbackrest_tls_secret_is_a_warning_that_says_how_to_make_it() -> None:
    password = {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": "x"}, "metadata": {
        "name": "example-multigres-cluster-postgres-password", "namespace": "multigres"}}
    results = _secret_results(Item(password))
    assert [(r.severity, r.path) for r in results] == [("warning", "spec.pgbackrestTLSSecret")]
    assert "scripts/make-pgbackrest-tls.sh example-multigres-cluster multigres" in results[0].message
    partial = copy.deepcopy(TLS)
    del partial["data"]["ca.crt"]
    results = _secret_results(Item(password), Item(partial))
    assert len(results) == 1 and "has no key 'ca.crt'" in results[0].message


def test_cluster_domain_option_reaches_every_address(seed: Resolved) -> None:
    objs = build_all(seed, "corp.example")
    text = yamlio.dump({"items": objs})
    assert "svc.cluster.local" not in text and "svc.corp.example" in text
    assert by_kind(objs, "Job")
