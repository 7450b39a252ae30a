#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build and test, only those that
# are missing (quiet when nothing is).  Needs root (or sudo) when something is
# missing.  Server packages (mosquitto, postgresql, prometheus) are installed
# for their binaries only: their system services are kept from starting, and
# disabled, since the tests start private instances on their own ports.
#
#   usage: scripts/install-deps.sh
set -euo pipefail
PROG=install-deps.sh
die() { echo "$PROG: error: $*" >&2; exit 1; }
[ $# -eq 0 ] || { echo "usage: scripts/install-deps.sh" >&2; exit 2; }

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libyaml-dev libpq-dev libmosquitto-dev librdkafka-dev libavro-dev libjansson-dev libmicrohttpd-dev
  mosquitto mosquitto-clients postgresql postgresql-client valgrind prometheus
  openssl curl python3 time
  clang libclang-rt-dev   # tests/fuzz: libFuzzer (libclang_rt.fuzzer) for clang
  podman debootstrap iproute2   # tests/docker: builds docker/Dockerfile, runs the image
)
SERVICES=(mosquitto postgresql prometheus)

# The Kafka broker (tests/infra/kafka.sh) needs Java 17+ and maven.
java_ok() {
  command -v java >/dev/null || return 1
  local v
  v=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  [ "${v%%.*}" -ge 17 ] 2>/dev/null
}
java_ok || PACKAGES+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || PACKAGES+=(maven)

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
MISSING=()
for p in "${PACKAGES[@]}"; do installed "$p" || MISSING+=("$p"); done
[ ${#MISSING[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "missing packages (${MISSING[*]}) and not root: run as root"
  SUDO=(sudo)
fi
echo "$PROG: installing ${MISSING[*]}"

# Keep package scripts from starting services: a policy-rc.d that says no,
# unless the machine already has one (removed again on exit).
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
fi

LOG=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX")
apt() {
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    die "apt-get $1 failed (full log: $LOG)"
  fi
}
apt update -q
apt install -y -q --no-install-recommends "${MISSING[@]}"
rm -f "$LOG"

just_installed() { [[ " ${MISSING[*]} " == *" $1 "* ]]; }

# In case a service got started anyway (or on systemd machines, at boot):
# stop and disable the system services of the server packages just installed.
for s in "${SERVICES[@]}"; do
  just_installed "$s" || continue
  if [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now "$s" >/dev/null 2>&1 || true
  elif [ -e "/etc/init.d/$s" ]; then
    "${SUDO[@]}" "/etc/init.d/$s" stop >/dev/null 2>&1 || true
  fi
done
# The cluster postgresql-common makes (e.g. 15/main on 5432): never auto-start.
if just_installed postgresql; then
  for f in /etc/postgresql/*/*/start.conf; do
    [ -e "$f" ] && echo manual | "${SUDO[@]}" tee "$f" >/dev/null
  done
fi
echo "$PROG: done"
