"""The function: classify items → resolve → build → reconcile with previous output.

Everything here is deterministic: generated objects are ordered by cluster (namespace, name)
and then by the fixed order of each stage, never by input order.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from . import naming
from . import previous as previous_checks
from .api.fast import Invalid, validate
from .api.names import CONFIG_KIND
from .checks import (
    CHILD_CHECKS,
    CLUSTER_CHECKS,
    SIZE_CHECKS,
    check_options,
    check_unused_templates,
)
from .limits import MAX_OUTPUT_OBJECTS
from .resolve.cluster import Resolved, resolve_cluster
from .resolve.templates import TemplateIndex
from .resourcelist import INDEX, LEGACY_INDEX, LEGACY_PATH, PATH, Item, ResourceList
from .results import ResourceRef, Result, error, info, sort_results, with_ref

# An object's identity in a render: (kind, namespace, name).
Key = tuple[str, str | None, str]

CLUSTER_KIND = "MultigresCluster"
TEMPLATE_KIND = "MultigresDeploymentTemplate"


@dataclass
class Output:
    items: list[Item]
    results: list[Result]
    resolved: list[Resolved] = field(default_factory=list)


def parse_options(fc: dict[str, Any] | None) -> tuple[Any, list[Result]]:
    """functionConfig: absent, a ConfigMap with string data, or a typed RenderMultigres.

    The options are a RenderOptions (validated without pydantic when valid, see api/fast.py).
    """
    if not fc:
        return validate("RenderOptions", {}), []
    ref = ResourceRef.of(fc)
    kind = fc.get("kind")
    if kind == "ConfigMap":
        data = fc.get("data")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return validate("RenderOptions", {}), [error(
                f"ConfigMap data is a {type(data).__name__}, not a mapping; write `key: value` pairs (emit, "
                "includeCrds, clusterDomain).", "data", ref)]
        raw: dict[str, Any] = {}
        for key, value in data.items():
            if key == "includeCrds" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
                value = value.strip().lower() == "true"
            elif key == "includeCrds" and not isinstance(value, bool):
                return validate("RenderOptions", {}), [error(
                    f"includeCrds is {value!r}; write \"true\" or \"false\".", "data.includeCrds", ref)]
            raw[str(key)] = value
        try:
            options = validate("RenderOptions", raw)
        except Invalid as exc:
            return validate("RenderOptions", {}), with_ref(exc.results(("data",)), ref)
        problems = with_ref(check_options(options, "data"), ref)
        return (validate("RenderOptions", {}) if problems else options), problems
    if kind == CONFIG_KIND:
        try:
            cfg = validate("RenderMultigres", fc)
        except Invalid as exc:
            return validate("RenderOptions", {}), with_ref(exc.results(), ref)
        options = cfg.spec or validate("RenderOptions", {})
        problems = with_ref(check_options(options, "spec"), ref)
        return (validate("RenderOptions", {}) if problems else options), problems
    return validate("RenderOptions", {}), [error(f"functionConfig of kind {kind!r} is not understood; use a "
                                                 f"ConfigMap or a {CONFIG_KIND} (apiVersion "
                                                 "fn.multigres.com/v1alpha1).", "kind", ref)]


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


def run(rl: ResourceList, options: Any = None, earlier: list[Item] | None = None) -> Output:
    """Run the whole function on a parsed ResourceList (`earlier`: a previous render, `render --previous`)."""
    results: list[Result] = list(rl.problems)
    if options is None:
        options, problems = parse_options(rl.function_config)
        results += problems
    clusters = [i for i in rl.items if _is(i, CLUSTER_KIND)]
    templates = [i for i in rl.items if _is(i, TEMPLATE_KIND)]
    previous = {(i.kind, i.namespace, i.name): i for i in rl.items if is_previous_output(i)}
    for i in earlier or []:
        if is_previous_output(i):
            previous.setdefault((i.kind, i.namespace, i.name), i)
    passthrough = [i for i in rl.items if not is_previous_output(i)]

    indexes = _template_index(templates, results)
    generated: list[Item] = []
    resolved_all: list[Resolved] = []
    seen_clusters: set[tuple[str | None, str]] = set()
    names = [(i.namespace, i.name) for i in clusters]
    owners: dict[Key, Item] = {}  # generated object -> the cluster it came from (for result locations)
    for cluster_item in sorted(clusters, key=lambda i: (i.namespace or "", i.name)):
        ref = ResourceRef.of(cluster_item.obj)
        if (cluster_item.namespace, cluster_item.name) in seen_clusters:
            results.append(error("this MultigresCluster appears twice in the input; keep one.", "metadata.name", ref))
            continue
        seen_clusters.add((cluster_item.namespace, cluster_item.name))
        try:
            cluster = validate("MultigresCluster", cluster_item.obj)
        except Invalid as exc:
            results.extend(with_ref(exc.results(), ref))
            continue
        size_problems = [r for check in SIZE_CHECKS for r in check(cluster)]
        if size_problems:  # nothing past this point may take time or memory in proportion to them
            results.extend(with_ref(size_problems, ref))
            continue
        cluster_problems = [r for check in CLUSTER_CHECKS for r in check(cluster)]
        results.extend(with_ref(cluster_problems, ref))
        index = indexes.setdefault(cluster_item.namespace, TemplateIndex({}))
        resolved = resolve_cluster(cluster, index)
        results.extend(with_ref(resolved.results, ref))
        child_problems = []
        for child in resolved.children:
            child_problems += with_ref([r for check in CHILD_CHECKS for r in check(child)], ResourceRef.of(child))
        results.extend(child_problems)
        resolved_all.append(resolved)
        for child in resolved.children:
            owners[(child["kind"], child["metadata"].get("namespace"), child["metadata"]["name"])] = cluster_item
        if any(r.severity == "error" for r in cluster_problems + resolved.results + child_problems):
            continue
        objects, build_results = _emit(resolved, options, rl)
        results.extend(build_results)
        results.extend(check_collisions(objects))
        shared = sum(1 for n in names if n[1] == cluster_item.name and n[0] != cluster_item.namespace) > 0
        for obj in objects:
            owners.setdefault((obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]), cluster_item)
            _annotate(obj, _generated_path(cluster_item, obj, shared))
            generated.append(Item(obj, generated=True))
        if len(generated) > MAX_OUTPUT_OBJECTS:
            results.append(error(f"the render would produce more than {MAX_OUTPUT_OBJECTS:,} objects (limit "
                                 "MAX_OUTPUT_OBJECTS); split the clusters over several packages or use fewer "
                                 "shards, pools or cells.", "spec", ref))
            generated = []
            break

    for ns, index in sorted(indexes.items(), key=lambda kv: kv[0] or ""):
        for name, result in check_unused_templates(index.names(), index.used):
            ref = ResourceRef(naming.API_VERSION, TEMPLATE_KIND, name, ns)
            results.append(with_ref([result], ref)[0])

    if options.include_crds:
        from .crds import crd_objects

        for obj in crd_objects():
            _annotate(obj, os.path.join("generated", "crds", f"crd_{obj['metadata']['name']}.yaml"))
            generated.append(Item(obj, generated=True))

    wanted = {(i.kind, i.namespace, i.name) for i in generated}
    kept = []
    for item in passthrough:
        key = (item.kind, item.namespace, item.name)
        if key in wanted:
            results.append(error(
                f"{item.kind} {item.name!r} is also generated by this function; the input object is not "
                "its earlier output (that needs the labels and the multigres.com/generated-from annotation "
                "the function writes), so it is kept and the generated one is not written. Rename or remove "
                "your object, or change the cluster so the names differ.", "metadata.name",
                ResourceRef.of(item.obj)))
            wanted.discard(key)
            generated = [g for g in generated if (g.kind, g.namespace, g.name) != key]
        kept.append(item)
    new_by_key = {(i.kind, i.namespace, i.name): i for i in generated}
    for key, item in sorted(previous.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        if key not in wanted:
            results.append(info(f"{key[0]} {key[2]!r} is no longer generated and was removed.", "metadata.name",
                                ResourceRef.of(item.obj)))
            results.extend(previous_checks.removed(item.obj))
        elif key in new_by_key:
            results.extend(previous_checks.compare(item.obj, new_by_key[key].obj))
    results = locate_results(results, rl.items, owners)
    return Output(kept + generated, sort_results(results), resolved_all)


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
            out.append(dataclasses.replace(r, file=file) if file else r)
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
        out.append(dataclasses.replace(r, file=file, index=index, line=line, column=column))
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


def _emit(resolved: Resolved, options: Any,
          rl: ResourceList) -> tuple[list[dict[str, Any]], list[Result]]:
    """Child CRs and/or workloads, as the options ask, and what the build stage reports."""
    objects: list[dict[str, Any]] = []
    results: list[Result] = []
    if options.emit in ("all", "children"):
        objects += resolved.children
    if options.emit in ("all", "workloads"):
        from .workloads import build_all

        workloads, results = build_all(resolved, options, rl)
        objects += workloads
    return objects, results
