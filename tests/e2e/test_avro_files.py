"""test_avro_files.py - Avro container files written by an independent
encoder (fastavro) with every type DESIGN.md's decoder handles, in every
codec, read back through `streamdelta avro cat` (the stream's decoder), and
resolved to a different reader schema."""

import base64
import datetime as dt
import json
from decimal import Decimal

import fastavro
import pytest

EVERY_TYPE = {
    "type": "record", "name": "Every", "namespace": "t",
    "fields": [
        {"name": "b", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "by", "type": "bytes"},
        {"name": "s", "type": "string"},
        {"name": "e", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}},
        {"name": "fx", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "ns", "type": ["null", "string"]},
        {"name": "rec", "type": {"type": "record", "name": "Inner", "fields": [
            {"name": "x", "type": "int"}, {"name": "y", "type": ["null", "double"]}]}},
        {"name": "arr", "type": {"type": "array", "items": "long"}},
        {"name": "m", "type": {"type": "map", "values": "string"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "tms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tus", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
    ]}

UTC = dt.timezone.utc


def records(n):
    out = []
    for k in range(n):
        out.append({
            "b": k % 2 == 0, "i": -k * 7, "l": k * 10**12 - 5, "f": k / 4.0, "d": -k / 3.0,
            "by": bytes([k % 256, 255, 0]), "s": f"héllo {k}", "e": ["RED", "GREEN", "BLUE"][k % 3],
            "fx": bytes([1, 2, 3, k % 256]), "ns": None if k % 3 == 0 else f"n{k}",
            "rec": {"x": k, "y": None if k % 2 else k * 1.5}, "arr": list(range(k % 4)),
            "m": {f"k{j}": str(j * k) for j in range(k % 3)},
            "day": dt.date(1969, 12, 30) + dt.timedelta(days=k * 100),
            "tms": dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC) + dt.timedelta(hours=k),
            "tus": dt.datetime(1999, 12, 31, 23, 59, 59, 123456, tzinfo=UTC) + dt.timedelta(seconds=k),
            "dec": Decimal(k * 1234 - 50000) / 100, "u": f"12345678-1234-5678-9abc-{k:012x}",
        })
    return out


def expected_row(r):
    """Our jsonl conventions (cli.h): binary as base64, dates/timestamps as
    strings, decimals as exact numbers, maps as objects."""
    ts = lambda t: t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") \
        if t.microsecond else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "b": r["b"], "i": r["i"], "l": r["l"], "f": r["f"], "d": r["d"],
        "by": base64.b64encode(r["by"]).decode(), "s": r["s"], "e": r["e"],
        "fx": base64.b64encode(r["fx"]).decode(), "ns": r["ns"], "rec": r["rec"],
        "arr": r["arr"], "m": r["m"], "day": r["day"].isoformat(), "tms": ts(r["tms"]),
        "tus": ts(r["tus"]), "dec": r["dec"], "u": r["u"],
    }


def normalise_ts(v):
    # Our timestamps print 6 fraction digits when there is a fraction.
    if isinstance(v, str) and len(v) > 19 and v[4] == "-" and v[10] == " " and "." in v:
        return v.rstrip("0").rstrip(".")
    return v


def rows_of(out):
    rows = [json.loads(line, parse_float=Decimal) for line in out.splitlines() if line]
    for r in rows:
        for k in ("tms", "tus"):
            if k in r:
                r[k] = normalise_ts(r[k])
        for k in ("f", "d"):
            if k in r and r[k] is not None:
                r[k] = float(r[k])
        if isinstance(r.get("rec"), dict) and r["rec"].get("y") is not None:
            r["rec"]["y"] = float(r["rec"]["y"])
    return rows


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "zstandard"])
def test_every_type_every_codec(run_cli, tmp_path, codec):
    recs = records(300)
    path = tmp_path / f"every-{codec}.avro"
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(EVERY_TYPE), recs, codec=codec, sync_interval=2000)
    out = run_cli("avro", "cat", path, "--format", "jsonl", check_exit=0).stdout
    got = rows_of(out)
    assert len(got) == 300
    for k, (g, r) in enumerate(zip(got, recs)):
        assert g == expected_row(r), f"record {k}"


def test_schema_resolution_to_a_reader_schema(run_cli, tmp_path):
    writer = {"type": "record", "name": "R", "fields": [
        {"name": "a", "type": "int"}, {"name": "gone", "type": "string"},
        {"name": "s", "type": "string"}]}
    reader = {"type": "record", "name": "R", "fields": [
        {"name": "a", "type": "double"},                      # int -> double
        {"name": "s", "type": "bytes"},                       # string -> bytes
        {"name": "added", "type": "long", "default": 42}]}    # reader-only, default
    path = tmp_path / "w.avro"
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(writer),
                        [{"a": k, "gone": "x", "s": f"s{k}"} for k in range(5)])
    (tmp_path / "r.avsc").write_text(json.dumps(reader))
    out = run_cli("avro", "cat", path, "--reader-schema", tmp_path / "r.avsc", "--format", "jsonl",
                  check_exit=0).stdout
    assert [json.loads(x) for x in out.splitlines()] == [
        {"a": float(k), "s": base64.b64encode(f"s{k}".encode()).decode(), "added": 42}
        for k in range(5)]


def test_corrupt_and_bad_usage(run_cli, tmp_path):
    path = tmp_path / "c.avro"
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(EVERY_TYPE), records(50), codec="deflate")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.avro"
    bad.write_bytes(bytes(data))
    r = run_cli("avro", "cat", bad, "--format", "jsonl")
    assert r.returncode == 1 and "bad.avro" in r.stderr
    (tmp_path / "notavro.avro").write_bytes(b"PAR1 nope")
    r = run_cli("avro", "schema", tmp_path / "notavro.avro")
    assert r.returncode == 1 and "notavro.avro" in r.stderr
    assert run_cli("avro", "cat").returncode == 2
    assert run_cli("avro", "cat", path, "--limit", "x").returncode == 2
    out = run_cli("avro", "schema", path, check_exit=0).stdout
    assert "codec: deflate" in out and "dec: decimal(10,2)" in out
    out = run_cli("avro", "cat", path, "--limit", "3", check_exit=0).stdout
    assert out.rstrip().endswith("only showing top 3 rows")
