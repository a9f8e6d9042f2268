"""The documents stay true: design.md maps the code, links resolve, the README stays a page, the
safety doc names what the code recognises, and nothing cites a path outside the repository."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from helpers import ROOT

from krmfn import reconcile

DESIGN = ROOT / "docs" / "design.md"


def test_design_names_every_module() -> None:
    text = DESIGN.read_text()
    named = set(re.findall(r"[\w/]*?(\w+\.py)\b", text))
    missing = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "krmfn").rglob("*.py"))
               if p.name not in named and p.name != "__init__.py"]
    assert not missing, f"docs/design.md does not say what these modules hold: {missing}"


def _tracked_text_files() -> list[Path]:
    proc = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("not a git checkout: the repository's file list is unknown")
    files = [ROOT / n for n in proc.stdout.decode().split("\0") if n]
    return [p for p in files if p.is_file() and b"\0" not in p.read_bytes()[:4096]]


def test_no_citation_of_paths_outside_the_repository() -> None:
    """Nothing names a document or folder beside the checkout. The one exception: .ci/run may
    point tools/sources.sh at the CI machine's mirror of the upstream archives (it says why)."""
    outside = re.compile(r"DESIGN\.md|\.\./shared|shared/(reference|seeds|vendor)|\breference/[\w-]+\.md")
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in _tracked_text_files() if p != ROOT / ".ci" / "run"
            for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if outside.search(line)]
    assert not hits, hits


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_the_documents_resolves() -> None:
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            if not dest.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
            elif anchor and anchor not in {_slug(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), re.M)}:
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken


def test_readme_fits_a_newcomer_and_its_test_command_is_the_unit_run() -> None:
    """About 150 lines; the second command is a plain pytest, which pyproject.toml's addopts keep
    to the unit tests (the real-node ones are `make e2e`)."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 160
    commands = re.findall(r"```sh\n(.*?)\n```", text, re.S)
    assert commands[0].endswith("multigres-krmfn render examples/seed")
    assert commands[1].endswith("-m pytest -q")
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert "-m 'not e2e'" in addopts


def test_safety_doc_lists_exactly_the_kinds_recognised_as_earlier_output() -> None:
    text = (ROOT / "docs" / "safety.md").read_text()
    bullet = text.split("its kind is one the function writes:", 1)[1].split("\n- ", 1)[0]
    assert set(re.findall(r"`(\w+)`", bullet)) == set(reconcile.GENERATED_KINDS)
