/* ia64.h — the IA-64 (Itanium) CPU: decoder, disassembler and interpreter.
 *
 * Pure computation: no I/O, no threads, no global mutable state. A CPU is an ia64_cpu the
 * caller owns; guest memory is reached through a software TLB that the caller fills on a
 * miss (ia64_mem_ops.translate), so the same CPU serves ia64run (user-mode Linux programs)
 * and hypervisor/ (the VM platform with its shadow TLB and dirty log). Bundles are decoded
 * once into a per-page cache; a store to a page holding decoded code drops that page.
 * Faults and traps stop ia64_run() with the interruption described in cpu->intr. */
#ifndef HPVM_IA64_H
#define HPVM_IA64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ia64_cpu ia64_cpu;
typedef struct ia64_dcache ia64_dcache;

/* Register file geometry. */
#define IA64_NGR 128
#define IA64_NSTACKED 96               /* physical stacked registers behind r32..r127 */
#define IA64_NGR_PHYS (32 + IA64_NSTACKED)
#define IA64_NFR 128
#define IA64_NBR 8
#define IA64_NAR 128
#define IA64_NCR 128
#define IA64_NPKR 16                   /* protection key registers implemented */
#define IA64_NDBR 8                    /* data / instruction breakpoint registers (4 pairs each) */
#define IA64_NIBR 8
#define IA64_NPMC 8                    /* PMC/PMD 0..7: overflow status and 4 generic counters */
#define IA64_ALAT_SIZE 32
#define IA64_STLB_SIZE 1024            /* software TLB entries (4 KiB pages), power of 2 */
#define IA64_PAGE_SHIFT 12
#define IA64_PAGE_SIZE (1u << IA64_PAGE_SHIFT)

/* Application register numbers. */
enum {
  IA64_AR_KR0 = 0, IA64_AR_RSC = 16, IA64_AR_BSP = 17, IA64_AR_BSPSTORE = 18,
  IA64_AR_RNAT = 19, IA64_AR_FCR = 21, IA64_AR_EFLAG = 24, IA64_AR_CSD = 25,
  IA64_AR_SSD = 26, IA64_AR_CFLG = 27, IA64_AR_FSR = 28, IA64_AR_FIR = 29,
  IA64_AR_FDR = 30, IA64_AR_CCV = 32, IA64_AR_UNAT = 36, IA64_AR_FPSR = 40,
  IA64_AR_ITC = 44, IA64_AR_RUC = 45, IA64_AR_PFS = 64, IA64_AR_LC = 65, IA64_AR_EC = 66,
};

/* Interruption vectors: the architectural IVT offsets. */
enum ia64_vector {
  IA64_VEC_NONE = -1,
  IA64_VEC_VHPT_TRANSLATION = 0x0000, IA64_VEC_INST_TLB = 0x0400, IA64_VEC_DATA_TLB = 0x0800,
  IA64_VEC_ALT_INST_TLB = 0x0c00, IA64_VEC_ALT_DATA_TLB = 0x1000,
  IA64_VEC_DATA_NESTED_TLB = 0x1400, IA64_VEC_INST_KEY_MISS = 0x1800,
  IA64_VEC_DATA_KEY_MISS = 0x1c00, IA64_VEC_DIRTY_BIT = 0x2000,
  IA64_VEC_INST_ACCESS_BIT = 0x2400, IA64_VEC_DATA_ACCESS_BIT = 0x2800,
  IA64_VEC_BREAK = 0x2c00, IA64_VEC_EXTERNAL_INT = 0x3000,
  IA64_VEC_PAGE_NOT_PRESENT = 0x5000, IA64_VEC_KEY_PERMISSION = 0x5100,
  IA64_VEC_INST_ACCESS_RIGHTS = 0x5200, IA64_VEC_DATA_ACCESS_RIGHTS = 0x5300,
  IA64_VEC_GENERAL_EXCEPTION = 0x5400, IA64_VEC_DISABLED_FP = 0x5500,
  IA64_VEC_NAT_CONSUMPTION = 0x5600, IA64_VEC_SPECULATION = 0x5700,
  IA64_VEC_DEBUG = 0x5900, IA64_VEC_UNALIGNED = 0x5a00,
  IA64_VEC_UNSUPPORTED_DATA_REF = 0x5b00, IA64_VEC_FP_FAULT = 0x5c00,
  IA64_VEC_FP_TRAP = 0x5d00, IA64_VEC_LOWER_PRIV_TRANSFER = 0x5e00,
  IA64_VEC_TAKEN_BRANCH = 0x5f00, IA64_VEC_SINGLE_STEP = 0x6000,
};

