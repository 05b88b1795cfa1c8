"""test_maintenance.py - `streamdelta optimize` and `streamdelta vacuum`
against independent computations.

What is checked:
  (1) after many small commits (tests/tools/delta_gen.c, dozens of files per
      partition), OPTIMIZE leaves at most ceil(partition bytes / target)
      files per partition; the rows are identical before and after (our
      `show` and the DuckDB log replay, tests/support/delta_replay.mjs);
      every add/remove of its commit has dataChange=false and commitInfo
      carries Spark's OPTIMIZE metrics; versions before it still read the
      same (time travel); --where limits it to the selected partitions.
  (2) VACUUM deletes exactly the set this file computes from the
      _delta_log JSON itself (live files kept; unreferenced files deleted
      when their tombstone is older than now - retention, or, never
      referenced, when their mtime is), with the clock set through
      STREAMDELTA_NOW_MS and file ages through os.utime; --dry-run lists
      the same set and deletes nothing; --retain 0h is refused without
      --force; _delta_log and hidden files are never touched; the retained
      version still reads.
  (3) OPTIMIZE while another process appends (delta_gen append in a loop)
      and while a second OPTIMIZE competes for the same files: each run
      succeeds or fails cleanly with a conflict, a re-run succeeds, the
      log has no gap and the final rows are exactly what was appended.
"""

import json
import math
import os
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from test_delta_tables import assert_same, csv_rows, replay, replay_rows, show_csv

TIMEOUT = 600
HOUR_MS = 3600 * 1000
WEEK_MS = 168 * HOUR_MS


@pytest.fixture(scope="session")
def gen_tool(build_dir):
    path = build_dir / "delta_gen"
    if not path.exists():
        pytest.fail(f"{path} is missing: build it first (make BUILD={build_dir.name} all)")
    return path


