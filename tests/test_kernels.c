/*
 * test_kernels.c - the contract of the public row-wise kernels of smr.h and
 * of the ISA dispatch: argument checks and their order (SMR_EINVAL,
 * SMR_ERANGE, SMR_EOVERFLOW, nothing written on error), n = 0, the mean
 * loss near DBL_MAX, smr_strerror, smr_argmax and smr_one_hot (exact, on
 * every ISA), ISA names, smr_isa_select, SMR_ISA in the environment (child
 * processes) and smr_isa_select racing the kernels.
 *
 * The numerics of the kernels (every ISA's table and the public entries on
 * every ISA, against the long-double reference and the tolerance table,
 * the seed's published values included) are tests/checkasm/.
 */
#include "check_util.h"
#include "kernels.h"
#include "isa_guard.h"
#include "smr.h"

#include <check.h>
#include <pthread.h>
#include <float.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { F32 = 0, F64 = 1, NUM_DT = 2 };

static const char *dt_name(int dt) { return dt == F32 ? "f32" : "f64"; }

/* Random numbers (splitmix64; independent of the library's generator). */
typedef struct {
  uint64_t s;
} trng;

static uint64_t trng_next(trng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double trng_uniform(trng *r) { return (double)(trng_next(r) >> 11) * 0x1p-53; }

static double trng_normal(trng *r) {
  const double u1 = 1.0 - trng_uniform(r); /* (0, 1] */
  const double u2 = trng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static size_t trng_below(trng *r, size_t bound) { return (size_t)(trng_next(r) % bound); }

/* Guarded buffers: len elements of dtype dt, `off` elements past a 64-byte
   boundary, GUARD_ELEMS elements of GUARD_BYTE on each side. */
#define GUARD_ELEMS 16
#define GUARD_BYTE 0xA5

typedef struct {
  unsigned char *mem, *data;
  size_t bytes, total;
} gbuf;

static void *gb_alloc(gbuf *b, int dt, size_t len, size_t off) {
  const size_t esz = esize(dt == F32 ? SMR_F32 : SMR_F64);
  size_t total = (len + off + 2 * GUARD_ELEMS) * esz;
  total = (total + 63) / 64 * 64;
  b->mem = aligned_alloc(64, total);
  ck_assert_ptr_nonnull(b->mem);
  memset(b->mem, GUARD_BYTE, total);
  b->data = b->mem + (GUARD_ELEMS + off) * esz;
  b->bytes = len * esz;
  b->total = total;
  return b->data;
}

static void gb_check(const gbuf *b, const char *what) {
  for (const unsigned char *q = b->mem; q < b->data; q++)
    if (*q != GUARD_BYTE) ck_abort_msg("%s: write %td bytes before the buffer", what, b->data - q);
  for (const unsigned char *q = b->data + b->bytes; q < b->mem + b->total; q++)
    if (*q != GUARD_BYTE)
      ck_abort_msg("%s: write %td bytes after the buffer", what, q - (b->data + b->bytes));
}

static void gb_free(gbuf *b) { free(b->mem); }

/* Bitwise equality of doubles. */
static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }


/* Row lengths below, at and above every plausible vector tile (4, 8, 16
   floats; 2, 4, 8 doubles, unrolled up to 4x), plus a long tail. */
static const size_t KS[] = {1,  2,  3,  4,  5,   6,   7,   8,   9,   15,   16,  17,
                            31, 32, 33, 63, 64,  65,  127, 128, 129, 255,  256, 257,
                            1000, 4097};
#define NUM_KS (sizeof KS / sizeof KS[0])

/* Selects each available ISA in turn; returns false when done (and restores
   the ISA active at the first call). Usage: for (int isa = -1; next_isa(&isa);) */
static bool next_isa(int *isa) {
  static smr_isa saved;
  if (*isa < 0) saved = smr_isa_active();
  for ((*isa)++; *isa < SMR_ISA_COUNT; (*isa)++)
    if (smr_isa_select((smr_isa)*isa) == SMR_OK) return true;
  ck_assert_int_eq(smr_isa_select(saved), SMR_OK);
  return false;
}

/* ======================================================================== */
/* smr_argmax, smr_one_hot                                                   */
/* ======================================================================== */

/* smr_argmax_*: the first maximum of each row, -1 for a row with a NaN, on
   every ISA; compared with a plain loop written here. Ties, infinities and
   NaN are planted; the argument checks of the row kernels. */
START_TEST(test_argmax) {
  const int dt = _i;
  const size_t ks[] = {1, 2, 3, 7, 16, 17, 100, 1001};
  trng r = {0xA7A7u};
  for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
    const size_t k = ks[ki], n = 37;
    double *z = xmalloc(n * k * sizeof *z);
    void *p = xmalloc(n * k * esize(dt == F32 ? SMR_F32 : SMR_F64));
    int32_t *got = xmalloc(n * sizeof *got), *want = xmalloc(n * sizeof *want);
    for (size_t i = 0; i < n * k; i++) z[i] = dt == F32 ? (double)(float)trng_normal(&r) : trng_normal(&r);
    for (size_t i = 0; i < n; i++) {
      double *row = z + i * k;
      switch (i % 6) {
      case 1: row[trng_below(&r, k)] = 1e6, row[trng_below(&r, k)] = 1e6; break; /* a tie (maybe) */
      case 2: for (size_t j = 0; j < k; j++) row[j] = 0.5; break;                /* all equal */
      case 3: row[trng_below(&r, k)] = INFINITY; break;
      case 4: row[trng_below(&r, k)] = NAN; break;
      case 5: for (size_t j = 0; j < k; j++) row[j] = -INFINITY; break;
      default: break;
      }
      int32_t best = 0;
      for (size_t j = 0; j < k; j++) {
        if (isnan(row[j])) {
          best = -1;
          break;
        }
        if (row[j] > row[best]) best = (int32_t)j;
      }
      want[i] = best;
    }
    for (size_t i = 0; i < n * k; i++) set_at(dt == F32 ? SMR_F32 : SMR_F64, p, i, z[i]);
    for (int isa = -1; next_isa(&isa);) {
      memset(got, 0x55, n * sizeof *got);
      const smr_status st = dt == F32 ? smr_argmax_f32(p, n, k, got) : smr_argmax_f64(p, n, k, got);
      ck_assert_int_eq(st, SMR_OK);
      for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "%s %s k=%zu row %zu: %d, want %d",
                      smr_isa_name(smr_isa_active()), dt_name(dt), k, i, got[i], want[i]);
    }
    free(z);
    free(p);
    free(got);
    free(want);
  }
  float f = 1.0f;
  double g = 1.0;
  int32_t l = 7;
  ck_assert_int_eq(smr_argmax_f32(&f, 1, 0, &l), SMR_EINVAL);
  ck_assert_int_eq(smr_argmax_f64(&g, 1, 0, &l), SMR_EINVAL);
  ck_assert_int_eq(smr_argmax_f32(NULL, 0, 3, NULL), SMR_OK);
  ck_assert_int_eq(smr_argmax_f32(NULL, 1, 1, &l), SMR_EINVAL);
  ck_assert_int_eq(smr_argmax_f64(&g, 1, 1, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_argmax_f32(&f, SIZE_MAX / 2, 3, &l), SMR_EOVERFLOW);
  ck_assert_int_eq(smr_argmax_f32(&f, 1, (size_t)INT32_MAX + 1, &l), SMR_EINVAL);
  ck_assert_int_eq(l, 7); /* nothing written on error */
}
END_TEST

