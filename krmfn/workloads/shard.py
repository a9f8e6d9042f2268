"""MultiShard → per pool: a StatefulSet of pgctld + multipooler pods, a headless Service;
per shard: the backup repository claim, the pg_hba template, one PDB (disruption.py).

A replica finds its primary through the hostname the primary registered, so every pod
registers its stable DNS name from the headless Service (`--hostname`). Claims are retained on
delete and on scale-down: rendering never causes data to be deleted. What each pod needs to
bootstrap a shard (backup repository, TCP replication in pg_hba, the database, a short service ID,
pgBackRest TLS) follows upstream at the pinned commit; docs/workloads.md "Pooler pods" lists the
sources.
"""

from __future__ import annotations

from .. import defaults, naming
from . import backup, cohort, disruption, handover, internal_tls, log_levels, objects, postgres_config, topo_tls

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import MultiShard, MultiShardSpec, ResolvedBackup, ResolvedPool
    from .context import ClusterContext


SOCKET = f"{defaults.POOLER_DIR}/pg_sockets/.s.PGSQL.{defaults.PORTS['pgctld']['postgres']}"
PASSWORD_FILE = f"{defaults.PASSWORD_MOUNT}/{defaults.PASSWORD_KEY}"
PG_HBA_TEMPLATE = f"{defaults.PG_HBA_MOUNT}/{defaults.PG_HBA_FILE}"
# The shard's ConfigMap: the pg_hba template and each pool's PostgreSQL settings (postgres_config.py).
PG_HBA_MOUNT = {"name": "pg-hba", "mountPath": defaults.PG_HBA_MOUNT, "readOnly": True}
TLS_FILES = {name: f"{defaults.PGBACKREST_CERT_DIR}/{name}" for name in defaults.PGBACKREST_CERT_FILES.values()}

# Upstream's built-in template (config/postgres/pg_hba_template.conf) with replication also allowed
# over TCP: standbys stream from the primary's pod address and pgBackRest connects from peers. Every
# connection still authenticates with SCRAM (all instances share the postgres password). pgctld
# renders it as a Go template (go/services/pgctld/postgresconfig_gen.go); no variable is needed.
PG_HBA = """\
# pg_hba.conf template rendered by multigres-krmfn for pgctld --pg-hba-template.
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     scram-sha-256
local   replication     all                                     scram-sha-256
host    replication     all             0.0.0.0/0               scram-sha-256
host    replication     all             ::0/0                   scram-sha-256
host    all             all             0.0.0.0/0               scram-sha-256
host    all             all             ::0/0                   scram-sha-256
"""


def _env() -> list[dict[str, Any]]:
    # Both binaries read the password file named by POSTGRES_PASSWORD_FILE (go/common/pgsecret).
    return [{"name": "PGDATA", "value": defaults.PGDATA},
            {"name": "POSTGRES_PASSWORD_FILE", "value": PASSWORD_FILE}]


def s3_env(backup: ResolvedBackup) -> list[dict[str, Any]]:
    """AWS credentials for an S3 repository, from the user's Secret (never a value in the render).

    multipooler writes them into the pgBackRest config it generates (go/common/backup/config.go,
    PgBackRestCredentials), so only the multipooler container needs them.
    """
    secret = backup.s3.credentials_secret if backup.s3 is not None else None
    if not secret:
        return []
    out = []
    for key in defaults.S3_CREDENTIAL_KEYS:
        ref: dict[str, Any] = {"name": secret, "key": key}
        if key == "AWS_SESSION_TOKEN":
            ref["optional"] = True
        out.append({"name": key, "valueFrom": {"secretKeyRef": ref}})
    return out


def _mounts(backup: ResolvedBackup, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"name": "data", "mountPath": defaults.POOLER_DIR},
           {"name": "postgres-password", "mountPath": defaults.PASSWORD_MOUNT, "readOnly": True},
           {"name": "pgbackrest-tls", "mountPath": defaults.PGBACKREST_CERT_DIR, "readOnly": True}]
    if backup.filesystem is not None:
        out.append({"name": "backups", "mountPath": backup.filesystem.path})
    return [*out, *extra]


