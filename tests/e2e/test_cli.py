"""test_cli.py - the `streamdelta` command line: help, usage errors, refusal of
malformed files, and the exact output of `parquet schema|meta|cat` on a small
file.

Exit codes (src/cli/cli.h): 0 ok, 1 the operation failed (message on
stderr), 2 bad usage. Malformed files are made in the test from a real file
of the fuzzer's seed corpus, so each names the damage it does.
"""

import datetime
import decimal
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "tests" / "fuzz" / "corpus" / "fuzz_parquet" / "duckdb-v1-gzip.parquet"
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer")


def _no_sanitizer_report(proc):
    assert not SANITIZER.search(proc.stderr), proc.stderr[-4000:]


# ---------------------------------------------------------------------------
# Help and usage
# ---------------------------------------------------------------------------

def _commands(run_cli):
    """The command names `streamdelta --help` lists."""
    out = run_cli("--help", check_exit=0).stdout
    section = out.split("commands:", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


def test_top_level_help(run_cli):
    proc = run_cli("--help", check_exit=0)
    assert "usage: streamdelta" in proc.stdout
    assert "parquet" in _commands(run_cli)


@pytest.mark.parametrize("args", [
    ["parquet", "--help"], ["parquet", "schema", "--help"], ["parquet", "cat", "--help"],
    ["parquet", "meta", "--help"], ["parquet", "cat", "-h"],
])
def test_parquet_help(run_cli, args):
    proc = run_cli(*args, check_exit=0)
    assert "usage: streamdelta parquet" in proc.stdout
    assert proc.stderr == ""


def test_every_command_has_help(run_cli):
    for cmd in _commands(run_cli):
        proc = run_cli(cmd, "--help")
        assert proc.returncode == 0, f"streamdelta {cmd} --help exited {proc.returncode}: {proc.stderr}"
        assert proc.stdout.strip(), f"streamdelta {cmd} --help printed nothing"


def test_cat_help_lists_its_options(run_cli):
    out = run_cli("parquet", "cat", "--help", check_exit=0).stdout
    for option in ("--columns", "--limit", "--format", "table", "csv", "jsonl"):
        assert option in out


@pytest.mark.parametrize("args, message", [
    ([], "usage: streamdelta"),
    (["no-such-command"], "unknown command 'no-such-command'"),
    (["parquet"], "usage: streamdelta parquet"),
    (["parquet", "dump", "x"], "unknown command 'dump'"),
    (["parquet", "cat"], "missing FILE"),
    (["parquet", "schema"], "missing FILE"),
    (["parquet", "meta"], "missing FILE"),
    (["parquet", "schema", "a.parquet", "b.parquet"], "unexpected argument 'b.parquet'"),
    (["parquet", "cat", "SEED", "--bogus"], "unknown option '--bogus'"),
    (["parquet", "meta", "SEED", "--limit", "3"], "unknown option '--limit'"),
    (["parquet", "cat", "SEED", "--limit"], "needs a value"),
    (["parquet", "cat", "SEED", "--limit", "ten"], "--limit 'ten'"),
    (["parquet", "cat", "SEED", "--limit", "-1"], "--limit '-1'"),
    (["parquet", "cat", "SEED", "--format", "xml"], "unknown format 'xml'"),
    (["parquet", "cat", "SEED", "--columns", "i,nope"], "unknown column 'nope'"),
    (["parquet", "cat", "SEED", "--columns", "i,,b"], "empty column name"),
    (["parquet", "cat", "SEED", "--columns", "i,i"], "listed twice"),
])
def test_usage_errors_exit_2(run_cli, args, message):
    args = [str(SEED) if a == "SEED" else a for a in args]
    proc = run_cli(*args)
    assert proc.returncode == 2, f"exit {proc.returncode}: {proc.stderr}"
    assert message in proc.stderr, proc.stderr
    assert proc.stdout == "" or message.startswith("usage"), proc.stdout


def test_unknown_column_message_lists_columns(run_cli):
    proc = run_cli("parquet", "cat", SEED, "--columns", "nope")
    assert proc.returncode == 2
    assert str(SEED) in proc.stderr and "columns: i, b" in proc.stderr, proc.stderr


def test_missing_file_exits_1_naming_it(run_cli, tmp_path):
    missing = tmp_path / "absent.parquet"
    for cmd in ("schema", "cat", "meta"):
        proc = run_cli("parquet", cmd, missing)
        assert proc.returncode == 1, f"{cmd}: exit {proc.returncode}: {proc.stderr}"
        assert proc.stderr.startswith(f"streamdelta: {missing}"), proc.stderr


# ---------------------------------------------------------------------------
# Malformed files
# ---------------------------------------------------------------------------

def _varint(buf, pos):
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _skip_value(buf, pos, ctype):
    """Skip one Thrift compact value of type `ctype`; returns the new pos."""
    if ctype in (1, 2):
        return pos
    if ctype == 3:
        return pos + 1
    if ctype in (4, 5, 6):
        return _varint(buf, pos)[1]
    if ctype == 7:
        return pos + 8
    if ctype == 8:
        n, pos = _varint(buf, pos)
        return pos + n
    if ctype in (9, 10):
        head = buf[pos]
        pos += 1
        size, etype = head >> 4, head & 0x0F
        if size == 15:
            size, pos = _varint(buf, pos)
        for _ in range(size):
            pos = pos + 1 if etype in (1, 2) else _skip_value(buf, pos, etype)
        return pos
    if ctype == 11:
        size, pos = _varint(buf, pos)
        if size:
            kv = buf[pos]
            pos += 1
            for _ in range(size):
                pos = _skip_value(buf, pos, kv >> 4)
                pos = _skip_value(buf, pos, kv & 0x0F)
        return pos
    if ctype == 12:
        return _skip_struct(buf, pos)[0]
    raise ValueError(f"unknown Thrift compact type {ctype}")


def _skip_struct(buf, pos):
    """Skip a compact struct; returns (end, {field id: (value pos, end pos)})."""
    fields, last = {}, 0
    while True:
        head = buf[pos]
        pos += 1
        if head == 0:
            return pos, fields
        delta, ctype = head >> 4, head & 0x0F
        if delta:
            fid = last + delta
        else:
            raw, pos = _varint(buf, pos)
            fid = (raw >> 1) ^ -(raw & 1)
        start = pos
        pos = _skip_value(buf, pos, ctype)
        fields[fid] = (start, pos)
        last = fid


def _first_page(data):
    """(header end, compressed-size varint span, payload length) of the page
    at offset 4: the first page of the first column chunk."""
    end, fields = _skip_struct(data, 4)
    start, stop = fields[3]  # PageHeader.compressed_page_size
    size, _ = _varint(data, start)
    return end, (start, stop), size


def _malformed(name):
    data = bytearray(SEED.read_bytes())
    footer_len = int.from_bytes(data[-8:-4], "little")
    if name == "truncated":
        return bytes(data[: len(data) // 2])
    if name == "bad-magic-head":
        data[0:4] = b"PARX"
    elif name == "bad-magic-tail":
        data[-4:] = b"XXXX"
    elif name == "empty":
        return b""
    elif name == "only-magic":
        return b"PAR1PAR1"
    elif name == "corrupt-footer":
        start = len(data) - 8 - footer_len
        data[start:start + footer_len] = b"\xff" * footer_len
    elif name == "footer-length-past-end":
        data[-8:-4] = (len(data) * 4).to_bytes(4, "little")
    elif name == "offsets-past-end":
        # Keep the footer, drop the column data: every chunk offset now
        # points past the end of the file.
        return bytes(data[:4] + data[-(footer_len + 8):])
    elif name == "bad-page-size":
        # The same number of varint bytes, each a maximal digit: a page far
        # larger than its column chunk.
        _, (start, stop), _ = _first_page(data)
        for i in range(start, stop):
            data[i] = 0xFF if i + 1 < stop else 0x7F
    elif name == "corrupt-compressed-page":
        end, _, size = _first_page(data)
        data[end:end + size] = b"\xff" * size
    return bytes(data)


FOOTER_DAMAGE = ["truncated", "bad-magic-head", "bad-magic-tail", "empty", "only-magic",
                 "corrupt-footer", "footer-length-past-end"]
PAGE_DAMAGE = ["offsets-past-end", "bad-page-size", "corrupt-compressed-page"]


@pytest.mark.parametrize("damage", FOOTER_DAMAGE + PAGE_DAMAGE)
def test_malformed_file_exits_1_naming_the_file(run_cli, tmp_path, damage):
    path = tmp_path / f"{damage}.parquet"
    path.write_bytes(_malformed(damage))
    commands = ["cat"] + (["schema", "meta"] if damage in FOOTER_DAMAGE else [])
    for cmd in commands:
        proc = run_cli("parquet", cmd, path, "--format", "jsonl") if cmd == "cat" else \
            run_cli("parquet", cmd, path)
        _no_sanitizer_report(proc)
        assert proc.returncode == 1, (f"parquet {cmd} on {damage}: exit {proc.returncode}\n"
                                      f"stdout: {proc.stdout[:500]}\nstderr: {proc.stderr}")
        assert str(path) in proc.stderr, f"parquet {cmd} on {damage}: {proc.stderr}"


def test_damage_helpers_touch_a_real_page():
    """The seed's first page header parses and its payload fits the file."""
    data = SEED.read_bytes()
    end, (start, stop), size = _first_page(data)
    assert 4 < start < stop <= end and end + size < len(data)


# ---------------------------------------------------------------------------
# Output of schema, meta and cat on a small file
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "small.parquet"
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": pa.array(["a", 'b,"c"', None]),
        "price": pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("-2.25")],
                          pa.decimal128(9, 2)),
        "day": pa.array([datetime.date(2024, 1, 2), None, datetime.date(1999, 12, 31)]),
        "ts": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5, 600000), None,
                        datetime.datetime(1970, 1, 1)], pa.timestamp("us", tz="UTC")),
        "tags": pa.array([["x", "y"], [], None], pa.list_(pa.string())),
        "note": pa.array(["a long note of more than twenty characters", "line\nbreak", ""]),
    })
    pq.write_table(table, path, compression="zstd")
    return path


