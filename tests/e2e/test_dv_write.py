"""test_dv_write.py - deletion vectors we write, read by an engine no one
here wrote: Spark 3.4.1 + Delta 2.4.0 (tests/support/spark_read.py).

`delta_gen dv` creates a table with delta.enableDeletionVectors=true
(protocol 3/7, feature deletionVectors), adds files, and in later commits
marks random rows of live files deleted with deletion vectors (a file hit
again gets the union of its old and new deletions), removes whole files
(with their DV), and checkpoints. It prints what it did; the rows each
version must hold are computed here from that report alone: ids of live
files minus the deleted row indexes. Spark and `streamdelta show` must
return exactly those rows - the deleted rows never appear - at the latest
version and by time travel (one version read through a checkpoint).

The stream itself: `streamdelta run` with sink.deletion_vectors = true
creates its table with the feature, and its MERGE marks updated rows
deleted with deletion vectors instead of rewriting files; after rounds of
events with updates and duplicates (the producer stack and expectations of
test_run.py), Spark and `show` both return exactly the upsert result.

delta-rs (PyPI deltalake 1.6.6) refuses tables that need the
deletionVectors reader feature; it is run too, and must refuse for that
reason (if it starts reading them, this test says so).

Marked slow (Spark start-up); CI runs it.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_delta_engines import (PYTHON, SUPPORT, EngineRun, _canonical,  # noqa: E402
                                _generated_row, _our_rows, _schema_of, _spec)
from canon import first_difference  # noqa: E402
from kafka_services import Broker  # noqa: E402
from test_run import Events, check_table, run_stream, send, table_rows_show  # noqa: E402

pytestmark = pytest.mark.slow

DV_ARGS = ["--commits", "12", "--rows", "40", "--partitioned", "--checkpoint-interval", "5",
           "--seed", "7"]
# Before the first DV is replaced by a union, at the checkpoint, after it.
DV_VERSIONS = [2, 5, 8]


def _expected_rows(report, versions):
    """version (None = latest) -> rows, replaying delta_gen's report:
    {"version":V,"add":[{"path","rows","first_id","day"}],"remove":[P],
     "delete":[{"path":P,"rows":[row index...]}]}"""
    commits = sorted((json.loads(line) for line in report.splitlines()
                      if line.startswith("{")), key=lambda c: c["version"])
    latest = commits[-1]["version"]
    expected = {}
    for v in sorted(set(versions) | {latest}):
        live, deleted = {}, {}
        for c in commits:
            if c["version"] > v:
                break
            for path in c["remove"]:
                del live[path]
                deleted.pop(path, None)
            for d in c["delete"]:
                assert d["path"] in live, f"v{c['version']} deletes rows of {d['path']}, not live"
                gone = deleted.setdefault(d["path"], set())
                assert not gone & set(d["rows"]), "a row reported deleted twice"
                gone.update(d["rows"])
            for add in c["add"]:
                live[add["path"]] = add
        rows = []
        for path, add in live.items():
            gone = deleted.get(path, set())
            rows += [_generated_row(add["first_id"] + r, add["day"])
                     for r in range(add["rows"]) if r not in gone]
        expected[None if v == latest else v] = rows
    return commits, expected


@pytest.fixture(scope="module")
def dv_table(build_dir, tmp_path_factory):
    delta_gen = build_dir / "delta_gen"
    assert delta_gen.exists(), f"{delta_gen} is missing: build it (make BUILD={build_dir.name} all)"
    path = tmp_path_factory.mktemp("dv") / "dv_table"
    proc = subprocess.run([str(delta_gen), "dv", str(path), *DV_ARGS], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"delta_gen dv exited {proc.returncode}: {proc.stderr[-3000:]}"
    commits, expected = _expected_rows(proc.stdout, DV_VERSIONS)
    return path, commits, expected


@pytest.fixture(scope="module")
def dv_stream(streamdelta, tmp_path_factory):
    """A table the stream wrote with sink.deletion_vectors = true, three
    rounds of events with updates; (table, Events) or (None, error)."""
    tmp = tmp_path_factory.mktemp("dv-stream")
    broker = Broker(streamdelta, tmp, "--topic", "movie.ratings.v1:3")
    try:
        topic = "movie.ratings.v1"
        ev = Events(seed=23)
        table, dlq = tmp / "t", tmp / "dlq.jsonl"
        for _ in range(3):
            send(broker.bootstrap, broker.registry, topic, ev.make(1500, upd=0.25))
            r = run_stream(streamdelta, broker.env, broker.bootstrap, broker.registry, topic,
                           table, dlq, "--set", "trigger.max_batch_records=400", "--set",
                           "sink.deletion_vectors=true")
            if r.returncode != 0:
                return None, f"streamdelta run exited {r.returncode}: {r.stderr[-3000:]}"
        return table, ev
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def dv_engines(dv_table, dv_stream, tmp_path_factory):
    if not PYTHON.exists():
        pytest.fail(f"{PYTHON} is missing: run scripts/test-support.sh")
    path, _, expected = dv_table
    specs = [_spec(path, v) for v in expected]
    if dv_stream[0] is not None:
        specs.append(_spec(dv_stream[0], None))
    log_dir = tmp_path_factory.mktemp("dv-engines")
    return {"spark": EngineRun("spark", SUPPORT / "spark_read.py", specs, log_dir),
            "delta-rs": EngineRun("delta-rs", SUPPORT / "deltars_read.py", specs, log_dir)}


def test_dv_table_is_what_it_claims(dv_table):
    """Protocol 3/7 with deletionVectors, DV files on disk, adds carrying
    deletionVector descriptors, a file whose DV was replaced by a union,
    a checkpoint, and rows actually deleted at the latest version."""
    path, commits, expected = dv_table
    log = path / "_delta_log"
    first = (log / f"{0:020d}.json").read_text()
    proto = next(json.loads(line)["protocol"] for line in first.splitlines()
                 if '"protocol"' in line)
    assert proto["minReaderVersion"] == 3 and proto["minWriterVersion"] == 7
    assert "deletionVectors" in proto["readerFeatures"]
    assert "deletionVectors" in proto["writerFeatures"]
    assert list(path.glob("deletion_vector_*.bin")), "no DV file written"
    dv_adds = [json.loads(line)["add"] for f in sorted(log.glob("*.json"))
               for line in f.read_text().splitlines() if '"deletionVector"' in line
               and line.startswith('{"add"')]
    assert dv_adds and all(a["deletionVector"]["storageType"] == "u" for a in dv_adds)
    hits = {}
    for c in commits:
        for d in c["delete"]:
            hits[d["path"]] = hits.get(d["path"], 0) + 1
    assert max(hits.values()) >= 2, "no file got a second deletion vector (union)"
    assert list(log.glob("*.checkpoint.parquet")), "no checkpoint"
    added = sum(a["rows"] for c in commits for a in c["add"])
    removed_files = sum(len(c["remove"]) for c in commits)
    assert removed_files, "no whole-file remove"
    assert len(expected[None]) < added, "nothing deleted at the latest version"


@pytest.mark.parametrize("version", [None] + DV_VERSIONS,
                         ids=["latest"] + [f"v{v}" for v in DV_VERSIONS])
@pytest.mark.parametrize("engine", ["spark", "streamdelta"])
def test_deleted_rows_never_appear(run_cli, dv_table, dv_engines, engine, version):
    path, _, expected = dv_table
    item = dv_engines["spark"].item(path, version)
    assert "error" not in item, f"spark cannot read {path} version {version}: {item['error']}"
    schema = _schema_of([item])
    if engine == "spark":
        rows = item["rows"]
    else:
        rows, error = _our_rows(run_cli, path, version)
        assert rows is not None, f"streamdelta cannot read {path} version {version}: {error}"
    diff = first_difference(_canonical(expected[version], schema), _canonical(rows, schema),
                            "delta_gen", engine)
    assert diff is None, f"version {version}: {diff}"


def test_deltars_refuses_deletion_vectors(dv_table, dv_engines):
    """deltalake 1.6.6 does not implement the deletionVectors reader
    feature: it must refuse (never misread) - and if it ever reads the table,
    this fails so the note can go."""
    path, _, expected = dv_table
    for version in expected:
        item = dv_engines["delta-rs"].item(path, version)
        assert "error" in item, f"delta-rs now reads {path} version {version}: check its rows"
        assert "deletionvectors" in item["error"].lower(), item["error"]


@pytest.mark.parametrize("engine", ["spark", "delta-rs"])
def test_dv_engine_left_no_process(dv_engines, engine):
    assert not dv_engines[engine].leftover, f"{engine}: processes left running"


def test_stream_updates_with_deletion_vectors(streamdelta, dv_stream, dv_engines):
    table, ev = dv_stream
    assert table is not None, ev
    log = table / "_delta_log"
    first = (log / f"{0:020d}.json").read_text()
    assert '"readerFeatures":["deletionVectors"]' in first, first
    text = "".join(f.read_text() for f in sorted(log.glob("*.json")))
    assert '"deletionVector":{' in text, "the stream's updates wrote no deletion vector"
    assert '"numTargetFilesRemoved":"0"' in text
    check_table(table_rows_show(streamdelta, table), ev.expected(), "streamdelta")
    item = dv_engines["spark"].item(table, None)
    assert "error" not in item, f"spark cannot read {table}: {item['error']}"
    check_table(item["rows"], ev.expected(), "spark")
