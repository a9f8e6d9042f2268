"""The function's own container image, built from the repo's Dockerfile unchanged and run by kpt.

What these prove:
- the Dockerfile builds with podman as it is, on a stand-in for its base `python:3.11-slim`
  (tools/pybase.sh: Debian 12 with Debian's Python 3.11, imported under that name, because no
  container registry is reachable here); the image size is recorded (test output and
  `e2e-logs/function-image.txt`);
- the image runs as a non-root user (its config and `id -u` in a container);
- a container without network (`--network none`) has only the loopback interface, and the
  function works in it;
- `kpt fn render` with `image:` in the Kptfile and `KPT_FN_RUNTIME=podman` runs the container
  (kpt's own command line is recorded and checked: `--network none`, `--user nobody`) and writes
  byte for byte the files, and the same results, that the exec-mode render (`exec:` +
  `--allow-exec`, the venv's console script) writes; a second render changes nothing.

Podman settings (private, nothing global is changed): a containers.conf given by CONTAINERS_CONF
selects runc (crun refuses this machine's hybrid cgroup v1 hierarchy) and keeps the containers'
nofile/nproc ulimits within the host's hard limits (raising them needs CAP_SYS_RESOURCE). The
image build bind-mounts the host's CA bundle over the build containers' own, so that pip can
reach PyPI through a TLS-intercepting egress proxy; a build-time mount is not stored in any layer.

Without root, podman, debootstrap or kpt the tests skip with the reason; under REQUIRE_TOOLS=1
they fail instead. No Kubernetes node is needed.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import EXAMPLES, REQUIRE_TOOLS, ROOT, require_tool

import krmfn
from krmfn import yamlio

LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", ROOT / "e2e-logs"))
VENV_BIN = Path(sys.executable).parent
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]

[engine]
runtime = "runc"
"""


