"""shellcheck: every shell script of the repository, and the bash scripts the function renders.

`make lint` (and .ci/run through it) shellchecks the Makefile's SHELL_SCRIPTS; these tests check
that list leaves no script of the repository out, and check the scripts that exist only as text in
krmfn (the topology registration Job's script, the gateways' wait-for-cell), rendered as they ship.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import fixtures
import pytest
from helpers import ROOT, require_tool

from krmfn.workloads import handover, postgres_config, registration


def _lint_list() -> set[Path]:
    line = next(x for x in (ROOT / "Makefile").read_text().splitlines() if x.startswith("SHELL_SCRIPTS :="))
    return {p for pattern in line.split(":=", 1)[1].split() for p in ROOT.glob(pattern)}


def _is_shell(path: Path) -> bool:
    if path.suffix == ".sh":
        return True
    with path.open("rb") as fh:
        first = fh.readline()
    return first.startswith(b"#!") and any(sh in first for sh in (b"bash", b"/sh"))


def _tracked() -> list[Path]:
    proc = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("not a git checkout: the repository's file list is unknown")
    return [ROOT / name for name in proc.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def test_make_lint_checks_every_shell_script_of_the_repository():
    scripts = {p for p in _tracked() if _is_shell(p)}
    assert scripts, "found no shell script at all"
    missing = sorted(str(p.relative_to(ROOT)) for p in scripts - _lint_list())
    assert not missing, f"add to SHELL_SCRIPTS in the Makefile: {missing}"


def test_rendered_scripts_are_shellcheck_clean(tmp_path: Path):
    shellcheck = require_tool("shellcheck")
    register = tmp_path / "register.sh"
    register.write_text(registration.script(["/multigres/global/cells/zone1/Cell", "/a key with 'quotes'"]))
    wait = tmp_path / "wait-for-cell.sh"
    wait.write_text("#!/bin/bash\n" + registration.WAIT_FOR_CELL)
    pool = postgres_config.reloader_container("img", fixtures.shard().spec.pools[0], {}, "/p", [])
    reloader = tmp_path / "reloader.sh"
    reloader.write_text("#!/bin/bash\n" + pool["args"][1])
    hook = tmp_path / "handover.sh"
    hook.write_text("#!/bin/bash\n" + handover.pre_stop_command("admin:15000", "db/tg/0-inf", "svc", 40)[2])
    proc = subprocess.run([shellcheck, str(register), str(wait), str(reloader), str(hook)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout


def test_the_repository_scripts_are_shellcheck_clean():
    shellcheck = require_tool("shellcheck")
    proc = subprocess.run([shellcheck, "-x", *map(str, sorted(_lint_list()))], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout
