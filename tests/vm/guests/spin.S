// spin.S — every vCPU (the boot vCPU starts the others) counts in r20 forever: a busy guest
// for the pause/resume tests and benchmarks.
	.include "../../tests/vm/guests/ssc.inc"   // from tests/vm and bench/vm alike
	.text
	.global _start
_start:
	START_SECONDARIES loop
loop:	adds r20 = 1, r20
	br loop ;;
