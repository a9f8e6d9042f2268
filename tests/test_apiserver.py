"""A real Kubernetes API server accepts everything we render (issue 4).

Runs against the session fixture `apiserver` (tests/apiserver.py: etcd + kube-apiserver, skipped
without them unless REQUIRE_TOOLS=1). Objects go in through `kubectl apply --server-side`, as a
GitOps tool would apply them; the CRDs come from `multigres-krmfn crds` / `includeCrds`.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from apiserver import ApiServer, KubectlError
from helpers import EXAMPLES, objects, render_paths, resource_list, run_cli, run_text

from krmfn import yamlio

# It starts a real kube-apiserver and etcd: part of the e2e run (`make e2e`), not of a plain pytest,
# which keeps to a minute (docs/tools.md, "The two test runs"). No root needed: `pytest -m e2e <file>`.
pytestmark = pytest.mark.e2e

FIELD_MANAGER = "--field-manager=multigres-krmfn"
EXAMPLE_NAMESPACES = {"seed": "multigres", "minimal": "default"}
GROUP = "multigres.com"
RENDER_CONFIG = """\
apiVersion: fn.multigres.com/v1alpha1
kind: RenderMultigres
metadata:
  name: render
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
  includeCrds: true
"""


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in (yamlio.load(chunk) for chunk in yamlio.split_documents(text)) if d]


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def _apply(server: ApiServer, text: str, *extra: str):
    return server.kubectl("apply", "--server-side", FIELD_MANAGER, "--validate=strict", *extra, "-f", "-",
                          input=text)


def _warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Warning:")]


def _served(server: ApiServer, text: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every object of a stream as the server has it now (one `kubectl get -f`)."""
    items = json.loads(server.kubectl("get", "-f", "-", "-o", "json", input=text).stdout)["items"]
    return {_key(o): o for o in items}


@pytest.fixture(scope="module")
def render_config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("render") / "config.yaml"
    path.write_text(RENDER_CONFIG)
    return str(path)


def _render(example: str, config: str) -> str:
    """`multigres-krmfn render examples/<example>` with includeCrds: what a user applies."""
    result = run_cli("render", str(EXAMPLES / example), "--config", config)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def crds(apiserver: ApiServer) -> list[dict[str, Any]]:
    """The generated CRDs, applied and Established."""
    result = run_cli("crds")
    assert result.returncode == 0, result.stderr
    docs = _docs(result.stdout)
    applied = _apply(apiserver, result.stdout)
    assert not _warnings(applied), applied.stderr
    apiserver.kubectl("wait", "--for=condition=established", "--timeout=60s",
                      *[f"crd/{d['metadata']['name']}" for d in docs])
    return docs


def test_crds_install_and_become_established(apiserver: ApiServer, crds):
    served = _served(apiserver, "".join("---\n" + yamlio.dump(d) for d in crds))
    assert len(served) == len(crds) == 6
    for crd in served.values():
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (crd["metadata"]["name"], conditions)
        assert conditions.get("NamesAccepted") == "True", (crd["metadata"]["name"], conditions)
        assert "NonStructuralSchema" not in conditions, (crd["metadata"]["name"], crd["status"]["conditions"])
    # Discovery serves every kind under its short name.
    names = apiserver.kubectl("api-resources", f"--api-group={GROUP}", "-o", "name").stdout.split()
    assert sorted(names) == sorted(f"{d['spec']['names']['plural']}.{GROUP}" for d in crds)


def _ensure_namespace(server: ApiServer, name: str) -> None:
    _apply(server, json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))


@dataclass
class Applied:
    """One example, rendered and applied once to the session's server by the fixture below."""

    example: str
    text: str
    objects: list[dict[str, Any]]
    existing_before: set[tuple[str, str, str]]  # of the rendered objects, before anything was applied
    existing_after_dry_run: set[tuple[str, str, str]]
    dry_run: subprocess.CompletedProcess
    warnings: list[str]  # "Kind/name: Warning: ..." from the first (create-time) dry run

    def __repr__(self) -> str:
        return f"Applied({self.example!r}, {len(self.objects)} objects)"


def _existing(server: ApiServer, text: str) -> set[tuple[str, str, str]]:
    out = server.kubectl("get", "-f", "-", "--ignore-not-found", "-o", "json", input=text).stdout
    return {_key(o) for o in json.loads(out)["items"]} if out.strip() else set()


