"""Every Multigres command line the function renders, checked against the binaries' real flags.

The real binaries cannot be built here (the Go module proxy answers 403 for
github.com/multigres/multigres), so the flag sets were read off the upstream source and recorded
as facts in tests/data/multigres_flags.json (file paths and commits in it). Each container,
init container and Job container of every example whose command runs a Multigres binary
(multiadmin, multigateway, multiorch, multipooler, pgctld, multigres) is its own test case:
`$(VAR)` references are expanded with sample values as the kubelet would, then every `--flag`,
`--flag=value` and `--flag value` is parsed the way pflag does. An unknown flag, a flag that needs
a value and has none, a value of the wrong type, or a missing required flag / environment
variable fails the case, naming the container.

`test_binary_accepts_rendered_args` runs the real binary with the rendered arguments and `--help`
(cobra parses every flag, then prints usage and exits 0 without starting anything) when
MULTIGRES_BIN_DIR (or tools/build.sh's cache) holds the binaries; see docs/runtime-checks.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLES, go_tool, objects, render_paths
from processes import SAMPLE_POD_IP, clean_env, container_argv, container_env, pod_spec, sample_pod_name

DATA = json.loads((Path(__file__).parent / "data" / "multigres_flags.json").read_text())
BINARIES: dict[str, Any] = DATA["binaries"]
GROUPS: dict[str, Any] = DATA["groups"]
WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}


# --- the flag sets --------------------------------------------------------------------------

@dataclass
class FlagSet:
    binary: str
    subcommand: str | None
    flags: dict[str, dict[str, Any]]
    shorthands: dict[str, str]
    required: dict[str, str]
    required_env: dict[str, str]
    deployment_required: dict[str, str]
    password_sources: dict[str, Any] | None


def _merge(into: dict[str, dict[str, Any]], groups: list[str], own: dict[str, Any]) -> None:
    for g in groups:
        into.update(GROUPS[g]["flags"])
    into.update(own)


def flag_set(binary: str, subcommand: str | None) -> FlagSet:
    spec = BINARIES[binary]
    flags: dict[str, dict[str, Any]] = {}
    _merge(flags, spec.get("groups", []), spec.get("flags", {}))
    section = spec
    if subcommand is not None:
        section = spec["subcommands"][subcommand]
        _merge(flags, section.get("groups", []), section.get("flags", {}))
    required = {n: f.get("note", "required") for n, f in flags.items() if f.get("required")}
    required.update(section.get("required", {}))
    return FlagSet(
        binary, subcommand, flags,
        {f["shorthand"]: n for n, f in flags.items() if "shorthand" in f},
        required,
        dict(section.get("required_env", {})),
        dict(section.get("deployment_required", {})),
        section.get("password_sources"),
    )


# --- value checks (pflag / Go semantics) --------------------------------------------------------

_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$")
_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*|0)$")
_BOOLS = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}


# One branch per Go flag type upstream registers; a table of lambdas would read worse.
def value_problem(name: str, spec: dict[str, Any], value: str) -> str | None:  # noqa: C901
    kind = spec["type"]
    if kind in ("int", "int64") and not _INT.match(value):
        return f"--{name}={value!r} is not an integer"
    if kind == "duration" and not _DURATION.match(value):
        return f"--{name}={value!r} is not a Go duration (a unit is required, e.g. 5s)"
    if kind == "bool" and value not in _BOOLS:
        return f"--{name}={value!r} is not a boolean"
    if kind == "float64":
        try:
            float(value)
        except ValueError:
            return f"--{name}={value!r} is not a number"
    if "values" in spec:
        items = value.split(",") if kind == "stringSlice" else [value]
        bad = [v for v in items if v not in spec["values"]]
        if bad:
            return f"--{name}={value!r}: {bad} not among {spec['values']}"
    if name == "watch-targets":
        for target in value.split(","):
            parts = target.split("/")
            if not target or len(parts) > 3 or any(not p for p in parts):
                return f"--watch-targets entry {target!r} is not db, db/tablegroup or db/tablegroup/shard"
    if name == "service-map":
        for entry in value.split(","):
            if not re.match(r"^-?grpc-[a-z0-9]+$", entry):
                return f"--service-map entry {entry!r} is not of the form grpc-<service>"
    if re.search(r"\$\([A-Za-z_][A-Za-z0-9_]*\)", value):
        return f"--{name}={value!r} has an unresolved $(VAR) reference (not defined in the container's env)"
    return None


# --- parsing a command line the way pflag/cobra do ----------------------------------------------

@dataclass
class Parsed:
    binary: str | None
    subcommand: str | None
    values: dict[str, list[str]]
    problems: list[str]


# Mirrors the Go flag package's parse loop (pflag's rules, step by step) so the two can be compared.
def parse(argv: list[str], env_names: set[str] | None = None) -> Parsed:  # noqa: C901
    """Check an expanded argv (argv[0] = the binary) against the recorded flags."""
    problems: list[str] = []
    binary = os.path.basename(argv[0]) if argv else ""
    if binary not in BINARIES:
        return Parsed(None, None, {}, [f"{binary!r} is not a Multigres binary"])
    spec = BINARIES[binary]
    tokens = argv[1:]
    subcommand = None
    if spec.get("subcommands"):
        positional = [t for t in tokens if not t.startswith("-")]
        for t in tokens:
            if t in spec["subcommands"]:
                subcommand = t
                break
        if subcommand is None:
            problems.append(f"{binary} needs a subcommand ({', '.join(spec['subcommands'])}); "
                            f"got {positional[:1] or 'none'}")
            if spec.get("requires_subcommand"):
                return Parsed(binary, None, {}, problems)
    fs = flag_set(binary, subcommand)
    values: dict[str, list[str]] = {}
    i, seen_sub, rest_positional = 0, False, False
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if rest_positional or not tok.startswith("-") or tok == "-":
            if tok == subcommand and not seen_sub:
                seen_sub = True
                continue
            problems.append(f"unexpected positional argument {tok!r} (the command takes none)")
            continue
        if tok == "--":
            rest_positional = True
            continue
        if tok.startswith("--"):
            name, has_eq, value = tok[2:].partition("=")
        else:
            short, has_eq, value = tok[1:].partition("=")
            if len(short) > 1 and not has_eq:  # -p5432
                short, value, has_eq = short[0], short[1:], True
            if short == "h":
                name = "help"
            elif short in fs.shorthands:
                name = fs.shorthands[short]
            else:
                problems.append(f"unknown shorthand flag -{short} in {tok!r}")
                continue
        if name == "help":
            values.setdefault("help", []).append("true")
            continue
        flag = fs.flags.get(name)
        if flag is None:
            where = f"{binary} {subcommand}" if subcommand else binary
            problems.append(f"unknown flag --{name} for {where}{_did_you_mean(name, fs.flags)}")
            if not has_eq and i < len(tokens) and not tokens[i].startswith("-"):
                i += 1  # skip its probable value so it is not reported again as positional
            continue
        if flag.get("version_dependent"):
            problems.append(f"--{name} exists only in some Multigres versions (see multigres_flags.json); "
                            "rendering it breaks the others")
        if not has_eq:
            if flag["type"] == "bool":
                value = "true"
            elif i >= len(tokens):
                problems.append(f"--{name} needs a value ({flag['type']}) and is the last argument")
                continue
            elif tokens[i].startswith("--"):
                problems.append(f"--{name} needs a value ({flag['type']}) but is followed by {tokens[i]!r}")
                continue
            else:
                value = tokens[i]
                i += 1
        if name in values and flag["type"] not in ("stringSlice", "stringArray"):
            problems.append(f"--{name} is set more than once ({values[name] + [value]})")
        values.setdefault(name, []).append(value)
        bad = value_problem(name, flag, value)
        if bad:
            problems.append(bad)
    for name, why in fs.required.items():
        if name not in values:
            problems.append(f"required flag --{name} is missing ({why})")
    for name, why in fs.deployment_required.items():
        if name not in values:
            problems.append(f"--{name} must be set in a deployment ({why})")
    if env_names is not None:
        for name, why in fs.required_env.items():
            if name not in env_names:
                problems.append(f"environment variable {name} is missing ({why})")
        if fs.password_sources:
            src = fs.password_sources
            if not (set(src["flags"]) & set(values)) and not (set(src["env"]) & env_names):
                problems.append(f"no postgres password source: set one of env {src['env']} or flags "
                                f"{['--' + f for f in src['flags']]} ({src['note']})")
    return Parsed(binary, subcommand, values, problems)


def _did_you_mean(name: str, known: dict[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean --{close[0]}?)" if close else ""


# --- the rendered containers ----------------------------------------------------------------------

@dataclass
class Case:
    id: str
    obj: dict[str, Any]
    container: dict[str, Any]
    images: set[str]

    @property
    def pod_name(self) -> str:
        return sample_pod_name(self.obj)

    def env(self) -> dict[str, str]:
        return container_env(self.container, self.obj, self.pod_name, SAMPLE_POD_IP)

    def argv(self) -> list[str]:
        return container_argv(self.container, self.env())

    def binary(self) -> str | None:
        argv = [*(self.container.get("command") or []), *(self.container.get("args") or [])]
        return os.path.basename(str(argv[0])) if argv and os.path.basename(str(argv[0])) in BINARIES else None


def example_dirs() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith("."))


def _cluster_images(out: Any) -> set[str]:
    images: set[str] = set()
    for item in out.items:
        if item.kind == "MultigresCluster":
            images |= {str(v) for v in ((item.obj.get("spec") or {}).get("images") or {}).values() if v}
    return images


def collect_cases() -> tuple[list[Case], list[str]]:
    """Every container of every example's rendered workloads; and render failures."""
    cases, failures = [], []
    for example in example_dirs():
        try:
            out = render_paths(example)
        except Exception as err:  # noqa: BLE001 - reported as its own failing test
            failures.append(f"{example.name}: render raised {err!r}")
            continue
        images = _cluster_images(out)
        for obj in objects(out):
            if obj.get("kind") not in WORKLOAD_KINDS:
                continue
            spec = pod_spec(obj) or {}
            for section in ("initContainers", "containers"):
                for c in spec.get(section) or []:
                    cid = f"{example.name}/{obj['kind']}/{obj['metadata']['name']}/{c['name']}"
                    cases.append(Case(cid, obj, c, images))
    return cases, failures


