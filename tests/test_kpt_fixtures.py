"""Every example is a kpt function catalog test case, run through the real `kpt` (kpt_harness.py).

Proves, per example: kpt's exit code, the results it reports and the exact change it makes to the
package's files, on the first render and again on the second (idempotence). Regenerate the
expected files with `KPT_FIXTURES_UPDATE=1 .venv/bin/pytest tests/test_kpt_fixtures.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from helpers import EXAMPLES, require_tool
from kpt_harness import UPDATE, CaseConfig, RunOutcome, check_case, find_cases, run_case, update_expected

CASES = find_cases(EXAMPLES)
VENV_BIN = str(Path(sys.executable).parent)


def test_every_example_is_a_fixture() -> None:
    """A new example without `.expected/` would silently go untested; every one needs a .krmignore."""
    examples = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and (p / "Kptfile").exists())
    assert examples == CASES
    for case in CASES:
        assert ".expected" in (case / ".krmignore").read_text().split(), f"{case.name}/.krmignore"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fixture(case: Path, tmp_path: Path) -> None:
    kpt = require_tool("kpt")
    cfg = CaseConfig.load(case)
    if cfg.skip:
        pytest.skip(f"{case.name}: skip: true in .expected/config.yaml")
    path_env = VENV_BIN + os.pathsep + os.environ.get("PATH", "")
    outcomes = run_case(case, kpt, tmp_path, path_env)
    if UPDATE:
        update_expected(case, outcomes[0])
        return
    problems = check_case(case, outcomes)
    assert not problems, "\n\n".join(problems)


def test_missing_expected_results_fail(tmp_path: Path) -> None:
    """An absent results.yaml means "no results", as an absent diff.patch means "no change": no output passes."""
    (tmp_path / ".expected").mkdir()
    quiet = RunOutcome(0, "", "", results="", diff="")
    assert check_case(tmp_path, [quiet]) == []
    noisy = RunOutcome(0, "", "", results="kind: FunctionResultList", diff="")
    assert any("results differ" in p for p in check_case(tmp_path, [noisy]))
    changed = RunOutcome(0, "", "", results="", diff="diff --git a/x b/x")
    assert any("git diff differs" in p for p in check_case(tmp_path, [changed]))
