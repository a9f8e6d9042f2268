"""The front ends as modes of one adapter (krmfn/adapter.py, docs/design.md "Front ends").

In-process: the adapter's `answer`/`serve`, and the click commands through CliRunner. A few
subprocess smoke tests (one per console script) prove the installed entry points are wired up.

What these prove:
- every front end reads its options with one parser, and a boolean option accepts the same
  strings from every source and refuses the same ones, saying what, where and what to write;
- where the functionConfig comes from, per mode (and that it is never output);
- input that cannot be read, and an internal error, is one error result in every mode;
- the results are printed by one printer.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import EXAMPLES, resource_list

from krmfn import adapter, limits, yamlio
from krmfn.cli import function_mode
from krmfn.commands import cli
from krmfn.options import boolean, env_overrides, parse_options
from krmfn.plugins import argocd_generate, kustomize_legacy
from krmfn.resourcelist import read_paths, write_stream

VENV_BIN = Path(sys.executable).parent
MINIMAL = (EXAMPLES / "minimal" / "cluster.yaml").read_text()
RM = "apiVersion: fn.multigres.com/v1alpha1\nkind: RenderMultigres\nmetadata:\n  name: render\n"
CM = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: render\n  annotations:\n"
      "    config.kubernetes.io/function: \"{}\"\n    config.kubernetes.io/local-config: \"true\"\n")


def cli_run(*args: str) -> tuple[str, str, int]:
    """`multigres-krmfn ARGS` in-process: stdout, stderr, exit code."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.stdout, result.stderr, result.exit_code


def stream_of(folder: Path) -> str:
    """The objects of a folder as the YAML stream kustomize would pipe to the legacy plugin."""
    items = [i for i in read_paths([str(folder)]).items
             if not i.is_local_config() and not adapter.is_function_config(i)]
    return write_stream(items)


def errors(results: list[Any]) -> list[tuple[str, str]]:
    return [(r.path, r.message) for r in results if r.severity == "error"]


