"""conftest.py (e2e) - fixtures for the tests that need Kafka: the embedded
development broker of `streamdelta broker`, and a real Apache Kafka broker
(KRaft, on loopback) started by scripts/kafka-local.sh."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kafka_services import Broker, REPO  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes minutes (Spark and delta-rs reading Delta tables); CI runs it, "
        "-m 'not slow' leaves it out")


@pytest.fixture
def broker(streamdelta, tmp_path):
    """`streamdelta broker` with topic movie.ratings.v1 (3 partitions) and
    `other`, its services file in tmp_path (b.env points the CLI at it)."""
    b = Broker(streamdelta, tmp_path, "--topic", "movie.ratings.v1:3", "--topic", "other")
    yield b
    b.stop()


@pytest.fixture(scope="session")
def real_kafka(tmp_path_factory):
    """A real Apache Kafka broker for the session; yields its bootstrap."""
    d = tmp_path_factory.mktemp("kafka")
    script = REPO / "scripts" / "kafka-local.sh"
    out = subprocess.run(["bash", str(script), "start", str(d)], capture_output=True, text=True,
                         timeout=900)
    if out.returncode != 0:
        pytest.fail(f"cannot start Kafka: {out.stderr[-3000:]}")
    yield out.stdout.strip()
    subprocess.run(["bash", str(script), "stop", str(d)], timeout=120)
