"""Built-in defaults: the bottom layer under template sections and overrides (docs/api.md "Defaults").

The default Multigres images are the ones upstream publishes for the commit the flag checks and
the real-node tests build (tools/versions.env, MULTIGRES_COMMIT); tests/test_versions.py keeps the
two in step.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Final

MULTIGRES_TAG = "sha-6bd80b9"
MULTIGRES_IMAGE = f"ghcr.io/multigres/multigres:{MULTIGRES_TAG}"
PGCTLD_IMAGE = f"ghcr.io/multigres/pgctld:{MULTIGRES_TAG}"
ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.6.16"

IMAGES = {
    "multigateway": MULTIGRES_IMAGE,
    "multiorch": MULTIGRES_IMAGE,
    "multipooler": MULTIGRES_IMAGE,
    "multiadmin": MULTIGRES_IMAGE,
    "postgres": PGCTLD_IMAGE,
}

COMPONENT_REPLICAS = {"multiadmin": 1, "multiorch": 1, "multigateway": 2}

# Requests for whatever nobody sized (neither request nor limit written): never BestEffort pods.
COMPONENT_REQUESTS = {"cpu": "100m", "memory": "128Mi"}
ETCD_REQUESTS = {"cpu": "100m", "memory": "256Mi"}
POOL_REQUESTS = {"postgres": {"cpu": "500m", "memory": "1Gi"}, "multipooler": {"cpu": "100m", "memory": "128Mi"}}

DATA_VOLUME = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
POOL = {"replicas": 3, "dataVolumeClaimTemplate": DATA_VOLUME}

GLOBAL_ROOT = "/multigres/global"
TOPO_REPLICAS = 3
TOPO_DATA_VOLUME = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}

DURABILITY_POLICY: Final = "AT_LEAST_2"
BACKUP_LOCATION = "/backups"
REGISTER_CELL = True
PRUNE_TABLETS = True
SHARDS = 1


def cell_root(cell: str) -> str:
    return f"/multigres/{cell}"


def password_secret(cluster: str) -> str:
    """Name of the Secret (key `password`) holding the postgres superuser password."""
    return f"{cluster}-postgres-password"


PASSWORD_KEY = "password"

# ---- build stage: ports, users, paths (docs/workloads.md) ----

# Upstream's port convention (its local provisioner's defaults; docs/workloads.md lists every port).
PORTS = {
    "multiadmin": {"http": 15000, "grpc": 15070},
    "multigateway": {"http": 15100, "grpc": 15170, "postgres": 5432},
    "multipooler": {"http": 15200, "grpc": 15270},
    "multiorch": {"http": 15300, "grpc": 15370},
    "pgctld": {"http": 15400, "grpc": 15470, "postgres": 5432, "pgbackrest": 8432},
    "etcd": {"client": 2379, "peer": 2380, "metrics": 2381},
}
MULTIGRES_BIN = "/multigres/bin"
PGCTLD_BIN = "/usr/local/bin/pgctld"
ETCD_BIN = "/usr/local/bin/etcd"
ETCDCTL_BIN = "/usr/local/bin/etcdctl"
# Explicit ids: the etcd image's default user is root; the multigres image's is 65532; the pgctld
# image runs postgres as `postgres` (999), and the pooler pod's containers share its data volume.
NONROOT_UID = 65532
# The function's own image runs the status reporter; its tag is `v` + krmfn.__version__.
FUNCTION_IMAGE_REPOSITORY = "ghcr.io/multigres/multigres-krmfn"
FUNCTION_IMAGE_UID = 65534  # the Dockerfile's USER
# A watch loop that sleeps between events: about 30 MiB resident, next to no CPU.
STATUS_REPORTER_RESOURCES = {"requests": {"cpu": "5m", "memory": "48Mi"}, "limits": {"memory": "96Mi"}}
# Who may write a generated child's spec when readOnlyChildren is on: Argo CD's application
# controller as its install manifests name it (namespace argocd). Others are listed in specWriters.
SPEC_WRITERS = ("system:serviceaccount:argocd:argocd-application-controller",)
POSTGRES_UID = 999
POOLER_DIR = "/data"
PGDATA = "/data/pg_data"
ETCD_DATA_MOUNT = "/var/lib/etcd"
ETCD_DATA_DIR = "/var/lib/etcd/data"
PASSWORD_MOUNT = "/etc/multigres/postgres-password"
ETCD_COMPACTION_RETENTION = "1h"
REGISTRATION_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}
# The Job's pod waits for etcd's /health itself (registration.py), so retries are for real failures;
# the deadline bounds the whole Job, waiting included, so a broken topo does not hang a sync forever.
REGISTRATION_BACKOFF_LIMIT = 10
REGISTRATION_DEADLINE_SECONDS = 1200
REGISTRATION_MOUNT = "/etc/multigres/registration"

# ---- pooler pods: backups, pg_hba, pgBackRest TLS (docs/workloads.md "Pooler pods") ----

# The backup repository of a shard: one claim shared by every pod of every pool of the shard, so
# ReadWriteMany. No storage class means the cluster's default class.
BACKUP_VOLUME_SIZE = "10Gi"
BACKUP_ACCESS_MODES = ["ReadWriteMany"]
# multipooler's connection pool against pgctld's postgresql.conf max_connections = 110
# (go/services/pgctld/postgresconfig_gen.go sets MaxConnections = 110); the official operator
# uses the same 40, leaving room for replication, pgBackRest and superuser connections.
CONNPOOL_GLOBAL_CAPACITY = 40

# multiorch's failure detection and failover timing. Upstream's defaults
# (go/services/multiorch/config/config.go) poll every second and wait a grace period of 4 s plus up
# to 8 s of random jitter before appointing a new leader; measured on the test node, writes came
# back 17-20 s after a primary pod was deleted (the grace restarts when the replacement pod
# reports in). Upstream's local provisioner sets a 500 ms health-check interval
# (go/provisioner/local/config.go), kept here although multiorch at the pinned commit reads pooler
# health from a pushed stream (store/health_stream.go) and no longer consults it; a
# 2 s + up to 2 s grace still lets the orchestrators of several cells stagger. The recovery cycle
# (an analysis of the poolers' cached health, no topology read: recovery_loop.go) runs every
# 200 ms: a planned switchover waits for a cycle to see the resigned leader and another to act on
# the preStop hook's request (workloads/handover.py), about 0.75 s of the write gap at 500 ms.
# 100 ms was tried (docs/runtime-checks.md, "Day 2"): no clear gain.
# The recovery loop is serial, and a handover can race it: when the resigning primary's postgres
# stops, a standby's WAL receiver drops before multiorch has seen the resignation (the resigning
# pooler answers no health poll meanwhile), so a cycle takes the old primary for healthy and runs
# FixReplication on that standby, whose SetPrimary is then checked for streaming every 0.5 s for
# --verify-replication-timeout (5 s upstream, go/services/multiorch/recovery/actions/fix_replication.go);
# the resignation waits behind it. Measured on the node: a 7.89 s handover at 100 ms, 7.56 and
# 7.62 s at 200 ms (docs/runtime-checks.md, "Day 2"). 2 s bounds that wait; a standby not
# streaming by then is reported failed and the fix is asked again on a later cycle (SetPrimary is
# idempotent), as upstream does after 5 s. wal_retrieve_retry_interval (POSTGRES_SETTINGS) makes
# the standby stream again sooner.
MULTIORCH_TIMING = {
    "pooler-health-check-interval": "500ms",
    "recovery-cycle-interval": "200ms",
    "leader-failover-grace-period-base": "2s",
    "leader-failover-grace-period-max-jitter": "2s",
    "verify-replication-timeout": "2s",
}
# multigateway's failover buffering (go/services/multigateway/buffer/config.go, off upstream by
# default): while a shard has no serving primary (the old one draining with MTF01, or none in the
# topology) the gateway holds its primary-bound queries and retries them once the new primary's
# health stream reports SERVING, instead of failing them. A handover (workloads/handover.py) then
# costs clients latency, not errors. Upstream's window (10 s per request) and maximum failover
# (20 s) are kept: a handover takes about 2-5 s here; a failover after a lost pod or zone (8-31 s
# measured) can outlast the window, and the queries it held then fail as they did without the
# buffer, only later (alert MultigresGatewayBufferEvictions). Upstream buffers one failover a
# minute per shard (buffer-min-time-between-failovers, shard_buffer.go: a cycle within a minute of
# the last one's end fails its queries at once); 10 s here, because a node-pool upgrade drains node
# after node and hands a shard's primary over twice within a minute, and a credential lookup at a
# shard's bootstrap already ends a cycle (seen in the e2e: the next handover within the minute was
# not buffered). The cost: a shard that flaps holds clients up to the window once every 10 s.
GATEWAY_FLAGS = ("--buffer-enabled=true", "--buffer-min-time-between-failovers=10s")
# PostgreSQL settings the render sets unless postgresConfig says otherwise (postgres_config.py).
# wal_receiver_status_interval: multiorch counts a standby as still streaming from the primary (and
# so as proof the primary is alive, which holds off a failover) until its WAL receiver's last
# message is 3 x this interval old (upstream go/services/multiorch/recovery/analysis/generator.go,
# leader_needs_replacement_analyzer.go). PostgreSQL's 10 s made a cut-off zone's primary count as
# alive for 30 s; 2 s makes it 6 s, under multiorch's own 15 s leader-liveness window. The cost is
# one small status message per standby every 2 s. Reloadable (sighup): changing it rolls nothing.
# wal_retrieve_retry_interval: how long a standby's startup process waits, once no WAL source
# answers, before it tries again (PostgreSQL's default 5 s). A standby whose primary restarts (a
# handover restarts the old primary as a standby) or fails over tries to stream again only after
# it, unless a reload wakes it; multiorch's FixReplication waits for that (MULTIORCH_TIMING), and a
# handover that meets it waited about 1.1 s with 1 s. 200 ms costs at most five connection
# attempts a second to its primary while it has no source. Reloadable.
POSTGRES_SETTINGS = {"wal_receiver_status_interval": "2s", "wal_retrieve_retry_interval": "200ms"}
PG_HBA_MOUNT = "/etc/multigres/pg-hba"
PG_HBA_FILE = "pg_hba_template.conf"
# pgctld reads ca.crt, pgbackrest.crt and pgbackrest.key from --pgbackrest-cert-dir
# (go/common/backup/serverconfig.go); a kubernetes.io/tls Secret's keys are mapped to those names.
PGBACKREST_CERT_DIR = "/etc/multigres/pgbackrest-tls"
PGBACKREST_CERT_FILES = {"ca.crt": "ca.crt", "tls.crt": "pgbackrest.crt", "tls.key": "pgbackrest.key"}
# The pgBackRest TLS server accepts client certificates whose CN is `pgbackrest`
# (config/pgbackrest/pgbackrest_server_template.conf: tls-server-auth=pgbackrest=*).
PGBACKREST_CN = "pgbackrest"
# multigateway loads --pg-tls-cert-file and --pg-tls-key-file once, at start
# (go/services/multigateway/init.go, buildPGTLSConfig); the Secret's keys are mounted under their own names.
GATEWAY_CERT_DIR = "/etc/multigres/gateway-tls"
GATEWAY_CERT_KEYS = ("tls.crt", "tls.key")
# The gRPC servers read --grpc-cert/--grpc-key/--grpc-ca once, at start (go/common/servenv/grpc_server.go,
# Create), and the callers --multipooler-grpc-cert/-key/-ca (go/common/rpcclient/conn_cache.go).
INTERNAL_CERT_DIR = "/etc/multigres/internal-tls"
INTERNAL_CERT_KEYS = ("ca.crt", "tls.crt", "tls.key")
# spec.topoTLS: etcd (--cert-file/--key-file/--trusted-ca-file) and every client (upstream's
# --topo-etcd-tls-cert/-key/-ca, go/common/topoclient/etcdtopo/store.go) read the same three files.
TOPO_CERT_DIR = "/etc/multigres/topo-tls"
TOPO_CERT_KEYS = ("ca.crt", "tls.crt", "tls.key")
# multipooler passes these to pgBackRest for S3 repositories with use_env_credentials
# (go/tools/s3/credentials.go); AWS_SESSION_TOKEN is optional.
S3_CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# The repository cipher key file (multipooler --pgbackrest-cipher-key-file): the Secret's key that
# holds it when backup.encryption.key is not set, and where it is mounted.
CIPHER_KEY = "cipher-keys.json"
CIPHER_KEY_DIR = "/etc/multigres/pgbackrest-cipher"
# Scheduled backups: the type when backup.schedule.type is not set, and the most full backups a
# retention count can keep: upstream's pgbackrest.conf sets repo1-retention-full=7 and pgBackRest
# expires by it after every backup (go/common/backup/constants.go).
BACKUP_TYPE = "full"
UPSTREAM_RETENTION_FULL = 7
# The CronJob keeps this many finished Jobs of each outcome (a failed backup stays visible).
BACKUP_JOB_HISTORY = 3
# Native sidecars and startup probes: how long a server may take to start listening.
STARTUP_PERIOD_SECONDS = 5
STARTUP_FAILURES = 60

# ---- monitoring (docs/monitoring.md) ----

# postgres_exporter's release of the vendored source (its VERSION and CHANGELOG: 0.20.1); it
# listens on :9187 unless told otherwise (cmd/postgres_exporter/main.go, web.listen-address).
EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.20.1"
EXPORTER_PORT = 9187
# Measured (docs/monitoring.md, "Cost"): about 20 MiB and 7 ms of CPU per scrape; a limit on
# memory only, like the other containers.
EXPORTER_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}}
# The OTel SDK exports every 60 s unless OTEL_METRIC_EXPORT_INTERVAL says otherwise; 15 s matches
# a common scrape interval, so pushed and scraped series are equally fresh.
OTLP_EXPORT_INTERVAL_SECONDS = 15
OTLP_PROTOCOL = "http/protobuf"
