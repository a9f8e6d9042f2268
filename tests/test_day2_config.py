"""postgresConfig (precedence, memory defaults, refusals, restart digest) and logLevels."""

from __future__ import annotations

import copy

import pytest
from consistency import args_of
from helpers import EXAMPLES, objects, resource_list, run_text

from krmfn import yamlio
from krmfn.workloads import postgres_config

MINIMAL = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
POOL_PATH = "spec.shardTemplate.pools[0].postgresConfig"


def _run(mutate=lambda o: None, *extra: dict):
    obj = copy.deepcopy(MINIMAL)
    mutate(obj)
    return run_text(resource_list(obj, *extra))


def _pool(obj: dict) -> dict:
    return obj["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"][0]


def _settings(out) -> dict[str, str]:
    (cm,) = [o for o in objects(out, "ConfigMap") if "pg_hba_template.conf" in o["data"]]
    lines = [ln for ln in cm["data"]["postgresql-replica-zone1.conf"].splitlines() if ln and not ln.startswith("#")]
    return {k: v.strip("'") for k, v in (ln.split(" = ", 1) for ln in lines)}


def _pod(out) -> dict:
    (sts,) = [o for o in objects(out, "StatefulSet") if o["metadata"]["labels"]["app.kubernetes.io/component"]
              == "multipooler"]
    return sts["spec"]["template"]


def _errors(out) -> list[tuple[str, str]]:
    return [(r.path, r.message) for r in out.results if r.severity == "error"]


def test_memory_defaults_follow_the_postgres_container_memory() -> None:
    # Default request 1Gi: a quarter, three quarters, and the floor of 100 connections.
    assert _settings(_run()) == {"shared_buffers": "256MB", "effective_cache_size": "768MB",
                                 "max_connections": "100", "wal_receiver_status_interval": "2s",
                                 "wal_retrieve_retry_interval": "200ms"}
    out = _run(lambda o: _pool(o).update(postgres={"resources": {"limits": {"memory": "8Gi"}}}))
    assert _settings(out) == {"shared_buffers": "2048MB", "effective_cache_size": "6144MB",
                              "max_connections": "200", "wal_receiver_status_interval": "2s",
                              "wal_retrieve_retry_interval": "200ms"}
    assert postgres_config.memory_defaults(64 * 1024**3)["max_connections"] == "500"


def test_cluster_template_pool_precedence_and_null_removes() -> None:
    template = {"apiVersion": "multigres.com/v1alpha1", "kind": "MultigresDeploymentTemplate",
                "metadata": {"name": "pg", "namespace": "default"},
                "spec": {"shardPool": {"postgresConfig": {"work_mem": "8MB", "myapp.flavor": "template"}}}}

    def mutate(o: dict) -> None:
        o["spec"]["postgresConfig"] = {"work_mem": "4MB", "log_min_duration_statement": "1s",
                                       "myapp.flavor": "cluster", "statement_timeout": "30s"}
        pool = _pool(o)
        pool["multigresDeploymentTemplate"] = "pg"
        pool["overrides"] = {"postgresConfig": {"myapp.flavor": "pool", "statement_timeout": None}}

    out = _run(mutate, template)
    assert not _errors(out)
    got = _settings(out)
    assert got["work_mem"] == "8MB"  # template over cluster
    assert got["myapp.flavor"] == "pool"  # pool overrides over template
    assert got["log_min_duration_statement"] == "1s"  # cluster alone
    assert "statement_timeout" not in got  # null in overrides removes the cluster's key


def test_user_memory_settings_replace_the_defaults() -> None:
    out = _run(lambda o: o["spec"].update(postgresConfig={"shared_buffers": "1GB"}))
    assert _settings(out)["shared_buffers"] == "1GB"


def test_user_settings_replace_the_renders_defaults_whatever_their_case() -> None:
    out = _run(lambda o: o["spec"].update(postgresConfig={"WAL_RECEIVER_STATUS_INTERVAL": "10s"}))
    got = _settings(out)
    assert got["WAL_RECEIVER_STATUS_INTERVAL"] == "10s"
    assert "wal_receiver_status_interval" not in got


@pytest.mark.parametrize("name", ["synchronous_standby_names", "archive_command", "port", "listen_addresses",
                                  "primary_conninfo", "wal_level", "max_wal_senders", "hba_file"])
def test_settings_multigres_manages_are_refused(name: str) -> None:
    out = _run(lambda o: o["spec"].update(postgresConfig={name: "x"}))
    assert [(p, m.split(" ")[0]) for p, m in _errors(out)] == [(f"{POOL_PATH}.{name}", name)]
    assert "managed by Multigres" in _errors(out)[0][1]


