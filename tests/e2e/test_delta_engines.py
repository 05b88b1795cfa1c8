"""test_delta_engines.py - engines that no one here wrote read Delta tables:
Spark 3.4.1 + Delta 2.4.0 (the replaced PySpark job's versions, through
tests/support/spark_read.py) and delta-rs (PyPI `deltalake`, through
tests/support/deltars_read.py).

  * Every table under the shared conformance directory (env SD_CONFORMANCE,
    default ../shared/conformance/delta-tables), latest version and a few
    earlier ones: Spark's rows and delta-rs's rows equal ours
    (`streamdelta show TABLE --format jsonl [--version N]`), all sorted and
    normalised by canon.py. A table an engine cannot read is listed in
    UNREADABLE with the reason, and the test checks that it really fails
    there (a list that went stale fails too).
  * Tables we write (tests/tools/delta_gen: many commits, partitions,
    removes, txn actions, checkpoints): both engines read exactly the rows
    the generator reports, at the latest version and at earlier ones (time
    travel), and so do we; also copies of them whose log starts at their
    last checkpoint, so that only our checkpoint file describes the table.
    (delta.h writes no deletion vectors, so our tables have none; the DV
    reading of the engines is checked on the conformance tables.)
  * Neither engine leaves a process behind: each runs in a process group of
    its own that must be empty once its script has exited (the JVM exits
    when pyspark's stdin closes); the group is killed in any case.

Start-up is what costs (Spark: ~12 s on 2 cores), so each engine reads every
table of the session in one process, once: generated tables are written
first, then both engines run. Measured here on 2 busy cores: Spark 75-105 s
for 34 readings (COVID-19_NYT's 1.1M rows are ~35 s of it), delta-rs ~20 s,
the module 2-3 minutes. Marked slow (-m 'not slow' leaves it out); CI runs it.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from canon import first_difference, normalize_rows, parse_jsonl

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "tests" / "support"
sys.path.insert(0, str(SUPPORT))
from engine_rows import delta_schema_to_arrow  # noqa: E402

PYTHON = REPO / ".cache" / "venv" / "bin" / "python"
CONFORMANCE = Path(os.environ.get("SD_CONFORMANCE",
                                  REPO.parent / "shared" / "conformance" / "delta-tables"))
ENGINE_TIMEOUT = 900
# A JVM needs a moment to notice that its parent's pipe closed.
GROUP_GRACE_S = 20

pytestmark = pytest.mark.slow

CONFORMANCE_TABLES = sorted(p.name for p in CONFORMANCE.iterdir()
                            if (p / "_delta_log").is_dir()) if CONFORMANCE.is_dir() else []

# Earlier versions read besides the latest one (time travel): before and
# after removes, before a checkpoint and through one.
CONFORMANCE_VERSIONS = {
    "simple_table": [0, 2, 3],
    "simple_table_with_checkpoint": [3, 9],
    "delta-0.2.0": [1, 2],
    "delta-1.2.1-only-struct-stats": [4, 11],
    "delta-0.8.0": [0],
}

# Tables (and why) that an engine cannot read. Each entry is checked to
# fail with that engine, with the given text in its error.
UNREADABLE = {
    "spark": {
        "checkpoints": ("a log-only fixture: its data files are not part of the set",
                        "FileNotFound"),
    },
    "delta-rs": {
        "checkpoints": ("a log-only fixture: its data files are not part of the set",
                        "not found"),
        "table-with-dv-small": ("deltalake's reader refuses the deletionVectors reader feature "
                                "(Delta 2.4 reads it; so do we)", "deletionVectors"),
    },
    "streamdelta": {
        "checkpoints": ("a log-only fixture: its data files are not part of the set",
                        ".parquet"),
    },
}


# ---------------------------------------------------------------------------
# Engine processes
# ---------------------------------------------------------------------------

def _group_members(pgid):
    """Pids of live processes in process group `pgid` (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parens.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


class EngineRun:
    """One process of a reader script over many tables. `results` maps
    (table path, version or None) to the script's JSON item; `error` is set
    when the process itself failed; `leftover` lists processes of its group
    still alive after it exited (they are killed)."""

    def __init__(self, name, script, specs, log_dir):
        self.name = name
        # A reader killed by a signal (seen once: delta-rs aborting with
        # "terminate called without an active exception" on a loaded
        # machine) gets one more try; a second crash is the result.
        for attempt in (1, 2):
            self._run(script, specs, log_dir, attempt)
            if self.error is None or self.returncode >= 0 or self.timed_out:
                break

    def _run(self, script, specs, log_dir, attempt):
        name = self.name
        self.results = {}
        self.error = None
        self.leftover = []
        self.returncode = 0
        self.timed_out = False
        log = log_dir / f"{name}.{attempt}.stderr"
        start = time.monotonic()
        with open(log, "w") as err:
            proc = subprocess.Popen([str(PYTHON), str(script), *specs], stdout=subprocess.PIPE,
                                    stderr=err, start_new_session=True, text=True)
            try:
                out, _ = proc.communicate(timeout=ENGINE_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, _ = proc.communicate()
                self.error = f"{name} timed out after {ENGINE_TIMEOUT} s"
                self.timed_out = True
            except BaseException:
                # Interrupted (Ctrl-C, a pytest timeout): the group has its
                # own session, so nothing else would stop it.
                os.killpg(proc.pid, signal.SIGKILL)
                raise
        self.elapsed = time.monotonic() - start
        self._reap(proc.pid)
        self.returncode = proc.returncode
        if self.error is None and proc.returncode != 0:
            self.error = f"{script.name} exited {proc.returncode}: {log.read_text()[-3000:]}"
        for line in out.splitlines():
            if line.strip():
                item = json.loads(line)
                self.results[(item["table"], item["version"])] = item

    def _reap(self, pgid):
        deadline = time.monotonic() + GROUP_GRACE_S
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.5)
        self.leftover = _group_members(pgid)
        if self.leftover:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def item(self, path, version=None):
        if self.error is not None:
            pytest.fail(self.error)
        key = (str(path), version)
        if key not in self.results:
            pytest.fail(f"{self.name} printed nothing for {path} version {version}")
        return self.results[key]


def _spec(path, version):
    return str(path) if version is None else f"{path}@v{version}"


# ---------------------------------------------------------------------------
# Tables we write (tests/tools/delta_gen)
# ---------------------------------------------------------------------------

# name -> delta_gen arguments. Many commits, removes, txn actions and a
# checkpoint in each; one partitioned, one not.
GENERATED = {
    "partitioned": ["--commits", "24", "--partitioned", "--removes", "--txn",
                    "--checkpoint-interval", "10", "--seed", "11"],
    "flat": ["--commits", "13", "--removes", "--txn", "--checkpoint-interval", "5",
             "--seed", "5"],
}
# Earlier versions read by time travel: before the first checkpoint, at it,
# after it.
GENERATED_VERSIONS = {"partitioned": [3, 10, 17], "flat": [2, 5, 9]}
# Copies of those whose log starts at their last checkpoint (every file of
# an older version, and the commit of the checkpoint's own version, deleted):
# a reader can only get the table through our checkpoint Parquet file.
FROM_CHECKPOINT = {"partitioned-from-checkpoint": "partitioned",
                   "flat-from-checkpoint": "flat"}


class Generated:
    """A table delta_gen wrote and the rows it says each version holds."""

    def __init__(self, path, expected):
        self.path = path
        self.expected = expected  # version (None = latest) -> rows


def _write_generated(delta_gen, root):
    tables, errors = {}, {}
    for name, args in GENERATED.items():
        path = root / name
        proc = subprocess.run([str(delta_gen), "write", str(path), *args], capture_output=True,
                              text=True, timeout=300)
        if proc.returncode != 0:
            errors[name] = f"delta_gen write {name} exited {proc.returncode}: {proc.stderr[-3000:]}"
            continue
        try:
            tables[name] = Generated(path, _generator_rows(proc.stdout, GENERATED_VERSIONS[name]))
        except (ValueError, KeyError) as e:
            errors[name] = f"cannot read delta_gen's report for {name}: {e}"
    for name, source in FROM_CHECKPOINT.items():
        if source not in tables:
            errors[name] = errors[source]
            continue
        try:
            tables[name] = _from_checkpoint(tables[source], root / name)
        except (OSError, ValueError, KeyError) as e:
            errors[name] = f"cannot cut {source}'s log at its checkpoint: {e!r}"
    return tables, errors


def _from_checkpoint(source, path):
    shutil.copytree(source.path, path)
    log = path / "_delta_log"
    last = json.loads((log / "_last_checkpoint").read_text())["version"]
    for f in log.iterdir():
        version = f.name.split(".")[0]
        if version.isdigit() and int(version) <= last and \
                f.name != f"{last:020d}.checkpoint.parquet":
            f.unlink()
    if not (log / f"{last:020d}.checkpoint.parquet").is_file():
        raise ValueError(f"{log}: _last_checkpoint names version {last}, which has no checkpoint")
    return Generated(path, {None: source.expected[None]})


def _generated_row(row_id, day):
    """Row `row_id` of a delta_gen table, from the rule its header states
    (not from its code): name "n<id>" (null when id % 7 == 3), score
    id * 0.5 (null when id % 11 == 5), amount id * 1.25 exactly,
    ok = id % 2 == 0, day the file's day (null for a null partition)."""
    return {"id": row_id,
            "name": None if row_id % 7 == 3 else f"n{row_id}",
            "score": None if row_id % 11 == 5 else row_id * 0.5,
            "amount": Decimal(row_id) * Decimal("1.25"),
            "ok": row_id % 2 == 0,
            "day": day}


def _generator_rows(report, versions):
    """The rows of the latest version and of `versions`, from delta_gen's
    report, one JSON line per commit:
      {"version":V,"add":[{"path":P,"rows":R,"first_id":I,"day":D|null}],
       "remove":[P],"checkpoint":bool}
    Replaying adds and removes by path gives each version's rows without
    our reader."""
    commits = [json.loads(line) for line in report.splitlines() if line.startswith("{")]
    if not commits:
        raise ValueError("no commit lines in its output")
    latest = max(c["version"] for c in commits)
    if not any(c["remove"] for c in commits):
        raise ValueError("it removed no file")
    expected = {}
    for v in sorted(set(versions) | {latest}):
        live = {}
        for c in sorted(commits, key=lambda c: c["version"]):
            if c["version"] > v:
                break
            for path in c["remove"]:
                del live[path]  # a KeyError: a remove of a file not live
            for add in c["add"]:
                live[add["path"]] = [_generated_row(add["first_id"] + r, add["day"])
                                     for r in range(add["rows"])]
        expected[None if v == latest else v] = [r for rows in live.values() for r in rows]
    return expected


# ---------------------------------------------------------------------------
# Session fixtures: tables first, then one run of each engine over all of them
# ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def generated(build_dir, tmp_path_factory):
    delta_gen = build_dir / "delta_gen"
    if not delta_gen.exists():
        return {}, {name: f"{delta_gen} is missing: build it (make BUILD={build_dir.name} all)"
                    for name in GENERATED}
    return _write_generated(delta_gen, tmp_path_factory.mktemp("generated"))


def _all_specs(generated_tables):
    specs = []
    for name in CONFORMANCE_TABLES:
        specs.append(_spec(CONFORMANCE / name, None))
        specs += [_spec(CONFORMANCE / name, v) for v in CONFORMANCE_VERSIONS.get(name, [])]
    for table in generated_tables.values():
        specs += [_spec(table.path, v) for v in table.expected]
    return specs


@pytest.fixture(scope="session")
def engines(generated, tmp_path_factory):
    """Both engines' readings of every table of the session."""
    if not PYTHON.exists():
        pytest.fail(f"{PYTHON} is missing: run scripts/test-support.sh")
    specs = _all_specs(generated[0])
    log_dir = tmp_path_factory.mktemp("engines")
    runs = {"spark": EngineRun("spark", SUPPORT / "spark_read.py", specs, log_dir),
            "delta-rs": EngineRun("delta-rs", SUPPORT / "deltars_read.py", specs, log_dir)}
    for run in runs.values():
        sys.stderr.write(f"\n{run.name}: {len(specs)} table readings in {run.elapsed:.1f} s\n")
    return runs


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------

def _sorted(rows):
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=repr))


