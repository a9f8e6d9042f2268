"""The postgres-config-reloader script as its container runs it: bash as PID 1 of its own PID
namespace (`unshare`, root only), where SIGTERM is ignored unless the script traps it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from krmfn.workloads import postgres_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")


def test_sigterm_stops_the_reloader_as_pid_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool_file = tmp_path / "postgresql.conf"
    pool_file.write_text("work_mem = '8MB'\n")
    (tmp_path / "pw").write_text("secret\n")
    monkeypatch.setattr(postgres_config, "path", lambda pool: str(pool_file))
    container = postgres_config.reloader_container("img", None, {}, str(tmp_path / "pw"), [])  # type: ignore[arg-type]
    # `unshare --fork` makes the script PID 1 of a new PID namespace, as in the container.
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", *container["command"],
                             *container["args"]])
    child = _child_of(proc.pid)
    time.sleep(1)  # the script is past its start-up lines and sleeping in its loop
    os.kill(child, signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)  # only a safety net: an ignored SIGTERM fails below, not here
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    assert code == 0, "the reloader did not stop on SIGTERM (the pod would wait out its grace period)"


def _child_of(pid: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError("unshare started no child")

