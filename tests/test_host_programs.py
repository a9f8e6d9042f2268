"""Every host program the repository runs comes from somewhere a fresh machine gets it.

The table below says, for each program the harness (tests/), the tool and image builds (tools/*.sh)
and the scripts execute, where it comes from: a Debian package that tools/host-packages.sh
installs, Debian's base system (a `debootstrap --variant=minbase` root: the packages of priority
"required"), tools/build.sh, or a prerequisite no Debian package provides at a usable version.
tests/host_programs.py reads the code for the programs it runs; the programs only other programs
run (runc by containerd, iptables by kube-proxy, ...) are entered by hand.

How the table was checked beyond these tests: tools/host-packages.sh was run in a fresh
`debootstrap --variant=minbase bookworm` root (chroot), and `command -v` found every program of
BASE and of the packages there (docs/development.md, "Host packages").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import host_programs
import pytest
from helpers import ROOT

BASE = "base"  # Debian's minbase (priority required)
BUILT = "tools/build.sh"
PREREQUISITE = "prerequisite"  # Go (go.dev/dl) and kpt: not packaged by Debian 12 at the versions used

# program -> Debian package (installed by tools/host-packages.sh), BASE, BUILT or PREREQUISITE
PROGRAMS: dict[str, str] = {
    **dict.fromkeys(["apt-get"], BASE),
    **dict.fromkeys(["dpkg-query"], BASE),
    **dict.fromkeys(["awk"], BASE),
    **dict.fromkeys(["bash"], BASE),
    **dict.fromkeys(["sh"], BASE),
    **dict.fromkeys(["cat", "chmod", "chown", "chroot", "cp", "cut", "date", "dirname", "du", "head", "id", "install",
                     "ln", "mkdir", "mknod", "mktemp", "mv", "realpath", "rm", "sha256sum", "sort", "tail",
                     "tr"], BASE),
    "ldd": BASE,  # libc-bin: tools/argocd-image.sh copies the libraries it names
    **dict.fromkeys(["find"], BASE),
    **dict.fromkeys(["flock"], BASE),
    **dict.fromkeys(["grep"], BASE),
    **dict.fromkeys(["tar", "gzip"], BASE),
    **dict.fromkeys(["umount", "mount"], BASE),  # the node's teardown; kubelet's volume mounts
    "nsenter": BASE,  # util-linux: the three-node cluster starts each node's programs in its netns
    "sysctl": "procps",  # a node's forwarding and bridge netfilter, inside its netns
    "python3": "python3",
    "make": "make",
    "git": "git",
    "gcc": "gcc",  # run by `go build` for the cgo parts of Multigres
    "curl": "curl",
    "shellcheck": "shellcheck",
    "time": "time",  # GNU time: tools/build.sh reports each build's peak memory with it
    "debootstrap": "debootstrap",
    "podman": "podman",
    "newuidmap": "uidmap",  # podman's user namespaces
    "runc": "runc",  # run by containerd and by podman
    **dict.fromkeys(["iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save",
                     "ip6tables-restore"], "iptables"),  # also run by kube-proxy and kubelet
    "conntrack": "conntrack",  # run by kube-proxy
    "nft": "nftables",
    "ip": "iproute2",
    "openssl": "openssl",
    "pgrep": "procps",
    "modprobe": "kmod",
    **dict.fromkeys(["sed", "unshare"], BASE),
    "postgres": "postgresql-15",  # the exporter's smoke test (tests/test_monitoring_smoke.py)
    "redis-server": "redis-server",  # Argo CD's cache in its e2e (tests/e2e/argocd_stack.py)
    **dict.fromkeys(["kubectl", "kustomize", "etcd", "etcdctl", "multigres", "multiadmin", "multiorch", "prometheus",
                     "promtool", "postgres_exporter", "kube-network-policies", "weed", "argocd", "argocd-cmp-server",
                     "argocd-repo-server", "argocd-application-controller"], BUILT),
    **dict.fromkeys(["go", "kpt"], PREREQUISITE),
}
# Files, not programs on PATH: the CNI plugins the node's conflist names (tests/knode/config.py).
FILES: dict[str, str] = {"/usr/lib/cni/bridge": "containernetworking-plugins",
                         "/usr/lib/cni/host-local": "containernetworking-plugins"}
# Packages installed for what they hold rather than for a program.
SUPPORT: dict[str, str] = {
    "python3-venv": "`python3 -m venv` (every make target's .venv)",
    "libc6-dev": "the C headers and crt files gcc needs for cgo",
    "ca-certificates": "https to the upstream hosts (tools/sources.sh)",
}


def _shell_scripts() -> list[Path]:
    """The scripts `make lint` shellchecks (tests/test_shellcheck.py checks that list is complete)."""
    line = next(x for x in (ROOT / "Makefile").read_text().splitlines() if x.startswith("SHELL_SCRIPTS :="))
    return sorted(p for pattern in line.split(":=", 1)[1].split() for p in ROOT.glob(pattern))


def _executed() -> dict[str, set[str]]:
    """program -> the files that run it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for prog in host_programs.python_programs(path):
            found.setdefault(prog, set()).add(str(path.relative_to(ROOT)))
    scripts = _shell_scripts()
    functions = set().union(*(host_programs.shell_functions(p) for p in scripts))
    for path in scripts:
        for prog in host_programs.shell_programs(path, functions):
            found.setdefault(prog, set()).add(str(path.relative_to(ROOT)))
    return found


