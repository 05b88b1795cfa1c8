"""test_produce.py - `streamdelta produce`: what arrives in Kafka, decoded by
an independent Avro decoder (fastavro) with the schema fetched from the
registry, must have exactly the shares of duplicates, updates and late
events asked for, be reproducible from --seed, and be keyed as asked."""

import io
import json
import os
import struct
import subprocess
import time
import urllib.request

import fastavro
from confluent_kafka import Consumer, TopicPartition

DAY = 86400


def consume_all(bootstrap, topic, expected, timeout=60):
    """Every message of `topic` from the beginning, as (key, value) pairs."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{time.time_ns()}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    meta = c.list_topics(topic, timeout=10)
    c.assign([TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions])
    out, deadline = [], time.time() + timeout
    while len(out) < expected and time.time() < deadline:
        for m in c.consume(1000, timeout=1.0):
            if m.error() is None:
                out.append((m.key(), m.value()))
    c.close()
    return out


class Decoder:
    """fastavro with writer schemas fetched from the registry by id."""

    def __init__(self, registry):
        self.registry, self.schemas = registry, {}

    def __call__(self, value):
        assert value[0] == 0, "Confluent magic byte"
        sid = struct.unpack(">I", value[1:5])[0]
        if sid not in self.schemas:
            with urllib.request.urlopen(f"{self.registry}/schemas/ids/{sid}", timeout=10) as r:
                self.schemas[sid] = fastavro.parse_schema(json.loads(json.loads(r.read())["schema"]))
        return fastavro.schemaless_reader(io.BytesIO(value[5:]), self.schemas[sid])


def classify(messages, decode, now):
    """Kinds as DESIGN.md defines them: a duplicate repeats an earlier
    message byte for byte, an update reuses an event_id with new content, a
    late event is more than 5 days old, the rest are new."""
    seen_bytes, seen_ids = set(), set()
    counts = {"new": 0, "duplicates": 0, "updates": 0, "late": 0}
    for _, value in messages:
        if value in seen_bytes:
            counts["duplicates"] += 1
            continue
        seen_bytes.add(value)
        rec = decode(value)
        if rec["event_id"] in seen_ids:
            counts["updates"] += 1
        elif rec["rating_timestamp"] < now - 5 * DAY:
            counts["late"] += 1
        else:
            counts["new"] += 1
        seen_ids.add(rec["event_id"])
    return counts


def produce(streamdelta, env, *args):
    r = subprocess.run([str(streamdelta), "produce", *args], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    return r


def test_exact_shares_on_real_kafka(real_kafka, broker, streamdelta):
    # The registry of the local services; the events go to the real broker.
    env = broker.env
    now = int(time.time())
    r = produce(streamdelta, env, "--bootstrap-servers", real_kafka, "--topic", "shares",
                "--count", "4000", "--duplicates", "10%", "--updates", "0.1", "--late", "5%",
                "--seed", "7", "--key", "event_id")
    assert "acked 4000, failed 0" in r.stdout
    msgs = consume_all(real_kafka, "shares", 4000)
    assert len(msgs) == 4000
    decode = Decoder(broker.registry)
    assert classify(msgs, decode, now) == {"new": 3000, "duplicates": 400, "updates": 400,
                                           "late": 200}
    for key, value in msgs[:100]:
        assert key.decode() == decode(value)["event_id"]
    rec = decode(msgs[0][1])
    assert set(rec) == {"event_id", "user_id", "movie_id", "rating", "rating_timestamp"}
    assert 0.0 <= rec["rating"] <= 10.0 and abs(rec["rating"] * 10 - round(rec["rating"] * 10)) < 1e-3


def test_seed_reproduces_the_stream(broker, streamdelta):
    ids = []
    for topic in ("seed-a", "seed-b"):
        produce(streamdelta, broker.env, "--topic", topic, "--count", "300", "--seed", "99",
                "--duplicates", "0.2", "--updates", "0.2")
        msgs = consume_all(broker.bootstrap, topic, 300)
        decode = Decoder(broker.registry)
        ids.append(sorted((decode(v)["event_id"], decode(v)["rating"]) for _, v in msgs))
    assert len(ids[0]) == 300 and ids[0] == ids[1]


def test_rate_and_unkeyed(broker, streamdelta):
    t0 = time.time()
    produce(streamdelta, broker.env, "--topic", "paced", "--count", "2000", "--rate", "1000")
    assert time.time() - t0 >= 1.8  # 2000 events at 1000/s cannot take less than ~2 s
    msgs = consume_all(broker.bootstrap, "paced", 2000)
    assert len(msgs) == 2000 and all(k is None for k, _ in msgs)


def test_usage_and_failures(broker, streamdelta, tmp_path):
    run = lambda env, *a: subprocess.run([str(streamdelta), "produce", *a], capture_output=True,
                                         text=True, timeout=120, env=env)
    for args in (["--duplicates", "1.5"], ["--late", "x"], ["--key", "user_id"],
                 ["--duplicates", "0.5", "--updates", "0.5"], ["--count", "0"], ["--bogus", "1"]):
        r = run(broker.env, *args)
        assert r.returncode == 2, (args, r.stderr)
    # No broker at all: a clear message, exit 1.
    r = run(dict(os.environ, STREAMDELTA_LOCAL=str(tmp_path / "none.json")), "--count", "1")
    assert r.returncode == 1 and "no local broker is running" in r.stderr
    # A registry that does not answer: exit 1 naming the problem.
    r = run(broker.env, "--count", "1", "--schema-registry", "http://127.0.0.1:9")
    assert r.returncode == 1 and "registering the schema" in r.stderr
