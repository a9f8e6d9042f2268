"""Building the function's own container image with podman, for the tests that need it
(test_function_image.py runs it like kpt does; test_reporter_pod.py runs it on the node).

The repo's Dockerfile is built unchanged on a stand-in for its base `python:3.11-slim`
(tools/pybase.sh: Debian 12 with Debian's Python 3.11, imported under that name, because no
container registry is reachable here).

Podman settings (private, nothing global is changed): a containers.conf given by CONTAINERS_CONF
selects runc (crun refuses this machine's hybrid cgroup v1 hierarchy) and keeps the containers'
nofile/nproc ulimits within the host's hard limits (raising them needs CAP_SYS_RESOURCE). The
image build bind-mounts the host's CA bundle over the build containers' own, so that pip can
reach PyPI through a TLS-intercepting egress proxy; a build-time mount is not stored in any layer.

Without root, podman or debootstrap the build skips with the reason; under REQUIRE_TOOLS=1 it
fails instead.
"""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import REQUIRE_TOOLS, ROOT, require_tool

import krmfn
from krmfn import yamlio

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]

[engine]
runtime = "runc"
"""


def unavailable(reason: str) -> None:
    if REQUIRE_TOOLS:
        pytest.fail(f"REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


def function_image() -> str:
    """The image function.yaml names (its tag is the package version, tests/test_container.py);
    the render's default status reporter image is the same name (defaults.FUNCTION_IMAGE_REPOSITORY)."""
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
    """The built image and how to reach it (podman with the private containers.conf)."""

    image: str
    base_image: str
    env: dict[str, str]
    podman: str
    kpt: str = ""  # set by the tests that run it through kpt
    timings: dict[str, float] = field(default_factory=dict)
    size: int = 0
    base_size: int = 0
    sources: str = ""

    def report(self) -> str:
        return (f"image: {self.image}\n"
                f"size: {self.size} bytes ({self.size / 1e6:.1f} MB)\n"
                f"base: {self.base_image} (tools/pybase.sh), {self.base_size} bytes "
                f"({self.base_size / 1e6:.1f} MB)\n"
                + "".join(f"{k}: {v:.1f}s\n" for k, v in self.timings.items()))


def sources_digest() -> str:
    """A digest of what the Dockerfile copies (and the editable venv runs): pyproject, README,
    constraints, krmfn/, krmfn_status/, krmfn_etcd/."""
    files = [ROOT / "pyproject.toml", ROOT / "README.md", ROOT / "constraints.txt",
             *(p for pkg in ("krmfn", "krmfn_status", "krmfn_etcd") for p in (ROOT / pkg).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")]
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def run(cmd: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


def checked(cmd: list[str], env: dict[str, str], what: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    proc = run(cmd, env, **kw)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def image_size(podman: str, image: str, env: dict[str, str]) -> int:
    out = checked([podman, "image", "inspect", "--format", "{{.Size}}", image], env, "podman image inspect")
    return int(out.stdout.strip())


def build(conf_dir: Path) -> Built:
    """Build (podman's layer cache makes a second build of the same sources take seconds) the base
    and the Dockerfile; conf_dir receives the private containers.conf."""
    if os.geteuid() != 0:
        unavailable("building the base image needs root (debootstrap, chroot, rootful podman)")
    podman = require_tool("podman")
    require_tool("debootstrap")

    conf = conf_dir / "containers.conf"
    conf.write_text(CONTAINERS_CONF.format(nofile=_limit(resource.RLIMIT_NOFILE, 20000),
                                           nproc=_limit(resource.RLIMIT_NPROC, 32768)))
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    b = Built(image=function_image(), base_image="", env=env, podman=podman)

    start = time.monotonic()
    base = checked(["bash", str(ROOT / "tools" / "pybase.sh")], env, "tools/pybase.sh")
    b.timings["base (tools/pybase.sh)"] = time.monotonic() - start
    print(base.stderr, file=sys.stderr, end="")
    b.base_image = base.stdout.strip().splitlines()[-1]
    b.base_size = image_size(podman, b.base_image, env)

    cmd = [podman, "build", "--runtime", "runc", "--pull=never", "-f", str(ROOT / "Dockerfile"), "-t", b.image]
    if HOST_CA_BUNDLE.exists():
        cmd += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    b.sources = sources_digest()
    start = time.monotonic()
    checked([*cmd, str(ROOT)], env, "podman build of the Dockerfile")
    b.timings["image (podman build)"] = time.monotonic() - start
    b.size = image_size(podman, b.image, env)
    return b


def save_oci_archive(b: Built, path: Path) -> Path:
    """The image as an OCI archive (what containerd's `ctr images import` reads); podman writes
    the image's full name into the archive's index (`org.opencontainers.image.ref.name`)."""
    start = time.monotonic()
    path.unlink(missing_ok=True)
    checked([b.podman, "save", "--format", "oci-archive", "-o", str(path), b.image], b.env, "podman save")
    b.timings["oci archive (podman save)"] = time.monotonic() - start
    return path
