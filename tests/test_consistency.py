"""The consistency checker on every example, and each rule failing on an object broken on purpose."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from consistency import by_kind, check, output_objects, result_messages
from helpers import EXAMPLES, render_paths

EXAMPLE_DIRS = sorted(d for d in EXAMPLES.iterdir() if d.is_dir() and any(d.glob("*.yaml")))


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda d: d.name)
def test_every_example_is_consistent(example: Any) -> None:
    out = render_paths(example)
    assert check(output_objects(out), result_messages(out)) == []


SEED = render_paths(EXAMPLES / "seed")
OBJECTS = output_objects(SEED)
MESSAGES = result_messages(SEED)


def _first(objs: list[dict], kind: str, pred: Callable[[dict], bool] = lambda o: True) -> dict:
    return next(o for o in by_kind(objs, kind) if pred(o))


def _headless(o: dict) -> bool:
    return o["spec"].get("clusterIP") == "None"


def _pod(objs: list[dict], kind: str = "Deployment") -> dict:
    return _first(objs, kind)["spec"]["template"]["spec"]


def _gateway(objs: list[dict]) -> dict:
    return _first(objs, "Deployment", lambda o: o["metadata"]["name"].endswith("-gateway"))


def break_service_selector(objs: list[dict]) -> None:
    _first(objs, "Service")["spec"]["selector"]["multigres.com/cluster"] = "other"


def break_sts_service_missing(objs: list[dict]) -> None:
    _first(objs, "StatefulSet")["spec"]["serviceName"] = "nope"


def break_sts_service_not_headless(objs: list[dict]) -> None:
    del _first(objs, "Service", _headless)["spec"]["clusterIP"]


def break_probe_port(objs: list[dict]) -> None:
    _pod(objs)["containers"][0]["livenessProbe"]["httpGet"]["port"] = "nope"


def break_target_port(objs: list[dict]) -> None:
    _first(objs, "Service", lambda o: not _headless(o))["spec"]["ports"][0]["targetPort"] = "nope"


def break_topo_service(objs: list[dict]) -> None:
    args = _gateway(objs)["spec"]["template"]["spec"]["containers"][0]["args"]
    i = next(i for i, a in enumerate(args) if a.startswith("--topo-global-server-addresses="))
    args[i] = "--topo-global-server-addresses=missing.multigres.svc.cluster.local:2379"


def break_topo_port(objs: list[dict]) -> None:
    args = _gateway(objs)["spec"]["template"]["spec"]["containers"][0]["args"]
    i = next(i for i, a in enumerate(args) if a.startswith("--topo-global-server-addresses="))
    args[i] = args[i].replace(":2379", ":2380")


def _records(objs: list[dict]) -> dict:
    return next(o for o in by_kind(objs, "ConfigMap") if "binaryData" in o)["binaryData"]


def break_cell_record(objs: list[dict]) -> None:
    import base64

    from krmfn.workloads import topo_records

    record = topo_records.cell("us-east-1", ["gone.multigres.svc.cluster.local:2379"], "/r")
    _records(objs)["record-0"] = base64.b64encode(record).decode()


def break_secret_reference(objs: list[dict]) -> None:
    _pod(objs, "StatefulSet").setdefault("volumes", []).append({"name": "x", "secret": {"secretName": "unreported"}})


def break_service_name(objs: list[dict]) -> None:
    _first(objs, "Service")["metadata"]["name"] = "1" + "x" * 70


def break_deployment_name(objs: list[dict]) -> None:
    _first(objs, "Deployment")["metadata"]["name"] = "d" * 64  # valid subdomain, not a DNS label


def break_label_value(objs: list[dict]) -> None:
    _first(objs, "Deployment")["metadata"]["labels"]["multigres.com/cell"] = "bad value!"


def break_selector_hash(objs: list[dict]) -> None:
    sts = _first(objs, "StatefulSet")
    for d in (sts["spec"]["selector"]["matchLabels"], sts["spec"]["template"]["metadata"]["labels"]):
        d["controller-revision-hash"] = "abc"


def break_selector_subset(objs: list[dict]) -> None:
    _first(objs, "Deployment")["spec"]["selector"]["matchLabels"]["extra"] = "x"


def break_pdb_selector(objs: list[dict]) -> None:
    _first(objs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]["multigres.com/cell"] = "nowhere"


def break_port_name_length(objs: list[dict]) -> None:
    _pod(objs)["containers"][0]["ports"][0]["name"] = "a-very-long-port-name"


def break_port_name_duplicate(objs: list[dict]) -> None:
    containers = _pod(objs, "StatefulSet")["containers"]
    containers[-1]["ports"].append(dict(containers[0]["ports"][0], containerPort=1))


def break_record_bytes(objs: list[dict]) -> None:
    _records(objs)["record-0"] = "Cn9zaG9ydA=="  # 0a 7f "short": a length past the end


def _pooler(objs: list[dict]) -> dict:
    return _first(objs, "StatefulSet", lambda o: o["metadata"]["labels"]["app.kubernetes.io/component"]
                  == "multipooler")["spec"]["template"]["spec"]


def break_backup_claim_missing(objs: list[dict]) -> None:
    objs[:] = [o for o in objs if o.get("kind") != "PersistentVolumeClaim"]


def break_backup_mount_one_container(objs: list[dict]) -> None:
    pgctld = _pooler(objs)["initContainers"][0]
    pgctld["volumeMounts"] = [m for m in pgctld["volumeMounts"] if m["name"] != "backups"]


def break_backup_claim_not_shared(objs: list[dict]) -> None:
    claim = next(o for o in by_kind(objs, "PersistentVolumeClaim"))
    objs.append(dict(claim, metadata=dict(claim["metadata"], name="other")))
    sts = _first(objs, "StatefulSet", lambda o: "-orders-tg-0-" in o["metadata"]["name"])  # one of two pools
    vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "backups")
    vol["persistentVolumeClaim"]["claimName"] = "other"


def _shard_budget(objs: list[dict]) -> dict:
    return _first(objs, "PodDisruptionBudget", lambda o: o["metadata"]["labels"]["app.kubernetes.io/component"]
                  == "multipooler" and "-orders-tg-0-" in o["metadata"]["name"])  # two pools, two shards


def break_budget_one_pool_only(objs: list[dict]) -> None:
    _shard_budget(objs)["spec"]["selector"]["matchLabels"]["multigres.com/pool-type"] = "replica"


def break_budget_overlap(objs: list[dict]) -> None:
    budget = copy.deepcopy(_shard_budget(objs))
    budget["metadata"]["name"] += "-again"
    objs.append(budget)


def break_budget_two_shards(objs: list[dict]) -> None:
    del _shard_budget(objs)["spec"]["selector"]["matchLabels"]["multigres.com/shard"]


BREAKERS = {
    "service-selects": [break_service_selector],
    "statefulset-service": [break_sts_service_missing, break_sts_service_not_headless],
    "named-ports": [break_probe_port, break_target_port],
    "topo-address": [break_topo_service, break_topo_port, break_cell_record],
    "references": [break_secret_reference],
    "names": [break_service_name, break_deployment_name, break_label_value],
    "selectors": [break_selector_hash, break_selector_subset, break_pdb_selector],
    "port-names": [break_port_name_length, break_port_name_duplicate],
    "records": [break_record_bytes],
    "backups": [break_backup_claim_missing, break_backup_mount_one_container, break_backup_claim_not_shared],
    "disruption-budgets": [break_budget_one_pool_only, break_budget_overlap, break_budget_two_shards],
}
CASES = [(rule, f) for rule, fs in BREAKERS.items() for f in fs]


def test_the_seed_is_clean() -> None:
    assert check(OBJECTS, MESSAGES) == []


@pytest.mark.parametrize(("rule", "breaker"), CASES, ids=[f.__name__ for _, f in CASES])
def test_each_rule_fails_on_a_broken_object(rule: str, breaker: Callable[[list[dict]], None]) -> None:
    objs = copy.deepcopy(OBJECTS)
    breaker(objs)
    problems = check(objs, MESSAGES)
    assert any(p.startswith(rule + ":") for p in problems), problems


def test_a_reported_secret_is_accepted_and_an_unreported_one_is_not() -> None:
    password = "example-multigres-cluster-postgres-password"
    assert any(password in m for m in MESSAGES)
    problems = check(OBJECTS, [m for m in MESSAGES if password not in m])
    assert problems and all(p.startswith("references:") for p in problems)


def test_every_rule_has_a_negative_case() -> None:
    from consistency import RULES

    ids = {r.__name__.removeprefix("rule_").replace("_", "-") for r in RULES}
    aliases = {"service-selects", "statefulset-service", "named-ports", "topo-addresses", "references",
               "names", "selectors", "port-names", "records", "backups", "disruption-budgets"}
    assert ids == aliases
    assert set(BREAKERS) == (aliases - {"topo-addresses"}) | {"topo-address"}


VARIANTS = {
    "no-namespace": """