def test_schema_output(run_cli, small):
    out = run_cli("parquet", "schema", small, check_exit=0).stdout
    for text in ("id", "bigint", "name", "string", "price", "decimal(9,2)", "day", "date",
                 "ts", "timestamp", "tags", "array<string>"):
        assert text in out, f"{text!r} missing from:\n{out}"


def test_meta_output(run_cli, small):
    out = run_cli("parquet", "meta", small, check_exit=0).stdout
    for text in ("rows: 3", "row groups: 1", "zstd", "id", "name", "price", "tags"):
        assert text in out, f"{text!r} missing from:\n{out}"


def test_cat_table(run_cli, small):
    # Spark's show(): right-aligned, cells over 20 characters cut to 17 + "...",
    # line breaks shown escaped so the grid holds.
    out = run_cli("parquet", "cat", small, check_exit=0).stdout
    assert out == (
        "+---+-----+-----+----------+--------------------+------+--------------------+\n"
        "| id| name|price|       day|                  ts|  tags|                note|\n"
        "+---+-----+-----+----------+--------------------+------+--------------------+\n"
        "|  1|    a| 1.50|2024-01-02|2024-01-02 03:04:...|[x, y]|a long note of mo...|\n"
        '|  2|b,"c"| null|      null|                null|    []|         line\\nbreak|\n'
        "|  3| null|-2.25|1999-12-31| 1970-01-01 00:00:00|  null|                    |\n"
        "+---+-----+-----+----------+--------------------+------+--------------------+\n")