/* ISR.code values for the General Exception vector (ISR bits 7:4). */
enum {
  IA64_GE_ILLEGAL_OP = 0x00, IA64_GE_PRIV_OP = 0x10, IA64_GE_PRIV_REG = 0x20,
  IA64_GE_RESERVED_REG = 0x30, IA64_GE_DISABLED_ISA = 0x40, IA64_GE_ILLEGAL_DEP = 0x80,
};
/* ISR bits. */
#define IA64_ISR_X (1ull << 32)
#define IA64_ISR_W (1ull << 33)
#define IA64_ISR_R (1ull << 34)
#define IA64_ISR_NA (1ull << 35)
#define IA64_ISR_SP (1ull << 36)
#define IA64_ISR_RS (1ull << 37)
#define IA64_ISR_IR (1ull << 38)
#define IA64_ISR_NI (1ull << 39)
#define IA64_ISR_ED (1ull << 43)

/* An interruption raised by an instruction (fault or trap), for the caller to deliver. */
typedef struct ia64_intr {
  int vector;        /* enum ia64_vector */
  uint64_t isr;      /* ISR as the architecture fills it (code, ei = slot, r/w/x, na, ...) */
  uint64_t ifa;      /* faulting data/instruction address, where the vector defines one */
  uint64_t iim;      /* break immediate (IA64_VEC_BREAK) */
  uint64_t iip;      /* bundle address of the instruction (faults) or of the next one (traps) */
  unsigned ri;       /* slot of that instruction */
  bool trap;         /* trap (the instruction completed) rather than fault */
} ia64_intr;

/* 82-bit floating-point register: sign, 17-bit biased exponent, 64-bit significand with
 * explicit integer bit. NaTVal is sign 0, exp 0x1fffe, significand 0. */
typedef struct ia64_fr {
  uint64_t sig;
  uint32_t exp;
  uint32_t sign;
} ia64_fr;

/* Software TLB entry: one 4 KiB page. A tag is the page's virtual address when that
 * access is allowed and ~0 when it is not, so one compare checks page and permission. */
typedef struct ia64_stlb_ent {
  uint64_t tag_r, tag_w, tag_x;
  uintptr_t addend;  /* host address = guest virtual address + addend */
} ia64_stlb_ent;

enum { IA64_ACC_R = 1, IA64_ACC_W = 2, IA64_ACC_X = 4 };

/* What the caller's translate() answers for one page. */
typedef struct ia64_xlat {
  uint8_t *host_page; /* host address of the 4 KiB page holding va */
  unsigned perms;     /* IA64_ACC_* granted; must include the access asked for */
} ia64_xlat;

/* Results of translate() besides 0 (mapped). */
enum { IA64_XLAT_IO = 1 /* access goes through io() (uncacheable/device) */ };

typedef struct ia64_mem_ops {
  /* Translate va for access (one IA64_ACC_*). Return 0 with *out filled, IA64_XLAT_IO to
   * have the access emulated by io(), or -1 after ia64_raise() for a fault. */
  int (*translate)(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned access, ia64_xlat *out);
  /* Emulate an access of size 1/2/4/8 bytes; return 0 or -1 after ia64_raise(). */
  int (*io)(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned size, bool write, uint64_t *val);
} ia64_mem_ops;

