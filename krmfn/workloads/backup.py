"""Backups beyond the repository: the cipher key file and cloud identity of the pooler pods, and a
CronJob per database with a schedule.

The CronJob runs the multigres image's own CLI, `multigres cluster backup` (go/cmd/multigres/command/
cluster/backup.go): it calls multiadmin's Backup, polls GetBackupJobStatus until the job completes
and exits non-zero when it fails, so a failed backup is a failed Job. That CLI backs up table group
`default`, shard `0-inf`, the only ones today's multipooler serves. Retention is multiadmin's
ExpireBackups with pgBackRest overrides, on its REST route POST /api/v1/backups/expire
(proto/multiadminservice.proto, served by go/services/multiadmin/init.go); the image has no curl,
so perl's core HTTP::Tiny sends it (the image root is Debian with postgresql's perl).
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import ResolvedBackup
    from ..resolve.facts import DatabaseFacts
    from .context import ClusterContext

# upstream's default table group and shard (go/common/constants/multischema.go).
TABLE_GROUP, SHARD = "default", "0-inf"

# POSIX sh; every value comes from the environment, none is spliced into the script.
SCRIPT = """\
set -eu
multigres cluster backup --admin-server="$MULTIADMIN_GRPC" --database="$DATABASE" --type="$BACKUP_TYPE"
if [ -n "${EXPIRE_REQUEST:-}" ]; then
  perl -MHTTP::Tiny -e '
    my $r = HTTP::Tiny->new(timeout => 600)->post("http://$ENV{MULTIADMIN_HTTP}/api/v1/backups/expire",
      {headers => {"content-type" => "application/json"}, content => $ENV{EXPIRE_REQUEST}});
    print "expire: $r->{status} $r->{content}\\n";
    exit($r->{success} ? 0 : 1);'
fi
"""


# ---- the pooler pods ----

def cipher_file(backup: ResolvedBackup) -> str | None:
    """Where multipooler reads the cipher key file, or None when the repository is not encrypted."""
    return f"{defaults.CIPHER_KEY_DIR}/{defaults.CIPHER_KEY}" if backup.cipher is not None else None


def cipher_flags(backup: ResolvedBackup) -> list[str]:
    """multipooler --pgbackrest-cipher-key-file (go/services/multipooler/init.go): multipooler writes
    the passphrase into the pgBackRest configuration it generates, so pgctld needs no flag."""
    path = cipher_file(backup)
    return [f"--pgbackrest-cipher-key-file={path}"] if path else []


def cipher_mounts(backup: ResolvedBackup) -> list[dict[str, Any]]:
    if backup.cipher is None:
        return []
    return [{"name": "pgbackrest-cipher", "mountPath": defaults.CIPHER_KEY_DIR, "readOnly": True}]


def cipher_volumes(backup: ResolvedBackup) -> list[dict[str, Any]]:
    """The user's Secret key, mounted under one fixed file name, readable by the pod's group only."""
    cipher = backup.cipher
    if cipher is None:
        return []
    return [{"name": "pgbackrest-cipher", "secret": {
        "secretName": cipher.secret_name, "defaultMode": 0o440,
        "items": [{"key": cipher.key, "path": defaults.CIPHER_KEY}]}}]


def pod_identity(backup: ResolvedBackup) -> dict[str, Any]:
    """The pooler pods' ServiceAccount for cloud identity. The API token stays unmounted: EKS' IRSA
    webhook adds a projected token volume of its own (audience sts.amazonaws.com) and the
    AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE env that upstream's config looks for."""
    account = backup.s3.service_account_name if backup.s3 is not None else None
    return {"serviceAccountName": account} if account else {}


# ---- the scheduled backup ----

def expire_request(db: DatabaseFacts) -> str | None:
    """The ExpireBackups body (canonical proto3 JSON), or None without a retention.

    Overrides are pgBackRest option names with `_` for `-` (go/common/backup/args.go); repo1 is the
    authoritative repository (go/common/backup/clientconfig.go)."""
    retention = db.retention
    if retention is None:
        return None
    overrides = {"repo1_retention_full": str(retention.full),
                 "repo1_retention_full_type": retention.full_type or "count"}
    import json  # here: only a database with retention needs it, and importing it costs every start-up

    return json.dumps({"database": db.name, "tableGroup": TABLE_GROUP, "shard": SHARD, "overrides": overrides},
                      separators=(",", ":"), sort_keys=True)


def _env(db: DatabaseFacts, ctx: ClusterContext) -> list[dict[str, Any]]:
    host = objects.service_host(naming.multiadmin_name(ctx.name), ctx.namespace, ctx.cluster_domain)
    ports = defaults.PORTS["multiadmin"]
    schedule = db.schedule
    env = [{"name": "MULTIADMIN_GRPC", "value": f"{host}:{ports['grpc']}"},
           {"name": "MULTIADMIN_HTTP", "value": f"{host}:{ports['http']}"},
           {"name": "DATABASE", "value": db.name},
           {"name": "BACKUP_TYPE", "value": (schedule.type if schedule else None) or defaults.BACKUP_TYPE}]
    body = expire_request(db)
    if body is not None:
        env.append({"name": "EXPIRE_REQUEST", "value": body})
    return env


def backup_cronjob(db: DatabaseFacts, ctx: ClusterContext) -> dict[str, Any]:
    schedule = db.schedule
    assert schedule is not None
    labels = naming.labels(ctx.name, "backup", database=db.name)
    tmp_vol, tmp_mount = objects.tmp_volume()
    container = objects.container("backup", ctx.images.multiadmin, ["/bin/sh", "-c", SCRIPT], [], ctx.pull,
                                  env=_env(db, ctx), mounts=[tmp_mount])
    pod = objects.pod_spec([container], ctx.pull, defaults.NONROOT_UID, volumes=[tmp_vol],
                           restart_policy="Never", placement=ctx.placement)
    # One attempt per schedule: a failed backup fails its Job at once and stays listed.
    job = {"backoffLimit": 0, "template": {"metadata": {"labels": labels}, "spec": pod}}
    spec: dict[str, Any] = {"schedule": schedule.cron.strip()}
    if schedule.time_zone:
        spec["timeZone"] = schedule.time_zone
    spec.update({"concurrencyPolicy": "Forbid", "suspend": bool(schedule.suspend),
                 "successfulJobsHistoryLimit": defaults.BACKUP_JOB_HISTORY,
                 "failedJobsHistoryLimit": defaults.BACKUP_JOB_HISTORY, "jobTemplate": {"spec": job}})
    meta = objects.metadata(naming.backup_schedule(ctx.name, db.name), ctx.metadata, labels,
                            objects.WAVES["gateway"])
    return objects.obj("batch/v1", "CronJob", meta, spec)


def build_backup_schedules(ctx: ClusterContext) -> list[dict[str, Any]]:
    """A CronJob for each database with backup.schedule (none without multiadmin to call)."""
    if ctx.multiadmin is None:
        return []
    return [backup_cronjob(db, ctx) for db in ctx.databases if db.schedule is not None]
