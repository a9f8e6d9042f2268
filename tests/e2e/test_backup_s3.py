"""Backups on a real object store, on the real node: `examples/minimal` with an encrypted S3
repository (SeaweedFS, tools/build.sh seaweedfs, listening on the node's address), a one-minute
backup schedule and a retention of two full backups.

In order (one cluster, one SeaweedFS for the module): the shard bootstraps into S3 and serves SQL;
the schedule, switched on, takes a backup within one period (its Job succeeds, a new backup is in
the repository); rows inserted after it are backed up again by a one-off Job from the CronJob, the
source cluster is deleted with its namespace and a new cluster of the same name and namespace, on
the same repository, restores them all; finally no object of the bucket holds a table's plaintext.

The measured times go to `e2e-logs/backup-times.txt` (docs/runtime-checks.md quotes them).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from apiserver import _free_ports
from conftest import LOG_DIR
from helpers import go_tool
from knode.cluster import KubectlError, Node
from knode.config import NODE_IP
from kube import get, namespace, wait
from processes import ProcessGroup, wait_for
from render import apply_render, fit_to_node, install_crds, load_example, password_secret, render_cluster, tls_secret
from sql import PASSWORD, first_write, gateway_sql, pooler_pods, primary, start_client, wait_gateway_sql

NS = "backups"
CLUSTER = "minimal"
GATEWAY = f"{CLUSTER}-zone1-gateway"
CRONJOB = f"{CLUSTER}-postgres-backup"
BUCKET = "e2e-backups"
PREFIX = "minimal/postgres"
MARKER = "krmfn-e2e-plaintext-7c21d4"
CIPHER_KEYS = '{"1": "' + "e2e-cipher-passphrase-" * 3 + '"}'
# A full backup's directory in the repository: <repo>/backup/<stanza>/<label>/ (label ends in F).
FULL_LABEL = re.compile(r"/backup/multigres/(\d{8}-\d{6}F)/backup\.manifest")


@dataclass
class Deployment:
    node: Node
    s3: str
    applied_at: float
    times: dict[str, float] = field(default_factory=dict)


def _grpc_flags(ports: list[int]) -> list[str]:
    """Each server's gRPC port given outright: weed defaults it to the HTTP port + 10000, which a
    free port above 55535 overflows. Telemetry off (it would try the internet)."""
    names = ("master", "volume", "filer", "s3")
    return [f"-{n}.port.grpc={p}" for n, p in zip(names, ports, strict=True)] + ["-master.telemetry=false"]


def _s3_server(group: ProcessGroup, data: Path) -> str:
    """SeaweedFS on the node's address (pods reach it there), anonymous, with the bucket made.
    Plain HTTP: upstream turns TLS verification off for any custom endpoint
    (go/common/backup/config.go), so a test CA would prove nothing."""
    master, volume, filer, s3_port, *grpc = _free_ports(8)
    weed = go_tool("seaweedfs", "weed")
    group.start("weed", [weed, "server", f"-dir={data}", f"-ip={NODE_IP}", f"-ip.bind={NODE_IP}",
                         f"-master.port={master}", f"-volume.port={volume}", "-filer", f"-filer.port={filer}",
                         "-s3", f"-s3.port={s3_port}", *_grpc_flags(grpc)])
    base = f"http://{NODE_IP}:{s3_port}"

    def bucket() -> bool:
        with urllib.request.urlopen(urllib.request.Request(f"{base}/{BUCKET}", method="PUT"), timeout=5) as r:
            return r.status == 200
    wait_for(bucket, 120, "SeaweedFS S3", alive=group)
    return base


def _keys(base: str) -> list[str]:
    """Every key under the repository's prefix (ListObjectsV2, all pages)."""
    keys: list[str] = []
    token = ""
    while True:
        url = f"{base}/{BUCKET}?list-type=2&prefix={PREFIX}/"
        if token:
            url += "&continuation-token=" + urllib.request.quote(token, safe="")
        with urllib.request.urlopen(url, timeout=10) as resp:
            xml = resp.read().decode()
        keys += re.findall(r"<Key>([^<]+)</Key>", xml)
        found = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", xml)
        if not found:
            return keys
        token = found.group(1)


def _objects(base: str) -> dict[str, bytes]:
    out = {}
    for key in _keys(base):
        with urllib.request.urlopen(f"{base}/{BUCKET}/{urllib.request.quote(key)}", timeout=30) as resp:
            out[key] = resp.read()
    return out


def _full_backups(base: str) -> set[str]:
    return {m.group(1) for k in _keys(base) if (m := FULL_LABEL.search(k))}


def _readable(body: bytes) -> bytes:
    """The object as stored and, when it is gzip (pgBackRest's default compression when the
    repository is not encrypted), also inflated: a plaintext grep must see through compression."""
    if body.startswith(b"\x1f\x8b"):
        try:
            return body + gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            return body
    return body


