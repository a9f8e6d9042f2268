"""The host programs the repository's own code runs, found by reading it (no execution).

Python (tests/**.py): the program of every `subprocess.run/Popen/...` (and of the harness's thin
wrappers) whose argv starts with a string literal, every `shutil.which("x")` / `require_tool("x")`
/ `go_tool(tool, "x")`, and the literal names a comprehension looks up with `shutil.which`.
Shell (every script `make lint` checks): the first word of each simple command, outside
here-documents and comments, that is not a shell keyword, builtin, variable or function of the
script; `command -v x` counts as running x.

A scanner, not a parser: it finds what the code spells out. Programs reached only through a
variable (`"$TOOLS_DIR/build.sh"`, `[kpt, ...]`) or run by other programs (runc by containerd) are
not found; tests/test_host_programs.py's table lists those by hand.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

RUNNERS = {"run", "Popen", "check_call", "check_output", "call", "_run", "_checked"}
WRAPPERS = {"_openssl": "openssl"}  # def _openssl(*args): subprocess.run(["openssl", *args], ...)
LOOKUPS = {"which", "require_tool"}

SHELL_WORDS = {
    # keywords
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in",
    "function", "select", "time", "!", "{", "}", "[[", "]]", "(", ")", ";;",
    # builtins
    ".", ":", "[", "alias", "bg", "break", "builtin", "cd", "command", "continue", "declare", "echo",
    "eval", "exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "let", "local",
    "mapfile", "printf", "pwd", "read", "readarray", "readonly", "return", "set", "shift", "shopt",
    "source", "test", "trap", "true", "type", "typeset", "ulimit", "umask", "unset", "wait",
}
ARRAY_START = re.compile(r"^\s*(?:local\s+)?[A-Za-z_][A-Za-z0-9_]*\+?=\(\s*(?:#.*)?$")
ARRAY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=\([^()]*\)")
ARITHMETIC = re.compile(r"\$\(\([^()]*\)\)")
REDIRECT = re.compile(r"(?<![\w$])\d*(?:>>?|<)&?(?:\d+|-)?")
COMMENT = re.compile(r"(?:^|(?<=\s))#.*$", re.M)
SUBSTITUTION = re.compile(r"\$\(\s*([A-Za-z0-9_./][A-Za-z0-9_./+-]*)")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
FUNCTION = re.compile(r"^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*\(\)\s*[{(]")
PROGRAM = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
SEPARATORS = {";", "&&", "||", "|", "&", "(", "{", "}", "!", "then", "do", "else", "elif", "if", "while",
              "until", "time", "|&", ";;", "((", "))"}


# --- Python ----------------------------------------------------------------------------------------

def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _argv0(call: ast.Call) -> str | None:
    """The program of a runner call: argv[0] of its first argument (a list), or its first argument."""
    if not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.List | ast.Tuple):
        return _literal(first.elts[0]) if first.elts else None
    return _literal(first) if _name(call.func) == "run" and not isinstance(call.func, ast.Attribute) else None


def _from_call(call: ast.Call) -> set[str]:
    name = _name(call.func)
    if name in WRAPPERS:
        return {WRAPPERS[name]}
    if name in RUNNERS:
        found = _argv0(call)
        return {found} if found else set()
    if name in LOOKUPS and call.args:
        found = _literal(call.args[0])
        return {found} if found else set()
    if name == "go_tool" and len(call.args) == 2:
        found = _literal(call.args[1])
        return {found} if found else set()
    return set()


def _from_comprehension(node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> set[str]:
    """[t for t in ("runc", "ip") if not shutil.which(t)]: the names looked up."""
    looks_up = any(isinstance(n, ast.Call) and _name(n.func) == "which" and n.args
                   and isinstance(n.args[0], ast.Name) for n in ast.walk(node))
    if not looks_up:
        return set()
    return {v for gen in node.generators if isinstance(gen.iter, ast.Tuple | ast.List)
            for v in map(_literal, gen.iter.elts) if v}


def python_programs(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            found |= _from_call(node)
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            found |= _from_comprehension(node)
    return {Path(p).name for p in found}


# --- shell -----------------------------------------------------------------------------------------

def _code(text: str) -> str:
    """The script without line continuations, here-document bodies and array literals."""
    out, end, strip, in_array = [], "", False, False
    for line in text.replace("\\\n", " ").splitlines():
        if end:
            if (line.lstrip("\t") if strip else line) == end:
                end = ""
            continue
        if in_array:
            in_array = not line.strip().startswith(")")
            continue
        if ARRAY_START.search(line):
            in_array = True
            continue
        out.append(ARRAY.sub(" ", line))
        m = HEREDOC.search(line)
        if m:
            strip, end = m.group(1) == "-", m.group(3)
    return "\n".join(out)


def _tokens(code: str) -> list[str]:
    """Words and operators; a command substitution starts a new command, a newline ends one."""
    code = ARITHMETIC.sub("0", code)
    code = REDIRECT.sub(" ", code).replace("$(", " ( ").replace("`", " ( ").replace("\n", "\n;\n")
    lexer = shlex.shlex(code, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    return list(lexer)


def _commands(tokens: list[str]) -> list[str]:
    """The first word of each simple command (assignments and case patterns skipped)."""
    out, start, cases, pattern = [], True, 0, False
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in SEPARATORS or tok == ")":  # after `)`: a command only when it closed a case pattern
            start, pattern = tok != ")" or pattern, False
            continue
        if tok == "case":
            cases += 1
        elif tok == "esac":
            cases -= 1
        if start and cases and nxt in (")", "|"):
            pattern = True
            continue
        if not start or ASSIGNMENT.match(tok):
            continue
        out.append(tok)
        start = tok in ("command", "exec", "then", "do") and nxt != "-v"
    return out


def shell_programs(path: Path, functions: set[str] | None = None) -> set[str]:
    """The programs the script runs; `functions` adds those its sourced files define."""
    text = path.read_text()
    defined = (functions or set()) | shell_functions(path)
    code = _code(text)
    tokens = _tokens(code)
    # Command substitutions also inside double quotes, which the tokens keep whole (comments cut).
    found = set(SUBSTITUTION.findall(COMMENT.sub("", code)))
    found |= {tokens[i + 2] for i, t in enumerate(tokens[:-2]) if t == "command" and tokens[i + 1] == "-v"}
    found |= set(_commands(tokens))
    paths = {Path(w).name for w in found if w.startswith("/")}  # /usr/bin/time is GNU time, not the keyword
    names = {w for w in found if PROGRAM.match(w) and w not in SHELL_WORDS and w not in defined}
    return names | paths


def shell_functions(path: Path) -> set[str]:
    return {m.group(1) for line in path.read_text().splitlines() if (m := FUNCTION.match(line))}
