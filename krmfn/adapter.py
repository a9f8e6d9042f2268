"""One reader and one writer for every front end.

Function mode (`cli.py`), `render` and `tree` (`commands.py`), the kustomize legacy exec plugin
and the Argo CD generate step (`plugins.py`) differ only in their `Mode`: what is read, where
the functionConfig comes from, what is written, and whether a failed render prints its output.
Everything else exists once, here: the input bounds (`limits.MAX_INPUT_BYTES`, through
`resourcelist.read_input`), UTF-8 decoding (`yamlio.decode`), the options (`options.py`), the
render (`function.run`), the results printer, and "an internal error is one error result (one
stderr line), never a traceback". So two front ends cannot drift apart: given the same objects
and options they print the same bytes.

Every mode keeps the source text of what it reads (the ResourceList's item spans, each file's or
stream's documents), so pass-through objects are written back byte for byte; that is not a
switch.

Imported on every kpt render: no click, typing or dataclasses (docs/performance.md).
"""

from __future__ import annotations

import sys

from .resourcelist import (
    INDEX,
    PATH,
    Item,
    ResourceList,
    parse_resource_list,
    read_documents,
    read_input,
    read_paths,
    read_stream,
    write_resource_list,
    write_stream,
)
from .results import ResourceRef, Result, error, has_errors, result_lines

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, TextIO

    from .api.config import RenderOptions
    from .function import Output

# What a mode reads and writes.
RESOURCE_LIST = "ResourceList"  # a config.kubernetes.io/v1 ResourceList (stdin / stdout)
STREAM = "stream"  # a plain multi-document YAML stream (stdin / stdout)
PATHS = "paths"  # YAML files and folders, read recursively (input only)
TREE = "tree"  # the `tree` report (output only)


class Mode:
    """How one front end reads and writes. A plain class for start-up cost (see resourcelist.Item).

    - `input`: RESOURCE_LIST or STREAM on stdin, or PATHS.
    - `output`: RESOURCE_LIST, STREAM or TREE.
    - `drop_local_config`: leave Kptfiles and `config.kubernetes.io/local-config` objects out of
      the output. A plain stream is applied as it is; kpt drops them itself.
    - `config_in_items`: a RenderMultigres or function ConfigMap among the read objects is the
      functionConfig (unless a config file is given) and is never output, as kpt never outputs
      its function's config.
    - `env`: `ARGOCD_ENV_*` variables override the options (options.env_overrides).
    - `all_or_nothing`: print nothing on stdout when any result is an error: the host applies
      whatever it reads, and a partial output would delete (prune) the rest.
    - `errors_only`: stderr gets only the error results, without their location: the results are
      in the ResourceList, and kustomize shows only stderr of a failed function.
    - `config_name`: how results name the config file (`--config`, the transformer config).

    A ResourceList's functionConfig is its own; a config file is given per call (`--config`,
    the legacy plugin's argv[1]).
    """

    __slots__ = ("input", "output", "drop_local_config", "config_in_items", "env", "all_or_nothing",
                 "errors_only", "config_name")

    def __init__(self, input: str, output: str, *, drop_local_config: bool = False,
                 config_in_items: bool = False, env: bool = False, all_or_nothing: bool = False,
                 errors_only: bool = False, config_name: str = "--config") -> None:
        self.input = input
        self.output = output
        self.drop_local_config = drop_local_config
        self.config_in_items = config_in_items
        self.env = env
        self.all_or_nothing = all_or_nothing
        self.errors_only = errors_only
        self.config_name = config_name


FUNCTION = Mode(RESOURCE_LIST, RESOURCE_LIST, errors_only=True)
RENDER = Mode(PATHS, STREAM, drop_local_config=True, config_in_items=True)
TREE_REPORT = Mode(PATHS, TREE, config_in_items=True)
KUSTOMIZE = Mode(STREAM, STREAM, drop_local_config=True, all_or_nothing=True,
                 config_name="the transformer config")
ARGOCD = Mode(PATHS, STREAM, drop_local_config=True, config_in_items=True, env=True, all_or_nothing=True)


class Answer:
    """What a front end prints: `text` (stdout, unless all-or-nothing withholds it), the results
    (stderr) and the exit code (1 when any result is an error)."""

    __slots__ = ("text", "results", "code")

    def __init__(self, text: str, results: list[Result]) -> None:
        self.text = text
        self.results = results
        self.code = 1 if has_errors(results) else 0


