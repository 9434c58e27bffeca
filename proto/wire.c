/* wire.c — the saved-state envelope: header, sections, CRC32C, and the hostile-input reader.
 *
 * Layout (little-endian; docs/wire/vmstate.md is the reference):
 *   header   "HPVMSTAT" | version u32 (major << 16 | minor) | crc32c(magic, version) u32
 *   section  type u32 | length u32 | payload[length] | crc32c(type, length, payload) u32
 *   ...      the last section is END (type 1, length 0)
 * The header has its own CRC so that no single flipped bit anywhere in a stream goes unseen
 * (a flipped minor version would otherwise pass as "newer, compatible").
 *
 * The reader's order of checks is what keeps a hostile stream harmless: a section's length is
 * compared with the limit (HPVM_ERANGE) and, for a buffer, with what is left (HPVM_ETRUNC)
 * before anything is allocated or read; an fd reader grows its buffer only as bytes actually
 * arrive, so a length that lies costs at most what the peer really sent. Only then is the CRC
 * compared, and only a section whose CRC matches is looked at further (type, END). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

/* ---- CRC32C and little-endian fields ---------------------------------------------------- */

/* Reflected CRC32C table, polynomial 0x82f63b78 (generated: for each byte i, eight steps of
 * c = c & 1 ? c >> 1 ^ 0x82f63b78 : c >> 1). test_wire checks the standard check value. */
static const uint32_t crc32c_table[256] = {
  0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
  0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
  0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
  0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
  0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
  0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
  0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
  0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
  0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
  0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
  0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
  0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
  0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
  0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
  0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
  0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
  0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
  0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
  0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
  0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
  0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
  0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
  0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
  0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
  0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
  0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
  0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
  0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
  0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
  0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
  0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
  0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
  0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
  0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
  0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
  0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
  0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
  0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
  0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
  0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
  0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
  0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
  0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

uint32_t wire_crc32c(uint32_t crc, const void *buf, size_t len) {
  const uint8_t *p = buf;
  crc = ~crc;
  while (len--) crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* CRC of a section: its 8-byte header, then the payload. */
static uint32_t section_crc(const uint8_t hdr[WIRE_SECTION_HEADER_LEN], const void *payload, size_t len) {
  return wire_crc32c(wire_crc32c(0, hdr, WIRE_SECTION_HEADER_LEN), payload, len);
}

const char *wire_section_name(uint32_t type) {
  if (type > INT32_MAX) return "unknown";
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&hpvm__section_type__descriptor, (int)type);
  if (!v || type == 0) return "unknown";
  static const char prefix[] = "SECTION_TYPE_";
  return strncmp(v->name, prefix, sizeof prefix - 1) == 0 ? v->name + sizeof prefix - 1 : v->name;
}

static bool section_known(uint32_t type) { return strcmp(wire_section_name(type), "unknown") != 0; }

/* ---- Writer ------------------------------------------------------------------------------ */

static int write_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return HPVM_EIO;
    p += n, len -= (size_t)n;
  }
  return 0;
}

static int emit(wire_writer *w, const void *buf, size_t len) {
  if (w->err) return w->err;
  if (w->fd >= 0) return w->err = write_all(w->fd, buf, len);
  if (len > SIZE_MAX - w->len) return w->err = HPVM_ENOMEM;
  if (w->len + len > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + len) cap = cap > SIZE_MAX / 2 ? w->len + len : cap * 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) return w->err = HPVM_ENOMEM;
    w->buf = nb, w->cap = cap;
  }
  memcpy(w->buf + w->len, buf, len);
  w->len += len;
  return 0;
}

static int write_header(wire_writer *w) {
  uint8_t h[WIRE_HEADER_LEN];
  memcpy(h, WIRE_MAGIC, WIRE_MAGIC_LEN);
  put32(h + 8, WIRE_VERSION);
  put32(h + 12, wire_crc32c(0, h, 12));
  return emit(w, h, sizeof h);
}

int wire_writer_init_mem(wire_writer *w) {
  *w = (wire_writer){.fd = -1};
  return write_header(w);
}