def test_cat_table_limit_footer(run_cli, small):
    out = run_cli("parquet", "cat", small, "--limit", "1", "--columns", "name,id",
                  check_exit=0).stdout
    assert out == ("+----+---+\n"
                   "|name| id|\n"
                   "+----+---+\n"
                   "|   a|  1|\n"
                   "+----+---+\n"
                   "only showing top 1 row\n")


def test_cat_table_exact_limit_has_no_footer(run_cli, small):
    out = run_cli("parquet", "cat", small, "--limit", "3", "--columns", "id", check_exit=0).stdout
    assert out == "+---+\n| id|\n+---+\n|  1|\n|  2|\n|  3|\n+---+\n"


def test_cat_table_wide_characters(run_cli, tmp_path):
    # Spark's half width: CJK characters take two columns, so the grid holds
    # in a terminal; an emoji is two UTF-16 units.
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"w": ["\u65e5\u672c", "ab", "\U0001F600"]}), path)
    out = run_cli("parquet", "cat", path, check_exit=0).stdout
    assert out == ("+----+\n"
                   "|   w|\n"
                   "+----+\n"
                   "|\u65e5\u672c|\n"
                   "|  ab|\n"
                   "|  \U0001F600|\n"
                   "+----+\n")


def test_cat_table_no_rows(run_cli, tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"x": pa.array([], pa.int32())}), path)
    out = run_cli("parquet", "cat", path, check_exit=0).stdout
    assert out == "+---+\n|  x|\n+---+\n+---+\n"


def test_cat_csv(run_cli, small):
    out = run_cli("parquet", "cat", small, "--format", "csv", check_exit=0).stdout
    assert out == (
        "id,name,price,day,ts,tags,note\n"
        '1,a,1.50,2024-01-02,2024-01-02 03:04:05.600000,"[""x"",""y""]",'
        "a long note of more than twenty characters\n"
        '2,"b,""c""",,,,[],"line\nbreak"\n'
        '3,,-2.25,1999-12-31,1970-01-01 00:00:00,,""\n')


def test_cat_jsonl(run_cli, small):
    out = run_cli("parquet", "cat", small, "--format", "jsonl", "--columns", "id,price,ts,tags",
                  check_exit=0).stdout
    assert out == (
        '{"id":1,"price":1.50,"ts":"2024-01-02 03:04:05.600000","tags":["x","y"]}\n'
        '{"id":2,"price":null,"ts":null,"tags":[]}\n'
        '{"id":3,"price":-2.25,"ts":"1970-01-01 00:00:00","tags":null}\n')


def test_cat_limit_for_machine_formats(run_cli, small):
    out = run_cli("parquet", "cat", small, "--format", "csv", "--limit", "2", "--columns", "id",
                  check_exit=0).stdout
    assert out == "id\n1\n2\n"
    out = run_cli("parquet", "cat", small, "--format=jsonl", "--limit=0", "--columns=id",
                  check_exit=0).stdout
    assert out.count("\n") == 3
