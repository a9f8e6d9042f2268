"""Build stage: one child CR in, Kubernetes objects out (docs/design.md, "Stages").

Each builder reads one child CR (plus render options in a BuildContext) and nothing else; the
multiadmin and registration builders read a small view of the cluster itself. Output order is
fixed: global topo, registration, multiadmin, then every other child in resolve order.
"""

from __future__ import annotations

import json
from typing import Any

from .. import defaults, naming
from ..results import ResourceRef, Result, warning
from .admin import build_multiadmin
from .cell import build_multicell
from .certificate import build_certificate
from .objects import BuildContext, ClusterView
from .registration import build_registration
from .shard import build_multishard
from .tablegroup import build_multitablegroup
from .topo import build_topo_server

BUILDERS = {
    "TopoServer": build_topo_server,
    "MultiCell": build_multicell,
    "MultiTableGroup": build_multitablegroup,
    "MultiShard": build_multishard,
}


def cluster_view(resolved: Any) -> ClusterView:
    """The cluster-level facts multiadmin and registration need, shaped like a child CR."""
    meta: dict[str, Any] = {"name": resolved.name}
    if resolved.namespace:
        meta["namespace"] = resolved.namespace
    meta["labels"] = naming.labels(resolved.name)
    meta["annotations"] = {naming.GENERATED_FROM: f"{resolved.namespace or ''}/{resolved.name}"}
    global_topo = [c for c in resolved.of_kind("TopoServer")
                   if c["metadata"]["name"] == naming.global_topo_name(resolved.name)]
    image = global_topo[0]["spec"]["image"] if global_topo else defaults.ETCD_IMAGE
    return ClusterView(metadata=meta, images=dict(resolved.images), pull=dict(resolved.pull),
                       multiadmin=resolved.multiadmin, global_topo=dict(resolved.global_topo),
                       topo_image=image, cell_registrations=list(resolved.cell_registrations),
                       databases=list(resolved.databases),
                       pgbackrest_tls_secret=resolved.pgbackrest_tls_secret,
                       cert_manager_issuer=resolved.cert_manager_issuer)


def _secrets_by_name(items: list[Any]) -> dict[str, list[Any]]:
    secrets: dict[str, list[Any]] = {}
    for item in items:
        if item.kind == "Secret" and item.api_version == "v1":
            secrets.setdefault(item.name, []).append(item)
    return secrets


# (child spec field, dotted, keys the pods read, what the Secret is, how to make it)
_SECRETS = [
    ("postgresPasswordSecret", (defaults.PASSWORD_KEY,), "the postgres password",
     "`kubectl create secret generic {name} --from-literal=" + defaults.PASSWORD_KEY + "=...`, or add it to the "
     "package with a secret manager"),
    ("pgbackrestTLSSecret", tuple(defaults.PGBACKREST_CERT_FILES), "pgBackRest's TLS CA, certificate and key",
     "`scripts/make-pgbackrest-tls.sh {cluster} {namespace}` (README \"pgBackRest TLS\"), or set "
     "spec.pgbackrestTLS.certManager.issuerRef on the cluster"),
    ("backup.s3.credentialsSecret", defaults.S3_CREDENTIAL_KEYS[:2], "S3 credentials for pgBackRest",
     "`kubectl create secret generic {name} --from-literal=AWS_ACCESS_KEY_ID=... "
     "--from-literal=AWS_SECRET_ACCESS_KEY=...`"),
]


def _field(spec: dict[str, Any], dotted: str) -> Any:
    value: Any = spec
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def check_secrets(children: list[dict[str, Any]], items: list[Any],
                  rendered: set[tuple[str | None, str]] | None = None) -> list[Result]:
    """Secrets are referenced, never generated: warn when one the pooler pods mount is not an input.

    A Secret that a rendered cert-manager Certificate writes (`rendered`) counts as present.
    """
    secrets = _secrets_by_name(items)
    rendered = rendered or set()
    out, seen = [], set()
    for child in children:
        spec = child.get("spec") or {}
        ns = (child.get("metadata") or {}).get("namespace")
        for field, keys, what, how in _SECRETS:
            name = _field(spec, field)
            if child["kind"] != "MultiShard" or not name or (ns, name) in seen or (ns, name) in rendered:
                continue
            seen.add((ns, name))
            found = [s for s in secrets.get(name, []) if s.namespace in (None, ns)]
            where = f" in namespace {ns!r}" if ns else ""
            ref = ResourceRef.of(child)
            if not found:
                make = how.format(name=name, cluster=naming.cluster_of(child), namespace=ns or "NAMESPACE")
                out.append(warning(
                    f"Secret {name!r}{where} (key{'s' if len(keys) > 1 else ''} {', '.join(map(repr, keys))}: "
                    f"{what}) is not among the inputs; the "
                    f"pooler pods will not start until it exists. Create it outside Git, e.g. {make}.",
                    f"spec.{field}", ref))
                continue
            missing = [k for k in keys if not any(k in ((s.obj.get("data") or {}) | (s.obj.get("stringData") or {}))
                                                  for s in found)]
            if missing:
                out.append(warning(f"Secret {name!r} has no key {', '.join(repr(k) for k in missing)}; the pooler "
                                   f"pods read {what} from it.", f"spec.{field}", ref))
    return out


def build_all(resolved: Any, options: Any, rl: Any) -> tuple[list[dict[str, Any]], list[Result]]:
    """Workloads of every child of one resolved cluster, and what building them found."""
    ctx = BuildContext(cluster_domain=getattr(options, "cluster_domain", "cluster.local"))
    view = cluster_view(resolved)
    global_name = naming.global_topo_name(resolved.name)
    children = list(resolved.children)
    first = [c for c in children if c["kind"] == "TopoServer" and c["metadata"]["name"] == global_name]
    rest = [c for c in children if c not in first]
    objects: list[dict[str, Any]] = []
    for child in first:
        objects += build_topo_server(child, ctx)
    objects += build_registration(view, ctx)
    objects += build_multiadmin(view, ctx)
    objects += build_certificate(view, [c for c in children if c["kind"] == "MultiShard"], ctx)
    for child in rest:
        builder = BUILDERS.get(child["kind"])
        if builder is not None:
            objects += builder(child, ctx)
    rendered = {(o["metadata"].get("namespace"), o["spec"]["secretName"]) for o in objects
                if o["kind"] == "Certificate"}
    results = ctx.results + check_secrets(children, getattr(rl, "items", []), rendered)
    # Builders share sub-dicts (resources, selectors) with their child CRs; a JSON round trip
    # makes every object independent, so no YAML anchors appear and no edit leaks between objects.
    return json.loads(json.dumps(objects)), results
