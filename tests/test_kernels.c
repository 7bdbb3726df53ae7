/*
 * test_kernels.c - the row-wise kernels of smr.h, the kernel table of
 * src/kernels.h and the ISA dispatch, against independent references.
 *
 * Every kernel is compared with a plain long-double implementation written
 * here from the definitions (and the special-value rules at the top of
 * smr.h), never with hard-coded outputs, except for the published values
 * the seed names (1/3, ~4.6, log 3). The public kernels run on every
 * available ISA (smr_isa_select); the table-level kernels on every
 * available table (smr_kernels_for). Buffers carry guard bytes on both
 * sides, start 0..3 elements past a 64-byte boundary, and inputs are
 * checked to be left unmodified.
 *
 * Tolerances (eps = FLT_EPSILON or DBL_EPSILON of the dtype, tiny = its
 * smallest subnormal; a value passes when |got - ref| <= rel*|ref| + abs,
 * NaN matches NaN, and infinities must be equal):
 *   softmax, temperature:  rel 4 eps, abs 2 tiny
 *   softmax_online:        as softmax, plus DBL_EPSILON per rescale (each
 *                          new running max rescales the sum once more;
 *                          about ln k rescales for random rows, k for an
 *                          increasing one)
 *   log_softmax:           rel 4 eps, abs 2 tiny
 *   ce_logits gradient:    rel 4 eps, abs 2 tiny (scale 1/n rounded to T)
 *   ce_logits loss, ce_prob (carried in double for both dtypes):
 *                          rel 64 DBL_EPSILON, abs 1e-300
 *   sum to one:            |sum_j p_j - 1| <= 8 eps for every k
 *   online vs two-pass:    rel 8 eps + DBL_EPSILON per rescale, abs 2 tiny
 *   log_softmax vs log(softmax) where p is normal: |diff| <= 8 eps (1+|log p|)
 *   linear_forward, xt_g, colsum (accumulated in the dtype): the classic
 *     recursive-summation bound (terms + 1) eps * sum |terms|
 *   axpy: 2 eps (|y| + |a x|); sumsq: (len + 2) DBL_EPSILON * sum;
 *   standardize: rel 2 eps, abs 2 tiny.
 * The SIMD ISAs (src/kernels_simd.h) form d_j = z_j - m in the dtype before
 * exp, so p_j inherits d_j's rounding (relative |d_j| eps / 2), and sum in
 * the dtype four vectors at a time: on top of the bounds above they get
 * isa_rel() = (SIMD_A + dmax) eps relative, dmax the largest |z_j - m| of
 * the row below the underflow threshold; the CE loss gets the same relative
 * slack and an absolute k tiny (terms whose exp underflows the dtype are 0;
 * otherwise nearly one-hot rows keep full relative accuracy).
 * tests/test_isa.c holds the per-ISA, per-kernel bounds; these are the
 * coarser ones for the public API on every ISA.
 * Set SMR_TEST_VERBOSE=1 to print, per test, the worst error seen as a
 * fraction of its tolerance (useful when porting a kernel to a new ISA).
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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Dtypes: tests are written once and run as loop tests, _i = F32 or F64.   */
/* ------------------------------------------------------------------------ */

enum { F32 = 0, F64 = 1, NUM_DT = 2 };

static const char *dt_name(int dt) { return dt == F32 ? "f32" : "f64"; }
static size_t dt_size(int dt) { return dt == F32 ? sizeof(float) : sizeof(double); }
static double dt_eps(int dt) { return dt == F32 ? FLT_EPSILON : DBL_EPSILON; }
static double dt_tiny(int dt) { return dt == F32 ? FLT_TRUE_MIN : DBL_TRUE_MIN; }
static double dt_max(int dt) { return dt == F32 ? FLT_MAX : DBL_MAX; }
/* x rounded to the dtype. Kept out of line: GCC 12.2 at -O3 was seen to
   SLP-vectorize an inlined `dt == F32 ? (double)(float)x : x` over a small
   array and drop the conversion of the first two lanes (wrong code). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static double dt_round(int dt, double x) {
  return dt == F32 ? (double)(float)x : x;
}

static double get(int dt, const void *a, size_t i) {
  return dt == F32 ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

static void put(int dt, void *a, size_t i, double v) {
  if (dt == F32)
    ((float *)a)[i] = (float)v;
  else
    ((double *)a)[i] = v;
}

/* ------------------------------------------------------------------------ */
/* Random numbers (independent of the library's generator)                   */
/* ------------------------------------------------------------------------ */

typedef struct {
  uint64_t s;
} trng;

