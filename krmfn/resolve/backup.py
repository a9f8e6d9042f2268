"""A database's backup options beyond the repository: cipher, schedule, retention, restore.

What is offered follows upstream at the pinned commit (docs/backup.md): the cipher key file of
multipooler --pgbackrest-cipher-key-file, multiadmin's Backup and ExpireBackups, and the restore a
pooler with an empty data directory does by itself (the latest complete backup, no target).
"""

from __future__ import annotations

import re

from .. import defaults
from ..api.generated import child_types as ct
from ..results import Result, error, warning

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from ..api.cluster import BackupSpec
    from .facts import DatabaseFacts

# The schedule syntax Kubernetes' CronJob accepts: five fields or one of its macros.
_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_FIELD = r"^[0-9A-Za-z*?/,\-]+$"  # compiled by `re` on first use: not at every start-up


def cipher(backup: BackupSpec | None) -> ct.RepositoryCipher | None:
    """The Secret and key of the cipher key file, the key defaulted."""
    if backup is None or backup.encryption is None:
        return None
    enc = backup.encryption
    return ct.RepositoryCipher(secret_name=enc.secret_name, key=enc.key or defaults.CIPHER_KEY)


def cron_problem(cron: str) -> str | None:
    """Why a schedule is not one Kubernetes accepts, or None."""
    text = cron.strip()
    if text in _MACROS:
        return None
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "Kubernetes refuses a time zone in the schedule; set backup.schedule.timeZone instead"
    fields = text.split()
    if len(fields) != 5 or not all(re.match(_FIELD, f) for f in fields):
        return "it is not five cron fields (minute hour day-of-month month day-of-week) or an @macro"
    return None


def _schedule_problems(backup: BackupSpec, path: str) -> list[Result]:
    out = []
    if backup.schedule is not None:
        problem = cron_problem(backup.schedule.cron)
        if problem:
            out.append(error(f"backup.schedule.cron {backup.schedule.cron!r} is not a schedule: {problem}.",
                             f"{path}.backup.schedule.cron"))
    retention = backup.retention
    if retention is None:
        return out
    if backup.schedule is None:
        out.append(error("backup.retention is applied by the scheduled backup Job after each backup; set "
                         "backup.schedule or remove backup.retention.", f"{path}.backup.retention"))
    if (retention.full_type or "count") == "count" and retention.full > defaults.UPSTREAM_RETENTION_FULL:
        out.append(error(f"backup.retention.full {retention.full} cannot be kept: upstream's pgBackRest "
                         f"configuration keeps {defaults.UPSTREAM_RETENTION_FULL} full backups and expires "
                         f"the rest after every backup. Use at most {defaults.UPSTREAM_RETENTION_FULL}.",
                         f"{path}.backup.retention.full"))
    return out


def _restore_problems(backup: BackupSpec, path: str) -> list[Result]:
    restore = backup.restore
    if restore is None:
        return []
    out = []
    if backup.s3 is None:
        out.append(error("backup.restore needs the existing repository, and a new cluster's filesystem repository "
                         "is a new, empty claim. Point backup.s3 at the source repository (same bucket, "
                         "keyPrefix and database name).", f"{path}.backup.restore"))
    for field, value in (("targetTime", restore.target_time), ("targetLSN", restore.target_lsn)):
        if value is not None:
            out.append(error(f"backup.restore.{field}: the pinned Multigres restores the latest complete backup "
                             "and replays all archived WAL (pgbackrest restore --type=standby); it has no "
                             f"point-in-time target. Remove {field}.", f"{path}.backup.restore.{field}"))
    return out


def problems(backup: BackupSpec | None, path: str) -> list[Result]:
    """Every problem of the schedule, the retention and the restore of one database."""
    if backup is None:
        return []
    return _schedule_problems(backup, path) + _restore_problems(backup, path)


def multi_cell_problems(facts: DatabaseFacts, path: str) -> list[Result]:
    """A filesystem repository is one claim per shard that every pod of the shard mounts: across
    cells (zones) that needs a regional ReadWriteMany volume, which most clouds' defaults lack."""
    if facts.backup.filesystem is None:
        return []
    cells = {p.cell for tg in facts.table_groups for p in tg.pools}
    if len(cells) < 2:
        return []
    return [warning(f"database {facts.name!r} has pools in {len(cells)} cells on a filesystem backup repository: "
                    "every pod of a shard must mount the same claim, so the volume must be ReadWriteMany and "
                    "reachable from every cell's zone. Use backup.s3 for a multi-cell database (docs/backup.md).",
                    f"{path}.backup")]


def shared_repository_problems(databases: list[DatabaseFacts]) -> list[Result]:
    """Upstream's S3 repository path is `/<keyPrefix>/multigres` whatever the database
    (go/common/backup/config.go, PgBackRestConfig): two databases on one bucket and prefix would
    write one stanza."""
    out: list[Result] = []
    seen: dict[tuple[str, str, str], str] = {}
    for d, db in enumerate(databases):
        s3 = db.backup.s3
        if s3 is None:
            continue
        place = (s3.endpoint or "", s3.bucket, (s3.key_prefix or "").strip("/"))
        if place in seen:
            out.append(error(f"database {db.name!r} uses the S3 repository of database {seen[place]!r} (bucket "
                             f"{s3.bucket!r}, keyPrefix {s3.key_prefix or ''!r}): the repository path does not "
                             "include the database, so both would write one pgBackRest stanza. Give each database "
                             "its own keyPrefix.", f"spec.databases.templates[{d}].spec.backup.s3.keyPrefix"))
        else:
            seen[place] = db.name
    return out
