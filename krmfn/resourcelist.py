"""ResourceList input and output, keeping pass-through items byte-for-byte.

An item we do not own is written back as the exact source text it arrived as (the span between
its sequence dash and the next one), not re-serialised: a load+dump would rewrite the user's
quoting and flow style (`"10Gi"`, `["ReadWriteOnce"]`) on every `kpt fn render`.
"""

from __future__ import annotations

import os
import re
import sys

import yaml

from . import yamlio
from .limits import MAX_INPUT_BYTES
from .results import Result, error

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


PATH = "internal.config.kubernetes.io/path"
INDEX = "internal.config.kubernetes.io/index"
LEGACY_PATH = "config.kubernetes.io/path"
LEGACY_INDEX = "config.kubernetes.io/index"
LOCAL_CONFIG = "config.kubernetes.io/local-config"
INTERNAL_PREFIXES = ("internal.config.kubernetes.io/", "config.kubernetes.io/path",
                     "config.kubernetes.io/index", "config.k8s.io/id", "kustomize.config.k8s.io/id")


# An object's identity in a render: (kind, namespace, name).
Key = tuple[str, str | None, str]


class Item:
    """One KRM object plus, when it came from input, its original source text.

    A plain class with `__slots__`, not a dataclass: importing `dataclasses` (it imports
    `inspect`) is a seventh of the function's start-up, paid on every kpt render.
    """

    __slots__ = ("obj", "text", "generated", "doc", "node", "line", "file", "index")

    def __init__(self, obj: dict[str, Any], text: str | None = None, generated: bool = False,
                 doc: str | None = None, node: Any = None, line: int = 0, file: str | None = None,
                 index: int | None = None) -> None:
        self.obj = obj
        self.text = text  # source span starting at the sequence dash (function mode)
        self.generated = generated
        self.doc = doc  # source text of the whole document (read from a file)
        self.node = node  # composed YAML node (line/column lookups); not compared, not printed
        self.line = line  # 0-based line of the document's first line in its file
        self.file = file  # the file it was read from (render, Argo CD, kustomize)
        self.index = index

    def _key(self) -> tuple[Any, ...]:
        return (self.obj, self.text, self.generated, self.doc, self.line, self.file, self.index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Item) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (f"Item(obj={self.obj!r}, text={self.text!r}, generated={self.generated!r}, doc={self.doc!r}, "
                f"line={self.line!r}, file={self.file!r}, index={self.index!r})")

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
        """The namespace, None when unset: Kubernetes reads `namespace: ""` as no namespace."""
        ns = self.metadata.get("namespace")
        return str(ns) if ns is not None and ns != "" else None

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


class ResourceList:
    """The parsed input. A plain class for start-up cost (see Item)."""

    __slots__ = ("items", "function_config", "dash_column", "problems", "nodes", "bytes_left")

    def __init__(self, items: list[Item] | None = None, function_config: dict[str, Any] | None = None,
                 dash_column: int = 0, problems: list[Result] | None = None) -> None:
        self.items: list[Item] = [] if items is None else items
        self.function_config = function_config
        self.dash_column = dash_column
        self.problems: list[Result] = [] if problems is None else problems
        self.nodes = yamlio.NodeBudget()  # YAML nodes of everything read into this list
        self.bytes_left = MAX_INPUT_BYTES  # input bytes of every file read into it, together


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
        return _flow_spans(text, seq), 0
    found = [_dash_position(text, n.start_mark.index) for n in seq.value]
    dashes = [d for d in found if d is not None]
    if len(dashes) != len(found):
        return _flow_spans(text, seq), 0
    starts = [_line_start(text, d) for d in dashes]
    columns = {d - s for d, s in zip(dashes, starts, strict=True)}
    if len(columns) != 1 or any(text[s:d].strip() for s, d in zip(starts, dashes, strict=True)):
        return _flow_spans(text, seq), 0
    end = _line_start(text, seq.end_mark.index) if seq.end_mark.index < len(text) else len(text)
    bounds = starts[1:] + [max(end, starts[-1])]
    spans: list[str | None] = []
    for dash, stop in zip(dashes, bounds, strict=True):
        chunk = text[dash:stop]
        spans.append(chunk if chunk.endswith("\n") else chunk + "\n")
    return spans, columns.pop()


