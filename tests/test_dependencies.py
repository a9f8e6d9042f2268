"""The dependency versions: constraints.txt is the tested environment, and the declared floors work.

- constraints.txt (what the Dockerfile installs) must equal the runtime dependencies this venv runs,
  or the image ships versions no test ran;
- pyproject.toml's `>=` floors are what pip may pick when the package shares a venv with other
  software: a floor nobody runs is a guess. The floors test installs exactly the floors (read from
  pyproject.toml by tests/deps.py) and this tree in a venv of their own and runs the console
  script there: every example rendered, every bad input of test_bad_inputs.py (valid input never
  imports pydantic), `render --previous` (jsonpatch), `crds` (pydantic's schemas), function mode
  and `--version`. Exit code, stdout and stderr must be byte for byte this venv's. The venv is
  cached under ~/.cache/multigres-krmfn/, keyed by what it is built from, so only the first run
  pays for pip. It needs PyPI on that first run: without it the test skips with the reason,
  unless CI=1 or REQUIRE_TOOLS=1 (then it fails).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import deps
import pytest
from helpers import EXAMPLES, REQUIRE_TOOLS, ROOT, resource_list
from kpt_harness import CaseConfig
from packaging.version import Version
from test_bad_inputs import CASES

from krmfn import yamlio

REQUIRED = REQUIRE_TOOLS or bool(os.environ.get("CI"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "multigres-krmfn"
# pip's words for "PyPI is not reachable" (as opposed to "these versions do not install").
OFFLINE = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
                     r"Network is unreachable|ConnectTimeout|ProxyError|No route to host")
EXAMPLE_DIRS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())


def test_constraints_are_the_tested_environment() -> None:
    want = deps.constraints_text()
    have = deps.CONSTRAINTS.read_text()
    stale = {name: (pin, deps.parse_pins(want).get(name)) for name, pin in deps.parse_pins(have).items()
             if deps.parse_pins(want).get(name) != pin}
    missing = sorted(set(deps.parse_pins(want)) - set(deps.parse_pins(have)))
    assert have == want, (f"constraints.txt differs from this venv (pinned, installed): {stale}, missing: {missing}; "
                          "run `make constraints` (after installing the versions you mean to ship)")


def test_constraints_cover_the_declared_dependencies() -> None:
    """The closure starts from pyproject.toml: every declared dependency is pinned, and within its range."""
    pins = deps.parse_pins(deps.CONSTRAINTS.read_text())
    for req in deps.declared():
        version = pins.get(deps.canonicalize_name(req.name))
        assert version is not None and req.specifier.contains(version), (str(req), version)


def test_every_dependency_has_one_floor() -> None:
    """The floors are pyproject.toml's own `>=`s; a dependency without one would go untested."""
    assert list(deps.floors()) == [req.name for req in deps.declared()]
    assert deps.lower_bound(deps.SpecifierSet(">=2.6,<3"), "x") == "2.6"
    with pytest.raises(ValueError, match="exactly one `>=`"):
        deps.lower_bound(deps.SpecifierSet("<3"), "x")


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (CI=1 or REQUIRE_TOOLS=1: this test may not skip)")
    pytest.skip(reason)


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode == 0:
        return
    tail = (proc.stdout + proc.stderr).strip()[-2000:]
    offline = [line for line in tail.splitlines() if OFFLINE.search(line)]
    if offline:
        _skip_or_fail(f"PyPI is not reachable to build the floors venv: {offline[-1][-240:]}")
    pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")


def floor_pins() -> list[str]:
    return [f"{name}=={version}" for name, version in deps.floors().items()]


def _build(venv: Path, pins: list[str]) -> None:
    _run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-input"]
    _run([*pip, *pins])
    # Editable: the venv runs this tree's krmfn as it is now, so a cached venv needs no reinstall.
    _run([*pip, "--no-deps", "-e", str(ROOT)])


def floors_venv() -> Path:
    """A venv with exactly the floors and this tree, built once and cached.

    Keyed by the pins, the interpreter, pyproject.toml (console scripts, metadata) and the tree's
    path (the editable install points at it). Built in a temporary folder and renamed into place,
    so an interrupted or concurrent build never leaves a half venv under the final name; the venv
    survives the rename because it is only run as `<venv>/bin/python <script>`, never through the
    scripts' shebangs (which name the temporary path). A new build removes this tree's older ones
    (about 40 MB each), which their `tree` file names.
    """
    pins = floor_pins()
    key = hashlib.sha256("\0".join([*pins, sys.version, str(ROOT), (ROOT / "pyproject.toml").read_text()])
                         .encode()).hexdigest()[:16]
    final = CACHE / f"floors-{key}"
    if (final / "bin" / "python").exists():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"floors-{key}.tmp.", dir=CACHE))
    try:
        _build(tmp, pins)
        (tmp / "tree").write_text(str(ROOT))
        try:
            tmp.rename(final)
        except OSError:
            if not (final / "bin" / "python").exists():  # not a concurrent build that got there first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in CACHE.glob("floors-*/tree"):
        if old.parent != final and old.read_text() == str(ROOT):
            shutil.rmtree(old.parent, ignore_errors=True)
    return final


