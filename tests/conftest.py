"""Fixtures shared by several test files. Keep it small: fixtures live in their own modules."""

import sys

import pytest
from apiserver import apiserver  # noqa: F401  (session: a real kube-apiserver + etcd, docs/development.md)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A plain `pytest` of an e2e file deselects everything (pyproject.toml's `-m 'not e2e'`) and
    exits 5: say how to run them instead of leaving a bare "deselected"."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and session.config.getoption("markexpr") == "not e2e":
        print("\nthe e2e tests (real node, kube-apiserver, etcd) run with `-m e2e`: make e2e, or pytest -m e2e FILE",
              file=sys.stderr)
