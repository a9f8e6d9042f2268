"""tools/sources.sh: the upstream source archives, fetched or taken from a mirror, always checked.

The script runs from a copy beside a versions.env of the test's own, which pins a small fake
archive, so that nothing here touches the real cache or the network (the download case is served
on the loopback).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ROOT

FAKE = b"not really a tarball\n"
ARCHIVE = "multigres-0000000.tar.gz"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions(tools: Path, sha: str, url: str = "http://127.0.0.1:9/unreachable.tar.gz") -> None:
    (tools / "versions.env").write_text(f"MULTIGRES_ARCHIVE={ARCHIVE}\nMULTIGRES_URL={url}\nMULTIGRES_SHA256={sha}\n")


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A tools/ folder with the real sources.sh and a versions.env pinning FAKE."""
    folder = tmp_path / "tools"
    folder.mkdir()
    shutil.copy(ROOT / "tools" / "sources.sh", folder / "sources.sh")
    _versions(folder, _sha(FAKE))
    return folder


def _run(tools: Path, tmp_path: Path, mirror: Path | None, name: str = "multigres") -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path / "home"),
           "MULTIGRES_KRMFN_SOURCES_CACHE": str(tmp_path / "cache")}
    if mirror is not None:
        env["MULTIGRES_KRMFN_SOURCES_MIRROR"] = str(mirror)
    return subprocess.run(["bash", str(tools / "sources.sh"), name], capture_output=True, text=True, env=env)


def _mirror(tmp_path: Path, data: bytes) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    (mirror / ARCHIVE).write_bytes(data)
    return mirror


def test_the_mirror_is_used_and_the_copy_cached_by_checksum(tools: Path, tmp_path: Path):
    proc = _run(tools, tmp_path, _mirror(tmp_path, FAKE))
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path == tmp_path / "cache" / _sha(FAKE) / ARCHIVE
    assert path.read_bytes() == FAKE


def test_the_cache_is_reused_without_the_mirror(tools: Path, tmp_path: Path):
    mirror = _mirror(tmp_path, FAKE)
    first = _run(tools, tmp_path, mirror)
    (mirror / ARCHIVE).unlink()
    again = _run(tools, tmp_path, None)  # and the URL is unreachable
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout


def test_an_archive_with_another_checksum_is_refused_and_not_cached(tools: Path, tmp_path: Path):
    proc = _run(tools, tmp_path, _mirror(tmp_path, FAKE + b"tampered"))
    assert proc.returncode != 0
    assert "refused" in proc.stderr and _sha(FAKE) in proc.stderr, proc.stderr
    assert not list((tmp_path / "cache").rglob(ARCHIVE))


def test_a_changed_cached_copy_is_refused(tools: Path, tmp_path: Path):
    path = Path(_run(tools, tmp_path, _mirror(tmp_path, FAKE)).stdout.strip())
    path.write_bytes(FAKE + b"x")
    proc = _run(tools, tmp_path, None)
    assert proc.returncode != 0
    assert "does not have the pinned SHA-256" in proc.stderr, proc.stderr


def test_an_unreachable_upstream_without_mirror_says_what_to_set(tools: Path, tmp_path: Path):
    proc = _run(tools, tmp_path, tmp_path / "empty-mirror")
    assert proc.returncode != 0
    assert "MULTIGRES_KRMFN_SOURCES_MIRROR" in proc.stderr, proc.stderr


def test_an_unknown_name_is_refused(tools: Path, tmp_path: Path):
    proc = _run(tools, tmp_path, None, name="nonesuch")
    assert proc.returncode != 0 and "unknown source" in proc.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """FAKE at http://127.0.0.1:<port>/archive.tar.gz."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "archive.tar.gz").write_bytes(FAKE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/archive.tar.gz"
    finally:
        server.shutdown()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_without_a_mirror_the_upstream_url_is_fetched(tools: Path, tmp_path: Path, served: str):
    _versions(tools, _sha(FAKE), url=served)
    proc = _run(tools, tmp_path, None)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).read_bytes() == FAKE


def _pins() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / "tools" / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            pairs[key] = value
    return pairs


@pytest.mark.parametrize(("prefix", "version_key"), [
    ("MULTIGRES", "MULTIGRES_COMMIT"), ("PGBACKREST", "PGBACKREST_VERSION"),
    ("ARGOCD", "ARGOCD_COMMIT"), ("POSTGRES_EXPORTER", "POSTGRES_EXPORTER_COMMIT"),
])
def test_each_pinned_source_names_its_version_in_archive_and_url(prefix: str, version_key: str):
    pins = _pins()
    version = pins[version_key]
    assert version in pins[f"{prefix}_ARCHIVE"]
    assert pins[f"{prefix}_URL"].startswith("https://github.com/") and version in pins[f"{prefix}_URL"]
    assert len(pins[f"{prefix}_SHA256"]) == 64 and int(pins[f"{prefix}_SHA256"], 16) >= 0
    script = (ROOT / "tools" / "sources.sh").read_text()
    assert prefix.lower() in script.split("NAMES=(", 1)[1].split(")", 1)[0].split()
