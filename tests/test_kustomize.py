"""kustomize: the exec KRM transformer (standalone kustomize v5) and the legacy exec plugin
(`kubectl kustomize`, which has no `--enable-exec`), both against `multigres-krmfn render`.

What these prove:
- `kustomize build --enable-alpha-plugins --enable-exec` of kustomization/exec gives the same
  objects as `multigres-krmfn render examples/seed` (compared as parsed objects, bookkeeping
  annotations dropped);
- the trap: without `--enable-exec` (and always in `kubectl kustomize`) kustomize skips the exec
  function silently, exit 0, and the output is the unrendered input; `rendered()` detects it;
- the legacy exec plugin makes `kubectl kustomize --enable-alpha-plugins` render the same objects,
  and a failing render fails the build with the function's message instead of emitting input;
- stream in, stream out: given the objects of any example as a stream, the plugin prints the bytes
  `render` prints for the folder, with the same results (less the file locations a stream lacks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import EXAMPLES, ROOT, go_tool

from krmfn import adapter, yamlio
from krmfn.commands import cli
from krmfn.plugins import kustomize_legacy
from krmfn.resourcelist import read_paths, write_stream

KUSTOMIZATION = ROOT / "kustomization"
VENV_BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
BOOKKEEPING = ("config.kubernetes.io/", "internal.config.kubernetes.io/", "config.k8s.io/",
               "kustomize.config.k8s.io/")
LOOSE = ["--enable-alpha-plugins", "--load-restrictor", "LoadRestrictionsNone"]


def standalone_kustomize() -> str:
    return go_tool("kustomize", "kustomize")


def objects(stream: str) -> list[str]:
    """Parsed objects without bookkeeping annotations, as sorted canonical JSON (a multiset)."""
    out = []
    for doc in yamlio.split_documents(stream):
        obj: Any = yamlio.load(doc)
        if not obj:
            continue
        meta = obj.get("metadata") or {}
        ann = {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(BOOKKEEPING)}
        meta.pop("annotations", None)
        if ann:
            meta["annotations"] = ann
        out.append(json.dumps(obj, sort_keys=True))
    return sorted(out)


def rendered(stream: str) -> bool:
    """The trap detector: did the function run at all? (generated objects carry generated-from)."""
    return "multigres.com/generated-from" in stream


@pytest.fixture(scope="module")
def reference() -> list[str]:
    proc = subprocess.run([str(VENV_BIN / "multigres-krmfn"), "render", str(EXAMPLES / "seed")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return objects(proc.stdout)


def build(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, cwd=ROOT)


def test_exec_function_matches_render(reference: list[str]) -> None:
    proc = build([standalone_kustomize(), "build", *LOOSE, "--enable-exec", str(KUSTOMIZATION / "exec")])
    assert proc.returncode == 0, proc.stderr
    assert rendered(proc.stdout)
    assert objects(proc.stdout) == reference


def test_without_enable_exec_the_function_is_silently_skipped(reference: list[str]) -> None:
    proc = build([standalone_kustomize(), "build", *LOOSE, str(KUSTOMIZATION / "exec")])
    assert proc.returncode == 0, "kustomize started failing without --enable-exec: update docs/pipelines.md"
    assert not rendered(proc.stdout)
    assert len(objects(proc.stdout)) == 5 < len(reference)


def built_kubectl() -> str:
    """kubectl of tools/build.sh (built with the node's binaries), not whichever is on PATH."""
    return go_tool("kubernetes", "kubectl")


def test_kubectl_kustomize_skips_the_exec_function() -> None:
    kubectl = built_kubectl()
    proc = build([kubectl, "kustomize", *LOOSE, str(KUSTOMIZATION / "exec")])
    assert proc.returncode == 0, proc.stderr
    assert not rendered(proc.stdout)


def install_legacy_plugin(xdg: Path) -> dict[str, str]:
    """Run kustomization/legacy/install-plugin.sh into a private XDG_CONFIG_HOME."""
    env = {**ENV, "XDG_CONFIG_HOME": str(xdg)}
    script = KUSTOMIZATION / "legacy" / "install-plugin.sh"
    subprocess.run(["sh", str(script), sys.executable], check=True, env=env, capture_output=True)
    plugin = xdg / "kustomize/plugin/fn.multigres.com/v1alpha1/rendermultigres/RenderMultigres"
    assert os.access(plugin, os.X_OK)
    return env


@pytest.mark.parametrize("tool", ["kubectl", "kustomize"])
def test_legacy_exec_plugin_matches_render(tool: str, tmp_path: Path, reference: list[str]) -> None:
    binary = [built_kubectl(), "kustomize"] if tool == "kubectl" else [standalone_kustomize(), "build"]
    env = install_legacy_plugin(tmp_path / "xdg")
    proc = build([*binary, *LOOSE, str(KUSTOMIZATION / "legacy")], env)
    assert proc.returncode == 0, proc.stderr
    assert objects(proc.stdout) == reference


def test_legacy_exec_plugin_failure_fails_the_build(tmp_path: Path) -> None:
    kubectl = built_kubectl()
    env = install_legacy_plugin(tmp_path / "xdg")
    app = tmp_path / "app"
    app.mkdir()
    (app / "cluster.yaml").write_text((EXAMPLES / "missing-template" / "cluster.yaml").read_text())
    (app / "render.yaml").write_text((KUSTOMIZATION / "legacy" / "render-multigres.yaml").read_text())
    (app / "kustomization.yaml").write_text("resources: [cluster.yaml]\ntransformers: [render.yaml]\n")
    proc = build([kubectl, "kustomize", "--enable-alpha-plugins", str(app)], env)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "'fast-ssd' not found" in proc.stderr


def test_transformer_configs_name_one_function() -> None:
    """exec, container and legacy configs carry the same options; only the runtime differs."""
    specs = []
    for variant in ("exec", "container", "legacy"):
        cfg = yamlio.load((KUSTOMIZATION / variant / "render-multigres.yaml").read_text())
        assert (cfg["apiVersion"], cfg["kind"]) == ("fn.multigres.com/v1alpha1", "RenderMultigres")
        fn = (cfg["metadata"].get("annotations") or {}).get("config.kubernetes.io/function")
        runtime = yamlio.load(fn) if fn else {}
        assert set(runtime) == ({variant} if variant != "legacy" else set())
        specs.append(cfg["spec"])
    assert specs[0] == specs[1] == specs[2]


def test_exec_function_failure_shows_the_reason(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "cluster.yaml").write_text((EXAMPLES / "missing-template" / "cluster.yaml").read_text())
    (app / "render.yaml").write_text((KUSTOMIZATION / "exec" / "render-multigres.yaml").read_text())
    (app / "kustomization.yaml").write_text("resources: [cluster.yaml]\ntransformers: [render.yaml]\n")
    proc = build([standalone_kustomize(), "build", "--enable-alpha-plugins", "--enable-exec", str(app)])
    assert proc.returncode != 0
    assert "'fast-ssd' not found" in proc.stderr


EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def unlocated(results: list[Any]) -> list[Any]:
    """Results without where in which file (a stream has no files; its document index differs)."""
    return [r.replace(file=None, index=None, line=None, column=None) for r in results]


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_legacy_plugin_prints_the_bytes_render_prints(example: str) -> None:
    """The objects of a folder, piped as kustomize pipes them (no Kptfile, no function config),
    come back as the bytes `render` prints for the folder, with the same results and exit code;
    only the results' file locations differ, which a stream does not have. Where the render
    fails, the console script prints nothing (the build fails) but would have printed these."""
    folder = EXAMPLES / example
    rendered = CliRunner().invoke(cli, ["render", str(folder)])
    config = (KUSTOMIZATION / "legacy" / "render-multigres.yaml").read_text()
    stream = write_stream([i for i in read_paths([str(folder)]).items
                           if not i.is_local_config() and not adapter.is_function_config(i)])
    text, results = kustomize_legacy(config, stream)
    assert text == rendered.stdout
    expected = adapter.answer(adapter.RENDER, paths=[str(folder)]).results
    assert unlocated(results) == unlocated(expected)
    assert adapter.Answer(text, results).code == rendered.exit_code
