"""Generate krmfn/api/generated/child_types.py, the runtime classes of the child kinds, from
krmfn/api/children.py. `make generate` runs it (codegen/__main__.py writes every generated file).

The pydantic classes in children.py are the schema (the CRDs are generated from them). The
function must not import pydantic on its path (docs/performance.md), so resolve and the builders
use plain classes generated from those models: the same fields, names, aliases and order, typed
for mypy, built by keyword, with `dump()` (the child CR's JSON form) and `load()` (from that JSON
form, trusted: it is the function's own output). tests/test_child_types.py fails when the
committed file is stale and checks that every dump validates against the pydantic model.

Two decisions are made here, once:
- Kubernetes shapes the builders copy unchanged into workloads (OPAQUE: claim templates, resource
  requirements, pull secrets) and free-form fields stay JSON dicts: a builder never reads inside
  them, and their key order is the user's.
- A list field defaults to an empty list, never None, whether or not the schema requires it; a
  list the schema does not require is left out of `dump()` when empty, as pydantic's default
  leaves it out of the input.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from krmfn.api.errors import unwrap

ROOTS = ["TopoServer", "MultiCell", "MultiTableGroup", "MultiShard", "ResolvedImages"]
OPAQUE = {"VolumeClaimTemplate", "ResourceRequirements", "ImagePullSecret", "Placement"}


def _models_in(ann: Any) -> list[type[BaseModel]]:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    return [m for arg in typing.get_args(ann) for m in _models_in(arg)]


def collect() -> list[type[BaseModel]]:
    """The models reachable from the four kinds, dependencies first, opaque ones left out."""
    from krmfn.api import children

    out: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in out or model.__name__ in OPAQUE:
            return
        for field in model.model_fields.values():
            for sub in _models_in(field.annotation):
                visit(sub)
        out.append(model)

    for name in ROOTS:
        visit(getattr(children, name))
    return out


def type_text(ann: Any) -> str:
    """The annotation mypy reads for a field."""
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return type_text(typing.get_args(ann)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) != 1:
            raise SystemExit(f"codegen: union {ann}")
        return f"{type_text(args[0])} | None"
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(v) for v in typing.get_args(ann))}]"
    if origin is list:
        return f"list[{type_text(typing.get_args(ann)[0])}]"
    if origin is dict:
        return "dict[str, Any]"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "dict[str, Any]" if ann.__name__ in OPAQUE else ann.__name__
    if ann in (str, int, bool):
        return str(ann.__name__)
    if ann is Any:
        return "Any"
    raise SystemExit(f"codegen: type {ann!r}")


def _model_name(ann: Any) -> str | None:
    """The generated class a value of this annotation is (None: plain JSON data)."""
    ann = unwrap(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel) and ann.__name__ not in OPAQUE:
        return ann.__name__
    return None


def dump_expr(ann: Any, src: str) -> str:
    inner = unwrap(ann)
    if typing.get_origin(inner) is list:
        item = _model_name(typing.get_args(inner)[0])
        return f"[e.dump() for e in {src}]" if item else f"_copy({src})"
    if _model_name(ann):
        return f"{src}.dump()"
    if inner in (str, int, bool) or typing.get_origin(inner) is typing.Literal:
        return src
    return f"_copy({src})"


def load_expr(ann: Any, src: str) -> str:
    inner = unwrap(ann)
    if typing.get_origin(inner) is list:
        item = _model_name(typing.get_args(inner)[0])
        return f"[{item}.load(e) for e in {src}]" if item else f"list({src})"
    name = _model_name(ann)
    return f"{name}.load({src})" if name else src


def _is_list(ann: Any) -> bool:
    return typing.get_origin(unwrap(ann)) is list


def _required(field: Any) -> bool:
    return bool(field.default is PydanticUndefined and field.default_factory is None)


def _fixed(field: Any) -> Any:
    """The one value of a single-valued Literal (apiVersion, kind): the field's default here."""
    values = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else ()
    return values[0] if len(values) == 1 else None


