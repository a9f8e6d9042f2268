"""`examples/minimal` with an encrypted S3 repository and a one-minute backup schedule, on the real
node, against SeaweedFS (tools/build.sh seaweedfs) listening on the node's address: the shard
bootstraps into S3 and serves SQL, its backups and WAL are objects in the bucket, none of them
holds a table's plaintext, and the CronJob's backup completes within one period.

The measured times go to `e2e-logs/backup-times.txt` (docs/runtime-checks.md quotes them).
"""

from __future__ import annotations

import re
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from apiserver import _free_ports
from conftest import LOG_DIR
from helpers import go_tool
from knode.cluster import Node
from knode.config import NODE_IP
from kube import get, namespace, wait
from processes import ProcessGroup, wait_for
from render import apply_render, fit_to_node, install_crds, load_example, password_secret, render_cluster, tls_secret
from sql import PASSWORD, gateway_sql, start_client, wait_gateway_sql

NS = "backups"
CLUSTER = "minimal"
GATEWAY = f"{CLUSTER}-zone1-gateway"
BUCKET = "e2e-backups"
PREFIX = "minimal/postgres"
MARKER = "krmfn-e2e-plaintext-7c21d4"


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


def _s3_server(group: ProcessGroup) -> str:
    """SeaweedFS on the node's address (pods reach it there), anonymous, with the bucket made."""
    master, volume, filer, s3_port, *grpc = _free_ports(8)
    weed = go_tool("seaweedfs", "weed")
    data = tempfile.mkdtemp(prefix="krmfn-e2e-s3-")
    group.start("weed", [weed, "server", f"-dir={data}", f"-ip={NODE_IP}", f"-ip.bind={NODE_IP}",
                         f"-master.port={master}", f"-volume.port={volume}", "-filer", f"-filer.port={filer}",
                         "-s3", f"-s3.port={s3_port}", *_grpc_flags(grpc)])
    base = f"http://{NODE_IP}:{s3_port}"

    def bucket() -> bool:
        with urllib.request.urlopen(urllib.request.Request(f"{base}/{BUCKET}", method="PUT"), timeout=5) as r:
            return r.status == 200
    wait_for(bucket, 120, "SeaweedFS S3", alive=group)
    return base


def _objects(base: str) -> dict[str, bytes]:
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
            break
        token = found.group(1)
    out = {}
    for key in keys:
        with urllib.request.urlopen(f"{base}/{BUCKET}/{urllib.request.quote(key)}", timeout=10) as resp:
            out[key] = resp.read()
    return out


