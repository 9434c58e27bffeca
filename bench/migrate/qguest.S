/* qguest.S — the x86 guest of the migration benchmark's QEMU runs (bench/migrate/run.sh): a
 * multiboot kernel (QEMU -kernel) that does to its RAM what hpvmk's memstress does to an hpvm
 * guest's: rewrite one 8-byte word in every 4 KiB page of a working set, round-robin, at a set
 * rate, halting between bursts. The command line (-append) says "rate=MIB_S ws=MIB":
 * RATE * 256 pages a second over WS MiB from 16 MiB. rate=0 (or none): the guest halts for
 * good with interrupts off, an idle guest that costs the host nothing.
 *
 * Time: the TSC, calibrated against PIT channel 2 over 50 ms at boot. Wake-ups: PIT channel 0
 * at 100 Hz through the 8259 (IRQ 0 -> vector 0x20); after each the guest dirties the pages
 * that are due since the last burst (credit is capped at 100 ms, so a pause of the VM — a
 * migration's downtime — is not caught up in one burst), as hpvmk's paced workloads do. Every
 * second it prints "qguest: N pages/s" on COM1, for the benchmark to check the rate.
 *
 * Build (bench/migrate/CMakeLists.txt): as --32, ld -m elf_i386 -Ttext 0x100000. 32-bit
 * protected mode as multiboot leaves it, paging off, flat segments. */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0
	.set WS_BASE, 16 << 20
	.set COM1, 0x3f8

	.section .text
	.code32
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.globl _start
_start:
	cli
	mov $stack_top, %esp
	mov %ebx, mbinfo
	call setup_gdt
	call parse_cmdline
	cmpl $0, rate
	je idle_forever
	call calibrate_tsc
	call setup_interrupts
	call dirty_loop

idle_forever:
	cli
1:	hlt
	jmp 1b

/* Our own GDT (flat code and data) and a task register: multiboot leaves TR at selector 0,
 * which VMX calls invalid guest state, and KVM would then emulate every instruction, IRET
 * included, which its emulator only does in real mode. */
setup_gdt:
	mov $tss, %eax
	mov %ax, gdt_tss + 2
	shr $16, %eax
	mov %al, gdt_tss + 4
	mov %ah, gdt_tss + 7
	lgdt gdt_ptr
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	mov %ax, %ss
	mov $0x18, %ax
	ltr %ax
	xor %ax, %ax
	lldt %ax
	ret

/* ---- Command line --------------------------------------------------------------------------- */

/* find_key(%esi = key, NUL-terminated) -> %eax = its decimal value in the command line, 0 when
 * absent. The key must start the line or follow a blank (the kernel's path comes first). */
find_key:
	push %ebx
	push %edi
	xor %eax, %eax
	mov mbinfo, %ebx
	testl $4, (%ebx)		/* flags bit 2: cmdline valid */
	jz 9f
	mov 16(%ebx), %edi		/* the command line */
	mov $' ', %dl			/* the character before the candidate */
1:	cmpb $0, (%edi)
	je 9f
	cmp $' ', %dl
	jne 3f
	/* compare key with the text at %edi */
	push %esi
	push %edi
2:	movb (%esi), %cl
	test %cl, %cl
	jz 4f				/* the whole key matched */
	cmpb (%edi), %cl
	jne 5f
	inc %esi
	inc %edi
	jmp 2b
4:	xor %eax, %eax			/* decimal digits follow */
6:	movzbl (%edi), %ecx
	sub $'0', %ecx
	cmp $9, %ecx
	ja 7f
	imul $10, %eax
	add %ecx, %eax
	inc %edi
	jmp 6b
7:	pop %edi
	pop %esi
	jmp 9f
5:	pop %edi
	pop %esi
3:	movb (%edi), %dl
	inc %edi
	jmp 1b
9:	pop %edi
	pop %ebx
	ret