START_TEST(test_one_hot) {
  const int dt = _i;
  trng r = {0xA11CE00Bu + (uint64_t)dt};
  for (size_t ki = 0; ki < NUM_KS; ki++) {
    const size_t k = KS[ki], n = 5;
    int32_t labels[5];
    for (size_t i = 0; i < n; i++) labels[i] = (int32_t)trng_below(&r, k);
    gbuf b;
    void *y = gb_alloc(&b, dt, n * k, ki % 4);
    const smr_status st =
        dt == F32 ? smr_one_hot_f32(labels, n, k, y) : smr_one_hot_f64(labels, n, k, y);
    ck_assert_int_eq(st, SMR_OK);
    gb_check(&b, "one_hot");
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < k; j++)
        if (!same_bits(get_at(dt == F32 ? SMR_F32 : SMR_F64, y, i * k + j),
                       j == (size_t)labels[i] ? 1.0 : 0.0))
          ck_abort_msg("one_hot %s k=%zu (%zu,%zu) = %g", dt_name(dt), k, i, j,
                       get_at(dt == F32 ? SMR_F32 : SMR_F64, y, i * k + j));
    gb_free(&b);
  }
}
END_TEST

/* ======================================================================== */
/* Error paths                                                               */
/* ======================================================================== */

START_TEST(test_einval) {
  float zf[6] = {0}, pf[6];
  double zd[6] = {0}, pd[6], loss;
  int32_t lab[2] = {0, 1};
  /* NULL data */
  ck_assert_int_eq(smr_softmax_f32(NULL, pf, 2, 3), SMR_EINVAL);
  ck_assert_int_eq(smr_softmax_f32(zf, NULL, 2, 3), SMR_EINVAL);
  ck_assert_int_eq(smr_softmax_f64(NULL, pd, 2, 3), SMR_EINVAL);
  ck_assert_int_eq(smr_softmax_f64(zd, NULL, 2, 3), SMR_EINVAL);
  ck_assert_int_eq(smr_softmax_online_f32(NULL, pf, 2, 3), SMR_EINVAL);
  ck_assert_int_eq(smr_softmax_online_f64(zd, NULL, 2, 3), SMR_EINVAL);
  ck_assert_int_eq(smr_softmax_temperature_f32(NULL, pf, 2, 3, 1.0f), SMR_EINVAL);
  ck_assert_int_eq(smr_softmax_temperature_f64(zd, NULL, 2, 3, 1.0), SMR_EINVAL);
  ck_assert_int_eq(smr_log_softmax_f32(zf, NULL, 2, 3), SMR_EINVAL);
  ck_assert_int_eq(smr_log_softmax_f64(NULL, pd, 2, 3), SMR_EINVAL);
  ck_assert_int_eq(smr_one_hot_f32(NULL, 2, 3, pf), SMR_EINVAL);
  ck_assert_int_eq(smr_one_hot_f64(lab, 2, 3, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_cross_entropy_f32(NULL, pf, 2, 3, &loss), SMR_EINVAL);
  ck_assert_int_eq(smr_cross_entropy_f64(zd, NULL, 2, 3, &loss), SMR_EINVAL);
  ck_assert_int_eq(smr_cross_entropy_f64(zd, pd, 2, 3, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_cross_entropy_logits_f32(NULL, lab, 2, 3, &loss, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_cross_entropy_logits_f64(zd, NULL, 2, 3, &loss, NULL), SMR_EINVAL);
  /* k = 0, with and without rows */
  for (size_t n = 0; n < 2; n++) {
    ck_assert_int_eq(smr_softmax_f32(zf, pf, n, 0), SMR_EINVAL);
    ck_assert_int_eq(smr_softmax_f64(zd, pd, n, 0), SMR_EINVAL);
    ck_assert_int_eq(smr_softmax_online_f64(zd, pd, n, 0), SMR_EINVAL);
    ck_assert_int_eq(smr_softmax_temperature_f64(zd, pd, n, 0, 1.0), SMR_EINVAL);
    ck_assert_int_eq(smr_log_softmax_f32(zf, pf, n, 0), SMR_EINVAL);
    ck_assert_int_eq(smr_one_hot_f64(lab, n, 0, pd), SMR_EINVAL);
    ck_assert_int_eq(smr_cross_entropy_f32(zf, pf, n, 0, &loss), SMR_EINVAL);
    ck_assert_int_eq(smr_cross_entropy_logits_f64(zd, lab, n, 0, &loss, pd), SMR_EINVAL);
  }
  /* bad temperatures */
  const double bad_t[] = {0.0, -0.0, -1.0, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < 6; i++) {
    ck_assert_int_eq(smr_softmax_temperature_f32(zf, pf, 2, 3, (float)bad_t[i]), SMR_EINVAL);
    ck_assert_int_eq(smr_softmax_temperature_f64(zd, pd, 2, 3, bad_t[i]), SMR_EINVAL);
  }
  /* loss and grad both NULL */
  ck_assert_int_eq(smr_cross_entropy_logits_f32(zf, lab, 2, 3, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_cross_entropy_logits_f64(zd, lab, 2, 3, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_cross_entropy_logits_f64(zd, lab, 0, 3, NULL, NULL), SMR_EINVAL);
}
END_TEST

/* Labels -1 and k: SMR_ERANGE and nothing written (outputs keep a
   sentinel; in place, z keeps its values). */
START_TEST(test_erange) {
  const int32_t bad[2][3] = {{0, -1, 2}, {0, 3, 1}};
  for (int b = 0; b < 2; b++) {
    float yf[9], gf[9], zf[9];
    double yd[9], gd[9], zd[9], loss = 42.0;
    for (int i = 0; i < 9; i++) {
      yf[i] = gf[i] = 7.0f;
      yd[i] = gd[i] = 7.0;
      zf[i] = (float)i;
      zd[i] = i;
    }
    ck_assert_int_eq(smr_one_hot_f32(bad[b], 3, 3, yf), SMR_ERANGE);
    ck_assert_int_eq(smr_one_hot_f64(bad[b], 3, 3, yd), SMR_ERANGE);
    ck_assert_int_eq(smr_cross_entropy_logits_f32(zf, bad[b], 3, 3, &loss, gf), SMR_ERANGE);
    ck_assert_int_eq(smr_cross_entropy_logits_f64(zd, bad[b], 3, 3, &loss, gd), SMR_ERANGE);
    ck_assert_int_eq(smr_cross_entropy_logits_f64(zd, bad[b], 3, 3, &loss, NULL), SMR_ERANGE);
    ck_assert_int_eq(smr_cross_entropy_logits_f32(zf, bad[b], 3, 3, NULL, zf), SMR_ERANGE);
    ck_assert_int_eq(smr_cross_entropy_logits_f64(zd, bad[b], 3, 3, &loss, zd), SMR_ERANGE);
    ck_assert(loss == 42.0);
    for (int i = 0; i < 9; i++) {
      ck_assert(yf[i] == 7.0f && gf[i] == 7.0f && yd[i] == 7.0 && gd[i] == 7.0);
      ck_assert(zf[i] == (float)i && zd[i] == i);
    }
  }
}
END_TEST

/* n * k overflows: rejected before any memory is touched (the dummy
   buffers hold a handful of elements). */
START_TEST(test_eoverflow) {
  float f[4] = {0};
  double d[4] = {0}, loss = 0;
  int32_t lab[4] = {0};
  const size_t shapes[2][2] = {{SIZE_MAX / 2, 3}, {3, SIZE_MAX / 2}};
  for (int s = 0; s < 2; s++) {
    const size_t n = shapes[s][0], k = shapes[s][1];
    ck_assert_int_eq(smr_softmax_f32(f, f, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_softmax_f64(d, d, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_softmax_online_f32(f, f, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_softmax_online_f64(d, d, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_softmax_temperature_f32(f, f, n, k, 2.0f), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_softmax_temperature_f64(d, d, n, k, 2.0), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_log_softmax_f32(f, f, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_log_softmax_f64(d, d, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_one_hot_f32(lab, n, k, f), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_one_hot_f64(lab, n, k, d), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_cross_entropy_f32(f, f, n, k, &loss), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_cross_entropy_f64(d, d, n, k, &loss), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_cross_entropy_logits_f32(f, lab, n, k, &loss, f), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_cross_entropy_logits_f64(d, lab, n, k, &loss, NULL), SMR_EOVERFLOW);
  }
}
END_TEST

/* n * k fits in size_t but n * k * sizeof(T) does not (or exceeds
   PTRDIFF_MAX): no buffer can be that large, so the call must be
   SMR_EOVERFLOW before it reads anything (it used to read out of bounds). */
START_TEST(test_eoverflow_bytes) {
  float f[4] = {0};
  double d[4] = {0}, loss = 0;
  int32_t lab[4] = {0};
  const size_t shapes[3][2] = {{SIZE_MAX / 8, 2}, {2, SIZE_MAX / 8}, {PTRDIFF_MAX / 8 + 1, 1}};
  for (int s = 0; s < 3; s++) {
    const size_t n = shapes[s][0], k = shapes[s][1];
    ck_assert_int_eq(smr_softmax_f64(d, d, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_softmax_online_f64(d, d, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_log_softmax_f64(d, d, n, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_one_hot_f64(lab, n, k, d), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_cross_entropy_f64(d, d, n, k, &loss), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_cross_entropy_logits_f64(d, lab, n, k, &loss, NULL), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_softmax_f32(f, f, n * 2, k), SMR_EOVERFLOW);
    ck_assert_int_eq(smr_cross_entropy_logits_f32(f, lab, n * 2, k, &loss, NULL), SMR_EOVERFLOW);
  }
}
END_TEST

/* Row losses near DBL_MAX: the mean is finite although the sum of the rows
   overflows. Reference: each row's loss lse(z) - z[y] in long double,
   averaged in long double. Both a call of two rows (one task) and one of
   many rows on several tasks; the in-place gradient keeps its rows. */
START_TEST(test_ce_mean_not_sum_overflow) {
  const size_t k = 2;
  double z2[4] = {1e308, -7e307, 1.2e308, -5e307}; /* rows 1.7e308 each */
  int32_t y2[2] = {1, 1};
  long double ref = 0.0L;
  for (int i = 0; i < 2; i++) {
    long double a = z2[2 * i], b = z2[2 * i + 1];
    long double lse = a + log1pl(expl(b - a));
    ref += (lse - b) / 2.0L;
  }
  double loss = 0.0, g[4];
  ck_assert_int_eq(smr_cross_entropy_logits_f64(z2, y2, 2, k, &loss, NULL), SMR_OK);
  ck_assert_msg(isfinite(loss) && fabsl((long double)loss - ref) <= 1e-15L * ref,
                "loss %.17g, reference %.17Lg", loss, ref);
  ck_assert_int_eq(smr_cross_entropy_logits_f64(z2, y2, 2, k, &loss, g), SMR_OK);
  ck_assert(isfinite(loss) && fabsl((long double)loss - ref) <= 1e-15L * ref);
  ck_assert(g[0] == 0.5 && g[1] == -0.5 && g[2] == 0.5 && g[3] == -0.5);
  /* 2^18 + 10 rows of k = 2: several row tasks, each sum overflowing */
  const size_t n = ((size_t)1 << 18) + 10;
  double *z = xmalloc(n * k * sizeof(double));
  int32_t *y = xmalloc(n * sizeof(int32_t));
  for (size_t i = 0; i < n; i++) {
    z[2 * i] = 1e308;
    z[2 * i + 1] = -5e307;
    y[i] = 1;
  }
  ck_assert_int_eq(smr_cross_entropy_logits_f64(z, y, n, k, &loss, NULL), SMR_OK);
  /* n row / n terms summed: within n * DBL_EPSILON of the exact mean */
  ck_assert_msg(isfinite(loss) && fabs(loss - 1.5e308) <= (double)n * DBL_EPSILON * 1.5e308,
                "loss %.17g", loss);
  /* a row whose own loss is infinite keeps the mean infinite */
  z[1] = -DBL_MAX;
  ck_assert_int_eq(smr_cross_entropy_logits_f64(z, y, n, k, &loss, NULL), SMR_OK);
  ck_assert(loss == INFINITY);
  free(z);
  free(y);
}
END_TEST

/* n = 0: SMR_OK with NULL data; losses are 0. */
START_TEST(test_n_zero) {
  double loss = 5.0;
  ck_assert_int_eq(smr_softmax_f32(NULL, NULL, 0, 3), SMR_OK);
  ck_assert_int_eq(smr_softmax_f64(NULL, NULL, 0, 3), SMR_OK);
  ck_assert_int_eq(smr_softmax_online_f32(NULL, NULL, 0, 3), SMR_OK);
  ck_assert_int_eq(smr_softmax_online_f64(NULL, NULL, 0, 3), SMR_OK);
  ck_assert_int_eq(smr_softmax_temperature_f32(NULL, NULL, 0, 3, 2.0f), SMR_OK);
  ck_assert_int_eq(smr_softmax_temperature_f64(NULL, NULL, 0, 3, 2.0), SMR_OK);
  ck_assert_int_eq(smr_log_softmax_f32(NULL, NULL, 0, 3), SMR_OK);
  ck_assert_int_eq(smr_log_softmax_f64(NULL, NULL, 0, 3), SMR_OK);
  ck_assert_int_eq(smr_one_hot_f32(NULL, 0, 3, NULL), SMR_OK);
  ck_assert_int_eq(smr_one_hot_f64(NULL, 0, 3, NULL), SMR_OK);
  ck_assert_int_eq(smr_cross_entropy_f32(NULL, NULL, 0, 3, &loss), SMR_OK);
  ck_assert(loss == 0.0);
  loss = 5.0;
  ck_assert_int_eq(smr_cross_entropy_f64(NULL, NULL, 0, 3, &loss), SMR_OK);
  ck_assert(loss == 0.0);
  loss = 5.0;
  ck_assert_int_eq(smr_cross_entropy_logits_f32(NULL, NULL, 0, 3, &loss, NULL), SMR_OK);
  ck_assert(loss == 0.0);
  loss = 5.0;
  ck_assert_int_eq(smr_cross_entropy_logits_f64(NULL, NULL, 0, 3, &loss, NULL), SMR_OK);
  ck_assert(loss == 0.0);
  double g[1] = {9.0};
  ck_assert_int_eq(smr_cross_entropy_logits_f64(NULL, NULL, 0, 3, NULL, g), SMR_OK);
  ck_assert(g[0] == 9.0);
}
END_TEST

START_TEST(test_strerror) {
  const smr_status all[] = {SMR_OK,      SMR_EINVAL,       SMR_ERANGE, SMR_EOVERFLOW,
                            SMR_ENOMEM,  SMR_EUNSUPPORTED, SMR_EIO,    SMR_EFORMAT,
                            SMR_ENONFINITE};
  const size_t num = sizeof all / sizeof all[0];
  for (size_t i = 0; i < num; i++) {
    const char *s = smr_strerror(all[i]);
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(s[0] != '\0', "empty message for %d", (int)all[i]);
    ck_assert_str_ne(s, "unknown status");
    for (size_t j = 0; j < i; j++) ck_assert_str_ne(s, smr_strerror(all[j]));
  }
  ck_assert_str_eq(smr_strerror((smr_status)(SMR_ENONFINITE + 1)), "unknown status");
  ck_assert_str_eq(smr_strerror((smr_status)-1), "unknown status");
  ck_assert_str_eq(smr_strerror((smr_status)1000), "unknown status");
}
END_TEST

/* ======================================================================== */
/* Dispatch                                                                  */
/* ======================================================================== */

START_TEST(test_isa_names) {
  const char *const names[SMR_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    ck_assert_str_eq(smr_isa_name((smr_isa)i), names[i]);
    smr_isa back = (smr_isa)99;
    ck_assert_int_eq(smr_isa_from_name(smr_isa_name((smr_isa)i), &back), SMR_OK);
    ck_assert_int_eq(back, i);
  }
  ck_assert_str_eq(smr_isa_name((smr_isa)SMR_ISA_COUNT), "unknown");
  ck_assert_str_eq(smr_isa_name((smr_isa)-1), "unknown");
  smr_isa out = SMR_ISA_AVX2;
  ck_assert_int_eq(smr_isa_from_name(NULL, &out), SMR_EINVAL);
  ck_assert_int_eq(smr_isa_from_name("SCALAR", &out), SMR_EINVAL);
  ck_assert_int_eq(smr_isa_from_name("scalar ", &out), SMR_EINVAL);
  ck_assert_int_eq(smr_isa_from_name("", &out), SMR_EINVAL);
  ck_assert_int_eq(smr_isa_from_name("unknown", &out), SMR_EINVAL);
  ck_assert_int_eq(out, SMR_ISA_AVX2);
  ck_assert_int_eq(smr_isa_from_name("scalar", NULL), SMR_EINVAL);
}
END_TEST

START_TEST(test_scalar_always_there) {
  ck_assert(smr_isa_compiled(SMR_ISA_SCALAR));
  ck_assert(smr_isa_available(SMR_ISA_SCALAR));
  ck_assert(!smr_isa_compiled((smr_isa)99));
  ck_assert(!smr_isa_available((smr_isa)99));
  ck_assert(!smr_isa_available((smr_isa)-1));
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (smr_isa_available((smr_isa)i)) ck_assert(smr_isa_compiled((smr_isa)i));
    /* the table exists exactly for the available ISAs */
    ck_assert((smr_kernels_for(i) != NULL) == smr_isa_available((smr_isa)i));
  }
  ck_assert_ptr_null(smr_kernels_for(-1));
  ck_assert_ptr_null(smr_kernels_for(SMR_ISA_COUNT));
  ck_assert(smr_isa_available(smr_isa_active()));
#if defined(__x86_64__) || defined(__i386__)
  ck_assert(!smr_isa_available(SMR_ISA_NEON));
#elif defined(__aarch64__)
  ck_assert(!smr_isa_available(SMR_ISA_AVX2));
#endif
}
END_TEST

START_TEST(test_select) {
  const smr_isa before = smr_isa_active();
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (smr_isa_available((smr_isa)i)) continue;
    ck_assert_int_eq(smr_isa_select((smr_isa)i), SMR_EUNSUPPORTED);
    ck_assert_int_eq(smr_isa_active(), before);
  }
#if defined(__x86_64__) || defined(__i386__)
  ck_assert_int_eq(smr_isa_select(SMR_ISA_NEON), SMR_EUNSUPPORTED);
  ck_assert_int_eq(smr_isa_active(), before);
#endif
  ck_assert_int_eq(smr_isa_select((smr_isa)99), SMR_EINVAL);
  ck_assert_int_eq(smr_isa_select((smr_isa)-1), SMR_EINVAL);
  ck_assert_int_eq(smr_isa_active(), before);
  ck_assert_int_eq(smr_isa_select(SMR_ISA_SCALAR), SMR_OK);
  ck_assert_int_eq(smr_isa_active(), SMR_ISA_SCALAR);
  /* the scalar table (with CBLAS's matrix products when built with BLAS) */
  ck_assert(smr_kernels_active()->f64.softmax == smr_kernels_for(SMR_ISA_SCALAR)->f64.softmax);
  /* kernels work after the switch */
  const double z[2] = {0, 0};
  double p[2];
  ck_assert_int_eq(smr_softmax_f64(z, p, 1, 2), SMR_OK);
  ck_assert(p[0] == 0.5 && p[1] == 0.5);
  ck_assert_int_eq(smr_isa_select(before), SMR_OK);
  ck_assert_int_eq(smr_isa_active(), before);
}
END_TEST

/* Path of this executable, for the child processes of test_env_status. */
static char self_path[4096] = "/proc/self/exe";

/* Runs this program with SMR_ISA=value (NULL: unset) and "--env-status";
   the child prints smr_isa_env_status() and smr_isa_active(). */
static void child_env_status(const char *value, int *status, int *active) {
  size_t count = 0;
  while (environ[count] != NULL) count++;
  char **envp = xmalloc((count + 2) * sizeof *envp);
  size_t m = 0;
  for (size_t i = 0; i < count; i++)
    if (strncmp(environ[i], "SMR_ISA=", 8) != 0) envp[m++] = environ[i];
  char entry[256];
  if (value != NULL) {
    snprintf(entry, sizeof entry, "SMR_ISA=%s", value);
    envp[m++] = entry;
  }
  envp[m] = NULL;

  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  char arg0[] = "test_kernels", arg1[] = "--env-status";
  char *argv[] = {arg0, arg1, NULL};
  pid_t pid;
  const int rc = posix_spawn(&pid, self_path, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  ck_assert_msg(rc == 0, "posix_spawn(%s) failed: %d", self_path, rc);
  char out[128] = {0};
  size_t got = 0;
  ssize_t r;
  while (got < sizeof out - 1 && (r = read(fds[0], out + got, sizeof out - 1 - got)) > 0)
    got += (size_t)r;
  close(fds[0]);
  int wst = 0;
  ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
  ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "child failed (%d)", wst);
  ck_assert_msg(sscanf(out, "%d %d", status, active) == 2, "child printed '%s'", out);
  free(envp);
}

START_TEST(test_env_status) {
  int best = SMR_ISA_SCALAR, unavailable = -1;
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (smr_isa_available((smr_isa)i))
      best = i;
    else if (unavailable < 0)
      unavailable = i;
  }
  int st, act;
  child_env_status(NULL, &st, &act);
  ck_assert_int_eq(st, SMR_OK);
  ck_assert_int_eq(act, best);
  child_env_status("", &st, &act);
  ck_assert_int_eq(st, SMR_OK);
  ck_assert_int_eq(act, best);
  child_env_status("scalar", &st, &act);
  ck_assert_int_eq(st, SMR_OK);
  ck_assert_int_eq(act, SMR_ISA_SCALAR);
  child_env_status("bogus", &st, &act);
  ck_assert_int_eq(st, SMR_EINVAL);
  ck_assert_int_eq(act, best);
  child_env_status("SCALAR", &st, &act);
  ck_assert_int_eq(st, SMR_EINVAL);
  ck_assert_int_eq(act, best);
  if (unavailable >= 0) {
    child_env_status(smr_isa_name((smr_isa)unavailable), &st, &act);
    ck_assert_int_eq(st, SMR_EUNSUPPORTED);
    ck_assert_int_eq(act, best);
  }
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (!smr_isa_available((smr_isa)i)) continue;
    child_env_status(smr_isa_name((smr_isa)i), &st, &act);
    ck_assert_int_eq(st, SMR_OK);
    ck_assert_int_eq(act, i);
  }
}
END_TEST

/* Kernels keep working while another thread switches the ISA back and
   forth (smr_isa_select is thread-safe; a running call finishes on the
   table it loaded). */
static void *softmax_worker(void *arg) {
  const double z[5] = {0.5, -1, 3, 2, 0};
  long double ref[5], sum = 0; /* the softmax in long double (max 3) */
  for (int j = 0; j < 5; j++) sum += ref[j] = expl((long double)z[j] - 3);
  for (int j = 0; j < 5; j++) ref[j] /= sum;
  double p[5];
  for (int it = 0; it < 2000; it++) {
    if (smr_softmax_f64(z, p, 1, 5) != SMR_OK) return arg;
    for (int j = 0; j < 5; j++)
      if (!(fabsl((long double)p[j] - ref[j]) <= 4 * DBL_EPSILON * ref[j])) return arg;
  }
  return NULL;
}

START_TEST(test_concurrent_select) {
  pthread_t th[4];
  int dummy;
  for (int i = 0; i < 4; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, softmax_worker, &dummy), 0);
  const smr_isa before = smr_isa_active();
  for (int it = 0; it < 2000; it++)
    for (int isa = 0; isa < SMR_ISA_COUNT; isa++)
      if (smr_isa_available((smr_isa)isa)) ck_assert_int_eq(smr_isa_select((smr_isa)isa), SMR_OK);
  ck_assert_int_eq(smr_isa_select(before), SMR_OK);
  for (int i = 0; i < 4; i++) {
    void *res;
    ck_assert_int_eq(pthread_join(th[i], &res), 0);
    ck_assert_msg(res == NULL, "worker %d saw a wrong softmax", i);
  }
}
END_TEST

/* ======================================================================== */

static TCase *tcase(Suite *s, const char *name) {
  TCase *tc = tcase_create(name);
  tcase_set_timeout(tc, 120);
  suite_add_tcase(s, tc);
  return tc;
}

#define DT_LOOP(tc, fn) tcase_add_loop_test(tc, fn, F32, NUM_DT)

static Suite *values_suite(void) {
  Suite *s = suite_create("values");
  TCase *tc = tcase(s, "exact");
  DT_LOOP(tc, test_argmax);
  DT_LOOP(tc, test_one_hot);
  return s;
}

static Suite *api_suite(void) {
  Suite *s = suite_create("api");
  TCase *tc = tcase(s, "errors");
  tcase_add_test(tc, test_einval);
  tcase_add_test(tc, test_erange);
  tcase_add_test(tc, test_eoverflow);
  tcase_add_test(tc, test_eoverflow_bytes);
  tcase_add_test(tc, test_ce_mean_not_sum_overflow);
  tcase_add_test(tc, test_n_zero);
  tcase_add_test(tc, test_strerror);
  tc = tcase(s, "dispatch");
  tcase_add_test(tc, test_isa_names);
  tcase_add_test(tc, test_scalar_always_there);
  tcase_add_test(tc, test_select);
  tcase_add_test(tc, test_env_status);
  tcase_add_test(tc, test_concurrent_select);
  return s;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--env-status") == 0) {
    /* child mode of test_env_status */
    printf("%d %d\n", (int)smr_isa_env_status(), (int)smr_isa_active());
    return 0;
  }
  const ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (len > 0)
    self_path[len] = '\0';
  else if (argc >= 1)
    snprintf(self_path, sizeof self_path, "%s", argv[0]);
  /* Under user-mode emulation (SMR_TEST_EMULATOR, set by tests/meson.build
     and tools/test.sh) test_env_status's children would run natively or not
     at all: spawn tests/emulated.sh, which runs this binary under it again. */
  const char *emulator = getenv("SMR_TEST_EMULATOR");
  if (emulator != NULL && emulator[0] != '\0') {
    if (setenv("SMR_TEST_SELF", self_path, 1) != 0) {
      perror("setenv");
      return 1;
    }
    snprintf(self_path, sizeof self_path, "%s", SMR_TEST_EMULATED_SH);
  }
  smr_test_isa_guard();

  SRunner *sr = srunner_create(values_suite());
  srunner_add_suite(sr, api_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed != 0 ? 1 : 0;
}