def _unavailable(reason: str) -> None:
    if REQUIRE_TOOLS:
        pytest.fail(f"REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


def _function_image() -> str:
    """The image function.yaml names (its tag is the package version, tests/test_container.py)."""
    definition = yamlio.load((ROOT / "function.yaml").read_text())
    image = definition["spec"]["versions"][0]["runtime"]["container"]["image"]
    version = krmfn.__version__  # the one version source (pyproject.toml reads it)
    assert image.rsplit(":", 1)[-1].lstrip("v") == version, f"{image} is not tagged with {version}"
    return image


def _limit(which: int, cap: int) -> int:
    hard = resource.getrlimit(which)[1]
    return cap if hard < 0 else min(hard, cap)


@dataclass
class Built:
    image: str
    base_image: str
    env: dict[str, str]
    podman: str
    kpt: str
    timings: dict[str, float] = field(default_factory=dict)
    size: int = 0
    base_size: int = 0
    sources: str = ""


def _sources_digest() -> str:
    """A digest of what the Dockerfile copies (and the editable venv runs): pyproject, README, constraints, krmfn/."""
    files = [ROOT / "pyproject.toml", ROOT / "README.md", ROOT / "constraints.txt",
             *(p for p in (ROOT / "krmfn").rglob("*") if p.is_file() and "__pycache__" not in p.parts
               and p.suffix != ".pyc")]
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _run(cmd: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


def _checked(cmd: list[str], env: dict[str, str], what: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    proc = _run(cmd, env, **kw)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _size(podman: str, image: str, env: dict[str, str]) -> int:
    out = _checked([podman, "image", "inspect", "--format", "{{.Size}}", image], env, "podman image inspect")
    return int(out.stdout.strip())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    if os.geteuid() != 0:
        _unavailable("building the base image needs root (debootstrap, chroot, rootful podman)")
    podman = require_tool("podman")
    require_tool("debootstrap")
    kpt = require_tool("kpt")

    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF.format(nofile=_limit(resource.RLIMIT_NOFILE, 20000),
                                           nproc=_limit(resource.RLIMIT_NPROC, 32768)))
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    b = Built(image=_function_image(), base_image="", env=env, podman=podman, kpt=kpt)

    start = time.monotonic()
    base = _checked(["bash", str(ROOT / "tools" / "pybase.sh")], env, "tools/pybase.sh")
    b.timings["base (tools/pybase.sh)"] = time.monotonic() - start
    print(base.stderr, file=sys.stderr, end="")
    b.base_image = base_image = base.stdout.strip().splitlines()[-1]
    b.base_size = _size(podman, base_image, env)

    cmd = [podman, "build", "--runtime", "runc", "--pull=never", "-f", str(ROOT / "Dockerfile"), "-t", b.image]
    if HOST_CA_BUNDLE.exists():
        cmd += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    b.sources = _sources_digest()
    start = time.monotonic()
    _checked([*cmd, str(ROOT)], env, "podman build of the Dockerfile")
    b.timings["image (podman build)"] = time.monotonic() - start
    b.size = _size(podman, b.image, env)

    report = (f"image: {b.image}\n"
              f"size: {b.size} bytes ({b.size / 1e6:.1f} MB)\n"
              f"base: {base_image} (tools/pybase.sh), {b.base_size} bytes ({b.base_size / 1e6:.1f} MB)\n"
              + "".join(f"{k}: {v:.1f}s\n" for k, v in b.timings.items()))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "function-image.txt").write_text(report)
    yield b


def test_image_size_is_recorded(built: Built, record_property: Callable[[str, object], None]) -> None:
    assert built.size > built.base_size > 0
    report = (LOG_DIR / "function-image.txt").read_text()
    assert f"size: {built.size} bytes" in report
    record_property("image_size_bytes", built.size)
    print(report, end="")


def test_build_time_ca_mount_is_not_in_the_image(built: Built) -> None:
    """The host's CA bundle was mounted into the build only: the image keeps its base's bundle."""
    def bundle(image: str) -> str:
        return _checked([built.podman, "run", "--rm", "--entrypoint", "sha256sum", image,
                         str(HOST_CA_BUNDLE)], built.env, f"sha256sum in {image}").stdout.split()[0]

    assert bundle(built.image) == bundle(built.base_image)


def test_image_runs_as_non_root(built: Built) -> None:
    user = _checked([built.podman, "image", "inspect", "--format", "{{.Config.User}}", built.image],
                    built.env, "podman image inspect").stdout.strip()
    assert user and user.split(":")[0] not in ("0", "root"), f"image user is {user!r}"
    ids = _checked([built.podman, "run", "--rm", "--entrypoint", "id", built.image],
                   built.env, "podman run id").stdout.strip()
    uid = _checked([built.podman, "run", "--rm", "--entrypoint", "id", built.image, "-u"],
                   built.env, "podman run id -u").stdout.strip()
    assert uid != "0", ids
    assert uid == user.split(":")[0], f"{ids} vs image user {user}"


def test_function_runs_without_network(built: Built) -> None:
    probe = "import socket; print(' '.join(sorted(n for _, n in socket.if_nameindex())))"
    ifaces = _checked([built.podman, "run", "--rm", "--network", "none", "--entrypoint", "python", built.image,
                       "-c", probe], built.env, "podman run --network none").stdout.split()
    assert ifaces == ["lo"], f"interfaces with --network none: {ifaces}"
    stdin = yamlio.dump({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                         "items": [yamlio.load(p.read_text()) for p in sorted((EXAMPLES / "seed").glob("*.yaml"))]})
    proc = _run([built.podman, "run", "--rm", "-i", "--network", "none", built.image], built.env, input=stdin)
    assert proc.returncode == 0, proc.stderr
    kinds = {i["kind"] for i in yamlio.load(proc.stdout)["items"]}
    assert {"MultiShard", "StatefulSet"} <= kinds, sorted(kinds)


def _files(pkg: Path) -> dict[str, bytes]:
    return {str(p.relative_to(pkg)): p.read_bytes() for p in sorted(pkg.rglob("*")) if p.is_file()}


def _results(results: Path) -> list[dict]:  # type: ignore[type-arg]
    """The results kpt wrote, without the one field that names the function (image vs exec)."""
    doc = yamlio.load((results / "results.yaml").read_text())
    for item in doc.get("items") or []:
        item.pop("image", None)
        item.pop("exec", None)
    return doc["items"]


def test_kpt_render_with_the_image_matches_exec_mode_byte_for_byte(built: Built, tmp_path: Path) -> None:
    exec_line = "- exec: multigres-krmfn"
    image_line = f"- image: {built.image}"
    kptfile = (EXAMPLES / "seed" / "Kptfile").read_text()
    assert exec_line in kptfile

    by_exec = tmp_path / "exec" / "seed"
    by_image = tmp_path / "image" / "seed"
    for pkg in (by_exec, by_image):
        shutil.copytree(EXAMPLES / "seed", pkg, ignore=shutil.ignore_patterns(".expected"))
    (by_image / "Kptfile").write_text(kptfile.replace(exec_line, image_line))

    exec_env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = _run([built.kpt, "fn", "render", str(by_exec), "--allow-exec", "--truncate-output=false",
                 "--results-dir", str(tmp_path / "exec-results")], exec_env)
    assert proc.returncode == 0, proc.stderr

    # A podman on PATH that records kpt's command lines, then runs the real one.
    shim = tmp_path / "shim"
    shim.mkdir()
    calls = tmp_path / "podman-calls.txt"
    (shim / "podman").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >>"{calls}"\nexec "{built.podman}" "$@"\n')
    (shim / "podman").chmod(0o755)
    image_env = {**built.env, "KPT_FN_RUNTIME": "podman", "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"}
    render = [built.kpt, "fn", "render", str(by_image), "--image-pull-policy", "Never", "--truncate-output=false"]
    proc = _run([*render, "--results-dir", str(tmp_path / "image-results")], image_env)
    assert proc.returncode == 0, proc.stderr + "\npodman calls:\n" + (calls.read_text() if calls.exists() else "")

    runs = [line.split() for line in calls.read_text().splitlines() if line.startswith("run ")]
    assert len(runs) == 1, calls.read_text()
    args = runs[0]
    print("kpt ran: podman " + " ".join(args))
    assert args[-1] == built.image
    assert "--network none" in " ".join(args), f"kpt did not cut the network: {args}"
    assert "--user" in args and args[args.index("--user") + 1] not in ("0", "root"), args

    if _sources_digest() != built.sources:
        pytest.fail("the package's sources changed while this test ran (the image and the editable venv "
                    "now run different code); run it again")
    got, want = _files(by_image), _files(by_exec)
    assert got.pop("Kptfile") == want.pop("Kptfile").replace(exec_line.encode(), image_line.encode())
    assert sorted(got) == sorted(want), "the two renders wrote different files"
    assert any(name.startswith("generated/") for name in got)
    different = [name for name in sorted(want) if got[name] != want[name]]
    assert not different, f"files that differ between image and exec mode: {different}"
    assert _results(tmp_path / "image-results") == _results(tmp_path / "exec-results")

    proc = _run(render, image_env)
    assert proc.returncode == 0, proc.stderr
    assert {k: v for k, v in _files(by_image).items() if k != "Kptfile"} == got, "a second render changed files"
