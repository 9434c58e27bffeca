#!/usr/bin/env bash
# mkimage_test.sh MKIMAGE — ctest's check of the benchmark's image generator: the same seed gives
# the same image and another seed another; the mixed profile's chunk shares are near 40/45/15 %
# and its zero chunks are holes; zero is all holes; random has no zero chunk; --sum is 0 over
# zeros, equal over identical ranges and different over different ones (tests/vm/test_mem_image.c
# checks the same checksum against what the guest's memsum prints).
set -euo pipefail
MK=$1
D=$(mktemp -d /tmp/hpvm-mkimage-XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$MK" --profile mixed --size 64M --seed 7 "$D/a" >"$D/a.txt"
"$MK" --profile mixed --size 64M --seed 7 "$D/b" >/dev/null
"$MK" --profile mixed --size 64M --seed 8 "$D/c" >/dev/null
cmp -s "$D/a" "$D/b" || fail "the same seed gave two different images"
cmp -s "$D/a" "$D/c" && fail "two seeds gave the same image"
read -r zero file rnd < <(sed -E 's/.*chunks: ([0-9.]+) % zero, ([0-9.]+) % file bytes, ([0-9.]+) % random/\1 \2 \3/' "$D/a.txt")
awk -v z="$zero" -v f="$file" -v r="$rnd" 'BEGIN { exit !(z > 35 && z < 45 && f > 40 && f < 50 && r > 11 && r < 19) }' ||
  fail "mixed chunk shares $zero/$file/$rnd % are not near 40/45/15"
alloc=$(($(stat -c %b "$D/a") * $(stat -c %B "$D/a")))
((alloc < 64 * 1048576 * 70 / 100)) || fail "the mixed image's zero chunks are not holes ($alloc bytes allocated)"

"$MK" --profile zero --size 16M "$D/z" >/dev/null
(($(stat -c %b "$D/z") == 0)) || fail "the zero image has allocated blocks"
[[ $("$MK" --sum 0 16M "$D/z") == 0000000000000000 ]] || fail "--sum of zeros is not 0"
"$MK" --profile random --size 16M --seed 3 "$D/r" >"$D/r.txt"
grep -q "0.0 % zero, 0.0 % file bytes, 100.0 % random" "$D/r.txt" || fail "random: $(cat "$D/r.txt")"
[[ $("$MK" --sum 1M 4M "$D/a") == $("$MK" --sum 1M 4M "$D/b") ]] || fail "--sum differs on identical files"
[[ $("$MK" --sum 1M 4M "$D/a") != $("$MK" --sum 1M 4M "$D/c") ]] || fail "--sum is the same on different files"
echo "mkimage: PASS"