static uint64_t trng_next(trng *r) { /* splitmix64 */
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

/* len values scale * N(0,1), rounded to the dtype. */
static void fill_normal(int dt, double *z, size_t len, double scale, trng *r) {
  for (size_t i = 0; i < len; i++) z[i] = dt_round(dt, scale * trng_normal(r));
}

/* ------------------------------------------------------------------------ */
/* Comparisons                                                               */
/* ------------------------------------------------------------------------ */

/* Worst |got - ref| / tolerance per label, printed by report_worst. */
#define MAX_WORST 32
static struct {
  const char *label;
  double ratio;
} worst[MAX_WORST];

static void note_ratio(const char *label, double ratio) {
  for (int i = 0; i < MAX_WORST; i++) {
    if (worst[i].label == NULL) {
      worst[i].label = label;
      worst[i].ratio = ratio;
      return;
    }
    if (strcmp(worst[i].label, label) == 0) {
      if (ratio > worst[i].ratio) worst[i].ratio = ratio;
      return;
    }
  }
}

static void report_worst(void) {
  if (getenv("SMR_TEST_VERBOSE") != NULL)
    for (int i = 0; i < MAX_WORST && worst[i].label != NULL; i++)
      fprintf(stderr, "  %-16s worst %-32s %.3f of tolerance\n", tcase_name(), worst[i].label,
              worst[i].ratio);
  memset(worst, 0, sizeof worst);
}

static bool close_to(double got, long double ref, double rel, double abs_tol, const char *label) {
  if (isnan(ref)) return isnan(got);
  if (isinf(ref) || isinf(got)) return (long double)got == ref;
  if (isnan(got)) return false;
  const long double err = fabsl((long double)got - ref);
  const long double tol = (long double)rel * fabsl(ref) + (long double)abs_tol;
  if (label != NULL && tol > 0) note_ratio(label, (double)(err / tol));
  return err <= tol;
}

/* Fails the test with the formatted context unless got is close to ref. */
#if defined(__GNUC__)
__attribute__((format(printf, 6, 7)))
#endif
static void expect_close(double got, long double ref, double rel, double abs_tol, const char *label,
                         const char *fmt, ...) {
  if (close_to(got, ref, rel, abs_tol, label)) return;
  char ctx[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  ck_abort_msg("%s [%s]: got %.17g, expected %.21Lg (rel %g, abs %g)", ctx, label ? label : "",
               got, ref, rel, abs_tol);
}

/* Bitwise equality of doubles (NaN payloads included). */
static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ------------------------------------------------------------------------ */
/* Guarded buffers                                                           */
/* ------------------------------------------------------------------------ */

#define GUARD_ELEMS 16
#define GUARD_BYTE 0xA5

typedef struct {
  unsigned char *mem, *data;
  size_t bytes, total;
} gbuf;

/* len elements of dt starting `off` elements past a 64-byte boundary, with
   at least GUARD_ELEMS guard elements of GUARD_BYTE on each side. */
static void *gb_alloc(gbuf *b, int dt, size_t len, size_t off) {
  const size_t esz = dt_size(dt);
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

/* ------------------------------------------------------------------------ */
/* Long-double references, written from the definitions and smr.h's rules    */
/* ------------------------------------------------------------------------ */

/* What a row is made of: the extended softmax depends only on this. */
typedef struct {
  bool nan_row;     /* a NaN, or no entry above -inf: the output row is NaN */
  size_t pinf;      /* number of +inf entries (no NaN) */
  long double m;    /* max of the finite entries */
  size_t jmax;      /* its first index */
  long double rest; /* sum over finite j != jmax of exp(z_j - m) */
} ref_row;

static ref_row ref_analyze(const long double *z, size_t k) {
  ref_row r = {false, 0, -INFINITY, 0, 0};
  bool any_nan = false;
  size_t finite = 0;
  for (size_t j = 0; j < k; j++) {
    if (isnan(z[j])) {
      any_nan = true;
    } else if (z[j] == INFINITY) {
      r.pinf++;
    } else if (z[j] != -INFINITY) {
      finite++;
      if (z[j] > r.m) {
        r.m = z[j];
        r.jmax = j;
      }
    }
  }
  r.nan_row = any_nan || (r.pinf == 0 && finite == 0);
  if (!r.nan_row && r.pinf == 0)
    for (size_t j = 0; j < k; j++)
      if (j != r.jmax && isfinite(z[j])) r.rest += expl(z[j] - r.m);
  return r;
}

static void ref_softmax_row(const long double *z, long double *p, size_t k) {
  const ref_row r = ref_analyze(z, k);
  for (size_t j = 0; j < k; j++) {
    if (r.nan_row)
      p[j] = NAN;
    else if (r.pinf > 0)
      p[j] = z[j] == INFINITY ? 1.0L / (long double)r.pinf : 0.0L;
    else
      p[j] = z[j] == -INFINITY ? 0.0L : expl(z[j] - r.m) / (1.0L + r.rest);
  }
}

static void ref_log_softmax_row(const long double *z, long double *out, size_t k) {
  const ref_row r = ref_analyze(z, k);
  for (size_t j = 0; j < k; j++) {
    if (r.nan_row)
      out[j] = NAN;
    else if (r.pinf > 0)
      out[j] = z[j] == INFINITY ? -logl((long double)r.pinf) : -INFINITY;
    else
      out[j] = z[j] == -INFINITY ? -INFINITY : (z[j] - r.m) - log1pl(r.rest);
  }
}

/* -log(p_label) of the extended softmax. */
static long double ref_ce_row(const long double *z, size_t label, size_t k) {
  const ref_row r = ref_analyze(z, k);
  if (r.nan_row) return NAN;
  if (r.pinf > 0) return z[label] == INFINITY ? logl((long double)r.pinf) : INFINITY;
  if (z[label] == -INFINITY) return INFINITY;
  return (r.m - z[label]) + log1pl(r.rest);
}

/* ------------------------------------------------------------------------ */
/* Calling the public row kernels with doubles in and out                    */
/* ------------------------------------------------------------------------ */

enum rowop { OP_SOFTMAX, OP_ONLINE, OP_TEMP, OP_LOGSM, NUM_OPS };
static const char *const op_names[NUM_OPS] = {"softmax", "softmax_online", "softmax_temperature",
                                              "log_softmax"};

static smr_status call_rowop(int dt, enum rowop op, const void *z, void *p, size_t n, size_t k,
                             double t) {
  if (dt == F32) {
    switch (op) {
    case OP_SOFTMAX: return smr_softmax_f32(z, p, n, k);
    case OP_ONLINE: return smr_softmax_online_f32(z, p, n, k);
    case OP_TEMP: return smr_softmax_temperature_f32(z, p, n, k, (float)t);
    case OP_LOGSM: return smr_log_softmax_f32(z, p, n, k);
    case NUM_OPS: break;
    }
  } else {
    switch (op) {
    case OP_SOFTMAX: return smr_softmax_f64(z, p, n, k);
    case OP_ONLINE: return smr_softmax_online_f64(z, p, n, k);
    case OP_TEMP: return smr_softmax_temperature_f64(z, p, n, k, t);
    case OP_LOGSM: return smr_log_softmax_f64(z, p, n, k);
    case NUM_OPS: break;
    }
  }
  ck_abort_msg("bad op");
  return SMR_EINVAL;
}

/* Runs `op` on the n x k matrix z (values representable in dt) into out.
   in_off/out_off: element offsets past a 64-byte boundary (out_off unused
   in place). Checks guards and that an out-of-place input is unchanged. */
static smr_status run_rowop(int dt, enum rowop op, const double *z, double *out, size_t n,
                            size_t k, double t, bool in_place, size_t in_off, size_t out_off) {
  const size_t len = n * k;
  gbuf bin = {0}, bout = {0};
  void *in = gb_alloc(&bin, dt, len, in_off);
  for (size_t i = 0; i < len; i++) put(dt, in, i, z[i]);
  void *copy = xmalloc(len * dt_size(dt));
  memcpy(copy, in, len * dt_size(dt));
  void *o = in_place ? in : gb_alloc(&bout, dt, len, out_off);

  const smr_status st = call_rowop(dt, op, in, o, n, k, t);

  gb_check(&bin, op_names[op]);
  if (!in_place) {
    gb_check(&bout, op_names[op]);
    ck_assert_msg(memcmp(copy, in, len * dt_size(dt)) == 0, "%s modified its input", op_names[op]);
  }
  for (size_t i = 0; i < len; i++) out[i] = get(dt, o, i);
  free(copy);
  gb_free(&bin);
  if (!in_place) gb_free(&bout);
  return st;
}

/* z_j as the kernel sees it: z_j / t divided in the dtype for temperature. */
static long double op_input(int dt, enum rowop op, double z, double t) {
  if (op != OP_TEMP) return z;
  if (dt == F32) {
    const float q = (float)z / (float)t;
    return q;
  }
  const double q = z / t;
  return q;
}

static void ref_rowop(int dt, enum rowop op, const double *z, long double *ref, size_t n,
                      size_t k, double t) {
  long double *x = xmalloc(k * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < k; j++) x[j] = op_input(dt, op, z[i * k + j], t);
    if (op == OP_LOGSM)
      ref_log_softmax_row(x, ref + i * k, k);
    else
      ref_softmax_row(x, ref + i * k, k);
  }
  free(x);
}

/* How often the running max of a row increases: the number of rescales
   the online kernel makes, each worth about one DBL_EPSILON of relative
   error in its sum (exp(m_old - m_new) and the product each round once). */
static size_t count_rescales(const double *z, size_t k) {
  double m = -INFINITY;
  size_t c = 0;
  for (size_t j = 0; j < k; j++)
    if (z[j] > m) {
      m = z[j];
      c++;
    }
  return c;
}

/* Extra relative tolerance of the active ISA (see the top of the file):
   0 for scalar; (SIMD_A + dmax) eps for the SIMD kernels. */
#define SIMD_A 8.0
static double isa_rel(int dt, double dmax) {
  if (smr_isa_active() == SMR_ISA_SCALAR) return 0.0;
  return (SIMD_A + dmax) * dt_eps(dt);
}

/* max |z_j - m| over the entries of a row whose exp does not underflow
   (t: the temperature divides every entry). */
static double row_dmax(int dt, const double *row, size_t k, double t) {
  double m = -INFINITY, dmax = 0;
  for (size_t j = 0; j < k; j++)
    if (row[j] / t > m) m = row[j] / t;
  if (!isfinite(m)) return 0;
  const double limit = dt == F32 ? 104.0 : 746.0;
  for (size_t j = 0; j < k; j++) {
    const double d = m - row[j] / t;
    if (d < limit && d > dmax) dmax = d;
  }
  return dmax;
}

static void tol_rowop(int dt, enum rowop op, const double *row, size_t k, double t,
                      double *rel, double *abs_tol) {
  *rel = 4 * dt_eps(dt) + isa_rel(dt, row_dmax(dt, row, k, op == OP_TEMP ? t : 1.0));
  *abs_tol = 2 * dt_tiny(dt);
  if (op == OP_ONLINE) *rel += (double)count_rescales(row, k) * DBL_EPSILON;
}

static const char *tol_label(int dt, enum rowop op) {
  static char buf[NUM_DT][NUM_OPS][48];
  snprintf(buf[dt][op], sizeof buf[dt][op], "%s %s", op_names[op], dt_name(dt));
  return buf[dt][op];
}

/* Runs op and compares every element with the reference. */
static void check_rowop(int dt, enum rowop op, const double *z, size_t n, size_t k, double t,
                        bool in_place, size_t in_off, size_t out_off, const char *what) {
  double *out = xmalloc(n * k * sizeof *out);
  long double *ref = xmalloc(n * k * sizeof *ref);
  const smr_status st = run_rowop(dt, op, z, out, n, k, t, in_place, in_off, out_off);
  ck_assert_msg(st == SMR_OK, "%s %s: status %d", op_names[op], dt_name(dt), (int)st);
  ref_rowop(dt, op, z, ref, n, k, t);
  double rel = 0, abs_tol = 0;
  for (size_t i = 0; i < n * k; i++) {
    if (i % k == 0) tol_rowop(dt, op, z + i, k, t, &rel, &abs_tol);
    expect_close(out[i], ref[i], rel, abs_tol, tol_label(dt, op),
                 "%s %s %s isa=%s n=%zu k=%zu t=%g row %zu col %zu (z=%.17g)%s", what,
                 op_names[op], dt_name(dt), smr_isa_name(smr_isa_active()), n, k, t, i / k,
                 i % k, z[i], in_place ? " in place" : "");
  }
  free(out);
  free(ref);
}

/* ------------------------------------------------------------------------ */
/* Calling the fused cross-entropy                                           */
/* ------------------------------------------------------------------------ */

enum gmode { G_NONE, G_OUT, G_INPLACE };

/* loss (may be NULL) and grad (n x k, used unless G_NONE) from
   smr_cross_entropy_logits_<dt>; guards and input checked. */
static smr_status run_ce(int dt, const double *z, const int32_t *labels, size_t n, size_t k,
                         double *loss, double *grad, enum gmode gm, size_t off) {
  const size_t len = n * k;
  gbuf bz = {0}, bg = {0}, bl = {0};
  void *zin = gb_alloc(&bz, dt, len, off);
  for (size_t i = 0; i < len; i++) put(dt, zin, i, z[i]);
  void *copy = xmalloc(len * dt_size(dt));
  memcpy(copy, zin, len * dt_size(dt));
  int32_t *lab = xmalloc(n * sizeof *lab);
  memcpy(lab, labels, n * sizeof *lab);
  gb_alloc(&bl, F64, 1, 0);
  double *lossp = loss != NULL ? (double *)bl.data : NULL;
  void *g = NULL;
  if (gm == G_OUT) g = gb_alloc(&bg, dt, len, (off + 1) % 4);
  if (gm == G_INPLACE) g = zin;

  smr_status st;
  if (dt == F32)
    st = smr_cross_entropy_logits_f32(zin, lab, n, k, lossp, g);
  else
    st = smr_cross_entropy_logits_f64(zin, lab, n, k, lossp, g);

  gb_check(&bz, "ce_logits z");
  gb_check(&bl, "ce_logits loss");
  ck_assert_msg(memcmp(lab, labels, n * sizeof *lab) == 0, "ce_logits modified labels");
  if (gm != G_INPLACE) ck_assert_msg(memcmp(copy, zin, len * dt_size(dt)) == 0, "ce_logits modified z");
  if (gm == G_OUT) gb_check(&bg, "ce_logits grad");
  if (loss != NULL) *loss = *lossp;
  if (gm != G_NONE)
    for (size_t i = 0; i < len; i++) grad[i] = get(dt, g, i);
  if (gm == G_OUT) gb_free(&bg);
  gb_free(&bl);
  gb_free(&bz);
  free(copy);
  free(lab);
  return st;
}

static const double LOSS_REL = 64 * DBL_EPSILON;
static const double LOSS_ABS = 1e-300;

/* Compares loss and gradient of one call with the reference. */
static void check_ce(int dt, const double *z, const int32_t *labels, size_t n, size_t k,
                     enum gmode gm, bool want_loss, size_t off, const char *what) {
  const size_t len = n * k;
  double loss = -12345.0;
  double *grad = xmalloc(len * sizeof *grad);
  const smr_status st =
      run_ce(dt, z, labels, n, k, want_loss ? &loss : NULL, grad, gm, off);
  ck_assert_msg(st == SMR_OK, "ce_logits %s status %d", dt_name(dt), (int)st);

  long double *x = xmalloc(k * sizeof *x), *p = xmalloc(k * sizeof *p);
  long double ref_loss = 0;
  const double eps = dt_eps(dt);
  double loss_rel = LOSS_REL;
  /* SIMD exps underflow at the dtype's smallest subnormal: each lost term
     is below tiny */
  const double loss_abs =
      smr_isa_active() == SMR_ISA_SCALAR ? LOSS_ABS : (double)k * dt_tiny(dt);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < k; j++) x[j] = z[i * k + j];
    const double slack = isa_rel(dt, row_dmax(dt, z + i * k, k, 1.0));
    if (LOSS_REL + slack > loss_rel) loss_rel = LOSS_REL + slack;
    ref_loss += ref_ce_row(x, (size_t)labels[i], k);
    if (gm == G_NONE) continue;
    ref_softmax_row(x, p, k);
    /* p_label - 1 = -(sum of the other p_j): exact where p_label ~ 1 */
    long double others = 0;
    for (size_t j = 0; j < k; j++)
      if (j != (size_t)labels[i]) others += p[j];
    for (size_t j = 0; j < k; j++) {
      const long double ref_g = (j == (size_t)labels[i] ? -others : p[j]) / (long double)n;
      expect_close(grad[i * k + j], ref_g, 4 * eps + slack, 2 * dt_tiny(dt),
                   dt == F32 ? "ce_logits grad f32" : "ce_logits grad f64",
                   "%s ce_logits %s isa=%s n=%zu k=%zu grad row %zu col %zu label %d gm=%d", what,
                   dt_name(dt), smr_isa_name(smr_isa_active()), n, k, i, j, (int)labels[i],
                   (int)gm);
    }
  }
  if (want_loss)
    expect_close(loss, ref_loss / (long double)n, loss_rel, loss_abs, "ce_logits loss",
                 "%s ce_logits %s isa=%s n=%zu k=%zu loss gm=%d", what, dt_name(dt),
                 smr_isa_name(smr_isa_active()), n, k, (int)gm);
  free(x);
  free(p);
  free(grad);
}

