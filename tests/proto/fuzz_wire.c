/* fuzz_wire.c — fuzz target for everything that reads a saved state: the envelope reader,
 * protobuf unpacking of every section type, and the CPU loader's checks.
 *
 * libFuzzer calls LLVMFuzzerTestOneInput (built as fuzz_wire with clang -fsanitize=fuzzer);
 * test_fuzz_wire.c calls it too, with mutated valid states, so every compiler runs it. The
 * first input byte picks how the rest is taken, because a CRC over every byte would
 * otherwise stop nearly every mutation at the envelope:
 *   bit 0  the rest is only sections: a valid version 1.0 header is put in front;
 *   bit 1  section CRCs (and the header CRC) are recomputed, so the payloads reach the
 *          protobuf parser and the CPU checks.
 * An accepted CPU must also save again and load back to the same state: whatever we take
 * in, we can hand on. A violation aborts (the fuzzer's crash). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ia64.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_wire_one(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recompute the header CRC and the CRC of every section that fits in the buffer. */
static void fix_crcs(uint8_t *b, size_t n) {
  if (n < WIRE_HEADER_LEN) return;
  put32(b + 12, wire_crc32c(0, b, 12));
  size_t at = WIRE_HEADER_LEN;
  while (at + WIRE_SECTION_HEADER_LEN <= n) {
    uint32_t len = get32(b + at + 4);
    if (len > n - at - WIRE_SECTION_HEADER_LEN || n - at - WIRE_SECTION_HEADER_LEN - len < 4) return;
    put32(b + at + 8 + len, wire_crc32c(0, b + at, 8 + (size_t)len));
    at += 12 + (size_t)len;
  }
}

/* ALAT addresses: a 64 KiB window at a fixed guest address, host side a static buffer. */
typedef struct window {
  uint64_t host, guest;
} window;
static int to_guest(void *ctx, uint64_t host, uint64_t *guest) {
  const window *w = ctx;
  if (host - w->host >= 65536) return -1;
  *guest = host - w->host + w->guest;
  return 0;
}
static int to_host(void *ctx, uint64_t guest, uint64_t *host) {
  const window *w = ctx;
  if (guest - w->guest >= 65536) return -1;
  *host = guest - w->guest + w->host;
  return 0;
}

static const ProtobufCMessageDescriptor *descriptor_of(uint32_t type) {
  switch (type) {
  case WIRE_SEC_VM: return &hpvm__vm_info__descriptor;
  case WIRE_SEC_GUEST_TLB: return &hpvm__guest_tlb__descriptor;
  case WIRE_SEC_DEVICE: return &hpvm__device_state__descriptor;
  case WIRE_SEC_TIMERS: return &hpvm__timers__descriptor;
  default: return NULL;
  }
}

/* Save cpu and load it into a fresh CPU: must succeed and give the same bytes again. */
static void check_resave(const ia64_cpu *cpu, const wire_addr_map *map) {
  wire_writer w;
  size_t len, len2;
  if (wire_writer_init_mem(&w) || wire_cpu_save(&w, cpu, 0, map) || wire_writer_end(&w)) abort();
  uint8_t *buf = wire_writer_take(&w, &len);
  ia64_cpu *copy = malloc(sizeof *copy);
  if (!copy || ia64_cpu_init(copy, NULL, NULL) < 0) abort();
  wire_reader r;
  wire_section s;
  if (wire_reader_init_mem(&r, buf, len) || wire_reader_next(&r, &s) != 1) abort();
  if (wire_cpu_load(&r, &s, &copy, 1, map) != 0 || wire_reader_next(&r, &s) != 0) abort();
  wire_reader_free(&r);
  if (wire_writer_init_mem(&w) || wire_cpu_save(&w, copy, 0, map) || wire_writer_end(&w)) abort();
  uint8_t *buf2 = wire_writer_take(&w, &len2);
  if (len != len2 || memcmp(buf, buf2, len) != 0) abort();
  free(buf);
  free(buf2);
  ia64_cpu_destroy(copy);
  free(copy);
}

/* Returns how far the input got: -1 refused by the envelope or a section, else the number of
 * CPU sections loaded (for test_fuzz_wire to see that mutations reach the deep end). */
int fuzz_wire_one(const uint8_t *data, size_t size) {
  if (size == 0) return -1;
  unsigned mode = data[0];
  data++, size--;
  size_t head = mode & 1 ? WIRE_HEADER_LEN : 0;
  uint8_t *buf = malloc(head + size + 1);  /* exactly the input: ASan sees any overread */
  if (!buf) return -1;
  if (head) {
    memcpy(buf, WIRE_MAGIC, WIRE_MAGIC_LEN);
    put32(buf + 8, WIRE_VERSION);
  }
  memcpy(buf + head, data, size);
  size += head;
  if (mode & 3) fix_crcs(buf, size);

  static uint8_t alat_window[65536];
  window win = {(uintptr_t)alat_window, 0x4000000000010000ull};
  wire_addr_map map = {to_guest, to_host, &win};
  ia64_cpu *cpu = malloc(sizeof *cpu);
  if (!cpu || ia64_cpu_init(cpu, NULL, NULL) < 0) abort();

  wire_reader r;
  wire_section s;
  int rc = wire_reader_init_mem(&r, buf, size), loaded = 0;
  while (rc == 0 && (rc = wire_reader_next(&r, &s)) == 1) {
    if (s.type == WIRE_SEC_CPU) {
      rc = wire_cpu_load(&r, &s, &cpu, 1, &map);
      if (rc == 0) {
        loaded++;
        check_resave(cpu, &map);
      }
    } else if (descriptor_of(s.type)) {
      ProtobufCMessage *m;
      rc = wire_section_unpack(&r, &s, descriptor_of(s.type), &m);
      if (rc == 0) protobuf_c_message_free_unpacked(m, NULL);
    } else {
      rc = 0;
    }
  }
  /* Every refusal comes with a sentence. */
  if (rc < 0 && wire_reader_error(&r)[0] == '\0') abort();
  wire_reader_free(&r);
  ia64_cpu_destroy(cpu);
  free(cpu);
  free(buf);
  return rc < 0 ? -1 : loaded;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_wire_one(data, size);
  return 0;
}
