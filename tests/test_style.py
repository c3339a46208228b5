"""The C sources follow the committed .clang-format."""
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_clang_format_clean():
    if not shutil.which("clang-format"):
        pytest.fail("clang-format is missing: run tests/setup")
    files = sorted(str(p) for d in ("src", "fuzz", "tests")
                   for p in (ROOT / d).rglob("*.[ch]"))
    p = subprocess.run(["clang-format", "--dry-run", "-Werror"] + files,
                       capture_output=True, text=True)
    assert p.returncode == 0, \
        "run clang-format -i on:\n" + "\n".join(sorted(set(
            line.split(":")[0] for line in p.stderr.splitlines()
            if ": error:" in line)))