def pgctld_container(spec: MultiShardSpec, pool: ResolvedPool, pull: dict[str, Any],
                     ctx: ClusterContext) -> dict[str, Any]:
    """pgctld as a native sidecar (an init container that keeps running, Kubernetes >= 1.29).

    It starts before multipooler and stops after it, so postgres outlives multipooler's graceful
    shutdown, as the official operator runs it.
    """
    p = defaults.PORTS["pgctld"]
    args = ["server", f"--pooler-dir={defaults.POOLER_DIR}", f"--grpc-port={p['grpc']}",
            f"--http-port={p['http']}", f"--pg-port={p['postgres']}",
            # initdb creates the database only when it is not `postgres` (go/cmd/pgctld/command/init.go).
            f"--pg-database={spec.database_name}",
            f"--pg-hba-template={PG_HBA_TEMPLATE}",
            f"--pgbackrest-port={p['pgbackrest']}", f"--pgbackrest-cert-dir={defaults.PGBACKREST_CERT_DIR}",
            *log_levels.flags(ctx, "pgctld")]
    ports = [{"name": "pgctld-http", "containerPort": p["http"], "protocol": "TCP"},
             {"name": "pgctld-grpc", "containerPort": p["grpc"], "protocol": "TCP"},
             {"name": "postgres", "containerPort": p["postgres"], "protocol": "TCP"},
             {"name": "pgbackrest", "containerPort": p["pgbackrest"], "protocol": "TCP"}]
    # postgres and pgbackrest write outside the data volume (locks, logs): root stays writable.
    out = objects.container(
        "pgctld", spec.images.postgres, [defaults.PGCTLD_BIN], args, pull,
        env=[*_env(), postgres_config.env_entry(pool)],
        container_ports=ports, resources=pool.postgres.resources if pool.postgres else None,
        probes={"startupProbe": objects.startup_probe("/live", "pgctld-http"),
                "livenessProbe": objects.http_probe("/live", "pgctld-http", delay=10),
                "readinessProbe": objects.http_probe("/ready", "pgctld-http", period=5)},
        mounts=_mounts(spec.backup, {"name": "shm", "mountPath": "/dev/shm"},
                       PG_HBA_MOUNT),
        read_only_root=False)
    return {"name": out.pop("name"), "restartPolicy": "Always", **out}


def multipooler_container(spec: MultiShardSpec, pool: ResolvedPool, pull: dict[str, Any], sts: str,
                          service: str, namespace: str | None, ctx: ClusterContext) -> dict[str, Any]:
    host = f"$(POD_NAME).{objects.service_host(service, namespace, ctx.cluster_domain)}"
    pgbackrest_port = defaults.PORTS["pgctld"]["pgbackrest"]
    args = [
        *objects.server_flags("multipooler"), *log_levels.flags(ctx, "multipooler"),
        *objects.topo_flags(spec.global_topo_server, namespace, ctx),
        f"--cell={pool.cell}", f"--database={spec.database_name}",
        f"--table-group={spec.table_group_name}", f"--shard={spec.shard_name}",
        # `<cell>_<service-id>` must fit 63 characters: a per-StatefulSet hash plus the ordinal.
        f"--service-id={naming.service_id_prefix(namespace, sts)}-$(POD_INDEX)", f"--hostname={host}",
        f"--pgctld-addr=localhost:{defaults.PORTS['pgctld']['grpc']}",
        f"--pooler-dir={defaults.POOLER_DIR}", f"--socket-file={SOCKET}",
        f"--pg-port={defaults.PORTS['pgctld']['postgres']}", "--service-map=grpc-pooler",
        f"--connpool-global-capacity={defaults.CONNPOOL_GLOBAL_CAPACITY}",
        f"--pgbackrest-cert-file={TLS_FILES['pgbackrest.crt']}",
        f"--pgbackrest-key-file={TLS_FILES['pgbackrest.key']}",
        f"--pgbackrest-ca-file={TLS_FILES['ca.crt']}", f"--pgbackrest-port={pgbackrest_port}",
        *backup.cipher_flags(spec.backup), *internal_tls.server_flags(spec.internal_tls),
    ]
    _, tmp_mount = objects.tmp_volume()
    out = objects.container(
        "multipooler", spec.images.multipooler, [f"{defaults.MULTIGRES_BIN}/multipooler"], args, pull,
        env=_env() + s3_env(spec.backup), container_ports=objects.ports("multipooler"),
        resources=pool.multipooler.resources if pool.multipooler else None,
        probes={"startupProbe": objects.startup_probe("/live", "http"),
                "livenessProbe": objects.http_probe("/live", "http", delay=10),
                "readinessProbe": objects.http_probe("/ready", "http", period=5)},
        mounts=_mounts(spec.backup, tmp_mount, *backup.cipher_mounts(spec.backup),
                       *([internal_tls.mount()] if spec.internal_tls else []),
                       *([topo_tls.mount()] if spec.global_topo_server.tls else [])))
    out["lifecycle"] = handover.pre_stop(spec, ctx, objects.service_host(service, namespace, ctx.cluster_domain),
                                        pool.cell)
    return out


