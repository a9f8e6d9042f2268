"""Built-in defaults: the bottom layer under template sections and overrides (README "Defaults").

The default Multigres images are pinned to the same upstream version the flag checks build
(tools/versions.env, MULTIGRES_VERSION); tests/test_versions.py keeps the two in step.
"""

from __future__ import annotations

MULTIGRES_TAG = "sha-6bd80b9"
MULTIGRES_IMAGE = f"ghcr.io/multigres/multigres:{MULTIGRES_TAG}"
PGCTLD_IMAGE = f"ghcr.io/multigres/pgctld:{MULTIGRES_TAG}"
ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.6.16"

IMAGES = {
    "multigateway": MULTIGRES_IMAGE,
    "multiorch": MULTIGRES_IMAGE,
    "multipooler": MULTIGRES_IMAGE,
    "multiadmin": MULTIGRES_IMAGE,
    "postgres": PGCTLD_IMAGE,
}

COMPONENT_REPLICAS = {"multiadmin": 1, "multiorch": 1, "multigateway": 2}

DATA_VOLUME = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
POOL = {"replicas": 3, "dataVolumeClaimTemplate": DATA_VOLUME}

GLOBAL_ROOT = "/multigres/global"
TOPO_REPLICAS = 3
TOPO_DATA_VOLUME = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}

DURABILITY_POLICY = "AT_LEAST_2"
BACKUP_LOCATION = "/backups"
REGISTER_CELL = True
PRUNE_TABLETS = True
SHARDS = 1


def cell_root(cell: str) -> str:
    return f"/multigres/{cell}"


def password_secret(cluster: str) -> str:
    """Name of the Secret (key `password`) holding the postgres superuser password."""
    return f"{cluster}-postgres-password"


PASSWORD_KEY = "password"
