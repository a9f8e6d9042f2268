"""A real Argo CD on the test node, built from source (tools/build.sh argocd), as pods.

Two images, imported into the node's containerd (Node.import_image): Argo CD's own
(tools/argocd-image.sh: the multicall binary as upstream's image has it, plus Debian's git, git
daemon, redis-server, sh and cp with their libraries) and the function's own image (the repo's
Dockerfile, tests/e2e/function_image.py). In the `argocd` namespace, shaped after upstream's
manifests/base (repo-server, application-controller, redis) at the vendored commit:

- `argocd-redis`: redis-server without persistence, the cache of the repo-server and the controller;
- `argocd-git`: `git daemon` serving a bare repository, receive-pack on, on the cluster's network
  (Service `argocd-git`, port 9418); the test pushes its commits to the pod's address, Argo CD
  fetches from git://argocd-git.argocd.svc.cluster.local/platform;
- `argocd-repo-server`: the repo-server container, upstream's `copyutil` init container (copies
  the binary into the shared `var-files` volume as `argocd-cmp-server`) and the Config
  Management Plugin sidecar exactly as docs/pipelines.md describes it: the function's image
  running `/var/run/argocd/argocd-cmp-server` as 999, `argocd/plugin.yaml` unchanged from the
  ConfigMap `multigres-krmfn-cmp` at /home/argocd/cmp-server/config/plugin.yaml, the `plugins`
  socket folder shared with the repo-server;
- `argocd-application-controller`: as the ServiceAccount `argocd:argocd-application-controller`
  (cluster-admin, as upstream's install binds it), syncing to the in-cluster destination
  `https://kubernetes.default.svc`; the API server sees the identity the render's
  read-only-children policy lets write the children's spec.

Plain gRPC between the controller and the repo-server (`--disable-tls`, `--repo-server-plaintext`),
no Redis password, no API server or UI: what the test needs of Argo CD is the sync and the health.
Requests are tiny (the node has 2 shared cores).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import ROOT
from knode.cluster import Node
from knode.config import CLUSTER_DOMAIN
from kube import namespace, wait
from processes import wait_for

ARGOCD_NS = "argocd"
CONTROLLER_SA = "argocd-application-controller"
PLUGIN = ROOT / "argocd" / "plugin.yaml"
HEALTH = ROOT / "argocd" / "resource_customizations" / "multigres.com"
PLUGIN_NAME = "multigres-krmfn-v1"  # <metadata.name>-<spec.version>: the name an Application asks for
PART_OF = {"app.kubernetes.io/part-of": "argocd"}  # Argo CD's settings informer selects on it
REDIS, GIT, REPO, CONTROLLER = "argocd-redis", "argocd-git", "argocd-repo-server", "argocd-application-controller"
REDIS_PORT, GIT_PORT, REPO_PORT = 6379, 9418, 8081
IN_CLUSTER = "https://kubernetes.default.svc"  # Argo CD's built-in destination: the cluster it runs in
RESTRICTED = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
              "seccompProfile": {"type": "RuntimeDefault"}}


def install_crds(node: Node, tmp: Path) -> None:
    """Argo CD's Application and AppProject CRDs from the vendored source (manifests/crds/)."""
    archive = subprocess.run(["bash", str(ROOT / "tools" / "sources.sh"), "argocd"], capture_output=True, text=True,
                             check=True).stdout.strip()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.endswith(("manifests/crds/application-crd.yaml", "manifests/crds/appproject-crd.yaml")):
                fh = tar.extractfile(member)
                assert fh is not None
                (tmp / Path(member.name).name).write_bytes(fh.read())
    for crd in ("application-crd.yaml", "appproject-crd.yaml"):
        node.kubectl("apply", "--server-side", "-f", str(tmp / crd))
    # Polled, not `kubectl wait`: right after the create a CRD has no conditions yet, and
    # `kubectl wait` fails on that instead of waiting.
    for name in ("applications.argoproj.io", "appprojects.argoproj.io"):
        wait_for(lambda n=name: node.kubectl(  # type: ignore[misc]
            "get", "crd", n, "-o", 'jsonpath={.status.conditions[?(@.type=="Established")].status}',
            check=False).stdout == "True", 60, f"CRD {name} Established", interval=0.5)


