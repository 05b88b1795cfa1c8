"""test_run.py - `streamdelta run` end to end: events from an independent
producer (confluent-kafka's SerializingProducer + AvroSerializer, the
replaced job's producer stack) with known duplicates, updates, late and
undecodable records; the stream drains them (--available-now); the table,
read by our `show` and by delta-rs, must equal the upsert result computed
here from what was sent; the bad records must be in the dead-letter file
with reasons. Also: restarts continue exactly after the last commit (and
after SIGKILL), and `streamdelta demo` runs."""

import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from confluent_kafka import Producer, SerializingProducer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from test_delta_tables import replay

REPO = Path(__file__).resolve().parents[2]
VENV_PY = REPO / ".cache" / "venv" / "bin" / "python"

MOVIE_SCHEMA = {
    "type": "record", "name": "MovieRating", "namespace": "io.movies",
    "fields": [{"name": "event_id", "type": "string"}, {"name": "user_id", "type": "string"},
               {"name": "movie_id", "type": "string"}, {"name": "rating", "type": "float"},
               {"name": "rating_timestamp", "type": "long"}]}

LATE_DAYS = 5


def f32(x):
    """The float32 the Avro float carries."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Events:
    """Movie-rating events with exact shares of duplicates, updates, late and
    undecodable records, and the upsert result they must leave in the table."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.sent = []        # every decodable event, in production order
        self.live = []        # event_ids that are not late (targets of updates)
        self.latest = {}      # event_id -> event of the newest timestamp
        self.bad = []         # raw bytes of undecodable records

    def _new(self, now, late):
        age = self.rng.randint(6 * 86400, 30 * 86400) if late else self.rng.randint(0, 3600)
        return {"event_id": str(uuid.UUID(int=self.rng.getrandbits(128))),
                "user_id": f"u{self.rng.randint(0, 999)}",
                "movie_id": f"m{self.rng.randint(0, 99)}",
                "rating": self.rng.randint(0, 100) / 10,
                "rating_timestamp": now - age}

    def make(self, n, dup=0.10, upd=0.10, late=0.05, bad=0.01):
        """n records; returns the list of ('ok', dict) / ('bad', bytes) to send."""
        now = int(time.time())
        kinds = (["dup"] * round(n * dup) + ["upd"] * round(n * upd) + ["late"] * round(n * late)
                 + ["bad"] * round(n * bad))
        kinds += ["new"] * (n - len(kinds))
        self.rng.shuffle(kinds)
        out = []
        for k in kinds:
            if k in ("dup", "upd") and not self.live:
                k = "new"
            if k == "bad":
                raw = (b"\x01not avro" if self.rng.random() < 0.5
                       else b"\x00\x00\x00\x00\x01\x48abc")  # header + truncated string
                self.bad.append(raw)
                out.append(("bad", raw))
                continue
            if k == "dup":
                ev = dict(self.sent[self.rng.randrange(len(self.sent))])
            elif k == "upd":
                old = self.latest[self.live[self.rng.randrange(len(self.live))]]
                ev = dict(old, rating=self.rng.randint(0, 100) / 10,
                          rating_timestamp=old["rating_timestamp"] + self.rng.randint(1, 600))
            else:
                ev = self._new(now, late=(k == "late"))
                if k == "new":
                    self.live.append(ev["event_id"])
            self.sent.append(ev)
            cur = self.latest.get(ev["event_id"])
            if cur is None or ev["rating_timestamp"] >= cur["rating_timestamp"]:
                self.latest[ev["event_id"]] = ev
            out.append(("ok", ev))
        return out

    def expected(self):
        """The table rows: newest event per key, late keys dropped."""
        today = datetime.now(timezone.utc).date()
        rows = {}
        for eid, ev in self.latest.items():
            day = datetime.fromtimestamp(ev["rating_timestamp"], timezone.utc).date()
            if day < today - timedelta(days=LATE_DAYS):
                continue
            r = f32(ev["rating"])
            rows[eid] = {"event_id": eid, "user_id": ev["user_id"], "movie_id": ev["movie_id"],
                         "rating": r, "is_approved": r >= 7, "rating_timestamp":
                         ev["rating_timestamp"], "rating_date": day.isoformat()}
        return rows


