"""Day-2 settings a cluster carries: PostgreSQL settings (`postgresConfig`) and log levels.

`postgresConfig` is a map of postgresql.conf settings, written at cluster, template (shardPool) and
pool level; maps merge with the usual precedence (cluster < template < pool overrides or inline
fields), a `null` in overrides removes a key. What is refused and how it is rendered:
krmfn/workloads/postgres_config.py. `logLevels` sets upstream's `--log-level` per component.
"""

from __future__ import annotations

from typing import Literal

from .common import Model

# Values are strings, as postgresql.conf (and CloudNativePG's `parameters`) take them: "256MB",
# "200", "on". A structural schema has no string-or-number-or-boolean type.
PostgresConfig = dict[str, str]

# servenv's --log-level (go/common/servenv/logging.go: debug, info, warn, error; anything else is
# silently info upstream, so the schema refuses it instead).
LogLevel = Literal["debug", "info", "warn", "error"]


class LogLevels(Model):
    """`--log-level` per component; unset keeps upstream's default (info)."""

    multiadmin: LogLevel | None = None
    multigateway: LogLevel | None = None
    multiorch: LogLevel | None = None
    multipooler: LogLevel | None = None
    pgctld: LogLevel | None = None
