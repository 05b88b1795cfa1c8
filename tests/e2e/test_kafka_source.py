"""test_kafka_source.py - the stream's Kafka source in group mode against a
real Apache Kafka (the embedded mock cluster's group coordinator is too slow
and fragile for it): two members of one group split a 6-partition topic,
each starting its partitions at the offsets its caller (the table) gives.

The check itself is the C unit test kafka_source_group_mode_real_kafka; it
runs only when SD_TEST_KAFKA_BOOTSTRAP names a broker, which this test sets.
"""

import os
import subprocess

CHILD_TIMEOUT = 180


def test_group_mode_splits_partitions(build_dir, real_kafka):
    unit = build_dir / "unit_tests"
    env = dict(os.environ, SD_TEST_KAFKA_BOOTSTRAP=real_kafka)
    out = subprocess.run([str(unit), "kafka_source_group_mode_real_kafka"], env=env,
                         capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok   kafka_source_group_mode_real_kafka" in out.stdout
