"""Generate krmfn/api/generated/validators.py, the pydantic-free validator of valid input, from the models.

`make generate` runs it (codegen/__main__.py writes every generated file at once).

The pydantic models stay the source of truth; this reads their fields (aliases, types, defaults,
constraints) and writes, for each model, a plain class with the same attribute names and a
function that returns an instance when the input is certainly valid, or None. None means "ask
pydantic" (krmfn/api/validator.py), which then produces today's all-errors-at-once results, so the generated
checks only have to be conservative: they may send valid input to pydantic, never the reverse.
tests/test_validator.py fails when the committed file is stale and compares both on many inputs.

Only the constructs the models use are understood (str, int, bool, Literal of strings, Optional,
list, dict with str keys, Any, nested models, min/max length, ge/gt, the quantity validator);
anything else stops generation with an error instead of producing a validator that guesses.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel, BeforeValidator, WithJsonSchema
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from krmfn.naming import QUALIFIED_NAME

ROOTS = ["MultigresCluster", "MultigresDeploymentTemplate", "ComponentSpec", "PoolSpec", "ResolvedPool",
         "RenderOptions", "RenderMultigres"]


def _root_models() -> list[type[BaseModel]]:
    from krmfn.api import children, cluster, common, config, template

    found = []
    for name in ROOTS:
        for module in (cluster, template, common, children, config):
            if hasattr(module, name):
                found.append(getattr(module, name))
                break
        else:
            raise SystemExit(f"model {name} not found")
    return found


class Unsupported(Exception):
    pass


# Scalar unions (a postgresConfig value) are checked by exact type, as strict pydantic does.
_SCALARS = {str, int, float, bool}


class _Gen:
    def __init__(self) -> None:
        self.models: list[type[BaseModel]] = []
        self.unsupported: dict[str, str] = {}
        self.counter = 0

    def collect(self, model: type[BaseModel]) -> None:
        if model in self.models:
            return
        decorators = model.__pydantic_decorators__
        if any([decorators.validators, decorators.field_validators, decorators.root_validators,
                decorators.field_serializers, decorators.model_serializers, decorators.model_validators,
                decorators.computed_fields]):
            self.unsupported[model.__name__] = "validators or serializers"
        cfg = model.model_config
        if cfg.get("extra") != "forbid" or not cfg.get("strict") or cfg.get("validate_by_name"):
            self.unsupported[model.__name__] = "not strict, extra=forbid, aliases only"
        for field in model.model_fields.values():
            for sub in self._models_in(field.annotation):
                self.collect(sub)
        self.models.append(model)

    def _models_in(self, ann: Any) -> list[type[BaseModel]]:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return [ann]
        return [m for arg in typing.get_args(ann) for m in self._models_in(arg)]

    def var(self) -> str:
        self.counter += 1
        return f"v{self.counter}"

    # -- checks ---------------------------------------------------------------------------------

    # One case per annotation form the models use, in the order the generated code must test them;
    # the generator runs at `make generate` time only, and the cases read best side by side.
    def check(self, ann: Any, constraints: list[Any], src: str, dst: str, pad: str) -> list[str]:  # noqa: C901
        """Lines that validate `src` against `ann` and assign the validated value to `dst`."""
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            inner, *meta = typing.get_args(ann)
            extra: list[Any] = []
            before = None
            for m in meta:
                if isinstance(m, FieldInfo):
                    extra += m.metadata
                elif isinstance(m, BeforeValidator):
                    before = m.func
                elif isinstance(m, WithJsonSchema):
                    continue
                else:
                    extra.append(m)
            if before is not None:
                if before.__name__ != "_check_quantity" or inner is not Any or extra:
                    raise Unsupported(f"before-validator {before.__name__}")
                return [f"{pad}if not quantity({src}):", f"{pad}    return None", f"{pad}{dst} = {src}"]
            return self.check(inner, constraints + extra, src, dst, pad)
        if origin in (typing.Union, types.UnionType) and set(typing.get_args(ann)) <= _SCALARS:
            if constraints:
                raise Unsupported(f"constraints on {ann}")
            names = ", ".join(sorted(a.__name__ for a in typing.get_args(ann)))
            return [f"{pad}if type({src}) not in ({names}):", f"{pad}    return None", f"{pad}{dst} = {src}"]
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) != 1 or len(typing.get_args(ann)) != 2:
                raise Unsupported(f"union {ann}")
            body = self.check(args[0], constraints, src, dst, pad + "    ")
            return [f"{pad}if {src} is None:", f"{pad}    {dst} = None", f"{pad}else:", *body]
        lines = []
        if ann is str:
            lines += [f"{pad}if type({src}) is not str:", f"{pad}    return None"]
        elif ann is int:
            lines += [f"{pad}if type({src}) is not int:", f"{pad}    return None"]
        elif ann is bool:
            lines += [f"{pad}if type({src}) is not bool:", f"{pad}    return None"]
        elif ann is Any:
            if constraints:
                raise Unsupported("constraints on Any")
            return [f"{pad}if not plain({src}):", f"{pad}    return None", f"{pad}{dst} = {src}"]
        elif origin is typing.Literal:
            values = typing.get_args(ann)
            if not all(type(v) is str for v in values):
                raise Unsupported(f"literal {ann}")
            lines += [f"{pad}if type({src}) is not str or {src} not in {values!r}:", f"{pad}    return None"]
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            if constraints:
                raise Unsupported("constraints on a model")
            return [f"{pad}{dst} = v_{ann.__name__}({src})", f"{pad}if {dst} is None:", f"{pad}    return None"]
        elif origin is list:
            (item,) = typing.get_args(ann)
            if constraints:
                raise Unsupported("constraints on a list")
            element, out = self.var(), self.var()
            return [f"{pad}if type({src}) is not list:", f"{pad}    return None", f"{pad}{dst} = []",
                    f"{pad}for {element} in {src}:",
                    *self.check(item, [], element, out, pad + "    "),
                    f"{pad}    {dst}.append({out})"]
        elif origin is dict:
            key, item = typing.get_args(ann)
            if key is not str or constraints:
                raise Unsupported(f"dict {ann}")
            k, element, out = self.var(), self.var(), self.var()
            return [f"{pad}if type({src}) is not dict:", f"{pad}    return None", f"{pad}{dst} = {{}}",
                    f"{pad}for {k}, {element} in {src}.items():",
                    f"{pad}    if type({k}) is not str:", f"{pad}        return None",
                    *self.check(item, [], element, out, pad + "    "),
                    f"{pad}    {dst}[{k}] = {out}"]
        else:
            raise Unsupported(f"type {ann!r}")
        for c in constraints:
            if isinstance(c, annotated_types.MinLen) and ann is str:
                lines += [f"{pad}if len({src}) < {c.min_length}:", f"{pad}    return None"]
            elif isinstance(c, annotated_types.MaxLen) and ann is str:
                lines += [f"{pad}if len({src}) > {c.max_length}:", f"{pad}    return None"]
            elif isinstance(c, annotated_types.Ge) and ann is int:
                lines += [f"{pad}if {src} < {c.ge!r}:", f"{pad}    return None"]
            elif isinstance(c, annotated_types.Gt) and ann is int:
                lines += [f"{pad}if {src} <= {c.gt!r}:", f"{pad}    return None"]
            elif isinstance(c, annotated_types.Le) and ann is int:
                lines += [f"{pad}if {src} > {c.le!r}:", f"{pad}    return None"]
            elif isinstance(c, annotated_types.Lt) and ann is int:
                lines += [f"{pad}if {src} >= {c.lt!r}:", f"{pad}    return None"]
            elif getattr(c, "pattern", None) is not None and ann is str and len(vars(c)) == 1:
                # pydantic matches a pattern anywhere (search); the models' patterns are anchored.
                if c.pattern == QUALIFIED_NAME:  # a string test for it: compiling was start-up cost
                    lines += [f"{pad}if not is_qualified_name({src}):", f"{pad}    return None"]
                else:
                    lines += [f"{pad}if _re.search({c.pattern!r}, {src}) is None:", f"{pad}    return None"]
            else:
                raise Unsupported(f"constraint {c!r} on {ann!r}")
        return lines + [f"{pad}{dst} = {src}"]

    # -- dump -----------------------------------------------------------------------------------

    def dump_expr(self, ann: Any, src: str) -> str:
        """model_dump(by_alias=True, exclude_none=True, mode="json") of a validated value."""
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            return self.dump_expr(typing.get_args(ann)[0], src)
        if origin in (typing.Union, types.UnionType) and set(typing.get_args(ann)) <= _SCALARS:
            return src
        if origin in (typing.Union, types.UnionType):
            (arg,) = [a for a in typing.get_args(ann) if a is not type(None)]
            return self.dump_expr(arg, src)
        if ann in (str, int, bool) or origin is typing.Literal:
            return src
        if ann is Any:
            return f"copy_plain({src})"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return f"{src}.dump()"
        element = self.var()
        if origin is list:
            return f"[{self.dump_expr(typing.get_args(ann)[0], element)} for {element} in {src}]"
        if origin is dict:
            key = self.var()
            value = self.dump_expr(typing.get_args(ann)[1], element)
            return f"{{{key}: {value} for {key}, {element} in {src}.items()}}"
        raise Unsupported(f"dump of {ann!r}")

    # -- one model ------------------------------------------------------------------------------

    def model(self, model: type[BaseModel]) -> list[str]:
        """The class and validator of one model; for what this generator does not understand, a validator
        that always defers to pydantic (correct, only slower), and a warning."""
        self.counter = 0
        try:
            if model.__name__ in self.unsupported:
                raise Unsupported(self.unsupported[model.__name__])
            return self._model(model)
        except Unsupported as exc:
            sys.stderr.write(f"codegen: {model.__name__} is always validated by pydantic: {exc}; teach "
                             "codegen/validators.py about it to keep pydantic off the valid-input path\n")
            return [f"def v_{model.__name__}(data):  # {exc}: pydantic validates it",
                    "    return None", "", ""]

    def _model(self, model: type[BaseModel]) -> list[str]:
        name = model.__name__
        fields = model.model_fields
        aliases = {n: (f.alias or n) for n, f in fields.items()}
        lines = [f"class {name}(Base):", f"    __slots__ = {tuple(fields)!r}", ""]
        lines += ["    def dump(self, include=None):", "        out = {}"]
        for n, f in fields.items():
            lines += [f"        if self.{n} is not None and (include is None or {n!r} in include):",
                      f"            out[{aliases[n]!r}] = {self.dump_expr(f.annotation, 'self.' + n)}"]
        lines += ["        return out", "", ""]
        lines += [f"_KEYS_{name} = frozenset({sorted(aliases.values())!r})", "", ""]
        lines += [f"def v_{name}(data):",
                  "    if type(data) is not dict:", "        return None",
                  "    for key in data:",
                  f"        if key not in _KEYS_{name}:", "            return None",
                  f"    obj = {name}.__new__({name})"]
        for n, f in fields.items():
            src = self.var()
            lines.append(f"    {src} = data.get({aliases[n]!r}, MISSING)")
            if f.default is PydanticUndefined and f.default_factory is None:
                lines += [f"    if {src} is MISSING:", "        return None"]
            elif f.default_factory is not None or not isinstance(f.default, str | int | bool | type(None)):
                raise Unsupported(f"{name}.{n}: default {f.default!r}")
            else:
                lines += [f"    if {src} is MISSING:", f"        {src} = {f.default!r}",
                          f"        obj.{n} = {src}", "    else:"]
            pad = "        " if f.default is not PydanticUndefined else "    "
            ann = typing.Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
            lines += self.check(ann, [], src, f"obj.{n}", pad)
        lines += ["    return obj", "", ""]
        return lines


HEADER = '''"""GENERATED by `make generate` (codegen/validators.py) from the pydantic models: do not edit.

A validator for certainly-valid input, without pydantic; see krmfn/api/validator.py.
"""

# ruff: noqa
import re as _re

from ..plain import MISSING, Base, copy_plain, is_qualified_name, plain, quantity

'''


def render() -> str:
    gen = _Gen()
    for model in _root_models():
        gen.collect(model)
    out = [HEADER]
    for model in gen.models:
        out.append("\n".join(gen.model(model)))
    validators = ", ".join(f"{m.__name__!r}: v_{m.__name__}" for m in gen.models)
    out.append(f"VALIDATORS = {{{validators}}}\n")
    aliases = {m.__name__: {n: (f.alias or n) for n, f in m.model_fields.items()} for m in gen.models}
    out.append(f"ALIASES = {aliases!r}\n")
    return "\n".join(out)
