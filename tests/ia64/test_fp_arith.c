/* test_fp_arith.c — fp82.c, the software 82-bit arithmetic, checked directly.
 *
 * References, none of them the emulator: fp_cases.inc (4000 multiply-adds over every
 * precision, rounding mode, exponent range, ftz and trap setting, with results, flags, traps
 * and ISR.fpa computed exactly with fractions.Fraction by fp_cases.py); the host's long double
 * fmal (the same 64-bit significand, round to nearest), fma and fmaf in all four rounding
 * modes, llrintl, and its comparisons; the formulas behind the SDM's frcpa/frsqrta tables;
 * and the IEEE memory formats round-tripped. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fp82.h"

typedef struct fp_case {
  uint32_t a_se;
  uint64_t a;
  uint32_t b_se;
  uint64_t b;
  uint32_t c_se;
  uint64_t c;
  uint8_t kind, has_add, pc, sf_pc, wre, rc, ftz, disabled;
  uint32_t r_se;
  uint64_t r;
  uint8_t flags, traps, fpa, faults;
} fp_case;

static const fp_case cases[] = {
#include "fp_cases.inc"
};

static ia64_fr from_se(uint32_t se, uint64_t sig) { return fp82_make(se >> 17 & 1, se & 0x1ffff, sig); }
static uint32_t se_of(ia64_fr f) { return f.sign << 17 | f.exp; }

/* An FPSR with sf0 = (ftz, wre, pc, rc), td clear, and `disabled` in the traps field. */
static uint64_t fpsr_for(unsigned ftz, unsigned wre, unsigned pc, unsigned rc, unsigned disabled) {
  return (disabled & 0x3f) | (uint64_t)(ftz | wre << 1 | pc << 2 | rc << 4) << 6;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* ---- The exact table ------------------------------------------------------------------------ */

static void test_fma_matches_the_exact_fraction_table(void **state) {
  (void)state;
  size_t n = sizeof cases / sizeof cases[0], bad = 0;
  for (size_t i = 0; i < n; i++) {
    const fp_case *t = &cases[i];
    static const fp82_pc pcs[3] = {FP82_PC_SF, FP82_PC_S, FP82_PC_D};
    fp82_env e;
    fp82_env_init(&e, fpsr_for(t->ftz, t->wre, t->sf_pc, t->rc, t->disabled), 0, pcs[t->pc]);
    ia64_fr r = fp82_fma(from_se(t->a_se, t->a), from_se(t->b_se, t->b), from_se(t->c_se, t->c),
                         t->kind == 2, t->kind == 1, t->has_add, &e);
    bool ok = e.faults == t->faults && e.flags == t->flags &&
              (t->faults || (se_of(r) == t->r_se && r.sig == t->r && e.traps == t->traps &&
                             (!t->traps || e.fpa == t->fpa)));
    if (!ok) {
      if (bad++ < 10)
        printf("case %zu: got %05x:%016llx flags %x traps %x fpa %u, want %05x:%016llx flags %x traps %x fpa %u\n",
               i, se_of(r), (unsigned long long)r.sig, e.flags, e.traps, e.fpa, t->r_se,
               (unsigned long long)t->r, t->flags, t->traps, t->fpa);
    }
  }
  printf("fp82_fma: %zu/%zu table cases agree\n", n - bad, n);
  assert_int_equal(bad, 0);
}

/* ---- The host's arithmetic -------------------------------------------------------------------- */

static ia64_fr from_ld(long double x) {
  uint8_t m[16] = {0};
  memcpy(m, &x, 10);
  return fp82_from_ext(m);
}
/* The value of a finite register (unnormals too), exactly when it fits a long double. */
static long double reg_value(ia64_fr f) {
  if (f.sig == 0) return f.sign ? -0.0L : 0.0L;
  long double v = ldexpl((long double)f.sig, (int)(f.exp ? f.exp : 0xc001) - FP82_BIAS - 63);
  return f.sign ? -v : v;
}

static long double to_ld(ia64_fr f) {
  uint8_t m[16] = {0};
  fp82_to_ext(f, m);
  long double x = 0;
  memcpy(&x, m, 10);
  return x;
}

static long double rand_ld(void) {
  uint64_t sig = rnd() | 1ull << 63;
  int e = (int)(rnd() % 120) - 60;
  if (rnd() % 8 == 0) e = (int)(rnd() % 32000) - 16000;
  long double x = ldexpl((long double)sig, e - 63);
  return rnd() & 1 ? -x : x;
}

static void test_fma_matches_host_fmal_in_extended_precision(void **state) {
  (void)state;
  unsigned bad = 0, n = 0;
  for (int i = 0; i < 200000; i++) {
    long double a = rand_ld(), b = rand_ld(), c = rand_ld();
    if (i % 3 == 0) c = -a * b * (1 + ldexpl(1, -(int)(rnd() % 70)));
    volatile long double want = fmal(a, b, c);
    fp82_env e;
    fp82_env_init(&e, fpsr_for(0, 0, 3, FP82_RN, 0x3f), 0, FP82_PC_SF);
    long double got = to_ld(fp82_fma(from_ld(a), from_ld(b), from_ld(c), false, false, true, &e));
    n++;
    if (memcmp((const void *)&want, &got, 10) != 0 && bad++ < 5)
      printf("fmal(%La, %La, %La) = %La, fp82 %La\n", a, b, c, (long double)want, got);
  }
  printf("fp82_fma vs fmal: %u/%u agree\n", n - bad, n);
  assert_int_equal(bad, 0);
}

static double bits_to_double(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t double_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
static float bits_to_float(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static uint32_t float_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static uint64_t rand_double_bits(void) {
  uint64_t e = (uint64_t)((int)(rnd() % 200) - 100 + 1023);
  if (rnd() % 6 == 0) e = rnd() % 2047;           /* anywhere, denormals and near overflow too */
  return (rnd() & 1ull << 63) | e << 52 | (rnd() & ((1ull << 52) - 1));
}

static void test_fma_matches_host_double_and_single_in_every_rounding_mode(void **state) {
  (void)state;
  static const int modes[4] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
  unsigned bad = 0, n = 0;
  for (unsigned rc = 0; rc < 4; rc++) {
    fesetround(modes[rc]);
    for (int i = 0; i < 40000; i++) {
      uint64_t a = rand_double_bits(), b = rand_double_bits(), c = rand_double_bits();
      volatile double want = fma(bits_to_double(a), bits_to_double(b), bits_to_double(c));
      fp82_env e;
      fp82_env_init(&e, fpsr_for(0, 0, 3, rc, 0x3f), 0, FP82_PC_D);
      ia64_fr r = fp82_fma(fp82_from_double(a), fp82_from_double(b), fp82_from_double(c), false, false, true, &e);
      n++;
      if (!isnan(want) && fp82_to_double(r) != double_bits(want) && bad++ < 5)
        printf("rc %u fma(%a, %a, %a) = %a, fp82 %a\n", rc, bits_to_double(a), bits_to_double(b),
               bits_to_double(c), want, bits_to_double(fp82_to_double(r)));
      uint32_t fa = (uint32_t)rnd(), fb = (uint32_t)rnd(), fc = (uint32_t)rnd();
      fa = (fa & 0x807fffffu) | (uint32_t)((rnd() % 60) + 97) << 23;
      fb = (fb & 0x807fffffu) | (uint32_t)((rnd() % 60) + 97) << 23;
      volatile float wantf = fmaf(bits_to_float(fa), bits_to_float(fb), bits_to_float(fc));
      fp82_env_init(&e, fpsr_for(0, 0, 3, rc, 0x3f), 0, FP82_PC_S);
      r = fp82_fma(fp82_from_single(fa), fp82_from_single(fb), fp82_from_single(fc), false, false, true, &e);
      n++;
      if (!isnan(wantf) && fp82_to_single(r) != float_bits(wantf) && bad++ < 5)
        printf("rc %u fmaf(%a, %a, %a) = %a, fp82 %a\n", rc, bits_to_float(fa), bits_to_float(fb),
               bits_to_float(fc), wantf, bits_to_float(fp82_to_single(r)));
    }
  }
  fesetround(FE_TONEAREST);
  printf("fp82_fma vs fma/fmaf: %u/%u agree\n", n - bad, n);
  assert_int_equal(bad, 0);
}

static void test_integer_conversion_matches_host_llrintl(void **state) {
  (void)state;
  static const int modes[4] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
  unsigned bad = 0;
  for (unsigned rc = 0; rc < 4; rc++) {
    fesetround(modes[rc]);
    for (int i = 0; i < 20000; i++) {
      long double x = ldexpl((long double)(rnd() | 1ull << 63), (int)(rnd() % 70) - 66);
      if (rnd() & 1) x = -x;
      if (i % 10 == 0) x = (long double)(int64_t)rnd() + 0.5L;
      fp82_env e;
      fp82_env_init(&e, fpsr_for(0, 0, 3, rc, 0x3f), 0, FP82_PC_NONE);
      uint64_t got = fp82_to_int(from_ld(x), true, false, &e);
      long long want = fabsl(x) < 0x1p63L ? llrintl(x) : (long long)(1ull << 63);
      uint64_t gott = fp82_to_int(from_ld(x), true, true, &e);
      long long wantt = fabsl(x) < 0x1p63L ? (long long)x : (long long)(1ull << 63);
      if ((got != (uint64_t)want || gott != (uint64_t)wantt) && bad++ < 5)
        printf("rc %u %La: %llx/%llx, host %llx/%llx\n", rc, x, (unsigned long long)got,
               (unsigned long long)gott, (unsigned long long)want, (unsigned long long)wantt);
    }
  }
  fesetround(FE_TONEAREST);
  assert_int_equal(bad, 0);
}

static void test_compare_matches_host_relations(void **state) {
  (void)state;
  unsigned bad = 0;
  for (int i = 0; i < 50000; i++) {
    uint64_t ab = rand_double_bits(), bb = i % 5 ? rand_double_bits() : ab ^ (rnd() & 1ull << 63);
    if (i % 50 == 0) ab = 0x7ff8000000000001ull;
    double a = bits_to_double(ab), b = bits_to_double(bb);
    fp82_env e;
    fp82_env_init(&e, fpsr_for(0, 0, 3, 0, 0x3f), 0, FP82_PC_NONE);
    ia64_fr x = fp82_from_double(ab), y = fp82_from_double(bb);
    bool ok = fp82_compare(x, y, FP82_EQ, &e) == (a == b) && fp82_compare(x, y, FP82_LT, &e) == (a < b) &&
              fp82_compare(x, y, FP82_LE, &e) == (a <= b) &&
              fp82_compare(x, y, FP82_UNORD, &e) == (isnan(a) || isnan(b));
    if (!ok && bad++ < 5) printf("compare %a %a\n", a, b);
  }
  assert_int_equal(bad, 0);
}

/* ---- The approximation tables ------------------------------------------------------------------ */

static void test_frcpa_table_is_the_sdm_formula_and_accurate(void **state) {
  (void)state;
  for (unsigned i = 0; i < 256; i++) {
    /* den = 1.iiiiiiii1 (the middle of its interval): the entry is round(2^11 / den) - 2^10 */
    ia64_fr den = fp82_make(0, FP82_BIAS, 1ull << 63 | (uint64_t)i << 55 | 1ull << 54);
    ia64_fr y = fp82_recip_approx(den);
    long double m = 1.0L + (i + 0.5L) / 256;
    unsigned want = (unsigned)floorl(2048.0L / m + 0.5L) - 1024;
    assert_int_equal(y.exp, FP82_BIAS - 1);
    assert_int_equal((y.sig >> 53) & 0x3ff, want);
    assert_int_equal(y.sig & ((1ull << 53) - 1), 0);
  }
  /* |1 - b*y| < 2^-8.886 (the bound the division proofs use) over the whole significand range, both signs and exponents */
  for (int i = 0; i < 100000; i++) {
    ia64_fr den = fp82_make(rnd() & 1, FP82_BIAS + (uint32_t)(rnd() % 2000) - 1000, rnd() | 1ull << 63);
    ia64_fr y = fp82_recip_approx(den);
    long double prod = ldexpl((long double)den.sig, (int)den.exp - FP82_BIAS - 63) *
                       ldexpl((long double)y.sig, (int)y.exp - FP82_BIAS - 63);
    assert_true(den.sign == y.sign);
    assert_true(fabsl(1.0L - prod) < powl(2.0L, -8.886L));
  }
}

static void test_frsqrta_table_is_the_sdm_formula_and_accurate(void **state) {
  (void)state;
  for (unsigned i = 0; i < 256; i++) {
    unsigned exp = i < 128 ? FP82_BIAS + 1 : FP82_BIAS;   /* even, odd unbiased exponent */
    ia64_fr root = fp82_make(0, exp, 1ull << 63 | (uint64_t)(i & 127) << 56 | 1ull << 55);
    ia64_fr y = fp82_rsqrt_approx(root);
    long double m = 1.0L + ((i & 127) + 0.5L) / 128;
    long double v = i < 128 ? sqrtl(2.0L / m) : 2.0L / sqrtl(m);
    unsigned want = (unsigned)floorl(v * 1024 + 0.5L) - 1024;
    assert_int_equal((y.sig >> 53) & 0x3ff, want);
  }
  for (int i = 0; i < 100000; i++) {
    ia64_fr x = fp82_make(0, FP82_BIAS + (uint32_t)(rnd() % 2000) - 1000, rnd() | 1ull << 63);
    ia64_fr y = fp82_rsqrt_approx(x);
    long double xv = ldexpl((long double)x.sig, (int)x.exp - FP82_BIAS - 63);
    long double yv = ldexpl((long double)y.sig, (int)y.exp - FP82_BIAS - 63);
    assert_true(fabsl(1.0L - yv * sqrtl(xv)) < powl(2.0L, -8.831L));
  }
}

/* ---- Memory formats ------------------------------------------------------------------------------ */

static void test_memory_formats_round_trip_and_mean_their_values(void **state) {
  (void)state;
  for (int i = 0; i < 100000; i++) {
    uint32_t s = (uint32_t)rnd();
    uint64_t d = rnd();
    assert_int_equal(fp82_to_single(fp82_from_single(s)), s);
    assert_int_equal(fp82_to_double(fp82_from_double(d)), d);
    float fs = bits_to_float(s);
    double fd = bits_to_double(d);
    if (isfinite(fs)) assert_true(reg_value(fp82_from_single(s)) == (long double)fs);
    if (isfinite(fd)) assert_true(reg_value(fp82_from_double(d)) == (long double)fd);
    uint8_t m[16], m2[16];
    for (int k = 0; k < 16; k++) m[k] = (uint8_t)rnd();
    m[10] = m[11] = m[12] = m[13] = m[14] = m[15] = 0;
    memcpy(m2, m, 16);
    ia64_fr f = fp82_from_ext(m);
    memset(m2, 0xaa, 16);
    fp82_to_ext(f, m2);
    assert_memory_equal(m, m2, 10);
    m[10] = (uint8_t)(rnd() & 3);
    ia64_fr g = fp82_from_spill(m);
    fp82_to_spill(g, m2);
    assert_memory_equal(m, m2, 16);
  }
  /* the register exponent of a single denormal is the format's minimum, unnormalized */
  ia64_fr f = fp82_from_single(1);
  assert_int_equal(f.exp, FP82_BIAS - 126);
  assert_int_equal(f.sig, 1ull << 40);
  assert_true(fp82_is_unorm(f));
}

/* ---- Exceptions ---------------------------------------------------------------------------------- */

static void test_invalid_denormal_and_zero_divide_are_faults_only_when_enabled(void **state) {
  (void)state;
  ia64_fr inf = fp82_make(0, FP82_EXP_MAX, FP82_INT_BIT), zero = fp82_make(0, 0, 0);
  ia64_fr one = fp82_make(0, FP82_BIAS, FP82_INT_BIT), den = fp82_make(0, 0, 5);
  fp82_env e;
  fp82_env_init(&e, fpsr_for(0, 0, 3, 0, 0x3f), 0, FP82_PC_SF);
  ia64_fr r = fp82_fma(inf, zero, zero, false, false, false, &e);
  assert_int_equal(e.flags, FP82_V);
  assert_int_equal(e.faults, 0);
  assert_true(r.sign == 1 && r.exp == FP82_EXP_MAX && r.sig == 0xc000000000000000ull);
  fp82_env_init(&e, fpsr_for(0, 0, 3, 0, 0x3f & ~FP82_V), 0, FP82_PC_SF);
  fp82_fma(inf, zero, zero, false, false, false, &e);
  assert_int_equal(e.faults, FP82_V);
  fp82_env_init(&e, fpsr_for(0, 0, 3, 0, 0x3f & ~FP82_D), 0, FP82_PC_SF);
  fp82_fma(den, one, zero, false, false, false, &e);
  assert_int_equal(e.faults, FP82_D);
  unsigned pred;
  fp82_env_init(&e, fpsr_for(0, 0, 3, 0, 0x3f & ~FP82_Z), 0, FP82_PC_NONE);
  fp82_frcpa(one, zero, &pred, &e);
  assert_int_equal(e.faults, FP82_Z);
  /* sf.td disables every trap, whatever FPSR.traps says */
  uint64_t fpsr = fpsr_for(0, 0, 3, 0, 0) | (uint64_t)0x40 << 19;
  fp82_env_init(&e, fpsr, 1, FP82_PC_SF);
  fp82_fma(inf, zero, zero, false, false, false, &e);
  assert_int_equal(e.faults, 0);
  assert_int_equal(e.flags, FP82_V);
}

/* The software-assisted frcpa cases: the IEEE quotient, p2 = 0. */
static void test_frcpa_outside_the_iterations_range_gives_the_quotient(void **state) {
  (void)state;
  unsigned pred;
  fp82_env e;
  fp82_env_init(&e, fpsr_for(0, 0, 3, 0, 0x3f), 0, FP82_PC_NONE);
  ia64_fr three = fp82_make(0, FP82_BIAS + 1, 0xc000000000000000ull);
  ia64_fr huge = fp82_make(1, 0x1fffd, FP82_INT_BIT);            /* -2^(0x1fffd - bias) */
  ia64_fr q = fp82_frcpa(three, huge, &pred, &e);
  assert_int_equal(pred, 0);
  assert_int_equal(q.sign, 1);
  assert_int_equal(q.exp, FP82_BIAS + 1 - (0x1fffd - FP82_BIAS));
  assert_int_equal(q.sig, 0xc000000000000000ull);
  ia64_fr tiny = fp82_make(0, 40, 0xc000000000000000ull);        /* num exponent <= 64 */
  q = fp82_frcpa(tiny, three, &pred, &e);
  assert_int_equal(pred, 0);
  assert_int_equal(q.exp, 40 - 1);
  assert_int_equal(q.sig, FP82_INT_BIT);
  ia64_fr four_tiny = fp82_make(0, 41, FP82_INT_BIT);             /* frsqrta: sqrt(2^(41-bias)) */
  q = fp82_frsqrta(four_tiny, &pred, &e);
  assert_int_equal(pred, 0);
  assert_int_equal(q.exp, FP82_BIAS + (41 - FP82_BIAS) / 2);
  assert_int_equal(q.sig, FP82_INT_BIT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fma_matches_the_exact_fraction_table),
    cmocka_unit_test(test_fma_matches_host_fmal_in_extended_precision),
    cmocka_unit_test(test_fma_matches_host_double_and_single_in_every_rounding_mode),
    cmocka_unit_test(test_integer_conversion_matches_host_llrintl),
    cmocka_unit_test(test_compare_matches_host_relations),
    cmocka_unit_test(test_frcpa_table_is_the_sdm_formula_and_accurate),
    cmocka_unit_test(test_frsqrta_table_is_the_sdm_formula_and_accurate),
    cmocka_unit_test(test_memory_formats_round_trip_and_mean_their_values),
    cmocka_unit_test(test_invalid_denormal_and_zero_divide_are_faults_only_when_enabled),
    cmocka_unit_test(test_frcpa_outside_the_iterations_range_gives_the_quotient),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
