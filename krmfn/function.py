"""The function: classify → validate → check → resolve → build → reconcile with the input (`run`).

`run` reads as that pipeline; each step is a function of a few lines here, or a module of its own
(checks.py, resolve/, workloads/, reconcile.py, locate.py).

Everything here is deterministic: generated objects are ordered by cluster (namespace, name)
and then by the fixed order of each stage, never by input order.
"""

from __future__ import annotations

import os

from . import limits, naming
from .api.validator import Invalid, validate
from .checks import (
    CHILD_CHECKS,
    CLUSTER_CHECKS,
    SIZE_CHECKS,
    check_secrets,
    check_unused_templates,
    estimate_objects,
    field_size_problems,
    secrets_by_name,
    secrets_written_by,
)
from .locate import locate, locate_results, source_path
from .options import parse_options as parse_options  # re-exported: function.parse_options callers keep working
from .reconcile import check_collisions, is_previous_output, reconcile
from .resolve.cluster import Resolved, resolve_cluster
from .resolve.templates import TemplateIndex
from .resourcelist import INDEX, LEGACY_INDEX, LEGACY_PATH, PATH, Item, Key, ResourceList, octal_lookalikes
from .results import ResourceRef, Result, error, sort_results, warning, with_ref

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
    first: dict[tuple[str | None, str], Item] = {}
    for item in templates:
        index = by_ns.setdefault(item.namespace, TemplateIndex({}))
        results.extend(ambiguous_numbers(item))
        problems = _template_problems(item)
        if problems:
            results.extend(with_ref(problems, ResourceRef.of(item.obj)))
            index.invalid.add(item.name)  # references say it is invalid, not that it is missing
            continue
        if item.name in index.specs:
            results.append(_second_copy(error(
                f"MultigresDeploymentTemplate {item.name!r} appears twice in namespace {item.namespace or '(none)'!r}"
                f"{_first_at(first[(item.namespace, item.name)])}; the clusters would use whichever came last. "
                "Keep one, or rename the other.", "metadata.name", ResourceRef.of(item.obj)), item))
            continue
        first[(item.namespace, item.name)] = item
        index.specs[item.name] = item.obj.get("spec") or {}
    return by_ns


def _first_at(item: Item) -> str:
    """Where the first copy of a duplicate is, for the message about the second."""
    if not item.file:
        return ""
    return f" (first in {item.file}" + (f", line {item.line + 1})" if item.node is not None else ")")


def _second_copy(result: Result, item: Item) -> Result:
    """A result located at the second copy (locating by name alone would find the first)."""
    if not item.file:
        return result
    return result.replace(file=item.file, index=item.index, line=item.line + 1 if item.node is not None else None,
                          column=1 if item.node is not None else None)


def _template_problems(item: Item) -> list[Result]:
    too_large = field_size_problems(item.obj.get("spec"), "spec")
    if too_large:  # before validation, whose time and results grow with them
        return too_large
    try:
        validate("MultigresDeploymentTemplate", item.obj)
    except Invalid as exc:
        return exc.results()
    return []


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

    __slots__ = ("options", "rl", "results", "generated", "resolved", "owners", "_secrets", "full")

    def __init__(self, options: RenderOptions, rl: ResourceList, results: list[Result]) -> None:
        self.options = options
        self.rl = rl
        self.results = results
        self.generated: list[Item] = []
        self.resolved: list[Resolved] = []
        self.owners: dict[Key, Item] = {}  # object -> its cluster (for result locations)
        self._secrets: dict[str, list[Item]] | None = None
        self.full = False  # the output bound is reached: no further cluster is rendered

    @property
    def secrets(self) -> dict[str, list[Item]]:
        """The input Secrets by name, indexed once for all clusters."""
        if self._secrets is None:
            self._secrets = secrets_by_name(self.rl.items)
        return self._secrets


def run(rl: ResourceList, options: RenderOptions | None = None, earlier: list[Item] | None = None) -> Output:
    """Run the whole function on a parsed ResourceList (`earlier`: a previous render, `render --previous`).

    classify → (per cluster) validate → check → resolve → build → reconcile with the input, under
    the limits the options set (krmfn/limits.py).
    """
    results: list[Result] = list(rl.problems)
    if options is None:
        options, problems = parse_options(rl.function_config)
        results += problems
    saved = limits.apply(options.limits)
    try:
        return _run(rl, options, earlier, results)
    finally:
        limits.restore(saved)


def _run(rl: ResourceList, options: Any, earlier: list[Item] | None, results: list[Result]) -> Output:
    inputs = classify(rl, earlier)
    state = Render(options, rl, results)
    indexes = _template_index(inputs.templates, state.results)
    render_clusters(inputs.clusters, indexes, state)
    state.results += check_collisions([i.obj for i in state.generated])  # across clusters too
    state.results += unused_templates(indexes)
    if options.include_crds:
        state.generated += crd_items()
    kept, generated, problems = reconcile(inputs.passthrough, inputs.previous, state.generated)
    shown = bounded_results(state.results + problems)
    located = locate_results(shown, rl.items, state.owners)
    return Output(kept + generated, sort_results(located), state.resolved)