/* ------------------------------------------------------------------------ */
/* Shapes and ISA loop                                                       */
/* ------------------------------------------------------------------------ */

/* Row lengths below, at and above every plausible vector tile (4, 8, 16
   floats; 2, 4, 8 doubles, unrolled up to 4x), plus a long tail. */
static const size_t KS[] = {1,  2,  3,  4,  5,   6,   7,   8,   9,   15,   16,  17,
                            31, 32, 33, 63, 64,  65,  127, 128, 129, 255,  256, 257,
                            1000, 4097};
#define NUM_KS (sizeof KS / sizeof KS[0])
static const double SCALES[] = {1e-3, 1.0, 10.0, 100.0, 1e4};
#define NUM_SCALES (sizeof SCALES / sizeof SCALES[0])

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
    fill_normal(dt, z, n * k, 1.0, &r);
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

/* ======================================================================== */
/* The seed's test cases                                                     */
/* ======================================================================== */

/* softmax([1000, 1000, 1000]) = 1/3 each, no overflow (all four kernels). */
START_TEST(test_large_logits) {
  const int dt = _i;
  const double z[3] = {1000, 1000, 1000};
  double p[3];
  for (int isa = -1; next_isa(&isa);) {
    for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
      ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, p, 1, 3, 1.0, false, 0, 0), SMR_OK);
      for (int j = 0; j < 3; j++)
        expect_close(p[j], 1.0L / 3.0L, 2 * dt_eps(dt), 0, NULL, "%s %s [1000,1000,1000]",
                     op_names[op], dt_name(dt));
    }
  }
}
END_TEST

/* softmax([1000, 0, 0]) ~ [1, 0, 0]. */
START_TEST(test_mixed_extreme_logits) {
  const int dt = _i;
  const double z[3] = {1000, 0, 0};
  double p[3];
  for (int isa = -1; next_isa(&isa);) {
    for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
      ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, p, 1, 3, 1.0, false, 0, 0), SMR_OK);
      expect_close(p[0], 1.0L, dt_eps(dt), 0, NULL, "%s %s p0", op_names[op], dt_name(dt));
      for (int j = 1; j < 3; j++)
        ck_assert_msg(p[j] >= 0 && p[j] < 1e-300, "%s %s p%d = %g", op_names[op], dt_name(dt), j,
                      p[j]);
      check_rowop(dt, (enum rowop)op, z, 1, 3, 1.0, false, 0, 0, "mixed extreme");
    }
  }
}
END_TEST

/* softmax([-1000, -999, -998]): finite, no underflow, equal to the reference. */
START_TEST(test_negative_logits) {
  const int dt = _i;
  const double z[3] = {-1000, -999, -998};
  double p[3];
  for (int isa = -1; next_isa(&isa);) {
    for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
      ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, p, 1, 3, 1.0, false, 0, 0), SMR_OK);
      for (int j = 0; j < 3; j++)
        ck_assert_msg(isfinite(p[j]) && p[j] > 0.0, "%s %s p%d = %g", op_names[op], dt_name(dt),
                      j, p[j]);
      check_rowop(dt, (enum rowop)op, z, 1, 3, 1.0, false, 0, 0, "negative logits");
    }
    check_rowop(dt, OP_LOGSM, z, 1, 3, 1.0, false, 0, 0, "negative logits");
  }
}
END_TEST

/* softmax([0, 0, 0]) = 1/3 each. */
START_TEST(test_zero_logits) {
  const int dt = _i;
  const double z[3] = {0, 0, 0};
  double p[3];
  for (int isa = -1; next_isa(&isa);) {
    for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
      ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, p, 1, 3, 1.0, false, 0, 0), SMR_OK);
      for (int j = 0; j < 3; j++)
        expect_close(p[j], 1.0L / 3.0L, 2 * dt_eps(dt), 0, NULL, "%s %s [0,0,0]", op_names[op],
                     dt_name(dt));
    }
  }
}
END_TEST

/* Rows sum to one: |sum_j p_j - 1| <= 8 eps for k = 1..70 and longer rows,
   at every scale. Each p_j is within a couple of ulp of the exact value, so
   the sum is within a couple of eps of 1 whatever k is. */
START_TEST(test_sum_to_one) {
  const int dt = _i;
  trng r = {0x5EED0001u + (uint64_t)dt};
  const size_t n = 4;
  double *z = xmalloc(n * 4097 * sizeof *z), *p = xmalloc(n * 4097 * sizeof *p);
  for (int isa = -1; next_isa(&isa);) {
    for (size_t k = 1; k <= 4097; k = k < 70 ? k + 1 : k * 2 + 1) {
      for (size_t s = 0; s < NUM_SCALES; s++) {
        fill_normal(dt, z, n * k, SCALES[s], &r);
        for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
          ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, p, n, k, 0.7, false, 0, 0), SMR_OK);
          for (size_t i = 0; i < n; i++) {
            long double sum = 0;
            for (size_t j = 0; j < k; j++) sum += p[i * k + j];
            expect_close((double)sum, 1.0L, 0, 8 * dt_eps(dt), "sum to one",
                         "%s %s k=%zu scale %g row %zu", op_names[op], dt_name(dt), k, SCALES[s],
                         i);
          }
        }
      }
    }
  }
  free(z);
  free(p);
}
END_TEST

/* Outputs are strictly positive for moderate inputs (|z| <~ 20, so every
   exp(z_j - max) is far above the smallest float). */
START_TEST(test_positive_outputs) {
  const int dt = _i;
  trng r = {0x5EED0002u + (uint64_t)dt};
  double *z = xmalloc(3 * 300 * sizeof *z), *p = xmalloc(3 * 300 * sizeof *p);
  for (int isa = -1; next_isa(&isa);) {
    for (size_t k = 1; k <= 300; k += 7) {
      fill_normal(dt, z, 3 * k, 3.0, &r);
      for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
        ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, p, 3, k, 1.5, false, 1, 2), SMR_OK);
        for (size_t i = 0; i < 3 * k; i++)
          ck_assert_msg(p[i] > 0.0, "%s %s k=%zu: p[%zu] = %g for z = %g", op_names[op],
                        dt_name(dt), k, i, p[i], z[i]);
      }
    }
  }
  free(z);
  free(p);
}
END_TEST

/* z_i < z_j implies p_i <= p_j (and log-softmax likewise), all pairs. */
START_TEST(test_monotonicity) {
  const int dt = _i;
  trng r = {0x5EED0003u + (uint64_t)dt};
  double *z = xmalloc(2 * 70 * sizeof *z), *p = xmalloc(2 * 70 * sizeof *p);
  for (int isa = -1; next_isa(&isa);) {
    for (size_t k = 1; k <= 70; k++) {
      for (size_t s = 0; s < NUM_SCALES; s++) {
        fill_normal(dt, z, 2 * k, SCALES[s], &r);
        for (int op = 0; op < NUM_OPS; op++) {
          ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, p, 2, k, 0.3, false, 0, 0), SMR_OK);
          for (size_t i = 0; i < 2; i++)
            for (size_t a = 0; a < k; a++)
              for (size_t b = 0; b < k; b++)
                if (z[i * k + a] < z[i * k + b] && !(p[i * k + a] <= p[i * k + b]))
                  ck_abort_msg("%s %s k=%zu: z %.9g < %.9g but p %.9g > %.9g", op_names[op],
                               dt_name(dt), k, z[i * k + a], z[i * k + b], p[i * k + a],
                               p[i * k + b]);
        }
      }
    }
  }
  free(z);
  free(p);
}
END_TEST

/* softmax(z + c) = softmax(z). z is drawn on a grid of 1/64 so that z + c
   is exact in the dtype and the two calls see the same mathematical row. */
START_TEST(test_shift_invariance) {
  const int dt = _i;
  trng r = {0x5EED0004u + (uint64_t)dt};
  const double shifts_common[] = {-1000, -3.5, 0.25, 100, 1000, 4096};
  const double shifts_f64[] = {1e6, -1e9, 3e12};
  const size_t k = 37, n = 3;
  double z[3 * 37], zs[3 * 37], p[3 * 37], ps[3 * 37];
  for (int isa = -1; next_isa(&isa);) {
    for (size_t si = 0; si < 9; si++) {
      if (si >= 6 && dt == F32) break;
      const double c = si < 6 ? shifts_common[si] : shifts_f64[si - 6];
      for (size_t i = 0; i < n * k; i++) {
        z[i] = round(trng_normal(&r) * 4 * 64) / 64;
        zs[i] = z[i] + c;
        ck_assert(dt_round(dt, zs[i]) == zs[i] && dt_round(dt, z[i]) == z[i]);
      }
      for (int op = 0; op < NUM_OPS; op++) {
        ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, p, n, k, 1.0, false, 0, 0), SMR_OK);
        ck_assert_int_eq(run_rowop(dt, (enum rowop)op, zs, ps, n, k, 1.0, false, 0, 0), SMR_OK);
        for (size_t i = 0; i < n * k; i++)
          expect_close(ps[i], p[i], 4 * dt_eps(dt), 2 * dt_tiny(dt), "shift invariance",
                       "%s %s shift %g at %zu", op_names[op], dt_name(dt), c, i);
      }
    }
  }
}
END_TEST

