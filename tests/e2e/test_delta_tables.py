"""test_delta_tables.py - the Delta table commands (create-table, show,
history, describe, checkpoint) against an independent reading of the same
tables: a log replay written in DuckDB SQL (tests/support/delta_replay.mjs:
read_json_objects over the commits, read_parquet over the checkpoint, add/
remove reconciled by path, read_parquet over the live files with partition
values from the log, never from directory names).

What is checked:
  (1) every table under the shared conformance directory (env SD_CONFORMANCE,
      default ../shared/conformance/delta-tables) either reads or is refused
      with a clear error; `show --format csv` (all rows, sorted) equals the
      replay; deletion vectors, which DuckDB cannot apply, are accounted for
      with the rows this file lists (DV_DELETED) and against the DV-free twin;
  (2) tables tests/tools/delta_gen.c writes (many commits, partitioned or
      not, removes, txn actions, checkpoints) read the same through the
      replay at every version, and our checkpoint files carry the standard
      checkpoint columns as DuckDB sees them;
  (3) two processes committing 200 times each to one table at once: 400
      commits, contiguous versions, every file accounted for; a commit that
      loses to a conflicting remove fails clearly, a blind append retries;
  (4) broken logs give exit 1 and a message naming the log file, never a
      crash.
"""

import base64
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from canon import _float_key, _timestamp_key

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "tests" / "support"
CONFORMANCE = Path(os.environ.get("SD_CONFORMANCE",
                                  REPO.parent / "shared" / "conformance" / "delta-tables"))
CONFORMANCE_TABLES = sorted(p for p in CONFORMANCE.iterdir()
                            if (p / "_delta_log").is_dir()) if CONFORMANCE.is_dir() else []

# Rows that a table's deletion vectors delete. DuckDB cannot read deletion
# vectors, so the replay returns them; the test removes exactly these. For
# table-with-dv-small the Delta test suite documents its DV: rows 0 and 9
# of the values 0..9 are deleted (its twin table-without-dv-small holds all
# ten).
DV_DELETED = {
    "table-with-dv-small": [{"value": 0}, {"value": 9}],
}
DV_TWIN = {"table-with-dv-small": "table-without-dv-small"}

