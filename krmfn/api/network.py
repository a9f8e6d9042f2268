"""The cluster's NetworkPolicy settings (`spec.networkPolicy`), see docs/security.md.

Policies are rendered unless `enabled: false`. Only the two doors meant for people and programs
outside the database take a list of sources: the gateways' PostgreSQL port (`gatewayClients`,
default: anyone) and multiadmin (`adminClients`, default: the pods of the cluster's namespace);
with monitoring on, a third: the metrics ports that Prometheus scrapes (`metricsClients`, default:
anyone, since Prometheus usually runs in a namespace of its own).
A source is a Kubernetes NetworkPolicyPeer, written the same way.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from .common import Model


class LabelSelectorRequirement(Model):
    key: Annotated[str, Field(min_length=1, max_length=317)]
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class LabelSelector(Model):
    """metav1.LabelSelector: an empty selector matches everything."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class IPBlock(Model):
    cidr: Annotated[str, Field(min_length=1)]
    except_: list[str] | None = Field(default=None, alias="except")


_PEER_RULES: JsonDict = {"x-kubernetes-validations": [
    {"rule": "has(self.podSelector) || has(self.namespaceSelector) || has(self.ipBlock)",
     "message": "a client needs podSelector, namespaceSelector or ipBlock"},
    {"rule": "!(has(self.ipBlock) && (has(self.podSelector) || has(self.namespaceSelector)))",
     "message": "ipBlock cannot be combined with podSelector or namespaceSelector; write two clients"},
]}


class NetworkPeer(Model):
    """Who may connect: a NetworkPolicyPeer (pods by label, namespaces by label, or addresses)."""

    model_config = ConfigDict(json_schema_extra=_PEER_RULES)

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


class NetworkPolicySpec(Model):
    """Whether policies are rendered, and who besides the cluster's own pods may connect."""

    enabled: bool | None = None
    # An empty list would mean "from anywhere" to Kubernetes; checks.py refuses it instead.
    gateway_clients: list[NetworkPeer] | None = None
    admin_clients: list[NetworkPeer] | None = None
    # With spec.monitoring on: who may scrape the exporter sidecar and etcd's metrics port.
    metrics_clients: list[NetworkPeer] | None = None