/* smr_cross_entropy_<dt>(p, y) with p and y given as doubles. */
static double ce_prob_of(int dt, const double *p, const double *y, size_t n, size_t k) {
  gbuf bp, by;
  void *pb = gb_alloc(&bp, dt, n * k, 1), *yb = gb_alloc(&by, dt, n * k, 3);
  for (size_t i = 0; i < n * k; i++) {
    put(dt, pb, i, p[i]);
    put(dt, yb, i, y[i]);
  }
  double loss = NAN;
  const smr_status st = dt == F32 ? smr_cross_entropy_f32(pb, yb, n, k, &loss)
                                  : smr_cross_entropy_f64(pb, yb, n, k, &loss);
  ck_assert_int_eq(st, SMR_OK);
  gb_check(&bp, "ce p");
  gb_check(&by, "ce y");
  gb_free(&bp);
  gb_free(&by);
  return loss;
}

/* -(1/n) sum y log(p + 1e-15) with p and y as stored. The contract adds
   1e-15 in double ("accumulated in double"), so the reference does too
   (log(1 + 1e-15) is 1.11e-15 in double); the rest is long double. */
static long double ref_ce_prob(int dt, const double *p, const double *y, size_t n, size_t k) {
  long double acc = 0;
  for (size_t i = 0; i < n * k; i++) {
    const double yv = dt_round(dt, y[i]), pv = dt_round(dt, p[i]);
    if (yv != 0) acc += (long double)yv * logl((long double)(pv + 1e-15));
  }
  return -acc / (long double)n;
}

/* P equal to the one-hot Y: loss = -log(1 + 1e-15) ~ 0. The fused loss on
   confidently right logits is ~0 too. */
START_TEST(test_ce_perfect_prediction) {
  const int dt = _i;
  const size_t n = 4, k = 3;
  const int32_t labels[4] = {0, 2, 1, 2};
  double y[12] = {0}, z[12];
  for (size_t i = 0; i < n; i++) {
    y[i * k + (size_t)labels[i]] = 1.0;
    for (size_t j = 0; j < k; j++) z[i * k + j] = j == (size_t)labels[i] ? 60.0 : 0.0;
  }
  for (int isa = -1; next_isa(&isa);) {
    const double loss = ce_prob_of(dt, y, y, n, k);
    ck_assert_msg(fabs(loss) <= 1e-14, "%s perfect prediction loss %g", dt_name(dt), loss);
    expect_close(loss, ref_ce_prob(dt, y, y, n, k), LOSS_REL, LOSS_ABS, "ce_prob", "perfect");
    double l2;
    ck_assert_int_eq(run_ce(dt, z, labels, n, k, &l2, NULL, G_NONE, 0), SMR_OK);
    ck_assert_msg(l2 >= 0 && l2 <= 1e-20, "%s fused loss of a perfect prediction %g", dt_name(dt),
                  l2);
    check_ce(dt, z, labels, n, k, G_OUT, true, 0, "perfect prediction");
  }
}
END_TEST

/* 0.99 on a wrong class, 0.01 on the true one: loss = -log(0.01) ~ 4.6. */
START_TEST(test_ce_confident_wrong) {
  const int dt = _i;
  const size_t n = 3, k = 3;
  const double p[9] = {0.99, 0.01, 0, 0, 0.99, 0.01, 0.01, 0, 0.99};
  const double y[9] = {0, 1, 0, 0, 0, 1, 1, 0, 0};
  for (int isa = -1; next_isa(&isa);) {
    const double loss = ce_prob_of(dt, p, y, n, k);
    ck_assert_msg(fabs(loss - 4.6) < 0.01, "%s confident wrong loss %g", dt_name(dt), loss);
    expect_close(loss, ref_ce_prob(dt, p, y, n, k), LOSS_REL, LOSS_ABS, "ce_prob",
                 "confident wrong %s", dt_name(dt));
  }
}
END_TEST

/* P = [1/3, 1/3, 1/3] with any one-hot Y: loss = log 3 ~ 1.1 (also fused,
   from equal logits). */
