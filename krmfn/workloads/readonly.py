"""MultigresCluster → a ValidatingAdmissionPolicy and its binding that keep the child kinds'
`spec` read-only for everyone but the identities that apply the render.

The design says the children are read-only for users: they are generated from the
MultigresCluster, and an edit would be overwritten by the next render (or fight it). The policy
refuses an UPDATE of a TopoServer, MultiCell, MultiTableGroup or MultiShard of this cluster whose
`spec` differs from the stored one, unless the request's user is a spec writer.

What the policy can tell apart: a ValidatingAdmissionPolicy's CEL sees `object`, `oldObject`,
`request` (an AdmissionRequest: `request.userInfo.username` and `.groups`, `request.subResource`,
`request.operation`, ...), `params`, `namespaceObject`, `authorizer` and `variables`. It does not
see the field manager (`kubectl --field-manager=kpt` is a name any client may claim), so the
allowed identities are users: Argo CD's application controller ServiceAccount, or whatever
account kpt/kubectl apply with in a pipeline. Status writes go to the `status` subresource,
which the policy's rules do not name, so the status reporter is never refused.
"""

from __future__ import annotations

from .. import naming
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from .context import ClusterContext

API = "admissionregistration.k8s.io/v1"
CHILD_RESOURCES = ["toposervers", "multicells", "multitablegroups", "multishards"]


def _cel_list(values: list[str]) -> str:
    """A CEL list literal of strings (single-quoted; a quote or backslash in a name is escaped)."""
    escaped = ("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
    return "[" + ", ".join(escaped) + "]"


def _message_expression(cluster: str) -> str:
    return ("object.kind + ' ' + object.metadata.name + ' is generated from MultigresCluster "
            f"{cluster}" + " and its spec is read-only: edit the MultigresCluster " + f"{cluster}" +
            " (or its templates) and render again; ' + request.userInfo.username + ' may not change it'")


def build_read_only_policy(ctx: ClusterContext, writers: list[str]) -> list[dict[str, Any]]:
    name = naming.read_only_policy_name(ctx.namespace, ctx.name)
    labels = naming.labels(ctx.name, "read-only-children")
    meta = objects.metadata(name, ctx.metadata, labels, objects.WAVES["topo"])
    meta.pop("namespace", None)  # both objects are cluster-scoped
    policy = {"apiVersion": API, "kind": "ValidatingAdmissionPolicy", "metadata": meta, "spec": {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": [{
            "apiGroups": [naming.GROUP], "apiVersions": ["v1alpha1"], "operations": ["UPDATE"],
            "resources": list(CHILD_RESOURCES)}]},
        "matchConditions": [{"name": "not-a-spec-writer",
                             "expression": f"!(request.userInfo.username in {_cel_list(writers)})"}],
        "validations": [{"expression": "object.spec == oldObject.spec", "reason": "Forbidden",
                         "messageExpression": _message_expression(ctx.name)}],
    }}
    match: dict[str, Any] = {"objectSelector": {"matchLabels": {f"{naming.GROUP}/cluster": ctx.name}}}
    if ctx.namespace:
        match["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": ctx.namespace}}
    binding = {"apiVersion": API, "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": dict(meta, labels=dict(labels)),
               "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": match}}
    return [policy, binding]
