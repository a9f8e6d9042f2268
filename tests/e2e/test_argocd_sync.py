"""GitOps for real: Argo CD, built from source, on the node, syncs a Multigres cluster from Git.

The fixture imports two images into the node (Argo CD's, tools/argocd-image.sh; the function's
own, the repo's Dockerfile) and starts Argo CD as pods (tests/e2e/argocd_stack.py): Redis, a Git
server on the cluster's network, the repo-server with the Config Management Plugin sidecar of
docs/pipelines.md (the function's image, argocd/plugin.yaml unchanged) and the application
controller. It installs Argo CD's CRDs from the vendored source and the health checks of
argocd/resource_customizations in argocd-cm (as docs/pipelines.md tells users); pushes a package
(a MultigresCluster and a MultigresDeploymentTemplate sized for the 2-core node, the
read-only-children policy and the status reporter on) and creates an Application that renders it
with the plugin, syncing automatically with pruning. The status reporter is the pod the function
renders (the function's image, as in test_reporter_pod.py): the children's health comes from it.

Then, all through Argo CD: the Application reaches Synced/Healthy with the sync waves in order and
SQL served through the gateway; a commit adding a replica converges to Healthy again; killing the
primary shows in the Application's health within 10 s and it comes back to Healthy; a commit
adding a pool and one removing it prune its workloads and keep its claims and the backup claim.
Times (commit -> Healthy, the images, the pods' start) and the containers' peak memory go to
`e2e-logs/argocd-times.txt`. The first run on a machine builds Argo CD (tools/build.sh argocd:
about 6 min, 2.1 GiB peak RSS).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import argocd_stack
import pytest
import yaml
from conftest import LOG_DIR
from function_image import Built
from knode.cluster import Node
from kube import namespace
from render import install_crds, password_secret, render, tls_secret
from sql import PASSWORD, pooler_pods, primary, start_client, wait_gateway_sql

NS = "argo"
CLUSTER = "argo"
APP = "multigres"
PATH_IN_REPO = "clusters/argo"
GATEWAY = f"{CLUSTER}-zone1-gateway"
TINY = {"requests": {"cpu": "10m", "memory": "32Mi"}}


def cluster_doc() -> dict[str, Any]:
    """The MultigresCluster: examples/minimal, every component on the `tiny` template. It is
    synced in the children's wave (naming.CHILDREN_WAVE): its health waits for the workloads."""
    return {"apiVersion": "multigres.com/v1alpha1", "kind": "MultigresCluster",
            "metadata": {"name": CLUSTER, "namespace": NS, "annotations": {"argocd.argoproj.io/sync-wave": "4"}},
            "spec": {"globalTopoServer": {"managedSpec": {"resources": {"requests": {"cpu": "10m",
                                                                                      "memory": "64Mi"}}}},
                     "multiadmin": {"templateName": "tiny"},
                     "cells": {"templates": [{"name": "zone1", "spec": {"multigateway": {"templateName": "tiny"}}}]},
                     "databases": {"templates": [{"name": "postgres", "spec": {
                         "multiorch": {"templateName": "tiny"},
                         "tablegroups": [{"name": "default", "shardTemplate": {"pools": [
                             {"type": "replica", "cell": "zone1", "multigresDeploymentTemplate": "tiny"}]}}]}}]}}}


def template_doc(replicas: int = 3) -> dict[str, Any]:
    """Small requests for a 2-core node (what fit_to_node does to a render, said in the input)."""
    return {"apiVersion": "multigres.com/v1alpha1", "kind": "MultigresDeploymentTemplate",
            "metadata": {"name": "tiny", "namespace": NS},
            "spec": {"shardPool": {"replicas": replicas, "postgres": {"resources": {"requests": {
                "cpu": "10m", "memory": "64Mi"}}}, "multipooler": {"resources": TINY}},
                "multiorch": {"replicas": 1, "resources": TINY},
                "multigateway": {"replicas": 1, "resources": TINY},
                "multiadmin": {"replicas": 1, "resources": TINY}}}


RENDER_OPTIONS = {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres",
                  "metadata": {"name": "render", "annotations": {"config.kubernetes.io/local-config": "true"}},
                  "spec": {"readOnlyChildren": True, "statusReporter": True}}


def package(cluster: dict[str, Any], template: dict[str, Any]) -> dict[str, str]:
    return {f"{PATH_IN_REPO}/cluster.yaml": yaml.safe_dump(cluster, sort_keys=False),
            f"{PATH_IN_REPO}/template-tiny.yaml": yaml.safe_dump(template, sort_keys=False),
            f"{PATH_IN_REPO}/render.yaml": yaml.safe_dump(RENDER_OPTIONS, sort_keys=False)}