apiVersion: multigres.com/v1alpha1
kind: MultigresCluster
metadata: {name: nons}
spec:
  cells: {templates: [{name: a}, {name: b, spec: {topoServer: {managedSpec: {replicas: 1}}}}]}
  databases:
    templates:
      - name: postgres
        spec:
          tablegroups: [{name: default, shardTemplate: {pools: [{type: replica, cell: a}, {type: replica, cell: b}]}}]
""",
    "external-topos": """
apiVersion: multigres.com/v1alpha1
kind: MultigresCluster
metadata: {name: ext, namespace: db}
spec:
  imagePullPolicy: IfNotPresent
  imagePullSecrets: [{name: regcred}]
  globalTopoServer: {external: {address: "etcd.example.com:2379"}}
  cells:
    templates:
      - name: a
        spec: {topoServer: {external: {address: "etcd-a.example.com:2379", rootPath: /mg/a}}}
  databases:
    templates:
      - name: postgres
        spec:
          durabilityPolicy: MULTI_CELL_AT_LEAST_2
          tablegroups: [{name: default, shardTemplate: {pools: [{type: replica, cell: a}]}}]
""",
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_are_consistent_and_valid(name: str) -> None:
    import kubernetes_validate
    import yaml
    from helpers import resource_list, run_text

    out = run_text(resource_list(yaml.safe_load(VARIANTS[name])))
    assert not [r for r in out.results if r.severity == "error"], out.results
    objs = output_objects(out)
    assert by_kind(objs, "Job") and by_kind(objs, "StatefulSet")
    assert check(objs, result_messages(out)) == []
    for obj in objs:
        if not obj["apiVersion"].startswith("multigres.com/"):
            kubernetes_validate.validate(obj, "1.37", strict=True)


def test_s3_and_cert_manager_variant_is_consistent() -> None:
    from helpers import resource_list, run_text

    from krmfn import yamlio

    cluster = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
    cluster["spec"]["pgbackrestTLS"] = {"certManager": {"issuerRef": {"name": "ca"}}}
    cluster["spec"]["databases"]["templates"][0]["spec"]["backup"] = {"s3": {
        "bucket": "b", "region": "r", "credentialsSecret": "s3-creds"}}
    out = run_text(resource_list(cluster))
    assert check(output_objects(out), result_messages(out)) == []