def send(bootstrap, registry, topic, records):
    client = SchemaRegistryClient({"url": registry})
    sp = SerializingProducer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                              "value.serializer": AvroSerializer(
                                  client, json.dumps(MOVIE_SCHEMA),
                                  conf={"auto.register.schemas": True})})
    raw = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    failures = []
    cb = lambda err, msg: failures.append(err) if err else None  # noqa: E731
    for kind, v in records:
        # One producer per kind keeps every message in its own order; the
        # expected result does not depend on interleaving (updates are strictly
        # newer, duplicates identical).
        if kind == "ok":
            sp.produce(topic, value=v, on_delivery=cb)
            sp.poll(0)
        else:
            raw.produce(topic, value=v, on_delivery=cb)
            raw.poll(0)
    assert sp.flush(120) == 0 and raw.flush(120) == 0
    assert failures == []


def run_stream(streamdelta, env, bootstrap, registry, topic, table, dlq, *extra, timeout=300):
    return subprocess.run(
        [str(streamdelta), "run", "--available-now", "--bootstrap-servers", bootstrap,
         "--schema-registry", registry, "--topic", topic, "--table", str(table),
         "--dead-letters", str(dlq), "--set", f"sink.late_days={LATE_DAYS}", *extra],
        capture_output=True, text=True, timeout=timeout, env=env)


