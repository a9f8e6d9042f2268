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


class ComponentSpec(Model):
    """A stateless component: how many and how big."""

    replicas: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    resources: ResourceRequirements | None = None


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
