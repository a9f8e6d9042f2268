"""The rendered global etcd and topology-registration Job, run for real on loopback.

The seed's global TopoServer StatefulSet (3 replicas) is run as 3 local etcd processes, each with
the rendered command, args and env of its pod. Only what a pod gets from Kubernetes is replaced:
`$(POD_NAME)` and friends (downward API), each pod's DNS name
`<pod>.<peer-svc>.<ns>.svc.<domain>` and its own `0.0.0.0` by a loopback address of its own
(127.a.b.1-3, same ports, as each pod has its own IP), and volume mount paths by temporary
directories. A wrong or misspelt flag in the render therefore fails here. The members must form
one cluster with a leader and be healthy.

Then the registration Job's containers run, in order, with their rendered etcdctl arguments (the
client Service name mapped to a member), and the keys are read back through etcd's v3 JSON gateway
and decoded with a small protobuf decoder written here (field numbers from
tests/data/multigres_flags.json, read off multigres' proto/clustermetadata.proto). Expected
values come from the child custom resources and the cluster input, not from the build code.

Needs the etcd and etcdctl binaries (`make tools-etcd`); skips without them unless REQUIRE_TOOLS=1.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import topo_decode
import yaml
from helpers import EXAMPLES, go_tool, objects, render_paths
from processes import (
    ProcessGroup,
    can_bind,
    clean_env,
    container_argv,
    container_env,
    etcd_range,
    http_json,
    pod_spec,
    url_ok,
    wait_for,
)

# It starts real etcd clusters: part of the e2e run (`make e2e`), not of a plain pytest, which keeps
# to a minute (docs/tools.md, "The two test runs"). No root needed: `pytest -m e2e <file>`.
pytestmark = pytest.mark.e2e

DATA = json.loads((Path(__file__).parent / "data" / "multigres_flags.json").read_text())
RECORDS = DATA["topology_records"]
DEFAULT_DOMAIN = "cluster.local"
DEFAULT_BACKUP_LOCATION = "/backups"  # docs/api.md: spec.databases.templates[].spec.backupLocation default
DEFAULT_DURABILITY = "AT_LEAST_2"


# --- tools ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def etcd_bins() -> tuple[str, str]:
    return go_tool("etcd", "etcd"), go_tool("etcd", "etcdctl")


# --- a strict, schema-checked reading of the records (wire format: tests/topo_decode.py) -----------

# Schemas: field number -> (name, kind, repeated); kinds: "string", "varint", or a nested schema.
FILESYSTEM = {1: ("path", "string", False)}
S3 = {1: ("bucket", "string", False), 2: ("region", "string", False), 3: ("endpoint", "string", False),
      4: ("key_prefix", "string", False), 5: ("use_env_credentials", "varint", False)}
BACKUP_LOCATION = {1: ("filesystem", FILESYSTEM, False), 2: ("s3", S3, False)}
DURABILITY = {1: ("policy_name", "string", False), 2: ("policy_version", "varint", False),
              3: ("quorum_type", "varint", False), 4: ("required_count", "varint", False),
              5: ("description", "string", False)}
CELL = {1: ("name", "string", False), 2: ("server_addresses", "string", True), 3: ("root", "string", False)}
DATABASE = {1: ("name", "string", False), 2: ("backup_location", BACKUP_LOCATION, False),
            3: ("cells", "string", True), 4: ("bootstrap_durability_policy", DURABILITY, False)}


def decode(data: bytes, schema: dict[int, tuple[str, Any, bool]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in topo_decode.decode(data):
        if number not in schema:
            raise ValueError(f"unknown field {number}")
        name, kind, repeated = schema[number]
        if kind == "varint":
            if not isinstance(value, int):
                raise ValueError(f"{name}: expected a varint")
            decoded: Any = value
        else:
            if not isinstance(value, bytes):
                raise ValueError(f"{name}: expected length-delimited bytes")
            decoded = value.decode("utf-8") if kind == "string" else decode(value, kind)
        if repeated:
            out.setdefault(name, []).append(decoded)
        elif name in out:
            raise ValueError(f"{name}: singular field repeated")
        else:
            out[name] = decoded
    if schema is BACKUP_LOCATION and len(out) > 1:
        raise ValueError("BackupLocation: more than one member of the oneof set")
    return out


def test_schemas_match_the_recorded_proto_facts() -> None:
    for schema, message in ((CELL, "Cell"), (DATABASE, "Database"), (DURABILITY, "DurabilityPolicy"),
                            (FILESYSTEM, "FilesystemBackup"), (S3, "S3Backup")):
        recorded = {name: number for name, (number, _kind) in RECORDS[message].items()}
        assert {name: number for number, (name, _k, _r) in schema.items()} == recorded, message
    oneof = RECORDS["BackupLocation"]["oneof location"]
    assert {name: number for number, (name, _k, _r) in BACKUP_LOCATION.items()} == {k: v[0] for k, v in oneof.items()}


def test_decoder_round_trip() -> None:
    def s(n: int, text: str) -> bytes:
        raw = text.encode()
        return bytes([n << 3 | 2]) + _enc(len(raw)) + raw

    long_root = "/" + "r" * 200  # a 2-byte length varint
    cell = s(1, "zone1") + s(2, "a:2379") + s(2, "b:2379") + s(3, long_root)
    assert decode(cell, CELL) == {"name": "zone1", "server_addresses": ["a:2379", "b:2379"], "root": long_root}
    with pytest.raises(ValueError):
        decode(cell[:-1], CELL)
    with pytest.raises(ValueError):
        decode(cell + s(9, "x"), CELL)


def _enc(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


# --- the render -------------------------------------------------------------------------------------

@dataclass
class Render:
    out: Any
    generated: list[dict[str, Any]]
    cluster: dict[str, Any]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.generated if o.get("kind") == kind]

    def errors(self) -> list[str]:
        return [str(getattr(r, "message", r)) for r in self.out.results if str(getattr(r, "severity", "")) == "error"]


def render_dir(path: Path) -> Render:
    out = render_paths(path)
    clusters = [i.obj for i in out.items if i.kind == "MultigresCluster"]
    assert len(clusters) == 1, "expected one MultigresCluster"
    return Render(out, objects(out), clusters[0])


def render_variant(tmp: Path, change: Any) -> Render:
    """The seed with its MultigresCluster changed by `change(cluster_dict)`."""
    target = tmp / "variant"
    shutil.copytree(EXAMPLES / "seed", target, ignore=shutil.ignore_patterns(".expected"))
    docs = list(yaml.safe_load_all((target / "cluster.yaml").read_text()))
    for doc in docs:
        if doc and doc.get("kind") == "MultigresCluster":
            change(doc)
    (target / "cluster.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return render_dir(target)


@dataclass
class GlobalTopo:
    topo: dict[str, Any]
    sts: dict[str, Any]
    client_service: str
    namespace: str
    domain: str
    client_port: int

    @property
    def root(self) -> str:
        return self.topo["spec"]["rootPath"]

    @property
    def client_address(self) -> str:
        return f"{self.client_service}.{self.namespace}.svc.{self.domain}:{self.client_port}"


def _selects(service: dict[str, Any], sts: dict[str, Any]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    labels = ((sts["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def topo_of(render: Render, topo: dict[str, Any]) -> GlobalTopo:
    name = topo["metadata"]["name"]
    sts_list = [s for s in render.of("StatefulSet") if s["metadata"]["name"] == name]
    assert len(sts_list) == 1, f"no StatefulSet for TopoServer {name}"
    sts = sts_list[0]
    ns = sts["metadata"].get("namespace") or "default"
    services = [s for s in render.of("Service") if _selects(s, sts) and (s["spec"].get("clusterIP") != "None")]
    assert len(services) == 1, (f"expected one client Service for {name}, found "
                                f"{[s['metadata']['name'] for s in services]}")
    client = services[0]
    ports = client["spec"]["ports"]
    port = next((p["port"] for p in ports if p.get("name") == "client"), ports[0]["port"])
    args = " ".join(pod_spec(sts)["containers"][0].get("args") or [])
    m = re.search(r"\.svc\.([A-Za-z0-9.-]+?)[:/]", args)
    return GlobalTopo(topo, sts, client["metadata"]["name"], ns, m.group(1) if m else DEFAULT_DOMAIN, int(port))


def global_topo(render: Render) -> GlobalTopo:
    topos = [t for t in render.of("TopoServer") if t["metadata"]["labels"].get("multigres.com/topo-scope") == "global"]
    assert len(topos) == 1, f"expected one global TopoServer, found {[t['metadata']['name'] for t in topos]}"
    return topo_of(render, topos[0])


# --- running the StatefulSet ------------------------------------------------------------------------

@dataclass
class Member:
    pod: str
    ip: str
    dns: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    client_url: str = ""
    metrics_url: str = ""


@dataclass
class LocalCluster:
    topo: GlobalTopo
    members: list[Member]
    group: ProcessGroup
    etcdctl: str

    def client_urls(self) -> list[str]:
        return [m.client_url for m in self.members]

    def host_map(self) -> dict[str, str]:
        """Kubernetes DNS names (longest first) -> loopback addresses."""
        t = self.topo
        m0 = self.members[0].ip
        names = {m.dns: m.ip for m in self.members}
        for form in (f"{t.client_service}.{t.namespace}.svc.{t.domain}", f"{t.client_service}.{t.namespace}.svc",
                     f"{t.client_service}.{t.namespace}", t.client_service):
            names[form] = m0
        return dict(sorted(names.items(), key=lambda kv: -len(kv[0])))


def _loopback_base() -> str:
    for n in range(200):
        a, b = 1 + (os.getpid() + n) % 250, 1 + (os.getpid() // 250 + 7 * n) % 250
        base = f"127.{a}.{b}."
        if all(can_bind(f"{base}{i}", p) for i in (1, 2, 3) for p in (2379, 2380, 2381)):
            return base
    pytest.fail("no free loopback addresses for the etcd members")


def plan_members(topo: GlobalTopo, tmp: Path) -> list[Member]:
    sts = topo.sts
    spec = pod_spec(sts)
    containers = spec["containers"]
    assert len(containers) == 1, f"expected one etcd container, found {[c['name'] for c in containers]}"
    c = containers[0]
    peer = sts["spec"]["serviceName"]
    replicas = int(sts["spec"].get("replicas", 1))
    base = _loopback_base()
    members = [Member(pod=f"{sts['metadata']['name']}-{i}", ip=f"{base}{i + 1}",
                      dns=f"{sts['metadata']['name']}-{i}.{peer}.{topo.namespace}.svc.{topo.domain}")
               for i in range(replicas)]
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in c.get("volumeMounts") or []}
    for m in members:
        env = container_env(c, sts, m.pod, m.ip)
        argv = container_argv(c, env)
        assert os.path.basename(argv[0]) == "etcd", f"the topo container runs {argv[0]!r}, not etcd"
        local = []
        for arg in argv[1:]:
            for dns in sorted((x.dns for x in members), key=len, reverse=True):
                arg = arg.replace(dns, next(x.ip for x in members if x.dns == dns))
            if arg.startswith("--listen-"):
                arg = arg.replace("0.0.0.0", m.ip).replace("[::]", m.ip)
            name, eq, value = arg.partition("=")
            for path, vol in mounts.items():
                if eq and (value == path or value.startswith(path + "/")):
                    value = str(tmp / m.pod / vol) + value[len(path):]
                    arg = f"{name}={value}"
            local.append(arg)
        unresolved = [a for a in local if "$(" in a or ".svc." in a]
        assert not unresolved, f"{m.pod}: arguments left with Kubernetes-only references: {unresolved}"
        m.argv, m.env = local, env
        m.client_url = _url_for(local, "--advertise-client-urls", m.ip, 2379)
        m.metrics_url = _url_for(local, "--listen-metrics-urls", m.ip, 0)
    return members


def _url_for(args: list[str], flag: str, ip: str, default_port: int) -> str:
    for a in args:
        if a.startswith(flag + "="):
            return a.split("=", 1)[1].split(",")[0].rstrip("/")
    return f"http://{ip}:{default_port}" if default_port else ""


@pytest.fixture(scope="module")
def seed_render() -> Render:
    return render_dir(EXAMPLES / "seed")


@pytest.fixture(scope="module")
def seed_cluster(etcd_bins: tuple[str, str], seed_render: Render, tmp_path_factory: pytest.TempPathFactory):
    etcd, etcdctl = etcd_bins
    topo = global_topo(seed_render)
    tmp = tmp_path_factory.mktemp("etcd")
    members = plan_members(topo, tmp)
    group = ProcessGroup(tmp / "logs")
    try:
        for m in members:
            group.start(m.pod, [etcd, *m.argv], env=clean_env(m.env), cwd=tmp)
        for m in members:
            health = f"{m.metrics_url or m.client_url}/health"
            wait_for(lambda h=health: url_ok(h), 60, f"{m.pod} {health}", alive=group)
        yield LocalCluster(topo, members, group, etcdctl)
    finally:
        group.stop()


def test_seed_global_etcd_has_three_members(seed_render: Render) -> None:
    topo = global_topo(seed_render)
    assert topo.topo["metadata"]["name"] == "example-multigres-cluster-global"
    assert topo.sts["spec"]["replicas"] == 3


def test_rendered_etcd_members_form_one_healthy_cluster(seed_cluster: LocalCluster) -> None:
    statuses = [http_json(f"{url}/v3/maintenance/status", {}) for url in seed_cluster.client_urls()]
    cluster_ids = {s["header"]["cluster_id"] for s in statuses}
    member_ids = {s["header"]["member_id"] for s in statuses}
    leaders = {s["leader"] for s in statuses}
    assert len(cluster_ids) == 1, f"the members are not one cluster: {cluster_ids}"
    assert len(member_ids) == 3
    assert len(leaders) == 1 and leaders <= member_ids, f"no agreed leader: leaders {leaders}, members {member_ids}"
    listing = http_json(f"{seed_cluster.client_urls()[0]}/v3/cluster/member/list", {})
    names = sorted(m.get("name", "") for m in listing["members"])
    assert names == sorted(m.pod for m in seed_cluster.members), f"member names {names}"
    for m in seed_cluster.members:
        health = http_json(f"{m.metrics_url or m.client_url}/health")
        assert health.get("health") == "true", (m.pod, health)


# --- the registration Job -------------------------------------------------------------------------

def registration_jobs(render: Render) -> list[dict[str, Any]]:
    return [j for j in render.of("Job")
            if j["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "topo-registration"]


def _local_endpoint(endpoint: str, hosts: dict[str, str], where: str) -> str:
    scheme, sep, rest = endpoint.rpartition("://")
    host, _, port = rest.partition(":")
    assert host in hosts, f"{where}: endpoint {endpoint!r} is not the global topo"
    return f"{scheme}{sep}{hosts[host]}:{port or 2379}"


def _materialise(volume: dict[str, Any], render: Render, dest: Path) -> None:
    """A configMap volume's files, as the kubelet writes them (data as text, binaryData as bytes)."""
    (cm,) = [c for c in render.of("ConfigMap") if c["metadata"]["name"] == volume["configMap"]["name"]]
    dest.mkdir(parents=True, exist_ok=True)
    for name, text in (cm.get("data") or {}).items():
        (dest / name).write_text(text)
    for name, data in (cm.get("binaryData") or {}).items():
        (dest / name).write_bytes(base64.b64decode(data))


