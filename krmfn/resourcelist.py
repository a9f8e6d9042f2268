"""ResourceList input and output, keeping pass-through items byte-for-byte.

An item we do not own is written back as the exact source text it arrived as (the span between
its sequence dash and the next one), not re-serialised: a load+dump would rewrite the user's
quoting and flow style (`"10Gi"`, `["ReadWriteOnce"]`) on every `kpt fn render`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import yamlio
from .results import Result, error

PATH = "internal.config.kubernetes.io/path"
INDEX = "internal.config.kubernetes.io/index"
LEGACY_PATH = "config.kubernetes.io/path"
LEGACY_INDEX = "config.kubernetes.io/index"
LOCAL_CONFIG = "config.kubernetes.io/local-config"
INTERNAL_PREFIXES = ("internal.config.kubernetes.io/", "config.kubernetes.io/path",
                     "config.kubernetes.io/index", "config.k8s.io/id", "kustomize.config.k8s.io/id")


@dataclass
class Item:
    """One KRM object plus, when it came from input, its original source text."""

    obj: dict[str, Any]
    text: str | None = None  # source span starting at the sequence dash (function mode)
    generated: bool = False
    doc: str | None = None  # source text of the whole document (read from a file)

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns is not None else None

    @property
    def annotations(self) -> dict[str, Any]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, dict) else {}

    @property
    def path(self) -> str | None:
        return self.annotations.get(PATH) or self.annotations.get(LEGACY_PATH)

    def is_local_config(self) -> bool:
        if self.kind == "Kptfile" and self.api_version.startswith("kpt.dev/"):
            return True
        return str(self.annotations.get(LOCAL_CONFIG, "")).lower() == "true"


@dataclass
class ResourceList:
    items: list[Item] = field(default_factory=list)
    function_config: dict[str, Any] | None = None
    dash_column: int = 0
    problems: list[Result] = field(default_factory=list)


def _dash_position(text: str, content_start: int) -> int | None:
    """Index of the `-` that introduces a block-sequence entry starting at content_start.

    Between the dash and the content there may be spaces, line breaks and comment lines
    (`- # note` then the object on the next line).
    """
    line_start = _line_start(text, content_start)
    segment = text[line_start:content_start]
    while True:
        stripped = segment.strip()
        if stripped == "-" or (stripped.startswith("-") and stripped[1:2] in (" ", "\t")
                               and stripped[1:].lstrip().startswith("#")):
            return line_start + segment.index("-")
        if stripped and not stripped.startswith("#"):
            return None
        if line_start == 0:
            return None
        end = line_start - 1
        line_start = _line_start(text, end)
        segment = text[line_start:end]


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _item_spans(text: str, seq: yaml.SequenceNode) -> tuple[list[str | None], int]:
    """Source text for each entry of the `items` block sequence, and the dash column."""
    if seq.flow_style or not seq.value:
        return [None] * len(seq.value), 0
    dashes = [_dash_position(text, n.start_mark.index) for n in seq.value]
    if any(d is None for d in dashes):
        return [None] * len(seq.value), 0
    starts = [_line_start(text, d) for d in dashes]  # type: ignore[arg-type]
    columns = {d - s for d, s in zip(dashes, starts, strict=True)}  # type: ignore[operator]
    if len(columns) != 1 or any(text[s:d].strip() for s, d in zip(starts, dashes, strict=True)):  # type: ignore[misc]
        return [None] * len(seq.value), 0
    end = _line_start(text, seq.end_mark.index) if seq.end_mark.index < len(text) else len(text)
    bounds = starts[1:] + [max(end, starts[-1])]
    spans: list[str | None] = []
    for dash, stop in zip(dashes, bounds, strict=True):
        chunk = text[dash:stop]  # type: ignore[misc]
        spans.append(chunk if chunk.endswith("\n") else chunk + "\n")
    return spans, columns.pop()


def parse_resource_list(text: str) -> ResourceList:
    """Read a ResourceList; malformed input becomes an error result, never an exception."""
    rl = ResourceList()
    try:
        node, value = yamlio.compose_and_construct(text)
    except yaml.YAMLError as exc:
        rl.problems.append(error(f"input is not valid YAML: {exc}. Fix the YAML syntax and render again."))
        return rl
    if not isinstance(value, dict):
        rl.problems.append(error("input is not a ResourceList object; pipe a config.kubernetes.io/v1 "
                                 "ResourceList on stdin (or use `multigres-krmfn render PATH`)."))
        return rl
    if value.get("kind") not in ("ResourceList", "List"):
        rl.problems.append(error(f"input kind is {value.get('kind')!r}, expected ResourceList."))
        return rl
    fc = value.get("functionConfig")
    rl.function_config = fc if isinstance(fc, dict) else None
    items = value.get("items") or []
    if not isinstance(items, list):
        rl.problems.append(error("ResourceList.items must be a list of objects.", "items"))
        return rl
    spans: list[str | None] = [None] * len(items)
    assert isinstance(node, yaml.MappingNode)
    for key_node, value_node in node.value:
        if key_node.value == "items" and isinstance(value_node, yaml.SequenceNode):
            spans, rl.dash_column = _item_spans(text, value_node)
    for i, obj in enumerate(items):
        problem = check_object_shape(obj, f"items[{i}]")
        if problem:
            rl.problems.append(problem)
            continue
        rl.items.append(Item(obj, spans[i]))
    return rl


def check_object_shape(obj: Any, where: str) -> Result | None:
    """A KRM object needs apiVersion, kind and metadata.name; say which is missing."""
    if not isinstance(obj, dict):
        return error(f"{where} is a {type(obj).__name__}, not an object; every document must be a "
                     "Kubernetes object with apiVersion, kind and metadata.", where)
    missing = [f for f in ("apiVersion", "kind") if not isinstance(obj.get(f), str) or not obj.get(f)]
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        missing.append("metadata.name")
    if missing:
        return error(f"{where} ({obj.get('kind', 'unknown kind')}) is missing {', '.join(missing)}; "
                     "add it so the object can be identified.", where)
    return None


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def write_resource_list(items: list[Item], results: list[Result], dash_column: int = 0) -> str:
    """Serialise the output ResourceList, pass-through items as their original text."""
    parts = ["apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"]
    if items:
        parts.append("items:\n")
    else:
        parts.append("items: []\n")
    pad = " " * dash_column
    for item in items:
        if item.text is not None and not item.generated:
            parts.append(pad + item.text)  # the original span, dash included
        elif item.doc is not None and not item.generated:
            parts.append(pad + "- " + _indent(item.doc, dash_column + 2)[dash_column + 2:])
        else:
            yamlio.dump_entry(item.obj, dash_column, parts)
    if results:
        parts.append(yamlio.dump({"results": [r.to_dict() for r in results]}))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Files and folders (the `render` and `tree` commands)
# ---------------------------------------------------------------------------------------------

def _yaml_files(path: str) -> list[str]:
    if os.path.isfile(path):
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith((".yaml", ".yml")))
    return found


def read_paths(paths: list[str]) -> ResourceList:
    """Read YAML files or folders (recursively) into items, as kpt would hand them to us."""
    rl = ResourceList()
    for top in paths:
        if not os.path.exists(top):
            rl.problems.append(error(f"{top}: no such file or directory."))
            continue
        base = top if os.path.isdir(top) else os.path.dirname(top)
        for path in _yaml_files(top):
            rel = os.path.relpath(path, base) if os.path.isdir(top) else os.path.basename(path)
            with open(path, encoding="utf-8") as fh:
                source = fh.read()
            index = 0
            for chunk in yamlio.split_documents(source):
                try:
                    obj = yamlio.load(chunk)
                except yaml.YAMLError as exc:
                    rl.problems.append(Result("error", f"invalid YAML: {exc}. Fix the syntax.", file=rel))
                    continue
                if obj is None:
                    continue
                problem = check_object_shape(obj, f"{rel}[{index}]")
                if problem:
                    rl.problems.append(Result(problem.severity, problem.message, problem.path, file=rel,
                                              index=index))
                    index += 1
                    continue
                obj.setdefault("metadata", {})
                if not isinstance(obj["metadata"].get("annotations"), dict):
                    obj["metadata"]["annotations"] = {}
                obj["metadata"]["annotations"][PATH] = rel
                obj["metadata"]["annotations"][INDEX] = str(index)
                rl.items.append(Item(obj, doc=chunk.strip("\n") + "\n"))
                index += 1
    return rl


def strip_internal(obj: dict[str, Any]) -> dict[str, Any]:
    """Copy of obj without kpt's bookkeeping annotations (for plain output streams)."""
    meta = dict(obj.get("metadata") or {})
    ann = {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(INTERNAL_PREFIXES)}
    if ann:
        meta["annotations"] = ann
    else:
        meta.pop("annotations", None)
    out = dict(obj)
    out["metadata"] = meta
    return out


def write_stream(items: list[Item]) -> str:
    """Plain multi-document YAML; read-from-file items as their source text."""
    docs = []
    for item in items:
        if item.doc is not None and not item.generated:
            docs.append(item.doc)
        else:
            docs.append(yamlio.dump(strip_internal(item.obj)))
    return "---\n".join(docs)