def _flow_spans(text: str, seq: yaml.SequenceNode) -> list[str | None]:
    """Entries of a flow (or JSON) `items` list: each node's own source text, as a block entry.

    `- {"kind": "X", ...}` is the same value as the entry in `items: [{"kind": "X", ...}]`;
    continuation lines are indented, which line folding ignores. Each span is checked by reading
    it back: an entry whose text does not read back as the same nodes gets no span (None).
    """
    spans: list[str | None] = []
    for node in seq.value:
        chunk = text[node.start_mark.index:node.end_mark.index]
        lines = chunk.splitlines(keepends=True) or [""]
        entry = "- " + lines[0] + "".join("  " + line if line.strip() else line for line in lines[1:])
        entry = entry if entry.endswith("\n") else entry + "\n"
        spans.append(entry if _reads_back(entry, node) else None)
    return spans


def _reads_back(entry: str, node: yaml.Node) -> bool:
    try:
        loader = yamlio.CoreLoader(entry)
        try:
            seq = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError:
        return False
    return isinstance(seq, yaml.SequenceNode) and len(seq.value) == 1 and same_nodes(seq.value[0], node)


def same_nodes(a: yaml.Node, b: yaml.Node) -> bool:
    """Whether two node trees hold the same tags and scalar values (styles and comments aside)."""
    stack = [(a, b)]
    seen: set[tuple[int, int]] = set()
    while stack:
        x, y = stack.pop()
        if (id(x), id(y)) in seen:
            continue
        seen.add((id(x), id(y)))
        if type(x) is not type(y) or x.tag != y.tag:
            return False
        if isinstance(x, yaml.ScalarNode):
            if x.value != y.value:
                return False
            continue
        if len(x.value) != len(y.value):
            return False
        if isinstance(x, yaml.MappingNode):
            for (kx, vx), (ky, vy) in zip(x.value, y.value, strict=True):
                stack += [(kx, ky), (vx, vy)]
        else:
            stack += list(zip(x.value, y.value, strict=True))
    return True


def foreign_alias(node: yaml.Node) -> yaml.Node | None:
    """A node inside `node`'s tree that was written outside it (reached through an alias), if any.

    An alias is the anchored node itself, whose marks are where the anchor was written; an item
    passed through as its own text would then carry `*name` without the `&name` it needs.
    """
    low, high = node.start_mark.index, node.end_mark.index
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if not low <= current.start_mark.index <= high:
            return current
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in current.value for n in pair)
    return None


OCTAL_LOOKALIKE = r"^[-+]?0[0-9]+$"  # what is_octal_lookalike tests, without compiling it at start-up


def is_octal_lookalike(text: str) -> bool:
    """OCTAL_LOOKALIKE (its `$` also before one final newline; tests/test_startup_helpers.py)."""
    text = text[:-1] if text.endswith("\n") else text
    digits = text[1:] if text[:1] in ("-", "+") else text
    return len(digits) >= 2 and digits[0] == "0" and digits.isascii() and digits.isdigit()


def octal_lookalikes(node: yaml.Node | None) -> list[tuple[str, str]]:
    """(field path, text) of each plain integer written with a leading zero (`010`).

    kyaml reads `010` as 10 (YAML 1.2, as this function does); kubectl and Argo CD read it as 8
    (YAML 1.1 octal). The function renders from one value, the API server stores the other.
    """
    out: list[tuple[str, str]] = []
    stack: list[tuple[str, yaml.Node]] = [("", node)] if node is not None else []
    seen: set[int] = set()
    while stack:
        path, current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.ScalarNode):
            if current.tag == "tag:yaml.org,2002:int" and not current.style and is_octal_lookalike(current.value):
                out.append((path, current.value))
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.append((f"{path}.{name}" if path else str(name), value))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((f"{path}[{i}]", value) for i, value in enumerate(current.value))
    return sorted(out)


RESOURCE_LIST_VERSIONS = {"ResourceList": ("config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1"),
                          "List": ("v1",)}


def _limit_or_syntax(exc: yaml.YAMLError, what: str) -> str:
    if isinstance(exc, yamlio.InputLimitError):
        return f"{what} exceeds a safety limit: {exc}. See docs/safety.md, \"Safety and limits\"."
    return f"{what} is not valid YAML: {exc}. Fix the YAML syntax and render again."


