"""The status reporter and the read-only policy against a real kube-apiserver.

The minimal example is rendered with `statusReporter` and `readOnlyChildren` into a namespace of
its own and applied server-side. Then:

- RBAC: impersonating the reporter's ServiceAccount (`kubectl --as`), it may read what it watches
  and write the `status` subresource of the six kinds, and may not write their spec or anything else;
- the real reporter process (`python -m krmfn_status`, lightkube, with a token of that
  ServiceAccount) writes every status, `kubectl get` shows the printer columns, and a change of a
  workload's status is reflected; its peak RSS is measured;
- the ValidatingAdmissionPolicy refuses a user's edit of a MultiShard's spec with a message that
  says to edit the MultigresCluster, lets the configured spec writer through, and never touches
  status writes.

multiadmin is a stub HTTP server here, answering GET /api/v1/poolers in the upstream REST
gateway's JSON shape: the claim under test is about the API server, not about Multigres.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer, KubectlError
from helpers import EXAMPLES, ROOT, run_cli

from krmfn import yamlio

pytestmark = pytest.mark.e2e  # starts a kube-apiserver and the reporter process: the e2e run

NS = "status-test"
CLUSTER = "minimal"
REPORTER = f"system:serviceaccount:{NS}:minimal-status-reporter"
WRITER = "system:serviceaccount:argocd:argocd-application-controller"
SHARD = "multishard/minimal-postgres-default-0"
POOLERS = {"poolers": [
    {"id": {"component": "MULTIPOOLER", "cell": "zone1", "name": "zone1-pooler-0"},
     "shardKey": {"database": "postgres", "tableGroup": "default", "shard": "0-inf"},
     "routingState": {"role": "ROUTING_ROLE_PRIMARY"}},
]}
CONFIG = f"""\
apiVersion: fn.multigres.com/v1alpha1
kind: RenderMultigres
metadata:
  name: render
spec:
  includeCrds: true
  statusReporter: true
  readOnlyChildren: true
  specWriters: "{WRITER}, deployer@example.com"
