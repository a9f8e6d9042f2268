"""spec.gatewayTLS: the gateways serve TLS from a Secret (the user's, or cert-manager's), and
`required` refuses plaintext. Off by default, and then nothing in the render changes."""

from __future__ import annotations

import copy
from typing import Any

from consistency import args_of
from helpers import EXAMPLES, objects, resource_list, run_text
from processes import SAMPLE_POD_IP, container_argv, container_env, sample_pod_name
from test_multigres_flags import parse

from krmfn import yamlio

MINIMAL = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
ISSUER = {"issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}


def _render(tls: dict[str, Any] | None, namespace: str | None = "shop",
            **spec: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    obj = copy.deepcopy(MINIMAL)
    obj["spec"].update(spec)
    if namespace is None:
        obj["metadata"].pop("namespace", None)
    else:
        obj["metadata"]["namespace"] = namespace
    if tls is not None:
        obj["spec"]["gatewayTLS"] = tls
    out = run_text(resource_list(obj))
    return objects(out), out.results


def _gateway(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (deploy,) = [o for o in objs if o["kind"] == "Deployment"
                 and o["metadata"]["labels"]["app.kubernetes.io/component"] == "multigateway"]
    return deploy


def _container(deploy: dict[str, Any]) -> dict[str, Any]:
    (c,) = [c for c in deploy["spec"]["template"]["spec"]["containers"] if c["name"] == "multigateway"]
    return c


def test_off_by_default_no_flag_volume_or_certificate() -> None:
    objs, _ = _render(None)
    c = _container(_gateway(objs))
    assert not any(a.startswith("--pg-tls") or a == "--pg-require-ssl" for a in c["args"])
    assert [v["name"] for v in _gateway(objs)["spec"]["template"]["spec"]["volumes"]] == ["tmp"]
    assert not [o for o in objs if o["kind"] == "Certificate"]
    (cell,) = [o for o in objs if o["kind"] == "MultiCell"]
    assert "gatewayTLS" not in cell["spec"]


def test_user_secret_is_mounted_and_upstream_flags_point_at_it() -> None:
    objs, results = _render({"secretName": "shop-gw-cert"})
    deploy = _gateway(objs)
    c = _container(deploy)
    args = args_of(c)
    mount = next(m for m in c["volumeMounts"] if m["name"] == "gateway-tls")
    assert mount["readOnly"] is True and "subPath" not in mount  # a renewed Secret reaches the files
    assert args["--pg-tls-cert-file"] == f"{mount['mountPath']}/tls.crt"
    assert args["--pg-tls-key-file"] == f"{mount['mountPath']}/tls.key"
    assert "--pg-require-ssl" not in c["args"]  # offered, not required, unless asked
    vol = next(v for v in deploy["spec"]["template"]["spec"]["volumes"] if v["name"] == "gateway-tls")
    assert vol["secret"]["secretName"] == "shop-gw-cert" and vol["secret"]["defaultMode"] == 0o440
    assert {i["key"] for i in vol["secret"]["items"]} == {"tls.crt", "tls.key"}
    assert not [o for o in objs if o["kind"] == "Certificate"]
    (warn,) = [r for r in results if r.path == "spec.gatewayTLS.secretName"]
    assert warn.severity == "warning" and "'shop-gw-cert'" in warn.message and "gateway pods" in warn.message
    (cell,) = [o for o in objs if o["kind"] == "MultiCell"]
    assert cell["spec"]["gatewayTLS"] == {"secretName": "shop-gw-cert", "required": False}


def test_required_adds_pg_require_ssl_and_every_flag_is_upstreams() -> None:
    objs, _ = _render({"required": True})
    c = _container(_gateway(objs))
    assert "--pg-require-ssl" in c["args"] and "--pg-require-ssl=false" not in c["args"]
    deploy = _gateway(objs)
    env = container_env(c, deploy, sample_pod_name(deploy), SAMPLE_POD_IP)
    parsed = parse(container_argv(c, env), set(env))
    assert not parsed.problems, parsed.problems


def test_cert_manager_certificate_names_every_form_of_the_gateway_service() -> None:
    objs, results = _render({"certManager": ISSUER})
    (cert,) = [o for o in objs if o["kind"] == "Certificate"]
    assert cert["metadata"]["name"] == "minimal-gateway" and cert["metadata"]["namespace"] == "shop"
    svc = next(o["metadata"]["name"] for o in objs if o["kind"] == "Service"
               and o["metadata"]["labels"]["app.kubernetes.io/component"] == "multigateway")
    assert cert["spec"]["dnsNames"] == [svc, f"{svc}.shop", f"{svc}.shop.svc", f"{svc}.shop.svc.cluster.local"]
    assert cert["spec"]["secretName"] == "minimal-gateway-tls"
    assert cert["spec"]["usages"] == ["digital signature", "key encipherment", "server auth"]
    assert cert["spec"]["issuerRef"] == {"name": "ca", "kind": "ClusterIssuer"}
    assert cert["spec"]["privateKey"]["rotationPolicy"] == "Always"
    vol = next(v for v in _gateway(objs)["spec"]["template"]["spec"]["volumes"] if v["name"] == "gateway-tls")
    assert vol["secret"]["secretName"] == cert["spec"]["secretName"]
    assert not [r for r in results if r.path == "spec.gatewayTLS.secretName"]  # cert-manager writes it


def test_both_certificates_when_both_issuers_are_set() -> None:
    objs, _ = _render({"certManager": ISSUER, "secretName": "gw"}, pgbackrestTLS={"certManager": ISSUER})
    certs = {o["metadata"]["name"]: o["spec"]["secretName"] for o in objs if o["kind"] == "Certificate"}
    assert certs == {"minimal-pgbackrest": "minimal-pgbackrest-tls", "minimal-gateway": "gw"}


def test_cert_manager_without_namespace_is_refused() -> None:
    _, results = _render({"certManager": ISSUER}, namespace=None)
    (err,) = [r for r in results if r.path == "spec.gatewayTLS.certManager"]
    assert err.severity == "error" and "namespace" in err.message


def test_unknown_field_and_bad_secret_name_are_refused() -> None:
    _, results = _render({"requireSSL": True})
    assert any(r.severity == "error" and "gatewayTLS" in (r.path or "") for r in results)
    _, results = _render({"secretName": "Not_A_Name"})
    assert any(r.severity == "error" and r.path == "spec.gatewayTLS.secretName" for r in results)


def test_extra_dns_names_join_the_certificate_once() -> None:
    objs, _ = _render({"certManager": ISSUER, "extraDNSNames": ["db.example.com", "*.lb.example.com",
                                                               "db.example.com", "minimal-zone1-gateway"]})
    (cert,) = [o for o in objs if o["kind"] == "Certificate"]
    assert cert["spec"]["dnsNames"][4:] == ["db.example.com", "*.lb.example.com"]
    assert len(cert["spec"]["dnsNames"]) == len(set(cert["spec"]["dnsNames"]))


def test_extra_dns_names_without_cert_manager_or_malformed_are_refused() -> None:
    _, results = _render({"extraDNSNames": ["db.example.com"]})
    (err,) = [r for r in results if r.path == "spec.gatewayTLS.extraDNSNames"]
    assert err.severity == "error" and "certManager" in err.message
    for bad in (["DB.example.com"], ["a..b"], ["x.*.example.com"]):
        _, results = _render({"certManager": ISSUER, "extraDNSNames": bad})
        assert any(r.severity == "error" and (r.path or "").startswith("spec.gatewayTLS.extraDNSNames")
                   for r in results), (bad, [(r.path, r.message) for r in results])