CASES, RENDER_FAILURES = collect_cases()
MULTIGRES_CASES = [c for c in CASES if c.binary()]


def _is_multigres_image(case: Case) -> bool:
    image = str(case.container.get("image") or "")
    repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image.split("@")[0]
    return image in case.images or repo.endswith(("/multigres", "/pgctld")) or repo in ("multigres", "pgctld")


def test_examples_render() -> None:
    assert not RENDER_FAILURES, RENDER_FAILURES


@pytest.mark.parametrize("case", MULTIGRES_CASES, ids=[c.id for c in MULTIGRES_CASES])
def test_rendered_flags_exist(case: Case) -> None:
    env = case.env()
    parsed = parse(case.argv(), set(env) | {e.get("prefix", "") for e in case.container.get("envFrom") or []})
    assert not parsed.problems, (f"container {case.id} runs `{' '.join(case.argv())}`:\n  "
                                 + "\n  ".join(parsed.problems))


def _is_registration_script(case: Case) -> bool:
    """The topology-registration container and the gateways' wait-for-cell run bash on a rendered
    script (no Multigres binary, so no flags to check); tests/test_workloads_cluster.py,
    tests/test_workloads_cell.py and tests/test_etcd_smoke.py cover them."""
    from krmfn import defaults
    from krmfn.workloads.registration import WAIT_FOR_CELL

    args = case.container.get("args") or []
    return case.container.get("command") == ["/bin/bash"] and bool(args) and (
        args[0].startswith(defaults.REGISTRATION_MOUNT + "/") or args[:2] == ["-c", WAIT_FOR_CELL]
        or args[2:3] == ["reloader"])  # postgres_config.py's reloader: bash and psql, no Multigres binary


