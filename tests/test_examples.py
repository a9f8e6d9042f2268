"""The examples: golden outputs, the seed's own samples field for field, and the seed's counts.

The rendered objects have one golden, each example's `.expected/diff.patch` (the kpt fixture);
tests/golden/ holds only what it lacks: the results `render` prints and the `tree` output.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import helpers
import pytest
from helpers import EXAMPLES, ROOT, find, golden, objects, render_paths, run_cli

from krmfn import yamlio
from krmfn.resourcelist import INTERNAL_PREFIXES

# The design the seed example comes from, kept in the repository (docs/design.md).
SEED_TEXT = ROOT / "tests" / "data" / "seed-design.md"
CLUSTER = "example-multigres-cluster"
# Fields a builder needs that the seed's samples do not show (docs/api.md, "Child resources").
ADDITIONS = {"databaseName", "tableGroupName", "shardName", "durabilityPolicy", "globalTopoServer",
             "postgresPasswordSecret", "backup", "pgbackrestTLSSecret"}


def without_placement(spec: dict) -> dict:
    """A child spec minus the resolved placement (an addition: the seed's cells name no zone)."""
    out = {**spec}
    if "multiorch" in out:
        out["multiorch"] = {k: v for k, v in out["multiorch"].items() if k != "cellPlacements"}
    for key in ("pools",):
        if key in out:
            out[key] = [{k: v for k, v in p.items() if k != "placement"} for p in out[key]]
    if "shardTemplate" in out:
        out["shardTemplate"] = {"pools": without_placement({"pools": out["shardTemplate"]["pools"]})["pools"]}
    return out


def seed_samples() -> dict[str, dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", SEED_TEXT.read_text(), re.S)
    docs = [yamlio.load(b) for b in blocks]
    return {d["kind"]: d for d in docs}


@pytest.fixture(scope="module")
def seed():
    return render_paths(EXAMPLES / "seed")


def test_seed_child_counts(seed):
    counts = {k: len(objects(seed, k)) for k in ("TopoServer", "MultiCell", "MultiTableGroup", "MultiShard")}
    assert counts == {"TopoServer": 2, "MultiCell": 2, "MultiTableGroup": 4, "MultiShard": 5}


def test_seed_desired_instances(seed):
    (resolved,) = seed.resolved
    assert {db.name: db.desired_instances() for db in resolved.databases} == {"production_db": 14}


@pytest.mark.parametrize(("kind", "name"), [
    ("MultiTableGroup", f"{CLUSTER}-production-db-orders-tg"),
    ("MultiShard", f"{CLUSTER}-production-db-orders-tg-0"),
])
def test_seed_samples_field_for_field(seed, kind, name):
    """The seed's resolved samples come out exactly, apart from the cluster-name prefix."""
    sample = seed_samples()[kind]
    ours = find(seed, kind, name)
    assert sample["metadata"]["name"] == name.removeprefix(CLUSTER + "-")
    assert {k: v for k, v in without_placement(ours["spec"]).items() if k not in ADDITIONS} == sample["spec"]
    for key, value in sample["metadata"]["labels"].items():
        assert ours["metadata"]["labels"][key] == value
    assert ours["metadata"]["namespace"] == sample["metadata"]["namespace"]


def test_seed_topo_server_sample(seed):
    sample = seed_samples()["TopoServer"]
    ours = find(seed, "TopoServer", f"{CLUSTER}-global")
    assert {k: v for k, v in ours["spec"].items() if k != "placement"} == sample["spec"]
    assert ours["metadata"]["labels"]["multigres.com/cluster"] == CLUSTER


def test_seed_multicell_shape(seed):
    """The seed's MultiCell sample is for a cell the example lacks; compare its shape and topo forms."""
    sample = seed_samples()["MultiCell"]
    east = find(seed, "MultiCell", f"{CLUSTER}-us-east-1")
    assert list(east["spec"]) == list(sample["spec"])
    assert east["spec"]["globalTopoServer"] == sample["spec"]["globalTopoServer"]
    assert east["spec"]["topoServer"] == sample["spec"]["topoServer"]
    gateway = {k: v for k, v in east["spec"]["multiGateway"].items() if k != "placement"}
    assert gateway == sample["spec"]["multiGateway"]
    assert east["spec"]["topologyReconciliation"] == sample["spec"]["topologyReconciliation"]
    west = find(seed, "MultiCell", f"{CLUSTER}-us-west-2")
    assert west["spec"]["topoServer"]["managedSpec"]["rootPath"] == "/multigres/us-west-2"
    assert west["spec"]["allCells"] == ["us-east-1", "us-west-2"]


def test_seed_images_propagate_only_what_each_child_needs(seed):
    for cell in objects(seed, "MultiCell"):
        assert set(cell["spec"]["images"]) == {"multigateway"}
    for kind in ("MultiTableGroup", "MultiShard"):
        for obj in objects(seed, kind):
            assert list(obj["spec"]["images"]) == ["multipooler", "postgres", "multiorch"]


def test_analytics_overrides_merge(seed):
    pool = find(seed, "MultiTableGroup", f"{CLUSTER}-production-db-analytics-tg")["spec"]["shardTemplate"]["pools"][0]
    assert pool["dataVolumeClaimTemplate"]["resources"]["requests"]["storage"] == "1000Gi"
    assert pool["dataVolumeClaimTemplate"]["accessModes"] == ["ReadWriteOnce"]
    assert pool["postgres"]["resources"] == {"requests": {"cpu": "4", "memory": "4Gi"},
                                             "limits": {"cpu": "4", "memory": "8Gi"}}


def added_files(patch: str) -> dict[str, str]:
    """The files a `git diff` creates, path -> text: the `+` lines of each `new file` hunk."""
    files = {}
    for chunk in re.split(r"^(?=diff --git )", patch, flags=re.M):
        head, _, body = chunk.partition("\n@@ ")
        if not re.search(r"^new file mode ", head, re.M):
            continue
        path = re.search(r"^\+\+\+ b/(.+)$", head, re.M).group(1)
        count, *lines = body.splitlines()
        assert re.match(r"-0,0 \+1(,\d+)? @@", count) and all(line.startswith(("+", "\\")) for line in lines), path
        added = [line[1:] for line in lines if line.startswith("+")]
        assert len(added) == int((count.split()[1].split(",") + ["1"])[1]), f"{path}: truncated hunk"
        files[path] = "".join(line + "\n" for line in added)
    return files


def without_kpt_annotations(obj: dict) -> dict:
    """kpt's bookkeeping (path, index, id annotations) is not part of the rendered object."""
    annotations = obj.get("metadata", {}).get("annotations", {})
    kept = {k: v for k, v in annotations.items() if not k.startswith(INTERNAL_PREFIXES)}
    if kept != annotations:
        obj["metadata"]["annotations"] = kept
        if not kept:
            del obj["metadata"]["annotations"]
    return obj


def parse(text: str) -> list[dict]:
    return [without_kpt_annotations(d) for d in map(yamlio.load, yamlio.split_documents(text)) if d is not None]


def by_identity(objs: list[dict]) -> dict[tuple[str, ...], dict]:
    keyed = {(o["apiVersion"], o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
             for o in objs}
    assert len(keyed) == len(objs), "two objects with one identity"
    return keyed


def package_inputs(folder: Path) -> list[dict]:
    """The package's own objects, which render passes through (kpt leaves them in their files)."""
    objs = [o for f in sorted(folder.glob("*.yaml")) for o in parse(f.read_text())]
    return [o for o in objs if o["kind"] != "Kptfile"
            and o["metadata"].get("annotations", {}).get("config.kubernetes.io/local-config") != "true"]


def object_delta(want: dict, got: dict) -> str:
    """A readable difference between two identity-keyed object sets (for the failure message)."""
    def lines(objs: dict) -> list[str]:
        return [line for k in keys for line in ["# " + "/".join(k), *yamlio.dump(objs.get(k)).splitlines()]]

    keys = sorted(set(want) | set(got))
    return "\n".join(difflib.unified_diff(lines(want), lines(got), "expected (package + .expected/diff.patch)",
                                           "render", lineterm="", n=2))


@pytest.mark.parametrize("example", ["seed", "minimal", "monitoring"])
def test_golden_render(example):
    """`render` prints the objects kpt writes: the package's inputs plus the files its diff.patch adds.

    examples/<example>/.expected/diff.patch (kept up to date through the real kpt by
    test_kpt_fixtures.py) is the one golden of the rendered objects; this compares against it
    without kpt, so a machine without kpt still checks every rendered value.
    """
    proc = run_cli("render", f"examples/{example}")
    assert proc.returncode == 0, proc.stderr
    patch = (EXAMPLES / example / ".expected" / "diff.patch").read_text()
    added = [o for text in added_files(patch).values() for o in parse(text)]
    want = by_identity(package_inputs(EXAMPLES / example) + added)
    got = by_identity(parse(proc.stdout))
    assert got == want, object_delta(want, got)
    golden(f"{example}.results.txt", proc.stderr)


def test_missing_golden_fails_and_writes_nothing(tmp_path, monkeypatch):
    """A missing golden is a failure, not a fresh file that passes: outside UPDATE_GOLDEN=1 nothing is written."""
    monkeypatch.setattr(helpers, "GOLDEN", tmp_path)
    monkeypatch.setattr(helpers, "UPDATE_GOLDEN", False)
    with pytest.raises(pytest.fail.Exception, match="make golden"):
        golden("absent.txt", "anything")
    assert not (tmp_path / "absent.txt").exists()
    monkeypatch.setattr(helpers, "UPDATE_GOLDEN", True)
    golden("absent.txt", "anything")
    assert (tmp_path / "absent.txt").read_text() == "anything"


@pytest.mark.parametrize("example", ["seed", "minimal", "monitoring"])
def test_golden_tree(example):
    proc = run_cli("tree", f"examples/{example}")
    assert proc.returncode == 0, proc.stderr
    golden(f"{example}.tree.txt", proc.stdout)


def test_tree_reports_seed_instances():
    proc = run_cli("tree", "examples/seed")
    assert "database production_db: desiredInstances 14" in proc.stdout
    assert "cell us-west-2: topo managed local" in proc.stdout


def test_render_leaves_out_local_config():
    proc = run_cli("render", "examples/seed")
    docs = [yamlio.load(d) for d in proc.stdout.split("\n---\n")]
    assert not [d for d in docs if d and d.get("kind") == "Kptfile"]
    assert "internal.config.kubernetes.io" not in proc.stdout and "config.kubernetes.io/path" not in proc.stdout


def test_minimal_is_what_upstream_runs():
    out = render_paths(EXAMPLES / "minimal")
    assert not [r for r in out.results if "MVP" in r.message]
    (shard,) = objects(out, "MultiShard")
    assert (shard["spec"]["databaseName"], shard["spec"]["tableGroupName"], shard["spec"]["shardName"]) == (
        "postgres", "default", "0-inf")