def _param(name: str, field: Any) -> str:
    text = type_text(field.annotation)
    if _fixed(field) is not None:
        return f"{name}: {text} = {_fixed(field)!r}"
    if _is_list(field.annotation):
        return f"{name}: {text} | None = None"
    if _required(field):
        return f"{name}: {text}"
    if field.default is not None:
        if not isinstance(field.default, str | int | bool):
            raise SystemExit(f"codegen: default {field.default!r} of {name}")
        return f"{name}: {text} = {field.default!r}"
    return f"{name}: {text} = None" if text.endswith("| None") else f"{name}: {text} | None = None"


def _init(fields: dict[str, Any]) -> list[str]:
    params = ", ".join(_param(n, f) for n, f in fields.items())
    lines = [f"    def __init__(self, *, {params}) -> None:"]
    for n, f in fields.items():
        value = f"[] if {n} is None else {n}" if _is_list(f.annotation) else n
        lines.append(f"        self.{n} = {value}")
    return lines


def _load(name: str, fields: dict[str, Any]) -> list[str]:
    lines = ["    @classmethod", f"    def load(cls, data: dict[str, Any]) -> {name}:",
             '        """From the JSON form (the function\'s own output: not validated again)."""',
             "        return cls("]
    for n, f in fields.items():
        alias = f.alias or n
        if _required(f) and not _is_list(f.annotation):
            lines.append(f"            {n}={load_expr(f.annotation, f'data[{alias!r}]')},")
        elif f.default not in (None, PydanticUndefined) and not _is_list(f.annotation):
            lines.append(f"            {n}=data.get({alias!r}, {f.default!r}),")
        else:
            value = load_expr(f.annotation, "v")
            lines.append(f"            {n}=None if (v := data.get({alias!r})) is None else {value},")
    return lines + ["        )"]


def _dump(fields: dict[str, Any]) -> list[str]:
    lines = ["    def dump(self) -> dict[str, Any]:", '        """The JSON form: aliases, declaration order, '
             'no None, no empty optional list."""', "        out: dict[str, Any] = {}"]
    for n, f in fields.items():
        alias, expr = f.alias or n, dump_expr(f.annotation, f"self.{n}")
        if _required(f) or (f.default not in (None, PydanticUndefined) and not _is_list(f.annotation)):
            lines.append(f"        out[{alias!r}] = {expr}")
            continue
        test = f"self.{n}" if _is_list(f.annotation) else f"self.{n} is not None"
        lines += [f"        if {test}:", f"            out[{alias!r}] = {expr}"]
    return lines + ["        return out"]


def model(m: type[BaseModel]) -> list[str]:
    fields = m.model_fields
    doc = (m.__doc__ or "").strip().splitlines()
    lines = [f"class {m.__name__}:", f'    """{doc[0] if doc else m.__name__} (children.{m.__name__})"""', "",
             f"    __slots__ = {tuple(fields)!r}", ""]
    lines += [f"    {n}: {type_text(f.annotation)}" for n, f in fields.items()]
    lines += [""] + _init(fields) + [""] + _load(m.__name__, fields) + [""] + _dump(fields)
    return lines + [""]


HEADER = '''"""GENERATED by `make generate` (codegen/child_types.py) from krmfn/api/children.py: do not edit.

The child kinds as plain typed classes: what resolve returns and each builder reads (see codegen/child_types.py).
"""

# ruff: noqa: E501
from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any, Literal


def _copy(value: Any) -> Any:
    """A deep copy of JSON data: a dump never shares a dict or list with the object it came from."""
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value

'''


def render() -> str:
    models = collect()
    body = ["\n".join(model(m)) for m in models]
    names = ", ".join(repr(m.__name__) for m in models)
    return HEADER + "\n" + "\n\n".join(body) + f"\n\nGENERATED = ({names})\n"