def _host_packages() -> list[str]:
    out = subprocess.run(["bash", str(ROOT / "tools" / "host-packages.sh"), "--list"], capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_every_program_the_code_runs_is_in_the_table():
    unknown = {prog: sorted(files) for prog, files in _executed().items() if prog not in PROGRAMS}
    assert not unknown, f"add these programs to PROGRAMS (and their package to tools/host-packages.sh): {unknown}"


def test_the_scan_finds_the_node_and_build_programs():
    """The scanner itself: programs known to be run in each way (argv literal, varargs wrapper,
    which() over a tuple, shell command, command substitution) are found."""
    found = _executed()
    for prog in ("nft", "ip", "openssl", "conntrack", "pgrep", "debootstrap", "curl", "flock", "du", "python3"):
        assert prog in found, prog


def test_every_package_of_the_table_is_installed_by_host_packages():
    packages = set(_host_packages())
    needed = {p for p in [*PROGRAMS.values(), *FILES.values()] if p not in (BASE, BUILT, PREREQUISITE)}
    assert needed <= packages, f"tools/host-packages.sh lacks {sorted(needed - packages)}"


def test_host_packages_installs_nothing_unexplained():
    used = {*PROGRAMS.values(), *FILES.values(), *SUPPORT}
    assert not set(_host_packages()) - used, "a package of tools/host-packages.sh no program or file needs"


def test_built_programs_are_what_build_sh_builds():
    script = (ROOT / "tools" / "build.sh").read_text()
    body = script[script.index("binaries_of() {"):script.index("tool_dir() {")]
    built = {b for line in re.findall(r"echo ([a-z0-9 _-]+)", body) for b in line.split()}
    missing = {p for p, src in PROGRAMS.items() if src == BUILT} - built
    assert not missing, f"not built by tools/build.sh: {sorted(missing)}"


def _owners(paths: list[str]) -> dict[str, str]:
    """path -> the Debian package that ships it (or its realpath, or its /usr-merged twin); one
    dpkg-query for all of them."""
    twins: dict[str, str] = {}
    for path in paths:
        for p in (path, os.path.realpath(path)):
            for twin in (p, re.sub(r"^/usr/(s?bin)/", r"/\1/", p), re.sub(r"^/(s?bin)/", r"/usr/\1/", p)):
                twins.setdefault(twin, path)
    out = subprocess.run(["dpkg-query", "-S", *twins], capture_output=True, text=True).stdout
    owners: dict[str, str] = {}
    for line in out.splitlines():
        package, _, file = line.partition(": ")
        if file in twins and "diversion" not in package:
            owners.setdefault(twins[file], package.split(",")[0].strip())
    return owners


def _depends(package: str) -> set[str]:
    """The packages package depends on (python3 brings /usr/bin/python3 through python3-minimal)."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", package], capture_output=True,
                         text=True).stdout
    return {re.split(r"[\s:(]", alt.strip())[0] for alt in re.split(r"[,|]", out) if alt.strip()}


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian machine")
def test_the_table_names_the_package_that_ships_each_installed_program():
    """On this machine: each installed program's file belongs to the table's package, and each
    BASE program to a package of priority required (what minbase installs)."""
    paths = {prog: path for prog in PROGRAMS if (path := shutil.which(prog))}
    owners = _owners(list(paths.values()))
    wrong = {}
    for prog, source in PROGRAMS.items():
        owner = owners.get(paths.get(prog, ""))
        if owner is None or source in (BUILT, PREREQUISITE):
            continue  # not installed, or not from a Debian package here (pyenv's python3, /usr/local/go)
        if source == BASE:
            priority = subprocess.run(["dpkg-query", "-W", "-f=${Priority}", owner], capture_output=True,
                                      text=True).stdout
            if priority != "required":
                wrong[prog] = f"{owner} has priority {priority!r}, not in minbase"
        elif owner != source and owner not in _depends(source):
            wrong[prog] = f"ships in {owner}, which the table's {source} does not install"
    assert not wrong, wrong


def _stubbed(tmp_path: Path, uid: int, installed: set[str]) -> subprocess.CompletedProcess[str]:
    """host-packages.sh with `id`, `dpkg-query` and `apt-get` stubbed on PATH (apt-get records its
    arguments), so neither this machine's packages nor its user decide the outcome."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    known = " ".join(sorted(installed))
    (stubs / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (stubs / "dpkg-query").write_text(
        f'#!/bin/bash\nfor p in {known}; do [[ ${{@: -1}} == "$p" ]] && echo "install ok installed"; done\nexit 0\n')
    (stubs / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/apt.log\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin"}
    return subprocess.run(["bash", str(ROOT / "tools" / "host-packages.sh")], capture_output=True, text=True, env=env)


def test_host_packages_installs_only_what_is_missing(tmp_path: Path):
    proc = _stubbed(tmp_path, 0, set(_host_packages()) - {"nftables", "git"})
    assert proc.returncode == 0, proc.stderr
    install = [line for line in (tmp_path / "apt.log").read_text().splitlines() if line.startswith("install")]
    assert install == ["install -y -qq --no-install-recommends git nftables"]


def test_host_packages_without_root_names_the_command_and_fails(tmp_path: Path):
    proc = _stubbed(tmp_path, 1000, set(_host_packages()) - {"nftables"})
    assert proc.returncode == 1
    assert "missing nftables" in proc.stderr and "sudo " in proc.stderr and "host-packages.sh" in proc.stderr
    assert not (tmp_path / "apt.log").exists()


def test_host_packages_does_nothing_when_all_are_installed(tmp_path: Path):
    proc = _stubbed(tmp_path, 1000, set(_host_packages()))
    assert proc.returncode == 0 and not proc.stderr