def _canonical(rows, schema):
    return _sorted(normalize_rows(rows, schema))


def _our_rows(run_cli, path, version=None):
    """(rows, None) from `streamdelta show`, or (None, error text)."""
    args = ["show", path, "--format", "jsonl", "--limit", "0"]
    if version is not None:
        args += ["--version", version]
    proc = run_cli(*args)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"
    return parse_jsonl(proc.stdout), None


def _schema_of(items):
    """The table's Arrow schema from the Delta schema an engine reported."""
    for item in items:
        if item is not None and "schema" in item:
            return delta_schema_to_arrow(item["schema"])
    return None


def _check_unreadable(engine, table, item_or_error):
    reason, text = UNREADABLE[engine][table]
    error = item_or_error if isinstance(item_or_error, str) else item_or_error.get("error")
    assert error is not None, (f"{engine} now reads {table}: remove it from UNREADABLE "
                               f"(listed because {reason})")
    assert text.lower() in error.lower(), (f"{engine} fails on {table}, but not for the listed "
                                           f"reason ({reason}): {error}")


CONFORMANCE_CASES = [(name, v) for name in CONFORMANCE_TABLES
                     for v in [None] + CONFORMANCE_VERSIONS.get(name, [])]


def test_conformance_tables_present():
    assert CONFORMANCE_TABLES, f"no Delta table under {CONFORMANCE} (set SD_CONFORMANCE)"
    for name in CONFORMANCE_VERSIONS:
        assert name in CONFORMANCE_TABLES, f"{name} is gone from {CONFORMANCE}"


