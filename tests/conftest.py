"""Fixtures shared by several test files. Keep it small: fixtures live in their own modules."""

from apiserver import apiserver  # noqa: F401  (session: a real kube-apiserver + etcd, docs/development.md)
