"""The function: classify → validate → check → resolve → build → reconcile with the input (`run`).

Everything here is deterministic: generated objects are ordered by cluster (namespace, name)
and then by the fixed order of each stage, never by input order.
"""

from __future__ import annotations

import os
import re

from . import naming
from . import previous as previous_checks
from .api.fast import Invalid, validate
from .checks import (
    CHILD_CHECKS,
    CLUSTER_CHECKS,
    SIZE_CHECKS,
    check_secrets,
    check_unused_templates,
    secrets_written_by,
)
from .limits import MAX_OUTPUT_OBJECTS
from .options import parse_options as parse_options  # re-exported: function.parse_options callers keep working
from .resolve.cluster import Resolved, resolve_cluster
from .resolve.templates import TemplateIndex
from .resourcelist import INDEX, LEGACY_INDEX, LEGACY_PATH, PATH, Item, ResourceList
from .results import ResourceRef, Result, error, info, sort_results, with_ref

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


# An object's identity in a render: (kind, namespace, name).
Key = tuple[str, str | None, str]

CLUSTER_KIND = "MultigresCluster"
TEMPLATE_KIND = "MultigresDeploymentTemplate"


class Output:
    """What a render returns. A plain class, not a dataclass: importing `dataclasses` (it imports
    `inspect`) is a seventh of the function's start-up, paid on every kpt render."""

    __slots__ = ("items", "results", "resolved")

    def __init__(self, items: list[Item], results: list[Result], resolved: list[Resolved] | None = None) -> None:
        self.items = items
        self.results = results
        self.resolved: list[Resolved] = [] if resolved is None else resolved


def _is(item: Item, kind: str) -> bool:
    return item.kind == kind and item.api_version.startswith(naming.GROUP + "/")


def _template_index(templates: list[Item], results: list[Result]) -> dict[str | None, TemplateIndex]:
    by_ns: dict[str | None, TemplateIndex] = {}
    for item in templates:
        try:
            validate("MultigresDeploymentTemplate", item.obj)
        except Invalid as exc:
            results.extend(with_ref(exc.results(), ResourceRef.of(item.obj)))
            continue
        index = by_ns.setdefault(item.namespace, TemplateIndex({}))
        if item.name in index.specs:
            results.append(error(f"MultigresDeploymentTemplate {item.name!r} appears twice in namespace "
                                 f"{item.namespace or '(none)'!r}; the clusters would use whichever came last. "
                                 "Keep one, or rename the other.", "metadata.name", ResourceRef.of(item.obj)))
            continue
        index.specs[item.name] = item.obj.get("spec") or {}
    return by_ns


def _generated_path(cluster: Item, obj: dict[str, Any], shared_name: bool = False) -> str:
    """generated/<cluster>/<kind>_<name>.yaml beside the cluster's file.

    When clusters of one name in several namespaces are rendered together, the folder is
    generated/<namespace>/<cluster>/ instead, so their files never overwrite each other.
    """
    base = os.path.dirname(cluster.path or "")
    name = f"{obj['kind'].lower()}_{obj['metadata']['name']}.yaml"
    if shared_name:
        return os.path.join(base, "generated", cluster.namespace or "_", cluster.name, name)
    return os.path.join(base, "generated", cluster.name, name)


def _annotate(obj: dict[str, Any], path: str) -> None:
    ann = obj["metadata"].setdefault("annotations", {})
    ann[PATH] = path
    ann[INDEX] = "0"
    ann[LEGACY_PATH] = path
    ann[LEGACY_INDEX] = "0"


def _describe(obj: dict[str, Any]) -> str:
    labels = obj["metadata"].get("labels", {})
    parts = [f"{k.split('/')[1]} {v!r}" for k, v in labels.items() if k.startswith(naming.GROUP + "/")]
    return ", ".join(parts) or obj["metadata"]["name"]