@pytest.mark.parametrize("name,version", CONFORMANCE_CASES,
                         ids=[n if v is None else f"{n}@v{v}" for n, v in CONFORMANCE_CASES])
def test_conformance_table(run_cli, engines, name, version):
    path = CONFORMANCE / name
    items = {e: engines[e].item(path, version) for e in ("spark", "delta-rs")}
    ours, our_error = _our_rows(run_cli, path, version)
    for engine, item in [*items.items(), ("streamdelta", our_error if ours is None else {})]:
        if name in UNREADABLE[engine]:
            _check_unreadable(engine, name, item)
        elif engine == "streamdelta":
            assert ours is not None, (f"streamdelta cannot read {path} version {version}: "
                                      f"{our_error}")
        else:
            assert "error" not in item, (f"{engine} cannot read {path} version {version}: "
                                         f"{item['error']}")
    readable = {e: item["rows"] for e, item in items.items() if "rows" in item}
    if ours is not None:
        readable["streamdelta"] = ours
    schema = _schema_of(items.values())
    canon = {e: _canonical(rows, schema) for e, rows in readable.items()}
    # Every pair that read the table agrees; ours is the reference when present.
    names = sorted(canon, key=lambda e: e != "streamdelta")
    for other in names[1:]:
        diff = first_difference(canon[names[0]], canon[other], names[0], other)
        assert diff is None, f"{name} version {version}: {diff}"