def answer(mode: Mode, *, stdin: str | None = None, paths: Sequence[str] = (), config: str | None = None,
           config_text: str | None = None, env: Mapping[str, str] | None = None,
           previous: str | None = None) -> Answer:
    """Read as the mode says, render, write. `stdin` is the text of stdin (RESOURCE_LIST, STREAM);
    `config` a config file, or only the name of `config_text` when that is given; `previous` a
    previous render to compare with (`render --previous`)."""
    from .function import run

    rl = read(mode, stdin, paths)
    earlier = None
    if previous:
        before = read_paths([previous])
        rl.problems.extend(before.problems)
        earlier = before.items
    options, problems = mode_options(mode, rl, config, config_text, env or {})
    rl.problems.extend(problems)
    out = run(rl, options, earlier)
    return Answer(write(mode, out, rl.dash_column, release=True), out.results)


def read(mode: Mode, stdin: str | None, paths: Sequence[str]) -> ResourceList:
    """The input objects, each with its source text; what could not be read as problems."""
    if mode.input == RESOURCE_LIST:
        return parse_resource_list(stdin or "")
    if mode.input == STREAM:
        return read_stream(stdin or "")
    return read_paths(list(paths))


def mode_options(mode: Mode, rl: ResourceList, config: str | None, config_text: str | None,
                 env: Mapping[str, str]) -> tuple[RenderOptions, list[Result]]:
    """The options from the sources the mode reads, and their problems.

    Precedence: a config file, else a function config among the read objects (the first), else
    the ResourceList's functionConfig; then the Argo CD variables over any of them.
    """
    from .options import env_overrides, parse_options

    fc = rl.function_config
    file = None
    problems: list[Result] = []
    found = take_function_configs(rl) if mode.config_in_items else []
    if config is not None or config_text is not None:
        fc, problems = read_config(config, config_text, mode.config_name)
        file = config
    elif found:
        fc, file = found[0].obj, found[0].file
        problems = [extra_config(item, found[0]) for item in found[1:]]
    options, more = parse_options(fc, file, env_overrides(env) if mode.env else None)
    if found and config is None and config_text is None:
        from .locate import locate_results

        # the config left the items, so the render cannot place its results: line and column here
        more = [locate_results([r.replace(file=None)], found[:1])[0] if file and r.file == file else r for r in more]
    return options, problems + more


def extra_config(item: Item, used: Item) -> Result:
    """A second function config among the files: which one wins would be a silent guess."""
    where = f" in {used.file}" if used.file else ""
    return error(f"a second function config: the render takes one, and uses {used.kind} {used.name!r}{where}. "
                 "Keep one (or name the one to use with --config).", "metadata.name",
                 ResourceRef.of(item.obj)).replace(file=item.file)


def is_function_config(item: Item) -> bool:
    """A RenderMultigres, or a ConfigMap marked as this function's config (kustomize, kpt): its
    `config.kubernetes.io/function` names our image or executable. A ConfigMap for another
    function is another function's business, and passes through."""
    if item.kind == "RenderMultigres":
        return True
    marker = item.annotations.get("config.kubernetes.io/function") if item.kind == "ConfigMap" else None
    return marker is not None and not names_another_function(marker)


def names_another_function(marker: Any) -> bool:
    """Whether a `config.kubernetes.io/function` value names a container image or an exec path
    that is not this function's (one that names none is taken as ours, as before)."""
    import yaml

    from .yamlio import load

    try:
        spec = load(marker) if isinstance(marker, str) else None
    except yaml.YAMLError:
        return False
    if not isinstance(spec, dict):
        return False
    for section, key in (("container", "image"), ("exec", "path")):
        target = spec.get(section)
        if isinstance(target, dict) and isinstance(target.get(key), str):
            return "multigres-krmfn" not in target[key]
    return False


def take_function_configs(rl: ResourceList) -> list[Item]:
    """Remove the function configs from the read objects and return them, in reading order."""
    found = [i for i in rl.items if is_function_config(i)]
    if found:
        rl.items = [i for i in rl.items if not is_function_config(i)]
    return found


