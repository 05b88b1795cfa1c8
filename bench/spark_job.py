"""spark_job.py - the replaced job, for the `spark` section of bench/run.sh:
the PySpark 3.4.1 + Delta 2.4.0 Structured Streaming MERGE job of
DESIGN.md ("The default pipeline"), run on the same machine against the
same real-Kafka topic as `streamdelta run`.

    .cache/venv/bin/python bench/spark_job.py --bootstrap HOST:PORT --topic T \
        --table PATH --checkpoint PATH --jars JAR,JAR... [--max-offsets N]

What it does, as the job did, with the job's intent where DESIGN.md says
the job got it wrong (so that both engines do the same work):
  - readStream from Kafka (startingOffsets earliest, maxOffsetsPerTrigger),
    trigger availableNow;
  - strip the 5-byte Confluent header, from_avro with the MovieRating schema
    (the job parsed the Avro itself; no registry);
  - derive is_approved = rating >= 7, rating_date = UTC date of
    rating_timestamp;
  - per micro-batch (foreachBatch), with "today" taken at each batch: drop
    late events (rating_date < today - 5), dedupe by event_id (newest
    rating_timestamp wins, ties to the later offset), MERGE INTO the table
    on event_id within the partition window rating_date >= today - 5:
    update when the incoming row is not older and differs, insert when not
    matched.

Prints one JSON line on stdout: seconds to start the session (JVM start,
jars, table creation), seconds of the query, rows read, and every batch's
numInputRows and durationMs.triggerExecution from the
StreamingQueryProgress. Exit 1 with a message when the query fails.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ["TZ"] = "UTC"
time.tzset()

REPO = Path(__file__).resolve().parents[1]
DELTA_JARS = ("delta-core_2.12-2.4.0.jar", "delta-storage-2.4.0.jar")

MOVIE_RATING_SCHEMA = json.dumps({
    "type": "record", "name": "MovieRating", "namespace": "io.movies",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "user_id", "type": "string"},
        {"name": "movie_id", "type": "string"},
        {"name": "rating", "type": "float"},
        {"name": "rating_timestamp", "type": "long"},
    ],
})

COLUMNS = ("event_id", "user_id", "movie_id", "rating", "is_approved", "rating_timestamp",
           "rating_date")
LATE_DAYS = 5


def session(jars, scratch):
    from pyspark.sql import SparkSession

    jar_dir = REPO / ".cache" / "jars"
    delta = [str(jar_dir / j) for j in DELTA_JARS]
    missing = [j for j in delta + jars if not Path(j).is_file()]
    if missing:
        raise SystemExit(f"spark_job: missing jars: {', '.join(missing)} "
                         "(scripts/test-support.sh and bench/spark-jars.sh fetch them)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (SparkSession.builder.master("local[2]").appName("movie-ratings-streaming")
            .config("spark.jars", ",".join(delta + jars))
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog",
                    "org.apache.spark.sql.delta.catalog.DeltaCatalog")
            .config("spark.driver.memory", "2g")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.databricks.delta.snapshotPartitions", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.streaming.numRecentProgressUpdates", "100000")
            # Spark makes its (empty) warehouse directory where it starts;
            # keep it beside the table, not in the caller's directory.
            .config("spark.sql.warehouse.dir", str(Path(scratch) / "spark-warehouse"))
            .getOrCreate())


def create_table(spark, table):
    spark.sql(f"""CREATE TABLE IF NOT EXISTS delta.`{table}` (
        event_id STRING, user_id STRING, movie_id STRING, rating FLOAT,
        is_approved BOOLEAN, rating_timestamp BIGINT, rating_date DATE)
        USING DELTA PARTITIONED BY (rating_date)""")


def upsert_batch(table):
    """The foreachBatch function: late filter, dedupe, MERGE."""
    from delta.tables import DeltaTable
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def run(batch, _batch_id):
        window_start = F.date_sub(F.current_date(), LATE_DAYS)
        newest = Window.partitionBy("event_id").orderBy(
            F.col("rating_timestamp").desc(), F.col("offset").desc(), F.col("partition").desc())
        rows = (batch.where(F.col("rating_date") >= window_start)
                .withColumn("_n", F.row_number().over(newest)).where("_n = 1")
                .select(*COLUMNS).persist())
        try:
            (DeltaTable.forPath(batch.sparkSession, table).alias("t")
             .merge(rows.alias("s"),
                    "t.event_id = s.event_id AND "
                    f"t.rating_date >= date_sub(current_date(), {LATE_DAYS})")
             .whenMatchedUpdateAll(condition=(
                 "s.rating_timestamp >= t.rating_timestamp AND NOT ("
                 "s.rating_timestamp = t.rating_timestamp AND s.rating <=> t.rating AND "
                 "s.user_id <=> t.user_id AND s.movie_id <=> t.movie_id)"))
             .whenNotMatchedInsertAll()
             .execute())
        finally:
            rows.unpersist()

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--jars", required=True, help="comma-separated Kafka/Avro jars")
    ap.add_argument("--max-offsets", type=int, default=100000)
    args = ap.parse_args()

    t0 = time.monotonic()
    spark = session([j for j in args.jars.split(",") if j], Path(args.table).parent)
    spark.sparkContext.setLogLevel("WARN")
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro

    create_table(spark, args.table)
    t1 = time.monotonic()

    events = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", args.bootstrap)
              .option("subscribe", args.topic)
              .option("startingOffsets", "earliest")
              .option("maxOffsetsPerTrigger", str(args.max_offsets))
              .option("failOnDataLoss", "true")
              .load()
              .select(from_avro(F.expr("substring(value, 6, length(value) - 5)"),
                                MOVIE_RATING_SCHEMA).alias("r"), "partition", "offset")
              .select("r.*", "partition", "offset")
              .withColumn("is_approved", F.col("rating") >= 7)
              .withColumn("rating_date", F.to_date(F.timestamp_seconds("rating_timestamp"))))
    query = (events.writeStream.foreachBatch(upsert_batch(args.table))
             .option("checkpointLocation", args.checkpoint)
             .trigger(availableNow=True)
             .start())
    query.awaitTermination()
    t2 = time.monotonic()
    if query.exception() is not None:
        raise SystemExit(f"spark_job: the query failed: {query.exception()}")
    batches = [{"rows": p["numInputRows"], "ms": p["durationMs"].get("triggerExecution", 0)}
               for p in query.recentProgress if p["numInputRows"] > 0]
    print(json.dumps({"startup_s": round(t1 - t0, 3), "query_s": round(t2 - t1, 3),
                      "rows": sum(b["rows"] for b in batches), "batches": batches}), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
