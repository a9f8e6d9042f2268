"""Placement: every pod of a cell runs in the cell's failure domain, the levels combine as
docs/placement.md says, and the global etcd spreads over the cells' zones."""

from __future__ import annotations

import copy
from typing import Any

from helpers import EXAMPLES, objects, render_paths, resource_list, run_text

from krmfn import yamlio
from krmfn.resolve.placement import combine

ZONE = "topology.kubernetes.io/zone"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
SEED_ZONES = {"us-east-1": "us-east-1a", "us-west-2": "us-west-2a"}
BASE = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())


def pods(out: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec) of every Deployment and StatefulSet."""
    return [(o, o["spec"]["template"]["spec"]) for o in objects(out) if o["kind"] in ("Deployment", "StatefulSet")]


def render(mutate: Any) -> Any:
    obj = copy.deepcopy(BASE)
    mutate(obj)
    return run_text(resource_list(obj))


def pooler(out: Any) -> dict[str, Any]:
    return next(p for w, p in pods(out) if w["metadata"]["labels"]["app.kubernetes.io/component"] == "multipooler")


def test_every_pod_of_a_seed_cell_runs_in_its_zone() -> None:
    out = render_paths(EXAMPLES / "seed")
    placed = [(w["metadata"]["labels"].get("multigres.com/cell"), p) for w, p in pods(out)]
    in_cells = [(cell, p) for cell, p in placed if cell]
    components = {w["metadata"]["labels"]["app.kubernetes.io/component"] for w, _ in pods(out)
                  if w["metadata"]["labels"].get("multigres.com/cell")}
    assert components == {"multigateway", "multiorch", "multipooler", "etcd"}  # the cell's own etcd too
    assert all(p.get("nodeSelector") == {ZONE: SEED_ZONES[cell]} for cell, p in in_cells)
    unplaced = {w["metadata"]["name"] for w, p in pods(out) if "nodeSelector" not in p}
    assert unplaced == {"example-multigres-cluster-global", "example-multigres-cluster-multiadmin"}


def test_the_global_etcd_spreads_over_the_cells_zones() -> None:
    out = render_paths(EXAMPLES / "seed")
    etcd = next(p for w, p in pods(out) if w["metadata"]["name"] == "example-multigres-cluster-global")
    (term,) = etcd["affinity"]["nodeAffinity"][REQUIRED]["nodeSelectorTerms"]
    assert term == {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["us-east-1a", "us-west-2a"]}]}
    (spread,) = etcd["topologySpreadConstraints"]
    assert (spread["topologyKey"], spread["maxSkew"], spread["whenUnsatisfiable"]) == (ZONE, 1, "DoNotSchedule")
    assert spread["labelSelector"]["matchLabels"]["multigres.com/topo-scope"] == "global"


def test_a_cluster_without_zones_spreads_etcd_over_nodes_only() -> None:
    out = render(lambda o: None)
    etcd = next(p for w, p in pods(out) if w["metadata"]["labels"]["app.kubernetes.io/component"] == "etcd")
    assert "topologySpreadConstraints" not in etcd and list(etcd["affinity"]) == ["podAntiAffinity"]


def test_a_region_cell_selects_the_region_label() -> None:
    out = render(lambda o: o["spec"]["cells"]["templates"][0].update(spec={"region": "eu-1"}))
    assert pooler(out)["nodeSelector"] == {"topology.kubernetes.io/region": "eu-1"}


def test_cluster_cell_and_pool_levels_combine_in_the_pod() -> None:
    def mutate(o: dict[str, Any]) -> None:
        o["spec"]["placement"] = {"nodeSelector": {"pool": "db"}, "tolerations": [{"key": "dedicated",
                                  "operator": "Exists"}], "priorityClassName": "low"}
        o["spec"]["cells"]["templates"][0]["spec"] = {"zone": "a", "placement": {"tolerations": [
            {"key": "zone-a", "operator": "Exists", "effect": "NoSchedule"}]}}
        pool = o["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"][0]
        pool["placement"] = {"nodeSelector": {"disk": "ssd"}, "priorityClassName": "db-critical"}
    pod = pooler(render(mutate))
    assert pod["nodeSelector"] == {"pool": "db", ZONE: "a", "disk": "ssd"}
    assert [t["key"] for t in pod["tolerations"]] == ["dedicated", "zone-a"]
    assert pod["priorityClassName"] == "db-critical"  # the most specific level wins


def test_a_template_placement_is_patched_by_the_pool_overrides() -> None:
    template = {"apiVersion": "multigres.com/v1alpha1", "kind": "MultigresDeploymentTemplate",
                "metadata": {"name": "tpl", "namespace": "default"},
                "spec": {"shardPool": {"replicas": 3, "placement": {"nodeSelector": {"disk": "hdd"},
                                                                    "antiAffinity": "required"}}}}
    obj = copy.deepcopy(BASE)
    pool = obj["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"][0]
    pool.update(multigresDeploymentTemplate="tpl", overrides={"placement": {"nodeSelector": {"disk": "ssd"}}})
    pod = pooler(run_text(resource_list(obj, template)))
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert list(pod["affinity"]["podAntiAffinity"]) == [REQUIRED]


def test_pool_replicas_prefer_distinct_nodes_by_default_and_require_them_on_request() -> None:
    default = pooler(render(lambda o: None))["affinity"]["podAntiAffinity"]
    (term,) = default[PREFERRED]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"]["multigres.com/pool-type"] == "replica"

    def required(o: dict[str, Any]) -> None:
        pool = o["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"][0]
        pool["placement"] = {"antiAffinity": "required"}
    (term,) = pooler(render(required))["affinity"]["podAntiAffinity"][REQUIRED]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["multigres.com/shard"] == "0"


def test_a_spread_constraint_without_selector_spreads_the_component_itself() -> None:
    def mutate(o: dict[str, Any]) -> None:
        spread = {"maxSkew": 1, "topologyKey": "rack", "whenUnsatisfiable": "ScheduleAnyway"}
        o["spec"]["cells"]["templates"][0]["spec"] = {"multigateway": {"spec": {"replicas": 3, "placement": {
            "topologySpreadConstraints": [spread]}}}}
    out = render(mutate)
    gateway = next(p for w, p in pods(out) if w["metadata"]["labels"]["app.kubernetes.io/component"] == "multigateway")
    (spread,) = gateway["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "multigateway"


def test_multiorch_runs_in_each_cell_of_its_pools() -> None:
    def mutate(o: dict[str, Any]) -> None:
        o["spec"]["cells"]["templates"] = [{"name": "zone1", "spec": {"zone": "a"}},
                                           {"name": "zone2", "spec": {"zone": "b"}}]
        pools = o["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"]
        pools.append({"type": "readOnly", "cell": "zone2", "replicas": 1})
    out = render(mutate)
    orchs = {w["metadata"]["labels"]["multigres.com/cell"]: p["nodeSelector"] for w, p in pods(out)
             if w["metadata"]["labels"]["app.kubernetes.io/component"] == "multiorch"}
    assert orchs == {"zone1": {ZONE: "a"}, "zone2": {ZONE: "b"}}


# ---- the combination rules, one per field ----

def test_required_node_affinity_of_two_levels_must_both_hold() -> None:
    def terms(*keys: str) -> dict[str, Any]:
        return {"affinity": {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": k, "operator": "Exists"}]} for k in keys]}}}}
    placed, problems = combine(terms("a1", "a2"), terms("b"), "top", "base")
    got = [[e["key"] for e in t["matchExpressions"]]
           for t in placed["affinity"]["nodeAffinity"][REQUIRED]["nodeSelectorTerms"]]
    assert got == [["a1", "b"], ["a2", "b"]] and problems == []


def test_pod_affinity_terms_and_preferences_are_concatenated() -> None:
    base = {"affinity": {"podAffinity": {PREFERRED: [{"weight": 1}]}}}
    top = {"affinity": {"podAffinity": {PREFERRED: [{"weight": 2}]}}}
    placed, _ = combine(base, top, "top", "base")
    assert placed["affinity"]["podAffinity"][PREFERRED] == [{"weight": 1}, {"weight": 2}]


def test_the_same_toleration_twice_is_kept_once() -> None:
    toleration = {"key": "k", "operator": "Exists"}
    placed, _ = combine({"tolerations": [toleration]}, {"tolerations": [toleration]}, "top", "base")
    assert placed["tolerations"] == [toleration]


def test_a_specific_spread_constraint_replaces_one_with_the_same_key_and_mode() -> None:
    def spread(key: str, skew: int) -> dict[str, Any]:
        return {"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule"}
    placed, _ = combine({"topologySpreadConstraints": [spread(ZONE, 1), spread("rack", 1)]},
                        {"topologySpreadConstraints": [spread(ZONE, 2)]}, "top", "base")
    assert placed["topologySpreadConstraints"] == [spread("rack", 1), spread(ZONE, 2)]


def test_contradicting_node_selectors_are_an_error_naming_both_places() -> None:
    placed, problems = combine({"nodeSelector": {ZONE: "a"}}, {"nodeSelector": {ZONE: "b"}}, "pool", "cell 'x'")
    (problem,) = problems
    assert problem.path == "pool.nodeSelector" and "cell 'x'" in problem.message
    assert placed["nodeSelector"] == {ZONE: "a"}


def test_the_registration_job_takes_the_cluster_level_and_a_new_name_with_it() -> None:
    plain = render(lambda o: None)
    toleration = {"key": "dedicated", "operator": "Exists"}
    tainted = render(lambda o: o["spec"].update(placement={"tolerations": [toleration]}))
    (job,) = objects(tainted, "Job")
    assert job["spec"]["template"]["spec"]["tolerations"] == [toleration]
    assert job["metadata"]["name"] != objects(plain, "Job")[0]["metadata"]["name"]  # a Job's pod is immutable


def test_a_cluster_spread_without_selector_spreads_each_component_and_skips_the_job() -> None:
    spread = {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"}
    out = render(lambda o: o["spec"].update(placement={"topologySpreadConstraints": [spread]}))
    (job,) = objects(out, "Job")
    assert "topologySpreadConstraints" not in job["spec"]["template"]["spec"]
    for workload, pod in pods(out):
        (own,) = pod["topologySpreadConstraints"]
        assert own["labelSelector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]
