"""SQL from inside the node: a client pod (the pgctld image has psql) and the pooler pods' own
postgres, reached with `kubectl exec` as an operator would."""

from __future__ import annotations

import time

from knode.cluster import KubectlError, Node
from kube import wait

PASSWORD = "e2e-secret-pw"
PG_IMAGE = "ghcr.io/multigres/pgctld:sha-6bd80b9"
MULTIGRES_IMAGE = "ghcr.io/multigres/multigres:sha-6bd80b9"  # upstream's CLI and the components


def start_client(node: Node, ns: str, name: str = "psql", node_name: str | None = None) -> str:
    """A psql pod (on node_name when given)."""
    placement = {"nodeSelector": {"kubernetes.io/hostname": node_name}} if node_name else {}
    node.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                 "spec": {**placement, "terminationGracePeriodSeconds": 0, "containers": [
                     {"name": "psql", "image": PG_IMAGE, "imagePullPolicy": "Never",
                      "command": ["sleep", "infinity"], "env": [{"name": "PGPASSWORD", "value": PASSWORD}],
                      "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}]}}])
    wait(node, ns, f"pod/{name}", "condition=Ready", timeout=60)
    return name


def gateway_sql(node: Node, ns: str, host: str, sql: str, database: str = "postgres", client: str = "psql",
                timeout: float = 60) -> str:
    """Run sql through the gateway Service; -At output (unaligned, tuples only)."""
    res = node.kubectl("exec", "-n", ns, client, "--", "psql", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", "5432",
                       "-U", "postgres", "-d", database, "-Atq", "-c", sql, timeout=timeout)
    return res.stdout.strip()


def wait_gateway_sql(node: Node, ns: str, host: str, sql: str, timeout: float = 180,
                     database: str = "postgres", client: str = "psql") -> tuple[str, float]:
    """Retry sql until it succeeds; returns its output and the seconds it took."""
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 < timeout:
        try:
            return gateway_sql(node, ns, host, sql, database, client=client), time.monotonic() - t0
        except KubectlError as err:
            last = str(err)
        time.sleep(1)
    raise AssertionError(f"`{sql}` through {host} did not succeed within {timeout:.0f}s: {last}")


def first_write(node: Node, ns: str, host: str, sql: str, database: str = "postgres", client: str = "psql",
                timeout: float = 120) -> str:
    """A module's first write after its shard bootstrapped, retried until it succeeds: sql must be
    idempotent (`create table if not exists`, `insert ... on conflict do nothing`).

    Why: upstream multiorch may run its ShardInit a second time just after the first one promoted
    a primary (its store still showed the shard uninitialized), recruiting the new primary, which
    demotes itself and restarts as a standby; the first `select 1` may then succeed and the next
    statement meet "database is temporarily unavailable" (seen once in CI, test_topo_tls). The
    shard settles on a primary within seconds; a write retried until then is what a client does."""
    return wait_gateway_sql(node, ns, host, sql, timeout, database, client)[0]


def local_sql(node: Node, ns: str, pod: str, sql: str, database: str = "postgres") -> str:
    """Run sql on the pod's own postgres over its unix socket, from the pgctld container."""
    script = ('PGPASSWORD="$(cat /etc/multigres/postgres-password/password)" '
              f'psql -h /data/pg_sockets -U postgres -d {database} -At -c "$0"')
    return node.kubectl("exec", "-n", ns, pod, "-c", "pgctld", "--", "bash", "-c", script, sql).stdout.strip()


def pooler_pods(node: Node, ns: str, selector: str = "app.kubernetes.io/component=multipooler") -> list[str]:
    out = node.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")
    return sorted(out.stdout.split())


def primary(node: Node, ns: str, pods: list[str]) -> str:
    """The pod whose postgres is not in recovery (exactly one)."""
    found = []
    for pod in pods:
        try:
            if local_sql(node, ns, pod, "select pg_is_in_recovery()") == "f":
                found.append(pod)
        except KubectlError:
            continue
    assert len(found) == 1, f"expected one primary among {pods}, found {found}"
    return found[0]
