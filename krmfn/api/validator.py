"""Validation without importing pydantic when the input is valid.

Importing pydantic and building the model validators was most of a small render's run time, and
kpt and Argo CD start the function on every sync. `validate(name, data)` first runs the validator
generated from the models (generated/validators.py, written by codegen/validators.py, `make
generate`): for valid input it returns a plain object with the model's attribute names and
`dump()`/`model_dump()`, the same values pydantic would give. When that validator is unsure (any
problem, or anything it does not model, such as a float that is not finite), pydantic validates
as before: its instance is returned when it accepts, and `Invalid` (carrying today's
all-errors-at-once results) is raised when it does not, so results for invalid input are exactly
what they were.
"""

from __future__ import annotations

from collections.abc import Callable

from ..results import Result

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any, Literal, overload

    from pydantic import BaseModel, ValidationError

    from .children import ResolvedPool
    from .cluster import CellSpec, CellTopoServer, MultigresCluster
    from .common import ComponentSpec
    from .config import RenderMultigres, RenderOptions
    from .template import MultigresDeploymentTemplate, PoolSpec


class Invalid(Exception):
    """Pydantic rejected the input; `results()` are the results the model's errors give."""

    def __init__(self, model: type[BaseModel], error: ValidationError) -> None:
        super().__init__(str(error))
        self.model = model
        self.error = error

    def results(self, prefix: tuple[str | int, ...] = ()) -> list[Result]:
        from .errors import validation_results

        return validation_results(self.model, self.error, prefix)


def pydantic_model(name: str) -> type[BaseModel]:
    from pydantic import BaseModel

    from . import children, cluster, common, config, template

    for module in (cluster, template, common, children, config):
        found = getattr(module, name, None)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    raise KeyError(name)


if TYPE_CHECKING:
    # The generated objects have the models' attribute names and values (tests/test_validator.py
    # compares them field by field), so mypy checks every use against the pydantic model's type,
    # which is also what pydantic returns when the generated validator defers to it.
    @overload
    def validate(name: Literal["MultigresCluster"], data: object) -> MultigresCluster: ...
    @overload
    def validate(name: Literal["MultigresDeploymentTemplate"], data: object) -> MultigresDeploymentTemplate: ...
    @overload
    def validate(name: Literal["ComponentSpec"], data: object) -> ComponentSpec: ...
    @overload
    def validate(name: Literal["PoolSpec"], data: object) -> PoolSpec: ...
    @overload
    def validate(name: Literal["ResolvedPool"], data: object) -> ResolvedPool: ...
    @overload
    def validate(name: Literal["RenderOptions"], data: object) -> RenderOptions: ...
    @overload
    def validate(name: Literal["RenderMultigres"], data: object) -> RenderMultigres: ...


def validate(name: str, data: object) -> Any:
    """The model `name` of data: a generated object, or pydantic's; raises Invalid."""
    from .generated.validators import VALIDATORS

    validator: Callable[[object], Any] = VALIDATORS[name]
    obj = validator(data)
    if obj is not None:
        return obj
    from pydantic import ValidationError

    model = pydantic_model(name)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(model, exc) from None


def cell_topo(cell: CellSpec | None) -> CellTopoServer | None:
    """The cell's topo block under either spelling (api.cluster.cell_topo, without importing pydantic)."""
    if cell is None:
        return None
    return cell.topo_server or cell.toposerver


def alias(model: str, field: str) -> str:
    """The YAML name of a model's field."""
    from .generated.validators import ALIASES

    return ALIASES[model][field]
