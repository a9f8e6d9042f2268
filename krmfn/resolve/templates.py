"""Template lookup and the precedence defaults < template section < overrides (or inline spec).

This is the only module that knows templates exist; what leaves it is a plain resolved spec.
"""

from __future__ import annotations

from ..api.validator import Invalid, validate
from ..merge import merge_patch
from ..results import Result, error

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any, Literal


class TemplateIndex:
    """Templates of one namespace by name, their raw specs, and which ones got used."""

    __slots__ = ("specs", "used", "invalid")

    def __init__(self, specs: dict[str, dict[str, Any]]) -> None:  # a plain class: start-up cost
        self.specs = specs
        self.used: set[str] = set()
        self.invalid: set[str] = set()  # present, but refused (its own errors say why)

    def names(self) -> list[str]:
        return sorted(self.specs)


def lookup(index: TemplateIndex, name: str, section: str, path: str) -> tuple[dict[str, Any] | None, list[Result]]:
    """The raw section of a template, or an error listing what exists."""
    if name in index.invalid:
        return None, [error(f"MultigresDeploymentTemplate {name!r} is invalid (its own errors say why); this "
                            "cluster renders once it is fixed.", path)]
    if name not in index.specs:
        available = ", ".join(index.names()) or "none"
        return None, [error(f"MultigresDeploymentTemplate {name!r} not found in this namespace "
                            f"(available: {available}); create it or fix the name.", path)]
    index.used.add(name)
    section_value = index.specs[name].get(section)
    if not isinstance(section_value, dict):
        present = [k for k, v in index.specs[name].items() if isinstance(v, dict)]
        return None, [error(f"MultigresDeploymentTemplate {name!r} has no {section!r} section "
                            f"(it has: {', '.join(present) or 'none'}); add the section or use "
                            "another template.", path)]
    return section_value, []


def resolve_layers(defaults: dict[str, Any], base: dict[str, Any] | None, overrides: dict[str, Any] | None,
                   model: Literal["ComponentSpec", "PoolSpec"],
                   overrides_path: str) -> tuple[dict[str, Any] | None, list[Result]]:
    """defaults < base < overrides, validated against the model named `model`, dumped in canonical order."""
    merged = merge_patch(defaults, base or {})
    if overrides:
        merged = merge_patch(merged, overrides)
    try:
        parsed = validate(model, merged)
    except Invalid as exc:
        return None, exc.results(_split(overrides_path))
    return parsed.model_dump(by_alias=True, exclude_none=True, mode="json"), []


def _split(path: str) -> tuple[str | int, ...]:
    """'a.b[2].c' → ('a', 'b', 2, 'c'), so validation paths can be prefixed."""
    out: list[Any] = []
    for part in path.split("."):
        while "[" in part:
            head, rest = part.split("[", 1)
            if head:
                out.append(head)
            idx, part = rest.split("]", 1)
            out.append(int(idx))
        if part:
            out.append(part)
    return tuple(out)
