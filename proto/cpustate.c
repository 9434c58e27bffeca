/* cpustate.c — an IA-64 vCPU to and from its saved-state sections: its registers and
 * interrupt state (message Ia64Cpu of vmstate.proto, section type WIRE_SEC_CPU), its guest
 * TLB (GuestTlb, WIRE_SEC_GUEST_TLB) and its interval timer (Timers, WIRE_SEC_TIMERS).
 *
 * Why this lives in proto/ and not in hypervisor/ia64/: the CPU library is pure computation
 * and depends on nothing (DESIGN.md §2); linking it with protobuf-c would impose the wire on
 * every user of the interpreter. So this file reads and writes struct ia64_cpu from outside,
 * through its public header, and is a CMake target of its own (hpvm_wire_ia64), which keeps
 * the envelope (hpvm_wire) free of the CPU too. Its natural owner is the platform's VM
 * save/load (hypervisor/, which depends on ia64 and proto); it can move there unchanged.
 *
 * Saved: every register file in physical order (GRs with NaT bits, the inactive bank, FRs,
 * PRs, BRs, ARs raw, CRs, RR/PKR/DBR/IBR/PMC/PMD), the frame marker field by field, the RSE's
 * bof and ndirty, ip/ri, psr, the valid ALAT entries with their slot, the retired count and
 * the last interruption; from ia64_sys, the vectors in service and pended, the halt and the
 * trap's IIPA (CPU section), every valid TR and TC entry with its slot and the replacement
 * cursors (guest TLB section), ar.itc as a value and whether the ITM match is armed (timers
 * section). Not saved, because they are caches or derived: the software TLB, the decode
 * cache, grmap/frmap (from the CFM and bof), alat_live (from the valid entries), code_gen,
 * tc_sizes (from the TC entries), attn (ia64_sys_resync derives it); nor the caller's memory
 * callbacks, trace hook and system hooks, which belong to the process.
 *
 * Time: ar.itc runs with the platform's clock (ia64_sys_hooks.clock + itc_offset), and
 * clocks of two processes have nothing in common, so the timers section carries the value
 * ar.itc had when saved; loading makes the CPU's ar.itc continue from exactly that value on
 * the loading side's clock, so guest time never steps back across a restore.
 *
 * Loading checks the whole message before it touches the CPU — a state file is hostile
 * input, and a CPU half loaded is worse than one refused — then gives the CPU an empty
 * decode cache and software TLB (they cache the memory it ran on before) and applies the
 * registers. Fields the state does not carry are left as the caller set them. */
#include <stdlib.h>
#include <string.h>

#include "ia64.h"
#include "wire.h"

/* The ia64_sys.flags bits this file carries. They are the CPU library's private IA64_SYS_*
 * values (its internal.h, which nothing outside hypervisor/ia64 includes);
 * tests/vm/test_vmstate_cpu.c checks that the two agree. On the wire each is a named field. */
enum { SYS_HALTED = 1, SYS_ITM_ARMED = 2, SYS_IIPA = 4 };
#define ITC_HZ 1000000000ull     /* ar.itc counts guest nanoseconds (ia64_sys_hooks.clock) */
#define CR_ITV 72
#define CR_IRR0 68
#define CR_ITM 1

/* The message and all the storage its pointers refer to, so saving allocates nothing but
 * the packed bytes. */
