"""multigres-krmfn: render a MultigresCluster into Multigres child resources and workloads."""

__version__ = "0.1.0"
