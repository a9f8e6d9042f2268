"""Topology registration: a Job that writes every Cell and Database record into the global topo.

`multigres createclustermetadata` cannot express the design's example (it registers one database named
`postgres` and puts every cell on the global etcd), so the records are encoded here
(topo_records.py), shipped in a ConfigMap's binaryData, and written by a small bash script on the
multigres image through etcd's JSON gateway (the etcd image has no shell); an etcdctl container
reads them back. With spec.topoTLS, etcd requires a client certificate, which bash cannot present:
the records are then written (and the gateways wait) by `multigres-krmfn-etcd` (krmfn_etcd/), a
small stdlib-only HTTPS client on the function's own image, and etcdctl reads them back with the
certificate. Writing the desired records on every run is declarative. The
Job's name carries a digest of what it writes: a Job's pod template is immutable, so new records
make a new Job, and the GitOps tool prunes the old one (the cluster's placement, which its pod
carries, is in the digest for the same reason).
"""

from __future__ import annotations

import base64

from .. import defaults, naming
from ..merge import json_text
from . import objects, topo_records, topo_tls

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import GlobalTopoRef, TopoTLSRef
    from ..resolve.facts import DatabaseFacts
    from .context import ClusterContext


def record_host(service: str, namespace: str | None, cluster_domain: str) -> str:
    """A Service address written into a record: no `$(VAR)` there, so the short name without a namespace."""
    return f"{service}.{namespace}.svc.{cluster_domain}" if namespace else service


def _service_address(service: str, namespace: str | None, ctx: ClusterContext) -> str:
    return f"{record_host(service, namespace, ctx.cluster_domain)}:{defaults.PORTS['etcd']['client']}"


def _record_address(ref: GlobalTopoRef, namespace: str | None, ctx: ClusterContext) -> str:
    if ref.client_service_name:
        return _service_address(ref.client_service_name, namespace, ctx)
    return ref.address or ""


def cell_key(global_root: str, cell: str) -> str:
    """Where a Cell record lives in the global topo (upstream's `<root>/cells/<cell>/Cell`)."""
    return f"{global_root.rstrip('/')}/cells/{cell}/Cell"


def cell_records(ctx: ClusterContext) -> list[tuple[str, str, bytes]]:
    """(cell, key, value) of every cell whose registerCell is true; each holds its own topo.

    The root is the resolve stage's: a cell on the global etcd gets `<global-root>/<cell>`, as
    upstream's createclustermetadata does, so such cells never share a directory.
    """
    root = ctx.global_topo.root_path.rstrip("/")
    out = []
    for reg in ctx.cells:
        if not reg.register:
            continue
        if reg.client_service_name:
            addresses = [_service_address(reg.client_service_name, ctx.namespace, ctx)]
        elif reg.addresses:
            addresses = list(reg.addresses)
        else:
            addresses = [_record_address(ctx.global_topo, ctx.namespace, ctx)]
        value = topo_records.cell(reg.name, addresses, reg.root)
        out.append((reg.name, cell_key(root, reg.name), value))
    return out


def database_cells(db: DatabaseFacts, cell_order: list[str]) -> list[str]:
    """The cells hosting the database's pools, in the cluster's cell order."""
    used = {p.cell for tg in db.table_groups for p in tg.pools}
    return [c for c in cell_order if c in used] + sorted(used - set(cell_order))


def database_records(ctx: ClusterContext) -> list[tuple[str, str, bytes]]:
    root = ctx.global_topo.root_path.rstrip("/")
    order = [r.name for r in ctx.cells]
    return [(db.name, f"{root}/databases/{db.name}/Database",
             topo_records.database(db.name, db.backup.dump(), database_cells(db, order), db.durability_policy))
            for db in ctx.databases]


SCRIPT = "register.sh"

