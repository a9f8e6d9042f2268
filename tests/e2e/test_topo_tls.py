"""etcd TLS on the real node: `examples/minimal` with `spec.topoTLS` and a user Secret made by
`scripts/make-topo-tls.sh` from the render (as docs/security.md "etcd TLS" tells users to). The
render's own etcd clients (registration Job, gateways' wait) run on the function's image, built
here from the Dockerfile and imported into the node under the name the render uses by default
(no `clientImage`: the default is what is tested). One cluster for every test.

- the cluster bootstraps and serves SQL through the gateway: every component reads the topology
  over TLS with its client certificate, since etcd requires one; the registration Job's etcdctl
  (with the certificate) lists the records it wrote; etcd's probes (plain HTTP on 2381) hold;
- an etcd client without a certificate is refused (Python's ssl with the CA only, and etcdctl
  with `--cacert` only), and so is plain HTTP, while the same clients with the certificate get in;
- deleting the primary's pod: writes come back and no acknowledged row is lost.

The NetworkPolicies are on (the default); the probing pods carry multiadmin's labels so that what
refuses them is TLS, not the network. Measured times go to `e2e-logs/topo-tls-times.txt`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LOG_DIR
from failover import outcome, start_writer
from function_image import Built, build, function_image, save_oci_archive
from knode.cluster import Node
from kube import namespace, wait
from render import apply_render, fit_to_node, install_crds, load_example, password_secret, render_cluster, tls_secret
from sql import PASSWORD, first_write, gateway_sql, pooler_pods, primary, start_client, wait_gateway_sql

from krmfn import defaults, naming

pytestmark = pytest.mark.e2e

NS = "etls"
CLUSTER = "minimal"
GATEWAY = f"{CLUSTER}-zone1-gateway"
ROOT = Path(__file__).resolve().parents[2]
CLIENT = f"{naming.topo_client_service(naming.global_topo_name(CLUSTER))}.{NS}.svc.cluster.local"
CELL_KEY = f"{defaults.GLOBAL_ROOT.rstrip('/')}/cells/zone1/Cell"
DIR = defaults.TOPO_CERT_DIR


@pytest.fixture(scope="session")
def function_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Path]]:
    folder = tmp_path_factory.mktemp("topo-tls-image")
    built = build(folder)
    yield built, save_oci_archive(built, folder / "function-image.oci.tar")


def topo_secret(node: Node, rendered: str) -> None:
    """The etcd Secret, made from the render with the script docs/security.md gives users."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["bash", str(ROOT / "scripts" / "make-topo-tls.sh"), CLUSTER, NS],
                             input=rendered, capture_output=True, text=True, cwd=tmp,
                             env={**os.environ, "TOPO_TLS_DIR": str(Path(tmp) / "tls")})
        assert out.returncode == 0, out.stderr
        node.kubectl("apply", "--server-side", "-f", "-", input=out.stdout)


@pytest.fixture(scope="module")
def cluster(function_archive: tuple[Built, Path], node: Node) -> Iterator[dict[str, float]]:
    built, archive = function_archive
    assert built.image == function_image(), built.image
    times: dict[str, float] = {"image_import": node.import_image(archive, built.image)}
    ns = namespace(node, NS)
    install_crds(node)
    password_secret(node, ns, CLUSTER, PASSWORD)
    spec, extra = load_example("minimal", ns)
    spec["spec"]["topoTLS"] = {}
    rendered = render_cluster(spec, extra)
    assert "--client-cert-auth" in rendered and "--topo-etcd-tls-cert=" in rendered
    tls_secret(node, ns, CLUSTER, rendered)
    topo_secret(node, rendered)
    t0 = time.monotonic()
    apply_render(node, fit_to_node(rendered))
    start_client(node, ns)
    times["applied_at"] = t0
    yield times
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "topo-tls-times.txt").write_text(
        "".join(f"{k}: {v:.1f}s\n" if not k.endswith(("_attempts", "_rows")) else f"{k}: {v:.0f}\n"
                for k, v in times.items() if k != "applied_at"))
    node.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)


def test_bootstraps_and_serves_sql_with_etcd_tls(node: Node, cluster: dict[str, float]) -> None:
    wait(node, NS, f"deployment/{GATEWAY}", "condition=Available", timeout=480)
    _, _ = wait_gateway_sql(node, NS, GATEWAY, "select 1", timeout=420)
    cluster["first_query"] = time.monotonic() - cluster["applied_at"]
    first_write(node, NS, GATEWAY, "create table if not exists etls_rows (id int primary key, note text); "
                "insert into etls_rows values (1, 'tls') on conflict do nothing")
    assert gateway_sql(node, NS, GATEWAY, "select count(*) from etls_rows") == "1"
    job = node.kubectl("get", "jobs", "-n", NS, "-l", "app.kubernetes.io/component=topo-registration",
                       "-o", "jsonpath={.items[0].metadata.name}").stdout
    wait(node, NS, f"job/{job}", "condition=Complete", timeout=120)
    listed = node.kubectl("logs", "-n", NS, f"job/{job}", "-c", "list-records").stdout
    put = node.kubectl("logs", "-n", NS, f"job/{job}", "-c", "register").stdout
    assert CELL_KEY in listed and f"put {CELL_KEY}" in put, (listed, put)
    ready = node.kubectl("get", "pods", "-n", NS, "-l", "app.kubernetes.io/component=etcd",
                         "-o", "jsonpath={.items[*].status.containerStatuses[0].ready}").stdout
    assert ready and set(ready.split()) == {"true"}, ready  # /readyz on the plain metrics port


