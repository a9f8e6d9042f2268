"""docs/design.md's may-import table holds: every import in krmfn is one its module's row allows.

The table is parsed from design.md (section "Modules and what each may import"), the imports
from each module's syntax tree, so the rule and the code cannot drift apart unnoticed. A row's
third column is `;`-separated parts; each backticked name in it is a module or package of krmfn
(looked up in the row's folder first, then from krmfn/; `api/*` is every module under api/) or
one of the third-party packages below. A part that says "lazily" allows those imports inside
functions only; a part that says "type hints" allows them under `if TYPE_CHECKING:` only. The
standard library is free.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from helpers import ROOT

DESIGN = ROOT / "docs" / "design.md"
PACKAGE = ROOT / "krmfn"
SECTION = "## Modules and what each may import"
# The import name of each third-party distribution the table may name.
THIRD_PARTY = {"pydantic": "pydantic", "pydantic_core": "pydantic", "annotated_types": "pydantic",
               "click": "click", "yaml": "PyYAML", "jsonpatch": "jsonpatch"}
TOP, LAZY, TYPING = "at module level", "inside a function", "under TYPE_CHECKING"


def module_name(path: Path) -> str:
    """krmfn/workloads/topo.py → workloads/topo; krmfn/workloads/__init__.py → workloads."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return "/".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _table_rows() -> list[list[str]]:
    text = DESIGN.read_text()
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", len(SECTION))]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| module")]
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in rows]


def _row_modules(cell: str) -> list[str]:
    """`workloads/topo.py`, `cell.py` → workloads/topo, workloads/cell (a bare name takes the folder before it)."""
    out, folder = [], ""
    for name in re.findall(r"`([\w/]+)\.py`", cell):
        if "/" in name:
            folder = name.rsplit("/", 1)[0]
        elif folder:
            name = f"{folder}/{name}"
        out.append(name.removesuffix("/__init__"))
    return out


def _resolve_token(token: str, folder: str) -> set[str]:
    if token in THIRD_PARTY.values():
        return {token}
    if token.endswith("/*"):
        base = token[:-2]
        return {m for m in MODULES if m.startswith(base + "/")}
    for candidate in ([f"{folder}/{token}"] if folder else []) + [token]:
        if candidate in MODULES:
            return {candidate} | {m for m in MODULES if m.startswith(candidate + "/")}
    raise AssertionError(f"docs/design.md's may-import table names `{token}`, which is neither a krmfn "
                         f"module nor one of {sorted(set(THIRD_PARTY.values()))}: fix the table")


def rows() -> dict[str, int]:
    """module → its row's number: a module may import at run time only from its own row or below."""
    return {module: n for n, cells in enumerate(_table_rows()) for module in _row_modules(cells[0])}


