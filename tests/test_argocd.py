"""Argo CD: argocd/plugin.yaml's commands, run the way the repo-server runs them.

The repo-server runs `generate` (command + args) with cwd = the application's source folder and
ARGOCD_APP_NAME, ARGOCD_APP_NAMESPACE and the app's plugin env as ARGOCD_ENV_*; it applies
whatever YAML is printed. What these prove:
- the output is exactly the objects to apply (the same bytes `multigres-krmfn render` prints),
  with no Kptfile, function config, local-config object or kpt/kustomize bookkeeping annotation;
- ARGOCD_ENV_EMIT / _INCLUDE_CRDS / _CLUSTER_DOMAIN reach the function and override the folder's
  own RenderMultigres;
- a failed render exits non-zero with nothing on stdout (Argo CD must never apply, or prune
  against, a partial or empty manifest set);
- a folder that kpt already rendered (generated/ committed) gives the same objects, no duplicates;
- `discover` claims folders with a MultigresCluster and no others.

The generate step runs in-process (`adapter.serve` in the app's folder, what the console script
does); `test_plugin_yaml_generate_command` runs plugin.yaml's command as the repo-server does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import EXAMPLES, ROOT, require_tool

from krmfn import adapter, yamlio
from krmfn.commands import cli
from krmfn.options import env_overrides, parse_options
from krmfn.plugins import argocd_generate

PLUGIN = yamlio.load((ROOT / "argocd" / "plugin.yaml").read_text())
VENV_BIN = Path(sys.executable).parent
BOOKKEEPING = ("config.kubernetes.io/path", "config.kubernetes.io/index", "internal.config.kubernetes.io/",
               "config.k8s.io/id", "kustomize.config.k8s.io/")
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def repo_server_env(**params: str) -> dict[str, str]:
    env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": os.environ.get("HOME", "/"),
           "ARGOCD_APP_NAME": "multigres", "ARGOCD_APP_NAMESPACE": "multigres",
           "ARGOCD_APP_SOURCE_PATH": "examples/seed"}
    env.update({f"ARGOCD_ENV_{k}": v for k, v in params.items()})
    return env


def run_step(step: str, folder: Path, **params: str) -> subprocess.CompletedProcess:
    """A step of plugin.yaml, as the repo-server runs it (a subprocess)."""
    spec = PLUGIN["spec"][step] if step == "generate" else PLUGIN["spec"]["discover"]["find"]
    argv = [*spec["command"], *spec.get("args", [])]
    return subprocess.run(argv, cwd=folder, env=repo_server_env(**params), capture_output=True, text=True)


def generate(folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
             **params: str) -> tuple[str, str, int]:
    """The generate step in-process: what `multigres-krmfn-argocd-generate` does in `folder`."""
    monkeypatch.chdir(folder)
    capsys.readouterr()
    code = adapter.serve(adapter.ARGOCD, paths=["."], env=repo_server_env(**params))
    out = capsys.readouterr()
    return out.out, out.err, code


def render(folder: Path) -> tuple[str, str, int]:
    """`multigres-krmfn render FOLDER` in-process."""
    result = CliRunner().invoke(cli, ["render", str(folder)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.stdout, result.stderr, result.exit_code


def docs(stream: str) -> list[dict[str, Any]]:
    return [d for d in (yamlio.load(c) for c in yamlio.split_documents(stream)) if d]


def app(tmp: Path, example: str = "seed") -> Path:
    folder = tmp / example
    shutil.copytree(EXAMPLES / example, folder, ignore=shutil.ignore_patterns(".expected"))
    return folder


def test_plugin_yaml_generate_command(tmp_path: Path) -> None:
    """plugin.yaml's generate command, in a copy of the folder, prints what the adapter prints."""
    proc = run_step("generate", app(tmp_path), EMIT="children")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == argocd_generate(str(EXAMPLES / "seed"), {"ARGOCD_ENV_EMIT": "children"})[0]


