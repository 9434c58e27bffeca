/* test_vmstate.c — saving and restoring whole VMs (hypervisor/vmstate.c):
 *  - exactness: on one vCPU, N instructions, save, restore into a new VM, M instructions give
 *    the registers, guest TLB, interrupt state and memory of N + M straight (vm_run_cpu's
 *    budgets are exact), for N at bundle slots, mid-workload, over chains of restores;
 *  - several vCPUs: each vCPU's deterministic work (vs_work.S, with timer interrupts landing
 *    anywhere) ends with the same memory and console output as an unsaved run after many
 *    pause/save/destroy/create/restore cycles in the middle;
 *  - time: ar.itc continues from its saved value whatever the new VM's clock, never back, and
 *    the ITM timer fires after a restore;
 *  - devices: console input not yet read, registers, the avio_stor ring position (requests
 *    in flight complete before the save) carry over;
 *  - another process: hpvmapp --restore continues a state saved here, and hpvmapp's SIGUSR1
 *    save (--state-file) continues in a new hpvmapp with the guest kernel's memverify,
 *    heartbeat (ar.itc never steps back) and diskverify passing, across two hops;
 *  - refusals: truncation at many offsets, bit flips, streams with valid CRCs but hostile or
 *    missing content, foreign files, other memory sizes, vCPU counts and disks, misuse. */
#include <fcntl.h>
#include <sys/stat.h>

#include "vm_test.h"
#include "wire.h"

#define MEM (16ull << 20)
#define SHARED 0x300000ull          /* vs_work.S: results, 64 bytes per vCPU */
#define TICKS (SHARED + 0x80000)    /* its timer tick counters */
#define WORK 0x400000ull            /* its work areas, 1 MiB per vCPU */
#define NCPU 3

/* ---- Helpers ------------------------------------------------------------------------------- */

/* A VM to restore into: no kernel. */
static vm *blank_vm(uint64_t mem, unsigned ncpus, const char *const *disks, unsigned ndisks, int out_fd) {
  vm_config cfg = {.memory = mem, .ncpus = ncpus, .disks = disks, .ndisks = ndisks, .console_in = -1, .console_out = out_fd};
  vm *v = NULL;
  char msg[512];
  if (vm_create(&cfg, &v, msg, sizeof msg)) fail_msg("vm_create: %s", msg);
  return v;
}

static uint8_t *save_buf(vm *v, size_t *len) {
  wire_writer w;
  char msg[512];
  assert_int_equal(wire_writer_init_mem(&w), 0);
  if (vm_save(v, &w, msg, sizeof msg)) fail_msg("vm_save: %s", msg);
  return wire_writer_take(&w, len);
}

static void restore_buf(vm *v, const uint8_t *buf, size_t len) {
  char msg[512];
  if (vm_restore_mem(v, buf, len, msg, sizeof msg)) fail_msg("vm_restore: %s", msg);
}

static uint64_t ram_base(vm *v) { return (uint64_t)(uintptr_t)vm_mem_ptr(v, 0, 1); }

static void same_bytes(const void *a, const void *b, size_t n, const char *what, unsigned cpu) {
  for (size_t k = 0; k < n; k++)
    if (((const uint8_t *)a)[k] != ((const uint8_t *)b)[k])
      fail_msg("vCPU %u: %s differs at byte %zu: 0x%02x, 0x%02x", cpu, what, k, ((const uint8_t *)a)[k], ((const uint8_t *)b)[k]);
}

static void assert_same_cpu(vm *va, vm *vb, unsigned i) {
  const ia64_cpu *a = vm_cpu(va, i), *b = vm_cpu(vb, i);
#define SAME(f) same_bytes(&a->f, &b->f, sizeof a->f, #f, i)
  SAME(gr), SAME(nat), SAME(bank0), SAME(bank0_nat), SAME(fr), SAME(pr), SAME(br), SAME(ar), SAME(cr);
  SAME(rr), SAME(pkr), SAME(dbr), SAME(ibr), SAME(pmc), SAME(pmd);
  SAME(sof), SAME(sol), SAME(sor), SAME(rrb_gr), SAME(rrb_fr), SAME(rrb_pr), SAME(bof), SAME(ndirty);
  SAME(ip), SAME(ri), SAME(psr), SAME(retired);
  SAME(intr.vector), SAME(intr.isr), SAME(intr.ifa), SAME(intr.iim), SAME(intr.iip), SAME(intr.ri), SAME(intr.trap);
  for (unsigned k = 0; k < IA64_ALAT_SIZE; k++) {
    assert_int_equal(a->alat[k].valid, b->alat[k].valid);
    if (!a->alat[k].valid) continue;
    assert_int_equal(a->alat[k].addr - ram_base(va), b->alat[k].addr - ram_base(vb));   /* same guest address */
    SAME(alat[k].size), SAME(alat[k].reg), SAME(alat[k].is_fp);
  }
  const ia64_tlb_side *sa[2] = {&a->sys.itlb, &a->sys.dtlb}, *sb[2] = {&b->sys.itlb, &b->sys.dtlb};
  for (unsigned k = 0; k < 2; k++) {
    for (unsigned e = 0; e < IA64_NTR + IA64_TC_SETS * IA64_TC_WAYS; e++) {
      const ia64_tlb_ent *x = e < IA64_NTR ? &sa[k]->tr[e] : &sa[k]->tc[e - IA64_NTR];
      const ia64_tlb_ent *y = e < IA64_NTR ? &sb[k]->tr[e] : &sb[k]->tc[e - IA64_NTR];
      assert_int_equal(x->valid, y->valid);
      if (!x->valid) continue;
      assert_int_equal(x->vpn, y->vpn);
      assert_int_equal(x->pte, y->pte);
      assert_int_equal(x->rid, y->rid);
      assert_int_equal(x->itir, y->itir);
    }
    assert_int_equal(sa[k]->tc_victim, sb[k]->tc_victim);
  }
  SAME(sys.insvc), SAME(sys.pend);
  assert_int_equal(a->sys.flags & 7, b->sys.flags & 7);   /* halted, ITM armed, IIPA */
#undef SAME
}

static void assert_same_ram(vm *a, vm *b) {
  assert_int_equal(vm_memory_size(a), vm_memory_size(b));
  const uint8_t *pa = vm_mem_ptr(a, 0, vm_memory_size(a)), *pb = vm_mem_ptr(b, 0, vm_memory_size(b));
  for (uint64_t off = 0; off < vm_memory_size(a); off += 4096)
    if (memcmp(pa + off, pb + off, 4096)) fail_msg("guest memory differs in the frame at 0x%llx", (unsigned long long)off);
}

