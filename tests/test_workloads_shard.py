"""MultiShard → per pool: StatefulSet (pgctld + multipooler), headless Service; one PDB per shard."""

from __future__ import annotations

import copy
import re

import fixtures
import topo_decode
from consistency import args_of
from helpers import EXAMPLES, objects, render_paths, resource_list, run_text

from krmfn import yamlio
from krmfn.api.generated import child_types as ct
from krmfn.workloads.shard import build_multishard

CTX = fixtures.context()


def _orders0() -> ct.MultiShard:
    return fixtures.shard()


def _containers(sts: dict) -> dict[str, dict]:
    pod = sts["spec"]["template"]["spec"]
    return {c["name"]: c for c in pod.get("initContainers", []) + pod["containers"]}


def _pools(shard: ct.MultiShard) -> list[dict]:
    """The pool objects (StatefulSet, Service, PDB, ...) after the per-shard claim and ConfigMap."""
    return [o for o in build_multishard(shard, CTX) if o["kind"] not in ("PersistentVolumeClaim",
                                                                                       "ConfigMap")]


def test_one_statefulset_and_service_per_pool_and_one_budget_per_shard() -> None:
    objs = _pools(_orders0())
    assert [o["kind"] for o in objs] == ["StatefulSet", "Service"] * 2 + ["PodDisruptionBudget"]
    replica, readonly = objs[0], objs[2]
    assert replica["spec"]["replicas"] == 2 and readonly["spec"]["replicas"] == 1
    assert replica["metadata"]["labels"]["multigres.com/pool-type"] == "replica"
    assert readonly["metadata"]["labels"]["multigres.com/cell"] == "us-east-1"
    assert replica["spec"]["serviceName"] == objs[1]["metadata"]["name"]
    assert objs[1]["spec"]["clusterIP"] == "None" and objs[1]["spec"]["publishNotReadyAddresses"] is True
    assert replica["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert replica["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "500Gi"


def test_multipooler_flags() -> None:
    sts, svc, _ = _pools(_orders0())[:3]
    args = args_of(_containers(sts)["multipooler"])
    assert args["--database"] == "production_db"
    assert args["--table-group"] == "orders_tg"
    assert args["--shard"] == "0-80"
    assert args["--cell"] == "us-west-2"
    assert re.fullmatch(r"[0-9a-f]{8}-\$\(POD_INDEX\)", args["--service-id"])
    assert args["--hostname"] == f"$(POD_NAME).{svc['metadata']['name']}.multigres.svc.cluster.local"
    assert args["--pooler-dir"] == "/data"
    assert args["--socket-file"] == "/data/pg_sockets/.s.PGSQL.5432"
    assert args["--service-map"] == "grpc-pooler"
    pgctld = _containers(sts)["pgctld"]
    assert args["--pgctld-addr"] == "localhost:" + args_of(pgctld)["--grpc-port"] == "localhost:15470"


def test_pgctld_runs_the_server_with_pgdata_on_the_shared_volume() -> None:
    sts = _pools(_orders0())[0]
    cs = _containers(sts)
    assert cs["pgctld"]["command"] == ["/usr/local/bin/pgctld"] and cs["pgctld"]["args"][0] == "server"
    assert cs["pgctld"]["image"] == "postgres:15.3" and cs["multipooler"]["image"] == "multigres/multigres:latest"
    for c in (cs["pgctld"], cs["multipooler"]):
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["PGDATA"] == "/data/pg_data"
        assert env["POSTGRES_PASSWORD_FILE"] == "/etc/multigres/postgres-password/password"
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert mounts["data"] == "/data" and mounts["postgres-password"] == "/etc/multigres/postgres-password"
    assert cs["pgctld"]["resources"]["requests"]["cpu"] == "4"
    assert cs["multipooler"]["resources"]["requests"]["memory"] == "512Mi"


def test_password_secret_volume_and_postgres_user() -> None:
    sts = _pools(_orders0())[0]
    pod = sts["spec"]["template"]["spec"]
    secret = next(v for v in pod["volumes"] if v["name"] == "postgres-password")["secret"]
    assert secret["secretName"] == "example-multigres-cluster-postgres-password"
    assert secret["items"] == [{"key": "password", "path": "password"}]
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == 999
    term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]