START_TEST(test_ce_uniform_prediction) {
  const int dt = _i;
  const size_t n = 3, k = 3;
  double p[9], y[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, z[9] = {0};
  const int32_t labels[3] = {0, 1, 2};
  for (size_t i = 0; i < 9; i++) p[i] = dt_round(dt, 1.0 / 3.0);
  for (int isa = -1; next_isa(&isa);) {
    const double loss = ce_prob_of(dt, p, y, n, k);
    ck_assert_msg(fabs(loss - 1.1) < 0.01, "%s uniform loss %g", dt_name(dt), loss);
    /* p + 1e-15 moves the loss by -3e-15 */
    expect_close(loss, logl(3.0L), 2 * dt_eps(dt), 4e-15, NULL, "%s uniform vs log 3", dt_name(dt));
    expect_close(loss, ref_ce_prob(dt, p, y, n, k), LOSS_REL, LOSS_ABS, "ce_prob", "uniform");
    double l2;
    ck_assert_int_eq(run_ce(dt, z, labels, n, k, &l2, NULL, G_NONE, 0), SMR_OK);
    expect_close(l2, logl(3.0L), LOSS_REL, 0, NULL, "%s fused uniform vs log 3", dt_name(dt));
  }
}
END_TEST

/* ======================================================================== */
/* Row kernels against the reference                                         */
/* ======================================================================== */

/* Random normal rows at every scale and shape, rotating through in-place
   and offsets 0..3 of input and output. */
static void sweep_rowop(int dt, enum rowop op, double t, uint64_t seed) {
  trng r = {seed};
  double *z = xmalloc(5 * 4097 * sizeof *z);
  size_t c = 0;
  for (size_t ki = 0; ki < NUM_KS; ki++) {
    const size_t k = KS[ki];
    for (size_t n = 1; n <= (k > 257 ? 2u : 5u); n += 2) {
      for (size_t s = 0; s < NUM_SCALES; s++, c++) {
        fill_normal(dt, z, n * k, SCALES[s], &r);
        check_rowop(dt, op, z, n, k, t, c % 3 == 0, c % 4, (c / 4) % 4, "random");
      }
    }
  }
  free(z);
}

START_TEST(test_softmax_random) {
  for (int isa = -1; next_isa(&isa);) sweep_rowop(_i, OP_SOFTMAX, 1.0, 0xA11CE001u);
}
END_TEST

START_TEST(test_softmax_online_random) {
  for (int isa = -1; next_isa(&isa);) sweep_rowop(_i, OP_ONLINE, 1.0, 0xA11CE002u);
}
END_TEST

START_TEST(test_softmax_temperature_random) {
  const double ts[] = {0.01, 0.25, 1.0, 3.7, 1000.0};
  for (int isa = -1; next_isa(&isa);)
    for (size_t i = 0; i < 5; i++) sweep_rowop(_i, OP_TEMP, ts[i], 0xA11CE003u + i);
}
END_TEST

START_TEST(test_log_softmax_random) {
  for (int isa = -1; next_isa(&isa);) sweep_rowop(_i, OP_LOGSM, 1.0, 0xA11CE004u);
}
END_TEST

/* The online kernel agrees with the two-pass one: rel 8 eps plus one
   DBL_EPSILON per rescale of the row, abs 2 tiny. A row in increasing order
   forces a rescale at every entry. */
START_TEST(test_online_matches_two_pass) {
  const int dt = _i;
  trng r = {0xA11CE005u + (uint64_t)dt};
  double *z = xmalloc(3 * 4097 * sizeof *z), *a = xmalloc(3 * 4097 * sizeof *a),
         *b = xmalloc(3 * 4097 * sizeof *b);
  for (int isa = -1; next_isa(&isa);) {
    for (size_t ki = 0; ki < NUM_KS; ki++) {
      const size_t k = KS[ki], n = 3;
      for (size_t s = 0; s < NUM_SCALES; s++) {
        fill_normal(dt, z, n * k, SCALES[s], &r);
        if (s == 1) /* row 0 ascending: the worst case for the rescales */
          for (size_t j = 0; j < k; j++) z[j] = dt_round(dt, (double)j / (double)k * 5.0);
        ck_assert_int_eq(run_rowop(dt, OP_SOFTMAX, z, a, n, k, 1, false, 0, 0), SMR_OK);
        ck_assert_int_eq(run_rowop(dt, OP_ONLINE, z, b, n, k, 1, false, 0, 0), SMR_OK);
        for (size_t i = 0; i < n * k; i++)
          expect_close(b[i], a[i],
                       8 * dt_eps(dt) + (double)count_rescales(z + i / k * k, k) * DBL_EPSILON,
                       2 * dt_tiny(dt), "online vs two-pass",
                       "%s k=%zu scale %g at %zu", dt_name(dt), k, SCALES[s], i);
      }
    }
  }
  free(z);
  free(a);
  free(b);
}
END_TEST

/* log_softmax = log(softmax) wherever softmax is a normal number:
   |diff| <= 8 eps (1 + |log p|). */
START_TEST(test_log_softmax_matches_log_softmax) {
  const int dt = _i;
  trng r = {0xA11CE006u + (uint64_t)dt};
  double *z = xmalloc(3 * 4097 * sizeof *z), *p = xmalloc(3 * 4097 * sizeof *p),
         *lp = xmalloc(3 * 4097 * sizeof *lp);
  const double min_normal = dt == F32 ? FLT_MIN : DBL_MIN;
  for (int isa = -1; next_isa(&isa);) {
    for (size_t ki = 0; ki < NUM_KS; ki++) {
      const size_t k = KS[ki], n = 3;
      for (size_t s = 0; s < NUM_SCALES; s++) {
        fill_normal(dt, z, n * k, SCALES[s], &r);
        ck_assert_int_eq(run_rowop(dt, OP_SOFTMAX, z, p, n, k, 1, false, 0, 0), SMR_OK);
        ck_assert_int_eq(run_rowop(dt, OP_LOGSM, z, lp, n, k, 1, false, 0, 0), SMR_OK);
        for (size_t i = 0; i < n * k; i++) {
          if (p[i] < min_normal) {
            ck_assert_msg(lp[i] < log(min_normal) + 1, "%s log_softmax %g where p = %g",
                          dt_name(dt), lp[i], p[i]);
            continue;
          }
          const double lg = log(p[i]);
          expect_close(lp[i], lg, 0, 8 * dt_eps(dt) * (1 + fabs(lg)), "log_softmax vs log p",
                       "%s k=%zu scale %g at %zu (p %g)", dt_name(dt), k, SCALES[s], i, p[i]);
        }
      }
    }
  }
  free(z);
  free(p);
  free(lp);
}
END_TEST

/* Fused CE: loss and gradient (none, separate, in place) at every shape. */
START_TEST(test_ce_logits_random) {
  const int dt = _i;
  trng r = {0xA11CE007u + (uint64_t)dt};
  double *z = xmalloc(5 * 4097 * sizeof *z);
  int32_t labels[5];
  size_t c = 0;
  for (int isa = -1; next_isa(&isa);) {
    for (size_t ki = 0; ki < NUM_KS; ki++) {
      const size_t k = KS[ki];
      for (size_t n = 1; n <= (k > 257 ? 2u : 5u); n += 2) {
        for (size_t s = 0; s < NUM_SCALES; s++, c++) {
          fill_normal(dt, z, n * k, SCALES[s], &r);
          for (size_t i = 0; i < n; i++) labels[i] = (int32_t)trng_below(&r, k);
          for (int gm = G_NONE; gm <= G_INPLACE; gm++)
            check_ce(dt, z, labels, n, k, (enum gmode)gm, gm == G_NONE || c % 2 == 0, c % 4,
                     "random");
        }
      }
    }
  }
  free(z);
}
END_TEST

/* The fused gradient is (softmax - onehot) / n: rows sum to ~0 (within
   8 eps / n) and match smr_softmax and smr_one_hot (rel 4 eps plus 2 eps/n
   for the rounding of p near 1 in the softmax output). */
START_TEST(test_ce_logits_grad_is_p_minus_y) {
  const int dt = _i;
  trng r = {0xA11CE008u + (uint64_t)dt};
  const size_t n = 7;
  double *z = xmalloc(n * 300 * sizeof *z), *g = xmalloc(n * 300 * sizeof *g),
         *p = xmalloc(n * 300 * sizeof *p);
  int32_t labels[7];
  for (int isa = -1; next_isa(&isa);) {
    for (size_t k = 1; k <= 300; k += 13) {
      fill_normal(dt, z, n * k, 4.0, &r);
      for (size_t i = 0; i < n; i++) labels[i] = (int32_t)trng_below(&r, k);
      ck_assert_int_eq(run_ce(dt, z, labels, n, k, NULL, g, G_OUT, 0), SMR_OK);
      ck_assert_int_eq(run_rowop(dt, OP_SOFTMAX, z, p, n, k, 1, false, 0, 0), SMR_OK);
      /* one-hot through the library, as doubles */
      gbuf by;
      void *y = gb_alloc(&by, dt, n * k, 0);
      ck_assert_int_eq(dt == F32 ? smr_one_hot_f32(labels, n, k, y) : smr_one_hot_f64(labels, n, k, y),
                       SMR_OK);
      for (size_t i = 0; i < n; i++) {
        long double rowsum = 0;
        for (size_t j = 0; j < k; j++) {
          const double gij = g[i * k + j];
          rowsum += gij;
          const long double want = ((long double)p[i * k + j] - get(dt, y, i * k + j)) / n;
          expect_close(gij, want, 4 * dt_eps(dt), 2 * dt_eps(dt) / (double)n, NULL,
                       "%s grad vs (p - y)/n k=%zu row %zu col %zu", dt_name(dt), k, i, j);
        }
        expect_close((double)rowsum, 0.0L, 0, 8 * dt_eps(dt) / (double)n, NULL,
                     "%s gradient row %zu sums to %Lg (k=%zu)", dt_name(dt), i, rowsum, k);
      }
      gb_free(&by);
    }
  }
  free(z);
  free(g);
  free(p);
}
END_TEST

/* Central differences of the fused loss match its gradient. z is on a
   grid so that z +- h is exact in the dtype; the loss is computed in
   double for both dtypes. f64: h = 2^-14, |diff| <= 1e-7; f32: h = 2^-7,
   |diff| <= 2e-4 (O(h^2) truncation plus float rounding of z +- h). */
START_TEST(test_ce_logits_finite_difference) {
  const int dt = _i;
  trng r = {0xA11CE009u + (uint64_t)dt};
  const size_t n = 3, k = 6;
  const double h = dt == F32 ? 0x1p-7 : 0x1p-14;
  const double tol = dt == F32 ? 2e-4 : 1e-7;
  double z[18], g[18], zp[18];
  const int32_t labels[3] = {0, 5, 2};
  for (int isa = -1; next_isa(&isa);) {
    for (size_t i = 0; i < n * k; i++) z[i] = round(trng_normal(&r) * 2 * 4096) / 4096;
    ck_assert_int_eq(run_ce(dt, z, labels, n, k, NULL, g, G_OUT, 0), SMR_OK);
    for (size_t i = 0; i < n * k; i++) {
      double lp, lm;
      memcpy(zp, z, sizeof z);
      zp[i] = z[i] + h;
      ck_assert_int_eq(run_ce(dt, zp, labels, n, k, &lp, NULL, G_NONE, 0), SMR_OK);
      zp[i] = z[i] - h;
      ck_assert_int_eq(run_ce(dt, zp, labels, n, k, &lm, NULL, G_NONE, 0), SMR_OK);
      const double fd = (lp - lm) / (2 * h);
      ck_assert_msg(fabs(fd - g[i]) <= tol, "%s d loss / d z[%zu]: finite difference %.10g, grad %.10g",
                    dt_name(dt), i, fd, g[i]);
    }
  }
}
END_TEST

/* ce_prob against the reference on random probability rows with one-hot
   and soft targets (including zeros in P where Y is zero). */
START_TEST(test_ce_prob_random) {
  const int dt = _i;
  trng r = {0xA11CE00Au + (uint64_t)dt};
  double *z = xmalloc(4 * 1000 * sizeof *z), *p = xmalloc(4 * 1000 * sizeof *p),
         *y = xmalloc(4 * 1000 * sizeof *y);
  for (int isa = -1; next_isa(&isa);) {
    for (size_t ki = 0; ki < NUM_KS && KS[ki] <= 1000; ki++) {
      const size_t k = KS[ki], n = 4;
      fill_normal(dt, z, n * k, 3.0, &r);
      ck_assert_int_eq(run_rowop(dt, OP_SOFTMAX, z, p, n, k, 1, false, 0, 0), SMR_OK);
      for (int soft = 0; soft < 2; soft++) {
        for (size_t i = 0; i < n; i++) {
          const size_t lab = trng_below(&r, k);
          for (size_t j = 0; j < k; j++)
            y[i * k + j] = soft ? dt_round(dt, trng_uniform(&r) < 0.3 ? trng_uniform(&r) : 0.0)
                                : (j == lab ? 1.0 : 0.0);
          if (k > 1) { /* a zero probability where y is 0 does not matter */
            const size_t j0 = (lab + 1) % k;
            if (y[i * k + j0] == 0) p[i * k + j0] = 0.0;
          }
        }
        const double loss = ce_prob_of(dt, p, y, n, k);
        expect_close(loss, ref_ce_prob(dt, p, y, n, k), LOSS_REL, LOSS_ABS, "ce_prob",
                     "%s ce_prob k=%zu soft=%d", dt_name(dt), k, soft);
      }
    }
  }
  free(z);
  free(p);
  free(y);
}
END_TEST

/* ce_prob follows the formula as written with special values. */
START_TEST(test_ce_prob_special) {
  const int dt = _i;
  const double inf = INFINITY;
  double l;
  const double p1[3] = {NAN, 0.5, 0.5}, y1[3] = {0, 1, 0}; /* NaN where y = 0: skipped */
  l = ce_prob_of(dt, p1, y1, 1, 3);
  expect_close(l, ref_ce_prob(dt, p1, y1, 1, 3), LOSS_REL, 0, NULL, "NaN p where y = 0");
  ck_assert(isfinite(l));
  const double p2[3] = {NAN, 0.5, 0.5}, y2[3] = {1, 0, 0}; /* NaN where y != 0 */
  ck_assert(isnan(ce_prob_of(dt, p2, y2, 1, 3)));
  const double p3[3] = {0.5, 0.5, 0}, y3[3] = {0, NAN, 0}; /* NaN in y */
  ck_assert(isnan(ce_prob_of(dt, p3, y3, 1, 3)));
  const double p4[3] = {-0.5, 0.5, 1}, y4[3] = {1, 0, 0}; /* negative p */
  ck_assert(isnan(ce_prob_of(dt, p4, y4, 1, 3)));
  const double p5[3] = {0, 0.5, 0.5}, y5[3] = {1, 0, 0}; /* p = 0: -log(1e-15) */
  expect_close(ce_prob_of(dt, p5, y5, 1, 3), -logl((long double)1e-15), LOSS_REL, 0, NULL,
               "p = 0");
  const double p6[3] = {inf, 0.5, 0.5}, y6[3] = {1, 0, 0};
  ck_assert(ce_prob_of(dt, p6, y6, 1, 3) == -inf);
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
        if (!same_bits(get(dt, y, i * k + j), j == (size_t)labels[i] ? 1.0 : 0.0))
          ck_abort_msg("one_hot %s k=%zu (%zu,%zu) = %g", dt_name(dt), k, i, j,
                       get(dt, y, i * k + j));
    gb_free(&b);
  }
}
END_TEST

/* ======================================================================== */
/* Special values                                                            */
/* ======================================================================== */