def run_job(job: dict[str, Any], cluster: LocalCluster, tmp: Path, render: Render) -> list[str]:
    """Run the Job's init containers, then its containers, as the kubelet would (each to completion,
    in order, ConfigMap volumes written to disk); their outputs. The registration script runs under
    the local bash, the read-back under the local etcdctl."""
    spec = pod_spec(job)
    outputs = []
    hosts = cluster.host_map()
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for c in [*(spec.get("initContainers") or []), *spec["containers"]]:
        env = container_env(c, job, f"{job['metadata']['name']}-abcde")
        argv = container_argv(c, env)
        mounts = {}
        for m in c.get("volumeMounts") or []:
            mounts[m["mountPath"]] = tmp / "mounts" / c["name"] / m["name"]
            _materialise(volumes[m["name"]], render, mounts[m["mountPath"]])
        if os.path.basename(argv[0]) == "bash":
            script = argv[1]
            for path, local_dir in mounts.items():
                script = script.replace(path, str(local_dir), 1) if script.startswith(path + "/") else script
            cmd = ["bash", script, _local_endpoint(argv[2], hosts, f"Job container {c['name']}")]
        else:
            assert os.path.basename(argv[0]) == "etcdctl", f"Job container {c['name']} runs {argv[0]!r}"
            cmd = [cluster.etcdctl]
            for arg in argv[1:]:
                if arg.startswith("--endpoints="):
                    arg = "--endpoints=" + ",".join(_local_endpoint(ep, hosts, f"Job container {c['name']}")
                                                    for ep in arg.split("=", 1)[1].split(","))
                cmd.append(arg)
        proc = subprocess.run(cmd, capture_output=True, timeout=60, cwd=tmp,
                              env=clean_env({**env, "ETCDCTL_API": env.get("ETCDCTL_API", "3")}))
        assert proc.returncode == 0, (f"Job container {c['name']} failed ({proc.returncode}): "
                                      f"{proc.stderr.decode(errors='replace')[-2000:]}")
        outputs.append(proc.stdout.decode(errors="replace"))
    return outputs