def app(folder: Path, *extra: tuple[str, str]) -> Path:
    """A folder with the minimal cluster (and extra files)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cluster.yaml").write_text(MINIMAL)
    for name, text in extra:
        (folder / name).write_text(text)
    return folder


# ---- one rule for boolean options, from every source ----

@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("True", True), (" yes ", True), ("YES", True), ("1", True),
    ("false", False), ("FALSE", False), ("no", False), (" 0", False)])
def test_boolean_words(text: str, value: bool) -> None:
    assert boolean(text) is value


@pytest.mark.parametrize("text", ["maybe", "", "on", "off", "y", "2", "truee", "null"])
def test_not_boolean_words(text: str) -> None:
    assert boolean(text) is None


def _configmap(value: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"includeCrds": value}}


def _typed(value: Any) -> dict[str, Any]:
    return {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres", "metadata": {"name": "x"},
            "spec": {"includeCrds": value}}


@pytest.mark.parametrize("make", [_configmap, _typed], ids=["configmap", "renderMultigres"])
@pytest.mark.parametrize(("value", "expected"), [("yes", True), (" True ", True), ("1", True), ("no", False),
                                                 ("0", False), (True, True), (False, False)])
def test_every_boolean_form_is_accepted_from_every_config(make: Any, value: Any, expected: bool) -> None:
    options, problems = parse_options(make(value))
    assert problems == []
    assert options.include_crds is expected


@pytest.mark.parametrize(("value", "shown"), [("maybe", "'maybe'"), ("", "''"), (1, "1"), (None, "None")])
@pytest.mark.parametrize(("make", "path"), [(_configmap, "data.includeCrds"), (_typed, "spec.includeCrds")],
                         ids=["configmap", "renderMultigres"])
def test_a_bad_boolean_says_what_where_and_what_to_write(make: Any, path: str, value: Any, shown: str) -> None:
    options, problems = parse_options(make(value))
    assert [(p.path, p.message) for p in problems] == [
        (path, f'expected true or false, got {shown}; write "true" or "false" ("yes"/"no" and "1"/"0" also '
               'work, in any case).')]
    assert problems[0].ref is not None and problems[0].ref.kind == make(value)["kind"]
    assert options.include_crds is False  # the defaults


def test_a_bad_boolean_does_not_hide_other_problems() -> None:
    fc = _configmap("maybe")
    fc["data"]["emit"] = "everything"
    _, problems = parse_options(fc)
    assert sorted(p.path for p in problems) == ["data.emit", "data.includeCrds"]


def test_include_crds_maybe_from_a_configmap_function_config() -> None:
    text, code, lines = function_mode(resource_list(yamlio.load(MINIMAL), function_config=_configmap("maybe")))
    assert code == 1
    assert lines == ['ERROR: ConfigMap/x data.includeCrds: expected true or false, got \'maybe\'; write "true" or '
                     '"false" ("yes"/"no" and "1"/"0" also work, in any case).']
    assert "kind: CustomResourceDefinition" not in text


def test_include_crds_maybe_from_a_render_multigres_string(tmp_path: Path) -> None:
    config = tmp_path / "render.yaml"
    config.write_text(RM + "spec:\n  includeCrds: \"maybe\"\n")
    out, err, code = cli_run("render", str(EXAMPLES / "minimal"), "--config", str(config))
    assert code == 1
    assert f"{config}: ERROR: RenderMultigres/render spec.includeCrds: expected true or false, got 'maybe'" in err


def test_include_crds_maybe_from_argocd_env(tmp_path: Path) -> None:
    _, results = argocd_generate(str(app(tmp_path)), {"ARGOCD_ENV_INCLUDE_CRDS": "maybe"})
    assert errors(results) == [("spec.includeCrds", 'ARGOCD_ENV_INCLUDE_CRDS: expected true or false, got '
                                "'maybe'; write \"true\" or \"false\" (\"yes\"/\"no\" and \"1\"/\"0\" also "
                                "work, in any case).")]
    assert results[0].file is None  # the variable is named instead


def test_include_crds_maybe_from_the_kustomize_transformer_config() -> None:
    text, results = kustomize_legacy(RM + "spec:\n  includeCrds: maybe\n", MINIMAL)
    assert [p for p, _ in errors(results)] == ["spec.includeCrds"]


@pytest.mark.parametrize("value", ["true", "Yes", " 1 "])
def test_include_crds_strings_work_the_same_in_every_front_end(value: str, tmp_path: Path) -> None:
    function = function_mode(resource_list(yamlio.load(MINIMAL), function_config=_typed(value)))[0]
    kustomize, _ = kustomize_legacy(RM + f"spec:\n  includeCrds: {value!r}\n", MINIMAL)
    argocd, _ = argocd_generate(str(app(tmp_path / "app")), {"ARGOCD_ENV_INCLUDE_CRDS": value})
    config = tmp_path / "cfg.yaml"
    config.write_text(CM + f"data:\n  includeCrds: {value!r}\n")
    render, _, code = cli_run("render", str(tmp_path / "app"), "--config", str(config))
    for out in (function, kustomize, argocd, render):
        assert out.count("kind: CustomResourceDefinition") == 6
    assert code == 0


def test_env_overrides() -> None:
    env = {"ARGOCD_ENV_CLUSTER_DOMAIN": "b.local", "ARGOCD_ENV_INCLUDE_CRDS": "True", "ARGOCD_ENV_EMIT": "",
           "ARGOCD_ENV_OTHER": "x", "EMIT": "children"}
    assert env_overrides(env) == {"clusterDomain": ("b.local", "ARGOCD_ENV_CLUSTER_DOMAIN"),
                                  "includeCrds": ("True", "ARGOCD_ENV_INCLUDE_CRDS")}
    folder = _typed(False)
    folder["spec"].update(emit="children", clusterDomain="a.local")
    options, problems = parse_options(folder, "render.yaml", env_overrides(env))
    assert problems == []
    assert (options.emit, options.include_crds, options.cluster_domain) == ("children", True, "b.local")


def test_env_problem_names_the_variable_and_folder_problem_names_the_file(tmp_path: Path) -> None:
    folder = app(tmp_path, ("render.yaml", RM + "spec:\n  bogus: 1\n"))
    _, results = argocd_generate(str(folder), {"ARGOCD_ENV_EMIT": "everything"})
    found = {(r.path, r.file, r.message[:22]) for r in results if r.severity == "error"}
    assert found == {("spec.emit", None, "ARGOCD_ENV_EMIT: value"), ("spec.bogus", "render.yaml",
                                                                     "unknown field 'bogus'.")}


# ---- where the functionConfig comes from ----

@pytest.mark.parametrize("config", [RM + "spec:\n  emit: children\n", CM + "data:\n  emit: children\n"],
                         ids=["renderMultigres", "function-configmap"])
def test_render_and_argocd_take_the_config_among_the_files(config: str, tmp_path: Path) -> None:
    folder = app(tmp_path, ("render.yaml", config))
    out, err, code = cli_run("render", str(folder))
    assert code == 0, err
    kinds = {d["kind"] for d in map(yamlio.load, yamlio.split_documents(out)) if d}
    assert kinds == {"MultigresCluster", "TopoServer", "MultiCell", "MultiTableGroup", "MultiShard"}
    assert argocd_generate(str(folder), {})[0] == out


def test_two_configs_among_the_files_are_an_error(tmp_path: Path) -> None:
    """Which of two folder configs applies would be a guess: render and Argo CD refuse, naming both."""
    folder = app(tmp_path, ("render.yaml", RM + "spec:\n  emit: children\n"),
                 ("zz-other.yaml", CM.replace("name: render", "name: other") + "data:\n  emit: workloads\n"))
    out, err, code = cli_run("render", str(folder))
    assert code == 1
    assert ("zz-other.yaml: ERROR: ConfigMap/other metadata.name: a second function config: the render takes "
            "one, and uses RenderMultigres 'render' in render.yaml.") in err
    generated, results = argocd_generate(str(folder), {})
    assert [r.file for r in results if r.severity == "error"] == ["zz-other.yaml"]


def test_config_file_wins_over_the_folder_config(tmp_path: Path) -> None:
    folder = app(tmp_path, ("render.yaml", RM + "spec:\n  emit: children\n"))
    config = tmp_path.parent / f"{tmp_path.name}-cfg.yaml"
    config.write_text(RM + "spec:\n  emit: workloads\n")
    out, _, _ = cli_run("render", str(folder), "--config", str(config))
    assert "kind: StatefulSet" in out and "kind: MultiShard" not in out and "kind: RenderMultigres" not in out


def test_function_mode_ignores_configs_among_its_items() -> None:
    """kpt hands the function its config as functionConfig; a RenderMultigres among the items is
    just an object, passed through."""
    config = yamlio.load(RM + "spec:\n  emit: children\n")
    text, code, _ = function_mode(resource_list(yamlio.load(MINIMAL), config))
    assert code == 0
    assert "kind: RenderMultigres" in text and "kind: StatefulSet" in text


@pytest.mark.parametrize(("config", "fragment"), [
    ("", "the transformer config holds 0 objects"),
    (RM + "---\n" + RM, "the transformer config holds 2 objects"),
    ("- a\n", "is a list, not an object"),
    (RM + "spec: [\n", "is not valid YAML"),
])
def test_bad_transformer_config_is_an_error(config: str, fragment: str) -> None:
    text, results = kustomize_legacy(config, MINIMAL)
    assert any(fragment in m for _, m in errors(results)), results


# ---- reading: one error result, never a traceback ----

def _serve(mode: adapter.Mode, stdin: bytes, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
           **kwargs: Any) -> tuple[str, str, int]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = adapter.serve(mode, **kwargs)
    out = capsys.readouterr()
    return out.out, out.err, code


@pytest.mark.parametrize("mode", ["FUNCTION", "KUSTOMIZE"])
def test_stdin_not_utf8(mode: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                        tmp_path: Path) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text(RM)
    kwargs = {"config": str(config)} if mode == "KUSTOMIZE" else {}
    out, err, code = _serve(getattr(adapter, mode), b"kind: \xfe\n", capsys, monkeypatch, **kwargs)
    assert code == 1
    assert err == "ERROR: <input>: stdin is not valid UTF-8 (byte 0xfe at line 1, column 7); save it as UTF-8.\n"
    if mode == "FUNCTION":
        assert yamlio.load(out)["results"][0]["field"] == {"path": "<input>"}
    else:
        assert out == ""


@pytest.mark.parametrize("mode", ["FUNCTION", "KUSTOMIZE", "RENDER", "ARGOCD"])
def test_input_over_the_limit(mode: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                              tmp_path: Path) -> None:
    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 200)
    big = MINIMAL  # well over 200 bytes
    config = tmp_path / "cfg.yaml"
    config.write_text(RM)
    folder = app(tmp_path / "app")
    kwargs: dict[str, Any] = {"paths": [str(folder)]} if mode in ("RENDER", "ARGOCD") else {}
    if mode == "KUSTOMIZE":
        kwargs["config"] = str(config)
    out, err, code = _serve(getattr(adapter, mode), big.encode(), capsys, monkeypatch, **kwargs)
    assert code == 1
    assert "(limit MAX_INPUT_BYTES)" in err and "Traceback" not in err


@pytest.mark.parametrize("mode", ["FUNCTION", "RENDER", "TREE_REPORT", "KUSTOMIZE", "ARGOCD"])
def test_internal_error_is_one_result(mode: str, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import krmfn.function

    def boom(*args: Any) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(krmfn.function, "run", boom)
    config = tmp_path / "cfg.yaml"
    config.write_text(RM)
    stdin = resource_list(yamlio.load(MINIMAL)) if mode == "FUNCTION" else MINIMAL
    kwargs: dict[str, Any] = {"paths": [str(app(tmp_path / "app"))]}
    if mode == "KUSTOMIZE":
        kwargs = {"config": str(config)}
    out, err, code = _serve(getattr(adapter, mode), stdin.encode(), capsys, monkeypatch, **kwargs)
    line = ("ERROR: <input>: internal error in multigres-krmfn (RuntimeError: boom); this is a bug, please report "
            "it with the input that caused it.\n")
    assert (err, code) == (line, 1)
    if mode == "FUNCTION":
        assert [r["message"] for r in yamlio.load(out)["results"]] == [line[len("ERROR: <input>: "):-1]]
    else:
        assert out == ""


# ---- one results printer ----

def test_every_front_end_prints_results_through_one_printer(tmp_path: Path) -> None:
    folder = app(tmp_path)
    render_out, render_err, _ = cli_run("render", str(folder))
    tree_out, tree_err, _ = cli_run("tree", str(folder))
    argocd = adapter.answer(adapter.ARGOCD, paths=[str(folder)])
    assert render_err == tree_err == "".join(line + "\n" for line in adapter.result_text(adapter.ARGOCD,
                                                                                         argocd.results))
    assert "cluster.yaml: WARNING: default/MultiShard/minimal-postgres-default-0" in render_err
    assert tree_out.startswith("MultigresCluster default/minimal\n")


def test_function_mode_prints_only_errors_on_stderr() -> None:
    ans = adapter.answer(adapter.FUNCTION, stdin=resource_list(yamlio.load(MINIMAL)))
    assert ans.results and ans.code == 0
    assert adapter.result_text(adapter.FUNCTION, ans.results) == []


# ---- the console scripts, as installed (smoke tests: the rest is in-process) ----

def test_console_script_function_mode() -> None:
    stdin = resource_list(yamlio.load(MINIMAL))
    proc = subprocess.run([str(VENV_BIN / "multigres-krmfn")], input=stdin, capture_output=True, text=True)
    assert (proc.stdout, proc.returncode, proc.stderr) == (function_mode(stdin)[0], 0, "")


def test_console_script_function_mode_delivers_everything_before_its_fast_exit() -> None:
    """cli.console ends function mode with os._exit: a large answer (several 1 MiB writes, more
    than a pipe holds) and an error's exit code and stderr lines still arrive whole."""
    big = yamlio.load(MINIMAL)
    big["metadata"]["annotations"] = {"note": "x" * 3_000_000}
    stdin = resource_list(big)
    proc = subprocess.run([str(VENV_BIN / "multigres-krmfn")], input=stdin, capture_output=True, text=True)
    assert (proc.stdout, proc.returncode, proc.stderr) == (function_mode(stdin)[0], 0, "")
    assert len(proc.stdout) > 3_000_000
    bad = yamlio.load(MINIMAL)
    bad["spec"]["unknownField"] = 1
    stdin = resource_list(bad)
    proc = subprocess.run([str(VENV_BIN / "multigres-krmfn")], input=stdin, capture_output=True, text=True)
    text, code, errors = function_mode(stdin)
    assert code == 1 and errors
    assert (proc.stdout, proc.returncode, proc.stderr) == (text, 1, "".join(line + "\n" for line in errors))


