"""The pieces every workload object is made of: metadata, pod specs, probes, ports, addresses.

Every builder goes through these helpers so that a security or labelling rule is written once and
holds for every pod we render (docs/workloads.md).
"""

from __future__ import annotations

from .. import defaults, naming
from ..merge import clone
from . import topo_tls
from .placement import pod_fields

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any, Protocol

    from ..api.generated.child_types import GlobalTopoRef, ResolvedPool
    from .context import ClusterContext

    class PullSettings(Protocol):
        """A child spec's pull settings (every child kind has both fields)."""

        @property
        def image_pull_policy(self) -> str | None: ...

        @property
        def image_pull_secrets(self) -> list[dict[str, Any]]: ...


# Argo CD sync waves: topo first, then registration, then the servers, gateways last.
# The child CRs follow in naming.CHILDREN_WAVE.
WAVES = {"topo": "0", "registration": "1", "server": "2", "gateway": "3"}
SYNC_WAVE = naming.SYNC_WAVE
DEPENDS_ON = "config.kubernetes.io/depends-on"

_DOWNWARD = {
    "POD_NAME": "metadata.name",
    "POD_NAMESPACE": "metadata.namespace",
    "POD_IP": "status.podIP",
    # The StatefulSet ordinal (Kubernetes >= 1.28 labels every StatefulSet pod with it).
    "POD_INDEX": "metadata.labels['apps.kubernetes.io/pod-index']",
}
# A `$(VAR)` reference Kubernetes expands (`$$(VAR)` is an escape); downward_references finds
# those of _DOWNWARD with str.find rather than compiling this (start-up cost, docs/performance.md).
REFERENCE = r"(?<!\$)\$\(([A-Z_][A-Z0-9_]*)\)"


def downward_references(texts: list[str]) -> list[str]:
    """The _DOWNWARD names the texts reference as REFERENCE matches them, sorted."""
    used = set()
    for text in texts:
        if "$(" not in text:
            continue
        for name in _DOWNWARD:
            token = "$(" + name + ")"
            pos = text.find(token)
            while pos != -1:
                if pos == 0 or text[pos - 1] != "$":
                    used.add(name)
                    break
                pos = text.find(token, pos + 1)
    return sorted(used)


def namespace_of(meta: dict[str, Any]) -> str | None:
    namespace: str | None = meta.get("namespace")
    return namespace


def metadata(name: str, source: dict[str, Any], labels: dict[str, str], wave: str,
             extra_annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """Object metadata: name, the source's namespace, labels, generated-from copied from the source
    (`source` is the metadata of the child, or of the cluster for cluster-level objects)."""
    meta: dict[str, Any] = {"name": name}
    ns = source.get("namespace")
    if ns:
        meta["namespace"] = ns
    meta["labels"] = dict(labels)
    meta["annotations"] = {naming.GENERATED_FROM: (source.get("annotations") or {}).get(naming.GENERATED_FROM, ""),
                           SYNC_WAVE: wave, **(extra_annotations or {})}
    return meta


def obj(api_version: str, kind: str, meta: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes object in the key order kubectl users expect."""
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


def depends_on(group: str, namespace: str | None, kind: str, name: str) -> str:
    """kpt's depends-on reference; the core group is the empty string."""
    if namespace:
        return f"{group}/namespaces/{namespace}/{kind}/{name}"
    return f"{group}/{kind}/{name}"


# ---- addresses ----

def service_host(service: str, namespace: str | None, cluster_domain: str) -> str:
    """Stable DNS name of a Service; `$(POD_NAMESPACE)` when the child has no namespace yet."""
    return f"{service}.{namespace or '$(POD_NAMESPACE)'}.svc.{cluster_domain}"


def topo_address(ref: GlobalTopoRef, namespace: str | None, ctx: ClusterContext) -> str:
    """`<client Service DNS>:2379` for a rendered topo, else the external address as given."""
    if ref.client_service_name:
        host = service_host(ref.client_service_name, namespace, ctx.cluster_domain)
        return f"{host}:{defaults.PORTS['etcd']['client']}"
    return ref.address or ""


def server_flags(component: str) -> list[str]:
    """`--http-port`/`--grpc-port` from the ports table: 0 would mean random / off upstream."""
    p = defaults.PORTS[component]
    return [f"--http-port={p['http']}", f"--grpc-port={p['grpc']}"]


# Deployment pods have no resolvable hostname: register the pod IP, and name the pod.
DEPLOYMENT_IDENTITY = ["--hostname=$(POD_IP)", "--service-id=$(POD_NAME)"]


def topo_flags(ref: GlobalTopoRef, namespace: str | None, ctx: ClusterContext) -> list[str]:
    """Where the global topo is, and with spec.topoTLS the client certificate (topo_tls.py)."""
    return [f"--topo-global-server-addresses={topo_address(ref, namespace, ctx)}",
            f"--topo-global-root={ref.root_path}", *topo_tls.client_flags(ref.tls)]


# ---- pods ----

def pod_security(uid: int) -> dict[str, Any]:
    """Pod-level security: explicit non-root ids (an image's USER may be root or non-numeric)."""
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}


def container_security(read_only_root: bool = True) -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": read_only_root,
            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}


