"""Building blocks shared by the user-editable kinds and the generated child kinds.

The pydantic models are the schema: the CRDs are generated from them (crds.py), so a field
exists in exactly one place.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from ..quantity import PATTERN, QuantityError, parse_quantity


def _check_quantity(value: Any) -> Any:
    """An integer or a quantity string, as the API server's int-or-string schema accepts."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a Kubernetes quantity; write an integer or a string such as "
                         "500m, 2, 1Gi or 250Gi")
    try:
        parsed = parse_quantity(value)
    except QuantityError as exc:
        raise ValueError(str(exc)) from None
    if parsed < 0:
        raise ValueError(f"{value!r} is negative; a resource quantity must be zero or more")
    return value


Quantity = Annotated[
    Any,
    BeforeValidator(_check_quantity),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": PATTERN,
                    "x-kubernetes-int-or-string": True}),
]

FreeForm = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]


class Model(BaseModel):
    """Strict base: unknown fields are errors, YAML names are the aliases."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, serialize_by_alias=True,
                              validate_by_alias=True, validate_by_name=False, defer_build=True,
                              strict=True)

    def dump(self) -> dict[str, Any]:
        """YAML-shaped dict: aliases, unset optional fields left out, declaration order."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ResourceRequirements(Model):
    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class StorageResources(Model):
    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]


class VolumeClaimTemplate(Model):
    """The spec of the PersistentVolumeClaim each pod gets (a subset of PersistentVolumeClaimSpec)."""

    access_modes: list[AccessMode] | None = None
    resources: StorageResources | None = None
    storage_class_name: str | None = None
    volume_mode: Literal["Filesystem", "Block"] | None = None


# ---- placement: where pods may run (docs/placement.md) ----

class Toleration(Model):
    """A Kubernetes toleration (core/v1 Toleration)."""

    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class TopologySpreadConstraint(Model):
    """A Kubernetes topology spread constraint; without labelSelector it spreads the pods of the
    component it is set on (the render fills in that component's selector)."""

    max_skew: Annotated[int, Field(ge=1, le=2147483647)]
    topology_key: Annotated[str, Field(min_length=1)]
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"]
    label_selector: FreeForm | None = None
    min_domains: Annotated[int, Field(ge=1, le=2147483647)] | None = None
    node_affinity_policy: Literal["Honor", "Ignore"] | None = None
    node_taints_policy: Literal["Honor", "Ignore"] | None = None
    match_label_keys: list[str] | None = None


class Affinity(Model):
    """A Kubernetes affinity; each part is the core/v1 shape, checked by the API server."""

    node_affinity: FreeForm | None = None
    pod_affinity: FreeForm | None = None
    pod_anti_affinity: FreeForm | None = None


class Placement(Model):
    """Where pods run, at cluster, cell, template-section and pool level; the levels combine
    (docs/placement.md). `antiAffinity` spreads the component's own replicas over nodes:
    `preferred` (the default) or `required`."""

    node_selector: dict[str, str] | None = None
    affinity: Affinity | None = None
    tolerations: list[Toleration] | None = None
    topology_spread_constraints: list[TopologySpreadConstraint] | None = None
    priority_class_name: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    anti_affinity: Literal["preferred", "required"] | None = None


class ComponentSpec(Model):
    """A stateless component: how many and how big."""

    replicas: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    resources: ResourceRequirements | None = None
    placement: Placement | None = None


class ContainerSpec(Model):
    resources: ResourceRequirements | None = None


_XOR_TEMPLATE_SPEC: JsonDict = {
    "rule": "!(has(self.templateName) && has(self.spec))",
    "message": "templateName and spec are mutually exclusive; put changes to a template in overrides",
}
_OVERRIDES_NEED_TEMPLATE: JsonDict = {
    "rule": "!has(self.overrides) || has(self.templateName)",
    "message": "overrides apply on top of a template; set templateName or use spec",
}


class ComponentRef(Model):
    """A component taken from a template section, with overrides, or given inline."""

    model_config = ConfigDict(json_schema_extra={
        "x-kubernetes-validations": [_XOR_TEMPLATE_SPEC, _OVERRIDES_NEED_TEMPLATE]})

    template_name: str | None = None
    overrides: FreeForm | None = None
    spec: ComponentSpec | None = None


class ImagePullSecret(Model):
    name: str


PullPolicy = Literal["Always", "IfNotPresent", "Never"]

