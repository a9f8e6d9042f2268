"""spec.internalTLS: mutual TLS on the gRPC between components, from one Secret (the user's, or
cert-manager's). Servers get --grpc-cert/-key/-ca, callers --multipooler-grpc-cert/-key/-ca and
the fixed server name. Off by default, and then nothing in the render changes."""

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
DIR = "/etc/multigres/internal-tls"
SERVERS = {"multipooler", "multiorch", "multigateway"}
CALLERS = {"multiorch", "multigateway", "multiadmin"}
NAME = "minimal.multigres.internal"


def _render(tls: dict[str, Any] | None, namespace: str | None = "shop") -> tuple[list[dict[str, Any]], list[Any]]:
    obj = copy.deepcopy(MINIMAL)
    if namespace is None:
        obj["metadata"].pop("namespace", None)
    else:
        obj["metadata"]["namespace"] = namespace
    if tls is not None:
        obj["spec"]["internalTLS"] = tls
    out = run_text(resource_list(obj))
    return objects(out), out.results


def _pods(objs: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each Multigres binary's (workload, container)."""
    out = {}
    for o in objs:
        if o["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = o["spec"]["template"]["spec"]
        for c in pod["containers"] + pod.get("initContainers", []):
            if c["name"] in SERVERS | CALLERS | {"pgctld"}:
                out[c["name"]] = (o, c)
    return out


def test_off_by_default_no_flag_volume_or_certificate() -> None:
    objs, _ = _render(None)
    for name, (wl, c) in _pods(objs).items():
        assert not any("grpc-cert" in a or "grpc-ca" in a or "grpc-key" in a or "grpc-server-name" in a
                       for a in c["args"]), name
        assert "internal-tls" not in [v["name"] for v in wl["spec"]["template"]["spec"].get("volumes", [])]
    assert not [o for o in objs if o["kind"] == "Certificate"]
    assert not [o for o in objs if o["kind"].startswith("Multi") and "internalTLS" in o.get("spec", {})]


def test_servers_and_callers_get_upstreams_flags_and_the_mounted_secret() -> None:
    objs, results = _render({"secretName": "shop-grpc"})
    pods = _pods(objs)
    assert set(pods) == SERVERS | CALLERS | {"pgctld"}
    for name, (wl, c) in pods.items():
        args = args_of(c)
        server = {k: args.get(k) for k in ("--grpc-cert", "--grpc-key", "--grpc-ca")}
        client = {k: args.get(k) for k in ("--multipooler-grpc-cert", "--multipooler-grpc-key",
                                          "--multipooler-grpc-ca", "--multipooler-grpc-server-name")}
        if name in SERVERS:
            assert server == {"--grpc-cert": f"{DIR}/tls.crt", "--grpc-key": f"{DIR}/tls.key",
                              "--grpc-ca": f"{DIR}/ca.crt"}, name  # the CA: callers need a certificate
        else:
            assert set(server.values()) == {None}, name  # multiadmin's and pgctld's gRPC stay plain text
        if name in CALLERS:
            assert client == {"--multipooler-grpc-cert": f"{DIR}/tls.crt", "--multipooler-grpc-key": f"{DIR}/tls.key",
                              "--multipooler-grpc-ca": f"{DIR}/ca.crt", "--multipooler-grpc-server-name": NAME}, name
        else:
            assert set(client.values()) == {None}, name
        mounted = any(m["name"] == "internal-tls" for m in c.get("volumeMounts", []))
        assert mounted == (name != "pgctld"), name
        if mounted:
            mount = next(m for m in c["volumeMounts"] if m["name"] == "internal-tls")
            assert mount == {"name": "internal-tls", "mountPath": DIR, "readOnly": True}  # no subPath: renewals
            vol = next(v for v in wl["spec"]["template"]["spec"]["volumes"] if v["name"] == "internal-tls")
            assert vol["secret"]["secretName"] == "shop-grpc" and vol["secret"]["defaultMode"] == 0o440
            assert [i["key"] for i in vol["secret"]["items"]] == ["ca.crt", "tls.crt", "tls.key"]
    assert not [o for o in objs if o["kind"] == "Certificate"]
    warns = [r for r in results if r.path == "spec.internalTLS.secretName"]
    assert len(warns) == 1 and "'shop-grpc'" in warns[0].message and warns[0].severity == "warning"
    for o in objs:
        if o["kind"] in ("MultiCell", "MultiTableGroup", "MultiShard"):
            assert o["spec"]["internalTLS"] == {"secretName": "shop-grpc", "serverName": NAME}


def test_every_rendered_flag_is_upstreams() -> None:
    objs, _ = _render({})
    for name, (wl, c) in _pods(objs).items():
        env = container_env(c, wl, sample_pod_name(wl), SAMPLE_POD_IP)
        parsed = parse(container_argv(c, env), set(env))
        assert not parsed.problems, (name, parsed.problems)


def test_cert_manager_certificate_carries_the_verified_name_and_the_pooler_hostnames() -> None:
    objs, results = _render({"certManager": ISSUER})
    (cert,) = [o for o in objs if o["kind"] == "Certificate"]
    assert cert["metadata"]["name"] == "minimal-internal" and cert["metadata"]["namespace"] == "shop"
    spec = cert["spec"]
    assert spec["secretName"] == "minimal-internal-tls" and "commonName" not in spec
    assert spec["dnsNames"][0] == NAME
    headless = sorted(o["metadata"]["name"] for o in objs if o["kind"] == "Service"
                      and o["spec"].get("clusterIP") == "None"
                      and o["metadata"]["labels"]["app.kubernetes.io/component"] == "multipooler")
    assert headless and sorted(spec["dnsNames"][1:]) == sorted(f"*.{s}.shop.svc.cluster.local" for s in headless)
    assert spec["usages"] == ["digital signature", "key encipherment", "server auth", "client auth"]
    assert spec["issuerRef"] == {"name": "ca", "kind": "ClusterIssuer"}
    assert spec["privateKey"]["rotationPolicy"] == "Always"
    # the pooler's registered hostname is one the wildcard covers
    (sts,) = [o for o in objs if o["kind"] == "StatefulSet"][:1]
    host = args_of(_pods(objs)["multipooler"][1])["--hostname"]
    assert host.split(".", 1)[1] == spec["dnsNames"][1].split(".", 1)[1], (host, sts["metadata"]["name"])
    assert not [r for r in results if r.path == "spec.internalTLS.secretName"]  # cert-manager writes it


def test_cert_manager_without_namespace_is_refused() -> None:
    _, results = _render({"certManager": ISSUER}, namespace=None)
    (err,) = [r for r in results if r.path == "spec.internalTLS.certManager"]
    assert err.severity == "error" and "namespace" in err.message


def test_unknown_field_and_bad_secret_name_are_refused() -> None:
    _, results = _render({"serverName": "x"})
    assert any(r.severity == "error" and "internalTLS" in (r.path or "") for r in results)
    _, results = _render({"secretName": "Not_A_Name"})
    assert any(r.severity == "error" and r.path == "spec.internalTLS.secretName" for r in results)


def test_the_primarys_hook_asks_multiorch_only_without_tls() -> None:
    """The preStop hook speaks cleartext HTTP/2 to multiorch; with internal TLS, multiorch wants a
    client certificate over TLS, so the hook is given no multiorch to ask (its last argument)."""
    for tls, expected in ((None, "zone1=minimal-postgres-default-multiorch-zone1"), ({"secretName": "shop-grpc"}, "")):
        objs, _ = _render(tls)
        wl, pooler = _pods(objs)["multipooler"]
        assert pooler["lifecycle"]["preStop"]["exec"]["command"][-1] == expected, tls


def test_poolers_reach_multiorch_only_without_tls() -> None:
    """The NetworkPolicy that lets a table group's poolers call its multiorch's gRPC (the hook's
    request) is rendered only when the hook makes that request."""
    def callers(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [peer for o in objs if o["kind"] == "NetworkPolicy"
                and o["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "multiorch"
                for rule in o["spec"].get("ingress", []) for peer in rule.get("from", [])
                if peer["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "multipooler"]
    assert callers(_render(None)[0])
    assert not callers(_render({"secretName": "shop-grpc"})[0])
