#!/usr/bin/env bash
# A private single-node Apache Kafka broker (KRaft, broker+controller) for the
# tests, on 127.0.0.1:PORT (controller on PORT+1), with its jars, config, data,
# log and pidfile under DIR.  The jars come from Maven Central through
# tests/infra/kafka/pom.xml (cached in ~/.m2 and DIR/lib).
#
#   fetch    copy the broker's jars into DIR/lib (once; maven)
#   start    format DIR/data if new, start the broker, wait until it serves
#   stop     clean shutdown (SIGTERM), waits
#   restart  stop + start, keeping the data
#   status   exit 0 when running and listening, 3 when stopped
#   topic    create topic NAME with PARTITIONS partitions (if it does not exist)
#   java     run a Kafka class with the broker's classpath, e.g.
#            org.apache.kafka.tools.ConsoleProducer --bootstrap-server ...
#
# SLUICE_KAFKA_HEAP (default -Xms256m -Xmx512m) sets the broker's heap.
# SLUICE_KAFKA_EXTRA_CONF: lines appended to server.properties (one test's
# private broker, e.g. log.retention.check.interval.ms=1000).
set -euo pipefail
PROG=kafka.sh
USAGE="usage: $PROG fetch|start|stop|restart|status DIR PORT
       $PROG topic DIR PORT NAME PARTITIONS
       $PROG java DIR PORT CLASS [ARGS...]"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/infra/common.sh
. "$HERE/common.sh"
POM=$HERE/kafka/pom.xml

usage() { echo "$USAGE" >&2; exit 2; }
[ $# -ge 3 ] || usage
CMD=$1 DIR_ARG=$2 PORT=$3
shift 3
case $CMD in
  fetch|start|stop|restart|status) [ $# -eq 0 ] || usage ;;
  topic) [ $# -eq 2 ] || usage ;;
  java) [ $# -ge 1 ] || usage ;;
  *) usage ;;
esac
check_port "$PORT"
[ "$PORT" -lt 65535 ] || die "PORT+1 is the controller port: PORT must be below 65535"
CPORT=$((PORT + 1))
DIR=$(abs_dir "$DIR_ARG")
LIB=$DIR/lib CONF=$DIR/server.properties DATA=$DIR/data
PIDFILE=$DIR/kafka.pid LOG=$DIR/kafka.log

running_pid() { local pid; pid=$(read_pid "$PIDFILE") && pid_matches "$pid" "$CONF" && echo "$pid"; }

need_java() {
  command -v java >/dev/null || die "java is not installed (run scripts/install-deps.sh)"
  local v
  v=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  [ "${v%%.*}" -ge 17 ] 2>/dev/null || die "the Kafka 4 broker needs Java 17 or newer, java on PATH is ${v:-unknown}"
}

# fetch: maven copies the jars into DIR/lib; a stamp with the pom's checksum
# makes it idempotent (and refetches when the pom changes).
fetch() {
  local sum; sum=$(cksum <"$POM")
  if [ -f "$LIB/.fetched" ] && [ "$(cat "$LIB/.fetched")" = "$sum" ]; then return 0; fi
  command -v mvn >/dev/null || die "maven (mvn) is not installed (run scripts/install-deps.sh)"
  rm -rf "$LIB.tmp"
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$LIB.tmp" >"$DIR/fetch.log" 2>&1; then
    log_tail "$DIR/fetch.log"; die "maven could not fetch the Kafka jars (pom $POM)"
  fi
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
  echo "$sum" >"$LIB/.fetched"
  note "fetched $(find "$LIB" -name '*.jar' | wc -l) jars into $LIB"
}

# Tools log warnings to stderr; the broker logs INFO to DIR/kafka.log.
write_log_conf() { # FILE LEVEL
  cat >"$1" <<EOF
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_ERR
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $2
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.kafka.name = kafka
logger.kafka.level = $2
logger.apache.name = org.apache.kafka
logger.apache.level = $2
EOF
}