def read_records(cluster: LocalCluster, root: str) -> dict[str, bytes]:
    raw = etcd_range(cluster.client_urls()[0], (root.rstrip("/") + "/").encode())
    return {k.decode(): v for k, v in raw.items()}


def wipe(cluster: LocalCluster) -> None:
    from processes import b64, prefix_end

    http_json(f"{cluster.client_urls()[0]}/v3/kv/deleterange", {"key": b64(b"/"), "range_end": b64(prefix_end(b"/"))})


@dataclass
class Expected:
    cells: dict[str, dict[str, Any]]  # cell -> {"server_addresses": [...], "root": str | None (global)}
    databases: dict[str, dict[str, Any]]


def expected_records(render: Render) -> Expected:
    """What must be registered, from the child CRs and the cluster input (not from the build code)."""
    gt = global_topo(render)
    cells: dict[str, dict[str, Any]] = {}
    for mc in render.of("MultiCell"):
        spec = mc["spec"]
        if not (spec.get("topologyReconciliation") or {}).get("registerCell", True):
            continue
        topo = spec.get("topoServer") or {}
        if "managedSpec" in topo:
            own = [t for t in render.of("TopoServer")
                   if t["metadata"]["labels"].get("multigres.com/cell") == spec["name"]]
            assert len(own) == 1, f"no TopoServer for cell {spec['name']}"
            cells[spec["name"]] = {"server_addresses": [topo_of(render, own[0]).client_address],
                                   "root": topo["managedSpec"]["rootPath"]}
        elif "external" in topo:
            cells[spec["name"]] = {"server_addresses": [topo["external"]["address"]],
                                   "root": topo["external"].get("rootPath")}
        else:
            cells[spec["name"]] = {"server_addresses": [gt.client_address], "root": None}
    databases = {}
    for db in (render.cluster["spec"].get("databases") or {}).get("templates") or []:
        dspec = db.get("spec") or {}
        pool_cells = {p["cell"] for tg in dspec.get("tablegroups") or []
                      for p in ((tg.get("shardTemplate") or {}).get("pools") or []) if p.get("cell")}
        policy = dspec.get("durabilityPolicy") or DEFAULT_DURABILITY
        databases[db["name"]] = {"backup": dspec.get("backupLocation") or DEFAULT_BACKUP_LOCATION,
                                 "cells": pool_cells, "policy": RECORDS["durability_policies"][policy]}
    return Expected(cells, databases)


