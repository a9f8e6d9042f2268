"""The KRM function contract (docs/design.md, "Front ends"): pass-through, previous output, paths, determinism.

Function mode runs in-process (`adapter.answer` in the FUNCTION mode, what the console script
prints); tests/test_frontends.py runs the installed console script once.
"""

from __future__ import annotations

import random

import pytest
from helpers import EXAMPLES, objects, render_paths, run_text

from krmfn import adapter, yamlio
from krmfn.function import run
from krmfn.resourcelist import PATH, parse_resource_list, read_paths, write_resource_list

TRICKY = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: tricky # trailing comment
  annotations:
    config.kubernetes.io/index: '0'
    internal.config.kubernetes.io/path: 'other/tricky.yaml'
    internal.config.kubernetes.io/id: '7'
    config.k8s.io/id: '7'
data:
  # a head comment
  on: on
  yes: yes
  mode: 0755
  octal: 0o755
  when: 2001-12-14t21:59:43.10-05:00
  date: 2001-12-14
  quoted: "10Gi"
  single: 'x'
  flow: ["ReadWriteOnce", b]
  folded: >
    some folded
    text
  literal: |
    line 1
    line 2
  empty:
  tilde: ~
  float: 1e3
  zkey: last
"""


def run_function(stdin: str) -> adapter.Answer:
    """Function mode in-process: `.text` is what it prints, `.code` its exit code."""
    return adapter.answer(adapter.FUNCTION, stdin=stdin)


def rl_text(*bodies: str, dash_indent: str = "") -> str:
    out = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
    for body in bodies:
        lines = body.splitlines(keepends=True)
        out += dash_indent + "- " + lines[0] + "".join(dash_indent + "  " + ln if ln.strip() else ln
                                                       for ln in lines[1:])
    return out


def seed_items_text() -> str:
    rl = read_paths([str(EXAMPLES / "seed")])
    return write_resource_list([i for i in rl.items if not i.is_local_config()], [])


@pytest.mark.parametrize("dash_indent", ["", "  "])
def test_pass_through_is_byte_identical(dash_indent):
    text = rl_text(TRICKY, dash_indent=dash_indent)
    proc = run_function(text)
    assert proc.code == 0, proc.text
    assert proc.text.startswith(text), proc.text


def test_pass_through_values_are_what_kyaml_reads():
    (item,) = parse_resource_list(rl_text(TRICKY)).items
    data = item.obj["data"]
    assert data["on"] == "on" and data["yes"] == "yes" and data["mode"] == 755 and data["octal"] == 493
    assert data["when"] == "2001-12-14t21:59:43.10-05:00" and data["date"] == "2001-12-14"
    assert data["empty"] is None and data["tilde"] is None and data["float"] == 1000.0


def test_commented_cluster_file_passes_through_unchanged():
    text = seed_items_text()
    out = run_function(text)
    assert out.code == 0
    rl_in = parse_resource_list(text)
    rl_out = parse_resource_list(out.text)
    originals = [i.text for i in rl_in.items]
    kept = [i.text for i in rl_out.items if "multigres.com/generated-from" not in (i.text or "")]
    assert kept == originals
    assert '# This tells the controller to fetch the' in out.text and 'storage: "10Gi"' in out.text


def test_output_is_deterministic():
    text = seed_items_text()
    first, second = run_function(text).text, run_function(text).text
    assert first == second


def test_input_order_does_not_change_generated_output():
    rl = read_paths([str(EXAMPLES / "seed")])
    baseline = [yamlio.dump(o) for o in objects(run(rl))]
    for seed in range(3):
        shuffled = read_paths([str(EXAMPLES / "seed")])
        random.Random(seed).shuffle(shuffled.items)
        assert [yamlio.dump(o) for o in objects(run(shuffled))] == baseline


def test_running_twice_equals_running_once():
    text = seed_items_text()
    once = run_function(text).text
    twice = run_function(once.split("results:\n")[0]).text
    strip = lambda s: s.split("results:\n")[0]  # noqa: E731
    assert strip(twice) == strip(once)


def test_previous_output_no_longer_wanted_is_dropped_with_info():
    text = seed_items_text()
    once = run_function(text).text.split("results:\n")[0]
    rl = parse_resource_list(once)
    for item in rl.items:
        if item.kind == "MultigresCluster":
            tg = item.obj["spec"]["databases"]["templates"][0]["spec"]["tablegroups"]
            item.obj["spec"]["databases"]["templates"][0]["spec"]["tablegroups"] = [
                t for t in tg if t["name"] != "custom_tg"]
            item.text = None
    out = run(rl)
    names = {o["metadata"]["name"] for o in objects(out)}
    assert not any("custom-tg" in n for n in names)
    removed = [r for r in out.results if r.severity == "info" and "no longer generated" in r.message]
    assert {r.ref.name for r in removed} >= {"example-multigres-cluster-production-db-custom-tg",
                                              "example-multigres-cluster-production-db-custom-tg-0"}
    assert all(i.generated or "generated-from" not in str(i.obj["metadata"].get("annotations"))
               for i in out.items)


def test_generated_items_get_stable_paths_next_to_the_cluster():
    out = render_paths(EXAMPLES / "seed")
    for obj in objects(out):
        ann = obj["metadata"]["annotations"]
        assert ann[PATH] == ann["config.kubernetes.io/path"]
        assert ann[PATH] == f"generated/example-multigres-cluster/{obj['kind'].lower()}_{obj['metadata']['name']}.yaml"
        assert ann["internal.config.kubernetes.io/index"] == "0"


def test_nested_cluster_path():
    text = rl_text(yamlio.dump({
        "apiVersion": "multigres.com/v1alpha1", "kind": "MultigresCluster",
        "metadata": {"name": "c", "annotations": {PATH: "apps/db/cluster.yaml"}},
        "spec": {"cells": {"templates": [{"name": "a"}]}}}))
    out = run_text(text)
    paths = {o["metadata"]["annotations"][PATH] for o in objects(out)}
    assert paths and all(p.startswith("apps/db/generated/c/") for p in paths)


def test_emit_children_only_and_crds():
    fc = {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres", "metadata": {"name": "x"},
          "spec": {"emit": "children", "includeCrds": True}}
    rl = read_paths([str(EXAMPLES / "minimal")])
    rl.function_config = fc
    kinds = {o["kind"] for o in objects(run(rl))}
    assert kinds == {"TopoServer", "MultiCell", "MultiTableGroup", "MultiShard", "CustomResourceDefinition"}


def test_config_map_function_config():
    rl = read_paths([str(EXAMPLES / "minimal")])
    rl.function_config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                          "data": {"emit": "children", "includeCrds": "true"}}
    out = run(rl)
    assert not [r for r in out.results if r.severity == "error"]
    assert "CustomResourceDefinition" in {o["kind"] for o in objects(out)}