/* One ALAT entry (advanced load address table). */
typedef struct ia64_alat_ent {
  uint64_t addr;
  uint8_t size;
  uint8_t reg;       /* physical register number the advanced load targeted */
  uint8_t is_fp;
  uint8_t valid;
} ia64_alat_ent;

/* Why ia64_run() returned. */
typedef enum ia64_stop {
  IA64_STOP_INVALID = 0,
  IA64_STOP_INTR,    /* an interruption is in cpu->intr; cpu->ip/ri point at it (fault) or past it (trap) */
  IA64_STOP_LIMIT,   /* the instruction budget ran out */
  IA64_STOP_REQUEST, /* cpu->stop_request was set by someone */
  IA64_STOP_HALT,    /* halted (ia64_halt) with no interrupt to wake it: see ia64_wakeable() */
} ia64_stop;

/* ---- System architecture: guest TLB, interruptions, external interrupts ----------------
 * tlb.c keeps the guest's translation registers and caches (itr/itc/ptc/ptr), region and
 * protection-key checks and the VHPT walker; ia64_translate() is what a platform's
 * ia64_mem_ops.translate calls to turn a guest address into a guest-physical one. intr.c
 * delivers interruptions through the IVT (ia64_deliver), keeps the external interrupt
 * controller (IRR, IVR, TPR, EOI, in-service vectors) and the ITC/ITM timer, and gives the
 * platform its hooks: pend an interrupt from any thread, halt an idle vCPU, arm a timer. */

#define IA64_NTR 8                     /* instruction and data translation registers */
#define IA64_TC_SETS 128               /* translation cache, per side: sets x ways entries */
#define IA64_TC_WAYS 4

/* Memory attributes (pte.ma). */
enum { IA64_MA_WB = 0, IA64_MA_UC = 4, IA64_MA_UCE = 5, IA64_MA_WC = 6, IA64_MA_NATPAGE = 7 };

/* A guest translation: one TR or TC entry. */
typedef struct ia64_tlb_ent {
  uint64_t vpn;      /* va{60:0} of the page's first byte: region bits are not part of a match */
  uint64_t pte;      /* as inserted: p, ma, a, d, pl, ar, ppn, ed */
  uint32_t rid;      /* region id the entry matches */
  uint32_t itir;     /* ps (7:2) and key (31:8) */
  uint8_t valid;
} ia64_tlb_ent;

/* The instruction or the data TLB. */
typedef struct ia64_tlb_side {
  ia64_tlb_ent tr[IA64_NTR];
  ia64_tlb_ent tc[IA64_TC_SETS * IA64_TC_WAYS];
  uint64_t tc_sizes;             /* bit ps set: a TC entry of 2^ps bytes may be valid */
  uint32_t tc_victim;            /* round-robin replacement within a set */
} ia64_tlb_side;

/* ia64_translate()'s answer. */
typedef struct ia64_pxlat {
  uint64_t pa;       /* guest-physical address (without physical mode's uncacheable bit 63) */
  unsigned perms;    /* IA64_ACC_* the page grants now (access rights at PSR.cpl, keys, access
                        and dirty bits): what a software TLB entry may keep */
  unsigned ma;       /* IA64_MA_*; physical mode: WB, or UC when va bit 63 is set */
  unsigned ps;       /* log2 of the translation's page size; 0 in physical mode */
} ia64_pxlat;

/* ia64_sys.attn: why the run loop must look at the system state at its next taken branch
 * or page change (one load and branch there while it is 0). */
enum { IA64_ATTN_IRQ = 1, IA64_ATTN_STEP = 2, IA64_ATTN_HALT = 4 };

