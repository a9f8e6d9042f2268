"""The render options, parsed one way whichever source they come from.

A front end takes its options from a ResourceList's functionConfig, a `--config` or transformer
config file, a RenderMultigres or function ConfigMap among the files it reads, or Argo CD's
`ARGOCD_ENV_*` variables (`adapter.py` says which). They all end here, so one value means one
thing everywhere: before this module, `includeCrds: "yes"` was an error in a ConfigMap and
`true` from Argo CD.

The rule for a boolean option (docs/api.md, "Function options"): a boolean, or a string that names
one (`true`/`false`, `yes`/`no`, `1`/`0`; any case, surrounding spaces ignored), from any
source. ConfigMap data and environment variables can only hold strings, and a hand-written
RenderMultigres often quotes. Anything else is an error result that quotes the value, names the
field (and the variable, for Argo CD) and says what to write.
"""

from __future__ import annotations

from .api.names import CONFIG_API_VERSION, CONFIG_KIND
from .api.validator import Invalid, validate
from .checks import check_options
from .results import ResourceRef, Result, error, with_ref

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .api.config import RenderOptions

    # option key -> (its value, the environment variable that set it)
    Overrides = dict[str, tuple[str, str]]

BOOLEAN_OPTIONS = ("includeCrds", "statusReporter", "readOnlyChildren")
BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
WHAT_TO_WRITE = 'write "true" or "false" ("yes"/"no" and "1"/"0" also work, in any case)'

# Argo CD parameter (the app's plugin env, ARGOCD_ENV_<NAME>) -> option key.
ENV_PREFIX = "ARGOCD_ENV_"
ENV_PARAMETERS = {"EMIT": "emit", "INCLUDE_CRDS": "includeCrds", "CLUSTER_DOMAIN": "clusterDomain",
                  "STATUS_REPORTER": "statusReporter", "STATUS_REPORTER_IMAGE": "statusReporterImage",
                  "READ_ONLY_CHILDREN": "readOnlyChildren", "SPEC_WRITERS": "specWriters"}


def boolean(value: Any) -> bool | None:
    """The boolean a value names (the rule above), or None when it names none."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return BOOLEAN_WORDS.get(value.strip().lower())
    return None


def env_overrides(env: Mapping[str, str]) -> Overrides:
    """The options Argo CD parameters set. An empty variable sets nothing: Argo CD passes a
    parameter the user cleared as "", which must leave the folder's value (or the default)."""
    out: Overrides = {}
    for name, key in ENV_PARAMETERS.items():
        value = env.get(ENV_PREFIX + name)
        if value:
            out[key] = (value, ENV_PREFIX + name)
    return out


def parse_options(fc: dict[str, Any] | None, file: str | None = None,
                  overrides: Overrides | None = None) -> tuple[RenderOptions, list[Result]]:
    """functionConfig (absent, a ConfigMap or a RenderMultigres) and overrides → options, problems.

    The options are a RenderOptions (validated without pydantic when valid, see api/validator.py);
    the defaults whenever there is any problem. `file` is where `fc` was read from; results about
    values the overrides set name their variable instead.
    """
    if overrides:
        fc = _overridden(fc, overrides)
    options, problems = _parse(fc)
    return options, [_attribute(p, file, overrides or {}) for p in problems]


def _overridden(fc: dict[str, Any] | None, overrides: Overrides) -> dict[str, Any]:
    """fc with the overriding values in its spec (RenderMultigres) or data (ConfigMap)."""
    values = {key: value for key, (value, _) in overrides.items()}
    if fc is None:
        return {"apiVersion": CONFIG_API_VERSION, "kind": CONFIG_KIND, "metadata": {"name": "argocd"},
                "spec": values}
    section = "data" if fc.get("kind") == "ConfigMap" else "spec"
    current = fc.get(section)
    if current is not None and not isinstance(current, dict):
        return fc  # its own problem says what is wrong with it
    return {**fc, section: {**(current or {}), **values}}


def _attribute(result: Result, file: str | None, overrides: Overrides) -> Result:
    key = result.path.partition(".")[2]
    if key in overrides:
        return result.replace(message=f"{overrides[key][1]}: {result.message}")
    return result.replace(file=file) if file else result


def _parse(fc: dict[str, Any] | None) -> tuple[RenderOptions, list[Result]]:
    if not fc:
        return validate("RenderOptions", {}), []
    ref = ResourceRef.of(fc)
    kind = fc.get("kind")
    if kind == "ConfigMap":
        return _configmap_options(fc, ref)
    if kind == CONFIG_KIND:
        return _typed_options(fc, ref)
    return validate("RenderOptions", {}), [error(f"functionConfig of kind {kind!r} is not understood; use a "
                                                 f"ConfigMap or a {CONFIG_KIND} (apiVersion "
                                                 "fn.multigres.com/v1alpha1).", "kind", ref)]


def _typed_options(fc: dict[str, Any], ref: ResourceRef) -> tuple[RenderOptions, list[Result]]:
    """A RenderMultigres: its spec, boolean options read by the rule above."""
    spec = fc.get("spec")
    problems: list[Result] = []
    if isinstance(spec, dict):
        spec, problems = _booleans(spec, "spec")
        fc = {**fc, "spec": spec}
    try:
        cfg = validate("RenderMultigres", fc)
    except Invalid as exc:
        return validate("RenderOptions", {}), with_ref(problems + exc.results(), ref)
    options = cfg.spec or validate("RenderOptions", {})
    return _checked(options, problems, "spec", ref)


def _configmap_options(fc: dict[str, Any], ref: ResourceRef) -> tuple[RenderOptions, list[Result]]:
    """A ConfigMap's `data` as options: every value is a string there."""
    data = fc.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return validate("RenderOptions", {}), [error(
            f"ConfigMap data is a {type(data).__name__}, not a mapping; write `key: value` pairs (emit, "
            "includeCrds, clusterDomain).", "data", ref)]
    raw, problems = _booleans({str(key): value for key, value in data.items()}, "data")
    try:
        options = validate("RenderOptions", raw)
    except Invalid as exc:
        return validate("RenderOptions", {}), with_ref(problems + exc.results(("data",)), ref)
    return _checked(options, problems, "data", ref)


def _booleans(values: dict[str, Any], section: str) -> tuple[dict[str, Any], list[Result]]:
    """values with each boolean option as a bool; a result for each that names no boolean (the
    option is then left out, so the rest is still checked: every problem at once)."""
    out = dict(values)
    problems = []
    for key in BOOLEAN_OPTIONS:
        if key not in out:
            continue
        value = boolean(out[key])
        if value is None:
            problems.append(error(f"expected true or false, got {out.pop(key)!r}; {WHAT_TO_WRITE}.",
                                  f"{section}.{key}"))
        else:
            out[key] = value
    return out, problems


def _checked(options: RenderOptions, problems: list[Result], section: str,
             ref: ResourceRef) -> tuple[RenderOptions, list[Result]]:
    """The options, or the defaults with every problem (the semantic checks included)."""
    problems = with_ref(problems + check_options(options, section), ref)
    return (validate("RenderOptions", {}) if problems else options), problems
