"""JSON Merge Patch (RFC 7386): how `overrides` apply on top of a template section.

Maps merge recursively, lists and scalars replace, `null` deletes a key. Inputs are never mutated,
so one template section can be patched for many components.
"""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """Return target patched by patch, per RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