static unsigned valid_dtc(vm *v) {
  unsigned n = 0;
  for (unsigned e = 0; e < IA64_TC_SETS * IA64_TC_WAYS; e++) n += vm_cpu(v, 0)->sys.dtlb.tc[e].valid;
  return n;
}

static char *slurp(int fd) {
  static char buf[65536];
  size_t n = 0;
  ssize_t r;
  fcntl(fd, F_SETFL, O_NONBLOCK);
  while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
  buf[n] = 0;
  return buf;
}

static char *read_file(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return strdup("");
  char *s = strdup(slurp(fd));
  close(fd);
  return s;
}

static char *temp_path(const char *tag) {
  char *p = malloc(64);
  snprintf(p, 64, "/tmp/hpvm_vmstate_%s_%d", tag, (int)getpid());
  return p;
}

/* The multi-vCPU reference: an unsaved run of vs_work on NCPU vCPUs with the timer. */
static struct {
  uint8_t shared[NCPU * 64];
  uint8_t *work;
  char out[4096];
} ref;

static int setup_reference(void **s) {
  (void)s;
  int p[2];
  if (pipe(p)) return -1;
  vm *v = vm_with_guest(MEM, NCPU, "vs_work", "t", p[1]);
  if (vm_start(v) || wait_exit(v, 120) != 0) return -1;
  ref.work = malloc(NCPU << 20);
  vm_mem_read(v, SHARED, ref.shared, sizeof ref.shared);
  vm_mem_read(v, WORK, ref.work, NCPU << 20);
  vm_destroy(v);
  close(p[1]);
  snprintf(ref.out, sizeof ref.out, "%s", slurp(p[0]));
  close(p[0]);
  return count_lines(ref.out) == NCPU ? 0 : -1;
}

static int teardown_reference(void **s) {
  (void)s;
  free(ref.work);
  return 0;
}

static void assert_work_matches_reference(vm *v) {
  uint8_t shared[NCPU * 64];
  assert_int_equal(vm_mem_read(v, SHARED, shared, sizeof shared), 0);
  assert_memory_equal(shared, ref.shared, sizeof shared);
  const uint8_t *work = vm_mem_ptr(v, WORK, NCPU << 20);
  for (unsigned off = 0; off < NCPU << 20; off += 4096)
    if (memcmp(work + off, ref.work + off, 4096)) fail_msg("work area differs at 0x%llx", (unsigned long long)(WORK + off));
}

/* ---- Exactness on one vCPU --------------------------------------------------------------------- */

static void test_n_then_save_restore_then_m_equals_n_plus_m_straight(void **s) {
  (void)s;
  const uint64_t ns[] = {1, 2, 3, 1000, 123457, 2000003, 7654321};
  const uint64_t m = 1500001;
  for (unsigned k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    vm *a = vm_with_guest(MEM, 1, "vs_work", "b", -1);
    assert_int_equal(vm_run_cpu(a, 0, ns[k]), 0);
    size_t len;
    uint8_t *buf = save_buf(a, &len);
    vm *b = blank_vm(MEM, 1, NULL, 0, -1);
    restore_buf(b, buf, len);
    assert_same_cpu(a, b, 0);
    assert_same_ram(a, b);
    assert_int_equal(vm_run_cpu(b, 0, m), 0);
    vm *c = vm_with_guest(MEM, 1, "vs_work", "b", -1);
    assert_int_equal(vm_run_cpu(c, 0, ns[k] + m), 0);
    assert_same_cpu(b, c, 0);
    assert_same_ram(b, c);
    /* The saved VM itself goes on as if nothing happened. */
    assert_int_equal(vm_run_cpu(a, 0, m), 0);
    assert_same_cpu(a, c, 0);
    if (k == sizeof ns / sizeof ns[0] - 1) {
      print_message("at %llu instructions: %u data TC entries, %u replacements, %zu-byte state\n",
                    (unsigned long long)(ns[k] + m), valid_dtc(c), vm_cpu(c, 0)->sys.dtlb.tc_victim, len);
      assert_true(valid_dtc(c) > 200);
      assert_true(vm_cpu(c, 0)->sys.dtlb.tc_victim > 0);   /* sets overflowed: the cursor matters */
    }
    free(buf);
    vm_destroy(a), vm_destroy(b), vm_destroy(c);
  }
}

static void test_a_chain_of_restores_runs_to_the_same_end_as_a_straight_run(void **s) {
  (void)s;
  vm *c = vm_with_guest(MEM, 1, "vs_work", "b", -1);
  assert_int_equal(vm_run_cpu(c, 0, UINT64_MAX / 2), 1);      /* to SSC EXIT */
  assert_int_equal(vm_wait(c), 0);
  vm *v = vm_with_guest(MEM, 1, "vs_work", "b", -1);
  uint64_t seed = 5, hops = 0;
  for (;;) {
    uint64_t n = 1 + (seed = seed * 6364136223846793005ull + 1442695040888963407ull) % 9000000;
    if (vm_run_cpu(v, 0, n)) break;
    size_t len;
    uint8_t *buf = save_buf(v, &len);
    vm_destroy(v);
    v = blank_vm(MEM, 1, NULL, 0, -1);
    restore_buf(v, buf, len);
    free(buf);
    hops++;
  }
  assert_int_equal(vm_wait(v), 0);
  print_message("%llu restores on the way, %llu instructions\n", (unsigned long long)hops,
                (unsigned long long)vm_cpu(v, 0)->retired);
  assert_true(hops >= 3);
  assert_same_cpu(v, c, 0);
  assert_same_ram(v, c);
  vm_destroy(v), vm_destroy(c);
}

/* ---- Several vCPUs ----------------------------------------------------------------------------- */