def test_port_names_are_unique_and_short() -> None:
    sts = _pools(_orders0())[0]
    names = [p["name"] for c in _containers(sts).values() for p in c.get("ports", [])]
    assert len(names) == len(set(names)) and all(len(n) <= 15 for n in names)


def test_pools_of_two_shards_do_not_share_selectors() -> None:
    a = _pools(_orders0())[0]
    b = _pools(fixtures.shard(1, "80-inf"))[0]
    assert a["spec"]["selector"] != b["spec"]["selector"]
    assert a["metadata"]["name"] != b["metadata"]["name"]


def test_missing_access_modes_default_to_read_write_once() -> None:
    shard = _orders0()
    del shard.spec.pools[0].data_volume_claim_template["accessModes"]
    sts = _pools(shard)[0]
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]


# ---- what a shard needs to bootstrap (docs/workloads.md "Pooler pods") ----

MINIMAL = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())


def _render_minimal(mutate=lambda o: None) -> list[dict]:
    obj = copy.deepcopy(MINIMAL)
    mutate(obj)
    return objects(run_text(resource_list(obj)))


def _db(obj: dict) -> dict:
    return obj["spec"]["databases"]["templates"][0]["spec"]


def _mounts(container: dict) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in container.get("volumeMounts") or []}


def test_one_backup_claim_per_shard_mounted_by_every_pool_in_both_containers() -> None:
    objs = build_multishard(_orders0(), CTX)
    (claim,) = [o for o in objs if o["kind"] == "PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == "example-multigres-cluster-production-db-orders-tg-0-backups"
    assert claim["spec"] == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}}}
    # Removing a pool (or the shard) from the render must not delete the repository.
    assert claim["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
    assert claim["metadata"]["annotations"]["cli-utils.sigs.k8s.io/on-remove"] == "keep"
    assert claim["metadata"]["annotations"]["client.lifecycle.config.k8s.io/deletion"] == "detach"
    for sts in (o for o in objs if o["kind"] == "StatefulSet"):
        vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "backups")
        assert vol["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        assert {n: _mounts(c)["backups"] for n, c in _containers(sts).items() if "backups" in _mounts(c)} == {
            "pgctld": "/backups", "multipooler": "/backups"}


def test_backup_claim_size_and_class_come_from_the_database() -> None:
    objs = _render_minimal(lambda o: _db(o).update(backup={"volumeClaimTemplate": {
        "storageClassName": "nfs-client", "resources": {"requests": {"storage": "50Gi"}}}}))
    (claim,) = [o for o in objs if o["kind"] == "PersistentVolumeClaim"]
    assert claim["spec"] == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "50Gi"}},
                             "storageClassName": "nfs-client"}


