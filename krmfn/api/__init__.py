"""API models: the single source of the schemas (validation here, CRDs in crds.py)."""