static void test_every_vcpu_finishes_its_work_identically_across_save_restore_cycles(void **s) {
  (void)s;
  int p[2];
  assert_int_equal(pipe(p), 0);
  vm *v = vm_with_guest(MEM, NCPU, "vs_work", "t", p[1]);
  assert_int_equal(vm_start(v), 0);
  unsigned cycles = 0;
  uint64_t seed = 11;
  double give_up = now_s() + 120;
  for (;;) {
    usleep(20000 + (unsigned)((seed = seed * 6364136223846793005ull + 1) >> 40) % 30000);
    vm_pause(v);
    if (vm_stopped(v)) {
      vm_resume(v);
      break;
    }
    if (now_s() > give_up) {
      for (unsigned i = 0; i < NCPU; i++) vm_dump_cpu(v, i, stderr);
      fail_msg("the guest has not finished after %u cycles", cycles);
    }
    size_t len;
    uint8_t *buf = save_buf(v, &len);
    vm_destroy(v);
    v = blank_vm(MEM, NCPU, NULL, 0, p[1]);
    restore_buf(v, buf, len);
    free(buf);
    assert_int_equal(vm_start(v), 0);
    cycles++;
  }
  assert_int_equal(wait_exit(v, 120), 0);
  uint64_t ticks = 0;
  for (unsigned i = 0; i < NCPU; i++) {
    uint64_t t;
    vm_mem_read(v, TICKS + 64 * i, &t, 8);
    ticks += t;
  }
  print_message("%u save/restore cycles, %llu timer interrupts\n", cycles, (unsigned long long)ticks);
  assert_true(cycles >= 3);
  assert_true(ticks > 0);
  assert_work_matches_reference(v);
  vm_destroy(v);
  close(p[1]);
  assert_string_equal(slurp(p[0]), ref.out);
  close(p[0]);
}

/* ---- Time -------------------------------------------------------------------------------------- */

static uint64_t ticks_of(vm *v) {
  uint64_t t = 0;
  vm_mem_read(v, TICKS, &t, 8);
  return t;
}

/* ar.itc of vCPU 0 in a state (its TIMERS section). */
static uint64_t saved_itc(const uint8_t *buf, size_t len) {
  wire_reader r;
  wire_section s;
  uint64_t itc = 0;
  assert_int_equal(wire_reader_init_mem(&r, buf, len), 0);
  while (wire_reader_next(&r, &s) == 1) {
    if (s.type != WIRE_SEC_TIMERS) continue;
    ProtobufCMessage *pm;
    assert_int_equal(wire_section_unpack(&r, &s, &hpvm__timers__descriptor, &pm), 0);
    if (((Hpvm__Timers *)pm)->vcpu == 0) itc = ((Hpvm__Timers *)pm)->itc_at_pause;
    protobuf_c_message_free_unpacked(pm, NULL);
  }
  wire_reader_free(&r);
  return itc;
}

static void test_itc_continues_from_the_saved_value_and_the_timer_fires_after_restore(void **s) {
  (void)s;
  vm *early = blank_vm(MEM, 1, NULL, 0, -1);          /* its clock started long before the save */
  vm *a = vm_with_guest(MEM, 1, "vs_work", "t", -1);
  assert_int_equal(vm_start(a), 0);
  usleep(100000);
  vm_pause(a);
  uint64_t itc_a = ia64_itc(vm_cpu(a, 0)), ticks_a = ticks_of(a);
  size_t len;
  uint8_t *buf = save_buf(a, &len);
  vm_destroy(a);
  assert_true(ticks_a > 10);
  /* What the state holds: ar.itc when the save read it, a little after itc_a. */
  uint64_t itc_saved = saved_itc(buf, len);
  assert_true(itc_saved >= itc_a && itc_saved - itc_a < 1000000000ull);
  usleep(50000);                                       /* not guest time */
  vm *late = blank_vm(MEM, 1, NULL, 0, -1);            /* its clock starts after the save */
  vm *vs[2] = {early, late};
  for (unsigned k = 0; k < 2; k++) {
    double t0 = now_s();
    restore_buf(vs[k], buf, len);
    uint64_t itc = ia64_itc(vm_cpu(vs[k], 0));
    uint64_t since = (uint64_t)((now_s() - t0) * 1e9) + 1000;   /* ns since the restore began */
    if (itc < itc_saved || itc - itc_saved > since)
      fail_msg("restored ar.itc %llu, saved %llu, %llu ns later: not continuing", (unsigned long long)itc,
               (unsigned long long)itc_saved, (unsigned long long)since);
  }
  /* Running on, time goes forward and the ITM timer (armed before the save) keeps firing. */
  assert_int_equal(vm_start(early), 0);
  uint64_t prev = itc_a;
  for (int k = 0; k < 5; k++) {
    usleep(20000);
    vm_pause(early);
    uint64_t itc = ia64_itc(vm_cpu(early, 0));
    assert_true(itc > prev);
    prev = itc;
    vm_resume(early);
  }
  vm_pause(early);
  assert_true(ticks_of(early) > ticks_a + 20);
  vm_resume(early);
  assert_int_equal(wait_exit(early, 120), 0);
  free(buf);
  vm_destroy(early), vm_destroy(late);
}

/* ---- Devices ----------------------------------------------------------------------------------- */

#define CON(off) (VM_DEV_BASE + (off))
#define DISK(off) (VM_DEV_BASE + 0x1000 + (off))

static uint64_t mmio(vm *v, uint64_t gpa) {
  uint64_t x = 0;
  assert_int_equal(vm_mmio_read(v, gpa, 8, &x), 0);
  return x;
}

static void test_console_input_not_yet_read_and_registers_carry_over(void **s) {
  (void)s;
  int in[2];
  assert_int_equal(pipe(in), 0);
  vm_config cfg = {.memory = MEM, .ncpus = 1, .console_in = in[0], .console_out = -1};
  vm *a;
  char msg[256];
  assert_int_equal(vm_create(&cfg, &a, msg, sizeof msg), 0);
  assert_int_equal(vm_load_kernel(a, guest_path("spin"), msg, sizeof msg), 0);
  assert_int_equal(vm_mmio_write(a, CON(0x10), 8, 0x55), 0);    /* vector */
  assert_int_equal(vm_mmio_write(a, CON(0x30), 8, 1), 0);       /* interrupt on input */
  assert_int_equal(vm_start(a), 0);
  assert_int_equal(write(in[1], "hello", 5), 5);
  double end = now_s() + 5;
  while (!(mmio(a, CON(0x18)) & 1) && now_s() < end) usleep(1000);
  usleep(20000);
  vm_pause(a);
  size_t len;
  uint8_t *buf = save_buf(a, &len);
  vm_destroy(a);
  close(in[0]), close(in[1]);
  vm *b = blank_vm(MEM, 1, NULL, 0, -1);
  restore_buf(b, buf, len);
  assert_int_equal(mmio(b, CON(0x10)), 0x55);
  assert_int_equal(mmio(b, CON(0x30)), 1);
  assert_int_equal(mmio(b, CON(0x18)) & 1, 1);
  char got[8] = {0};
  for (int i = 0; i < 6; i++) got[i] = (char)(mmio(b, CON(0x28)) & 0xff);
  assert_string_equal(got, "hello");                 /* then 0: no more input */
  free(buf);
  vm_destroy(b);
}