def bounded_results(results: list[Result]) -> list[Result]:
    """At most MAX_RESULTS results (errors first), the rest counted in one more: 300,000
    unknown fields are one mistake repeated, and locating and printing each was the cost."""
    if len(results) <= limits.MAX_RESULTS:
        return results
    # errors first, each group in the order found (the first of a kind carry the fullest messages)
    results = [r for r in results if r.severity == "error"] + [r for r in results if r.severity != "error"]
    rest = results[limits.MAX_RESULTS:]
    errors = sum(1 for r in rest if r.severity == "error")
    summary = Result("error" if errors else "warning",
                     f"{len(rest):,} more results ({errors:,} of them errors) are not shown (limit MAX_RESULTS, "
                     "`limits: {maxResults: N}` in the function config); fix the ones above and render again.",
                     "<input>")
    return [*results[:limits.MAX_RESULTS], summary]


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
    seen: dict[tuple[str | None, str], Item] = {}
    namespaces: dict[str, set[str | None]] = {}  # cluster name -> its namespaces (linear, not a scan per cluster)
    for i in clusters:
        namespaces.setdefault(i.name, set()).add(i.namespace)
    for item in sorted(clusters, key=lambda i: (i.namespace or "", i.name)):
        ref = ResourceRef.of(item.obj)
        if (item.namespace, item.name) in seen:
            state.results.append(_second_copy(error(
                f"this MultigresCluster appears twice in the input{_first_at(seen[(item.namespace, item.name)])}; "
                "keep one.", "metadata.name", ref), item))
            continue
        seen[(item.namespace, item.name)] = item
        shared = len(namespaces[item.name]) > 1
        _add_generated(item, render_cluster(item, indexes, state), shared, state)
        if state.full or len(state.generated) > limits.MAX_OUTPUT_OBJECTS:
            if not state.full:
                state.results.append(too_many_objects(ref))
            state.generated = []
            break


def too_many_objects(ref: ResourceRef) -> Result:
    return error(f"the render would produce more than {limits.MAX_OUTPUT_OBJECTS:,} objects (limit "
                 "MAX_OUTPUT_OBJECTS); split the clusters over several packages, use fewer shards, pools or "
                 "cells, or raise the limit (docs/limits.md).", "spec", ref)


def ambiguous_numbers(item: Item) -> list[Result]:
    """A warning for each integer a YAML 1.1 reader (kubectl, Argo CD) reads differently."""
    return [warning(f"{text} is read as {int(text, 10)} here and by kpt (YAML 1.2), but as octal {int(text, 8)} "
                    f"by kubectl and Argo CD (YAML 1.1), which apply this object; write {int(text, 10)} without "
                    "the leading zero.", path, ResourceRef.of(item.obj))
            for path, text in octal_lookalikes(item.node) if set(text.lstrip("+-")) <= set("01234567")]


def validate_cluster(item: Item, state: Render) -> MultigresCluster | None:
    """The validated cluster, or None when it is invalid or too large to go on with."""
    ref = ResourceRef.of(item.obj)
    state.results.extend(ambiguous_numbers(item))
    too_large = field_size_problems(item.obj.get("spec"), "spec")
    if too_large:  # before validation, whose time and results grow with them
        state.results.extend(with_ref(too_large, ref))
        return None
    try:
        cluster = validate("MultigresCluster", item.obj)
    except Invalid as exc:
        state.results.extend(with_ref(exc.results(), ref))
        return None
    size_problems = [r for check in SIZE_CHECKS for r in check(cluster)]
    if size_problems:  # nothing past this point may take time or memory in proportion to them
        state.results.extend(with_ref(size_problems, ref))
        return None
    if len(state.generated) + estimate_objects(cluster) > limits.MAX_OUTPUT_OBJECTS:
        state.results.append(too_many_objects(ref))  # before resolve and build, which grow with it
        state.full = True
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
        found = [r for check in CHILD_CHECKS for r in check(child)]
        problems += [at_source(r, child, item) for r in with_ref(found, child_ref)]
        state.owners[(child_ref.kind, child_ref.namespace, child_ref.name)] = item
    state.results.extend(problems)
    state.resolved.append(resolved)
    return None if any(r.severity == "error" for r in problems) else resolved


def at_source(result: Result, child: Any, item: Item) -> Result:
    """A problem found on a generated child, with the line and column in the user's file of the
    cluster field it came from (its path stays the child's: that is where the value ended up)."""
    if item.node is None or item.file is None:
        return result
    node = locate(item.node, source_path(child, result.path, item.obj))
    return result.replace(line=item.line + node.start_mark.line + 1, column=node.start_mark.column + 1)


def build(resolved: Resolved, state: Render) -> list[dict[str, Any]]:
    """The objects to write for one resolved cluster, and what building them found."""
    objects, results = select_output(resolved, state.options, state.secrets)
    state.results.extend(results)
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
                  secrets: dict[str, list[Item]]) -> tuple[list[dict[str, Any]], list[Result]]:
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
        mounting = [c for c in resolved.children if c.kind in ("MultiShard", "MultiCell")]
        results += check_secrets(mounting, secrets, secrets_written_by(workloads))
    return objects, results
