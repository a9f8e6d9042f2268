"""MultiShard → per pool: StatefulSet (pgctld + multipooler), headless Service, PDB."""

from __future__ import annotations

import copy

from consistency import args_of, child
from helpers import EXAMPLES, render_paths

from krmfn.build.meta import BuildContext
from krmfn.build.shard import build_multishard

SEED = render_paths(EXAMPLES / "seed").resolved[0]


def _orders0() -> dict:
    return child(SEED, "MultiShard", "-orders-tg-0")


def _containers(sts: dict) -> dict[str, dict]:
    return {c["name"]: c for c in sts["spec"]["template"]["spec"]["containers"]}


def test_one_statefulset_service_and_pdb_per_pool() -> None:
    objs = build_multishard(_orders0(), BuildContext())
    assert [o["kind"] for o in objs] == ["StatefulSet", "Service", "PodDisruptionBudget"] * 2
    replica, readonly = objs[0], objs[3]
    assert replica["spec"]["replicas"] == 2 and readonly["spec"]["replicas"] == 1
    assert replica["metadata"]["labels"]["multigres.com/pool-type"] == "replica"
    assert readonly["metadata"]["labels"]["multigres.com/cell"] == "us-east-1"
    assert replica["spec"]["serviceName"] == objs[1]["metadata"]["name"]
    assert objs[1]["spec"]["clusterIP"] == "None" and objs[1]["spec"]["publishNotReadyAddresses"] is True
    assert replica["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert replica["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "500Gi"


def test_multipooler_flags() -> None:
    sts, svc, _ = build_multishard(_orders0(), BuildContext())[:3]
    args = args_of(_containers(sts)["multipooler"])
    assert args["--database"] == "production_db"
    assert args["--table-group"] == "orders_tg"
    assert args["--shard"] == "0-80"
    assert args["--cell"] == "us-west-2"
    assert args["--service-id"] == "$(POD_NAME)"
    assert args["--hostname"] == f"$(POD_NAME).{svc['metadata']['name']}.multigres.svc.cluster.local"
    assert args["--pooler-dir"] == "/data"
    assert args["--socket-file"] == "/data/pg_sockets/.s.PGSQL.5432"
    assert args["--service-map"] == "grpc-pooler"
    pgctld = _containers(sts)["pgctld"]
    assert args["--pgctld-addr"] == "localhost:" + args_of(pgctld)["--grpc-port"] == "localhost:15470"


def test_pgctld_runs_the_server_with_pgdata_on_the_shared_volume() -> None:
    sts = build_multishard(_orders0(), BuildContext())[0]
    cs = _containers(sts)
    assert cs["pgctld"]["command"] == ["/usr/local/bin/pgctld"] and cs["pgctld"]["args"][0] == "server"
    assert cs["pgctld"]["image"] == "postgres:15.3" and cs["multipooler"]["image"] == "multigres/multigres:latest"
    for c in cs.values():
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["PGDATA"] == "/data/pg_data"
        assert env["POSTGRES_PASSWORD_FILE"] == "/etc/multigres/postgres-password/password"
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert mounts["data"] == "/data" and mounts["postgres-password"] == "/etc/multigres/postgres-password"
    assert cs["pgctld"]["resources"]["requests"]["cpu"] == "4"
    assert cs["multipooler"]["resources"]["requests"]["memory"] == "512Mi"


def test_password_secret_volume_and_postgres_user() -> None:
    sts = build_multishard(_orders0(), BuildContext())[0]
    pod = sts["spec"]["template"]["spec"]
    secret = next(v for v in pod["volumes"] if v["name"] == "postgres-password")["secret"]
    assert secret["secretName"] == "example-multigres-cluster-postgres-password"
    assert secret["items"] == [{"key": "password", "path": "password"}]
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == 999
    term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]


def test_port_names_are_unique_and_short() -> None:
    sts = build_multishard(_orders0(), BuildContext())[0]
    names = [p["name"] for c in sts["spec"]["template"]["spec"]["containers"] for p in c["ports"]]
    assert len(names) == len(set(names)) and all(len(n) <= 15 for n in names)


def test_pools_of_two_shards_do_not_share_selectors() -> None:
    a = build_multishard(_orders0(), BuildContext())[0]
    b = build_multishard(child(SEED, "MultiShard", "-orders-tg-1"), BuildContext())[0]
    assert a["spec"]["selector"] != b["spec"]["selector"]
    assert a["metadata"]["name"] != b["metadata"]["name"]


def test_missing_access_modes_default_to_read_write_once() -> None:
    shard = copy.deepcopy(_orders0())
    del shard["spec"]["pools"][0]["dataVolumeClaimTemplate"]["accessModes"]
    sts = build_multishard(shard, BuildContext())[0]
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
