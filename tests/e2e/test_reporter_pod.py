"""The status reporter as the render emits it: a pod of the function's own image on the real node.

The function's image is built from the repo's Dockerfile (function_image.py, as
test_function_image.py builds it), saved as an OCI archive and imported into the node's
containerd under the name the render uses by default (`defaults.FUNCTION_IMAGE_REPOSITORY` with
the package version): the `statusReporter` option is on without `statusReporterImage`, so the
test proves the default works. `examples/minimal` is rendered with `statusReporter` and
`readOnlyChildren` (`specWriters: admin`, the identity this test applies with) and applied
server-side. From the API server, in file order on that one deployment:

- the reporter pod is Running and Ready, its spec carries the rendered restricted security
  context, its process runs as 65534 with no capabilities, no new privileges and a read-only
  root (its seccomp mode is recorded), and the rendered pod passes Pod Security Admission's
  `restricted` level;
- from inside the cluster (the ServiceAccount's token to the API server's Service address,
  multiadmin through its Service's DNS name) it fills the MultigresCluster's and MultiShard's
  status: Available, observedGeneration = generation, servingWrites, the primary pooler;
- a user with RBAC rights to edit MultiShards has a spec edit refused by the read-only policy
  with its message;
- the primary's pod deleted: the shard's status shows it (target ≤ 10 s), then recovers with
  the new primary; the status writes made with the policy live are the reporter's;
- the reporter's memory (the process's VmRSS/VmHWM and its cgroup) and CPU are recorded.

Numbers go to `e2e-logs/reporter-pod.txt` (docs/runtime-checks.md quotes them).
"""

from __future__ import annotations

import calendar
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import LOG_DIR
from function_image import Built, function_image
from knode.cluster import Node
from kube import get, namespace, wait
from render import apply_render, fit_to_node, install_crds, load_example, password_secret, render_cluster, tls_secret
from sql import PASSWORD, pooler_pods, primary

import krmfn
from krmfn import defaults, naming

pytestmark = pytest.mark.e2e  # the real node (conftest marks tests/e2e too)

NS = "reporter"
CLUSTER = "minimal"
REPORTER = naming.status_reporter_name(CLUSTER)
SHARD = f"{CLUSTER}-postgres-default-0"
USER = "alice"
CONFIG = {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres",
          "metadata": {"name": "render", "annotations": {"config.kubernetes.io/local-config": "true"}},
          "spec": {"statusReporter": True, "readOnlyChildren": True, "specWriters": "admin"}}


@dataclass
class Deployment:
    node: Node
    rendered: str
    applied_at: float
    numbers: dict[str, str] = field(default_factory=dict)
    refused_at: float = 0.0  # wall-clock time the policy refused the user's edit


@pytest.fixture(scope="module")
def deployment(reporter_image: tuple[Built, Path], node: Node) -> Iterator[Deployment]:
    built, archive = reporter_image
    default = f"{defaults.FUNCTION_IMAGE_REPOSITORY}:v{krmfn.__version__}"
    assert built.image == default == function_image(), (built.image, default)
    imported = node.import_image(archive, built.image)
    ns = namespace(node, NS)
    install_crds(node)
    password_secret(node, ns, CLUSTER, PASSWORD)
    spec, extra = load_example("minimal", ns)
    rendered = render_cluster(spec, [*extra, CONFIG])
    tls_secret(node, ns, CLUSTER, rendered)
    dep = Deployment(node, rendered, time.monotonic())
    apply_render(node, fit_to_node(rendered))
    dep.numbers.update({"image": built.image, "image size": f"{built.size / 1e6:.1f} MB",
                        **{k: f"{v:.1f}s" for k, v in built.timings.items()},
                        "import into the node's containerd (ctr images import)": f"{imported:.1f}s"})
    yield dep
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "reporter-pod.txt").write_text("".join(f"{k}: {v}\n" for k, v in dep.numbers.items()))
    log = node.kubectl("logs", "-n", NS, f"deployment/{REPORTER}", check=False).stdout
    (LOG_DIR / "reporter-pod.log").write_text(log)
    policy = naming.read_only_policy_name(NS, CLUSTER)
    node.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy,
                 "--ignore-not-found", check=False)
    node.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)