def test_unknown_setting_is_refused() -> None:
    out = _run(lambda o: _pool(o).update(postgresConfig={"shared_bufers": "1GB"}))
    ((path, message),) = _errors(out)
    assert path == f"{POOL_PATH}.shared_bufers" and "would not start" in message


def test_read_only_setting_is_refused() -> None:
    out = _run(lambda o: o["spec"].update(postgresConfig={"block_size": "16384"}))
    assert [p for p, _ in _errors(out)] == [f"{POOL_PATH}.block_size"]


def test_malformed_name_is_refused() -> None:
    out = _run(lambda o: o["spec"].update(postgresConfig={"a b": "1"}))
    assert [p for p, _ in _errors(out)] == [f"{POOL_PATH}.a b"]


def test_non_string_value_is_refused_by_the_schema() -> None:
    out = _run(lambda o: o["spec"].update(postgresConfig={"work_mem": 4}))
    assert any("postgresConfig" in r.path for r in out.results if r.severity == "error")


def test_restart_only_settings_change_the_pod_template_reloadable_ones_only_the_file() -> None:
    base = _run()
    reload = _run(lambda o: o["spec"].update(postgresConfig={"work_mem": "64MB"}))
    restart = _run(lambda o: o["spec"].update(postgresConfig={"max_connections": "300"}))
    assert _settings(reload)["work_mem"] == "64MB"
    assert _pod(reload) == _pod(base)  # no roll: the reloader applies it
    key = postgres_config.RESTART_ANNOTATION
    assert _pod(restart)["metadata"]["annotations"][key] != _pod(base)["metadata"]["annotations"][key]


def test_pgctld_includes_the_file_and_the_reloader_watches_it() -> None:
    pod = _pod(_run())["spec"]
    (pgctld,) = pod["initContainers"]
    path = "/etc/multigres/pg-hba/postgresql-replica-zone1.conf"
    assert {"name": postgres_config.ENV, "value": path} in pgctld["env"]
    mount = next(m for m in pgctld["volumeMounts"] if m["name"] == "pg-hba")
    assert mount == {"name": "pg-hba", "mountPath": "/etc/multigres/pg-hba", "readOnly": True}  # no subPath:
    # a subPath mount never sees the ConfigMap's updates
    reloader = next(c for c in pod["containers"] if c["name"] == "postgres-config-reloader")
    assert reloader["args"][-1] == path and mount in reloader["volumeMounts"]
    assert "pg_reload_conf()" in reloader["args"][1]


def test_literal_quotes_and_escapes() -> None:
    assert postgres_config.literal("it's") == "'it''s'"
    assert postgres_config.literal("a\\b") == "'a\\\\b'"


def test_log_levels_reach_every_component() -> None:
    levels = {"multiadmin": "debug", "multigateway": "warn", "multiorch": "error", "multipooler": "debug",
              "pgctld": "warn"}
    out = _run(lambda o: o["spec"].update(logLevels=levels))
    seen: dict[str, str] = {}
    for obj in objects(out, "Deployment") + objects(out, "StatefulSet"):
        pod = obj["spec"]["template"]["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            if c["name"] in levels:
                seen[c["name"]] = args_of(c).get("--log-level", "")
    assert seen == levels


def test_unset_log_level_adds_no_flag_and_unknown_level_is_refused() -> None:
    out = _run()
    for obj in objects(out, "Deployment"):
        for c in obj["spec"]["template"]["spec"]["containers"]:
            assert "--log-level" not in args_of(c)
    bad = _run(lambda o: o["spec"].update(logLevels={"multipooler": "trace"}))
    assert any(r.path.startswith("spec.logLevels.multipooler") for r in bad.results if r.severity == "error")


@pytest.mark.e2e  # the image root's PostgreSQL (built on first use): the e2e run
def test_pg_settings_match_the_image_postgres(tmp_path) -> None:
    """krmfn/pg_settings.py is what the pgctld image's PostgreSQL says."""
    import os
    import subprocess

    from helpers import ROOT as REPO
    from helpers import image_root

    if os.geteuid() != 0:
        pytest.skip("needs root (tools/pg-settings.sh runs the server in a chroot of the image root)")
    image_root("usr/lib/postgresql/17/bin/postgres")
    out = tmp_path / "pg_settings.py"
    subprocess.run([REPO / "tools" / "pg-settings.sh"], env={**os.environ, "PG_SETTINGS_OUT": str(out)}, check=True,
                   capture_output=True)
    assert out.read_text() == (REPO / "krmfn" / "pg_settings.py").read_text(), "run tools/pg-settings.sh"
