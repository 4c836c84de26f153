"""The code passes ruff with the project's configuration (``[tool.ruff]`` in pyproject.toml)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ruff_command() -> list[str]:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401  (the pip package ships the binary)
    except ImportError:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return [sys.executable, "-m", "ruff"]


def test_ruff_finds_nothing_in_the_library_tests_scripts_and_benchmarks():
    folders = ["sketchlib", "tests", "scripts", "benchmarks"]
    command = [*ruff_command(), "check", "--no-cache", "--output-format", "concise", *folders]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff findings (fix them, or `ruff check --fix` your own files):\n{result.stdout}"


MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 60


def comment_above(lines: list[str], first: int) -> str:
    """The block of ``#`` comment lines right above line ``first`` (1-based), joined."""
    i, block = first - 2, []
    while i >= 0 and lines[i].strip().startswith("#"):
        block.insert(0, lines[i].strip())
        i -= 1
    return " ".join(block)


def long_functions(path: Path) -> list[str]:
    """The functions of ``path`` over MAX_FUNCTION_LINES lines without a ``# long: why`` comment above them."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            length = node.end_lineno - first + 1
            if length > MAX_FUNCTION_LINES and not comment_above(lines, first).startswith("# long:"):
                found.append(f"{path.relative_to(REPO)}:{first} {node.name} ({length} lines)")
    return found


def test_library_files_and_functions_stay_short():
    files = sorted((REPO / "sketchlib").rglob("*.py"))
    sizes = {p: len(p.read_text().splitlines()) for p in files}
    too_long = [f"{p.relative_to(REPO)} ({n} lines)" for p, n in sizes.items() if n > MAX_FILE_LINES]
    assert not too_long, f"files over {MAX_FILE_LINES} lines (split them by concern): {too_long}"
    unexplained = [f for p in files for f in long_functions(p)]
    assert not unexplained, (f"functions over {MAX_FUNCTION_LINES} lines: split them, or say why they are long in a "
                             f"'# long: ...' comment right above the def: {unexplained}")


def test_the_length_check_finds_an_unexplained_long_function(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n\n\n# long: a table of constants\ndef g():\n{body}\n")
    assert long_functions(tmp_path / "m.py") == [f"m.py:1 f ({MAX_FUNCTION_LINES + 1} lines)"]
