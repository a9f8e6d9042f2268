"""spec.topoTLS: etcd serves its client port over TLS and requires client certificates; every
component gets upstream's --topo-etcd-tls-cert/-key/-ca; the render's own etcd clients (the
registration Job, the gateways' wait) run on the function's image with the certificate. Off by
default, and then nothing in the render changes. (The e2e module is tests/e2e/test_topo_tls.py.)"""

from __future__ import annotations

import base64
import copy
import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from consistency import args_of
from helpers import EXAMPLES, ROOT, objects, resource_list, run_text
from processes import SAMPLE_POD_IP, container_argv, container_env, sample_pod_name
from test_multigres_flags import parse

from krmfn import __version__, yamlio

MINIMAL = yamlio.load((EXAMPLES / "minimal" / "cluster.yaml").read_text())
ISSUER = {"issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}
DIR = "/etc/multigres/topo-tls"
CLIENTS = {"multipooler", "multiorch", "multigateway", "multiadmin"}
FUNCTION_IMAGE = f"ghcr.io/multigres/multigres-krmfn:v{__version__}"
CLIENT_FLAGS = {"--topo-etcd-tls-cert": f"{DIR}/tls.crt", "--topo-etcd-tls-key": f"{DIR}/tls.key",
                "--topo-etcd-tls-ca": f"{DIR}/ca.crt"}


def _render(tls: dict[str, Any] | None, namespace: str | None = "shop",
            edit: Any = None) -> tuple[list[dict[str, Any]], list[Any]]:
    obj = copy.deepcopy(MINIMAL)
    if namespace is None:
        obj["metadata"].pop("namespace", None)
    else:
        obj["metadata"]["namespace"] = namespace
    if tls is not None:
        obj["spec"]["topoTLS"] = tls
    if edit is not None:
        edit(obj)
    out = run_text(resource_list(obj))
    return objects(out), out.results


def _containers(objs: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every container and init container by name: (workload, container)."""
    out = {}
    for o in objs:
        spec = o.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec")
        if o["kind"] not in ("Deployment", "StatefulSet", "Job") or not pod:
            continue
        for c in pod["containers"] + pod.get("initContainers", []):
            out[c["name"]] = (o, c)
    return out


def _volume(wl: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((v for v in wl["spec"]["template"]["spec"].get("volumes", []) if v["name"] == name), None)


def test_off_by_default_plain_etcd_and_bash_clients() -> None:
    objs, _ = _render(None)
    cs = _containers(objs)
    for name, (wl, c) in cs.items():
        assert not any("topo-etcd-tls" in a or "https://" in a for a in c.get("args", [])), name
        assert _volume(wl, "topo-tls") is None, name
    assert cs["register"][1]["command"] == ["/bin/bash"] and cs["wait-for-cell"][1]["command"] == ["/bin/bash"]
    assert "--client-cert-auth" not in cs["etcd"][1]["args"]
    assert not [o for o in objs if o["kind"] == "Certificate"]


def test_etcd_serves_tls_and_requires_client_certificates_probes_stay_plain() -> None:
    objs, _ = _render({})
    wl, etcd = _containers(objs)["etcd"]
    args = etcd["args"]
    assert "--listen-client-urls=https://[::]:2379" in args
    assert any(a.startswith("--advertise-client-urls=https://$(POD_NAME).") for a in args)
    assert "--listen-metrics-urls=http://[::]:2381" in args  # probes and the scrape: plain HTTP
    assert "--listen-peer-urls=http://[::]:2380" in args  # peers: plain (docs/security.md)
    assert args[-4:] == [f"--cert-file={DIR}/tls.crt", f"--key-file={DIR}/tls.key", f"--trusted-ca-file={DIR}/ca.crt",
                         "--client-cert-auth"]
    assert etcd["readinessProbe"]["httpGet"]["port"] == etcd["livenessProbe"]["httpGet"]["port"] == "metrics"
    assert {"name": "topo-tls", "mountPath": DIR, "readOnly": True} in etcd["volumeMounts"]
    vol = _volume(wl, "topo-tls")
    assert vol is not None and vol["secret"]["secretName"] == "minimal-topo-tls"
    assert vol["secret"]["defaultMode"] == 0o440
    assert [i["key"] for i in vol["secret"]["items"]] == ["ca.crt", "tls.crt", "tls.key"]


def test_every_component_presents_the_client_certificate() -> None:
    objs, results = _render({"secretName": "shop-etcd"})
    cs = _containers(objs)
    for name in CLIENTS:
        wl, c = cs[name]
        args = args_of(c)
        assert {k: args.get(k) for k in CLIENT_FLAGS} == CLIENT_FLAGS, name
        assert {"name": "topo-tls", "mountPath": DIR, "readOnly": True} in c["volumeMounts"], name
        vol = _volume(wl, "topo-tls")
        assert vol is not None and vol["secret"]["secretName"] == "shop-etcd", name
    assert not any("topo-etcd" in a for a in cs["pgctld"][1]["args"])  # pgctld never dials etcd
    warns = [r for r in results if r.path == "spec.globalTopoServer.tls.secretName"]
    assert len(warns) == 1 and "'shop-etcd'" in warns[0].message and warns[0].severity == "warning"
    assert "make-topo-tls.sh" in warns[0].message
    for o in objs:
        if o["kind"] in ("MultiCell", "MultiTableGroup", "MultiShard"):
            assert o["spec"]["globalTopoServer"]["tls"] == {"secretName": "shop-etcd", "clientImage": FUNCTION_IMAGE}
        if o["kind"] == "TopoServer":
            assert o["spec"]["tls"]["secretName"] == "shop-etcd"


def test_the_renders_own_clients_run_the_function_image_with_the_certificate() -> None:
    objs, _ = _render({})
    cs = _containers(objs)
    job, register = cs["register"]
    cert = [f"--cacert={DIR}/ca.crt", f"--cert={DIR}/tls.crt", f"--key={DIR}/tls.key"]
    endpoint = "minimal-global-client.shop.svc.cluster.local:2379"
    assert register["image"] == FUNCTION_IMAGE and register["command"] == ["multigres-krmfn-etcd"]
    assert register["args"][:5] == [*cert, "put", endpoint]
    pairs = register["args"][5:]
    assert pairs[0] == "/multigres/global/cells/zone1/Cell"
    assert pairs[1] == "/etc/multigres/registration/record-0" and len(pairs) % 2 == 0
    listing = cs["list-records"][1]["args"]
    assert listing[:4] == [f"--endpoints=https://{endpoint}", *cert]
    assert _volume(job, "topo-tls") is not None
    _, wait = cs["wait-for-cell"]
    assert wait["image"] == FUNCTION_IMAGE and wait["command"] == ["multigres-krmfn-etcd"]
    assert wait["args"] == [*cert, "wait-for-cell", endpoint, "/multigres/global/cells/zone1/Cell"]
    assert {"name": "topo-tls", "mountPath": DIR, "readOnly": True} in wait["volumeMounts"]
    objs, _ = _render({"clientImage": "registry.example/krmfn:v1"})
    assert _containers(objs)["register"][1]["image"] == "registry.example/krmfn:v1"


def test_every_rendered_flag_is_upstreams() -> None:
    objs, _ = _render({})
    for name, (wl, c) in _containers(objs).items():
        if name not in CLIENTS:
            continue
        env = container_env(c, wl, sample_pod_name(wl), SAMPLE_POD_IP)
        parsed = parse(container_argv(c, env), set(env))
        assert not parsed.problems, (name, parsed.problems)


def test_cert_manager_certificate_names_the_services_and_members() -> None:
    objs, results = _render({"certManager": ISSUER})
    (cert,) = [o for o in objs if o["kind"] == "Certificate"]
    assert cert["metadata"]["name"] == "minimal-topo" and cert["metadata"]["namespace"] == "shop"
    assert cert["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "0"  # with etcd
    spec = cert["spec"]
    svc = "minimal-global-client"
    assert spec["dnsNames"] == [svc, f"{svc}.shop", f"{svc}.shop.svc", f"{svc}.shop.svc.cluster.local",
                                "*.minimal-global-peer.shop.svc.cluster.local"]
    assert spec["usages"] == ["digital signature", "key encipherment", "server auth", "client auth"]
    assert spec["secretName"] == "minimal-topo-tls" and "commonName" not in spec
    assert not [r for r in results if r.path == "spec.globalTopoServer.tls.secretName"]  # cert-manager writes it


def test_cells_own_etcd_is_named_too() -> None:
    def cell_etcd(obj: dict[str, Any]) -> None:
        obj["spec"]["cells"]["templates"][0].setdefault("spec", {})["topoServer"] = {"managedSpec": {"replicas": 1}}

    objs, _ = _render({"certManager": ISSUER}, edit=cell_etcd)
    (cert,) = [o for o in objs if o["kind"] == "Certificate"]
    assert "minimal-zone1-client.shop.svc.cluster.local" in cert["spec"]["dnsNames"]
    assert "*.minimal-zone1-peer.shop.svc.cluster.local" in cert["spec"]["dnsNames"]
    etcds = [c for o in objs if o["kind"] == "StatefulSet" for c in o["spec"]["template"]["spec"]["containers"]
             if c["name"] == "etcd"]
    assert len(etcds) == 2 and all("--client-cert-auth" in c["args"] for c in etcds)
    wait = _containers(objs)["wait-for-cell"][1]
    assert wait["args"][-1] == "minimal-zone1-client.shop.svc.cluster.local:2379"


def test_cert_manager_without_namespace_is_refused() -> None:
    _, results = _render({"certManager": ISSUER}, namespace=None)
    (err,) = [r for r in results if r.path == "spec.topoTLS.certManager"]
    assert err.severity == "error" and "namespace" in err.message


def test_external_etcd_is_warned_about() -> None:
    def external(obj: dict[str, Any]) -> None:
        obj["spec"]["globalTopoServer"] = {"external": {"address": "etcd.example:2379", "rootPath": "/mg"}}

    _, results = _render({}, edit=external)
    (warn,) = [r for r in results if r.path == "spec.topoTLS"]
    assert warn.severity == "warning" and "etcd.example:2379" in warn.message


def test_unknown_field_bad_secret_name_and_bad_image_are_refused() -> None:
    _, results = _render({"serverName": "x"})
    assert any(r.severity == "error" and "topoTLS" in (r.path or "") for r in results)
    _, results = _render({"secretName": "Not_A_Name"})
    assert any(r.severity == "error" and r.path == "spec.topoTLS.secretName" for r in results)
    _, results = _render({"clientImage": "Bad Image"})
    assert any(r.severity == "error" and r.path == "spec.topoTLS.clientImage" for r in results)


def test_user_secret_script_names_what_cert_manager_would(tmp_path: Path) -> None:
    """scripts/make-topo-tls.sh reads the render and issues the certificate cert-manager's would:
    the same DNS names, server and client auth, verified by the CA it prints (ca.key kept local)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    objs, _ = _render({"secretName": "minimal-topo-tls"})
    cm_objs, _ = _render({"certManager": ISSUER})
    (cert,) = [o for o in cm_objs if o["kind"] == "Certificate"]
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "make-topo-tls.sh"), "minimal", "shop"],
                          input=yaml.safe_dump_all(objs), capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "TOPO_TLS_DIR": str(tmp_path / "ca")})
    assert proc.returncode == 0, proc.stderr
    secret = yamlio.load(proc.stdout)
    assert secret["metadata"] == {"name": "minimal-topo-tls", "namespace": "shop"}
    for key, data in secret["data"].items():
        (tmp_path / key).write_bytes(base64.b64decode(data))
    openssl = functools.partial(subprocess.run, capture_output=True, text=True, check=True)
    assert "OK" in openssl(["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "tls.crt")]).stdout
    text = openssl(["openssl", "x509", "-in", str(tmp_path / "tls.crt"), "-noout", "-ext",
                    "subjectAltName,extendedKeyUsage"]).stdout
    assert sorted(re.findall(r"DNS:([^,\s]+)", text)) == sorted(cert["spec"]["dnsNames"])
    assert "TLS Web Server Authentication" in text and "TLS Web Client Authentication" in text
    assert (tmp_path / "ca" / "ca.key").exists() and "ca.key" not in secret["data"]
