#!/usr/bin/env bash
# dev.sh — install what is missing, build, and run the demo or the test suite.
#   bash scripts/dev.sh demo        the main job: sample programs under ia64run, a guest kernel under hpvmapp
#   bash scripts/dev.sh test        the whole test suite (ctest)
#   bash scripts/dev.sh test-asan   the suite under AddressSanitizer + UBSan
#   bash scripts/dev.sh bench       the benchmarks (tables)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake binutils-ia64-linux-gnu libcmocka-dev libuv1-dev
          libprotobuf-c-dev protobuf-c-compiler liblz4-dev libsodium-dev iproute2 python3)

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

demo() {
  build build
  echo
  echo "== ia64run: guests/user/hello_glibc.S (glibc's static start-up, by hand) under --stats"
  ./build/bin/ia64run --stats build/guests/guest_hello_glibc
  echo
  echo "== ia64run: the interpreter on a 300 M-instruction integer loop"
  ./build/bin/ia64run --stats build/bench/interp_alu_loop
  echo
  echo "== hpvmapp: the hpvmk guest kernel on 2 vCPUs, memverify + heartbeat + diskverify for 3 s"
  local disk
  disk=$(mktemp /tmp/hpvm-demo-disk.XXXXXX)
  truncate -s 16M "$disk"
  ./build/bin/hpvmapp --kernel build/guests/hpvmk --cpus 2 --memory 512M --disk "$disk" \
      --args "time=3 memverify size=64M heartbeat diskverify blocks=256"
  rm -f "$disk"
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