/* What the platform provides; every hook is optional and gets ia64_sys.hook_ctx. */
typedef struct ia64_sys_hooks {
  /* Guest time in ns (monotonic, 1 GHz ITC): ar.itc = clock() + itc_offset. Without it
   * ar.itc is plain storage that never advances. */
  uint64_t (*clock)(void *ctx);
  /* ia64_pend_interrupt() or ia64_timer_kick() made the vCPU wakeable (any thread). */
  void (*wake)(void *ctx, ia64_cpu *cpu);
  /* The ITM match will happen when clock() reaches at: call ia64_timer_kick() then.
   * UINT64_MAX: no match armed. Called on the vCPU's thread. */
  void (*timer_arm)(void *ctx, ia64_cpu *cpu, uint64_t at);
  /* ptc.g/ptc.ga: have every other vCPU run ia64_tlb_purge_remote(rid, va, ps) before it
   * next runs guest code. */
  void (*ptc_global)(void *ctx, ia64_cpu *cpu, uint32_t rid, uint64_t va, unsigned ps);
} ia64_sys_hooks;

/* The system state of a CPU besides its registers (cr[], rr[], pkr[] are in ia64_cpu). */
typedef struct ia64_sys {
  ia64_tlb_side itlb, dtlb;
  uint64_t insvc[4];             /* external interrupt vectors in service (IRR is cr[68..71]) */
  uint64_t pend[4];              /* vectors pended by other threads, not yet in IRR (atomic) */
  volatile uint32_t attn;        /* IA64_ATTN_* (atomic: other threads set IA64_ATTN_IRQ) */
  uint32_t flags;                /* tlb.c/intr.c private state bits */
  int64_t itc_offset;            /* ar.itc - clock() */
  uint64_t iipa;                 /* IIPA of the trap being raised (intr.c), when flagged */
  uint64_t walk_pa;              /* guest-physical address the VHPT walker is reading */
  ia64_sys_hooks hooks;
  void *hook_ctx;
} ia64_sys;

struct ia64_cpu {
  /* General registers, physical: 0..31 static, 32.. the stacked file (circular). */
  uint64_t gr[IA64_NGR_PHYS];
  uint8_t nat[IA64_NGR_PHYS];
  uint16_t grmap[IA64_NGR];     /* logical r0..r127 -> physical index (frame + rotation) */
  uint64_t bank0[16];           /* r16..r31 of bank 0 while PSR.bn = 1 (and vice versa) */
  uint8_t bank0_nat[16];

  ia64_fr fr[IA64_NFR];         /* physical */
  uint8_t frmap[IA64_NFR];      /* logical f0..f127 -> physical (rotation) */
  uint64_t pr;                  /* logical predicates p0..p63; bit 0 always 1 */
  uint64_t br[IA64_NBR];
  uint64_t ar[IA64_NAR];        /* raw storage; use ia64_ar_read/ia64_ar_write for semantics */

  /* Current frame marker, kept split; ia64_cfm() composes the architectural CFM. */
  unsigned sof, sol, sor, rrb_gr, rrb_fr, rrb_pr;

  /* Register stack engine: bof = physical stacked index of r32; ndirty = registers below
   * the frame still in the physical file (not yet spilled to the backing store). */
  unsigned bof, ndirty;

  uint64_t ip;                  /* bundle address */
  unsigned ri;                  /* slot 0..2 */
  uint64_t psr;
  uint64_t cr[IA64_NCR];
  /* Registers mov indirect reaches (tab_sys.c): region registers (indexed by va{63:61}),
   * protection keys, debug breakpoints, performance monitor configuration and data. */
  uint64_t rr[8];
  uint64_t pkr[IA64_NPKR];
  uint64_t dbr[IA64_NDBR], ibr[IA64_NIBR];
  uint64_t pmc[IA64_NPMC], pmd[IA64_NPMC];

  ia64_alat_ent alat[IA64_ALAT_SIZE];
  uint32_t alat_live;            /* bit i may be set when alat[i] is valid: stores skip the
                                   ALAT while it is 0 (a superset of the valid entries) */

  ia64_intr intr;               /* valid when ia64_run() returned IA64_STOP_INTR */
  volatile int stop_request;    /* set (from any thread) to make ia64_run() return */

  uint64_t retired;             /* instructions retired (every executed slot, nops too) */

