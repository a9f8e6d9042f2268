"""`postgresConfig`: the user's PostgreSQL settings, memory-derived defaults, and how a pool's pods
read them.

pgctld live-includes every file named by POSTGRES_INITDB_EXTRA_CONF at the end of the
postgresql.conf it generates (`include_if_exists`, upstream go/common/constants/postgres.go and
go/services/pgctld/postgresconfig_gen.go), and postgres re-reads an included file on every start and
every reload. So a pool's settings are one file in the shard's ConfigMap (beside the pg_hba
template), mounted as a directory (a subPath mount would never see an update); a small reloader
container calls pg_reload_conf() when the file
changes (kubelet swaps the mounted file in place), and the settings that need a restart
(`postmaster` context) are hashed into a pod-template annotation, so changing one rolls the pool
(with the primary's handover, handover.py).

The include line is written into postgresql.conf when pgctld initialises the data directory; a
standby restores the primary's data directory (postgresql.conf included), so every pod of a shard
reads the same path. A data directory initialised before this existed has no include line.
"""

from __future__ import annotations

from .. import defaults
from ..naming import sha256_hex
from ..postgres_settings import context_of
from ..quantity import parse_quantity
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import ResolvedPool

ENV = "POSTGRES_INITDB_EXTRA_CONF"
RESTART_ANNOTATION = "multigres.com/postgres-restart-settings"

_MI = 1024 * 1024


def memory_of(pool: ResolvedPool) -> int | None:
    """The postgres container's memory in bytes: its limit, else its request (always defaulted)."""
    resources = dict(pool.postgres.resources) if pool.postgres and pool.postgres.resources else {}
    for section in ("limits", "requests"):
        value = (resources.get(section) or {}).get("memory")
        if value is not None:
            return int(parse_quantity(value))
    return None


def memory_defaults(memory: int | None) -> dict[str, str]:
    """shared_buffers 25 % and effective_cache_size 75 % of the container's memory (PostgreSQL's
    documented starting points, as CNPG and the operator size them); max_connections 25 per GiB,
    between 100 and 500 (each backend costs work_mem and its own memory; multipooler pools the
    clients). Without a memory figure, upstream's template values stay."""
    if not memory:
        return {}
    mib = memory // _MI
    return {"shared_buffers": f"{max(mib // 4, 16)}MB",
            "effective_cache_size": f"{max(mib * 3 // 4, 32)}MB",
            "max_connections": str(min(max(25 * memory // (1024 * _MI), 100), 500))}


def effective(pool: ResolvedPool) -> dict[str, str]:
    """The render's defaults and memory defaults under the user's settings (cluster < template <
    pool, merged at resolve)."""
    user = dict(pool.postgres_config or {})
    lowered = {k.lower() for k in user}
    rendered = {**defaults.POSTGRES_SETTINGS, **memory_defaults(memory_of(pool))}
    base = {k: v for k, v in rendered.items() if k not in lowered}
    return {**base, **user}


def literal(value: str) -> str:
    """A postgresql.conf value, always single-quoted (postgres takes '200' for a number as well)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def render(settings: dict[str, str]) -> str:
    lines = ["# PostgreSQL settings rendered by multigres-krmfn (postgresConfig and the render's defaults).",
             "# Live-included at the end of pgctld's postgresql.conf; edit the cluster, not this file."]
    lines += [f"{name} = {literal(value)}" for name, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


def restart_digest(settings: dict[str, str]) -> str:
    """A digest of the settings only a restart applies: the pod-template annotation that rolls the
    pool when one changes (the others apply by reload, without a new pod)."""
    restart = sorted((k, literal(v)) for k, v in settings.items() if context_of(k) == "postmaster")
    return sha256_hex(repr(restart).encode())[:16]  # not hashlib: OpenSSL at start-up


def file_name(pool: ResolvedPool) -> str:
    """The pool's key in the shard's ConfigMap (pool type and cell name a pool, both key-safe)."""
    return f"postgresql-{pool.type}-{pool.cell}.conf"


def files(pools: list[ResolvedPool]) -> dict[str, str]:
    """Every pool's settings file, for the shard's ConfigMap (one object per shard, not per pool:
    a render at the size limits must stay within the input limits of the next render)."""
    return {file_name(pool): render(effective(pool)) for pool in pools}


def path(pool: ResolvedPool) -> str:
    return f"{defaults.PG_HBA_MOUNT}/{file_name(pool)}"


def env_entry(pool: ResolvedPool) -> dict[str, str]:
    return {"name": ENV, "value": path(pool)}


def annotate(statefulset: dict[str, Any], pool: ResolvedPool) -> None:
    """Put the restart-only settings' digest on the pod template: changing one rolls the pool."""
    template_meta = statefulset["spec"]["template"].setdefault("metadata", {})
    template_meta.setdefault("annotations", {})[RESTART_ANNOTATION] = restart_digest(effective(pool))


# Reloads postgres when the mounted file changes. The first sum is the one postgres started with;
# pg_reload_conf() is allowed on a primary and a standby alike. Over the pod's unix socket, with
# the postgres password (pg_hba asks for SCRAM on local connections too).
# bash is the container's PID 1, which ignores SIGTERM unless it traps it: without the trap the pod
# waited out its whole grace period (90 s) on every stop, and the sleep runs in the background so
# the trap is handled at once.
RELOADER = """\
set -u
trap 'exit 0' TERM
file=$1 socket=@SOCKET@ port=@PORT@
PGPASSWORD=$(cat @PASSWORD@)
export PGPASSWORD
last=$(cksum <"$file" 2>/dev/null)
while sleep 5 & wait $!; do
  now=$(cksum <"$file" 2>/dev/null) || continue
  [ "$now" = "$last" ] && continue
  if psql -h "$socket" -p "$port" -U postgres -d postgres -Atqc 'SELECT pg_reload_conf()' >/dev/null; then
    echo "postgres-config: $file changed, postgres reloaded"
    last=$now
  fi
done
"""


def reloader_container(image: str, pool: ResolvedPool, pull: dict[str, Any], password_file: str,
                       mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """A small container on the pgctld image (it has bash and psql); `mounts` give it the data volume
    (postgres' socket), the password and the shard's ConfigMap. No requests of its own: the pod's
    other containers make it Burstable, and a render at the size limits must stay small."""
    script = (RELOADER.replace("@SOCKET@", f"{defaults.POOLER_DIR}/pg_sockets")
              .replace("@PORT@", str(defaults.PORTS["pgctld"]["postgres"])).replace("@PASSWORD@", password_file))
    out = objects.container("postgres-config-reloader", image, ["/bin/bash"], ["-c", script, "reloader", path(pool)],
                            pull, mounts=mounts)
    del out["resources"]
    return out