def _cluster(s3: str, ns: str, *, suspend: bool = True, restore: bool = False) -> str:
    """The render of minimal with an encrypted S3 repository: with the one-minute schedule (retention
    two full backups) for the source, with `restore: {}` and no schedule for the restored cluster."""
    spec, extra = load_example("minimal", ns)
    backup: dict[str, Any] = {
        "s3": {"bucket": BUCKET, "region": "us-east-1", "endpoint": s3, "keyPrefix": PREFIX,
               "credentialsSecret": "s3-credentials"},
        "encryption": {"secretName": "backup-cipher"},
    }
    if restore:
        backup["restore"] = {}
    else:
        backup["schedule"] = {"cron": "*/1 * * * *", "suspend": suspend}
        backup["retention"] = {"full": 2}
    spec["spec"]["databases"]["templates"][0]["spec"]["backup"] = backup
    return fit_to_node(render_cluster(spec, extra))


def _prepare(node: Node, ns: str) -> None:
    """A namespace with the cluster's Secrets (password, S3 keys, cipher keys) and a psql pod."""
    namespace(node, ns)
    password_secret(node, ns, CLUSTER, PASSWORD)
    node.kubectl("create", "secret", "generic", "s3-credentials", "-n", ns,
                 "--from-literal=AWS_ACCESS_KEY_ID=e2e", "--from-literal=AWS_SECRET_ACCESS_KEY=e2e-secret")
    node.kubectl("create", "secret", "generic", "backup-cipher", "-n", ns,
                 f"--from-literal=cipher-keys.json={CIPHER_KEYS}")
    start_client(node, ns)


@pytest.fixture(scope="module")
def deployment(node: Node) -> Iterator[Deployment]:
    group = ProcessGroup(LOG_DIR / "backup-s3")
    data = Path(tempfile.mkdtemp(prefix="krmfn-e2e-s3-"))
    dep: Deployment | None = None
    try:
        s3 = _s3_server(group, data)
        install_crds(node)
        _prepare(node, NS)
        rendered = _cluster(s3, NS)
        tls_secret(node, NS, CLUSTER, rendered)
        dep = Deployment(node, s3, time.monotonic())
        apply_render(node, rendered)
        yield dep
    finally:
        if dep is not None:
            LOG_DIR.mkdir(parents=True, exist_ok=True)
            (LOG_DIR / "backup-times.txt").write_text(
                "".join(f"{k}: {v:.1f}s\n" for k, v in dep.times.items()))
        node.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=300, check=False)
        group.stop()
        shutil.rmtree(data, ignore_errors=True)


def test_s3_bootstrap_serves_sql(deployment: Deployment) -> None:
    node = deployment.node
    wait_gateway_sql(node, NS, GATEWAY, "select 1", timeout=420)
    deployment.times["s3_bootstrap_apply_to_first_query"] = time.monotonic() - deployment.applied_at
    out = first_write(node, NS, GATEWAY, "create table if not exists secrets (id int primary key, v text); "
                                         f"insert into secrets select g, '{MARKER}' from generate_series(1, 2000) g "
                                         "on conflict do nothing; select count(*) from secrets")
    assert out.splitlines()[-1] == "2000"
    # The bootstrap backup (taken by the first pooler) is in the bucket.
    assert _full_backups(deployment.s3), _keys(deployment.s3)[:20]


def _schedule_jobs(node: Node) -> list[dict[str, Any]]:
    return [j for j in get(node, NS, "jobs")["items"]
            if any(o.get("kind") == "CronJob" and o.get("name") == CRONJOB
                   for o in j["metadata"].get("ownerReferences", []))]


def _wait_scheduled_job(node: Node, deadline: float) -> dict[str, Any]:
    """The first Job the CronJob creates; fails at once when a Job fails (with its log)."""
    while time.monotonic() < deadline:
        jobs = _schedule_jobs(node)
        failed = [j for j in jobs if j["status"].get("failed")]
        assert not failed, node.kubectl("logs", "-n", NS, f"job/{failed[0]['metadata']['name']}", check=False).stdout
        done = [j for j in jobs if j["status"].get("succeeded")]
        if done:
            return done[0]
        time.sleep(2)
    raise AssertionError(node.kubectl("get", "-n", NS, "cronjobs,jobs,pods", "-o", "wide").stdout)


def _wait_no_active_job(node: Node, timeout: float = 300) -> None:
    wait_for(lambda: not any(j["status"].get("active") for j in _schedule_jobs(node)), timeout,
             "the CronJob's Jobs to finish")


def test_scheduled_backup_completes_within_one_period(deployment: Deployment) -> None:
    """Switch the schedule on (render with suspend false, apply, as a user would); the first Job
    starts at the next full minute and succeeds, and a new full backup is in the repository."""
    node = deployment.node
    before = _full_backups(deployment.s3)
    assert not _schedule_jobs(node), "the CronJob ran while suspended"
    apply_render(node, _cluster(deployment.s3, NS, suspend=False))
    start = time.monotonic()
    job = _wait_scheduled_job(node, start + 60 + 240)  # one period, then the backup itself
    deployment.times["schedule_on_to_backup_job_complete"] = time.monotonic() - start
    apply_render(node, _cluster(deployment.s3, NS, suspend=True))
    log = node.kubectl("logs", "-n", NS, f"job/{job['metadata']['name']}").stdout
    assert "expire: 200" in log, log
    new = _full_backups(deployment.s3) - before
    assert new, (before, new)
    _wait_no_active_job(node)


