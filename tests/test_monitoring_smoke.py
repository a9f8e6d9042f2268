"""The rendered monitoring settings against the real programs, on this machine (no node needed).

- postgres_exporter (built from its vendored source) runs with the sidecar's rendered env and args
  against a real PostgreSQL over a unix socket with SCRAM, as in a pooler pod: `pg_up` is 1 and
  every exporter metric the alerts and the dashboard use on a primary is there.
- A real Multigres binary (multiadmin) runs with its rendered OTel env and pushes to a real
  Prometheus (OTLP receiver on, the attributes of docs/monitoring.md promoted): its series arrive
  under the names the catalog gives, with the cluster's labels.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLES, go_tool, objects, render_paths
from processes import ProcessGroup, http_json, wait_for

from krmfn import defaults, naming
from krmfn.workloads.alerts import RULES, fill
from krmfn.workloads.dashboard import PANELS

# It starts real servers (PostgreSQL, the exporter, Prometheus, etcd, multiadmin; root for the
# users and the read-only mount): part of the e2e run (`make e2e`), not of a plain pytest (docs/tools.md,
# "The two test runs"): `pytest -m e2e tests/test_monitoring_smoke.py`.
pytestmark = pytest.mark.e2e

# Debian keeps the server out of PATH (/usr/lib/postgresql/<major>/bin).
POSTGRES = shutil.which("postgres") or next(
    (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)), None)
PASSWORD = "s3cret-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return objects(render_paths(EXAMPLES / "monitoring"))


def container(objs: list[dict[str, Any]], component: str, name: str) -> dict[str, Any]:
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet") and \
                o["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component:
            spec = o["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                if c["name"] == name:
                    return dict(c)
    raise AssertionError(f"no container {name} in a {component} pod")


def plain_env(c: dict[str, Any], **pod: str) -> dict[str, str]:
    """The container's env as the kubelet hands it over: downward values given, `$(VAR)` expanded."""
    out: dict[str, str] = {}
    for e in c.get("env", []):
        value = pod.get(e["name"], e.get("value", ""))
        out[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: out.get(m.group(1), m.group(0)), value)
    return out


def exporter_metric_names() -> set[str]:
    """`pg_*` names the alerts and the panels query."""
    exprs = [fill(r["expr"], "c", "n") for r in RULES] + [fill(q, "c", "n") for _, _, q in PANELS]
    return {n for e in exprs for n in re.findall(r"\b(pg_[a-z_]+)\{", e)}


# ---- postgres_exporter against a real PostgreSQL ----

