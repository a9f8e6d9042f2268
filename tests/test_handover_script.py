"""The primary's preStop hook (bash) against a stand-in for multiadmin's REST API on loopback.

The replies have multiadmin's shape (protojson, camelCase, enums by name; a pooler per shard key);
the real API is exercised by the e2e roll and scale-down tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from krmfn.workloads import handover

SUFFIX = "pool.ns.svc.cluster.local"


class Admin:
    """Poolers p-0..p-2 of postgres/default/0-inf; `primary` flips `after` GETs past the switch."""

    def __init__(self, primary: str, new_primary: str | None, after: int = 2, refuse: int = 0) -> None:
        self.primary, self.new_primary, self.after = primary, new_primary, after
        self.refuse = refuse  # switch-primary answers 500 this many times first (a stale pooler address)
        self.refused = 0
        self.switches: list[tuple[str, dict]] = []
        self.gets = 0

    def poolers(self) -> dict:
        if self.switches and self.new_primary is not None:
            self.after -= 1
            if self.after <= 0:
                self.primary = self.new_primary
        out = []
        for i in range(3):
            host = f"p-{i}.{SUFFIX}"
            record = {"id": {"component": "MULTIPOOLER", "cell": "zone1", "name": f"abc-{i}"},
                      "shardKey": {"database": "postgres", "tableGroup": "default", "shard": "0-inf"},
                      "servingStatus": "SERVING", "hostname": host, "portMap": {"grpc": 15270}}
            if host == self.primary:
                record["routingState"] = {"role": "ROUTING_ROLE_PRIMARY", "rule": {"coordinatorTerm": "3"}}
            out.append(record)
        other = {"id": {"component": "MULTIPOOLER", "cell": "zone1", "name": "xyz-0"},
                 "shardKey": {"database": "postgres", "tableGroup": "default", "shard": "0-80"},
                 "hostname": f"q-0.{SUFFIX}", "routingState": {"role": "ROUTING_ROLE_PRIMARY"}}
        return {"poolers": [other, *out]}  # another shard's primary is never ours


def _serve(admin: Admin) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, body: dict, status: int = 200) -> None:
            data = json.dumps(body).encode()  # ", " and ": " separators: the hook must not care
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            # multiadmin refuses a shard filter without a table group (and its request has none)
            assert self.path == "/api/v1/poolers?database=postgres", self.path
            admin.gets += 1
            self._reply(admin.poolers())

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if admin.refused < admin.refuse:
                admin.refused += 1
                self._reply({"code": 13, "message": "ResignLeadership failed: ... connect: no route to host"}, 500)
                return
            admin.switches.append((self.path, body))
            self._reply({"oldLeaderId": {"component": "MULTIPOOLER", "cell": "zone1", "name": "abc-2"}})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _hook(port: int, pod: str, budget: int = 20) -> subprocess.CompletedProcess[str]:
    command = handover.pre_stop_command(f"127.0.0.1:{port}", "postgres/default/0-inf", SUFFIX, budget)
    env = {**os.environ, "POD_NAME": pod, "HANDOVER_LOG": "/dev/stderr"}
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def served():
    servers: list[ThreadingHTTPServer] = []

    def start(admin: Admin) -> int:
        servers.append(_serve(admin))
        return servers[-1].server_address[1]

    yield start
    for s in servers:
        s.shutdown()


def test_standby_stops_without_a_switch(served) -> None:
    admin = Admin(primary=f"p-0.{SUFFIX}", new_primary=None)
    ran = _hook(served(admin), "p-2")
    assert ran.returncode == 0, ran.stderr
    assert admin.switches == [] and admin.gets == 1


def test_primary_switches_over_and_waits_for_the_new_primary(served) -> None:
    admin = Admin(primary=f"p-2.{SUFFIX}", new_primary=f"p-0.{SUFFIX}", after=3)
    ran = _hook(served(admin), "p-2")
    assert ran.returncode == 0, ran.stderr
    assert [path for path, _ in admin.switches] == ["/api/v1/shards/postgres/default/0-inf/switch-primary"]
    assert admin.switches[0][1] == {"reason": "pod p-2 stopping"}
    assert admin.gets >= 4  # the first look, then polls until p-0 was reported
    assert f"new primary p-0.{SUFFIX}" in ran.stderr


def test_primary_gives_up_after_its_budget(served) -> None:
    admin = Admin(primary=f"p-2.{SUFFIX}", new_primary=None)
    ran = _hook(served(admin), "p-2", budget=2)
    assert ran.returncode == 0
    assert len(admin.switches) == 1
    assert "no new primary within 2 s" in ran.stderr


def test_a_refused_switch_is_asked_again_within_the_budget(served) -> None:
    admin = Admin(primary=f"p-2.{SUFFIX}", new_primary=f"p-0.{SUFFIX}", refuse=2)
    ran = _hook(served(admin), "p-2")
    assert ran.returncode == 0, ran.stderr
    assert admin.refused == 2 and len(admin.switches) == 1
    assert ran.stderr.count("switch-primary failed; asking again") == 2
    assert f"new primary p-0.{SUFFIX}" in ran.stderr


def test_a_switch_refused_for_the_whole_budget_lets_the_pod_stop(served) -> None:
    admin = Admin(primary=f"p-2.{SUFFIX}", new_primary=None, refuse=1000)
    ran = _hook(served(admin), "p-2", budget=3)
    assert ran.returncode == 0
    assert admin.switches == [] and admin.refused >= 2
    assert "switch-primary failed for 3 s; stopping without handover" in ran.stderr


def test_unreachable_multiadmin_lets_the_pod_stop() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there any more: connection refused
    ran = _hook(port, "p-2")
    assert ran.returncode == 0
    assert "multiadmin unreachable" in ran.stderr
