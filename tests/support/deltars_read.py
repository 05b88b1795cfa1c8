"""deltars_read.py - delta-rs (PyPI `deltalake`) reads Delta tables and prints
their rows as JSON lines.

    .cache/venv/bin/python tests/support/deltars_read.py TABLE[@vN]...

Each table goes through DeltaTable(path, version=N).to_pyarrow_table(); one
line per table in the form of engine_rows.py, an error line when delta-rs
cannot read a table (the others are still read). Exit status 0.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_rows import (binary_text, date_text, decimal_value, first_lines,  # noqa: E402
                         float_value, json_text, parse_spec, timestamp_text)


def to_json_value(v, typ):
    """One value of Arrow type `typ` (as pyarrow's to_pylist() gives it) in
    the canonical JSON form."""
    import pyarrow as pa

    if v is None:
        return None
    if isinstance(typ, pa.ExtensionType):
        typ = typ.storage_type
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_struct(typ):
        return {typ.field(i).name: to_json_value(v.get(typ.field(i).name), typ.field(i).type)
                for i in range(typ.num_fields)}
    if pa.types.is_map(typ):
        # pyarrow gives a map as a list of (key, value) pairs.
        return {str(to_json_value(k, typ.key_type)): to_json_value(x, typ.item_type)
                for k, x in v}
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        return [to_json_value(x, typ.value_type) for x in v]
    if pa.types.is_floating(typ):
        return float_value(float(v))
    if pa.types.is_decimal(typ):
        return decimal_value(v)
    if pa.types.is_timestamp(typ):
        return timestamp_text(v)
    if pa.types.is_date(typ):
        return date_text(v)
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or \
            pa.types.is_fixed_size_binary(typ) or pa.types.is_binary_view(typ):
        return binary_text(v)
    return v


def read_table(path, version):
    from deltalake import DeltaTable

    dt = DeltaTable(path, version=version) if version is not None else DeltaTable(path)
    table = dt.to_pyarrow_table()
    fields = list(table.schema)
    columns = [table.column(i).to_pylist() for i in range(len(fields))]
    rows = [{f.name: to_json_value(col[r], f.type) for f, col in zip(fields, columns)}
            for r in range(table.num_rows)]
    return {"schema": dt.schema().to_json(), "rows": rows}


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for spec in argv:
        path, version = parse_spec(spec)
        item = {"table": path, "version": version}
        try:
            item.update(read_table(path, version))
        except Exception as e:  # noqa: BLE001 - one table's error, the others go on
            item["error"] = first_lines(e)
        print(json_text(item), flush=True)
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without the interpreter's teardown: delta-rs has aborted in it
    # ("terminate called without an active exception", a native thread
    # still running at exit) after every table was read and printed.
    os._exit(status)
