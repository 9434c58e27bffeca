#!/usr/bin/env bash
# host_bench.sh — what idle guests cost a host, measured through the real binaries: a private
# hpvmd (temporary shared and state directories) runs N idle hpvmk guests (64 MiB, 1 vCPU,
# 0 % entitlement — best-effort, so admission reserves nothing for them and all N run —
# workload `idle`), and the tables say (1) the host memory per idle guest
# (RSS and PSS of every hpvmapp from /proc/PID/smaps_rollup, and hpvmd's own), (2) how long
# hpvmstatus takes with N guests (table and --json, median and p95 of 20 runs), (3) the time
# from `hpvmstart` to the guest's first console line, and the host CPU the idle guests use.
# It never passes or fails on a time; it fails when a guest does not start or does not print.
# Usage and columns: docs/bench.md ("Host: idle guests").
set -euo pipefail

usage() {
  cat <<EOF
usage: host_bench.sh [--quick] [--counts "10 100 250"] BUILD_DIR
  --quick     N = 10 only, 3 start-latency runs, a 2 s CPU window (ctest's bench_host_quick)
  --counts L  the guest counts, ascending (default "10 100 250")
EOF
}

QUICK=0 COUNTS="10 100 250" BUILD=""
while (($#)); do
  case $1 in
    --quick) QUICK=1 COUNTS=10 ;;
    --counts) COUNTS=${2:?}; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) BUILD=$1 ;;
  esac
  shift
done
[[ -n $BUILD ]] || { usage >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd) || exit 2
BIN=$BUILD/bin KERNEL=$BUILD/guests/hpvmk
for f in "$BIN/hpvmd" "$BIN/hpvmapp" "$BIN/hpvm" "$KERNEL"; do
  [[ -x $f || -f $f ]] || { echo "host_bench: $f is missing; build $BUILD first" >&2; exit 2; }
done
STATUS_RUNS=20 START_RUNS=10 CPU_WINDOW=10
((QUICK)) && START_RUNS=3 CPU_WINDOW=2
MEM=64M

DIR=$(mktemp -d /tmp/hpvm-hostbench-XXXXXX)
export HPVM_STATE_DIR=$DIR/state
unset HPVMD_SOCKET
mkdir -p "$DIR/shared" "$DIR/state"
HPVMD_PID=""
exec {NAP_FD}<> <(:)   # `read -t` on a pipe nobody writes: a sleep without a fork

# Stop hpvmd, then kill any hpvmapp a pidfile still names (guests outlive hpvmd on purpose),
# and remove the temporary directory. Runs on every exit; a clean run has stopped them all.
cleanup() {
  local rc=$? f
  trap - EXIT INT TERM
  if [[ -n $HPVMD_PID ]]; then kill -TERM "$HPVMD_PID" 2>/dev/null || true; wait "$HPVMD_PID" 2>/dev/null || true; fi
  for f in "$DIR"/state/vms/*/app.pid; do
    [[ -f $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null || true
  done
  if ((rc)) && [[ -f $DIR/hpvmd.log ]]; then echo "---- hpvmd log (last 20 lines) ----" >&2; tail -20 "$DIR/hpvmd.log" >&2; fi
  [[ -n ${HOSTBENCH_KEEP:-} ]] || rm -rf "$DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "host_bench: $*" >&2; exit 1; }
nap() { read -t "$1" -u "$NAP_FD" || true; }
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
hpvm() { "$BIN/hpvm" "$@"; }

# median and p95 (nearest rank) of microsecond samples on stdin, printed in ms
stats_ms() { sort -n | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); p = int(NR * 0.95 + 0.999);
  printf "%.1f %.1f\n", v[m] / 1000, v[p] / 1000 }'; }

# "rss pss private" KiB of one process (0 0 0 when it is gone)
mem_of() { awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } /^Private_(Clean|Dirty):/ { v += $2 }
  END { printf "%d %d %d\n", r, p, v }' "/proc/$1/smaps_rollup" 2>/dev/null || echo "0 0 0"; }
# user + system CPU ticks summed over the given pids, read by one process (a fork per pid
# would stretch the sampling over seconds on a busy host and skew the window)
ticks_of() { (($#)) || { echo 0; return; }; local p files=(); for p; do files+=("/proc/$p/stat"); done
  awk '{ sub(/.*\) /, ""); split($0, f, " "); t += f[12] + f[13] } END { print t + 0 }' "${files[@]}" 2>/dev/null || echo 0; }

# context switches (voluntary + not) of every thread of the given pids: how often they wake
switches_of() { (($#)) || { echo 0; return; }; local p files=(); for p; do files+=(/proc/"$p"/task/*/status); done
  awk '/^(non)?voluntary_ctxt_switches:/ { t += $2 } END { print t + 0 }' "${files[@]}" 2>/dev/null || echo 0; }

