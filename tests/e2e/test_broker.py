"""test_broker.py - `streamdelta broker` (embedded Kafka + Schema Registry)
and `streamdelta create-topic`, checked with independent clients: kcat for
Kafka, plain HTTP for the registry, and a real Apache Kafka broker for the
Admin API path of create-topic."""

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest
from kafka_services import Broker


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


RATING_SCHEMA = {
    "type": "record", "name": "MovieRating", "namespace": "io.movies",
    "fields": [{"name": "event_id", "type": "string"}, {"name": "user_id", "type": "string"},
               {"name": "movie_id", "type": "string"}, {"name": "rating", "type": "float"},
               {"name": "rating_timestamp", "type": "long"}]}


def test_registry_register_and_fetch(broker):
    reg = broker.registry
    status, body = http("POST", f"{reg}/subjects/movie.ratings.v1-value/versions",
                        {"schema": json.dumps(RATING_SCHEMA)})
    assert status == 200 and body["id"] >= 1
    sid = body["id"]
    # The same schema with other whitespace, under the same and another subject: same id.
    again = json.dumps(RATING_SCHEMA, indent=2)
    assert http("POST", f"{reg}/subjects/movie.ratings.v1-value/versions", {"schema": again}) \
        == (200, {"id": sid})
    assert http("POST", f"{reg}/subjects/copy-value/versions", {"schema": again}) == (200, {"id": sid})
    status, body = http("GET", f"{reg}/schemas/ids/{sid}")
    assert status == 200 and json.loads(body["schema"]) == RATING_SCHEMA
    assert http("GET", f"{reg}/subjects") == (200, ["movie.ratings.v1-value", "copy-value"])
    assert http("GET", f"{reg}/subjects/movie.ratings.v1-value/versions") == (200, [1])
    status, body = http("GET", f"{reg}/subjects/movie.ratings.v1-value/versions/latest")
    assert status == 200 and body["id"] == sid and body["version"] == 1
    assert body["subject"] == "movie.ratings.v1-value"
    status, body = http("POST", f"{reg}/subjects/copy-value", {"schema": json.dumps(RATING_SCHEMA)})
    assert status == 200 and body["id"] == sid
    # A second, different schema gets a new id and version 2.
    v2 = dict(RATING_SCHEMA, fields=RATING_SCHEMA["fields"] + [
        {"name": "source", "type": ["null", "string"], "default": None}])
    status, body = http("POST", f"{reg}/subjects/movie.ratings.v1-value/versions",
                        {"schema": json.dumps(v2)})
    assert status == 200 and body["id"] == sid + 1
    assert http("GET", f"{reg}/subjects/movie.ratings.v1-value/versions") == (200, [1, 2])
    status, body = http("GET", f"{reg}/schemas/ids/{sid}/versions")
    assert status == 200 and {"subject": "copy-value", "version": 1} in body


def test_registry_errors_use_confluent_bodies(broker):
    reg = broker.registry
    assert http("GET", f"{reg}/schemas/ids/999") == \
        (404, {"error_code": 40403, "message": "Schema not found"})
    assert http("GET", f"{reg}/subjects/nope/versions")[1]["error_code"] == 40401
    http("POST", f"{reg}/subjects/s/versions", {"schema": '"string"'})
    assert http("GET", f"{reg}/subjects/s/versions/7")[1]["error_code"] == 40402
    status, body = http("POST", f"{reg}/subjects/s/versions", {"schema": "{not json"})
    assert status == 422 and body["error_code"] == 42201
    status, body = http("POST", f"{reg}/subjects/s/versions", {"schema": "{}", "schemaType": "PROTOBUF"})
    assert status == 422 and body["error_code"] == 42201
    assert http("POST", f"{reg}/subjects/s", {"schema": '"long"'})[1]["error_code"] == 40403
    assert http("GET", f"{reg}/no/such/path")[0] == 404


def test_kcat_metadata_produce_consume(broker):
    meta = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-J"], capture_output=True,
                          text=True, timeout=30, check=True)
    topics = {t["topic"]: len(t["partitions"]) for t in json.loads(meta.stdout)["topics"]}
    assert topics["movie.ratings.v1"] == 3 and topics["other"] == 3
    lines = "".join(f"message {i}\n" for i in range(100))
    subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "other", "-p", "1"], input=lines,
                   text=True, timeout=30, check=True)
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", "other", "-p", "1",
                          "-o", "beginning", "-e", "-q"], capture_output=True, text=True,
                         timeout=30, check=True)
    assert out.stdout == lines


def test_create_topic_on_local_broker(broker, streamdelta):
    run = lambda *a: subprocess.run([str(streamdelta), "create-topic", *a], capture_output=True,
                                    text=True, timeout=60, env=broker.env)
    r = run("--topic", "fresh", "--partitions", "5")
    assert r.returncode == 0, r.stderr
    meta = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-J", "-t", "fresh"],
                          capture_output=True, text=True, timeout=30, check=True)
    assert len(json.loads(meta.stdout)["topics"][0]["partitions"]) == 5
    r = run("--topic", "fresh")
    assert r.returncode == 1 and "topic 'fresh' already exists" in r.stderr
    assert run("--topic", "fresh", "--if-not-exists").returncode == 0
    r = run("--topic", "bad name!")
    assert r.returncode == 1 and "invalid topic name" in r.stderr
    r = run("--partitions", "3")
    assert r.returncode == 2 and "--topic is required" in r.stderr
    r = run("--topic", "x", "--partitions", "0")
    assert r.returncode == 2


def test_broker_stops_cleanly_and_removes_services_file(streamdelta, tmp_path):
    b = Broker(streamdelta, tmp_path)
    assert json.loads(b.services.read_text())["bootstrap_servers"] == b.bootstrap
    assert b.stop() == 0
    assert not b.services.exists()
    r = subprocess.run([str(streamdelta), "create-topic", "--topic", "t"], capture_output=True,
                       text=True, timeout=30, env=b.env)
    assert r.returncode == 1 and "no local broker is running" in r.stderr


def test_broker_usage_errors(streamdelta, tmp_path):
    for args in (["--brokers", "0"], ["--topic", "t:zero"], ["--bogus", "1"], ["--registry-port"]):
        r = subprocess.run([str(streamdelta), "broker", *args], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, STREAMDELTA_LOCAL=str(tmp_path / "l")))
        assert r.returncode == 2, (args, r.stderr)


def test_create_topic_on_real_kafka(real_kafka, streamdelta, tmp_path):
    env = dict(os.environ, STREAMDELTA_LOCAL=str(tmp_path / "none.json"))
    run = lambda *a: subprocess.run([str(streamdelta), "create-topic", "--bootstrap-servers",
                                     real_kafka, *a], capture_output=True, text=True, timeout=120,
                                    env=env)
    r = run("--topic", "six", "--partitions", "6")
    assert r.returncode == 0, r.stderr
    meta = subprocess.run(["kcat", "-b", real_kafka, "-L", "-J", "-t", "six"], capture_output=True,
                          text=True, timeout=30, check=True)
    assert len(json.loads(meta.stdout)["topics"][0]["partitions"]) == 6
    r = run("--topic", "six")
    assert r.returncode == 1 and "already exists" in r.stderr
