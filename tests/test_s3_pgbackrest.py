"""The images' pgBackRest against a real S3 server (SeaweedFS, tools/build.sh): a stanza, a full
backup and archived WAL land as objects in the bucket; with the repository cipher on, no object
holds a table's plaintext and every object is pgBackRest ciphertext.

pgBackRest and PostgreSQL are the ones of the image root (tools/imageroot.sh), run in a chroot of
it in a private mount namespace (the shared root is not changed). The S3 server listens on
loopback; pgBackRest speaks plain HTTP to it (an `http://` endpoint, which pgBackRest 2.59 accepts:
src/storage/s3/helper.c), as it would to an in-cluster endpoint written with its scheme.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from apiserver import _free_ports
from helpers import go_tool, image_root
from processes import ProcessGroup, wait_for

pytestmark = pytest.mark.e2e  # a real S3 server and the image root's pgBackRest: the e2e run

MARKER = "krmfn-plaintext-0f3a9c"
BUCKET = "backups"
POSTGRES_UID = 999

INNER = """\
set -eu
export PATH=/usr/lib/postgresql/17/bin:/usr/bin:/bin HOME=/tmp
initdb -D /tmp/pg -A trust -U postgres >/tmp/initdb.log
cat >>/tmp/pg/postgresql.conf <<EOF
listen_addresses = ''
unix_socket_directories = '/tmp'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=/tmp/pgbackrest.conf --stanza=demo archive-push %p'
EOF
pg_ctl -D /tmp/pg -l /tmp/pg.log -w start >/dev/null
psql -q -h /tmp -U postgres -c "create table t(v text); insert into t select '{marker}' from generate_series(1, 2000)"
pgbackrest --config=/tmp/pgbackrest.conf --stanza=demo stanza-create
pgbackrest --config=/tmp/pgbackrest.conf --stanza=demo --type=full backup
pgbackrest --config=/tmp/pgbackrest.conf --stanza=demo info
pg_ctl -D /tmp/pg -m fast -w stop >/dev/null
"""

# The repository settings upstream writes for an S3 endpoint (go/common/backup/config.go), with
# compression off: zstd alone would hide the plaintext and the control run would prove nothing.
CONF = """\
[global]
repo1-type=s3
repo1-s3-bucket={bucket}
repo1-s3-endpoint=http://127.0.0.1:{port}
repo1-s3-region=us-east-1
repo1-s3-key=test
repo1-s3-key-secret=test
repo1-s3-uri-style=path
repo1-path=/{repo}
compress-type=none
start-fast=y
log-path=/tmp/pgbr/log
lock-path=/tmp/pgbr/lock
spool-path=/tmp/pgbr/spool
log-level-console=info
{cipher}
[demo]
pg1-path=/tmp/pg
pg1-socket-path=/tmp
pg1-user=postgres
"""


def _image_root() -> Path:
    root = image_root("usr/bin/pgbackrest")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (a chroot of the image root)")
    return root


def _grpc_flags(ports: list[int]) -> list[str]:
    """Each server's gRPC port given outright: weed defaults it to the HTTP port + 10000, which a
    free port above 55535 overflows. Telemetry off (it would try the internet)."""
    names = ("master", "volume", "filer", "s3")
    return [f"-{n}.port.grpc={p}" for n, p in zip(names, ports, strict=True)] + ["-master.telemetry=false"]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a fixture
    weed = go_tool("seaweedfs", "weed")
    work = tmp_path_factory.mktemp("seaweedfs")
    master, volume, filer, s3_port, *grpc = _free_ports(8)
    group = ProcessGroup(work / "logs")
    (work / "data").mkdir()
    group.start("weed", [weed, "server", f"-dir={work / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                         f"-master.port={master}", f"-volume.port={volume}", "-filer", f"-filer.port={filer}",
                         "-s3", f"-s3.port={s3_port}", *_grpc_flags(grpc)])
    base = f"http://127.0.0.1:{s3_port}"
    # The server is ready when it creates the bucket (anonymous: no identities are configured).
    wait_for(lambda: _request("PUT", f"{base}/{BUCKET}") in (200, 409), 120, "SeaweedFS S3", alive=group)
    yield s3_port
    group.stop()


def _request(method: str, url: str) -> int:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as resp:
        return int(resp.status)


def _objects(port: int, prefix: str) -> dict[str, bytes]:
    """Every object under prefix, through the S3 API (ListObjectsV2 pages, then GET)."""
    keys: list[str] = []
    token = ""
    while True:
        url = f"http://127.0.0.1:{port}/{BUCKET}?list-type=2&prefix={prefix}/"
        if token:
            url += "&continuation-token=" + urllib.request.quote(token, safe="")
        with urllib.request.urlopen(url, timeout=10) as resp:
            xml = resp.read().decode()
        keys += re.findall(r"<Key>([^<]+)</Key>", xml)
        found = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", xml)
        if not found:
            break
        token = found.group(1)
    out = {}
    for key in keys:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{BUCKET}/{urllib.request.quote(key)}",
                                    timeout=10) as resp:
            out[key] = resp.read()
    return out


def _backup(port: int, repo: str, tmp: Path, cipher: str) -> str:
    """initdb, a table with MARKER, stanza-create and a full backup into /<repo>; pgBackRest's info."""
    root = _image_root()
    tmp.chmod(0o755)
    os.chown(tmp, POSTGRES_UID, POSTGRES_UID)
    (tmp / "inner.sh").write_text(INNER.format(marker=MARKER))
    (tmp / "pgbackrest.conf").write_text(CONF.format(bucket=BUCKET, port=port, repo=repo, cipher=cipher))
    outer = ('mount --bind /proc "$0/proc" && mount --bind /dev "$0/dev" && mount --bind "$1" "$0/tmp" && '
             'exec chroot --userspec=999:999 "$0" /bin/sh /tmp/inner.sh')
    ran = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", outer, str(root), str(tmp)],
                         capture_output=True, text=True, timeout=600, check=False)
    logs = "".join(p.read_text(errors="replace")[-2000:] for p in (tmp / "pg.log", tmp / "initdb.log") if p.exists())
    assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}\n{logs}"
    return ran.stdout


def test_backup_and_wal_are_objects_in_the_bucket_and_the_control_finds_the_plaintext(s3: int, tmp_path: Path) -> None:
    info = _backup(s3, "plain", tmp_path, "")
    assert "status: ok" in info and "full backup:" in info
    objects = _objects(s3, "plain")
    assert any(k.startswith("plain/backup/demo/") and k.endswith("backup.manifest") for k in objects)
    assert any(k.startswith("plain/archive/demo/") and "/0000000" in k for k in objects)
    # The control: unencrypted and uncompressed, the table's value is readable in the bucket.
    assert any(MARKER.encode() in body for body in objects.values())


def test_encrypted_repository_holds_no_plaintext(s3: int, tmp_path: Path) -> None:
    cipher = "repo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=" + "k" * 48
    info = _backup(s3, "enc", tmp_path, cipher)
    assert "status: ok" in info and "cipher: aes-256-cbc" in info
    objects = _objects(s3, "enc")
    assert len(objects) > 10
    assert not [k for k, body in objects.items() if MARKER.encode() in body]
    # pgBackRest's cipher writes OpenSSL's salted format: every object starts with its magic.
    assert not [k for k, body in objects.items() if body and not body.startswith(b"Salted__")]
