"""The package's shape, checked from its source (nothing is run): imports point down the layers, no import
cycles, and functions small enough to read.

Layers, highest first (docs/architecture.md draws them). A module may import from its own layer's package
and from any lower layer, never from a higher one:

    app         radiolake.app: the CLI, the pipeline steps the DAGs call, the demos, smoke checks
    stack       the embedded services the app starts (Postgres, S3 server, Airflow, Spark cluster)
    buckets     the bucket browser (a web app the stack mounts into Airflow's api-server)
    reports     the run report, drawn from the results and the marts
    warehouse   the load into Postgres, validation, retention, dbt
    crossmatch  the engine
    ingest      survey sources, normalisation, the partitioned catalogue writer
    spark       Spark sessions and the Arrow data source over S3
    foundation  surveys, lake, schema, results, run parameters, settings helpers
    config      settings from RADIOLAKE_* (imports nothing of ours)

The import graph comes from grimp (the library under import-linter), including imports made inside
functions and under TYPE_CHECKING: a lazy import still ties two modules together.

Size rule: a function in radiolake/ has at most MAX_LINES lines (its `def` line to its last line) and at
most MAX_PARAMS parameters (self/cls not counted, *args/**kwargs counted), unless the line just above its
`def` (or above its first decorator) is a comment `# size: <reason>` saying why it is better whole.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "radiolake"

MAX_LINES = 80
MAX_PARAMS = 8
SIZE_MARK = "# size:"

#: Highest first. Modules of one layer may import each other (cycles are caught by the cycle test).
LAYERS: list[tuple[str, ...]] = [
    ("app",),
    ("stack",),
    ("buckets",),
    ("reports",),
    ("warehouse",),
    ("crossmatch",),
    ("ingest",),
    ("spark",),
    (
        "surveys", "lake", "schema", "results", "run_params", "run_param_surfaces", "assets", "links",
        "import_paths", "masking", "timeouts", "task_executor",
    ),
    ("config",),
]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("radiolake", cache_dir=None)


def top_level_names() -> set[str]:
    """Every module and package directly under radiolake/ (what the layers must place)."""
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return names


def test_every_top_level_module_has_a_layer() -> None:
    placed = [name for layer in LAYERS for name in layer]
    assert len(placed) == len(set(placed)), "a module is placed in two layers"
    unplaced = sorted(top_level_names() - set(placed))
    assert not unplaced, f"place these in LAYERS of {Path(__file__).name} (and docs/architecture.md): {unplaced}"


def test_imports_point_down_the_layers(graph: grimp.ImportGraph) -> None:
    present = top_level_names()
    layers = [grimp.Layer(*[n for n in layer if n in present], independent=False) for layer in LAYERS]
    illegal = graph.find_illegal_dependencies_for_layers(layers=layers, containers={"radiolake"})
    found = []
    for dep in sorted(illegal, key=lambda d: (d.importer, d.imported)):
        for route in dep.routes:
            via = f" (via {' -> '.join(route.middle)})" if route.middle else ""
            found += [f"{head} -> {tail}{via}" for head in sorted(route.heads) for tail in sorted(route.tails)]
    assert not found, (
        f"{len(found)} import(s) point up the layers (a lower layer imports a higher one):\n  " + "\n  ".join(found)
    )


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over the module graph: every group of modules that import each other in a ring."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(root: str) -> None:  # iterative: no recursion limit on a long chain
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(groups)


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    cycles = strongly_connected(graph)
    lines = []
    for group in cycles:
        members = set(group)
        ties = [
            f"{a} -> {b}" for a in group for b in sorted(graph.find_modules_directly_imported_by(a)) if b in members
        ]
        lines.append(" <-> ".join(group) + ": " + "; ".join(ties))
    assert not cycles, f"{len(cycles)} import cycle(s):\n  " + "\n  ".join(lines)


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The cycle check above can fail: a ring of three modules is reported as one group."""

    @dataclass
    class Ring:
        modules = {"a", "b", "c", "d"}

        def find_modules_directly_imported_by(self, module: str) -> set[str]:
            return {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}[module]

    assert strongly_connected(Ring()) == [["a", "b", "c"]]  # type: ignore[arg-type]


@dataclass(frozen=True)
class Function:
    path: str
    name: str
    lines: int
    params: int
    reason: str | None

    def describe(self) -> str:
        return f"{self.path}:{self.name}:{self.lines} lines:{self.params} params"


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    count = len(names) + len(args.kwonlyargs) + (args.vararg is not None) + (args.kwarg is not None)
    return count - 1 if names and names[0] in ("self", "cls") else count


def functions(source: str, path: str) -> Iterator[Function]:
    """Every function and method of one module, with its size and the `# size:` reason above it, if any."""
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        above = lines[first - 2].strip() if first >= 2 else ""
        reason = above[len(SIZE_MARK):].strip() if above.startswith(SIZE_MARK) else None
        yield Function(path, node.name, node.end_lineno - node.lineno + 1, parameter_count(node), reason or None)


def oversized(fn: Function) -> bool:
    return fn.lines > MAX_LINES or fn.params > MAX_PARAMS


def test_functions_are_small_or_say_why() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(REPO))
        found += [fn for fn in functions(path.read_text(), rel) if oversized(fn) and fn.reason is None]
    assert not found, (
        f"{len(found)} function(s) over {MAX_LINES} lines or {MAX_PARAMS} parameters without a "
        f"`{SIZE_MARK} <reason>` comment above the def:\n  " + "\n  ".join(fn.describe() for fn in found)
    )


def test_the_size_rule_sees_size_and_reasons() -> None:
    """The size check above can fail: it counts lines and parameters, and reads the reason comment."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    source = (
        f"def long():\n{body}\n\n"
        "class C:\n    def many(self, a, b, c, d, e, f, g, h, *rest, **named):\n        pass\n\n"
        f"{SIZE_MARK} one table's columns, read in order\n@staticmethod\ndef kept(a, b, c, d, e, f, g, h, i):\n"
        "    pass\n\n"
        "def small(a, /, b, *, c):\n    pass\n"
    )
    seen = {fn.name: fn for fn in functions(source, "x.py")}
    assert (seen["long"].lines, oversized(seen["long"])) == (MAX_LINES + 1, True)
    assert (seen["many"].params, oversized(seen["many"])) == (MAX_PARAMS + 2, True)
    assert seen["kept"].reason == "one table's columns, read in order" and seen["kept"].params == MAX_PARAMS + 1
    assert (seen["small"].params, oversized(seen["small"]), seen["long"].reason) == (3, False, None)