GENERATED_CASES = ([(name, v) for name in GENERATED for v in [None] + GENERATED_VERSIONS[name]]
                   + [(name, None) for name in FROM_CHECKPOINT])


@pytest.mark.parametrize("engine", ["spark", "delta-rs", "streamdelta"])
@pytest.mark.parametrize("name,version", GENERATED_CASES,
                         ids=[n if v is None else f"{n}@v{v}" for n, v in GENERATED_CASES])
def test_generated_table(run_cli, generated, engines, engine, name, version):
    tables, errors = generated
    if name in errors:
        pytest.fail(errors[name])
    table = tables[name]
    items = [engines[e].item(table.path, version) for e in ("spark", "delta-rs")]
    schema = _schema_of(items)
    assert schema is not None, f"neither engine read {table.path}: {items}"
    if engine == "streamdelta":
        rows, error = _our_rows(run_cli, table.path, version)
        assert rows is not None, f"streamdelta cannot read {table.path} version {version}: {error}"
    else:
        item = engines[engine].item(table.path, version)
        assert "error" not in item, (f"{engine} cannot read {table.path} version {version}: "
                                     f"{item['error']}")
        rows = item["rows"]
    expected = _canonical(table.expected[version], schema)
    diff = first_difference(expected, _canonical(rows, schema), "delta_gen", engine)
    assert diff is None, f"{name} version {version}: {diff}"


def test_generated_tables_have_history(generated):
    """The generated tables are what this module promises: many commits, a
    checkpoint, removes (some version loses rows) and partitions."""
    tables, errors = generated
    assert not errors, errors
    for name in GENERATED:
        log = tables[name].path / "_delta_log"
        commits = sorted(log.glob("*.json"))
        assert len(commits) >= 10, f"{name}: only {len(commits)} commits"
        assert list(log.glob("*.checkpoint.parquet")), f"{name}: no checkpoint"
        removes = sum('"remove"' in c.read_text() for c in commits)
        assert removes, f"{name}: no remove action"
    part = tables["partitioned"].path
    assert [d for d in part.iterdir() if "=" in d.name], f"{part}: no partition directory"


@pytest.mark.parametrize("engine", ["spark", "delta-rs"])
def test_engine_left_no_process(engines, engine):
    run = engines[engine]
    assert not run.leftover, (f"{engine}: processes {run.leftover} were still running "
                              f"{GROUP_GRACE_S} s after its reader exited (killed)")