  /* Memory. */
  ia64_stlb_ent stlb[IA64_STLB_SIZE];
  const ia64_mem_ops *mem;
  void *mem_ctx;
  ia64_dcache *dcache;
  unsigned code_gen;            /* bumped when decoded code or the TLB is dropped */

  /* Optional: called before each instruction (slow path); for --trace. */
  void (*trace)(void *ctx, ia64_cpu *cpu, uint64_t ip, unsigned slot);
  void *trace_ctx;

  ia64_sys sys;                 /* system architecture state (tlb.c, intr.c) */
};

/* Lifecycle. */
int ia64_cpu_init(ia64_cpu *cpu, const ia64_mem_ops *mem, void *mem_ctx);
void ia64_cpu_destroy(ia64_cpu *cpu);
void ia64_cpu_reset(ia64_cpu *cpu);     /* architectural reset values, sof = 0 */

/* Execution. */
ia64_stop ia64_run(ia64_cpu *cpu, uint64_t max_insns);

/* Raise an interruption from an instruction or a translate()/io() callback: fills
 * cpu->intr (iip/ri are set by the run loop). Returns -1 for convenient propagation. */
int ia64_raise(ia64_cpu *cpu, int vector, uint64_t isr, uint64_t ifa);

/* Register access by logical number, honouring the current frame and rotation. */
uint64_t ia64_gr_read(const ia64_cpu *cpu, unsigned r, bool *nat);
void ia64_gr_write(ia64_cpu *cpu, unsigned r, uint64_t v, bool nat);
ia64_fr ia64_fr_read(const ia64_cpu *cpu, unsigned f);
void ia64_fr_write(ia64_cpu *cpu, unsigned f, ia64_fr v);
uint64_t ia64_cfm(const ia64_cpu *cpu);
void ia64_set_cfm(ia64_cpu *cpu, uint64_t cfm);
void ia64_remap_frame(ia64_cpu *cpu);  /* rebuild grmap/frmap after bof/sof/sor/rrb change */
/* Application registers with their semantics: reading ar.bsp computes it; a write the
 * architecture refuses (read-only ar.bsp, ar.bspstore/ar.rnat outside enforced-lazy RSE mode,
 * a reserved register or field, a kernel register above cpl 0) returns -1 with the fault in
 * cpu->intr and changes nothing; otherwise 0. */
uint64_t ia64_ar_read(ia64_cpu *cpu, unsigned ar);
int ia64_ar_write(ia64_cpu *cpu, unsigned ar, uint64_t v);

/* Memory: the software TLB and the decode cache. */
void ia64_stlb_flush(ia64_cpu *cpu);
void ia64_stlb_flush_page(ia64_cpu *cpu, uint64_t va);
void ia64_code_invalidate(ia64_cpu *cpu, const uint8_t *host_page); /* drop decoded code */
/* Guest-virtual memory access through the TLB (for loaders, syscalls, tests). Return 0 or
 * -1 with cpu->intr describing the fault. */
int ia64_read_mem(ia64_cpu *cpu, uint64_t va, void *buf, size_t len);
int ia64_write_mem(ia64_cpu *cpu, uint64_t va, const void *buf, size_t len);

/* Disassembly, in ia64-linux-gnu-objdump -d's text. */
typedef struct ia64_disasm_line {
  char text[160];    /* e.g. "[MII]       add r8=r9,r10" or "      (p06) br.cond.sptk.few 4000..." */
} ia64_disasm_line;
/* Disassemble one 16-byte bundle at address ip into its slots' lines (2 for MLX, else 3).
 * Returns the number of lines. */
int ia64_disasm_bundle(const uint8_t bundle[16], uint64_t ip, ia64_disasm_line out[3]);
/* One line of the form objdump prints for the slot (no address or bytes). */
int ia64_disasm_slot(const uint8_t bundle[16], uint64_t ip, unsigned slot, char *buf, size_t n);

