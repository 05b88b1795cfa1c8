"""test_stream_crash.py - `streamdelta run` under crashes and beside a second
writer (issue 5, "What must show" 2 and 3).

Crash tests: a 200k-event run is killed with SIGKILL at random moments, at
least five times, each time while the stream is mid-work (it has committed
in this run, it is still running, and the table does not yet hold every
offset), and restarted; `run --available-now` finishes it. The table must
equal the upsert result computed here from what was sent: no lost event, no
duplicate event_id; every bad record is a dead letter at least once. One
variant produces everything first (embedded broker); in the other the
producer keeps writing in a background thread while the kills happen (real
Kafka).

Group tests: two `run --group-mode` instances share one consumer group, one
table and a 6-partition topic on the real broker; events keyed by event_id,
and unkeyed (the same event_id spread over several partitions, so both
instances insert and update the same keys). Both must commit, survive each
other's commits, stop cleanly on SIGTERM once the table records every
offset, and leave exactly the expected table; then, after more events, both
run at once with --available-now and must each exit 0 with the table
exact."""

import json
import random
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import (Consumer, KafkaException, Producer, SerializingProducer,
                             TopicPartition)
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import StringSerializer
import pytest

from test_run import (LATE_DAYS, MOVIE_SCHEMA, Events, check_table, create_topic,
                      dead_letters, run_stream, table_rows_show)

TOTAL = 200_000
KILLS = 8


class Sender:
    """The independent producer (confluent-kafka), kept open across chunks.
    keyed: the event_id is the message key (the default partitioner keeps a
    key on one partition); partitions=N without a key: messages go round
    robin, so a duplicate or update usually lands on another partition than
    the event it repeats."""

    def __init__(self, bootstrap, registry, topic, keyed=False, partitions=None):
        client = SchemaRegistryClient({"url": registry})
        conf = {"bootstrap.servers": bootstrap, "linger.ms": 5,
                "value.serializer": AvroSerializer(client, json.dumps(MOVIE_SCHEMA),
                                                   conf={"auto.register.schemas": True})}
        if keyed:
            conf["key.serializer"] = StringSerializer("utf_8")
        self.sp = SerializingProducer(conf)
        self.raw = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.topic, self.keyed, self.partitions = topic, keyed, partitions
        self.failures, self.n = [], 0
        self.placed = {}  # event_id -> partitions it was sent to (round robin only)

    def _cb(self, err, msg):
        if err:
            self.failures.append(err)

    def send(self, records):
        for kind, v in records:
            kw = {}
            if self.partitions:
                kw["partition"] = self.n % self.partitions
            self.n += 1
            if kind == "ok":
                if self.keyed:
                    kw["key"] = v["event_id"]
                if self.partitions:
                    self.placed.setdefault(v["event_id"], set()).add(kw["partition"])
                self.sp.produce(self.topic, value=v, on_delivery=self._cb, **kw)
                self.sp.poll(0)
            else:
                self.raw.produce(self.topic, value=v, on_delivery=self._cb, **kw)
                self.raw.poll(0)

    def flush(self):
        assert self.sp.flush(120) == 0 and self.raw.flush(120) == 0
        assert self.failures == []


