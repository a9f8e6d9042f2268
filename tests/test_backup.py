"""Backups beyond the repository (docs/backup.md): cipher, cloud identity, schedule, retention, restore."""

from __future__ import annotations

import copy
import http.server
import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from consistency import args_of
from helpers import EXAMPLES, objects, resource_list, run_text

from krmfn import yamlio
from krmfn.workloads.backup import SCRIPT

MINIMAL = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
S3 = {"bucket": "bk", "region": "eu-west-1", "endpoint": "s3.test:8333", "credentialsSecret": "s3-creds"}
DB_PATH = "spec.databases.templates[0].spec"


def _cluster(backup: dict[str, Any], cells: int = 1) -> dict[str, Any]:
    obj = copy.deepcopy(MINIMAL)
    obj["spec"]["databases"]["templates"][0]["spec"]["backup"] = backup
    if cells == 2:
        obj["spec"]["cells"]["templates"].append({"name": "zone2"})
        pools = obj["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"]
        pools.append({"type": "readOnly", "cell": "zone2"})
    return obj


def _render(backup: dict[str, Any], cells: int = 1):  # noqa: ANN202 - the function's Output
    return run_text(resource_list(_cluster(backup, cells)))


def _errors(out: Any) -> dict[str, str]:
    return {r.path: r.message for r in out.results if r.severity == "error"}


def _pooler_pod(out: Any) -> dict[str, Any]:
    (sts,) = objects(out, "StatefulSet")[-1:]
    return sts["spec"]["template"]["spec"]


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == name)


# ---- encryption ----

def test_cipher_key_file_is_the_secrets_key_mounted_for_multipooler() -> None:
    out = _render({"s3": S3, "encryption": {"secretName": "repo-cipher", "key": "keys.json"}})
    pod = _pooler_pod(out)
    pooler = _container(pod, "multipooler")
    path = args_of(pooler)["--pgbackrest-cipher-key-file"]
    mount = next(m for m in pooler["volumeMounts"] if m["name"] == "pgbackrest-cipher")
    assert path == f"{mount['mountPath']}/cipher-keys.json" and mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == "pgbackrest-cipher")
    assert volume["secret"] == {"secretName": "repo-cipher", "defaultMode": 0o440,
                                "items": [{"key": "keys.json", "path": "cipher-keys.json"}]}
    # pgctld needs no key: multipooler writes the passphrase into the pgBackRest configuration.
    assert "--pgbackrest-cipher-key-file" not in args_of(_container(pod, "pgctld"))


def test_cipher_key_defaults_to_cipher_keys_json() -> None:
    pod = _pooler_pod(_render({"encryption": {"secretName": "repo-cipher"}}))
    volume = next(v for v in pod["volumes"] if v["name"] == "pgbackrest-cipher")
    assert volume["secret"]["items"] == [{"key": "cipher-keys.json", "path": "cipher-keys.json"}]


def test_no_cipher_flag_without_encryption() -> None:
    pod = _pooler_pod(_render({"s3": S3}))
    assert "--pgbackrest-cipher-key-file" not in args_of(_container(pod, "multipooler"))
    assert all(v["name"] != "pgbackrest-cipher" for v in pod["volumes"])


# ---- cloud identity ----

def test_service_account_for_cloud_identity_keeps_the_api_token_unmounted() -> None:
    s3 = {"bucket": "bk", "region": "us-east-1", "serviceAccountName": "pgbackrest-irsa"}
    pod = _pooler_pod(_render({"s3": s3}))
    assert pod["serviceAccountName"] == "pgbackrest-irsa"
    assert pod["automountServiceAccountToken"] is False
    assert not [e for e in _container(pod, "multipooler").get("env", []) if e["name"].startswith("AWS_")]


def test_no_service_account_by_default() -> None:
    assert "serviceAccountName" not in _pooler_pod(_render({"s3": S3}))


# ---- schedule and retention ----

def _cronjob(out: Any) -> dict[str, Any]:
    (job,) = objects(out, "CronJob")
    return job