def allowed() -> dict[str, dict[str, set[str]]]:
    """module → imported module or third-party name → the places it may be imported (TOP, LAZY, TYPING)."""
    table: dict[str, dict[str, set[str]]] = {}
    for cells in _table_rows():
        assert len(cells) == 3, f"a may-import row has {len(cells)} columns: {cells}"
        for module in _row_modules(cells[0]):
            folder = module.rsplit("/", 1)[0] if "/" in module else ""
            if module in MODULES and (PACKAGE / f"{module}/__init__.py").exists():
                folder = module
            may = table.setdefault(module, {})
            for part in cells[2].split(";"):
                where = ({LAZY, TYPING} if "lazily" in part else {TYPING} if "type hints" in part
                         else {TOP, LAZY, TYPING})
                for token in re.findall(r"`([^`]+)`", part):
                    for target in _resolve_token(token, folder):
                        may.setdefault(target, set()).update(where)
    return table


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST, where: str = TOP) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with where it runs: at module level, inside a function, or for type hints."""
    out = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append((node, where))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out += _imports(node, TYPING if where == TYPING else LAZY)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            out += _imports(ast.Module(body=node.body, type_ignores=[]), TYPING)
            out += _imports(ast.Module(body=node.orelse, type_ignores=[]), where)
        else:
            out += _imports(node, where)
    return out


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The krmfn modules (or third-party distributions) an import statement loads."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif node.level == 0:
        names = [f"{node.module}.{a.name}" for a in node.names]
    else:
        package = module.split("/") if (PACKAGE / f"{module}/__init__.py").exists() else module.split("/")[:-1]
        base = package[:len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
        names = ["krmfn." + ".".join(base + [a.name]) for a in node.names]
    out = []
    for name in names:
        top = name.split(".")[0]
        if top == "krmfn":
            parts = name.split(".")[1:]
            while parts and "/".join(parts) not in MODULES:
                parts.pop()  # an imported name, not a module: the module that defines it
            out.append("/".join(parts))
        elif top in THIRD_PARTY:
            out.append(THIRD_PARTY[top])
        elif top not in sys.stdlib_module_names and not top.startswith("_"):  # _sha2 & co: CPython's own
            out.append(top)
    return out


def violations(modules: dict[str, Path] = MODULES) -> list[str]:
    """Each import the table does not allow, once per statement and module it loads."""
    table, row = allowed(), rows()
    found = []
    for module, path in modules.items():
        shown = f"krmfn/{module}/__init__.py" if path.name == "__init__.py" else f"krmfn/{module}.py"
        for node, where in _imports(ast.parse(path.read_text(), str(path))):
            for target in dict.fromkeys(_targets(module, node)):
                if target in (module, ""):
                    continue
                places = table.get(module, {}).get(target, set())
                if where not in places:
                    found.append(f"{shown}:{node.lineno} imports {target} {where}; docs/design.md allows it "
                                 f"{' or '.join(sorted(places)) or 'nowhere'}")
                elif where != TYPING and row.get(target, len(row)) < row.get(module, 0):
                    found.append(f"{shown}:{node.lineno} imports {target} {where}, a module of a higher row of "
                                 "docs/design.md's table: only type hints may point up")
    return found


def test_every_import_is_one_the_design_table_allows() -> None:
    problems = violations()
    assert not problems, "fix the import or the table in docs/design.md:\n" + "\n".join(problems)


def test_every_module_that_imports_has_a_row() -> None:
    table = allowed()
    missing = [m for m, p in MODULES.items() if m and m not in table
               and any(_targets(m, n) for n, _ in _imports(ast.parse(p.read_text())))]
    assert not missing, f"docs/design.md's may-import table has no row for {missing}"


@pytest.mark.parametrize(("source", "expected"), [
    ("from .naming import x\n", "imports naming at module level"),
    ("def f():\n    from . import adapter\n", "imports adapter inside a function"),
    ("TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from .resolve.cluster import Resolved\n",
     "imports resolve/cluster under TYPE_CHECKING"),
    ("import pydantic\n", "imports pydantic at module level"),
    ("import jsonpatch\n", "imports jsonpatch at module level"),
])
def test_an_import_the_table_does_not_allow_is_named(tmp_path, source, expected) -> None:
    """merge.py may import nothing: each of these is reported with its file, line and place."""
    fake = tmp_path / "merge.py"
    fake.write_text(source)
    found = violations({"merge": fake})
    assert len(found) == 1 and found[0].startswith("krmfn/merge.py:") and expected in found[0], found


def test_a_runtime_import_from_a_higher_row_is_named(tmp_path, monkeypatch) -> None:
    """The table itself must keep the arrows down: were registration's row above cell's, cell's
    import of it would be reported (its import for type hints would not)."""
    fake = tmp_path / "cell.py"
    fake.write_text("from . import registration\nTYPE_CHECKING = False\nif TYPE_CHECKING:\n"
                    "    from .registration import x\n")
    monkeypatch.setattr(sys.modules[__name__], "rows", lambda: {"workloads/registration": 1, "workloads/cell": 5})
    found = violations({"workloads/cell": fake})
    assert found == ["krmfn/workloads/cell.py:1 imports workloads/registration at module level, a module of a "
                     "higher row of docs/design.md's table: only type hints may point up"], found


# ---- the status reporter (krmfn_status/): outside the table, on the other side of one rule ----

REPORTER = ROOT / "krmfn_status"


@pytest.mark.parametrize("source", ["import krmfn_status\n", "from krmfn_status.compute import compute\n",
                                    "import krmfn_etcd\n", "def f():\n    from krmfn_etcd.main import put\n",
                                    "def f():\n    from lightkube import Client\n"])
def test_the_render_never_imports_the_status_reporter(tmp_path, source) -> None:
    """No module of krmfn may load the reporter or its client, not even lazily: the table allows
    neither anywhere, so such an import is named (the render's start-up stays free of them)."""
    fake = tmp_path / "function.py"
    fake.write_text(source)
    found = violations({"function": fake})
    assert len(found) == 1 and "allows it nowhere" in found[0], found


def test_the_status_reporter_takes_only_naming_from_krmfn() -> None:
    """The reporter shares the generated names (krmfn.naming) and the status schema's test, nothing
    else: were it to import the render, the image's reporter would carry pydantic and more."""
    imported = set()
    for path in sorted(REPORTER.glob("*.py")):
        for node, _ in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("krmfn."):
                imported.add(node.module)
            if isinstance(node, ast.ImportFrom) and node.module == "krmfn":
                imported |= {f"krmfn.{a.name}" for a in node.names}
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names if a.name.startswith("krmfn.")}
    assert imported == {"krmfn.naming"}, imported


def test_the_etcd_client_takes_nothing_but_the_standard_library() -> None:
    """krmfn_etcd runs in the registration Job and the gateways' init container: it must start with
    no dependency installed and never load the render (nothing of krmfn, no pydantic)."""
    imported = set()
    for path in sorted((ROOT / "krmfn_etcd").glob("*.py")):
        for node, _ in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
