"""Every bound the function enforces, in one place (docs/safety.md, "Safety and limits").

The function runs on whatever a Git repository holds (Argo CD's repo-server, kpt on users'
files). Each limit keeps time and memory proportional to a small input, and each is reported as
an error result that names the limit, never as a hang, an exhausted pod or a traceback.
"""

from __future__ import annotations

# ---- reading ----
MAX_INPUT_BYTES = 32 * 1024 * 1024  # a ResourceList on stdin, or one file read by `render`
MAX_YAML_NODES = 1_000_000  # nodes of one document after alias expansion ("billion laughs")
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

# ---- the output ----
MAX_OUTPUT_OBJECTS = 10_000  # generated objects of one render, all clusters together
