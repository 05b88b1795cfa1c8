"""test_bench_freshness.py - the measuring tool of the freshness benchmark
(bench/freshness.c) counts what it should: on the embedded broker, a table
that `streamdelta run --available-now` filled with the first 3000 events of
a topic, then 1000 more events the table has not seen. `freshness watch`
must find exactly the 3000 covered by the table's txn offsets visible (and
every commit), and `freshness drain` must read all 4000 raw. The figures
themselves are timings and are not asserted."""

import json
import subprocess

TOPIC = "movie.ratings.v1"


def run(args, env, timeout=120):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    assert r.returncode == 0, f"{args[:2]} exited {r.returncode}: {r.stderr[-3000:]}"
    return r


def figures(stdout):
    return dict(line.split(" ", 1) for line in stdout.splitlines() if " " in line)


def test_watch_counts_what_the_table_covers(broker, streamdelta, build_dir, tmp_path):
    fresh = build_dir / "freshness"
    table = tmp_path / "table"
    run([streamdelta, "produce", "--topic", TOPIC, "--count", 3000, "--duplicates", "10%",
         "--late", "5%", "--seed", 3, "--quiet"], broker.env)
    progress = tmp_path / "progress.jsonl"
    run([streamdelta, "run", "--available-now", "--table", table, "--dead-letters",
         tmp_path / "dead.jsonl", "--progress-json", progress], broker.env)
    assert sum(json.loads(l)["numInputRows"] for l in progress.read_text().splitlines()) == 3000
    run([streamdelta, "produce", "--topic", TOPIC, "--count", 1000, "--seed", 4, "--quiet"],
        broker.env)

    # 4000 expected, 3000 covered: it gives up after 2 quiet seconds.
    out = figures(run([fresh, "watch", broker.bootstrap, TOPIC, table, 4000, 2], broker.env).stdout)
    assert out["messages"] == "4000"
    assert out["visible"] == "3000"
    commits = len(list((table / "_delta_log").glob("*.json")))
    assert out["commits"] == str(commits) and commits >= 2
    for name in ("fresh", "raw"):
        p50, p99, top = (int(out[f"{name}_{q}"]) for q in ("p50", "p99", "max"))
        assert 0 <= p50 <= p99 <= top

    out = figures(run([fresh, "drain", broker.bootstrap, TOPIC], broker.env).stdout)
    assert out["messages"] == "4000" and out["expected"] == "4000"
    assert out["low_watermarks"] == "0"
    assert int(out["bytes"]) > 4000 * 100  # three 36-character ids per event


def test_usage(build_dir):
    r = subprocess.run([str(build_dir / "freshness")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage: freshness watch" in r.stderr
