"""conftest.py - shared fixtures of the pytest suite (unit tests through
tests/test_unit.py, end-to-end tests in tests/e2e/).

The build directory under test comes from `--build DIR` (scripts/run-tests.sh
passes it), else env SD_BUILD, else `build`. Helpers:
  streamdelta   path of DIR/streamdelta
  run_cli       run it, return the CompletedProcess (text, never raises)
  duckdb        DuckDB's reading of Parquet files (tests/support/duckdb_rows.mjs),
                batched: one node process reads every file asked for at once
"""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SUPPORT = REPO / "tests" / "support"
sys.path.insert(0, str(SUPPORT))

# A child that hangs is a failure, not a stuck CI run.
CLI_TIMEOUT = 120
DUCKDB_TIMEOUT = 600


def pytest_addoption(parser):
    parser.addoption("--build", default=os.environ.get("SD_BUILD", "build"),
                     help="build directory holding streamdelta, unit_tests, pq_gen (default: build)")


def build_path(config):
    path = Path(config.getoption("--build"))
    return path if path.is_absolute() else REPO / path


@pytest.fixture(scope="session")
def build_dir(pytestconfig):
    return build_path(pytestconfig)


def _binary(build_dir, name):
    path = build_dir / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build it first (make BUILD={build_dir.name} all)")
    return path


@pytest.fixture(scope="session")
def streamdelta(build_dir):
    return _binary(build_dir, "streamdelta")


@pytest.fixture(scope="session")
def pq_gen(build_dir):
    return _binary(build_dir, "pq_gen")


@pytest.fixture(scope="session")
def run_cli(streamdelta):
    def run(*args, check_exit=None):
        proc = subprocess.run([str(streamdelta), *map(str, args)], capture_output=True,
                              timeout=CLI_TIMEOUT)
        proc.stdout = proc.stdout.decode("utf-8", errors="replace")
        proc.stderr = proc.stderr.decode("utf-8", errors="replace")
        if check_exit is not None and proc.returncode != check_exit:
            pytest.fail(f"streamdelta {' '.join(map(str, args))} exited {proc.returncode}, "
                        f"expected {check_exit}\nstderr: {proc.stderr[-4000:]}")
        return proc
    return run


class DuckDB:
    """DuckDB's view of Parquet files, cached per file for the session."""

    def __init__(self):
        self._rows = {}
        self._stats = {}

    def _run(self, mode, files):
        args = ["node", str(SUPPORT / "duckdb_rows.mjs")] + (["--stats"] if mode == "stats" else [])
        proc = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True,
                              timeout=DUCKDB_TIMEOUT)
        if proc.returncode != 0:
            pytest.fail(f"duckdb_rows.mjs failed ({proc.returncode}): {proc.stderr[-4000:]}"
                        " (run scripts/test-support.sh)")
        # Exact decimals: numbers with a fraction or exponent become Decimal.
        return [json.loads(line, parse_float=Decimal) for line in proc.stdout.splitlines()
                if line.strip()]

    def prefetch(self, files, mode="rows"):
        """Read every file not read yet, in one node process."""
        cache = self._rows if mode == "rows" else self._stats
        todo = [str(f) for f in files if str(f) not in cache]
        if todo:
            for item in self._run(mode, todo):
                cache[item["file"]] = item

    def rows(self, path):
        """DuckDB's rows of `path` as JSON values (parsed with exact
        decimals); fails the test when DuckDB cannot read the file."""
        self.prefetch([path])
        item = self._rows[str(path)]
        if "error" in item:
            pytest.fail(f"DuckDB cannot read {path}: {item['error']}")
        return item["rows"]

    def stats(self, path):
        """DuckDB's parquet_metadata() rows of `path`."""
        self.prefetch([path], mode="stats")
        item = self._stats[str(path)]
        if "error" in item:
            pytest.fail(f"DuckDB cannot read the metadata of {path}: {item['error']}")
        return item["columns"]


@pytest.fixture(scope="session")
def duckdb():
    return DuckDB()
