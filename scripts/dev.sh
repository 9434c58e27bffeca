#!/usr/bin/env bash
# dev.sh — install what is missing, build, and run the demo or the test suite.
#   bash scripts/dev.sh demo        the main job: a guest live-migrated between two local hosts
#   bash scripts/dev.sh test        the whole test suite (ctest)
#   bash scripts/dev.sh test-asan   the suite under AddressSanitizer + UBSan
#   bash scripts/dev.sh bench       the benchmarks (tables)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake binutils-ia64-linux-gnu libcmocka-dev libuv1-dev
          libprotobuf-c-dev protobuf-c-compiler liblz4-dev libsodium-dev iproute2 procps)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "dev.sh: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "dev.sh: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

demo_cleanup() {
  local sd
  for sd in "$DEMO_TMP"/state-*; do
    HPVM_STATE_DIR=$sd hpvmstop -P demo1 -F >/dev/null 2>&1 || true
  done
  for sd in "$DEMO_TMP"/state-*; do
    [ -f "$sd/hpvmd.lock" ] && kill "$(cat "$sd/hpvmd.lock")" 2>/dev/null
  done
  rm -rf "$DEMO_TMP"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The main job: two local hosts — two hpvmd sharing one storage directory, listening on
# loopback — run a guest the way an operator would with the HPVM commands, live-migrate it
# from one host to the other and back while it checks its own memory and disk, then stop.
demo() {
  build build
  local bin=$PWD/build/bin
  DEMO_TMP=$(mktemp -d /tmp/hpvm-demo.XXXXXX)
  local tmp=$DEMO_TMP
  mkdir -p "$tmp/shared" "$tmp/state-hosta" "$tmp/state-hostb"
  export PATH=$bin:$PATH
  trap demo_cleanup EXIT
  step() { echo; echo "\$ $*"; "$@"; }
  on() { local h=$1; shift; echo; echo "[$h]\$ $*"; HPVM_STATE_DIR=$tmp/state-$h "$@"; }
  step hpvmd --shared "$tmp/shared" --state-dir "$tmp/state-hosta" --name hosta --listen "127.0.0.1:$(free_port)"
  step hpvmd --shared "$tmp/shared" --state-dir "$tmp/state-hostb" --name hostb --listen "127.0.0.1:$(free_port)"
  on hosta hpvmdevmgmt -S 64M "$tmp/shared/demo1.img"
  on hosta hpvmcreate -P demo1 -O hpux -c 2 -r 512M -K "$PWD/build/guests/hpvmk" \
      -A "heartbeat memverify size=64M diskverify blocks=128" -a "disk:avio_stor::file:$tmp/shared/demo1.img"
  on hosta hpvmstart -P demo1
  sleep 2
  on hosta hpvmstatus
  on hosta hpvmmigrate -P demo1 -h hostb -o
  on hostb hpvmstatus
  sleep 2
  on hostb hpvmmigrate -P demo1 -h hosta -o --channels 1 --compress lz4
  sleep 2
  echo; echo "[hosta]\$ hpvmconsole -P demo1 -q -c cl | tail    # the guest kept checking itself"
  HPVM_STATE_DIR=$tmp/state-hosta hpvmconsole -P demo1 -q -c cl | tail -n 6
  on hosta hpvmstop -P demo1 -F
  on hosta hpvmstatus -P demo1 -M
}

run_tests() {  # run_tests DIR [cmake args...]
  local dir=$1; shift
  build "$dir" "$@"
  ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
}

# The multi-host benchmarks (bench/cluster, network namespaces) need root: elsewhere each prints
# why and exits 77, which is not a failure here.
cluster_bench() {
  local b rc
  for b in bench_drain bench_netns_status; do
    rc=0
    "./build/bin/$b" || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || return "$rc"
  done
}

cmd=${1:-demo}
install_deps
case "$cmd" in
  demo) demo ;;
  test) run_tests build ;;
  test-asan) run_tests build-asan -DHPVM_SANITIZE=address,undefined ;;
  bench) build build && bash bench/interp.sh build && ./build/bin/bench_vm && cluster_bench ;;
  *) echo "dev.sh: unknown command '$cmd'; use demo, test, test-asan or bench" >&2; exit 2 ;;
esac