def check_collisions(objects: list[dict[str, Any]]) -> list[Result]:
    """Two generated objects of one kind with one name would overwrite each other: say so."""
    seen: dict[Key, dict[str, Any]] = {}
    out = []
    for obj in objects:
        key = (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if key in seen:
            out.append(error(f"{obj['kind']} name {key[2]!r} is produced twice, by ({_describe(seen[key])}) and "
                             f"({_describe(obj)}): the names collide after sanitising ('_' → '-', lower case). "
                             "Rename one of them.", "metadata.name", ResourceRef.of(obj)))
        else:
            seen[key] = obj
    return out


# Kinds the function writes; an input object is its previous output only when it has one of these
# kinds, our managed-by label and the generated-from annotation (all three). A builder that starts
# writing a new kind adds it here (tests/test_safety.py checks that every generated kind is listed).
GENERATED_KINDS = frozenset({
    "TopoServer", "MultiCell", "MultiTableGroup", "MultiShard", "StatefulSet", "Deployment", "Service",
    "PodDisruptionBudget", "Job", "CustomResourceDefinition", "ConfigMap", "PersistentVolumeClaim", "Certificate",
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


class Inputs:
    """The input items by role: what the function reads, and what it writes back or replaces."""

    __slots__ = ("clusters", "templates", "previous", "passthrough")

    def __init__(self, clusters: list[Item], templates: list[Item], previous: dict[Key, Item],
                 passthrough: list[Item]) -> None:
        self.clusters = clusters
        self.templates = templates
        self.previous = previous  # the function's own earlier output, replaced by this render
        self.passthrough = passthrough


class Render:
    """What one run accumulates while it walks the clusters."""

    __slots__ = ("options", "rl", "results", "generated", "resolved", "owners")

    def __init__(self, options: Any, rl: ResourceList, results: list[Result]) -> None:
        self.options = options
        self.rl = rl
        self.results = results
        self.generated: list[Item] = []
        self.resolved: list[Resolved] = []
        self.owners: dict[Key, Item] = {}  # object -> its cluster (for result locations)


def run(rl: ResourceList, options: Any = None, earlier: list[Item] | None = None) -> Output:
    """Run the whole function on a parsed ResourceList (`earlier`: a previous render, `render --previous`).

    classify → (per cluster) validate → check → resolve → build → reconcile with the input.
    """
    results: list[Result] = list(rl.problems)
    if options is None:
        options, problems = parse_options(rl.function_config)
        results += problems
    inputs = classify(rl, earlier)
    state = Render(options, rl, results)
    indexes = _template_index(inputs.templates, state.results)
    render_clusters(inputs.clusters, indexes, state)
    state.results += unused_templates(indexes)
    if options.include_crds:
        state.generated += crd_items()
    kept = reconcile(inputs, state)
    located = locate_results(state.results, rl.items, state.owners)
    return Output(kept + state.generated, sort_results(located), state.resolved)


def classify(rl: ResourceList, earlier: list[Item] | None) -> Inputs:
    """Clusters, templates, earlier output (from the input or `earlier`) and pass-through items."""
    previous = {(i.kind, i.namespace, i.name): i for i in rl.items if is_previous_output(i)}
    for i in earlier or []:
        if is_previous_output(i):
            previous.setdefault((i.kind, i.namespace, i.name), i)
    return Inputs(clusters=[i for i in rl.items if _is(i, CLUSTER_KIND)],
                  templates=[i for i in rl.items if _is(i, TEMPLATE_KIND)],
                  previous=previous,
                  passthrough=[i for i in rl.items if not is_previous_output(i)])


def render_clusters(clusters: list[Item], indexes: dict[str | None, TemplateIndex], state: Render) -> None:
    """Every cluster once, in (namespace, name) order, until the output bound is reached."""
    seen: set[tuple[str | None, str]] = set()
    names = [(i.namespace, i.name) for i in clusters]
    for item in sorted(clusters, key=lambda i: (i.namespace or "", i.name)):
        ref = ResourceRef.of(item.obj)
        if (item.namespace, item.name) in seen:
            state.results.append(error("this MultigresCluster appears twice in the input; keep one.",
                                       "metadata.name", ref))
            continue
        seen.add((item.namespace, item.name))
        shared = any(n[1] == item.name and n[0] != item.namespace for n in names)
        _add_generated(item, render_cluster(item, indexes, state), shared, state)
        if len(state.generated) > MAX_OUTPUT_OBJECTS:
            state.results.append(error(
                f"the render would produce more than {MAX_OUTPUT_OBJECTS:,} objects (limit MAX_OUTPUT_OBJECTS); "
                "split the clusters over several packages or use fewer shards, pools or cells.", "spec", ref))
            state.generated = []
            break


def validate_cluster(item: Item, state: Render) -> Any:
    """The validated cluster, or None when it is invalid or too large to go on with."""
    ref = ResourceRef.of(item.obj)
    try:
        cluster = validate("MultigresCluster", item.obj)
    except Invalid as exc:
        state.results.extend(with_ref(exc.results(), ref))
        return None
    size_problems = [r for check in SIZE_CHECKS for r in check(cluster)]
    if size_problems:  # nothing past this point may take time or memory in proportion to them
        state.results.extend(with_ref(size_problems, ref))
        return None
    return cluster


def render_cluster(item: Item, indexes: dict[str | None, TemplateIndex], state: Render) -> list[dict[str, Any]]:
    """One cluster's generated objects: none when any check, resolve or child check found an error."""
    cluster = validate_cluster(item, state)
    if cluster is None:
        return []
    ref = ResourceRef.of(item.obj)
    problems = with_ref([r for check in CLUSTER_CHECKS for r in check(cluster)], ref)
    resolved = resolve_cluster(cluster, indexes.setdefault(item.namespace, TemplateIndex({})))
    problems += with_ref(resolved.results, ref)
    for child in resolved.children:
        child_ref = ResourceRef(child.api_version, child.kind, child.metadata["name"], child.metadata.get("namespace"))
        problems += with_ref([r for check in CHILD_CHECKS for r in check(child)], child_ref)
        state.owners[(child_ref.kind, child_ref.namespace, child_ref.name)] = item
    state.results.extend(problems)
    state.resolved.append(resolved)
    if any(r.severity == "error" for r in problems):
        return []
    objects, build_results = emit(resolved, state.options, state.rl)
    state.results.extend(build_results)
    state.results.extend(check_collisions(objects))
    return objects


def _add_generated(cluster: Item, objects: list[dict[str, Any]], shared: bool, state: Render) -> None:
    for obj in objects:
        state.owners.setdefault((obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]), cluster)
        _annotate(obj, _generated_path(cluster, obj, shared))
        state.generated.append(Item(obj, generated=True))


def unused_templates(indexes: dict[str | None, TemplateIndex]) -> list[Result]:
    """An info result for each template no cluster referenced (after every cluster was resolved)."""
    out = []
    for ns, index in sorted(indexes.items(), key=lambda kv: kv[0] or ""):
        for name, result in check_unused_templates(index.names(), index.used):
            out.append(with_ref([result], ResourceRef(naming.API_VERSION, TEMPLATE_KIND, name, ns))[0])
    return out


def crd_items() -> list[Item]:
    """The six CRDs as generated items (`includeCrds`); the CRD code loads only when asked for."""
    from .crds import crd_objects

    items = []
    for obj in crd_objects():
        _annotate(obj, os.path.join("generated", "crds", f"crd_{obj['metadata']['name']}.yaml"))
        items.append(Item(obj, generated=True))
    return items


def reconcile(inputs: Inputs, state: Render) -> list[Item]:
    """The pass-through items to keep; drops generated objects a user object already names, and
    compares the previous output with the new one."""
    wanted = {(i.kind, i.namespace, i.name) for i in state.generated}
    kept = []
    for item in inputs.passthrough:
        key = (item.kind, item.namespace, item.name)
        if key in wanted:
            state.results.append(error(
                f"{item.kind} {item.name!r} is also generated by this function; the input object is not "
                "its earlier output (that needs the labels and the multigres.com/generated-from annotation "
                "the function writes), so it is kept and the generated one is not written. Rename or remove "
                "your object, or change the cluster so the names differ.", "metadata.name",
                ResourceRef.of(item.obj)))
            wanted.discard(key)
            state.generated = [g for g in state.generated if (g.kind, g.namespace, g.name) != key]
        kept.append(item)
    state.results += compare_previous(inputs.previous, wanted, state.generated)
    return kept


def compare_previous(previous: dict[Key, Item], wanted: set[Key], generated: list[Item]) -> list[Result]:
    """What replacing the previous output does: removals, and changes Kubernetes refuses or that matter."""
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


def locate_results(results: list[Result], items: list[Item], owners: dict[Key, Item] | None = None) -> list[Result]:
    """Give each result about an input object its file, line and column (where the item says).

    A result about a generated object gets the file of the cluster it came from (no line: its
    field path is in the generated object, not in the cluster).
    """
    by_ref: dict[Key, Item] = {}
    for each in items:
        by_ref.setdefault((each.kind, each.namespace, each.name), each)
    out = []
    for r in results:
        key = (r.ref.kind, r.ref.namespace, r.ref.name) if r.ref is not None else None
        item: Item | None = by_ref.get(key) if key is not None else None
        if item is None and key is not None and owners and key in owners and not r.file:
            owner = owners[key]
            file = owner.file or (owner.path if isinstance(owner.path, str) else None)
            out.append(r.replace(file=file) if file else r)
            continue
        if item is None or r.file:
            out.append(r)
            continue
        file = item.file or (item.path if isinstance(item.path, str) else None)
        index = item.index
        if index is None:
            raw = item.annotations.get(INDEX) or item.annotations.get(LEGACY_INDEX)
            index = int(raw) if isinstance(raw, str) and raw.isdigit() else None
        line = column = None
        if item.node is not None and item.file is not None:
            node = locate(item.node, r.path)
            line, column = item.line + node.start_mark.line + 1, node.start_mark.column + 1
        out.append(r.replace(file=file, index=index, line=line, column=column))
    return out


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def locate(node: Any, path: str) -> Any:
    """The deepest node along a field path (`spec.a[0].b`) that exists in the document."""
    import yaml

    current = node
    for name, number in _PATH_PART.findall(path or ""):
        if name and isinstance(current, yaml.MappingNode):
            found = next((v for k, v in current.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)
            if found is None:
                return current
            current = found
        elif number and isinstance(current, yaml.SequenceNode) and int(number) < len(current.value):
            current = current.value[int(number)]
        else:
            return current
    return current


def emit(resolved: Resolved, options: Any, rl: ResourceList) -> tuple[list[dict[str, Any]], list[Result]]:
    """Child CRs and/or workloads, as the options ask, and the Secrets the workloads miss."""
    objects: list[dict[str, Any]] = []
    results: list[Result] = []
    if options.emit in ("all", "children"):
        objects += [child.dump() for child in resolved.children]
    if options.emit in ("all", "workloads"):
        from .workloads import build_all

        workloads = build_all(resolved, options.cluster_domain)
        objects += workloads
        shards = [c for c in resolved.children if c.kind == "MultiShard"]
        results += check_secrets(shards, rl.items, secrets_written_by(workloads))
    return objects, results
