// mem.S — brk, mmap/munmap/mprotect and file I/O, for test_ia64run_memory.c. argv[1] is a
// file of 20000 bytes whose byte i is (7 * i + 3) & 0xff. Prints one "name=value" line per
// result; checks that need no outside knowledge fail with "FAIL: ..." (exit 1) on their own.
	.include "rt.inc"

	PAGE = 16384
	FILE_SIZE = 20000

	.data
	.align 16
statbuf:	.skip 144
statbuf2:	.skip 144
path_none:	.asciz "/nonexistent-ia64run-test"
	.bss
	.align 16
buf:	.skip 4096

	.text
	.global _start
	.proc _start
_start:
	alloc r2 = ar.pfs, 0, 16, 6, 0
	adds loc0 = 16, sp
	;;
	ld8 loc1 = [loc0], 16		// argc; loc0 = &argv[1]
	;;
	ld8 loc2 = [loc0]		// the file's path
	;;

	// ---- brk ----
	mov out0 = r0
	SYSCALL NR_brk
	mov loc3 = r8
	movl r14 = _end + PAGE - 1
	;;
	movl r15 = -PAGE
	;;
	and r14 = r14, r15
	;;
	cmp.ne p6, p0 = r14, loc3
	FAILIF p6, "brk(0) is not the page after the end of bss"
	SAY "brk0="
	HEX loc3
	NL
	movl r14 = 100000
	;;
	add loc4 = loc3, r14		// the break 100000 bytes up
	;;
	mov out0 = loc4
	SYSCALL NR_brk
	cmp.ne p6, p0 = r8, loc4
	FAILIF p6, "brk did not grow"
	adds r14 = -1, loc4
	mov r15 = 0x5a
	;;
	ld1 r16 = [r14]			// new memory is zero
	st1 [loc3] = r15
	;;
	st1 [r14] = r15
	cmp.ne p6, p0 = r16, r0
	FAILIF p6, "new brk memory is not zero"
	movl r14 = 50000
	mov r15 = 0x77
	;;
	add loc5 = loc3, r14
	;;
	st1 [loc5] = r15
	adds out0 = 10, loc3
	;;
	SYSCALL NR_brk			// shrink to 10 bytes
	adds r14 = 10, loc3
	;;
	cmp.ne p6, p0 = r8, r14
	FAILIF p6, "brk did not shrink"
	mov out0 = loc4
	SYSCALL NR_brk			// and grow again: the pages given back come back zero
	ld1 r14 = [loc5]
	ld1 r15 = [loc3]
	;;
	cmp.ne p6, p0 = r14, r0
	FAILIF p6, "brk memory given back and taken again is not zero"
	cmp.ne p6, p0 = 0x5a, r15
	FAILIF p6, "the first brk page lost its contents"
	movl r14 = -PAGE
	;;
	add out0 = loc3, r14
	;;
	SYSCALL NR_brk			// below the start: the break stays
	mov loc6 = r8
	;;
	SAY "brk_below="
	sub r14 = loc6, loc3
	;;
	DEC r14
	NL

	// ---- anonymous mmap ----
	mov out0 = r0
	movl out1 = 3 * PAGE
	mov out2 = PROT_READ | PROT_WRITE
	mov out3 = MAP_PRIVATE | MAP_ANONYMOUS
	mov out4 = -1
	mov out5 = r0
	;;
	SYSCALL NR_mmap
	mov loc4 = r8
	;;
	SAY "mmap_anon="
	HEX loc4
	NL
	movl r14 = PAGE - 4
	movl r15 = 0x44434241		// "ABCD"
	movl r16 = 0x48474645		// "EFGH"
	;;
	add r14 = r14, loc4
	;;
	st4 [r14] = r15, 4
	;;
	st4 [r14] = r16			// at the start of the second page
	mov out0 = r0			// three bad calls
	mov out1 = r0
	mov out2 = PROT_READ
	mov out3 = MAP_PRIVATE | MAP_ANONYMOUS
	mov out4 = -1
	mov out5 = r0
	;;
	SYSCALL NR_mmap			// length 0
	mov loc5 = r8
	mov out0 = r0
	mov out1 = 100
	mov out2 = PROT_READ
	mov out3 = MAP_PRIVATE | MAP_ANONYMOUS
	mov out4 = -1
	mov out5 = 100
	;;
	SYSCALL NR_mmap			// offset not page aligned
	mov loc6 = r8
	adds out0 = 1, loc4
	mov out1 = 100
	mov out2 = PROT_READ
	mov out3 = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
	mov out4 = -1
	mov out5 = r0
	;;
	SYSCALL NR_mmap			// MAP_FIXED not page aligned
	mov loc7 = r8
	;;
	SAY "mmap_bad="
	DEC loc5
	SAY ","
	DEC loc6
	SAY ","
	DEC loc7
	NL
	movl r14 = PAGE
	;;
	add loc5 = loc4, r14		// the second page
	;;
	mov out0 = loc5
	movl out1 = PAGE
	;;
	SYSCALL NR_munmap
	mov loc6 = r8
	mov out0 = loc5			// a hint at the hole: it is taken
	movl out1 = PAGE
	mov out2 = PROT_READ | PROT_WRITE
	mov out3 = MAP_PRIVATE | MAP_ANONYMOUS
	mov out4 = -1
	mov out5 = r0
	;;
	SYSCALL NR_mmap
	mov loc7 = r8
	ld4 r14 = [loc5]		// fresh memory again
	;;
	cmp.ne p6, p0 = r14, r0
	FAILIF p6, "memory mapped after munmap is not zero"
	movl r15 = 0x48474645
	;;
	st4 [loc5] = r15
	SAY "munmap="
	DEC loc6
	SAY " hole_reused="
	cmp.eq p6, p7 = loc7, loc5
	;;
