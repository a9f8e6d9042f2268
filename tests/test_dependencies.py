"""The dependency versions: constraints.txt is the tested environment.

constraints.txt (what the Dockerfile installs) must equal the runtime dependencies this venv runs,
or the image ships versions no test ran.
"""

from __future__ import annotations

import deps


def test_constraints_are_the_tested_environment() -> None:
    want = deps.constraints_text()
    have = deps.CONSTRAINTS.read_text()
    stale = {name: (pin, deps.parse_pins(want).get(name)) for name, pin in deps.parse_pins(have).items()
             if deps.parse_pins(want).get(name) != pin}
    missing = sorted(set(deps.parse_pins(want)) - set(deps.parse_pins(have)))
    assert have == want, (f"constraints.txt differs from this venv (pinned, installed): {stale}, missing: {missing}; "
                          "run `make constraints` (after installing the versions you mean to ship)")


def test_constraints_cover_the_declared_dependencies() -> None:
    """The closure starts from pyproject.toml: every declared dependency is pinned, and within its range."""
    pins = deps.parse_pins(deps.CONSTRAINTS.read_text())
    for req in deps.declared():
        version = pins.get(deps.canonicalize_name(req.name))
        assert version is not None and req.specifier.contains(version), (str(req), version)
