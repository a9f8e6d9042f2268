"""One test per bad input: severity, field path and a fragment of the message, plus exit 1."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from helpers import EXAMPLES, resource_list, run_function, run_text

from krmfn import yamlio

BASE = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
TEMPLATE = {
    "apiVersion": "multigres.com/v1alpha1", "kind": "MultigresDeploymentTemplate",
    "metadata": {"name": "tpl", "namespace": "default"},
    "spec": {"shardPool": {"replicas": 3}, "multigateway": {"replicas": 2}, "multiorch": {"replicas": 1}},
}
CELLS = "spec.cells.templates"
DB = "spec.databases.templates[0].spec"
POOL = f"{DB}.tablegroups[0].shardTemplate.pools[0]"
ZONE = "topology.kubernetes.io/zone"


def cluster(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    mutate(obj)
    return obj


def spec(obj):
    return obj["spec"]


def pool(obj):
    return obj["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"][0]


def tg(obj):
    return obj["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]


def db(obj):
    return obj["spec"]["databases"]["templates"][0].setdefault("spec", {})


def cell(obj):
    return obj["spec"]["cells"]["templates"][0]


def with_cluster(mutate, *extra):
    return lambda: [cluster(mutate), *extra]


CASES: list[tuple[str, Callable[[], list], str, str, str]] = [
    ("unknown-field-did-you-mean", with_cluster(lambda o: spec(o).update(globalTopoSever={})),
     "error", "spec.globalTopoSever", "Did you mean 'globalTopoServer'"),
    ("unknown-pool-field", with_cluster(lambda o: pool(o).update(replica=3)),
     "error", f"{POOL}.replica", "Did you mean 'replicas'"),
    ("missing-template", with_cluster(lambda o: pool(o).update(multigresDeploymentTemplate="nope")),
     "error", f"{POOL}.multigresDeploymentTemplate", "'nope' not found"),
    ("missing-template-lists-available",
     with_cluster(lambda o: pool(o).update(multigresDeploymentTemplate="nope"), TEMPLATE),
     "error", f"{POOL}.multigresDeploymentTemplate", "available: tpl"),
    ("missing-template-section",
     with_cluster(lambda o: spec(o).update(multiadmin={"templateName": "tpl"}), TEMPLATE),
     "error", "spec.multiadmin.templateName", "has no 'multiadmin' section"),
    ("template-and-inline-spec",
     with_cluster(lambda o: spec(o).update(multiadmin={"templateName": "tpl", "spec": {"replicas": 1}}), TEMPLATE),
     "error", "spec.multiadmin", "overrides"),
    ("overrides-without-template", with_cluster(lambda o: spec(o).update(multiadmin={"overrides": {"replicas": 2}})),
     "error", "spec.multiadmin.overrides", "need a templateName"),
    ("pool-template-and-inline",
     with_cluster(lambda o: pool(o).update(multigresDeploymentTemplate="tpl", replicas=2), TEMPLATE),
     "error", POOL, "move the inline values into overrides"),
    ("pool-cell-undeclared", with_cluster(lambda o: pool(o).update(cell="zone9")),
     "error", f"{POOL}.cell", "'zone9' is not declared"),
    ("cert-manager-without-namespace", with_cluster(lambda o: (o["metadata"].pop("namespace", None), spec(o).update(
        pgbackrestTLS={"certManager": {"issuerRef": {"name": "ca"}}}))),
     "error", "spec.pgbackrestTLS.certManager", "set metadata.namespace"),
    ("duplicate-cell", with_cluster(lambda o: spec(o)["cells"]["templates"].append({"name": "zone1"})),
     "error", f"{CELLS}[1].name", "declared twice"),
    ("duplicate-database", with_cluster(lambda o: spec(o)["databases"]["templates"].append(
        copy.deepcopy(spec(o)["databases"]["templates"][0]))),
     "error", "spec.databases.templates[1].name", "declared twice"),
    ("duplicate-table-group", with_cluster(lambda o: spec(o)["databases"]["templates"][0]["spec"]["tablegroups"]
                                           .append({"name": "default"})),
     "error", f"{DB}.tablegroups[1].name", "declared twice"),
    ("request-above-limit", with_cluster(lambda o: pool(o).update(
        postgres={"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}})),
     "error", "spec.shardTemplate.pools[0].postgres.resources.requests.cpu", "above its limit"),
    ("request-above-limit-after-override", with_cluster(lambda o: pool(o).update(
        multigresDeploymentTemplate="tpl", overrides={"multipooler": {"resources": {
            "requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}}), TEMPLATE),
     "error", "spec.shardTemplate.pools[0].multipooler.resources.requests.memory", "above its limit"),
    ("invalid-quantity", with_cluster(lambda o: pool(o).update(
        postgres={"resources": {"requests": {"cpu": "two"}}})),
     "error", f"{POOL}.postgres.resources.requests.cpu", "not a Kubernetes quantity"),
    ("invalid-quantity-in-overrides", with_cluster(lambda o: pool(o).update(
        multigresDeploymentTemplate="tpl", overrides={"dataVolumeClaimTemplate": {
            "resources": {"requests": {"storage": "10GB"}}}}), TEMPLATE),
     "error", f"{POOL}.overrides.dataVolumeClaimTemplate.resources.requests.storage", "not a Kubernetes quantity"),
    ("unknown-field-in-overrides", with_cluster(lambda o: pool(o).update(
        multigresDeploymentTemplate="tpl", overrides={"replicaz": 2}), TEMPLATE),
     "error", f"{POOL}.overrides.replicaz", "Did you mean 'replicas'"),
    ("float-quantity", with_cluster(lambda o: pool(o).update(
        multipooler={"resources": {"requests": {"memory": 1.5}}})),
     "error", f"{POOL}.multipooler.resources.requests.memory", "write an integer or a string"),
    ("replicas-as-string", with_cluster(lambda o: pool(o).update(replicas="3")),
     "error", f"{POOL}.replicas", "expected a whole number"),
    ("pools-not-a-list", with_cluster(lambda o: tg(o)["shardTemplate"].update(pools={"type": "replica"})),
     "error", f"{DB}.tablegroups[0].shardTemplate.pools", "expected a list"),
    ("zero-shards", with_cluster(lambda o: tg(o).update(partitioning={"shards": 0})),
     "error", f"{DB}.tablegroups[0].partitioning.shards", "at least 1"),
    ("negative-shards", with_cluster(lambda o: tg(o).update(partitioning={"shards": -2})),
     "error", f"{DB}.tablegroups[0].partitioning.shards", "at least 1"),
    ("names-collide-after-sanitising", with_cluster(lambda o: spec(o)["databases"]["templates"][0]["spec"]
                                                    ["tablegroups"].append({"name": "DEFAULT"})),
     "error", "metadata.name", "collide after sanitising"),
    ("pool-type-enum", with_cluster(lambda o: pool(o).update(type="primary")),
     "error", f"{POOL}.type", "'replica' or 'readOnly'"),
    ("negative-replicas", with_cluster(lambda o: pool(o).update(replicas=-1)),
     "error", f"{POOL}.replicas", "at least 0"),
    ("topo-alias-both", with_cluster(lambda o: cell(o).update(spec={
        "topoServer": {"external": {"address": "a:2379"}}, "toposerver": {"external": {"address": "b:2379"}}})),
     "error", f"{CELLS}[0].spec.toposerver", "keep only topoServer"),
    ("topo-managed-and-external", with_cluster(lambda o: spec(o).update(globalTopoServer={
        "managedSpec": {"replicas": 3}, "external": {"address": "etcd:2379"}})),
     "error", "spec.globalTopoServer", "keep one"),
    ("bad-access-mode", with_cluster(lambda o: pool(o).update(dataVolumeClaimTemplate={"accessModes": ["RWO"]})),
     "error", f"{POOL}.dataVolumeClaimTemplate.accessModes[0]", "ReadWriteOnce"),
    ("cluster-name-not-dns", with_cluster(lambda o: o["metadata"].update(name="My_Cluster")),
     "error", "metadata.name", "DNS-1123"),
    ("wrong-api-version", with_cluster(lambda o: o.update(apiVersion="multigres.com/v1")),
     "error", "apiVersion", "multigres.com/v1alpha1"),
    ("latest-image",
     with_cluster(lambda o: spec(o).update(images={"multigateway": "ghcr.io/multigres/multigres:latest"})),
     "warning", "spec.images.multigateway", "'latest'"),
    ("untagged-image", with_cluster(lambda o: spec(o).update(images={"multiorch": "ghcr.io/multigres/multigres"})),
     "warning", "spec.images.multiorch", "'latest'"),
    ("postgres-not-17", with_cluster(lambda o: spec(o).update(images={"postgres": "postgres:16.2"})),
     "warning", "spec.images.postgres", "PostgreSQL 17 only"),
    ("even-etcd", with_cluster(lambda o: spec(o).update(globalTopoServer={"managedSpec": {"replicas": 4}})),
     "warning", "spec.globalTopoServer.managedSpec.replicas", "odd count"),
    ("replica-pool-too-small", with_cluster(lambda o: pool(o).update(replicas=1)),
     "warning", "spec.shardTemplate.pools", "AT_LEAST_2 needs at least 2"),
    ("multi-cell-durability", with_cluster(lambda o: spec(o)["databases"]["templates"][0]["spec"].update(
        durabilityPolicy="MULTI_CELL_AT_LEAST_2")),
     "warning", "spec.shardTemplate.pools", "two cells"),
    ("unused-template", with_cluster(lambda o: None, TEMPLATE), "info", "", "not referenced"),
    ("toposerver-alias", with_cluster(lambda o: cell(o).update(spec={"toposerver": {"external": {
        "address": "etcd:2379"}}})), "warning", f"{CELLS}[0].spec.toposerver", "canonical spelling"),
    ("mvp-table-group", with_cluster(lambda o: tg(o).update(name="orders")),
     "warning", "spec.shardName", "MVP"),
    ("invalid-template", lambda: [cluster(lambda o: None), {**TEMPLATE, "spec": {"shardPool": {"replica": 1}}}],
     "error", "spec.shardPool.replica", "Did you mean 'replicas'"),
    # backups (S3 or a shared claim) and pgBackRest TLS: API additions of docs/workloads.md
    ("backup-volume-and-s3", with_cluster(lambda o: db(o).update(backup={
        "volumeClaimTemplate": {"storageClassName": "nfs"}, "s3": {"bucket": "b", "region": "r"}})),
     "error", f"{DB}.backup", "volumeClaimTemplate and s3"),
    ("backup-s3-and-location", with_cluster(lambda o: db(o).update(
        backupLocation="/backups", backup={"s3": {"bucket": "b", "region": "r"}})),
     "error", f"{DB}.backupLocation", "remove backupLocation"),
    ("backup-s3-without-bucket", with_cluster(lambda o: db(o).update(backup={"s3": {"region": "r"}})),
     "error", f"{DB}.backup.s3.bucket", "required"),
    ("backup-s3-secret-not-a-name", with_cluster(lambda o: db(o).update(backup={"s3": {
        "bucket": "b", "region": "r", "credentialsSecret": "My_Secret"}})),
     "error", f"{DB}.backup.s3.credentialsSecret", "pattern"),
    ("backup-size-not-a-quantity", with_cluster(lambda o: db(o).update(backup={"volumeClaimTemplate": {
        "resources": {"requests": {"storage": "ten gigs"}}}})),
     "error", f"{DB}.backup.volumeClaimTemplate.resources.requests.storage", "quantity"),
    ("backup-claim-not-shared", with_cluster(lambda o: db(o).update(backup={"volumeClaimTemplate": {
        "accessModes": ["ReadWriteOnce"]}})),
     "warning", f"{DB}.backup.volumeClaimTemplate.accessModes", "lack ReadWriteMany"),
    ("cert-manager-without-issuer-name", with_cluster(lambda o: spec(o).update(
        pgbackrestTLS={"certManager": {"issuerRef": {"kind": "ClusterIssuer"}}})),
     "error", "spec.pgbackrestTLS.certManager.issuerRef.name", "required"),
    ("cert-manager-without-namespace", with_cluster(lambda o: (spec(o).update(
        pgbackrestTLS={"certManager": {"issuerRef": {"name": "ca"}}}), o["metadata"].pop("namespace"))),
     "error", "spec.pgbackrestTLS.certManager", "set metadata.namespace"),
    ("cell-with-underscore", with_cluster(lambda o: (cell(o).update(name="zone_1"), pool(o).update(cell="zone_1"))),
     "error", f"{CELLS}[0].name", "contains '_'"),
    ("cell-too-long-for-service-ids", with_cluster(lambda o: (cell(o).update(name="z" * 60),
                                                            pool(o).update(cell="z" * 60))),
     "error", "spec.shardTemplate.pools[0].cell", "Shorten the cell name to at most 52"),
    ("network-policy-empty-clients", with_cluster(lambda o: spec(o).update(networkPolicy={"gatewayClients": []})),
     "error", "spec.networkPolicy.gatewayClients", "every source in"),
    ("network-policy-empty-metrics-clients",
     with_cluster(lambda o: spec(o).update(networkPolicy={"metricsClients": []})),
     "error", "spec.networkPolicy.metricsClients", "every source in"),
    ("network-policy-peer-without-selector",
     with_cluster(lambda o: spec(o).update(networkPolicy={"adminClients": [{}]})),
     "error", "spec.networkPolicy.adminClients[0]", "needs podSelector, namespaceSelector or ipBlock"),
    ("network-policy-ipblock-with-selector",
     with_cluster(lambda o: spec(o).update(networkPolicy={"gatewayClients": [
         {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]})),
     "error", "spec.networkPolicy.gatewayClients[0]", "cannot be combined"),
    ("network-policy-bad-cidr",
     with_cluster(lambda o: spec(o).update(networkPolicy={"gatewayClients": [{"ipBlock": {"cidr": "10.0.0/8"}}]})),
     "error", "spec.networkPolicy.gatewayClients[0].ipBlock.cidr", "is not a CIDR"),
    ("network-policy-except-outside-cidr",
     with_cluster(lambda o: spec(o).update(networkPolicy={"gatewayClients": [
         {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]})),
     "error", "spec.networkPolicy.gatewayClients[0].ipBlock.except[0]", "not inside"),
    ("network-policy-in-without-values",
     with_cluster(lambda o: spec(o).update(networkPolicy={"gatewayClients": [
         {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In"}]}}]})),
     "error", "spec.networkPolicy.gatewayClients[0].namespaceSelector.matchExpressions[0]", "needs at least one"),
    ("network-policy-unknown-field",
     with_cluster(lambda o: spec(o).update(networkPolicy={"enable": False})),
     "error", "spec.networkPolicy.enable", "Did you mean 'enabled'"),
    # placement (docs/placement.md)
    ("cell-zone-and-region", with_cluster(lambda o: cell(o).update(spec={"zone": "a", "region": "r"})),
     "error", f"{CELLS}[0].spec.region", "keep zone"),
    ("cell-zone-contradicts-its-node-selector", with_cluster(lambda o: cell(o).update(spec={
        "zone": "a", "placement": {"nodeSelector": {ZONE: "b"}}})),
     "error", f"{CELLS}[0].spec.placement.nodeSelector", f"{ZONE}=b contradicts {ZONE}=a"),
    ("pool-node-selector-contradicts-its-cell", with_cluster(lambda o: (
        cell(o).update(spec={"zone": "a"}), pool(o).update(placement={"nodeSelector": {ZONE: "b"}}))),
     "error", f"{POOL}.placement.nodeSelector", "no node carries both"),
    ("cells-without-placement", with_cluster(lambda o: spec(o)["cells"]["templates"].append({"name": "zone2"})),
     "warning", f"{CELLS}[1].spec", "does not say where its pods run"),
    ("two-cells-one-zone-multi-cell", with_cluster(lambda o: (
        cell(o).update(spec={"zone": "a"}),
        spec(o)["cells"]["templates"].append({"name": "zone2", "spec": {"zone": "a"}}),
        db(o).update(durabilityPolicy="MULTI_CELL_AT_LEAST_2"),
        tg(o)["shardTemplate"]["pools"].append({"type": "replica", "cell": "zone2", "replicas": 1}))),
     "error", f"{CELLS}[1].spec.zone", "promises nothing"),
    ("shard-budget-allows-no-eviction", with_cluster(lambda o: pool(o).update(replicas=2)),
     "warning", "spec.shardTemplate.pools", "allows no eviction"),
    ("missing-name", lambda: [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}],
     "error", "items[0]", "metadata.name"),
    ("missing-kind", lambda: [{"apiVersion": "v1", "metadata": {"name": "x"}}], "error", "items[0]", "kind"),
    ("document-not-object", lambda: ["just a string"], "error", "items[0]", "not an object"),
]


@pytest.mark.parametrize(("objs", "severity", "path", "fragment"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_bad_input(objs, severity, path, fragment):
    out = run_text(resource_list(*objs()))
    matches = [r for r in out.results if r.severity == severity and r.path == path and fragment in r.message]
    assert matches, "\n".join(r.describe() for r in out.results)
    same = [r for r in out.results if (r.path, r.severity, r.ref) == (path, severity, matches[0].ref)]
    assert len(same) == 1, "reported twice: " + "\n".join(r.describe() for r in same)


@pytest.mark.parametrize("case", [c for c in CASES if c[2] == "error"], ids=lambda c: c[0])
def test_errors_exit_1_and_still_write_output(case):
    proc = run_function(resource_list(*case[1]()))
    assert proc.returncode == 1, proc.stderr
    assert "kind: ResourceList" in proc.stdout and "severity: error" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_all_problems_reported_at_once():
    def many(o):
        pool(o).update(cell="nowhere", replica=1)
        spec(o)["cells"]["templates"].append({"name": "zone1"})
    out = run_text(resource_list(cluster(many)))
    assert len([r for r in out.results if r.severity == "error"]) >= 1
    # Structural errors stop semantic checks of that cluster only; fix one and the rest appear.
    def semantic(o):
        pool(o).update(cell="nowhere")
        spec(o)["cells"]["templates"].append({"name": "zone1"})
        tg(o).update(partitioning={"shards": 1})
    paths = {r.path for r in run_text(resource_list(cluster(semantic))).results if r.severity == "error"}
    assert {f"{POOL}.cell", f"{CELLS}[1].name"} <= paths


@pytest.mark.parametrize("stdin", ["items: [", "- a\n- b\n", "kind: Deployment\n", ": : :"])
def test_malformed_input_is_an_error_result_not_a_traceback(stdin):
    proc = run_function(stdin)
    assert proc.returncode == 1
    assert "severity: error" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_unknown_function_config_kind():
    out = run_text(resource_list(BASE, function_config={"apiVersion": "v1", "kind": "Secret",
                                                        "metadata": {"name": "x"}}))
    assert any(r.severity == "error" and "functionConfig of kind 'Secret'" in r.message for r in out.results)


def test_bad_function_config_option():
    fc = {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres", "metadata": {"name": "x"},
          "spec": {"emit": "everything"}}
    out = run_text(resource_list(BASE, function_config=fc))
    assert any(r.severity == "error" and r.path == "spec.emit" for r in out.results)