def _rendered_reporter(rendered: str) -> dict[str, Any]:
    return next(d for d in yaml.safe_load_all(rendered)
                if d and d["kind"] == "Deployment" and d["metadata"]["name"] == REPORTER)


def _reporter_pod(node: Node) -> dict[str, Any]:
    selector = ",".join(f"{k}={v}" for k, v in naming.selector(naming.labels(CLUSTER, "status-reporter")).items())
    pods = json.loads(node.kubectl("get", "pods", "-n", NS, "-l", selector, "-o", "json").stdout)["items"]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    pod: dict[str, Any] = pods[0]
    return pod


def _epoch(stamp: str) -> int:
    """An API timestamp (UTC, whole seconds) as seconds since the epoch."""
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def _exec(node: Node, pod: str, *command: str, check: bool = True) -> str:
    return node.kubectl("exec", "-n", NS, pod, "-c", "status-reporter", "--", *command, check=check).stdout


def _proc_status(node: Node, pod: str) -> dict[str, str]:
    """/proc/1/status of the reporter's container: PID 1 is its Python (the console script execs it)."""
    lines = _exec(node, pod, "cat", "/proc/1/status").splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_the_reporter_pod_is_ready_with_the_rendered_restricted_security(deployment: Deployment) -> None:
    node = deployment.node
    wait(node, NS, f"deployment/{REPORTER}", "condition=Available", timeout=180)
    pod = _reporter_pod(node)
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert pod["status"]["phase"] == "Running" and ready["status"] == "True", pod["status"]
    (container,) = pod["status"]["containerStatuses"]
    assert container["ready"] and container["image"].endswith(f"/multigres-krmfn:v{krmfn.__version__}"), container
    rendered = _rendered_reporter(deployment.rendered)["spec"]["template"]["spec"]
    spec = pod["spec"]
    # What the render asked for is what the pod runs with (the API server adds nothing to these today).
    assert rendered["securityContext"].items() <= spec["securityContext"].items(), spec["securityContext"]
    live = spec["containers"][0]["securityContext"]
    assert rendered["containers"][0]["securityContext"].items() <= live.items(), live
    assert spec["containers"][0]["image"] == rendered["containers"][0]["image"] == deployment.numbers["image"]
    assert spec["securityContext"] == {**spec["securityContext"], "runAsNonRoot": True, "runAsUser": 65534,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    assert live == {**live, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]}}
    name = pod["metadata"]["name"]
    status = _proc_status(node, name)
    assert status["Uid"].split() == ["65534"] * 4 and status["Gid"].split() == ["65534"] * 4, status
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0, status
    assert status["NoNewPrivs"] == "1", status
    modes = {"0": "off", "1": "strict", "2": "filter"}
    deployment.numbers["reporter process seccomp mode (/proc/1/status)"] = modes.get(status["Seccomp"],
                                                                                     status["Seccomp"])
    # /tmp is the image's WORKDIR, mode 1777: only the read-only root keeps 65534 from writing there.
    write = node.kubectl("exec", "-n", NS, name, "-c", "status-reporter", "--", "python", "-c",
                         "open('/tmp/probe', 'w')", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write
    became = _epoch(ready["lastTransitionTime"]) - _epoch(pod["metadata"]["creationTimestamp"])
    deployment.numbers["reporter pod created → Ready"] = f"{became}s (API timestamps, 1 s resolution)"
    _restricted_admission(node, rendered)


def _restricted_admission(node: Node, rendered: dict[str, Any]) -> None:
    """Pod Security Admission's `restricted` level accepts the rendered pod spec (a server-side
    dry run in a namespace that enforces it; its own ServiceAccount is not there, so the
    namespace's default), and refuses it without its security contexts (so the check is live)."""
    psa = "reporter-psa"
    node.kubectl("delete", "namespace", psa, "--ignore-not-found", "--wait=true")
    node.kubectl("create", "namespace", psa)
    node.kubectl("label", "namespace", psa, "pod-security.kubernetes.io/enforce=restricted")
    node.wait_service_account(psa)
    pod_spec = copy.deepcopy(rendered)
    pod_spec.pop("serviceAccountName")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reporter", "namespace": psa}, "spec": pod_spec}
    accepted = node.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    loose = copy.deepcopy(pod)
    loose["spec"].pop("securityContext")
    loose["spec"]["containers"][0].pop("securityContext")
    refused = node.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(loose), check=False)
    node.kubectl("delete", "namespace", psa, "--wait=false")
    assert accepted.returncode == 0, accepted.stderr
    assert refused.returncode != 0 and 'violates PodSecurity "restricted' in refused.stderr, refused