@dataclass
class GitOps:
    node: Node
    argo: argocd_stack.ArgoCD
    cluster: dict[str, Any]
    template: dict[str, Any]
    function_image: str = ""
    times: dict[str, float] = field(default_factory=dict)

    def app(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.node.kubectl("get", "application", APP, "-n", argocd_stack.ARGOCD_NS,
                                                           "-o", "json").stdout)
        return out

    def state(self) -> tuple[str, str, str, str]:
        """(sync status, health status, synced revision, health message) of the Application."""
        status = self.app().get("status") or {}
        sync, health = status.get("sync") or {}, status.get("health") or {}
        return (sync.get("status", ""), health.get("status", ""), sync.get("revision", ""),
                health.get("message", "") or _unhealthy(status))

    def commit(self, message: str) -> str:
        """Commit the package and ask Argo CD to look (what a Git webhook does)."""
        rev = self.argo.repo.commit(package(self.cluster, self.template), message)
        self.node.kubectl("annotate", "application", APP, "-n", argocd_stack.ARGOCD_NS, "--overwrite",
                          "argocd.argoproj.io/refresh=normal")
        return rev

    def wait_healthy(self, revision: str, timeout: float) -> float:
        """Seconds until the Application is Synced to `revision` and Healthy, and its sync
        operation to that revision has finished (Succeeded: every wave applied)."""
        t0 = time.monotonic()
        last: tuple[str, ...] = ()
        while time.monotonic() - t0 < timeout:
            last = self.state()
            op = (self.app().get("status") or {}).get("operationState") or {}
            done = op.get("phase") == "Succeeded" and (op.get("syncResult") or {}).get("revision") == revision
            if last[0] == "Synced" and last[1] == "Healthy" and last[2] == revision and done:
                return time.monotonic() - t0
            time.sleep(1)
        op = (self.app().get("status") or {}).get("operationState", {})
        raise AssertionError(f"not Synced/Healthy at {revision} after {timeout:.0f}s: {last}\n"
                             f"operation: {json.dumps(op)[-3000:]}")


def _unhealthy(status: dict[str, Any]) -> str:
    """The resources that are not Healthy, with their messages (the Application's own message is
    often empty)."""
    return "; ".join(f"{r['kind']}/{r['name']}: {r.get('health', {}).get('status')} "
                     f"{r.get('health', {}).get('message', '')}"
                     for r in status.get("resources", []) if r.get("health", {}).get("status") not in (None, "Healthy"))


@pytest.fixture(scope="module")
def gitops(reporter_image: tuple[Built, Path], node: Node,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitOps]:
    built, archive = reporter_image
    tmp = tmp_path_factory.mktemp("argocd")
    imported = node.import_image(archive, built.image)
    ns = namespace(node, NS)
    install_crds(node)
    argocd_stack.install_crds(node, tmp)
    argocd_stack.install_settings(node)
    password_secret(node, ns, CLUSTER, PASSWORD)
    g = GitOps(node, None, cluster_doc(), template_doc(), built.image)  # type: ignore[arg-type]
    pkg = tmp / "pkg"
    for rel, text in package(g.cluster, g.template).items():
        (pkg / Path(rel).name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / Path(rel).name).write_text(text)
    tls_secret(node, ns, CLUSTER, render(pkg))
    try:
        g.argo = argocd_stack.start(node, tmp, built.image)
        g.times.update({f"function image: {k}": v for k, v in built.timings.items()})
        g.times["function image import (ctr images import)"] = imported
        g.times.update(g.argo.times)
        first = g.argo.repo.commit(package(g.cluster, g.template), "a Multigres cluster")
        node.apply([argocd_stack.application(APP, g.argo.repo.url, PATH_IN_REPO, NS)])
        g.times["first_commit_to_healthy"] = g.wait_healthy(first, timeout=900)
        yield g
    finally:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        memory = argocd_stack.pod_memory(node)
        memory.update(argocd_stack.pod_memory(node, NS, "-l", "app.kubernetes.io/component=status-reporter"))
        (LOG_DIR / "argocd-times.txt").write_text(
            "".join(f"{k}: {v:.1f}s\n" for k, v in g.times.items()) +
            "".join(f"peak memory (cgroup) {k}: {v}\n" for k, v in memory.items()))
        app = node.kubectl("get", "application", APP, "-n", argocd_stack.ARGOCD_NS, "-o", "json", check=False)
        (LOG_DIR / "argocd-application.json").write_text(app.stdout)
        argocd_stack.save_logs(node, LOG_DIR / "argocd-pods")
        reporter = node.kubectl("logs", "-n", NS, f"deployment/{CLUSTER}-status-reporter", check=False)
        (LOG_DIR / "argocd-pods" / "status-reporter.log").write_text(reporter.stdout + reporter.stderr)
        # No finalizer on the Application: deleting it leaves the synced objects to the
        # namespace's deletion below.
        node.kubectl("delete", "application", APP, "-n", argocd_stack.ARGOCD_NS, "--wait=false", check=False)
    node.kubectl("delete", "namespace", ns, "--wait=true", timeout=300, check=False)
    node.kubectl("delete", "validatingadmissionpolicy,validatingadmissionpolicybinding",
                 f"multigres-{NS}-{CLUSTER}-read-only-children", "--ignore-not-found", check=False)
    argocd_stack.uninstall(node)