typedef struct cpu_msg {
  Hpvm__Ia64Cpu m;
  Hpvm__Ia64Cfm cfm;
  Hpvm__Ia64Interruption intr;
  uint64_t gr[IA64_NGR_PHYS], bank0[16], br[IA64_NBR], ar[IA64_NAR], cr[IA64_NCR], rr[8];
  uint64_t pkr[IA64_NPKR], dbr[IA64_NDBR], ibr[IA64_NIBR], pmc[IA64_NPMC], pmd[IA64_NPMC];
  uint64_t insvc[4], pend[4];
  protobuf_c_boolean gr_nat[IA64_NGR_PHYS], bank0_nat[16];
  Hpvm__Ia64Fr fr[IA64_NFR], *frp[IA64_NFR];
  Hpvm__Ia64AlatEntry alat[IA64_ALAT_SIZE], *alatp[IA64_ALAT_SIZE];
} cpu_msg;

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Point the message's repeated field at the scratch copy of the CPU's array of the same name. */
#define SAVE_ARRAY(cm, cpu, field)                                                             \
  do {                                                                                         \
    _Static_assert(sizeof (cm)->field == sizeof (cpu)->field, #field " sizes differ");         \
    memcpy((cm)->field, (cpu)->field, sizeof (cm)->field);                                     \
    (cm)->m.n_##field = NELEM((cm)->field);                                                    \
    (cm)->m.field = (cm)->field;                                                               \
  } while (0)

static void save_alat(cpu_msg *cm, const ia64_cpu *c, const wire_addr_map *map) {
  if (!map || !map->to_guest) return;
  for (unsigned i = 0; i < IA64_ALAT_SIZE; i++) {
    const ia64_alat_ent *e = &c->alat[i];
    uint64_t ga;
    if (!e->valid || map->to_guest(map->ctx, e->addr, &ga) != 0) continue;
    Hpvm__Ia64AlatEntry *a = &cm->alat[cm->m.n_alat];
    hpvm__ia64_alat_entry__init(a);
    a->index = i, a->guest_addr = ga, a->size = e->size, a->reg = e->reg, a->is_fp = e->is_fp != 0;
    cm->alatp[cm->m.n_alat++] = a;
  }
  cm->m.alat = cm->alatp;
}

static void cpu_to_msg(cpu_msg *cm, const ia64_cpu *c, uint32_t vcpu, const wire_addr_map *map) {
  hpvm__ia64_cpu__init(&cm->m);
  hpvm__ia64_cfm__init(&cm->cfm);
  hpvm__ia64_interruption__init(&cm->intr);
  cm->m.vcpu = vcpu;
  SAVE_ARRAY(cm, c, gr);
  SAVE_ARRAY(cm, c, bank0);
  SAVE_ARRAY(cm, c, br);
  SAVE_ARRAY(cm, c, ar);
  SAVE_ARRAY(cm, c, cr);
  SAVE_ARRAY(cm, c, rr);
  SAVE_ARRAY(cm, c, pkr);
  SAVE_ARRAY(cm, c, dbr);
  SAVE_ARRAY(cm, c, ibr);
  SAVE_ARRAY(cm, c, pmc);
  SAVE_ARRAY(cm, c, pmd);
  for (unsigned i = 0; i < IA64_NGR_PHYS; i++) cm->gr_nat[i] = c->nat[i] != 0;
  for (unsigned i = 0; i < 16; i++) cm->bank0_nat[i] = c->bank0_nat[i] != 0;
  cm->m.n_gr_nat = IA64_NGR_PHYS, cm->m.gr_nat = cm->gr_nat;
  cm->m.n_bank0_nat = 16, cm->m.bank0_nat = cm->bank0_nat;
  for (unsigned f = 0; f < IA64_NFR; f++) {
    hpvm__ia64_fr__init(&cm->fr[f]);
    cm->fr[f].significand = c->fr[f].sig;
    cm->fr[f].exponent = c->fr[f].exp;
    cm->fr[f].sign = c->fr[f].sign != 0;
    cm->frp[f] = &cm->fr[f];
  }
  cm->m.n_fr = IA64_NFR, cm->m.fr = cm->frp;
  cm->m.pr = c->pr;
  cm->cfm.sof = c->sof, cm->cfm.sol = c->sol, cm->cfm.sor = c->sor;
  cm->cfm.rrb_gr = c->rrb_gr, cm->cfm.rrb_fr = c->rrb_fr, cm->cfm.rrb_pr = c->rrb_pr;
  cm->m.cfm = &cm->cfm;
  cm->m.bof = c->bof, cm->m.ndirty = c->ndirty;
  cm->m.ip = c->ip, cm->m.ri = c->ri, cm->m.psr = c->psr;
  save_alat(cm, c, map);
  cm->m.retired = c->retired;
  cm->intr.vector = c->intr.vector, cm->intr.isr = c->intr.isr, cm->intr.ifa = c->intr.ifa;
  cm->intr.iim = c->intr.iim, cm->intr.iip = c->intr.iip, cm->intr.ri = c->intr.ri;
  cm->intr.trap = c->intr.trap;
  cm->m.intr = &cm->intr;
  for (unsigned i = 0; i < 4; i++) {
    cm->insvc[i] = c->sys.insvc[i];
    cm->pend[i] = __atomic_load_n(&c->sys.pend[i], __ATOMIC_ACQUIRE);   /* devices pend any time */
  }
  cm->m.n_insvc = 4, cm->m.insvc = cm->insvc;
  cm->m.n_pend = 4, cm->m.pend = cm->pend;
  cm->m.halted = (c->sys.flags & SYS_HALTED) != 0;
  cm->m.iipa_valid = (c->sys.flags & SYS_IIPA) != 0;
  cm->m.iipa = c->sys.iipa;
}

int wire_cpu_save(wire_writer *w, const ia64_cpu *cpu, uint32_t vcpu, const wire_addr_map *map) {
  cpu_msg *cm = malloc(sizeof *cm);
  if (!cm) return w->err ? w->err : (w->err = HPVM_ENOMEM);
  cpu_to_msg(cm, cpu, vcpu, map);
  int rc = wire_write_msg(w, WIRE_SEC_CPU, &cm->m.base);
  free(cm);
  return rc;
}

/* ---- Loading ------------------------------------------------------------------------------ */

/* Every register file must come whole: a short one would leave registers at values nobody
 * saved, a long one means the writer's CPU is not ours. */
static int check_lengths(wire_reader *r, const wire_section *s, const Hpvm__Ia64Cpu *m) {
  const struct { const char *name; size_t have, want; } files[] = {
    {"gr", m->n_gr, IA64_NGR_PHYS},   {"gr_nat", m->n_gr_nat, IA64_NGR_PHYS},
    {"bank0", m->n_bank0, 16},        {"bank0_nat", m->n_bank0_nat, 16},
    {"fr", m->n_fr, IA64_NFR},        {"br", m->n_br, IA64_NBR},
    {"ar", m->n_ar, IA64_NAR},        {"cr", m->n_cr, IA64_NCR},
    {"rr", m->n_rr, 8},               {"pkr", m->n_pkr, IA64_NPKR},
    {"dbr", m->n_dbr, IA64_NDBR},     {"ibr", m->n_ibr, IA64_NIBR},
    {"pmc", m->n_pmc, IA64_NPMC},     {"pmd", m->n_pmd, IA64_NPMC},
  };
  for (size_t i = 0; i < NELEM(files); i++)
    if (files[i].have != files[i].want)
      return wire_reader_fail(r, s, HPVM_ECORRUPT, "register file %s has %zu entries, this CPU has %zu",
                              files[i].name, files[i].have, files[i].want);
  /* Absent in a version 1.0 section: nothing in service or pended. */
  if ((m->n_insvc != 0 && m->n_insvc != 4) || (m->n_pend != 0 && m->n_pend != 4))
    return wire_reader_fail(r, s, HPVM_ECORRUPT, "interrupt words: %zu in service and %zu pended, this CPU has 4 each",
                            m->n_insvc, m->n_pend);
  if (m->n_alat > IA64_ALAT_SIZE)
    return wire_reader_fail(r, s, HPVM_ECORRUPT, "%zu ALAT entries, the ALAT has %d", m->n_alat, IA64_ALAT_SIZE);
  return 0;
}

/* What the interpreter relies on: the frame invariants the RSE keeps, the constant
 * registers, the field widths. */
static int check_values(wire_reader *r, const wire_section *s, const Hpvm__Ia64Cpu *m) {
#define BAD(...) return wire_reader_fail(r, s, HPVM_ECORRUPT, __VA_ARGS__)
  const Hpvm__Ia64Cfm *f = m->cfm;
  if (!f) BAD("no frame marker (cfm)");
  if (f->sof > IA64_NSTACKED) BAD("frame size sof %u > %d", f->sof, IA64_NSTACKED);
  if (f->sol > f->sof) BAD("frame locals sol %u > sof %u", f->sol, f->sof);
  if (f->sor > f->sof || f->sor % 8) BAD("rotating region sor %u: not a multiple of 8 <= sof %u", f->sor, f->sof);
  if (f->rrb_gr > 127 || f->rrb_fr > 127 || f->rrb_pr > 63)
    BAD("rename base rrb.gr %u / rrb.fr %u / rrb.pr %u wider than its CFM field", f->rrb_gr, f->rrb_fr, f->rrb_pr);
  if (m->bof >= IA64_NSTACKED) BAD("bof %u >= %d", m->bof, IA64_NSTACKED);
  if (m->ndirty + f->sof > IA64_NSTACKED) BAD("ndirty %u + sof %u > %d stacked registers", m->ndirty, f->sof, IA64_NSTACKED);
  if (m->ri > 2) BAD("slot ri %u > 2", m->ri);
  if (m->gr[0] != 0 || m->gr_nat[0]) BAD("r0 is not 0");
  if (!(m->pr & 1)) BAD("p0 is not 1");
  for (unsigned i = 0; i < IA64_NFR; i++) {
    const Hpvm__Ia64Fr *fr = m->fr[i];
    if (fr->exponent > 0x1ffff) BAD("f%u: exponent 0x%x wider than 17 bits", i, fr->exponent);
  }
  if (m->fr[0]->significand || m->fr[0]->exponent || m->fr[0]->sign) BAD("f0 is not +0.0");
  if (m->fr[1]->significand != 1ull << 63 || m->fr[1]->exponent != 0xffff || m->fr[1]->sign) BAD("f1 is not +1.0");
  uint32_t seen = 0;
  for (size_t i = 0; i < m->n_alat; i++) {
    const Hpvm__Ia64AlatEntry *a = m->alat[i];
    if (a->index >= IA64_ALAT_SIZE) BAD("ALAT entry index %u >= %d", a->index, IA64_ALAT_SIZE);
    if (seen >> a->index & 1) BAD("ALAT entry %u given twice", a->index);
    seen |= 1u << a->index;
    if (a->reg >= 128) BAD("ALAT entry %u: register %u >= 128", a->index, a->reg);
    if (a->size < 1 || a->size > 16) BAD("ALAT entry %u: size %u not in 1..16", a->index, a->size);
  }
  if (m->intr && m->intr->ri > 2) BAD("interruption slot ri %u > 2", m->intr->ri);
  return 0;
#undef BAD
}

#define LOAD_ARRAY(cpu, m, field) memcpy((cpu)->field, (m)->field, sizeof (cpu)->field)

static void msg_to_cpu(ia64_cpu *c, const Hpvm__Ia64Cpu *m, const wire_addr_map *map) {
  LOAD_ARRAY(c, m, gr);
  LOAD_ARRAY(c, m, bank0);
  LOAD_ARRAY(c, m, br);
  LOAD_ARRAY(c, m, ar);
  LOAD_ARRAY(c, m, cr);
  LOAD_ARRAY(c, m, rr);
  LOAD_ARRAY(c, m, pkr);
  LOAD_ARRAY(c, m, dbr);
  LOAD_ARRAY(c, m, ibr);
  LOAD_ARRAY(c, m, pmc);
  LOAD_ARRAY(c, m, pmd);
  for (unsigned i = 0; i < IA64_NGR_PHYS; i++) c->nat[i] = m->gr_nat[i] != 0;
  for (unsigned i = 0; i < 16; i++) c->bank0_nat[i] = m->bank0_nat[i] != 0;
  for (unsigned f = 0; f < IA64_NFR; f++)
    c->fr[f] = (ia64_fr){.sig = m->fr[f]->significand, .exp = m->fr[f]->exponent, .sign = m->fr[f]->sign != 0};
  c->pr = m->pr;
  c->sof = m->cfm->sof, c->sol = m->cfm->sol, c->sor = m->cfm->sor;
  c->rrb_gr = m->cfm->rrb_gr, c->rrb_fr = m->cfm->rrb_fr, c->rrb_pr = m->cfm->rrb_pr;
  c->bof = m->bof, c->ndirty = m->ndirty;
  c->ip = m->ip, c->ri = m->ri, c->psr = m->psr;
  c->retired = m->retired;
  c->intr = (ia64_intr){.vector = IA64_VEC_NONE};
  if (m->intr)
    c->intr = (ia64_intr){.vector = m->intr->vector, .isr = m->intr->isr, .ifa = m->intr->ifa,
                          .iim = m->intr->iim, .iip = m->intr->iip, .ri = m->intr->ri, .trap = m->intr->trap};
  memset(c->alat, 0, sizeof c->alat);
  c->alat_live = 0;
  for (size_t i = 0; map && map->to_host && i < m->n_alat; i++) {
    const Hpvm__Ia64AlatEntry *a = m->alat[i];
    uint64_t host;
    if (map->to_host(map->ctx, a->guest_addr, &host) != 0) continue;  /* dropped: allowed */
    c->alat[a->index] = (ia64_alat_ent){.addr = host, .size = (uint8_t)a->size, .reg = (uint8_t)a->reg,
                                        .is_fp = a->is_fp != 0, .valid = 1};
    c->alat_live |= 1u << a->index;
  }
  ia64_remap_frame(c);
  for (unsigned i = 0; i < 4; i++) {
    c->sys.insvc[i] = m->n_insvc ? m->insvc[i] : 0;
    __atomic_store_n(&c->sys.pend[i], m->n_pend ? m->pend[i] : 0, __ATOMIC_RELEASE);
  }
  /* The ITM bit is the timers section's; the others are caches the flush below empties or
   * the VHPT walker's, which is never inside a walk between two instructions. */
  c->sys.flags = (c->sys.flags & SYS_ITM_ARMED) | (m->halted ? SYS_HALTED : 0) | (m->iipa_valid ? SYS_IIPA : 0);
  c->sys.iipa = m->iipa;
  ia64_sys_resync(c);
}

/* Give the CPU an empty decode cache and software TLB: both cache the memory it ran on
 * before, whose contents the restore replaced behind its back. The new cache comes from a
 * scratch CPU (ia64_cpu_init is the only constructor), so every field of the CPU that the
 * state does not carry — the memory callbacks, the trace hook, whatever the platform keeps
 * there — stays as the caller set it. */
static int fresh_caches(wire_reader *r, const wire_section *s, ia64_cpu *c) {
  ia64_cpu *scratch = malloc(sizeof *scratch);
  if (!scratch || ia64_cpu_init(scratch, c->mem, c->mem_ctx) < 0) {
    free(scratch);
    return wire_reader_fail(r, s, HPVM_ENOMEM, "out of memory for a new decode cache");
  }
  ia64_dcache *old = c->dcache;
  c->dcache = scratch->dcache;
  scratch->dcache = old;
  ia64_cpu_destroy(scratch);  /* frees the old decode cache */
  free(scratch);
  ia64_stlb_flush(c);
  return 0;
}

int wire_cpu_load(wire_reader *r, const wire_section *s, ia64_cpu *const *cpus, uint32_t ncpus,
                  const wire_addr_map *map) {
  if (r->err) return r->err;
  if (s->type != WIRE_SEC_CPU) return wire_reader_fail(r, s, HPVM_EINVAL, "not a CPU section");
  ProtobufCMessage *pm;
  if (wire_section_unpack(r, s, &hpvm__ia64_cpu__descriptor, &pm) < 0) return r->err;
  Hpvm__Ia64Cpu *m = (Hpvm__Ia64Cpu *)pm;
  int rc = 0;
  if (m->vcpu >= ncpus || !cpus[m->vcpu])
    rc = wire_reader_fail(r, s, HPVM_ECORRUPT, "vCPU %u, but the VM has %u", m->vcpu, ncpus);
  if (!rc) rc = check_lengths(r, s, m);
  if (!rc) rc = check_values(r, s, m);
  if (!rc) rc = fresh_caches(r, s, cpus[m->vcpu]);
  if (!rc) msg_to_cpu(cpus[m->vcpu], m, map);
  protobuf_c_message_free_unpacked(&m->base, NULL);
  return rc;
}

/* ---- Guest TLB ------------------------------------------------------------------------------ */

#define TC_ENTRIES (IA64_TC_SETS * IA64_TC_WAYS)
#define TLB_MAX_ENTRIES (2 * (IA64_NTR + TC_ENTRIES))
#define VA_MASK ((1ull << 61) - 1)           /* va{60:0}: the region bits are not in a vpn */
#define RID_MASK 0xffffffu                    /* 24 implemented region id bits */
/* What ia64_tlb_insert accepts (tlb.c): page sizes 4K..4G, reserved itir/pte bits clear,
 * memory attributes 1..3 reserved in a present entry. A loaded entry must be one the CPU
 * could have inserted, so the translation code meets only what it expects. */
#define PAGE_SIZES (1ull << 12 | 1ull << 13 | 1ull << 14 | 1ull << 16 | 1ull << 18 | 1ull << 20 | \
                    1ull << 22 | 1ull << 24 | 1ull << 26 | 1ull << 28 | 1ull << 30 | 1ull << 32)