def _status(node: Node, kind: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    obj = get(node, NS, f"{kind}/{name}")
    return obj, obj.get("status") or {}


def _condition(status: dict[str, Any], kind: str) -> str:
    return next((c["status"] for c in status.get("conditions", []) if c["type"] == kind), "")


def _serving(node: Node) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The root's and the shard's status when both say the cluster serves writes, else None."""
    root, cluster = _status(node, "multigrescluster", CLUSTER)
    shard_obj, shard = _status(node, "multishard", SHARD)
    ok = (_condition(cluster, "Available") == "True" and _condition(shard, "Available") == "True"
          and shard.get("servingWrites") == "True" and shard.get("primaryPooler")
          and shard.get("readyPods") == shard.get("totalPods") == 3
          and cluster.get("observedGeneration") == root["metadata"]["generation"]
          and shard.get("observedGeneration") == shard_obj["metadata"]["generation"])
    return (cluster, shard) if ok else None


def _until_serving(node: Node, timeout: float) -> tuple[dict[str, Any], dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while (found := _serving(node)) is None:
        if time.monotonic() > deadline:
            state = node.kubectl("get", "multigresclusters,multishards,pods", "-n", NS, "-o", "wide").stdout
            log = node.kubectl("logs", "-n", NS, f"deployment/{REPORTER}", "--tail=40", check=False).stdout
            raise AssertionError(f"no serving status within {timeout:.0f}s:\n{_status(node, 'multishard', SHARD)[1]}"
                                 f"\n{state}\nreporter log:\n{log}")
        time.sleep(1)
    return found


def _ordinal(name: str) -> str:
    return name.rsplit("-", 1)[1]


def test_the_status_is_filled_from_inside_the_cluster(deployment: Deployment) -> None:
    node = deployment.node
    cluster, shard = _until_serving(node, 420)
    deployment.numbers["apply → MultigresCluster and MultiShard Available, serving writes"] = (
        f"{time.monotonic() - deployment.applied_at:.1f}s")
    main = primary(node, NS, pooler_pods(node, NS))
    assert _ordinal(shard["primaryPooler"]) == _ordinal(main), (shard, main)  # service id <hash>-<pod index>
    assert shard["primaryCell"] == "zone1", shard
    assert cluster["databases"]["postgres"]["servingWrites"] == "True", cluster
    assert cluster["cells"]["zone1"] == {"gatewayAvailable": "True", "topoServerAvailable": "True"}, cluster
    assert cluster["multiadmin"]["available"] == "True", cluster
    managers = {m["manager"] for m in _status_managers(node)}
    assert managers == {"multigres-status-reporter"}, managers
    table = node.kubectl("get", "multigresclusters,multishards", "-n", NS).stdout
    (LOG_DIR / "reporter-pod-kubectl-get.txt").parent.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "reporter-pod-kubectl-get.txt").write_text(table)


def _status_managers(node: Node) -> list[dict[str, Any]]:
    """The MultiShard's managedFields entries of its status subresource (kubectl hides managedFields
    unless asked)."""
    shard = json.loads(node.kubectl("get", "-n", NS, f"multishard/{SHARD}", "--show-managed-fields", "-o",
                                    "json").stdout)
    return [m for m in shard["metadata"]["managedFields"] if m.get("subresource") == "status"]


def _edit_rights(node: Node) -> None:
    """A normal user who may edit the child kinds (RBAC): what refuses the edit is the policy."""
    rule = {"apiGroups": [naming.GROUP], "resources": ["toposervers", "multicells", "multitablegroups", "multishards"],
            "verbs": ["get", "list", "patch", "update"]}
    node.apply([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "child-editor", "namespace": NS}, "rules": [rule]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "child-editor", "namespace": NS},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "child-editor"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]}])
    can = node.kubectl("auth", "can-i", "patch", "multishards.multigres.com", "-n", NS, f"--as={USER}", check=False)
    assert can.stdout.strip() == "yes", can


def test_a_users_spec_edit_is_refused_by_the_read_only_policy(deployment: Deployment) -> None:
    node = deployment.node
    _edit_rights(node)
    before = get(node, NS, f"multishard/{SHARD}")["spec"]
    attempts, deadline = 0, time.monotonic() + 30
    while True:  # the API server applies a new policy within seconds; each attempt a new value
        attempts += 1
        patch = json.dumps({"spec": {"postgresPasswordSecret": f"mine-{attempts}"}})
        res = node.kubectl("patch", f"multishard/{SHARD}", "-n", NS, "--type=merge", "-p", patch, f"--as={USER}",
                           check=False)
        if res.returncode != 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert res.returncode != 0, f"{USER}'s spec edit was not refused in 30 s: {res.stdout}"
    deployment.refused_at = time.time()
    assert f"MultiShard {SHARD} is generated from MultigresCluster {CLUSTER}" in res.stderr, res.stderr
    assert f"edit the MultigresCluster {CLUSTER}" in res.stderr and f"{USER} may not change it" in res.stderr
    assert "ValidatingAdmissionPolicy" in res.stderr, res.stderr
    if attempts > 1:  # an edit made before the policy was loaded: the render (its writer) puts it back
        apply_render(node, fit_to_node(deployment.rendered))
    assert get(node, NS, f"multishard/{SHARD}")["spec"] == before
    deployment.numbers["user spec edits before the policy refused one"] = str(attempts - 1)


def _shard_state(shard: dict[str, Any]) -> str:
    """One line of the shard's status: Available/Progressing, ready/total pods, the primary's ordinal."""
    pooler = shard.get("primaryPooler")
    return (f"{_condition(shard, 'Available')}/{_condition(shard, 'Progressing')} "
            f"{shard.get('readyPods')}/{shard.get('totalPods')} primary {_ordinal(pooler) if pooler else '-'}")


def _replaced_and_ready(node: Node, pod: str, old_uid: str) -> bool:
    """The deleted pod's replacement (same name, new uid) is Ready."""
    found = json.loads(node.kubectl("get", "pod", "-n", NS, pod, "-o", "json", "--ignore-not-found").stdout or "{}")
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in found.get("status", {}).get("conditions", []))
    return bool(found) and found["metadata"]["uid"] != old_uid and ready


