"""`multigres-krmfn-etcd put|wait-for-cell`: the registration Job's writer and the gateways'
wait, over etcd's JSON gateway with TLS and a client certificate (the package docstring says why).

put ENDPOINT KEY FILE [KEY FILE ...]: wait until etcd answers /health, then put each file's bytes
under its key; any failed put exits 1 (the Job's pod restarts and writes everything again: every
run writes the desired records, so it is declarative).

wait-for-cell ENDPOINT KEY [CELL_ENDPOINT]: until KEY exists in the global etcd (the registration
Job writes it), then until the cell's own etcd, when given, is healthy. multigateway gives up
registering after 10 s (go/services/multigateway/init.go), so its pod waits here first.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import ssl
import sys
import time

REQUEST_TIMEOUT_SECONDS = 10
RETRY_SECONDS = 2


def host_port(endpoint: str) -> tuple[str, int]:
    """The first address of a topo address list (`host:port`, maybe `scheme://`, `[v6]`)."""
    first = endpoint.split(",", 1)[0].strip()
    first = first.split("://", 1)[-1].rstrip("/")
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"not host:port: {endpoint!r}")
    return host.strip("[]"), int(port)


def tls_context(ca: str, cert: str, key: str) -> ssl.SSLContext:
    """Verify etcd against the CA (and its name), present the client certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


class Etcd:
    """One etcd endpoint over HTTPS; each request on a fresh connection with a timeout."""

    def __init__(self, endpoint: str, ctx: ssl.SSLContext) -> None:
        self.host, self.port = host_port(endpoint)
        self.ctx = ctx

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> dict[str, object]:
        """The JSON answer; raises OSError (network, TLS) or RuntimeError (not 200)."""
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            text = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {text[:200]!r}")
        answer = json.loads(text or b"{}")
        return answer if isinstance(answer, dict) else {}

    def healthy(self) -> bool:
        try:
            return self.request("GET", "/health").get("health") == "true"
        except (OSError, RuntimeError, ValueError):
            return False

    def put(self, key: str, value: bytes) -> None:
        self.request("POST", "/v3/kv/put", {"key": b64(key.encode()), "value": b64(value)})

    def exists(self, key: str) -> bool:
        """etcd's range answer lists `kvs` only when the key exists."""
        return bool(self.request("POST", "/v3/kv/range", {"key": b64(key.encode())}).get("kvs"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wait_healthy(etcd: Etcd) -> None:
    while not etcd.healthy():
        print(f"waiting for etcd at {etcd.host}:{etcd.port}", flush=True)
        time.sleep(RETRY_SECONDS)


def put(etcd: Etcd, pairs: list[str]) -> int:
    if len(pairs) % 2:
        print("put: KEY FILE pairs expected", file=sys.stderr)
        return 2
    wait_healthy(etcd)
    for key, path in zip(pairs[::2], pairs[1::2], strict=True):
        with open(path, "rb") as f:
            value = f.read()
        try:
            etcd.put(key, value)
        except (OSError, RuntimeError, ValueError) as exc:
            print(f"put {key}: {exc}", file=sys.stderr)
            return 1
        print(f"put {key}", flush=True)
    return 0


def wait_for_cell(etcd: Etcd, key: str, cell: Etcd | None) -> int:
    while True:
        try:
            if etcd.exists(key):
                break
        except (OSError, RuntimeError, ValueError):
            pass
        print(f"waiting for {key} at {etcd.host}:{etcd.port} (the topology registration Job writes it)", flush=True)
        time.sleep(RETRY_SECONDS)
    print(f"found {key}", flush=True)
    if cell is not None:
        wait_healthy(cell)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="multigres-krmfn-etcd", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cacert", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    p_put = sub.add_parser("put")
    p_put.add_argument("endpoint")
    p_put.add_argument("pairs", nargs="*", metavar="KEY FILE")
    p_wait = sub.add_parser("wait-for-cell")
    p_wait.add_argument("endpoint")
    p_wait.add_argument("cell_key")
    p_wait.add_argument("cell_endpoint", nargs="?")
    args = parser.parse_args(argv)
    ctx = tls_context(args.cacert, args.cert, args.key)
    if args.command == "put":
        sys.exit(put(Etcd(args.endpoint, ctx), args.pairs))
    cell = Etcd(args.cell_endpoint, ctx) if args.cell_endpoint else None
    sys.exit(wait_for_cell(Etcd(args.endpoint, ctx), args.cell_key, cell))
