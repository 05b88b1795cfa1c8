"""canon.py - one canonical form for rows read by different Parquet readers.

The end-to-end tests compare three sources of the same rows:
  * `streamdelta parquet cat --format jsonl` (our reader, cli_format.c),
  * DuckDB through tests/support/duckdb_rows.mjs,
  * expected.jsonl files that tests/tools/pq_gen.c computes from its inputs.
All three print JSON lines in nearly the same form (see duckdb_rows.mjs);
`normalize()` removes what may legitimately differ, guided by the file's
Arrow schema (pyarrow reads only the footer for it).
"""

import base64
import datetime
import json
import math
import re
import struct
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

_EPOCH = datetime.datetime(1970, 1, 1)
_TS_RE = re.compile(r"^(-?\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?(?:\.(\d{1,9}))?)?$")


def parse_jsonl(text):
    """JSON lines -> list of rows; decimals stay exact (Decimal), integers int."""
    return [json.loads(line, parse_float=Decimal) for line in text.splitlines() if line.strip()]


def arrow_schema(path):
    """The Arrow schema of a Parquet file, or None when pyarrow cannot map it."""
    try:
        return pq.read_schema(path)
    except Exception:  # noqa: BLE001 - a file pyarrow refuses is still compared untyped
        return None


def _float_key(value, bits):
    """A float as text after rounding to its width (32 or 64 bits).

    Readers print a float32 differently (shortest float32 text "1.1" against
    the double 1.100000023841858); both round-trip to the same float32. NaN
    has one spelling, and -0.0 stays apart from 0.0."""
    if isinstance(value, str):
        value = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(value, value)
        if isinstance(value, str):
            return ("float?", value)
    f = float(value)
    if math.isnan(f):
        return "NaN"
    if bits == 32:
        f = struct.unpack("<f", struct.pack("<f", f))[0]
    return repr(f)


def _timestamp_key(value):
    """A timestamp string -> integer microseconds since the epoch (UTC)."""
    m = _TS_RE.match(value) if isinstance(value, str) else None
    if not m:
        return ("timestamp?", value)
    y, mo, d, hh, mi, ss, frac = m.groups()
    days = (datetime.date(int(y), int(mo), int(d)) - _EPOCH.date()).days
    secs = days * 86400 + int(hh or 0) * 3600 + int(mi or 0) * 60 + int(ss or 0)
    micros = int(((frac or "") + "000000")[:6])
    return secs * 1000000 + micros


def _binary_key(value):
    """Binary as bytes (both sides print base64)."""
    try:
        return base64.b64decode(value, validate=True)
    except Exception:  # noqa: BLE001
        return ("binary?", value)


def normalize(value, typ=None):
    """The canonical Python value of one JSON value of Arrow type `typ`.

    - null -> None; booleans, integers and strings as they are;
    - float32/float64 -> repr of the value rounded to its width, "NaN" for
      any NaN (NaN/Infinity arrive as strings, -0 stays -0);
    - decimals -> Decimal (12.3 == 12.30: scale is the schema's business);
    - dates -> "YYYY-MM-DD" text; timestamps (any unit, with or without
      time zone) -> integer microseconds;
    - binary / fixed-size binary / UUID -> bytes;
    - structs -> dict, lists -> list, maps -> dict keyed by the key's text.
    Without a type (pyarrow could not map the file) numbers are compared as
    float64 text and everything else as parsed JSON.
    """
    if value is None:
        return None
    if typ is not None and isinstance(typ, pa.ExtensionType):
        typ = typ.storage_type
    if typ is not None and pa.types.is_dictionary(typ):
        typ = typ.value_type
    if typ is None:
        if isinstance(value, dict):
            return {k: normalize(v) for k, v in value.items()}
        if isinstance(value, list):
            return [normalize(v) for v in value]
        if isinstance(value, (Decimal, float)):
            return Decimal(value)
        return value
    if pa.types.is_floating(typ):
        return _float_key(value, 32 if typ.bit_width <= 32 else 64)
    if pa.types.is_decimal(typ):
        return Decimal(str(value))
    if pa.types.is_timestamp(typ):
        return _timestamp_key(value)
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_fixed_size_binary(typ):
        return _binary_key(value)
    if pa.types.is_struct(typ):
        if not isinstance(value, dict):
            return ("struct?", value)
        fields = {typ.field(i).name: typ.field(i).type for i in range(typ.num_fields)}
        return {k: normalize(v, fields.get(k)) for k, v in value.items()}
    if pa.types.is_map(typ):
        if not isinstance(value, dict):
            return ("map?", value)
        return {str(k): normalize(v, typ.item_type) for k, v in value.items()}
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        if not isinstance(value, list):
            return ("list?", value)
        return [normalize(v, typ.value_type) for v in value]
    if pa.types.is_integer(typ) and isinstance(value, (int, Decimal)):
        return int(value)
    return value


def normalize_rows(rows, schema):
    """Every row of `rows` through normalize(), typed by the Arrow schema."""
    types = {f.name: f.type for f in schema} if schema is not None else {}
    return [{k: normalize(v, types.get(k)) for k, v in row.items()} for row in rows]


def first_difference(ours, theirs, our_name="streamdelta", their_name="DuckDB"):
    """None when both row lists are equal, else a message showing the first
    row (and column) that differs."""
    if ours == theirs:
        return None
    if len(ours) != len(theirs):
        head = f"{our_name} read {len(ours)} rows, {their_name} {len(theirs)}"
    else:
        head = "row counts agree"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            cols = [k for k in sorted(set(a) | set(b)) if a.get(k, "<absent>") != b.get(k, "<absent>")]
            return (f"{head}; first difference at row {i}, columns {cols}:\n"
                    f"  {our_name}: {_short(a)}\n  {their_name}: {_short(b)}")
    return f"{head}; the first {min(len(ours), len(theirs))} rows are equal"


def _short(row, limit=2000):
    text = repr(row)
    return text if len(text) <= limit else text[:limit] + "..."
