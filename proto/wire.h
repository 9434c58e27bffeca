/* wire.h — hpvm's saved-state envelope: the byte stream that carries a paused VM (suspend to
 * a file, offline migration, the final stop-and-copy of live migration), and the conversion
 * of an IA-64 vCPU to and from its section.
 *
 * A stream is a 16-byte header — magic "HPVMSTAT", format version (major << 16 | minor),
 * CRC32C of both — then sections, each type u32, length u32, payload (one protobuf message
 * from proto/vmstate.proto), CRC32C of type + length + payload, all little-endian; the last
 * section has type END. docs/wire/vmstate.md is the full description and the versioning rules.
 *
 * Writers append to a growing memory buffer or to an fd. Readers take a buffer or an fd and
 * treat the bytes as hostile: every byte is covered by a CRC, every length is checked against
 * a limit and against what is left before anything is allocated or read, and each failure
 * gives one negative HPVM_E* code plus a sentence naming what was wrong and where
 * (wire_reader_error). Callers: the VM platform's save/restore and migration, and tests.
 * Nothing here is global; a writer or reader is a struct the caller owns. */
#ifndef HPVM_WIRE_H
#define HPVM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hpvm_error.h"
#include "vmstate.pb-c.h"

typedef struct ia64_cpu ia64_cpu;

/* Format constants. */
#define WIRE_MAGIC "HPVMSTAT"
#define WIRE_MAGIC_LEN 8
#define WIRE_HEADER_LEN 16                 /* magic, version, CRC32C of the 12 bytes before */
#define WIRE_SECTION_HEADER_LEN 8          /* type, length; the payload and a CRC32C follow */
#define WIRE_VERSION_MAJOR 1u
#define WIRE_VERSION_MINOR 1u  /* 1.1: guest memory, platform, system state (vmstate.md) */
#define WIRE_VERSION (WIRE_VERSION_MAJOR << 16 | WIRE_VERSION_MINOR)
#define WIRE_SECTION_MAX (16u << 20)       /* default limit on one payload, in bytes */

/* Section types: the wire values of enum hpvm.SectionType. */
enum {
  WIRE_SEC_END = HPVM__SECTION_TYPE__SECTION_TYPE_END,
  WIRE_SEC_VM = HPVM__SECTION_TYPE__SECTION_TYPE_VM,
  WIRE_SEC_CPU = HPVM__SECTION_TYPE__SECTION_TYPE_CPU,
  WIRE_SEC_GUEST_TLB = HPVM__SECTION_TYPE__SECTION_TYPE_GUEST_TLB,
  WIRE_SEC_DEVICE = HPVM__SECTION_TYPE__SECTION_TYPE_DEVICE,
  WIRE_SEC_TIMERS = HPVM__SECTION_TYPE__SECTION_TYPE_TIMERS,
  WIRE_SEC_MEMORY = HPVM__SECTION_TYPE__SECTION_TYPE_MEMORY,
  WIRE_SEC_PLATFORM = HPVM__SECTION_TYPE__SECTION_TYPE_PLATFORM,
};

/* CRC32C (Castagnoli), as iSCSI and ext4 use it: start with crc 0, chain calls. */
uint32_t wire_crc32c(uint32_t crc, const void *buf, size_t len);
/* "CPU" for WIRE_SEC_CPU; "unknown" for a type this build does not know. */
const char *wire_section_name(uint32_t type);

/* ---- Writing ------------------------------------------------------------------------------ */

typedef struct wire_writer {
  int fd;                 /* destination, or -1: the memory buffer below */
  uint8_t *buf;           /* memory mode: the stream so far (wire_writer_take hands it over) */
  size_t len, cap;
  int err;                /* first failure; sticky, every later call returns it */
  bool ended;             /* END written: nothing more may follow */
} wire_writer;

/* Start a stream (the header is written at once). 0 or a negative HPVM_E* code. */
int wire_writer_init_mem(wire_writer *w);
int wire_writer_init_fd(wire_writer *w, int fd);
/* Append one section; payload at most WIRE_SECTION_MAX bytes (else HPVM_ERANGE). */
int wire_write_section(wire_writer *w, uint32_t type, const void *payload, size_t len);
int wire_write_msg(wire_writer *w, uint32_t type, const ProtobufCMessage *msg);
/* Append the END section. The stream is complete after it. */
int wire_writer_end(wire_writer *w);
/* Memory mode: the bytes written, for the caller to free(); the writer is left empty. */
uint8_t *wire_writer_take(wire_writer *w, size_t *len);
void wire_writer_free(wire_writer *w);

/* ---- Reading ------------------------------------------------------------------------------ */

typedef struct wire_reader {
  const uint8_t *buf;     /* memory mode source, or NULL */
  size_t len;
  int fd;                 /* fd mode source, or -1 */
  uint64_t pos;           /* bytes consumed: the offset errors name */
  uint32_t version;       /* the stream's format version, once the header is read */
  uint32_t max_section;   /* payload limit; WIRE_SECTION_MAX unless the caller lowers it */
  uint32_t skipped;       /* sections of a newer minor version's unknown types, skipped */
  bool ended;             /* END seen */
  int err;                /* first failure; sticky */
  uint8_t *scratch;       /* fd mode: the current payload */
  size_t scratch_cap;
  char msg[256];          /* what went wrong, for wire_reader_error */
} wire_reader;

typedef struct wire_section {
  uint32_t type;          /* a WIRE_SEC_* value known to this build */
  uint32_t len;
  const uint8_t *payload; /* valid until the next wire_reader_next or wire_reader_free */
  uint64_t offset;        /* of the section's header in the stream */
} wire_section;

