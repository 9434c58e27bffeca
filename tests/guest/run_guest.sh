#!/bin/bash
# run_guest.sh — boot hpvmk under hpvmapp and judge the run: exit status, lines the console
# must show (-e, an extended regex each), lines it must not show (-n), and optionally the host
# CPU the whole run may use (-c PERCENT of wall time, for the idle guest).
#
# usage: run_guest.sh HPVMAPP KERNEL [-r STATUS] [-t SECONDS] [-d DISKSIZE] [-c PERCENT]
#                     [-s SECONDS] [-e REGEX]... [-n REGEX]... -- HPVMAPP-OPTIONS...
# -d creates a fresh disk image of that size (truncate syntax) and passes it with --disk.
# -s presses the power button after SECONDS: SIGPWR to hpvmapp asks the guest to shut down.
set -u
hpvmapp=$1 kernel=$2
shift 2
status=0 limit=60 disksize= cpumax= power=
expect=() reject=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  case $1 in
    -r) status=$2; shift 2 ;;
    -t) limit=$2; shift 2 ;;
    -d) disksize=$2; shift 2 ;;
    -c) cpumax=$2; shift 2 ;;
    -s) power=$2; shift 2 ;;
    -e) expect+=("$2"); shift 2 ;;
    -n) reject+=("$2"); shift 2 ;;
    *) echo "run_guest.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "${1:-}" = -- ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=("$@")
if [ -n "$disksize" ]; then
  truncate -s "$disksize" "$tmp/disk.img"
  args+=(--disk "$tmp/disk.img")
fi
TIMEFORMAT='%R %U %S'
if [ -z "$power" ]; then
  { time timeout "$limit" "$hpvmapp" --kernel "$kernel" "${args[@]}" </dev/null >"$tmp/out" 2>&1; echo $? >"$tmp/rc"; } 2>"$tmp/time"
else
  timeout "$limit" "$hpvmapp" --kernel "$kernel" "${args[@]}" </dev/null >"$tmp/out" 2>&1 &
  tpid=$!
  sleep "$power"
  app=$(pgrep -P "$tpid")
  [ -n "$app" ] && kill -PWR "$app"
  wait "$tpid"
  echo $? >"$tmp/rc"
fi
rc=$(cat "$tmp/rc")
cat "$tmp/out"
fail=0
if [ "$rc" != "$status" ]; then
  echo "run_guest.sh: exit status $rc, expected $status"
  fail=1
fi
for re in "${expect[@]}"; do
  grep -Eq -- "$re" "$tmp/out" || { echo "run_guest.sh: missing: $re"; fail=1; }
done
for re in "${reject[@]}"; do
  grep -Eq -- "$re" "$tmp/out" && { echo "run_guest.sh: unexpected: $re"; fail=1; }
done
if [ -n "$cpumax" ]; then
  read -r real user sys <"$tmp/time"
  pct=$(awk -v r="$real" -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", 100 * (u + s) / r }')
  echo "run_guest.sh: host CPU ${pct}% of ${real} s (limit ${cpumax}%)"
  awk -v p="$pct" -v m="$cpumax" 'BEGIN { exit !(p <= m) }' || fail=1
fi
exit $fail
