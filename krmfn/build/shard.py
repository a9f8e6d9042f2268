"""MultiShard → per pool: a StatefulSet of pgctld + multipooler pods, a headless Service, a PDB.

A replica finds its primary through the hostname the primary registered, so every pod
registers its stable DNS name from the headless Service (`--hostname`). Claims are retained on
delete and on scale-down: rendering never causes data to be deleted.
"""

from __future__ import annotations

from typing import Any

from .. import defaults, naming
from . import meta
from .meta import BuildContext

SOCKET = f"{defaults.POOLER_DIR}/pg_sockets/.s.PGSQL.{defaults.PORTS['pgctld']['postgres']}"
PASSWORD_FILE = f"{defaults.PASSWORD_MOUNT}/{defaults.PASSWORD_KEY}"


def _env() -> list[dict[str, Any]]:
    # Both binaries read the password file named by POSTGRES_PASSWORD_FILE (go/common/pgsecret);
    # pgctld has no password-file flag in the sources we read.
    return [{"name": "PGDATA", "value": defaults.PGDATA},
            {"name": "POSTGRES_PASSWORD_FILE", "value": PASSWORD_FILE}]


def _mounts(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "data", "mountPath": defaults.POOLER_DIR},
            {"name": "postgres-password", "mountPath": defaults.PASSWORD_MOUNT, "readOnly": True}, *extra]


def pgctld_container(spec: dict[str, Any], pool: dict[str, Any], pull: dict[str, Any]) -> dict[str, Any]:
    p = defaults.PORTS["pgctld"]
    args = ["server", f"--pooler-dir={defaults.POOLER_DIR}", f"--grpc-port={p['grpc']}",
            f"--http-port={p['http']}", f"--pg-port={p['postgres']}"]
    ports = [{"name": "pgctld-http", "containerPort": p["http"], "protocol": "TCP"},
             {"name": "pgctld-grpc", "containerPort": p["grpc"], "protocol": "TCP"},
             {"name": "postgres", "containerPort": p["postgres"], "protocol": "TCP"}]
    # postgres and pgbackrest write outside the data volume (locks, logs): root stays writable.
    return meta.container(
        "pgctld", spec["images"]["postgres"], [defaults.PGCTLD_BIN], args, pull, env=_env(),
        container_ports=ports, resources=(pool.get("postgres") or {}).get("resources"),
        probes={"livenessProbe": meta.http_probe("/live", "pgctld-http", delay=10),
                "readinessProbe": meta.http_probe("/ready", "pgctld-http", period=5)},
        mounts=_mounts({"name": "shm", "mountPath": "/dev/shm"}), read_only_root=False)


def multipooler_container(spec: dict[str, Any], pool: dict[str, Any], pull: dict[str, Any], service: str,
                          namespace: str | None, ctx: BuildContext) -> dict[str, Any]:
    host = f"$(POD_NAME).{meta.service_host(service, namespace, ctx.cluster_domain)}"
    args = [
        *meta.server_flags("multipooler"),
        *meta.topo_flags(spec["globalTopoServer"], namespace, ctx),
        f"--cell={pool['cell']}", f"--database={spec['databaseName']}",
        f"--table-group={spec['tableGroupName']}", f"--shard={spec['shardName']}",
        # The pod name is unique in the namespace and stable across restarts; a bare pod index
        # would collide between two pools of one cell.
        "--service-id=$(POD_NAME)", f"--hostname={host}",
        f"--pgctld-addr=localhost:{defaults.PORTS['pgctld']['grpc']}",
        f"--pooler-dir={defaults.POOLER_DIR}", f"--socket-file={SOCKET}",
        f"--pg-port={defaults.PORTS['pgctld']['postgres']}", "--service-map=grpc-pooler",
    ]
    _, tmp_mount = meta.tmp_volume()
    return meta.container(
        "multipooler", spec["images"]["multipooler"], [f"{defaults.MULTIGRES_BIN}/multipooler"], args, pull,
        env=_env(), container_ports=meta.ports("multipooler"),
        resources=(pool.get("multipooler") or {}).get("resources"),
        probes={"livenessProbe": meta.http_probe("/live", "http", delay=10),
                "readinessProbe": meta.http_probe("/ready", "http", period=5)},
        mounts=_mounts(tmp_mount))


def build_pool(child: dict[str, Any], pool: dict[str, Any], ctx: BuildContext) -> list[dict[str, Any]]:
    spec = child["spec"]
    shard = child["metadata"]["name"]
    namespace = meta.namespace_of(child)
    cluster = naming.cluster_of(child)
    pool_type, cell = str(pool["type"]), str(pool["cell"])
    labels = naming.labels(cluster, "multipooler",
                           **{**naming.identity_of(child), "pool_type": pool_type, "cell": cell})
    selector = naming.selector(labels)
    sts = naming.pool_name(shard, pool_type, cell)
    service = naming.pool_service(shard, pool_type, cell)
    pull = meta.pull_of(spec)
    wave = meta.WAVES["server"]
    tmp_vol, _ = meta.tmp_volume()
    volumes = [
        {"name": "postgres-password", "secret": {
            "secretName": spec["postgresPasswordSecret"], "defaultMode": 0o440,
            "items": [{"key": defaults.PASSWORD_KEY, "path": defaults.PASSWORD_KEY}]}},
        {"name": "shm", "emptyDir": {"medium": "Memory"}},
        tmp_vol,
    ]
    containers = [pgctld_container(spec, pool, pull),
                  multipooler_container(spec, pool, pull, service, namespace, ctx)]
    pod = meta.pod_spec(containers, pull, defaults.POSTGRES_UID, selector=selector, volumes=volumes, grace=60)
    statefulset = meta.stateful_set(meta.metadata(sts, child, labels, wave), labels, service, int(pool["replicas"]),
                                    pod, pool["dataVolumeClaimTemplate"])
    headless = meta.headless_service(meta.metadata(service, child, labels, wave), labels,
                                     meta.ports("multipooler"))
    pdb = meta.disruption_budget(meta.metadata(naming.pool_pdb(shard, pool_type, cell), child, labels, wave),
                                 labels, 1)
    return [statefulset, headless, pdb]


def build_multishard(child: dict[str, Any], ctx: BuildContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pool in child["spec"].get("pools") or []:
        out += build_pool(child, pool, ctx)
    return out
