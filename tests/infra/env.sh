# Test environment: source it from a test script (bash).  It sets, unless
# already set in the environment:
#   SLUICE_TEST_VAR          where the servers keep their files (<repo>/var/test)
#   MQTT_PORT  (18830)       also read from / exported as SLUICE_TEST_MQTT_PORT
#   PG_PORT    (15432)       also read from / exported as SLUICE_TEST_PG_PORT
#   KAFKA_PORT (19092)       also read from / exported as SLUICE_TEST_KAFKA_PORT
#                            (the Kafka controller uses KAFKA_PORT+1)
# and, for convenience, SLUICE_TEST_MQTT_URL, SLUICE_TEST_PG_DSN and
# SLUICE_TEST_KAFKA_BROKERS.  Functions:
#   infra_up mosquitto|postgres|kafka...     start (Kafka: fetch first)
#   infra_down mosquitto|postgres|kafka...   stop
#   infra_restart mosquitto|postgres|kafka...
#   infra_kafka_topic NAME PARTITIONS        create a topic if missing
# Each server keeps its files in $SLUICE_TEST_VAR/<name>.
# shellcheck shell=bash

SLUICE_INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SLUICE_TEST_VAR=${SLUICE_TEST_VAR:-$(cd "$SLUICE_INFRA_DIR/../.." && pwd)/var/test}
export SLUICE_TEST_MQTT_PORT=${SLUICE_TEST_MQTT_PORT:-${MQTT_PORT:-18830}}
export SLUICE_TEST_PG_PORT=${SLUICE_TEST_PG_PORT:-${PG_PORT:-15432}}
export SLUICE_TEST_KAFKA_PORT=${SLUICE_TEST_KAFKA_PORT:-${KAFKA_PORT:-19092}}
export MQTT_PORT=$SLUICE_TEST_MQTT_PORT PG_PORT=$SLUICE_TEST_PG_PORT KAFKA_PORT=$SLUICE_TEST_KAFKA_PORT
export SLUICE_TEST_MQTT_URL=mqtt://127.0.0.1:$MQTT_PORT
export SLUICE_TEST_PG_DSN="host=127.0.0.1 port=$PG_PORT user=postgres"
export SLUICE_TEST_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT

# _infra ACTION NAME: runs tests/infra/NAME.sh ACTION DIR PORT.
_infra() {
  local port
  case $2 in
    mosquitto) port=$MQTT_PORT ;;
    postgres) port=$PG_PORT ;;
    kafka) port=$KAFKA_PORT ;;
    *) echo "infra: unknown server '$2' (mosquitto, postgres, kafka)" >&2; return 2 ;;
  esac
  "$SLUICE_INFRA_DIR/$2.sh" "$1" "$SLUICE_TEST_VAR/$2" "$port"
}

infra_up() {
  local s
  [ $# -gt 0 ] || { echo "usage: infra_up mosquitto|postgres|kafka..." >&2; return 2; }
  for s in "$@"; do
    if [ "$s" = kafka ]; then _infra fetch kafka || return; fi
    _infra start "$s" || return
  done
}

# infra_down tries every server named, and fails if any stop failed.
infra_down() {
  local s rc=0
  [ $# -gt 0 ] || { echo "usage: infra_down mosquitto|postgres|kafka..." >&2; return 2; }
  for s in "$@"; do _infra stop "$s" || rc=1; done
  return $rc
}

infra_restart() {
  local s
  [ $# -gt 0 ] || { echo "usage: infra_restart mosquitto|postgres|kafka..." >&2; return 2; }
  for s in "$@"; do _infra restart "$s" || return; done
}

infra_kafka_topic() {
  [ $# -eq 2 ] || { echo "usage: infra_kafka_topic NAME PARTITIONS" >&2; return 2; }
  "$SLUICE_INFRA_DIR/kafka.sh" topic "$SLUICE_TEST_VAR/kafka" "$KAFKA_PORT" "$1" "$2"
}
