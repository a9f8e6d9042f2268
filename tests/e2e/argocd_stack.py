"""A real Argo CD next to the test node, built from source (tools/build.sh argocd), as host processes.

What runs, each in its own process group (tests/processes.py ends exactly those):
- Redis (Debian's redis-server) on 127.0.0.1, the cache of the repo-server and the controller;
- a Git server: Debian's `git daemon` on the node's bridge address (the cluster's own network),
  serving a non-bare repository the test commits to;
- `argocd-cmp-server` with `argocd/plugin.yaml` copied unchanged into its config folder, the
  virtualenv first on PATH: the sidecar of docs/pipelines.md, minus the container. It runs the
  plugin's `generate` command exactly as declared (`bash -c ... python3 -m krmfn.plugins ...`);
- `argocd-repo-server`, finding the plugin through the shared socket folder
  (ARGOCD_PLUGINSOCKFILEPATH, as the sidecar's shared `plugins` volume);
- `argocd-application-controller`, as the ServiceAccount `argocd:argocd-application-controller`
  (a token kubeconfig; cluster-admin, as upstream's install binds it), so the API server sees the
  identity the render's read-only-children policy lets write the children's spec.

Host processes rather than pods: the node has no image of Argo CD or of the function (no
registry is reachable; the images would have to be built and imported like the others), and the
processes are the same programs with the same plugin contract: the CMP server reads the same
plugin.yaml and speaks to the repo-server over the same Unix socket. The cluster state they work
on (the Application, argocd-cm with the health checks, the synced objects) is all in the API server.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from helpers import ROOT, go_tool
from knode.cluster import Node
from knode.config import NODE_IP
from processes import ProcessGroup, can_bind, wait_for

ARGOCD_NS = "argocd"
CONTROLLER_SA = "argocd-application-controller"
PLUGIN = ROOT / "argocd" / "plugin.yaml"
HEALTH = ROOT / "argocd" / "resource_customizations" / "multigres.com"
PLUGIN_NAME = "multigres-krmfn-v1"  # <metadata.name>-<spec.version>: the name an Application asks for
PART_OF = {"app.kubernetes.io/part-of": "argocd"}  # Argo CD's settings informer selects on it
GIT_PORT = 19418


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def argocd_binary(name: str) -> str:
    """The multicall binary under the name that selects the component (cmd/main.go)."""
    return go_tool("argocd", name)


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
    node.kubectl("create", "namespace", ARGOCD_NS, check=False)
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
    """What install_settings and controller_identity created (the CRDs stay, like the node's own)."""
    node.kubectl("delete", "namespace", ARGOCD_NS, "--wait=true", "--ignore-not-found", timeout=120, check=False)
    node.kubectl("delete", "clusterrolebinding", "e2e-argocd-application-controller", "--ignore-not-found",
                 check=False)


def controller_identity(node: Node, path: Path) -> str:
    """The controller's ServiceAccount token, in two places: a kubeconfig (the node's admin one
    with that token) for the controller's own objects in `argocd`, and the cluster Secret of the
    destination. Out of a pod, Argo CD's built-in `https://kubernetes.default.svc` destination has
    no in-cluster config to load, so the node's API server is registered as a cluster the way
    `argocd cluster add` does: a Secret labelled `argocd.argoproj.io/secret-type: cluster`.
    Returns the destination's server URL."""
    token = node.kubectl("create", "token", CONTROLLER_SA, "-n", ARGOCD_NS, "--duration=4h").stdout.strip()
    config: dict[str, Any] = yaml.safe_load(node.kubeconfig.read_text())
    config["users"] = [{"name": CONTROLLER_SA, "user": {"token": token}}]
    for ctx in config["contexts"]:
        ctx["context"]["user"] = CONTROLLER_SA
    path.write_text(json.dumps(config))
    cluster = config["clusters"][0]["cluster"]
    ca = base64.b64encode(Path(cluster["certificate-authority"]).read_bytes()).decode()
    node.apply([{"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": "cluster-node", "namespace": ARGOCD_NS,
                              "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
                 "stringData": {"name": "node", "server": cluster["server"],
                                "config": json.dumps({"bearerToken": token, "tlsClientConfig": {"caData": ca}})}}])
    return str(cluster["server"])


@dataclass
class GitRepo:
    """A non-bare repository `git daemon` serves as git://NODE_IP:GIT_PORT/<name>."""

    path: Path

    @property
    def url(self) -> str:
        return f"git://{NODE_IP}:{GIT_PORT}/{self.path.name}"

    def git(self, *args: str) -> str:
        env = {"GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com", "GIT_COMMITTER_NAME": "e2e",
               "GIT_COMMITTER_EMAIL": "e2e@example.com", "HOME": str(self.path.parent), "PATH": "/usr/bin:/bin"}
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True,
                              env=env).stdout.strip()

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write files (relative path -> text), commit them all; the new commit's id."""
        for rel, text in files.items():
            (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.path / rel).write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


