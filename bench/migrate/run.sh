#!/usr/bin/env bash
# run.sh — the live-migration benchmark: hpvm (hpvmmigrate between two real hpvmd hosts) next to
# QEMU's own live migration, on loopback and on a veth pair between two network namespaces
# shaped to 1 and 10 Gbit/s, for guests whose RAM is a memory image (bench/migrate/mkimage).
# It prints one table (docs/bench.md, "Live migration", says what each column means); it never
# passes or fails on a time. The driver is migbench.py (Python 3, standard library only); this
# script checks what it needs first: the build, python3, and Debian's qemu-system-x86 (installed
# with apt-get when it is missing and installable), and root for the namespaces.
#
#   bash bench/migrate/run.sh [--quick] [migbench options] BUILD_DIR
#     --quick   a 256 MiB image, 64 MiB working set, loopback and 1 Gbit/s, idle and 50 MiB/s:
#               under a minute
#   bash bench/migrate/run.sh --help   (every option)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

args=() build=""
for a in "$@"; do
  case $a in
    -h|--help) exec python3 "$HERE/migbench.py" --help ;;
    -*) args+=("$a") ;;
    *) if [[ -z $build && -d $a && -d $a/bin ]]; then build=$a; else args+=("$a"); fi ;;
  esac
done
[[ -n $build ]] || { echo "usage: run.sh [--quick] [options] BUILD_DIR (see --help)" >&2; exit 2; }
for f in bench/mkimage bench/qguest.elf; do   # migbench.py checks the hpvm binaries
  [[ -e $build/$f ]] || { echo "run.sh: $build/$f is missing; build first: cmake --build $build --target bench_migrate" >&2; exit 2; }
done

need_pkg() {   # need_pkg COMMAND PACKAGE: install PACKAGE with apt-get when COMMAND is missing
  command -v "$1" >/dev/null && return 0
  if [[ $(id -u) -ne 0 ]]; then echo "run.sh: $1 is missing; install $2 (apt-get install $2)" >&2; exit 2; fi
  if ! apt-cache policy "$2" 2>/dev/null | grep -q 'Candidate: [0-9]'; then apt-get update -qq || true; fi
  apt-cache policy "$2" 2>/dev/null | grep -q 'Candidate: [0-9]' ||
    { echo "run.sh: $1 is missing and $2 cannot be installed here (apt-cache policy $2)" >&2; exit 2; }
  echo "run.sh: installing $2" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}
need_pkg python3 python3
need_pkg qemu-system-x86_64 qemu-system-x86
need_pkg openssl openssl     # certificates for QEMU's TLS variant
need_pkg tc iproute2

exec python3 "$HERE/migbench.py" "${args[@]}" "$build"