#define PTE_RSV (1ull << 1 | 3ull << 50)

typedef struct tlb_msg {
  Hpvm__GuestTlb m;
  Hpvm__TlbEntry e[TLB_MAX_ENTRIES], *ep[TLB_MAX_ENTRIES];
} tlb_msg;

static void save_side(tlb_msg *tm, const ia64_tlb_side *t, Hpvm__TlbKind tr_kind, Hpvm__TlbKind tc_kind) {
  for (unsigned i = 0; i < IA64_NTR + TC_ENTRIES; i++) {
    const ia64_tlb_ent *src = i < IA64_NTR ? &t->tr[i] : &t->tc[i - IA64_NTR];
    if (!src->valid) continue;
    Hpvm__TlbEntry *e = &tm->e[tm->m.n_entries];
    hpvm__tlb_entry__init(e);
    e->kind = i < IA64_NTR ? tr_kind : tc_kind;
    e->slot = i < IA64_NTR ? i : i - IA64_NTR;
    e->vpn = src->vpn, e->pte = src->pte, e->itir = src->itir, e->rid = src->rid;
    tm->ep[tm->m.n_entries++] = e;
  }
}

int wire_tlb_save(wire_writer *w, const ia64_cpu *cpu, uint32_t vcpu) {
  tlb_msg *tm = malloc(sizeof *tm);
  if (!tm) return w->err ? w->err : (w->err = HPVM_ENOMEM);
  hpvm__guest_tlb__init(&tm->m);
  tm->m.vcpu = vcpu;
  tm->m.entries = tm->ep;
  save_side(tm, &cpu->sys.itlb, HPVM__TLB_KIND__TLB_KIND_ITR, HPVM__TLB_KIND__TLB_KIND_ITC);
  save_side(tm, &cpu->sys.dtlb, HPVM__TLB_KIND__TLB_KIND_DTR, HPVM__TLB_KIND__TLB_KIND_DTC);
  tm->m.itc_victim = cpu->sys.itlb.tc_victim;
  tm->m.dtc_victim = cpu->sys.dtlb.tc_victim;
  int rc = wire_write_msg(w, WIRE_SEC_GUEST_TLB, &tm->m.base);
  free(tm);
  return rc;
}