@pytest.fixture()
def registered(seed_cluster: LocalCluster, seed_render: Render, tmp_path: Path) -> dict[str, bytes]:
    jobs = registration_jobs(seed_render)
    assert len(jobs) == 1, f"expected one topology-registration Job, found {[j['metadata']['name'] for j in jobs]}"
    wipe(seed_cluster)
    run_job(jobs[0], seed_cluster, tmp_path, seed_render)
    return read_records(seed_cluster, seed_cluster.topo.root)


def test_registration_job_registers_every_cell_and_database(registered: dict[str, bytes], seed_render: Render,
                                                            seed_cluster: LocalCluster) -> None:
    root = seed_cluster.topo.root.rstrip("/")
    exp = expected_records(seed_render)
    want = {f"{root}/cells/{c}/Cell" for c in exp.cells} | {f"{root}/databases/{d}/Database" for d in exp.databases}
    assert set(registered) == want
    assert set(exp.cells) == {"us-east-1", "us-west-2"} and set(exp.databases) == {"production_db"}

    for name, e in exp.cells.items():
        cell = decode(registered[f"{root}/cells/{name}/Cell"], CELL)
        assert cell["name"] == name
        assert cell["server_addresses"] == e["server_addresses"], name
        assert cell.get("root", "").startswith("/"), name
        if e["root"] is not None:
            assert cell["root"] == e["root"], name

    for name, e in exp.databases.items():
        db = decode(registered[f"{root}/databases/{name}/Database"], DATABASE)
        assert db["name"] == name
        assert db["backup_location"] == {"filesystem": {"path": e["backup"]}}  # the seed keeps the default
        assert set(db["cells"]) == e["cells"] and len(db["cells"]) == len(e["cells"])
        policy = db["bootstrap_durability_policy"]
        assert "policy_version" not in policy  # AtLeastN/MultiCellAtLeastN leave it 0 (omitted)
        assert policy == {k: e["policy"][k] for k in ("policy_name", "quorum_type", "required_count", "description")}


