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

How the image is built (podman settings, the base): function_image.py.

Without root, podman, debootstrap or kpt the tests skip with the reason; under REQUIRE_TOOLS=1
they fail instead. No Kubernetes node is needed.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from function_image import HOST_CA_BUNDLE, Built, build, checked, run, sources_digest
from helpers import EXAMPLES, ROOT, require_tool

from krmfn import yamlio

LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", ROOT / "e2e-logs"))
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    kpt = require_tool("kpt")
    b = build(tmp_path_factory.mktemp("podman"))
    b.kpt = kpt
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "function-image.txt").write_text(b.report())
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
        return checked([built.podman, "run", "--rm", "--entrypoint", "sha256sum", image,
                         str(HOST_CA_BUNDLE)], built.env, f"sha256sum in {image}").stdout.split()[0]

    assert bundle(built.image) == bundle(built.base_image)


def test_image_runs_as_non_root(built: Built) -> None:
    user = checked([built.podman, "image", "inspect", "--format", "{{.Config.User}}", built.image],
                    built.env, "podman image inspect").stdout.strip()
    assert user and user.split(":")[0] not in ("0", "root"), f"image user is {user!r}"
    ids = checked([built.podman, "run", "--rm", "--entrypoint", "id", built.image],
                   built.env, "podman run id").stdout.strip()
    uid = checked([built.podman, "run", "--rm", "--entrypoint", "id", built.image, "-u"],
                   built.env, "podman run id -u").stdout.strip()
    assert uid != "0", ids
    assert uid == user.split(":")[0], f"{ids} vs image user {user}"


def test_function_runs_without_network(built: Built) -> None:
    probe = "import socket; print(' '.join(sorted(n for _, n in socket.if_nameindex())))"
    ifaces = checked([built.podman, "run", "--rm", "--network", "none", "--entrypoint", "python", built.image,
                       "-c", probe], built.env, "podman run --network none").stdout.split()
    assert ifaces == ["lo"], f"interfaces with --network none: {ifaces}"
    stdin = yamlio.dump({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                         "items": [yamlio.load(p.read_text()) for p in sorted((EXAMPLES / "seed").glob("*.yaml"))]})
    proc = run([built.podman, "run", "--rm", "-i", "--network", "none", built.image], built.env, input=stdin)
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
    proc = run([built.kpt, "fn", "render", str(by_exec), "--allow-exec", "--truncate-output=false",
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
    proc = run([*render, "--results-dir", str(tmp_path / "image-results")], image_env)
    assert proc.returncode == 0, proc.stderr + "\npodman calls:\n" + (calls.read_text() if calls.exists() else "")

    runs = [line.split() for line in calls.read_text().splitlines() if line.startswith("run ")]
    assert len(runs) == 1, calls.read_text()
    args = runs[0]
    print("kpt ran: podman " + " ".join(args))
    assert args[-1] == built.image
    assert "--network none" in " ".join(args), f"kpt did not cut the network: {args}"
    assert "--user" in args and args[args.index("--user") + 1] not in ("0", "root"), args

    if sources_digest() != built.sources:
        pytest.fail("the package's sources changed while this test ran (the image and the editable venv "
                    "now run different code); run it again")
    got, want = _files(by_image), _files(by_exec)
    assert got.pop("Kptfile") == want.pop("Kptfile").replace(exec_line.encode(), image_line.encode())
    assert sorted(got) == sorted(want), "the two renders wrote different files"
    assert any(name.startswith("generated/") for name in got)
    different = [name for name in sorted(want) if got[name] != want[name]]
    assert not different, f"files that differ between image and exec mode: {different}"
    assert _results(tmp_path / "image-results") == _results(tmp_path / "exec-results")

    proc = run(render, image_env)
    assert proc.returncode == 0, proc.stderr
    assert {k: v for k, v in _files(by_image).items() if k != "Kptfile"} == got, "a second render changed files"