/* Check one entry and put it in its slot of the new TLB (itlb, dtlb). */
static int place_entry(wire_reader *r, const wire_section *s, const Hpvm__TlbEntry *e, ia64_tlb_side side[2]) {
#define BAD(...) return wire_reader_fail(r, s, HPVM_ECORRUPT, __VA_ARGS__)
  bool tr = e->kind == HPVM__TLB_KIND__TLB_KIND_ITR || e->kind == HPVM__TLB_KIND__TLB_KIND_DTR;
  bool tc = e->kind == HPVM__TLB_KIND__TLB_KIND_ITC || e->kind == HPVM__TLB_KIND__TLB_KIND_DTC;
  if (!tr && !tc) BAD("TLB entry of unknown kind %d", (int)e->kind);
  const char *kn = e->kind == HPVM__TLB_KIND__TLB_KIND_ITR ? "ITR" : e->kind == HPVM__TLB_KIND__TLB_KIND_DTR ? "DTR"
                 : e->kind == HPVM__TLB_KIND__TLB_KIND_ITC ? "ITC" : "DTC";
  if (e->slot >= (tr ? IA64_NTR : TC_ENTRIES)) BAD("%s slot %u: there are %d", kn, e->slot, tr ? IA64_NTR : TC_ENTRIES);
  unsigned ps = (e->itir >> 2) & 63;
  if ((e->itir & 3) || !(PAGE_SIZES >> ps & 1)) BAD("%s slot %u: itir 0x%x has no valid page size", kn, e->slot, e->itir);
  if ((e->vpn & ~VA_MASK) || (e->vpn & ((1ull << ps) - 1)))
    BAD("%s slot %u: vpn 0x%llx is not a 2^%u-aligned address within a region", kn, e->slot, (unsigned long long)e->vpn, ps);
  if (e->rid > RID_MASK) BAD("%s slot %u: region id 0x%x wider than 24 bits", kn, e->slot, e->rid);
  unsigned ma = (unsigned)(e->pte >> 2) & 7;
  if ((e->pte & 1) && ((e->pte & PTE_RSV) || (ma >= 1 && ma <= 3)))
    BAD("%s slot %u: pte 0x%llx has reserved fields set", kn, e->slot, (unsigned long long)e->pte);
  bool inst = e->kind == HPVM__TLB_KIND__TLB_KIND_ITR || e->kind == HPVM__TLB_KIND__TLB_KIND_ITC;
  ia64_tlb_side *t = &side[inst ? 0 : 1];
  ia64_tlb_ent *dst = tr ? &t->tr[e->slot] : &t->tc[e->slot];
  if (dst->valid) BAD("%s slot %u given twice", kn, e->slot);
  *dst = (ia64_tlb_ent){.vpn = e->vpn, .pte = e->pte, .rid = e->rid, .itir = e->itir, .valid = 1};
  if (tc) t->tc_sizes |= 1ull << ps;
  return 0;
#undef BAD
}

