"""Placement levels: cluster < cell < component (template section < overrides, or inline).

Resolve hands each child the placement its pods get, already combined, so builders only copy it
(workloads/placement.py). The levels combine rather than replace, because each level answers a
different question (which nodes at all, which failure domain, how this component spreads); the
rules are in docs/placement.md:

- nodeSelector: union; the same key with two values is an error (no node can satisfy both);
- required node affinity: both levels must hold (each term of one AND each term of the other);
- preferred node affinity, pod affinity and pod anti-affinity terms, tolerations: concatenated;
- topology spread constraints: concatenated; a more specific one with the same topologyKey and
  whenUnsatisfiable replaces the less specific (the API server refuses duplicates);
- priorityClassName and antiAffinity: the most specific level that sets one wins.
"""

from __future__ import annotations

from .. import naming
from ..results import Result, error

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.cluster import CellSpec, MultigresCluster
    from .cluster import Resolved

ZONE_KEY = "topology.kubernetes.io/zone"
REGION_KEY = "topology.kubernetes.io/region"
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def cell_domain(spec: CellSpec | None) -> tuple[str, str] | None:
    """The (label key, value) a cell's pods are pinned to: its zone, region, or the zone/region
    key of its own nodeSelector; None when the cell names no failure domain."""
    if spec is None:
        return None
    if spec.zone:
        return ZONE_KEY, spec.zone
    if spec.region:
        return REGION_KEY, spec.region
    selector = (spec.placement.node_selector if spec.placement else None) or {}
    for key in (ZONE_KEY, REGION_KEY):
        if key in selector:
            return key, selector[key]
    return None


def _dump(placement: Any) -> dict[str, Any] | None:
    return placement.dump() if placement is not None else None


def cell_layer(spec: CellSpec | None, path: str) -> tuple[dict[str, Any] | None, list[Result]]:
    """A cell's own level: zone or region as a nodeSelector, combined with its `placement`."""
    if spec is None:
        return None, []
    domain = None
    if spec.zone:
        domain = ({"nodeSelector": {ZONE_KEY: spec.zone}}, f"{path}.zone")
    elif spec.region:
        domain = ({"nodeSelector": {REGION_KEY: spec.region}}, f"{path}.region")
    own = _dump(spec.placement)
    if domain is None:
        return own, []
    return combine(domain[0], own, f"{path}.placement", domain[1])


def _selectors(base: dict[str, str], top: dict[str, str], path: str,
               base_path: str) -> tuple[dict[str, str], list[Result]]:
    out, problems = dict(base), []
    for key, value in top.items():
        if key in out and out[key] != value:
            problems.append(error(f"nodeSelector {key}={value} contradicts {key}={out[key]} set at {base_path}; "
                                  "no node carries both values. Remove one, or make them equal.",
                                  f"{path}.nodeSelector"))
            continue
        out[key] = value
    return out, problems