@pytest.mark.parametrize("case", [c for c in CASES if not c.binary() and _is_multigres_image(c)
                                  and not _is_registration_script(c)] or [None],
                         ids=lambda c: c.id if c else "none")
def test_multigres_images_run_a_known_binary(case: Case | None) -> None:
    """A container of a Multigres image must name its binary in command/args (images idle or
    need the binary chosen), or the flag check above would silently miss it."""
    if case is None:
        return
    argv = [*(case.container.get("command") or []), *(case.container.get("args") or [])]
    pytest.fail(f"container {case.id} uses image {case.container.get('image')!r} (a Multigres image) but its "
                f"command/args {argv[:2]} do not start with a Multigres binary ({sorted(BINARIES)})")


def test_seed_runs_every_server_binary() -> None:
    """Guard: the parametrized check above must have something to check."""
    seen = {c.binary() for c in MULTIGRES_CASES if c.id.startswith("seed/")}
    assert {"multiadmin", "multigateway", "multiorch", "multipooler", "pgctld"} <= seen, sorted(x for x in seen if x)


# --- the checker itself -----------------------------------------------------------------------------

POOLER = ["/multigres/bin/multipooler", "--http-port=15200", "--grpc-port=15270",
          "--topo-global-server-addresses=etcd-client:2379", "--topo-global-root=/multigres/global",
          "--cell=zone1", "--database=postgres", "--table-group=default", "--shard=0-inf",
          "--pgctld-addr=localhost:15470", "--pooler-dir=/data", "--service-map=grpc-pooler"]
