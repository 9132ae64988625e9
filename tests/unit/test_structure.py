"""The shape of the ragft package (DESIGN.md's style rules), read from the source with `ast`.

(a) No import cycle among ragft's modules. Every import of a ragft module counts, wherever it
    is written: at module level, inside a function, under `if TYPE_CHECKING:` (a cycle that
    only typing closes is still a tangle of responsibilities). `from ragft import x` means the
    module ragft.x when ragft/x.py (or ragft/x/) exists, else the package ragft; a package is
    its `__init__.py`; relative imports are resolved against the importing module's package.
    Importing ragft.a.b also runs ragft/a/__init__.py, so it counts as importing ragft.a too
    (unless the importer lives inside ragft.a, whose __init__ is already running).
(b) No file under ragft/ is over 300 lines.
(c) No function (or method, or nested function) is over 60 lines, counted from its `def`
    line to its last line, unless it says why: a comment containing "long because" or
    "why long:" on its `def` line(s) or on one of the 3 lines after its signature, e.g.

        def run_cell(cfg: DictConfig) -> float:
            # long because: it is the flow of one cell, read top to bottom
            \"\"\"...\"\"\"

(d) Nothing under ragft/training/ except ragft/training/__init__.py imports ragft.config: the
    package's front door turns config into plain typed arguments; below it, no config.

Failures name the file, the line and the function or import at fault.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from ..helpers import ROOT

PACKAGE = ROOT / "ragft"
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60
WHY_LONG = re.compile(r"#.*(long because|why long:)", re.IGNORECASE)
WHY_WINDOW = 3  # lines after the signature where the reason may stand


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    """{module name: file} for every module of the ragft package."""
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _sources()


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the ragft module it imports
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.target}"


def _package_of(module: str) -> str:
    """The package relative imports in `module` start from."""
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _existing(name: str) -> str | None:
    """`name` if it is a ragft module, else the longest prefix of it that is one."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, node: ast.AST) -> list[str]:
    """The ragft modules an import statement in `module` names (before parent packages)."""
    if isinstance(node, ast.Import):
        return [m for a in node.names if (m := _existing(a.name)) and a.name.startswith("ragft")]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = _package_of(module).split(".")
        base = base[: len(base) - (node.level - 1)]
        origin = ".".join([*base, node.module] if node.module else base)
    else:
        origin = node.module or ""
    if origin != "ragft" and not origin.startswith("ragft."):
        return []
    out = []
    for alias in node.names:
        sub = f"{origin}.{alias.name}"
        out.append(sub if sub in MODULES else _existing(origin))
    return [t for t in out if t]


def _with_parents(source: str, target: str) -> list[str]:
    """`target` and the packages whose __init__ importing it runs (not the importer's own)."""
    own = {".".join(source.split(".")[:i]) for i in range(1, source.count(".") + 2)}
    parts = target.split(".")
    chain = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return [m for m in chain if m in MODULES and (m == target or m not in own)]


def imports() -> list[Import]:
    out = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _targets(module, node):
                for t in _with_parents(module, target):
                    if t != module:
                        out.append(Import(module, t, path, node.lineno))
    return out


def _cycles(edges: dict[str, dict[str, Import]]) -> list[list[str]]:
    """One cycle (as a closed path) for every strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    return [_path_through(group, edges) for group in groups]


def _path_through(group: list[str], edges: dict[str, dict[str, Import]]) -> list[str]:
    """A shortest cycle inside `group` starting at its first module (breadth first)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w == start:
                return [*paths[v], start]
            if w in members and w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return group  # not reached: a strongly connected group has a cycle through every member