def run_gen(gen_tool, *args):
    proc = subprocess.run([str(gen_tool), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, f"delta_gen {args} failed: {proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# An independent reading of the log (JSON commits only: no checkpoints here)
# ---------------------------------------------------------------------------

def log_commits(table):
    log = Path(table) / "_delta_log"
    files = sorted(p for p in log.iterdir() if p.name.endswith(".json") and p.name[:20].isdigit())
    versions = [int(p.name[:20]) for p in files]
    assert versions == list(range(len(versions))), f"gap in the log: {versions}"
    return [[json.loads(line) for line in p.read_text().splitlines() if line.strip()]
            for p in files]


def log_state(table, upto=None):
    """(live adds by path, tombstone deletionTimestamp by path) at `upto`."""
    live, tombs = {}, {}
    for v, actions in enumerate(log_commits(table)):
        if upto is not None and v > upto:
            break
        for a in actions:
            if "add" in a:
                live[a["add"]["path"]] = a["add"]
                tombs.pop(a["add"]["path"], None)
            elif "remove" in a:
                live.pop(a["remove"]["path"], None)
                tombs[a["remove"]["path"]] = a["remove"].get("deletionTimestamp", -1)
    return live, tombs


def partition_of(add):
    return tuple(sorted((add.get("partitionValues") or {}).items(), key=lambda kv: kv[0]))


def files_on_disk(table, partition_cols):
    """Relative paths VACUUM may consider: not under _delta_log, no hidden
    or '_' names except partition directories."""
    out = {}
    for root, dirs, files in os.walk(table):
        rel_root = os.path.relpath(root, table)
        dirs[:] = [d for d in dirs
                   if not d.startswith((".", "_")) or any(d.startswith(c + "=")
                                                          for c in partition_cols)]
        for f in files:
            if f.startswith((".", "_")):
                continue
            rel = f if rel_root == "." else os.path.join(rel_root, f)
            out[rel] = os.path.getmtime(os.path.join(root, f)) * 1000
    return out


def expected_vacuum(table, now_ms, retention_ms, partition_cols):
    live, tombs = log_state(table)
    referenced = {urllib.parse.unquote(p) for p in live}
    tomb_ts = {urllib.parse.unquote(p): ts for p, ts in tombs.items()}
    cutoff = now_ms - retention_ms
    expired = set()
    for rel, mtime in files_on_disk(table, partition_cols).items():
        if rel in referenced:
            continue
        if rel in tomb_ts:
            if 0 <= tomb_ts[rel] < cutoff:
                expired.add(rel)
        elif mtime < cutoff:
            expired.add(rel)
    return expired


def table_rows(run_cli, table, *extra):
    rep = replay(f"{table}@{extra[1]}" if extra else table)[0]
    assert "error" not in rep, rep
    schema = json.loads(rep["schema"])
    return csv_rows(show_csv(run_cli, table, *extra), schema), replay_rows(rep, schema)


def last_commit_info(table):
    commits = log_commits(table)
    info = next(a["commitInfo"] for a in commits[-1] if "commitInfo" in a)
    return len(commits) - 1, info, commits[-1]


# ---------------------------------------------------------------------------
# (1) OPTIMIZE
# ---------------------------------------------------------------------------

TARGET = 16 * 1024  # files of 20 rows are ~2 KB: several bins per partition


@pytest.fixture(scope="module")
def small_files_table(gen_tool, tmp_path_factory):
    table = tmp_path_factory.mktemp("maint") / "small"
    run_gen(gen_tool, "write", table, "--commits", 100, "--rows", 20, "--partitioned",
            "--removes")
    return table


def test_optimize_compacts_and_keeps_rows(run_cli, small_files_table):
    table = small_files_table
    before_version = len(log_commits(table)) - 1
    live, _ = log_state(table)
    sizes, counts = {}, {}
    for add in live.values():
        p = partition_of(add)
        sizes[p] = sizes.get(p, 0) + add["size"]
        counts[p] = counts.get(p, 0) + 1
    assert min(counts.values()) >= 20, f"not dozens of files per partition: {counts}"
    ours_before, replay_before = table_rows(run_cli, table)
    assert_same(ours_before, replay_before, "before OPTIMIZE")

    proc = run_cli("optimize", table, "--target-size", "16KB", check_exit=0)
    metrics = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    version, info, actions = last_commit_info(table)
    assert version == before_version + 1
    assert metrics["version"] == str(version)

    live_after, _ = log_state(table)
    after_counts = {}
    for add in live_after.values():
        after_counts[partition_of(add)] = after_counts.get(partition_of(add), 0) + 1
    for p, n in after_counts.items():
        bound = math.ceil(sizes[p] / TARGET)
        assert n <= bound, f"partition {p}: {n} files, at most {bound} expected"
    assert sum(after_counts.values()) < sum(counts.values()) / 3

    # The commit: dataChange=false everywhere, Spark's metrics.
    adds = [a["add"] for a in actions if "add" in a]
    removes = [a["remove"] for a in actions if "remove" in a]
    assert adds and removes
    assert all(a["dataChange"] is False for a in adds + removes)
    assert info["operation"] == "OPTIMIZE"
    assert json.loads(info["operationParameters"]["predicate"]) == []
    assert info["operationParameters"]["zOrderBy"] == "[]"
    m = info["operationMetrics"]
    assert m["numAddedFiles"] == str(len(adds)) == metrics["numFilesAdded"]
    assert m["numRemovedFiles"] == str(len(removes)) == metrics["numFilesRemoved"]
    assert m["numAddedBytes"] == str(sum(a["size"] for a in adds))
    assert m["numRemovedBytes"] == str(sum(r["size"] for r in removes))
    assert int(m["partitionsOptimized"]) == len(counts)

    ours_after, replay_after = table_rows(run_cli, table)
    assert_same(ours_after, ours_before, "show after OPTIMIZE vs before")
    assert_same(replay_after, replay_before, "replay after OPTIMIZE vs before")
    # Time travel to versions before OPTIMIZE.
    for v in (before_version, before_version // 2):
        ours_v, replay_v = table_rows(run_cli, table, "--version", v)
        assert_same(ours_v, replay_v, f"version {v} after OPTIMIZE")
    assert_same(table_rows(run_cli, table, "--version", before_version)[0], ours_before,
                "the version before OPTIMIZE")


def test_optimize_where_selects_partitions(run_cli, gen_tool, tmp_path):
    table = tmp_path / "where"
    run_gen(gen_tool, "write", table, "--commits", 30, "--rows", 10, "--partitioned")
    live, _ = log_state(table)
    rows_before = table_rows(run_cli, table)[0]
    run_cli("optimize", table, "--where", "day >= '2024-01-03'", "--target-size", "1MB",
            check_exit=0)
    _, info, actions = last_commit_info(table)
    removed_days = {a["remove"]["partitionValues"]["day"] for a in actions if "remove" in a}
    assert removed_days == {"2024-01-03", "2024-01-04"}
    assert json.loads(info["operationParameters"]["predicate"]) == ["(day >= '2024-01-03')"]
    live_after, _ = log_state(table)
    untouched = {p for p, a in live.items()
                 if (a["partitionValues"]["day"] or "") < "2024-01-03"}
    assert untouched <= set(live_after)
    assert_same(table_rows(run_cli, table)[0], rows_before, "rows after OPTIMIZE --where")
    # Only partition columns select; a bad option value is a usage error.
    proc = run_cli("optimize", table, "--where", "id > 3")
    assert proc.returncode == 2 and "not a partition column" in proc.stderr
    assert run_cli("optimize", table, "--target-size", "lots").returncode == 2


# ---------------------------------------------------------------------------
# (2) VACUUM
# ---------------------------------------------------------------------------

def vacuum(run_cli_env, table, *args, now_ms):
    return run_cli_env({"STREAMDELTA_NOW_MS": str(int(now_ms))}, "vacuum", table, *args)


@pytest.fixture
def run_cli_env(streamdelta):
    def run(env, *args):
        proc = subprocess.run([str(streamdelta), *map(str, args)], capture_output=True,
                              text=True, timeout=TIMEOUT, env={**os.environ, **env})
        return proc
    return run


def test_vacuum_deletes_exactly_the_expired_files(run_cli, run_cli_env, gen_tool, tmp_path):
    table = tmp_path / "vac"
    run_gen(gen_tool, "write", table, "--commits", 40, "--rows", 20, "--partitioned",
            "--removes")
    gen_version = len(log_commits(table)) - 1
    time.sleep(1.2)  # delta_gen's tombstones and OPTIMIZE's are a second apart
    split_ms = time.time() * 1000
    time.sleep(1.2)
    run_cli("optimize", table, "--target-size", "16KB", check_exit=0)
    optimize_version = len(log_commits(table)) - 1
    rows_now = table_rows(run_cli, table)[0]
    rows_gen = table_rows(run_cli, table, "--version", gen_version)[0]

    # Orphans (never in the log): one old enough, one too young; hidden
    # files and a file in a '_' directory that VACUUM must never touch.
    now_ms = split_ms + WEEK_MS  # delta_gen's removes expired, OPTIMIZE's not
    old_orphan = table / "day=2024-01-01" / "part-orphan-old.snappy.parquet"
    young_orphan = table / "part-orphan-young.snappy.parquet"
    hidden = [table / ".hidden.parquet", table / "_tmp" / "x.parquet",
              table / "day=2024-01-02" / "_SUCCESS"]
    (table / "_tmp").mkdir()
    for p in [old_orphan, young_orphan, *hidden]:
        p.write_bytes(b"not parquet")
    for p in [old_orphan, *hidden]:
        t = (now_ms - WEEK_MS - 10 * HOUR_MS) / 1000
        os.utime(p, (t, t))
    t = (now_ms - HOUR_MS) / 1000
    os.utime(young_orphan, (t, t))
    log_before = sorted(p.name for p in (table / "_delta_log").iterdir())

    expected = expected_vacuum(table, now_ms, WEEK_MS, ["day"])
    live, tombs = log_state(table)
    assert "day=2024-01-01/part-orphan-old.snappy.parquet" in expected
    assert "part-orphan-young.snappy.parquet" not in expected
    assert any(urllib.parse.unquote(p) in expected for p in tombs), "no expired tombstone"
    assert not all(urllib.parse.unquote(p) in expected for p in tombs), "no retained tombstone"

    # A retention below the table's is refused unless forced.
    proc = vacuum(run_cli_env, table, "--retain", "0h", now_ms=now_ms)
    assert proc.returncode == 1 and "deletedFileRetentionDuration" in proc.stderr
    proc = vacuum(run_cli_env, table, "--retain", "0h", "--force", "--dry-run", now_ms=now_ms)
    assert proc.returncode == 0, proc.stderr

    # Dry run: the same set, nothing deleted, nothing logged.
    proc = vacuum(run_cli_env, table, "--dry-run", now_ms=now_ms)
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == expected
    assert all((table / p).exists() for p in expected)
    assert len(log_commits(table)) - 1 == optimize_version

    proc = vacuum(run_cli_env, table, "--retain", "168h", now_ms=now_ms)
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == expected
    assert not any((table / p).exists() for p in expected)
    assert all(p.exists() for p in hidden)
    assert young_orphan.exists()
    for path in live:
        assert (table / urllib.parse.unquote(path)).exists(), f"live file {path} deleted"

    # _delta_log: only the two VACUUM commits were added.
    log_after = sorted(p.name for p in (table / "_delta_log").iterdir())
    assert set(log_before) <= set(log_after) and len(log_after) == len(log_before) + 2
    commits = log_commits(table)
    start = next(a["commitInfo"] for a in commits[-2] if "commitInfo" in a)
    end = next(a["commitInfo"] for a in commits[-1] if "commitInfo" in a)
    assert start["operation"] == "VACUUM START" and end["operation"] == "VACUUM END"
    assert start["operationMetrics"]["numFilesToDelete"] == str(len(expected))
    assert end["operationMetrics"]["numDeletedFiles"] == str(len(expected))
    assert end["operationParameters"]["status"] == "COMPLETED"
    assert all(set(a) == {"commitInfo"} for a in commits[-1] + commits[-2])

    # The latest version and the retained one (before OPTIMIZE) still read.
    assert_same(table_rows(run_cli, table)[0], rows_now, "latest after VACUUM")
    ours_gen, replay_gen = table_rows(run_cli, table, "--version", gen_version)
    assert_same(ours_gen, rows_gen, "retained version after VACUUM")
    assert_same(replay_gen, rows_gen, "retained version (replay) after VACUUM")

    # Again at the same time: nothing left.
    proc = vacuum(run_cli_env, table, "--dry-run", now_ms=now_ms)
    assert proc.returncode == 0 and proc.stdout.strip() == ""


# ---------------------------------------------------------------------------
# (3) OPTIMIZE against concurrent writers
# ---------------------------------------------------------------------------

def test_optimize_during_appends_and_competing_optimize(run_cli, streamdelta, gen_tool,
                                                        tmp_path):
    table = tmp_path / "busy"
    commits, rows = 60, 5
    run_gen(gen_tool, "append", table, "--commits", 10, "--tag", "pre", "--rows", rows)
    appender = subprocess.Popen([str(gen_tool), "append", str(table), "--commits", str(commits),
                                 "--tag", "live", "--rows", str(rows)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    outcomes = []
    try:
        while appender.poll() is None and len(outcomes) < 40:
            # Two OPTIMIZE runs at once compete for the same small files.
            procs = [subprocess.Popen([str(streamdelta), "optimize", str(table), "--target-size",
                                       "1MB"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(2)]
            for p in procs:
                out, err = p.communicate(timeout=TIMEOUT)
                outcomes.append((p.returncode, err))
    finally:
        _, app_err = appender.communicate(timeout=TIMEOUT)
    assert appender.returncode == 0, app_err
    for rc, err in outcomes:
        assert rc in (0, 1), f"exit {rc}: {err}"
        if rc == 1:
            assert "concurrent commit" in err and "run it again" in err, err
    print("optimize outcomes:", [rc for rc, _ in outcomes])
    assert any(rc == 0 for rc, _ in outcomes)
    # A re-run after the writers stopped succeeds.
    run_cli("optimize", table, "--target-size", "1MB", check_exit=0)

    commits_log = log_commits(table)  # asserts there is no gap
    ops = [next(a["commitInfo"]["operation"] for a in c if "commitInfo" in a)
           for c in commits_log[1:]]
    assert ops.count("WRITE") == 10 + commits, ops
    live, _ = log_state(table)
    assert len(live) <= 2, f"{len(live)} files after the final OPTIMIZE"

    expected = sorted((tag, seq, seq * 1000 + r)
                      for tag, n in (("pre", 10), ("live", commits))
                      for seq in range(1, n + 1) for r in range(rows))
    proc = run_cli("show", table, "--format", "jsonl", "--limit", "0", check_exit=0)
    got = sorted((r["tag"], r["seq"], r["value"])
                 for r in map(json.loads, proc.stdout.splitlines()))
    assert got == expected
    rep = replay(table)[0]
    assert sorted((r["tag"], int(r["seq"]), int(r["value"])) for r in rep["rows"]) == expected