def test_the_status_shows_the_primary_loss_and_recovers(deployment: Deployment) -> None:
    node = deployment.node
    _, shard = _until_serving(node, 120)
    old = primary(node, NS, pooler_pods(node, NS))
    old_uid = get(node, NS, f"pod/{old}")["metadata"]["uid"]
    deleted = time.monotonic()
    node.kubectl("delete", "pod", "-n", NS, old, "--wait=false")
    while not (_condition(shard := _status(node, "multishard", SHARD)[1], "Available") != "True"
               or _condition(shard, "Progressing") == "True"):
        assert time.monotonic() - deleted <= 10, f"the status did not react within 10 s: {shard}"
        time.sleep(0.2)
    reacted = time.monotonic() - deleted
    deployment.numbers["primary's pod deleted → MultiShard not Available or Progressing"] = f"{reacted:.1f}s"
    # Every state the shard's status goes through until the deleted pod's replacement is Ready and
    # the status says so (the old pod counts while it terminates; its replacement starts after).
    states = [(reacted, _shard_state(shard))]
    deadline = deleted + 300
    while not (_replaced_and_ready(node, old, old_uid) and _serving(node) is not None):
        assert time.monotonic() < deadline, f"no recovery within 300 s: {states}"
        if (state := _shard_state(_status(node, "multishard", SHARD)[1])) != states[-1][1]:
            states.append((time.monotonic() - deleted, state))
        time.sleep(0.5)
    cluster, shard = _until_serving(node, 10)
    deployment.numbers["primary's pod deleted → its replacement Ready and the status serving, 3/3"] = (
        f"{time.monotonic() - deleted:.1f}s")
    deployment.numbers["the shard's status meanwhile (s: Available/Progressing ready/total primary)"] = "; ".join(
        f"{t:.1f}: {state}" for t, state in states)
    new = primary(node, NS, pooler_pods(node, NS))
    assert _ordinal(shard["primaryPooler"]) == _ordinal(new), (shard, new)
    deployment.numbers["primary pooler before → after"] = f"{_ordinal(old)} → {_ordinal(new)}"
    # The status written while the policy refuses users' spec edits is the reporter's.
    (entry,) = _status_managers(node)
    assert entry["manager"] == "multigres-status-reporter" and entry["operation"] == "Apply", entry
    assert _epoch(entry["time"]) >= int(deployment.refused_at), (entry, deployment.refused_at)


