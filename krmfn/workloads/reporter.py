"""MultigresCluster → the status reporter: a Deployment of the function's own image running
`multigres-krmfn-status` (krmfn_status/), its ServiceAccount, and a Role that allows exactly what
it does: read the workloads, pods and the six kinds of its namespace, and write their `status`
subresource (never `spec`: the Role names only `<kind>/status` for writing).

Rendered when the `statusReporter` option asks for it; cluster-level, so built from the context.
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from .context import ClusterContext

KINDS = ("multigresclusters", "multigresdeploymenttemplates", "toposervers", "multicells", "multitablegroups",
         "multishards")
READ = ["get", "list", "watch"]
RBAC = "rbac.authorization.k8s.io/v1"


def rules() -> list[dict[str, Any]]:
    """The reporter's permissions: reads of what it watches, writes of the status subresource only
    (`patch` for server-side apply, `update` for a plain replace of the status; `get` on it too,
    which reads nothing the object read does not, since clients such as `kubectl patch
    --subresource=status` read the subresource first)."""
    return [
        {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": READ},
        {"apiGroups": [naming.GROUP], "resources": list(KINDS), "verbs": READ},
        {"apiGroups": [naming.GROUP], "resources": [f"{kind}/status" for kind in KINDS],
         "verbs": ["get", "patch", "update"]},
    ]


def build_status_reporter(ctx: ClusterContext, image: str) -> list[dict[str, Any]]:
    name = naming.status_reporter_name(ctx.name)
    labels = naming.labels(ctx.name, "status-reporter")
    wave = objects.WAVES["server"]
    admin = f"http://{naming.multiadmin_name(ctx.name)}:{defaults.PORTS['multiadmin']['http']}"
    args = [f"--cluster={ctx.name}", "--namespace=$(POD_NAMESPACE)", f"--multiadmin-url={admin}"]
    container = objects.container("status-reporter", image, ["multigres-krmfn-status"], args, ctx.pull,
                                  resources=defaults.STATUS_REPORTER_RESOURCES)
    deployment = objects.deployment(objects.metadata(name, ctx.metadata, labels, wave), labels, 1, [container],
                                    ctx.pull, defaults.FUNCTION_IMAGE_UID, [])
    pod = deployment["spec"]["template"]["spec"]
    pod["automountServiceAccountToken"] = True  # the one pod that talks to the API server
    pod["serviceAccountName"] = name
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": objects.metadata(name, ctx.metadata, labels,
                                                                                           wave)}
    role = {"apiVersion": RBAC, "kind": "Role", "metadata": objects.metadata(name, ctx.metadata, labels, wave),
            "rules": rules()}
    binding = {"apiVersion": RBAC, "kind": "RoleBinding",
               "metadata": objects.metadata(name, ctx.metadata, labels, wave),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": [_subject(name, ctx.namespace)]}
    return [account, role, binding, deployment]


def _subject(name: str, namespace: str | None) -> dict[str, Any]:
    """The ServiceAccount as a RoleBinding subject; without a namespace yet, the binding's own
    (kpt and kubectl fill an unset namespace of both alike)."""
    subject = {"kind": "ServiceAccount", "name": name}
    return {**subject, "namespace": namespace} if namespace else subject
