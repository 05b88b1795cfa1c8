"""test_log_cleanup.py - after a checkpoint, log files older than
delta.logRetentionDuration (30 days) that no retained checkpoint needs are
deleted, as Spark does (delta.enableExpiredLogCleanup); the table reads the
same, and nothing newer than the retention or after the checkpoint goes."""

import os
import subprocess
import time
from pathlib import Path

DAY = 86400


def make_table(build_dir, path, commits=12):
    subprocess.run([str(build_dir / "delta_gen"), "write", str(path), "--commits", str(commits),
                    "--checkpoint-interval", "1000"], check=True, capture_output=True, timeout=120)


def age_log(path, versions, days):
    t = time.time() - days * DAY
    for v in versions:
        os.utime(path / "_delta_log" / f"{v:020d}.json", (t, t))


def test_checkpoint_deletes_expired_log_files(build_dir, run_cli, tmp_path):
    table = tmp_path / "t"
    make_table(build_dir, table)
    before = run_cli("show", table, "--format", "csv", "--limit", "0", check_exit=0).stdout
    age_log(table, range(0, 8), 40)     # versions 0..7 expired
    age_log(table, range(8, 10), 10)    # 8..9 within the retention
    out = run_cli("checkpoint", table, check_exit=0).stdout
    assert "deleted 8 expired log file(s)" in out
    left = sorted(p.name for p in (table / "_delta_log").glob("*.json"))
    assert left == [f"{v:020d}.json" for v in range(8, 13)]
    assert run_cli("show", table, "--format", "csv", "--limit", "0", check_exit=0).stdout == before
    # A version whose commit is gone no longer reads, with a clear message.
    r = run_cli("show", table, "--version", "3")
    assert r.returncode == 1 and "3" in r.stderr


def test_cleanup_can_be_turned_off(build_dir, run_cli, tmp_path):
    table = tmp_path / "t"
    make_table(build_dir, table)
    # Turn it off the way Spark users do: a table property in a metaData action.
    log = table / "_delta_log"
    first = (log / f"{0:020d}.json").read_text()
    assert '"configuration":{' in first
    (log / f"{0:020d}.json").write_text(
        first.replace('"configuration":{', '"configuration":{"delta.enableExpiredLogCleanup":"false",', 1))
    age_log(table, range(0, 12), 40)
    out = run_cli("checkpoint", table, check_exit=0).stdout
    assert "deleted" not in out
    assert len(list(log.glob("*.json"))) == 13
