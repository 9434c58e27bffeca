#!/usr/bin/env bash
# interp.sh BUILD_DIR [RUNS] — the interpreter benchmark: runs each program of
# bench/interp/ under ia64run --stats (best of RUNS, default 3) and prints a table of
# instructions retired, seconds and M instructions/s. Targets (2-core Debian 12 host):
# alu_loop >= 400 M/s, ldst_loop >= 250 M/s.
set -euo pipefail
build=${1:-build}
runs=${2:-3}
printf '%-10s %14s %9s %10s  %s\n' program instructions seconds "M insn/s" note
for prog in alu_loop ldst_loop fib daxpy sort; do
  bin=$build/bench/interp_$prog
  best=""
  for _ in $(seq "$runs"); do
    line=$("$build/bin/ia64run" --stats "$bin" 2>&1 >/dev/null | grep -E 'instructions (retired )?in' || true)
    [ -n "$line" ] || { best="FAILED"; break; }
    read -r insns secs mips < <(echo "$line" | sed -E 's/.*: ([0-9]+) instructions (retired )?in ([0-9.]+) s: ([0-9.]+) M.*/\1 \3 \4/')
    if [ -z "$best" ] || awk "BEGIN{exit !($mips > ${best##* })}"; then best="$insns $secs $mips"; fi
  done
  note=""
  case $prog in alu_loop) note="target >= 400";; ldst_loop) note="target >= 250";; esac
  if [ "$best" = FAILED ]; then printf '%-10s %14s\n' "$prog" "FAILED (see ia64run --stats $bin)"; continue; fi
  read -r insns secs mips <<<"$best"
  printf '%-10s %14s %9s %10s  %s\n' "$prog" "$insns" "$secs" "$mips" "$note"
done