def _cluster(s3: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    spec, extra = load_example("minimal", NS)
    spec["spec"]["databases"]["templates"][0]["spec"]["backup"] = {
        "s3": {"bucket": BUCKET, "region": "us-east-1", "endpoint": s3, "keyPrefix": PREFIX,
               "credentialsSecret": "s3-credentials"},
        "encryption": {"secretName": "backup-cipher"},
        "schedule": {"cron": "*/1 * * * *"},
    }
    return spec, extra


@pytest.fixture(scope="module")
def deployment(node: Node) -> Iterator[Deployment]:
    group = ProcessGroup(LOG_DIR / "backup-s3")
    try:
        s3 = _s3_server(group)
        ns = namespace(node, NS)
        install_crds(node)
        password_secret(node, ns, CLUSTER, PASSWORD)
        node.kubectl("create", "secret", "generic", "s3-credentials", "-n", ns,
                     "--from-literal=AWS_ACCESS_KEY_ID=e2e", "--from-literal=AWS_SECRET_ACCESS_KEY=e2e-secret")
        node.kubectl("create", "secret", "generic", "backup-cipher", "-n", ns,
                     "--from-literal=cipher-keys.json={\"1\": \"" + "e2e-cipher-passphrase-" * 3 + "\"}")
        spec, extra = _cluster(s3)
        rendered = render_cluster(spec, extra)
        tls_secret(node, ns, CLUSTER, rendered)
        start_client(node, ns)
        dep = Deployment(node, s3, time.monotonic())
        apply_render(node, fit_to_node(rendered))
        yield dep
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (LOG_DIR / "backup-times.txt").write_text("".join(f"{k}: {v:.1f}s\n" for k, v in dep.times.items()))
        for name in (ns, RESTORED):
            node.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", timeout=300)
    finally:
        group.stop()


def test_s3_bootstrap_serves_sql(deployment: Deployment) -> None:
    node = deployment.node
    _, took = wait_gateway_sql(node, NS, GATEWAY, "select 1", timeout=420)
    deployment.times["apply_to_first_query"] = time.monotonic() - deployment.applied_at
    out = gateway_sql(node, NS, GATEWAY, "create table secrets (v text); "
                                         f"insert into secrets select '{MARKER}' from generate_series(1, 2000); "
                                         "select count(*) from secrets")
    assert out.splitlines()[-1] == "2000"


def test_backups_are_encrypted_objects_in_the_bucket(deployment: Deployment) -> None:
    objects = _objects(deployment.s3)
    assert any("/backup/multigres/" in k for k in objects), sorted(objects)[:20]
    assert any("/archive/multigres/" in k for k in objects), sorted(objects)[:20]
    assert not [k for k, body in objects.items() if MARKER.encode() in body]
    assert not [k for k, body in objects.items() if body and not body.startswith(b"Salted__")]


def test_scheduled_backup_completes_within_one_period(deployment: Deployment) -> None:
    node = deployment.node
    start = time.monotonic()
    # The first Job starts at the next full minute; it takes the backup, then waits for its result.
    deadline = start + 60 + 180
    while time.monotonic() < deadline:
        jobs = get(node, NS, "jobs")["items"]
        done = [j for j in jobs if j["metadata"]["name"].startswith(f"{CLUSTER}-postgres-backup-")
                and j["status"].get("succeeded")]
        failed = [j for j in jobs if j["metadata"]["name"].startswith(f"{CLUSTER}-postgres-backup-")
                  and j["status"].get("failed")]
        assert not failed, node.kubectl("logs", "-n", NS, f"job/{failed[0]['metadata']['name']}", check=False).stdout
        if done:
            break
        time.sleep(2)
    else:
        raise AssertionError(node.kubectl("get", "-n", NS, "cronjobs,jobs,pods", "-o", "wide").stdout)
    deployment.times["schedule_wait_to_backup_complete"] = time.monotonic() - start
    manifests = [k for k in _objects(deployment.s3) if k.endswith("backup.manifest")]
    assert len(manifests) >= 2, manifests
    wait(node, NS, f"job/{done[0]['metadata']['name']}", "condition=Complete", timeout=10)


RESTORED = "restored"


def test_a_new_cluster_on_the_repository_restores_the_last_backup(deployment: Deployment) -> None:
    """Rows, a backup (the CronJob's own command, as a one-off Job), the source cluster deleted, a
    new cluster in another namespace on the same repository: it bootstraps from the latest backup."""
    node = deployment.node
    gateway_sql(node, NS, GATEWAY, "create table after_schedule (id int); "
                                   "insert into after_schedule select generate_series(1, 500)")
    node.kubectl("create", "job", "-n", NS, "--from", f"cronjob/{CLUSTER}-postgres-backup", "last-backup")
    wait(node, NS, "job/last-backup", "condition=Complete", timeout=300)
    node.kubectl("delete", "namespace", NS, "--wait=true", timeout=300)
    ns = namespace(node, RESTORED)
    password_secret(node, ns, CLUSTER, PASSWORD)
    node.kubectl("create", "secret", "generic", "s3-credentials", "-n", ns,
                 "--from-literal=AWS_ACCESS_KEY_ID=e2e", "--from-literal=AWS_SECRET_ACCESS_KEY=e2e-secret")
    node.kubectl("create", "secret", "generic", "backup-cipher", "-n", ns,
                 "--from-literal=cipher-keys.json={\"1\": \"" + "e2e-cipher-passphrase-" * 3 + "\"}")
    spec, extra = _cluster(deployment.s3)
    for d in [spec, *extra]:
        d["metadata"]["namespace"] = ns
    backup = spec["spec"]["databases"]["templates"][0]["spec"]["backup"]
    del backup["schedule"]
    backup["restore"] = {}
    rendered = render_cluster(spec, extra)
    tls_secret(node, ns, CLUSTER, rendered)
    start_client(node, ns)
    applied = time.monotonic()
    apply_render(node, fit_to_node(rendered))
    out, _ = wait_gateway_sql(node, ns, GATEWAY, "select count(*) from after_schedule", timeout=420)
    deployment.times["restore_apply_to_first_query"] = time.monotonic() - applied
    assert out.splitlines()[-1] == "500"
    assert gateway_sql(node, ns, GATEWAY, "select count(*) from secrets").splitlines()[-1] == "2000"
