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
from collections.abc import Hashable as _HASHABLE

import yaml

from .merge import json_text

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CoreLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml loader resolving plain scalars by the YAML 1.2 core schema."""


CoreLoader.yaml_implicit_resolvers = {}


def _digits(text: str) -> bool:
    """`[0-9]+`: ASCII digits only, as the pattern (str.isdigit alone accepts other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _body(text: str) -> str:
    """The text a `^...$` pattern matches against: `$` also matches before one final newline."""
    return text[:-1] if text.endswith("\n") else text


def _is_core_bool(text: str) -> bool:
    return _body(text) in ("true", "True", "TRUE", "false", "False", "FALSE")


def _is_core_null(text: str) -> bool:
    return _body(text) in ("~", "null", "Null", "NULL", "")


def _is_core_int(text: str) -> bool:
    text = _body(text)
    head, rest = text[:2], text[2:]
    if head == "0o":
        return rest != "" and not rest.strip("01234567")
    if head == "0x":
        return rest != "" and not rest.strip("0123456789abcdefABCDEF")
    return _digits(text[1:] if text[:1] in ("-", "+") else text)


def _is_core_float(text: str) -> bool:
    text = _body(text)
    if text in (".nan", ".NaN", ".NAN"):
        return True
    if text[:1] in ("-", "+"):
        text = text[1:]
    if text in (".inf", ".Inf", ".INF"):
        return True
    mantissa, e, exponent = text.replace("E", "e", 1).partition("e")
    if e and not _digits(exponent[1:] if exponent[:1] in ("-", "+") else exponent):
        return False
    whole, dot, fraction = mantissa.partition(".")
    if not dot:
        return _digits(whole)
    return (_digits(whole) or whole == "") and (_digits(fraction) or fraction == "") and (whole + fraction) != ""


class _Test:
    """A core-schema resolver as a string test with a regex's `match`: PyYAML's resolver tables
    take compiled patterns, and compiling these four was 4 M of the seed's instructions at every
    start-up (docs/performance.md, round 4). `pattern` is the regex it stands for
    (tests/test_units.py holds the two to the same answers)."""

    __slots__ = ("pattern", "test")

    def __init__(self, pattern: str, test: Callable[[str], bool]) -> None:
        self.pattern = pattern
        self.test = test

    def match(self, text: str) -> bool | None:
        return True if self.test(text) else None


_CORE_RESOLVERS = [
    ("tag:yaml.org,2002:bool", _Test(r"^(?:true|True|TRUE|false|False|FALSE)$", _is_core_bool), "tTfF"),
    ("tag:yaml.org,2002:null", _Test(r"^(?:~|null|Null|NULL|)$", _is_core_null), ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", _Test(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", _is_core_int), "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        _Test(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", _is_core_float),
        "-+0123456789.",
    ),
]
for _tag, _test, _first in _CORE_RESOLVERS:
    CoreLoader.add_implicit_resolver(_tag, _test, list(_first))
# Merge keys (`<<: {namespace: prod}`, `<<: *base`): kyaml resolves them, so every front end
# does (PyYAML's constructor flattens them once the key is tagged as one).
CoreLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


MAX_INT_CHARACTERS = 1000  # int64 needs 19 digits; Python refuses str<->int beyond 4,300 digits


def _construct_core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """An integer, refused (with its line) when longer than any Kubernetes number: converting
    thousands of digits is quadratic, and Python refuses it past 4,300 (an internal error before)."""
    text = str(loader.construct_scalar(node))
    if len(text) > MAX_INT_CHARACTERS:
        raise InputLimitError(None, None, f"an integer of {len(text):,} characters is larger than any Kubernetes "
                              "field holds (int64 has 19 digits); quote it if it is text", node.start_mark)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_core_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_timestamp_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    """An explicitly tagged !!timestamp stays text, as kyaml keeps it."""
    return str(loader.construct_scalar(node))


_CORE = yaml.resolver.Resolver()
_CORE.yaml_implicit_resolvers = CoreLoader.yaml_implicit_resolvers

CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_core_int)
CoreLoader.add_constructor("tag:yaml.org,2002:bool", _construct_core_bool)
CoreLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


