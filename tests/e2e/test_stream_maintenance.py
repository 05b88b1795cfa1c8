"""test_stream_maintenance.py - table maintenance on tables the stream wrote,
and beside a running stream (issue: OPTIMIZE, auto-compaction, VACUUM).

What is checked:
  (1) after 1,000 micro-batches of the demo's events (embedded broker,
      trigger.max_batch_records=20), `optimize --target-size 256KB` leaves
      at most ceil(partition bytes / target) files per partition, where
      partitions held hundreds of files; the rows are the expected upsert
      result before and after, read through the DuckDB log replay
      (tests/support/delta_replay.mjs) and our `show`; the version before
      the optimize still reads the same through `show --version`, delta-rs
      and the replay, until `vacuum --retain 0h --force` deletes its files
      (then reading it fails with a message, the latest version still reads).
  (2) auto-compaction in the stream (sink.auto_compact = true, min files
      10): at no version does a partition hold more than min files + the
      partitions in the window small files; the compaction commits are
      OPTIMIZE with auto=true and dataChange=false; progress reports them;
      the table is the expected upsert result.
  (3) the stream runs, a producer writes events, and `optimize` and
      `vacuum --retain 5s --force` run in a loop for 60 s beside a reader
      (`show`) that must never fail or see a key twice; an optimize that
      loses to the stream fails cleanly (exit 1, a message) and the loop
      goes on; the final table is the expected upsert result, and every
      version that vacuum's retention keeps readable references only files
      that exist.
"""

import json
import math
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

from test_run import Events, check_table, send, table_rows_show
from test_delta_tables import replay
from test_run import LATE_DAYS, VENV_PY

TOPIC = "movie.ratings.v1"
TIMEOUT = 900


class SpreadEvents(Events):
    """The demo's events, with new ones spread over the last two days, so
    that the window holds several partitions (today, yesterday, the day
    before; updates may move a key one partition on)."""

    def _new(self, now, late):
        ev = super()._new(now, late)
        if not late:
            ev["rating_timestamp"] = now - self.rng.randint(0, 2 * 86400)
        return ev


def stream(streamdelta, broker, table, dlq, *extra, timeout=TIMEOUT):
    return subprocess.run(
        [str(streamdelta), "run", "--available-now", "--bootstrap-servers", broker.bootstrap,
         "--schema-registry", broker.registry, "--topic", TOPIC, "--table", str(table),
         "--dead-letters", str(dlq), "--set", f"sink.late_days={LATE_DAYS}", *extra],
        capture_output=True, text=True, timeout=timeout, env=broker.env)