def _one_primary(node: Node) -> str | None:
    """The restored pooler that left recovery (multiorch appointed it), or None yet."""
    try:
        return primary(node, NS, pooler_pods(node, NS))
    except (AssertionError, KubectlError):
        return None


def _longest_init(node: Node, component: str) -> float:
    """Seconds the component's longest-running init container took (the gateways' wait-for-cell)."""
    took = [0.0]
    pods = node.kubectl("get", "pods", "-n", NS, "-l", f"app.kubernetes.io/component={component}", "-o", "json")
    for pod in json.loads(pods.stdout)["items"]:
        for status in pod["status"].get("initContainerStatuses", []):
            done = status.get("state", {}).get("terminated")
            if done:
                took.append((datetime.fromisoformat(done["finishedAt"]) -
                             datetime.fromisoformat(done["startedAt"])).total_seconds())
    return max(took)


def test_a_new_cluster_on_the_repository_restores_the_last_backup(deployment: Deployment) -> None:
    """Rows, a backup (the CronJob's own command, as a one-off Job: retention then keeps two full
    backups), the source cluster deleted with its namespace (volumes, etcd, everything but the
    bucket), a new cluster of the same name in a new namespace of the same name on the same
    repository: it restores the latest backup, elects a primary and serves every row of it.

    Same namespace and name because the restored database names its consensus cohort by pooler
    ID (multigres.current_rule), and the render derives the IDs from namespace and StatefulSet
    (naming.service_id_prefix): a cluster with other IDs restores every pooler as a standby and
    multiorch never appoints a leader (NoHealthyCohortMembers; seen on the node, docs/backup.md)."""
    node = deployment.node
    gateway_sql(node, NS, GATEWAY, "create table after_schedule (id int); "
                                   "insert into after_schedule select generate_series(1, 500)")
    before = _full_backups(deployment.s3)
    node.kubectl("create", "job", "-n", NS, "--from", f"cronjob/{CRONJOB}", "last-backup")
    wait(node, NS, "job/last-backup", "condition=Complete", timeout=300)
    after = _full_backups(deployment.s3)
    assert len(after - before) == 1 and len(after) == 2, (before, after)  # retention full: 2
    node.kubectl("delete", "namespace", NS, "--wait=true", timeout=300)

    _prepare(node, NS)
    rendered = _cluster(deployment.s3, NS, restore=True)
    tls_secret(node, NS, CLUSTER, rendered)
    applied = time.monotonic()
    apply_render(node, rendered)
    wait_for(lambda: _one_primary(node), 420, "a primary among the restored poolers", interval=1)
    deployment.times["restore_apply_to_primary"] = time.monotonic() - applied
    wait_gateway_sql(node, NS, GATEWAY, "select 1", timeout=420)
    deployment.times["restore_apply_to_first_query"] = time.monotonic() - applied
    deployment.times["restore_gateway_wait_for_cell_longest"] = _longest_init(node, "multigateway")
    assert gateway_sql(node, NS, GATEWAY, "select count(*) from after_schedule") == "500"
    assert gateway_sql(node, NS, GATEWAY, f"select count(*) from secrets where v = '{MARKER}'") == "2000"


def test_no_object_in_the_bucket_holds_a_tables_plaintext(deployment: Deployment) -> None:
    """Runs last, when the bucket holds three backups of the `secrets` table and the WAL that
    wrote it; the restore above read that value back out of these very objects.

    - No object holds MARKER, as stored or gunzipped: an unencrypted repository's archived WAL is
      gzip (pgBackRest's default compression) holding the inserted rows, so the grep finds it there.
    - Every object outside the backup bundles is OpenSSL's salted format (`Salted__`), which an
      unencrypted repository's info files (INI text) and WAL (gzip) are not. The bundles (upstream
      turns repo1-bundle and repo1-block on, go/common/backup/config.go) hold each file encrypted
      *raw*, without that header (pgBackRest src/command/backup/file.c), so only the grep covers them.
    """
    objects = _objects(deployment.s3)
    assert any("/backup/multigres/" in k for k in objects), sorted(objects)[:20]
    assert any("/archive/multigres/" in k for k in objects), sorted(objects)[:20]
    assert not [k for k, body in objects.items() if MARKER.encode() in _readable(body)]
    headed = {k: body[:16] for k, body in objects.items() if "/bundle/" not in k and body}
    assert any("/archive/multigres/" in k for k in headed) and any(k.endswith("backup.manifest") for k in headed)
    assert not {k: head for k, head in headed.items() if not head.startswith(b"Salted__")}