@pytest.fixture(scope="module", params=sorted(EXAMPLE_NAMESPACES))
def applied(request, apiserver: ApiServer, crds, render_config) -> Applied:
    """The example's full output, dry-run then applied for real. Warnings such as a too long name
    come only when an object is created, so they are collected here, before the first apply."""
    example = request.param
    _ensure_namespace(apiserver, EXAMPLE_NAMESPACES[example])
    text = _render(example, render_config)
    docs = _docs(text)
    before = _existing(apiserver, text)
    dry = _apply(apiserver, text, "--dry-run=server")
    after_dry = _existing(apiserver, text)
    warnings = []
    if _warnings(dry):
        # kubectl does not say which object a warning is about: ask again, one object at a time.
        for obj in docs:
            warnings += [f"{obj['kind']}/{obj['metadata']['name']}: {w}"
                         for w in _warnings(_apply(apiserver, json.dumps(obj), "--dry-run=server"))]
        warnings = warnings or _warnings(dry)
    _apply(apiserver, text)
    return Applied(example, text, docs, before, after_dry, dry, warnings)


def test_example_passes_server_dry_run_and_applies(apiserver: ApiServer, applied: Applied):
    keys = {_key(o) for o in applied.objects}
    assert {k for k in keys if k[0] == "CustomResourceDefinition"}, "includeCrds put no CRDs in the output"
    assert applied.dry_run.stdout.count("(server dry run)") == len(keys), applied.dry_run.stdout
    # The dry run persisted nothing (the CRDs were installed beforehand by the `crds` fixture).
    assert applied.existing_after_dry_run == applied.existing_before
    assert not {k for k in applied.existing_before if k[0] != "CustomResourceDefinition"}
    # The real apply created every object.
    assert set(_served(apiserver, applied.text)) == keys


def test_example_gives_no_server_warnings(applied: Applied):
    """Warnings do not fail an apply, but kubectl and Argo CD show them to every user."""
    assert not applied.warnings, "the API server warned:\n" + "\n".join(applied.warnings)


def test_rendering_and_applying_again_changes_nothing(apiserver: ApiServer, applied: Applied, render_config):
    """A PersistentVolumeClaim is rewritten once by the server on its first update after create,
    whatever its content (measured with a bare claim: versions n, n+1, n+1 over three applies), so
    claims are compared from the second apply on; everything else from the first."""
    before = {k: o["metadata"]["resourceVersion"] for k, o in _served(apiserver, applied.text).items()}
    again = _render(applied.example, render_config)
    _apply(apiserver, again)
    after = {k: o["metadata"]["resourceVersion"] for k, o in _served(apiserver, again).items()}
    assert set(after) == set(before)
    changed = sorted(k for k in before if after[k] != before[k] and k[0] != "PersistentVolumeClaim")
    assert not changed, f"re-applying the same render changed {changed}"
    _apply(apiserver, _render(applied.example, render_config))
    third = {k: o["metadata"]["resourceVersion"] for k, o in _served(apiserver, again).items()}
    changed = sorted(k for k in after if third[k] != after[k])
    assert not changed, f"applying the same render a third time changed {changed}"


def test_custom_resources_read_back_as_applied(apiserver: ApiServer, applied: Applied):
    """Nothing is pruned or defaulted by the CRD schemas: spec in == spec out, for every CR."""
    mine = [o for o in applied.objects if o["apiVersion"].startswith(GROUP + "/")]
    kinds = {o["kind"] for o in mine}
    assert {"MultigresCluster", "TopoServer", "MultiCell", "MultiTableGroup", "MultiShard"} <= kinds
    served = _served(apiserver, "".join("---\n" + yamlio.dump(o) for o in mine))
    for obj in mine:
        assert served[_key(obj)]["spec"] == obj["spec"], f"{_key(obj)} spec differs on the server"
    if applied.example == "seed":
        assert "MultigresDeploymentTemplate" in kinds
        cluster = served[("MultigresCluster", "multigres", "example-multigres-cluster")]
        assert "toposerver" in cluster["spec"]["cells"]["templates"][1]["spec"], "the toposerver alias was pruned"


# --- the CRDs' validation rules, as the server enforces them ----------------------------------

def _minimal_cluster() -> dict[str, Any]:
    obj = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
    obj["metadata"] = {"name": "invalid", "namespace": "default"}
    return obj


def _minimal_child(kind: str) -> dict[str, Any]:
    obj = copy.deepcopy(objects(render_paths(EXAMPLES / "minimal"), kind)[0])
    obj["metadata"] = {"name": "invalid", "namespace": "default"}
    return obj


def _template() -> dict[str, Any]:
    obj = yamlio.load((EXAMPLES / "seed" / "template-default-ha.yaml").read_text())
    obj["metadata"] = {"name": "invalid", "namespace": "default"}
    return obj


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """obj with `value` at a dotted path (list indexes as numbers), intermediate maps created."""
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = obj
    for part in parts[:-1]:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    node[parts[-1]] = value
    return obj