def health_customizations() -> dict[str, str]:
    """argocd-cm keys for the health checks, as docs/pipelines.md tells users to install them."""
    return {f"resource.customizations.health.multigres.com_{d.name}": (d / "health.lua").read_text()
            for d in sorted(HEALTH.iterdir()) if (d / "health.lua").exists()}


def install_settings(node: Node) -> None:
    """The argocd namespace: argocd-cm (health checks), argocd-secret, the default AppProject and
    the controller's ServiceAccount bound to cluster-admin (upstream's install gives it `*`)."""
    namespace(node, ARGOCD_NS)
    node.apply([
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "argocd-cm", "namespace": ARGOCD_NS, "labels": PART_OF},
         "data": health_customizations()},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "argocd-secret", "namespace": ARGOCD_NS,
                                                             "labels": PART_OF}, "type": "Opaque"},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
         "metadata": {"name": "default", "namespace": ARGOCD_NS},
         "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                  "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": CONTROLLER_SA, "namespace": ARGOCD_NS}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "e2e-argocd-application-controller"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_SA, "namespace": ARGOCD_NS}]},
    ])


def uninstall(node: Node) -> None:
    """What install_settings and start created (the CRDs stay, like the node's own)."""
    node.kubectl("delete", "namespace", ARGOCD_NS, "--wait=true", "--ignore-not-found", timeout=120, check=False)
    node.kubectl("delete", "clusterrolebinding", "e2e-argocd-application-controller", "--ignore-not-found",
                 check=False)


@dataclass
class GitRepo:
    """A local repository the test commits to, pushed to the Git server pod after each commit."""

    path: Path
    push_url: str  # git://<pod address>:9418/platform, reachable from the host over the node's bridge

    @property
    def url(self) -> str:
        """The address Argo CD fetches from: the Service, by its cluster DNS name."""
        return f"git://{GIT}.{ARGOCD_NS}.svc.{CLUSTER_DOMAIN}:{GIT_PORT}/platform"

    def git(self, *args: str) -> str:
        env = {"GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com", "GIT_COMMITTER_NAME": "e2e",
               "GIT_COMMITTER_EMAIL": "e2e@example.com", "HOME": str(self.path.parent), "PATH": "/usr/bin:/bin"}
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True,
                              env=env, timeout=60).stdout.strip()

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write files (relative path -> text), commit them all, push; the new commit's id."""
        for rel, text in files.items():
            (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.path / rel).write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", self.push_url, "HEAD:refs/heads/main")
        return self.git("rev-parse", "HEAD")


@dataclass
class ArgoCD:
    repo: GitRepo
    image: str  # Argo CD's image (tools/argocd-image.sh)
    times: dict[str, float]


def image_archive() -> tuple[Path, str]:
    """Build (or reuse) Argo CD's image: (archive, image name)."""
    out = subprocess.run(["bash", str(ROOT / "tools" / "argocd-image.sh")], capture_output=True, text=True,
                         check=True).stdout.split()
    return Path(out[0]), out[1]


def _container(name: str, image: str, args: list[str], port: int, probe: dict[str, Any],
               mounts: list[dict[str, str]], env: dict[str, str] | None = None) -> dict[str, Any]:
    """One container as upstream's manifests set them: non-root, no capabilities, tiny requests."""
    return {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "args": args,
            "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
            "ports": [{"containerPort": port}], "readinessProbe": {**probe, "periodSeconds": 2},
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
            "securityContext": RESTRICTED, "volumeMounts": mounts}