#define SPECIAL_K 4
/* Rows covering every rule of smr.h, plus ordinary rows in between. */
static const double SPECIAL_ROWS[][SPECIAL_K] = {
    {NAN, 1, 2, 3},                          /* NaN row */
    {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, /* all -inf: NaN row */
    {-INFINITY, 0, 1, -INFINITY},            /* -inf entries -> 0 */
    {INFINITY, 0, 1, 2},                     /* one +inf -> one-hot */
    {INFINITY, 3, INFINITY, -INFINITY},      /* two +inf -> 1/2 each */
    {INFINITY, NAN, 1, 0},                   /* +inf with NaN after it -> NaN */
    {1, 2, NAN, INFINITY},                   /* NaN before the +inf -> NaN */
    {NAN, -INFINITY, -INFINITY, -INFINITY},  /* NaN, everything else -inf */
    {-INFINITY, -INFINITY, NAN, -INFINITY},
    {INFINITY, INFINITY, INFINITY, INFINITY}, /* four +inf -> 1/4 */
    {-INFINITY, INFINITY, -INFINITY, -INFINITY},
    {0.5, -1, 2, 1},                         /* ordinary */
    {-INFINITY, -INFINITY, 7, -INFINITY},    /* one finite among -inf */
    {NAN, NAN, NAN, NAN},
    {1e30, -1e30, 0, INFINITY},
    {-1e30, 1e30, 0, -INFINITY},
    {1e30, 1e30, -1e30, 0},
    {2, 2, 2, NAN},                          /* NaN last */
};
#define NUM_SPECIAL (sizeof SPECIAL_ROWS / sizeof SPECIAL_ROWS[0])

/* Every row kernel on every special row, one row per call and all rows in
   one matrix, out of place and in place; temperature at several t,
   including t < 1 where finite z / t overflows to +-inf. */
START_TEST(test_special_values_row_kernels) {
  const int dt = _i;
  const size_t nr = NUM_SPECIAL, k = SPECIAL_K;
  double all[NUM_SPECIAL * SPECIAL_K];
  for (size_t i = 0; i < nr; i++)
    for (size_t j = 0; j < k; j++) all[i * k + j] = dt_round(dt, SPECIAL_ROWS[i][j]);
  const double ts[] = {1.0, 0.5, 2.0, 1e-30};
  for (int isa = -1; next_isa(&isa);) {
    for (int op = 0; op < NUM_OPS; op++) {
      for (size_t ti = 0; ti < (op == OP_TEMP ? 4u : 1u); ti++) {
        const double t = dt_round(dt, ts[ti]);
        if (t == 0) continue;
        for (int inpl = 0; inpl < 2; inpl++) {
          for (size_t i = 0; i < nr; i++)
            check_rowop(dt, (enum rowop)op, all + i * k, 1, k, t, inpl, i % 4, 3 - i % 4,
                        "special row");
          check_rowop(dt, (enum rowop)op, all, nr, k, t, inpl, 1, 2, "special matrix");
        }
      }
    }
    /* k = 1 */
    const double singles[] = {INFINITY, -INFINITY, NAN, 3, -1e30, 0};
    for (size_t s = 0; s < 6; s++)
      for (int op = 0; op < NUM_OPS; op++)
        check_rowop(dt, (enum rowop)op, &singles[s], 1, 1, 0.5, false, 0, 1, "k=1 special");
  }
}
END_TEST

/* finite z whose quotient z / t overflows: the rules apply to z / t. */
START_TEST(test_temperature_overflow) {
  const int dt = _i;
  const double big = dt_max(dt) * 0.75;
  const double rows[][3] = {{big, 1, 0}, {big, big, -big}, {-big, 0, 1}, {-big, -big, -big}};
  double p[3];
  for (int isa = -1; next_isa(&isa);) {
    for (size_t i = 0; i < 4; i++) {
      ck_assert_int_eq(run_rowop(dt, OP_TEMP, rows[i], p, 1, 3, 0.5, false, 0, 0), SMR_OK);
      check_rowop(dt, OP_TEMP, rows[i], 1, 3, 0.5, false, 0, 0, "temperature overflow");
      check_rowop(dt, OP_TEMP, rows[i], 1, 3, 0.5, true, 2, 0, "temperature overflow");
    }
    /* spot checks of the rules on top of the reference */
    ck_assert_int_eq(run_rowop(dt, OP_TEMP, rows[0], p, 1, 3, 0.5, false, 0, 0), SMR_OK);
    ck_assert(p[0] == 1 && p[1] == 0 && p[2] == 0);
    ck_assert_int_eq(run_rowop(dt, OP_TEMP, rows[1], p, 1, 3, 0.5, false, 0, 0), SMR_OK);
    ck_assert(p[0] == 0.5 && p[1] == 0.5 && p[2] == 0);
    ck_assert_int_eq(run_rowop(dt, OP_TEMP, rows[3], p, 1, 3, 0.5, false, 0, 0), SMR_OK);
    ck_assert(isnan(p[0]) && isnan(p[1]) && isnan(p[2]));
  }
}
END_TEST

/* The fused CE on every special row, for every label, in every grad mode. */
START_TEST(test_special_values_ce_logits) {
  const int dt = _i;
  const size_t k = SPECIAL_K;
  double row[SPECIAL_K];
  for (int isa = -1; next_isa(&isa);) {
    for (size_t i = 0; i < NUM_SPECIAL; i++) {
      for (size_t j = 0; j < k; j++) row[j] = dt_round(dt, SPECIAL_ROWS[i][j]);
      for (int32_t lab = 0; lab < (int32_t)k; lab++)
        for (int gm = G_NONE; gm <= G_INPLACE; gm++)
          check_ce(dt, row, &lab, 1, k, (enum gmode)gm, true, (size_t)lab, "special");
    }
    /* spot checks: unique +inf label -> 0; one of two -> log 2; 0 prob -> inf */
    const double r1[4] = {INFINITY, 0, 1, 2}, r2[4] = {INFINITY, 3, INFINITY, 0},
                 r3[4] = {-INFINITY, 0, 1, 2};
    double loss, g[4];
    int32_t lab = 0;
    ck_assert_int_eq(run_ce(dt, r1, &lab, 1, 4, &loss, g, G_OUT, 0), SMR_OK);
    ck_assert(loss == 0 && g[0] == 0 && g[1] == 0);
    ck_assert_int_eq(run_ce(dt, r2, &lab, 1, 4, &loss, g, G_OUT, 0), SMR_OK);
    expect_close(loss, logl(2.0L), 2 * DBL_EPSILON, 0, NULL, "two +inf, label at one");
    ck_assert(g[0] == -0.5 && g[2] == 0.5 && g[1] == 0);
    ck_assert_int_eq(run_ce(dt, r3, &lab, 1, 4, &loss, g, G_OUT, 0), SMR_OK);
    ck_assert(loss == INFINITY && g[0] == -1);
    const double r4[4] = {1, NAN, 2, 3};
    ck_assert_int_eq(run_ce(dt, r4, &lab, 1, 4, &loss, g, G_INPLACE, 0), SMR_OK);
    ck_assert(isnan(loss) && isnan(g[0]) && isnan(g[3]));
  }
}
END_TEST

/* ======================================================================== */
/* In place, alignment                                                       */
/* ======================================================================== */

/* In place gives the same bits as out of place (same alignment). */
START_TEST(test_in_place_equals_out_of_place) {
  const int dt = _i;
  trng r = {0xA11CE00Cu + (uint64_t)dt};
  double *z = xmalloc(3 * 4097 * sizeof *z), *a = xmalloc(3 * 4097 * sizeof *a),
         *b = xmalloc(3 * 4097 * sizeof *b);
  int32_t labels[3];
  for (int isa = -1; next_isa(&isa);) {
    for (size_t ki = 0; ki < NUM_KS; ki++) {
      const size_t k = KS[ki], n = 3, off = ki % 4;
      fill_normal(dt, z, n * k, 5.0, &r);
      if (k > 2) z[k + 1] = -INFINITY;
      for (int op = 0; op < NUM_OPS; op++) {
        ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, a, n, k, 0.6, false, off, off), SMR_OK);
        ck_assert_int_eq(run_rowop(dt, (enum rowop)op, z, b, n, k, 0.6, true, off, off), SMR_OK);
        for (size_t i = 0; i < n * k; i++)
          ck_assert_msg(same_bits(a[i], b[i]), "%s %s k=%zu: in place %.17g, out of place %.17g",
                        op_names[op], dt_name(dt), k, b[i], a[i]);
      }
      for (size_t i = 0; i < n; i++) labels[i] = (int32_t)trng_below(&r, k);
      double la, lb;
      ck_assert_int_eq(run_ce(dt, z, labels, n, k, &la, a, G_OUT, off), SMR_OK);
      ck_assert_int_eq(run_ce(dt, z, labels, n, k, &lb, b, G_INPLACE, (off + 1) % 4), SMR_OK);
      ck_assert_msg(same_bits(la, lb), "ce loss in place %.17g vs %.17g", lb, la);
      for (size_t i = 0; i < n * k; i++)
        ck_assert_msg(same_bits(a[i], b[i]), "ce grad %s k=%zu: in place %.17g, out %.17g",
                      dt_name(dt), k, b[i], a[i]);
    }
  }
  free(z);
  free(a);
  free(b);
}
END_TEST

/* Input and output 1..3 elements off a 64-byte boundary, every pair. */
START_TEST(test_unaligned_offsets) {
  const int dt = _i;
  trng r = {0xA11CE00Du + (uint64_t)dt};
  const size_t n = 3;
  const size_t ks[] = {1, 7, 37, 70};
  double z[3 * 70];
  int32_t labels[3];
  for (int isa = -1; next_isa(&isa);) {
    for (size_t ki = 0; ki < 4; ki++) {
      const size_t k = ks[ki];
      fill_normal(dt, z, n * k, 3.0, &r);
      for (size_t i = 0; i < n; i++) labels[i] = (int32_t)trng_below(&r, k);
      for (size_t oi = 0; oi < 4; oi++) {
        for (size_t oo = 0; oo < 4; oo++)
          for (int op = 0; op < NUM_OPS; op++)
            check_rowop(dt, (enum rowop)op, z, n, k, 2.0, false, oi, oo, "unaligned");
        for (int gm = G_NONE; gm <= G_INPLACE; gm++)
          check_ce(dt, z, labels, n, k, (enum gmode)gm, true, oi, "unaligned");
      }
    }
  }
}
END_TEST

/* ======================================================================== */
/* Table-level kernels (every available ISA's table)                         */
/* ======================================================================== */

#define FOR_EACH_TABLE(t, isa)                                                 \
  for (int isa = 0; isa < SMR_ISA_COUNT; isa++)                                \
    for (const struct smr_kernels *t = smr_kernels_for(isa); t != NULL; t = NULL)

