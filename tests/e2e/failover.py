"""A writer pod that counts acknowledged rows through a gateway, and what it saw around a failover.

Shared by the failover tests (test_minimal, test_grpc_tls, test_topo_tls): the pod inserts one row
every 0.1 s for `seconds` into `table` (columns id int, note text) and logs `ack <id> <ms>` or
`fail <id> <ms> <psql's error, or timeout>` per attempt (the failures are kept in
`e2e-logs/<namespace>-<pod>-failures.log`), so lost rows and the time writes came back are read from what a
client saw, not from the server. The outage is the longest stretch between acknowledgements: the
gateway holds writes during a failover (failover buffering), so failures alone would miss it.
"""

from __future__ import annotations

from dataclasses import dataclass

from conftest import LOG_DIR
from helpers import longest_write_gap
from knode.cluster import Node
from kube import wait
from sql import PASSWORD, PG_IMAGE, gateway_sql

FIRST_ID = 100000


def start_writer(node: Node, ns: str, gateway: str, table: str, seconds: int, name: str = "writer") -> str:
    """Start the writer pod (bounded: at most 10 x `seconds` attempts); its name."""
    script = (f"end=$(( $(date +%s) + {seconds} )); i={FIRST_ID}; "
              "while [ $(date +%s) -lt $end ]; do i=$((i+1)); "
              f"if err=$(timeout 5 psql -h {gateway} -U postgres -d postgres -Atq "
              f"-c \"insert into {table} values ($i, 'w')\" 2>&1 >/dev/null); "
              "then echo ack $i $(date +%s%3N); "
              "else echo \"fail $i $(date +%s%3N) $(echo ${err:-timeout} | head -c 300)\"; fi; "
              "sleep 0.1; done")
    node.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                 "spec": {"restartPolicy": "Never", "containers": [{
                     "name": "writer", "image": PG_IMAGE, "imagePullPolicy": "Never",
                     "command": ["bash", "-c", script], "env": [{"name": "PGPASSWORD", "value": PASSWORD}],
                     "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}]}}])
    wait(node, ns, f"pod/{name}", "condition=Ready", timeout=60)
    return name


@dataclass(frozen=True)
class Outcome:
    acked: set[int]  # ids the gateway acknowledged
    back_ms: int  # ms from the kill to the acknowledgement that ended the longest write gap after it
    gap_ms: int  # that gap: ms between the acknowledgements around it (writes failed or were held)
    failed_attempts: int  # attempts that failed after the kill
    lost: list[int]  # acknowledged ids missing from the table afterwards


def outcome(node: Node, ns: str, gateway: str, table: str, killed_ms: int, name: str = "writer") -> Outcome:
    """Wait for the writer to finish and read its log against the table."""
    wait(node, ns, f"pod/{name}", "jsonpath={.status.phase}=Succeeded", timeout=120)
    log = node.kubectl("logs", "-n", ns, name).stdout.split("\n")
    # A failed attempt's line ends with psql's error (or `timeout`): what the gateway answered.
    attempts = [(kind, int(i), int(ms)) for kind, i, ms, *_ in (line.split() for line in log if line.strip())]
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / f"{ns}-{name}-failures.log").write_text("".join(f"{line}\n" for line in log if line.startswith("fail")))
    acked = {i for kind, i, _ in attempts if kind == "ack"}
    after = [(kind, ms) for kind, _, ms in attempts if ms >= killed_ms]
    failures = [ms for kind, ms in after if kind == "fail"]
    gap = longest_write_gap([ms for kind, _, ms in attempts if kind == "ack"], killed_ms)
    assert gap is not None, f"no write succeeded after the primary's pod was deleted: {after[-5:]}"
    present = {int(x) for x in gateway_sql(node, ns, gateway, f"select id from {table} where id > {FIRST_ID}")
               .split()}
    return Outcome(acked, gap[1] - killed_ms, gap[1] - gap[0], len(failures), sorted(acked - present))
