#!/usr/bin/env bash
# dev.sh — install what is missing, build, and run the demo or the test suite.
#   bash scripts/dev.sh demo        the main job: a local hpvmd runs a guest through the HPVM commands
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
  hpvmstop -P demo1 -F >/dev/null 2>&1 || true
  [ -f "$DEMO_TMP/state/hpvmd.lock" ] && kill "$(cat "$DEMO_TMP/state/hpvmd.lock")" 2>/dev/null
  rm -rf "$DEMO_TMP"
}

# The main job: a local host — hpvmd with a private shared directory — runs a guest the way
# an operator would with the HPVM commands, then everything is stopped cleanly.
demo() {
  build build
  local bin=$PWD/build/bin
  DEMO_TMP=$(mktemp -d /tmp/hpvm-demo.XXXXXX)
  local tmp=$DEMO_TMP
  mkdir -p "$tmp/shared" "$tmp/state"
  export HPVM_STATE_DIR=$tmp/state PATH=$bin:$PATH
  trap demo_cleanup EXIT
  step() { echo; echo "\$ $*"; "$@"; }
  step hpvmd --shared "$tmp/shared" --state-dir "$tmp/state" --name demohost
  step hpvmdevmgmt -S 64M "$tmp/shared/demo1.img"
  step hpvmcreate -P demo1 -O hpux -c 2 -r 512M -K "$PWD/build/guests/hpvmk" \
      -A "heartbeat memverify size=64M diskverify blocks=128" -a "disk:avio_stor::file:$tmp/shared/demo1.img"
  step hpvmstart -P demo1
  sleep 3
  step hpvmstatus
  step hpvmstatus -P demo1
  echo; echo "\$ hpvmconsole -P demo1 -q -c cl    # the console log"
  hpvmconsole -P demo1 -q -c cl | tail -n 8
  step hpvmstop -P demo1 -F
  step hpvmstatus -P demo1 -M
  echo; echo "== the interpreter alone: ia64run --stats on a 300 M-instruction integer loop"
  "$bin/ia64run" --stats build/bench/interp_alu_loop
}

run_tests() {  # run_tests DIR [cmake args...]
  local dir=$1; shift
  build "$dir" "$@"
  ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
}

cmd=${1:-demo}
install_deps
case "$cmd" in
  demo) demo ;;
  test) run_tests build ;;
  test-asan) run_tests build-asan -DHPVM_SANITIZE=address,undefined ;;
  bench) build build && bash bench/interp.sh build && ./build/bin/bench_vm ;;
  *) echo "dev.sh: unknown command '$cmd'; use demo, test, test-asan or bench" >&2; exit 2 ;;
esac
