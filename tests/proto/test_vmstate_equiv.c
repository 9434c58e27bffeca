/* test_vmstate_equiv.c — the promise of the VM state format: a guest saved and restored
 * continues exactly. A small IA-64 program (state_loop.S: deep recursion through the RSE,
 * advanced loads and chk.a, a rotating modulo-scheduled loop, a counted loop, a register bank
 * switch) runs N instructions, is saved, restored into a fresh CPU over a fresh copy of its
 * memory (at another host address: the first machine is freed before the second runs, so a
 * stale host pointer in the state would be caught by ASan), and runs M more; a second machine
 * runs the same instructions without the break. Registers and memory must be identical.
 * Save points are taken at instruction budgets (bundle boundaries) and at the program's
 * pauses (break.m 0x77 in the middle slot of a bundle: a mid-bundle save, ri = 1), through
 * memory and through a file. The test also checks that its save points really did catch the
 * interesting state (dirty stacked registers, spilled ones, live ALAT entries, rotation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state_util.h"

#define BASE UINT64_C(0x4000000000000000)
#define MEM_SIZE (2u << 20)
#define DATA_OFF 0x100000u   /* state_loop.S's DATA */
#define RSE_OFF 0x180000u    /* the backing store */
#define PAUSE_IMM 0x77

typedef struct image {
  uint8_t *bytes;
  size_t len;
} image;

typedef struct machine {
  ia64_cpu cpu;
  uint8_t *mem;
  test_region region;        /* guest addresses are BASE-relative, identity-mapped */
} machine;

/* What the save points caught, summed over the test. */
typedef struct coverage {
  unsigned dirty, spilled, alat, rotated, mid_bundle, bank1, recoveries;
} coverage;

/* ---- Machines ----------------------------------------------------------------------------- */

static int flat_translate(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned access, ia64_xlat *out) {
  machine *m = ctx;
  if (va < BASE || va - BASE >= MEM_SIZE) {
    uint64_t isr = access == IA64_ACC_X ? IA64_ISR_X : access == IA64_ACC_W ? IA64_ISR_W : IA64_ISR_R;
    return ia64_raise(cpu, access == IA64_ACC_X ? IA64_VEC_INST_TLB : IA64_VEC_DATA_TLB, isr, va);
  }
  out->host_page = m->mem + ((va - BASE) & ~(uint64_t)(IA64_PAGE_SIZE - 1));
  out->perms = IA64_ACC_R | IA64_ACC_W | IA64_ACC_X;
  return 0;
}
static const ia64_mem_ops flat_ops = {flat_translate, NULL};

static machine *machine_alloc(void) {
  machine *m = calloc(1, sizeof *m);
  assert_non_null(m);
  m->mem = aligned_alloc(IA64_PAGE_SIZE, MEM_SIZE);
  assert_non_null(m->mem);
  m->region = (test_region){(uintptr_t)m->mem, BASE, MEM_SIZE};
  assert_int_equal(ia64_cpu_init(&m->cpu, &flat_ops, m), 0);
  return m;
}

/* A machine at the program's entry. */
static machine *machine_boot(const image *img) {
  machine *m = machine_alloc();
  memset(m->mem, 0, MEM_SIZE);
  memcpy(m->mem, img->bytes, img->len);
  m->cpu.ip = BASE;
  m->cpu.ar[IA64_AR_BSPSTORE] = BASE + RSE_OFF;
  return m;
}

static void machine_free(machine *m) {
  ia64_cpu_destroy(&m->cpu);
  free(m->mem);
  free(m);
}

static bool at_pause(const machine *m) {
  return m->cpu.intr.vector == IA64_VEC_BREAK && m->cpu.intr.iim == PAUSE_IMM;
}

static void skip_slot(ia64_cpu *c) {
  if (c->ri < 2) c->ri++;
  else c->ip += 16, c->ri = 0;
}

/* Run until `target` instructions have retired, stepping over pauses; with pauses > 0, stop
 * instead at that many-th pause, before stepping over it (returns true then). */
static bool drive(machine *m, uint64_t target, unsigned pauses) {
  while (m->cpu.retired < target) {
    ia64_stop st = ia64_run(&m->cpu, target - m->cpu.retired);
    if (st == IA64_STOP_LIMIT) continue;
    if (st != IA64_STOP_INTR || !at_pause(m))
      fail_msg("the guest stopped (%d) with vector 0x%x at 0x%llx slot %u, isr 0x%llx", st, m->cpu.intr.vector,
               (unsigned long long)m->cpu.ip, m->cpu.ri, (unsigned long long)m->cpu.intr.isr);
    if (pauses && --pauses == 0) return true;
    skip_slot(&m->cpu);
  }
  return false;
}

/* ---- Save and restore --------------------------------------------------------------------- */

