"""Cluster-level builders (multiadmin, registration) and build_all: order, results, secrets."""

from __future__ import annotations

import copy

import yaml
from consistency import args_of, by_kind
from helpers import EXAMPLES, render_paths

from krmfn import yamlio
from krmfn.api.config import RenderOptions
from krmfn.build import build_all, cluster_view
from krmfn.build import topo_records as tr
from krmfn.build.admin import build_multiadmin
from krmfn.build.meta import BuildContext
from krmfn.build.registration import build_registration
from krmfn.resourcelist import Item, ResourceList

SEED = render_paths(EXAMPLES / "seed").resolved[0]


def test_multiadmin() -> None:
    deploy, svc = build_multiadmin(cluster_view(SEED), BuildContext())
    assert deploy["metadata"]["name"] == svc["metadata"]["name"] == "example-multigres-cluster-multiadmin"
    args = args_of(deploy["spec"]["template"]["spec"]["containers"][0])
    assert args["--service-map"] == "grpc-multiadmin"
    assert (args["--http-port"], args["--grpc-port"]) == ("15000", "15070")
    assert args["--topo-global-root"] == "/multigres/global"
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"http": 15000, "grpc": 15070}
    assert deploy["metadata"]["annotations"]["multigres.com/generated-from"] == "multigres/example-multigres-cluster"


def _puts(job: dict) -> dict[str, bytes]:
    pod = job["spec"]["template"]["spec"]
    return {c["args"][-2]: c["args"][-1].replace("$$", "$").encode() for c in pod["initContainers"]}


def test_registration_writes_each_cell_with_its_own_topo_and_each_database() -> None:
    (job,) = build_registration(cluster_view(SEED), BuildContext())
    puts = _puts(job)
    assert list(puts) == ["/multigres/global/cells/us-east-1/Cell", "/multigres/global/cells/us-west-2/Cell",
                          "/multigres/global/databases/production_db/Database"]
    east = tr.decode_cell(puts["/multigres/global/cells/us-east-1/Cell"])
    assert east["server_addresses"] == ["example-multigres-cluster-global-client.multigres.svc.cluster.local:2379"]
    assert east["root"] == "/multigres/global/us-east-1"  # upstream's root for a cell on the global etcd
    west = tr.decode_cell(puts["/multigres/global/cells/us-west-2/Cell"])
    assert west == {"name": "us-west-2", "root": "/multigres/us-west-2", "server_addresses": [
        "example-multigres-cluster-us-west-2-client.multigres.svc.cluster.local:2379"]}
    db = tr.decode_database(puts["/multigres/global/databases/production_db/Database"])
    assert db["cells"] == ["us-east-1", "us-west-2"] and db["backup_path"] == "/backups"
    assert db["policy"]["policy_name"] == "AT_LEAST_2"
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "OnFailure"
    assert pod["containers"][0]["args"][-4:] == ["get", "--prefix", "--keys-only", "/multigres/global/"]
    assert all(c["command"] == ["/usr/local/bin/etcdctl"] and c["image"] == "quay.io/coreos/etcd:v3.5.17"
               for c in pod["initContainers"] + pod["containers"])
    ann = job["metadata"]["annotations"]
    assert ann["config.kubernetes.io/depends-on"] == (
        "apps/namespaces/multigres/StatefulSet/example-multigres-cluster-global")
    assert ann["argocd.argoproj.io/sync-wave"] == "1"


def test_registration_skips_unregistered_cells_and_renames_on_change() -> None:
    view = cluster_view(SEED)
    (before,) = build_registration(view, BuildContext())
    view.cell_registrations = copy.deepcopy(view.cell_registrations)
    view.cell_registrations[0]["register"] = False
    (after,) = build_registration(view, BuildContext())
    assert "/multigres/global/cells/us-east-1/Cell" not in _puts(after)
    assert before["metadata"]["name"] != after["metadata"]["name"]  # a Job's template is immutable
    assert before["metadata"]["name"].startswith("example-multigres-cluster-register-topology-")


def test_external_cell_record_holds_its_address() -> None:
    view = cluster_view(SEED)
    view.cell_registrations = [{"name": "x", "addresses": ["etcd-x:2379"], "root": "/multigres/x", "register": True}]
    (job,) = build_registration(view, BuildContext())
    assert tr.decode_cell(_puts(job)["/multigres/global/cells/x/Cell"])["server_addresses"] == ["etcd-x:2379"]


def test_a_record_that_cannot_be_an_argument_is_an_error_result() -> None:
    view = cluster_view(SEED)
    view.cell_registrations = [{"name": "x", "addresses": ["e" * 200 + ":2379"], "root": "/x", "register": True}]
    ctx = BuildContext()
    (job,) = build_registration(view, ctx)
    assert "/multigres/global/cells/x/Cell" not in _puts(job)
    assert [r.severity for r in ctx.results] == ["error"] and "shorten" in ctx.results[0].message


def test_records_survive_the_yaml_writer() -> None:
    (job,) = build_registration(cluster_view(SEED), BuildContext())
    back = yaml.load(yamlio.dump(job), Loader=yamlio.CoreLoader)
    assert back == job


def test_build_all_order_and_no_shared_dicts() -> None:
    objs, _ = build_all(SEED, RenderOptions(), ResourceList())
    kinds = [o["kind"] for o in objs]
    assert kinds[:5] == ["StatefulSet", "Service", "Service", "PodDisruptionBudget", "Job"]
    assert kinds[5:7] == ["Deployment", "Service"]  # multiadmin
    assert objs == build_all(SEED, RenderOptions(), ResourceList())[0]  # deterministic
    assert "&id" not in yamlio.dump({"items": objs})  # no YAML anchors between objects
    ids = [id(d) for o in objs for d in _dicts(o)]
    assert len(ids) == len(set(ids))


def _dicts(value: object) -> list[object]:
    if isinstance(value, dict):
        return [value] + [d for v in value.values() for d in _dicts(v)]
    if isinstance(value, list):
        return [d for v in value for d in _dicts(v)]
    return []


def test_missing_password_secret_is_a_warning_and_a_present_one_is_not() -> None:
    _, results = build_all(SEED, RenderOptions(), ResourceList())
    assert [r.severity for r in results] == ["warning"]
    assert "example-multigres-cluster-postgres-password" in results[0].message
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "example-multigres-cluster-postgres-password", "namespace": "multigres"},
              "stringData": {"password": "x"}}
    _, results = build_all(SEED, RenderOptions(), ResourceList(items=[Item(secret)]))
    assert results == []
    del secret["stringData"]
    _, results = build_all(SEED, RenderOptions(), ResourceList(items=[Item(secret)]))
    assert len(results) == 1 and "has no key 'password'" in results[0].message


def test_cluster_domain_option_reaches_every_address() -> None:
    objs, _ = build_all(SEED, RenderOptions.model_validate({"clusterDomain": "corp.example"}), ResourceList())
    text = yamlio.dump({"items": objs})
    assert "svc.cluster.local" not in text and "svc.corp.example" in text
    assert by_kind(objs, "Job")