def cli(streamdelta, *args, timeout=TIMEOUT):
    return subprocess.run([str(streamdelta), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def commits(table):
    """(version, actions) of every JSON commit, in order."""
    log = Path(table) / "_delta_log"
    files = sorted(p for p in log.iterdir() if p.name.endswith(".json") and p.name[:20].isdigit())
    out = [(int(p.name[:20]), [json.loads(x) for x in p.read_text().splitlines() if x.strip()])
           for p in files]
    assert [v for v, _ in out] == list(range(len(out))), "gap in the log"
    return out


def live_states(table):
    """For every version: {path: add} of its live files (replayed here from
    the JSON commits), and the remove actions by path seen so far."""
    live, removed, states = {}, {}, []
    for _, actions in commits(table):
        for a in actions:
            if "add" in a:
                live[a["add"]["path"]] = a["add"]
                removed.pop(a["add"]["path"], None)
            elif "remove" in a:
                live.pop(a["remove"]["path"], None)
                removed[a["remove"]["path"]] = a["remove"]
        states.append(dict(live))
    return states, removed


def by_partition(files):
    parts = {}
    for add in files.values():
        parts.setdefault(add["partitionValues"].get("rating_date"), []).append(add)
    return parts


def commit_info(actions):
    return next(a["commitInfo"] for a in actions if "commitInfo" in a)


def rows_replay(table, version=None):
    rep = replay(f"{table}@{version}" if version is not None else table)[0]
    assert "error" not in rep, rep
    return rep["rows"]


def rows_deltars(table, version):
    code = ("import json,sys\nfrom deltalake import DeltaTable\n"
            "t = DeltaTable(sys.argv[1], version=int(sys.argv[2])).to_pyarrow_table()\n"
            "for r in t.to_pylist():\n"
            "    r['rating_date'] = r['rating_date'].isoformat()\n"
            "    print(json.dumps(r))\n")
    r = subprocess.run([str(VENV_PY), "-c", code, str(table), str(version)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def rows_show(streamdelta, table, *extra):
    r = cli(streamdelta, "show", table, "--format", "jsonl", "--limit", "0", *extra)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def canonical(rows):
    return sorted((r["event_id"], r["user_id"], r["movie_id"], float(r["rating"]),
                   r["is_approved"], r["rating_timestamp"], r["rating_date"]) for r in rows)


# ---------------------------------------------------------------------------
# (1) OPTIMIZE after 1,000 micro-batches, time travel until VACUUM
# ---------------------------------------------------------------------------

def test_optimize_after_1000_micro_batches(broker, streamdelta, tmp_path):
    ev = SpreadEvents(seed=21)
    # The demo's shares of duplicates and late events; fewer updates, since
    # each copy-on-write update folds the file that held the key into the
    # batch's new file and would keep the partitions small by itself.
    send(broker.bootstrap, broker.registry, TOPIC, ev.make(20_000, upd=0.02, bad=0))
    table, dlq = tmp_path / "t", tmp_path / "dlq.jsonl"
    t0 = time.monotonic()
    r = stream(streamdelta, broker, table, dlq, "--set", "trigger.max_batch_records=20")
    assert r.returncode == 0, r.stderr[-3000:]
    stream_s = time.monotonic() - t0
    log = commits(table)
    batches = sum(1 for _, a in log
                  if commit_info(a)["operation"] in ("MERGE", "STREAMING UPDATE"))
    assert batches >= 1000, f"only {batches} micro-batch commits"
    expected = ev.expected()
    v0 = log[-1][0]

    states, _ = live_states(table)
    before = by_partition(states[v0])
    assert max(len(f) for f in before.values()) >= 100, {k: len(f) for k, f in before.items()}
    rows_before = rows_replay(table)
    check_table(rows_before, expected, "replay before optimize")
    check_table(rows_show(streamdelta, table), expected, "show before optimize")

    target = 256 * 1024
    r = cli(streamdelta, "optimize", table, "--target-size", "256KB")
    assert r.returncode == 0, r.stderr[-3000:]
    log = commits(table)
    assert len(log) == v0 + 2
    info = commit_info(log[-1][1])
    assert info["operation"] == "OPTIMIZE" and info["operationParameters"]["auto"] is False
    states, _ = live_states(table)
    after = by_partition(states[-1])
    for part, files in before.items():
        limit = math.ceil(sum(f["size"] for f in files) / target)
        assert len(after[part]) <= limit, (part, len(files), len(after[part]), limit)
    print(f"\n{batches} micro-batches in {stream_s:.1f} s; files per partition "
          f"{ {k: len(v) for k, v in sorted(before.items())} } -> "
          f"{ {k: len(v) for k, v in sorted(after.items())} }")

    rows_after = rows_replay(table)
    assert canonical(rows_after) == canonical(rows_before)
    check_table(rows_show(streamdelta, table), expected, "show after optimize")
    # Time travel to the version before the optimize: same rows, its files.
    check_table(rows_show(streamdelta, table, "--version", v0), expected, "show --version")
    check_table(rows_deltars(table, v0), expected, "delta-rs at the version before")
    check_table(rows_replay(table, v0), expected, "replay at the version before")

    r = cli(streamdelta, "vacuum", table, "--retain", "0h", "--force")
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(r.stdout.splitlines()) >= sum(len(f) for f in before.values()) - \
        sum(len(f) for f in after.values())
    r = cli(streamdelta, "show", table, "--version", v0, "--format", "jsonl", "--limit", "0")
    assert r.returncode == 1 and ".parquet" in r.stderr, (r.returncode, r.stderr[-2000:])
    check_table(rows_show(streamdelta, table), expected, "show after vacuum")


# ---------------------------------------------------------------------------
# (2) Auto-compaction in the stream
# ---------------------------------------------------------------------------

def test_auto_compaction_keeps_partitions_small(broker, streamdelta, tmp_path):
    ev = SpreadEvents(seed=22)
    send(broker.bootstrap, broker.registry, TOPIC, ev.make(6000, upd=0.02, bad=0))
    table, dlq, prog = tmp_path / "t", tmp_path / "dlq.jsonl", tmp_path / "progress.jsonl"
    min_files = 10
    r = stream(streamdelta, broker, table, dlq, "--set", "trigger.max_batch_records=20",
               "--set", "sink.auto_compact=true",
               "--set", f"sink.auto_compact_min_files={min_files}",
               "--set", "sink.auto_compact_target_size=1MB", "--progress-json", prog)
    assert r.returncode == 0, r.stderr[-3000:]
    log = commits(table)
    states, _ = live_states(table)
    compactions, removed_by_compaction, worst = 0, 0, 0
    partitions = set()
    for (v, actions), live in zip(log, states):
        parts = by_partition(live)
        partitions |= parts.keys()
        small = max((sum(1 for f in files if f["size"] < 1024 * 1024)
                     for files in parts.values()), default=0)
        worst = max(worst, small)
        info = commit_info(actions)
        if info["operation"] != "OPTIMIZE":
            continue
        compactions += 1
        assert info["operationParameters"]["auto"] is True, info
        for a in actions:
            for kind in ("add", "remove"):
                if kind in a:
                    assert a[kind]["dataChange"] is False, (v, a)
        removed_by_compaction += sum(1 for a in actions if "remove" in a)
    assert compactions >= 5, compactions
    # Each batch adds at most one file per partition and compacts the
    # partition with the most small files once one has min_files of them.
    assert worst <= min_files + len(partitions), (worst, len(partitions))
    reported = [json.loads(x) for x in prog.read_text().splitlines() if x.strip()]
    assert sum(p["streamdelta"]["autoCompact"]["filesRemoved"] for p in reported) == \
        removed_by_compaction
    versions = {p["streamdelta"]["autoCompact"]["version"] for p in reported} - {-1}
    assert len(versions) == compactions
    # Figures only (no timing is asserted): what a compaction costs beside
    # the batch it follows.
    spent = sorted(p["streamdelta"]["autoCompact"]["durationMs"] for p in reported
                   if p["streamdelta"]["autoCompact"]["filesRemoved"] > 0)
    merge = sorted(p["durationMs"]["addBatch"] for p in reported)
    print(f"\n{len(log)} versions, {compactions} compactions of {removed_by_compaction} files, "
          f"at most {worst} small files in a partition ({len(partitions)} partitions); "
          f"compaction ms median {spent[len(spent) // 2]} max {spent[-1]}, merge+commit ms "
          f"median {merge[len(merge) // 2]} max {merge[-1]}")
    expected = ev.expected()
    check_table(rows_show(streamdelta, table), expected, "show")
    check_table(rows_replay(table), expected, "replay")


# ---------------------------------------------------------------------------
# (3) The stream beside OPTIMIZE and VACUUM in a loop for 60 s
# ---------------------------------------------------------------------------

LOOP_S = 60
RETAIN_S = 5


def test_stream_beside_optimize_and_vacuum_loop(broker, streamdelta, tmp_path):
    ev = SpreadEvents(seed=23)
    table, dlq = tmp_path / "t", tmp_path / "dlq.jsonl"
    prog, err_log = tmp_path / "progress.jsonl", tmp_path / "stream.err"
    run = subprocess.Popen(
        [str(streamdelta), "run", "--bootstrap-servers", broker.bootstrap, "--schema-registry",
         broker.registry, "--topic", TOPIC, "--table", str(table), "--dead-letters", str(dlq),
         "--set", f"sink.late_days={LATE_DAYS}", "--set", "trigger.max_batch_records=200",
         "--progress-json", str(prog)],
        stdout=subprocess.DEVNULL, stderr=open(err_log, "w"), env=broker.env)
    stop = threading.Event()
    problems = []

    def produce():
        try:
            while not stop.is_set():
                send(broker.bootstrap, broker.registry, TOPIC, ev.make(300, bad=0))
                stop.wait(0.5)
        except Exception as e:  # noqa: BLE001 - reported by the test
            problems.append(f"producer: {e!r}")

    reads = [0]

    def read():
        while not stop.is_set():
            r = cli(streamdelta, "show", table, "--format", "jsonl", "--limit", "0")
            if r.returncode != 0:
                problems.append(f"show failed: {r.stderr[-2000:]}")
                return
            keys = [json.loads(x)["event_id"] for x in r.stdout.splitlines() if x.strip()]
            if len(keys) != len(set(keys)):
                problems.append("show saw a key twice")
                return
            reads[0] += 1

    producer = threading.Thread(target=produce)
    producer.start()
    deadline = time.monotonic() + 120
    while not (table / "_delta_log" / f"{1:020d}.json").exists():
        assert run.poll() is None, err_log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the stream made no commit in 120 s"
        time.sleep(0.2)
    reader = threading.Thread(target=read)
    reader.start()
    runs = conflicts = vacuumed = 0
    try:
        end = time.monotonic() + LOOP_S
        while time.monotonic() < end and not problems:
            r = cli(streamdelta, "optimize", table, "--target-size", "1MB")
            if r.returncode == 1:
                # Lost to the stream's merge: a clean failure, run again later.
                assert "concurrent" in r.stderr, r.stderr[-2000:]
                conflicts += 1
            else:
                assert r.returncode == 0, r.stderr[-2000:]
            runs += 1
            r = cli(streamdelta, "vacuum", table, "--retain", f"{RETAIN_S}s", "--force")
            assert r.returncode == 0, r.stderr[-2000:]
            vacuumed += len(r.stdout.splitlines())
            assert run.poll() is None, err_log.read_text()[-3000:]
    finally:
        stop.set()
        producer.join()
        reader.join()
    assert not problems, problems
    # The stream is still running: stop it (it finishes its batch), then
    # drain what the producer sent last.
    run.terminate()
    assert run.wait(timeout=120) == 0, err_log.read_text()[-3000:]
    r = stream(streamdelta, broker, table, dlq)
    assert r.returncode == 0, r.stderr[-3000:]
    log = commits(table)
    optimized = sum(1 for _, a in log if commit_info(a)["operation"] == "OPTIMIZE")
    assert optimized >= 3 and vacuumed > 0, (runs, optimized, conflicts, vacuumed)
    print(f"\n{LOOP_S} s: {runs} optimize runs, {optimized} committed, {conflicts} lost to the "
          f"stream; {vacuumed} files vacuumed; {reads[0]} reads")

    expected = ev.expected()
    check_table(rows_show(streamdelta, table), expected, "show")
    check_table(rows_replay(table), expected, "replay")

    # Every version that the retention keeps readable: those all of whose
    # files that are gone now were removed less than RETAIN_S before the
    # last vacuum started (a second of slack on the safe side). Their files
    # must all exist.
    states, removed = live_states(table)
    vacuum_ms = max(commit_info(a)["timestamp"] for _, a in log
                    if commit_info(a)["operation"] == "VACUUM START")
    horizon = vacuum_ms - RETAIN_S * 1000 + 1000
    latest = states[-1]
    retained = []
    for v, live in enumerate(states):
        gone = [p for p in live if p not in latest]
        if any(removed[p]["deletionTimestamp"] <= horizon for p in gone):
            continue
        retained.append(v)
        missing = [p for p in live if not (table / urllib.parse.unquote(p)).exists()]
        assert not missing, f"version {v} references missing files: {missing[:5]}"
    assert retained and retained[-1] == len(states) - 1
    # And our reader reads the oldest of them.
    rows = rows_show(streamdelta, table, "--version", retained[0])
    assert len(rows) == len({r["event_id"] for r in rows})
    retained = len(retained)
    print(f"{len(states)} versions, {retained} retained by the vacuum's retention: no file missing")
