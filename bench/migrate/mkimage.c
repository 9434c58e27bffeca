/* mkimage.c — memory images for the migration benchmark (bench/migrate/run.sh, docs/bench.md):
 * a file whose bytes become a guest's RAM (hpvmapp --mem-image, hpvm -x mem_image=, and QEMU's
 * memory-backend-file), with a given content profile:
 *
 *   zero    every byte zero (a sparse file: nothing is written)
 *   random  every byte from the seeded generator (incompressible)
 *   mixed   64 KiB chunks, each drawn by the seeded generator: 40 % zero (left as holes),
 *           45 % real file bytes (the regular files under /usr/lib, in sorted path order, read
 *           as one stream), 15 % random
 *
 * The same seed and size give the same file on the same machine (the file bytes come from its
 * /usr/lib). --sum prints the checksum hpvmk's memsum workload prints for the same range:
 * s = rotl(s, 1) ^ w over the 8-byte little-endian words (s = 0 first; past the end of the file
 * the words are zero).
 *
 *   mkimage --profile zero|random|mixed --size SIZE [--seed N] [--files DIR] OUT
 *   mkimage --sum OFFSET SIZE FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (64u << 10)
#define MIN_FILE (4u << 10)      /* smaller files add little but an open() each */

static int die(const char *fmt, const char *arg) {
  fprintf(stderr, "mkimage: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(2);
}

static bool parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(s, &end, 0);
  if (end == s || errno || *s == '-') return false;
  unsigned shift = 0;
  switch (*end) {
  case 0: break;
  case 'k': case 'K': shift = 10; end++; break;
  case 'm': case 'M': shift = 20; end++; break;
  case 'g': case 'G': shift = 30; end++; break;
  default: return false;
  }
  if ((*end == 'i' || *end == 'I') && shift) end++;
  if (*end || (shift && n > (~0ull >> shift))) return false;
  *out = (uint64_t)n << shift;
  return true;
}

/* ---- The seeded generator: splitmix64 ---------------------------------------------------------- */

static uint64_t next64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void random_fill(uint64_t *state, uint8_t *buf, size_t len) {
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t x = next64(state);
    memcpy(buf + i, &x, 8);
  }
}

/* ---- Real file bytes: the files under a directory as one stream ------------------------------------ */

typedef struct file_stream {
  char **paths;
  size_t n, cap, next;
  int fd;
} file_stream;

static file_stream *collecting;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)ftw;
  if (type != FTW_F || !S_ISREG(st->st_mode) || st->st_size < MIN_FILE) return 0;
  file_stream *fs = collecting;
  if (fs->n == fs->cap) {
    fs->cap = fs->cap ? 2 * fs->cap : 1024;
    fs->paths = realloc(fs->paths, fs->cap * sizeof *fs->paths);
    if (!fs->paths) die("%s", "out of memory");
  }
  if (!(fs->paths[fs->n++] = strdup(path))) die("%s", "out of memory");
  return 0;
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void files_open(file_stream *fs, const char *dir) {
  memset(fs, 0, sizeof *fs);
  fs->fd = -1;
  collecting = fs;
  nftw(dir, collect, 64, FTW_PHYS);
  if (!fs->n) die("no regular file of 4 KiB or more under %s to take real file bytes from; give --files DIR", dir);
  qsort(fs->paths, fs->n, sizeof *fs->paths, cmp_path);
}

static void files_close(file_stream *fs) {
  if (fs->fd >= 0) close(fs->fd);
  for (size_t i = 0; i < fs->n; i++) free(fs->paths[i]);
  free(fs->paths);
}

/* The next len bytes of the stream, going round the files again at the end. */
static void files_read(file_stream *fs, uint8_t *buf, size_t len) {
  size_t got = 0;
  unsigned empty_rounds = 0;
  while (got < len) {
    if (fs->fd < 0) {
      if (fs->next == fs->n) {
        fs->next = 0;
        if (++empty_rounds > 1) die("%s", "the files to take bytes from cannot be read");
      }
      fs->fd = open(fs->paths[fs->next++], O_RDONLY | O_CLOEXEC);
      continue;
    }
    ssize_t r = read(fs->fd, buf + got, len - got);
    if (r <= 0) {
      close(fs->fd);
      fs->fd = -1;
      continue;
    }
    got += (size_t)r;
    empty_rounds = 0;
  }
}

/* ---- Generation --------------------------------------------------------------------------------- */

typedef enum profile { PROFILE_ZERO, PROFILE_RANDOM, PROFILE_MIXED } profile;

static void write_all(int fd, const uint8_t *buf, size_t len, uint64_t off, const char *out) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = pwrite(fd, buf + done, len - done, (off_t)(off + done));
    if (w <= 0) die("cannot write %s (disk full?)", out);
    done += (size_t)w;
  }
}