_YAML11 = yaml.resolver.Resolver()
# A safe alphabet; a leading dash only as in command-line flags (`--cell=a`, `-v`), never `- ` or `---`.
_PLAIN = re.compile(r"\A(?:[A-Za-z0-9_./$(]|--?[A-Za-z])[A-Za-z0-9_./$()@=+,:~-]*\Z")
_SCALAR_CACHE: dict[str, str] = {}
# First characters of plain scalars that no implicit resolver (YAML 1.1 or 1.2 core) looks at:
# _is_plain can skip the resolvers for them. test_units.py checks this against PyYAML's tables.
_NO_RESOLVER = frozenset("ABCDEGHIJKLMPQRSUVWXZabcdeghijklmpqrsuvwxz_/$(")


def _is_plain(text: str) -> bool:
    """Whether a string can be written unquoted and still read back as this string.

    Conservative on purpose: only a safe alphabet, no `: ` or trailing `:`, and nothing that a
    YAML 1.1 reader (kubectl's) or a 1.2 core reader (kyaml's) would take for a bool, number,
    null or timestamp.
    """
    if not _PLAIN.match(text) or text.endswith(":") or ": " in text:
        return False
    if text[0] in _NO_RESOLVER:  # no implicit resolver of either schema starts with this character
        return True
    for resolver in (_YAML11, _CORE):
        # PyYAML's stubs leave Resolver.resolve unannotated.
        if resolver.resolve(yaml.ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str":  # type: ignore[no-untyped-call]
            return False
    return True


def _quote(text: str) -> str:
    """A JSON string is a valid YAML double-quoted scalar with the same escapes.

    Except outside the Basic Multilingual Plane: JSON writes an emoji as a surrogate pair
    (`\\ud83d\\ude00`), which libyaml and kyaml reject, so those characters are written as
    themselves (UTF-8), as YAML allows any printable character in a double-quoted scalar.
    """
    quoted = json_text(text)  # json.dumps' text, without importing json for ASCII
    if "\\ud" not in quoted:
        return quoted
    non_bmp = re.compile("[\U00010000-\U0010FFFF]+")  # compiled here: rare, and costly at every start-up
    if not non_bmp.search(text):
        return quoted
    parts = []
    pos = 0
    for match in non_bmp.finditer(text):
        parts.append(json_text(text[pos:match.start()])[1:-1])
        parts.append(match.group())
        pos = match.end()
    parts.append(json_text(text[pos:])[1:-1])
    return '"' + "".join(parts) + '"'


def _text(text: str) -> str:
    """The scalar for a string: plain when that reads back as the same string, else quoted."""
    cached = _SCALAR_CACHE.get(text)
    if cached is None:
        cached = text if _is_plain(text) else _quote(text)
        _SCALAR_CACHE[text] = cached
    return cached


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_text(value)
    text = str(value)
    cached = _SCALAR_CACHE.get(text)
    return cached if cached is not None else _text(text)


_KEY_CACHE: dict[Any, str] = {}


def _key(key: Any) -> str:
    """`key:` for a mapping key (keys are written as their str())."""
    if type(key) is not str:  # 1, True and 1.0 are one dict key: cache text keys only
        return _scalar(str(key)) + ":"
    head = _KEY_CACHE.get(key)
    if head is None:
        head = _KEY_CACHE[key] = _scalar(key) + ":"
    return head


# The emitter below is written for speed (it is most of a large render's run time): exact type
# checks with the common case first, cached scalar and key text, and no intermediate lists. Every
# function takes `first`, the text that starts its first line instead of `indent`, which is how a
# sequence entry's `- ` shares the line with the entry's first key. The output is the same as
# PyYAML-free block style throughout: mappings indented by two, sequences at their key's column.

# One flat dispatch on purpose: splitting it into helpers costs a call per key, measured in make bench.
def _emit_map(value: dict[str, Any], indent: str, first: str, out: list[str]) -> None:  # noqa: C901
    append = out.append
    scalars = _SCALAR_CACHE
    keys = _KEY_CACHE
    lead = first
    inner = None
    for key, item in value.items():
        head = keys.get(key)  # only str keys are cached, and no other key equals a str
        if head is None:
            head = _key(key)
        kind = type(item)
        if kind is str:
            text = scalars.get(item)
            if text is None:
                text = _text(item)
            append(f"{lead}{head} {text}\n")
        elif kind is dict:
            if item:
                append(f"{lead}{head}\n")
                if inner is None:
                    inner = indent + "  "
                _emit_map(item, inner, inner, out)
            else:
                append(f"{lead}{head} {{}}\n")
        elif kind is list:
            if item:
                append(f"{lead}{head}\n")
                _emit_seq(item, indent, indent, out)
            else:
                append(f"{lead}{head} []\n")
        elif kind is int:
            append(f"{lead}{head} {item}\n")
        elif isinstance(item, dict | list) and item:  # subclasses: the general path
            append(f"{lead}{head}\n")
            if isinstance(item, dict):
                _emit_map(item, indent + "  ", indent + "  ", out)
            else:
                _emit_seq(item, indent, indent, out)
        else:
            append(f"{lead}{head} {_inline(item)}\n")
        lead = indent


def _emit_seq(value: list[Any], indent: str, first: str, out: list[str]) -> None:
    append = out.append
    scalars = _SCALAR_CACHE
    inner = indent + "  "
    lead = first
    for item in value:
        kind = type(item)
        if kind is dict and item:
            _emit_map(item, inner, lead + "- ", out)
        elif kind is str:
            text = scalars.get(item)
            if text is None:
                text = _text(item)
            append(f"{lead}- {text}\n")
        elif kind is list and item:
            _emit_seq(item, inner, lead + "- ", out)
        elif isinstance(item, dict) and item:  # subclasses: the general path
            _emit_map(item, inner, lead + "- ", out)
        elif isinstance(item, list) and item:
            _emit_seq(item, inner, lead + "- ", out)
        else:
            append(f"{lead}- {_inline(item)}\n")
        lead = indent


def _emit(value: Any, indent: str, out: list[str]) -> None:
    """Block YAML of JSON-like data: mappings indented by two, sequences at their key's column."""
    if isinstance(value, dict):
        _emit_map(value, indent, indent, out)
    else:
        _emit_seq(value, indent, indent, out)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def dump(obj: Any) -> str:
    """Block YAML of plain data (dicts, lists, str, int, float, bool, None), keys in order.

    Generated objects only (pass-through items keep their source text). A small emitter rather
    than PyYAML's: its Python representer was most of a render's run time, and a fixed, simple
    style (double-quoted JSON strings where quoting is needed) reads the same in every YAML reader.
    """
    if not isinstance(obj, dict | list) or not obj:
        return _inline(obj) + "\n"
    out: list[str] = []
    _emit(obj, "", out)
    return "".join(out)


class InputLimitError(yaml.MarkedYAMLError):
    """A document larger than a limit in krmfn.limits (reported as an error result naming it)."""


def _check_mapping_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> None:
    """A key written twice is an error (kyaml's too): the last one would win silently."""
    seen: dict[tuple[str, str], yaml.Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = (key_node.tag, key_node.value)
        if key_node.tag == "tag:yaml.org,2002:bool":
            key = (key_node.tag, key_node.value.lower())
        if key in seen:
            first = seen[key].start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key_node.value!r} (first written at line {first.line + 1}, column "
                f"{first.column + 1}); a key may appear once in a mapping, remove or merge one",
                key_node.start_mark)
        seen[key] = key_node


def _construct_mapping_unique(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    _check_mapping_keys(loader, node)
    return _SAFE_CONSTRUCT_MAPPING(loader, node, deep=deep)


_SAFE_CONSTRUCT_MAPPING = yaml.constructor.SafeConstructor.construct_mapping
CoreLoader.construct_mapping = _construct_mapping_unique


def check_node_limits(node: yaml.Node | None, may_alias: bool = True) -> int:
    """Bound the expanded size and depth of a composed document before constructing it.

    An alias is the same node object as its anchor, so a sub-tree referenced many times is
    counted as often as it would be expanded (a 1 KB "billion laughs" counts 10^9), but each node
    is visited once: the count costs time linear in the document as written. Without an anchor
    (`may_alias=False`, no `&` in the text) the tree has no shared nodes and needs no memo.
    """
    if node is None:
        return 0
    walker = _Walker(may_alias)
    return walker.walk(node, 1)


class _Walker:
    def __init__(self, may_alias: bool) -> None:
        from .limits import MAX_YAML_DEPTH, MAX_YAML_NODES

        self.max_nodes, self.max_depth = MAX_YAML_NODES, MAX_YAML_DEPTH
        self.memo: dict[int, int] | None = {} if may_alias else None
        self.active: set[int] = set()

    def walk(self, node: yaml.Node, depth: int) -> int:
        if depth > self.max_depth:
            raise InputLimitError(None, None, f"the document nests more than {self.max_depth} levels deep (limit "
                                  "MAX_YAML_DEPTH); flatten it", node.start_mark)
        memo = self.memo
        if memo is not None:
            key = id(node)
            if key in memo:
                return memo[key]
            if key in self.active:
                raise InputLimitError(None, None, "an alias refers to a node that contains it (a recursive "
                                      "structure, which has no finite expansion); remove the alias",
                                      node.start_mark)
            self.active.add(key)
        total = 1
        scalar = yaml.ScalarNode
        if node.__class__ is yaml.MappingNode:
            for k, v in node.value:
                total += 1 if k.__class__ is scalar else self.walk(k, depth + 1)
                total += 1 if v.__class__ is scalar else self.walk(v, depth + 1)
        else:
            for child in node.value:
                total += 1 if child.__class__ is scalar else self.walk(child, depth + 1)
        if total > self.max_nodes:
            how = (", through aliases (*name) that repeat an anchor (&name); write the values out or reference "
                   "smaller anchors") if self.memo is not None else "; split it into smaller documents"
            raise InputLimitError(None, None, f"the document expands to more than {self.max_nodes:,} YAML nodes "
                                  f"(limit MAX_YAML_NODES){how}", node.start_mark)
        if memo is not None:
            self.active.discard(key)
            memo[key] = total
        return total


def dump_entry(obj: Any, column: int, out: list[str]) -> None:
    """Append `obj` as one entry of a block sequence whose dash is at `column`.

    The same text as `"- "` + dump(obj) indented by column + 2 on every following line, written
    directly at its final indentation (re-indenting a 37 MB output line by line was a tenth of a
    large render).
    """
    pad = " " * column
    if isinstance(obj, dict | list) and obj:
        indent = pad + "  "
        lines: list[str] = []  # joined per entry: a million short strings alive at once cost memory
        if isinstance(obj, dict):
            _emit_map(obj, indent, pad + "- ", lines)
        else:
            _emit_seq(obj, indent, pad + "- ", lines)
        out.append("".join(lines))
    else:
        out.append(f"{pad}- {_inline(obj)}\n")


def load(text: str) -> Any:
    """Load one YAML document with the core schema, within the limits of krmfn.limits."""
    return compose_and_construct(text)[1]


class NodeBudget:
    """YAML nodes the rest of one run's input may hold (limits.MAX_YAML_NODES for all of it).

    libyaml builds a document's whole node tree before anything can look at it (13.7 MB of flow
    lists was 2.2 GiB), and every item keeps its tree: a document that could exceed what is left
    is counted on the parser's events first, which hold no tree.
    """

    __slots__ = ("left",)

    def __init__(self) -> None:
        from .limits import MAX_YAML_NODES

        self.left = MAX_YAML_NODES

    def check(self, text: str) -> None:
        """Before composing: InputLimitError when `text` holds more nodes than are left. A node
        takes at least one character, so only a text longer than that is counted (on events)."""
        if len(text) >= self.left:
            _count_nodes(text, self.left)

    def take(self, nodes: int) -> None:
        """After composing: what the document holds is spent."""
        self.left -= nodes


def _count_nodes(text: str, most: int) -> int:
    from .limits import MAX_YAML_NODES

    loader = CoreLoader(text)
    count = 0
    starts = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, starts):
                count += 1
                if count > most:
                    raise InputLimitError(None, None, f"the input holds more than {MAX_YAML_NODES:,} YAML nodes "
                                          "in all (limit MAX_YAML_NODES); split it into smaller packages",
                                          event.start_mark)  # type: ignore[arg-type]  # libyaml marks
    finally:
        loader.dispose()
    return count


def compose_and_construct(text: str, budget: NodeBudget | None = None) -> tuple[yaml.Node | None, Any]:
    """Parse one document, returning both its node tree (for source spans) and its value."""
    if budget is not None:
        budget.check(text)
    loader = CoreLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and node.__class__ is not yaml.ScalarNode:
            nodes = check_node_limits(node, "&" in text)
            if budget is not None:
                budget.take(nodes)
        if node is None:
            return None, None
        # Without an anchor no node is shared: build the values directly, without PyYAML's memo of
        # every node and its generator per mapping (both alive until the document ends: 48 MiB
        # and more of a 6 MB input). With one, PyYAML's constructor keeps aliases shared.
        value = _construct_tree(loader, node) if "&" not in text else loader.construct_document(node)
        return node, value
    finally:
        loader.dispose()


_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_STR = "tag:yaml.org,2002:str"


def _construct_tree(loader: CoreLoader, node: yaml.Node) -> Any:
    """The value of a node tree without shared nodes: what construct_document returns for it.

    Mappings and sequences of the standard tags are built here, depth first (depth is bounded by
    MAX_YAML_DEPTH before this runs); scalars go to the loader's constructor for their tag, and
    any other node to construct_object, so every tag and error is PyYAML's.
    """
    cls = node.__class__
    if cls is yaml.ScalarNode:
        if node.tag == _STR:
            return node.value
        constructor = loader.yaml_constructors.get(node.tag)
        return constructor(loader, node) if constructor is not None else loader.construct_document(node)
    if isinstance(node, yaml.MappingNode) and cls is yaml.MappingNode and node.tag == _MAP:
        _check_mapping_keys(loader, node)
        loader.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct_tree(loader, key_node)
            if not isinstance(key, _HASHABLE):
                raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                        "found unhashable key", key_node.start_mark)
            mapping[key] = _construct_tree(loader, value_node)
        return mapping
    if cls is yaml.SequenceNode and node.tag == _SEQ:
        return [_construct_tree(loader, child) for child in node.value]
    return loader.construct_document(node)


