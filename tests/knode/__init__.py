"""The test node: a single-node Kubernetes cluster from the project's own builds (cluster.py)."""