#define ENTRY_CHECK(tbl, name) ck_assert_msg((tbl).name != NULL, "%s missing in table %d", #name, isa)
#define ENTRIES_CHECK(tbl)                                                    \
  do {                                                                         \
    ENTRY_CHECK(tbl, softmax); ENTRY_CHECK(tbl, softmax_online);               \
    ENTRY_CHECK(tbl, softmax_temperature); ENTRY_CHECK(tbl, log_softmax);      \
    ENTRY_CHECK(tbl, ce_logits); ENTRY_CHECK(tbl, ce_prob);                    \
    ENTRY_CHECK(tbl, argmax_rows); ENTRY_CHECK(tbl, linear_forward);           \
    ENTRY_CHECK(tbl, xt_g); ENTRY_CHECK(tbl, colsum); ENTRY_CHECK(tbl, axpy);  \
    ENTRY_CHECK(tbl, sumsq); ENTRY_CHECK(tbl, all_finite);                     \
    ENTRY_CHECK(tbl, standardize); ENTRY_CHECK(tbl, col_mean_std);             \
  } while (0)

START_TEST(test_table_complete) {
  ck_assert_ptr_nonnull(smr_kernels_for(SMR_ISA_SCALAR));
  ck_assert_ptr_nonnull(smr_kernels_active());
  FOR_EACH_TABLE(t, isa) {
    ENTRIES_CHECK(t->f32);
    ENTRIES_CHECK(t->f64);
  }
}
END_TEST

/* Typed views of the table entries, so one test serves both dtypes. */
static void tbl_argmax(int dt, const struct smr_kernels *t, const void *p, size_t n, size_t k,
                       int32_t *lab) {
  if (dt == F32)
    t->f32.argmax_rows(p, n, k, lab);
  else
    t->f64.argmax_rows(p, n, k, lab);
}

START_TEST(test_argmax_rows) {
  const int dt = _i;
  trng r = {0xB0B0001u + (uint64_t)dt};
  const size_t n = 6;
  double v[6 * 65];
  int32_t lab[6 + 2];
  FOR_EACH_TABLE(t, isa) {
    for (size_t k = 1; k <= 65; k += (k < 10 ? 1 : 8)) {
      for (int rep = 0; rep < 20; rep++) {
        for (size_t i = 0; i < n * k; i++) v[i] = (double)trng_below(&r, 4) - 1.5; /* many ties */
        if (rep % 4 == 1) v[trng_below(&r, n * k)] = NAN;
        if (rep % 4 == 2) v[trng_below(&r, n * k)] = INFINITY;
        if (rep % 4 == 3)
          for (size_t j = 0; j < k; j++) v[j] = -INFINITY;
        if (rep == 4 && k > 1) { /* -0 and +0 compare equal: the first wins */
          v[0] = -0.0;
          v[1] = 0.0;
        }
        gbuf b;
        void *p = gb_alloc(&b, dt, n * k, (size_t)rep % 4);
        for (size_t i = 0; i < n * k; i++) put(dt, p, i, v[i]);
        lab[n] = lab[n + 1] = 0x7777;
        tbl_argmax(dt, t, p, n, k, lab);
        ck_assert_int_eq(lab[n], 0x7777);
        gb_check(&b, "argmax input");
        for (size_t i = 0; i < n; i++) { /* reference: first max, -1 on NaN */
          int32_t want = 0;
          for (size_t j = 0; j < k; j++) {
            const double x = get(dt, p, i * k + j);
            if (isnan(x)) {
              want = -1;
              break;
            }
            if (x > get(dt, p, i * k + (size_t)want)) want = (int32_t)j;
          }
          ck_assert_msg(lab[i] == want, "argmax %s isa %d k=%zu row %zu: %d, want %d",
                        dt_name(dt), isa, k, i, (int)lab[i], (int)want);
        }
        gb_free(&b);
      }
    }
  }
}
END_TEST

/* Shapes (n, d, k) for the linear-algebra kernels. */
static const size_t LA_SHAPES[][3] = {{1, 1, 1},  {3, 4, 5},  {7, 13, 3}, {5, 33, 17},
                                      {2, 1, 65}, {9, 8, 10}, {1, 70, 2}, {40, 3, 33},
                                      /* row blocks of 32 and their tails, d
                                         tails, k = 64 (the narrow xt_g) */
                                      {33, 70, 64}, {40, 17, 10}, {32, 16, 16}};
#define NUM_LA (sizeof LA_SHAPES / sizeof LA_SHAPES[0])

/* A random matrix of len elements in a guarded buffer, mirrored as doubles. */
static void *rand_buf(gbuf *b, int dt, double *mirror, size_t len, size_t off, trng *r) {
  void *p = gb_alloc(b, dt, len, off);
  for (size_t i = 0; i < len; i++) {
    mirror[i] = dt_round(dt, trng_normal(r));
    put(dt, p, i, mirror[i]);
  }
  return p;
}

START_TEST(test_linear_forward) {
  const int dt = _i;
  trng r = {0xB0B0002u + (uint64_t)dt};
  static double X[40 * 70], W[70 * 65], b[65];
  FOR_EACH_TABLE(t, isa) {
    for (size_t s = 0; s < NUM_LA; s++) {
      const size_t n = LA_SHAPES[s][0], d = LA_SHAPES[s][1], k = LA_SHAPES[s][2];
      gbuf bx, bw, bb, bz;
      void *x = rand_buf(&bx, dt, X, n * d, 1, &r), *w = rand_buf(&bw, dt, W, d * k, 2, &r),
           *bias = rand_buf(&bb, dt, b, k, 3, &r), *z = gb_alloc(&bz, dt, n * k, s % 4);
      if (dt == F32)
        t->f32.linear_forward(x, w, bias, z, n, d, k);
      else
        t->f64.linear_forward(x, w, bias, z, n, d, k);
      gb_check(&bz, "linear_forward Z");
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
          long double ref = b[j], mag = fabsl((long double)b[j]);
          for (size_t f = 0; f < d; f++) {
            ref += (long double)X[i * d + f] * W[f * k + j];
            mag += fabsl((long double)X[i * d + f] * W[f * k + j]);
          }
          expect_close(get(dt, z, i * k + j), ref, 0, (double)((d + 1) * dt_eps(dt) * mag),
                       "linear_forward", "%s isa %d (%zu,%zu,%zu) Z[%zu][%zu]", dt_name(dt), isa,
                       n, d, k, i, j);
        }
      gb_free(&bx);
      gb_free(&bw);
      gb_free(&bb);
      gb_free(&bz);
    }
  }
}
END_TEST

START_TEST(test_xt_g) {
  const int dt = _i;
  trng r = {0xB0B0003u + (uint64_t)dt};
  static double X[40 * 70], G[40 * 65], D0[70 * 65];
  FOR_EACH_TABLE(t, isa) {
    for (size_t s = 0; s < NUM_LA; s++) {
      const size_t n = LA_SHAPES[s][0], d = LA_SHAPES[s][1], k = LA_SHAPES[s][2];
      for (int acc = 0; acc < 2; acc++) {
        gbuf bx, bg, bd;
        void *x = rand_buf(&bx, dt, X, n * d, 3, &r), *g = rand_buf(&bg, dt, G, n * k, 1, &r),
             *dw = rand_buf(&bd, dt, D0, d * k, 2, &r);
        if (dt == F32)
          t->f32.xt_g(x, g, dw, n, d, k, acc);
        else
          t->f64.xt_g(x, g, dw, n, d, k, acc);
        gb_check(&bd, "xt_g dW");
        for (size_t f = 0; f < d; f++)
          for (size_t j = 0; j < k; j++) {
            long double ref = acc ? D0[f * k + j] : 0, mag = fabsl(ref);
            for (size_t i = 0; i < n; i++) {
              ref += (long double)X[i * d + f] * G[i * k + j];
              mag += fabsl((long double)X[i * d + f] * G[i * k + j]);
            }
            expect_close(get(dt, dw, f * k + j), ref, 0, (double)((n + 1) * dt_eps(dt) * mag),
                         "xt_g", "%s isa %d (%zu,%zu,%zu) acc %d dW[%zu][%zu]", dt_name(dt), isa,
                         n, d, k, acc, f, j);
          }
        gb_free(&bx);
        gb_free(&bg);
        gb_free(&bd);
      }
    }
  }
}
END_TEST

START_TEST(test_colsum) {
  const int dt = _i;
  trng r = {0xB0B0004u + (uint64_t)dt};
  static double G[40 * 65], D0[65];
  FOR_EACH_TABLE(t, isa) {
    for (size_t s = 0; s < NUM_LA; s++) {
      const size_t n = LA_SHAPES[s][0], k = LA_SHAPES[s][2];
      for (int acc = 0; acc < 2; acc++) {
        gbuf bg, bd;
        void *g = rand_buf(&bg, dt, G, n * k, 2, &r), *db = rand_buf(&bd, dt, D0, k, 1, &r);
        if (dt == F32)
          t->f32.colsum(g, db, n, k, acc);
        else
          t->f64.colsum(g, db, n, k, acc);
        gb_check(&bd, "colsum db");
        for (size_t j = 0; j < k; j++) {
          long double ref = acc ? D0[j] : 0, mag = fabsl(ref);
          for (size_t i = 0; i < n; i++) {
            ref += G[i * k + j];
            mag += fabsl((long double)G[i * k + j]);
          }
          expect_close(get(dt, db, j), ref, 0, (double)((n + 1) * dt_eps(dt) * mag), "colsum",
                       "%s isa %d n=%zu k=%zu acc %d db[%zu]", dt_name(dt), isa, n, k, acc, j);
        }
        gb_free(&bg);
        gb_free(&bd);
      }
    }
  }
}
END_TEST

START_TEST(test_axpy) {
  const int dt = _i;
  trng r = {0xB0B0005u + (uint64_t)dt};
  static double X[1000], Y[1000];
  const size_t lens[] = {0, 1, 3, 7, 8, 9, 33, 1000};
  FOR_EACH_TABLE(t, isa) {
    for (size_t li = 0; li < 8; li++) {
      const size_t len = lens[li];
      const double a = dt_round(dt, trng_normal(&r));
      gbuf bx, by;
      void *x = rand_buf(&bx, dt, X, len, li % 4, &r), *y = rand_buf(&by, dt, Y, len, 3 - li % 4, &r);
      if (dt == F32)
        t->f32.axpy(len, (float)a, x, y);
      else
        t->f64.axpy(len, a, x, y);
      gb_check(&by, "axpy y");
      for (size_t i = 0; i < len; i++) {
        const long double ref = (long double)Y[i] + (long double)a * X[i];
        const long double mag = fabsl((long double)Y[i]) + fabsl((long double)a * X[i]);
        expect_close(get(dt, y, i), ref, 0, (double)(2 * dt_eps(dt) * mag), "axpy",
                     "%s isa %d len %zu y[%zu]", dt_name(dt), isa, len, i);
      }
      gb_free(&bx);
      gb_free(&by);
    }
  }
}
END_TEST

