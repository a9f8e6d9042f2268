"""Internal TLS on the real node: `examples/minimal` with `spec.internalTLS` and a user Secret made
here with openssl (a CA, and one certificate for the name every caller verifies, server and client
auth, as docs/security.md "Internal TLS" tells users to make it). One cluster for every test.

- the cluster bootstraps and serves SQL through the gateway: multiorch (to elect and watch the
  poolers) and the gateway (to query them) can only do that over mutual TLS, since the poolers
  require a client certificate from the CA;
- every gRPC server but multiadmin's says it serves TLS with client certificates;
- a plaintext gRPC client (the multigres CLI, which has no TLS) reaches multiadmin's plaintext gRPC
  but not a pooler's: the pooler drops it in the handshake (a plaintext pooler would have answered
  "unknown service", the check's other outcome);
- deleting the primary's pod: writes come back and no acknowledged row is lost.

The NetworkPolicies are on (the default) and enforced by the node's policy agent. Measured times go
to `e2e-logs/internal-tls-times.txt` (docs/runtime-checks.md).
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
from failover import outcome, start_writer
from knode.cluster import Node
from kube import namespace, wait
from render import apply_render, fit_to_node, install_crds, load_example, password_secret, render_cluster, tls_secret
from sql import (
    MULTIGRES_IMAGE,
    PASSWORD,
    first_write,
    gateway_sql,
    pooler_pods,
    primary,
    start_client,
    wait_gateway_sql,
)

from krmfn import naming

NS = "itls"
CLUSTER = "minimal"
GATEWAY = f"{CLUSTER}-zone1-gateway"
SERVER_NAME = naming.internal_server_name(CLUSTER)


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_internal_secret(ns: str) -> str:
    """A CA and the components' certificate (server and client auth) for SERVER_NAME, as a
    kubernetes.io/tls Secret manifest with ca.crt."""
    with tempfile.TemporaryDirectory() as tmp:
        _openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-days", "2", "-subj", "/CN=e2e internal CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=tmp)
        _openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-subj", f"/CN={SERVER_NAME}", "-keyout", "tls.key", "-out", "tls.csr", cwd=tmp)
        (Path(tmp) / "ext.cnf").write_text(
            f"subjectAltName=DNS:{SERVER_NAME}\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\n")
        _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", "tls.crt", "-extfile", "ext.cnf", cwd=tmp)
        files = {k: (Path(tmp) / k).read_text() for k in ("ca.crt", "tls.crt", "tls.key")}
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                       "metadata": {"name": naming.internal_tls_secret(CLUSTER), "namespace": ns},
                       "data": {k: base64.b64encode(v.encode()).decode() for k, v in files.items()}})


@pytest.fixture(scope="module")
def cluster(node: Node) -> Iterator[dict[str, float]]:
    ns = namespace(node, NS)
    install_crds(node)
    password_secret(node, ns, CLUSTER, PASSWORD)
    spec, extra = load_example("minimal", ns)
    spec["spec"]["internalTLS"] = {}
    rendered = render_cluster(spec, extra)
    assert f"--multipooler-grpc-server-name={SERVER_NAME}" in rendered
    tls_secret(node, ns, CLUSTER, rendered)
    node.kubectl("apply", "--server-side", "-f", "-", input=make_internal_secret(ns))
    t0 = time.monotonic()
    apply_render(node, fit_to_node(rendered))
    start_client(node, ns)
    times: dict[str, float] = {"applied_at": t0}
    yield times
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "internal-tls-times.txt").write_text(
        "".join(f"{k}: {v:.1f}s\n" if not k.endswith(("_attempts", "_rows")) else f"{k}: {v:.0f}\n"
                for k, v in times.items() if k != "applied_at"))
    node.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)


def test_bootstraps_and_serves_sql_over_mutual_tls(node: Node, cluster: dict[str, float]) -> None:
    wait(node, NS, f"deployment/{GATEWAY}", "condition=Available", timeout=420)
    _, _ = wait_gateway_sql(node, NS, GATEWAY, "select 1", timeout=420)
    cluster["first_query"] = time.monotonic() - cluster["applied_at"]
    first_write(node, NS, GATEWAY, "create table if not exists itls_rows (id int primary key, note text); "
                "insert into itls_rows values (1, 'tls') on conflict do nothing")
    assert gateway_sql(node, NS, GATEWAY, "select count(*) from itls_rows") == "1"


def _log(node: Node, what: str, container: str) -> str:
    return node.kubectl("logs", "-n", NS, what, "-c", container).stdout


def test_every_grpc_server_but_multiadmins_serves_mutual_tls(node: Node, cluster: dict[str, float]) -> None:
    pooler = pooler_pods(node, NS)[0]
    orch = node.kubectl("get", "deployments", "-n", NS, "-l", "app.kubernetes.io/component=multiorch",
                        "-o", "jsonpath={.items[0].metadata.name}").stdout
    for what, container in ((f"pod/{pooler}", "multipooler"), (f"deployment/{orch}", "multiorch"),
                            (f"deployment/{GATEWAY}", "multigateway")):
        line = next((x for x in _log(node, what, container).splitlines() if "gRPC TLS enabled" in x), "")
        assert "mtls" in line and "true" in line.split("mtls", 1)[1][:8], (what, line)
    assert "gRPC TLS enabled" not in _log(node, f"deployment/{CLUSTER}-multiadmin", "multiadmin")


def _cli_pod(node: Node) -> str:
    """The multigres CLI in a pod with multiadmin's labels: the policies let it reach the poolers'
    gRPC port, so what refuses it below is TLS, not the network."""
    labels = naming.selector(naming.labels(CLUSTER, "multiadmin"))
    node.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cli", "namespace": NS, "labels": labels},
                 "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                     "name": "cli", "image": MULTIGRES_IMAGE, "imagePullPolicy": "Never",
                     "command": ["sleep", "infinity"], "readinessProbe": {"exec": {"command": ["false"]}},
                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}])
    wait(node, NS, "pod/cli", "jsonpath={.status.phase}=Running", timeout=60)
    return "cli"


def _cli(node: Node, target: str) -> subprocess.CompletedProcess[str]:
    return node.kubectl("exec", "-n", NS, "cli", "--", "timeout", "30", "/multigres/bin/multigres", "getcellnames",
                        f"--admin-server={target}", check=False, timeout=60)


def test_a_plaintext_grpc_client_is_refused_by_a_pooler(node: Node, cluster: dict[str, float]) -> None:
    _cli_pod(node)
    control = _cli(node, f"{CLUSTER}-multiadmin:15070")  # multiadmin's own gRPC stays plaintext
    assert control.returncode == 0 and "zone1" in control.stdout, (control.stdout, control.stderr)
    ip = node.kubectl("get", "pod", "-n", NS, pooler_pods(node, NS)[0], "-o", "jsonpath={.status.podIP}").stdout
    res = _cli(node, f"{ip}:15270")
    out = res.stdout + res.stderr
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "grpc-tls-cli.txt").write_text(f"multiadmin (plaintext): rc {control.returncode}: {control.stdout}"
                                              f"pooler: rc {res.returncode}: {out}")
    assert res.returncode != 0, out
    # plaintext to a plaintext pooler reaches gRPC and gets "unknown service"; here the TLS server
    # closes the connection before any HTTP/2 frame
    assert "Unimplemented" not in out and "unknown service" not in out, out
    assert "Unavailable" in out or "connection closed" in out or "EOF" in out, out
    node.kubectl("delete", "pod", "-n", NS, "cli", "--wait=false")


def test_failover_over_mutual_tls_keeps_every_acknowledged_row(node: Node, cluster: dict[str, float]) -> None:
    old = primary(node, NS, pooler_pods(node, NS))
    start_writer(node, NS, GATEWAY, "itls_rows", seconds=60)
    time.sleep(5)
    killed_ms = int(time.time() * 1000)
    node.kubectl("delete", "pod", "-n", NS, old, "--wait=false")
    seen = outcome(node, NS, GATEWAY, "itls_rows", killed_ms)
    cluster["failover_writes_back"] = seen.back_ms / 1000
    cluster["failover_failed_attempts"] = seen.failed_attempts
    cluster["failover_acknowledged_rows"] = len(seen.acked)
    assert not seen.lost, f"acknowledged rows lost: {seen.lost[:20]}"
    assert seen.back_ms <= 30_000, f"writes came back after {seen.back_ms / 1000:.1f}s"
    new = primary(node, NS, [p for p in pooler_pods(node, NS) if p != old])
    assert new != old