def test_gateways_wait_for_their_cell_record_then_start(seed_cluster: LocalCluster, seed_render: Render,
                                                       tmp_path: Path) -> None:
    """Each gateway's wait-for-cell init container, under the local bash against real etcd: it keeps
    waiting while its Cell record is missing, and exits 0 once the registration Job has written it
    (and, for a cell with its own etcd, once that etcd is healthy: the global members stand in)."""
    wipe(seed_cluster)
    hosts = seed_cluster.host_map()
    stand_in = seed_cluster.client_urls()[0].split("://", 1)[1]
    gateways = [d for d in seed_render.of("Deployment")
                if d["metadata"]["labels"].get("app.kubernetes.io/component") == "multigateway"]
    assert len(gateways) == 2
    waits = []
    for deploy in gateways:
        (c,) = pod_spec(deploy)["initContainers"]
        argv = container_argv(c, container_env(c, deploy, f"{deploy['metadata']['name']}-abcde"))
        assert argv[:2] == ["/bin/bash", "-c"] and argv[3] == "wait-for-cell"
        endpoint, key, *cell_topo = argv[4:]
        cmd = ["bash", "-c", argv[2], argv[3], _local_endpoint(endpoint, hosts, c["name"]), key,
               *([stand_in] if cell_topo else [])]
        waits.append((key, cell_topo, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                       env=clean_env({}))))
    try:
        assert {bool(t) for _, t, _ in waits} == {True, False}  # us-west-2 has its own etcd, us-east-1 not
        for _, _, proc in waits:
            with pytest.raises(subprocess.TimeoutExpired):
                proc.wait(timeout=3)  # still waiting: nothing is registered
        run_job(registration_jobs(seed_render)[0], seed_cluster, tmp_path, seed_render)
        for key, _, proc in waits:
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err.decode(errors="replace")
            text = out.decode()
            assert f"waiting for {key} at " in text and f"found {key}" in text
    finally:
        for _, _, proc in waits:
            proc.kill()