POOLER_ENV = {"PGDATA", "POSTGRES_PASSWORD_FILE"}


def test_checker_accepts_a_correct_pooler() -> None:
    assert parse(POOLER, POOLER_ENV).problems == []
    spaced = [POOLER[0], "--http-port", "15200", "--grpc-port", "15270", "--cell", "zone1",
              "--topo-global-server-addresses", "a:2379,b:2379", "--topo-global-root", "/r",
              "--table-group", "default", "--shard", "0-inf", "--pgctld-addr", "localhost:15470", "--pprof-http"]
    assert parse(spaced, POOLER_ENV).problems == []


PGCTLD = ["/usr/local/bin/pgctld", "server", "--pooler-dir=/data", "--grpc-port=15470", "--http-port=15400"]
PGCTLD_ENV = {"PGDATA", "POSTGRES_PASSWORD_FILE"}
SERVER = ["--http-port=1", "--grpc-port=2", "--cell=c", "--topo-global-root=/r",
          "--topo-global-server-addresses=e:2379"]
ORCH = ["/multigres/bin/multiorch", *SERVER]
REJECTED = [
    ([*POOLER[:3], "--topo-global-server-address=etcd:2379", *POOLER[4:]], POOLER_ENV,
     "unknown flag --topo-global-server-address", "misspelt-topo-flag"),
    ([*POOLER, "--pgctld-adress=localhost:15470"], POOLER_ENV, "did you mean --pgctld-addr", "misspelt-with-hint"),
    ([*POOLER, "--topo-implementation=etcd2"], POOLER_ENV, "unknown flag --topo-implementation", "removed-flag"),
    ([*POOLER, "--grpc-port"], POOLER_ENV, "needs a value", "value-missing-at-end"),
    ([POOLER[0], "--cell", *POOLER[1:]], POOLER_ENV, "followed by '--http-port", "value-missing-mid"),
    ([p for p in POOLER if not p.startswith("--shard")], POOLER_ENV, "required flag --shard", "missing-shard"),
    ([p for p in POOLER if not p.startswith("--topo-global-root")], POOLER_ENV,
     "required flag --topo-global-root", "missing-topo-root"),
    (POOLER, {"POSTGRES_PASSWORD_FILE"}, "PGDATA is missing", "missing-pgdata"),
    (POOLER, {"PGDATA"}, "no postgres password source", "missing-password"),
    ([*POOLER, "--http-port=abc"], POOLER_ENV, "not an integer", "bad-int"),
    ([*POOLER, "--lameduck-period=5"], POOLER_ENV, "not a Go duration", "duration-without-unit"),
    ([*POOLER, "--pprof-http", "false"], POOLER_ENV, "unexpected positional argument 'false'", "bool-spaced-value"),
    ([*POOLER, "--service-id=$(POD_NAME)"], POOLER_ENV, "unresolved $(VAR)", "unresolved-env-ref"),
    ([*POOLER, "--log-level=verbose"], POOLER_ENV, "not among", "bad-enum"),
    ([*POOLER, "--pgbackrest-cipher-key-file=/k"], POOLER_ENV, "only in some Multigres versions", "version-dependent"),
    ([PGCTLD[0], *PGCTLD[2:]], PGCTLD_ENV, "needs a subcommand", "pgctld-without-server"),
    ([*PGCTLD, "--pg-password-file=/p"], {"PGDATA"}, "--pg-password-file exists only in some", "pgctld-password-flag"),
    ([p for p in PGCTLD if not p.startswith("--pooler-dir")], PGCTLD_ENV, "required flag --pooler-dir",
     "pgctld-missing-pooler-dir"),
    ([*PGCTLD, "-x"], PGCTLD_ENV, "unknown shorthand", "pgctld-bad-shorthand"),
    ([*ORCH, "--watch-target=db"], None, "did you mean --watch-targets", "multiorch-misspelt-watch-targets"),
    ([*ORCH, "--watch-targets=db//0"], None, "is not db, db/tablegroup", "multiorch-bad-target"),
    (["/multigres/bin/multigateway", *SERVER, "--pg-replica-port=5433"], None, "unknown flag --pg-replica-port",
     "multigateway-pg-replica-port"),
    (["/multigres/bin/multiadmin", *SERVER[:2], *SERVER[3:]], None, "--service-map must be set",
     "multiadmin-without-service-map"),
]