def table_rows_show(streamdelta, table):
    r = subprocess.run([str(streamdelta), "show", str(table), "--format", "jsonl", "--limit", "0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def table_rows_deltars(table):
    code = ("import json,sys\nfrom deltalake import DeltaTable\n"
            "t = DeltaTable(sys.argv[1]).to_pyarrow_table()\n"
            "for r in t.to_pylist():\n"
            "    r['rating_date'] = r['rating_date'].isoformat()\n"
            "    print(json.dumps(r))\n")
    py = str(VENV_PY) if VENV_PY.exists() else sys.executable
    r = subprocess.run([py, "-c", code, str(table)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def table_rows_replay(table):
    """The table as DuckDB reads it through the log replay written in SQL
    (tests/support/delta_replay.mjs): an engine that knows nothing of ours."""
    rep = replay(table)[0]
    assert "error" not in rep, rep
    return rep["rows"]


def check_table(rows, expected, engine):
    got = {}
    for r in rows:
        assert r["event_id"] not in got, f"{engine}: key {r['event_id']} twice"
        got[r["event_id"]] = r
    missing = expected.keys() - got.keys()
    extra = got.keys() - expected.keys()
    assert not missing and not extra, (engine, len(missing), len(extra))
    for k, e in expected.items():
        g = got[k]
        assert abs(float(g["rating"]) - e["rating"]) < 1e-6, (engine, g, e)
        for col in ("user_id", "movie_id", "is_approved", "rating_timestamp", "rating_date"):
            assert g[col] == e[col], (engine, col, g, e)


def dead_letters(path):
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def create_topic(streamdelta, env, bootstrap, topic, partitions=3):
    r = subprocess.run([str(streamdelta), "create-topic", "--bootstrap-servers", bootstrap,
                        "--topic", topic, "--partitions", str(partitions)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr


def test_run_upserts_100k_events_from_real_kafka(real_kafka, broker, streamdelta, tmp_path):
    topic = f"ratings-{uuid.uuid4().hex[:8]}"
    create_topic(streamdelta, broker.env, real_kafka, topic)
    ev = Events(seed=42)
    records = ev.make(100_000)
    send(real_kafka, broker.registry, topic, records)
    table, dlq, progress = tmp_path / "movie_ratings", tmp_path / "dlq.jsonl", tmp_path / "p.jsonl"
    r = run_stream(streamdelta, broker.env, real_kafka, broker.registry, topic, table, dlq,
                   "--progress-json", str(progress))
    assert r.returncode == 0, r.stderr[-3000:]
    expected = ev.expected()
    check_table(table_rows_show(streamdelta, table), expected, "show")
    check_table(table_rows_replay(table), expected, "DuckDB replay")
    check_table(table_rows_deltars(table), expected, "delta-rs")
    # Every undecodable record is a dead letter with its reason and origin.
    dl = dead_letters(dlq)
    assert len(dl) == len(ev.bad)
    assert {d["reason"] for d in dl} <= {"bad magic byte", "truncated body", "unknown schema id"}
    assert all(d["topic"] == topic and d["offset"] >= 0 and d["detail"] for d in dl)
    # Progress: one JSON line per batch, input rows adding up to all messages.
    prog = [json.loads(line) for line in progress.read_text().splitlines()]
    assert sum(p["numInputRows"] for p in prog) == len(records)
    assert sum(p["streamdelta"]["deadLettered"] for p in prog) == len(ev.bad)
    assert prog[-1]["batchId"] == len(prog) - 1 and "durationMs" in prog[-1]
    # The merge step's parts (plan, write files, commit) fit inside it.
    for p in prog:
        d = p["durationMs"]
        assert min(d["merge"], d["write"], d["commit"]) >= 0, d
        assert d["merge"] + d["write"] + d["commit"] <= d["addBatch"] + 3, d
        assert d["addBatch"] <= d["triggerExecution"] + 1, d
    assert sum(p["durationMs"]["write"] for p in prog) > 0  # files were written
    cutoff = datetime.now(timezone.utc).date() - timedelta(days=LATE_DAYS)
    late = sum(datetime.fromtimestamp(e["rating_timestamp"], timezone.utc).date() < cutoff
               for e in ev.sent)
    assert sum(p["streamdelta"]["late"] for p in prog) == late
    # A second run has nothing to do and changes nothing.
    r = run_stream(streamdelta, broker.env, real_kafka, broker.registry, topic, table, dlq)
    assert r.returncode == 0, r.stderr[-3000:]
    check_table(table_rows_show(streamdelta, table), expected, "show after rerun")
    assert len(dead_letters(dlq)) == len(ev.bad)


def test_run_restart_continues_after_last_commit(broker, streamdelta, tmp_path):
    topic = "movie.ratings.v1"
    ev = Events(seed=7)
    table, dlq = tmp_path / "t", tmp_path / "dlq.jsonl"
    for round_ in range(3):
        send(broker.bootstrap, broker.registry, topic, ev.make(4000))
        r = run_stream(streamdelta, broker.env, broker.bootstrap, broker.registry, topic, table,
                       dlq, "--set", "trigger.max_batch_records=700")
        assert r.returncode == 0, r.stderr[-3000:]
        check_table(table_rows_show(streamdelta, table), ev.expected(), f"round {round_}")
    assert len(dead_letters(dlq)) == len(ev.bad)


def test_run_survives_sigkill(broker, streamdelta, tmp_path):
    """Killed at random moments while events keep coming: the final table is
    exact (a batch is either committed with its offsets or not at all)."""
    topic = "movie.ratings.v1"
    ev = Events(seed=11)
    table, dlq = tmp_path / "t", tmp_path / "dlq.jsonl"
    rng = random.Random(3)
    base = [str(streamdelta), "run", "--bootstrap-servers", broker.bootstrap, "--schema-registry",
            broker.registry, "--topic", topic, "--table", str(table), "--dead-letters", str(dlq),
            "--set", "trigger.max_batch_records=300"]
    for _ in range(5):
        send(broker.bootstrap, broker.registry, topic, ev.make(3000))
        p = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=broker.env)
        time.sleep(rng.uniform(0.05, 0.8))
        p.send_signal(signal.SIGKILL)
        p.wait()
    r = run_stream(streamdelta, broker.env, broker.bootstrap, broker.registry, topic, table, dlq,
                   "--set", "trigger.max_batch_records=300")
    assert r.returncode == 0, r.stderr[-3000:]
    check_table(table_rows_show(streamdelta, table), ev.expected(), "after SIGKILLs")
    # Dead letters are written before the commit: at least once, never lost.
    assert len({(d["partition"], d["offset"]) for d in dead_letters(dlq)}) == len(ev.bad)


def test_run_sigterm_exits_zero(broker, streamdelta, tmp_path):
    p = subprocess.Popen([str(streamdelta), "run", "--table", str(tmp_path / "t"),
                          "--dead-letters", str(tmp_path / "d.jsonl")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=broker.env)
    time.sleep(2)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "SIGTERM" in err


def test_run_usage_and_print_config(streamdelta, tmp_path):
    env = dict(os.environ, STREAMDELTA_LOCAL=str(tmp_path / "none.json"))
    r = subprocess.run([str(streamdelta), "run", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--available-now" in r.stdout and "late_days" in r.stdout
    r = subprocess.run([str(streamdelta), "run", "--trigger", "soon"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 2 and "--trigger" in r.stderr
    r = subprocess.run([str(streamdelta), "run", "--print-config", "--trigger", "10s", "--table",
                        "/x/y", "--set", "sink.late_days=3"], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert "interval = 10s" in r.stdout and "table = /x/y" in r.stdout
    assert "late_days = 3" in r.stdout and "mode = interval" in r.stdout


def test_demo_smoke(streamdelta, tmp_path):
    env = dict(os.environ, STREAMDELTA_LOCAL=str(tmp_path / "none.json"))
    r = subprocess.run([str(streamdelta), "demo", "--seconds", "5", "--rate", "5000", "--table",
                        str(tmp_path / "demo")], capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "event_id" in r.stdout and "rating_date" in r.stdout
    assert "summary" in r.stdout and "dead letters" in r.stdout
    assert (tmp_path / "demo" / "_delta_log" / "00000000000000000000.json").exists()


def test_run_group_mode_real_kafka(real_kafka, broker, streamdelta, tmp_path):
    """--group-mode: partitions come from the group; start offsets still come
    from the table, so a second run adds exactly the new events."""
    topic = f"ratings-g-{uuid.uuid4().hex[:8]}"
    create_topic(streamdelta, broker.env, real_kafka, topic)
    ev = Events(seed=5)
    table, dlq = tmp_path / "t", tmp_path / "dlq.jsonl"
    for round_ in range(2):
        send(real_kafka, broker.registry, topic, ev.make(3000))
        r = run_stream(streamdelta, broker.env, real_kafka, broker.registry, topic, table, dlq,
                       "--group-mode", "--set", f"source.kafka.group.id=g-{topic}")
        assert r.returncode == 0, r.stderr[-3000:]
        check_table(table_rows_show(streamdelta, table), ev.expected(), f"group round {round_}")


def test_run_retries_while_registry_is_down(broker, streamdelta, tmp_path):
    """A registry that cannot be reached is transient: the stream says so and
    retries; SIGTERM still ends it cleanly with nothing written."""
    p = subprocess.Popen([str(streamdelta), "run", "--schema-registry", "http://127.0.0.1:1",
                          "--table", str(tmp_path / "t"), "--dead-letters",
                          str(tmp_path / "d.jsonl")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=broker.env)
    time.sleep(4)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "retrying" in err and "127.0.0.1:1" in err
    assert not (tmp_path / "t" / "_delta_log").exists()


def test_run_gives_up_after_the_configured_time(broker, streamdelta, tmp_path):
    """trigger.give_up_after bounds the retries: with the registry down the
    stream retries for that long, then stops with exit 1 and says why;
    nothing is written."""
    t0 = time.monotonic()
    r = subprocess.run([str(streamdelta), "run", "--schema-registry", "http://127.0.0.1:1",
                        "--table", str(tmp_path / "t"), "--dead-letters",
                        str(tmp_path / "d.jsonl"), "--set", "trigger.give_up_after=2s"],
                       capture_output=True, text=True, env=broker.env, timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stderr
    assert "retrying" in r.stderr, r.stderr
    assert "giving up after" in r.stderr and "trigger.give_up_after" in r.stderr, r.stderr
    assert any("giving up" in l and "127.0.0.1:1" in l for l in r.stderr.splitlines()), r.stderr
    assert took >= 2, took  # it did retry for the configured time first
    assert not (tmp_path / "t" / "_delta_log").exists()


def test_run_reports_out_of_range_offsets(broker, streamdelta, tmp_path):
    """A table whose offsets point past the topic (the topic was recreated)
    stops the stream with exit 1 and a message naming the partition, instead
    of skipping or re-reading silently."""
    topic = "other"
    ev = Events(seed=9)
    table, dlq = tmp_path / "t", tmp_path / "dlq.jsonl"
    send(broker.bootstrap, broker.registry, topic, ev.make(500, bad=0))
    r = run_stream(streamdelta, broker.env, broker.bootstrap, broker.registry, topic, table, dlq)
    assert r.returncode == 0, r.stderr[-3000:]
    # The same table against a fresh broker whose topic is empty.
    (tmp_path / "b2").mkdir()
    b2 = type(broker)(streamdelta, tmp_path / "b2", "--topic", "other:1")
    try:
        r = run_stream(streamdelta, b2.env, b2.bootstrap, b2.registry, topic, table, dlq,
                       timeout=120)
    finally:
        b2.stop()
    assert r.returncode == 1, r.stderr[-2000:]
    assert "partition" in r.stderr and "'other'" in r.stderr, r.stderr[-2000:]