def test_generate_prints_only_objects_to_apply(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out, err, code = generate(app(tmp_path), capsys, monkeypatch)
    assert code == 0, err
    objs = docs(out)
    kinds = {d["kind"] for d in objs}
    assert {"MultigresCluster", "MultigresDeploymentTemplate", "TopoServer", "MultiCell", "MultiTableGroup",
            "MultiShard"} <= kinds
    assert not kinds & {"Kptfile", "RenderMultigres", "Kustomization"}
    for d in objs:
        ann = d["metadata"].get("annotations") or {}
        assert not [k for k in ann if k.startswith(BOOKKEEPING)], d["metadata"]
        assert ann.get("config.kubernetes.io/local-config") != "true"


def test_env_parameters_override_the_folder_config(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = app(tmp_path)
    (folder / "render.yaml").write_text(
        "apiVersion: fn.multigres.com/v1alpha1\nkind: RenderMultigres\nmetadata:\n  name: render\n"
        "  annotations:\n    config.kubernetes.io/local-config: \"true\"\nspec:\n  emit: workloads\n")
    out, err, code = generate(folder, capsys, monkeypatch, EMIT="children", INCLUDE_CRDS="true")
    assert code == 0, err
    kinds = [d["kind"] for d in docs(out)]
    assert "RenderMultigres" not in kinds
    assert kinds.count("CustomResourceDefinition") == 6
    assert "MultiShard" in kinds  # emit=children from the env beat emit=workloads from the folder


def test_env_parameter_mapping() -> None:
    folder = {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres", "metadata": {"name": "r"},
              "spec": {"emit": "children", "clusterDomain": "a.local"}}
    env = {"ARGOCD_ENV_CLUSTER_DOMAIN": "b.local", "ARGOCD_ENV_INCLUDE_CRDS": "True", "ARGOCD_ENV_EMIT": "",
           "ARGOCD_ENV_STATUS_REPORTER": "yes", "ARGOCD_ENV_SPEC_WRITERS": "system:serviceaccount:ci:kpt"}
    options, problems = parse_options(folder, "render.yaml", env_overrides(env))
    assert problems == []
    assert options.dump() == {"emit": "children", "clusterDomain": "b.local", "includeCrds": True,
                              "statusReporter": True, "readOnlyChildren": False,
                              "specWriters": "system:serviceaccount:ci:kpt"}


@pytest.mark.parametrize("params", [{}, {"EMIT": "everything"}], ids=["missing-template", "bad-emit"])
def test_failure_is_non_zero_with_no_output(params: dict[str, str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = app(tmp_path, "missing-template" if not params else "seed")
    out, err, code = generate(folder, capsys, monkeypatch, **params)
    assert code != 0
    assert out == ""
    assert "ERROR" in err


def test_folder_rendered_by_kpt_gives_the_same_objects(tmp_path: Path) -> None:
    kpt = require_tool("kpt")
    fresh = docs(argocd_generate(str(app(tmp_path / "a")), {})[0])
    folder = app(tmp_path / "b")
    env = repo_server_env()
    subprocess.run([kpt, "fn", "render", str(folder), "--allow-exec"], env=env, check=True, capture_output=True)
    assert (folder / "generated").is_dir()
    text, results = argocd_generate(str(folder), {})
    assert not [r for r in results if r.severity == "error"], results
    assert sorted(map(repr, docs(text))) == sorted(map(repr, fresh))


def test_discover(tmp_path: Path) -> None:
    assert run_step("discover", app(tmp_path)).stdout.strip() == "./cluster.yaml"
    other = tmp_path / "other"
    other.mkdir()
    (other / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    assert run_step("discover", other).stdout.strip() == ""


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_generate_prints_the_bytes_render_prints(example: str, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Same folder, same bytes: comments, quoting and order of the objects to apply, the same
    results and exit code. Where the render fails, Argo CD prints nothing (by design) but would
    have printed render's bytes."""
    out, err, code = render(EXAMPLES / example)
    assert generate(EXAMPLES / example, capsys, monkeypatch) == (out if code == 0 else "", err, code)
    assert argocd_generate(str(EXAMPLES / example), {})[0] == out


def test_every_example_is_covered() -> None:
    assert {"seed", "minimal", "missing-template"} <= set(EXAMPLE_NAMES)