def test_the_import_collector_resolves_each_form():
    """The collector itself, on the forms of import the package uses (written by hand)."""
    some = sorted(MODULES)
    assert "ragft" in MODULES and "ragft.config" in MODULES and "ragft.retrieval" in some
    cases = {
        "import ragft.config": ["ragft.config"],
        "from ragft import config": ["ragft.config"],
        "from ragft import __version__": ["ragft"],
        "from ragft.config import RunConfig": ["ragft.config"],
        "from ragft.retrieval import bm25": ["ragft.retrieval.bm25"],
        "from ragft.retrieval.bm25 import BM25Retriever": ["ragft.retrieval.bm25"],
        "import numpy": [],
        "from ragftx import y": [],
    }
    for code, expected in cases.items():
        node = ast.parse(code).body[0]
        assert _targets("ragft.metrics", node) == expected, code
    # relative imports: from a module, from a package's __init__
    rel = ast.parse("from . import bm25").body[0]
    assert _targets("ragft.retrieval.dense", rel) == ["ragft.retrieval.bm25"]
    assert _targets("ragft.retrieval", rel) == ["ragft.retrieval.bm25"]
    up = ast.parse("from ..types import Chunk").body[0]
    assert _targets("ragft.retrieval.dense", up) == ["ragft.types"]
    # importing a package's module runs the package's __init__, except from inside it
    assert (
        _with_parents("ragft.metrics", "ragft.retrieval.bm25")
        == [
            "ragft",
            "ragft.retrieval",
            "ragft.retrieval.bm25",
        ][1:]
    )
    assert _with_parents("ragft.retrieval.dense", "ragft.retrieval.bm25") == [
        "ragft.retrieval.bm25"
    ]
    edges = {"a": {"b": None}, "b": {"c": None}, "c": {"a": None}, "d": {"a": None}}
    assert _path_through(["a", "b", "c"], edges) == ["a", "b", "c", "a"]


def test_no_import_cycle():
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports():
        edges.setdefault(imp.source, {}).setdefault(imp.target, imp)
    problems = []
    for cycle in _cycles(edges):
        steps = [str(edges[a][b]) for a, b in zip(cycle, cycle[1:], strict=False)]
        problems.append(" -> ".join(cycle) + "\n    " + "\n    ".join(steps))
    assert not problems, "import cycles among ragft's modules:\n" + "\n".join(problems)


def test_no_file_over_300_lines():
    long = []
    for path in MODULES.values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_FILE_LINES:
            long.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not long, f"files over {MAX_FILE_LINES} lines (split them):\n" + "\n".join(long)


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function, method and nested function."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _says_why(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    # the signature's last line: its return annotation, else its last argument (a closing
    # `):` on a line of its own falls inside the window anyway)
    ends = [node.lineno, *(n.end_lineno for n in ast.walk(node.args) if hasattr(n, "end_lineno"))]
    if node.returns is not None:
        ends.append(node.returns.end_lineno)
    window = lines[node.lineno - 1 : max(ends) + WHY_WINDOW]
    return any(WHY_LONG.search(line) for line in window)


def long_functions(path: Path, root: Path = ROOT) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out = []
    for name, node in _functions(ast.parse(text)):
        n = node.end_lineno - node.lineno + 1
        if n > MAX_FUNCTION_LINES and not _says_why(lines, node):
            out.append(f"{path.relative_to(root)}:{node.lineno} {name}: {n} lines")
    return out


def test_the_long_function_rule_itself(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    cases = {
        "short.py": ("def f():\n    return 1\n", []),
        "long.py": (f"def f():\n{body}\n", ["long.py:1 f: 61 lines"]),
        "why.py": (f"def f():\n    # long because: one table\n{body}\n", []),
        "why_def.py": (f"def f():  # Why long: a flat list\n{body}\n", []),
        "late.py": (
            f'def f():\n    """Doc."""\n    y = 0\n    z = 0\n    # long because\n{body}\n',
            ["late.py:1 f: 65 lines"],
        ),  # fmt: skip
        "multi.py": (f"def f(\n    a,\n    b,\n) -> int:\n    # long because: x\n{body}\n", []),
        "method.py": (
            f"class A:\n    def m(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n",
            ["method.py:2 A.m: 61 lines"],
        ),  # fmt: skip
    }
    for name, (code, expected) in cases.items():
        path = tmp_path / name
        path.write_text(code)
        assert long_functions(path, root=tmp_path) == expected, name


def test_no_function_over_60_lines_without_a_reason():
    long = [f for path in MODULES.values() for f in long_functions(path)]
    assert not long, (
        f"functions over {MAX_FUNCTION_LINES} lines: split them, or say why in a comment "
        '("# long because: ...") on the def line or within 3 lines after the signature:\n'
        + "\n".join(long)
    )


def test_only_the_training_packages_front_door_reads_the_config():
    training = PACKAGE / "training"
    assert (training / "__init__.py").is_file(), "the training stage is the ragft/training/ package"
    offenders = [
        str(imp)
        for imp in imports()
        if imp.target == "ragft.config"
        and imp.source.startswith("ragft.training.")
        and MODULES[imp.source].name != "__init__.py"
    ]
    assert not offenders, (
        "only ragft/training/__init__.py may import ragft.config (below it, plain typed "
        "arguments):\n" + "\n".join(offenders)
    )