def _created(node: Node, what: str) -> str:
    return str(node.kubectl("get", "-n", NS, what, "-o", "jsonpath={.metadata.creationTimestamp}").stdout)


def test_the_application_syncs_in_waves_and_serves_sql(gitops: GitOps) -> None:
    node = gitops.node
    sync, health, _, _ = gitops.state()
    assert (sync, health) == ("Synced", "Healthy")
    # Waves: etcd (0) -> registration (1) -> poolers (2) -> gateways (3) -> the child CRs (4); each
    # wave is applied once the one before is Healthy, so creation times never go backwards.
    job = node.kubectl("get", "jobs", "-n", NS, "-o", "name").stdout.split()[0]
    order = [_created(node, f"statefulset/{CLUSTER}-global"), _created(node, job),
             _created(node, f"statefulset/{CLUSTER}-postgres-default-0-replica-zone1"),
             _created(node, f"deployment/{GATEWAY}"), _created(node, f"multishard/{CLUSTER}-postgres-default-0")]
    assert order == sorted(order), order
    start_client(node, NS)
    out, took = wait_gateway_sql(node, NS, GATEWAY, "select 41 + 1", timeout=120)
    assert out == "42"
    gitops.times["sql_after_healthy"] = took
    policies = node.kubectl("get", "validatingadmissionpolicies", "-o", "name").stdout.split()
    assert f"validatingadmissionpolicy.admissionregistration.k8s.io/multigres-{NS}-{CLUSTER}-read-only-children" \
        in policies, policies


