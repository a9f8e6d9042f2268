"""The runtime dependencies: as pyproject.toml declares them, and as the running venv has them.

One place for both readings so that nothing is a second hand-written list: the floors come from
the `>=` of each declared dependency, the pins from the installed distributions' own metadata
(the declared requirements, then theirs, transitively). `make constraints` runs this file to write
constraints.txt; tests/test_dependencies.py checks constraints.txt and the floors with it.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONSTRAINTS = ROOT / "constraints.txt"
CONSTRAINTS_HEADER = """\
# Exact versions of multigres-krmfn's runtime dependencies and of theirs, as the tests ran them
# (Python {python}). The Dockerfile installs with `pip install -c constraints.txt .`, so the image
# holds what was tested. Generated from the venv by `make constraints`, never by hand;
# tests/test_dependencies.py fails when it differs from the venv the tests run in.
"""


def declared() -> list[Requirement]:
    """pyproject.toml's [project] dependencies."""
    return [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]


def lower_bound(specifier: SpecifierSet, what: str) -> str:
    """The one `>=` of a specifier set: the oldest version the package says it works with."""
    lows = [s.version for s in specifier if s.operator == ">="]
    if len(lows) != 1:
        raise ValueError(f"{what}: declare exactly one `>=` floor (have {specifier or 'none'})")
    return lows[0]


def floors() -> dict[str, str]:
    """Declared name -> its floor, e.g. {"pydantic": "2.6"}."""
    return {req.name: lower_bound(req.specifier, str(req)) for req in declared()}


def python_floor() -> str:
    """requires-python's floor, e.g. "3.11"."""
    return lower_bound(SpecifierSet(PYPROJECT["project"]["requires-python"]), "requires-python")


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    env: dict[str, str] = dict(default_environment())
    return any(req.marker.evaluate({**env, "extra": extra}) for extra in extras | {""})


# The extras the image installs besides the dependencies (the Dockerfile's `.[status]`).
IMAGE_EXTRAS = ("status",)


def image_requirements() -> list[Requirement]:
    """What the image installs: the dependencies and those of IMAGE_EXTRAS (the status reporter's client)."""
    optional = PYPROJECT["project"]["optional-dependencies"]
    return declared() + [Requirement(text) for extra in IMAGE_EXTRAS for text in optional[extra]]


def runtime_closure() -> dict[str, str]:
    """Installed distribution name (as its metadata spells it) -> version, for the declared runtime
    dependencies and IMAGE_EXTRAS' and everything they require here (markers evaluated for this
    interpreter)."""
    todo = [req for req in image_requirements() if _applies(req, set())]
    seen: dict[str, tuple[str, str]] = {}
    extras: dict[str, set[str]] = {}
    while todo:
        req = todo.pop()
        key = canonicalize_name(req.name)
        if key in seen and req.extras <= extras[key]:
            continue
        extras[key] = extras.get(key, set()) | req.extras
        dist = metadata.distribution(req.name)
        seen[key] = (dist.metadata["Name"], dist.version)
        todo += [sub for sub in map(Requirement, dist.requires or []) if _applies(sub, extras[key])]
    return {name: version for name, version in sorted(seen.values(), key=lambda nv: canonicalize_name(nv[0]))}


def constraints_text() -> str:
    """constraints.txt as the running venv says it should read."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    pins = "".join(f"{name}=={version}\n" for name, version in runtime_closure().items())
    return CONSTRAINTS_HEADER.format(python=python) + pins


def parse_pins(text: str) -> dict[str, str]:
    """`name==version` lines (comments and blank lines skipped), keyed by canonical name."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


if __name__ == "__main__":
    sys.stdout.write(constraints_text())
