#!/usr/bin/env bash
# docker/Dockerfile built for real and the image tried, without a Docker
# engine: podman builds it on a Debian base made by debootstrap, and the
# image's file system is run the way a container would run it (its own
# mount and network namespace, chroot, the image's USER, ENV, WORKDIR,
# ENTRYPOINT and HEALTHCHECK as `podman inspect` reports them).  `podman run`
# itself is not used: sandboxes like CI's refuse it (rlimits), while a
# chroot needs only root.
#
# Checks: the image's configuration; every shared library of sluice and of
# every plugin resolves inside the image (ldd); `sluice plugins` in the
# image lists every first-party plugin of this build; `sluice validate`
# accepts every pipeline the image ships; the entrypoint runs a
# generator -> file pipeline, the image's HEALTHCHECK command answers 0
# against it (and 1 for a wrong path or port), and the image's STOPSIGNAL
# drains it with status 0.
#
# Where root, podman, debootstrap, namespaces or the Debian archive are not
# to be had, the test is skipped (exit 77) with one line saying why; the line
# is also left in $SLUICE_BUILD_DIR/docker-image/SKIPPED for scripts/test.sh
# to repeat at the end of its run.
#
# Caches (docker/README.md): the debootstrap base and podman's storage live
# in $SLUICE_DOCKER_CACHE (default ~/.cache/sluice/docker), so a second run,
# or the next CI run on the same machine, reuses the base and podman's layer
# cache: only what changed since is rebuilt.  The image's exported file
# system goes to $SLUICE_BUILD_DIR/docker-image/rootfs and is removed when
# the test passes.
# SLUICE_DOCKER_PREPARE=1: only the slow first steps (base and build), into
# the caches, and no verdict: scripts/test.sh runs that in the background
# while it compiles, so that this test finds them done.  (It runs no sluice.)
PREPARE=${SLUICE_DOCKER_PREPARE:-0}
[ "$PREPARE" = 1 ] && : "${SLUICE_BIN:=/nonexistent}"
# The scratch directory ($T, build logs) in the build tree, not in /tmp.
mkdir -p "$SLUICE_BUILD_DIR/docker-image"
export TMPDIR=$SLUICE_BUILD_DIR/docker-image
. "$SLUICE_SOURCE_DIR/tests/lib/testlib.sh"
SRC=$SLUICE_SOURCE_DIR
DOCKERFILE=$SRC/docker/Dockerfile
OUT=$SLUICE_BUILD_DIR/docker-image
CACHE=${SLUICE_DOCKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/docker}
IMAGE=localhost/sluice:test
BUILD_IMAGE=localhost/sluice-build:test
mkdir -p "$OUT"
rm -f "$OUT/SKIPPED" "$OUT/ctr.pid"
CID= CTR_PID=
cleanup_container() {
  [ -n "${CTR_PID:-}" ] && { kill -KILL "$CTR_PID" 2>/dev/null || true; wait "$CTR_PID" 2>/dev/null || true; }
  [ -n "$CID" ] && pm rm -f "$CID" >/dev/null 2>&1 || true
  CID=
}
trap 'rc=$?; cleanup_container; (exit $rc); _cleanup' EXIT

skip() {
  local line="SKIPPED: docker_image (docker/Dockerfile not built or tried): $*"
  echo "$line" >&2
  [ "$PREPARE" = 1 ] || echo "$line" >"$OUT/SKIPPED"
  trap - EXIT
  cleanup_container
  rm -rf "$T" "$OUT/rootfs"
  exit 77
}

# ------------------------------------------------------------ preconditions
[ "${SLUICE_DOCKER_TEST:-1}" = 0 ] && skip "SLUICE_DOCKER_TEST=0"
[ "$(id -u)" -eq 0 ] ||
  skip "needs root (chroot, mount and network namespaces); run the suite as root"
for tool in podman debootstrap unshare nsenter chroot ip flock tar; do
  command -v "$tool" >/dev/null ||
    skip "$tool is not installed (scripts/install-deps.sh installs podman, debootstrap, iproute2)"