TIMEOUT = 600


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def replay(*specs):
    """The DuckDB replay of each TABLE[@VERSION], in one node process."""
    proc = subprocess.run(["node", str(SUPPORT / "delta_replay.mjs"), *map(str, specs)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"delta_replay.mjs failed: {proc.stderr[-3000:]}"
    return [json.loads(line, parse_float=Decimal) for line in proc.stdout.splitlines()]


def describe_parquet(path):
    proc = subprocess.run(["node", str(SUPPORT / "delta_replay.mjs"), "--describe", str(path)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "error" not in out, out
    return {c["name"]: c["type"] for c in out["columns"]}


def parse_csv(text):
    """RFC 4180 rows; an unquoted empty field is None (null), a quoted
    empty field is "" (the printer keeps them apart; csv.reader does not)."""
    rows, row, field, quoted, i = [], [], [], False, 0
    in_quotes = False
    while i < len(text):
        c = text[i]
        if in_quotes:
            if c == '"' and i + 1 < len(text) and text[i + 1] == '"':
                field.append('"')
                i += 1
            elif c == '"':
                in_quotes = False
            else:
                field.append(c)
        elif c == '"':
            in_quotes = quoted = True
        elif c == ",":
            row.append("".join(field) if field or quoted else None)
            field, quoted = [], False
        elif c == "\n":
            row.append("".join(field) if field or quoted else None)
            rows.append(row)
            row, field, quoted = [], [], False
        elif c != "\r":
            field.append(c)
        i += 1
    if field or row:
        row.append("".join(field) if field or quoted else None)
        rows.append(row)
    return rows


def norm(value, typ, from_text):
    """Canonical value of one cell of Spark type `typ` (schemaString
    form). from_text: the value is CSV text (nested values as JSON)."""
    if value is None:
        return None
    if isinstance(typ, dict):
        if from_text and isinstance(value, str):
            value = json.loads(value, parse_float=Decimal)
        kind = typ["type"]
        if kind == "struct":
            return {f["name"]: norm(value.get(f["name"]), f["type"], False) for f in typ["fields"]}
        if kind == "array":
            return [norm(v, typ["elementType"], False) for v in value]
        if kind == "map":
            return {str(k): norm(v, typ["valueType"], False) for k, v in value.items()}
        raise AssertionError(f"unknown nested type {typ}")
    if typ == "string":
        return value
    if typ in ("long", "integer", "short", "byte"):
        return int(value)
    if typ in ("float", "double"):
        # CSV gives text; _float_key takes numbers or the NaN/Infinity names.
        if isinstance(value, str) and value not in ("NaN", "Infinity", "-Infinity"):
            value = float(value)
        return _float_key(value, 32 if typ == "float" else 64)
    if typ.startswith("decimal"):
        return Decimal(str(value))
    if typ == "boolean":
        return value if isinstance(value, bool) else {"true": True, "false": False}[value]
    if typ == "date":
        return value
    if typ in ("timestamp", "timestamp_ntz"):
        return _timestamp_key(value)
    if typ == "binary":
        return base64.b64decode(value)
    raise AssertionError(f"unknown type {typ}")


def sort_rows(rows):
    return sorted(rows, key=lambda r: repr(sorted(r.items(), key=lambda kv: kv[0])))


def csv_rows(text, schema):
    """Our `show --format csv` output as canonical rows (sorted)."""
    table = parse_csv(text)
    assert table, "no CSV header"
    header = table[0]
    types = {f["name"]: f["type"] for f in schema["fields"]}
    assert header == [f["name"] for f in schema["fields"]], header
    return sort_rows([{h: norm(v, types[h], True) for h, v in zip(header, row)}
                      for row in table[1:]])


def replay_rows(rep, schema):
    types = {f["name"]: f["type"] for f in schema["fields"]}
    return sort_rows([{k: norm(v, types[k], False) for k, v in row.items()} for row in rep["rows"]])


def show_csv(run_cli, table, *extra):
    proc = run_cli("show", table, "--format", "csv", "--limit", "0", *extra)
    assert proc.returncode == 0, f"show {table} {extra} failed: {proc.stderr}"
    return proc.stdout


def assert_same(ours, theirs, what):
    if ours == theirs:
        return
    assert len(ours) == len(theirs), f"{what}: streamdelta {len(ours)} rows, replay {len(theirs)}"
    for a, b in zip(ours, theirs):
        assert a == b, f"{what}: first difference:\n  streamdelta: {a}\n  replay:      {b}"


def assert_clean_exit(proc):
    # Never a crash: a signal gives a negative code, sanitizers 86/87.
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-2000:]}"


@pytest.fixture(scope="session")
def delta_gen(build_dir):
    path = build_dir / "delta_gen"
    if not path.exists():
        pytest.fail(f"{path} is missing: build it first (make BUILD={build_dir.name} all)")
    return path


def gen(delta_gen, *args):
    proc = subprocess.run([str(delta_gen), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, f"delta_gen {args} failed: {proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# (1) Conformance tables
# ---------------------------------------------------------------------------

def test_conformance_tables_present():
    assert CONFORMANCE_TABLES, f"no Delta table under {CONFORMANCE} (set SD_CONFORMANCE)"


@pytest.fixture(scope="module")
def conformance_replay():
    return {Path(r["table"]).name: r for r in replay(*CONFORMANCE_TABLES)} \
        if CONFORMANCE_TABLES else {}


@pytest.mark.parametrize("table", CONFORMANCE_TABLES, ids=[p.name for p in CONFORMANCE_TABLES])
def test_conformance_table(run_cli, conformance_replay, table):
    rep = conformance_replay[table.name]
    proc = run_cli("show", table, "--format", "csv", "--limit", "0")
    assert_clean_exit(proc)
    if proc.returncode != 0:
        msg = proc.stderr.strip()
        assert msg.startswith("streamdelta: ") and str(table.name) in msg, msg
        # A refusal is either an unsupported feature, named, or a table that
        # is broken for every reader (the replay fails too).
        if "error" not in rep:
            assert "unsupported" in msg.lower() or "feature" in msg.lower(), (
                f"streamdelta refused a table the replay reads: {msg}")
        return
    assert "error" not in rep, f"streamdelta reads {table.name}, the replay fails: {rep['error']}"
    schema = json.loads(rep["schema"])
    expected = replay_rows(rep, schema)
    if any(f["dv"] for f in rep["files"]):
        assert table.name in DV_DELETED, f"{table.name} has deletion vectors: list its rows"
        for row in DV_DELETED[table.name]:
            canon = {k: norm(v, {f["name"]: f["type"] for f in schema["fields"]}[k], False)
                     for k, v in row.items()}
            assert canon in expected, f"{row} is not in the replay of {table.name}"
            expected.remove(canon)
    assert_same(csv_rows(proc.stdout, schema), expected, table.name)


def test_dv_small_shows_eight_rows(run_cli):
    table = CONFORMANCE / "table-with-dv-small"
    twin = CONFORMANCE / DV_TWIN["table-with-dv-small"]
    out = show_csv(run_cli, table)
    values = sorted(int(r[0]) for r in parse_csv(out)[1:])
    assert values == list(range(1, 9))
    # The twin without a DV holds every value: ours minus the DV's rows.
    twin_values = sorted(int(r[0]) for r in parse_csv(show_csv(run_cli, twin))[1:])
    assert twin_values == list(range(10))
    assert [v for v in twin_values if v not in (0, 9)] == values


def test_show_where_on_conformance(run_cli, conformance_replay):
    name = "partition-type-primitives"
    table = CONFORMANCE / name
    rep = conformance_replay[name]
    schema = json.loads(rep["schema"])
    allrows = replay_rows(rep, schema)
    cond = "category = 'A' and id >= 3"
    expected = [r for r in allrows if r["category"] == "A" and r["id"] is not None and r["id"] >= 3]
    assert expected, "the condition should select some rows"
    assert_same(csv_rows(show_csv(run_cli, table, "--where", cond), schema), expected, cond)


# ---------------------------------------------------------------------------
# (2) Tables we write
# ---------------------------------------------------------------------------

def expected_ids(commits, version):
    """Ids live at `version` from delta_gen's own account of its commits."""
    live = {}
    for c in commits:
        if c["version"] > version:
            break
        for a in c["add"]:
            live[a["path"]] = range(a["first_id"], a["first_id"] + a["rows"])
        for p in c["remove"]:
            del live[p]
    return sorted(i for r in live.values() for i in r)


@pytest.mark.parametrize("partitioned", [True, False], ids=["partitioned", "flat"])
def test_written_table_every_version(run_cli, delta_gen, tmp_path, partitioned):
    table = tmp_path / "t"
    args = ["write", table, "--commits", "21", "--rows", "4", "--removes", "--txn",
            "--checkpoint-interval", "5", "--seed", "7"]
    commits = gen(delta_gen, *(args + (["--partitioned"] if partitioned else [])))
    last = commits[-1]["version"]
    assert last == 21 and sum(1 for c in commits if c["remove"]) == 7
    assert [c["version"] for c in commits if c["checkpoint"]] == [5, 10, 15, 20]
    reps = replay(*[f"{table}@{v}" for v in range(last + 1)])
    for v, rep in enumerate(reps):
        assert "error" not in rep, rep
        assert rep["version"] == v
        schema = json.loads(rep["schema"])
        ours = csv_rows(show_csv(run_cli, table, "--version", str(v)), schema)
        assert_same(ours, replay_rows(rep, schema), f"version {v}")
        assert sorted(r["id"] for r in ours) == expected_ids(commits, v), f"version {v}"
    # Partition values come from the log: the replay saw nulls where the
    # generator wrote null partitions.
    if partitioned:
        assert any(r["day"] is None for r in reps[-1]["rows"])
    # txn actions: one per commit, appId delta_gen, version = commit number.
    for v in range(1, last + 1):
        lines = (table / "_delta_log" / f"{v:020d}.json").read_text().splitlines()
        txns = [json.loads(line)["txn"] for line in lines if '"txn"' in line]
        assert [(t["appId"], t["version"]) for t in txns] == [("delta_gen", v)]


def test_checkpoint_columns_as_duckdb_sees_them(delta_gen, tmp_path):
    table = tmp_path / "t"
    gen(delta_gen, "write", table, "--commits", "5", "--rows", "3", "--partitioned", "--removes",
        "--txn", "--checkpoint-interval", "4")
    cp = table / "_delta_log" / f"{4:020d}.checkpoint.parquet"
    last = json.loads((table / "_delta_log" / "_last_checkpoint").read_text())
    assert last["version"] == 4
    cols = describe_parquet(cp)
    for col in ("add", "remove", "metaData", "protocol", "txn"):
        assert col in cols and cols[col].startswith("STRUCT("), (col, cols.get(col))
    want = {
        "add": ["path", "partitionValues", "size", "modificationTime", "dataChange", "stats"],
        "remove": ["path", "deletionTimestamp", "dataChange"],
        "metaData": ["id", "format", "schemaString", "partitionColumns", "configuration",
                     "createdTime"],
        "protocol": ["minReaderVersion", "minWriterVersion"],
        "txn": ["appId", "version"],
    }
    for col, fields in want.items():
        for f in fields:
            assert f'{f} ' in cols[col] or f'"{f}" ' in cols[col], f"{col}.{f} missing: {cols[col]}"
    assert "MAP(VARCHAR, VARCHAR)" in cols["add"]  # partitionValues


def test_checkpoint_command(run_cli, delta_gen, tmp_path):
    table = tmp_path / "t"
    gen(delta_gen, "write", table, "--commits", "3", "--rows", "3", "--partitioned", "--removes",
        "--checkpoint-interval", "0")
    proc = run_cli("checkpoint", table, check_exit=0)
    assert "version 3" in proc.stdout
    last = json.loads((table / "_delta_log" / "_last_checkpoint").read_text())
    assert last["version"] == 3
    # Without the commits the checkpoint replaces, both readers agree.
    for v in range(3):
        (table / "_delta_log" / f"{v:020d}.json").unlink()
    rep = replay(table)[0]
    assert "error" not in rep, rep
    schema = json.loads(rep["schema"])
    assert_same(csv_rows(show_csv(run_cli, table), schema), replay_rows(rep, schema), "checkpoint")
    assert len(rep["rows"]) > 0


# ---------------------------------------------------------------------------
# (3) Concurrency
# ---------------------------------------------------------------------------

def test_two_writers_400_commits(run_cli, delta_gen, tmp_path):
    table = tmp_path / "race"
    procs = [subprocess.Popen([str(delta_gen), "append", str(table), "--commits", "200",
                               "--tag", tag, "--rows", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tag in ("a", "b")]
    outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    for p, (out, errtext) in zip(procs, outs):
        assert p.returncode == 0, errtext
    commits = [json.loads(line) for out, _ in outs for line in out.splitlines()]
    versions = sorted(c["version"] for c in commits)
    assert versions == list(range(1, 401)), "versions must be 1..400, each used once"
    logged = sorted(p.name for p in (table / "_delta_log").glob("*.json"))
    assert logged == [f"{v:020d}.json" for v in range(401)]
    # Every commit file holds exactly the one file its writer says it wrote.
    by_version = {c["version"]: c["add"][0]["path"] for c in commits}
    for v in range(1, 401):
        lines = (table / "_delta_log" / f"{v:020d}.json").read_text().splitlines()
        adds = [json.loads(line)["add"]["path"] for line in lines if line.startswith('{"add"')]
        assert adds == [by_version[v]], f"version {v}"
    rep = replay(table)[0]
    schema = json.loads(rep["schema"])
    ours = csv_rows(show_csv(run_cli, table), schema)
    assert_same(ours, replay_rows(rep, schema), "race")
    for tag in ("a", "b"):
        seqs = sorted(r["seq"] for r in ours if r["tag"] == tag)
        assert seqs == sorted(list(range(1, 201)) * 2), tag


def test_conflicting_removes(run_cli, delta_gen, tmp_path):
    table = tmp_path / "c"
    lines = gen(delta_gen, "conflict", table, "--rows", "3")
    outcomes = {d["txn"]: d for d in lines if "txn" in d}
    assert outcomes["first-remove"]["status"] == "ok"
    assert outcomes["first-remove"]["version"] == 2
    second = outcomes["second-remove"]
    assert second["status"] == "conflict", second
    assert "concurrent" in second["error"] and ".parquet" in second["error"], second["error"]
    assert outcomes["append"]["status"] == "ok" and outcomes["append"]["version"] == 3
    rep = replay(table)[0]
    schema = json.loads(rep["schema"])
    assert_same(csv_rows(show_csv(run_cli, table), schema), replay_rows(rep, schema), "conflict")


# ---------------------------------------------------------------------------
# (4) Broken tables
# ---------------------------------------------------------------------------

@pytest.fixture
def small_table(delta_gen, tmp_path):
    table = tmp_path / "base"
    gen(delta_gen, "write", table, "--commits", "6", "--rows", "2", "--checkpoint-interval", "4")
    return table


def _broken(src, tmp_path, name):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst, dst / "_delta_log"


def test_missing_commit(run_cli, small_table, tmp_path):
    t, log = _broken(small_table, tmp_path, "gap")
    (log / f"{5:020d}.json").unlink()
    proc = run_cli("show", t)
    assert_clean_exit(proc)
    assert proc.returncode == 1 and f"{5:020d}.json" in proc.stderr, proc.stderr


def test_corrupt_json_line(run_cli, small_table, tmp_path):
    t, log = _broken(small_table, tmp_path, "corrupt")
    with open(log / f"{6:020d}.json", "a") as f:
        f.write('{"add": {"path": \n')
    proc = run_cli("show", t)
    assert_clean_exit(proc)
    assert proc.returncode == 1 and f"{6:020d}.json" in proc.stderr, proc.stderr


def test_checkpoint_missing(run_cli, small_table, tmp_path):
    t, log = _broken(small_table, tmp_path, "nocp")
    # _last_checkpoint names version 4, whose checkpoint is gone, and the
    # commits before it were cleaned up: nothing can rebuild the table.
    assert json.loads((log / "_last_checkpoint").read_text())["version"] == 4
    (log / f"{4:020d}.checkpoint.parquet").unlink()
    for v in range(5):
        (log / f"{v:020d}.json").unlink()
    proc = run_cli("show", t)
    assert_clean_exit(proc)
    assert proc.returncode == 1 and f"{0:020d}.json" in proc.stderr, proc.stderr


def test_unsupported_reader_feature_refused(run_cli, small_table, tmp_path):
    # A reader feature we do not implement: refused with its name, never misread.
    t, log = _broken(small_table, tmp_path, "feature")
    f = log / f"{0:020d}.json"
    lines = [json.loads(line) for line in f.read_text().splitlines()]
    for a in lines:
        if "protocol" in a:
            a["protocol"] = {"minReaderVersion": 3, "minWriterVersion": 7,
                             "readerFeatures": ["someFutureFeature"],
                             "writerFeatures": ["someFutureFeature"]}
    f.write_text("".join(json.dumps(a) + "\n" for a in lines))
    for cp in log.glob("*.checkpoint.parquet"):  # they carry the protocol too
        cp.unlink()
    (log / "_last_checkpoint").unlink()
    for cmd in (["show", t], ["describe", t]):
        proc = run_cli(*cmd)
        assert_clean_exit(proc)
        assert proc.returncode == 1 and "someFutureFeature" in proc.stderr, proc.stderr


def test_unknown_action_fields_are_ignored(run_cli, small_table, tmp_path):
    # PROTOCOL.md: readers ignore unknown fields and unknown action types.
    t, log = _broken(small_table, tmp_path, "unknown")
    f = log / f"{5:020d}.json"
    text = f.read_text().replace('"add":{"path"', '"add":{"futureField":{"x":[1]},"path"')
    f.write_text(text + '{"futureAction":{"a":1}}\n')
    before, after = show_csv(run_cli, small_table), show_csv(run_cli, t)
    assert sorted(before.splitlines()) == sorted(after.splitlines())


# ---------------------------------------------------------------------------
# The commands themselves
# ---------------------------------------------------------------------------

def test_create_table_default_and_exists(run_cli, tmp_path):
    table = tmp_path / "tables" / "movie_ratings"
    run_cli("create-table", table, check_exit=0)
    first = [json.loads(line)
             for line in (table / "_delta_log" / f"{0:020d}.json").read_text().splitlines()]
    proto = next(a["protocol"] for a in first if "protocol" in a)
    meta = next(a["metaData"] for a in first if "metaData" in a)
    assert (proto["minReaderVersion"], proto["minWriterVersion"]) == (1, 2)
    assert meta["partitionColumns"] == ["rating_date"]
    fields = json.loads(meta["schemaString"])["fields"]
    assert [(f["name"], f["type"]) for f in fields] == [
        ("event_id", "string"), ("user_id", "string"), ("movie_id", "string"),
        ("rating", "float"), ("is_approved", "boolean"), ("rating_timestamp", "long"),
        ("rating_date", "date")]
    assert any("commitInfo" in a for a in first)
    again = run_cli("create-table", table)
    assert again.returncode == 1 and "already exists" in again.stderr
    out = run_cli("describe", table, check_exit=0).stdout
    for word in ("Schema", "rating_date", "Partitioning", "minWriterVersion", "files"):
        assert word in out


def test_create_table_types(run_cli, tmp_path):
    table = tmp_path / "t"
    ddl = ("a TINYINT, b SMALLINT NOT NULL, c INT, d BIGINT, e FLOAT, f DOUBLE, g DECIMAL(12,3), "
           "h DATE, i TIMESTAMP, j BINARY, k BOOLEAN, l ARRAY<STRING>, "
           "m MAP<STRING, ARRAY<INT>>, n STRUCT<x: INT, `y z` STRING NOT NULL>, o TIMESTAMP_NTZ")
    run_cli("create-table", table, "--columns", ddl, "--partitioned-by", "h",
            "--property", "delta.checkpointInterval=7", check_exit=0)
    first = [json.loads(line)
             for line in (table / "_delta_log" / f"{0:020d}.json").read_text().splitlines()]
    meta = next(a["metaData"] for a in first if "metaData" in a)
    proto = next(a["protocol"] for a in first if "protocol" in a)
    fields = {f["name"]: f for f in json.loads(meta["schemaString"])["fields"]}
    assert [fields[k]["type"] for k in "abcdefghijk"] == [
        "byte", "short", "integer", "long", "float", "double", "decimal(12,3)", "date",
        "timestamp", "binary", "boolean"]
    assert fields["b"]["nullable"] is False
    assert fields["l"]["type"] == {"type": "array", "elementType": "string", "containsNull": True}
    assert fields["m"]["type"]["valueType"]["elementType"] == "integer"
    assert [(f["name"], f["nullable"]) for f in fields["n"]["type"]["fields"]] == [
        ("x", True), ("y z", False)]
    assert fields["o"]["type"] == "timestamp_ntz"
    assert "timestampNtz" in proto.get("readerFeatures", [])
    assert meta["configuration"] == {"delta.checkpointInterval": "7"}
    assert meta["partitionColumns"] == ["h"]


@pytest.mark.parametrize("ddl,offset", [
    ("a INT, b FOO", 9), ("a DECIMAL(50,2)", 2), ("a ARRAY<INT", 11), ("a INT,", 6),
    ("a MAP<STRING>", 12), ("a INT, a STRING", 7)])
def test_create_table_bad_ddl(run_cli, tmp_path, ddl, offset):
    proc = run_cli("create-table", tmp_path / "t", "--columns", ddl)
    assert proc.returncode == 2, proc.stderr
    assert f"offset {offset}" in proc.stderr, proc.stderr
    assert not (tmp_path / "t" / "_delta_log").exists()


def test_show_usage_errors(run_cli, small_table):
    for args in (["--where", "nope = 1"], ["--where", "id = abc"], ["--where", "id >"],
                 ["--columns", "id,nope"], ["--columns", "id,id"], ["--format", "xml"],
                 ["--version", "x"], ["--where", "id = 1 or id = 2"], ["--limit", "-1"]):
        proc = run_cli("show", small_table, *args)
        assert proc.returncode == 2, (args, proc.stderr)
    proc = run_cli("show", small_table, "--version", "99")
    assert proc.returncode == 1 and proc.stderr.startswith("streamdelta: ")


def test_show_where_columns_limit(run_cli, delta_gen, tmp_path):
    table = tmp_path / "t"
    gen(delta_gen, "write", table, "--commits", "6", "--rows", "5", "--partitioned")
    rep = replay(table)[0]
    schema = json.loads(rep["schema"])
    rows = replay_rows(rep, schema)
    cases = {
        "day >= '2024-01-02' and score > 5": lambda r: r["day"] is not None
        and r["day"] >= "2024-01-02" and r["score"] is not None and Decimal(r["score"]) > 5,
        "name is null": lambda r: r["name"] is None,
        "day is null and ok = true": lambda r: r["day"] is None and r["ok"] is True,
        "amount <= 10.00 and id != 4": lambda r: r["amount"] <= 10 and r["id"] != 4,
    }
    for cond, pred in cases.items():
        expected = [r for r in rows if pred(r)]
        assert expected, cond
        assert_same(csv_rows(show_csv(run_cli, table, "--where", cond), schema), expected, cond)
    out = parse_csv(show_csv(run_cli, table, "--columns", "day,id", "--where", "id < 3"))
    assert out[0] == ["day", "id"] and sorted(r[1] for r in out[1:]) == ["1", "2"]
    table_out = run_cli("show", table, "--limit", "3", check_exit=0).stdout
    assert "only showing top 3 rows" in table_out
    jsonl = run_cli("show", table, "--format", "jsonl", "--limit", "2", check_exit=0).stdout
    assert len(jsonl.splitlines()) == 2 and json.loads(jsonl.splitlines()[0])["id"] >= 1


def test_history(run_cli, delta_gen, tmp_path):
    table = tmp_path / "t"
    gen(delta_gen, "write", table, "--commits", "4", "--rows", "2", "--removes")
    out = parse_csv(run_cli("history", table, "--format", "csv", check_exit=0).stdout)
    assert out[0] == ["version", "timestamp", "operation", "operationParameters",
                      "operationMetrics"]
    assert [int(r[0]) for r in out[1:]] == [4, 3, 2, 1, 0]
    assert out[-1][2] == "CREATE TABLE" and out[1][2] == "WRITE"
    json.loads(out[1][3])  # operationParameters is a JSON object
    lines = run_cli("history", table, "--format", "jsonl", "--limit", "2", check_exit=0).stdout
    assert [json.loads(line)["version"] for line in lines.splitlines()] == [4, 3]


@pytest.mark.parametrize("cmd", ["create-table", "show", "history", "describe", "checkpoint"])
def test_help(run_cli, cmd):
    proc = run_cli(cmd, "--help", check_exit=0)
    assert proc.stdout.startswith(f"usage: streamdelta {cmd}") and "example" in proc.stdout
