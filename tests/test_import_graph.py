"""The project's modules import each other without cycles, and only at the top (issue 12).

Each module under `trainers/`, `experiments/` and `dashboard/` is parsed with `ast` (nothing is
imported). Every import of a project module is an edge — at module level or inside a function — and a
package's `__init__` is a module like any other, so `from dashboard.data import runs` is an edge to
`dashboard.data` while `from dashboard.data import engine` is an edge to the module `engine` (Python
runs a package's `__init__` before any of its modules; that order is not an import of its names).
An import under `if __name__ == "__main__":` is no edge: it runs only when the file is executed as a
script (``python -m …``), as the module `__main__`, never when the module is imported.
"""

import ast
from pathlib import Path

from trainers import tracking

PACKAGES = ("trainers", "experiments", "dashboard")

# The only imports of project modules allowed inside a function: each defers a heavy import (torch,
# Lightning; MLflow for a command that does not use it) to the moment it is needed, so a process that
# never needs it never pays for it. (importer, imported module or package): why.
LAZY = {
    (
        "trainers",
        "trainers.dropin",
    ): "`from trainers import RunboardLogger` (PEP 562 __getattr__): `import trainers` loads no Lightning",
    (
        "trainers.registry",
        "trainers.families",
    ): "the built-in families are torch modules; the dashboard lists families and their configs without torch",
    (
        "dashboard.resume_button",
        "experiments.resume",
    ): "trainers.resume imports Lightning: the Run page (its Resume button) pays for it, not Runs/Compare/Activity",
    ("trainers.cli", "trainers.train"): "`runboard train` only: Lightning and torch",
    (
        "trainers.cli",
        "experiments.worker",
    ): "`runboard worker` only: MLflow (seconds), which `runboard dashboard` skips",
    (
        "experiments.worker",
        "experiments.supervisor",
    ): "the supervisor (MLflow, ~150 MB) only once the store has work: the dashboard's idle worker stays lean",
    (
        "experiments.worker",
        "experiments.executors",
    ): "the executors import MLflow's entities: made with the supervisor, when the store has work",
    ("trainers.cli", "trainers.recover"): "`runboard recover` only: MLflow, which `runboard accounts` skips",
    (
        "trainers.journal",
        "trainers.run_tags",
    ): "run_tags imports MLflow's constants: the writer process (journal's other user) starts without MLflow",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(tracking.REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    paths = (p for pkg in PACKAGES for p in (Path(tracking.REPO) / pkg).rglob("*.py"))
    return {module_name(p): p for p in paths}


def _absolute(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The module an import-from names, relative imports resolved against the importer."""
    if not node.level:
        return node.module or ""
    base = name.split(".")[: len(name.split(".")) - node.level + is_package]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node: ast.AST, name: str, is_package: bool, modules: dict) -> list[str]:
    """The project modules one import statement loads (the deepest existing module of each name)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    source = _absolute(node, name, is_package)
    found = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
    return sorted({m for m in found if m in modules})


def _imports(tree: ast.AST) -> list[ast.AST]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _script_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under a top-level ``if __name__ == "__main__":``."""
    main = "__name__ == '__main__'"
    return {id(n) for s in tree.body if isinstance(s, ast.If) and ast.unparse(s.test).replace('"', "'") == main
            for n in _imports(s)}


def _function_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside a function body (deferred until the function runs)."""
    fns = (fn for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))
    return {id(n) for fn in fns for n in _imports(fn)}


def import_graph() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Edges importer -> imported, and the (importer, imported) pairs imported inside a function."""
    modules = project_modules()
    edges, deferred = {m: set() for m in modules}, set()
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        inner, script = _function_nodes(tree), _script_only(tree)
        for node in (n for n in _imports(tree) if id(n) not in script):
            targets = set(_targets(node, name, path.name == "__init__.py", modules)) - {name}
            edges[name] |= targets
            deferred |= {(name, t) for t in targets} if id(node) in inner else set()
    return edges, deferred


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def test_the_scan_sees_the_projects_modules_and_their_imports():
    edges, deferred = import_graph()
    assert "dashboard.data" in edges and "experiments.executors.local" in edges
    assert "trainers.run_tags" in edges["trainers.run_record"]
    assert ("trainers", "trainers.dropin") in deferred  # the package's lazy RunboardLogger


def test_no_project_modules_import_each_other_in_a_cycle():
    assert cycles(import_graph()[0]) == []


def _documented(importer: str, imported: str) -> tuple[str, str] | None:
    """The LAZY entry that covers this function-level import, if any."""
    return next((k for k in LAZY if k[0] == importer and (imported == k[1] or imported.startswith(k[1] + "."))), None)


def test_project_modules_are_imported_inside_a_function_only_where_documented_as_lazy():
    _, deferred = import_graph()
    assert sorted(pair for pair in deferred if _documented(*pair) is None) == []


def test_every_documented_lazy_import_is_still_there():
    _, deferred = import_graph()
    assert sorted(set(LAZY) - {_documented(*pair) for pair in deferred}) == []


def test_a_cycle_is_found_and_named():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
