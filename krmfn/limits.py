"""Every bound the function enforces, in one place (docs/limits.md; docs/safety.md for the rest).

The function runs on whatever a Git repository holds (Argo CD's repo-server, kpt on users'
files). Each limit keeps time and memory proportional to a small input, and each is reported as
an error result that names the limit, never as a hang, an exhausted pod or a traceback.

The defaults are safe for a shared Argo CD repo-server. A platform team rendering a big fleet
raises the render limits by name in the function config (`limits: {maxShards: 1024}`); each
stays below its CEILING, so a raised limit still bounds time and memory linearly. The reading
limits cannot be raised there: the config is read under them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Mapping

# ---- reading (fixed: the function config itself is read under them) ----
MAX_INPUT_BYTES = 32 * 1024 * 1024  # all input of one run: a ResourceList on stdin, or every file `render` reads
MAX_YAML_NODES = 1_000_000  # YAML nodes of the whole input, aliases expanded ("billion laughs")
MAX_YAML_DEPTH = 100  # nesting of mappings and sequences in one document

# ---- the cluster ----
INT32_MAX = 2**31 - 1  # what the API server accepts for an int32 field such as replicas
MAX_SHARDS = 128  # partitioning.shards of one table group
MAX_POOLS_PER_TABLE_GROUP = 32
MAX_CELLS = 64
MAX_DATABASES = 64
MAX_TABLE_GROUPS = 128  # per database
MAX_SHARD_POOLS = 1024  # per cluster: sum over table groups of shards x pools (one StatefulSet each)
MAX_POOL_REPLICAS = 32  # instances in one pool of one shard
MAX_ETCD_REPLICAS = 9  # members of one managed etcd cluster (etcd advises 3, 5 or 7)
MAX_COMPONENT_REPLICAS = 1000  # multigateway, multiorch, multiadmin
MAX_FIELD_ENTRIES = 256  # entries of one list or mapping in a cluster or template (copied into every pod)
MAX_VALUE_LENGTH = 16 * 1024  # characters of one string in a cluster or template (copied into every pod)

# ---- the output ----
MAX_OUTPUT_OBJECTS = 10_000  # generated objects of one render, all clusters together
MAX_RESULTS = 1000  # results printed; the rest are counted in one more result

# The limits a function config may set: its key -> (constant, the most it may be raised to).
# The ceilings keep a raised render within about 1 GiB and a minute (docs/limits.md).
RAISABLE: dict[str, tuple[str, int]] = {
    "maxShards": ("MAX_SHARDS", 4096),
    "maxPoolsPerTableGroup": ("MAX_POOLS_PER_TABLE_GROUP", 256),
    "maxCells": ("MAX_CELLS", 512),
    "maxDatabases": ("MAX_DATABASES", 512),
    "maxTableGroups": ("MAX_TABLE_GROUPS", 1024),
    "maxShardPools": ("MAX_SHARD_POOLS", 16_384),
    "maxPoolReplicas": ("MAX_POOL_REPLICAS", 1000),
    "maxComponentReplicas": ("MAX_COMPONENT_REPLICAS", 100_000),
    "maxFieldEntries": ("MAX_FIELD_ENTRIES", 4096),
    "maxValueLength": ("MAX_VALUE_LENGTH", 256 * 1024),
    "maxOutputObjects": ("MAX_OUTPUT_OBJECTS", 200_000),
    "maxResults": ("MAX_RESULTS", 100_000),
}


def check_limits(values: Mapping[str, object]) -> list[tuple[str, str]]:
    """(key, what is wrong) for each value of a config's `limits` that is not a usable limit."""
    out = []
    for key, value in values.items():
        if key not in RAISABLE:
            out.append((key, f"{key!r} is not a limit that can be set; the limits are {', '.join(RAISABLE)}"))
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= RAISABLE[key][1]:
            out.append((key, f"{key} must be a whole number from 1 to {RAISABLE[key][1]:,} (its ceiling), "
                             f"got {str(value)[:40]!r}"))
    return out


def apply(values: Mapping[str, int] | None) -> dict[str, int]:
    """Set the given limits (checked by check_limits) for one run; return what `restore` needs.
    Plain functions rather than a context manager: contextlib is start-up cost on every render."""
    saved = {name: globals()[name] for name, _ in RAISABLE.values()}
    for key, value in (values or {}).items():
        globals()[RAISABLE[key][0]] = value
    return saved


def restore(saved: dict[str, int]) -> None:
    """The limits as they were before `apply`."""
    globals().update(saved)