run_java() { # CLASS ARGS...: a Kafka tool with the broker's classpath
  need_java
  [ -f "$LIB/.fetched" ] || fetch >&2
  [ -f "$DIR/tools-log4j2.properties" ] || write_log_conf "$DIR/tools-log4j2.properties" WARN
  mkdir -p "$DIR/tmp"
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -XX:-UsePerfData -Djava.io.tmpdir="$DIR/tmp" \
    -Dlog4j2.configurationFile="$DIR/tools-log4j2.properties" -cp "$LIB/*" "$@"
}

write_conf() {
  cat >"$CONF" <<EOF
# written by tests/infra/kafka.sh on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# room for 1 MiB test payloads plus headers
message.max.bytes=4194304
EOF
  # Extra server.properties lines for one test's private broker, e.g. a
  # retention check every second (tests/kafka/test_spool_bridge.sh).
  if [ -n "${SLUICE_KAFKA_EXTRA_CONF:-}" ]; then printf '%s\n' "$SLUICE_KAFKA_EXTRA_CONF" >>"$CONF"; fi
}

format() {
  [ -f "$DATA/meta.properties" ] && return 0
  local id
  id=$(run_java kafka.tools.StorageTool random-uuid) || die "cannot make a cluster id"
  if ! run_java kafka.tools.StorageTool format -t "$id" -c "$CONF" >"$DIR/format.log" 2>&1; then
    log_tail "$DIR/format.log"; die "formatting the Kafka storage in $DATA failed"
  fi
}

start() {
  local pid
  if pid=$(running_pid); then note "already running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
  need_java
  fetch
  port_open "$PORT" && die "127.0.0.1:$PORT is already in use by another process"
  port_open "$CPORT" && die "127.0.0.1:$CPORT (controller) is already in use by another process"
  write_conf
  write_log_conf "$DIR/log4j2.properties" INFO
  format
  [ -f "$LOG" ] && mv -f "$LOG" "$LOG.prev"
  # Its temporary files (lz4-java's native library, JVM perf data) stay in
  # DIR, not in the machine's temp directory.
  mkdir -p "$DIR/tmp"
  # setsid: a Ctrl-C in the calling terminal must not kill the broker.
  # shellcheck disable=SC2086 # SLUICE_KAFKA_HEAP holds several options
  setsid java ${SLUICE_KAFKA_HEAP:--Xms256m -Xmx512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -XX:-UsePerfData -Djava.io.tmpdir="$DIR/tmp" \
    -Dlog4j2.configurationFile="$DIR/log4j2.properties" \
    -cp "$LIB/*" kafka.Kafka "$CONF" </dev/null >"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  local end=$((SECONDS + 90))
  until grep -q 'Kafka Server started' "$LOG" 2>/dev/null && port_open "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$LOG"; rm -f "$PIDFILE"; die "the Kafka broker exited during startup"
    fi
    if [ "$SECONDS" -ge "$end" ]; then
      log_tail "$LOG"; stop_pid "$pid" 30 kafka; rm -f "$PIDFILE"
      die "the Kafka broker did not start on 127.0.0.1:$PORT within 90 s"
    fi
    sleep 0.2
  done
  note "started (pid $pid) on 127.0.0.1:$PORT, log $LOG"
}

stop() {
  local pid
  if pid=$(running_pid); then
    stop_pid "$pid" 60 kafka
    note "stopped (pid $pid)"
  else
    note "not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid=$(running_pid); then
    if port_open "$PORT"; then echo "running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
    echo "running (pid $pid) but not listening on 127.0.0.1:$PORT"; return 1
  fi
  echo "stopped"; return 3
}

topic() { # NAME PARTITIONS
  [[ $2 =~ ^[1-9][0-9]*$ ]] || die "bad partition count '$2'"
  run_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$PORT" \
    --create --if-not-exists --topic "$1" --partitions "$2" --replication-factor 1 >/dev/null \
    || die "cannot create topic $1"
}

case $CMD in
  fetch) need_java; fetch ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  topic) topic "$@" ;;
  java) run_java "$@" ;;
esac
