#!/usr/bin/env bash
# Fetch, once, the jars the replaced PySpark job (bench/spark_job.py) needs
# beside pyspark and Delta: Spark 3.4.1's Kafka source (with kafka-clients,
# commons-pool2, the Kafka token provider) and spark-avro, from Maven Central
# into .cache/jars (ignored by git) through bench/spark/pom.xml. Prints the
# comma-separated list for spark.jars. Offline-safe: Maven runs only when a
# jar is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
jars="$PWD/.cache/jars"
want=(spark-sql-kafka-0-10_2.12-3.4.1.jar spark-token-provider-kafka-0-10_2.12-3.4.1.jar
      spark-avro_2.12-3.4.1.jar kafka-clients-3.3.2.jar commons-pool2-2.11.1.jar)
missing() {
    local j
    for j in "${want[@]}"; do [ -s "$jars/$j" ] || { echo "$j"; return 0; }; done
    return 1
}
if missing >/dev/null; then
    command -v mvn >/dev/null || { echo "spark-jars: Maven (mvn) is needed; run scripts/test-support.sh first" >&2; exit 1; }
    echo "spark-jars: fetching Spark's Kafka and Avro jars into $jars (Maven Central)..." >&2
    mkdir -p "$jars"
    if ! mvn -q -B -f bench/spark/pom.xml -Djars.dir="$jars" dependency:copy@spark-kafka-avro >&2; then
        echo "spark-jars: Maven could not fetch the jars (network or Maven Central down?); nothing was run" >&2
        exit 1
    fi
    if j=$(missing); then
        echo "spark-jars: $j is still missing in $jars after Maven ran" >&2
        exit 1
    fi
fi
list=""
for j in "${want[@]}"; do list="$list${list:+,}$jars/$j"; done
echo "$list"
