"""Test helpers, in one place: paths, rendering, CLI runs, tool requirements."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from krmfn import yamlio
from krmfn.function import Output, run
from krmfn.resourcelist import ResourceList, parse_resource_list, read_paths, write_resource_list

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CLI = [sys.executable, "-m", "krmfn"]  # the console entry point, for the few tests that exec it
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
REQUIRE_TOOLS = os.environ.get("REQUIRE_TOOLS") == "1"


def render_paths(*paths: str | Path) -> Output:
    """The function run on files, as `multigres-krmfn render` does."""
    return run(read_paths([str(p) for p in paths]))


def objects(out: Output, kind: str | None = None) -> list[dict[str, Any]]:
    """Generated objects (optionally of one kind)."""
    return [i.obj for i in out.items if i.generated and (kind is None or i.kind == kind)]


def find(out: Output, kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects(out, kind) if o["metadata"]["name"] == name]
    assert matches, f"no {kind} named {name}; have {[o['metadata']['name'] for o in objects(out, kind)]}"
    return matches[0]


def resource_list(*objs: dict[str, Any], function_config: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                            "items": list(objs)}
    if function_config is not None:
        body["functionConfig"] = function_config
    return yamlio.dump(body)


def run_text(text: str) -> Output:
    return run(parse_resource_list(text))


class Ran:
    """A front end's run in this process, shaped like subprocess.CompletedProcess."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_function(stdin: str) -> Ran:
    """Function mode in-process: what the console script prints for this stdin, and its exit code
    (tests/test_frontends.py runs the real process once per console script)."""
    from krmfn import adapter

    out, err = io.StringIO(), io.StringIO()
    code = adapter.print_answer(adapter.FUNCTION, adapter.answer(adapter.FUNCTION, stdin=stdin), out, err)
    return Ran(code, out.getvalue(), err.getvalue())


def run_cli(*args: str, cwd: Path | None = None) -> Ran:
    """A subcommand (`render`, `tree`, `crds`) in-process through click, relative paths from `cwd`."""
    from click.testing import CliRunner

    from krmfn.commands import cli

    with contextlib.chdir(cwd or ROOT):
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


def require_tool(name: str, path: str | None = None) -> str:
    """Path of a tool; skip with a reason when missing, unless REQUIRE_TOOLS=1 (CI), then fail."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed (set REQUIRE_TOOLS=1 to make this a failure)"
    if REQUIRE_TOOLS:
        pytest.fail(f"REQUIRE_TOOLS=1 but {name} is missing")
    pytest.skip(reason)


def write_rl(rl: ResourceList, out: Output) -> str:
    return write_resource_list(out.items, out.results, rl.dash_column)


def golden(name: str, text: str) -> None:
    """Compare text with tests/golden/<name>; only UPDATE_GOLDEN=1 writes it.

    A missing golden fails everywhere, not only in CI: writing it and passing would accept whatever
    the code printed that day (a deleted or misnamed golden then tests nothing) and leave an
    unreviewed file to be committed by accident.
    """
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    elif not path.exists():
        pytest.fail(f"golden file {path} is missing; create it with `make golden` "
                    "(UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_examples.py), review it and commit it")
    assert text == path.read_text(), f"{name} differs from its golden file (`make golden` to accept)"


def image_root(needs: str) -> Path:
    """The Debian root the images are made of (tools/imageroot.sh), built here on first use when
    this machine can (root and debootstrap; a few minutes, then cached with the tools), holding
    `needs` (a path inside it). Else the test skips with the reason, or fails under REQUIRE_TOOLS=1:
    a cold CI machine builds it rather than skip."""
    script = ["bash", str(ROOT / "tools" / "imageroot.sh")]
    root = Path(subprocess.run([*script, "path"], capture_output=True, text=True, check=True).stdout.strip())
    if not (root / needs).exists() and os.geteuid() == 0 and shutil.which("debootstrap"):
        built = subprocess.run(script, capture_output=True, text=True)
        if built.returncode != 0:
            print(built.stderr[-2000:])
    if (root / needs).exists():
        return root
    reason = f"the image root (tools/imageroot.sh) has no {needs} and cannot be built here (needs root and debootstrap)"
    if REQUIRE_TOOLS:
        pytest.fail(reason)
    pytest.skip(reason)


def upstream_source(name: str) -> Path:
    """The verified upstream source archive NAME (tools/sources.sh: cache, mirror or download);
    skip with the reason when it cannot be had, unless REQUIRE_TOOLS=1 (CI), then fail."""
    proc = subprocess.run(["bash", str(ROOT / "tools" / "sources.sh"), name], capture_output=True, text=True)
    if proc.returncode == 0:
        return Path(proc.stdout.strip())
    last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
    reason = f"the {name} source archive is not available: {last[-400:]}"
    if REQUIRE_TOOLS:
        pytest.fail(reason)
    pytest.skip(reason)


def go_tool(tool: str, binary: str) -> str:
    """A binary built from the Go module proxy (tools/build.sh), built on first use and cached.

    Runs `make tools-<tool>` when the cache lacks it; without Go (or when the build fails) the
    test skips with the reason, or fails under REQUIRE_TOOLS=1.
    """
    build = ["bash", str(ROOT / "tools" / "build.sh")]
    where = subprocess.run([*build, "path", tool], capture_output=True, text=True, cwd=ROOT)
    path = Path(where.stdout.strip()) / binary
    if where.returncode == 0 and path.exists():
        return str(path)
    if shutil.which("go") is None:
        return require_tool(binary, None)
    make = shutil.which("make")
    cmd = [make, "-C", str(ROOT), f"tools-{tool}"] if make else [*build, tool]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not path.exists():
        reason = f"building {tool} failed: {proc.stderr.strip()[-400:]}"
        if REQUIRE_TOOLS:
            pytest.fail(reason)
        pytest.skip(reason)
    return str(path)


def longest_write_gap(acked_ms: list[int], since_ms: int) -> tuple[int, int] | None:
    """The longest stretch without an acknowledged write that ends after `since_ms` (it starts at the
    last acknowledgement before it, or at `since_ms` when there is none): what a client saw of an
    outage whether the gateway failed its writes meanwhile or held them (failover buffering: then
    nothing fails, and counting failures sees no outage at all). None when nothing was acknowledged
    after `since_ms`."""
    before = [ms for ms in acked_ms if ms <= since_ms]
    after = sorted(ms for ms in acked_ms if ms > since_ms)
    if not after:
        return None
    edges = [max(before, default=since_ms), *after]
    return max(zip(edges, edges[1:], strict=False), key=lambda gap: gap[1] - gap[0])
