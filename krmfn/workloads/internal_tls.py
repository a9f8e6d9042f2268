"""spec.internalTLS → mutual TLS on the gRPC between components, with upstream's own flags.

Servers (multipooler, multiorch, multigateway) take `--grpc-cert`, `--grpc-key` and `--grpc-ca`
(go/common/servenv/grpc_server.go: with the CA set, a client certificate signed by it is required).
Callers (multiorch, multigateway, multiadmin: the binaries that register upstream's rpcclient
flags, go/common/rpcclient/conn_cache.go) take `--multipooler-grpc-cert/-key/-ca` for every gRPC
dial they make (poolers, gateway-to-gateway cancels, multiadmin → multiorch and gateways) and
`--multipooler-grpc-server-name`: gateways, multiorch and multiadmin register their pod IP, which
no certificate can name in advance, so every caller verifies one fixed name instead.

Left in plain text, because upstream's own callers cannot speak TLS to them at the pinned commit:
multiadmin's gRPC server (the `multigres` CLI, which the backup CronJob uses, dials it with
insecure credentials: go/cmd/multigres/command/admin/client.go) and pgctld's (multipooler dials it
on localhost with insecure credentials: go/services/multipooler/internal/manager/manager.go).
"""

from __future__ import annotations

from .. import defaults

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import InternalTLSRef

VOLUME = "internal-tls"
CA, CERT, KEY = (f"{defaults.INTERNAL_CERT_DIR}/{k}" for k in defaults.INTERNAL_CERT_KEYS)


def server_flags(tls: InternalTLSRef | None) -> list[str]:
    """The gRPC server's certificate, key, and the CA its callers' certificates must chain to."""
    if tls is None:
        return []
    return [f"--grpc-cert={CERT}", f"--grpc-key={KEY}", f"--grpc-ca={CA}"]


def client_flags(tls: InternalTLSRef | None) -> list[str]:
    """The caller's certificate and key (mutual TLS), the CA it verifies servers with, and the one
    name every server's certificate carries."""
    if tls is None:
        return []
    return [f"--multipooler-grpc-cert={CERT}", f"--multipooler-grpc-key={KEY}", f"--multipooler-grpc-ca={CA}",
            f"--multipooler-grpc-server-name={tls.server_name}"]


def volume(tls: InternalTLSRef) -> dict[str, Any]:
    """The Secret's three files, group-readable (the pods' fsGroup). Mounted as a directory (no
    subPath), so a renewed Secret reaches the files; upstream reads them at start only, so a
    component uses the new certificate once it restarts (docs/security.md, "Rotation")."""
    return {"name": VOLUME, "secret": {"secretName": tls.secret_name, "defaultMode": 0o440,
                                       "items": [{"key": k, "path": k} for k in defaults.INTERNAL_CERT_KEYS]}}


def mount() -> dict[str, Any]:
    return {"name": VOLUME, "mountPath": defaults.INTERNAL_CERT_DIR, "readOnly": True}


def add_to(container: dict[str, Any], volumes: list[dict[str, Any]], tls: InternalTLSRef | None) -> None:
    """Mount the Secret into `container` and list its volume in `volumes` (the pod's)."""
    if tls is None:
        return
    container["volumeMounts"].append(mount())
    volumes.append(volume(tls))
