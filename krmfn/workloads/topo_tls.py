"""spec.topoTLS → TLS with client certificates between every component and the managed etcd.

etcd serves its client port over TLS and requires a certificate from the CA (etcd's own
`--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`); the metrics and health
listener (`--listen-metrics-urls`, port 2381) stays plain HTTP so the kubelet's probes and the
monitoring scrape keep working, and the peer port stays plain (docs/security.md "etcd TLS").
Every Multigres component takes upstream's process-wide client flags `--topo-etcd-tls-cert`,
`--topo-etcd-tls-key` and `--topo-etcd-tls-ca` (go/common/topoclient/etcdtopo/store.go: the
certificate and key turn TLS on). One Secret serves etcd and every client.
"""

from __future__ import annotations

from .. import defaults

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import TopoTLSRef

VOLUME = "topo-tls"
CA, CERT, KEY = (f"{defaults.TOPO_CERT_DIR}/{k}" for k in defaults.TOPO_CERT_KEYS)


def scheme(tls: TopoTLSRef | None) -> str:
    return "http" if tls is None else "https"


def server_flags(tls: TopoTLSRef | None) -> list[str]:
    """etcd's server TLS on the client port; with --client-cert-auth a client needs a certificate
    signed by the trusted CA (also asked of the JSON gateway on the same port)."""
    if tls is None:
        return []
    return [f"--cert-file={CERT}", f"--key-file={KEY}", f"--trusted-ca-file={CA}", "--client-cert-auth"]


def client_flags(tls: TopoTLSRef | None) -> list[str]:
    """Upstream's etcd client flags: certificate and key (they turn TLS on) and the CA it verifies
    every etcd with."""
    if tls is None:
        return []
    return [f"--topo-etcd-tls-cert={CERT}", f"--topo-etcd-tls-key={KEY}", f"--topo-etcd-tls-ca={CA}"]


def etcdctl_flags(tls: TopoTLSRef | None) -> list[str]:
    """etcdctl's global TLS flags (the registration Job reads the records back with it)."""
    if tls is None:
        return []
    return [f"--cacert={CA}", f"--cert={CERT}", f"--key={KEY}"]


def volume(tls: TopoTLSRef) -> dict[str, Any]:
    """The Secret's three files, group-readable (the pods' fsGroup). Mounted as a directory (no
    subPath), so a renewed Secret reaches the files (docs/security.md "Rotation")."""
    return {"name": VOLUME, "secret": {"secretName": tls.secret_name, "defaultMode": 0o440,
                                       "items": [{"key": k, "path": k} for k in defaults.TOPO_CERT_KEYS]}}


def mount() -> dict[str, Any]:
    return {"name": VOLUME, "mountPath": defaults.TOPO_CERT_DIR, "readOnly": True}


def add_to(container: dict[str, Any], volumes: list[dict[str, Any]], tls: TopoTLSRef | None) -> None:
    """Mount the Secret into `container` and list its volume in `volumes` (the pod's), once."""
    if tls is None:
        return
    container.setdefault("volumeMounts", []).append(mount())
    if not any(v["name"] == VOLUME for v in volumes):
        volumes.append(volume(tls))