(p6)	mov r14 = 1
(p7)	mov r14 = 0
	;;
	DEC r14
	NL
	mov out0 = loc4			// first page read-only: the mapping splits
	movl out1 = PAGE
	mov out2 = PROT_READ
	;;
	SYSCALL NR_mprotect
	mov loc6 = r8
	mov out0 = loc4
	movl out1 = 10 * PAGE
	mov out2 = PROT_READ
	;;
	SYSCALL NR_mprotect		// past the end of the mapping
	mov loc7 = r8
	adds out0 = 1, loc4
	movl out1 = PAGE
	;;
	SYSCALL NR_munmap		// not aligned
	mov loc8 = r8
	;;
	SAY "mprotect="
	DEC loc6
	SAY ","
	DEC loc7
	SAY " munmap_bad="
	DEC loc8
	NL
	SAY "span="
	mov out0 = 1			// write() of 8 bytes across the two mappings
	movl r14 = PAGE - 4
	mov out2 = 8
	;;
	add out1 = r14, loc4
	SYSCALL NR_write
	NL

	// ---- files ----
	mov out0 = loc2
	mov out1 = 0			// O_RDONLY
	mov out2 = 0
	;;
	SYSCALL NR_open
	mov loc5 = r8
	mov out0 = r8
	mov out1 = loc4			// read into the read-only page
	mov out2 = 10
	;;
	SYSCALL NR_read
	mov loc6 = r8
	;;
	SAY "read_readonly="
	DEC loc6
	NL
	mov out0 = loc5
	movl out1 = statbuf
	;;
	SYSCALL NR_fstat
	mov out0 = loc2
	movl out1 = statbuf2
	;;
	SYSCALL NR_stat
	movl r14 = statbuf + 48		// st_size
	movl r15 = statbuf + 24		// st_mode
	movl r16 = statbuf2 + 48
	;;
	ld8 loc6 = [r14]
	ld4 loc7 = [r15]
	ld8 loc8 = [r16]
	;;
	SAY "fstat_size="
	DEC loc6
	SAY " stat_size="
	DEC loc8
	SAY " mode="
	extr.u r14 = loc7, 12, 4
	;;
	DEC r14
	NL
	// A private file mapping: the file's bytes, zero past its end, writable copy.
	mov out0 = r0
	movl out1 = FILE_SIZE
	mov out2 = PROT_READ | PROT_WRITE
	mov out3 = MAP_PRIVATE
	mov out4 = loc5
	mov out5 = r0
	;;
	SYSCALL NR_mmap
	mov loc6 = r8
	mov out0 = r8
	mov out1 = 0
	;;
	br.call.sptk.many b0 = check_byte
	;;
	mov out0 = loc6
	movl out1 = PAGE - 1
	;;
	br.call.sptk.many b0 = check_byte
	;;
	mov out0 = loc6
	movl out1 = PAGE
	;;
	br.call.sptk.many b0 = check_byte
	;;
	mov out0 = loc6
	movl out1 = FILE_SIZE - 1
	;;
	br.call.sptk.many b0 = check_byte
	;;
	movl r14 = FILE_SIZE
	movl r15 = 2 * PAGE - 1
	;;
	add r14 = r14, loc6
	add r15 = r15, loc6
	;;
	ld1 r16 = [r14]
	ld1 r17 = [r15]
	;;
	or r16 = r16, r17
	;;
	cmp.ne p6, p0 = r16, r0
	FAILIF p6, "file mapping past the end of the file is not zero"
	st1 [loc6] = r0			// private: may be written
	mov out0 = r0			// the second page of the file
	movl out1 = PAGE
	mov out2 = PROT_READ
	mov out3 = MAP_PRIVATE
	mov out4 = loc5
	movl out5 = PAGE
	;;
	SYSCALL NR_mmap
	mov loc7 = r8
	movl r14 = -PAGE
	;;
	add out0 = r8, r14		// check_byte(base - PAGE, PAGE): byte 0 is file byte PAGE
	movl out1 = PAGE
	;;
	br.call.sptk.many b0 = check_byte
	;;
	mov out0 = r0			// shared read-only: allowed, 1 MiB aligned
	movl out1 = PAGE
	mov out2 = PROT_READ
	mov out3 = MAP_SHARED
	mov out4 = loc5
	mov out5 = r0
	;;
	SYSCALL NR_mmap
	mov loc8 = r8
	mov out0 = r0			// shared writable through an O_RDONLY descriptor
	movl out1 = PAGE
	mov out2 = PROT_READ | PROT_WRITE
	mov out3 = MAP_SHARED
	mov out4 = loc5
	mov out5 = r0
	;;
	SYSCALL NR_mmap
	mov loc9 = r8
	;;
	SAY "file_mmap="
	HEX loc6
	SAY " offset_mmap="
	HEX loc7
	SAY " shared="
	HEX loc8
	SAY " shared_write="
	DEC loc9
	NL
	// read/lseek/pread
	mov out0 = loc5
	mov out1 = 1000
	mov out2 = 0			// SEEK_SET
	;;
	SYSCALL NR_lseek
	mov loc6 = r8
	mov out0 = loc5
	movl out1 = buf
	mov out2 = 100
	;;
	SYSCALL NR_read
	mov loc7 = r8
	movl out0 = buf - 1000
	mov out1 = 1000
	;;
	br.call.sptk.many b0 = check_byte
	;;
	movl out0 = buf - 1000
	mov out1 = 1099
	;;
	br.call.sptk.many b0 = check_byte
	;;
	mov out0 = loc5
	mov out1 = 0
	mov out2 = 2			// SEEK_END
	;;
	SYSCALL NR_lseek
	mov loc8 = r8
	mov out0 = loc5
	movl out1 = buf
	mov out2 = 100
	;;
	SYSCALL NR_read
	mov loc9 = r8
	mov out0 = loc5
	movl out1 = buf
	mov out2 = 10
	movl out3 = 5000
	;;
	SYSCALL NR_pread64
	mov loc10 = r8
	movl out0 = buf - 5000
	movl out1 = 5000
	;;
	br.call.sptk.many b0 = check_byte
	;;
	SAY "lseek="
	DEC loc6
	SAY " read="
	DEC loc7
	SAY " end="
	DEC loc8
	SAY " read_eof="
	DEC loc9
	SAY " pread="
	DEC loc10
	NL
	mov out0 = loc5
	SYSCALL NR_close
	mov loc6 = r8
	mov out0 = loc5
	;;
	SYSCALL NR_close
	mov loc7 = r8
	movl out0 = path_none
	mov out1 = 0
	mov out2 = 0
	;;
	SYSCALL NR_open
	mov loc8 = r8
	;;
	SAY "close="
	DEC loc6
	SAY ","
	DEC loc7
	SAY " open_missing="
	DEC loc8
	NL
	SAY "mem ok"
	NL
	EXIT 0
	.endp _start

// check_byte(base, i): fail unless byte base[i] is (7 * i + 3) & 0xff.
	.proc check_byte
check_byte:
	alloc loc1 = ar.pfs, 2, 2, 3, 0
	mov loc0 = b0
	add r14 = in0, in1
	shladd r15 = in1, 3, r0		// 8i
	;;
	ld1 r16 = [r14]
	sub r15 = r15, in1		// 7i
	;;
	adds r15 = 3, r15
	;;
	zxt1 r15 = r15
	;;
	cmp.ne p6, p0 = r15, r16
	FAILIF p6, "file byte has the wrong value"
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp check_byte