static int generate(profile p, uint64_t size, uint64_t seed, const char *files_dir, const char *out) {
  if (size % CHUNK) die("%s: the size must be a multiple of 64 KiB", out);
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create %s", out);
  uint64_t state = seed, kinds[3] = {0, 0, 0};   /* zero, file, random chunks */
  static uint8_t buf[CHUNK];
  file_stream fs = {.fd = -1};
  if (p == PROFILE_MIXED) files_open(&fs, files_dir);
  for (uint64_t off = 0; off < size && p != PROFILE_ZERO; off += CHUNK) {
    unsigned kind = 2;
    if (p == PROFILE_MIXED) {
      unsigned pick = (unsigned)(next64(&state) % 100);
      kind = pick < 40 ? 0 : pick < 85 ? 1 : 2;
    }
    kinds[kind]++;
    if (kind == 0) continue;   /* a hole */
    if (kind == 1) files_read(&fs, buf, CHUNK);
    else random_fill(&state, buf, CHUNK);
    write_all(fd, buf, CHUNK, off, out);
  }
  files_close(&fs);
  if (p == PROFILE_ZERO) kinds[0] = size / CHUNK;
  if (ftruncate(fd, (off_t)size) != 0 || close(fd) != 0) die("cannot finish %s", out);
  uint64_t n = size / CHUNK;
  printf("%s: %llu MiB, 64 KiB chunks: %.1f %% zero, %.1f %% file bytes, %.1f %% random\n", out,
         (unsigned long long)(size >> 20), 100.0 * (double)kinds[0] / (double)n, 100.0 * (double)kinds[1] / (double)n,
         100.0 * (double)kinds[2] / (double)n);
  return 0;
}

/* ---- The memsum checksum ------------------------------------------------------------------------ */

static int checksum(uint64_t off, uint64_t size, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open %s", path);
  static uint64_t words[(1u << 20) / 8];
  uint64_t s = 0;
  for (uint64_t done = 0; done < size;) {
    size_t want = size - done < sizeof words ? (size_t)(size - done) : sizeof words;
    memset(words, 0, sizeof words);
    size_t got = 0;
    while (got < want) {
      ssize_t r = pread(fd, (uint8_t *)words + got, want - got, (off_t)(off + done + got));
      if (r < 0) die("cannot read %s", path);
      if (r == 0) break;   /* past the end: zeros */
      got += (size_t)r;
    }
    for (size_t i = 0; i < want / 8; i++) s = ((s << 1) | (s >> 63)) ^ words[i];
    done += want;
  }
  close(fd);
  printf("%016llx\n", (unsigned long long)s);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "usage: mkimage --profile zero|random|mixed --size SIZE [--seed N] [--files DIR] OUT\n"
             "       mkimage --sum OFFSET SIZE FILE\n"
             "  --profile   zero: all zero (sparse); random: all random; mixed: 64 KiB chunks 40 %% zero,\n"
             "              45 %% bytes of the files under --files (default /usr/lib), 15 %% random\n"
             "  --size      bytes, with K, M, G (a multiple of 64 KiB)\n"
             "  --seed      the generator's seed (default 1): the same seed gives the same image\n"
             "  --sum       print hpvmk memsum's checksum of SIZE bytes of FILE from OFFSET\n");
}

int main(int argc, char **argv) {
  const char *prof = NULL, *out = NULL, *files_dir = "/usr/lib";
  uint64_t size = 0, seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), 0;
    if (!strcmp(a, "--sum")) {
      uint64_t off, len;
      if (argc - i != 4 || !parse_size(argv[i + 1], &off) || !parse_size(argv[i + 2], &len) || len % 8)
        die("%s", "--sum takes OFFSET SIZE FILE (SIZE a multiple of 8)");
      return checksum(off, len, argv[i + 3]);
    }
    bool takes = !strcmp(a, "--profile") || !strcmp(a, "--size") || !strcmp(a, "--seed") || !strcmp(a, "--files");
    if (!takes) {
      if (a[0] == '-' || out) return usage(stderr), 2;
      out = a;
      continue;
    }
    if (i + 1 >= argc) die("%s needs a value", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--profile")) prof = v;
    else if (!strcmp(a, "--files")) files_dir = v;
    else if (!strcmp(a, "--size")) {
      if (!parse_size(v, &size) || !size) die("--size %s: give e.g. 256M or 2G", v);
    } else if (!parse_size(v, &seed)) die("--seed %s: not a number", v);
  }
  if (!prof || !size || !out) return usage(stderr), 2;
  profile p;
  if (!strcmp(prof, "zero")) p = PROFILE_ZERO;
  else if (!strcmp(prof, "random")) p = PROFILE_RANDOM;
  else if (!strcmp(prof, "mixed")) p = PROFILE_MIXED;
  else return die("--profile %s: zero, random or mixed", prof);
  return generate(p, size, seed, files_dir, out);
}
