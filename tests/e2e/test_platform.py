"""The node itself works the way the render's users' clusters do (issue: a real node).

Pods run to completion, a StatefulSet gets a volume from the default StorageClass (fsGroup
applied), Service names resolve through CoreDNS from another pod and connect, Jobs complete; and
the images built from the pinned sources hold what the render relies on.
"""

from __future__ import annotations

import re

from knode.cluster import Node, image_archives
from kube import namespace, run_pod, wait


def _images() -> dict[str, str]:
    return {a.stem: n for a, n in image_archives()}


def test_a_pod_runs_to_completion(node: Node) -> None:
    ns = namespace(node, "smoke-pod")
    assert run_pod(node, ns, "hello", _images()["multigres"], ["bash", "-c", "echo hello from $(id -u)"]) \
        == "hello from 65532\n"


def test_a_statefulset_with_a_volume_becomes_ready(node: Node) -> None:
    ns = namespace(node, "smoke-sts")
    node.apply([{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "disk", "namespace": ns},
                 "spec": {"serviceName": "disk", "replicas": 1, "selector": {"matchLabels": {"app": "disk"}},
                          "template": {"metadata": {"labels": {"app": "disk"}}, "spec": {
                              "securityContext": {"runAsUser": 65532, "fsGroup": 65532},
                              "containers": [{"name": "main", "image": _images()["multigres"],
                                              "imagePullPolicy": "Never",
                                              "command": ["bash", "-c", "echo ok > /data/ok && sleep infinity"],
                                              "readinessProbe": {"exec": {"command": ["test", "-s", "/data/ok"]},
                                                                 "periodSeconds": 1},
                                              "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                          "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                              "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}])
    wait(node, ns, "pod/disk-0", "condition=Ready")
    wait(node, ns, "pvc/data-disk-0", "jsonpath={.status.phase}=Bound", timeout=10)


def test_a_service_name_resolves_and_connects_from_another_pod(node: Node) -> None:
    ns = namespace(node, "smoke-svc")
    labels = {"app": "server"}
    node.apply([
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "server", "namespace": ns, "labels": labels},
         "spec": {"containers": [{"name": "etcd", "image": _images()["etcd"], "imagePullPolicy": "Never",
                                  "command": ["/usr/local/bin/etcd", "--data-dir=/tmp/etcd",
                                              "--listen-client-urls=http://0.0.0.0:2379",
                                              "--advertise-client-urls=http://server:2379"],
                                  "readinessProbe": {"httpGet": {"path": "/health", "port": 2379},
                                                     "periodSeconds": 1}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "namespace": ns},
         "spec": {"selector": labels, "ports": [{"port": 2379}]}},
    ])
    wait(node, ns, "pod/server", "condition=Ready")
    script = ("getent hosts server.smoke-svc.svc.cluster.local && exec 3<>/dev/tcp/server/2379 && "
              "printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3")
    log = run_pod(node, ns, "client", _images()["multigres"], ["bash", "-c", script])
    assert re.match(r"^198\.19\.0\.\d+\s+server\.smoke-svc\.svc\.cluster\.local", log), log
    assert '"health":"true"' in log


def test_a_job_completes(node: Node) -> None:
    ns = namespace(node, "smoke-job")
    node.apply([{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": ns},
                 "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
                     {"name": "main", "image": _images()["multigres"], "imagePullPolicy": "Never",
                      "command": ["true"]}]}}}}])
    wait(node, ns, "job/once", "condition=Complete")


def test_the_images_hold_what_the_render_relies_on(node: Node) -> None:
    ns = namespace(node, "smoke-images")
    img = _images()
    for binary in ("multiadmin", "multigateway", "multiorch", "multipooler", "multigres"):
        log = run_pod(node, ns, f"help-{binary}", img["multigres"], [f"/multigres/bin/{binary}", "--help"])
        assert "Usage" in log or "usage" in log, (binary, log[:500])
    assert "Usage" in run_pod(node, ns, "help-pgctld", img["pgctld"], ["pgctld", "--help"])
    version = run_pod(node, ns, "postgres-version", img["pgctld"], ["postgres", "--version"])
    assert re.match(r"postgres \(PostgreSQL\) 17\.", version), version
    for image in ("pgctld", "multigres"):
        out = run_pod(node, ns, f"pgbackrest-{image}", img[image], ["pgbackrest", "version"])
        major, minor = map(int, re.search(r"pgBackRest (\d+)\.(\d+)", out).groups())  # type: ignore[union-attr]
        assert (major, minor) >= (2, 57), out
    assert "en_US.utf8" in run_pod(node, ns, "locales", img["pgctld"], ["locale", "-a"]).split()
