"""Whole-output consistency checker: do the rendered objects fit together?

Each rule returns messages starting with its id, so a negative test can show that exactly the
rule it targets fires on an object broken on purpose. `check(objects, messages)` runs them all;
`objects` is every output object (inputs included: a user's Secret counts), `messages` the
result messages (a missing Secret is fine when a result says so).
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Callable, Iterable
from typing import Any

import topo_decode

from krmfn import naming
from krmfn.workloads.registration import SCRIPT

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "DaemonSet")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# kind: (limit, pattern). StatefulSet/Job 52 leave room for controller labels; a Deployment's name
# prefixes its pods' names and hostnames, so the API server warns when it is not a DNS label.
NAME_RULES = {
    "Service": (63, DNS1035_LABEL), "StatefulSet": (52, DNS1123_LABEL), "Job": (52, DNS1123_LABEL),
    "Deployment": (63, DNS1123_LABEL), "PodDisruptionBudget": (253, DNS1123_SUBDOMAIN),
    "ConfigMap": (253, DNS1123_SUBDOMAIN), "Secret": (253, DNS1123_SUBDOMAIN),
    "PersistentVolumeClaim": (253, DNS1123_SUBDOMAIN),
}
UNSTABLE_SELECTOR = re.compile(r"(version|hash|revision)", re.I)
TOPO_FLAGS = ("--topo-global-server-addresses=", "--endpoints=")

Rule = Callable[[list[dict[str, Any]], list[str], str], Iterable[str]]


def _ns(obj: dict[str, Any]) -> str:
    return obj.get("metadata", {}).get("namespace") or ""


def _id(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def pod_templates(objects: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) pairs."""
    out = []
    for obj in objects:
        if obj.get("kind") in WORKLOAD_KINDS:
            out.append((obj, obj["spec"]["template"]))
    return out


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod.get("spec", {})
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def _port_names(pod: dict[str, Any]) -> set[str]:
    return {p["name"] for c in _containers(pod) for p in c.get("ports") or [] if "name" in p}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _selected(svc: dict[str, Any], objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    selector = svc.get("spec", {}).get("selector") or {}
    return [pod for wl, pod in pod_templates(objects)
            if _ns(wl) == _ns(svc) and _selects(selector, pod.get("metadata", {}).get("labels") or {})]


def rule_service_selects(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    for svc in (o for o in objects if o.get("kind") == "Service"):
        if not _selected(svc, objects):
            yield f"service-selects: {_id(svc)} selects no pod template"


def rule_statefulset_service(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    services = {(_ns(o), o["metadata"]["name"]): o for o in objects if o.get("kind") == "Service"}
    for sts in (o for o in objects if o.get("kind") == "StatefulSet"):
        svc = services.get((_ns(sts), sts["spec"].get("serviceName")))
        if svc is None:
            yield f"statefulset-service: {_id(sts)} serviceName {sts['spec'].get('serviceName')!r} is not rendered"
        elif svc["spec"].get("clusterIP") != "None":
            yield f"statefulset-service: {_id(sts)} serviceName {_id(svc)} is not headless"


def rule_named_ports(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    for wl, pod in pod_templates(objects):
        for c in _containers(pod):
            declared = {p["name"] for p in c.get("ports") or [] if "name" in p}
            for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                port = ((c.get(kind) or {}).get("httpGet") or {}).get("port")
                if isinstance(port, str) and port not in declared:
                    yield f"named-ports: {_id(wl)} container {c['name']} {kind} port {port!r} is not declared"
    for svc in (o for o in objects if o.get("kind") == "Service"):
        for pod in _selected(svc, objects):
            for p in svc["spec"].get("ports") or []:
                target = p.get("targetPort")
                if isinstance(target, str) and target not in _port_names(pod):
                    yield f"named-ports: {_id(svc)} targetPort {target!r} is not a port of the pods it selects"


def _service_port(host: str, port: int, objects: list[dict[str, Any]], ns: str, domain: str) -> str | None:
    """None when host:port is a rendered Service port, else what is wrong."""
    parts = host.split(".")
    name = parts[0]
    svc_ns = parts[1] if len(parts) > 1 else ns
    if svc_ns == "$(POD_NAMESPACE)":
        svc_ns = ns
    for svc in (o for o in objects if o.get("kind") == "Service"):
        if svc["metadata"]["name"] == name and _ns(svc) == svc_ns:
            if any(p.get("port") == port for p in svc["spec"].get("ports") or []):
                return None
            return f"Service {name} has no port {port}"
    return f"no Service {name!r} in namespace {svc_ns!r}"


def _is_cluster_local(host: str, domain: str, objects: list[dict[str, Any]]) -> bool:
    services = {o["metadata"]["name"] for o in objects if o.get("kind") == "Service"}
    return host.endswith(f".svc.{domain}") or "." not in host and host in services


def _addresses(value: str) -> list[tuple[str, int]]:
    out = []
    for addr in value.split(","):
        addr = addr.split("://", 1)[-1]
        host, _, port = addr.rpartition(":")
        out.append((host, int(port) if port.isdigit() else -1))
    return out


def _topo_addresses(objects: list[dict[str, Any]]) -> Iterable[tuple[dict[str, Any], str, str]]:
    """(workload, where, address value): topo flags in commands, server addresses in Cell records."""
    for wl, pod in pod_templates(objects):
        for c in _containers(pod):
            args = list(c.get("command") or []) + list(c.get("args") or [])
            for arg in args:
                for flag in TOPO_FLAGS:
                    if arg.startswith(flag):
                        yield wl, f"container {c['name']} {flag}", arg[len(flag):]
    for cm, key, value in registration_records(objects):
        try:
            addresses = topo_decode.decode_cell(value)["server_addresses"] if key.endswith("/Cell") else []
        except ValueError:
            continue  # rule_records reports it
        for address in addresses:
            yield cm, f"Cell record {key}", address


def registration_records(objects: list[dict[str, Any]]) -> Iterable[tuple[dict[str, Any], str, bytes]]:
    """(ConfigMap, etcd key, record bytes) of every `put KEY "$dir/FILE"` line of a registration script."""
    for cm in (o for o in objects if o.get("kind") == "ConfigMap" and SCRIPT in (o.get("data") or {})):
        for line in cm["data"][SCRIPT].splitlines():
            words = shlex.split(line) if line.startswith("put ") else []
            if len(words) == 3:
                data = (cm.get("binaryData") or {}).get(words[2].rsplit("/", 1)[-1])
                yield cm, words[1], base64.b64decode(data) if data is not None else b""


def rule_topo_addresses(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    for wl, where, value in _topo_addresses(objects):
        for host, port in _addresses(value):
            if not host or port < 0:
                yield f"topo-address: {_id(wl)} {where}: {value!r} is not host:port"
            elif _is_cluster_local(host, domain, objects):
                problem = _service_port(host, port, objects, _ns(wl), domain)
                if problem:
                    yield f"topo-address: {_id(wl)} {where}: {host}:{port}: {problem}"


# Every place a pod spec can name a Secret or ConfigMap, one branch each, as the API reference lists them.
def _references(pod: dict[str, Any]) -> Iterable[tuple[str, str]]:  # noqa: C901
    spec = pod.get("spec", {})
    for vol in spec.get("volumes") or []:
        if "secret" in vol:
            yield "Secret", vol["secret"]["secretName"]
        if "configMap" in vol:
            yield "ConfigMap", vol["configMap"]["name"]
        for src in (vol.get("projected") or {}).get("sources") or []:
            for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                if key in src:
                    yield kind, src[key]["name"]
    for c in _containers(pod):
        for env in c.get("env") or []:
            ref = env.get("valueFrom") or {}
            if "secretKeyRef" in ref:
                yield "Secret", ref["secretKeyRef"]["name"]
            if "configMapKeyRef" in ref:
                yield "ConfigMap", ref["configMapKeyRef"]["name"]
        for src in c.get("envFrom") or []:
            if "secretRef" in src:
                yield "Secret", src["secretRef"]["name"]
            if "configMapRef" in src:
                yield "ConfigMap", src["configMapRef"]["name"]


def rule_references(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    present = {(o.get("kind"), o.get("metadata", {}).get("name")) for o in objects}
    # A cert-manager Certificate writes its Secret.
    present |= {("Secret", o["spec"]["secretName"]) for o in objects if o.get("kind") == "Certificate"}
    for wl, pod in pod_templates(objects):
        for kind, name in sorted(set(_references(pod))):
            if (kind, name) not in present and not any(f"{kind} {name!r}" in m for m in messages):
                yield f"references: {_id(wl)} uses {kind} {name!r}, neither rendered nor reported"


def rule_names(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    for obj in objects:
        name = obj.get("metadata", {}).get("name", "")
        rule = NAME_RULES.get(obj.get("kind", ""))
        if rule and (len(name) > rule[0] or not rule[1].match(name)):
            yield f"names: {_id(obj)} is not a valid {obj['kind']} name (limit {rule[0]})"
        for key, value in (obj.get("metadata", {}).get("labels") or {}).items():
            if len(str(value)) > 63 or not LABEL_VALUE.match(str(value)):
                yield f"names: {_id(obj)} label {key}={value!r} is not a valid label value"
    for wl, pod in pod_templates(objects):
        for c in _containers(pod):
            if len(c["name"]) > 63 or not DNS1123_LABEL.match(c["name"]):
                yield f"names: {_id(wl)} container name {c['name']!r} is not a DNS-1123 label"


def _selector_of(obj: dict[str, Any]) -> dict[str, str] | None:
    if obj.get("kind") == "Service":
        return obj["spec"].get("selector")
    if obj.get("kind") in WORKLOAD_KINDS + ("PodDisruptionBudget",):
        return (obj["spec"].get("selector") or {}).get("matchLabels")
    return None


def rule_selectors(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    for obj in objects:
        selector = _selector_of(obj)
        if selector is None:
            continue
        for key in selector:
            if UNSTABLE_SELECTOR.search(key):
                yield f"selectors: {_id(obj)} selects on unstable label {key!r}"
        if obj.get("kind") in WORKLOAD_KINDS and obj.get("kind") != "Job":
            labels = obj["spec"]["template"].get("metadata", {}).get("labels") or {}
            if not _selects(selector, labels):
                yield f"selectors: {_id(obj)} selector is not a subset of its pod template labels"
        if obj.get("kind") == "PodDisruptionBudget" and not any(
                _ns(wl) == _ns(obj) and _selects(selector, pod.get("metadata", {}).get("labels") or {})
                for wl, pod in pod_templates(objects)):
            yield f"selectors: {_id(obj)} selects no pod template"


def rule_port_names(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    for wl, pod in pod_templates(objects):
        seen: set[str] = set()
        numbers: set[int] = set()
        for c in _containers(pod):
            for p in c.get("ports") or []:
                name = p.get("name", "")
                if len(name) > 15 or not PORT_NAME.match(name):
                    yield f"port-names: {_id(wl)} port name {name!r} is longer than 15 or not an IANA service name"
                if name in seen:
                    yield f"port-names: {_id(wl)} port name {name!r} is used twice in one pod"
                if p["containerPort"] in numbers:
                    yield f"port-names: {_id(wl)} port {p['containerPort']} is declared twice in one pod"
                seen.add(name)
                numbers.add(p["containerPort"])


def rule_records(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    """Every record a registration script puts exists and decodes as the record its key names."""
    for cm, key, value in registration_records(objects):
        try:
            decoded = (topo_decode.decode_cell(value) if key.endswith("/Cell")
                       else topo_decode.decode_database(value))
        except (ValueError, KeyError) as exc:
            yield f"records: {_id(cm)} {key}: does not decode ({exc})"
            continue
        if not key.endswith(f"/{decoded['name']}/{key.rsplit('/', 1)[1]}"):
            yield f"records: {_id(cm)} {key}: record name {decoded['name']!r} does not match its key"


def _shard_of(obj: dict[str, Any]) -> tuple[str, ...]:
    labels = obj.get("metadata", {}).get("labels") or {}
    return (_ns(obj), *(labels.get(f"multigres.com/{k}", "") for k in ("cluster", "database", "table-group", "shard")))


def rule_backups(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    """Every pooler pod mounts its shard's one backup claim, rendered, at the same path in pgctld and
    multipooler; a pod without a claim must be on S3 (AWS settings come from the Database record)."""
    claims = {(_ns(o), o["metadata"]["name"]): o for o in objects if o.get("kind") == "PersistentVolumeClaim"}
    per_shard: dict[tuple[str, ...], set[str]] = {}
    for wl, pod in pod_templates(objects):
        if (wl["metadata"].get("labels") or {}).get("app.kubernetes.io/component") != "multipooler":
            continue
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        backup = [v for v in volumes.values() if "persistentVolumeClaim" in v]
        if not backup:
            continue
        claim = backup[0]["persistentVolumeClaim"]["claimName"]
        per_shard.setdefault(_shard_of(wl), set()).add(claim)
        if (_ns(wl), claim) not in claims:
            yield f"backups: {_id(wl)} mounts claim {claim!r}, which is not rendered"
        elif "ReadWriteMany" not in claims[(_ns(wl), claim)]["spec"].get("accessModes", []):
            yield f"backups: {_id(wl)} claim {claim!r} is not ReadWriteMany, yet every pod of the shard mounts it"
        paths = {c["name"]: [m["mountPath"] for m in c.get("volumeMounts") or [] if m["name"] == backup[0]["name"]]
                 for c in _containers(pod) if c["name"] in ("pgctld", "multipooler")}
        if len({tuple(p) for p in paths.values()}) != 1 or not all(paths.values()) or len(paths) != 2:
            yield f"backups: {_id(wl)} pgctld and multipooler do not mount the backup claim at one path ({paths})"
    for shard, names in sorted(per_shard.items()):
        if len(names) > 1:
            yield f"backups: pools of shard {shard} mount different claims {sorted(names)}"


def _protected(pdb: dict[str, Any], objects: list[dict[str, Any]]) -> list[str] | None:
    """The workloads a shard's budget must cover: every pool StatefulSet of that MultiShard (None
    for a budget of another component: it must cover exactly one workload)."""
    if pdb["metadata"]["labels"].get("app.kubernetes.io/component") != "multipooler":
        return None
    shard = next((o for o in objects if o.get("kind") == "MultiShard" and _ns(o) == _ns(pdb)
                  and naming.shard_pdb(o["metadata"]["name"]) == pdb["metadata"]["name"]), None)
    if shard is None:
        return []
    return sorted(f"StatefulSet/{naming.pool_name(shard['metadata']['name'], p['type'], p['cell'])}"
                  for p in shard["spec"]["pools"])


def rule_disruption_budgets(objects: list[dict[str, Any]], messages: list[str], domain: str) -> Iterable[str]:
    """A budget selects exactly the pods it protects, and no pod is in two (the eviction API
    refuses to evict a pod more than one budget selects)."""
    owners: dict[str, list[str]] = {}
    for pdb in (o for o in objects if o.get("kind") == "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        hits = sorted(_id(wl) for wl, pod in pod_templates(objects)
                      if _ns(wl) == _ns(pdb) and _selects(selector, pod.get("metadata", {}).get("labels") or {}))
        for hit in hits:
            owners.setdefault(hit, []).append(_id(pdb))
        expected = _protected(pdb, objects)
        if expected is None and len(hits) != 1:
            yield f"disruption-budgets: {_id(pdb)} selects {hits}, not exactly one workload"
        elif expected is not None and hits != expected:
            yield f"disruption-budgets: {_id(pdb)} selects {hits}, its shard's pools are {expected}"
    for workload, budgets in sorted(owners.items()):
        if len(budgets) > 1:
            yield f"disruption-budgets: pods of {workload} are selected by {len(budgets)} budgets {budgets}"


RULES: list[Rule] = [rule_service_selects, rule_statefulset_service, rule_named_ports, rule_topo_addresses,
                     rule_references, rule_names, rule_selectors, rule_port_names, rule_records,
                     rule_backups, rule_disruption_budgets]


def check(objects: list[dict[str, Any]], messages: list[str] | None = None,
          cluster_domain: str = "cluster.local") -> list[str]:
    """All problems of a whole output, every rule."""
    return [p for rule in RULES for p in rule(objects, messages or [], cluster_domain)]


# ---- helpers for the build tests (tests/helpers.py stays the lead's) ----

def output_objects(out: Any) -> list[dict[str, Any]]:
    """Every object of a function run's output, inputs included."""
    return [i.obj for i in out.items]


def result_messages(out: Any) -> list[str]:
    return [r.message for r in out.results]


def args_of(container: dict[str, Any]) -> dict[str, str]:
    """`--flag=value` arguments as a dict (the last one wins)."""
    out = {}
    for arg in container.get("args") or []:
        if arg.startswith("--") and "=" in arg:
            key, _, value = arg.partition("=")
            out[key] = value
    return out


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]