def _cgroup_memory(node: Node, pod: str) -> str:
    """The container's memory cgroup (v1 on this machine): usage, peak, and rss from memory.stat."""
    base = "/sys/fs/cgroup/memory"
    usage = _exec(node, pod, "cat", f"{base}/memory.usage_in_bytes", f"{base}/memory.max_usage_in_bytes",
                  check=False).split()
    stat = dict(line.split() for line in _exec(node, pod, "cat", f"{base}/memory.stat", check=False).splitlines()
                if len(line.split()) == 2)
    if len(usage) != 2 or "rss" not in stat:
        return "not readable in the container"
    mib = [int(v) / 2**20 for v in (*usage, stat["rss"])]
    return f"usage {mib[0]:.1f} MiB, peak {mib[1]:.1f} MiB, rss {mib[2]:.1f} MiB"


def _cpu_seconds(node: Node, pod: str) -> float:
    fields = _exec(node, pod, "cat", "/proc/1/stat").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ 100)


def test_the_reporters_memory_and_cpu_are_recorded(deployment: Deployment) -> None:
    node = deployment.node
    pod = _reporter_pod(node)
    name = pod["metadata"]["name"]
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0, pod["status"]["containerStatuses"]
    status = _proc_status(node, name)
    rss, peak = (int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    deployment.numbers["reporter RSS now / peak (VmRSS / VmHWM of its process)"] = f"{rss:.1f} / {peak:.1f} MiB"
    deployment.numbers["reporter container memory cgroup"] = _cgroup_memory(node, name)
    cpu, t0 = _cpu_seconds(node, name), time.monotonic()
    time.sleep(20)
    idle = (_cpu_seconds(node, name) - cpu) / (time.monotonic() - t0)
    deployment.numbers["reporter CPU since start"] = f"{cpu:.1f}s"
    deployment.numbers["reporter CPU idle (20 s, nothing changing)"] = f"{idle * 1000:.1f} millicores"
    log = node.kubectl("logs", "-n", NS, name, check=False).stdout
    assert "writing the status of" not in log, log[-3000:]  # main.one_round logs a refused write so
    assert peak <= 50, f"the reporter's peak RSS is {peak:.1f} MiB (target ≤ 50 MiB)"
