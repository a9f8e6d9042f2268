"""The function: classify items → resolve → build → reconcile with previous output.

Everything here is deterministic: generated objects are ordered by cluster (namespace, name)
and then by the fixed order of each stage, never by input order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import naming
from .api.fast import Invalid, validate
from .api.names import CONFIG_KIND
from .checks import CHILD_CHECKS, CLUSTER_CHECKS, check_unused_templates
from .resolve.cluster import Resolved, resolve_cluster
from .resolve.templates import TemplateIndex
from .resourcelist import INDEX, LEGACY_INDEX, LEGACY_PATH, PATH, Item, ResourceList
from .results import ResourceRef, Result, error, info, sort_results, with_ref

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
        data = fc.get("data") or {}
        raw: dict[str, Any] = {}
        for key, value in data.items():
            raw[key] = str(value).lower() == "true" if key == "includeCrds" else value
        try:
            return validate("RenderOptions", raw), []
        except Invalid as exc:
            return validate("RenderOptions", {}), with_ref(exc.results(("data",)), ref)
    if kind == CONFIG_KIND:
        try:
            cfg = validate("RenderMultigres", fc)
        except Invalid as exc:
            return validate("RenderOptions", {}), with_ref(exc.results(), ref)
        return cfg.spec or validate("RenderOptions", {}), []
    problem = error(f"functionConfig of kind {kind!r} is not understood; use a ConfigMap or a "
                    f"{CONFIG_KIND} (apiVersion fn.multigres.com/v1alpha1).", "", ref)
    return validate("RenderOptions", {}), [problem]


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
        index.specs[item.name] = item.obj.get("spec") or {}
    return by_ns


def _generated_path(cluster: Item, obj: dict[str, Any]) -> str:
    base = os.path.dirname(cluster.path or "")
    name = f"{obj['kind'].lower()}_{obj['metadata']['name']}.yaml"
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
    seen: dict[tuple, dict[str, Any]] = {}
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


def run(rl: ResourceList, options: Any = None) -> Output:
    """Run the whole function on a parsed ResourceList."""
    results: list[Result] = list(rl.problems)
    if options is None:
        options, problems = parse_options(rl.function_config)
        results += problems
    clusters = [i for i in rl.items if _is(i, CLUSTER_KIND)]
    templates = [i for i in rl.items if _is(i, TEMPLATE_KIND)]
    previous = {(i.kind, i.namespace, i.name): i for i in rl.items if naming.GENERATED_FROM in i.annotations}
    passthrough = [i for i in rl.items if naming.GENERATED_FROM not in i.annotations]

    indexes = _template_index(templates, results)
    generated: list[Item] = []
    resolved_all: list[Resolved] = []
    seen_clusters: set[tuple] = set()
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
        cluster_problems = [r for check in CLUSTER_CHECKS for r in check(cluster)]
        results.extend(with_ref(cluster_problems, ref))
        index = indexes.setdefault(cluster_item.namespace, TemplateIndex({}))
        resolved = resolve_cluster(cluster, index)
        results.extend(with_ref(resolved.results, ref))
        for child in resolved.children:
            results.extend(with_ref([r for check in CHILD_CHECKS for r in check(child)], ResourceRef.of(child)))
        resolved_all.append(resolved)
        if any(r.severity == "error" for r in cluster_problems + resolved.results):
            continue
        objects, build_results = _emit(resolved, options, rl)
        results.extend(build_results)
        results.extend(check_collisions(objects))
        for obj in objects:
            _annotate(obj, _generated_path(cluster_item, obj))
            generated.append(Item(obj, generated=True))

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
    for key, item in sorted(previous.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        if key not in wanted:
            results.append(info(f"{key[0]} {key[2]!r} is no longer generated and was removed.", "",
                                ResourceRef.of(item.obj)))
    return Output(passthrough + generated, sort_results(results), resolved_all)


def _emit(resolved: Resolved, options: Any,
          rl: ResourceList) -> tuple[list[dict[str, Any]], list[Result]]:
    """Child CRs and/or workloads, as the options ask, and what the build stage reports."""
    objects: list[dict[str, Any]] = []
    results: list[Result] = []
    if options.emit in ("all", "children"):
        objects += resolved.children
    if options.emit in ("all", "workloads"):
        from .build import build_all

        workloads, results = build_all(resolved, options, rl)
        objects += workloads
    return objects, results