int wire_writer_init_fd(wire_writer *w, int fd) {
  *w = (wire_writer){.fd = fd};
  if (fd < 0) return w->err = HPVM_EINVAL;
  return write_header(w);
}

int wire_write_section(wire_writer *w, uint32_t type, const void *payload, size_t len) {
  if (w->err) return w->err;
  if (w->ended || type == 0 || (len && !payload)) return w->err = HPVM_EINVAL;
  if (len > WIRE_SECTION_MAX) return w->err = HPVM_ERANGE;
  uint8_t hdr[WIRE_SECTION_HEADER_LEN], crc[4];
  put32(hdr, type);
  put32(hdr + 4, (uint32_t)len);
  put32(crc, section_crc(hdr, payload, len));
  int rc = emit(w, hdr, sizeof hdr);
  if (!rc && len) rc = emit(w, payload, len);
  if (!rc) rc = emit(w, crc, sizeof crc);
  return rc;
}

int wire_write_msg(wire_writer *w, uint32_t type, const ProtobufCMessage *msg) {
  if (w->err) return w->err;
  size_t len = protobuf_c_message_get_packed_size(msg);
  if (len > WIRE_SECTION_MAX) return w->err = HPVM_ERANGE;
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return w->err = HPVM_ENOMEM;
  protobuf_c_message_pack(msg, buf);
  int rc = wire_write_section(w, type, buf, len);
  free(buf);
  return rc;
}

int wire_writer_end(wire_writer *w) {
  int rc = wire_write_section(w, WIRE_SEC_END, NULL, 0);
  if (!rc) w->ended = true;
  return rc;
}

uint8_t *wire_writer_take(wire_writer *w, size_t *len) {
  uint8_t *b = w->buf;
  *len = w->len;
  w->buf = NULL, w->len = w->cap = 0;
  return b;
}

void wire_writer_free(wire_writer *w) {
  free(w->buf);
  w->buf = NULL, w->len = w->cap = 0;
}

/* ---- Reader: failures -------------------------------------------------------------------- */

static int failv(wire_reader *r, int err, const char *fmt, va_list ap) {
  if (r->err) return r->err;
  r->err = err;
  vsnprintf(r->msg, sizeof r->msg, fmt, ap);
  return err;
}

__attribute__((format(printf, 3, 4))) static int fail(wire_reader *r, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  failv(r, err, fmt, ap);
  va_end(ap);
  return r->err;
}

