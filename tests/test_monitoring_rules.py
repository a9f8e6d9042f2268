"""The alerts through the real promtool (built from the module proxy by tools/build.sh): the rules
as rendered for examples/monitoring pass `promtool check rules`, and tests/promtool/alerts_test.yaml
passes `promtool test rules` (each alert fires on a failing series and stays quiet on a healthy one)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import EXAMPLES, ROOT, go_tool, objects, render_paths

from krmfn.workloads.alerts import RULES

UNIT_TESTS = ROOT / "tests" / "promtool" / "alerts_test.yaml"


@pytest.fixture(scope="module")
def promtool() -> str:
    return go_tool("prometheus", "promtool")


def rules_file(folder: Path) -> Path:
    """The PrometheusRule's spec of the example, as a Prometheus rules file (the same `groups`)."""
    [rule] = [o for o in objects(render_paths(EXAMPLES / "monitoring")) if o["kind"] == "PrometheusRule"]
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    return path


def promtool_run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, cwd=cwd)


def test_rules_pass_promtool_check(promtool: str, tmp_path: Path) -> None:
    rules = rules_file(tmp_path)
    proc = promtool_run(promtool, "check", "rules", str(rules), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in proc.stdout


def test_alert_unit_tests_pass(promtool: str, tmp_path: Path) -> None:
    rules_file(tmp_path)
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    proc = promtool_run(promtool, "test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_fails_a_wrong_expectation(promtool: str, tmp_path: Path) -> None:
    """A test that cannot fail is a defect: a healthy case that expects an alert must fail."""
    rules_file(tmp_path)
    cases: dict[str, Any] = yaml.safe_load(UNIT_TESTS.read_text())
    quiet = next(t for t in cases["tests"] if t["name"] == "postgres up is quiet")
    quiet["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    cases["tests"] = [quiet]
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(cases))
    proc = promtool_run(promtool, "test", "rules", "wrong.yaml", cwd=tmp_path)
    assert proc.returncode != 0 and "MultigresPostgresDown" in proc.stdout + proc.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    fires, quiet = set(), set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {r["alert"] for r in RULES}
    assert names <= fires and names <= quiet, (names - fires, names - quiet)


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    """Every panel's query, as a recording rule, through promtool's parser."""
    [cm] = [o for o in objects(render_paths(EXAMPLES / "monitoring"))
            if o["kind"] == "ConfigMap" and "grafana_dashboard" in o["metadata"]["labels"]]
    board = json.loads(next(iter(cm["data"].values())))
    rules = [{"record": f"multigres:panel_{p['id']}", "expr": p["targets"][0]["expr"]} for p in board["panels"]]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    proc = promtool_run(promtool, "check", "rules", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(board['panels'])} rules found" in proc.stdout
