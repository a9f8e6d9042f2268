"""JSON Merge Patch (RFC 7386): how `overrides` apply on top of a template section.

Maps merge recursively, lists and scalars replace, `null` deletes a key. Inputs are never mutated,
so one template section can be patched for many components.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def clone(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, immutable scalars), as copy.deepcopy makes it.

    Not `copy.deepcopy`: importing `copy` (and `weakref`) is start-up cost on every render, and
    deepcopy's memo and dispatch make it several times slower on the data the builders copy
    (docs/performance.md). Anything else (a dict or list subclass, a tuple) goes to deepcopy.
    """
    kind = type(value)
    if kind is dict:
        return {k: clone(v) for k, v in value.items()}
    if kind is list:
        return [clone(v) for v in value]
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    import copy

    return copy.deepcopy(value)


# json.dumps' text (ensure_ascii) of each ASCII character, as a str.translate table: a list, so every
# lookup hits (a dict table raises and catches a KeyError for each character it lacks).
_ASCII_JSON = [f"\\u{i:04x}" if i < 32 or i == 127 else chr(i) for i in range(128)]
for _char, _escape in zip('"\\\n\r\t\b\f', ['\\"', "\\\\", "\\n", "\\r", "\\t", "\\b", "\\f"], strict=True):
    _ASCII_JSON[ord(_char)] = _escape


def json_text(value: Any) -> str:
    """`json.dumps(value)` with its default settings, the same text, for JSON data with string keys.

    Not json.dumps: importing `json` was start-up cost on every render (docs/performance.md), and
    the render only needs ASCII strings, lists, mappings and integers; anything else (non-ASCII
    text, floats, other keys) goes to json.dumps.
    """
    kind = type(value)
    if kind is str and value.isascii():
        text: str = value
        return '"' + text.translate(_ASCII_JSON) + '"'
    if kind is list:
        return "[" + ", ".join([json_text(v) for v in value]) + "]"
    if kind is dict and all(type(k) is str for k in value):
        return "{" + ", ".join([json_text(k) + ": " + json_text(v) for k, v in value.items()]) + "}"
    if value is None or value is True or value is False or kind is int:
        return "null" if value is None else "true" if value is True else "false" if value is False else str(value)
    import json

    return json.dumps(value)


def merge_patch(target: Any, patch: Any) -> Any:
    """Return target patched by patch, per RFC 7386."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def fill_requests(resources: dict[str, Any] | None, requests: dict[str, str]) -> dict[str, Any]:
    """Default requests for resources nobody sized, so no pod runs BestEffort (evicted first).

    Only where neither a request nor a limit is written: Kubernetes takes a limit as the request,
    and a default request above someone's limit would be our error, not theirs.
    """
    out = dict(resources or {})
    limits = out.get("limits") or {}
    current = dict(out.get("requests") or {})
    for name, value in requests.items():
        if name not in current and name not in limits:
            current[name] = value
    if current:
        out = {"requests": current, **{k: v for k, v in out.items() if k != "requests"}}
    return out
