"""Function results: one per problem, in the kpt `results` shape.

Every check returns a list of these instead of raising, so a user sees all problems at once
(the CloudNativePG webhook model) rather than fixing them one render at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
MAX_MESSAGE = 2000  # characters of one result message
_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class ResourceRef:
    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ResourceRef:
        found = obj.get("metadata")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        return cls(str(obj.get("apiVersion", "")), str(obj.get("kind", "")), str(meta.get("name", "")),
                   meta.get("namespace"))


@dataclass(frozen=True)
class Result:
    severity: Severity
    message: str
    path: str = ""
    ref: ResourceRef | None = None
    file: str | None = None
    index: int | None = None
    tags: tuple[tuple[str, str], ...] = field(default=())
    line: int | None = None  # 1-based, in `file`, when known
    column: int | None = None

    def __post_init__(self) -> None:
        # A message quotes the offending value; a hostile value must not make it megabytes long.
        if len(self.message) > MAX_MESSAGE:
            cut = self.message[:MAX_MESSAGE - 40]
            object.__setattr__(self, "message", f"{cut}… [{len(self.message) - len(cut)} characters cut]")

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
