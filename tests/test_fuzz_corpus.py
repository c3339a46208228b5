"""Replays every fuzz target's corpus through the sanitizer build: each
input must be handled (accepted or refused) without a crash or a
sanitizer report."""
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGETS = sorted(p.stem[len("fuzz_"):]
                 for p in (ROOT / "fuzz").glob("fuzz_*.c"))


@pytest.mark.parametrize("name", TARGETS)
def test_corpus_replays_cleanly(build_dir, name):
    binary = build_dir / "fuzz" / f"fuzz-{name}"
    corpus = ROOT / "fuzz" / "corpus" / name
    assert binary.exists(), f"{binary} not built"
    assert corpus.is_dir() and any(corpus.iterdir()), \
        f"fuzz/corpus/{name} has no seeds"
    p = subprocess.run([binary, corpus], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