def http_probe(path: str, port: str, period: int = 10, failures: int = 3, delay: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {"httpGet": {"path": path, "port": port}}
    if delay:
        probe["initialDelaySeconds"] = delay
    probe.update({"periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures})
    return probe


def startup_probe(path: str, port: str) -> dict[str, Any]:
    """Hold liveness off while a server starts (pgctld may run initdb or a restore first)."""
    return http_probe(path, port, period=defaults.STARTUP_PERIOD_SECONDS, failures=defaults.STARTUP_FAILURES)


def ports(component: str, prefix: str = "") -> list[dict[str, Any]]:
    """Container ports of a component from the ports table; `prefix` keeps names unique per pod."""
    return [{"name": f"{prefix}{name}", "containerPort": number, "protocol": "TCP"}
            for name, number in defaults.PORTS[component].items()]


def container(name: str, image: str, command: list[str], args: list[str], pull: dict[str, Any], *,
              env: list[dict[str, Any]] | None = None, container_ports: list[dict[str, Any]] | None = None,
              resources: dict[str, Any] | None = None, probes: dict[str, Any] | None = None,
              mounts: list[dict[str, Any]] | None = None, read_only_root: bool = True) -> dict[str, Any]:
    """A container; downward-API env is added for every `$(POD_*)` its args use."""
    out: dict[str, Any] = {"name": name, "image": image}
    if pull.get("imagePullPolicy"):
        out["imagePullPolicy"] = pull["imagePullPolicy"]
    out["command"] = command
    out["args"] = args
    used = downward_references(command + args)
    all_env = [{"name": v, "valueFrom": {"fieldRef": {"fieldPath": _DOWNWARD[v]}}} for v in used]
    all_env += env or []
    if all_env:
        out["env"] = all_env
    if container_ports:
        out["ports"] = container_ports
    out["resources"] = clone(resources or {})
    out.update(probes or {})
    if mounts:
        out["volumeMounts"] = mounts
    out["securityContext"] = container_security(read_only_root)
    return out


def pod_spec(containers: list[dict[str, Any]], pull: dict[str, Any], uid: int, *,
             selector: dict[str, str] | None = None, volumes: list[dict[str, Any]] | None = None,
             init_containers: list[dict[str, Any]] | None = None, restart_policy: str | None = None,
             grace: int | None = None, placement: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pod spec with our defaults: no API token, no service links, spread across nodes, and the
    resolved placement (workloads/placement.py)."""
    spec: dict[str, Any] = {}
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    spec["automountServiceAccountToken"] = False
    spec["enableServiceLinks"] = False
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    spec["securityContext"] = pod_security(uid)
    if pull.get("imagePullSecrets"):
        spec["imagePullSecrets"] = [dict(s) for s in pull["imagePullSecrets"]]
    spec.update(pod_fields(placement, selector))
    if init_containers:
        spec["initContainers"] = init_containers
    spec["containers"] = containers
    if volumes:
        spec["volumes"] = volumes
    return spec


def pull_of(spec: PullSettings) -> dict[str, Any]:
    """The pull settings a child spec carries, as a pod spec takes them."""
    out: dict[str, Any] = {}
    if spec.image_pull_policy:
        out["imagePullPolicy"] = spec.image_pull_policy
    if spec.image_pull_secrets:
        out["imagePullSecrets"] = [dict(s) for s in spec.image_pull_secrets]
    return out


def tmp_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """A writable /tmp for containers with a read-only root filesystem."""
    return {"name": "tmp", "emptyDir": {}}, {"name": "tmp", "mountPath": "/tmp"}


def claim_template(name: str, template: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """A StatefulSet volumeClaimTemplate; an access mode is required, so default ReadWriteOnce."""
    spec = clone(template)
    spec.setdefault("accessModes", ["ReadWriteOnce"])
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "labels": dict(labels)}, "spec": spec}


def service_ports(container_ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Service ports that target container ports by name."""
    return [{"name": p["name"], "port": p["containerPort"], "targetPort": p["name"], "protocol": "TCP"}
            for p in container_ports]


# ---- shared object shapes ----

def server_container(binary: str, image: str, args: list[str], pull: dict[str, Any],
                     resources: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stateless Multigres server (multiadmin, multigateway, multiorch) and its /tmp volume.

    Same layout for all three: the binary from the multigres image, its ports from the table,
    `/live` (startup and liveness) and `/ready` on the named HTTP port, a read-only root with a writable /tmp.
    """
    tmp_vol, tmp_mount = tmp_volume()
    out = container(binary, image, [f"{defaults.MULTIGRES_BIN}/{binary}"], args, pull,
                    container_ports=ports(binary), resources=resources,
                    probes={"startupProbe": startup_probe("/live", "http"),
                            "livenessProbe": http_probe("/live", "http", delay=10),
                            "readinessProbe": http_probe("/ready", "http", period=5)},
                    mounts=[tmp_mount])
    return out, tmp_vol


def deployment(meta: dict[str, Any], labels: dict[str, str], replicas: int, containers: list[dict[str, Any]],
               pull: dict[str, Any], uid: int, volumes: list[dict[str, Any]],
               init_containers: list[dict[str, Any]] | None = None,
               placement: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Deployment whose selector is the identity labels and whose pods spread across nodes."""
    selector = naming.selector(labels)
    return obj("apps/v1", "Deployment", meta, {
        "replicas": replicas,
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": dict(labels)},
                     "spec": pod_spec(containers, pull, uid, selector=selector, volumes=volumes,
                                      init_containers=init_containers, placement=placement)},
    })


def stateful_set(meta: dict[str, Any], labels: dict[str, str], service: str, replicas: int,
                 pod: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any]:
    """A StatefulSet that starts its pods together and never deletes their data.

    Parallel start: etcd members and poolers both need several peers up before any is ready.
    Retain/Retain: rendering (or scaling down) must never cause a PersistentVolumeClaim to go.
    """
    selector = naming.selector(labels)
    return obj("apps/v1", "StatefulSet", meta, {
        "serviceName": service,
        "replicas": replicas,
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        "volumeClaimTemplates": [claim_template("data", claim, selector)],
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
    })


def headless_service(meta: dict[str, Any], labels: dict[str, str],
                     container_ports: list[dict[str, Any]]) -> dict[str, Any]:
    """Stable per-pod DNS names, published before readiness so peers find each other at start."""
    return obj("v1", "Service", meta, {
        "clusterIP": "None",
        "publishNotReadyAddresses": True,
        "selector": naming.selector(labels),
        "ports": service_ports(container_ports),
    })


def disruption_budget(meta: dict[str, Any], labels: dict[str, str], max_unavailable: int) -> dict[str, Any]:
    """A PodDisruptionBudget; pods that are not ready anyway may always be evicted."""
    return obj("policy/v1", "PodDisruptionBudget", meta, {
        "maxUnavailable": max_unavailable, "selector": {"matchLabels": naming.selector(labels)},
        "unhealthyPodEvictionPolicy": "AlwaysAllow"})


def pool_cells(pools: list[ResolvedPool]) -> list[str]:
    """Cells hosting the pools, in first-appearance order (deterministic, follows the spec): a
    table group's multiorch cells (tablegroup.py) and the ones its primaries' hooks ask (handover.py)."""
    return list(dict.fromkeys(p.cell for p in pools))

