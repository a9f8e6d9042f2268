"""The primary's preStop hook (bash) against a stand-in for multiadmin's REST API on loopback.

The replies have multiadmin's shape (protojson, camelCase, enums by name; a pooler per shard key);
the real API is exercised by the e2e roll and scale-down tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import go_tool

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
        self.orchs: list[dict] = []  # GET /api/v1/orchs?cells=zone1
        self.other_orchs: list[dict] = []  # GET /api/v1/orchs?cells=zone2
        self.orch_cells: list[str] = []  # the cells the hook asked for, in order

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
            if self.path.startswith("/api/v1/orchs"):
                cell = self.path.removeprefix("/api/v1/orchs?cells=")
                admin.orch_cells.append(cell)
                self._reply({"orchs": {"zone1": admin.orchs, "zone2": admin.other_orchs}.get(cell, [])})
                return
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


def _hook(port: int, pod: str, budget: int = 20, orchs: str = "") -> subprocess.CompletedProcess[str]:
    command = handover.pre_stop_command(f"127.0.0.1:{port}", "postgres/default/0-inf", SUFFIX, budget, orchs)
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


# --- the request to multiorch after the switch -----------------------------------------------------

ORCH = "pg-multiorch-zone1"  # the Deployment the hook is told to ask
ORCH2 = "pg-multiorch-zone2"  # the same table group's, in the next cell
ORCHS = f"zone1={ORCH} zone2={ORCH2}"  # as handover.orchestrators renders it for a pod of zone1


def _orch(name: str, port: int, cell: str = "zone1") -> dict:
    """A record as multiorch registers it (go/services/multiorch/init.go: name = --service-id, the
    pod's name; hostname = the pod IP; port map grpc and http)."""
    return {"id": {"component": "MULTIORCH", "cell": cell, "name": name}, "hostname": "127.0.0.1",
            "portMap": {"grpc": port, "http": 1}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Decoy:
    """A TCP listener that counts who connects: orchestrators the hook must not ask."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture
def multiorch(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Upstream's multiorch on loopback (its topology unreachable: the gRPC service still serves)."""
    port, log = _free_port(), tmp_path / "multiorch.log"
    tmp_path.chmod(0o777)
    cmd = [go_tool("multigres", "multiorch"), f"--http-port={_free_port()}", f"--grpc-port={port}", "--cell=zone1",
           "--watch-targets=postgres/default", "--topo-global-server-addresses=127.0.0.1:9",
           "--topo-global-root=/multigres/global", "--hostname=127.0.0.1", "--service-id=orch"]
    if os.geteuid() == 0:  # multiorch refuses to run as root
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_primary_asks_its_multiorch_for_a_recovery_cycle_after_the_switch(served, multiorch) -> None:
    port, log = multiorch
    decoy = Decoy()
    admin = Admin(primary=f"p-2.{SUFFIX}", new_primary=f"p-0.{SUFFIX}", after=8)
    admin.orchs = [
        _orch(f"{ORCH}-5d4f8c9b7-x2k9q", port),
        _orch("pg-other-multiorch-zone1-5d4f8c9b7-x2k9q", decoy.port),  # another table group's
        _orch(f"{ORCH}-extra-5d4f8c9b7-x2k9q", decoy.port),  # another Deployment's name starting with ours
    ]
    admin.other_orchs = [_orch(f"{ORCH2}-6c7d9e8f5-a1b2c", decoy.port, "zone2")]  # its cell has one: not asked
    ran = _hook(served(admin), "p-2", orchs=ORCHS)
    assert ran.returncode == 0, ran.stderr
    assert f"new primary p-0.{SUFFIX}" in ran.stderr
    answered = int(ran.stderr.split("multiorch answered ")[1].split()[0])
    assert answered >= 1, ran.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines() if "TriggerRecoveryNow" in line]
    assert calls and all(c["max_cycles"] == 1 for c in calls), log.read_text()[-2000:]
    assert decoy.accepted == 0 and admin.orch_cells == ["zone1"]
    time.sleep(5)  # a request in flight when the hook returned ends within its 4 s bound; no new one starts
    settled = log.read_text().count("TriggerRecoveryNow")
    time.sleep(2)
    assert log.read_text().count("TriggerRecoveryNow") == settled


def test_a_multiorch_that_does_not_answer_changes_nothing(served) -> None:
    decoy = Decoy()  # accepts and hangs up at once: no HTTP/2 reply
    admin = Admin(primary=f"p-2.{SUFFIX}", new_primary=f"p-0.{SUFFIX}", after=4)
    admin.orchs = [_orch(f"{ORCH}-5d4f8c9b7-x2k9q", decoy.port)]
    ran = _hook(served(admin), "p-2", orchs=ORCHS)
    assert ran.returncode == 0, ran.stderr
    assert f"new primary p-0.{SUFFIX}" in ran.stderr and "multiorch answered 0 recovery requests" in ran.stderr
    assert decoy.accepted >= 1


def test_without_a_multiorch_in_its_cell_the_primary_asks_the_next_cells(served, multiorch) -> None:
    """A drain evicts the primary's pod and its cell's multiorch together (it deregisters as it
    stops): the requests go to the table group's multiorch in the next cell, and to no third cell's."""
    port, log = multiorch
    decoy = Decoy()
    admin = Admin(primary=f"p-2.{SUFFIX}", new_primary=f"p-0.{SUFFIX}", after=8)
    admin.other_orchs = [_orch(f"{ORCH2}-6c7d9e8f5-a1b2c", port, "zone2"),
                         _orch(f"{ORCH}-5d4f8c9b7-x2k9q", decoy.port, "zone2")]  # zone1's name: not zone2's
    ran = _hook(served(admin), "p-2", orchs=f"{ORCHS} zone3=pg-multiorch-zone3")
    assert ran.returncode == 0, ran.stderr
    assert admin.orch_cells == ["zone1", "zone2"], admin.orch_cells
    assert int(ran.stderr.split("multiorch answered ")[1].split()[0]) >= 1, ran.stderr
    assert "TriggerRecoveryNow" in log.read_text()
    assert decoy.accepted == 0