def produce(bootstrap, registry, topic, ev, n, chunk=20_000, **kw):
    s = Sender(bootstrap, registry, topic, **kw)
    for _ in range(n // chunk):
        s.send(ev.make(chunk))
    s.flush()
    return s


def end_offsets(bootstrap, topic, partitions):
    """partition -> high watermark. A topic created a moment ago may not
    have its leaders yet: asked again until it answers."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"wm-{uuid.uuid4().hex[:6]}"})
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                        for p in range(partitions)}
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        c.close()


def commits(table):
    """The JSON commit files, oldest first (a SIGKILL may leave a hidden
    temporary file beside them, which is not a commit)."""
    log = Path(table) / "_delta_log"
    found = log.glob("*.json") if log.exists() else []
    return sorted(f for f in found if len(f.name) == 25 and f.name[:20].isdigit())


def table_offsets(table, topic):
    """partition -> next offset the table records (the last txn per appId
    over the JSON commits; the log is never cleaned up in these tests)."""
    out = {}
    prefix = f"streamdelta-{topic}-"
    for f in commits(table):
        for line in f.read_text().splitlines():
            a = json.loads(line)
            if "txn" in a and a["txn"]["appId"].startswith(prefix):
                out[int(a["txn"]["appId"][len(prefix):])] = a["txn"]["version"]
    return out


def table_version(table):
    return max((int(f.name[:20]) for f in commits(table)), default=-1)


def progress(path):
    if not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # a line cut short by SIGKILL
    return out


def kill_cycles(streamdelta, env, bootstrap, registry, topic, table, dlq, tmp_path, rng,
                total_messages, kills, partitions, producing=None, killed=None, extra=()):
    """Start the stream, wait until it has committed in this run, let it work
    a random while longer, SIGKILL it; `kills` times. Each kill must hit a
    running stream that moved the table and had work left."""
    base = [str(streamdelta), "run", "--bootstrap-servers", bootstrap, "--schema-registry",
            registry, "--topic", topic, "--table", str(table), "--dead-letters", str(dlq),
            "--set", f"sink.late_days={LATE_DAYS}", "--set", "trigger.max_batch_records=500",
            *extra]
    last_version = table_version(table)
    while_producing = 0
    for k in range(kills):
        prog = tmp_path / f"progress-{k}.jsonl"
        with open(tmp_path / f"run-{k}.log", "w") as log:
            p = subprocess.Popen(base + ["--progress-json", str(prog)],
                                 stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            deadline = time.monotonic() + 120
            while not any(x["streamdelta"]["tableVersion"] >= 0 for x in progress(prog)):
                assert p.poll() is None, (tmp_path / f"run-{k}.log").read_text()[-3000:]
                assert time.monotonic() < deadline, f"run {k} made no commit in 120 s"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.6))
            assert p.poll() is None, f"run {k} ended before its kill"
        finally:
            p.kill()  # SIGKILL, also when an assertion failed: nothing left running
            p.wait()
        version = table_version(table)
        print(f"kill {k}: table version {version}, {sum(table_offsets(table, topic).values())} "
              f"offsets committed")
        assert version > last_version, f"kill {k}: the table did not advance"
        last_version = version
        done = sum(table_offsets(table, topic).values())
        still_producing = producing is not None and producing.is_alive()
        while_producing += still_producing
        if killed is not None:
            killed.append(k)
        assert still_producing or done < total_messages, \
            f"kill {k} hit an idle stream: the table already holds all {total_messages} offsets"
        assert sum(end_offsets(bootstrap, topic, partitions).values()) >= done
    return while_producing


def finish_and_check(streamdelta, env, bootstrap, registry, topic, table, dlq, ev, partitions,
                     extra=()):
    r = run_stream(streamdelta, env, bootstrap, registry, topic, table, dlq,
                   "--set", "trigger.max_batch_records=20000", *extra)
    assert r.returncode == 0, r.stderr[-3000:]
    ends = end_offsets(bootstrap, topic, partitions)
    assert table_offsets(table, topic) == ends
    check_table(table_rows_show(streamdelta, table), ev.expected(), "after SIGKILLs")
    # Dead letters are flushed before the commit that covers them: at least
    # once each, never lost.
    assert len({(d["partition"], d["offset"]) for d in dead_letters(dlq)}) == len(ev.bad)


@pytest.mark.parametrize("merge", ["copy-on-write", "deletion-vectors"])
def test_crash_200k_produced_first(broker, streamdelta, tmp_path, merge):
    """All 200k events are in the (embedded) broker before the first run; the
    stream is killed eight times mid-work and restarted. Both merge kinds:
    rewriting files, and marking replaced rows in deletion vectors."""
    extra = ("--set", "sink.deletion_vectors=true") if merge == "deletion-vectors" else ()
    topic, parts = "crash", 8  # 8 partitions: the mock keeps ~5 MiB per partition
    create_topic(streamdelta, broker.env, broker.bootstrap, topic, parts)
    ev = Events(seed=101)
    t0 = time.monotonic()
    produce(broker.bootstrap, broker.registry, topic, ev, TOTAL)
    print(f"produced {TOTAL} events in {time.monotonic() - t0:.1f} s")
    assert sum(end_offsets(broker.bootstrap, topic, parts).values()) == TOTAL
    table, dlq = tmp_path / "t", tmp_path / "dlq.jsonl"
    rng = random.Random(1234)
    kill_cycles(streamdelta, broker.env, broker.bootstrap, broker.registry, topic, table, dlq,
                tmp_path, rng, TOTAL, KILLS, parts, extra=extra)
    finish_and_check(streamdelta, broker.env, broker.bootstrap, broker.registry, topic, table,
                     dlq, ev, parts, extra=extra)
    # The variant did what it says: deletion vectors in the table, or none.
    dvs = sum('"deletionVector":{' in line for f in commits(table)
              for line in f.read_text().splitlines() if line.startswith('{"add"'))
    assert (dvs > 0) == (merge == "deletion-vectors"), dvs


def test_crash_200k_while_producing(real_kafka, broker, streamdelta, tmp_path):
    """The producer writes 200k events in a background thread while the
    stream is killed eight times and restarted (real Kafka)."""
    topic, parts = f"crash-{uuid.uuid4().hex[:8]}", 4
    create_topic(streamdelta, broker.env, real_kafka, topic, parts)
    ev = Events(seed=202)
    errors = []

    killed = []  # kills done so far, appended by kill_cycles
    chunk = 10_000

    def producer():
        # Paced by the kills (two chunks per kill while they last),
        # so that the kills fall while the producer writes however fast or
        # slow the stream is; unpaced once the kills are over.
        try:
            t0 = time.monotonic()
            s = Sender(real_kafka, broker.registry, topic)
            for i in range(TOTAL // chunk):
                while len(killed) < min(i // 2, KILLS) and not errors:
                    time.sleep(0.05)
                s.send(ev.make(chunk))
                s.sp.poll(0)
            s.flush()
            print(f"produced {TOTAL} events in {time.monotonic() - t0:.1f} s")
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    th = threading.Thread(target=producer, daemon=True)
    th.start()
    table, dlq = tmp_path / "t", tmp_path / "dlq.jsonl"
    rng = random.Random(4321)
    try:
        # Wait for the first events so that the first run has work.
        deadline = time.monotonic() + 60
        while sum(end_offsets(real_kafka, topic, parts).values()) == 0:
            assert time.monotonic() < deadline and not errors, errors
            time.sleep(0.2)
        killed_while_producing = kill_cycles(streamdelta, broker.env, real_kafka,
                                             broker.registry, topic, table, dlq, tmp_path, rng,
                                             TOTAL, KILLS, parts, producing=th,
                                             killed=killed)
    except BaseException as e:
        errors.append(e)  # lets the producer stop waiting for kills
        raise
    finally:
        th.join(300)
    assert not errors, errors
    assert killed_while_producing == KILLS, f"{killed_while_producing} kills while producing"
    finish_and_check(streamdelta, broker.env, real_kafka, broker.registry, topic, table, dlq, ev,
                     parts)


def start_group_instance(streamdelta, env, bootstrap, registry, topic, table, group, tmp_path,
                         name):
    """One `run --group-mode` instance with its own progress, log and
    dead-letter files."""
    log = open(tmp_path / f"{name}.log", "w")
    p = subprocess.Popen(
        [str(streamdelta), "run", "--group-mode", "--bootstrap-servers", bootstrap,
         "--schema-registry", registry, "--topic", topic, "--table", str(table),
         "--dead-letters", str(tmp_path / f"{name}-dlq.jsonl"), "--progress-json",
         str(tmp_path / f"{name}-progress.jsonl"), "--set", f"sink.late_days={LATE_DAYS}",
         "--set", f"source.kafka.group.id={group}", "--set", "trigger.max_batch_records=1000"],
        stdout=subprocess.DEVNULL, stderr=log, env=env)
    log.close()
    return p


def group_mode_two_instances(real_kafka, broker, streamdelta, tmp_path, keyed):
    topic, parts = f"group-{uuid.uuid4().hex[:8]}", 6
    create_topic(streamdelta, broker.env, real_kafka, topic, parts)
    table = tmp_path / "t"
    group = f"g-{topic}"
    names = ("a", "b")
    procs = [start_group_instance(streamdelta, broker.env, real_kafka, broker.registry, topic,
                                  table, group, tmp_path, n) for n in names]

    def logs():
        return "\n".join(f"--- {n}:\n" + (tmp_path / f"{n}.log").read_text()[-3000:]
                         for n in names)

    def committed(n):
        return [x for x in progress(tmp_path / f"{n}-progress.jsonl")
                if x["streamdelta"]["tableVersion"] >= 0]

    def versions():
        return {n: {x["streamdelta"]["tableVersion"] for x in committed(n)} for n in names}

    def interleaved():
        # Each instance committed both before and after one of the other's
        # commits: they really wrote the table at the same time.
        v = versions()
        return (all(v.values()) and min(v["a"]) < max(v["b"])
                and min(v["b"]) < max(v["a"]))

    try:
        ev = Events(seed=303 if keyed else 404)
        sender = Sender(real_kafka, broker.registry, topic, keyed=keyed,
                        partitions=None if keyed else parts)
        # Events arrive over time while both instances run: at least 60k,
        # and more until the two instances' commits interleave (a slow
        # start, under ASan, can let one instance drain everything before
        # the other joins the group).
        deadline = time.monotonic() + 180
        while sender.n < 60_000 or not interleaved():
            assert all(p.poll() is None for p in procs), logs()
            assert time.monotonic() < deadline, \
                f"the instances' commits did not interleave: {versions()}\n" + logs()
            sender.send(ev.make(5000))
            sender.sp.flush(30)
            sender.raw.flush(30)
            time.sleep(0.3)
        sender.flush()
        ends = end_offsets(real_kafka, topic, parts)
        assert sum(ends.values()) == sender.n
        deadline = time.monotonic() + 120
        while table_offsets(table, topic) != ends:
            assert all(p.poll() is None for p in procs), logs()
            assert time.monotonic() < deadline, "the table never caught up:\n" + logs()
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
    assert codes == [0, 0], logs()
    check_table(table_rows_show(streamdelta, table), ev.expected(), "two instances")
    # Both instances wrote commits of their own to the one table (never
    # the same version), while the other one was writing too.
    v = versions()
    assert all(v.values()) and not v["a"] & v["b"], v
    assert interleaved(), v
    dl = dead_letters(tmp_path / "a-dlq.jsonl") + dead_letters(tmp_path / "b-dlq.jsonl")
    assert len({(d["partition"], d["offset"]) for d in dl}) == len(ev.bad)
    if not keyed:
        spread = sum(len(ps) > 1 for ps in sender.placed.values())
        assert spread > 5000, spread  # the same event_id really was in several partitions
    # More events, then both instances at once with --available-now: each
    # exits 0 once its partitions are caught up, and the table is exact.
    sender.send(ev.make(10_000))
    sender.flush()
    finishing = []
    for n in names:
        with open(tmp_path / f"{n}.log", "w") as log:
            finishing.append(subprocess.Popen(
                [str(streamdelta), "run", "--available-now", "--group-mode",
                 "--bootstrap-servers", real_kafka, "--schema-registry", broker.registry,
                 "--topic", topic, "--table", str(table), "--dead-letters",
                 str(tmp_path / f"{n}-dlq.jsonl"), "--set", f"sink.late_days={LATE_DAYS}",
                 "--set", f"source.kafka.group.id={group}"],
                stdout=subprocess.DEVNULL, stderr=log, env=broker.env))
    try:
        codes = [p.wait(120) for p in finishing]
    finally:
        for p in finishing:
            p.kill()  # only if still running after a failed wait
            p.wait()
    assert codes == [0, 0], logs()
    assert table_offsets(table, topic) == end_offsets(real_kafka, topic, parts)
    check_table(table_rows_show(streamdelta, table), ev.expected(), "after --available-now")


def test_group_mode_two_instances_keyed(real_kafka, broker, streamdelta, tmp_path):
    """Events keyed by event_id: each key stays on one partition, so one
    instance at a time owns it; the instances still share the table."""
    group_mode_two_instances(real_kafka, broker, streamdelta, tmp_path, keyed=True)


def test_group_mode_two_instances_unkeyed(real_kafka, broker, streamdelta, tmp_path):
    """Unkeyed events, round robin: duplicates and updates of an event land
    on other partitions, so both instances insert and update the same keys
    at once; the Delta conflict check must keep every event_id once."""
    group_mode_two_instances(real_kafka, broker, streamdelta, tmp_path, keyed=False)