"""


def _apply(server: ApiServer, text: str, *extra: str) -> subprocess.CompletedProcess:
    return server.kubectl("apply", "--server-side", "--field-manager=multigres-krmfn", *extra, "-f", "-", input=text)


@pytest.fixture(scope="module")
def rendered(apiserver: ApiServer, tmp_path_factory) -> str:
    """The minimal example in namespace status-test, rendered with both options and applied."""
    folder = tmp_path_factory.mktemp("status")
    cluster = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
    cluster["metadata"]["namespace"] = NS
    (folder / "cluster.yaml").write_text(yamlio.dump(cluster))
    (folder / "config.yaml").write_text(CONFIG)
    result = run_cli("render", str(folder / "cluster.yaml"), "--config", str(folder / "config.yaml"))
    assert result.returncode == 0, result.stderr
    docs = [d for d in (yamlio.load(c) for c in yamlio.split_documents(result.stdout)) if d]
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    _apply(apiserver, "".join("---\n" + yamlio.dump(d) for d in crds))
    apiserver.kubectl("wait", "--for=condition=established", "--timeout=60s",
                      *[f"crd/{d['metadata']['name']}" for d in crds])
    _apply(apiserver, json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
    rest = "".join("---\n" + yamlio.dump(d) for d in docs if d["kind"] != "CustomResourceDefinition")
    _apply(apiserver, rest + "---\n" + yamlio.dump(cluster))
    return rest


def can(server: ApiServer, verb: str, resource: str, user: str = REPORTER, subresource: str | None = None) -> bool:
    args = ["auth", "can-i", verb, resource, "-n", NS, f"--as={user}"]
    if subresource:
        args.append(f"--subresource={subresource}")
    return server.kubectl(*args, check=False).stdout.strip() == "yes"


@pytest.mark.parametrize("resource", ["multigresclusters", "multigresdeploymenttemplates", "toposervers",
                                      "multicells", "multitablegroups", "multishards"])
def test_the_reporter_may_write_status_and_never_spec(apiserver: ApiServer, rendered, resource) -> None:
    assert can(apiserver, "patch", f"{resource}.multigres.com", subresource="status")
    assert can(apiserver, "update", f"{resource}.multigres.com", subresource="status")
    for verb in ("get", "list", "watch"):
        assert can(apiserver, verb, f"{resource}.multigres.com")
    for verb in ("patch", "update", "create", "delete"):
        assert not can(apiserver, verb, f"{resource}.multigres.com"), verb


@pytest.mark.parametrize(("verb", "resource", "allowed"), [
    ("watch", "pods", True), ("watch", "statefulsets.apps", True), ("watch", "deployments.apps", True),
    ("delete", "pods", False), ("patch", "statefulsets.apps", False), ("get", "secrets", False),
    ("list", "configmaps", False), ("patch", "deployments.apps", False),
])
def test_the_reporter_reads_what_it_watches_and_nothing_else(apiserver: ApiServer, rendered, verb, resource,
                                                             allowed) -> None:
    assert can(apiserver, verb, resource) is allowed


def test_the_reporter_sa_writes_status_but_its_spec_patch_is_forbidden(apiserver: ApiServer, rendered) -> None:
    status = json.dumps({"status": {"totalPods": 3, "readyPods": 1}})
    apiserver.kubectl("patch", SHARD, "-n", NS, "--subresource=status", "--type=merge", "-p", status,
                      f"--as={REPORTER}")
    with pytest.raises(KubectlError, match="forbidden"):
        apiserver.kubectl("patch", SHARD, "-n", NS, "--type=merge", "-p", '{"spec":{"shardName":"x"}}',
                          f"--as={REPORTER}")


class _Multiadmin(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = json.dumps(POOLERS if self.path == "/api/v1/poolers" else {}).encode()
        self.send_response(200 if self.path == "/api/v1/poolers" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def multiadmin() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Multiadmin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _reporter_kubeconfig(server: ApiServer, path: Path) -> Path:
    """The admin kubeconfig with the reporter ServiceAccount's token instead of the admin's."""
    token = server.kubectl("create", "token", "minimal-status-reporter", "-n", NS).stdout.strip()
    config = json.loads(Path(server.kubeconfig).read_text())
    config["users"] = [{"name": "reporter", "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = "reporter"
        context["context"]["namespace"] = NS
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def reporter(apiserver: ApiServer, rendered, multiadmin, tmp_path_factory) -> Iterator[subprocess.Popen[str]]:
    kubeconfig = _reporter_kubeconfig(apiserver, tmp_path_factory.mktemp("reporter") / "kubeconfig")
    proc = subprocess.Popen([sys.executable, "-m", "krmfn_status", f"--cluster={CLUSTER}", f"--namespace={NS}",
                             f"--multiadmin-url={multiadmin}"], cwd=ROOT, text=True,
                            env={"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    proc.wait(10)


def _status(server: ApiServer, what: str) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(server.kubectl("get", what, "-n", NS, "-o", "json").stdout).get("status") or {}
    return status


def _until(check, seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if check():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_the_reporter_writes_every_status_and_kubectl_shows_it(apiserver: ApiServer, reporter) -> None:
    _until(lambda: _status(apiserver, f"multigrescluster/{CLUSTER}").get("observedGeneration") == 1, 30)
    shard = _status(apiserver, SHARD)
    assert (shard["primaryCell"], shard["servingWrites"], shard["observedGeneration"]) == ("zone1", "True", 1)
    # Nothing runs the pods here (no controller manager): the shard serves writes but has no ready pod.
    assert (shard["totalPods"], shard["readyPods"]) == (3, 0)
    root = _status(apiserver, f"multigrescluster/{CLUSTER}")
    assert root["databases"]["postgres"]["servingWrites"] == "True"
    assert {c["type"]: c["status"] for c in root["conditions"]} == {"Available": "False", "Progressing": "True"}
    table = apiserver.kubectl("get", "multigresclusters,multishards", "-n", NS).stdout
    assert "AVAILABLE" in table and "PRIMARY" in table and "zone1" in table, table
    print(table)
    print(f"reporter peak RSS: {_peak_rss_kib(reporter.pid)} KiB")
    assert _peak_rss_kib(reporter.pid) <= 50 * 1024, _peak_rss_kib(reporter.pid)


def test_the_reporter_reacts_to_a_workload_change(apiserver: ApiServer, reporter) -> None:
    """The gateway Deployment reports a ready replica (as its controller would): the cell turns
    Available within the 10 s budget, by the watch, not a poll."""
    _until(lambda: "conditions" in _status(apiserver, "multicell/minimal-zone1"), 30)
    apiserver.kubectl("patch", "deployment/minimal-zone1-gateway", "-n", NS, "--subresource=status", "--type=merge",
                      "-p", json.dumps({"status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}}))
    took = _until(lambda: _status(apiserver, "multicell/minimal-zone1").get("gatewayReadyReplicas") == 2, 10)
    cell = _status(apiserver, "multicell/minimal-zone1")
    assert {c["type"]: c["status"] for c in cell["conditions"]}["Available"] == "True", cell
    print(f"reporter reaction: {took:.2f} s")


def test_a_users_spec_edit_of_a_multishard_is_refused_with_what_to_do(apiserver: ApiServer, rendered) -> None:
    patch = json.dumps({"spec": {"postgresPasswordSecret": "mine"}})
    attempts: list[str] = []

    last: list[subprocess.CompletedProcess] = []

    def refused() -> bool:
        """One edit; each attempt a new value, since an attempt before the policy is loaded succeeds
        and the same value again would be no change (which the policy rightly lets through)."""
        value = json.dumps({"spec": {"postgresPasswordSecret": f"mine-{len(attempts)}"}})
        attempts.append(value)
        last[:] = [apiserver.kubectl("patch", SHARD, "-n", NS, "--type=merge", "-p", value, "--as=alice",
                                     "--as-group=system:masters", check=False)]
        return last[0].returncode != 0 and "edit the MultigresCluster minimal" in last[0].stderr

    try:
        _until(refused, 30)  # the policy takes effect once the API server has loaded it
    except AssertionError:
        raise AssertionError(f"not refused: {last[0].returncode} {last[0].stdout} {last[0].stderr}") from None
    result = apiserver.kubectl("patch", SHARD, "-n", NS, "--type=merge", "-p", patch, "--as=alice",
                               "--as-group=system:masters", check=False)
    assert "MultiShard minimal-postgres-default-0 is generated from MultigresCluster minimal" in result.stderr
    assert "alice may not change it" in result.stderr


def test_the_spec_writer_passes_and_metadata_and_status_stay_open(apiserver: ApiServer, rendered) -> None:
    test_a_users_spec_edit_of_a_multishard_is_refused_with_what_to_do(apiserver, rendered)  # the policy is live
    as_user = ["--as=alice", "--as-group=system:masters"]
    apiserver.kubectl("label", SHARD, "-n", NS, "note=mine", "--overwrite", *as_user)
    apiserver.kubectl("patch", SHARD, "-n", NS, "--subresource=status", "--type=merge", "-p",
                      '{"status":{"readyPods":2}}', *as_user)
    apiserver.kubectl("patch", SHARD, "-n", NS, "--subresource=status", "--type=merge", "-p",
                      '{"status":{"readyPods":1}}', f"--as={REPORTER}")
    for writer in (WRITER, "deployer@example.com"):
        apiserver.kubectl("patch", SHARD, "-n", NS, "--type=merge", "-p",
                          json.dumps({"spec": {"postgresPasswordSecret": writer.split(":")[-1][:20]}}),
                          f"--as={writer}", "--as-group=system:masters")
    # Applying the render again as the writer restores the spec.
    _apply(apiserver, "".join(f"---\n{yamlio.dump(d)}" for d in (yamlio.load(c) for c in
                                                                yamlio.split_documents(rendered))
                              if d and d["kind"] == "MultiShard"), f"--as={WRITER}", "--as-group=system:masters",
           "--force-conflicts")
    spec = json.loads(apiserver.kubectl("get", SHARD, "-n", NS, "-o", "json").stdout)["spec"]
    assert spec["postgresPasswordSecret"] == "minimal-postgres-password"