def _workload(name: str, pod: dict[str, Any], port: int) -> list[dict[str, Any]]:
    """A one-replica Deployment and its Service."""
    labels = {"app.kubernetes.io/name": name, **PART_OF}
    return [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ARGOCD_NS,
                                                                         "labels": labels},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                      "strategy": {"type": "Recreate"},
                      "template": {"metadata": {"labels": labels},
                                   "spec": {"securityContext": {"runAsUser": 999, "runAsGroup": 999,
                                                                "fsGroup": 999}, **pod}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ARGOCD_NS},
             "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"port": port, "targetPort": port}]}}]


def _empty(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "emptyDir": {}} for n in names]


def manifests(image: str, function_image: str) -> list[dict[str, Any]]:
    """Redis, the Git server, the repo-server with the plugin's sidecar, the controller."""
    redis = _container("redis", image, ["redis-server", "--save", "", "--appendonly", "no", "--dir", "/data",
                                        "--port", str(REDIS_PORT), "--protected-mode", "no"], REDIS_PORT,
                       {"tcpSocket": {"port": REDIS_PORT}}, [{"name": "data", "mountPath": "/data"}])
    git = _container("git", image, ["sh", "-c", "git init -q --bare -b main /git/platform && exec git daemon "
                                    "--reuseaddr --export-all --enable=receive-pack --informative-errors "
                                    f"--base-path=/git --port={GIT_PORT} /git"], GIT_PORT,
                     {"tcpSocket": {"port": GIT_PORT}}, [{"name": "git", "mountPath": "/git"}])
    repo = _container("argocd-repo-server", image, [
        "/usr/local/bin/argocd-repo-server", f"--redis={REDIS}:{REDIS_PORT}", "--disable-tls",
        "--client-ca-path=", "--logformat=text"], REPO_PORT, {"httpGet": {"path": "/healthz", "port": 8084}},
        [{"name": "tmp", "mountPath": "/tmp"}, {"name": "plugins", "mountPath": "/home/argocd/cmp-server/plugins"},
         {"name": "var-files", "mountPath": "/var/run/argocd"}], env={"ARGOCD_GPG_ENABLED": "false"})
    copyutil = {"name": "copyutil", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c"],  # upstream's manifests/base/repo-server/argocd-repo-server-deployment.yaml
                "args": ["/bin/cp /usr/local/bin/argocd /var/run/argocd/argocd && "
                         "/bin/ln -sf /var/run/argocd/argocd /var/run/argocd/argocd-cmp-server"],
                "securityContext": RESTRICTED, "volumeMounts": [{"name": "var-files", "mountPath": "/var/run/argocd"}]}
    # The sidecar of docs/pipelines.md, field for field (plus requests).
    sidecar = {"name": "multigres-krmfn", "image": function_image, "imagePullPolicy": "IfNotPresent",
               "command": ["/var/run/argocd/argocd-cmp-server"],
               "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "allowPrivilegeEscalation": False,
                                   "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
               "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
               "volumeMounts": [{"name": "var-files", "mountPath": "/var/run/argocd"},
                                {"name": "plugins", "mountPath": "/home/argocd/cmp-server/plugins"},
                                {"name": "multigres-krmfn-cmp", "subPath": "plugin.yaml",
                                 "mountPath": "/home/argocd/cmp-server/config/plugin.yaml"},
                                {"name": "cmp-tmp", "mountPath": "/tmp"}]}
    controller = _container("argocd-application-controller", image, [
        "/usr/local/bin/argocd-application-controller", f"--repo-server={REPO}:{REPO_PORT}", "--repo-server-plaintext",
        f"--redis={REDIS}:{REDIS_PORT}", "--status-processors=2", "--operation-processors=2", "--app-resync=15",
        "--persist-resource-health", "--logformat=text"], 8082, {"httpGet": {"path": "/healthz", "port": 8082}},
        [{"name": "tmp", "mountPath": "/tmp"}])
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "multigres-krmfn-cmp", "namespace": ARGOCD_NS},
         "data": {"plugin.yaml": PLUGIN.read_text()}},
        *_workload(REDIS, {"containers": [redis], "volumes": _empty("data"), "automountServiceAccountToken": False},
                   REDIS_PORT),
        *_workload(GIT, {"containers": [git], "volumes": _empty("git"), "automountServiceAccountToken": False},
                   GIT_PORT),
        *_workload(REPO, {"automountServiceAccountToken": False, "initContainers": [copyutil],
                          "containers": [repo, sidecar],
                          "volumes": [*_empty("tmp", "plugins", "var-files", "cmp-tmp"),
                                      {"name": "multigres-krmfn-cmp", "configMap": {"name": "multigres-krmfn-cmp"}}]},
                   REPO_PORT),
        *_workload(CONTROLLER, {"serviceAccountName": CONTROLLER_SA, "containers": [controller],
                                "volumes": _empty("tmp")}, 8082),
    ]


