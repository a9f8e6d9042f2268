"""kpt end to end: `kpt fn render --allow-exec` and `kpt fn eval --exec` with the real kpt binary.

What these prove (docs/design.md, "Front ends"):
- kpt can exec the venv's console script from a Kptfile pipeline and from `fn eval --exec`;
- a second render changes nothing (idempotence);
- removing a shard, a table group or a cell deletes exactly the files of the objects that are
  gone, and the function reports each removal as an info result;
- every pass-through file ends byte-identical to what the same render writes with a no-op
  function (`cat`), including an unrelated file full of quoting, flow style and comments.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLES, require_tool
from kpt_harness import git

from krmfn import yamlio

VENV_BIN = Path(sys.executable).parent
CONSOLE_SCRIPT = VENV_BIN / "multigres-krmfn"
ENV = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

# An unrelated, hand-written file: what a load+dump would rewrite (quotes, flow lists, comments,
# YAML 1.1 look-alikes, a second document, a document whose first line is a comment).
UNRELATED = """\
# Head comment of the file.
apiVersion: v1
kind: ConfigMap
metadata:
  name: "app-settings"   # trailing comment
  namespace: multigres
  labels: {team: "db", tier: 'backend'}
data:
  storage: "10Gi"
  modes: '["ReadWriteOnce"]'
  enabled: "on"
  legacy: yes
  octal: "0755"
  when: 2025-10-08
  empty: ""
---
# A comment before the second document.
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: multigres
spec:
  ports: [{port: 5432, targetPort: "pg"}]
  selector:
    app: "app"   # keep me
"""


def _kpt() -> str:
    return require_tool("kpt")


def package(tmp: Path, example: str = "seed", name: str = "pkg", unrelated: bool = True) -> Path:
    """A committed temp copy of an example (plus the unrelated file)."""
    pkg = tmp / name
    shutil.copytree(EXAMPLES / example, pkg, ignore=shutil.ignore_patterns(".expected"))
    if unrelated:
        (pkg / "unrelated.yaml").write_text(UNRELATED)
    commit(pkg, init=True)
    return pkg


def commit(pkg: Path, init: bool = False) -> None:
    if init:
        git(pkg, "init", "-q")
    git(pkg, "add", "--all")
    git(pkg, "commit", "-q", "--allow-empty", "-m", "step")


def changed(pkg: Path) -> list[str]:
    return git(pkg, "status", "--porcelain", "--untracked-files=all").splitlines()


def render(pkg: Path, results: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [_kpt(), "fn", "render", str(pkg), "--allow-exec", "--truncate-output=false"]
    if results:
        shutil.rmtree(results, ignore_errors=True)
        cmd += ["--results-dir", str(results)]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV)


def result_items(results: Path) -> list[dict[str, Any]]:
    doc = yamlio.load((results / "results.yaml").read_text())
    return [r for item in doc.get("items") or [] for r in item.get("results") or []]


def generated_files(pkg: Path) -> dict[str, str]:
    return {str(p.relative_to(pkg)): p.read_text() for p in sorted((pkg / "generated").rglob("*.yaml"))}


def test_render_execs_console_script_and_is_idempotent(tmp_path: Path) -> None:
    pkg = package(tmp_path)
    first = render(pkg)
    assert first.returncode == 0, first.stderr
    files = generated_files(pkg)
    assert "generated/example-multigres-cluster/multishard_example-multigres-cluster-production-db-orders-tg-1.yaml" \
        in files
    commit(pkg)
    second = render(pkg)
    assert second.returncode == 0, second.stderr
    assert changed(pkg) == [], "the second render changed files"


def test_pass_through_files_match_a_noop_render(tmp_path: Path) -> None:
    """kpt with our function and kpt with `cat` must leave every input file identical."""
    ours = package(tmp_path, name="ours")
    noop = package(tmp_path, name="noop")
    script = tmp_path / "noop.sh"
    script.write_text("#!/bin/sh\nexec cat\n")
    script.chmod(0o755)
    kptfile = (noop / "Kptfile").read_text()
    (noop / "Kptfile").write_text(kptfile.replace("exec: multigres-krmfn", f"exec: {script}"))
    assert render(ours).returncode == 0
    assert render(noop).returncode == 0
    differences = []
    for path in sorted(p for p in noop.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = path.relative_to(noop)
        want = path.read_text().replace(f"exec: {script}", "exec: multigres-krmfn")
        got = (ours / rel).read_text()
        if got != want:
            lines = [f"{rel}:{n}: noop {a!r} vs ours {b!r}" for n, (a, b) in
                     enumerate(zip(want.splitlines(), got.splitlines(), strict=False), 1) if a != b]
            differences.append("\n".join(lines[:5]) or f"{rel}: lengths differ")
    assert not differences, "pass-through differs from a no-op render:\n" + "\n".join(differences)


def _edit(pkg: Path, old: str, new: str) -> None:
    path = pkg / "cluster.yaml"
    text = path.read_text()
    assert old in text, f"cluster.yaml lacks {old!r}"
    path.write_text(text.replace(old, new, 1))


def _fresh(tmp: Path, pkg: Path) -> dict[str, str]:
    """What a render of pkg's current inputs writes from scratch (no previous output)."""
    scratch = tmp / "fresh"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(pkg, scratch, ignore=shutil.ignore_patterns(".git", "generated"))
    assert render(scratch).returncode == 0
    return generated_files(scratch)


