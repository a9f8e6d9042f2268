"""Function results: one per problem, in the kpt `results` shape.

Every check returns a list of these instead of raising, so a user sees all problems at once
(the CloudNativePG webhook model) rather than fixing them one render at a time.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any, Literal, Protocol

    Severity = Literal["error", "warning", "info"]

    class ChildCR(Protocol):
        """What a reference needs of a typed child CR (the classes of api/generated/child_types.py)."""

        @property
        def api_version(self) -> str: ...
        @property
        def kind(self) -> str: ...
        @property
        def metadata(self) -> dict[str, Any]: ...



MAX_MESSAGE = 2000  # characters of one result message
_RANK = {"error": 0, "warning": 1, "info": 2}
_set = object.__setattr__  # the immutable classes below set their fields once, in __init__


class _Frozen:
    """What a frozen dataclass gives, for the plain classes below: equality and hash over the
    fields in `__slots__` (same class only), no assignment after `__init__`, a dataclass-like repr."""

    __slots__: tuple[str, ...] = ()

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__name__}({fields})"


class ResourceRef(_Frozen):
    """The object a result is about. Immutable and hashable.

    A plain class, not a dataclass: importing `dataclasses` (it imports `inspect`) is a seventh
    of the function's start-up, paid on every kpt render (docs/performance.md).
    """

    __slots__ = ("api_version", "kind", "name", "namespace")

    api_version: str
    kind: str
    name: str
    namespace: str | None

    def __init__(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        _set(self, "api_version", api_version)
        _set(self, "kind", kind)
        _set(self, "name", name)
        _set(self, "namespace", namespace or None)  # "" is no namespace, as Kubernetes reads it

    def to_dict(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out

    @classmethod
    def of_child(cls, child: ChildCR) -> ResourceRef:
        """The reference of a typed child CR (api/generated/child_types.py)."""
        return cls(child.api_version, child.kind, child.metadata["name"], child.metadata.get("namespace"))

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ResourceRef:
        found = obj.get("metadata")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        return cls(str(obj.get("apiVersion", "")), str(obj.get("kind", "")), str(meta.get("name", "")),
                   meta.get("namespace"))


class Result(_Frozen):
    """One problem. Immutable and hashable; a plain class for start-up cost, as ResourceRef."""

    __slots__ = ("severity", "message", "path", "ref", "file", "index", "tags", "line", "column")

    severity: Severity
    message: str
    path: str
    ref: ResourceRef | None
    file: str | None
    index: int | None
    tags: tuple[tuple[str, str], ...]
    line: int | None  # 1-based, in `file`, when known
    column: int | None

    def __init__(self, severity: Severity, message: str, path: str = "", ref: ResourceRef | None = None,
                 file: str | None = None, index: int | None = None, tags: tuple[tuple[str, str], ...] = (),
                 line: int | None = None, column: int | None = None) -> None:
        # A message quotes the offending value; a hostile value must not make it megabytes long.
        if len(message) > MAX_MESSAGE:
            cut = message[:MAX_MESSAGE - 40]
            message = f"{cut}… [{len(message) - len(cut)} characters cut]"
        _set(self, "severity", severity)
        _set(self, "message", message)
        _set(self, "path", path)
        _set(self, "ref", ref)
        _set(self, "file", file)
        _set(self, "index", index)
        _set(self, "tags", tags)
        _set(self, "line", line)
        _set(self, "column", column)

    def replace(self, **changes: Any) -> Result:
        """A copy with some fields changed (what `dataclasses.replace` did)."""
        fields = {name: getattr(self, name) for name in Result.__slots__}
        fields.update(changes)
        return Result(**fields)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "severity": self.severity}
        if self.ref is not None:
            out["resourceRef"] = self.ref.to_dict()
        if self.path:
            out["field"] = {"path": self.path}
        if self.file:
            out["file"] = {"path": self.file, **({"index": self.index} if self.index else {})}
        return out

    def describe(self) -> str:
        """One line for a terminal: severity, object, field, message."""
        where = ""
        if self.ref is not None:
            where = f"{self.ref.kind}/{self.ref.name}"
            if self.ref.namespace:
                where = f"{self.ref.namespace}/{where}"
        if self.path:
            where = f"{where} {self.path}".strip()
        return f"{self.severity.upper()}: {where + ': ' if where else ''}{self.message}"

    def location(self) -> str:
        """`file:line:col:` as a compiler prints it (as much of it as is known), or ''."""
        if not self.file:
            return ""
        parts = [self.file] + [str(p) for p in (self.line, self.column) if p is not None]
        return ":".join(parts) + ":"


def error(message: str, path: str = "", ref: ResourceRef | None = None) -> Result:
    return Result("error", message, path, ref)


def warning(message: str, path: str = "", ref: ResourceRef | None = None) -> Result:
    return Result("warning", message, path, ref)


def info(message: str, path: str = "", ref: ResourceRef | None = None) -> Result:
    return Result("info", message, path, ref)


def with_ref(results: list[Result], ref: ResourceRef, prefix: str = "") -> list[Result]:
    """Attach an object reference (and a field-path prefix) to results from a pure check."""
    out = []
    for r in results:
        path = r.path if not prefix else (f"{prefix}.{r.path}" if r.path else prefix)
        out.append(Result(r.severity, r.message, path, r.ref or ref, r.file, r.index, r.tags, r.line, r.column))
    return out


def has_errors(results: list[Result]) -> bool:
    return any(r.severity == "error" for r in results)


def sort_results(results: list[Result]) -> list[Result]:
    """Stable, deterministic order: by severity, then object, then field path."""
    def key(r: Result) -> tuple[int, str, str, str, str, str]:
        ref = r.ref or ResourceRef("", "", "")
        return (_RANK[r.severity], ref.namespace or "", ref.kind, ref.name, r.path, r.message)

    seen: set[tuple[int, str, str, str, str, str]] = set()
    out = []
    for r in sorted(results, key=key):
        k = key(r)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def result_lines(results: list[Result]) -> list[str]:
    """Results for a terminal, one line each: `file:line:col: SEVERITY: ...` as a compiler prints
    it when the source is known. Every front end that prints results (render, tree, the kustomize
    plugin, the Argo CD step) prints these lines, so they read the same everywhere."""
    out = []
    for r in results:
        where = r.location()
        out.append((where + " " if where else "") + r.describe())
    return out
