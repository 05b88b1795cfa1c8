"""test_parquet_conformance.py - our reader against DuckDB on files other
engines wrote.

One case per file: `streamdelta parquet cat FILE --format jsonl` must equal
DuckDB's reading of FILE (tests/support/duckdb_rows.mjs), both normalised by
canon.normalize_rows(). The files:
  * every .parquet under the shared Delta conformance tables (env
    SD_CONFORMANCE, default ../shared/conformance/delta-tables beside the
    repository); a missing directory fails, it is never skipped;
  * the seed corpus of the Parquet fuzzer, tests/fuzz/corpus/fuzz_parquet/;
  * files pyarrow writes here with what our writer does not produce: data
    page v2, the DELTA_* and BYTE_STREAM_SPLIT encodings, INT96, decimals in
    INT32/INT64/FIXED_LEN_BYTE_ARRAY, timestamp units, every codec,
    PLAIN_DICTIONARY (format 1.0), nested types with nulls, non-compliant
    list naming, several row groups and small pages.
Legacy 2-level lists cannot be written by pyarrow; the Spark files of the
corpus are where those come from.
"""

import datetime
import decimal
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from canon import arrow_schema, first_difference, normalize_rows, parse_jsonl

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = Path(os.environ.get("SD_CONFORMANCE",
                                  REPO.parent / "shared" / "conformance" / "delta-tables"))
CORPUS = REPO / "tests" / "fuzz" / "corpus" / "fuzz_parquet"


def _files(root):
    return sorted(p for p in root.rglob("*.parquet") if p.is_file()) if root.is_dir() else []


CONFORMANCE_FILES = _files(CONFORMANCE)
CORPUS_FILES = _files(CORPUS)


def _compare(run_cli, duckdb, path):
    proc = run_cli("parquet", "cat", path, "--format", "jsonl")
    assert proc.returncode == 0, f"streamdelta cannot read {path}: {proc.stderr.strip()}"
    schema = arrow_schema(path)
    ours = normalize_rows(parse_jsonl(proc.stdout), schema)
    theirs = normalize_rows(duckdb.rows(path), schema)
    diff = first_difference(ours, theirs)
    assert diff is None, f"{path}: {diff}"


def test_conformance_tables_present():
    assert CONFORMANCE.is_dir(), (f"conformance tables not found at {CONFORMANCE} "
                                  "(set SD_CONFORMANCE)")
    assert CONFORMANCE_FILES, f"no .parquet file under {CONFORMANCE}"


@pytest.fixture(scope="module")
def prefetched(duckdb):
    # One DuckDB process for every foreign file of this module.
    duckdb.prefetch(CONFORMANCE_FILES + CORPUS_FILES)
    return duckdb


@pytest.mark.parametrize("path", CONFORMANCE_FILES,
                         ids=[str(p.relative_to(CONFORMANCE)) for p in CONFORMANCE_FILES])
def test_conformance_file(run_cli, prefetched, path):
    _compare(run_cli, prefetched, path)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_corpus_file(run_cli, prefetched, path):
    _compare(run_cli, prefetched, path)


# ---------------------------------------------------------------------------
# Files written by pyarrow
# ---------------------------------------------------------------------------

N = 50


def _ints(n=N, nulls=True):
    return [None if nulls and i % 7 == 3 else (i * 7919) % 1000 - 500 for i in range(n)]


