"""The code passes ruff with the project's configuration (``[tool.ruff]`` in pyproject.toml)."""

from __future__ import annotations

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


def test_ruff_finds_nothing_in_the_library_and_the_tests():
    command = [*ruff_command(), "check", "--no-cache", "--output-format", "concise", "sketchlib", "tests"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff findings (fix them, or `ruff check --fix` your own files):\n{result.stdout}"