@pytest.fixture
def postgres(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    if POSTGRES is None:
        pytest.skip("no PostgreSQL server on this machine")
    bindir = Path(POSTGRES).resolve().parent
    # Not under tmp_path: pytest's folders are private to root, and postgres refuses to run as root.
    root = Path(tempfile.mkdtemp(prefix="krmfn-pg-"))
    os.chmod(root, 0o700)
    data, sockets = root / "pg_data", root / "pg_sockets"
    sockets.mkdir(parents=True)
    (root / "pw").write_text(PASSWORD + "\n")
    shutil.chown(root, "postgres", "postgres")
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    shutil.chown(sockets, "postgres", "postgres")
    shutil.chown(root / "pw", "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_pg, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                    f"--pwfile={root / 'pw'}"], check=True, capture_output=True)
    with ProcessGroup(tmp_path / "logs") as group:
        group.start("postgres", [*as_pg, POSTGRES, "-D", str(data), "-k", str(sockets), "-c", "listen_addresses=",
                                 "-p", "5432"])
        wait_for(lambda: (sockets / ".s.PGSQL.5432").exists(), 60, "postgres' socket", alive=group)
        yield group, sockets, root / "pw"


def test_exporter_sidecar_reads_a_real_postgres(rendered: list[dict[str, Any]], postgres: Any,
                                                tmp_path: Path) -> None:
    group, sockets, password = postgres
    # As in the pod: the socket folder mounted read-only, the exporter as postgres' user (a copy of
    # the binary that user may execute; the tool cache is root's).
    ro = sockets.parent / "ro"
    ro.mkdir()
    exporter = str(shutil.copy(go_tool("postgres_exporter", "postgres_exporter"), sockets.parent / "exporter"))
    c = container(rendered, "multipooler", naming.EXPORTER_CONTAINER)
    env = plain_env(c)
    env["DATA_SOURCE_URI"] = env["DATA_SOURCE_URI"].replace("/data/pg_sockets", str(ro))
    env["DATA_SOURCE_PASS_FILE"] = str(password)
    port = free_port()
    args = [a.replace(":9187", f"127.0.0.1:{port}") for a in c["args"]]
    mount_ro = 'mount --bind "$1" "$2" && mount -o remount,ro,bind "$2" && shift 2 && exec "$@"'
    proc = group.start("exporter", ["unshare", "-m", "--", "sh", "-c", mount_ro, "sh", str(sockets), str(ro),
                                    "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", exporter,
                                    *args], env={"PATH": os.environ["PATH"], **env}, cwd="/")
    url = f"http://127.0.0.1:{port}/metrics"

    def scrape() -> str | None:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        return text if re.search(r"^pg_up 1$", text, re.M) else None

    text = wait_for(scrape, 60, "pg_up 1 from the exporter", alive=group)
    exported = set(re.findall(r"^(pg_[a-z_]+)[{ ]", text, re.M))
    # pg_stat_replication_* has rows only on a primary with standbys (the node e2e has them).
    missing = exporter_metric_names() - exported - {"pg_stat_replication_pg_wal_lsn_diff"}
    assert not missing, missing
    # Fits its default memory limit with room to spare after a run of scrapes.
    for _ in range(50):
        urllib.request.urlopen(url, timeout=5).read()
    status = Path(f"/proc/{proc.pid}/status").read_text()
    peak_kib = int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
    limit_mib = int(defaults.EXPORTER_RESOURCES["limits"]["memory"].removesuffix("Mi"))
    assert peak_kib < limit_mib * 1024 / 2, f"exporter peak RSS {peak_kib} KiB"


# ---- a Multigres binary pushing to a real Prometheus ----

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 5s
otlp:
  promote_resource_attributes: [multigres.cluster, multigres.cell, multigres.database, multigres.tablegroup,
    multigres.shard, multigres.pool_type, k8s.namespace.name, k8s.pod.name]
"""


def test_multiadmin_pushes_to_prometheus(rendered: list[dict[str, Any]], tmp_path: Path,
                                         request: pytest.FixtureRequest) -> None:
    prometheus = go_tool("prometheus", "prometheus")
    etcd = go_tool("etcd", "etcd")
    # servenv refuses to run as root: a copy `nobody` may execute (the tool cache is root's).
    public = Path(tempfile.mkdtemp(prefix="krmfn-mg-"))
    request.addfinalizer(lambda: shutil.rmtree(public, ignore_errors=True))
    os.chmod(public, 0o755)
    multiadmin = str(shutil.copy(go_tool("multigres", "multiadmin"), public / "multiadmin"))
    ports = {k: free_port() for k in ("prom", "etcd", "peer", "http", "grpc")}
    (tmp_path / "prometheus.yml").write_text(PROMETHEUS_CONFIG)
    c = container(rendered, "multiadmin", "multiadmin")
    env = plain_env(c, POD_NAME="monitoring-multiadmin-x", POD_NAMESPACE="default", POD_IP="127.0.0.1")
    env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = f"http://127.0.0.1:{ports['prom']}/api/v1/otlp/v1/metrics"
    env["OTEL_METRIC_EXPORT_INTERVAL"] = "1000"
    args = [a for a in c["args"] if not a.startswith(("--topo-global-server-addresses", "--http-port", "--grpc-port"))]
    args += [f"--topo-global-server-addresses=127.0.0.1:{ports['etcd']}", f"--http-port={ports['http']}",
             f"--grpc-port={ports['grpc']}"]
    with ProcessGroup(tmp_path / "logs") as group:
        group.start("prometheus", [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={tmp_path / 'tsdb'}", "--web.enable-otlp-receiver",
                                   f"--web.listen-address=127.0.0.1:{ports['prom']}"])
        group.start("etcd", [etcd, f"--data-dir={tmp_path / 'etcd'}",
                             f"--listen-client-urls=http://127.0.0.1:{ports['etcd']}",
                             f"--advertise-client-urls=http://127.0.0.1:{ports['etcd']}",
                             f"--listen-peer-urls=http://127.0.0.1:{ports['peer']}",
                             f"--initial-advertise-peer-urls=http://127.0.0.1:{ports['peer']}",
                             f"--initial-cluster=default=http://127.0.0.1:{ports['peer']}"])
        group.start("multiadmin", ["runuser", "-u", "nobody", "--", multiadmin, *args],
                    env={"PATH": os.environ["PATH"], **env}, cwd="/")
        labels = ('{job="multiadmin",multigres_cluster="monitoring",k8s_namespace_name="default",'
                  'k8s_pod_name="monitoring-multiadmin-x"}')

        def series(name: str) -> list[Any] | None:
            query = urllib.parse.quote(name + labels)
            result: list[Any] = http_json(f"http://127.0.0.1:{ports['prom']}/api/v1/query?query={query}")["data"]["result"]
            return result or None

        # A gauge in bytes (`By` -> _bytes) and a counter in seconds (`s` -> _seconds, monotonic -> _total),
        # as upstream's catalog names them (a fresh process may not have used a whole CPU tick yet).
        for name in ("process_memory_usage_bytes", "process_cpu_time_seconds_total"):
            found = wait_for(lambda: series(name), 60, f"multiadmin's {name} in Prometheus", alive=group)  # noqa: B023
            assert all(float(s["value"][1]) >= 0 for s in found), (name, found)
