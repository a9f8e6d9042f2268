"""The container image and the function's catalog metadata agree with the package.

What these prove (without building the image; there is no registry access in tests):
- the Dockerfile's ENTRYPOINT is the package's console script (pyproject.toml [project.scripts])
  with no arguments, i.e. function mode; the base is python:3.11-slim; the user is nobody;
- .dockerignore keeps the package source (krmfn/ and its subpackages) and constraints.txt in the
  context, and the build installs with `-c constraints.txt` (the versions the tests ran);
- function.yaml is a KRMFunctionDefinition whose functionConfig schema is exactly the one
  codegen/function_yaml.py generates from RenderMultigres (`make generate`), whose image tag is
  the package version, and whose image is the one the kustomize container config uses.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib

from helpers import ROOT

import krmfn
from codegen import function_yaml
from krmfn import yamlio

DOCKERFILE = (ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FUNCTION_YAML = ROOT / "function.yaml"


def instructions(name: str) -> list[str]:
    return re.findall(rf"^{name}\s+(.+)$", DOCKERFILE, re.M)


def test_entrypoint_is_the_console_script_in_function_mode() -> None:
    entry = json.loads(instructions("ENTRYPOINT")[-1])
    assert len(entry) == 1, "function mode means no arguments"
    scripts = PYPROJECT["project"]["scripts"]
    name = entry[0].rsplit("/", 1)[-1]
    assert scripts.get(name) == "krmfn.cli:console"
    assert not instructions("CMD")


def test_base_image_and_user() -> None:
    assert all(base.split()[0] == "python:3.11-slim" for base in instructions("FROM"))
    assert instructions("USER")[-1].strip() in ("65534", "65534:65534", "nobody")


def test_dockerignore_keeps_the_package() -> None:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def excluded(path: str) -> bool:
        verdict = False
        for p in patterns:
            negate = p.startswith("!")
            pat = p.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path, pat + "/*") or path.startswith(pat + "/"):
                verdict = not negate
        return verdict

    for path in ("pyproject.toml", "README.md", "constraints.txt", "krmfn/cli.py", "krmfn/workloads/__init__.py"):
        assert not excluded(path), path
    for path in (".venv/bin/python", "tests/test_kpt.py", ".git/HEAD", "codegen/__main__.py"):
        assert excluded(path), path


def test_the_generators_are_not_shipped() -> None:
    """The wheel (and so the image, which installs it) has krmfn's packages, generated code
    included, and not codegen/: the generators run at development time only."""
    from setuptools import find_packages

    packages = find_packages(str(ROOT), **PYPROJECT["tool"]["setuptools"]["packages"]["find"])
    assert "krmfn.api.generated" in packages and "krmfn.workloads" in packages
    assert not [p for p in packages if not p.startswith("krmfn")], packages
    assert (ROOT / "codegen" / "__main__.py").is_file()


def test_build_installs_with_the_constraints() -> None:
    """Without `-c constraints.txt` the image gets whatever PyPI has that day, not what the tests ran."""
    copied = [word for line in instructions("COPY") for word in line.split()[:-1]]
    assert "constraints.txt" in copied
    runs = re.findall(r"^RUN\s+(.+)$", DOCKERFILE.replace("\\\n", " "), re.M)  # continuation lines joined
    installs = [step.strip() for run in runs for step in run.split("&&") if "pip install" in step]
    # `.` or `'.[status]'` (the status reporter's client, an extra the render never loads)
    pattern = r"pip install .*-c constraints\.txt (\.|'\.\[status\]')$"
    assert installs and all(re.search(pattern, step) for step in installs), installs


def test_function_yaml_schema_is_generated_from_the_model() -> None:
    text = FUNCTION_YAML.read_text()
    assert text == function_yaml.render(text), "function.yaml is stale: run `make generate`"
    schema = yamlio.load(text)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["properties"]["kind"]["enum"] == ["RenderMultigres"]


def test_function_yaml_metadata() -> None:
    definition = yamlio.load(FUNCTION_YAML.read_text())
    assert (definition["apiVersion"], definition["kind"]) == ("config.kubernetes.io/v1alpha1", "KRMFunctionDefinition")
    spec = definition["spec"]
    assert (spec["group"], spec["names"]["kind"]) == ("fn.multigres.com", "RenderMultigres")
    for key in ("description", "publisher", "versions"):
        assert spec[key]
    version = spec["versions"][0]
    for key in ("name", "idempotent", "runtime", "usage", "examples", "license"):
        assert key in version, key
    image = version["runtime"]["container"]["image"]
    assert image.endswith(":v" + krmfn.__version__)
    for path in [version["usage"], *version["examples"]]:
        assert (ROOT / path).exists(), path
    container = yamlio.load((ROOT / "kustomization" / "container" / "render-multigres.yaml").read_text())
    runtime = yamlio.load(container["metadata"]["annotations"]["config.kubernetes.io/function"])
    assert runtime["container"]["image"] == image


def test_version_license_and_typing_marker_ship_with_the_package() -> None:
    """One version (krmfn.__version__, which pyproject.toml reads); the license function.yaml names."""
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "krmfn.__version__"}
    # The Dockerfile's build context is pyproject.toml, README.md, constraints.txt and krmfn/ only.
    assert PYPROJECT["project"]["license"] == {"text": "Apache-2.0"}
    assert "Apache License\n" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    assert yamlio.load(FUNCTION_YAML.read_text())["spec"]["versions"][0]["license"] == "Apache 2.0"
    assert (ROOT / "krmfn" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["krmfn"]
