"""A resolved placement (resolve/placement.py) as pod-spec fields, plus the component's own spread.

Every Deployment and StatefulSet pod spreads its replicas over nodes: preferred by default (pods
still start on a one-node cluster), required when the placement asks (`antiAffinity: required`,
then a replica that finds no node of its own stays Pending). A topology spread constraint written
without a labelSelector spreads the component's own pods: Kubernetes would count no pod at all
(and warns); a pod of no component (the registration Job) leaves such a constraint out.
"""

from __future__ import annotations

from ..merge import clone

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

HOSTNAME_KEY = "kubernetes.io/hostname"
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def own_anti_affinity(selector: dict[str, str], mode: str) -> dict[str, Any]:
    """podAntiAffinity keeping replicas of `selector` on different nodes."""
    term = {"labelSelector": {"matchLabels": dict(selector)}, "topologyKey": HOSTNAME_KEY}
    if mode == "required":
        return {_REQUIRED: [term]}
    return {_PREFERRED: [{"weight": 100, "podAffinityTerm": term}]}


def _affinity(placement: dict[str, Any], selector: dict[str, str] | None) -> dict[str, Any]:
    affinity = clone(placement.get("affinity") or {})
    if selector:
        own = own_anti_affinity(selector, placement.get("antiAffinity") or "preferred")
        user = affinity.get("podAntiAffinity") or {}
        merged = {**user}
        for key, terms in own.items():
            merged[key] = terms + list(user.get(key) or [])
        affinity["podAntiAffinity"] = merged
    order = ("nodeAffinity", "podAffinity", "podAntiAffinity")
    return {k: affinity[k] for k in order if k in affinity}


def pod_fields(placement: dict[str, Any] | None, selector: dict[str, str] | None) -> dict[str, Any]:
    """nodeSelector, affinity, tolerations, topologySpreadConstraints and priorityClassName, in
    that order, for a pod of the component whose pods `selector` matches."""
    placement = placement or {}
    out: dict[str, Any] = {}
    if placement.get("nodeSelector"):
        out["nodeSelector"] = dict(placement["nodeSelector"])
    affinity = _affinity(placement, selector)
    if affinity:
        out["affinity"] = affinity
    if placement.get("tolerations"):
        out["tolerations"] = clone(placement["tolerations"])
    spread = []
    for constraint in clone(placement.get("topologySpreadConstraints") or []):
        if "labelSelector" not in constraint:
            if not selector:
                continue  # a pod of no component (the registration Job): nothing of its own to spread
            constraint["labelSelector"] = {"matchLabels": dict(selector)}
        spread.append(constraint)
    if spread:
        out["topologySpreadConstraints"] = spread
    if placement.get("priorityClassName"):
        out["priorityClassName"] = placement["priorityClassName"]
    return out
