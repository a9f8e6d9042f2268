"""The kpt function catalog's e2e convention, run with the real `kpt` binary.

Each folder under examples/ with a `.expected/` folder is a test case (a kpt package):

- `.expected/config.yaml`: `testType` (render | eval, default render), `exitCode` (default 0),
  `allowExec`, `disableOutputTruncate`, `skip`, `stdErr` (a substring of kpt's stderr on the first
  run), and for eval `execPath`, `fnConfig`, `includeMetaResources`. Deviation from the catalog:
  an `execPath` without a slash is a command looked up on PATH (the venv's `bin` is first), so
  the fixtures name the console script instead of a machine-specific path.
- `.expected/diff.patch`: `git diff` between the package as committed and after the run.
- `.expected/results.yaml`: the FunctionResultList kpt writes with `--results-dir` (`exec:` paths
  are written as the bare command name). A missing file means "no results": a case whose run
  reports results fails until KPT_FIXTURES_UPDATE=1 writes it, as a missing diff.patch means "no
  change" (an expected file that is absent must not let any output pass).
- `.krmignore` in the package lists `.expected`, or kpt would read config.yaml as a resource.

As in the catalog's runner: copy to a temp dir, `git init` + commit, run kpt twice, compare the
exit code every time, results on the first run, and the diff after every run (so the second
render must change nothing). KPT_FIXTURES_UPDATE=1 rewrites diff.patch and results.yaml (and
creates results.yaml for a case whose results are non-empty) instead of comparing.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krmfn import yamlio

EXPECTED = ".expected"
UPDATE = os.environ.get("KPT_FIXTURES_UPDATE") == "1"


@dataclass
class CaseConfig:
    """The fields of the catalog's TestCaseConfig that these fixtures use."""

    test_type: str = "render"
    exit_code: int = 0
    allow_exec: bool = False
    disable_output_truncate: bool = False
    skip: bool = False
    std_err: str = ""
    exec_path: str = ""
    fn_config: str = ""
    include_meta_resources: bool = False
    args: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, case: Path) -> CaseConfig:
        path = case / EXPECTED / "config.yaml"
        raw: dict[str, Any] = (yamlio.load(path.read_text()) or {}) if path.exists() else {}
        known = {"testType": "test_type", "exitCode": "exit_code", "allowExec": "allow_exec",
                 "disableOutputTruncate": "disable_output_truncate", "skip": "skip", "stdErr": "std_err",
                 "execPath": "exec_path", "fnConfig": "fn_config",
                 "includeMetaResources": "include_meta_resources", "args": "args"}
        unknown = set(raw) - set(known)
        if unknown:
            raise ValueError(f"{path}: unsupported fields {sorted(unknown)}")
        return cls(**{known[k]: v for k, v in raw.items()})


@dataclass
class RunOutcome:
    exit_code: int
    stdout: str
    stderr: str
    results: str
    diff: str