def _env(cronjob: dict[str, Any]) -> dict[str, str]:
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"]}


def test_schedule_renders_a_cronjob_that_backs_up_through_multiadmin() -> None:
    out = _render({"s3": S3, "schedule": {"cron": "*/5 * * * *", "type": "differential", "timeZone": "Etc/UTC"}})
    assert not _errors(out)
    job = _cronjob(out)
    assert job["metadata"]["name"] == "minimal-postgres-backup"
    spec = job["spec"]
    assert spec["schedule"] == "*/5 * * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid" and spec["suspend"] is False
    template = spec["jobTemplate"]["spec"]
    assert template["backoffLimit"] == 0 and template["template"]["spec"]["restartPolicy"] == "Never"
    (container,) = template["template"]["spec"]["containers"]
    assert container["image"] == objects(out, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert container["command"] == ["/bin/sh", "-c", SCRIPT]
    env = _env(job)
    assert env == {"MULTIADMIN_GRPC": "minimal-multiadmin.default.svc.cluster.local:15070",
                   "MULTIADMIN_HTTP": "minimal-multiadmin.default.svc.cluster.local:15000",
                   "DATABASE": "postgres", "BACKUP_TYPE": "differential"}


def test_backup_type_defaults_to_full() -> None:
    assert _env(_cronjob(_render({"schedule": {"cron": "@daily"}})))["BACKUP_TYPE"] == "full"


def test_no_cronjob_without_a_schedule() -> None:
    assert objects(_render({"s3": S3}), "CronJob") == []


def test_retention_is_an_expire_request_with_pgbackrest_overrides() -> None:
    out = _render({"s3": S3, "schedule": {"cron": "@daily"}, "retention": {"full": 14, "fullType": "time"}})
    assert not _errors(out)
    body = json.loads(_env(_cronjob(out))["EXPIRE_REQUEST"])
    assert body == {"database": "postgres", "tableGroup": "default", "shard": "0-inf",
                    "overrides": {"repo1_retention_full": "14", "repo1_retention_full_type": "time"}}


def test_retention_count_above_upstreams_seven_is_an_error() -> None:
    out = _render({"s3": S3, "schedule": {"cron": "@daily"}, "retention": {"full": 8}})
    assert "7 full backups" in _errors(out)[f"{DB_PATH}.backup.retention.full"]


def test_retention_without_a_schedule_is_an_error() -> None:
    out = _render({"s3": S3, "retention": {"full": 3}})
    assert "set backup.schedule" in _errors(out)[f"{DB_PATH}.backup.retention"]


@pytest.mark.parametrize("cron", ["* * * *", "TZ=UTC 0 3 * * *", "@often", "0 3 * * * *"])
def test_a_schedule_kubernetes_refuses_is_an_error(cron: str) -> None:
    out = _render({"schedule": {"cron": cron}})
    assert f"{DB_PATH}.backup.schedule.cron" in _errors(out)


# ---- restore ----

def test_restore_from_an_s3_repository_is_accepted() -> None:
    out = _render({"s3": S3, "restore": {}})
    assert not _errors(out)


def test_restore_on_a_filesystem_repository_is_an_error() -> None:
    assert "backup.s3" in _errors(_render({"restore": {}}))[f"{DB_PATH}.backup.restore"]


@pytest.mark.parametrize("field", ["targetTime", "targetLSN"])
def test_point_in_time_restore_is_refused(field: str) -> None:
    out = _render({"s3": S3, "restore": {field: "x"}})
    assert "no point-in-time target" in _errors(out)[f"{DB_PATH}.backup.restore.{field}"]


# ---- the filesystem default across cells ----

def _multi_cell_warnings(out: Any) -> list[str]:
    return [r.message for r in out.results if r.severity == "warning" and r.path == f"{DB_PATH}.backup"]


def test_multi_cell_database_on_a_filesystem_repository_is_a_warning_naming_s3() -> None:
    (message,) = _multi_cell_warnings(_render({}, cells=2))
    assert "2 cells" in message and "backup.s3" in message


def test_no_multi_cell_warning_with_s3_or_one_cell() -> None:
    assert _multi_cell_warnings(_render({"s3": S3}, cells=2)) == []
    assert _multi_cell_warnings(_render({}, cells=1)) == []


# ---- the Job's script, run by sh and perl against a stand-in multigres CLI and multiadmin ----

class _Admin(http.server.BaseHTTPRequestHandler):
    status = 200
    requests: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        _Admin.requests.append((self.path, body))
        self.send_response(_Admin.status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"expiredBackupIds":[]}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def admin():  # noqa: ANN201 - a fixture
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Admin)
    _Admin.requests, _Admin.status = [], 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _run_script(tmp_path: Path, admin_port: int, cli_exit: int, expire: str | None) -> subprocess.CompletedProcess:
    cli = tmp_path / "multigres"
    cli.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/cli-args\nexit {cli_exit}\n')
    cli.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "MULTIADMIN_GRPC": "admin:15070",
           "MULTIADMIN_HTTP": f"127.0.0.1:{admin_port}", "DATABASE": "postgres", "BACKUP_TYPE": "full"}
    if expire is not None:
        env["EXPIRE_REQUEST"] = expire
    return subprocess.run(["/bin/sh", "-c", SCRIPT], env=env, capture_output=True, text=True, check=False)