START_TEST(test_sumsq) {
  const int dt = _i;
  trng r = {0xB0B0006u + (uint64_t)dt};
  static double X[5000];
  const size_t lens[] = {0, 1, 2, 5, 16, 17, 100, 5000};
  FOR_EACH_TABLE(t, isa) {
    for (size_t li = 0; li < 8; li++) {
      const size_t len = lens[li];
      gbuf bx;
      void *x = rand_buf(&bx, dt, X, len, li % 4, &r);
      const double got = dt == F32 ? t->f32.sumsq(x, len) : t->f64.sumsq(x, len);
      long double ref = 0;
      for (size_t i = 0; i < len; i++) ref += (long double)X[i] * X[i];
      expect_close(got, ref, (double)(len + 2) * DBL_EPSILON, 0, "sumsq",
                   "%s isa %d len %zu", dt_name(dt), isa, len);
      gb_free(&bx);
    }
  }
}
END_TEST

START_TEST(test_all_finite) {
  const int dt = _i;
  const size_t lens[] = {0, 1, 2, 5, 8, 17, 33};
  const double bad[] = {NAN, INFINITY, -INFINITY};
  FOR_EACH_TABLE(t, isa) {
    for (size_t li = 0; li < 7; li++) {
      const size_t len = lens[li];
      gbuf bx;
      void *x = gb_alloc(&bx, dt, len, li % 4);
      for (size_t i = 0; i < len; i++)
        put(dt, x, i, i % 3 == 0 ? dt_max(dt) : i % 3 == 1 ? -dt_tiny(dt) : (double)i);
      const bool ok = dt == F32 ? t->f32.all_finite(x, len) : t->f64.all_finite(x, len);
      ck_assert_msg(ok, "%s isa %d all_finite(len %zu) false on finite data", dt_name(dt), isa,
                    len);
      for (size_t pos = 0; pos < len; pos++) {
        for (size_t bi = 0; bi < 3; bi++) {
          const double keep = get(dt, x, pos);
          put(dt, x, pos, bad[bi]);
          const bool f = dt == F32 ? t->f32.all_finite(x, len) : t->f64.all_finite(x, len);
          ck_assert_msg(!f, "%s isa %d all_finite missed %g at %zu of %zu", dt_name(dt), isa,
                        bad[bi], pos, len);
          put(dt, x, pos, keep);
        }
      }
      gb_free(&bx);
    }
  }
}
END_TEST

START_TEST(test_standardize) {
  const int dt = _i;
  trng r = {0xB0B0007u + (uint64_t)dt};
  static double X[40 * 70];
  double mean[70], scale[70];
  FOR_EACH_TABLE(t, isa) {
    for (size_t s = 0; s < NUM_LA; s++) {
      const size_t n = LA_SHAPES[s][0], d = LA_SHAPES[s][1];
      for (size_t f = 0; f < d; f++) {
        mean[f] = trng_normal(&r) * 10;
        scale[f] = 0.01 + trng_uniform(&r) * 100;
      }
      for (int inpl = 0; inpl < 2; inpl++) {
        gbuf bx = {0}, bs = {0};
        void *x = rand_buf(&bx, dt, X, n * d, s % 4, &r);
        void *xs = inpl ? x : gb_alloc(&bs, dt, n * d, 3 - s % 4);
        if (dt == F32)
          t->f32.standardize(x, mean, scale, xs, n, d);
        else
          t->f64.standardize(x, mean, scale, xs, n, d);
        gb_check(&bx, "standardize X");
        if (!inpl) gb_check(&bs, "standardize Xs");
        for (size_t i = 0; i < n * d; i++) {
          const size_t f = i % d;
          const long double ref = ((long double)X[i] - mean[f]) / scale[f];
          expect_close(get(dt, xs, i), ref, 2 * dt_eps(dt), 2 * dt_tiny(dt), "standardize",
                       "%s isa %d n=%zu d=%zu in place %d at %zu", dt_name(dt), isa, n, d, inpl, i);
        }
        gb_free(&bx);
        if (!inpl) gb_free(&bs);
      }
    }
  }
}
END_TEST

/* Column mean and population deviation vs long double, on columns with a
   large common offset (where a one-pass E[x^2] - E[x]^2 would cancel). */
START_TEST(test_col_mean_std) {
  const int dt = _i;
  trng r = {0xB0B0008u + (uint64_t)dt};
  static double X[40 * 70];
  double mean[70 + 1], sd[70 + 1];
  FOR_EACH_TABLE(t, isa) {
    for (size_t s = 0; s < NUM_LA; s++) {
      const size_t n = LA_SHAPES[s][0], d = LA_SHAPES[s][1];
      if (n == 0) continue;
      gbuf bx = {0};
      void *x = gb_alloc(&bx, dt, n * d, s % 4);
      for (size_t i = 0; i < n * d; i++) {
        const double offset = (i % d) % 3 == 0 ? 1e4 : 0.0;
        X[i] = dt_round(dt, offset + trng_normal(&r) * (1.0 + (double)(i % d)));
        put(dt, x, i, X[i]);
      }
      mean[d] = sd[d] = 12345.0; /* guards */
      if (dt == F32)
        t->f32.col_mean_std(x, n, d, mean, sd);
      else
        t->f64.col_mean_std(x, n, d, mean, sd);
      gb_check(&bx, "col_mean_std X");
      ck_assert(mean[d] == 12345.0 && sd[d] == 12345.0);
      for (size_t f = 0; f < d; f++) {
        long double mu = 0, v = 0;
        for (size_t i = 0; i < n; i++) mu += X[i * d + f];
        mu /= (long double)n;
        for (size_t i = 0; i < n; i++) v += (X[i * d + f] - mu) * (X[i * d + f] - mu);
        const long double sdl = sqrtl(v / (long double)n);
        /* double arithmetic over n terms: (n + 2) DBL_EPSILON relative to the
           magnitudes involved */
        long double amax = 0;
        for (size_t i = 0; i < n; i++) amax = fmaxl(amax, fabsl((long double)X[i * d + f]));
        expect_close(mean[f], mu, 0, (double)(n + 2) * DBL_EPSILON * (double)amax, "col mean",
                     "%s isa %d n=%zu d=%zu f=%zu", dt_name(dt), isa, n, d, f);
        expect_close(sd[f], sdl, 8 * (double)(n + 2) * DBL_EPSILON,
                     (double)(n + 2) * DBL_EPSILON * (double)amax, "col sd",
                     "%s isa %d n=%zu d=%zu f=%zu", dt_name(dt), isa, n, d, f);
      }
      gb_free(&bx);
    }
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
  long double ref[5];
  ref_rowop(F64, OP_SOFTMAX, z, ref, 1, 5, 1);
  double p[5];
  for (int it = 0; it < 2000; it++) {
    if (smr_softmax_f64(z, p, 1, 5) != SMR_OK) return arg;
    for (int j = 0; j < 5; j++)
      if (!close_to(p[j], ref[j], 4 * DBL_EPSILON, 0, NULL)) return arg;
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
  tcase_add_checked_fixture(tc, NULL, report_worst);
  suite_add_tcase(s, tc);
  return tc;
}

#define DT_LOOP(tc, fn) tcase_add_loop_test(tc, fn, F32, NUM_DT)

static Suite *seed_suite(void) {
  Suite *s = suite_create("seed");
  TCase *tc = tcase(s, "softmax");
  DT_LOOP(tc, test_large_logits);
  DT_LOOP(tc, test_mixed_extreme_logits);
  DT_LOOP(tc, test_negative_logits);
  DT_LOOP(tc, test_zero_logits);
  DT_LOOP(tc, test_sum_to_one);
  DT_LOOP(tc, test_positive_outputs);
  DT_LOOP(tc, test_monotonicity);
  DT_LOOP(tc, test_shift_invariance);
  tc = tcase(s, "argmax");
  DT_LOOP(tc, test_argmax);
  tc = tcase(s, "cross_entropy");
  DT_LOOP(tc, test_ce_perfect_prediction);
  DT_LOOP(tc, test_ce_confident_wrong);
  DT_LOOP(tc, test_ce_uniform_prediction);
  return s;
}

static Suite *kernel_suite(void) {
  Suite *s = suite_create("kernels");
  TCase *tc = tcase(s, "reference");
  DT_LOOP(tc, test_softmax_random);
  DT_LOOP(tc, test_softmax_online_random);
  DT_LOOP(tc, test_softmax_temperature_random);
  DT_LOOP(tc, test_log_softmax_random);
  DT_LOOP(tc, test_online_matches_two_pass);
  DT_LOOP(tc, test_log_softmax_matches_log_softmax);
  DT_LOOP(tc, test_ce_logits_random);
  DT_LOOP(tc, test_ce_logits_grad_is_p_minus_y);
  DT_LOOP(tc, test_ce_logits_finite_difference);
  DT_LOOP(tc, test_ce_prob_random);
  DT_LOOP(tc, test_ce_prob_special);
  DT_LOOP(tc, test_one_hot);
  tc = tcase(s, "special_values");
  DT_LOOP(tc, test_special_values_row_kernels);
  DT_LOOP(tc, test_temperature_overflow);
  DT_LOOP(tc, test_special_values_ce_logits);
  tc = tcase(s, "memory");
  DT_LOOP(tc, test_in_place_equals_out_of_place);
  DT_LOOP(tc, test_unaligned_offsets);
  return s;
}

static Suite *table_suite(void) {
  Suite *s = suite_create("table");
  TCase *tc = tcase(s, "entries");
  tcase_add_test(tc, test_table_complete);
  DT_LOOP(tc, test_argmax_rows);
  DT_LOOP(tc, test_linear_forward);
  DT_LOOP(tc, test_xt_g);
  DT_LOOP(tc, test_colsum);
  DT_LOOP(tc, test_axpy);
  DT_LOOP(tc, test_sumsq);
  DT_LOOP(tc, test_all_finite);
  DT_LOOP(tc, test_standardize);
  DT_LOOP(tc, test_col_mean_std);
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

  SRunner *sr = srunner_create(seed_suite());
  srunner_add_suite(sr, kernel_suite());
  srunner_add_suite(sr, table_suite());
  srunner_add_suite(sr, api_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed != 0 ? 1 : 0;
}