/* A 32-byte avio_stor ring entry. */
static void put_request(vm *v, uint64_t ring, unsigned idx, uint32_t op, uint64_t sector, uint64_t gpa, uint32_t bytes) {
  uint8_t e[32] = {0};
  memcpy(e, &op, 4);
  memcpy(e + 8, &sector, 8);
  memcpy(e + 16, &gpa, 8);
  memcpy(e + 24, &bytes, 4);
  assert_int_equal(vm_mem_write(v, ring + (idx % 8) * 32, e, 32), 0);
}
static uint32_t request_status(vm *v, uint64_t ring, unsigned idx) {
  uint32_t st = 0;
  vm_mem_read(v, ring + (idx % 8) * 32 + 4, &st, 4);
  return st;
}

static void test_disk_ring_position_carries_over_after_requests_in_flight_complete(void **s) {
  (void)s;
  char *disk = temp_path("disk");
  int fd = open(disk, O_RDWR | O_CREAT | O_TRUNC, 0600);
  assert_int_equal(ftruncate(fd, 8 << 20), 0);
  close(fd);
  const char *disks[] = {disk};
  const uint64_t ring = 0x800000, data = 0x900000;
  vm *a = blank_vm(MEM, 1, disks, 1, -1);
  assert_int_equal(vm_mmio_write(a, DISK(0x28), 8, ring), 0);
  assert_int_equal(vm_mmio_write(a, DISK(0x30), 8, 8), 0);
  uint8_t *pattern = malloc(1 << 20);
  for (unsigned i = 0; i < 1 << 20; i++) pattern[i] = (uint8_t)(i * 7 + 3);
  assert_int_equal(vm_mem_write(a, data, pattern, 1 << 20), 0);
  /* Five writes and a flush, announced at once: the save must wait for them. */
  for (unsigned i = 0; i < 5; i++) put_request(a, ring, i, 2, i * 2048, data, 1 << 20);
  put_request(a, ring, 5, 3, 0, 0, 0);
  assert_int_equal(vm_mmio_write(a, DISK(0x38), 8, 6), 0);
  size_t len;
  uint8_t *buf = save_buf(a, &len);
  vm_destroy(a);
  vm *b = blank_vm(MEM, 1, disks, 1, -1);
  restore_buf(b, buf, len);
  assert_int_equal(mmio(b, DISK(0x28)), ring);
  assert_int_equal(mmio(b, DISK(0x30)), 8);
  assert_int_equal(mmio(b, DISK(0x38)), 6);
  assert_int_equal(mmio(b, DISK(0x40)), 6);          /* completed before the save */
  for (unsigned i = 0; i < 6; i++) assert_int_equal(request_status(b, ring, i), 1);
  /* The ring goes on at index 6 (wrapping past its end): read back what was written. */
  for (unsigned i = 6; i < 10; i++) put_request(b, ring, i, 1, (i - 6) * 2048, 0xa00000 + (i - 6) * 0x100000, 1 << 20);
  assert_int_equal(vm_mmio_write(b, DISK(0x38), 8, 10), 0);
  vm_devices_drain(b);
  assert_int_equal(mmio(b, DISK(0x40)), 10);
  for (unsigned i = 6; i < 10; i++) {
    assert_int_equal(request_status(b, ring, i), 1);
    assert_memory_equal(vm_mem_ptr(b, 0xa00000 + (i - 6) * 0x100000, 1 << 20), pattern, 1 << 20);
  }
  free(pattern);
  free(buf);
  vm_destroy(b);
  unlink(disk);
  free(disk);
}

/* ---- Another process --------------------------------------------------------------------------- */

static void test_hpvmapp_restores_a_state_saved_in_this_process(void **s) {
  (void)s;
  vm *v = vm_with_guest(MEM, NCPU, "vs_work", "t", -1);
  assert_int_equal(vm_start(v), 0);
  usleep(150000);
  vm_pause(v);
  assert_false(vm_stopped(v));
  char *path = temp_path("state"), msg[512];
  if (vm_save_file(v, path, msg, sizeof msg)) fail_msg("vm_save_file: %s", msg);
  vm_destroy(v);
  run_result *r = malloc(sizeof *r);
  run_cmd(r, NULL, 120, (const char *const[]){HPVMAPP, "--restore", path, NULL});
  if (r->status != 0) fail_msg("hpvmapp --restore: status %d, stderr %s", r->status, r->err);
  assert_string_equal(r->out, ref.out);               /* every vCPU's checksum as unsaved */
  unlink(path);
  free(path);
  free(r);
}