# Runs on the multigres image (bash, coreutils): the etcd image has no shell, and a record's bytes
# cannot travel as a container argument (a length byte >= 0x80 is not UTF-8). It waits for etcd's
# /health, then writes each record file through etcd's JSON gateway (POST /v3/kv/put with base64 key
# and value, served on the client port by etcd 3.4+), over bash's /dev/tcp.
# The pieces of the two bash scripts below (the registration Job's, and the gateways' wait).
ENDPOINT = 'endpoint="${1#*://}"; endpoint="${endpoint%%,*}"\n'
HOST_PORT = 'host="${endpoint%:*}"; port="${endpoint##*:}"; host="${host#[}"; host="${host%]}"\n'
# bash's /dev/tcp has no timeout: a connection whose packets vanish waits for the kernel to give up
# (about 2 min; seen on the node, a gateway's wait stalled that long in a namespace just recreated).
# So each request runs in its own bash under coreutils' `timeout -s KILL`, which signals the whole
# process group (the `cat` reading the socket too); the callers' loops retry. SIGKILL because bash
# defers a caught SIGTERM while it waits for `cat`.
REQUEST_TIMEOUT_SECONDS = 10
REQUEST = r"""request_once() (  # METHOD PATH BODY: print the response body; fail unless etcd answers 200
  exec 3<>"/dev/tcp/$host/$port"
  printf '%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n' "$1" "$2" "$host" >&3
  printf 'Content-Length: %d\r\nConnection: close\r\n\r\n%s' "${#3}" "$3" >&3
  response="$(cat <&3)"
  status="${response%%$'\r'*}"
  [[ "$status" =~ ^HTTP/[0-9.]+\ 200 ]] || { echo "$1 $2: ${status:-no answer}" >&2; exit 1; }
  printf '%s\n' "${response#*$'\r\n\r\n'}"
)
request() {  # METHOD PATH BODY, given up after @TIMEOUT@ s
  host="$host" port="$port" timeout -s KILL @TIMEOUT@ bash -c "$(declare -f request_once)"'
request_once "$@"' request "$@"
}
""".replace("@TIMEOUT@", str(REQUEST_TIMEOUT_SECONDS))
WAIT_HEALTHY = r"""healthy='"health"[[:space:]]*:[[:space:]]*"true"'
until [[ "$(request GET /health '' 2> /dev/null)" =~ $healthy ]]; do
  echo "waiting for etcd at $host:$port"
  sleep 2
done
"""

SCRIPT_HEAD = ("#!/bin/bash\n"
               '# Topology registration, rendered by multigres-krmfn (docs/workloads.md "Topology registration").\n'
               "set -euo pipefail\n" + ENDPOINT + 'dir="$(dirname "$0")"\n' + HOST_PORT + "\n" + REQUEST + "\n"
               + r"""put() {  # KEY FILE
  local body
  body="{\"key\":\"$(printf '%s' "$1" | base64 -w0)\",\"value\":\"$(base64 -w0 < "$2")\"}"
  request POST /v3/kv/put "$body" > /dev/null
  echo "put $1"
}
""" + "\n" + WAIT_HEALTHY)

# A gateway's init container (bash -c on the multigres image; ENDPOINT KEY [CELL_ENDPOINT]): until
# its Cell record is in the global topo (etcd's POST /v3/kv/range lists `kvs` only when the key
# exists), and the cell's own etcd, when it has one, is healthy. multigateway gives up registering
# after 10 s (go/services/multigateway/init.go) and the kubelet's restarts back off for minutes;
# waiting here lets it start once registration can succeed.
WAIT_FOR_CELL = ("set -euo pipefail\n" + ENDPOINT + HOST_PORT + REQUEST
                 + r"""body="{\"key\":\"$(printf '%s' "$2" | base64 -w0)\"}"
until [[ "$(request POST /v3/kv/range "$body" 2> /dev/null)" == *'"kvs"'* ]]; do
  echo "waiting for $2 at $host:$port (the topology registration Job writes it)"
  sleep 2
done
echo "found $2"
if [[ -n "${3:-}" ]]; then
""" + ENDPOINT.replace("${1#", "${3#") + HOST_PORT + WAIT_HEALTHY + "fi\n")


# shlex's `[^\w@%+=:,./-]` (ASCII) as a set: compiling it was start-up cost (docs/performance.md).
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def shell_quote(text: str) -> str:
    """`shlex.quote` (the same text; CPython's Lib/shlex.py), without importing shlex at start-up."""
    if not text:
        return "''"
    if _SAFE.issuperset(text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


def script(keys: list[str]) -> str:
    """The registration script: the fixed head, then one `put` per record file."""
    lines = [f'put {shell_quote(key)} "$dir/record-{i}"' for i, key in enumerate(keys)]
    return SCRIPT_HEAD + "\n".join(lines) + "\n"


def records_configmap(ctx: ClusterContext, records: list[tuple[str, bytes]], labels: dict[str, str],
                      digest: str) -> dict[str, Any]:
    """The records as binaryData (any bytes, any length) and the script that writes them."""
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": objects.metadata(naming.registration_configmap(ctx.name, digest), ctx.metadata, labels,
                                       objects.WAVES["registration"]),
          "data": {SCRIPT: script([k for k, _ in records])},
          "binaryData": {f"record-{i}": base64.b64encode(v).decode() for i, (_, v) in enumerate(records)}}
    return cm


TLS_CLIENT = "multigres-krmfn-etcd"  # krmfn_etcd/, on the function's image (spec.topoTLS)


def tls_client_args(tls: TopoTLSRef) -> list[str]:
    """The TLS client's certificate flags, the files topo_tls mounts."""
    return [f"--cacert={topo_tls.CA}", f"--cert={topo_tls.CERT}", f"--key={topo_tls.KEY}"]


