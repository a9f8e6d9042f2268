"""multigres-krmfn: render a MultigresCluster into Multigres child resources and workloads."""

# The only place the version is written: pyproject.toml reads it, tests/test_container.py checks
# function.yaml's image tag and the kustomize container config against it.
__version__ = "0.1.0"
