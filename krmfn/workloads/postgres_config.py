"""`postgresConfig`: the user's PostgreSQL settings, memory-derived defaults, and how a pool's pods
read them.

pgctld live-includes every file named by POSTGRES_INITDB_EXTRA_CONF at the end of the
postgresql.conf it generates (`include_if_exists`, upstream go/common/constants/postgres.go and
go/services/pgctld/postgresconfig_gen.go), and postgres re-reads an included file on every start and
every reload. So a pool's settings are one file in a ConfigMap mounted as a directory (a subPath
mount would never see an update); a small reloader container calls pg_reload_conf() when the file
changes (kubelet swaps the mounted file in place), and the settings that need a restart
(`postmaster` context) are hashed into a pod-template annotation, so changing one rolls the pool
(with the primary's handover, handover.py).

The include line is written into postgresql.conf when pgctld initialises the data directory; a
standby restores the primary's data directory (postgresql.conf included), so every pod of a shard
reads the same path. A data directory initialised before this existed has no include line.
"""

from __future__ import annotations

import hashlib
import re

from .. import defaults, naming
from ..quantity import parse_quantity
from ..results import error
from . import objects
from .pg_settings import CONTEXTS

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.child_types import MultiShard, ResolvedPool
    from ..results import Result

MOUNT = "/etc/multigres/postgres-config"
FILE = "postgresql.krmfn.conf"
PATH = f"{MOUNT}/{FILE}"
ENV = "POSTGRES_INITDB_EXTRA_CONF"
RESTART_ANNOTATION = "multigres.com/postgres-restart-settings"

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

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_MI = 1024 * 1024


def problems(config: dict[str, Any] | None, path: str) -> list[Result]:
    """Refusals: settings Multigres manages, names postgres does not know (it would not start), and
    read-only ones. A dotted name (`myapp.flavor`) is a custom setting and always allowed."""
    out: list[Result] = []
    for name in config or {}:
        key, where = name.lower(), f"{path}.{name}"
        if not _NAME.match(name):
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


def memory_of(pool: ResolvedPool) -> int | None:
    """The postgres container's memory in bytes: its limit, else its request (always defaulted)."""
    resources = dict(pool.postgres.resources) if pool.postgres and pool.postgres.resources else {}
    for section in ("limits", "requests"):
        value = (resources.get(section) or {}).get("memory")
        if value is not None:
            return int(parse_quantity(value))
    return None


def memory_defaults(memory: int | None) -> dict[str, Any]:
    """shared_buffers 25 % and effective_cache_size 75 % of the container's memory (PostgreSQL's
    documented starting points, as CNPG and the operator size them); max_connections 25 per GiB,
    between 100 and 500 (each backend costs work_mem and its own memory; multipooler pools the
    clients). Without a memory figure, upstream's template values stay."""
    if not memory:
        return {}
    mib = memory // _MI
    return {"shared_buffers": f"{max(mib // 4, 16)}MB",
            "effective_cache_size": f"{max(mib * 3 // 4, 32)}MB",
            "max_connections": min(max(25 * memory // (1024 * _MI), 100), 500)}


def effective(pool: ResolvedPool) -> dict[str, Any]:
    """Memory defaults under the user's settings (cluster < template < pool, merged at resolve)."""
    user = dict(pool.postgres_config or {})
    lowered = {k.lower() for k in user}
    base = {k: v for k, v in memory_defaults(memory_of(pool)).items() if k not in lowered}
    return {**base, **user}


def literal(value: Any) -> str:
    """A postgresql.conf value: booleans on/off, numbers bare, everything else single-quoted."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def render(settings: dict[str, Any]) -> str:
    lines = ["# PostgreSQL settings rendered by multigres-krmfn (postgresConfig and memory defaults).",
             "# Live-included at the end of pgctld's postgresql.conf; edit the cluster, not this file."]
    lines += [f"{name} = {literal(value)}" for name, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


def restart_digest(settings: dict[str, Any]) -> str:
    """A digest of the settings only a restart applies: the pod-template annotation that rolls the
    pool when one changes (the others apply by reload, without a new pod)."""
    restart = sorted((k, literal(v)) for k, v in settings.items() if _LOWER.get(k.lower()) == "postmaster")
    return hashlib.sha256(repr(restart).encode()).hexdigest()[:16]


def configmap(child: MultiShard, pool: ResolvedPool, labels: dict[str, str]) -> dict[str, Any]:
    """The pool's settings file."""
    meta = child.metadata
    name = naming.postgres_config_configmap(meta["name"], pool.type, pool.cell)
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": objects.metadata(name, meta, labels, objects.WAVES["server"]),
            "data": {FILE: render(effective(pool))}}


def volume(shard: str, pool: ResolvedPool) -> dict[str, Any]:
    name = naming.postgres_config_configmap(shard, pool.type, pool.cell)
    return {"name": "postgres-config", "configMap": {"name": name, "defaultMode": 0o444}}


def annotate(statefulset: dict[str, Any], pool: ResolvedPool) -> None:
    """Put the restart-only settings' digest on the pod template: changing one rolls the pool."""
    template_meta = statefulset["spec"]["template"].setdefault("metadata", {})
    template_meta.setdefault("annotations", {})[RESTART_ANNOTATION] = restart_digest(effective(pool))


MOUNT_ENTRY = {"name": "postgres-config", "mountPath": MOUNT, "readOnly": True}
ENV_ENTRY = {"name": ENV, "value": PATH}

# Reloads postgres when the mounted file changes. The first sum is the one postgres started with;
# pg_reload_conf() is allowed on a primary and a standby alike. Over the pod's unix socket, with
# the postgres password (pg_hba asks for SCRAM on local connections too).
RELOADER = """\
set -u
file=$1 socket=$2 port=$3
export PGPASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
last=$(cksum <"$file" 2>/dev/null)
while sleep 5; do
  now=$(cksum <"$file" 2>/dev/null) || continue
  [ "$now" = "$last" ] && continue
  if psql -h "$socket" -p "$port" -U postgres -d postgres -Atqc 'SELECT pg_reload_conf()' >/dev/null; then
    echo "postgres-config: $file changed, postgres reloaded"
    last=$now
  fi
done
"""


def reloader_container(image: str, pull: dict[str, Any], env: list[dict[str, Any]],
                       mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """A small container on the pgctld image (it has bash and psql)."""
    args = ["-c", RELOADER, "postgres-config-reloader", PATH, f"{defaults.POOLER_DIR}/pg_sockets",
            str(defaults.PORTS["pgctld"]["postgres"])]
    return objects.container(
        "postgres-config-reloader", image, ["/bin/bash"], args, pull, env=env,
        resources={"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        mounts=mounts)
