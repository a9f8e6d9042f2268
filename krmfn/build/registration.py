"""Topology registration: a Job that writes every Cell and Database record into the global topo.

`multigres createclustermetadata` cannot express the seed (it registers one database named
`postgres` and puts every cell on the global etcd), so the records are encoded here
(topo_records.py) and written with `etcdctl put` from the etcd image, one init container per
record (the image has no shell). Writing the desired records on every run is declarative. The
Job's name carries a digest of what it writes: a Job's pod template is immutable, so new records
make a new Job, and the GitOps tool prunes the old one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import defaults, naming
from ..results import ResourceRef, error
from . import meta, topo_records
from .meta import BuildContext, ClusterView


def record_host(service: str, namespace: str | None, cluster_domain: str) -> str:
    """A Service address written into a record: no `$(VAR)` there, so the short name without a namespace."""
    return f"{service}.{namespace}.svc.{cluster_domain}" if namespace else service


def _record_address(ref: dict[str, Any], namespace: str | None, ctx: BuildContext) -> str:
    if ref.get("clientServiceName"):
        host = record_host(ref["clientServiceName"], namespace, ctx.cluster_domain)
        return f"{host}:{defaults.PORTS['etcd']['client']}"
    return str(ref.get("address", ""))


def cell_records(view: ClusterView, ctx: BuildContext) -> list[tuple[str, str, bytes]]:
    """(cell, key, value) of every cell whose registerCell is true; each holds its own topo.

    The root is the resolve stage's: a cell on the global etcd gets `<global-root>/<cell>`, as
    upstream's createclustermetadata does, so such cells never share a directory.
    """
    root = view.global_topo["rootPath"].rstrip("/")
    out = []
    for reg in view.cell_registrations:
        if not reg.get("register", True):
            continue
        if reg.get("clientServiceName"):
            addresses = [_record_address(reg, view.namespace, ctx)]
        elif reg.get("addresses"):
            addresses = [str(a) for a in reg["addresses"]]
        else:
            addresses = [_record_address(view.global_topo, view.namespace, ctx)]
        value = topo_records.cell(reg["name"], addresses, reg["root"])
        out.append((reg["name"], f"{root}/cells/{reg['name']}/Cell", value))
    return out


def database_cells(db: dict[str, Any], cell_order: list[str]) -> list[str]:
    """The cells hosting the database's pools, in the cluster's cell order."""
    used = {str(p["cell"]) for tg in db.get("tableGroups") or [] for p in tg.get("pools") or []}
    return [c for c in cell_order if c in used] + sorted(used - set(cell_order))


def database_records(view: ClusterView) -> list[tuple[str, str, bytes]]:
    root = view.global_topo["rootPath"].rstrip("/")
    order = [str(r["name"]) for r in view.cell_registrations]
    return [(db["name"], f"{root}/databases/{db['name']}/Database",
             topo_records.database(db["name"], db["backupLocation"], database_cells(db, order),
                                   db["durabilityPolicy"]))
            for db in view.databases]


def as_arg(value: bytes) -> str | None:
    """The record as a container argument: valid UTF-8 without NUL, `$` escaped from expansion."""
    if b"\x00" in value:
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.replace("$", "$$")


def build_registration(view: ClusterView, ctx: BuildContext) -> list[dict[str, Any]]:
    endpoint = meta.topo_address(view.global_topo, view.namespace, ctx)
    etcdctl = [defaults.ETCDCTL_BIN, f"--endpoints={endpoint}"]
    ref = ResourceRef(naming.API_VERSION, "MultigresCluster", view.name, view.namespace)
    init, used = [], set()
    records = [("cell", n, k, v, "spec.cells.templates") for n, k, v in cell_records(view, ctx)]
    records += [("database", n, k, v, "spec.databases.templates") for n, k, v in database_records(view)]
    for kind, name, key, value, path in records:
        arg = as_arg(value)
        if arg is None:
            ctx.results.append(error(
                f"the topology record of {kind} {name!r} does not fit in a container argument (its protobuf "
                "bytes are not valid UTF-8, usually a name or address of 128 characters or more); shorten it.",
                path, ref))
            continue
        cname = naming.container_name(kind, name)
        if cname in used:
            cname = naming.container_name(kind, str(len(init)), name)
        used.add(cname)
        init.append(meta.container(cname, view.topo_image, etcdctl[:1], [*etcdctl[1:], "put", key, arg],
                                   view.pull, resources=defaults.REGISTRATION_RESOURCES))
    root = view.global_topo["rootPath"].rstrip("/")
    show = meta.container("list-records", view.topo_image, etcdctl[:1],
                          [*etcdctl[1:], "get", "--prefix", "--keys-only", f"{root}/"], view.pull,
                          resources=defaults.REGISTRATION_RESOURCES)
    digest = hashlib.sha256(json.dumps([c["args"] for c in init + [show]] + [view.topo_image]).encode()).hexdigest()
    labels = naming.labels(view.name, "topo-registration")
    extra = {}
    if view.global_topo.get("clientServiceName") and view.namespace:
        # kpt needs the namespace in the reference; without one, Argo's sync wave still orders it.
        sts = naming.topo_statefulset(naming.global_topo_name(view.name))
        extra[meta.DEPENDS_ON] = meta.depends_on("apps", view.namespace, "StatefulSet", sts)
    job = meta.obj("batch/v1", "Job",
                   meta.metadata(naming.registration_job(view.name, digest), view, labels,
                                 meta.WAVES["registration"], extra), {
        "backoffLimit": defaults.REGISTRATION_BACKOFF_LIMIT,
        "template": {"metadata": {"labels": dict(labels)},
                     "spec": meta.pod_spec([show], view.pull, defaults.NONROOT_UID, init_containers=init,
                                           restart_policy="OnFailure")},
    })
    return [job]