done
unshare --mount --net --propagation private -- \
    sh -c 'ip link set lo up && mount -t tmpfs none /mnt' >"$T/ns.err" 2>&1 ||
  skip "this machine refuses mount or network namespaces: $(head -1 "$T/ns.err")"

mkdir -p "$CACHE/tmp"
# Serialise runs (two build trees' ctest at once) over one cache.
exec 9>"$CACHE/lock"
flock -w 2700 9 || skip "another run holds $CACHE/lock for over 45 minutes"

# podman with a storage of its own: nothing of the machine's podman is used
# or touched, and removing $CACHE removes everything this test made.
RUNROOT=${XDG_RUNTIME_DIR:-/run}/sluice-docker-test
export TMPDIR=$CACHE/tmp   # podman's build blobs: not /tmp, not /var/tmp
PODMAN=(podman --root "$CACHE/storage" --runroot "$RUNROOT" --tmpdir "$RUNROOT/libpod"
        --cgroup-manager=cgroupfs --events-backend=file)
pm() { "${PODMAN[@]}" "$@"; }
pm info >"$T/podman-info" 2>&1 || skip "podman does not work here: $(tail -1 "$T/podman-info")"
# What a run killed mid-way (ctest's timeout) left: build and export
# containers hold layers that pruning would otherwise keep forever.
for c in $(pm ps -a --external -q 2>/dev/null); do pm rm -f "$c" >/dev/null 2>&1 || true; done

# ------------------------------------------------------------- the base
# The Dockerfile's FROM lines name debian:SUITE and debian:SUITE-slim; one
# debootstrap minbase serves as both.  The Debian mirror is the one this
# machine's apt uses, and apt's HTTP proxy (if any) is passed on to
# debootstrap and to the build's apt-get.
suite=$(awk -F'[:[:space:]-]+' '$1 == "FROM" && $2 == "debian" && !s { s = $3 } END { print s }' "$DOCKERFILE")
[ -n "$suite" ] || { fail "docker/Dockerfile has no FROM debian:SUITE line"; finish; exit 1; }
mirror=${SLUICE_DEBIAN_MIRROR:-$(apt-cache policy 2>/dev/null |
  awk -v s="$suite/main" '$3 == s && $2 ~ /^https?:/ && !m { m = $2 } END { print m }')}
proxy=$(apt-config shell p Acquire::http::Proxy 2>/dev/null | sed -n "s/^p='\(.*\)'$/\1/p")
[ -n "$proxy" ] && export http_proxy=${http_proxy:-$proxy}
# The base's apt is configured as this machine's is where that matters to
# reach the same mirror: its proxy, and a snapshot mirror's expired Release
# files (Check-Valid-Until false).
aptconf=
[ -n "$proxy" ] && aptconf+="Acquire::http::Proxy \"$proxy\";"$'\n'
[ "$(apt-config shell v Acquire::Check-Valid-Until 2>/dev/null)" = "v='false'" ] &&
  aptconf+='Acquire::Check-Valid-Until "false";'$'\n'