def start(node: Node, tmp: Path, function_image: str) -> ArgoCD:
    """Import Argo CD's image, create the pods, wait for them to be Ready; the function's image is
    already in the node (the caller imported it)."""
    times: dict[str, float] = {}
    t0 = time.monotonic()
    archive, image = image_archive()
    times["argocd image (tools/argocd-image.sh, cached after the first run)"] = time.monotonic() - t0
    times["argocd image import (ctr images import)"] = node.import_image(archive, image)
    t0 = time.monotonic()
    node.apply(manifests(image, function_image))
    for name in (REDIS, GIT, REPO, CONTROLLER):
        wait(node, ARGOCD_NS, f"deployment/{name}", "condition=Available", timeout=240)
    times["argocd pods created -> all Available"] = time.monotonic() - t0
    pod_ip = node.kubectl("get", "pods", "-n", ARGOCD_NS, "-l", f"app.kubernetes.io/name={GIT}", "-o",
                          "jsonpath={.items[0].status.podIP}").stdout.strip()
    repo = GitRepo(tmp / "git" / "platform", f"git://{pod_ip}:{GIT_PORT}/platform")
    repo.path.mkdir(parents=True)
    repo.git("init", "-q", "-b", "main")
    return ArgoCD(repo, image, times)


def pod_memory(node: Node, ns: str = ARGOCD_NS, *selector: str) -> dict[str, str]:
    """Each container's memory cgroup peak (v1: memory.max_usage_in_bytes) in ns (the pods
    `selector`, e.g. "-l", "a=b", picks), read with the shell's own `read` (Argo CD's image has no cat)."""
    out: dict[str, str] = {}
    pods = json.loads(node.kubectl("get", "pods", "-n", ns, *selector, "-o", "json", check=False).stdout or
                      '{"items": []}')["items"]
    for pod in pods:
        for c in pod["spec"]["containers"]:
            res = node.kubectl("exec", "-n", ns, pod["metadata"]["name"], "-c", c["name"], "--", "sh", "-c",
                               "read v < /sys/fs/cgroup/memory/memory.max_usage_in_bytes && echo $v", check=False)
            value = res.stdout.strip()
            out[c["name"]] = f"{int(value) // 2**20} MiB" if value.isdigit() else "?"
    return out


def save_logs(node: Node, dest: Path) -> None:
    """Every Argo CD container's log (init containers too) into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    pods = json.loads(node.kubectl("get", "pods", "-n", ARGOCD_NS, "-o", "json", check=False).stdout or
                      '{"items": []}')["items"]
    for pod in pods:
        for c in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
            log = node.kubectl("logs", "-n", ARGOCD_NS, pod["metadata"]["name"], "-c", c["name"], check=False)
            (dest / f"{c['name']}.log").write_text(log.stdout + log.stderr)


def application(name: str, repo_url: str, path: str, dest_ns: str) -> dict[str, Any]:
    """An Application rendering `path` with the plugin, synced automatically with pruning."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": ARGOCD_NS},
            "spec": {"project": "default",
                     "source": {"repoURL": repo_url, "targetRevision": "main", "path": path,
                                "plugin": {"name": PLUGIN_NAME}},
                     "destination": {"server": IN_CLUSTER, "namespace": dest_ns},
                     "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                    "retry": {"limit": 10, "backoff": {"duration": "5s", "factor": 1,
                                                                       "maxDuration": "5s"}}}}}
