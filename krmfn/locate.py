"""Where a result points in the user's files: file, document index, line and column.

Results carry a field path (`spec.cells.templates[0].name`) and the object they are about; the
items keep the YAML nodes they were read from, so the path is walked down the node tree.
"""

from __future__ import annotations

import re

from .resourcelist import INDEX, LEGACY_INDEX, Item, Key
from .results import Result

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def locate_results(results: list[Result], items: list[Item], owners: dict[Key, Item] | None = None) -> list[Result]:
    """Give each result about an input object its file, line and column (where the item says).

    A result about a generated object gets the file of the cluster it came from (no line: its
    field path is in the generated object, not in the cluster).
    """
    by_ref: dict[Key, Item] = {}
    for each in items:
        by_ref.setdefault((each.kind, each.namespace, each.name), each)
    out = []
    keys: dict[int, dict[str, Any]] = {}  # one key index per mapping node: a lookup per result, not a scan
    for r in results:
        key = (r.ref.kind, r.ref.namespace, r.ref.name) if r.ref is not None else None
        item: Item | None = by_ref.get(key) if key is not None else None
        if item is None and key is not None and owners and key in owners and not r.file:
            owner = owners[key]
            file = owner.file or (owner.path if isinstance(owner.path, str) else None)
            out.append(r.replace(file=file) if file else r)
            continue
        if item is None or r.file:
            out.append(r)
            continue
        file = item.file or (item.path if isinstance(item.path, str) else None)
        index = item.index
        if index is None:
            raw = item.annotations.get(INDEX) or item.annotations.get(LEGACY_INDEX)
            index = int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10 else None
        line = column = None
        if item.node is not None and item.file is not None:
            node = locate(item.node, r.path, keys)
            line, column = item.line + node.start_mark.line + 1, node.start_mark.column + 1
        elif item.file is not None and item.doc is not None:  # an item that kept no node: its document's line
            line = item.line + 1
        out.append(r.replace(file=file, index=index, line=line, column=column))
    return out


_PATH_PART = r"([^.\[\]]+)|\[(\d+)\]"  # compiled by `re` on first use (errors only), not at start-up


def locate(node: Any, path: str, keys: dict[int, dict[str, Any]] | None = None) -> Any:
    """The deepest node along a field path (`spec.a[0].b`) that exists in the document.

    `keys` caches each mapping's keys across calls (40,000 unknown keys were 40,000 scans of 40,000).
    """
    import yaml

    keys = {} if keys is None else keys
    current = node
    for name, number in re.findall(_PATH_PART, path or ""):
        if name and isinstance(current, yaml.MappingNode):
            index = keys.get(id(current))
            if index is None:
                index = keys[id(current)] = {}
                for k, v in current.value:
                    if isinstance(k, yaml.ScalarNode):
                        index.setdefault(k.value, v)
            found = index.get(name)
            if found is None:
                return current
            current = found
        elif number and isinstance(current, yaml.SequenceNode) and int(number) < len(current.value):
            current = current.value[int(number)]
        else:
            return current
    return current


def _index_of(entries: Any, name: str) -> int | None:
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and entry.get("name") == name:
                return i
    return None


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def source_path(child: Any, path: str, cluster: dict[str, Any]) -> str:
    """Where in the cluster a problem found on one of its generated children was written (or the
    nearest field there: a value a template set has no place of its own in the cluster).

    A MultiTableGroup's pools are its table group's pools, in order, and a MultiShard points at its
    table group; a MultiCell's gateway is its cell's; anything else points at the cluster's spec.
    """
    rest = path.removeprefix("spec").lstrip(".")
    spec = cluster.get("spec")
    if child.kind in ("MultiTableGroup", "MultiShard"):  # a shard's fields: its table group's line
        d = _index_of(_get(spec, "databases", "templates"), child.spec.database_name)
        if d is not None:
            db = _get(spec, "databases", "templates")[d]
            t = _index_of(_get(db, "spec", "tablegroups"), child.spec.table_group_name)
            if t is not None:
                return f"spec.databases.templates[{d}].spec.tablegroups[{t}].{rest}"
    if child.kind == "MultiCell":
        c = _index_of(_get(spec, "cells", "templates"), child.spec.name)
        if c is not None:
            return f"spec.cells.templates[{c}].spec.{rest.replace('multiGateway', 'multigateway', 1)}"
    return "spec"
