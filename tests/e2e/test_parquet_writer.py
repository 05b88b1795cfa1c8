"""test_parquet_writer.py - files written by streamdelta's Parquet writer read
back by DuckDB and by our own reader.

tests/tools/pq_gen.c (built as BUILD/pq_gen by `make all`) writes a matrix of
files - every primitive type x every codec x nulls none/some/all x dictionary
on/off, a data-page-v2 file, a nested file with nulls at every level, and a
file of many row groups and pages - each with FILE.expected.jsonl computed
from the generator's own input values. Every file must read as expected in
DuckDB and in `streamdelta parquet cat --format jsonl`; DuckDB's
parquet_metadata() must show the codec, the dictionary choice and the
statistics we mean to write.
"""

import math
from decimal import Decimal

import pytest

from canon import arrow_schema, first_difference, normalize_rows, parse_jsonl

CODECS = {"snappy": "SNAPPY", "zstd": "ZSTD", "gzip": "GZIP", "none": "UNCOMPRESSED",
          "lz4_raw": "LZ4_RAW"}
NULLS = ["none", "some", "all"]
DICTS = ["dict", "plain"]
FILES = ([f"types-{c}-{n}-{d}" for c in CODECS for n in NULLS for d in DICTS]
         + ["types-snappy-some-dict-v2", "nested", "multi"])


@pytest.fixture(scope="module")
def generated(pq_gen, tmp_path_factory, duckdb):
    """Run pq_gen once; DuckDB then reads every file in one process."""
    import subprocess
    out = tmp_path_factory.mktemp("pq_gen")
    proc = subprocess.run([str(pq_gen), str(out)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"pq_gen failed ({proc.returncode}): {proc.stderr[-4000:]}")
    files = sorted(out.glob("*.parquet"))
    duckdb.prefetch(files)
    duckdb.prefetch(files, mode="stats")
    return out


def _expected(generated, name):
    path = generated / f"{name}.parquet"
    if not path.exists():
        pytest.fail(f"pq_gen did not write {path.name}")
    rows = parse_jsonl((generated / f"{name}.expected.jsonl").read_text())
    return path, rows


def test_generator_writes_the_planned_files(generated):
    written = sorted(p.name[: -len(".parquet")] for p in generated.glob("*.parquet"))
    assert written == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_duckdb_reads_what_we_wrote(generated, duckdb, name):
    path, expected = _expected(generated, name)
    schema = arrow_schema(path)
    assert schema is not None, f"pyarrow cannot read the schema of {path.name}"
    diff = first_difference(normalize_rows(duckdb.rows(path), schema),
                            normalize_rows(expected, schema), "DuckDB", "expected")
    assert diff is None, f"{path.name}: {diff}"


@pytest.mark.parametrize("name", FILES)
def test_our_reader_reads_what_we_wrote(generated, run_cli, name):
    path, expected = _expected(generated, name)
    proc = run_cli("parquet", "cat", path, "--format", "jsonl", check_exit=0)
    schema = arrow_schema(path)
    diff = first_difference(normalize_rows(parse_jsonl(proc.stdout), schema),
                            normalize_rows(expected, schema), "streamdelta", "expected")
    assert diff is None, f"{path.name}: {diff}"


@pytest.mark.parametrize("codec", list(CODECS))
def test_codec_and_dictionary_in_the_footer(generated, duckdb, codec):
    for nulls in ("none", "some"):
        for dictionary in DICTS:
            name = f"types-{codec}-{nulls}-{dictionary}"
            for col in duckdb.stats(generated / f"{name}.parquet"):
                assert col["compression"] == CODECS[codec], f"{name} {col['path']}"
                uses_dict = "DICTIONARY" in col["encodings"]
                if dictionary == "plain":
                    assert not uses_dict, f"{name} {col['path']}: {col['encodings']}"
            if dictionary == "dict":
                # Repeated strings in a small column: the writer must choose
                # the dictionary.
                string_col = [c for c in duckdb.stats(generated / f"{name}.parquet")
                              if c["path"] == "c_string"][0]
                assert "DICTIONARY" in string_col["encodings"], f"{name}: {string_col}"


def _intended_stats(rows, column):
    values = [r[column] for r in rows if r[column] is not None]
    nulls = sum(1 for r in rows if r[column] is None)
    return (min(values) if values else None, max(values) if values else None, nulls)


# Columns whose statistics DuckDB shows in the same text as our expected
# values (integers, strings, dates, timestamps without zone).
STAT_COLUMNS = ["c_short", "c_int", "c_long", "c_string", "c_date", "c_ts_ntz", "c_dec9"]


@pytest.mark.parametrize("name", ["types-snappy-some-dict", "types-zstd-none-plain",
                                  "types-gzip-all-dict"])
def test_statistics_we_intend(generated, duckdb, name):
    path, expected = _expected(generated, name)
    stats = {c["path"]: c for c in duckdb.stats(path)}
    for column in STAT_COLUMNS:
        lo, hi, nulls = _intended_stats(expected, column)
        got = stats[column]
        assert got["null_count"] == nulls, f"{name} {column}: {got}"
        if lo is None:
            assert got["min"] is None and got["max"] is None, f"{name} {column}: {got}"
            continue
        if column == "c_string":
            # Parquet orders strings as unsigned bytes.
            enc = sorted((r[column].encode() for r in expected if r[column] is not None))
            lo, hi = enc[0].decode(), enc[-1].decode()
        if isinstance(lo, Decimal):
            assert Decimal(got["min"]) == lo and Decimal(got["max"]) == hi, f"{name} {column}: {got}"
        else:
            assert (got["min"], got["max"]) == (str(lo), str(hi)), f"{name} {column}: {got}"


def test_double_statistics_ignore_nan(generated, duckdb):
    """c_double holds NaN and both infinities: the min/max DuckDB sees, when
    present, must be numbers (NaN must never be a bound)."""
    for col in duckdb.stats(generated / "types-snappy-none-dict.parquet"):
        if col["path"] in ("c_float", "c_double"):
            for bound in (col["min"], col["max"]):
                assert bound is None or not math.isnan(float(bound)), col


def test_multi_row_groups(generated, duckdb, run_cli):
    path = generated / "multi.parquet"
    groups = {c["row_group"] for c in duckdb.stats(path)}
    assert len(groups) > 1, "multi.parquet should hold several row groups"
    meta = run_cli("parquet", "meta", path, check_exit=0).stdout
    assert "zstd" in meta.lower()
    # Our reader stops at the limit: the first rows only, in order.
    head = run_cli("parquet", "cat", path, "--format", "jsonl", "--limit", "3", check_exit=0)
    assert [r["id"] for r in parse_jsonl(head.stdout)] == [0, 1, 2]
