"""test_confluent_producer.py - events written by the replaced job's own
producer stack (confluent-kafka's SerializingProducer + AvroSerializer,
registering with our Schema Registry) into our embedded broker and into a
real Apache Kafka decode, through `streamdelta consume` (the stream's source
and decoder), to exactly the values sent: the movie-ratings schema and a
schema with every type the decoder maps."""

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import SerializingProducer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_avro_files import EVERY_TYPE, expected_row, records, rows_of  # noqa: E402

MOVIE_SCHEMA = {
    "type": "record", "name": "MovieRating", "namespace": "io.movies",
    "fields": [{"name": "event_id", "type": "string"}, {"name": "user_id", "type": "string"},
               {"name": "movie_id", "type": "string"}, {"name": "rating", "type": "float"},
               {"name": "rating_timestamp", "type": "long"}]}


def send(bootstrap, registry, topic, schema, values):
    client = SchemaRegistryClient({"url": registry})
    producer = SerializingProducer({
        "bootstrap.servers": bootstrap,
        "value.serializer": AvroSerializer(client, json.dumps(schema),
                                           conf={"auto.register.schemas": True}),
    })
    failures = []
    for v in values:
        producer.produce(topic, value=v,
                         on_delivery=lambda err, msg: failures.append(err) if err else None)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert failures == []


def consume(streamdelta, env, *args):
    r = subprocess.run([str(streamdelta), "consume", "--format", "jsonl", *args],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    return r


def movie_events(n):
    return [{"event_id": f"e{k:05d}", "user_id": f"u{k % 97}", "movie_id": f"m{k % 13}",
             "rating": round((k % 101) / 10, 1), "rating_timestamp": 1795000000 + k}
            for k in range(n)]


def check_movies(out, sent):
    got = sorted((json.loads(line, parse_float=Decimal) for line in out.splitlines()),
                 key=lambda r: r["event_id"])
    assert len(got) == len(sent)
    for g, s in zip(got, sent):
        # float32 on the wire: compare at float32 precision, as Spark would see it.
        assert g["event_id"] == s["event_id"] and g["user_id"] == s["user_id"]
        assert g["movie_id"] == s["movie_id"] and g["rating_timestamp"] == s["rating_timestamp"]
        assert abs(float(g["rating"]) - s["rating"]) < 1e-6


@pytest.fixture(params=["embedded", "real"])
def cluster(request, broker):
    """(bootstrap, env): our embedded broker, or a real Kafka with our registry."""
    if request.param == "embedded":
        return broker.bootstrap, broker.env
    return request.getfixturevalue("real_kafka"), broker.env


def test_movie_ratings_from_serializing_producer(cluster, broker, streamdelta):
    bootstrap, env = cluster
    sent = movie_events(3000)
    send(bootstrap, broker.registry, "movies.sp", MOVIE_SCHEMA, sent)
    r = consume(streamdelta, env, "--topic", "movies.sp", "--bootstrap-servers", bootstrap)
    check_movies(r.stdout, sent)
    assert "3000 record(s) decoded, 0 rejected" in r.stderr


def test_every_type_from_serializing_producer(cluster, broker, streamdelta):
    bootstrap, env = cluster
    recs = records(200)
    # The serializer wants bytes for fixed/bytes and Decimal for decimals: records() has them.
    send(bootstrap, broker.registry, "every.sp", EVERY_TYPE, recs)
    r = consume(streamdelta, env, "--topic", "every.sp", "--bootstrap-servers", bootstrap)
    got = rows_of(r.stdout)
    # One partition on both clusters (auto-created with 1 on the real one; the
    # embedded one may spread): compare as sets of canonical JSON.
    canon = lambda row: json.dumps(row, sort_keys=True,
                                   default=lambda d: str(d.normalize()))  # 1.50 == 1.5
    assert sorted(map(canon, got)) == sorted(canon(expected_row(x)) for x in recs)


def test_undecodable_messages_are_reported_not_fatal(broker, streamdelta):
    send(broker.bootstrap, broker.registry, "mixed", MOVIE_SCHEMA, movie_events(10))
    subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "mixed", "-p", "0"],
                   input=b"not avro\n", timeout=30, check=True)
    r = consume(streamdelta, broker.env, "--topic", "mixed")
    assert len(r.stdout.splitlines()) == 10
    assert "bad magic byte" in r.stderr and "10 record(s) decoded, 1 rejected" in r.stderr
