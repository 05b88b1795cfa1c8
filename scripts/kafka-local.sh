#!/usr/bin/env bash
# A real Apache Kafka broker (4.x, KRaft, one node acting as broker and
# controller) on loopback, for tests and benchmarks.
#
#   scripts/kafka-local.sh fetch          resolve the jars into .cache/kafka/jars (once)
#   scripts/kafka-local.sh start DIR [PORT]
#                                         format DIR and start a broker on 127.0.0.1:PORT
#                                         (default: a free port); prints the bootstrap
#                                         address when it answers; logs in DIR/kafka.log
#   scripts/kafka-local.sh stop DIR       stop the broker started in DIR
#
# The jars come from Maven Central through Maven (tests/support/kafka/pom.xml).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jars="$root/.cache/kafka/jars"

fetch() {
    [ -f "$jars/.complete" ] && return 0
    command -v mvn >/dev/null || { echo "kafka-local: Maven (mvn) is needed to fetch Kafka" >&2; exit 1; }
    command -v java >/dev/null || { echo "kafka-local: a Java runtime is needed to run Kafka" >&2; exit 1; }
    echo "kafka-local: fetching Apache Kafka jars from Maven Central..." >&2
    rm -rf "$jars"
    mvn -q -B -f "$root/tests/support/kafka/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$jars" -DincludeScope=runtime >&2
    touch "$jars/.complete"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
    local dir="$1" port="${2:-}"
    fetch
    [ -n "$port" ] || port=$(free_port)
    local cport
    cport=$(free_port)
    mkdir -p "$dir/data"
    cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
log.segment.bytes=268435456
PROPS
    local cluster_id
    cluster_id=$(java -cp "$jars/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java -cp "$jars/*" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
        -c "$dir/server.properties" >"$dir/format.log" 2>&1
    # setsid: the broker outlives this script; stop() kills its process group.
    setsid java -Xms256m -Xmx1g -XX:+UseG1GC -cp "$jars/*" kafka.Kafka "$dir/server.properties" \
        >"$dir/kafka.log" 2>&1 </dev/null &
    echo $! >"$dir/kafka.pid"
    for _ in $(seq 1 120); do
        if python3 - "$port" <<'PY' 2>/dev/null; then
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.close()
PY
            echo "127.0.0.1:$port"
            return 0
        fi
        if ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
            echo "kafka-local: the broker exited; see $dir/kafka.log" >&2
            tail -20 "$dir/kafka.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "kafka-local: the broker did not open port $port within 60 s; see $dir/kafka.log" >&2
    stop "$dir"
    exit 1
}

stop() {
    local dir="$1"
    [ -f "$dir/kafka.pid" ] || return 0
    local pid
    pid=$(cat "$dir/kafka.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$dir/kafka.pid"
}

case "${1:-}" in
    fetch) fetch ;;
    start) start "${2:?usage: kafka-local.sh start DIR [PORT]}" "${3:-}" ;;
    stop) stop "${2:?usage: kafka-local.sh stop DIR}" ;;
    *) echo "usage: kafka-local.sh fetch | start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
