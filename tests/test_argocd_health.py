"""The Argo CD health checks of argocd/resource_customizations/, run by a real Lua interpreter.

tests/luahealth is a small Go program built against github.com/yuin/gopher-lua (the interpreter
Argo CD embeds, at the version Argo CD's go.mod pins) that runs each check the way Argo CD runs a
resource.customizations health script (no string/os/io libraries unless useOpenLibs; the object
as the global `obj`) against its health_test.yaml, Argo CD's own test layout. The module proxy
serves its dependencies; without Go the tests skip (fail under REQUIRE_TOOLS=1).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REQUIRE_TOOLS, ROOT

from krmfn import yamlio
from krmfn.api.status import STATUS_MODELS

CHECKS = ROOT / "argocd" / "resource_customizations" / "multigres.com"
HARNESS = ROOT / "tests" / "luahealth"
CONDITION_KINDS = ["MultigresCluster", "TopoServer", "MultiCell", "MultiTableGroup", "MultiShard"]


@pytest.fixture(scope="module")
def luahealth(tmp_path_factory) -> str:
    if shutil.which("go") is None:
        if REQUIRE_TOOLS:
            pytest.fail("go is needed to build tests/luahealth")
        pytest.skip("go is not installed: cannot build tests/luahealth")
    binary = tmp_path_factory.mktemp("luahealth") / "luahealth"
    proc = subprocess.run(["go", "build", "-mod=readonly", "-o", str(binary), "."], cwd=HARNESS,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        if REQUIRE_TOOLS:
            pytest.fail(proc.stderr)
        pytest.skip(f"building tests/luahealth failed: {proc.stderr[-400:]}")
    return str(binary)


def run(binary: str, folder: Path) -> tuple[int, list[dict]]:
    proc = subprocess.run([binary, str(folder)], capture_output=True, text=True)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def test_every_kind_has_a_check_in_argo_cds_layout() -> None:
    assert sorted(p.name for p in CHECKS.iterdir()) == sorted(STATUS_MODELS)
    for kind in STATUS_MODELS:
        folder = CHECKS / kind
        assert (folder / "health.lua").is_file() and (folder / "health_test.yaml").is_file(), kind
        for test in yamlio.load((folder / "health_test.yaml").read_text())["tests"]:
            assert (folder / test["inputPath"]).is_file(), (kind, test["inputPath"])


def test_every_check_gives_the_health_its_test_says(luahealth) -> None:
    code, outcomes = run(luahealth, CHECKS)
    bad = [o for o in outcomes if o.get("error") or o["got"] != o["want"]]
    assert code == 0 and not bad, bad
    assert len(outcomes) == sum(len(yamlio.load((CHECKS / k / "health_test.yaml").read_text())["tests"])
                                for k in STATUS_MODELS)
    seen = {o["want"]["status"] for o in outcomes}
    assert seen == {"Healthy", "Progressing", "Degraded", "Unknown"}


def test_a_wrong_expectation_fails(luahealth, tmp_path) -> None:
    """The harness can fail: a test that wants Healthy for the lost primary is reported."""
    folder = tmp_path / "multigres.com" / "MultiShard"
    shutil.copytree(CHECKS / "MultiShard", folder)
    tests = yamlio.load((folder / "health_test.yaml").read_text())
    lost = next(t for t in tests["tests"] if t["inputPath"].endswith("primary_lost.yaml"))
    lost["healthStatus"]["status"] = "Healthy"
    (folder / "health_test.yaml").write_text(yamlio.dump(tests))
    code, outcomes = run(luahealth, tmp_path)
    assert code == 1
    assert [o["got"]["status"] for o in outcomes if o["input"].endswith("primary_lost.yaml")] == ["Degraded"]


def test_the_string_library_is_absent_as_in_argo_cd(luahealth, tmp_path) -> None:
    """A check that used string.format would fail in Argo CD without useOpenLibs; so it does here."""
    folder = tmp_path / "multigres.com" / "MultiShard"
    shutil.copytree(CHECKS / "MultiShard", folder)
    (folder / "health.lua").write_text('return {status = "Healthy", message = string.format("%s", "x")}\n')
    code, outcomes = run(luahealth, tmp_path)
    assert code == 1 and all("string" in o.get("error", "") for o in outcomes), outcomes


def test_the_condition_checks_are_one_script() -> None:
    """Five kinds share one rule (the reporter writes the same conditions for each): one text."""
    texts = {(CHECKS / kind / "health.lua").read_text() for kind in CONDITION_KINDS}
    assert len(texts) == 1


@pytest.mark.parametrize("kind", sorted(STATUS_MODELS))
def test_the_test_inputs_hold_statuses_the_crd_accepts(kind) -> None:
    for path in sorted((CHECKS / kind / "testdata").glob("*.yaml")):
        status = yamlio.load(path.read_text()).get("status")
        if status is not None:
            STATUS_MODELS[kind].model_validate(status, by_alias=True, by_name=False, strict=True)