parse_cmdline:
	mov $key_rate, %esi
	call find_key
	mov %eax, rate
	mov $key_ws, %esi
	call find_key
	test %eax, %eax
	jnz 1f
	mov $256, %eax
1:	shl $8, %eax			/* MiB -> pages */
	mov %eax, ws_pages
	mov rate, %eax
	shl $8, %eax			/* MiB/s -> pages/s */
	mov %eax, pps
	ret

/* ---- TSC calibration against PIT channel 2 ------------------------------------------------------ */

calibrate_tsc:
	inb $0x61, %al
	and $0xfc, %al
	or $1, %al			/* gate 2 on, speaker off */
	outb %al, $0x61
	mov $0xb0, %al			/* channel 2, lobyte/hibyte, mode 0, binary */
	outb %al, $0x43
	mov $59659, %ecx		/* 50 ms at 1193182 Hz */
	mov %cl, %al
	outb %al, $0x42
	mov %ch, %al
	outb %al, $0x42
	rdtsc
	mov %eax, %esi
	mov %edx, %edi
1:	inb $0x61, %al
	test $0x20, %al			/* OUT2 goes high at terminal count */
	jz 1b
	rdtsc
	sub %esi, %eax
	imul $20, %eax			/* ticks per second (fits 32 bits below 4.29 GHz) */
	mov %eax, tsc_hz
	xor %edx, %edx
	mov $10, %ecx
	div %ecx
	mov %eax, tsc_100ms
	ret

/* ---- Interrupts: IDT, 8259, PIT channel 0 at 100 Hz ----------------------------------------------- */

setup_interrupts:
	mov %cs, %ax
	movzwl %ax, %ebx
	shl $16, %ebx			/* the selector in bits 31:16 of the gate's low word */
	mov $idt, %edi
	xor %ecx, %ecx
1:	mov $ignore_irq, %eax
	cmp $0x20, %ecx
	jne 2f
	mov $timer_irq, %eax
2:	mov %eax, %edx
	and $0xffff, %eax
	or %ebx, %eax
	mov %eax, (%edi)
	and $0xffff0000, %edx
	or $0x8e00, %edx		/* present, DPL 0, 32-bit interrupt gate */
	mov %edx, 4(%edi)
	add $8, %edi
	inc %ecx
	cmp $48, %ecx
	jne 1b
	lidt idt_ptr
	/* 8259: master at 0x20, slave at 0x28, only IRQ 0 unmasked */
	mov $0x11, %al
	outb %al, $0x20
	outb %al, $0xa0
	mov $0x20, %al
	outb %al, $0x21
	mov $0x28, %al
	outb %al, $0xa1
	mov $4, %al
	outb %al, $0x21
	mov $2, %al
	outb %al, $0xa1
	mov $1, %al
	outb %al, $0x21
	outb %al, $0xa1
	mov $0xfe, %al
	outb %al, $0x21
	mov $0xff, %al
	outb %al, $0xa1
	/* PIT channel 0: rate generator, 11932 -> 100 Hz */
	mov $0x34, %al
	outb %al, $0x43
	mov $11932, %ecx
	mov %cl, %al
	outb %al, $0x40
	mov %ch, %al
	outb %al, $0x40
	ret

timer_irq:
	push %eax
	mov $0x20, %al
	outb %al, $0x20			/* end of interrupt */
	pop %eax
	iret

ignore_irq:
	iret

/* ---- The dirtying loop ---------------------------------------------------------------------------- */

dirty_loop:
	rdtsc
	mov %eax, last_lo
	mov %edx, last_hi
	mov %eax, rpt_lo
	mov %edx, rpt_hi
	movl $WS_BASE, cursor
	movl $0, rem
	movl $0, rpt_pages
	sti