def parse_resource_list(text: str) -> ResourceList:
    """Read a ResourceList; malformed input becomes an error result, never an exception."""
    rl = ResourceList()
    text = text.removeprefix(yamlio.BOM)
    try:
        node, value = yamlio.compose_and_construct(text, rl.nodes)
    except yaml.YAMLError as exc:
        rl.problems.append(error(_limit_or_syntax(exc, "input"), "<input>"))
        return rl
    if not isinstance(value, dict):
        rl.problems.append(error("input is not a ResourceList object; pipe a config.kubernetes.io/v1 "
                                 "ResourceList on stdin (or use `multigres-krmfn render PATH`).", "<input>"))
        return rl
    envelope = _envelope_problem(value)
    if envelope is not None:
        rl.problems.append(envelope)
        return rl
    fc = value.get("functionConfig")
    if fc is not None and not isinstance(fc, dict):
        rl.problems.append(error(f"functionConfig is a {_type_name(fc)}, not an object; give a ConfigMap or a "
                                 "RenderMultigres (or leave functionConfig out).", "functionConfig"))
    rl.function_config = fc if isinstance(fc, dict) else None
    items = value.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        rl.problems.append(error(f"ResourceList.items is a {_type_name(items)}, not a list; it must be a list of "
                                 "objects (`items: []` when there are none).", "items"))
        return rl
    assert isinstance(node, yaml.MappingNode)
    spans, nodes, rl.dash_column = _item_sources(text, node, len(items))
    may_alias = "&" in text  # an alias needs an anchor; without one no item can reach outside itself
    for i, obj in enumerate(items):
        problem = check_object_shape(obj, f"items[{i}]") or _item_text_problem(i, obj, nodes[i], spans[i], may_alias)
        if problem:
            rl.problems.append(problem)
            continue
        rl.items.append(Item(obj, spans[i], node=located_node(obj, nodes[i])))
    return rl


def _item_sources(text: str, node: yaml.MappingNode,
                  count: int) -> tuple[list[str | None], list[yaml.Node | None], int]:
    """Each item's source text and node, and the dash column of `items` (0 when not a block list)."""
    spans: list[str | None] = [None] * count
    nodes: list[yaml.Node | None] = [None] * count
    column = 0
    for key_node, value_node in node.value:
        if key_node.value == "items" and isinstance(value_node, yaml.SequenceNode):
            spans, column = _item_spans(text, value_node)
            nodes = list(value_node.value)
    return spans, nodes, column


def _envelope_problem(value: dict[str, Any]) -> Result | None:
    """The ResourceList's own kind and apiVersion."""
    kind = value.get("kind")
    if kind not in RESOURCE_LIST_VERSIONS:
        return error(f"input kind is {kind!r}, expected ResourceList.", "kind")
    if value.get("apiVersion") not in RESOURCE_LIST_VERSIONS[kind]:
        return error(f"input apiVersion is {value.get('apiVersion')!r}; a {kind} must have "
                     f"apiVersion {RESOURCE_LIST_VERSIONS[kind][0]}.", "apiVersion")
    return None


def _item_text_problem(i: int, obj: dict[str, Any], item_node: yaml.Node | None, span: str | None,
                       may_alias: bool) -> Result | None:
    """Why an item's source text cannot be passed on as it is, if it cannot."""
    outside = foreign_alias(item_node) if item_node is not None and may_alias else None
    if outside is not None:
        mark = outside.start_mark
        return error(
            f"items[{i}] ({obj.get('kind')} {obj['metadata'].get('name')!r}) uses an alias whose anchor is "
            f"written outside this item (at line {mark.line + 1}, column {mark.column + 1}); each item is "
            "passed on as its own text, so define the anchor (&name) inside the item or write the value "
            "out.", f"items[{i}]")
    if span is None:
        return error(
            f"items[{i}] ({obj.get('kind')} {obj['metadata'].get('name')!r}) cannot be passed through "
            "unchanged: its source text does not stand alone as a list entry. Write `items` as a block "
            "list (one `- ` entry per object).", f"items[{i}]")
    return None


def _type_name(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", int: "number", float: "number",
            bool: "boolean", type(None): "null"}.get(type(value), type(value).__name__)