POOL = "spec.databases.templates.0.spec.tablegroups.0.shardTemplate.pools.0"
SERVER_POOL = "spec.databases.templates[0].spec.tablegroups[0].shardTemplate.pools[0]"
CELL = "spec.cells.templates.0.spec"
MANAGED = {"rootPath": "/x", "replicas": 1}
EXTERNAL = {"address": "etcd:2379"}

# (id, the invalid object (built when the test runs), what the server's error must contain)
INVALID = [
    ("templateName-with-spec",
     lambda: _set(_minimal_cluster(), "spec.multiadmin", {"templateName": "t", "spec": {"replicas": 1}}),
     ["spec.multiadmin",
      "templateName and spec are mutually exclusive; put changes to a template in overrides"]),
    ("overrides-without-templateName",
     lambda: _set(_minimal_cluster(), f"{CELL}.multigateway", {"overrides": {"replicas": 2}}),
     ["spec.cells.templates[0].spec.multigateway",
      "overrides apply on top of a template; set templateName or use spec"]),
    ("pool-type-outside-enum",
     lambda: _set(_minimal_cluster(), f"{POOL}.type", "primary"),
     [f"{SERVER_POOL}.type", 'Unsupported value: "primary"', '"replica", "readOnly"']),
    ("zero-shards",
     lambda: _set(_minimal_cluster(), "spec.databases.templates.0.spec.tablegroups.0.partitioning", {"shards": 0}),
     ["spec.databases.templates[0].spec.tablegroups[0].partitioning.shards",
      "should be greater than or equal to 1"]),
    ("negative-shards",
     lambda: _set(_minimal_cluster(), "spec.databases.templates.0.spec.tablegroups.0.partitioning", {"shards": -2}),
     ["partitioning.shards", "should be greater than or equal to 1"]),
    ("topoServer-and-toposerver",
     lambda: _set(_set(_minimal_cluster(), f"{CELL}.topoServer", {"external": EXTERNAL}),
          f"{CELL}.toposerver", {"external": EXTERNAL}),
     ["spec.cells.templates[0].spec", "topoServer and toposerver are the same field; keep only topoServer"]),
    ("global-managedSpec-and-external",
     lambda: _set(_minimal_cluster(), "spec.globalTopoServer", {"managedSpec": MANAGED, "external": EXTERNAL}),
     ["spec.globalTopoServer", "managedSpec and external are mutually exclusive"]),
    ("cell-managedSpec-and-external",
     lambda: _set(_minimal_cluster(), f"{CELL}.topoServer", {"managedSpec": MANAGED, "external": EXTERNAL}),
     ["spec.cells.templates[0].spec.topoServer", "managedSpec and external are mutually exclusive"]),
    ("unknown-field-under-spec",
     lambda: _set(_minimal_cluster(), "spec.multiAdmin", {"replicas": 1}),
     [".spec.multiAdmin", "field not declared in schema"]),
    ("bad-quantity",
     lambda: _set(_minimal_cluster(), f"{POOL}.postgres", {"resources": {"requests": {"cpu": "lots"}}}),
     [f"{SERVER_POOL}.postgres.resources.requests.cpu", '"lots"', "should match"]),
    ("pool-template-plus-inline-replicas",
     lambda: _set(_set(_minimal_cluster(), f"{POOL}.multigresDeploymentTemplate", "default-ha"), f"{POOL}.replicas", 3),
     [SERVER_POOL, "a pool takes either multigresDeploymentTemplate (plus overrides) or inline fields"]),
    ("negative-pool-replicas",
     lambda: _set(_minimal_cluster(), f"{POOL}.replicas", -1),
     [f"{SERVER_POOL}.replicas", "should be greater than or equal to 0"]),
    ("pool-without-cell",
     lambda: _set(_minimal_cluster(), POOL, {"type": "replica"}),
     [f"{SERVER_POOL}.cell", "Required value"]),
    ("template-negative-replicas",
     lambda: _set(_template(), "spec.multigateway", {"replicas": -1}),
     ["spec.multigateway.replicas", "should be greater than or equal to 0"]),
    ("template-bad-quantity",
     lambda: _set(_template(), "spec.shardPool.dataVolumeClaimTemplate.resources.requests.storage", "100 GB"),
     ["spec.shardPool.dataVolumeClaimTemplate.resources.requests.storage", "should match"]),
    ("cell-zone-and-region",
     lambda: _set(_set(_minimal_cluster(), f"{CELL}.zone", "a"), f"{CELL}.region", "r"),
     ["spec.cells.templates[0].spec", "a cell is a zone or a region: set zone or region, not both"]),
    ("pool-template-plus-inline-placement",
     lambda: _set(_set(_minimal_cluster(), f"{POOL}.multigresDeploymentTemplate", "default-ha"), f"{POOL}.placement",
                  {"antiAffinity": "required"}),
     [SERVER_POOL, "a pool takes either multigresDeploymentTemplate (plus overrides) or inline fields"]),
    ("toleration-effect-outside-enum",
     lambda: _set(_minimal_cluster(), "spec.placement", {"tolerations": [{"key": "k", "effect": "Sometimes"}]}),
     ["spec.placement.tolerations[0].effect", 'Unsupported value: "Sometimes"']),
    ("multicell-two-topo-sources",
     lambda: _set(_minimal_child("MultiCell"), "spec.topoServer.external", EXTERNAL),
     ["spec.topoServer", "exactly one of global, external, managedSpec"]),
]


