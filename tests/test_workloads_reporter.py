"""The objects the statusReporter and readOnlyChildren options render (workloads/reporter.py,
workloads/readonly.py). Their behaviour on a real API server is tests/test_status_apiserver.py."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import EXAMPLES, objects

from krmfn import __version__
from krmfn.function import run
from krmfn.options import parse_options
from krmfn.resourcelist import read_paths
from krmfn.workloads.readonly import _cel_list


def render(**spec: Any) -> list[dict[str, Any]]:
    options, problems = parse_options({"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres",
                                       "metadata": {"name": "r"}, "spec": spec})
    assert not problems, problems
    return objects(run(read_paths([str(EXAMPLES / "minimal")]), options))


def one(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].endswith(
        ("status-reporter", "read-only-children"))]
    return found


def test_nothing_extra_without_the_options() -> None:
    kinds = {o["kind"] for o in render()}
    assert not kinds & {"ServiceAccount", "Role", "RoleBinding", "ValidatingAdmissionPolicy"}


def test_the_reporter_runs_restricted_with_tiny_requests_under_its_own_account() -> None:
    deployment = one(render(statusReporter=True), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == "minimal-status-reporter" and pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                             "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert container["resources"]["requests"] == {"cpu": "5m", "memory": "48Mi"}
    assert container["image"] == f"ghcr.io/multigres/multigres-krmfn:v{__version__}"
    assert container["command"] == ["multigres-krmfn-status"]
    assert "--multiadmin-url=http://minimal-multiadmin:15000" in container["args"]


def test_the_reporter_image_can_be_set() -> None:
    deployment = one(render(statusReporter=True, statusReporterImage="registry.local/krmfn:dev"), "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/krmfn:dev"


def test_the_reporter_writes_only_status() -> None:
    role = one(render(statusReporter=True), "Role")
    writes = [r for r in role["rules"] if set(r["verbs"]) - {"get", "list", "watch"}]
    assert writes == [{"apiGroups": ["multigres.com"], "verbs": ["get", "patch", "update"], "resources": [
        f"{k}/status" for k in ("multigresclusters", "multigresdeploymenttemplates", "toposervers", "multicells",
                                "multitablegroups", "multishards")]}]


@pytest.mark.parametrize(("writers", "expected"), [
    (None, "['system:serviceaccount:argocd:argocd-application-controller']"),
    (" a , b,, ", "['a', 'b']"),
])
def test_the_policy_lets_the_spec_writers_through(writers, expected) -> None:
    spec = {"readOnlyChildren": True} | ({"specWriters": writers} if writers else {})
    policy = one(render(**spec), "ValidatingAdmissionPolicy")
    assert "namespace" not in policy["metadata"]
    assert policy["spec"]["matchConditions"][0]["expression"] == f"!(request.userInfo.username in {expected})"
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["resources"] == [
        "toposervers", "multicells", "multitablegroups", "multishards"]


def test_the_binding_selects_this_clusters_children_in_its_namespace() -> None:
    binding = one(render(readOnlyChildren=True), "ValidatingAdmissionPolicyBinding")
    assert binding["metadata"]["name"] == "multigres-default-minimal-read-only-children"
    assert binding["spec"]["matchResources"] == {
        "objectSelector": {"matchLabels": {"multigres.com/cluster": "minimal"}},
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}


def test_a_quote_in_a_writer_name_stays_inside_its_cel_string() -> None:
    assert _cel_list(["o'brien", "back\\slash"]) == "['o\\'brien', 'back\\\\slash']"


@pytest.mark.parametrize("key", ["statusReporter", "readOnlyChildren"])
def test_the_new_booleans_follow_the_one_rule(key) -> None:
    options, problems = parse_options({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                       "data": {key: "Yes"}})
    assert not problems and options.dump()[key] is True
    _, problems = parse_options({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                 "data": {key: "maybe"}})
    assert [p.path for p in problems] == [f"data.{key}"]


def test_rendering_the_reporter_loads_neither_it_nor_its_client() -> None:
    """The render writes the reporter's Deployment; it never imports krmfn_status or lightkube
    (nor pydantic), so its start-up is what it was."""
    import subprocess
    import sys

    from helpers import ROOT, resource_list

    from krmfn import yamlio

    cluster = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
    config = {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres", "metadata": {"name": "r"},
              "spec": {"statusReporter": True, "readOnlyChildren": True}}
    stdin = resource_list(cluster, function_config=config)
    code = ("import sys; from krmfn.cli import function_mode; text, rc, errors = function_mode(sys.stdin.read()); "
            "assert rc == 0, errors; assert 'minimal-status-reporter' in text; "
            "bad = sorted(m for m in sys.modules if m.startswith(('krmfn_status', 'lightkube', 'pydantic'))); "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