BOM = "\ufeff"


def decode(data: bytes, what: str) -> str:
    """UTF-8 text of an input (a leading byte-order mark dropped); ValueError says where it is not."""
    from .limits import MAX_INPUT_BYTES

    if len(data) > MAX_INPUT_BYTES:
        raise ValueError(f"{what} is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB (limit MAX_INPUT_BYTES); "
                         "split it into smaller packages")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ValueError(f"{what} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, column "
                         f"{column}); save it as UTF-8") from None
    return text.removeprefix(BOM)


_DOC_START = re.compile(r"^---(?=[ \t]|$)")
_DOC_END = re.compile(r"^\.\.\.[ \t]*$")


def split_documents(text: str) -> list[str]:
    """Split a multi-document stream into the source text of each document.

    Comments before a document's first key stay with that document, so a pass-through
    document can be written back exactly as the user wrote it.
    """
    return [chunk for _, chunk in split_documents_with_lines(text)]


def split_documents_with_lines(text: str) -> list[tuple[int, str]]:
    """split_documents, each chunk with the 0-based line of the stream where it starts.

    Directives (`%YAML 1.2`, `%TAG`) before a `---` belong to the document that marker starts, as
    kyaml reads them: a `%TAG` line moves into that document's chunk; `%YAML` is dropped, since
    every document is read by the YAML 1.2 core schema whatever version it names.
    """
    chunks: list[tuple[int, list[str]]] = [(0, [])]
    directives: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True)):
        stripped = line.rstrip("\r\n")
        if stripped.startswith("%") and not _has_content(chunks[-1][1]):
            if not stripped.startswith("%YAML"):
                directives.append(line)
            chunks[-1][1].append("\n")  # keeps the lines of this chunk where they were
        elif _DOC_START.match(stripped):
            rest = stripped[3:].strip()
            body = [rest + "\n"] if rest and not rest.startswith("#") else []
            if directives:
                chunks.append((number - len(directives), [*directives, line]))
                directives = []
            else:
                chunks.append((number if body else number + 1, body))
        elif _DOC_END.match(stripped):
            chunks.append((number + 1, []))
        else:
            chunks[-1][1].append(line)
    return [(start, "".join(chunk)) for start, chunk in chunks]


def _has_content(lines: list[str]) -> bool:
    """Whether a chunk so far holds anything but blank and comment lines."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in lines)
