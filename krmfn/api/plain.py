"""What the generated validators (api/generated/validators.py) build on: the base class of a
validated object and the value checks their code calls.

Kept apart from api/validator.py, which imports the generated module: the generated code imports
only this module, so there is no import loop between hand-written and generated code.
"""

from __future__ import annotations

import math

from ..naming import is_qualified_name as is_qualified_name  # for the generated validators (a pattern's test)
from ..quantity import parse_quantity

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


MISSING: Any = object()


class Base:
    """A validated object: the model's attributes, and its JSON-mode dump by alias without None."""

    __slots__ = ()

    def dump(self, include: Any = None) -> dict[str, Any]:  # pragma: no cover - generated per model
        raise NotImplementedError

    def model_dump(self, *, by_alias: bool = True, exclude_none: bool = True, mode: str = "json",
                   include: Any = None) -> dict[str, Any]:
        if not (by_alias and exclude_none and mode == "json"):
            raise NotImplementedError("only the JSON-mode dump by alias without None is generated")
        return self.dump(include)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dump()!r})"


def plain(value: Any) -> bool:
    """JSON-shaped data whose JSON-mode dump is a copy of itself (what YAML input gives)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        return all(type(k) is str and plain(v) for k, v in value.items())
    if kind is list:
        return all(plain(v) for v in value)
    if kind is float:
        return math.isfinite(value)
    return False


def copy_plain(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: copy_plain(v) for k, v in value.items()}
    if kind is list:
        return [copy_plain(v) for v in value]
    return value


def quantity(value: Any) -> bool:
    """What the models' quantity validator (api/common.py _check_quantity) accepts."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return False
    try:
        return parse_quantity(value) >= 0
    except ValueError:  # QuantityError, or int() of an exponent such as `1e1.5`: pydantic reports both
        return False