@dataclass
class ArgoCD:
    group: ProcessGroup
    repo: GitRepo
    tmp: Path
    server: str  # the destination cluster's API server URL


def start(node: Node, group: ProcessGroup, tmp: Path) -> ArgoCD:
    """Redis, the Git server, the CMP server, the repo-server and the application controller."""
    if not can_bind(NODE_IP, GIT_PORT):
        raise RuntimeError(f"{NODE_IP}:{GIT_PORT} is taken")
    redis_port, repo_port, repo_metrics, ctl_metrics = free_port(), free_port(), free_port(), free_port()
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    group.start("redis", [redis, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly",
                          "no", "--dir", str(tmp)])

    gitroot = tmp / "git"
    repo = GitRepo(gitroot / "platform")
    repo.path.mkdir(parents=True)
    repo.git("init", "-q", "-b", "main")
    group.start("git-daemon", ["git", "daemon", "--reuseaddr", "--export-all", "--informative-errors",
                               f"--base-path={gitroot}", f"--listen={NODE_IP}", f"--port={GIT_PORT}", str(gitroot)])

    socks, config = tmp / "plugins", tmp / "cmp-config"
    socks.mkdir()
    config.mkdir()
    shutil.copy(PLUGIN, config / "plugin.yaml")
    (tmp / "cmp-tmp").mkdir()
    (tmp / "repo-tmp").mkdir()
    venv_bin = str(Path(ROOT / ".venv" / "bin"))
    base = {"HOME": str(tmp), "LANG": "C.UTF-8", "ARGOCD_PLUGINSOCKFILEPATH": str(socks)}
    group.start("cmp-server", [argocd_binary("argocd-cmp-server"), f"--config-dir-path={config}",
                               "--logformat=text"],
                env={**base, "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "TMPDIR": str(tmp / "cmp-tmp")})
    wait_for(lambda: any(socks.glob("*.sock")), 60, "the CMP server's socket", alive=group)
    group.start("repo-server", [argocd_binary("argocd-repo-server"), "--address=127.0.0.1", f"--port={repo_port}",
                                "--metrics-address=127.0.0.1", f"--metrics-port={repo_metrics}",
                                f"--redis=127.0.0.1:{redis_port}", "--disable-tls", "--client-ca-path=",
                                "--logformat=text"],
                env={**base, "PATH": f"{Path(argocd_binary('argocd')).parent}:/usr/local/bin:/usr/bin:/bin",
                     "TMPDIR": str(tmp / "repo-tmp"),
                     "ARGOCD_GPG_ENABLED": "false"})
    kubeconfig = tmp / "ctl.kubeconfig"
    server = controller_identity(node, kubeconfig)
    group.start("application-controller", [
        argocd_binary("argocd-application-controller"), f"--kubeconfig={kubeconfig}",
        f"--namespace={ARGOCD_NS}", f"--repo-server=127.0.0.1:{repo_port}", "--repo-server-plaintext",
        f"--redis=127.0.0.1:{redis_port}", f"--metrics-port={ctl_metrics}", "--status-processors=2",
        "--operation-processors=2", "--app-resync=15", "--persist-resource-health", "--logformat=text"],
        env={**base, "PATH": "/usr/local/bin:/usr/bin:/bin"})
    return ArgoCD(group, repo, tmp, server)


def application(name: str, repo_url: str, path: str, server: str, namespace: str) -> dict[str, Any]:
    """An Application rendering `path` with the plugin, synced automatically with pruning."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": ARGOCD_NS},
            "spec": {"project": "default",
                     "source": {"repoURL": repo_url, "targetRevision": "main", "path": path,
                                "plugin": {"name": PLUGIN_NAME}},
                     "destination": {"server": server, "namespace": namespace},
                     "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                    "retry": {"limit": 10, "backoff": {"duration": "5s", "factor": 1,
                                                                       "maxDuration": "5s"}}}}}