def check_object_shape(obj: Any, where: str) -> Result | None:
    """A KRM object needs apiVersion, kind and metadata.name; say which is missing."""
    if not isinstance(obj, dict):
        return error(f"{where} is a {_type_name(obj)}, not an object; every document must be a "
                     "Kubernetes object with apiVersion, kind and metadata.", where)
    missing = [f for f in ("apiVersion", "kind") if not isinstance(obj.get(f), str) or not obj.get(f)]
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or meta.get("name") is None or meta.get("name") == "":
        missing.append("metadata.name")
    if missing:
        return error(f"{where} ({obj.get('kind', 'unknown kind')}) is missing {', '.join(missing)}; "
                     "add it so the object can be identified.", where)
    assert isinstance(meta, dict)
    return _metadata_problem(meta, where) or _secret_problem(obj, meta, where)


def _metadata_problem(meta: dict[str, Any], where: str) -> Result | None:
    """metadata.name, namespace, labels and annotations of the types Kubernetes requires."""
    if not isinstance(meta["name"], str):
        return error(f"{where}.metadata.name is a {_type_name(meta['name'])} ({meta['name']!r}), not a string; "
                     f"quote it (name: \"{meta['name']}\").", f"{where}.metadata.name")
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        return error(f"{where}.metadata.namespace is a {_type_name(namespace)}, not a string; write one "
                     "namespace name.", f"{where}.metadata.namespace")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and (not isinstance(value, dict)
                                  or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            return error(f"{where}.metadata.{key} must map strings to strings; quote numbers and booleans "
                         "(\"true\", \"1\").", f"{where}.metadata.{key}")
    return None


def _secret_problem(obj: dict[str, Any], meta: dict[str, Any], where: str) -> Result | None:
    """A v1 Secret's data and stringData must be mappings (the function reads their keys)."""
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
        return None
    for key in ("data", "stringData"):
        value = obj.get(key)
        if value is not None and not isinstance(value, dict):
            return error(f"{where}.{key} of Secret {meta['name']!r} is a {_type_name(value)}, not a mapping; "
                         "write `key: value` pairs.", f"{where}.{key}")
    return None


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def write_resource_list(items: list[Item], results: list[Result], dash_column: int = 0,
                        release: bool = False) -> str:
    """Serialise the output ResourceList, pass-through items as their original text.

    `release`: the caller is done with the items, so each generated object is let go once it is
    written: at 57,000 objects the objects and the output text were both alive, over 1 GiB.
    """
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
            if release:
                item.obj = {}
    if results:
        parts.append(yamlio.dump({"results": [r.to_dict() for r in results]}))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Files, folders and streams (`render`, `tree`, the kustomize plugin, the Argo CD step)
# ---------------------------------------------------------------------------------------------

def _yaml_files(path: str) -> list[str]:
    if os.path.isfile(path):
        return [path]
    found: list[str] = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith((".yaml", ".yml")))
    return found


def read_paths(paths: list[str]) -> ResourceList:
    """Read YAML files or folders (recursively) into items, as kpt would hand them to us."""
    rl = ResourceList()
    seen: set[str] = set()  # `render DIR DIR/x.yaml` reads x.yaml once, as kpt would see it once
    for top in paths:
        if not os.path.exists(top):
            rl.problems.append(Result("error", "no such file or directory; give an existing file or folder.",
                                      "<input>", file=top))
            continue
        base = top if os.path.isdir(top) else os.path.dirname(top)
        for path in _yaml_files(top):
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            rel = os.path.relpath(path, base) if os.path.isdir(top) else os.path.basename(path)
            source, problem = read_input(path)
            if source is None:
                rl.problems.append(Result("error", f"{problem}.", "<input>", file=rel))
                continue
            rl.bytes_left -= len(source)
            if rl.bytes_left < 0:  # each file is bounded when read; together they are bounded here
                rl.problems.append(Result("error", f"the files add up to more than {MAX_INPUT_BYTES // 2**20} MiB "
                                          "(limit MAX_INPUT_BYTES); split them into smaller packages.", "<input>",
                                          file=rel))
                return rl
            read_documents(rl, source, rel)
    return rl