/* Decoder introspection, for coverage reports and tests. */
size_t ia64_insn_count(void);                    /* instruction forms in the tables */
const char *ia64_insn_name(size_t id);           /* mnemonic template of form id */
int ia64_decode_slot_id(const uint8_t bundle[16], unsigned slot); /* form id, or -1 */

/* System architecture: address translation (tlb.c). */
/* Translate a guest address for access (one IA64_ACC_*) as the CPU's current PSR, region and
 * protection key registers and guest TLB say, walking the VHPT on a miss (a walk that finds
 * an entry inserts it in the TC). Returns 0 with *out filled, or -1 with the architectural
 * fault in cpu->intr (TLB misses, VHPT Translation, Data Nested TLB when PSR.ic = 0, Page Not
 * Present, NaT Page Consumption, Key Miss/Permission, Access Rights, Access/Dirty Bit,
 * Unimplemented Data Address). A platform's translate() calls it, then maps out->pa. Every
 * guest TLB, rr, pkr or PSR change keeps the software TLB consistent. */
int ia64_translate(ia64_cpu *cpu, uint64_t va, unsigned access, ia64_pxlat *out);
uint64_t ia64_thash(const ia64_cpu *cpu, uint64_t va);  /* VHPT entry address of va */
uint64_t ia64_ttag(const ia64_cpu *cpu, uint64_t va);   /* long-format VHPT tag of va */
/* Another vCPU's ptc.g/ptc.ga (ia64_sys_hooks.ptc_global): purge this CPU's TC entries of
 * region id rid overlapping the 2^ps bytes at va. Call on this CPU's thread. */
void ia64_tlb_purge_remote(ia64_cpu *cpu, uint32_t rid, uint64_t va, unsigned ps);

/* System architecture: interruptions and external interrupts (intr.c). */
/* Deliver cpu->intr through the IVT as the architecture's interruption sequence does
 * (collection into IPSR/IIP/IFS/IIPA/ISR/IFA/ITIR/IHA/IIM when PSR.ic = 1, the new PSR,
 * bank 0, IP = IVA + vector). Returns 0, or 1 when PSR.ic was 0 and the vector is not Data
 * Nested TLB: the interrupted state was not collected (a guest in that state has crashed). */
int ia64_deliver(ia64_cpu *cpu);
/* Make external interrupt vector (16..255, or 0 ExtINT / 2 NMI) pending. Any thread: an
 * atomic OR, then the run loop takes it at its next taken branch or page change, and the
 * wake hook runs so that a halted vCPU's thread can return to ia64_run(). */
void ia64_pend_interrupt(ia64_cpu *cpu, unsigned vector);
/* The timer deadline given to ia64_sys_hooks.timer_arm has passed (any thread). */
void ia64_timer_kick(ia64_cpu *cpu);
/* Idle (the platform's HALT_LIGHT): from now ia64_run() returns IA64_STOP_HALT until an
 * external interrupt that TPR and the in-service vectors do not mask is pending (whatever
 * PSR.i says). The platform's vCPU thread then sleeps, e.g.
 *   lock(m); while (!ia64_wakeable(cpu) && !stopping) wait(cond, m); unlock(m);
 * with the wake hook doing lock(m); signal(cond); unlock(m). */
void ia64_halt(ia64_cpu *cpu);
bool ia64_wakeable(const ia64_cpu *cpu);  /* something was pended since the last look (any thread) */
uint64_t ia64_itc(ia64_cpu *cpu);         /* ar.itc now */
/* After loading saved state into a CPU (its registers, psr, cr[], rr[], pkr[] and ia64_sys
 * but its hooks, which belong to the running platform): drops the software TLB and derives
 * again what the run loop must look at (pending interrupts, halt, single-stepping). Every
 * field of ia64_sys is state except hooks, hook_ctx and attn; itc_offset is relative to the
 * platform's clock, so a restore elsewhere sets it to (saved ar.itc - clock()). */
void ia64_sys_resync(ia64_cpu *cpu);

#endif