def find_cases(root: Path) -> list[Path]:
    """Every folder below root that has a `.expected` folder, sorted."""
    return sorted(p.parent for p in root.rglob(EXPECTED) if p.is_dir())


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    cmd = ["git", "-c", "user.name=none", "-c", "user.email=none", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _resolve_exec(exec_path: str, case: Path, path_env: str) -> str:
    if "/" not in exec_path:
        found = shutil.which(exec_path, path=path_env)
        if not found:
            raise FileNotFoundError(f"execPath {exec_path!r} is not on PATH")
        return found
    return str((case / EXPECTED / exec_path).resolve())


def kpt_command(kpt: str, cfg: CaseConfig, case: Path, pkg: Path, results_dir: Path | None,
                path_env: str) -> list[str]:
    """The kpt command line the catalog's runner builds for this case."""
    if cfg.test_type == "render":
        cmd = [kpt, "fn", "render", str(pkg)]
        if results_dir:
            cmd += ["--results-dir", str(results_dir)]
        if cfg.allow_exec:
            cmd.append("--allow-exec")
        if cfg.disable_output_truncate:
            cmd.append("--truncate-output=false")
        return cmd
    if cfg.test_type != "eval":
        raise ValueError(f"testType {cfg.test_type!r} is not render or eval")
    cmd = [kpt, "fn", "eval", str(pkg)]
    if results_dir:
        cmd += ["--results-dir", str(results_dir)]
    cmd += ["--exec", _resolve_exec(cfg.exec_path, case, path_env)]
    if cfg.fn_config:
        cmd += ["--fn-config", str((case / EXPECTED / cfg.fn_config).resolve())]
    if cfg.include_meta_resources:
        cmd.append("--include-meta-resources")
    if cfg.args:
        cmd += ["--", *(f"{k}={v}" for k, v in sorted(cfg.args.items()))]
    return cmd


def normalise_results(text: str, exec_abs: str | None, exec_name: str) -> str:
    """kpt writes the absolute --exec path into results; the fixture stores the command name."""
    if exec_abs:
        text = text.replace(exec_abs, exec_name)
    return text.strip()


def _read_results(results_dir: Path) -> str:
    files = sorted(results_dir.glob("*")) if results_dir.exists() else []
    if len(files) > 1:
        raise AssertionError(f"expected at most one results file, got {[f.name for f in files]}")
    return files[0].read_text() if files else ""


def run_case(case: Path, kpt: str, tmp: Path, path_env: str, runs: int = 2) -> list[RunOutcome]:
    """Run one case like the catalog's runner; returns one outcome per run (stops after a failure)."""
    cfg = CaseConfig.load(case)
    pkg = tmp / case.name
    shutil.copytree(case, pkg, symlinks=True)
    git(pkg, "init", "-q")
    git(pkg, "add", "--all")
    git(pkg, "commit", "-q", "-m", "first", "--allow-empty")
    first = git(pkg, "rev-parse", "--short", "HEAD").strip()
    results_dir = tmp / "results"
    env = {**os.environ, "PATH": path_env}
    exec_abs = _resolve_exec(cfg.exec_path, case, path_env) if cfg.test_type == "eval" else None
    outcomes = []
    for _ in range(runs):
        shutil.rmtree(results_dir, ignore_errors=True)
        cmd = kpt_command(kpt, cfg, case, pkg, results_dir, path_env)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        results = normalise_results(_read_results(results_dir), exec_abs, cfg.exec_path)
        git(pkg, "add", "--all")
        git(pkg, "commit", "-q", "-m", "second", "--allow-empty")
        diff = git(pkg, "diff", first, "HEAD").strip()
        outcomes.append(RunOutcome(proc.returncode, proc.stdout, proc.stderr, results, diff))
        if proc.returncode != 0:
            break
    return outcomes


def expected_text(case: Path, name: str) -> str:
    path = case / EXPECTED / name
    return path.read_text().strip() if path.exists() else ""


def update_expected(case: Path, outcome: RunOutcome) -> None:
    """Rewrite diff.patch and results.yaml from the first run (KPT_FIXTURES_UPDATE=1)."""
    folder = case / EXPECTED
    for name, text in (("diff.patch", outcome.diff), ("results.yaml", outcome.results)):
        path = folder / name
        if text:
            path.write_text(text + "\n")
        elif path.exists():
            path.unlink()


def _delta(want: str, got: str, name: str, limit: int = 120) -> str:
    lines = list(difflib.unified_diff(want.splitlines(), got.splitlines(), f"expected {name}", "actual", lineterm=""))
    more = f"\n... {len(lines) - limit} more lines" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def check_case(case: Path, outcomes: list[RunOutcome]) -> list[str]:
    """Differences between the outcomes and the expected files, as messages (empty = pass)."""
    cfg = CaseConfig.load(case)
    problems: list[str] = []
    want_diff = expected_text(case, "diff.patch")
    want_results = expected_text(case, "results.yaml")
    for n, out in enumerate(outcomes, start=1):
        if out.exit_code != cfg.exit_code:
            problems.append(f"run {n}: exit code {out.exit_code}, expected {cfg.exit_code}\n"
                            f"stderr:\n{out.stderr}")
            break
        if n == 1 and cfg.std_err and cfg.std_err not in out.stderr:
            problems.append(f"run {n}: stderr lacks {cfg.std_err!r}:\n{out.stderr}")
        if n == 1 and out.results != want_results:
            problems.append(f"run {n}: results differ (KPT_FIXTURES_UPDATE=1 regenerates):\n"
                            + _delta(want_results, out.results, "results.yaml"))
        if out.diff != want_diff:
            problems.append(f"run {n}: git diff differs (KPT_FIXTURES_UPDATE=1 regenerates):\n"
                            + _delta(want_diff, out.diff, "diff.patch"))
    return problems