def test_console_script_render() -> None:
    proc = subprocess.run([str(VENV_BIN / "multigres-krmfn"), "render", str(EXAMPLES / "minimal")],
                          capture_output=True, text=True)
    assert (proc.stdout, proc.stderr, proc.returncode) == cli_run("render", str(EXAMPLES / "minimal"))


def test_console_script_kustomize_plugin(tmp_path: Path) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text(RM)
    stream = stream_of(EXAMPLES / "minimal")
    proc = subprocess.run([str(VENV_BIN / "multigres-krmfn-kustomize-plugin"), str(config)], input=stream,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == kustomize_legacy(RM, stream)[0]


def test_kustomize_plugin_takes_its_config_from_the_environment_without_argv(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """kustomize also passes the config text in KUSTOMIZE_PLUGIN_CONFIG_STRING; it serves when
    argv[1] is absent, and nothing at all is a usage error (exit 2)."""
    from krmfn.plugins import kustomize_legacy_main

    stream = stream_of(EXAMPLES / "minimal")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stream.encode())))
    with pytest.raises(SystemExit) as done:
        kustomize_legacy_main([], {"KUSTOMIZE_PLUGIN_CONFIG_STRING": RM})
    assert (done.value.code, capsys.readouterr().out) == (0, kustomize_legacy(RM, stream)[0])
    bad = RM.replace("apiVersion: fn.multigres.com/v1alpha1", "apiVersion: fn.multigres.com/v1alpha1\nspec: {emit: x}")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stream.encode())))
    with pytest.raises(SystemExit) as done:
        kustomize_legacy_main([], {"KUSTOMIZE_PLUGIN_CONFIG_STRING": bad})
    out = capsys.readouterr()
    assert done.value.code == 1 and out.out == "" and "emit" in out.err
    with pytest.raises(SystemExit) as done:
        kustomize_legacy_main([], {})
    assert done.value.code == 2 and "KUSTOMIZE_PLUGIN_CONFIG_STRING" in capsys.readouterr().err


def test_console_script_argocd_generate() -> None:
    env = {"PATH": os.environ.get("PATH", ""), "ARGOCD_ENV_EMIT": "children"}
    proc = subprocess.run([str(VENV_BIN / "multigres-krmfn-argocd-generate")], cwd=EXAMPLES / "minimal", env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == argocd_generate(str(EXAMPLES / "minimal"), {"ARGOCD_ENV_EMIT": "children"})[0]
