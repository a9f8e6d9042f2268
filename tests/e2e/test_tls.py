"""Client TLS on the real node: `examples/minimal` with `spec.gatewayTLS: {required: true}` and a
user Secret made here with openssl (a CA, and a serving certificate for the gateway Service's
names, as docs/security.md "Client TLS" tells users to make it).

- psql with `sslmode=verify-full` and the CA reaches the database through the gateway Service, by
  its short and its fully qualified name, and the session is encrypted;
- the verification is real: the same CA and a name the certificate does not carry (the Service's
  cluster IP) is refused by the client;
- a plaintext session (`sslmode=disable`) is refused by the gateway (`--pg-require-ssl`).

The NetworkPolicies are on (the default) and enforced by the node's policy agent. The measured
time to the first verified query goes to `e2e-logs/tls-times.txt` (docs/runtime-checks.md).
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LOG_DIR
from knode.cluster import KubectlError, Node
from kube import get, namespace, wait
from render import apply_render, fit_to_node, install_crds, load_example, password_secret, render_cluster, tls_secret
from sql import PASSWORD, start_client

NS = "tls"
CLUSTER = "minimal"
GATEWAY = f"{CLUSTER}-zone1-gateway"
CA_IN_CLIENT = "/tmp/gateway-ca.crt"


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_gateway_secret(ns: str, names: list[str]) -> tuple[str, str]:
    """A CA and a gateway certificate for `names` (the secret manifest, the CA in PEM)."""
    with tempfile.TemporaryDirectory() as tmp:
        _openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-days", "2", "-subj", "/CN=e2e gateway CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=tmp)
        _openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-subj", f"/CN={names[0]}", "-keyout", "tls.key", "-out", "tls.csr", cwd=tmp)
        ext = Path(tmp) / "ext.cnf"
        ext.write_text(f"subjectAltName={','.join('DNS:' + n for n in names)}\n"
                       "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
                       "basicConstraints=critical,CA:FALSE\n")
        _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", "tls.crt", "-extfile", "ext.cnf", cwd=tmp)
        files = {k: (Path(tmp) / k).read_text() for k in ("ca.crt", "tls.crt", "tls.key")}
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": f"{CLUSTER}-gateway-tls", "namespace": ns},
              "data": {k: base64.b64encode(v.encode()).decode() for k, v in files.items()}}
    return json.dumps(secret), files["ca.crt"]


def psql(node: Node, conninfo: str, sql: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """psql in the client pod with a libpq connection string (password from PGPASSWORD)."""
    return node.kubectl("exec", "-n", NS, "psql", "--", "psql", f"{conninfo} user=postgres dbname=postgres",
                        "-v", "ON_ERROR_STOP=1", "-Atq", "-c", sql, check=check, timeout=60)


def verified(host: str) -> str:
    return f"host={host} port=5432 sslmode=verify-full sslrootcert={CA_IN_CLIENT}"


@pytest.fixture(scope="module")
def cluster(node: Node) -> Iterator[dict[str, float]]:
    ns = namespace(node, NS)
    install_crds(node)
    password_secret(node, ns, CLUSTER, PASSWORD)
    spec, extra = load_example("minimal", ns)
    spec["spec"]["gatewayTLS"] = {"required": True}
    rendered = render_cluster(spec, extra)
    assert "--pg-require-ssl" in rendered
    tls_secret(node, ns, CLUSTER, rendered)
    names = [GATEWAY, f"{GATEWAY}.{ns}", f"{GATEWAY}.{ns}.svc", f"{GATEWAY}.{ns}.svc.cluster.local"]
    secret, ca = make_gateway_secret(ns, names)
    node.kubectl("apply", "--server-side", "-f", "-", input=secret)
    t0 = time.monotonic()
    apply_render(node, fit_to_node(rendered))
    start_client(node, ns)
    node.kubectl("exec", "-i", "-n", ns, "psql", "--", "sh", "-c", f"cat > {CA_IN_CLIENT}", input=ca)
    times: dict[str, float] = {"applied_at": t0}
    yield times
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "tls-times.txt").write_text("".join(f"{k}: {v:.1f}s\n" for k, v in times.items() if k != "applied_at"))
    node.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)


def test_verify_full_through_the_gateway_service(node: Node, cluster: dict[str, float]) -> None:
    wait(node, NS, f"deployment/{GATEWAY}", "condition=Available", timeout=420)
    deadline = time.monotonic() + 300
    last = ""
    while time.monotonic() < deadline:
        res = psql(node, verified(GATEWAY), "select 1", check=False)
        if res.returncode == 0 and res.stdout.strip() == "1":
            break
        last = res.stderr
        time.sleep(2)
    else:
        raise AssertionError(f"no verified TLS session through {GATEWAY} within 300 s: {last}")
    cluster["first_verified_query"] = time.monotonic() - cluster["applied_at"]
    info = psql(node, verified(f"{GATEWAY}.{NS}.svc.cluster.local"), r"\conninfo").stdout
    assert "SSL" in info, info  # psql 17: "SSL connection (protocol: TLSv1.3, ...)"
    # Retried and idempotent: the shard's first primary may still be recruited again (sql.first_write).
    deadline = time.monotonic() + 120
    while True:
        res = psql(node, verified(f"{GATEWAY}.{NS}"), "create table if not exists tls_check (id int primary key); "
                   "insert into tls_check values (1) on conflict do nothing", check=False)
        if res.returncode == 0:
            break
        assert time.monotonic() < deadline, f"the first write through {GATEWAY} kept failing: {res.stderr}"
        time.sleep(1)
    assert psql(node, verified(GATEWAY), "select count(*) from tls_check").stdout.strip() == "1"


def test_a_name_the_certificate_does_not_carry_is_refused(node: Node, cluster: dict[str, float]) -> None:
    ip = get(node, NS, f"service/{GATEWAY}")["spec"]["clusterIP"]
    res = psql(node, verified(ip), "select 1", check=False)
    assert res.returncode != 0
    assert "does not match host name" in res.stderr, res.stderr


def test_plaintext_is_refused_when_tls_is_required(node: Node, cluster: dict[str, float]) -> None:
    res = psql(node, f"host={GATEWAY} port=5432 sslmode=disable", "select 1", check=False)
    assert res.returncode != 0, res.stdout
    assert "TLS is required" in res.stderr, res.stderr
    # the same client, asking for TLS without verifying, still gets in: the refusal is the mode
    assert psql(node, f"host={GATEWAY} port=5432 sslmode=require", "select 1").stdout.strip() == "1"


def test_gateway_logs_say_tls_is_configured(node: Node, cluster: dict[str, float]) -> None:
    try:
        log = node.kubectl("logs", "-n", NS, f"deployment/{GATEWAY}", "-c", "multigateway").stdout
    except KubectlError as err:
        raise AssertionError(f"no gateway log: {err}") from err
    assert "TLS configured for Postgres listener" in log, log[-3000:]