@pytest.fixture(scope="module")
def floors_python() -> Path:
    if f"{sys.version_info.major}.{sys.version_info.minor}" != deps.python_floor():
        _skip_or_fail(f"the floors need Python {deps.python_floor()} (requires-python), "
                      f"this is {sys.version.split()[0]}")
    python = floors_venv() / "bin" / "python"
    probe = "import importlib.metadata as m, sys; print(*(m.version(n) for n in sys.argv[1:]))"
    got = subprocess.run([str(python), "-c", probe, *deps.floors()], capture_output=True, text=True, check=True)
    installed = dict(zip(deps.floors(), got.stdout.split(), strict=True))
    assert all(Version(installed[n]) == Version(v) for n, v in deps.floors().items()), installed
    return python


class Command(NamedTuple):
    """One run of the console script: its arguments, stdin, the exit code it has here, and a text
    its output must show (proof that it reached the code the floor is about, not an early error)."""

    args: list[str]
    stdin: str | None
    exit_code: int
    shows: bytes


def bad_inputs(folder: Path) -> Command:
    """Every case of test_bad_inputs.py in one file, each in its own namespace: valid input never
    imports pydantic (krmfn/api/validator.py), so only invalid input shows pydantic's floor at work."""
    docs = []
    for number, (_, objs, *_) in enumerate(CASES):
        for obj in copy.deepcopy(objs()):
            if isinstance(obj, dict):
                obj.setdefault("metadata", {})["namespace"] = f"case-{number}"
            docs.append(yamlio.dump(obj))
    (folder / "bad.yaml").write_text("---\n".join(docs))
    return Command(["render", str(folder / "bad.yaml")], None, 1, b"Did you mean")


def previous_render(folder: Path) -> Command:
    """The seed against an edited earlier render of itself: each changed object is reported with
    the RFC 6902 patch jsonpatch computes (only `--previous` imports jsonpatch). The edits add,
    remove and replace keys and list items, in metadata and spec, so the patches' order shows."""
    current = run_command(Path(sys.executable), ["render", "examples/seed"], None)[1].decode()
    docs = [d for d in map(yamlio.load, yamlio.split_documents(current)) if d]
    for number, obj in enumerate(docs):
        labels = obj["metadata"].setdefault("labels", {})
        if number % 2:
            labels["previous"] = "yes"
        else:
            labels.pop("app.kubernetes.io/part-of", None)
        if obj["kind"] == "Deployment":
            obj["spec"]["replicas"] += 1
            obj["spec"]["template"]["spec"]["containers"][0].setdefault("args", []).insert(0, "--previous")
        if obj["kind"] == "ConfigMap":
            obj.setdefault("data", {})["previous"] = "yes"
    (folder / "previous.yaml").write_text("---\n".join(map(yamlio.dump, docs)))
    return Command(["render", "examples/seed", "--previous", str(folder / "previous.yaml")], None, 0,
                   b"changes: [{")


def seed_resource_list(_: Path) -> Command:
    """Function mode, as kpt and the image run it."""
    objs = [yamlio.load(doc) for f in sorted((EXAMPLES / "seed").glob("*.yaml"))
            for doc in yamlio.split_documents(f.read_text())]
    return Command([], resource_list(*(o for o in objs if o)), 0, b"kind: ResourceList")


def example(path: Path) -> Callable[[Path], Command]:
    """`render` of an example; its exit code is its kpt fixture's."""
    return lambda _: Command(["render", str(path.relative_to(ROOT))], None, CaseConfig.load(path).exit_code,
                             b"apiVersion: multigres.com/v1alpha1")


COMMANDS: dict[str, Callable[[Path], Command]] = {
    **{f"render-{p.name}": example(p) for p in EXAMPLE_DIRS},
    "render-bad-inputs": bad_inputs,
    "render-previous": previous_render,
    "crds": lambda _: Command(["crds"], None, 0, b"kind: CustomResourceDefinition"),  # pydantic's JSON schemas
    "function-mode-seed": seed_resource_list,
    "version": lambda _: Command(["--version"], None, 0, b"version"),  # click's option, the installed metadata
}


def run_command(python: Path, args: list[str], stdin: str | None) -> tuple[int, bytes, bytes]:
    """The console script, run by the venv's interpreter (see floors_venv for why not by its shebang)."""
    script = python.parent / "multigres-krmfn"
    proc = subprocess.run([str(python), str(script), *args], input=stdin.encode() if stdin else None,
                          capture_output=True, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr


def test_python_floor_is_the_image_python() -> None:
    """requires-python's floor is the Python the image runs, so the floors test (which needs that
    Python) checks the dependency floors where they are shipped."""
    bases = re.findall(r"^FROM python:(\d+\.\d+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert bases and set(bases) == {deps.python_floor()}


@pytest.mark.parametrize("command", COMMANDS)
def test_floors_give_identical_output(floors_python: Path, command: str, tmp_path: Path) -> None:
    cmd = COMMANDS[command](tmp_path)
    here = run_command(Path(sys.executable), cmd.args, cmd.stdin)
    assert here[0] == cmd.exit_code and cmd.shows in here[1] + here[2], here[2].decode()[-2000:]
    floors = run_command(floors_python, cmd.args, cmd.stdin)
    assert floors[0] == here[0], floors[2].decode()[-2000:]
    assert floors[1] == here[1], "stdout differs at the dependency floors:\n" + delta(here[1], floors[1])
    assert floors[2] == here[2], "stderr differs at the dependency floors:\n" + delta(here[2], floors[2])


def delta(here: bytes, floors: bytes, limit: int = 60) -> str:
    lines = difflib.unified_diff(here.decode(errors="replace").splitlines(),
                                 floors.decode(errors="replace").splitlines(), "this venv", "floors", lineterm="")
    return "\n".join(list(lines)[:limit])
