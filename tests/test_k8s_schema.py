"""Every emitted built-in object validates strictly against the Kubernetes 1.37 schemas."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from consistency import output_objects
from helpers import EXAMPLES, objects, render_paths, resource_list, run_text

from krmfn import yamlio

K8S_VERSION = "1.37"
EXAMPLE_DIRS = sorted(d for d in EXAMPLES.iterdir() if d.is_dir() and any(d.glob("*.yaml")))


def builtin(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects of Kubernetes' own groups (our CRs are checked against our CRDs elsewhere; a
    cert-manager Certificate and the prometheus-operator kinds have no schema here)."""
    foreign = ("multigres.com/", "cert-manager.io/", "monitoring.coreos.com/", "fn.multigres.com/")
    return [o for o in objs if not str(o.get("apiVersion", "")).startswith(foreign)
            and o.get("kind") not in ("Kptfile", "CustomResourceDefinition")]


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda d: d.name)
def test_generated_objects_validate_strictly(example: Any) -> None:
    out = render_paths(example)
    objs = builtin(objects(out))
    for obj in objs:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_seed_has_every_workload_kind() -> None:
    kinds = {o["kind"] for o in builtin(objects(render_paths(EXAMPLES / "seed")))}
    assert kinds == {"StatefulSet", "Service", "PodDisruptionBudget", "Job", "Deployment", "ConfigMap",
                     "PersistentVolumeClaim", "NetworkPolicy"}


def test_s3_and_cert_manager_variant_validates_strictly() -> None:
    """The objects only an S3 repository and a cert-manager issuer produce (AWS env from a Secret)."""
    cluster = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
    cluster["spec"]["pgbackrestTLS"] = {"certManager": {"issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}}
    cluster["spec"]["databases"]["templates"][0]["spec"]["backup"] = {"s3": {
        "bucket": "b", "region": "eu-west-1", "credentialsSecret": "s3-credentials"}}
    objs = objects(run_text(resource_list(cluster)))
    assert [o["kind"] for o in objs if o["kind"] == "Certificate"] == ["Certificate"]
    for obj in builtin(objs):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_status_reporter_and_read_only_policy_validate_strictly() -> None:
    """The objects the statusReporter and readOnlyChildren options add (RBAC, the reporter's
    Deployment, the ValidatingAdmissionPolicy and its binding)."""
    from krmfn.function import run
    from krmfn.options import parse_options
    from krmfn.resourcelist import read_paths

    options, problems = parse_options({"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres",
                                       "metadata": {"name": "r"},
                                       "spec": {"statusReporter": True, "readOnlyChildren": True}})
    assert not problems
    objs = builtin(objects(run(read_paths([str(EXAMPLES / "minimal")]), options)))
    kinds = {o["kind"] for o in objs}
    assert {"ServiceAccount", "Role", "RoleBinding", "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding"} <= kinds, kinds
    for obj in objs:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    """A test that cannot fail is a defect: strict mode must catch a misspelt field."""
    obj = copy.deepcopy(builtin(output_objects(render_paths(EXAMPLES / "seed")))[0])
    obj["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