def pool_volumes(spec: MultiShardSpec, shard: str) -> list[dict[str, Any]]:
    """Secrets are mounted group-readable: the pod's fsGroup is postgres' gid, and both containers
    run as that user (pgBackRest accepts a root-owned key file of mode 0640 or less)."""
    tmp_vol, _ = objects.tmp_volume()
    out = [
        {"name": "postgres-password", "secret": {
            "secretName": spec.postgres_password_secret, "defaultMode": 0o440,
            "items": [{"key": defaults.PASSWORD_KEY, "path": defaults.PASSWORD_KEY}]}},
        {"name": "pgbackrest-tls", "secret": {
            "secretName": spec.pgbackrest_tls_secret, "defaultMode": 0o440,
            "items": [{"key": k, "path": v} for k, v in defaults.PGBACKREST_CERT_FILES.items()]}},
        {"name": "pg-hba", "configMap": {"name": naming.pg_hba_configmap(shard), "defaultMode": 0o444}},
        {"name": "shm", "emptyDir": {"medium": "Memory"}},
        tmp_vol,
    ]
    if spec.backup.filesystem is not None:
        out.append({"name": "backups", "persistentVolumeClaim": {"claimName": naming.backup_claim(shard)}})
    out += backup.cipher_volumes(spec.backup)
    out += [internal_tls.volume(spec.internal_tls)] if spec.internal_tls else []
    tls = spec.global_topo_server.tls
    return out + ([topo_tls.volume(tls)] if tls else [])


def build_pool(child: MultiShard, pool: ResolvedPool, ctx: ClusterContext) -> list[dict[str, Any]]:
    spec, meta = child.spec, child.metadata
    shard = meta["name"]
    namespace = objects.namespace_of(meta)
    pool_type, cell = pool.type, pool.cell
    labels = naming.labels(naming.cluster_of(meta), "multipooler",
                           **{**naming.identity_of(meta), "pool_type": pool_type, "cell": cell})
    selector = naming.selector(labels)
    sts = naming.pool_name(shard, pool_type, cell)
    service = naming.pool_service(shard, pool_type, cell)
    pull = objects.pull_of(spec)
    wave = objects.WAVES["server"]
    reloader = postgres_config.reloader_container(spec.images.postgres, pool, pull, PASSWORD_FILE,
                                                  [m for m in _mounts(spec.backup, PG_HBA_MOUNT)
                                                   if m["name"] in ("data", "postgres-password", "pg-hba")])
    if pool_type == "replica":  # the pools whose pods stand for the cohort; readOnly pods keep the plain checks
        reloader = cohort.gate(reloader, cell, naming.service_id_prefix(namespace, sts), spec.database_name,
                               PASSWORD_FILE)
    pod = objects.pod_spec([multipooler_container(spec, pool, pull, sts, service, namespace, ctx), reloader], pull,
                        defaults.POSTGRES_UID, selector=selector, volumes=pool_volumes(spec, shard),
                        grace=handover.GRACE_SECONDS, init_containers=[pgctld_container(spec, pool, pull, ctx)],
                        placement=pool.placement)
    pod.update(backup.pod_identity(spec.backup))
    statefulset = objects.stateful_set(objects.metadata(sts, meta, labels, wave), labels, service,
                                       pool.replicas, pod, pool.data_volume_claim_template)
    postgres_config.annotate(statefulset, pool)
    # Peers reach each other's postgres and pgBackRest server by the pod names this Service publishes.
    peer_ports = [p for p in pod["initContainers"][0]["ports"] if p["name"] in ("postgres", "pgbackrest")]
    headless = objects.headless_service(objects.metadata(service, meta, labels, wave), labels,
                                     objects.ports("multipooler") + peer_ports)
    return [statefulset, headless]


# Argo CD (sync option) and the cli-utils based appliers — kpt live (on-remove), Config Sync and
# cli-utils' older key (deletion: detach) — leave an object so annotated in the cluster when it
# disappears from the render: a backup repository must outlive its pools.
KEEP_ANNOTATIONS = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
                    "cli-utils.sigs.k8s.io/on-remove": "keep",
                    "client.lifecycle.config.k8s.io/deletion": "detach"}


def backup_claim(child: MultiShard) -> list[dict[str, Any]]:
    """The shard's backup repository: one ReadWriteMany claim for all pools and cells (none for S3)."""
    filesystem, meta = child.spec.backup.filesystem, child.metadata
    if filesystem is None:
        return []
    labels = naming.labels(naming.cluster_of(meta), "backup-repository", **naming.identity_of(meta))
    name = naming.backup_claim(meta["name"])
    claim = objects.obj("v1", "PersistentVolumeClaim",
                        objects.metadata(name, meta, labels, objects.WAVES["server"], KEEP_ANNOTATIONS),
                        dict(filesystem.volume_claim_template))
    return [claim]


def pg_hba_configmap(child: MultiShard) -> dict[str, Any]:
    meta = child.metadata
    labels = naming.labels(naming.cluster_of(meta), "multipooler", **naming.identity_of(meta))
    name = naming.pg_hba_configmap(meta["name"])
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": objects.metadata(name, meta, labels, objects.WAVES["server"]),
            "data": {defaults.PG_HBA_FILE: PG_HBA, **postgres_config.files(child.spec.pools)}}


def build_multishard(child: MultiShard, ctx: ClusterContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [*backup_claim(child), pg_hba_configmap(child)]
    for pool in child.spec.pools:
        out += build_pool(child, pool, ctx)
    return out + disruption.shard_budget(child, ctx)
