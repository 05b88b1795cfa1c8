"""spark_read.py - Spark 3.4.1 + Delta 2.4.0 (the engine the replaced PySpark
job ran) reads Delta tables and prints their rows as JSON lines.

    .cache/venv/bin/python tests/support/spark_read.py TABLE[@vN]...

One SparkSession (local[2], driver memory 1g, UI off, session time zone UTC)
reads every table asked for, since start-up is the slow part: one line per
table in the form of engine_rows.py, an error line when Spark cannot read a
table (the others are still read). Exit status 0 unless Spark itself could
not start (exit 3).

The Delta jars come from .cache/jars (scripts/test-support.sh fetches them
with Maven through tests/support/spark/pom.xml; env SD_SPARK_JARS overrides
the directory). The JVM is pyspark's child and exits when its stdin closes,
so killing this process's group never leaves a JVM behind; the session is
stopped on every path out of main().
"""

import os
import sys
import time
from pathlib import Path

# Naive datetimes that pyspark builds for TIMESTAMP columns are in the
# process's local zone: make that UTC before pyspark is imported.
os.environ["TZ"] = "UTC"
time.tzset()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_rows import (binary_text, date_text, decimal_value, first_lines,  # noqa: E402
                         float_value, json_text, parse_spec, timestamp_text)

REPO = Path(__file__).resolve().parents[2]
JARS = Path(os.environ.get("SD_SPARK_JARS", REPO / ".cache" / "jars"))
DELTA_JARS = ("delta-core_2.12-2.4.0.jar", "delta-storage-2.4.0.jar")


def start_session():
    from pyspark.sql import SparkSession

    missing = [j for j in DELTA_JARS if not (JARS / j).is_file()]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)} in {JARS} (run scripts/test-support.sh)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (SparkSession.builder.master("local[2]").appName("streamdelta-engine-tests")
               .config("spark.jars", ",".join(str(JARS / j) for j in DELTA_JARS))
               .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
               .config("spark.sql.catalog.spark_catalog",
                       "org.apache.spark.sql.delta.catalog.DeltaCatalog")
               .config("spark.driver.memory", "1g")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               # Delta replays the log in this many tasks (default 50): the
               # tables read here are small, and 50 tasks cost seconds each.
               .config("spark.databricks.delta.snapshotPartitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
               # Spark's own timestamps (INT96 of old files) are not rebased:
               # the conformance tables were written by Spark 3 in CORRECTED mode.
               .config("spark.sql.parquet.int96RebaseModeInRead", "CORRECTED")
               .config("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def to_json_value(v, dt):
    """One Spark value of data type `dt` in the canonical JSON form."""
    from pyspark.sql import types as T

    if v is None:
        return None
    if isinstance(dt, T.StructType):
        return {f.name: to_json_value(v[i], f.dataType) for i, f in enumerate(dt.fields)}
    if isinstance(dt, T.ArrayType):
        return [to_json_value(x, dt.elementType) for x in v]
    if isinstance(dt, T.MapType):
        return {str(to_json_value(k, dt.keyType)): to_json_value(x, dt.valueType)
                for k, x in v.items()}
    if isinstance(dt, (T.FloatType, T.DoubleType)):
        return float_value(v)
    if isinstance(dt, T.DecimalType):
        return decimal_value(v)
    if isinstance(dt, (T.TimestampType, T.TimestampNTZType)):
        return timestamp_text(v)
    if isinstance(dt, T.DateType):
        return date_text(v)
    if isinstance(dt, T.BinaryType):
        return binary_text(v)
    return v


def read_table(spark, path, version):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    df = reader.load(path)
    fields = df.schema.fields
    rows = [{f.name: to_json_value(r[i], f.dataType) for i, f in enumerate(fields)}
            for r in df.collect()]
    return {"schema": df.schema.json(), "rows": rows}


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        spark = start_session()
    except Exception as e:  # noqa: BLE001 - reported, then exit 3
        print(f"spark_read: cannot start Spark: {first_lines(e)}", file=sys.stderr)
        return 3
    try:
        for spec in argv:
            path, version = parse_spec(spec)
            item = {"table": path, "version": version}
            try:
                item.update(read_table(spark, path, version))
            except Exception as e:  # noqa: BLE001 - one table's error, the others go on
                item["error"] = first_lines(getattr(e, "desc", None) or e)
            print(json_text(item), flush=True)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
