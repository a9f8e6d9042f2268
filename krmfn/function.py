"""The function: classify → validate → check → resolve → build → reconcile with the input (`run`).

`run` reads as that pipeline; each step is a function of a few lines here, or a module of its own
(checks.py, resolve/, workloads/, reconcile.py, locate.py).

Everything here is deterministic: generated objects are ordered by cluster (namespace, name)
and then by the fixed order of each stage, never by input order.
"""

from __future__ import annotations

import os

from . import naming
from .api.validator import Invalid, validate
from .checks import (
    CHILD_CHECKS,
    CLUSTER_CHECKS,
    SIZE_CHECKS,
    check_secrets,
    check_unused_templates,
    secrets_written_by,
)
from .limits import MAX_OUTPUT_OBJECTS
from .locate import locate_results
from .options import parse_options as parse_options  # re-exported: function.parse_options callers keep working
from .reconcile import check_collisions, is_previous_output, reconcile
from .resolve.cluster import Resolved, resolve_cluster
from .resolve.templates import TemplateIndex
from .resourcelist import INDEX, LEGACY_INDEX, LEGACY_PATH, PATH, Item, Key, ResourceList
from .results import ResourceRef, Result, error, sort_results, with_ref

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from .api.cluster import MultigresCluster
    from .api.config import RenderOptions


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

    def __init__(self, options: RenderOptions, rl: ResourceList, results: list[Result]) -> None:
        self.options = options
        self.rl = rl
        self.results = results
        self.generated: list[Item] = []
        self.resolved: list[Resolved] = []
        self.owners: dict[Key, Item] = {}  # object -> its cluster (for result locations)


def run(rl: ResourceList, options: RenderOptions | None = None, earlier: list[Item] | None = None) -> Output:
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
    kept, generated, problems = reconcile(inputs.passthrough, inputs.previous, state.generated)
    located = locate_results(state.results + problems, rl.items, state.owners)
    return Output(kept + generated, sort_results(located), state.resolved)


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


def validate_cluster(item: Item, state: Render) -> MultigresCluster | None:
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
    """One cluster's generated objects: validate → check and resolve → build. None when any check,
    resolve or child check found an error (every problem is still reported)."""
    cluster = validate_cluster(item, state)
    resolved = None if cluster is None else resolve_checked(item, cluster, indexes, state)
    return [] if resolved is None else build(resolved, state)


def resolve_checked(item: Item, cluster: MultigresCluster, indexes: dict[str | None, TemplateIndex],
                    state: Render) -> Resolved | None:
    """The cluster checks, resolve, and the checks of each child; the resolved cluster, or None
    when any of them found an error."""
    ref = ResourceRef.of(item.obj)
    problems = with_ref([r for check in CLUSTER_CHECKS for r in check(cluster)], ref)
    resolved = resolve_cluster(cluster, indexes.setdefault(item.namespace, TemplateIndex({})))
    problems += with_ref(resolved.results, ref)
    for child in resolved.children:
        child_ref = ResourceRef.of_child(child)
        problems += with_ref([r for check in CHILD_CHECKS for r in check(child)], child_ref)
        state.owners[(child_ref.kind, child_ref.namespace, child_ref.name)] = item
    state.results.extend(problems)
    state.resolved.append(resolved)
    return None if any(r.severity == "error" for r in problems) else resolved


def build(resolved: Resolved, state: Render) -> list[dict[str, Any]]:
    """The objects to write for one resolved cluster, and what building them found."""
    objects, results = select_output(resolved, state.options, state.rl)
    state.results.extend(results)
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


def _cluster_extras(resolved: Resolved, options: RenderOptions) -> list[dict[str, Any]]:
    """The status reporter and the read-only policy, when the options ask for them."""
    if not (options.status_reporter or options.read_only_children):
        return []
    from . import __version__, defaults
    from .workloads import build_extras

    image = options.status_reporter_image or f"{defaults.FUNCTION_IMAGE_REPOSITORY}:v{__version__}"
    writers = [w.strip() for w in (options.spec_writers or "").split(",") if w.strip()]
    return build_extras(resolved, options.cluster_domain, image if options.status_reporter else None,
                        (writers or list(defaults.SPEC_WRITERS)) if options.read_only_children else None)


def select_output(resolved: Resolved, options: RenderOptions,
                  rl: ResourceList) -> tuple[list[dict[str, Any]], list[Result]]:
    """Child CRs and/or workloads, as the `emit` option asks, and the Secrets the workloads miss."""
    objects: list[dict[str, Any]] = []
    results: list[Result] = []
    if options.emit in ("all", "children"):
        objects += [child.dump() for child in resolved.children]
    if options.emit in ("all", "workloads"):
        from .workloads import build_all

        workloads = build_all(resolved, options.cluster_domain)
        workloads += _cluster_extras(resolved, options)
        objects += workloads
        shards = [c for c in resolved.children if c.kind == "MultiShard"]
        results += check_secrets(shards, rl.items, secrets_written_by(workloads))
    return objects, results