static pid_t spawn(const char *const *argv, const char *out, const char *err) {
  pid_t pid = fork();
  if (pid == 0) {
    int i = open("/dev/null", O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600),
        e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(i, 0), dup2(o, 1), dup2(e, 2);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  return pid;
}

static int wait_pid(pid_t pid, double secs) {
  double end = now_s() + secs;
  int st;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (now_s() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    usleep(10000);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The guest kernel on 2 vCPUs with a disk: SIGUSR1 saves it mid-run, a new hpvmapp goes on
 * (and is saved and restored once more); its workloads must all pass, heartbeat included,
 * which fails if ar.itc ever steps back. */
static void test_sigusr1_saves_and_a_new_hpvmapp_continues_the_guest_kernel(void **s) {
  (void)s;
  char *disk = temp_path("kdisk"), *st1 = temp_path("k1"), *st2 = temp_path("k2"), *out = temp_path("out"),
       *err = temp_path("err");
  int fd = open(disk, O_RDWR | O_CREAT | O_TRUNC, 0600);
  assert_int_equal(ftruncate(fd, 4 << 20), 0);
  close(fd);
  const char *first[] = {HPVMAPP, "--kernel", HPVMK, "--cpus", "2", "--memory", "64M", "--disk", disk,
                         "--state-file", st1, "--args", "time=3 memverify size=16M heartbeat diskverify blocks=64", NULL};
  pid_t pid = spawn(first, out, err);
  usleep(900000);
  kill(pid, SIGUSR1);
  int status = wait_pid(pid, 60);
  char *e = read_file(err), *o = read_file(out);
  if (status != 0 || !strstr(e, "VM saved to")) fail_msg("first hpvmapp: status %d, stderr %s", status, e);
  assert_null(strstr(o, "PASS"));                      /* saved before the end */
  assert_null(strstr(o, "FAIL"));
  free(e), free(o);
  const char *second[] = {HPVMAPP, "--restore", st1, "--disk", disk, "--state-file", st2, NULL};
  pid = spawn(second, out, err);
  usleep(700000);
  kill(pid, SIGUSR1);
  status = wait_pid(pid, 60);
  e = read_file(err), o = read_file(out);
  if (status != 0 || !strstr(e, "VM saved to")) fail_msg("second hpvmapp: status %d, stderr %s, stdout %s", status, e, o);
  assert_null(strstr(o, "FAIL"));
  free(e), free(o);
  run_result *r = malloc(sizeof *r);
  run_cmd(r, NULL, 120, (const char *const[]){HPVMAPP, "--restore", st2, "--disk", disk, NULL});
  if (r->status != 0 || strstr(r->out, "FAIL") || !strstr(r->out, "PASS memverify") || !strstr(r->out, "PASS heartbeat") ||
      !strstr(r->out, "PASS diskverify"))
    fail_msg("third hpvmapp: status %d, stdout %s, stderr %s", r->status, r->out, r->err);
  unlink(disk), unlink(st1), unlink(st2), unlink(out), unlink(err);
  free(disk), free(st1), free(st2), free(out), free(err), free(r);
}

static void expect_app_error(run_result *r, const char *words) {
  if (r->status != 2 || count_lines(r->err) != 1 || !strstr(r->err, words))
    fail_msg("status %d, stderr \"%s\"; wanted 2 and one line with \"%s\"", r->status, r->err, words);
}

static void test_hpvmapp_refuses_bad_state_files_and_arguments_with_one_line(void **s) {
  (void)s;
  char *path = temp_path("small"), *junk = temp_path("junk"), *disk = temp_path("adisk"), msg[512];
  vm *v = vm_with_guest(MEM, 2, "vs_work", "", -1);
  assert_int_equal(vm_run_cpu(v, 0, 100000), 0);
  assert_int_equal(vm_save_file(v, path, msg, sizeof msg), 0);
  vm_destroy(v);
  int fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_int_equal(write(fd, "\177ELF and so on", 15), 15);
  close(fd);
  fd = open(disk, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_int_equal(ftruncate(fd, 1 << 20), 0);
  close(fd);
  run_result *r = malloc(sizeof *r);
  run_cmd(r, NULL, 30, (const char *const[]){HPVMAPP, "--restore", "/nonexistent/state", NULL});
  expect_app_error(r, "no such file");
  run_cmd(r, NULL, 30, (const char *const[]){HPVMAPP, "--restore", junk, NULL});
  expect_app_error(r, "not an hpvm state file");
  run_cmd(r, NULL, 30, (const char *const[]){HPVMAPP, "--restore", path, "--memory", "32M", NULL});
  expect_app_error(r, "the state is of a VM with 16M of memory, this VM has 32M (give --memory 16M)");
  run_cmd(r, NULL, 30, (const char *const[]){HPVMAPP, "--restore", path, "--cpus", "3", NULL});
  expect_app_error(r, "with 2 vCPUs, this VM has 3");
  run_cmd(r, NULL, 30, (const char *const[]){HPVMAPP, "--restore", path, "--disk", disk, NULL});
  expect_app_error(r, "with 0 disks, this VM has 1");
  run_cmd(r, NULL, 30, (const char *const[]){HPVMAPP, "--restore", path, "--kernel", guest_path("vs_work"), NULL});
  expect_app_error(r, "not both");
  run_cmd(r, NULL, 30, (const char *const[]){HPVMAPP, "--restore", path, "--args", "x", NULL});
  expect_app_error(r, "keeps the command line");
  run_cmd(r, NULL, 30, (const char *const[]){HPVMAPP, "--restore", NULL});
  expect_app_error(r, "needs a value");
  /* SIGUSR1 without --state-file is ignored: the VM runs on until told to stop. */
  char *out = temp_path("o"), *err = temp_path("e");
  pid_t pid = spawn((const char *const[]){HPVMAPP, "--kernel", guest_path("spin"), NULL}, out, err);
  usleep(200000);
  kill(pid, SIGUSR1);
  usleep(200000);
  kill(pid, SIGTERM);
  assert_int_equal(wait_pid(pid, 30), 128 + SIGTERM);
  char *e = read_file(err);
  assert_non_null(strstr(e, "SIGUSR1 ignored"));
  free(e);
  unlink(path), unlink(junk), unlink(disk), unlink(out), unlink(err);
  free(path), free(junk), free(disk), free(out), free(err), free(r);
}

/* ---- Refusals in process ------------------------------------------------------------------------ */

/* A small valid state: vs_work on one vCPU, 200000 instructions in. */
static uint8_t *small_state(size_t *len, size_t *vm_end) {
  vm *v = vm_with_guest(MEM, 1, "vs_work", "", -1);
  assert_int_equal(vm_run_cpu(v, 0, 200000), 0);
  uint8_t *buf = save_buf(v, len);
  vm_destroy(v);
  uint32_t vm_len;
  memcpy(&vm_len, buf + WIRE_HEADER_LEN + 4, 4);
  *vm_end = WIRE_HEADER_LEN + WIRE_SECTION_HEADER_LEN + vm_len + 4;
  return buf;
}

/* Restore buf into a new VM: the return code, the message in msg; a VM the restore began to
 * change must refuse to start. */
static int try_restore(const uint8_t *buf, size_t len, size_t vm_end, char *msg, size_t msglen) {
  vm *b = blank_vm(MEM, 1, NULL, 0, -1);
  msg[0] = 0;
  int rc = vm_restore_mem(b, buf, len, msg, msglen);
  if (rc && len >= vm_end && vm_end) assert_int_equal(vm_start(b), HPVM_EINVAL);
  vm_destroy(b);
  return rc;
}

static void test_truncation_at_any_offset_is_refused(void **s) {
  (void)s;
  size_t len, vm_end;
  uint8_t *buf = small_state(&len, &vm_end);
  char msg[512];
  assert_int_equal(try_restore(buf, len, vm_end, msg, sizeof msg), 0);
  unsigned tried = 0;
  uint64_t seed = 1;
  for (size_t cut = 0; cut < len; tried++) {
    int rc = try_restore(buf, cut, vm_end, msg, sizeof msg);
    if (rc != HPVM_ETRUNC || !strstr(msg, "truncated"))
      fail_msg("cut at %zu of %zu: %d \"%s\"", cut, len, rc, msg);
    /* Every offset of the first sections and of the end, a random walk in between. */
    size_t next = cut < 1200 || cut + 40 >= len ? cut + 1 : cut + 1 + (seed = seed * 6364136223846793005ull + 1) % 3000;
    if (cut + 40 < len && next + 40 > len) next = len - 40;
    cut = next;
  }
  print_message("%u truncations of a %zu-byte state refused\n", tried, len);
  free(buf);
}

static void test_every_bit_flip_is_refused(void **s) {
  (void)s;
  size_t len, vm_end;
  uint8_t *buf = small_state(&len, &vm_end);
  char msg[512];
  unsigned tried = 0;
  uint64_t seed = 2;
  for (size_t pos = 0; pos < len; tried++) {
    buf[pos] ^= (uint8_t)(1u << (pos * 5 % 8));
    int rc = try_restore(buf, len, pos < vm_end ? 0 : vm_end, msg, sizeof msg);
    buf[pos] ^= (uint8_t)(1u << (pos * 5 % 8));
    if (rc >= 0 || !msg[0]) fail_msg("bit flipped at %zu: %d \"%s\"", pos, rc, msg);
    pos += pos < 1500 ? 1 : 1 + (seed = seed * 6364136223846793005ull + 1) % 4000;
  }
  print_message("%u bit flips refused\n", tried);
  free(buf);
}

/* Rewrite a valid stream section by section; edit returns the payload to write (or NULL to
 * drop the section) and may append sections of its own. */
typedef struct rewriter {
  int (*edit)(struct rewriter *rw, wire_writer *w, const wire_section *s);
  unsigned seen[16];                 /* sections of each type so far */
} rewriter;

static uint8_t *rewrite(const uint8_t *buf, size_t len, rewriter *rw, size_t *out_len) {
  wire_reader r;
  wire_section s;
  wire_writer w;
  assert_int_equal(wire_reader_init_mem(&r, buf, len), 0);
  assert_int_equal(wire_writer_init_mem(&w), 0);
  while (wire_reader_next(&r, &s) == 1) {
    if (!rw->edit(rw, &w, &s)) assert_int_equal(wire_write_section(&w, s.type, s.payload, s.len), 0);
    rw->seen[s.type < 16 ? s.type : 0]++;
  }
  assert_int_equal(r.err, 0);
  wire_reader_free(&r);
  assert_int_equal(wire_writer_end(&w), 0);
  return wire_writer_take(&w, out_len);
}

static ProtobufCMessage *unpack(const wire_section *s, const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, s->len, s->payload);
  assert_non_null(m);
  return m;
}

/* Each hostile edit: on which section (type, which one of its type), what it does. */
enum { E_FRAME_OUT, E_FRAME_HUGE, E_FRAME_DOWN, E_MEM_TWICE, E_DATA_SHORT, E_FRAMES_257, E_FRAMES_0, E_DROP_TIMERS,
       E_CPU_TWICE, E_DROP_VM, E_VM_TWICE, E_DROP_PLATFORM, E_INFLIGHT, E_CON_BIG, E_RUNSTATES, E_CPU_VCPU5,
       E_DEV_INDEX, E_DROP_DEVICE, E_UNKNOWN_TYPE, E_NMAX };
static const struct { const char *name, *says; int rc; } edits[E_NMAX] = {
  [E_FRAME_OUT] = {"a frame past the end of RAM", "is not in the VM's RAM", HPVM_ECORRUPT},
  [E_FRAME_HUGE] = {"a frame number of 2^60", "is not in the VM's RAM", HPVM_ECORRUPT},
  [E_FRAME_DOWN] = {"frames out of order", "frames must increase", HPVM_ECORRUPT},
  [E_MEM_TWICE] = {"a memory section twice", "frames must increase", HPVM_ECORRUPT},
  [E_DATA_SHORT] = {"less data than frames", "bytes of data for", HPVM_ECORRUPT},
  [E_FRAMES_257] = {"257 frames in a section", "frames in one section", HPVM_ECORRUPT},
  [E_FRAMES_0] = {"an empty memory section", "0 frames in one section", HPVM_ECORRUPT},
  [E_DROP_TIMERS] = {"no timers section", "no TIMERS section for vCPU 0", HPVM_ECORRUPT},
  [E_CPU_TWICE] = {"a CPU section twice", "vCPU 0 given twice", HPVM_ECORRUPT},
  [E_DROP_VM] = {"no VM section", "the first section must be VM", HPVM_ECORRUPT},
  [E_VM_TWICE] = {"a VM section twice", "a second VM section", HPVM_ECORRUPT},
  [E_DROP_PLATFORM] = {"no platform section", "no PLATFORM section", HPVM_ECORRUPT},
  [E_INFLIGHT] = {"a request in flight", "requests in flight", HPVM_ENOTSUP},
  [E_CON_BIG] = {"5000 bytes of console input", "console input of 5000 bytes", HPVM_ECORRUPT},
  [E_RUNSTATES] = {"two vCPU run states for one vCPU", "2 vCPU run states for 1 vCPUs", HPVM_ECORRUPT},
  [E_CPU_VCPU5] = {"a CPU section of vCPU 5", "vCPU 5, but the VM has 1", HPVM_ECORRUPT},
  [E_DEV_INDEX] = {"a device the VM does not have", "device 7, but the VM has 1", HPVM_ECORRUPT},
  [E_DROP_DEVICE] = {"no device section", "no DEVICE section for device 0", HPVM_ECORRUPT},
  [E_UNKNOWN_TYPE] = {"an unknown section type", "unknown section type 9", HPVM_ECORRUPT},
};

typedef struct hostile {
  rewriter rw;
  int which;
} hostile;

static int write_msg(wire_writer *w, uint32_t type, ProtobufCMessage *m) {
  assert_int_equal(wire_write_msg(w, type, m), 0);
  protobuf_c_message_free_unpacked(m, NULL);
  return 1;
}

static int hostile_edit(rewriter *rw, wire_writer *w, const wire_section *s) {
  int which = ((hostile *)rw)->which;
  bool first = rw->seen[s->type] == 0;
  switch (s->type) {
  case WIRE_SEC_VM:
    if (which == E_DROP_VM) return 1;
    if (which == E_VM_TWICE) assert_int_equal(wire_write_section(w, s->type, s->payload, s->len), 0);
    if (which == E_UNKNOWN_TYPE) {
      assert_int_equal(wire_write_section(w, s->type, s->payload, s->len), 0);
      assert_int_equal(wire_write_section(w, 9, "x", 1), 0);
      return 1;
    }
    return 0;
  case WIRE_SEC_PLATFORM: {
    if (which == E_DROP_PLATFORM) return 1;
    if (which != E_RUNSTATES) return 0;
    Hpvm__Platform *m = (Hpvm__Platform *)unpack(s, &hpvm__platform__descriptor);
    Hpvm__VcpuRunState two[2] = {m->vcpu_state[0], m->vcpu_state[0]}, *old = m->vcpu_state;
    m->vcpu_state = two, m->n_vcpu_state = 2;
    assert_int_equal(wire_write_msg(w, s->type, &m->base), 0);
    m->vcpu_state = old, m->n_vcpu_state = 1;
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return 1;
  }
  case WIRE_SEC_CPU:
    if (which == E_CPU_TWICE) assert_int_equal(wire_write_section(w, s->type, s->payload, s->len), 0);
    if (which == E_CPU_VCPU5) {
      Hpvm__Ia64Cpu *m = (Hpvm__Ia64Cpu *)unpack(s, &hpvm__ia64_cpu__descriptor);
      m->vcpu = 5;
      return write_msg(w, s->type, &m->base);
    }
    return 0;
  case WIRE_SEC_TIMERS: return which == E_DROP_TIMERS;
  case WIRE_SEC_DEVICE: {
    if (which == E_DROP_DEVICE) return 1;
    if (which != E_INFLIGHT && which != E_CON_BIG && which != E_DEV_INDEX) return 0;
    Hpvm__DeviceState *m = (Hpvm__DeviceState *)unpack(s, &hpvm__device_state__descriptor);
    Hpvm__IoRequest req, *reqs[1] = {&req};
    static uint8_t big[5000];
    ProtobufCBinaryData old_in = m->console->input;
    if (which == E_INFLIGHT) {
      hpvm__io_request__init(&req);
      req.op = HPVM__IO_OP__IO_OP_READ, req.length = 512;
      m->n_inflight = 1, m->inflight = reqs;
    } else if (which == E_CON_BIG) {
      m->console->input = (ProtobufCBinaryData){.len = sizeof big, .data = big};
    } else {
      m->index = 7;
    }
    assert_int_equal(wire_write_msg(w, s->type, &m->base), 0);
    m->n_inflight = 0, m->inflight = NULL, m->console->input = old_in;
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return 1;
  }
  case WIRE_SEC_MEMORY: {
    if (!first || which < E_FRAME_OUT || which > E_FRAMES_0) return 0;
    if (which == E_MEM_TWICE) {
      assert_int_equal(wire_write_section(w, s->type, s->payload, s->len), 0);
      return 0;
    }
    Hpvm__GuestMemory *m = (Hpvm__GuestMemory *)unpack(s, &hpvm__guest_memory__descriptor);
    assert_true(m->n_frames >= 2);
    size_t n = m->n_frames;
    ProtobufCBinaryData od = m->data;
    uint64_t *frames = m->frames, many[257];
    static uint8_t data[257 * 4096];
    if (which == E_FRAME_OUT) m->frames[n - 1] = MEM >> 12;
    if (which == E_FRAME_HUGE) m->frames[n - 1] = 1ull << 60;
    if (which == E_FRAME_DOWN) {
      uint64_t t = m->frames[0];
      m->frames[0] = m->frames[1], m->frames[1] = t;
    }
    if (which == E_DATA_SHORT) m->data.len -= 4096;
    if (which == E_FRAMES_257 || which == E_FRAMES_0) {
      for (unsigned i = 0; i < 257; i++) many[i] = 0x800 + i;
      m->frames = many, m->n_frames = which == E_FRAMES_0 ? 0 : 257;
      m->data = (ProtobufCBinaryData){.len = m->n_frames * 4096, .data = data};
    }
    assert_int_equal(wire_write_msg(w, s->type, &m->base), 0);
    m->frames = frames, m->n_frames = n, m->data = od;
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return 1;
  }
  default: return 0;
  }
}

static void test_streams_with_valid_crcs_but_hostile_content_are_refused(void **s) {
  (void)s;
  size_t len, vm_end;
  uint8_t *buf = small_state(&len, &vm_end);
  char msg[512];
  for (int k = 0; k < E_NMAX; k++) {
    hostile h = {.rw = {.edit = hostile_edit}, .which = k};
    size_t blen;
    uint8_t *bad = rewrite(buf, len, &h.rw, &blen);
    int rc = try_restore(bad, blen, k == E_DROP_VM ? 0 : vm_end, msg, sizeof msg);
    if (rc != edits[k].rc || !strstr(msg, edits[k].says))
      fail_msg("%s: %d \"%s\"; wanted %d and \"%s\"", edits[k].name, rc, msg, edits[k].rc, edits[k].says);
    free(bad);
  }
  free(buf);
}

static void put_version(uint8_t *buf, uint32_t version) {
  memcpy(buf + 8, &version, 4);
  uint32_t crc = wire_crc32c(0, buf, 12);
  memcpy(buf + 12, &crc, 4);
}

static void test_other_versions_and_foreign_input_are_refused_clearly(void **s) {
  (void)s;
  size_t len, vm_end;
  uint8_t *buf = small_state(&len, &vm_end);
  char msg[512];
  put_version(buf, 1u << 16);                                   /* 1.0: before VM state files */
  assert_int_equal(try_restore(buf, len, 0, msg, sizeof msg), HPVM_ENOTSUP);
  assert_non_null(strstr(msg, "a version 1.0 state holds no complete VM"));
  put_version(buf, 2u << 16);
  assert_int_equal(try_restore(buf, len, 0, msg, sizeof msg), HPVM_ENOTSUP);
  assert_non_null(strstr(msg, "version 2.0 is not supported"));
  /* A newer minor version's unknown sections are skipped: the state restores. */
  put_version(buf, WIRE_VERSION + 1);
  hostile h = {.rw = {.edit = hostile_edit}, .which = E_UNKNOWN_TYPE};
  size_t blen;
  uint8_t *newer = rewrite(buf, len, &h.rw, &blen);
  put_version(newer, WIRE_VERSION + 1);
  assert_int_equal(try_restore(newer, blen, vm_end, msg, sizeof msg), 0);
  free(newer);
  static const char elf[] = "\177ELF\2\1\1\0\0\0\0\0\0\0\0\0\2\0\062\0";
  assert_int_equal(try_restore((const uint8_t *)elf, sizeof elf, 0, msg, sizeof msg), HPVM_ECORRUPT);
  assert_string_equal(msg, "not an hpvm state file (bad magic)");
  assert_int_equal(try_restore((const uint8_t *)"", 0, 0, msg, sizeof msg), HPVM_ETRUNC);
  free(buf);
}

static void test_a_state_of_another_vm_shape_is_refused_saying_what_differs(void **s) {
  (void)s;
  size_t len, vm_end;
  uint8_t *buf = small_state(&len, &vm_end);
  char msg[512], *disk = temp_path("shape");
  int fd = open(disk, O_RDWR | O_CREAT | O_TRUNC, 0600);
  assert_int_equal(ftruncate(fd, 1 << 20), 0);
  close(fd);
  const char *disks[] = {disk};
  struct { uint64_t mem; unsigned ncpus, ndisks; const char *says; } shapes[] = {
    {32ull << 20, 1, 0, "the state is of a VM with 16M of memory, this VM has 32M (give --memory 16M)"},
    {MEM + 4096, 1, 0, "this VM has 16781312"},
    {MEM, 2, 0, "the state is of a VM with 1 vCPUs, this VM has 2 (give --cpus 1)"},
    {MEM, 1, 1, "the state is of a VM with 0 disks, this VM has 1"},
  };
  for (unsigned k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    vm *b = blank_vm(shapes[k].mem, shapes[k].ncpus, disks, shapes[k].ndisks, -1);
    assert_int_equal(vm_restore_mem(b, buf, len, msg, sizeof msg), HPVM_EINVAL);
    if (!strstr(msg, shapes[k].says)) fail_msg("shape %u: \"%s\"", k, msg);
    vm_destroy(b);
  }
  /* A disk of another size than the saved VM's. */
  vm *a = blank_vm(MEM, 1, disks, 1, -1);
  uint8_t *with_disk = save_buf(a, &len);
  vm_destroy(a);
  fd = open(disk, O_RDWR);
  assert_int_equal(ftruncate(fd, 2 << 20), 0);
  close(fd);
  vm *b = blank_vm(MEM, 1, disks, 1, -1);
  assert_int_equal(vm_restore_mem(b, with_disk, len, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "disk 0 of the state has 1048576 bytes"));
  assert_non_null(strstr(msg, "has 2097152: attach the disk image the VM was saved with"));
  vm_destroy(b);
  unlink(disk);
  free(disk), free(with_disk), free(buf);
}

static void test_a_file_with_bytes_after_the_stream_is_refused(void **s) {
  (void)s;
  size_t len, vm_end;
  uint8_t *buf = small_state(&len, &vm_end);
  char *path = temp_path("tail"), msg[512];
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  close(fd);
  vm *b = blank_vm(MEM, 1, NULL, 0, -1);
  assert_int_equal(vm_restore_file(b, path, msg, sizeof msg), 0);
  vm_destroy(b);
  fd = open(path, O_WRONLY | O_APPEND);
  assert_int_equal(write(fd, "zz", 2), 2);
  close(fd);
  b = blank_vm(MEM, 1, NULL, 0, -1);
  assert_int_equal(vm_restore_file(b, path, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "2 bytes follow the END section"));
  assert_non_null(strstr(msg, path));
  assert_int_equal(vm_start(b), HPVM_EINVAL);
  vm_destroy(b);
  unlink(path);
  free(path), free(buf);
}

static void test_save_wants_a_paused_vm_and_restore_a_fresh_one(void **s) {
  (void)s;
  char msg[512];
  vm *v = vm_with_guest(MEM, 1, "spin", "", -1);
  assert_int_equal(vm_start(v), 0);
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(vm_save(v, &w, msg, sizeof msg), HPVM_EBUSY);
  assert_non_null(strstr(msg, "pause it"));
  wire_writer_free(&w);
  vm_pause(v);
  size_t len;
  uint8_t *buf = save_buf(v, &len);
  vm_resume(v);
  assert_int_equal(vm_restore_mem(v, buf, len, msg, sizeof msg), HPVM_EBUSY);   /* started */
  vm_power_off(v, 0);
  assert_int_equal(vm_wait(v), 0);
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(vm_save(v, &w, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "powered off"));
  wire_writer_free(&w);
  vm_destroy(v);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_n_then_save_restore_then_m_equals_n_plus_m_straight),
    cmocka_unit_test(test_a_chain_of_restores_runs_to_the_same_end_as_a_straight_run),
    cmocka_unit_test(test_every_vcpu_finishes_its_work_identically_across_save_restore_cycles),
    cmocka_unit_test(test_itc_continues_from_the_saved_value_and_the_timer_fires_after_restore),
    cmocka_unit_test(test_console_input_not_yet_read_and_registers_carry_over),
    cmocka_unit_test(test_disk_ring_position_carries_over_after_requests_in_flight_complete),
    cmocka_unit_test(test_hpvmapp_restores_a_state_saved_in_this_process),
    cmocka_unit_test(test_sigusr1_saves_and_a_new_hpvmapp_continues_the_guest_kernel),
    cmocka_unit_test(test_hpvmapp_refuses_bad_state_files_and_arguments_with_one_line),
    cmocka_unit_test(test_truncation_at_any_offset_is_refused),
    cmocka_unit_test(test_every_bit_flip_is_refused),
    cmocka_unit_test(test_streams_with_valid_crcs_but_hostile_content_are_refused),
    cmocka_unit_test(test_other_versions_and_foreign_input_are_refused_clearly),
    cmocka_unit_test(test_a_state_of_another_vm_shape_is_refused_saying_what_differs),
    cmocka_unit_test(test_a_file_with_bytes_after_the_stream_is_refused),
    cmocka_unit_test(test_save_wants_a_paused_vm_and_restore_a_fresh_one),
  };
  return cmocka_run_group_tests(tests, setup_reference, teardown_reference);
}