def read_config(path: str | None, text: str | None, name: str) -> tuple[dict[str, Any] | None, list[Result]]:
    """A config file (`--config`, the legacy plugin's argv[1]): exactly one RenderMultigres or
    ConfigMap; its problems as results that carry the file, never a traceback."""
    if text is None:
        assert path is not None
        text, problem = read_input(path)
        if text is None:
            return None, [Result("error", f"{problem}.", "<input>", file=path)]
    rl = ResourceList()
    read_documents(rl, text, path)
    if rl.problems:
        return None, rl.problems
    if len(rl.items) != 1:
        return None, [Result("error", f"{name} holds {len(rl.items)} objects; give exactly one RenderMultigres "
                             "or ConfigMap.", "<input>", file=path)]
    obj = rl.items[0].obj
    ann = obj["metadata"].get("annotations") or {}
    for key in (PATH, INDEX):
        ann.pop(key, None)
    if not ann:
        obj["metadata"].pop("annotations", None)
    return obj, []


def write(mode: Mode, out: Output, dash_column: int = 0, release: bool = False) -> str:
    """The output the mode prints (all of it: `all_or_nothing` is applied by `print_answer`).
    `release`: `out` is not used afterwards, so its generated objects may be freed while writing."""
    items = [i for i in out.items if not i.is_local_config()] if mode.drop_local_config else out.items
    if mode.output == RESOURCE_LIST:
        return write_resource_list(items, out.results, dash_column, release)
    if mode.output == TREE:
        from .tree import format_tree

        return format_tree(out.resolved)
    return write_stream(items)


def failed(mode: Mode, reason: str) -> Answer:
    """The answer to input that could not be read, or to a bug of ours: one error result."""
    result = error(f"{reason}.", "<input>")
    return Answer(write_resource_list([], [result]) if mode.output == RESOURCE_LIST else "", [result])


def internal_error(exc: BaseException) -> str:
    """A bug's one line: its type and the first line of its message (bounded), and what to do."""
    detail = str(exc).splitlines()[0][:300] if str(exc) else ""
    return (f"internal error in multigres-krmfn ({type(exc).__name__}: {detail}); this is a bug, please report "
            "it with the input that caused it")


def result_text(mode: Mode, results: list[Result]) -> list[str]:
    """The one results printer's lines: every front end prints its results through it."""
    if mode.errors_only:
        return [r.describe() for r in results if r.severity == "error"]
    return result_lines(results)


_CHUNK = 1 << 20


def print_answer(mode: Mode, ans: Answer, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Print an answer (stdout, then the results on stderr) and return its exit code.

    A closed or broken stdout (`>&-`, a reader that went away) is one line on stderr and exit 1:
    the output was not delivered, and saying so is not a bug.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    code = ans.code
    try:
        if stdout is None:
            raise OSError("stdout is closed")
        text = "" if mode.all_or_nothing and ans.code else ans.text
        for start in range(0, len(text), _CHUNK):  # in pieces: one write encodes a copy of all of it
            stdout.write(text[start:start + _CHUNK])
        stdout.flush()
    except (OSError, ValueError) as exc:
        _silence_stdout()
        ans.results.append(error(f"the output could not be written ({exc}); give the function an open "
                                 "stdout (a file or a pipe that is read to the end)", "<output>"))
        code = 1
    if stderr is not None:
        for line in result_text(mode, ans.results):
            stderr.write(line + "\n")
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit does not fail again."""
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass


def serve(mode: Mode, *, paths: Sequence[str] = (), config: str | None = None, config_text: str | None = None,
          env: Mapping[str, str] | None = None, previous: str | None = None) -> int:
    """Run a front end on this process's stdin, stdout and stderr; return its exit code.

    Input that cannot be read, and any exception (a bug of ours), is one error result; nothing
    a user gives makes it print a traceback.
    """
    try:
        stdin = None
        if mode.input != PATHS:
            stdin, problem = read_input(None)
            if stdin is None:
                return print_answer(mode, failed(mode, problem or "stdin cannot be read"))
        ans = answer(mode, stdin=stdin, paths=paths, config=config, config_text=config_text, env=env,
                     previous=previous)
    except Exception as exc:
        ans = failed(mode, internal_error(exc))
    return print_answer(mode, ans)