@pytest.mark.parametrize(("argv", "env", "expected"), [pytest.param(*r[:3], id=r[3]) for r in REJECTED])
def test_checker_rejects(argv: list[str], env: set[str] | None, expected: str) -> None:
    problems = parse(argv, env).problems
    assert any(expected in p for p in problems), problems


def test_checker_rejects_a_misspelt_flag_in_a_rendered_container() -> None:
    """The same check as test_rendered_flags_exist, on a rendered pooler with one flag misspelt."""
    case = next(c for c in MULTIGRES_CASES if c.binary() == "multipooler")
    broken = dict(case.container)
    broken["args"] = [a.replace("--topo-global-root=", "--topo-global-rot=") for a in case.container["args"]]
    bad = Case(case.id + "(misspelt)", case.obj, broken, case.images)
    problems = parse(bad.argv(), set(bad.env())).problems
    assert any("unknown flag --topo-global-rot " in p for p in problems), problems
    assert any("required flag --topo-global-root is missing" in p for p in problems), problems


def test_flag_data_is_consistent() -> None:
    for name, spec in BINARIES.items():
        for g in spec.get("groups", []):
            assert g in GROUPS, (name, g)
        for sub in (spec.get("subcommands") or {}).values():
            for g in sub.get("groups", []):
                assert g in GROUPS, (name, g)
    for g, spec in GROUPS.items():
        assert spec["source"].get("commit") or spec["source"].get("index_id"), g
        for flag, fspec in spec["flags"].items():
            assert re.match(r"^[a-z][a-z0-9-]*$", flag) and "type" in fspec, (g, flag)


# --- the real binaries, when they exist ----------------------------------------------------------

def multigres_bin_dir() -> Path:
    """The binaries built from the upstream source archive (tools/build.sh multigres), or
    $MULTIGRES_BIN_DIR. Built on first use; skips without Go, fails under REQUIRE_TOOLS=1."""
    if os.environ.get("MULTIGRES_BIN_DIR"):
        return Path(os.environ["MULTIGRES_BIN_DIR"])
    return Path(go_tool("multigres", "multigres")).parent


@pytest.mark.parametrize("case", MULTIGRES_CASES, ids=[c.id for c in MULTIGRES_CASES])
def test_binary_accepts_rendered_args(case: Case, tmp_path: Path) -> None:
    bin_dir = multigres_bin_dir()
    binary = bin_dir / case.binary()
    if not binary.exists():
        pytest.fail(f"MULTIGRES_BIN_DIR={bin_dir} has no {case.binary()}")
    env = case.env()
    argv = [str(binary), *case.argv()[1:], "--help"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=clean_env({**env, "HOME": str(tmp_path)}))
    assert proc.returncode == 0, (f"container {case.id}: `{' '.join(argv)}` exited {proc.returncode}\n"
                                  f"{proc.stderr[-3000:]}{proc.stdout[-2000:]}")
    assert "unknown flag" not in proc.stderr + proc.stdout
