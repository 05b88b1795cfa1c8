"""test_unit.py - every C unit test (tests/unit/*.c, TEST(name)) as its own
pytest case: `BUILD/unit_tests --list` names them, each case runs
`BUILD/unit_tests NAME` in its own process, so a crash or a failed CHECK
shows against that test alone, with the harness's output."""

import subprocess
from pathlib import Path

import pytest

UNIT_TIMEOUT = 300
REPO = Path(__file__).resolve().parent.parent


def build_path(config):
    """The --build directory (tests/conftest.py defines the option); not
    imported from conftest: two conftest modules share that name."""
    path = Path(config.getoption("--build"))
    return path if path.is_absolute() else REPO / path


def _unit_names(config):
    binary = build_path(config) / "unit_tests"
    if not binary.exists():
        return None
    proc = subprocess.run([str(binary), "--list"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return None
    # Tests named *_real_kafka need a real broker: the end-to-end tests
    # (tests/e2e/test_kafka_source.py) start one and run them.
    return [line.strip() for line in proc.stdout.splitlines()
            if line.strip() and not line.strip().endswith("_real_kafka")]


def pytest_generate_tests(metafunc):
    if "unit_name" in metafunc.fixturenames:
        names = _unit_names(metafunc.config)
        # No binary or no list is a failure to report, not "no tests".
        metafunc.parametrize("unit_name", names if names else ["<unit_tests --list failed>"])


def test_unit(build_dir, unit_name):
    binary = build_dir / "unit_tests"
    if unit_name.startswith("<"):
        pytest.fail(f"{binary} is missing or `--list` failed: build it (make BUILD={build_dir.name} all)")
    proc = subprocess.run([str(binary), unit_name], capture_output=True, text=True,
                          timeout=UNIT_TIMEOUT)
    if proc.returncode != 0:
        pytest.fail(f"unit test {unit_name} exited {proc.returncode}\n{proc.stdout}{proc.stderr}",
                    pytrace=False)