PROBE = r"""
import http.client, json, ssl, sys
mode, host = sys.argv[1], sys.argv[2]
d = "@DIR@"
try:
    if mode == "plain":
        conn = http.client.HTTPConnection(host, 2379, timeout=10)
    else:
        ctx = ssl.create_default_context(cafile=f"{d}/ca.crt")
        if mode == "cert":
            ctx.load_cert_chain(f"{d}/tls.crt", f"{d}/tls.key")
        conn = http.client.HTTPSConnection(host, 2379, context=ctx, timeout=10)
    conn.request("GET", "/health")
    resp = conn.getresponse()
    print(f"HTTP {resp.status} {resp.read()[:120]!r}")
except Exception as exc:
    print(f"refused: {type(exc).__name__}: {exc}")
""".replace("@DIR@", DIR)


def _probe_pod(node: Node, name: str, image: str, command: list[str], restart: str = "Never") -> None:
    labels = naming.selector(naming.labels(CLUSTER, "multiadmin"))
    node.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS, "labels": labels},
                 "spec": {"terminationGracePeriodSeconds": 0, "restartPolicy": restart,
                          "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "fsGroup": 65534},
                          "containers": [{
                              "name": "probe", "image": image, "imagePullPolicy": "IfNotPresent",
                              "command": command,
                              "volumeMounts": [{"name": "tls", "mountPath": DIR, "readOnly": True}],
                              "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                          "volumes": [{"name": "tls", "secret": {"secretName": naming.topo_tls_secret(CLUSTER),
                                                                 "defaultMode": 0o440}}]}}])


def _etcdctl(node: Node, name: str, with_cert: bool) -> tuple[str, str]:
    flags = [f"--cacert={DIR}/ca.crt"] + ([f"--cert={DIR}/tls.crt", f"--key={DIR}/tls.key"] if with_cert else [])
    _probe_pod(node, name, defaults.ETCD_IMAGE,
               [defaults.ETCDCTL_BIN, f"--endpoints=https://{CLIENT}:2379", *flags, "--dial-timeout=5s",
                "--command-timeout=10s", "get", CELL_KEY, "--keys-only"])
    node.kubectl("wait", "-n", NS, f"pod/{name}", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s",
                 check=False, timeout=120)
    phase = node.kubectl("get", "pod", "-n", NS, name, "-o", "jsonpath={.status.phase}").stdout
    if phase == "Running":
        time.sleep(20)
        phase = node.kubectl("get", "pod", "-n", NS, name, "-o", "jsonpath={.status.phase}").stdout
    log = node.kubectl("logs", "-n", NS, name, check=False).stdout
    return phase, log


def test_etcd_refuses_a_client_without_a_certificate(node: Node, cluster: dict[str, float]) -> None:
    _probe_pod(node, "py", function_image(), ["sleep", "infinity"], restart="Always")
    wait(node, NS, "pod/py", "condition=Ready", timeout=90)
    answers = {mode: node.kubectl("exec", "-n", NS, "py", "--", "python", "-c", PROBE, mode, CLIENT,
                                  timeout=60).stdout.strip() for mode in ("cert", "nocert", "plain")}
    cert_phase, cert_log = _etcdctl(node, "etcdctl-cert", with_cert=True)
    bare_phase, bare_log = _etcdctl(node, "etcdctl-nocert", with_cert=False)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "topo-tls-clients.txt").write_text(
        "".join(f"python {k}: {v}\n" for k, v in answers.items())
        + f"etcdctl with certificate: {cert_phase}: {cert_log}\netcdctl without: {bare_phase}: {bare_log}\n")
    assert answers["cert"].startswith("HTTP 200") and '"health":"true"' in answers["cert"], answers
    # refused by etcd for the missing certificate (TLS 1.3: the alert comes with the first read)
    assert answers["nocert"].startswith("refused:") and "certificate required" in answers["nocert"].lower(), answers
    assert not answers["plain"].startswith("HTTP 200"), answers
    assert cert_phase == "Succeeded" and CELL_KEY in cert_log, (cert_phase, cert_log)
    assert bare_phase == "Failed" and CELL_KEY not in bare_log, (bare_phase, bare_log)
    # etcdctl reports its balancer's last error: the alert itself, or the write that met the
    # connection etcd closed after sending it (run 2: `write: broken pipe`)
    assert any(x in bare_log for x in ("certificate required", "broken pipe", "connection reset")), bare_log
    node.kubectl("delete", "pod", "-n", NS, "py", "etcdctl-cert", "etcdctl-nocert", "--wait=false")


def test_failover_with_etcd_tls_keeps_every_acknowledged_row(node: Node, cluster: dict[str, float]) -> None:
    old = primary(node, NS, pooler_pods(node, NS))
    start_writer(node, NS, GATEWAY, "etls_rows", seconds=60)
    time.sleep(5)
    killed_ms = int(time.time() * 1000)
    node.kubectl("delete", "pod", "-n", NS, old, "--wait=false")
    seen = outcome(node, NS, GATEWAY, "etls_rows", killed_ms)
    cluster["failover_writes_back"] = seen.back_ms / 1000
    cluster["failover_failed_attempts"] = seen.failed_attempts
    cluster["failover_acknowledged_rows"] = len(seen.acked)
    cluster["failover_lost_rows"] = len(seen.lost)
    assert not seen.lost, f"acknowledged rows lost: {seen.lost[:20]}"
    assert seen.back_ms <= 30_000, f"writes came back after {seen.back_ms / 1000:.1f}s"
    new = primary(node, NS, [p for p in pooler_pods(node, NS) if p != old])
    assert new != old