def test_registration_job_can_run_again(seed_cluster: LocalCluster, seed_render: Render, registered: dict[str, bytes],
                                        tmp_path: Path) -> None:
    run_job(registration_jobs(seed_render)[0], seed_cluster, tmp_path, seed_render)
    assert read_records(seed_cluster, seed_cluster.topo.root) == registered


def test_cell_on_the_global_topo_has_its_own_root(registered: dict[str, bytes], seed_render: Render,
                                                 seed_cluster: LocalCluster) -> None:
    """Upstream registers a cell on the global etcd at `<global-root>/<cell>` (createclustermetadata.go);
    with the global root itself, the cell's poolers/gateways/orchs share the global namespace."""
    root = seed_cluster.topo.root.rstrip("/")
    for name, e in expected_records(seed_render).cells.items():
        if e["root"] is None:
            cell = decode(registered[f"{root}/cells/{name}/Cell"], CELL)
            assert cell["root"] != root, f"cell {name} is registered with the global root {root!r} as its own root"
            assert cell["root"] == f"{root}/{name}", f"cell {name}: root {cell['root']!r}, upstream uses {root}/{name}"


def _all_cells_global(cluster: dict[str, Any]) -> None:
    for cell in cluster["spec"]["cells"]["templates"]:
        (cell.get("spec") or {}).pop("toposerver", None)
        (cell.get("spec") or {}).pop("topoServer", None)


