"""The registration script, run by the local bash against a stand-in for etcd's JSON gateway.

The stand-in answers what etcd 3.6 answers on its client port (`GET /health`, `POST /v3/kv/put`
with base64 key and value; the gateway paths are those of etcd's api/etcdserverpb/rpc.proto) and
records each put. It proves the script waits for health, then writes every record file's exact
bytes under its key; tests/test_etcd_smoke.py runs the same script against real etcd members when
the binaries exist.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from consistency import registration_records
from helpers import EXAMPLES, objects, render_paths

from krmfn.workloads.registration import REQUEST_TIMEOUT_SECONDS, SCRIPT

SEED_OBJECTS = objects(render_paths(EXAMPLES / "seed"))


class FakeGateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    unhealthy = 1  # answers "not healthy" this many times first
    puts: dict[bytes, bytes] = {}

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()  # compact, as etcd writes it
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        cls = type(self)
        if self.path != "/health":
            return self._reply(404, {})
        cls.unhealthy -= 1
        self._reply(200 if cls.unhealthy < 0 else 503, {"health": "true" if cls.unhealthy < 0 else "false"})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v3/kv/put":
            return self._reply(404, {})
        type(self).puts[base64.b64decode(body["key"])] = base64.b64decode(body.get("value", ""))
        self._reply(200, {"header": {}})

    def log_message(self, *args: object) -> None:
        pass


def _configmap_dir(tmp: Path) -> Path:
    (cm,) = [o for o in SEED_OBJECTS if o["kind"] == "ConfigMap" and SCRIPT in (o.get("data") or {})]
    for name, text in cm["data"].items():
        (tmp / name).write_text(text)
    for name, data in cm["binaryData"].items():
        (tmp / name).write_bytes(base64.b64decode(data))
    return tmp


def test_script_waits_for_health_then_writes_every_record_exactly(tmp_path: Path) -> None:
    FakeGateway.unhealthy, FakeGateway.puts = 1, {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = _configmap_dir(tmp_path) / SCRIPT
        proc = subprocess.run(["bash", str(script), f"127.0.0.1:{server.server_address[1]}"],
                              capture_output=True, text=True)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    assert "waiting for etcd" in proc.stdout
    want = {k.encode(): v for _, k, v in registration_records(SEED_OBJECTS)}
    assert len(want) == 3 and FakeGateway.puts == want


def test_script_fails_when_a_put_is_refused(tmp_path: Path) -> None:
    class Refusing(FakeGateway):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self._reply(400, {"error": "no"})

    Refusing.unhealthy = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = _configmap_dir(tmp_path) / SCRIPT
        proc = subprocess.run(["bash", str(script), f"http://127.0.0.1:{server.server_address[1]}"],
                              capture_output=True, text=True)
    finally:
        server.shutdown()
    assert proc.returncode != 0 and "POST /v3/kv/put" in proc.stderr


def test_a_request_that_gets_no_answer_is_given_up_and_retried(tmp_path: Path) -> None:
    """The first /health request is accepted and never answered (packets that vanish look the same
    to the script): the watchdog ends it and the wait loop tries again. Without the watchdog the
    script would wait for that answer until the stand-in stops."""
    stop = threading.Event()

    class Silent(FakeGateway):
        silenced = 1

        def do_GET(self) -> None:  # noqa: N802
            if type(self).silenced > 0:
                type(self).silenced -= 1
                stop.wait()
                return
            super().do_GET()

    Silent.unhealthy, Silent.puts = 0, {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = _configmap_dir(tmp_path) / SCRIPT
        proc = subprocess.run(["bash", str(script), f"127.0.0.1:{server.server_address[1]}"],
                              capture_output=True, text=True, timeout=10 * REQUEST_TIMEOUT_SECONDS)
    finally:
        stop.set()
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    assert Silent.silenced == 0 and len(Silent.puts) == 3
