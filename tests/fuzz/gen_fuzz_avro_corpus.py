#!/usr/bin/env python3
"""Write the seed corpus of fuzz_avro (tests/fuzz/corpus/fuzz_avro/).

Hand-encodes valid inputs for the schema pairs of tests/fuzz/fuzz_avro.c
(see its header for the layout): byte 0 = pair | 0x40 (UTF-8 check) |
0x80 (OCF mode), then length-prefixed Confluent-framed messages, or an
Object Container File. Standard library only; deterministic output.

    python3 tests/fuzz/gen_fuzz_avro_corpus.py
"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_avro")


def long(v):
    z = (v << 1) ^ (v >> 63)
    z &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        out.append(b | (0x80 if z else 0))
        if not z:
            return bytes(out)


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return long(len(b)) + b


def frame(body, schema_id=1):
    return b"\x00" + struct.pack(">i", schema_id) + body


def messages(*msgs):
    out = bytearray()
    for m in msgs:
        assert len(m) < 256
        out.append(len(m))
        out += m
    return bytes(out)


def movie(i):
    return (string("e-%04d" % i) + string("6f1c1a8e-0000-4000-8000-%012d" % i)
            + string("0b7a3f2c-0000-4000-8000-%012d" % (i * 7)) + struct.pack("<f", (i % 101) / 10)
            + long(1700000000 + i))


def all_types(i):
    return (long(1) + long(-i) + b"\x01" + struct.pack("<d", i / 4) + string(b"\x00\xff")
            + long(i % 2) + b"abc"
            + long(2) + long(1) + string("x") + long(0) + long(0)
            + long(-2) + long(4) + string("k") + string("j") + long(0)  # map of empty records
            + long(1) + long(i)
            + string(b"\xfb\x32") + b"\x00" * 8 + b"\x07" + long(1700000000123))


def evolve(i):
    u = long(0) + long(i) if i % 2 else long(1) + string("u%d" % i)  # long, or a branch the reader lacks
    return (long(i) + u
            + long(1) + string("k") + long(1) + long(1) + string(b"\x01") + long(0) + long(0)
            + long(i % 3) + string("text"))


def nested(i):
    return (long(i) + long(1) + long(5) + long(1) + long(1) + string("k") + string("v") + long(0)
            + long(0))


MOVIE_SCHEMA = (
    '{"type":"record","name":"MovieRating","namespace":"io.movies","fields":['
    '{"name":"event_id","type":"string"},{"name":"user_id","type":"string"},'
    '{"name":"movie_id","type":"string"},{"name":"rating","type":"float"},'
    '{"name":"rating_timestamp","type":"long"}]}')


def ocf(codec, records):
    sync = bytes(range(16))
    meta = long(2) + string("avro.schema") + string(MOVIE_SCHEMA) + string("avro.codec") + string(codec) + long(0)
    raw = b"".join(records)
    if codec == "deflate":
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = c.compress(raw) + c.flush()
    else:
        data = raw
    return b"Obj\x01" + meta + sync + long(len(records)) + long(len(data)) + data + sync


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "movie": bytes([0x00]) + messages(*(frame(movie(i)) for i in range(3))),
        "movie-utf8": bytes([0x40]) + messages(frame(movie(7))),
        "all-types": bytes([0x41]) + messages(frame(all_types(1)), frame(all_types(2))),
        "all-types-flat": bytes([0x06]) + messages(frame(all_types(3))),
        "evolve": bytes([0x02]) + messages(frame(evolve(1)), frame(evolve(2))),
        "evolve-flat": bytes([0x07]) + messages(frame(evolve(5))),
        "nested-flat": bytes([0x03]) + messages(frame(nested(1)), frame(long(2) + long(0))),
        "nested": bytes([0x04]) + messages(frame(nested(3))),
        "top-union": bytes([0x05]) + messages(frame(long(1) + movie(4)), frame(long(0))),
        "ocf-null": bytes([0x80]) + ocf("null", [movie(i) for i in range(4)]),
        "ocf-deflate": bytes([0x80]) + ocf("deflate", [movie(i) for i in range(4)]),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