def _strings(n=N):
    words = ["alpha", "beta", "", "gamma-gamma-gamma", "d\u00e9j\u00e0 vu", "\u65e5\u672c"]
    return [None if i % 9 == 4 else words[i % len(words)] + str(i // 3) for i in range(n)]


def _floats(n=N):
    special = [0.0, -0.0, 1.5, -2.75, float("nan"), float("inf"), float("-inf"), 1e-30, 3.25e20]
    return [None if i % 8 == 5 else special[i % len(special)] + (i if i % 3 == 0 else 0)
            for i in range(n)]


def _basic_table():
    return pa.table({
        "i32": pa.array(_ints(), pa.int32()),
        "i64": pa.array([None if v is None else v * 10**12 for v in _ints()], pa.int64()),
        "s": pa.array(_strings(), pa.string()),
        "f32": pa.array(_floats(), pa.float32()),
        "f64": pa.array(_floats(), pa.float64()),
        "b": pa.array([None if i % 5 == 0 else i % 2 == 0 for i in range(N)], pa.bool_()),
    })


def _nested_table():
    structs, lists, maps, deep = [], [], [], []
    for i in range(N):
        structs.append(None if i % 6 == 0 else {"x": None if i % 4 == 1 else i,
                                                "y": None if i % 5 == 2 else f"y{i}"})
        lists.append(None if i % 5 == 0 else [] if i % 5 == 1 else
                     [None if j == 1 else i * 10 + j for j in range(i % 4 + 1)])
        maps.append(None if i % 7 == 0 else [] if i % 7 == 1 else
                    [(f"k{j}", None if j == 1 else i + j) for j in range(i % 3 + 1)])
        deep.append(None if i % 8 == 0 else
                    [None if j == 2 else {"a": [j, None] if j % 2 else [], "b": None}
                     for j in range(i % 4)])
    return pa.table({
        "st": pa.array(structs, pa.struct([("x", pa.int32()), ("y", pa.string())])),
        "li": pa.array(lists, pa.list_(pa.int64())),
        "mp": pa.array(maps, pa.map_(pa.string(), pa.int32())),
        "deep": pa.array(deep, pa.list_(pa.struct([("a", pa.list_(pa.int32())),
                                                   ("b", pa.string())]))),
    })


def _timestamp_table():
    base = datetime.datetime(2023, 11, 14, 22, 13, 20, 123456)
    values = [None if i % 6 == 2 else base + datetime.timedelta(days=i * 37, microseconds=i * 1001)
              for i in range(N)]
    utc = datetime.timezone.utc
    return pa.table({
        "ts_ms": pa.array([v and v.replace(microsecond=v.microsecond // 1000 * 1000) for v in values],
                          pa.timestamp("ms")),
        "ts_us": pa.array(values, pa.timestamp("us")),
        "ts_ns": pa.array(values, pa.timestamp("ns")),
        "ts_us_utc": pa.array([v and v.replace(tzinfo=utc) for v in values],
                              pa.timestamp("us", tz="UTC")),
        "d": pa.array([v and v.date() for v in values], pa.date32()),
    })


def _decimal_table():
    def dec(i, scale):
        if i % 6 == 1:
            return None
        return decimal.Decimal((i * 104729) % 10**7 - 5 * 10**6).scaleb(-scale)
    return pa.table({
        "d9": pa.array([dec(i, 2) for i in range(N)], pa.decimal128(9, 2)),
        "d18": pa.array([dec(i, 4) for i in range(N)], pa.decimal128(18, 4)),
        "d38": pa.array([None if dec(i, 10) is None else dec(i, 10) * 10**20 for i in range(N)],
                        pa.decimal128(38, 10)),
    })


def _binary_table():
    return pa.table({
        "bin": pa.array([None if i % 4 == 0 else bytes(range(i % 7)) for i in range(N)], pa.binary()),
        "fixed": pa.array([None if i % 5 == 0 else bytes([i, 255 - i, 0]) for i in range(N)],
                          pa.binary(3)),
    })


def _write(table, path, **kw):
    pq.write_table(table, path, **kw)


# name -> (table factory, write_table options)
PYARROW_FILES = {
    "page-v2-snappy": (_basic_table, dict(data_page_version="2.0", compression="snappy")),
    "page-v2-zstd-nested": (_nested_table, dict(data_page_version="2.0", compression="zstd")),
    "delta-binary-packed": (_basic_table, dict(use_dictionary=False, column_encoding={
        "i32": "DELTA_BINARY_PACKED", "i64": "DELTA_BINARY_PACKED"})),
    "delta-length-byte-array": (_basic_table, dict(use_dictionary=False, column_encoding={
        "s": "DELTA_LENGTH_BYTE_ARRAY"})),
    "delta-byte-array": (_basic_table, dict(use_dictionary=False, column_encoding={
        "s": "DELTA_BYTE_ARRAY"})),
    "delta-encodings-v2": (_basic_table, dict(use_dictionary=False, data_page_version="2.0",
                                              column_encoding={"i32": "DELTA_BINARY_PACKED",
                                                               "s": "DELTA_BYTE_ARRAY"})),
    "byte-stream-split": (_basic_table, dict(use_dictionary=False, column_encoding={
        "f32": "BYTE_STREAM_SPLIT", "f64": "BYTE_STREAM_SPLIT"})),
    "int96-timestamps": (_timestamp_table, dict(use_deprecated_int96_timestamps=True)),
    "timestamp-units": (_timestamp_table, dict(version="2.6", coerce_timestamps=None)),
    "decimal-fixed": (_decimal_table, dict()),
    "decimal-int": (_decimal_table, dict(store_decimal_as_integer=True)),
    "binary-fixed": (_binary_table, dict()),
    "codec-none": (_basic_table, dict(compression="none")),
    "codec-snappy": (_basic_table, dict(compression="snappy")),
    "codec-gzip": (_basic_table, dict(compression="gzip")),
    "codec-zstd": (_basic_table, dict(compression="zstd")),
    "codec-lz4-raw": (_basic_table, dict(compression="lz4")),
    "plain-dictionary-v1": (_basic_table, dict(version="1.0", data_page_version="1.0",
                                               use_dictionary=True)),
    "nested-nulls": (_nested_table, dict()),
    "nested-noncompliant-names": (_nested_table, dict(use_compliant_nested_type=False)),
    "row-groups-small-pages": (_basic_table, dict(row_group_size=7, data_page_size=64,
                                                  compression="gzip")),
}


@pytest.fixture(scope="module")
def pyarrow_files(tmp_path_factory, duckdb):
    out = tmp_path_factory.mktemp("pyarrow")
    paths = {}
    for name, (factory, options) in PYARROW_FILES.items():
        path = out / f"{name}.parquet"
        _write(factory(), path, **options)
        paths[name] = path
    duckdb.prefetch(list(paths.values()))
    return paths


@pytest.mark.parametrize("name", list(PYARROW_FILES))
def test_pyarrow_file(run_cli, duckdb, pyarrow_files, name):
    _compare(run_cli, duckdb, pyarrow_files[name])


def test_pyarrow_files_use_the_encodings_they_claim(pyarrow_files):
    """Guard against a pyarrow option silently doing nothing."""
    def encodings(name, column):
        meta = pq.ParquetFile(pyarrow_files[name]).metadata
        names = [meta.schema.column(i).path for i in range(meta.num_columns)]
        return set(meta.row_group(0).column(names.index(column)).encodings)
    assert "DELTA_BINARY_PACKED" in encodings("delta-binary-packed", "i32")
    assert "DELTA_LENGTH_BYTE_ARRAY" in encodings("delta-length-byte-array", "s")
    assert "DELTA_BYTE_ARRAY" in encodings("delta-byte-array", "s")
    assert "BYTE_STREAM_SPLIT" in encodings("byte-stream-split", "f64")
    assert "PLAIN_DICTIONARY" in encodings("plain-dictionary-v1", "s")
    phys = pq.ParquetFile(pyarrow_files["decimal-int"]).metadata.schema.column(0).physical_type
    assert phys == "INT32"
    phys = pq.ParquetFile(pyarrow_files["int96-timestamps"]).metadata.schema.column(0).physical_type
    assert phys == "INT96"
    assert pq.ParquetFile(pyarrow_files["row-groups-small-pages"]).metadata.num_row_groups > 1
