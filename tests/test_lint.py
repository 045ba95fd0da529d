"""Checks over the source tree rather than behaviour: ruff's rules (pyproject.toml) and that every
``runboard.*`` tag name is spelled in one place, ``trainers/run_tags.py``."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOCABULARY = ROOT / "trainers" / "run_tags.py"
SOURCE_DIRS = ("dashboard", "experiments", "trainers", "bench", "scripts")


def test_ruff_finds_nothing():
    found = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of docstring constants: prose that mentions a tag is not a second definition of it."""
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, owners) and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def _tag_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each string constant outside a docstring that names a ``runboard.`` tag."""
    tree = ast.parse(path.read_text(), str(path))
    docs = _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "runboard." in node.value
            and id(node) not in docs]


def test_tag_names_are_spelled_only_in_the_vocabulary():
    files = [p for d in SOURCE_DIRS for p in sorted((ROOT / d).rglob("*.py")) if p != VOCABULARY]
    assert files, "no source files found"
    stragglers = [f"{p.relative_to(ROOT)}:{line}: {text!r}" for p in files for line, text in _tag_literals(p)]
    assert stragglers == [], "tag names belong in trainers/run_tags.py:\n" + "\n".join(stragglers)


def test_the_literal_check_sees_a_tag_written_in_place(tmp_path):
    """The check above is only worth its green if it would catch a straggler (and not the prose)."""
    stray = tmp_path / "stray.py"
    stray.write_text('"""Mentions runboard.family in prose only."""\nTAG = "runboard.family"\n')
    assert _tag_literals(stray) == [(2, "runboard.family")]