static uint8_t *save(const machine *m, size_t *len) {
  wire_writer w;
  wire_addr_map map = region_map((test_region *)&m->region);
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(wire_cpu_save(&w, &m->cpu, 0, &map), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  return wire_writer_take(&w, len);
}

static void load(machine *m, wire_reader *r) {
  wire_addr_map map = region_map(&m->region);
  ia64_cpu *cpus[1] = {&m->cpu};
  wire_section s;
  int rc, loaded = 0;
  while ((rc = wire_reader_next(r, &s)) == 1) {
    assert_int_equal(s.type, WIRE_SEC_CPU);
    if (wire_cpu_load(r, &s, cpus, 1, &map) < 0) fail_msg("%s", wire_reader_error(r));
    loaded++;
  }
  if (rc < 0) fail_msg("%s", wire_reader_error(r));
  assert_int_equal(loaded, 1);
}

/* A new machine from a state and a copy of the memory it belongs with. */
static machine *restore_mem(const uint8_t *state, size_t len, const uint8_t *mem) {
  machine *m = machine_alloc();
  memcpy(m->mem, mem, MEM_SIZE);
  wire_reader r;
  assert_int_equal(wire_reader_init_mem(&r, state, len), 0);
  load(m, &r);
  wire_reader_free(&r);
  return m;
}

/* The same through a file: written with the fd writer, read back with the fd reader. */
static machine *restore_via_file(const machine *src, const uint8_t *mem) {
  FILE *f = tmpfile();
  assert_non_null(f);
  wire_writer w;
  wire_addr_map map = region_map((test_region *)&src->region);
  assert_int_equal(wire_writer_init_fd(&w, fileno(f)), 0);
  assert_int_equal(wire_cpu_save(&w, &src->cpu, 0, &map), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
  machine *m = machine_alloc();
  memcpy(m->mem, mem, MEM_SIZE);
  wire_reader r;
  assert_int_equal(wire_reader_init_fd(&r, fileno(f)), 0);
  load(m, &r);
  wire_reader_free(&r);
  fclose(f);
  return m;
}

static void note_coverage(coverage *cov, const machine *m) {
  const ia64_cpu *c = &m->cpu;
  cov->dirty += c->ndirty > 0;
  cov->spilled += c->ar[IA64_AR_BSPSTORE] > BASE + RSE_OFF;
  cov->alat += c->alat_live != 0;
  cov->rotated += c->rrb_gr != 0 || c->rrb_pr != 0;
  cov->mid_bundle += c->ri != 0;
  cov->bank1 += (c->psr >> 44 & 1) != 0;
}

/* One save point: N instructions (or the pauses-th pause), save, restore, M more; against
 * the same run without the break. */
static void check_save_point(const image *img, uint64_t n, unsigned pauses, uint64_t m_insns, bool via_file,
                             coverage *cov) {
  machine *a = machine_boot(img);
  bool paused = drive(a, pauses ? UINT64_MAX : n, pauses);
  note_coverage(cov, a);
  machine *b;
  if (via_file) {
    b = restore_via_file(a, a->mem);
  } else {
    size_t len;
    uint8_t *state = save(a, &len);
    b = restore_mem(state, len, a->mem);
    free(state);
  }
  machine_free(a);  /* nothing of a may be reached from b */
  if (paused) skip_slot(&b->cpu);
  drive(b, b->cpu.retired + m_insns, 0);
  uint64_t total = b->cpu.retired;

  machine *s = machine_boot(img);
  drive(s, total, 0);
  assert_int_equal(s->cpu.retired, total);
  assert_cpu_equal(&s->cpu, &s->region, &b->cpu, &b->region);
  if (memcmp(s->mem, b->mem, MEM_SIZE) != 0) {
    size_t i = 0;
    while (s->mem[i] == b->mem[i]) i++;
    fail_msg("memory differs first at guest 0x%llx (n=%llu pauses=%u)", (unsigned long long)(BASE + i),
             (unsigned long long)n, pauses);
  }
  uint64_t r24 = s->cpu.gr[24];
  cov->recoveries += r24 > 0;
  machine_free(s);
  machine_free(b);
}

/* ---- Tests -------------------------------------------------------------------------------- */

static void test_the_guest_runs_and_does_what_the_save_points_need(void **state) {
  const image *img = *state;
  machine *m = machine_boot(img);
  drive(m, 200000, 0);
  /* A pass ends with the chk.a recovery count stored after the table; odd passes recover. */
  assert_true(m->cpu.gr[21] > 10);                             /* passes done */
  uint64_t passes = m->cpu.gr[21], recoveries = m->cpu.gr[24]; /* one recovery per odd pass */
  assert_true(recoveries == passes / 2 || recoveries == passes / 2 + 1);
  uint64_t sum;
  memcpy(&sum, m->mem + DATA_OFF + 64 + 8 * 40, 8);
  assert_int_equal(sum, 40);                                   /* deep's store at level 40 */
  /* Each pass: deep returns 1 + ... + 40 plus 1000 for each of the 20 odd (NaT) levels,
   * rotsum the sum of the 41 words deep stored (0..40); the table starts with their sum. */
  memcpy(&sum, m->mem + DATA_OFF + 512, 8);
  assert_int_equal(sum, 820 + 20 * 1000 + 820);
  memcpy(&sum, m->mem + DATA_OFF + 8, 8);
  assert_true(sum != 0);                                       /* the checksum is stored */
  machine_free(m);
}

static void test_save_at_bundle_boundaries_continues_exactly(void **state) {
  const image *img = *state;
  static const uint64_t points[] = {0, 1, 2, 3, 7, 50, 333, 1000, 2500, 4096, 7777, 12345, 25000};
  coverage cov = {0};
  for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) check_save_point(img, points[i], 0, 15000, false, &cov);
  uint64_t seed = 2024;
  for (int i = 0; i < 100; i++) check_save_point(img, 1 + rng_below(&seed, 40000), 0, 1 + rng_below(&seed, 20000), false, &cov);
  print_message("save points: %u with dirty stacked registers, %u after spills, %u with live ALAT entries, "
                "%u rotated, %u in bank 1; %u runs took chk.a recoveries\n",
                cov.dirty, cov.spilled, cov.alat, cov.rotated, cov.bank1, cov.recoveries);
  assert_true(cov.dirty > 5);
  assert_true(cov.spilled > 5);
  assert_true(cov.alat > 5);
  assert_true(cov.rotated > 0);
  assert_true(cov.recoveries > 5);
}

static void test_save_mid_bundle_at_a_pause_continues_exactly(void **state) {
  const image *img = *state;
  static const unsigned pauses[] = {1, 2, 17, 30, 40, 41, 42, 60, 100, 150, 333};
  coverage cov = {0};
  for (size_t i = 0; i < sizeof pauses / sizeof pauses[0]; i++) check_save_point(img, 0, pauses[i], 12000, false, &cov);
  assert_int_equal(cov.mid_bundle, sizeof pauses / sizeof pauses[0]);
  assert_true(cov.spilled > 0);
  assert_true(cov.alat > 0);
}

static void test_save_through_a_file_continues_exactly(void **state) {
  const image *img = *state;
  coverage cov = {0};
  check_save_point(img, 5555, 0, 9000, true, &cov);
  check_save_point(img, 0, 77, 9000, true, &cov);
}

static void test_restore_into_the_same_cpu_continues_exactly(void **state) {
  /* Same process, same CPU and memory buffer: run on, then go back to the saved state. */
  const image *img = *state;
  machine *m = machine_boot(img);
  drive(m, 3000, 0);
  size_t len;
  uint8_t *st = save(m, &len);
  uint8_t *mem_at_save = malloc(MEM_SIZE);
  memcpy(mem_at_save, m->mem, MEM_SIZE);
  drive(m, m->cpu.retired + 5000, 0);
  ia64_cpu after = m->cpu;
  uint8_t *mem_after = malloc(MEM_SIZE);
  memcpy(mem_after, m->mem, MEM_SIZE);
  drive(m, m->cpu.retired + 4321, 0);  /* wander off */
  memcpy(m->mem, mem_at_save, MEM_SIZE);
  wire_reader r;
  assert_int_equal(wire_reader_init_mem(&r, st, len), 0);
  load(m, &r);
  wire_reader_free(&r);
  drive(m, m->cpu.retired + 5000, 0);
  assert_cpu_equal(&after, &m->region, &m->cpu, &m->region);
  assert_memory_equal(mem_after, m->mem, MEM_SIZE);
  free(st);
  free(mem_at_save);
  free(mem_after);
  machine_free(m);
}

static int load_image(void **state) {
  FILE *f = fopen(STATE_LOOP_BIN, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s: build the proto_state_loop target\n", STATE_LOOP_BIN);
    return -1;
  }
  image *img = calloc(1, sizeof *img);
  img->bytes = malloc(DATA_OFF);
  img->len = fread(img->bytes, 1, DATA_OFF, f);
  fclose(f);
  if (img->len == 0 || img->len >= DATA_OFF) return -1;
  *state = img;
  return 0;
}

static int free_image(void **state) {
  image *img = *state;
  free(img->bytes);
  free(img);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_the_guest_runs_and_does_what_the_save_points_need),
    cmocka_unit_test(test_save_at_bundle_boundaries_continues_exactly),
    cmocka_unit_test(test_save_mid_bundle_at_a_pause_continues_exactly),
    cmocka_unit_test(test_save_through_a_file_continues_exactly),
    cmocka_unit_test(test_restore_into_the_same_cpu_continues_exactly),
  };
  return cmocka_run_group_tests(tests, load_image, free_image);
}
