"""krmfn_etcd, the TLS etcd client the registration Job and the gateways' wait run with
spec.topoTLS, against a small HTTPS server that answers like etcd's JSON gateway and, like etcd with
--client-cert-auth, requires a client certificate from the CA. (The real etcd is the e2e's:
tests/e2e/test_topo_tls.py.)"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from krmfn_etcd import main as etcd


def _certs(tmp: Path) -> dict[str, str]:
    def _openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True)

    _openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-days", "2", "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.crt")
    _openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", "/CN=etcd",
        "-keyout", "tls.key", "-out", "tls.csr")
    (tmp / "ext.cnf").write_text("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
                                 "basicConstraints=critical,CA:FALSE\n")
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-out", "tls.crt", "-extfile", "ext.cnf")
    return {"ca": str(tmp / "ca.crt"), "cert": str(tmp / "tls.crt"), "key": str(tmp / "tls.key")}


class _Etcd(BaseHTTPRequestHandler):
    store: dict[bytes, bytes] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer({"health": "true"} if self.path == "/health" else {})

    def do_POST(self) -> None:  # noqa: N802
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = base64.b64decode(req["key"])
        if self.path == "/v3/kv/put":
            self.store[key] = base64.b64decode(req["value"])
            self._answer({"header": {}})
        elif key in self.store:
            self._answer({"kvs": [{"key": req["key"], "value": base64.b64encode(self.store[key]).decode()}]})
        else:
            self._answer({"header": {}})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    certs = _certs(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=certs["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED  # etcd's --client-cert-auth
    ctx.load_cert_chain(certs["cert"], certs["key"])
    _Etcd.store = {}
    httpd = ThreadingHTTPServer(("localhost", 0), _Etcd)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"localhost:{httpd.server_address[1]}", certs
    httpd.shutdown()
    httpd.server_close()


def test_host_port_takes_the_first_address() -> None:
    assert etcd.host_port("a.b.svc:2379") == ("a.b.svc", 2379)
    assert etcd.host_port("https://x:1,y:2") == ("x", 1)
    assert etcd.host_port("[::1]:2379") == ("::1", 2379)
    with pytest.raises(ValueError):
        etcd.host_port("no-port")


def test_put_then_wait_for_cell_finds_the_record(server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    endpoint, certs = server
    record = tmp_path / "record-0"
    record.write_bytes(b"\x80\x01binary")
    flags = ["--cacert", certs["ca"], "--cert", certs["cert"], "--key", certs["key"]]
    with pytest.raises(SystemExit) as done:
        etcd.main([*flags, "put", endpoint, "/mg/cells/z1/Cell", str(record)])
    assert done.value.code == 0
    assert _Etcd.store == {b"/mg/cells/z1/Cell": b"\x80\x01binary"}
    with pytest.raises(SystemExit) as done:
        etcd.main([*flags, "wait-for-cell", endpoint, "/mg/cells/z1/Cell", endpoint])
    assert done.value.code == 0


def test_without_a_client_certificate_the_server_refuses(server: tuple[str, dict[str, str]]) -> None:
    endpoint, certs = server
    ctx = ssl.create_default_context(cafile=certs["ca"])  # the CA only: no client certificate
    client = etcd.Etcd(endpoint, ctx)
    with pytest.raises((ssl.SSLError, OSError)):
        client.request("GET", "/health")
    assert not client.healthy()
    assert etcd.Etcd(endpoint, etcd.tls_context(certs["ca"], certs["cert"], certs["key"])).healthy()


def test_an_odd_argument_list_is_refused(server: tuple[str, dict[str, str]]) -> None:
    endpoint, certs = server
    client = etcd.Etcd(endpoint, etcd.tls_context(certs["ca"], certs["cert"], certs["key"]))
    assert etcd.put(client, ["/only-a-key"]) == 2
