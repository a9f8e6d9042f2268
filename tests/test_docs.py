"""docs/design.md stays the map of the code, and no citation points outside the repository."""

from __future__ import annotations

import re

from helpers import ROOT

DESIGN = ROOT / "docs" / "design.md"


def test_design_names_every_module() -> None:
    text = DESIGN.read_text()
    named = set(re.findall(r"[\w/]*?(\w+\.py)\b", text))
    missing = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "krmfn").rglob("*.py"))
               if p.name not in named and p.name != "__init__.py"]
    assert not missing, f"docs/design.md does not say what these modules hold: {missing}"


def test_no_citation_of_documents_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|shared/(reference|seeds)/|\breference/[\w-]+\.md")
    hits = [f"{p.relative_to(ROOT)}:{n}" for base in ("krmfn", "docs", "tests")
            for p in sorted((ROOT / base).rglob("*")) if p.suffix in (".py", ".md", ".json")
            and "e2e" not in p.parts and "knode" not in p.parts
            for n, line in enumerate(p.read_text().splitlines(), 1) if outside.search(line)]
    assert not hits, hits