def test_s3_backups_have_no_claim_and_credentials_come_from_a_secret_reference() -> None:
    s3 = {"bucket": "bk", "region": "eu-west-1", "endpoint": "http://minio:9000", "credentialsSecret": "s3-creds"}
    objs = _render_minimal(lambda o: _db(o).update(backup={"s3": s3}))
    assert not [o for o in objs if o["kind"] == "PersistentVolumeClaim"]
    sts = next(o for o in objs if o["kind"] == "StatefulSet" and "-replica-" in o["metadata"]["name"])
    cs = _containers(sts)
    assert "backups" not in _mounts(cs["pgctld"]) and "backups" not in _mounts(cs["multipooler"])
    env = {e["name"]: e for e in cs["multipooler"]["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "s3-creds", "key": "AWS_ACCESS_KEY_ID"}
    assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert not any(e["name"].startswith("AWS_") for e in cs["pgctld"]["env"])
    from consistency import registration_records

    (db,) = [topo_decode.decode_database(v) for _, k, v in registration_records(objs) if k.endswith("/Database")]
    assert db["s3"] == {"bucket": "bk", "region": "eu-west-1", "endpoint": "http://minio:9000", "key_prefix": "",
                        "use_env_credentials": 1}


def test_pg_hba_template_allows_tcp_replication_and_pgctld_reads_it() -> None:
    objs = build_multishard(_orders0(), CTX)
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap" and "pg_hba_template.conf" in o["data"]]
    lines = [ln.split() for ln in cm["data"]["pg_hba_template.conf"].splitlines() if ln and not ln.startswith("#")]
    assert ["host", "replication", "all", "0.0.0.0/0", "scram-sha-256"] in lines
    assert ["host", "replication", "all", "::0/0", "scram-sha-256"] in lines
    assert all(ln[-1] == "scram-sha-256" for ln in lines)  # never trust
    sts = next(o for o in objs if o["kind"] == "StatefulSet")
    pgctld = _containers(sts)["pgctld"]
    path = args_of(pgctld)["--pg-hba-template"]
    assert path.rsplit("/", 1) == [_mounts(pgctld)["pg-hba"], "pg_hba_template.conf"]
    vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "pg-hba")
    assert vol["configMap"]["name"] == cm["metadata"]["name"]


def test_pgctld_creates_the_database() -> None:
    sts = _pools(_orders0())[0]
    assert args_of(_containers(sts)["pgctld"])["--pg-database"] == "production_db"


def test_service_ids_are_short_unique_per_pool_and_use_the_pod_ordinal() -> None:
    ids = [args_of(_containers(o)["multipooler"])["--service-id"] for o in _pools(_orders0())
           if o["kind"] == "StatefulSet"]
    assert len(set(ids)) == 2 and ids == [args_of(_containers(o)["multipooler"])["--service-id"]
                                          for o in _pools(_orders0()) if o["kind"] == "StatefulSet"]  # stable
    sts = _pools(_orders0())[0]
    env = {e["name"]: e for e in _containers(sts)["multipooler"]["env"]}
    assert env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert len(ids[0].replace("$(POD_INDEX)", "0")) == 10


def test_pgctld_is_a_native_sidecar_and_servers_have_startup_probes() -> None:
    pod = _pools(_orders0())[0]["spec"]["template"]["spec"]
    (pgctld,) = pod["initContainers"]
    assert pgctld["name"] == "pgctld" and pgctld["restartPolicy"] == "Always"
    assert [c["name"] for c in pod["containers"]] == ["multipooler", "postgres-config-reloader"]
    for c in (pgctld, pod["containers"][0]):
        assert c["startupProbe"]["httpGet"]["path"] == "/live"
        assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] == 300


def test_multipooler_pool_capacity_fits_under_max_connections() -> None:
    args = args_of(_containers(_pools(_orders0())[0])["multipooler"])
    assert args["--connpool-global-capacity"] == "40"


def test_pgbackrest_tls_is_mounted_with_upstream_file_names_in_both_containers() -> None:
    sts = _pools(_orders0())[0]
    cs = _containers(sts)
    vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "pgbackrest-tls")
    assert vol["secret"]["secretName"] == "example-multigres-cluster-pgbackrest-tls"
    assert vol["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}, {"key": "tls.crt", "path": "pgbackrest.crt"},
                                      {"key": "tls.key", "path": "pgbackrest.key"}]
    assert vol["secret"]["defaultMode"] == 0o440  # group-readable: fsGroup 999, both containers run as 999
    cert_dir = args_of(cs["pgctld"])["--pgbackrest-cert-dir"]
    assert _mounts(cs["pgctld"])["pgbackrest-tls"] == _mounts(cs["multipooler"])["pgbackrest-tls"] == cert_dir
    pooler = args_of(cs["multipooler"])
    assert [pooler[f"--pgbackrest-{k}-file"] for k in ("cert", "key", "ca")] == [
        f"{cert_dir}/pgbackrest.crt", f"{cert_dir}/pgbackrest.key", f"{cert_dir}/ca.crt"]
    assert pooler["--pgbackrest-port"] == args_of(cs["pgctld"])["--pgbackrest-port"] == "8432"


def test_headless_service_publishes_postgres_and_pgbackrest_before_ready() -> None:
    _, svc, _ = _pools(_orders0())[:3]
    assert {p["name"] for p in svc["spec"]["ports"]} == {"http", "grpc", "postgres", "pgbackrest"}
    assert svc["spec"]["publishNotReadyAddresses"] is True