int wire_tlb_load(wire_reader *r, const wire_section *s, ia64_cpu *const *cpus, uint32_t ncpus) {
  if (r->err) return r->err;
  if (s->type != WIRE_SEC_GUEST_TLB) return wire_reader_fail(r, s, HPVM_EINVAL, "not a guest TLB section");
  ProtobufCMessage *pm;
  if (wire_section_unpack(r, s, &hpvm__guest_tlb__descriptor, &pm) < 0) return r->err;
  Hpvm__GuestTlb *m = (Hpvm__GuestTlb *)pm;
  ia64_tlb_side *side = calloc(2, sizeof *side);
  int rc = 0;
  if (!side) rc = wire_reader_fail(r, s, HPVM_ENOMEM, "out of memory for a guest TLB");
  else if (m->vcpu >= ncpus || !cpus[m->vcpu])
    rc = wire_reader_fail(r, s, HPVM_ECORRUPT, "vCPU %u, but the VM has %u", m->vcpu, ncpus);
  else if (m->n_entries > TLB_MAX_ENTRIES)
    rc = wire_reader_fail(r, s, HPVM_ECORRUPT, "%zu TLB entries, the TLB has %d", m->n_entries, TLB_MAX_ENTRIES);
  for (size_t i = 0; !rc && i < m->n_entries; i++) rc = place_entry(r, s, m->entries[i], side);
  if (!rc) {
    ia64_cpu *c = cpus[m->vcpu];
    side[0].tc_victim = m->itc_victim;
    side[1].tc_victim = m->dtc_victim;
    c->sys.itlb = side[0];
    c->sys.dtlb = side[1];
    ia64_stlb_flush(c);          /* it caches pieces of the old translations */
  }
  free(side);
  protobuf_c_message_free_unpacked(&m->base, NULL);
  return rc;
}