def test_the_plugin_runs_in_the_sidecar_and_the_status_comes_from_the_reporter_pod(gitops: GitOps) -> None:
    """What rendered and what fills the status are pods: the CMP sidecar (the function's image)
    ran plugin.yaml's generate, and the children's status, which their health reads, is written
    by the rendered reporter pod's field manager."""
    node = gitops.node
    sidecar = node.kubectl("logs", "-n", argocd_stack.ARGOCD_NS, f"deployment/{argocd_stack.REPO}",
                           "-c", "multigres-krmfn").stdout
    runs = [json.loads(line) for line in sidecar.splitlines() if line.startswith("{")]
    generated = [r for r in runs if r.get("grpc.method") == "GenerateManifest" and r.get("grpc.code") == "OK"]
    assert generated and any(r.get("msg") == "Plugin command successful" for r in runs), sidecar[-3000:]
    assert any("python3 -m krmfn.plugins argocd-generate" in r.get("msg", "") for r in runs), sidecar[-3000:]
    ms = sorted(float(r["grpc.time_ms"]) for r in generated)
    gitops.times["plugin generate in the sidecar, median"] = ms[len(ms) // 2] / 1000
    pod = json.loads(node.kubectl("get", "pods", "-n", argocd_stack.ARGOCD_NS, "-l",
                                  f"app.kubernetes.io/name={argocd_stack.REPO}", "-o", "json").stdout)["items"][0]
    images = {c["name"]: c["image"] for c in pod["spec"]["containers"]}
    assert images["multigres-krmfn"] == gitops.function_image, images
    reporter = json.loads(node.kubectl("get", "deployment", "-n", NS, f"{CLUSTER}-status-reporter", "-o",
                                       "json").stdout)
    assert reporter["status"].get("availableReplicas") == 1, reporter["status"]
    assert reporter["spec"]["template"]["spec"]["containers"][0]["image"] == gitops.function_image
    shard = json.loads(node.kubectl("get", "multishard", f"{CLUSTER}-postgres-default-0", "-n", NS,
                                    "--show-managed-fields", "-o", "json").stdout)
    managers = {m["manager"] for m in shard["metadata"]["managedFields"] if m.get("subresource") == "status"}
    assert managers == {"multigres-status-reporter"}, managers


def test_a_commit_adding_a_replica_converges_to_healthy(gitops: GitOps) -> None:
    gitops.template = template_doc(replicas=4)
    rev = gitops.commit("a fourth replica")
    gitops.times["replica_commit_to_healthy"] = gitops.wait_healthy(rev, timeout=600)
    assert len(pooler_pods(gitops.node, NS)) == 4
    # The child's spec changed: the controller's update passed the read-only-children policy,
    # which lets only its ServiceAccount (and the other specWriters) write a child's spec.
    shard = json.loads(gitops.node.kubectl("get", "multishard", f"{CLUSTER}-postgres-default-0", "-n", NS,
                                           "-o", "json").stdout)
    assert [p["replicas"] for p in shard["spec"]["pools"]] == [4], shard["spec"]["pools"]


def test_killing_the_primary_shows_in_health_then_heals(gitops: GitOps) -> None:
    node = gitops.node
    old = primary(node, NS, pooler_pods(node, NS))
    killed = time.monotonic()
    node.kubectl("delete", "pod", "-n", NS, old, "--wait=false")
    while (state := gitops.state())[1] == "Healthy":
        assert time.monotonic() - killed <= 10, f"still Healthy 10 s after the primary was killed: {state}"
        time.sleep(0.2)
    gitops.times["primary_killed_to_unhealthy"] = time.monotonic() - killed
    assert state[1] in ("Degraded", "Progressing"), state
    assert state[3], f"no message with {state[1]}"
    print(f"primary {old} killed: the Application {state[1]} after "
          f"{gitops.times['primary_killed_to_unhealthy']:.1f}s: {state[3]}; resources: "
          f"{_unhealthy(gitops.app().get('status') or {})}", file=sys.stderr)
    rev = gitops.argo.repo.git("rev-parse", "HEAD")
    gitops.times["primary_killed_to_healthy"] = gitops.wait_healthy(rev, timeout=300) + gitops.times[
        "primary_killed_to_unhealthy"]


def _pools(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    pools: list[dict[str, Any]] = cluster["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0][
        "shardTemplate"]["pools"]
    return pools


def test_removing_a_pool_prunes_its_workloads_and_keeps_its_claims(gitops: GitOps) -> None:
    node = gitops.node
    cluster = copy.deepcopy(gitops.cluster)
    _pools(cluster).append({"type": "readOnly", "cell": "zone1", "multigresDeploymentTemplate": "tiny",
                            "overrides": {"replicas": 1}})
    gitops.cluster = cluster
    rev = gitops.commit("a read-only pool")
    t0 = time.monotonic()
    ro_name = f"{CLUSTER}-postgres-default-0-readonly-zone1"

    def claims() -> list[str]:
        return [c for c in node.kubectl("get", "pvc", "-n", NS, "-o", "name").stdout.split() if ro_name in c]

    # The pool's workloads are synced and its pod has claimed its volume (whether the read-only
    # pooler becomes Ready is Multigres' business, not this test's).
    while not (gitops.state()[2] == rev and claims()):
        assert time.monotonic() - t0 < 600, (gitops.state(), node.kubectl("get", "sts,pvc", "-n", NS).stdout)
        time.sleep(2)
    gitops.times["pool_commit_to_claims"] = time.monotonic() - t0
    kept = claims()
    # A sync waits for each wave's health; if it still waits on the new pool, end it the way
    # `argocd app terminate-op` does, so the next commit's sync can start.
    if ((gitops.app().get("status") or {}).get("operationState") or {}).get("phase") == "Running":
        node.kubectl("patch", "application", APP, "-n", argocd_stack.ARGOCD_NS, "--type=merge",
                     "-p", json.dumps({"status": {"operationState": {"phase": "Terminating"}}}))
    _pools(cluster).pop()
    rev = gitops.commit("no read-only pool")
    gitops.times["pool_removal_commit_to_healthy"] = gitops.wait_healthy(rev, timeout=600)
    assert f"statefulset.apps/{ro_name}" not in node.kubectl("get", "sts", "-n", NS, "-o", "name").stdout.split()
    left = node.kubectl("get", "pvc", "-n", NS, "-o", "name").stdout.split()
    assert all(c in left for c in kept), (kept, left)
    assert f"persistentvolumeclaim/{CLUSTER}-postgres-default-0-backups" in left, left
