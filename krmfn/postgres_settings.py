"""What PostgreSQL settings a user may write in `postgresConfig`, and which need a restart.

Refused: the settings Multigres sets or depends on (read off upstream at the pinned commit: what
pgctld passes on postgres' command line, what its postgresql.conf template fixes for replication,
and what multipooler sets with ALTER SYSTEM or in postgresql.auto.conf), names the pgctld image's
PostgreSQL does not know (postgres refuses to start on an unknown name in postgresql.conf), and
read-only (`internal`) settings. A dotted name is a custom setting and always allowed.
"""

from __future__ import annotations

import re

from .pg_settings import CONTEXTS
from .results import error

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from .results import Result

# Settings Multigres itself sets or depends on (upstream at the pinned commit); a value here would
# be overridden (command line, ALTER SYSTEM) or would break replication, backups or failover.
MANAGED = {
    "port": "pgctld passes it on postgres' command line (--pg-port)",
    "listen_addresses": "pgctld passes it on postgres' command line",
    "unix_socket_directories": "pgctld passes it on postgres' command line (the pooler reaches postgres there)",
    "config_file": "pgctld passes it on postgres' command line",
    "data_directory": "PGDATA is set by the pod",
    "hba_file": "pgctld renders pg_hba.conf from the shard's template",
    "ident_file": "pgctld writes it",
    "primary_conninfo": "multipooler sets it (ALTER SYSTEM) when it points a standby at the primary",
    "primary_slot_name": "multipooler sets it (ALTER SYSTEM) for replication slots",
    "restore_command": "multipooler sets it (ALTER SYSTEM) for restores from pgBackRest",
    "archive_mode": "multipooler configures WAL archiving to pgBackRest (postgresql.auto.conf)",
    "archive_command": "multipooler configures WAL archiving to pgBackRest (postgresql.auto.conf)",
    "archive_library": "it would replace multipooler's archive_command",
    "synchronous_standby_names": "multipooler sets it (ALTER SYSTEM) from the durability policy",
    "synchronous_commit": "multipooler sets it (ALTER SYSTEM) from the durability policy",
    "synchronized_standby_slots": "multipooler sets it (ALTER SYSTEM) for failover slots",
    "sync_replication_slots": "multipooler sets it (ALTER SYSTEM) for failover slots",
    "hot_standby_feedback": "multipooler sets it (ALTER SYSTEM) with replication slots",
    "hot_standby": "standbys must serve reads and report their state",
    "wal_level": "Multigres' template sets logical; replication and failover need it",
    "wal_log_hints": "pg_rewind (rejoining a former primary) needs it on",
    "max_wal_senders": "every standby and pgBackRest stream WAL through it",
    "max_replication_slots": "multipooler keeps a slot per standby",
    "password_encryption": "the pg_hba template authenticates with scram-sha-256",
    "cluster_name": "Multigres' template sets it",
}

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$"  # compiled by `re` on first use
_MI = 1024 * 1024


def problems(config: dict[str, Any] | None, path: str) -> list[Result]:
    """Refusals: settings Multigres manages, names postgres does not know (it would not start), and
    read-only ones. A dotted name (`myapp.flavor`) is a custom setting and always allowed."""
    out: list[Result] = []
    for name in config or {}:
        key, where = name.lower(), f"{path}.{name}"
        if not re.match(_NAME, name):
            out.append(error(f"{name!r} is not a PostgreSQL setting name (letters, digits, '_', one '.' for "
                             "a custom setting); fix or remove it.", where))
        elif key in MANAGED:
            out.append(error(f"{name} is managed by Multigres ({MANAGED[key]}); remove it from "
                             "postgresConfig.", where))
        elif "." not in key and key not in _LOWER:
            out.append(error(f"{name} is not a setting of the pgctld image's PostgreSQL (postgres would not "
                             "start); check the spelling, or use a dotted name for a custom setting.", where))
        elif _LOWER.get(key) == "internal":
            out.append(error(f"{name} is read-only (set when PostgreSQL is built or initialised); remove it.",
                             where))
    return out


_LOWER = {k.lower(): v for k, v in CONTEXTS.items()}


def context_of(name: str) -> str | None:
    """The setting's context (`postmaster` needs a restart); None for a custom or unknown name."""
    return _LOWER.get(name.lower())