int wire_reader_fail(wire_reader *r, const wire_section *s, int err, const char *fmt, ...) {
  if (r->err) return r->err;
  char what[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return fail(r, err, "section %s (type %u) at offset %llu: %s", wire_section_name(s->type), s->type,
              (unsigned long long)s->offset, what);
}

const char *wire_reader_error(const wire_reader *r) { return r->msg; }

/* ---- Reader: the source ------------------------------------------------------------------ */

/* Read exactly len bytes into dst (fd mode). Returns len, fewer at end of stream, or -1. */
static ssize_t read_full(int fd, uint8_t *dst, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, dst + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

/* Take len bytes of the stream: copy them to dst when dst is given (fd mode always copies).
 * A short stream is HPVM_ETRUNC naming `what`. */
static int take(wire_reader *r, uint8_t *dst, size_t len, const char *what) {
  if (r->buf) {
    size_t left = r->len - (size_t)r->pos;
    if (len > left)
      return fail(r, HPVM_ETRUNC, "truncated: the state ends inside %s at offset %llu (%zu of %zu bytes present)",
                  what, (unsigned long long)r->pos, left, len);
    if (dst) memcpy(dst, r->buf + r->pos, len);
    r->pos += len;
    return 0;
  }
  ssize_t n = read_full(r->fd, dst, len);
  if (n < 0) return fail(r, HPVM_EIO, "reading the state at offset %llu: %s", (unsigned long long)r->pos, strerror(errno));
  r->pos += (uint64_t)n;
  if ((size_t)n < len)
    return fail(r, HPVM_ETRUNC, "truncated: the state ends inside %s at offset %llu (%zd of %zu bytes present)",
                what, (unsigned long long)(r->pos - (uint64_t)n), n, len);
  return 0;
}

/* fd mode: read a payload of len bytes into r->scratch, growing it only as data arrives (a
 * lying length costs what the peer actually sent, not what it claimed). */
static int take_payload_fd(wire_reader *r, uint32_t len, const char *what) {
  size_t got = 0;
  uint64_t start = r->pos;
  while (got < len) {
    if (got == r->scratch_cap) {
      size_t cap = r->scratch_cap ? r->scratch_cap * 2 : 64 * 1024;
      if (cap > len) cap = len;
      uint8_t *nb = realloc(r->scratch, cap);
      if (!nb) return fail(r, HPVM_ENOMEM, "out of memory for a %u-byte section payload", len);
      r->scratch = nb, r->scratch_cap = cap;
    }
    size_t want = (len < r->scratch_cap ? len : r->scratch_cap) - got;
    ssize_t n = read_full(r->fd, r->scratch + got, want);
    if (n < 0) return fail(r, HPVM_EIO, "reading the state at offset %llu: %s", (unsigned long long)r->pos, strerror(errno));
    r->pos += (uint64_t)n;
    got += (size_t)n;
    if ((size_t)n < want)
      return fail(r, HPVM_ETRUNC, "truncated: the state ends inside %s at offset %llu (%zu of %u bytes present)",
                  what, (unsigned long long)start, got, len);
  }
  return 0;
}

/* ---- Reader: header and sections --------------------------------------------------------- */

static int read_header(wire_reader *r) {
  uint8_t h[WIRE_HEADER_LEN];
  /* The magic first, byte-exact: a file that is not ours must say so, whatever its length. */
  size_t have = r->buf ? (r->len < WIRE_MAGIC_LEN ? r->len : WIRE_MAGIC_LEN) : 0;
  if (r->buf) {
    if (memcmp(r->buf, WIRE_MAGIC, have) != 0) return fail(r, HPVM_ECORRUPT, "not an hpvm state file (bad magic)");
    if (take(r, h, WIRE_HEADER_LEN, "the file header") < 0) return r->err;
  } else {
    ssize_t n = read_full(r->fd, h, WIRE_HEADER_LEN);
    if (n < 0) return fail(r, HPVM_EIO, "reading the state header: %s", strerror(errno));
    r->pos = (uint64_t)n;
    size_t m = (size_t)n < WIRE_MAGIC_LEN ? (size_t)n : WIRE_MAGIC_LEN;
    if (memcmp(h, WIRE_MAGIC, m) != 0) return fail(r, HPVM_ECORRUPT, "not an hpvm state file (bad magic)");
    if ((size_t)n < WIRE_HEADER_LEN)
      return fail(r, HPVM_ETRUNC, "truncated: the state ends inside the file header at offset 0 (%zd of %d bytes present)",
                  n, WIRE_HEADER_LEN);
  }
  if (memcmp(h, WIRE_MAGIC, WIRE_MAGIC_LEN) != 0) return fail(r, HPVM_ECORRUPT, "not an hpvm state file (bad magic)");
  uint32_t stored = get32(h + 12), crc = wire_crc32c(0, h, 12);
  if (stored != crc)
    return fail(r, HPVM_ECORRUPT, "header CRC mismatch (stored 0x%08x, computed 0x%08x): the state file is corrupted",
                stored, crc);
  r->version = get32(h + 8);
  if (r->version >> 16 != WIRE_VERSION_MAJOR)
    return fail(r, HPVM_ENOTSUP,
                "state format version %u.%u is not supported: this hpvm reads version %u.x (up to %u.%u); "
                "use an hpvm of the writer's major version",
                r->version >> 16, r->version & 0xffff, WIRE_VERSION_MAJOR, WIRE_VERSION_MAJOR, WIRE_VERSION_MINOR);
  return 0;
}

static void reader_init(wire_reader *r) {
  *r = (wire_reader){.fd = -1, .max_section = WIRE_SECTION_MAX};
}

int wire_reader_init_mem(wire_reader *r, const void *buf, size_t len) {
  reader_init(r);
  r->buf = buf ? buf : (const uint8_t *)"";
  r->len = buf ? len : 0;
  return read_header(r);
}

int wire_reader_init_fd(wire_reader *r, int fd) {
  reader_init(r);
  r->fd = fd;
  if (fd < 0) return fail(r, HPVM_EINVAL, "no file descriptor to read the state from");
  return read_header(r);
}

/* Read one section, whatever its type, CRC checked. */
static int read_section(wire_reader *r, wire_section *s) {
  uint8_t hdr[WIRE_SECTION_HEADER_LEN], crcb[4];
  s->offset = r->pos;
  if (r->buf && r->pos == r->len)
    return fail(r, HPVM_ETRUNC, "truncated: the state ends at offset %llu without an END section",
                (unsigned long long)r->pos);
  if (take(r, hdr, sizeof hdr, "a section header") < 0) return r->err;
  s->type = get32(hdr);
  s->len = get32(hdr + 4);
  /* The length is checked before it is trusted for anything; the type is not named yet,
   * since nothing about it is known to be true until the CRC matches. */
  if (s->len > r->max_section)
    return fail(r, HPVM_ERANGE, "section at offset %llu claims %u bytes, over the %u-byte limit",
                (unsigned long long)s->offset, s->len, r->max_section);
  if (r->buf) {
    const uint8_t *p = r->buf + r->pos;
    if (take(r, NULL, s->len, "a section payload") < 0) return r->err;
    s->payload = p;
  } else {
    if (take_payload_fd(r, s->len, "a section payload") < 0) return r->err;
    s->payload = r->scratch;
  }
  if (take(r, crcb, sizeof crcb, "a section CRC") < 0) return r->err;
  uint32_t stored = get32(crcb), crc = section_crc(hdr, s->payload, s->len);
  if (stored != crc)
    return fail(r, HPVM_ECORRUPT, "CRC mismatch in section %s (type %u, %u bytes) at offset %llu: stored 0x%08x, computed 0x%08x",
                wire_section_name(s->type), s->type, s->len, (unsigned long long)s->offset, stored, crc);
  return 0;
}

int wire_reader_next(wire_reader *r, wire_section *s) {
  if (r->err) return r->err;
  if (r->ended) return 0;
  for (;;) {
    if (read_section(r, s) < 0) return r->err;
    if (s->type == WIRE_SEC_END) {
      if (s->len) return wire_reader_fail(r, s, HPVM_ECORRUPT, "the END section carries %u bytes", s->len);
      r->ended = true;
      if (r->buf && r->pos != r->len)
        return fail(r, HPVM_ECORRUPT, "%llu bytes follow the END section at offset %llu",
                    (unsigned long long)(r->len - r->pos), (unsigned long long)s->offset);
      return 0;
    }
    if (s->type == 0) return fail(r, HPVM_ECORRUPT, "section type 0 (INVALID) at offset %llu", (unsigned long long)s->offset);
    if (section_known(s->type)) return 1;
    if ((r->version & 0xffff) <= WIRE_VERSION_MINOR)
      return fail(r, HPVM_ECORRUPT, "unknown section type %u at offset %llu in a version %u.%u stream",
                  s->type, (unsigned long long)s->offset, r->version >> 16, r->version & 0xffff);
    r->skipped++;  /* a newer minor version's addition: meant to be skippable */
  }
}

int wire_section_unpack(wire_reader *r, const wire_section *s, const ProtobufCMessageDescriptor *d,
                        ProtobufCMessage **out) {
  if (r->err) return r->err;
  *out = protobuf_c_message_unpack(d, NULL, s->len, s->payload);
  if (!*out) return wire_reader_fail(r, s, HPVM_ECORRUPT, "the payload is not a valid %s message", d->name);
  return 0;
}

void wire_reader_free(wire_reader *r) {
  free(r->scratch);
  r->scratch = NULL, r->scratch_cap = 0;
}
