"""Shared fixtures for hoist's tests.

The binaries under test come from $HOIST_BUILD (default: build/), which the
test command builds with ASan+UBSan. Inputs are made with the real
qemu-img/qemu-io, and qemu-img is the reference decoder.
"""
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("HOIST_BUILD", ROOT / "build"))
SHARED = pathlib.Path(os.environ.get("HOIST_SHARED", ROOT.parent / "shared"))

import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "lib"))


@pytest.fixture(scope="session")
def hoist_bin():
    path = BUILD / "src" / "cli" / "hoist"
    assert path.exists(), f"{path} is not built; run tests/run"
    return path


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


@pytest.fixture(scope="session")
def shared_dir():
    return SHARED


@pytest.fixture
def hoist(hoist_bin):
    """Runs hoist with arguments; returns the CompletedProcess."""

    def run(*args, check=True, **kw):
        cmd = [str(hoist_bin)] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, **kw)
        if check and p.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
        return p

    return run


def pytest_configure(config):
    for tool in ("qemu-img", "qemu-io"):
        if not shutil.which(tool):
            raise pytest.UsageError(f"{tool} is missing: run tests/setup")