def _register_container(ctx: ClusterContext, endpoint: str, keys: list[str],
                        mount: dict[str, Any]) -> dict[str, Any]:
    """bash over /dev/tcp in plain text; the function image's TLS client with spec.topoTLS."""
    tls = ctx.global_topo.tls
    if tls is None:
        return objects.container("register", ctx.images.multiadmin, ["/bin/bash"],
                                 [f"{defaults.REGISTRATION_MOUNT}/{SCRIPT}", endpoint], ctx.pull,
                                 resources=defaults.REGISTRATION_RESOURCES, mounts=[mount])
    pairs = [x for i, key in enumerate(keys) for x in (key, f"{defaults.REGISTRATION_MOUNT}/record-{i}")]
    return objects.container("register", tls.client_image, [TLS_CLIENT],
                             [*tls_client_args(tls), "put", endpoint, *pairs], ctx.pull,
                             resources=defaults.REGISTRATION_RESOURCES, mounts=[mount, topo_tls.mount()])


def build_registration(ctx: ClusterContext) -> list[dict[str, Any]]:
    endpoint = objects.topo_address(ctx.global_topo, ctx.namespace, ctx)
    records = [(k, v) for _, k, v in cell_records(ctx)] + [(k, v) for _, k, v in database_records(ctx)]
    root = ctx.global_topo.root_path.rstrip("/")
    tls = ctx.global_topo.tls
    image = ctx.images.multiadmin if tls is None else tls.client_image
    digest = naming.sha256_hex(json_text([[k, base64.b64encode(v).decode()] for k, v in records]
                                          + [script([k for k, _ in records]), endpoint, image,
                                             ctx.topo_image] + ([ctx.placement] if ctx.placement else [])
                                          + ([tls.dump()] if tls else [])).encode())
    labels = naming.labels(ctx.name, "topo-registration")
    configmap = records_configmap(ctx, records, labels, digest)
    mount = {"name": "records", "mountPath": defaults.REGISTRATION_MOUNT, "readOnly": True}
    register = _register_container(ctx, endpoint, [k for k, _ in records], mount)
    # Read back with etcdctl, so the Job's log lists what the topo holds.
    url = f"https://{endpoint}" if tls is not None and "://" not in endpoint else endpoint
    show = objects.container("list-records", ctx.topo_image, [defaults.ETCDCTL_BIN],
                          [f"--endpoints={url}", *topo_tls.etcdctl_flags(tls), "get", "--prefix", "--keys-only",
                           f"{root}/"], ctx.pull, resources=defaults.REGISTRATION_RESOURCES,
                          mounts=[topo_tls.mount()] if tls is not None else None)
    extra = {}
    if ctx.global_topo.client_service_name and ctx.namespace:
        # kpt needs the namespace in the reference; without one, Argo's sync wave still orders it.
        sts = naming.topo_statefulset(naming.global_topo_name(ctx.name))
        extra[objects.DEPENDS_ON] = objects.depends_on("apps", ctx.namespace, "StatefulSet", sts)
    volumes = [{"name": "records", "configMap": {"name": configmap["metadata"]["name"], "defaultMode": 0o444}}]
    volumes += [topo_tls.volume(tls)] if tls is not None else []
    job = objects.obj("batch/v1", "Job",
                   objects.metadata(naming.registration_job(ctx.name, digest), ctx.metadata, labels,
                                 objects.WAVES["registration"], extra), {
        "backoffLimit": defaults.REGISTRATION_BACKOFF_LIMIT,
        "activeDeadlineSeconds": defaults.REGISTRATION_DEADLINE_SECONDS,
        "template": {"metadata": {"labels": dict(labels)},
                     "spec": objects.pod_spec([show], ctx.pull, defaults.NONROOT_UID, init_containers=[register],
                                           restart_policy="OnFailure", volumes=volumes, placement=ctx.placement)},
    })
    return [configmap, job]


def wait_for_cell_container(global_topo: GlobalTopoRef, cell: str, cell_topo_service: str | None,
                            namespace: str | None, ctx: ClusterContext, pull: dict[str, Any],
                            image: str) -> dict[str, Any]:
    """A gateway's init container: waits for the cell's record (and the cell's own etcd, when
    rendered) so that multigateway's 10-second registration starts when it can succeed. With
    spec.topoTLS, the function image's TLS client does the same with the client certificate (the
    pod mounts the Secret for multigateway anyway)."""
    args = [objects.topo_address(global_topo, namespace, ctx), cell_key(global_topo.root_path, cell)]
    if cell_topo_service:
        host = objects.service_host(cell_topo_service, namespace, ctx.cluster_domain)
        args.append(f"{host}:{defaults.PORTS['etcd']['client']}")
    tls = global_topo.tls
    if tls is not None:
        return objects.container("wait-for-cell", tls.client_image, [TLS_CLIENT],
                                 [*tls_client_args(tls), "wait-for-cell", *args], pull,
                                 resources=defaults.REGISTRATION_RESOURCES, mounts=[topo_tls.mount()])
    return objects.container("wait-for-cell", image, ["/bin/bash"], ["-c", WAIT_FOR_CELL, "wait-for-cell", *args],
                             pull, resources=defaults.REGISTRATION_RESOURCES)