@pytest.mark.parametrize(("build", "expected"), [(b, e) for _, b, e in INVALID], ids=[i for i, _, _ in INVALID])
def test_server_rejects_invalid_objects_with_our_message(apiserver: ApiServer, crds, build, expected):
    with pytest.raises(KubectlError) as err:
        _apply(apiserver, json.dumps(build()), "--dry-run=server")
    message = err.value.stderr
    for text in expected:
        assert text in message, f"{text!r} not in the server's error:\n{message}"


def test_valid_bases_of_the_invalid_cases_are_accepted(apiserver: ApiServer, crds):
    """The cases above fail for their one change, not for something in the base object."""
    for obj in (_minimal_cluster(), _minimal_child("MultiCell"), _template()):
        _apply(apiserver, json.dumps(obj), "--dry-run=server")


def test_startup_time_and_peak_memory(apiserver: ApiServer):
    """Recorded for the report (visible with -s); the bounds only catch a runaway."""
    peak = apiserver.peak_rss_kib_now()
    print(f"\napiserver {apiserver.version}: ready in {apiserver.startup_seconds:.1f}s; peak RSS so far "
          + ", ".join(f"{name} {kib / 1024:.0f} MiB" for name, kib in sorted(peak.items())), file=sys.stderr)
    assert apiserver.startup_seconds is not None and apiserver.startup_seconds < 60
    assert peak["kube-apiserver"] < 1536 * 1024 and peak["etcd"] < 512 * 1024


# --- placement: what the render writes into pod specs and budgets, as the server takes it --------

ZONE = "topology.kubernetes.io/zone"


def _placed_cluster() -> dict[str, Any]:
    """The minimal cluster with every placement field at every level, two zoned cells and a
    region cell, and a shard whose budget is 0 (two pods, AT_LEAST_2)."""
    node_term = {"matchExpressions": [{"key": "node-pool", "operator": "In", "values": ["db", "any"]}]}
    obj = _minimal_cluster()
    obj["metadata"]["name"] = "placed"
    obj["spec"]["placement"] = {
        "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [node_term]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": node_term}]}},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "multigres", "effect": "NoSchedule"}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"}],
        "priorityClassName": "multigres"}
    obj["spec"]["cells"]["templates"] = [
        {"name": "zone1", "spec": {"zone": "a", "placement": {"tolerations": [
            {"key": "zone-a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]}}},
        {"name": "zone2", "spec": {"zone": "b"}},
        {"name": "zone3", "spec": {"region": "r", "placement": {"nodeSelector": {"disk": "ssd"}}}}]
    pools = obj["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"]
    pools[0]["placement"] = {"antiAffinity": "required", "priorityClassName": "database"}
    pools.append({"type": "readOnly", "cell": "zone2", "replicas": 1})
    return obj


def test_placement_and_budgets_pass_server_dry_run_without_warnings(apiserver: ApiServer, crds):
    result = _rendered(_placed_cluster())
    docs = [o for o in result if o["kind"] != "Secret"]
    kinds = {o["kind"] for o in docs}
    assert {"StatefulSet", "Deployment", "PodDisruptionBudget"} <= kinds
    text = "".join("---\n" + yamlio.dump(o) for o in docs)
    dry = _apply(apiserver, text, "--dry-run=server")
    assert dry.stdout.count("(server dry run)") == len(docs), dry.stdout
    assert not _warnings(dry), dry.stderr
    pooler = next(o for o in docs if o["kind"] == "StatefulSet"
                  and o["metadata"]["labels"]["app.kubernetes.io/component"] == "multipooler")
    pod = pooler["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {ZONE: "a"} and pod["priorityClassName"] == "database"
    assert "requiredDuringSchedulingIgnoredDuringExecution" in pod["affinity"]["podAntiAffinity"]


def _rendered(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """The generated objects of one cluster's render, with no error."""
    out = run_text(resource_list(cluster))
    assert not [r for r in out.results if r.severity == "error"], [r.describe() for r in out.results]
    return objects(out)