app_pids() { local f; for f in "$DIR"/state/vms/idle*/app.pid; do [[ -f $f ]] && cat "$f"; done; }

start_hpvmd() {
  "$BIN/hpvmd" --foreground --shared "$DIR/shared" --state-dir "$DIR/state" --name benchhost \
    --hpvmapp "$BIN/hpvmapp" >"$DIR/hpvmd.log" 2>&1 &
  HPVMD_PID=$!
  local i
  for ((i = 0; i < 500; i++)); do
    [[ -S $DIR/state/hpvmd.sock ]] && hpvm status >/dev/null 2>&1 && return 0
    kill -0 "$HPVMD_PID" 2>/dev/null || die "hpvmd exited while starting"
    nap 0.02
  done
  die "hpvmd did not answer within 10 s"
}

# create NAME [ENTITLEMENT]: the idle guests are best-effort (0 %), the start-latency ones 1 %.
create() { hpvm create -P "$1" -c 1 -r "$MEM" -e "${2:-1}" -B manual -K "$KERNEL" -A idle >/dev/null || die "create $1 failed"; }

# Start-to-first-console-line: START_RUNS fresh guests (so console.log does not exist before
# the start), each started, timed until its console.log has a line, stopped and removed.
START_MEDIAN="" START_MAX=""
measure_start() {
  local tag=$1 i name log t0 t1 pid samples="" rc
  for ((i = 0; i < START_RUNS; i++)); do
    name=lat$tag$i log=$DIR/state/vms/lat$tag$i/console.log
    create "$name"
    t0=$(now_us)
    hpvm start -P "$name" >/dev/null &
    pid=$!
    while ! [[ -s $log ]] || ! grep -q $'\n' "$log"; do
      (($(now_us) - t0 < 20000000)) || die "$name printed nothing on its console within 20 s"
      nap 0.0005
    done
    t1=$(now_us)
    wait "$pid" || die "hpvmstart -P $name failed"
    samples+="$((t1 - t0))"$'\n'
    hpvm stop -P "$name" -F -q >/dev/null || die "stop $name failed"
    hpvm remove -P "$name" -q >/dev/null || die "remove $name failed"
  done
  read -r START_MEDIAN START_MAX < <(printf '%s' "$samples" | sort -n | awk '{ v[NR] = $1 }
    END { printf "%.1f %.1f\n", v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }')
}

CPUS=$(nproc)
echo "host: $CPUS CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); $(uptime)"
echo "guests: hpvmk 'idle', $MEM, 1 vCPU, 0 % entitlement (best-effort: admission reserves nothing, all run)"
start_hpvmd

measure_start 0
START0="$START_MEDIAN $START_MAX"

created=0 running=0
MEM_ROWS="" STATUS_ROWS="" CPU_ROWS=""
for N in $COUNTS; do
  t0=$(now_us)
  for ((; created < N; created++)); do create "$(printf 'idle%03d' "$created")" 0; done
  t1=$(now_us)
  for ((; running < N; running++)); do
    hpvm start -P "$(printf 'idle%03d' "$running")" >/dev/null || die "start idle$running failed"
  done
  t2=$(now_us)
  nap 1   # let the last ones boot into their idle loops
  on=$(hpvm status --json | grep -o '"run_state":"ON"' | wc -l)
  pids=$(app_pids)
  napps=$(wc -w <<<"$pids")
  ((napps == running)) || die "$running guests started but $napps hpvmapp pidfiles"
  read -r rss pss prv < <(for p in $pids; do mem_of "$p"; done | awk '{ r += $1; p += $2; v += $3 } END { print r + 0, p + 0, v + 0 }')
  read -r drss dpss dprv < <(mem_of "$HPVMD_PID")
  MEM_ROWS+=$(printf '| %d | %d | %d | %d | %d | %d | %d | %d | %.0f / %.0f ms |' "$N" "$running" "$on" \
    $((rss / running)) $((pss / running)) $((prv / running)) "$drss" "$dpss" \
    "$(((t1 - t0) / 1000))" "$(((t2 - t1) / 1000))")$'\n'
  # hpvmstatus with N guests: table and --json
  tab=$(for ((i = 0; i < STATUS_RUNS; i++)); do a=$(now_us); hpvm status >/dev/null; echo $(($(now_us) - a)); done | stats_ms)
  json=$(for ((i = 0; i < STATUS_RUNS; i++)); do a=$(now_us); hpvm status --json >/dev/null; echo $(($(now_us) - a)); done | stats_ms)
  STATUS_ROWS+="| $N | $running | ${tab% *} | ${tab#* } | ${json% *} | ${json#* } |"$'\n'
  # host CPU of the running idle guests (and hpvmd) over CPU_WINDOW seconds
  w0=$(now_us); before=$(ticks_of $pids); sw0=$(switches_of $pids); dbefore=$(ticks_of "$HPVMD_PID"); w0=$(((w0 + $(now_us)) / 2))
  nap "$CPU_WINDOW"
  w1=$(now_us); after=$(ticks_of $pids); sw1=$(switches_of $pids); dafter=$(ticks_of "$HPVMD_PID"); w1=$(((w1 + $(now_us)) / 2))
  hz=$(getconf CLK_TCK)
  CPU_ROWS+=$(awk -v t=$((after - before)) -v d=$((dafter - dbefore)) -v hz="$hz" -v us=$((w1 - w0)) -v n="$running" -v N="$N" -v sw=$((sw1 - sw0)) \
    'BEGIN { s = us / 1e6; printf "| %d | %d | %.1f | %.2f | %.3f | %.0f | %.2f |", N, n, s, 100 * t / hz / s, 100 * t / hz / s / n, sw / s / n, 100 * d / hz / s }')$'\n'
done
NMAX=$N

measure_start 1
START1="$START_MEDIAN $START_MAX"

# Stop every idle guest cleanly (power off through hpvmd), then hpvmd itself.
t0=$(now_us)
for ((i = 0; i < running; i++)); do hpvm stop -P "$(printf 'idle%03d' "$i")" -F -q >/dev/null || die "stop idle$i failed"; done
STOP_MS=$((($(now_us) - t0) / 1000))
left=0; for p in $(app_pids); do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
((left == 0)) || die "$left hpvmapp still running after every guest was stopped"
kill -TERM "$HPVMD_PID"; wait "$HPVMD_PID" || true; HPVMD_PID=""

echo
echo "Host memory per idle guest (KiB; sums over every hpvmapp / guests running)"
echo "| guests | running | On (OS) | RSS / guest | PSS / guest | private / guest | hpvmd RSS | hpvmd PSS | create / start all |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s' "$MEM_ROWS"
echo
echo "hpvmstatus latency (ms, $STATUS_RUNS runs each; the table and --json)"
echo "| guests | running | table median | table p95 | --json median | --json p95 |"
echo "|---|---|---|---|---|---|"
printf '%s' "$STATUS_ROWS"
echo
echo "Start to first console line (ms, $START_RUNS starts: hpvmstart until console.log has a line)"
echo "| idle guests running | median | max |"
echo "|---|---|---|"
echo "| 0 | ${START0% *} | ${START0#* } |"
echo "| $running (of $NMAX) | ${START1% *} | ${START1#* } |"
echo
echo "Host CPU of the idle guests (% of one CPU, user + system, over the window)"
echo "| guests | running | window s | all hpvmapps % | per guest % | switches/s per guest | hpvmd % |"
echo "|---|---|---|---|---|---|---|"
printf '%s' "$CPU_ROWS"
echo
echo "stopped $running guests in $STOP_MS ms; $(uptime)"