/* Open a stream and check its header: HPVM_ECORRUPT "not an hpvm state file" (magic) or a
 * header checksum mismatch, HPVM_ETRUNC, HPVM_ENOTSUP for another major version (both
 * versions named), HPVM_EIO. A memory reader borrows buf; it must outlive the reader. */
int wire_reader_init_mem(wire_reader *r, const void *buf, size_t len);
int wire_reader_init_fd(wire_reader *r, int fd);
/* The next section: 1 with *s filled, 0 after the END section (a memory reader also checks
 * that nothing follows it), or a negative HPVM_E* code: HPVM_ETRUNC, HPVM_ERANGE (length over
 * max_section), HPVM_ECORRUPT (CRC mismatch naming the section, unknown type in a stream of
 * this minor version or older, END with a payload, bytes after END), HPVM_EIO, HPVM_ENOMEM.
 * Unknown types from a newer minor version are skipped (counted in r->skipped). */
int wire_reader_next(wire_reader *r, wire_section *s);
/* Unpack a section's payload as message type d; HPVM_ECORRUPT when it does not parse.
 * Free *out with protobuf_c_message_free_unpacked(*out, NULL). */
int wire_section_unpack(wire_reader *r, const wire_section *s, const ProtobufCMessageDescriptor *d,
                        ProtobufCMessage **out);
/* Record a failure found while interpreting a section (sticky, like the reader's own);
 * returns err. fmt is printf-style; the section's name and offset are prefixed. */
int wire_reader_fail(wire_reader *r, const wire_section *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The sentence describing the first failure ("" when none). */
const char *wire_reader_error(const wire_reader *r);
void wire_reader_free(wire_reader *r);

/* ---- IA-64 vCPU state (cpustate.c) -------------------------------------------------------- */

/* ALAT entries hold host addresses (stand-ins for physical addresses, see
 * hypervisor/ia64/alat.c). A saved state carries guest-physical addresses instead, so that a
 * restore into other memory — another process, another host — finds its entries. The map
 * converts; an address it cannot convert (return nonzero) drops that entry, which is always
 * safe: the architecture lets an ALAT entry vanish at any time (the check then redoes the
 * load). With no map (NULL functions), no entries are saved or restored, which costs the
 * guest nothing but exactness: a chk.a may take its recovery path where it would not have. */
typedef struct wire_addr_map {
  int (*to_guest)(void *ctx, uint64_t host_addr, uint64_t *guest_addr);
  int (*to_host)(void *ctx, uint64_t guest_addr, uint64_t *host_addr);
  void *ctx;
} wire_addr_map;

/* Append the CPU section of vCPU number vcpu: every architectural register, the interrupt
 * state beside them (in service, pended, halted) and what the interpreter needs to continue
 * exactly (see Ia64Cpu in vmstate.proto). map may be NULL. A whole vCPU is this section, its
 * guest TLB section and its timers section (below). */
int wire_cpu_save(wire_writer *w, const ia64_cpu *cpu, uint32_t vcpu, const wire_addr_map *map);
/* Load a CPU section into cpus[vcpu] (its vCPU number is in the section; ncpus bounds it).
 * The whole section is checked before the CPU is touched: register files of the wrong
 * length, an impossible frame (sof > 96, sol or sor > sof, ndirty + sof > 96, ...), r0, f0,
 * f1 or p0 not at their constant values, a bad ALAT entry: HPVM_ECORRUPT, CPU unchanged.
 * On success the CPU's registers are the saved ones; its software TLB and decode cache are
 * emptied (they cache the old memory); what the state does not carry (memory callbacks,
 * trace hook, stop_request, the system hooks, the guest TLB and ar.itc, which have sections
 * of their own) is kept; ia64_sys_resync then derives what the run loop must look at.
 * HPVM_ENOMEM (CPU unchanged) if no new decode cache. */
int wire_cpu_load(wire_reader *r, const wire_section *s, ia64_cpu *const *cpus, uint32_t ncpus,
                  const wire_addr_map *map);

/* The guest TLB section of vCPU vcpu: every valid TR and TC entry in its slot (placement is
 * state: it decides what a later insert replaces) and the TC replacement cursors. */
int wire_tlb_save(wire_writer *w, const ia64_cpu *cpu, uint32_t vcpu);
/* Load a guest TLB section into cpus[vcpu]: the whole TLB is replaced, the software TLB
 * emptied. Refused before the CPU is touched (HPVM_ECORRUPT): a vCPU the VM does not have,
 * an unknown kind, a slot out of range or given twice, a page size the CPU does not
 * implement, a vpn not aligned to it or beyond va{60:0}, a region id wider than 24 bits, a
 * present entry with reserved pte fields. */
int wire_tlb_load(wire_reader *r, const wire_section *s, ia64_cpu *const *cpus, uint32_t ncpus);
/* The timers section of vCPU vcpu: ar.itc now (on the CPU's clock), its rate, whether the
 * ITM match is armed. */
int wire_timers_save(wire_writer *w, ia64_cpu *cpu, uint32_t vcpu);
/* Load a timers section into cpus[vcpu]: ar.itc continues from the saved value on this
 * CPU's clock (itc_offset = saved - clock(); without a clock hook ar.itc is set), the ITM
 * match is armed or not as saved, and the timer_arm hook is told the deadline (load the CPU
 * section first: the deadline is its cr.itm). HPVM_ECORRUPT for a vCPU the VM does not have
 * or an ITC rate other than 1 GHz. */
int wire_timers_load(wire_reader *r, const wire_section *s, ia64_cpu *const *cpus, uint32_t ncpus);

#endif