def read_input(path: str | None) -> tuple[str | None, str | None]:
    """The text of a file, or of stdin when path is None; (None, why) when it cannot be read.

    Every input any front end reads comes through here: at most MAX_INPUT_BYTES of it, decoded
    as UTF-8 by yamlio.decode (a byte-order mark dropped). `why` names no file (the caller's
    result carries it), except the limit and UTF-8 messages, which say where in it.
    """
    try:
        if path is None:
            if sys.stdin is None:  # started with stdin closed (`<&-`)
                return None, "stdin is closed; pipe the input on stdin (or give files to `render`)"
            return yamlio.decode(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "stdin"), None
        with open(path, "rb") as fh:
            return yamlio.decode(fh.read(MAX_INPUT_BYTES + 1), path), None
    except OSError as exc:
        return None, exc.strerror or str(exc)
    except ValueError as exc:
        return None, str(exc)


def read_stream(text: str) -> ResourceList:
    """A multi-document YAML stream (what kustomize pipes to exec plugins) as items with their text."""
    rl = ResourceList()
    read_documents(rl, text.removeprefix(yamlio.BOM), None)
    return rl


def read_documents(rl: ResourceList, source: str, rel: str | None, first_index: int = 0) -> None:
    """Every document of one file (or stream) as an item, its problems with line and column."""
    index = first_index
    for first_line, chunk in yamlio.split_documents_with_lines(source):
        try:
            node, obj = yamlio.compose_and_construct(chunk, rl.nodes)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = first_line + mark.line + 1 if mark is not None else None
            column = mark.column + 1 if mark is not None else None
            what = f"document {index} of {rel}" if rel else f"document {index}"
            rl.problems.append(Result("error", _limit_or_syntax(exc, what), "<input>", file=rel, index=index,
                                      line=line, column=column))
            continue
        if obj is None:
            continue
        where = f"{rel}[{index}]" if rel else f"document {index}"
        problem = check_object_shape(obj, where)
        if problem:
            line = first_line + node.start_mark.line + 1 if node is not None else None
            rl.problems.append(Result(problem.severity, problem.message, problem.path, file=rel, index=index,
                                      line=line, column=1 if line else None))
            index += 1
            continue
        if rel is not None:
            if not isinstance(obj["metadata"].get("annotations"), dict):
                obj["metadata"]["annotations"] = {}
            obj["metadata"]["annotations"][PATH] = rel
            obj["metadata"]["annotations"][INDEX] = str(index)
        rl.items.append(Item(obj, doc=document_text(chunk), node=located_node(obj, node), line=first_line,
                             file=rel, index=index))
        index += 1


# Kinds whose results point at a field inside them (locate.py); any other item keeps only its
# document's line, not its node tree: the trees were most of a large input's memory.
LOCATED_KINDS = frozenset({"MultigresCluster", "MultigresDeploymentTemplate", "RenderMultigres"})


def located_node(obj: dict[str, Any], node: Any) -> Any:
    """The node tree an item keeps: only for the kinds results are located in, and a config."""
    if obj.get("kind") in LOCATED_KINDS:
        return node
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return node if isinstance(annotations, dict) and "config.kubernetes.io/function" in annotations else None


KEEP_CHOMPING = r"[|>][1-9]?\+"


def has_keep_chomping(text: str) -> bool:
    """Whether KEEP_CHOMPING is found in the text: the characters before each `+`, or the
    pattern when there are many (compiling it was start-up cost, docs/performance.md)."""
    if text.count("+") > 64:
        return re.search(KEEP_CHOMPING, text) is not None
    pos = text.find("+")
    while pos != -1:
        before = text[pos - 1:pos]
        if before in ("|", ">") or (before != "" and before in "123456789" and text[pos - 2:pos - 1] in ("|", ">")):
            return True
        pos = text.find("+", pos + 1)
    return False


def document_text(chunk: str) -> str:
    """A document's text as it is passed through: blank lines around it dropped, except the
    trailing ones a keep-chomped block scalar (`|+`, `>+`) holds as part of its value."""
    text = chunk.lstrip("\n")
    if has_keep_chomping(text):
        return text if text.endswith("\n") else text + "\n"
    return text.rstrip("\n") + "\n"


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
    parts: list[str] = []
    for item in items:
        if parts:  # a document with its own directives (`%TAG`) must follow an end marker
            parts.append("...\n" if item.doc is not None and item.doc.startswith("%") else "---\n")
        if item.doc is not None and not item.generated:
            parts.append(item.doc)
        else:
            parts.append(yamlio.dump(strip_internal(item.obj)))
    return "".join(parts)