loop:
	hlt				/* until the next 10 ms tick */
	rdtsc
	mov %eax, %esi			/* now */
	mov %edx, %edi
	sub last_lo, %eax
	sbb last_hi, %edx
	mov %esi, last_lo
	mov %edi, last_hi
	/* elapsed ticks, capped at 100 ms */
	mov tsc_100ms, %ebx
	test %edx, %edx
	jnz 1f
	cmp %ebx, %eax
	jbe 2f
1:	mov %ebx, %eax
2:	/* pages = (elapsed * pps + rem) / tsc_hz, rem = the remainder */
	mull pps
	add rem, %eax
	adc $0, %edx
	divl tsc_hz
	mov %edx, rem
	mov %eax, %ecx			/* pages due now */
	add %ecx, rpt_pages
	mov cursor, %edi
	mov ws_pages, %ebx
	shl $12, %ebx
	add $WS_BASE, %ebx		/* end of the working set */
	incl value
	mov value, %edx
	test %ecx, %ecx
	jz 4f
3:	mov %edx, (%edi)		/* one 8-byte word of the page */
	mov %edx, 4(%edi)
	add $4096, %edi
	cmp %ebx, %edi
	jb 5f
	mov $WS_BASE, %edi
5:	dec %ecx
	jnz 3b
4:	mov %edi, cursor
	/* once a second: "qguest: N pages/s" */
	mov %esi, %eax
	mov last_hi, %edx
	sub rpt_lo, %eax
	sbb rpt_hi, %edx
	test %edx, %edx
	jnz 6f
	cmp tsc_hz, %eax
	jb loop
6:	mov last_lo, %eax
	mov %eax, rpt_lo
	mov last_hi, %eax
	mov %eax, rpt_hi
	mov $msg_head, %esi
	call puts
	mov rpt_pages, %eax
	movl $0, rpt_pages
	call putdec
	mov $msg_tail, %esi
	call puts
	jmp loop

/* ---- COM1 output ------------------------------------------------------------------------------------ */

putc:					/* %al */
	push %edx
	push %eax
	mov $COM1 + 5, %dx
1:	inb %dx, %al
	test $0x20, %al			/* transmitter holding register empty */
	jz 1b
	pop %eax
	mov $COM1, %dx
	outb %al, %dx
	pop %edx
	ret

puts:					/* %esi */
1:	lodsb
	test %al, %al
	jz 2f
	call putc
	jmp 1b
2:	ret

putdec:					/* %eax, unsigned */
	push %ebx
	mov $10, %ebx
	xor %ecx, %ecx
1:	xor %edx, %edx
	div %ebx
	push %edx
	inc %ecx
	test %eax, %eax
	jnz 1b
2:	pop %eax
	add $'0', %al
	call putc
	loop 2b
	pop %ebx
	ret

	.section .rodata
key_rate:	.asciz "rate="
key_ws:		.asciz "ws="
msg_head:	.asciz "qguest: "
msg_tail:	.asciz " pages/s\n"

	.section .data
	.align 8
idt_ptr:	.word 48 * 8 - 1
		.long idt
	.align 8
gdt:		.quad 0
		.quad 0x00cf9a000000ffff	/* 0x08: code, flat, 32-bit */
		.quad 0x00cf92000000ffff	/* 0x10: data, flat */
gdt_tss:	.quad 0x0000890000000067	/* 0x18: 32-bit TSS, 104 bytes (base set at boot) */
gdt_end:
	.align 8
gdt_ptr:	.word gdt_end - gdt - 1
		.long gdt

	.section .bss
	.align 16
mbinfo:		.skip 4
rate:		.skip 4
ws_pages:	.skip 4
pps:		.skip 4
tsc_hz:		.skip 4
tsc_100ms:	.skip 4
cursor:		.skip 4
rem:		.skip 4
value:		.skip 4
last_lo:	.skip 4
last_hi:	.skip 4
rpt_lo:		.skip 4
rpt_hi:		.skip 4
rpt_pages:	.skip 4
	.align 16
idt:		.skip 48 * 8
tss:		.skip 104
stack:		.skip 8192
stack_top:
