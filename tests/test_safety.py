"""Hostile and careless input (issue 13): bounded, faithful, never silent, never a traceback.

Every case asserts the exit code, the severity, the field path and a fragment of the message of
one result. Limits are asserted by outcome (the error result naming the limit), never by timing.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLES, ROOT, resource_list

from krmfn import limits, yamlio
from krmfn.cli import function_mode, unreadable_input

BASE = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
DB = "spec.databases.templates[0].spec"
TG = f"{DB}.tablegroups[0]"
POOL = f"{TG}.shardTemplate.pools[0]"
TEMPLATE = {
    "apiVersion": "multigres.com/v1alpha1", "kind": "MultigresDeploymentTemplate",
    "metadata": {"name": "tpl", "namespace": "default"},
    "spec": {"shardPool": {"replicas": 3}, "multigateway": {"replicas": 2}, "multiorch": {"replicas": 1}},
}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "minimal-postgres-password",
                                                              "namespace": "default"},
          "stringData": {"password": "x"}}


def run_fn(stdin: str | bytes) -> tuple[int, list[dict[str, Any]], str]:
    """Function mode in-process, as `main` runs it: bytes are decoded (and refused) like stdin."""
    if isinstance(stdin, bytes):
        try:
            text = yamlio.decode(stdin, "stdin")
        except ValueError as exc:
            out, code, _ = unreadable_input(str(exc))
            return code, yamlio.load(out).get("results") or [], out
        stdin = text
    out, code, _ = function_mode(stdin)
    return code, yamlio.load(out).get("results") or [], out


def find(results: list[dict[str, Any]], severity: str, path: str, fragment: str) -> dict[str, Any]:
    for r in results:
        if r["severity"] == severity and r.get("field", {}).get("path", "") == path and fragment in r["message"]:
            return r
    pytest.fail(f"no {severity} at {path!r} containing {fragment!r}; got:\n" + "\n".join(
        f"{r['severity']} {r.get('field', {}).get('path', '')!r}: {r['message']}" for r in results))


def cluster(mutate: Callable[[dict[str, Any]], Any] = lambda o: None) -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    mutate(obj)
    return obj


def spec(o):
    return o["spec"]


def tg(o):
    return o["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]


def pool(o):
    return tg(o)["shardTemplate"]["pools"][0]


def rl(*objs: dict[str, Any], fc: dict[str, Any] | None = None) -> str:
    return resource_list(*objs, function_config=fc)


def lol(depth: int = 9, where: str = "name") -> str:
    """A billion-laughs ResourceList under 1 KB whose expansion reaches `where`."""
    lines = ["x: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, depth + 1)]
    anchors = "\n".join("  " + line for line in lines)
    return (f"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n"
            f"  kind: ConfigMap\n  metadata:\n    name: fc\n  bombs:\n{anchors}\n"
            f"items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    {where}: *a{depth}\n")


def shards_pools(shards: int, pools: int) -> Callable[[dict[str, Any]], Any]:
    def mutate(o):
        tg(o)["partitioning"] = {"shards": shards}
        spec(o)["cells"]["templates"] = [{"name": f"c{i}"} for i in range(pools)]
        tg(o)["shardTemplate"]["pools"] = [{"type": "replica", "cell": "c0"}] + [
            {"type": "readOnly", "cell": f"c{i}"} for i in range(1, pools)]
    return mutate


def many_cells(n: int) -> Callable[[dict[str, Any]], Any]:
    return lambda o: spec(o)["cells"].update(templates=[{"name": f"c{i}"} for i in range(n)])


FC_CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fc"}}
FC_RM = {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres", "metadata": {"name": "fc"}}


# (id, stdin, severity, field path, fragment); every one of these exits 1.
CASES: list[tuple[str, Callable[[], str | bytes], str, str, str]] = [
    # ---- hangs and memory ----
    ("billion-laughs-name", lambda: lol(), "error", "<input>", "MAX_YAML_NODES"),
    ("billion-laughs-namespace", lambda: lol(where="namespace"), "error", "<input>", "MAX_YAML_NODES"),
    ("billion-laughs-under-1kb", lambda: lol() if len(lol()) < 1024 else "too big", "error", "<input>",
     "exceeds a safety limit"),
    ("recursive-alias", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: &x [*x]\n",
     "error", "<input>", "recursive"),
    ("deep-nesting", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nx: " + "[" * 150
     + "]" * 150 + "\n", "error", "<input>", "MAX_YAML_DEPTH"),
    ("shards-65536", lambda: rl(cluster(lambda o: tg(o).update(partitioning={"shards": 65536}))),
     "error", f"{TG}.partitioning.shards", "at most 4096"),
    ("shards-1e18", lambda: rl(cluster(lambda o: tg(o).update(partitioning={"shards": 10**18}))),
     "error", f"{TG}.partitioning.shards", "at most 4096"),
    ("etcd-replicas-1e9", lambda: rl(cluster(lambda o: spec(o).update(globalTopoServer={
        "managedSpec": {"replicas": 10**9}}))), "error", "spec.globalTopoServer.managedSpec.replicas",
     "MAX_ETCD_REPLICAS"),
    ("etcd-replicas-above-int32", lambda: rl(cluster(lambda o: spec(o).update(globalTopoServer={
        "managedSpec": {"replicas": 2**31}}))), "error", "spec.globalTopoServer.managedSpec.replicas",
     "at most 2147483647"),
    ("pool-replicas-above-int32", lambda: rl(cluster(lambda o: pool(o).update(replicas=2**40))),
     "error", f"{POOL}.replicas", "at most 2147483647"),
    ("pool-replicas-above-max", lambda: rl(cluster(lambda o: pool(o).update(replicas=1000))),
     "error", "spec.shardTemplate.pools[0].replicas", "MAX_POOL_REPLICAS"),
    ("template-gateway-replicas-above-max", lambda: rl(
        cluster(lambda o: spec(o)["cells"]["templates"][0].update(spec={"multigateway": {"templateName": "tpl"}})),
        {**TEMPLATE, "spec": {"multigateway": {"replicas": 100000}}}),
     "error", "spec.multiGateway.replicas", "MAX_COMPONENT_REPLICAS"),
    ("inline-component-above-int32", lambda: rl(cluster(lambda o: spec(o).update(multiadmin={
        "spec": {"replicas": 2**31}}))), "error", "spec.multiadmin.spec.replicas", "at most 2147483647"),
    ("shards-times-pools", lambda: rl(cluster(shards_pools(100, 20))), "error", "spec.databases.templates",
     "MAX_SHARD_POOLS"),
    ("pools-per-table-group", lambda: rl(cluster(shards_pools(1, 40))), "error",
     f"{TG}.shardTemplate.pools", "MAX_POOLS_PER_TABLE_GROUP"),
    ("too-many-cells", lambda: rl(cluster(many_cells(65))), "error", "spec.cells.templates", "MAX_CELLS"),
    ("too-many-databases", lambda: rl(cluster(lambda o: spec(o)["databases"].update(templates=[
        {"name": f"d{i}"} for i in range(65)]))), "error", "spec.databases.templates", "MAX_DATABASES"),
    # ---- tracebacks become results ----
    ("non-utf8-stdin", lambda: b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- name: \xff\n",
     "error", "<input>", "not valid UTF-8 (byte 0xff at line 4"),
    ("configmap-data-list", lambda: rl(cluster(), fc={**FC_CM, "data": ["emit", "all"]}), "error", "data",
     "not a mapping"),
    ("namespace-list", lambda: rl({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "x", "namespace": ["a", "b"]}}), "error", "items[0].metadata.namespace", "not a string"),
    ("overrides-null-required", lambda: rl(cluster(lambda o: pool(o).update(
        multigresDeploymentTemplate="tpl", overrides={"replicas": None})), TEMPLATE),
     "error", f"{POOL}.overrides.replicas", "null in overrides deletes a field"),
    ("overrides-null-volume", lambda: rl(cluster(lambda o: pool(o).update(
        multigresDeploymentTemplate="tpl", overrides={"dataVolumeClaimTemplate": None})), TEMPLATE),
     "error", f"{POOL}.overrides.dataVolumeClaimTemplate", "is missing"),
    ("secret-stringdata-list", lambda: rl(cluster(), {**SECRET, "stringData": ["a", "b"]}),
     "error", "items[1].stringData", "not a mapping"),
    ("secret-data-string", lambda: rl({**SECRET, "data": "abc", "stringData": None}),
     "error", "items[0].data", "not a mapping"),
    # ---- accepted although invalid ----
    ("empty-image", lambda: rl(cluster(lambda o: spec(o).update(images={"multiorch": ""}))),
     "error", "spec.images.multiorch", "is empty"),
    ("whitespace-image", lambda: rl(cluster(lambda o: spec(o).update(images={"multiorch": "   "}))),
     "error", "spec.images.multiorch", "is empty"),
    ("image-with-space", lambda: rl(cluster(lambda o: spec(o).update(images={"multipooler": "a/b:1 --x"}))),
     "error", "spec.images.multipooler", "whitespace"),
    ("image-with-newline", lambda: rl(cluster(lambda o: spec(o).update(images={"postgres": "a/b:1\nc"}))),
     "error", "spec.images.postgres", "whitespace"),
    ("image-upper-case", lambda: rl(cluster(lambda o: spec(o).update(images={"multiadmin": "Ghcr/Multi:1"}))),
     "error", "spec.images.multiadmin", "not a valid image reference"),
    ("etcd-image-invalid", lambda: rl(cluster(lambda o: spec(o).update(globalTopoServer={
        "managedSpec": {"image": "etcd: 3"}}))), "error", "spec.globalTopoServer.managedSpec.image", "whitespace"),
    ("password-secret-name", lambda: rl(cluster(lambda o: spec(o).update(postgresPasswordSecret="My_Secret"))),
     "error", "spec.postgresPasswordSecret", "not a valid Kubernetes name"),
    ("pull-secret-name", lambda: rl(cluster(lambda o: spec(o).update(imagePullSecrets=[{"name": "Bad Name"}]))),
     "error", "spec.imagePullSecrets[0].name", "not a valid Secret name"),
    ("table-group-label-value", lambda: rl(cluster(lambda o: tg(o).update(name="bad name!"))),
     "error", f"{TG}.name", "not a valid label value"),
    ("storage-class-name", lambda: rl(cluster(lambda o: pool(o).update(dataVolumeClaimTemplate={
        "storageClassName": "Fast SSD"}))), "error",
     "spec.shardTemplate.pools[0].dataVolumeClaimTemplate.storageClassName", "not a valid StorageClass name"),
    ("negative-storage", lambda: rl(cluster(lambda o: pool(o).update(dataVolumeClaimTemplate={
        "resources": {"requests": {"storage": "-10Gi"}}}))), "error",
     f"{POOL}.dataVolumeClaimTemplate.resources.requests.storage", "negative"),
    ("negative-cpu", lambda: rl(cluster(lambda o: pool(o).update(postgres={
        "resources": {"limits": {"cpu": -1}}}))), "error", f"{POOL}.postgres.resources.limits.cpu", "negative"),
    ("cluster-domain-space", lambda: rl(cluster(), fc={**FC_RM, "spec": {"clusterDomain": "cluster local"}}),
     "error", "spec.clusterDomain", "not a DNS domain"),
    ("cluster-domain-configmap", lambda: rl(cluster(), fc={**FC_CM, "data": {"clusterDomain": "a b"}}),
     "error", "data.clusterDomain", "not a DNS domain"),
    ("topo-address-space", lambda: rl(cluster(lambda o: spec(o).update(globalTopoServer={
        "external": {"address": "etcd:2379 --evil"}}))), "error", "spec.globalTopoServer.external.address",
     "whitespace"),
    ("cell-topo-address-invalid", lambda: rl(cluster(lambda o: spec(o)["cells"]["templates"][0].update(spec={
        "topoServer": {"external": {"address": "etcd:port"}}}))), "error",
     "spec.cells.templates[0].spec.topoServer.external.address", "not host:port"),
    ("two-templates-one-name", lambda: rl(cluster(), TEMPLATE, {**TEMPLATE, "spec": {}}), "error",
     "metadata.name", "appears twice"),
    ("duplicate-key-in-item", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
     "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    name: b\n", "error", "<input>",
     "duplicate key 'name'"),
    ("second-items-key", lambda: rl(cluster()) + "items: []\n", "error", "<input>", "duplicate key 'items'"),
    ("items-map", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: {a: 1}\n",
     "error", "items", "is a mapping, not a list"),
    ("items-string", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: abc\n",
     "error", "items", "is a string, not a list"),
    ("items-zero", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: 0\n",
     "error", "items", "is a number, not a list"),
    ("function-config-list", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
     "functionConfig: [a, b]\nitems: []\n", "error", "functionConfig", "not an object"),
    ("include-crds-maybe-configmap", lambda: rl(cluster(), fc={**FC_CM, "data": {"includeCrds": "maybe"}}),
     "error", "data.includeCrds", "write \"true\" or \"false\""),
    ("include-crds-maybe-typed", lambda: rl(cluster(), fc={**FC_RM, "spec": {"includeCrds": "maybe"}}),
     "error", "spec.includeCrds", "true or false"),
    ("resource-list-api-version", lambda: "apiVersion: v2\nkind: ResourceList\nitems: []\n", "error",
     "apiVersion", "config.kubernetes.io/v1"),
    ("resource-list-no-api-version", lambda: "kind: ResourceList\nitems: []\n", "error", "apiVersion",
     "must have apiVersion"),
    ("integer-metadata-name", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
     "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: 123\n", "error", "items[0].metadata.name",
     "not a string"),
    ("labels-not-strings", lambda: rl({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "a", "labels": {"x": 1}}}), "error", "items[0].metadata.labels", "strings to strings"),
    ("cluster-namespace-invalid", lambda: rl(cluster(lambda o: o["metadata"].update(namespace="Bad_NS"))),
     "error", "metadata.namespace", "not a valid namespace name"),
    ("unknown-function-config-kind", lambda: rl(cluster(), fc={"apiVersion": "v1", "kind": "Secret",
                                                               "metadata": {"name": "x"}}),
     "error", "kind", "not understood"),
    ("huge-name-message-is-bounded", lambda: rl(cluster(lambda o: o["metadata"].update(name="a" * 100000))),
     "error", "metadata.name", "characters cut]"),
    ("item-null", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- null\n",
     "error", "items[0]", "is a null, not an object"),
    ("function-config-no-kind", lambda: rl(cluster(), fc={"apiVersion": "v1", "metadata": {"name": "x"}}),
     "error", "kind", "not understood"),
    ("previous-sts-selector-changed", lambda: rl(cluster(), SECRET, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {
            "name": "minimal-global", "namespace": "default",
            "labels": {"app.kubernetes.io/managed-by": "multigres-krmfn"},
            "annotations": {"multigres.com/generated-from": "default/minimal"}},
        "spec": {"volumeClaimTemplates": "x"}}),
     "error", "spec.selector", "Kubernetes refuses to change it"),
    ("root-path-relative", lambda: rl(cluster(lambda o: spec(o).update(globalTopoServer={
        "rootPath": "multigres global"}))), "error", "spec.globalTopoServer.rootPath", "must be an absolute path"),
    ("backup-location-space", lambda: rl(cluster(lambda o: o["spec"]["databases"]["templates"][0]["spec"].update(
        backupLocation="/a b"))), "error", f"{DB}.backupLocation", "without whitespace"),
    ("resource-name-invalid", lambda: rl(cluster(lambda o: pool(o).update(postgres={
        "resources": {"requests": {"cpu ": "1"}}}))), "error", "spec.shardTemplate.pools[0].postgres.resources"
     ".requests.cpu ", "resource name 'cpu ' is not valid"),
    # ---- faithful pass-through ----
    ("anchor-in-function-config", lambda: "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
     "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: fc\n  data:\n    x: &v hello\n"
     "items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n  data:\n    y: *v\n",
     "error", "items[0]", "written outside this item"),
    # ---- ownership ----
    ("user-object-named-like-generated", lambda: rl(cluster(), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "minimal-multiadmin", "namespace": "default"},
        "spec": {"ports": [{"port": 1}]}}), "error", "metadata.name", "also generated by this function"),
]


@pytest.mark.parametrize(("stdin", "severity", "path", "fragment"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_hostile_input(stdin, severity, path, fragment):
    code, results, out = run_fn(stdin())
    assert code == 1
    find(results, severity, path, fragment)
    yamlio.load(out)  # the answer is itself a readable ResourceList


def test_billion_laughs_is_under_1kb_and_does_not_expand():
    text = lol()
    assert len(text.encode()) < 1024
    code, results, _ = run_fn(text)
    assert code == 1
    find(results, "error", "<input>", f"more than {limits.MAX_YAML_NODES:,} YAML nodes")


def test_input_size_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 100)
    code, results, _ = run_fn(rl(cluster()).encode())
    assert code == 1
    find(results, "error", "<input>", "limit MAX_INPUT_BYTES")


def test_total_output_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_OUTPUT_OBJECTS", 10)
    code, results, out = run_fn(rl(cluster()))
    assert code == 1
    find(results, "error", "spec", "MAX_OUTPUT_OBJECTS")
    assert "kind: StatefulSet" not in out


def test_limits_at_the_bound_are_accepted():
    code, results, _ = run_fn(rl(cluster(shards_pools(limits.MAX_SHARDS, 8)), SECRET))
    assert not [r for r in results if r["severity"] == "error"], results
    assert code == 0


# ---- ownership: only what we provably generated is replaced or dropped ----

def _previous(kind: str, name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1" if kind == "StatefulSet" else "v1", "kind": kind,
            "metadata": {"name": name, "namespace": "default", **meta}}


OURS = {"labels": {"app.kubernetes.io/managed-by": "multigres-krmfn"},
        "annotations": {"multigres.com/generated-from": "default/minimal"}}


def test_password_secret_with_generated_from_survives():
    secret = copy.deepcopy(SECRET)
    secret["metadata"].update(copy.deepcopy(OURS))
    code, results, out = run_fn(rl(cluster(), secret))
    assert code == 0
    assert "name: minimal-postgres-password" in out
    assert not [r for r in results if "no longer generated" in r["message"]]


def test_object_with_annotation_but_not_our_labels_is_kept():
    obj = _previous("StatefulSet", "old-thing", annotations={"multigres.com/generated-from": "default/minimal"})
    code, results, out = run_fn(rl(cluster(), SECRET, obj))
    assert code == 0
    assert "name: old-thing" in out


def test_previous_output_no_longer_generated_is_dropped_with_info():
    obj = _previous("StatefulSet", "minimal-old-pool", **copy.deepcopy(OURS))
    code, results, out = run_fn(rl(cluster(), SECRET, obj))
    assert code == 0
    r = find(results, "info", "metadata.name", "no longer generated")
    assert r["resourceRef"]["name"] == "minimal-old-pool"
    assert "minimal-old-pool" not in out.split("results:")[0]


def test_user_object_named_like_generated_appears_once():
    user = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "minimal-multiadmin",
                                                                  "namespace": "default"}}
    code, results, out = run_fn(rl(cluster(), SECRET, user))
    assert code == 1
    find(results, "error", "metadata.name", "is kept and the generated one is not written")
    body = yamlio.load(out)
    same = [i for i in body["items"] if i["kind"] == "Service" and i["metadata"]["name"] == "minimal-multiadmin"]
    assert same == [user]


def test_same_cluster_name_in_two_namespaces_gets_two_paths():
    other = cluster(lambda o: o["metadata"].update(namespace="other"))
    code, results, out = run_fn(rl(cluster(), other, SECRET))
    assert code == 0
    body = yamlio.load(out)
    paths = [i["metadata"]["annotations"]["internal.config.kubernetes.io/path"] for i in body["items"]
             if "multigres.com/generated-from" in (i["metadata"].get("annotations") or {})]
    assert len(paths) == len(set(paths))
    assert any(p.startswith("generated/other/minimal/") for p in paths)


def test_include_crds_second_render_is_idempotent():
    fc = {**FC_RM, "spec": {"includeCrds": True}}
    first_code, _, first = run_fn(rl(cluster(), SECRET, fc=fc))
    assert first_code == 0
    body = yamlio.load(first)
    second_code, results, second = run_fn(rl(*body["items"], fc=fc))
    assert second_code == 0, results
    kinds = [(i["kind"], i["metadata"]["name"]) for i in yamlio.load(second)["items"]]
    assert len(kinds) == len(set(kinds))
    assert sum(1 for k in kinds if k[0] == "CustomResourceDefinition") == 6


def test_anchor_in_dropped_previous_output_is_an_error_not_an_undefined_alias():
    text = ("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
            "- apiVersion: apps/v1\n  kind: StatefulSet\n  metadata:\n    name: old\n    namespace: default\n"
            "    labels: {app.kubernetes.io/managed-by: multigres-krmfn}\n"
            "    annotations: {multigres.com/generated-from: default/minimal}\n  spec: &s {replicas: 1}\n"
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: user\n  data: *s\n")
    code, results, out = run_fn(text)
    assert code == 1
    find(results, "error", "items[1]", "written outside this item")
    assert "*s" not in out


# ---- byte-faithful pass-through ----

TRICKY_FLOW = ('{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [\n'
               '  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json"},\n'
               '   "data": {"a": "1"}},\n'
               '  {apiVersion: v1, kind: X, metadata: {name: tricky}, f: .inf, n: {null: 1, 1: a, true: b},\n'
               '   bin: !!binary aGVsbG8=, s: !!set {b, a, c}}]}\n')


def test_flow_style_items_stay_byte_faithful():
    code, results, out = run_fn(TRICKY_FLOW)
    assert code == 0, results
    assert '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json"},' in out
    assert "f: .inf, n: {null: 1, 1: a, true: b}" in out
    assert "bin: !!binary aGVsbG8=, s: !!set {b, a, c}}" in out
    again_code, _, again = run_fn(out)
    assert again_code == 0 and again == out


def test_bom_does_not_shift_spans_or_lose_the_last_line():
    text = rl({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"last": "line"}})
    code, results, out = run_fn(("\ufeff" + text).encode())
    assert code == 0, results
    assert "    last: line\n" in out or "  last: line\n" in out
    assert out == run_fn(text)[2]


TRICKY_DOC = ("apiVersion: v1\nkind: X\nmetadata:\n  name: tricky\nf: .inf\nn:\n  null: 1\n  1: a\n  true: b\n"
              "bin: !!binary aGVsbG8=\ns: !!set {b, a, c}\n")


def test_argocd_step_keeps_pass_through_bytes(tmp_path: Path):
    from krmfn.plugins import argocd_generate

    (tmp_path / "x.yaml").write_text(TRICKY_DOC)
    text, results = argocd_generate(str(tmp_path), {})
    assert not [r for r in results if r.severity == "error"]
    assert text == TRICKY_DOC


def test_kustomize_legacy_keeps_pass_through_bytes():
    from krmfn.plugins import kustomize_legacy

    text, results = kustomize_legacy("apiVersion: fn.multigres.com/v1alpha1\nkind: RenderMultigres\n"
                                     "metadata: {name: x}\n", TRICKY_DOC)
    assert not results
    assert text == TRICKY_DOC


# ---- front ends: results, not tracebacks; messages point at the source ----

def _cli(*args: str, stdin: bytes = b"", cwd: Path = ROOT, module: str = "krmfn") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], input=stdin, capture_output=True, cwd=cwd)


def test_function_mode_non_utf8_stdin_subprocess():
    proc = _cli(stdin=b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n# \xfe\n")
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
    body = yamlio.load(proc.stdout.decode())
    find(body["results"], "error", "<input>", "not valid UTF-8")


def test_render_config_invalid_yaml(tmp_path: Path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("apiVersion: fn.multigres.com/v1alpha1\nkind: RenderMultigres\nspec: [\n")
    proc = _cli("render", str(EXAMPLES / "minimal"), "--config", str(cfg))
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert f"{cfg}:4:1: ERROR: <input>: document 0 of {cfg} is not valid YAML" in err


def test_render_config_bad_option_points_at_config(tmp_path: Path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("apiVersion: fn.multigres.com/v1alpha1\nkind: RenderMultigres\nmetadata: {name: x}\n"
                   "spec: {includeCrds: maybe}\n")
    proc = _cli("render", str(EXAMPLES / "minimal"), "--config", str(cfg))
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert f"{cfg}: ERROR: RenderMultigres/x spec.includeCrds: expected true or false" in err


def test_render_non_utf8_file(tmp_path: Path):
    (tmp_path / "bad.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xc3\x28\n")
    proc = _cli("render", str(tmp_path))
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert "bad.yaml: ERROR: <input>: " in err and "is not valid UTF-8 (byte 0xc3 at line 4, column 9)" in err


def test_render_error_has_file_line_column(tmp_path: Path):
    text = (EXAMPLES / "minimal" / "cluster.yaml").read_text().replace("cell: zone1", "cell: zone9")
    (tmp_path / "cluster.yaml").write_text(text)
    proc = _cli("render", str(tmp_path))
    assert proc.returncode == 1
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "cell: zone9" in ln)
    column = text.splitlines()[line - 1].index("zone9") + 1
    err = proc.stderr.decode()
    assert f"cluster.yaml:{line}:{column}: ERROR: default/MultigresCluster/minimal {POOL}.cell: pool cell " \
           "'zone9' is not declared" in err


def test_render_yaml_error_has_file_line(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                                     "apiVersion: v1\nkind: [\n")
    proc = _cli("render", str(tmp_path))
    assert proc.returncode == 1
    assert "a.yaml:7:1: ERROR: <input>: document 1 of a.yaml is not valid YAML" in proc.stderr.decode()


def test_kpt_results_carry_the_file():
    obj = cluster(lambda o: pool(o).update(cell="zone9"))
    obj["metadata"]["annotations"] = {"internal.config.kubernetes.io/path": "pkg/cluster.yaml"}
    code, results, _ = run_fn(rl(obj))
    assert code == 1
    r = find(results, "error", f"{POOL}.cell", "not declared")
    assert r["file"] == {"path": "pkg/cluster.yaml"}


def test_kustomize_legacy_missing_config():
    proc = _cli("kustomize-legacy", "/nonexistent/config.yaml", module="krmfn.plugins")
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert "/nonexistent/config.yaml: ERROR: <input>: No such file or directory." in err


def test_argocd_non_utf8_file_is_named_and_short(tmp_path: Path):
    (tmp_path / "huge.yaml").write_bytes(b"a: " + b"x" * 100_000 + b"\xff\n")
    proc = _cli("argocd-generate", cwd=tmp_path, module="krmfn.plugins")
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert proc.stdout == b""
    assert "huge.yaml" in err and "not valid UTF-8" in err and "Traceback" not in err
    assert len(err) < 1000


# ---- previous-render safety (the earlier output arrives as input, as under kpt) ----

def _render_items(*objs: dict[str, Any], fc: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    code, results, out = run_fn(rl(*objs, fc=fc))
    assert code == 0, results
    return yamlio.load(out)["items"]


def _rerender(previous: list[dict[str, Any]], *objs: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    earlier = [i for i in previous if "multigres.com/generated-from" in (i["metadata"].get("annotations") or {})]
    code, results, _ = run_fn(rl(*objs, *earlier))
    return code, results


def _storage(size: str) -> Callable[[dict[str, Any]], Any]:
    return lambda o: pool(o).update(dataVolumeClaimTemplate={"resources": {"requests": {"storage": size}}})


PREVIOUS_CASES = [
    ("storage-growth", _storage("20Gi"), 1, "error", "spec.volumeClaimTemplates[0].spec.resources.requests.storage",
     "--cascade=orphan"),
    ("storage-growth-names-pvcs", _storage("20Gi"), 1, "error",
     "spec.volumeClaimTemplates[0].spec.resources.requests.storage", "data-minimal-postgres-default-0-replica-zone1-2"),
    ("storage-shrink", _storage("5Gi"), 1, "error", "spec.volumeClaimTemplates[0].spec.resources.requests.storage",
     "cannot shrink"),
    ("storage-class-change", lambda o: pool(o).update(dataVolumeClaimTemplate={"storageClassName": "fast"}), 1,
     "error", "spec.volumeClaimTemplates[0]", "volumeClaimTemplates are immutable"),
    ("etcd-member-count", lambda o: spec(o).update(globalTopoServer={"managedSpec": {"replicas": 5}}), 0,
     "warning", "spec.replicas", "etcdctl member add"),
    ("other-change-carries-patch", lambda o: spec(o).update(multiadmin={"spec": {"replicas": 2}}), 0, "info",
     "spec.replicas", '"op": "replace"'),
]


@pytest.mark.parametrize(("mutate", "code", "severity", "path", "fragment"),
                         [pytest.param(*c[1:], id=c[0]) for c in PREVIOUS_CASES])
def test_previous_render_safety(mutate, code, severity, path, fragment):
    before = _render_items(cluster(), SECRET)
    got_code, results = _rerender(before, cluster(mutate), SECRET)
    assert got_code == code, results
    find(results, severity, path, fragment)


def test_removed_pool_warns_about_retained_pvcs():
    two = cluster(lambda o: (spec(o)["cells"]["templates"].append({"name": "zone2"}),
                             tg(o)["shardTemplate"]["pools"].append({"type": "readOnly", "cell": "zone2",
                                                                     "replicas": 2})))
    before = _render_items(two, SECRET)
    code, results = _rerender(before, cluster(), SECRET)
    assert code == 0
    r = find(results, "warning", "metadata.name", "data-minimal-postgres-default-0-readonly-zone2-1")
    assert r["resourceRef"]["kind"] == "StatefulSet"


def test_unchanged_rerender_reports_no_changes():
    before = _render_items(cluster(), SECRET)
    code, results = _rerender(before, cluster(), SECRET)
    assert code == 0
    assert not [r for r in results if "changes" in r["message"] or r["severity"] == "error"]


def test_render_previous_dir(tmp_path: Path):
    first = _cli("render", str(EXAMPLES / "minimal"))
    (tmp_path / "prev.yaml").write_bytes(first.stdout.replace(b"storage: 10Gi", b"storage: 20Gi"))
    proc = _cli("render", str(EXAMPLES / "minimal"), "--previous", str(tmp_path))
    assert proc.returncode == 1
    assert "StatefulSet/minimal-global spec.volumeClaimTemplates[0].spec.resources.requests.storage: " \
           "StatefulSet 'minimal-global': volume 'data' shrinks" in proc.stderr.decode()


def test_removed_shard_warns_and_says_it_was_removed():
    before = _render_items(cluster(lambda o: tg(o).update(partitioning={"shards": 2})), SECRET)
    code, results = _rerender(before, cluster(lambda o: tg(o).update(partitioning={"shards": 1})), SECRET)
    assert code == 0
    find(results, "warning", "metadata.name", "data-minimal-postgres-default-1-replica-zone1-0")
    find(results, "info", "metadata.name", "no longer generated and was removed")


def test_result_on_generated_child_carries_the_cluster_file(tmp_path: Path):
    text = (EXAMPLES / "minimal" / "cluster.yaml").read_text().replace(
        "cell: zone1", "cell: zone1\n                    dataVolumeClaimTemplate: {storageClassName: Fast_SSD}")
    (tmp_path / "cluster.yaml").write_text(text)
    proc = _cli("render", str(tmp_path))
    assert proc.returncode == 1
    err = proc.stderr.decode()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "Fast_SSD" in t)  # the cluster field's line
    assert f"cluster.yaml:{line}:" in err and ": ERROR: default/MultiTableGroup/minimal-postgres-default " \
           "spec.shardTemplate.pools[0].dataVolumeClaimTemplate.storageClassName: storageClassName 'Fast_SSD' is " \
           "not a valid" in err


def test_render_missing_path_names_it_once():
    proc = _cli("render", "/nonexistent/dir")
    assert proc.returncode == 1
    assert proc.stderr.decode() == "/nonexistent/dir: ERROR: <input>: no such file or directory; give an existing " \
                                   "file or folder.\n"


def test_function_mode_internal_error_is_a_result(monkeypatch, capsys):
    import io

    import krmfn.cli
    import krmfn.function

    def boom(*args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(krmfn.function, "run", boom)
    monkeypatch.setattr(sys, "argv", ["multigres-krmfn"])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(rl(cluster()).encode())))
    with pytest.raises(SystemExit) as exit_info:
        krmfn.cli.main()
    assert exit_info.value.code == 1
    out = capsys.readouterr()
    body = yamlio.load(out.out)
    r = find(body["results"], "error", "<input>", "internal error in multigres-krmfn (RuntimeError: boom)")
    assert "second line" not in r["message"]


def test_model_bounds_match_limits():
    """The CRD-schema bounds in the models are the constants of krmfn.limits (one source of truth)."""
    from krmfn.api.cluster import Partitioning, PoolRef
    from krmfn.api.common import ComponentSpec

    def le(model, field):
        return next(m.le for m in model.model_fields[field].metadata if hasattr(m, "le"))

    assert le(Partitioning, "shards") == limits.RAISABLE["maxShards"][1]  # the function checks the limit set
    schema = ComponentSpec.model_json_schema()["properties"]["replicas"]
    assert any(opt.get("maximum") == limits.INT32_MAX for opt in schema.get("anyOf", [schema]))
    assert PoolRef.model_json_schema()["properties"]["replicas"]["anyOf"][0]["maximum"] == limits.INT32_MAX


def test_every_generated_kind_is_recognised_as_previous_output():
    from helpers import objects, render_paths

    from krmfn.reconcile import GENERATED_KINDS, is_previous_output
    from krmfn.resourcelist import Item

    out = render_paths(EXAMPLES / "seed")
    kinds = {o["kind"] for o in objects(out)}
    assert kinds <= GENERATED_KINDS, kinds - GENERATED_KINDS
    assert all(is_previous_output(Item(o)) for o in objects(out))


def test_user_object_of_a_kind_we_never_write_with_our_label_and_annotation_is_kept():
    # ConfigMaps are generated now (pg_hba, topology records), ServiceAccounts (the status
    # reporter's) and NetworkPolicies too; HorizontalPodAutoscalers never are.
    cm = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
          "metadata": {"name": "mine", "namespace": "default", **copy.deepcopy(OURS)}}
    code, results, out = run_fn(rl(cluster(), SECRET, cm))
    assert code == 0
    assert "name: mine" in out.split("results:")[0]


def test_argocd_include_crds_maybe_is_an_error(tmp_path: Path):
    from krmfn.plugins import argocd_generate

    (tmp_path / "cluster.yaml").write_text((EXAMPLES / "minimal" / "cluster.yaml").read_text())
    text, results = argocd_generate(str(tmp_path), {"ARGOCD_ENV_INCLUDE_CRDS": "maybe"})
    errors = [r for r in results if r.severity == "error"]
    assert [(r.path, "expected true or false" in r.message) for r in errors] == [("spec.includeCrds", True)]
    text, results = argocd_generate(str(tmp_path), {"ARGOCD_ENV_INCLUDE_CRDS": "yes"})
    assert not [r for r in results if r.severity == "error"]
    assert "kind: CustomResourceDefinition" in text
