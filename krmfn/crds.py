"""CustomResourceDefinitions generated from the pydantic models (never a second hand-kept schema).

Pydantic's JSON schema uses `$ref`, `anyOf` with null for optional fields, titles and
`additionalProperties: false`; a CRD needs a structural schema: inlined, every node typed,
no `additionalProperties: false`. `openapi_schema` does that conversion; cross-field rules live
on the models as `x-kubernetes-validations` and pass through unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from . import naming, yamlio

_DROP = {"title", "default", "description", "examples"}


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """pydantic's JSON schema as a structural CRD schema: references inlined, Optional unwrapped."""
    if isinstance(node, list):
        return [_resolve(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    inlined = _inline(node, defs)
    if inlined is not None:
        return _resolve(inlined, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(_resolve_key(key, value, defs))
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def _inline(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """A `$ref` replaced by its definition, or an Optional's `anyOf` by its one non-null option."""
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **extra}
    if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            return {**options[0], **rest}
    return None


def _resolve_key(key: str, value: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """One schema keyword as a CRD schema keeps it: dropped, renamed (`const`) or resolved."""
    if key in _DROP or key == "$defs" or (key == "additionalProperties" and value is False):
        return {}
    if key == "const":
        return {"enum": [value]}
    if key == "properties":
        return {key: {k: _resolve(v, defs) for k, v in value.items()}}
    return {key: _resolve(value, defs)}


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A structural OpenAPI v3 schema for a model, as CRDs and function.yaml need it."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = _resolve(raw, raw.get("$defs", {}))
    return schema


def _version_schema(model: type[BaseModel], status: type[BaseModel]) -> dict[str, Any]:
    """The kind's schema with the typed status of api/status.py (a cluster's input model accepts
    any status, since a live object may be fed back; the CRD stores only the typed one)."""
    schema = openapi_schema(model)
    props = schema["properties"]
    props["metadata"] = {"type": "object"}
    props["status"] = openapi_schema(status)
    schema["required"] = [r for r in schema.get("required", []) if r not in ("apiVersion", "kind", "metadata")]
    for key in ("apiVersion", "kind"):
        props[key] = {"type": "string"}
    return schema


def _plural(kind: str) -> str:
    return kind.lower() + "s"


def _crd(kind: str, model: type[BaseModel], short: list[str], columns: list[dict[str, Any]]) -> dict[str, Any]:
    from .api.status import STATUS_MODELS

    plural = _plural(kind)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{naming.GROUP}",
            "labels": {"app.kubernetes.io/part-of": "multigres",
                       "app.kubernetes.io/managed-by": naming.MANAGED_BY},
        },
        "spec": {
            "group": naming.GROUP,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                      "shortNames": short, "categories": ["multigres"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": _version_schema(model, STATUS_MODELS[kind])},
            }],
        },
    }


def _age() -> dict[str, Any]:
    return {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _condition(kind: str, priority: int = 0) -> dict[str, Any]:
    """A column of one condition's status (Available, Progressing) from the status reporter."""
    column: dict[str, Any] = {"name": kind, "type": "string",
                              "jsonPath": f'.status.conditions[?(@.type=="{kind}")].status'}
    return {**column, "priority": priority} if priority else column


def _message() -> dict[str, Any]:
    """The Available condition's message: shown with `-o wide` only, it can be long."""
    return {"name": "Message", "type": "string", "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="Available")].message'}


def _int(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "type": "integer", "jsonPath": path}


def _str(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "type": "string", "jsonPath": path}


def crd_objects() -> list[dict[str, Any]]:
    """The six CRDs, user-editable kinds first."""
    from .api.children import MultiCell, MultiShard, MultiTableGroup, TopoServer
    from .api.cluster import MultigresCluster
    from .api.template import MultigresDeploymentTemplate

    return [
        _crd("MultigresCluster", MultigresCluster, ["mgc"], [
            _condition("Available"), _condition("Progressing"), _message(), _age()]),
        _crd("MultigresDeploymentTemplate", MultigresDeploymentTemplate, ["mgdt"], [_age()]),
        _crd("TopoServer", TopoServer, ["mgtopo"], [
            _int("Replicas", ".spec.replicas"), _int("Ready", ".status.readyReplicas"),
            _condition("Available"), _message(), _age()]),
        _crd("MultiCell", MultiCell, ["mgcell"], [
            _str("Cell", ".spec.name"), _int("Gateways", ".status.gatewayReplicas"),
            _int("Ready", ".status.gatewayReadyReplicas"), _condition("Available"), _message(), _age()]),
        _crd("MultiTableGroup", MultiTableGroup, ["mgtg"], [
            _str("Database", ".spec.databaseName"), _str("TableGroup", ".spec.tableGroupName"),
            _int("Shards", ".spec.partitioning.shards"), _int("Ready", ".status.readyShards"),
            _str("Multiorch", ".status.multiorchAvailable"), _condition("Available"), _message(), _age()]),
        _crd("MultiShard", MultiShard, ["mgshard"], [
            _str("Database", ".spec.databaseName"), _str("TableGroup", ".spec.tableGroupName"),
            _str("Shard", ".spec.shardName"), _str("Primary", ".status.primaryCell"),
            _int("Pods", ".status.totalPods"), _int("Ready", ".status.readyPods"),
            _str("Writes", ".status.servingWrites"), _condition("Available"), _message(), _age()]),
    ]


def crds_yaml() -> str:
    return "".join("---\n" + yamlio.dump(obj) for obj in crd_objects())
