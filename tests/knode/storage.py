"""The node's volume provisioner: local PersistentVolumes made on demand, the way an external
provisioner serves a StorageClass on a real cluster.

For every claim the PV controller hands to our provisioner (annotation
`volume.kubernetes.io/storage-provisioner`), it makes a directory, owned by root with mode 0755 as
a fresh disk is, and a `local` PersistentVolume pre-bound to the claim: local volumes, unlike
hostPath, get the pod's fsGroup applied by the kubelet, as cloud disks do. Any access mode is
granted (the nodes share this machine's disk: ReadWriteMany is real here). Released volumes of
the Delete policy are removed with their directory. A thread polls every second. On several
nodes a volume is pinned to the node of its first pod (a zonal disk), except a ReadWriteMany one.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from pathlib import Path
from typing import Any

from .api import Api
from .config import NODE_NAME, PROVISIONER

ANNOTATION = "volume.kubernetes.io/storage-provisioner"


SELECTED_NODE = "volume.kubernetes.io/selected-node"


def _nodes_of(claim: dict[str, Any], nodes: list[str]) -> list[str]:
    """Where the volume can be used: a ReadWriteMany volume on every node (the nodes share this
    machine's disk, as pods of every zone share a regional file system); any other on the node
    the scheduler picked for its first pod (`WaitForFirstConsumer`), like a zonal disk."""
    if "ReadWriteMany" in (claim["spec"].get("accessModes") or []):
        return nodes
    selected = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
    return [selected] if selected else nodes[:1]


def _pv(claim: dict[str, Any], path: Path, nodes: list[str]) -> dict[str, Any]:
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": spec.get("storageClassName", ""),
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                         "name": meta["name"], "uid": meta["uid"]},
            "local": {"path": str(path)},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": _nodes_of(claim, nodes)}]}]}},
        },
    }


class Provisioner:
    def __init__(self, api: Api, root: Path, nodes: list[str] | None = None):
        self.api, self.root = api, root
        self.nodes = nodes or [NODE_NAME]
        self.created: int = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="provisioner", daemon=True)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.provision()
                self.reclaim()
            except Exception as err:  # keep serving; the errors are in the node's report
                self.errors.append(repr(err))

    def provision(self) -> None:
        for claim in self.api.get("/api/v1/persistentvolumeclaims")["items"]:
            meta = claim["metadata"]
            if (meta.get("annotations") or {}).get(ANNOTATION) != PROVISIONER:
                continue
            if claim.get("status", {}).get("phase") != "Pending" or claim["spec"].get("volumeName"):
                continue
            path = self.root / f"{meta['namespace']}-{meta['name']}-{meta['uid'][:8]}"
            path.mkdir(mode=0o755, exist_ok=True)
            code, body = self.api.call("POST", "/api/v1/persistentvolumes", _pv(claim, path, self.nodes))
            if code == 201:
                self.created += 1
            elif code != 409:
                self.errors.append(f"creating the volume of {meta['namespace']}/{meta['name']}: {code} {body}")

    def reclaim(self) -> None:
        for pv in self.api.get("/api/v1/persistentvolumes")["items"]:
            ann = pv["metadata"].get("annotations") or {}
            if ann.get("pv.kubernetes.io/provisioned-by") != PROVISIONER:
                continue
            if pv.get("status", {}).get("phase") == "Released" and \
                    pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
                with contextlib.suppress(OSError):
                    shutil.rmtree(pv["spec"]["local"]["path"])
                self.api.call("DELETE", f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
