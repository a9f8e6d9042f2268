"""YAML reading and writing with the YAML 1.2 core schema, using libyaml.

kpt and kustomize read YAML through kyaml (YAML 1.2): `on`, `yes`, `no` are strings, `0755` is an
integer written in decimal digits, and timestamps are plain strings. PyYAML's default resolvers
implement YAML 1.1, which would turn `on` into True and `2001-12-14` into a date. The loader here
swaps in the core-schema resolvers so that every value we read is what kyaml reads.

Pass-through items are never re-serialised (see resourcelist.py); only generated objects are
dumped, and those are dumped with PyYAML's 1.1-aware dumper, which quotes anything a 1.1 reader
could mistake for a bool or number, so both kinds of readers see the same value.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class CoreLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml loader resolving plain scalars by the YAML 1.2 core schema."""


CoreLoader.yaml_implicit_resolvers = {}
_CORE_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
]
for _tag, _pattern, _first in _CORE_RESOLVERS:
    CoreLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_core_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_core_bool(loader: yaml.SafeLoader, node: yaml.Node) -> bool:
    return loader.construct_scalar(node).lower() == "true"


def _construct_timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    """An explicitly tagged !!timestamp stays text, as kyaml keeps it."""
    return loader.construct_scalar(node)


CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_core_int)
CoreLoader.add_constructor("tag:yaml.org,2002:bool", _construct_core_bool)
CoreLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


class Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Block-style dumper that indents sequences inside mappings, as kyaml writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


Dumper.add_representer(str, _represent_str)


def dump(obj: Any) -> str:
    """Dump one object as block YAML, keys in insertion order."""
    return yaml.dump(obj, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=4096,
                     allow_unicode=True)


def load(text: str) -> Any:
    """Load one YAML document with the core schema."""
    return yaml.load(text, Loader=CoreLoader)  # noqa: S506 - CoreLoader is a safe loader


def compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse one document, returning both its node tree (for source spans) and its value."""
    loader = CoreLoader(text)
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
        return node, value
    finally:
        loader.dispose()


_DOC_START = re.compile(r"^---(?=[ \t]|$)")
_DOC_END = re.compile(r"^\.\.\.[ \t]*$")


def split_documents(text: str) -> list[str]:
    """Split a multi-document stream into the source text of each document.

    Comments before a document's first key stay with that document, so a pass-through
    document can be written back exactly as the user wrote it.
    """
    chunks: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        if _DOC_START.match(stripped):
            rest = stripped[3:].strip()
            chunks.append([] if not rest or rest.startswith("#") else [rest + "\n"])
        elif _DOC_END.match(stripped):
            chunks.append([])
        else:
            chunks[-1].append(line)
    return ["".join(chunk) for chunk in chunks]
