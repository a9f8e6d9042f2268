"""Pydantic validation errors → results with YAML field paths and "did you mean" hints."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from .. import limits
from ..results import Result, error


def field_path(loc: tuple[Any, ...]) -> str:
    """('spec', 'cells', 'templates', 1, 'name') → spec.cells.templates[1].name"""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def unwrap(annotation: Any) -> Any:
    """The type inside Annotated and Optional (`X | None`) wrappers; other unions as they are."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the last element of loc."""
    current: Any = root
    for part in loc[:-1]:
        current = unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(part, int) and origin is list:
            current = typing.get_args(current)[0]
            continue
        if origin is dict:
            current = typing.get_args(current)[1]
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next((f for name, f in current.model_fields.items() if (f.alias or name) == part), None)
        if field is None:
            return None
        current = field.annotation
    current = unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def known_fields(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


_TYPES = {"int_type": "a whole number", "int_parsing": "a whole number", "bool_type": "true or false",
          "string_type": "a string", "dict_type": "a mapping (key: value)", "list_type": "a list",
          "model_type": "a mapping (key: value)"}


def _shown(value: Any) -> str:
    """A value as a message quotes it: at most 60 characters (an input may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:45] + "..." + text[-12:]


def _message(root: type[BaseModel], err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(root, loc)
        name = str(loc[-1])
        allowed = known_fields(owner) if owner else []
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        if not close:
            close = [a for a in allowed if a.lower() == name.lower()]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = f" Known fields here: {', '.join(allowed)}." if allowed else ""
        return f"unknown field {name!r}.{hint}{listing}"
    if kind == "missing":
        return "required field is missing; add it."
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"value {_shown(err.get('input'))} is not allowed; use one of {expected}."
    if kind in ("greater_than_equal", "greater_than"):
        bound = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("gt"))
        return f"value {_shown(err.get('input'))} is too small; it must be at least {bound}."
    if kind in ("less_than_equal", "less_than"):
        bound = err.get("ctx", {}).get("le", err.get("ctx", {}).get("lt"))
        return f"value {_shown(err.get('input'))} is too large; it must be at most {bound}."
    if kind in _TYPES:
        return f"expected {_TYPES[kind]}, got {_shown(err.get('input'))}; fix the value's type."
    if kind == "value_error":
        return f"{err['msg'].removeprefix('Value error, ')}."
    return f"{err['msg']} (got {_shown(err.get('input'))})."


# pydantic's union-member tags in a loc ("int", "str", "function-after[...]"), not field names: a
# field that merely starts with those letters (internalTLS, strategy) stays in the path.
_UNION_TAG = re.compile(r"^(int|str|function-after)($|[^A-Za-z])")


def validation_results(root: type[BaseModel], exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[Result]:
    results = []
    for i, details in enumerate(exc.errors(include_url=False)):
        loc = tuple(p for p in details["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p)))
        if i >= limits.MAX_RESULTS:  # past the results shown (function.bounded_results): counted only
            results.append(error(f"{details['msg']}.", field_path(prefix + loc)))
            continue
        err: dict[str, Any] = dict(details, loc=loc)
        results.append(error(_message(root, err), field_path(prefix + loc)))
    return results
