"""Fixtures of the pyramask module's tests: the command (PYRAMASK_EXE), the shipped data
(PYRAMASK_DATA), and a pyramid built once by the command on a slice of the corpora."""

import os
import subprocess

import pytest

EXE = os.environ.get("PYRAMASK_EXE")
DATA = os.environ.get("PYRAMASK_DATA")


def run(*args, input=None, check=True):
    """Runs the pyramask command; returns its CompletedProcess (stdout, stderr as bytes)."""
    r = subprocess.run([EXE, *map(str, args)], input=input, capture_output=True)
    if check and r.returncode != 0:
        raise AssertionError(f"pyramask {' '.join(map(str, args))}: exit {r.returncode}: "
                             f"{r.stderr.decode(errors='replace')}")
    return r


@pytest.fixture(scope="session")
def exe():
    if not EXE or not os.access(EXE, os.X_OK):
        pytest.fail("PYRAMASK_EXE does not name the built pyramask command")
    return EXE


@pytest.fixture(scope="session")
def data():
    if not DATA or not os.path.isdir(DATA):
        pytest.fail("PYRAMASK_DATA does not name the data directory")
    return DATA


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("pyramask")


@pytest.fixture(scope="session")
def corpus(data, work):
    """300 kB of prose and 100 kB of code in one file."""
    path = work / "corpus.txt"
    with open(os.path.join(data, "prose", "kjv.txt"), "rb") as f:
        prose = f.read(300000)
    with open(os.path.join(data, "code", "python-stdlib.txt"), "rb") as f:
        code = f.read(100000)
    path.write_bytes(prose[:prose.rindex(b"\n") + 1] + code[:code.rindex(b"\n") + 1])
    return path


@pytest.fixture(scope="session")
def pyr(exe, corpus, work):
    """A gpt2 pyramid of levels 300, 500, 800 and a superword level of 1000 tokens."""
    path = work / "p.pyr"
    run("vocab", "build", "--corpus", corpus, "--levels", "300,500,800", "--superword",
        "1000", "--pretok", "gpt2", "--threads", "1", "-o", path)
    return path
