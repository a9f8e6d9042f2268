"""The status reporter: a small in-cluster process that writes the `status` of the six kinds.

A separate package from `krmfn` on purpose: it needs a Kubernetes client (lightkube, the `status`
extra), and the render must never load it (tests/test_imports.py holds `krmfn` to that). It
shares only `krmfn.naming` with the render, so generated names are computed in one place.
"""