def test_script_backs_up_then_expires(tmp_path: Path, admin) -> None:  # noqa: ANN001
    ran = _run_script(tmp_path, admin.server_port, 0, '{"database":"postgres"}')
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "cli-args").read_text().split() == [
        "cluster", "backup", "--admin-server=admin:15070", "--database=postgres", "--type=full"]
    assert _Admin.requests == [("/api/v1/backups/expire", {"database": "postgres"})]


def test_a_failed_backup_fails_the_job_and_expires_nothing(tmp_path: Path, admin) -> None:  # noqa: ANN001
    ran = _run_script(tmp_path, admin.server_port, 1, '{"database":"postgres"}')
    assert ran.returncode != 0 and _Admin.requests == []


def test_a_failed_expire_fails_the_job(tmp_path: Path, admin) -> None:  # noqa: ANN001
    _Admin.status = 500
    ran = _run_script(tmp_path, admin.server_port, 0, '{"database":"postgres"}')
    assert ran.returncode != 0 and "expire: 500" in ran.stdout


def test_without_retention_the_script_only_backs_up(tmp_path: Path, admin) -> None:  # noqa: ANN001
    ran = _run_script(tmp_path, admin.server_port, 0, None)
    assert ran.returncode == 0 and _Admin.requests == []


def test_every_backup_option_renders_objects_kubernetes_accepts() -> None:
    """The CronJob, the cipher volume and the ServiceAccount, against Kubernetes' own schema."""
    import kubernetes_validate
    from test_k8s_schema import K8S_VERSION, builtin

    s3 = {**S3, "serviceAccountName": "irsa"}
    out = _render({"s3": s3, "encryption": {"secretName": "c"}, "retention": {"full": 2},
                   "schedule": {"cron": "0 3 * * *", "timeZone": "Etc/UTC", "suspend": True}})
    objs = builtin(objects(out))
    assert "CronJob" in {o["kind"] for o in objs}
    for obj in objs:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_two_databases_on_one_s3_bucket_and_prefix_is_an_error() -> None:
    obj = _cluster({"s3": S3})
    second = copy.deepcopy(obj["spec"]["databases"]["templates"][0])
    second["name"] = "other"
    obj["spec"]["databases"]["templates"].append(second)
    errors = _errors(run_text(resource_list(obj)))
    assert "own keyPrefix" in errors["spec.databases.templates[1].spec.backup.s3.keyPrefix"]
    second["spec"]["backup"]["s3"] = {**S3, "keyPrefix": "other"}
    assert "spec.databases.templates[1].spec.backup.s3.keyPrefix" not in _errors(run_text(resource_list(obj)))
