"""The pooler pods' cohort readiness probe (bash) with a stand-in for psql on PATH.

The stand-in records its arguments and prints what postgres would; the query itself runs against
real postgres in the e2e day-2 rolls (tests/e2e/test_day2.py).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from krmfn.workloads import cohort

FAKE_PSQL = """#!/bin/bash
printf '%s\\n' "$@" > "$FAKE_DIR/args"
printf '%s' "$PGPASSWORD" > "$FAKE_DIR/password"
[ -n "$FAKE_OUT" ] && echo "$FAKE_OUT"
exit "$FAKE_RC"
"""


def run_probe(tmp_path: Path, out: str, rc: int = 0) -> subprocess.CompletedProcess[str]:
    (tmp_path / "psql").write_text(FAKE_PSQL)
    (tmp_path / "psql").chmod(0o755)
    (tmp_path / "pw").write_text("secret\n")
    probe = cohort.readiness_probe("zone1", "abc123", "mydb", str(tmp_path / "pw"))
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "POD_INDEX": "2",
           "FAKE_DIR": str(tmp_path), "FAKE_OUT": out, "FAKE_RC": str(rc)}
    return subprocess.run(probe["exec"]["command"], env=env, capture_output=True, text=True, check=False)


def test_ready_when_postgres_answers_true(tmp_path: Path) -> None:
    assert run_probe(tmp_path, "t").returncode == 0


@pytest.mark.parametrize(("out", "rc"), [("f", 0), ("", 0), ("psql: error: connection refused", 2),
                                         ('ERROR:  relation "multigres.current_rule" does not exist', 1)])
def test_not_ready_otherwise(tmp_path: Path, out: str, rc: int) -> None:
    proc = run_probe(tmp_path, out, rc)
    assert proc.returncode == 1
    assert "zone1_abc123-2" in proc.stdout  # the kubelet shows this in the pod's events


def test_asks_for_this_pods_member_name_in_the_shards_database(tmp_path: Path) -> None:
    run_probe(tmp_path, "t")
    args = (tmp_path / "args").read_text().splitlines()
    assert args[args.index("-d") + 1] == "mydb"
    sql = " ".join(args[args.index("-c") + 1:])
    assert "'zone1_abc123-2' = any(cohort_members)" in sql and "pg_is_in_recovery()" in sql
    assert "pg_last_wal_receive_lsn() is not null" in sql  # not "streaming now": no flicker on a switchover
    assert (tmp_path / "password").read_text() == "secret"


def test_only_replica_pools_wait_for_the_cohort() -> None:
    """readOnly pools are not what the durability policy counts: their pods keep the plain checks."""
    from helpers import EXAMPLES, objects, render_paths

    rendered = objects(render_paths(EXAMPLES / "seed"))
    gated = {}
    for sts in (o for o in rendered if o["kind"] == "StatefulSet"
                and o["metadata"]["labels"].get("app.kubernetes.io/component") == "multipooler"):
        probes = [c.get("readinessProbe") for c in sts["spec"]["template"]["spec"]["containers"]
                  if c["name"] != "multipooler"]
        gated[sts["metadata"]["labels"]["multigres.com/pool-type"]] = any(probes)
    assert gated == {"replica": True, "readOnly": False}