def _and_terms(base: list[dict[str, Any]], top: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Required node selector terms of two levels, both holding: terms are ORed by Kubernetes, so
    (a1 or a2) and (b1 or b2) is every pair's expressions together."""
    if not base or not top:
        return [dict(t) for t in base or top]
    out = []
    for a in base:
        for b in top:
            term = {k: list(a.get(k) or []) + list(b.get(k) or []) for k in ("matchExpressions", "matchFields")}
            out.append({k: v for k, v in term.items() if v})
    return out


def _node_affinity(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = {**base, **top}
    terms = _and_terms((base.get(_REQUIRED) or {}).get("nodeSelectorTerms") or [],
                       (top.get(_REQUIRED) or {}).get("nodeSelectorTerms") or [])
    if terms:
        out[_REQUIRED] = {"nodeSelectorTerms": terms}
    preferred = list(base.get(_PREFERRED) or []) + list(top.get(_PREFERRED) or [])
    if preferred:
        out[_PREFERRED] = preferred
    return out


def _pod_affinity(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = {**base, **top}
    for key in (_REQUIRED, _PREFERRED):
        terms = list(base.get(key) or []) + list(top.get(key) or [])
        if terms:
            out[key] = terms
    return out


def _affinity(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = {**base, **top}
    if "nodeAffinity" in base and "nodeAffinity" in top:
        out["nodeAffinity"] = _node_affinity(base["nodeAffinity"], top["nodeAffinity"])
    for key in ("podAffinity", "podAntiAffinity"):
        if key in base and key in top:
            out[key] = _pod_affinity(base[key], top[key])
    return out


def _spread(base: list[dict[str, Any]], top: list[dict[str, Any]]) -> list[dict[str, Any]]:
    replaced = {(c["topologyKey"], c["whenUnsatisfiable"]) for c in top}
    return [c for c in base if (c["topologyKey"], c["whenUnsatisfiable"]) not in replaced] + list(top)


def combine(base: dict[str, Any] | None, top: dict[str, Any] | None, path: str,
            base_path: str) -> tuple[dict[str, Any] | None, list[Result]]:
    """`top` (the more specific level, at `path`) on `base` (at `base_path`), per the module's rules."""
    if not top:
        return (dict(base) if base else None), []
    if not base:
        return dict(top), []
    out = {**base, **top}
    problems: list[Result] = []
    if "nodeSelector" in base and "nodeSelector" in top:
        out["nodeSelector"], problems = _selectors(base["nodeSelector"], top["nodeSelector"], path, base_path)
    if "affinity" in base and "affinity" in top:
        out["affinity"] = _affinity(base["affinity"], top["affinity"])
    if "tolerations" in base and "tolerations" in top:
        out["tolerations"] = list(base["tolerations"]) + [t for t in top["tolerations"] if t not in base["tolerations"]]
    if "topologySpreadConstraints" in base and "topologySpreadConstraints" in top:
        out["topologySpreadConstraints"] = _spread(base["topologySpreadConstraints"], top["topologySpreadConstraints"])
    order = ("nodeSelector", "affinity", "tolerations", "topologySpreadConstraints", "priorityClassName",
             "antiAffinity")
    return {k: out[k] for k in order if k in out}, problems


def domain_spread(cells: list[CellSpec | None]) -> dict[str, Any] | None:
    """The global etcd's level: its members only in the cells' zones (or regions), at most one
    more in any of them than in another (maxSkew 1, DoNotSchedule), so losing one zone loses at
    most ceil(replicas / zones) members."""
    domains = [d for d in (cell_domain(c) for c in cells) if d is not None]
    key = ZONE_KEY if any(k == ZONE_KEY for k, _ in domains) else REGION_KEY
    values = sorted({v for k, v in domains if k == key})
    if not values:
        return None
    return {"affinity": {"nodeAffinity": {_REQUIRED: {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": key, "operator": "In", "values": values}]}]}}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule"}]}


class Levels:
    """The cluster's level and each cell's (cluster and cell combined), computed once per render,
    and every conflict found while combining (each reported once, however many pods it affects)."""

    __slots__ = ("cluster", "cells", "results")

    def __init__(self, cluster: MultigresCluster | None = None) -> None:  # a plain class: start-up cost
        self.cluster = _dump(cluster.spec.placement) if cluster is not None else None
        self.cells: dict[str, dict[str, Any] | None] = {}
        self.results: list[Result] = []
        templates = ((cluster.spec.cells.templates if cluster.spec.cells else None) or []) if cluster else []
        for i, cell in enumerate(templates):
            path = f"spec.cells.templates[{i}].spec"
            own, problems = cell_layer(cell.spec, path)
            self._record(problems)
            self.cells.setdefault(cell.name, self._combine(self.cluster, own, f"{path}.placement", "spec.placement"))

    def _record(self, problems: list[Result]) -> None:
        self.results += [p for p in problems if p not in self.results]

    def _combine(self, base: dict[str, Any] | None, top: dict[str, Any] | None, path: str,
                 base_path: str) -> dict[str, Any] | None:
        placed, problems = combine(base, top, path, base_path)
        self._record(problems)
        return placed

    def for_cell(self, cell: str, component: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
        """A pod group of `cell`: cluster and cell levels, then the component's (at `path`)."""
        return self._combine(self.cells.get(cell, self.cluster), component, path, f"cell {cell!r}")

    def for_cluster(self, component: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
        """A pod group of no cell (multiadmin, the global etcd): the cluster level, then its own."""
        return self._combine(self.cluster, component, path, "spec.placement")


def place_cluster_level(cluster: MultigresCluster, out: Resolved) -> None:
    """Placement of what resolve made before the cells' levels were needed: the etcd clusters
    (global: spread over the cells' failure domains; a cell's own: that cell's) and multiadmin."""
    levels = out.placement
    cells = (cluster.spec.cells.templates if cluster.spec.cells else None) or []
    for child in out.children:
        if child.kind != "TopoServer":
            continue
        cell = naming.identity_of(child.metadata).get("cell")
        if cell is None:
            child.spec.placement = levels.for_cluster(domain_spread([c.spec for c in cells]), "spec.globalTopoServer")
        else:
            child.spec.placement = levels.for_cell(cell, None, "spec.cells")
    if out.multiadmin is not None:
        out.multiadmin.placement = levels.for_cluster(out.multiadmin.placement, "spec.multiadmin.placement")