BASE_TAR=$CACHE/base-$suite.tar
base_key=$(printf '%s' "$mirror $aptconf" | tr '\n' ' ')
if [ ! -s "$BASE_TAR" ] || [ "$(cat "$BASE_TAR.key" 2>/dev/null)" != "$base_key" ]; then
  [ -n "$mirror" ] || skip "apt knows no mirror for $suite/main (apt-get update; or set SLUICE_DEBIAN_MIRROR)"
  echo "debootstrap --variant=minbase $suite from $mirror (cached in $CACHE)"
  rm -rf "$CACHE/base"
  if ! timeout 600 debootstrap --variant=minbase "$suite" "$CACHE/base" "$mirror" \
         >"$T/debootstrap.log" 2>&1; then
    tail -5 "$T/debootstrap.log" >&2
    rm -rf "$CACHE/base"
    skip "debootstrap of $suite from $mirror failed or took over 10 minutes: the Debian archive is not reachable? (log above)"
  fi
  # As Debian's images: no package lists or downloaded .debs.
  rm -rf "$CACHE"/base/var/lib/apt/lists/* "$CACHE"/base/var/cache/apt/archives/*.deb
  [ -z "$aptconf" ] || printf '%s' "$aptconf" >"$CACHE/base/etc/apt/apt.conf.d/99sluice-test-host"
  tar -C "$CACHE/base" -cf "$BASE_TAR.new" . && mv "$BASE_TAR.new" "$BASE_TAR"
  echo "$base_key" >"$BASE_TAR.key"
  rm -rf "$CACHE/base"
  pm rmi -f "docker.io/library/debian:$suite" "docker.io/library/debian:$suite-slim" >/dev/null 2>&1 || true
fi
if ! pm image exists "docker.io/library/debian:$suite"; then
  pm import "$BASE_TAR" "docker.io/library/debian:$suite" >"$T/import.log" 2>&1 ||
    { fail "podman import of $BASE_TAR"; cat "$T/import.log" >&2; finish; exit 1; }
  pm tag "docker.io/library/debian:$suite" "docker.io/library/debian:$suite-slim"
fi

# ------------------------------------------------------------ the build
# --format docker keeps HEALTHCHECK (OCI images have none).  The build stage
# is tagged too, so that pruning what older runs left keeps its layers
# (the -dev packages and the compiled tree) for the next run's cache.
build_args=(--pull=never --network=host --isolation=chroot --format docker
            --ignorefile "$SRC/docker/Dockerfile.dockerignore" -f "$DOCKERFILE")
t0=$SECONDS
brc=0
{ timeout 900 "${PODMAN[@]}" build "${build_args[@]}" --target build -t "$BUILD_IMAGE" "$SRC" &&
  timeout 900 "${PODMAN[@]}" build "${build_args[@]}" -t "$IMAGE" "$SRC"; } >"$T/build.log" 2>&1 || brc=$?
if [ "$brc" -eq 0 ]; then
  pass
  echo "image built in $((SECONDS - t0)) s"
elif grep -qE "(Failed to fetch|Temporary failure resolving|Could not resolve|Unable to connect to|Could not connect to) " "$T/build.log"; then
  tail -5 "$T/build.log" >&2
  skip "the build's apt-get cannot reach the Debian archive (log above)"
elif [ "$brc" -eq 124 ]; then
  tail -5 "$T/build.log" >&2
  skip "podman build took over 15 minutes: the Debian archive too slow? (log above)"
else
  fail "podman build of docker/Dockerfile (last lines of the log below)"
  tail -40 "$T/build.log" | sed 's/^/    | /' >&2
  finish; exit 1
fi
pm image prune -f >/dev/null 2>&1 || true
if [ "$PREPARE" = 1 ]; then echo "docker_image: base and image ready in the caches"; exit 0; fi

# ------------------------------------------------- the image's configuration
cfg() { pm image inspect --format "$1" "$IMAGE"; }
USER_=$(cfg '{{.Config.User}}')
WORKDIR=$(cfg '{{.Config.WorkingDir}}')
mapfile -t ENV_ < <(cfg '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t ENTRYPOINT < <(cfg '{{range .Config.Entrypoint}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t CMD_ < <(cfg '{{range .Config.Cmd}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t HEALTH < <(cfg '{{if .Config.Healthcheck}}{{range .Config.Healthcheck.Test}}{{println .}}{{end}}{{end}}' | sed '/^$/d')
expect_eq "$USER_" sluice "image USER"
expect_eq "$WORKDIR" /var/lib/sluice "image WORKDIR"
# (grep -q reads from here-strings: in a pipe, its early exit would be a
# SIGPIPE failure under pipefail.)
grep -qx 'SLUICE_SPOOL_DIR=/var/lib/sluice/spool' <<<"$(printf '%s\n' "${ENV_[@]}")" && pass ||
  fail "the image does not set SLUICE_SPOOL_DIR=/var/lib/sluice/spool (ENV: ${ENV_[*]})"
grep -qx /var/lib/sluice/spool <<<"$(cfg '{{range $k, $v := .Config.Volumes}}{{println $k}}{{end}}')" && pass ||
  fail "the spool /var/lib/sluice/spool is not a VOLUME"
grep -qx 9464/tcp <<<"$(cfg '{{range $k, $v := .Config.ExposedPorts}}{{println $k}}{{end}}')" && pass ||
  fail "the image does not EXPOSE 9464"
expect_eq "${ENTRYPOINT[*]}" "sluice run --http 0.0.0.0:9464 --log-format json" "ENTRYPOINT"
expect_eq "${CMD_[*]}" "/etc/sluice/pipelines" "CMD"
expect_eq "$(cfg '{{.Config.StopSignal}}')" SIGTERM "STOPSIGNAL"
expect_eq "${HEALTH[*]}" "CMD sluice-healthcheck /health" "HEALTHCHECK"
expect_eq "$(cfg '{{.Config.Healthcheck.Timeout}}')" 3s "HEALTHCHECK --timeout"

# ------------------------------------------------ the image's file system
R=$OUT/rootfs
rm -rf "$R"
mkdir -p "$R"
CID=$(pm create --no-healthcheck "$IMAGE")
pm export "$CID" | tar -x -C "$R"
pm rm -f "$CID" >/dev/null; CID=

uid=$(awk -F: -v u="$USER_" '$1 == u { print $3 }' "$R/etc/passwd")
gid=$(awk -F: -v u="$USER_" '$1 == u { print $4 }' "$R/etc/passwd")
[ -n "$uid" ] && pass || { fail "user $USER_ is not in the image's /etc/passwd"; finish; exit 1; }
expect_eq "$(stat -c '%u:%g %a' "$R/var/lib/sluice/spool")" "$uid:$gid 700" \
  "owner and mode of the spool directory"

# in_image CMD...: CMD in the image as a container would run it: its own
# mount and network namespaces (loopback only), /proc and /dev mounted,
# chroot, the image's user, environment and working directory.  (bash -c
# cannot see the caller's arrays: the environment goes over quoted.)
in_image() {
  local envs
  envs=$(printf '%q ' "${ENV_[@]}")
  unshare --mount --net --propagation private -- bash -c '
    R=$1 uid=$2 gid=$3 wd=$4 envs=$5; shift 5
    eval "env_=($envs)"
    ip link set lo up &&
    mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" &&
    exec chroot --userspec="$uid:$gid" --groups="$gid" "$R" \
      /usr/bin/env -i "${env_[@]}" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$wd" "$@"' \
    _ "$R" "$uid" "$gid" "$WORKDIR" "$envs" "$@"
}

# sluice and every plugin: each library resolves inside the image.
mapfile -t objs < <(cd "$R" && ls opt/sluice/bin/sluice opt/sluice/lib/sluice/plugins/*.so)
[ ${#objs[@]} -gt 1 ] && pass || fail "the image has no plugins in /opt/sluice/lib/sluice/plugins"
for o in "${objs[@]}"; do
  if in_image ldd "/$o" >"$T/ldd" 2>&1 && ! grep -q 'not found' "$T/ldd"; then pass; else
    fail "/$o: libraries missing in the image (the runtime stage's apt-get install lacks a package)"
    sed 's/^/    | /' "$T/ldd" >&2
  fi
done

expect_exit 0 -- in_image sluice version
expect_out "sluice "

# Every plugin this build makes (all first-party ones) is listed in the image.
names() { awk '/^[a-z]/ { print $1 }' "$1" | sort; }
"$SLUICE_BIN" plugins -P "$SLUICE_PLUGIN_DIR" >"$T/plugins.host" 2>&1 ||
  fail "sluice plugins in the build tree"
expect_exit 0 -- in_image sluice plugins
cp "$T/out" "$T/plugins.image"
missing=$(comm -23 <(names "$T/plugins.host") <(names "$T/plugins.image") | tr '\n' ' ')
expect_eq "$missing" "" "plugins of this build that the image does not list"
for d in "$SRC"/connectors/*/ "$SRC"/transforms/*/; do
  p=$(basename "$d")
  grep -qx "$p" <(names "$T/plugins.image") && pass || fail "the image does not list plugin $p"
done

# Every pipeline the image ships validates there (their ${VAR:-default}s
# as the image gives them).
mapfile -t pipes < <(cd "$R" && ls etc/sluice/pipelines/*.yaml opt/sluice/share/sluice/pipelines/*/*.yaml)
[ ${#pipes[@]} -ge 4 ] && pass || fail "the image ships ${#pipes[@]} pipelines, expected the seed's 4 and more"
expect_exit 0 -- in_image sluice validate "${pipes[@]/#//}"
for p in 00-simulator 10-bridge 20-decode 30-sink; do
  expect_out "/etc/sluice/pipelines/$p.yaml: ok"
done

# ------------------------------------------ the entrypoint and HEALTHCHECK
# `docker run IMAGE /etc/sluice/hc`: the ENTRYPOINT with a directory of one
# generator -> file pipeline in place of CMD.
mkdir -p "$R/etc/sluice/hc"
cat >"$R/etc/sluice/hc/hc.yaml" <<'Y'
name: hc
source: { plugin: generator, rate: 20 }
sink: { plugin: file, path: hc.jsonl }
Y
envs=$(printf '%q ' "${ENV_[@]}")
unshare --mount --net --propagation private -- bash -c '
  R=$1 uid=$2 gid=$3 wd=$4 envs=$5; shift 5
  eval "env_=($envs)"
  echo $$ >"$R/../ctr.pid"
  ip link set lo up &&
  mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" &&
  exec chroot --userspec="$uid:$gid" --groups="$gid" "$R" \
    /usr/bin/env -i "${env_[@]}" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$wd" "$@"' \
  _ "$R" "$uid" "$gid" "$WORKDIR" "$envs" "${ENTRYPOINT[@]}" /etc/sluice/hc \
  >"$T/container.log" 2>&1 &
CTR_PID=$!
# The HEALTHCHECK command, run as Docker runs it: inside the container's
# namespaces and root, as its user, with its environment.
health() {
  nsenter -t "$CTR_PID" -m -n -r -w -S "$uid" -G "$gid" -- /usr/bin/env -i "${ENV_[@]}" "$@"
}
wait_for 10 test -s "$OUT/ctr.pid" && pass || fail "the container process did not start"
expect_eq "$(cat "$OUT/ctr.pid" 2>/dev/null)" "$CTR_PID" "container pid"
# --start-period: Docker does not count failures in the first 10 s.
if wait_for 30 health "${HEALTH[@]:1}"; then pass; else
  fail "the image's HEALTHCHECK (${HEALTH[*]:1}) never answered 0 against a running pipeline"
  sed 's/^/    | /' "$T/container.log" >&2
fi
expect_exit 0 -- health "${HEALTH[@]:1}"
expect_exit 0 -- health sluice-healthcheck /ready
expect_exit 1 -- health sluice-healthcheck /nope
expect_exit 1 -- health sluice-healthcheck /health 9465
wait_for 20 test -s "$R/var/lib/sluice/hc.jsonl" && pass || fail "the pipeline wrote nothing to hc.jsonl"
expect_eq "$(stat -c %u "$R/var/lib/sluice/hc.jsonl" 2>/dev/null)" "$uid" "owner of what the pipeline wrote"
# STOPSIGNAL: drains and exits 0 (the log is JSON, per the ENTRYPOINT).
kill -TERM "$CTR_PID" 2>/dev/null || true
rc=0; wait "$CTR_PID" || rc=$?
CTR_PID=
expect_eq "$rc" 0 "exit status after SIGTERM"
grep -q '"msg":"exiting with status 0"' "$T/container.log" && pass ||
  { fail "no JSON exit line in the container's log"; sed 's/^/    | /' "$T/container.log" >&2; }
rm -f "$OUT/ctr.pid"

if [ "$_failures" -eq 0 ]; then rm -rf "$R"; else echo "image file system kept: $R" >&2; fi
finish
