"""test_run_file.py - `streamdelta run --from-avro`: the stream fed from an
Avro container file instead of Kafka. The files are written here by
fastavro (an independent writer) with duplicates, updates, ties and late
events; the table must equal the upsert result computed here, a rerun must
change nothing, a longer file under the same name must continue after the
recorded position, and `produce --to-avro` must write a file fastavro reads
with the exact shares asked for."""

import json
import subprocess
from pathlib import Path

import fastavro

from test_run import MOVIE_SCHEMA, Events, check_table, table_rows_deltars, table_rows_show

LATE_DAYS = 5


def write_ocf(path, events, codec="deflate"):
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(MOVIE_SCHEMA), events, codec=codec,
                        sync_interval=4000)


def make_events(seed, n):
    """n events (no undecodable ones: a file has no dead letters), plus ties:
    same key and timestamp as the newest event, another rating; the later one
    must win."""
    ev = Events(seed)
    recs = [v for _, v in ev.make(n, dup=0.10, upd=0.10, late=0.05, bad=0)]
    for eid in ev.live[: n // 50]:
        tie = dict(ev.latest[eid], rating=(ev.latest[eid]["rating"] * 10 + 7) % 101 / 10)
        ev.sent.append(tie)
        ev.latest[eid] = tie
        recs.append(tie)
    return ev, recs


def run_file(streamdelta, path, table, *extra):
    return subprocess.run(
        [str(streamdelta), "run", "--from-avro", str(path), "--table", str(table),
         "--available-now", "--set", f"sink.late_days={LATE_DAYS}", *extra],
        capture_output=True, text=True, timeout=300)


def log_versions(table):
    return sorted(p.name for p in (Path(table) / "_delta_log").glob("*.json"))


def txn_versions(table, app_id):
    """The txn versions recorded for app_id, commit by commit."""
    out = []
    for name in log_versions(table):
        for line in (Path(table) / "_delta_log" / name).read_text().splitlines():
            a = json.loads(line)
            if "txn" in a and a["txn"]["appId"] == app_id:
                out.append(a["txn"]["version"])
    return out


def test_run_from_avro_file_upserts_and_rerun_changes_nothing(streamdelta, tmp_path):
    ev, recs = make_events(11, 6000)
    src = tmp_path / "ratings.avro"
    write_ocf(src, recs)
    table = tmp_path / "t"
    # Small batches: duplicates, updates and ties cross batch boundaries.
    r = run_file(streamdelta, src, table, "--set", "trigger.max_batch_records=700")
    assert r.returncode == 0, r.stderr
    assert "late" in r.stderr
    expected = ev.expected()
    check_table(table_rows_show(streamdelta, table), expected, "show")
    check_table(table_rows_deltars(table), expected, "delta-rs")
    versions = txn_versions(table, "streamdelta-file-ratings.avro-0")
    assert versions[-1] == len(recs)
    assert len(versions) == -(-len(recs) // 700)
    before = log_versions(table)
    # The table says the whole file is in: a rerun commits nothing.
    r = run_file(streamdelta, src, table, "--set", "trigger.max_batch_records=700")
    assert r.returncode == 0, r.stderr
    assert "nothing committed" in r.stderr
    assert log_versions(table) == before
    check_table(table_rows_show(streamdelta, table), expected, "show after rerun")


def test_run_from_avro_continues_after_recorded_position(streamdelta, tmp_path):
    ev, recs = make_events(12, 5000)
    table = tmp_path / "t"
    first = 3137  # not at a block boundary: the rest of a block is skipped record by record
    part = tmp_path / "part" / "events.avro"
    part.parent.mkdir()
    write_ocf(part, recs[:first], codec="null")
    r = run_file(streamdelta, part, table)
    assert r.returncode == 0, r.stderr
    assert txn_versions(table, "streamdelta-file-events.avro-0") == [first]
    # The same name, now holding every record: only the new ones are read.
    full = tmp_path / "events.avro"
    write_ocf(full, recs, codec="snappy")
    r = run_file(streamdelta, full, table, "--progress-json", "-")
    assert r.returncode == 0, r.stderr
    progress = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert sum(p["numInputRows"] for p in progress) == len(recs) - first
    assert {p["sources"][0]["description"] for p in progress} == {"AvroFile[events.avro]"}
    assert txn_versions(table, "streamdelta-file-events.avro-0") == [first, len(recs)]
    check_table(table_rows_show(streamdelta, table), ev.expected(), "show")
    # A shorter file under that name is another file: refused, table untouched.
    before = log_versions(table)
    r = run_file(streamdelta, part, table)
    assert r.returncode == 1
    assert "holds only 3137 records" in r.stderr and "events.avro" in r.stderr
    assert log_versions(table) == before


def test_produce_to_avro_and_run(streamdelta, tmp_path):
    out = tmp_path / "gen.avro"
    r = subprocess.run([str(streamdelta), "produce", "--to-avro", str(out), "--count", "20000",
                        "--duplicates", "10%", "--updates", "10%", "--late", "2%", "--seed", "5",
                        "--codec", "zstandard"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "new 15600, duplicates 2000, updates 2000, late 400" in r.stdout
    with open(out, "rb") as f:
        rd = fastavro.reader(f)
        assert rd.codec == "zstandard"
        recs = list(rd)
    assert len(recs) == 20000
    # Independent upsert: newest timestamp wins, later record on ties.
    latest = {}
    for rec in recs:
        cur = latest.get(rec["event_id"])
        if cur is None or rec["rating_timestamp"] >= cur["rating_timestamp"]:
            latest[rec["event_id"]] = rec
    ev = Events(0)
    ev.latest = latest
    expected = ev.expected()
    assert len(expected) == 15600
    table = tmp_path / "t"
    r = run_file(streamdelta, out, table, "--set", "trigger.max_batch_records=3000")
    assert r.returncode == 0, r.stderr
    check_table(table_rows_show(streamdelta, table), expected, "show")
    # Usage errors name the option.
    r = subprocess.run([str(streamdelta), "produce", "--to-avro", str(out), "--count", "10",
                        "--codec", "brotli"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "brotli" in r.stderr
    r = subprocess.run([str(streamdelta), "run", "--from-avro", str(tmp_path / "missing.avro"),
                        "--table", str(tmp_path / "t2")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "missing.avro" in r.stderr


def test_copy_on_write_rewrites_only_the_newest_files(streamdelta, tmp_path):
    """Data files hold at most 131072 rows in arrival order, so a batch's
    updates (which hit recent events) rewrite one or two files, not all the
    rows written so far."""
    src = tmp_path / "e.avro"
    r = subprocess.run([str(streamdelta), "produce", "--to-avro", str(src), "--count", "600000",
                        "--duplicates", "10%", "--updates", "10%", "--late", "2%", "--seed", "9"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    table = tmp_path / "t"
    r = run_file(streamdelta, src, table, "--set", "trigger.max_batch_records=200000")
    assert r.returncode == 0, r.stderr
    live, rows, removed_per_commit = {}, 0, []
    for name in log_versions(table):
        removed = 0
        for line in (table / "_delta_log" / name).read_text().splitlines():
            a = json.loads(line)
            if "add" in a:
                n = json.loads(a["add"]["stats"])["numRecords"]
                assert n <= 131072, (name, n)
                live[a["add"]["path"]] = n
            elif "remove" in a:
                removed += 1
                live.pop(a["remove"]["path"])
        removed_per_commit.append(removed)
    assert sum(live.values()) == 468000  # the new events; late ones dropped
    assert max(removed_per_commit) <= 2, removed_per_commit
    assert sum(removed_per_commit) >= 2  # updates did reach earlier batches