CELL = """      - name: "eu-central-1"
        spec:
          multigateway:
            templateName: "standard-ha"
"""
REMOVALS = {
    "shard": ("partitioning:\n                shards: 2", "partitioning:\n                shards: 1",
              ["multishard_example-multigres-cluster-production-db-orders-tg-1.yaml"]),
    "table-group": ("            # --- TABLEGROUP 4:", "            - name: gone\n"
                    "              shardTemplate: {pools: [{type: replica, cell: us-east-1, "
                    "multigresDeploymentTemplate: default-ha}]}\n            # --- TABLEGROUP 4:",
                    ["multitablegroup_example-multigres-cluster-production-db-gone.yaml",
                     "multishard_example-multigres-cluster-production-db-gone-0.yaml"]),
    "cell": ("      - name: \"us-west-2\"\n", CELL + "      - name: \"us-west-2\"\n",
             ["multicell_example-multigres-cluster-eu-central-1.yaml"]),
}


@pytest.mark.parametrize("what", sorted(REMOVALS))
def test_removal_deletes_exactly_the_files_of_objects_that_are_gone(what: str, tmp_path: Path) -> None:
    old, new, names = REMOVALS[what]
    pkg = package(tmp_path, unrelated=False)
    if what != "shard":  # add the object first, render, then take it away again
        _edit(pkg, old, new)
        old, new = new, old
    assert render(pkg).returncode == 0
    commit(pkg)
    before = generated_files(pkg)
    _edit(pkg, old, new)
    proc = render(pkg, tmp_path / "results")
    assert proc.returncode == 0, proc.stderr
    after = generated_files(pkg)
    gone = sorted(set(before) - set(after))
    assert sorted(os.path.basename(g) for g in gone if os.path.basename(g) in names) == sorted(names)
    assert after == _fresh(tmp_path, pkg), "the re-render differs from a render from scratch"
    infos = [r for r in result_items(tmp_path / "results") if r.get("severity") == "info"
             and "no longer generated" in r.get("message", "")]
    reported = sorted((r["resourceRef"]["kind"], r["resourceRef"]["name"]) for r in infos)
    expected = sorted((yamlio.load(before[g])["kind"], yamlio.load(before[g])["metadata"]["name"]) for g in gone)
    assert reported == expected


def test_eval_exec_matches_render(tmp_path: Path) -> None:
    """`kpt fn eval --exec` with the console script writes what `kpt fn render` writes, idempotently."""
    rendered = package(tmp_path, name="rendered")
    assert render(rendered).returncode == 0
    evaluated = package(tmp_path, name="evaluated")
    # the options the Kptfile gives `fn render` (the package's render.yaml)
    cmd = [_kpt(), "fn", "eval", str(evaluated), "--exec", str(CONSOLE_SCRIPT), "--truncate-output=false",
           "--fn-config", str(evaluated / "render.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert generated_files(evaluated) == generated_files(rendered)
    commit(evaluated)
    again = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    assert again.returncode == 0, again.stderr
    assert changed(evaluated) == []


def test_eval_fn_config_options(tmp_path: Path) -> None:
    """`--fn-config` with a RenderMultigres reaches the function (includeCrds adds CRD files)."""
    pkg = package(tmp_path, unrelated=False)
    config = tmp_path / "fn-config.yaml"
    config.write_text("apiVersion: fn.multigres.com/v1alpha1\nkind: RenderMultigres\nmetadata:\n"
                      "  name: render\nspec:\n  emit: children\n  includeCrds: true\n")
    cmd = [_kpt(), "fn", "eval", str(pkg), "--exec", str(CONSOLE_SCRIPT), "--fn-config", str(config)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr
    crds = sorted(p.name for p in (pkg / "generated" / "crds").glob("*.yaml"))
    assert "crd_multigresclusters.multigres.com.yaml" in crds