def test_two_cells_on_the_global_topo_do_not_share_a_root(seed_cluster: LocalCluster, tmp_path: Path) -> None:
    render = render_variant(tmp_path, _all_cells_global)
    assert not render.errors(), render.errors()
    wipe(seed_cluster)
    run_job(registration_jobs(render)[0], seed_cluster, tmp_path, render)
    root = global_topo(render).root.rstrip("/")
    got = {k: decode(v, CELL) for k, v in read_records(seed_cluster, root).items() if k.endswith("/Cell")}
    assert len(got) == 2
    places = [(tuple(c["server_addresses"]), c["root"]) for c in got.values()]
    assert len(set(places)) == len(places), f"two cells registered at the same topo server and root: {places}"


def test_a_record_too_long_for_one_byte_lengths_round_trips_or_is_rejected(seed_cluster: LocalCluster,
                                                                          tmp_path: Path) -> None:
    """A length of 128 or more is a varint with a byte >= 0x80 (not UTF-8): carried in binaryData,
    it must survive exactly."""
    long_path = "/backups/" + "x" * 150

    def change(cluster: dict[str, Any]) -> None:
        cluster["spec"]["databases"]["templates"][0].setdefault("spec", {})["backupLocation"] = long_path

    render = render_variant(tmp_path, change)
    assert not render.errors(), render.errors()
    wipe(seed_cluster)
    run_job(registration_jobs(render)[0], seed_cluster, tmp_path, render)
    root = global_topo(render).root.rstrip("/")
    db = decode(read_records(seed_cluster, root)[f"{root}/databases/production_db/Database"], DATABASE)
    assert db["backup_location"] == {"filesystem": {"path": long_path}}
