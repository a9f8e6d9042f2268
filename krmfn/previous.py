"""Previous-render safety: compare the earlier output with the new one before anyone applies it.

The previous output arrives as input under kpt (recognised by reconcile.is_previous_output) and
from `render --previous DIR`. Each check is a small pure function of (old, new) objects:

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


- changes Kubernetes refuses (StatefulSet volumeClaimTemplates, selector, serviceName,
  podManagementPolicy; a Job's template) are errors that say the way out;
- a storage shrink is an error; storage growth is an error with the expand-then-orphan recipe;
- a removed StatefulSet (shard, pool, cell, topo server) is a warning naming the PVCs left behind;
- an etcd member-count change is a warning;
- every other changed object is an info result carrying its RFC 6902 patch.
"""

from __future__ import annotations

import json

from .quantity import QuantityError, parse_quantity
from .resourcelist import strip_internal
from .results import ResourceRef, Result, error, info, warning

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


STS_IMMUTABLE = ("selector", "serviceName", "podManagementPolicy")


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = json.loads(json.dumps(strip_internal(obj), default=str))
    return clean


def _pointer_to_path(pointer: str) -> str:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isascii() and part.isdigit() else ("." if out else "") + part
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _storage(claim: dict[str, Any]) -> Any:
    value = _dict(_dict(_dict(claim.get("spec")).get("resources")).get("requests")).get("storage")
    try:
        return parse_quantity(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    except QuantityError:
        return None


def _claims(sts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    claims = _dict(sts.get("spec")).get("volumeClaimTemplates")
    return {str(_dict(c.get("metadata")).get("name", "")): c for c in claims if isinstance(c, dict)} \
        if isinstance(claims, list) else {}


def check_statefulset(old: dict[str, Any], new: dict[str, Any]) -> list[Result]:
    ref, name = ResourceRef.of(new), new["metadata"]["name"]
    ns = f" -n {new['metadata']['namespace']}" if new["metadata"].get("namespace") else ""
    recreate = (f"delete it without its pods (`kubectl{ns} delete statefulset {name} --cascade=orphan`) and "
                "apply again, so the new StatefulSet adopts the running pods")
    out: list[Result] = []
    old_spec, new_spec = _dict(old.get("spec")), _dict(new.get("spec"))
    for field in STS_IMMUTABLE:
        if old_spec.get(field) != new_spec.get(field):
            out.append(error(f"StatefulSet {name!r}: spec.{field} changes, and Kubernetes refuses to change it "
                             f"on a StatefulSet; {recreate}.", f"spec.{field}", ref))
    old_claims, new_claims = _claims(old), _claims(new)
    for claim_name, claim in new_claims.items():
        before = old_claims.get(claim_name)
        if before is None or before == claim:
            continue
        path = f"spec.volumeClaimTemplates[{list(new_claims).index(claim_name)}]"
        old_size, new_size = _storage(before), _storage(claim)
        pvcs = ", ".join(_pvc_names(old, claim_name)) or f"{claim_name}-{name}-<ordinal>"
        if old_size is not None and new_size is not None and new_size < old_size:
            out.append(error(f"StatefulSet {name!r}: volume {claim_name!r} shrinks; Kubernetes cannot shrink a "
                             "PersistentVolumeClaim. Keep the size (or move the data to new volumes).",
                             f"{path}.spec.resources.requests.storage", ref))
        elif old_size is not None and new_size is not None and new_size > old_size:
            out.append(error(f"StatefulSet {name!r}: volume {claim_name!r} grows, and volumeClaimTemplates are "
                             f"immutable. First expand the PVCs ({pvcs}) with `kubectl patch pvc` (their "
                             "StorageClass needs allowVolumeExpansion), then " + recreate + ".",
                             f"{path}.spec.resources.requests.storage", ref))
        else:
            out.append(error(f"StatefulSet {name!r}: volume {claim_name!r} changes, and volumeClaimTemplates are "
                             f"immutable; {recreate} (existing PVCs keep their old settings).", path, ref))
    if set(old_claims) != set(new_claims):
        out.append(error(f"StatefulSet {name!r}: its volumeClaimTemplates change (added or removed); "
                         f"{recreate}.", "spec.volumeClaimTemplates", ref))
    labels = (new.get("metadata") or {}).get("labels") or {}
    if labels.get("app.kubernetes.io/component") == "etcd" and old_spec.get("replicas") != new_spec.get("replicas"):
        out.append(warning(f"etcd StatefulSet {name!r} goes from {old_spec.get('replicas')} to "
                           f"{new_spec.get('replicas')} members; a running etcd does not add or remove members "
                           "by itself (`etcdctl member add/remove` first, one at a time).", "spec.replicas", ref))
    return out


def check_job(old: dict[str, Any], new: dict[str, Any]) -> list[Result]:
    if _dict(old.get("spec")).get("template") == _dict(new.get("spec")).get("template"):
        return []
    name = new["metadata"]["name"]
    ns = f" -n {new['metadata']['namespace']}" if new["metadata"].get("namespace") else ""
    return [error(f"Job {name!r}: spec.template changes, and a Job's template is immutable; delete the Job "
                  f"(`kubectl{ns} delete job {name}`) before applying.", "spec.template", ResourceRef.of(new))]


CHECKS = {"StatefulSet": check_statefulset, "Job": check_job}


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Result]:
    """One object in both renders: what Kubernetes refuses, or else the patch, as results."""
    # Imported here: only `render --previous` compares, and jsonpatch (with difflib and copy)
    # would add to every start-up.
    import jsonpatch

    before, after = _clean(old), _clean(new)
    patch = jsonpatch.make_patch(before, after).patch
    if not patch:
        return []
    refused = CHECKS.get(new.get("kind", ""), lambda a, b: [])(before, after)
    if any(r.severity == "error" for r in refused):
        return refused
    first = _pointer_to_path(patch[0]["path"])
    return refused + [info(f"{new['kind']} {new['metadata']['name']!r} changes: {json.dumps(patch, sort_keys=True)}",
                           first, ResourceRef.of(new))]


def _pvc_names(sts: dict[str, Any], claim: str) -> list[str]:
    replicas = _dict(sts.get("spec")).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= 1000:
        return []
    return [f"{claim}-{sts['metadata']['name']}-{i}" for i in range(replicas)]


def removed(old: dict[str, Any]) -> list[Result]:
    """A generated object that the new render no longer has: what stays behind in the cluster."""
    if old.get("kind") != "StatefulSet":
        return []
    names = [n for claim in _claims(old) for n in _pvc_names(old, claim)]
    kept = f" ({', '.join(names)})" if names else ""
    return [warning(f"StatefulSet {old['metadata']['name']!r} is removed (a shard, pool, cell or topo server went "
                    f"away); its PersistentVolumeClaims{kept} are retained and keep their data. Delete them once "
                    "the data is no longer needed.", "metadata.name", ResourceRef.of(old))]
