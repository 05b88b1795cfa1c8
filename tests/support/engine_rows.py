"""engine_rows.py - rows of other engines (Spark, delta-rs) as JSON lines in
the canonical form of the end-to-end tests.

spark_read.py and deltars_read.py read Delta tables with engines no one
here wrote and print what they read through these helpers, in the form that
`streamdelta show --format jsonl` and tests/support/duckdb_rows.mjs print
(canon.py normalises all of them further):
  null, true/false; integers exact; floats as numbers, NaN/Infinity/-Infinity
  as strings; decimals as exact JSON numbers; strings; binary as base64;
  dates "YYYY-MM-DD"; timestamps "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC;
  lists as arrays, structs as objects, maps as objects keyed by the key's
  text.
One line per table read:
  {"table": PATH, "version": N|null, "schema": DELTA_SCHEMA_JSON, "rows": [...]}
  {"table": PATH, "version": N|null, "error": "first lines of the error"}
A table is asked for as PATH, or PATH@vN for time travel to version N.

Also here: delta_schema_to_arrow(), the Arrow types canon.normalize_rows()
needs, from the Delta schema either engine reports.
"""

import base64
import datetime
import json
import math
import re
from decimal import Decimal

_SPEC_RE = re.compile(r"^(.*)@v(\d+)$")


def parse_spec(spec):
    """'PATH' -> (PATH, None); 'PATH@vN' -> (PATH, N)."""
    m = _SPEC_RE.match(spec)
    return (m.group(1), int(m.group(2))) if m else (spec, None)


def date_text(d):
    return d.isoformat()


def timestamp_text(ts):
    """A datetime as UTC text. An aware value is converted to UTC; a naive
    one is taken as UTC already (the readers run with TZ=UTC, and
    TIMESTAMP_NTZ has no zone)."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    text = ts.strftime("%Y-%m-%d %H:%M:%S")
    if len(text) < 19:  # strftime does not pad years below 1000 on glibc
        text = f"{ts.year:04d}" + text[text.index("-"):]
    return text + (f".{ts.microsecond:06d}" if ts.microsecond else "")


def float_value(f):
    """JSON has no NaN or infinities: those (and only those) become strings."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return f


def binary_text(b):
    return base64.b64encode(bytes(b)).decode("ascii")


class _Raw(str):
    """Text written into the JSON as it is (an exact decimal number)."""


def decimal_value(d):
    """A Decimal as an exact JSON number (never through a float)."""
    if not isinstance(d, Decimal):
        d = Decimal(str(d))
    if not d.is_finite():
        return str(d)
    return _Raw(format(d, "f"))


def _dump(value, out):
    if isinstance(value, _Raw):
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(k), ensure_ascii=False))
            out.append(":")
            _dump(v, out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _dump(v, out)
        out.append("]")
    else:
        out.append(json.dumps(value, ensure_ascii=False, allow_nan=False))


def json_text(value):
    """`value` (built by the readers from dict/list/str/int/float/None and
    decimal_value()) as one line of JSON."""
    out = []
    _dump(value, out)
    return "".join(out)


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def first_lines(text, n=6, limit=1500):
    """The head of an engine's error (Java stack traces run for pages), without
    terminal colours (delta-rs's errors carry some)."""
    lines = [line for line in _ANSI_RE.sub("", str(text)).splitlines() if line.strip()][:n]
    joined = "\n".join(lines)
    return joined if len(joined) <= limit else joined[:limit] + "..."


# --- Delta schema -> Arrow types (for canon.normalize_rows) --------------

_DECIMAL_RE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def _arrow_type(t):
    import pyarrow as pa

    if isinstance(t, dict):
        kind = t.get("type")
        if kind == "struct":
            return pa.struct([pa.field(f["name"], _arrow_type(f["type"])) for f in t["fields"]])
        if kind == "array":
            return pa.list_(_arrow_type(t["elementType"]))
        if kind == "map":
            return pa.map_(_arrow_type(t["keyType"]), _arrow_type(t["valueType"]))
        raise ValueError(f"unknown Delta type {t!r}")
    m = _DECIMAL_RE.match(t)
    if m:
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    simple = {
        "string": pa.string(), "binary": pa.binary(), "boolean": pa.bool_(),
        "byte": pa.int8(), "short": pa.int16(), "integer": pa.int32(), "long": pa.int64(),
        "float": pa.float32(), "double": pa.float64(), "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"), "timestamp_ntz": pa.timestamp("us"),
    }
    if t not in simple:
        raise ValueError(f"unknown Delta type {t!r}")
    return simple[t]


def delta_schema_to_arrow(schema_json):
    """The Arrow schema of a Delta schema (the JSON of metaData.schemaString,
    as Spark's df.schema.json() and delta-rs's schema().to_json() print it)."""
    import pyarrow as pa

    doc = json.loads(schema_json) if isinstance(schema_json, str) else schema_json
    return pa.schema([pa.field(f["name"], _arrow_type(f["type"])) for f in doc["fields"]])
