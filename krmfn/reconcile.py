"""Reconcile a render with its input: the function's earlier output, user objects of the same
name, and generated names that collide.

An input object is replaced only when it is provably this function's earlier output
(`is_previous_output`); anything else a user wrote wins over a generated object of the same name,
with an error. `render --previous` and kpt's re-render compare the old output with the new one
(previous.py).
"""

from __future__ import annotations

from . import naming
from .resourcelist import Item, Key
from .results import ResourceRef, Result, error, info

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


# Kinds the function writes; an input object is its previous output only when it has one of these
# kinds, our managed-by label and the generated-from annotation (all three). A builder that starts
# writing a new kind adds it here (tests/test_safety.py checks that every generated kind is listed).
GENERATED_KINDS = frozenset({
    "TopoServer", "MultiCell", "MultiTableGroup", "MultiShard", "StatefulSet", "Deployment", "Service",
    "PodDisruptionBudget", "Job", "CronJob", "CustomResourceDefinition", "ConfigMap", "PersistentVolumeClaim",
    "Certificate", "PodMonitor", "PrometheusRule",
    "NetworkPolicy",
    "ServiceAccount", "Role", "RoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
})


def is_previous_output(item: Item) -> bool:
    """Whether an input object is provably this function's own earlier output (safe to replace)."""
    labels = item.metadata.get("labels")
    if not isinstance(labels, dict) or labels.get("app.kubernetes.io/managed-by") != naming.MANAGED_BY:
        return False
    if item.kind not in GENERATED_KINDS:
        return False
    if item.kind == "CustomResourceDefinition":
        return item.api_version == "apiextensions.k8s.io/v1" and item.name.endswith("." + naming.GROUP)
    if item.kind in ("TopoServer", "MultiCell", "MultiTableGroup", "MultiShard") and \
            item.api_version != naming.API_VERSION:
        return False
    return isinstance(item.annotations.get(naming.GENERATED_FROM), str)


def _describe(obj: dict[str, Any]) -> str:
    labels = obj["metadata"].get("labels", {})
    parts = [f"{k.split('/')[1]} {v!r}" for k, v in labels.items() if k.startswith(naming.GROUP + "/")]
    return ", ".join(parts) or obj["metadata"]["name"]


# How Kubernetes tells two objects apart: API group (not version: one object is served at every
# version of its group), kind, namespace and name.
Identity = tuple[str, str, str]  # (group, kind, name); the namespace is matched by `same_namespace`


def identity(obj: dict[str, Any]) -> Identity:
    """(API group, kind, name) of an object; "" is the core group (`v1`)."""
    api_version = str(obj.get("apiVersion", ""))
    meta = obj.get("metadata")
    name = str(meta.get("name", "")) if isinstance(meta, dict) else ""
    return api_version.rpartition("/")[0], str(obj.get("kind", "")), name


def namespace_of(obj: dict[str, Any]) -> str | None:
    """The namespace, None when unset (`namespace: ""` is unset too, as Kubernetes reads it)."""
    meta = obj.get("metadata")
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    return str(ns) if ns else None


class IdentityIndex:
    """Objects by identity. An object without a namespace lands in whichever namespace it is
    applied to (`kubectl -n`, Argo CD's destination), so it may meet an object of the same
    identity in any namespace: it matches every namespace, as the Secret check reads it too."""

    __slots__ = ("by_id",)

    def __init__(self) -> None:
        self.by_id: dict[Identity, dict[str | None, Any]] = {}

    def add(self, obj: dict[str, Any], value: Any) -> Any:
        """Add `value` under obj's identity; return what it collides with (None when nothing)."""
        found = self.matches(obj)
        self.by_id.setdefault(identity(obj), {}).setdefault(namespace_of(obj), value)
        return found[0] if found else None

    def matches(self, obj: dict[str, Any]) -> list[Any]:
        """What an object of this identity and namespace would meet when applied."""
        entries = self.by_id.get(identity(obj))
        if not entries:
            return []
        ns = namespace_of(obj)
        if ns is None:
            return list(entries.values())
        return [entries[n] for n in (ns, None) if n in entries]


def check_collisions(objects: list[dict[str, Any]]) -> list[Result]:
    """Two generated objects of one identity would overwrite each other on apply: say so, whichever
    clusters they come from (cluster `a-b` cell `c` and cluster `a` cell `b-c` both make `a-b-c`)."""
    index = IdentityIndex()
    out = []
    for obj in objects:
        first = index.add(obj, obj)
        if first is not None:
            out.append(error(f"{obj['kind']} name {obj['metadata']['name']!r} is produced twice, by "
                             f"({_describe(first)}) and ({_describe(obj)}): the names collide after sanitising "
                             "('_' → '-', lower case) and joining with '-', and one would replace the other on "
                             "apply. "
                             "Rename one of them.", "metadata.name", ResourceRef.of(obj)))
    return out


def reconcile(passthrough: list[Item], previous: dict[Key, Item],
              generated: list[Item]) -> tuple[list[Item], list[Item], list[Result]]:
    """The pass-through items to keep, the generated items to write, and what replacing the input
    does: a generated object a user object already names is dropped (the user's wins), and the
    previous output is compared with the new one."""
    index = IdentityIndex()
    for g in generated:
        index.add(g.obj, g)
    dropped: set[int] = set()
    results: list[Result] = []
    for item in passthrough:
        clashes = [g for g in index.matches(item.obj) if id(g) not in dropped]
        if clashes:
            results.append(error(
                f"{item.kind} {item.name!r} is also generated by this function; the input object is not "
                "its earlier output (that needs the labels and the multigres.com/generated-from annotation "
                "the function writes), so it is kept and the generated one is not written. Rename or remove "
                "your object, or change the cluster so the names differ.", "metadata.name",
                ResourceRef.of(item.obj)))
            dropped.update(id(g) for g in clashes)
    if dropped:
        generated = [g for g in generated if id(g) not in dropped]
    wanted = {(i.kind, i.namespace, i.name) for i in generated}
    return list(passthrough), generated, results + compare_previous(previous, wanted, generated)


def compare_previous(previous: dict[Key, Item], wanted: set[Key], generated: list[Item]) -> list[Result]:
    """What replacing the previous output does: removals, and changes Kubernetes refuses or that matter."""
    if not previous:
        return []
    from . import previous as previous_checks  # only with previous output: start-up cost otherwise

    out: list[Result] = []
    new_by_key = {(i.kind, i.namespace, i.name): i for i in generated}
    for key, item in sorted(previous.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        if key not in wanted:
            out.append(info(f"{key[0]} {key[2]!r} is no longer generated and was removed.", "metadata.name",
                            ResourceRef.of(item.obj)))
            out.extend(previous_checks.removed(item.obj))
        elif key in new_by_key:
            out.extend(previous_checks.compare(item.obj, new_by_key[key].obj))
    return out