def test_cert_manager_certificate_covers_every_pool_hostname() -> None:
    objs = _render_minimal(lambda o: o["spec"].update(pgbackrestTLS={"certManager": {"issuerRef": {
        "name": "ca", "kind": "ClusterIssuer"}}}))
    (cert,) = [o for o in objs if o["kind"] == "Certificate"]
    assert cert["spec"]["secretName"] == "minimal-pgbackrest-tls" and cert["spec"]["commonName"] == "pgbackrest"
    assert set(cert["spec"]["usages"]) >= {"server auth", "client auth"}
    assert cert["spec"]["issuerRef"] == {"name": "ca", "kind": "ClusterIssuer"}
    hosts = [args_of(_containers(o)["multipooler"])["--hostname"] for o in objs if o["kind"] == "StatefulSet"
             and o["metadata"]["labels"].get("app.kubernetes.io/component") == "multipooler"]
    assert hosts and all(h.replace("$(POD_NAME)", "*") in cert["spec"]["dnsNames"] for h in hosts)


def test_pgbackrest_tls_secret_name_can_be_chosen_and_reaches_pods_and_certificate() -> None:
    objs = _render_minimal(lambda o: o["spec"].update(pgbackrestTLS={"secretName": "my-tls", "certManager": {
        "issuerRef": {"name": "ca"}}}))
    (cert,) = [o for o in objs if o["kind"] == "Certificate"]
    assert cert["spec"]["secretName"] == "my-tls" and cert["spec"]["issuerRef"] == {"name": "ca", "kind": "Issuer"}
    sts = next(o for o in objs if o["kind"] == "StatefulSet" and "-replica-" in o["metadata"]["name"])
    vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "pgbackrest-tls")
    assert vol["secret"]["secretName"] == "my-tls"


def test_missing_s3_credentials_secret_is_a_warning() -> None:
    obj = copy.deepcopy(MINIMAL)
    _db(obj).update(backup={"s3": {"bucket": "b", "region": "r", "credentialsSecret": "s3-creds"}})
    results = run_text(resource_list(obj)).results
    (r,) = [r for r in results if r.path == "spec.backup.s3.credentialsSecret"]
    assert r.severity == "warning" and "'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'" in r.message


def test_the_primarys_hook_asks_its_own_table_groups_multiorch_in_its_own_cell() -> None:
    """The preStop hook's last argument names the multiorch Deployments it may ask for a recovery
    cycle, as `cell=Deployment` pairs: its table group's in the pod's own cell first, then the same
    table group's in each other cell of its pools, each once (seed: three cells)."""
    rendered = objects(render_paths(EXAMPLES / "seed"))
    orchs = {o["metadata"]["name"]: o["metadata"]["labels"] for o in rendered
             if o["kind"] == "Deployment" and o["metadata"]["labels"]["app.kubernetes.io/component"] == "multiorch"}
    seen = spanning = 0
    for sts in (o for o in rendered if o["kind"] == "StatefulSet"
                and o["metadata"]["labels"]["app.kubernetes.io/component"] == "multipooler"):
        labels = sts["metadata"]["labels"]
        hook = _containers(sts)["multipooler"]["lifecycle"]["preStop"]["exec"]["command"]
        pairs = [p.split("=") for p in hook[-1].split()]
        assert pairs[0][0] == labels["multigres.com/cell"], pairs
        assert len({c for c, _ in pairs}) == len(pairs), pairs
        spanning += len(pairs) > 1
        for cell, orch in pairs:
            assert orch in orchs, (orch, sorted(orchs))
            assert orchs[orch]["multigres.com/cell"] == cell
            for key in ("multigres.com/database", "multigres.com/table-group"):
                assert orchs[orch][key] == labels[key], (key, orch, sts["metadata"]["name"])
        same_group = {n for n, lb in orchs.items()
                      if all(lb[k] == labels[k] for k in ("multigres.com/database", "multigres.com/table-group"))}
        assert {o for _, o in pairs} == same_group
        seen += 1
    assert seen >= 3 and spanning >= 2, (seen, spanning)