/* ---- Timers --------------------------------------------------------------------------------- */

int wire_timers_save(wire_writer *w, ia64_cpu *cpu, uint32_t vcpu) {
  Hpvm__Timers m;
  hpvm__timers__init(&m);
  m.vcpu = vcpu;
  m.itc_at_pause = ia64_itc(cpu);
  m.itc_hz = ITC_HZ;
  m.itm_armed = (cpu->sys.flags & SYS_ITM_ARMED) != 0;
  unsigned v = (unsigned)(cpu->cr[CR_ITV] & 0xff);
  m.interval_pending = (cpu->cr[CR_IRR0 + v / 64] >> (v % 64)) & 1;
  return wire_write_msg(w, WIRE_SEC_TIMERS, &m.base);
}

int wire_timers_load(wire_reader *r, const wire_section *s, ia64_cpu *const *cpus, uint32_t ncpus) {
  if (r->err) return r->err;
  if (s->type != WIRE_SEC_TIMERS) return wire_reader_fail(r, s, HPVM_EINVAL, "not a timers section");
  ProtobufCMessage *pm;
  if (wire_section_unpack(r, s, &hpvm__timers__descriptor, &pm) < 0) return r->err;
  Hpvm__Timers *m = (Hpvm__Timers *)pm;
  int rc = 0;
  if (m->vcpu >= ncpus || !cpus[m->vcpu])
    rc = wire_reader_fail(r, s, HPVM_ECORRUPT, "vCPU %u, but the VM has %u", m->vcpu, ncpus);
  else if (m->itc_hz != ITC_HZ)
    rc = wire_reader_fail(r, s, HPVM_ECORRUPT, "ar.itc counts at %llu Hz; this CPU's counts at %llu Hz",
                          (unsigned long long)m->itc_hz, ITC_HZ);
  if (!rc) {
    ia64_cpu *c = cpus[m->vcpu];
    ia64_sys *y = &c->sys;
    if (y->hooks.clock) y->itc_offset = (int64_t)(m->itc_at_pause - y->hooks.clock(y->hook_ctx));
    else c->ar[IA64_AR_ITC] = m->itc_at_pause;
    y->flags = (y->flags & ~(uint32_t)SYS_ITM_ARMED) | (m->itm_armed ? SYS_ITM_ARMED : 0);
    /* Tell the platform when the match is due, as a write of cr.itm would. */
    if (y->hooks.timer_arm && y->hooks.clock)
      y->hooks.timer_arm(y->hook_ctx, c, m->itm_armed ? c->cr[CR_ITM] - (uint64_t)y->itc_offset : UINT64_MAX);
    __atomic_fetch_or(&y->attn, IA64_ATTN_IRQ, __ATOMIC_SEQ_CST);   /* look at the match once */
  }
  protobuf_c_message_free_unpacked(&m->base, NULL);
  return rc;
}
