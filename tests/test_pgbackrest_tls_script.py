"""scripts/make-pgbackrest-tls.sh: the Secret the pooler pods mount, from a render on stdin.

Checks what pgBackRest needs (upstream config/pgbackrest/pgbackrest_server_template.conf and
go/services/multipooler/internal/manager/rpc_backup.go): a CA that verifies the certificate, the
CN `pgbackrest` the server accepts from clients, server and client auth, and a DNS name matching
every pooler hostname a replica's backup may dial. Needs bash and openssl.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import EXAMPLES, ROOT, objects, render_paths, run_cli

from krmfn import yamlio

SCRIPT = ROOT / "scripts" / "make-pgbackrest-tls.sh"
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def _run(render_text: str, tls_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], input=render_text, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PGBACKREST_TLS_DIR": str(tls_dir)})


@functools.cache
def _render_text() -> str:
    """The seed's rendered objects, as `multigres-krmfn render` prints them (the script's documented input)."""
    proc = run_cli("render", "examples/seed")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True).stdout


def test_secret_covers_every_pooler_hostname_with_the_accepted_cn(tmp_path: Path) -> None:
    out = render_paths(EXAMPLES / "seed")
    proc = _run(_render_text(), tmp_path / "ca", "example-multigres-cluster", "multigres")
    assert proc.returncode == 0, proc.stderr
    secret = yamlio.load(proc.stdout)
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["name"] == "example-multigres-cluster-pgbackrest-tls"
    files = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert set(files) == {"ca.crt", "tls.crt", "tls.key"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert "OK" in _openssl("verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "tls.crt"))
    text = _openssl("x509", "-in", str(tmp_path / "tls.crt"), "-noout", "-subject", "-ext",
                    "subjectAltName,extendedKeyUsage")
    assert re.search(r"subject=\s*CN\s*=\s*pgbackrest", text)
    assert "TLS Web Server Authentication" in text and "TLS Web Client Authentication" in text
    sans = re.findall(r"DNS:([^,\s]+)", text)
    hosts = [a.split("=", 1)[1].replace("$(POD_NAME)", "pod-0") for o in objects(out) if o["kind"] == "StatefulSet"
             for c in o["spec"]["template"]["spec"]["containers"] for a in c.get("args") or []
             if a.startswith("--hostname=")]
    assert hosts and all(any(fnmatch.fnmatch(h, san) for san in sans) for h in hosts)
    assert b"PRIVATE KEY" not in files["ca.crt"] and (tmp_path / "ca" / "ca.key").exists()  # CA key stays local


def test_second_run_reuses_the_ca(tmp_path: Path) -> None:
    first = yamlio.load(_run(_render_text(), tmp_path, "example-multigres-cluster", "multigres").stdout)
    second = yamlio.load(_run(_render_text(), tmp_path, "example-multigres-cluster", "multigres").stdout)
    assert first["data"]["ca.crt"] == second["data"]["ca.crt"]
    assert first["data"]["tls.crt"] != second["data"]["tls.crt"]


def test_no_pooler_on_stdin_is_an_error(tmp_path: Path) -> None:
    proc = _run("", tmp_path, "c", "ns")
    assert proc.returncode == 1 and "pipe the rendered objects" in proc.stderr
