/*
 * test_isa.c - a checkasm-like cross-ISA property harness for the kernel
 * table of src/kernels.h.
 *
 * Every available ISA table (smr_kernels_for(isa) != NULL, isa in
 * 0..SMR_ISA_COUNT-1) runs every entry, f32 and f64, on identical inputs
 * (linear_forward and xt_g also run from the active table when CBLAS
 * provides them there, src/blas.c, reported as isa=blas), and each result
 * is compared with
 *   (a) the scalar table (smr_kernels_for(SMR_ISA_SCALAR)): every output
 *       element must have the scalar's class (NaN, +inf, -inf, zero,
 *       finite nonzero; the sign of a zero is free, and zero vs a tiny
 *       nonzero is accepted where the reference is within the bound of 0);
 *       argmax_rows and all_finite must be identical;
 *   (b) a long-double reference written below from the definitions and the
 *       special-value rules at the top of smr.h (independent of the
 *       library), within the bound of the table below;
 * and checked for properties that must survive any rounding (rows sum to
 * 1, shift invariance, argmax, monotonicity, log_softmax = log(softmax),
 * online = two-pass, gradient rows sum to 0, loss-only = loss with
 * gradient). Entries: softmax, softmax_online, softmax_temperature,
 * log_softmax, ce_logits (g out of place, g == z, g == NULL), ce_prob,
 * argmax_rows, linear_forward, xt_g and colsum (accumulate false and true),
 * axpy, sumsq, all_finite, col_mean_std, standardize.
 *
 * Inputs: every k from 1 to 3 vectors + 1 of the widest ISA (16 floats or
 * 8 doubles per 512-bit vector: k = 1..49 for f32, 1..25 for f64), powers of
 * two and their neighbours up to 4097, and one row of 1e6 elements; n = 1,
 * 2, 3, 7, 64 rows. Rows mix these kinds (gen_row): N(0,1) * scale for
 * scales 1e-3, 1, 10, 100, 1e4; all equal; +-1000; differences from the
 * row max near the exp underflow threshold (-106..-85 f32, -748..-700 f64);
 * values at the overflow threshold of z / T (within a few eps) and up to
 * +-MAX; -inf entries; rows of all -inf; one and several +inf; NaN (first,
 * last, anywhere, also with infinities); ties of the max; nearly one-hot
 * rows (the rest below eps: log1p and the p_y - 1 cancellation); the max in
 * the last element. Temperatures 1, 0.5, 3.7, 0.25, 0.01, 1000; gradient
 * scale 1/n or 1; a quarter of the labels at the row max.
 *
 * Memory: inputs and outputs start 0..3 elements past a 64-byte boundary
 * (rotating per call) with at least 64 guard bytes on each side. Output
 * data is prefilled with a quiet-NaN sentinel (0x7FE5A5A5,
 * 0x7FFDA5A5A5A5A5A5: a payload arithmetic never makes); guard elements
 * alternate +inf (next to the data) and that sentinel. After every call the
 * guards must be intact (no out-of-bounds write), no output element may
 * still hold the sentinel (every element written), and inputs must be
 * unchanged. A read past either end of an input (a full-vector tail load
 * without a mask) picks up +inf or NaN, which poisons a max or a sum and
 * fails the comparisons. In-place calls run wherever the contract allows
 * (p == z, out == z every third case; g == z; Xs == X).
 *
 * Environment:
 *   SMR_ISA_SEED=N   replay: the seed is printed once ("test_isa: seed N
 *                    (replay with SMR_ISA_SEED=N)") and appended to every
 *                    failure. Each test draws from its own stream, so
 *                    CK_RUN_CASE / CK_RUN_SUITE replay a single test.
 *   SMR_TEST_QUICK=1 for emulated runs: the 1e6 row becomes 1e5 (1e4 for
 *                    two of its four cases), one of p - 1, p, p + 1 per
 *                    power of two, fewer repetitions. About 2 s natively,
 *                    20-30 s under qemu-user (x86-64 -cpu Haswell,
 *                    aarch64); the default run is about 15 s natively.
 *   SMR_TEST_VERBOSE=1 prints, per test and (check, dtype, ISA), the worst
 *                    error in the bound's unit, the bound there, the worst
 *                    error / bound, and where it was seen; and per test its
 *                    run time.
 *   SMR_EXPECT_ISA=name  test_expect_isa asserts smr_isa_active() is `name`
 *                    (proves dispatch under qemu -cpu Haswell / Nehalem /
 *                    aarch64); nothing is checked when unset.
 *
 * ------------------------------------------------------------------------
 * Tolerances (TOL below; one row per check, four columns: scalar f32, SIMD
 * f32, scalar f64, SIMD f64). The scalar column applies to an entry that IS
 * the scalar function (pointer-equal to the scalar table's entry, e.g. an
 * entry an ISA does not provide), the SIMD column to any other one.
 *
 * Notation. T the dtype, eps = its machine epsilon (2^-23, 2^-52),
 * eps64 = DBL_EPSILON, ulp(x) = the spacing of T at |x| (2^(e-23) or
 * 2^(e-52) for 2^e <= |x| < 2^(e+1)), never below T's smallest subnormal.
 * For a row x as the kernel sees it (z, or fl(z / T) for the temperature
 * kernel): m = max of the finite entries, d_j = x_j - m, S = sum_j e^d_j,
 * Dbar = sum_j e^d_j |d_j| / S (the exp-weighted mean distance from the
 * max), R = number of times the running max rises in a left-to-right scan
 * (the rescales of an online kernel); s the gradient scale, y the label.
 * A reference of exactly 0 needs an exact (+-)0; NaN must match NaN; where
 * the reference rounded to the output type is infinite, the result must be
 * that infinity. Results in double (losses, sumsq, mean, sd) also get the
 * final rounding, ulp64(ref), and the loss n k DBL_TRUE_MIN (subnormal
 * exponentials each rounded to the subnormal grid).
 *
 * check           bound (a, b, r from TOL)
 * softmax, temp.  a ulp(p) + b (|d_j| + Dbar) eps |p|
 * online          a ulp(p) + (b (|d_j| + Dbar) + r R) eps |p|
 * log_softmax     a ulp(o) + b Dbar eps
 * ce grad         a ulp(g) + b (|d_j| + Dbar) eps p_j |s| + [j = y] r a ulp(p_y) |s|
 * ce loss         a eps sum_i (1 + Dbar_i + |d_i,y|) + (b + r (k + n)) eps64 sum_i |l_i|
 * ce_prob         a eps sum |y| (1 + |log(p + 1e-15)|) + (b + r N) eps64 sum |y log(p + 1e-15)|
 * linear, xt_g,   a (terms + 1) eps sum |terms|  (terms: d products + b; n
 *   colsum          products + dW; n values + db)
 * axpy            a eps (|y| + |alpha x|)
 * sumsq           a (len + 2) eps64 sum x^2
 * col mean        a (n + 2) eps64 max |x|
 * col sd          a (n + 2) eps64 sd + b (n + 2) eps64 max |x|
 * standardize     a ulp(xs)
 * sum to 1        |sum_j p_j - 1| <= (a + b Dbar) eps
 * grad sums to 0  |sum_j g_j| <= (a + b Dbar) eps |s|
 * log = log p     |o_j - log p_j| <= (a + b (|d_j| + Dbar)) eps (1 + |log p_j|), p normal
 * online = 2-pass |on - sm| <= a ulp(sm) + (b (|d_j| + Dbar) + r R) eps |sm|
 * monotone        x_i < x_j  =>  p_i <= p_j + a ulp(p_j); x_i = x_j => p_i = p_j
 *                 (softmax, online, temperature, log_softmax)
 * argmax          p at the first argmax of x is the row's largest p, and
 *                 argmax_rows(p) is the first index holding it (<= that of
 *                 x); -1 on NaN rows; exact
 * shift           |f(z + c) - f(z)| <= a ulp(f(z))  (z on a 1/64 grid, so
 *                 z + c and (z + c) / T, T = 1/2 or 2, are exact)
 * shift, loss     as ce loss with this row's a, b, r
 * loss only       |loss(g = NULL) - loss(g)|: as ce loss with this row's a, b, r
 *
 * Where the numbers come from:
 * - scalar: tests/test_kernels.c (docs/ACCURACY.md) bounds the scalar
 *   kernels by "rel 4 eps", i.e. 4..8 ulp. In these units: f32 a = 4 (the
 *   analysis gives 1.5 ulp: exp in double rounded to float, one division);
 *   f64 a = 6 (analysis about 3.5 ulp: exp <= 1 ulp and the compensated sum
 *   as relative errors, up to 2 ulp each in ulp units, plus the division;
 *   3.4 ulp measured, too close to 4 for a randomly seeded test). Everything
 *   is carried in double (f64: compensated), so nothing grows with |d_j|
 *   (b = 0). The online kernel loses DBL_EPSILON per rescale (r = 2^-29 in
 *   f32 eps units, 1 for f64). Loss and ce_prob keep test_kernels' 64 eps64
 *   plus the worst-case recursive-summation term r (k + n) or r N
 *   (test_kernels stops at 4097 elements, this harness goes to 1e6). The
 *   scalar shares one code path for loss-only and loss with gradient, and
 *   computes z - m exactly on shifted grid values: those checks are exact.
 * - SIMD: the model the SIMD kernels are written to (src/kernels_simd.h).
 *   d_j = z_j - m is rounded in T (relative error |d_j| eps / 2), which exp
 *   turns into a relative error of up to |d_j| eps / 2 of e^d_j: b = 1
 *   leaves a factor 2 (measured: 0.50 of the bound, the worst case of that
 *   rounding). S inherits the weighted mean of those errors, Dbar eps / 2;
 *   exp (SLEEF u10: 1 ulp), the sum and the product by 1/S take the rest
 *   (a = 8). log_softmax: d_j - log S with |d_j| <= |o_j|, so d_j's
 *   rounding is inside a ulp(o), and log S carries S's relative error as an
 *   absolute one (b Dbar eps). The online kernel rescales each lane sum by
 *   exp(m_old - m_new): about 2 eps per rescale (r = 2). Gradient: p_j's
 *   error times |s|; at the label, p_y - 1 may be formed in T, which
 *   cancels when p_y ~ 1 and turns p_y's whole bound into an absolute error
 *   (r = 1: a ulp(p_y) |s|). CE loss, absolute per row: exps in T carry
 *   (1 + Dbar) eps into S; log(sum) instead of log1p(rest) (the g == NULL
 *   path) adds the roundings of S ~ 1 itself, one per lane partial added
 *   (up to W/2 eps, measured 1.9 eps64 with AVX2); z_y - m rounded in T
 *   adds |d_y| eps / 2; so a = 8 as for softmax. ce_prob: a log in T of
 *   p + 1e-15 is good to eps (1 + |log|) per term (a = 2; ce_prob has no
 *   SIMD version yet). The linear-algebra bounds are the classic
 *   recursive-summation bound, valid for any order, with or without FMA.
 *   Properties follow from the element bounds (sum to 1: a + 2 b Dbar, plus the
 *   online kernel's r per rescale, which rounds S and so every p_j alike) and
 *   from a faithful but not necessarily monotone vector exp: neighbouring
 *   arguments may come out one ulp reversed (monotone, shift: 2 ulp).
 * SMR_TEST_VERBOSE=1 prints the measured worst values against these.
 */
#include "blas.h"
#include "kernels.h"
#include "isa_guard.h"
#include "smr.h"

#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define NOINLINE
#define PRINTF_LIKE(f, a)
#endif

/* ======================================================================== */
/* Tolerance table                                                           */
/* ======================================================================== */

enum { CL_SCALAR, CL_SIMD, NUM_CL };

typedef struct {
  double a, b, r;
} tolspec;

enum metric {
  M_SOFTMAX, M_ONLINE, M_TEMP, M_LOGSM, M_CE_GRAD, M_CE_LOSS, M_CE_PROB,
  M_LINEAR, M_XTG, M_COLSUM, M_AXPY, M_SUMSQ, M_DOT, M_MEAN, M_SD, M_STDZ,
  M_SUM1, M_GSUM0, M_LOGCONS, M_ONLINE2P, M_MONO, M_SHIFT, M_SHIFT_LOSS, M_LOSSONLY,
  NUM_METRICS
};

#define R32 (DBL_EPSILON / FLT_EPSILON) /* DBL_EPSILON in f32 eps units */

static const struct tolrow {
  const char *name; /* as printed */
  const char *unit; /* the unit of the verbose report */
  tolspec s32, v32, s64, v64; /* scalar f32, SIMD f32, scalar f64, SIMD f64 */
} TOL[NUM_METRICS] = {
    /*                name              unit          scalar f32     SIMD f32      scalar f64     SIMD f64 */
    [M_SOFTMAX]    = {"softmax",        "ulp",        {4, 0, 0},     {8, 1, 0},    {6, 0, 0},     {8, 1, 0}},
    [M_ONLINE]     = {"softmax_online", "ulp",        {4, 0, R32},   {8, 1, 2},    {6, 0, 1},     {8, 1, 2}},
    [M_TEMP]       = {"temperature",    "ulp",        {4, 0, 0},     {8, 1, 0},    {6, 0, 0},     {8, 1, 0}},
    [M_LOGSM]      = {"log_softmax",    "ulp",        {4, 0, 0},     {8, 1, 0},    {6, 0, 0},     {8, 1, 0}},
    [M_CE_GRAD]    = {"ce_logits grad", "ulp",        {4, 0, 0},     {8, 1, 1},    {6, 0, 0},     {8, 1, 1}},
    [M_CE_LOSS]    = {"ce_logits loss", "eps64*|L|",  {0, 64, 1},    {8, 64, 1},   {0, 64, 1},    {8, 64, 1}},
    [M_CE_PROB]    = {"ce_prob",        "eps64*sum|t|", {0, 64, 1},  {2, 64, 1},   {0, 64, 1},    {2, 64, 1}},
    [M_LINEAR]     = {"linear_forward", "eps*sum|t|", {1, 0, 0},     {1, 0, 0},    {1, 0, 0},     {1, 0, 0}},
    [M_XTG]        = {"xt_g",           "eps*sum|t|", {1, 0, 0},     {1, 0, 0},    {1, 0, 0},     {1, 0, 0}},
    [M_COLSUM]     = {"colsum",         "eps*sum|t|", {1, 0, 0},     {1, 0, 0},    {1, 0, 0},     {1, 0, 0}},
    [M_AXPY]       = {"axpy",           "eps*(|y|+|ax|)", {2, 0, 0}, {2, 0, 0},    {2, 0, 0},     {2, 0, 0}},
    [M_SUMSQ]      = {"sumsq",          "eps64*sum",  {1, 0, 0},     {1, 0, 0},    {1, 0, 0},     {1, 0, 0}},
    [M_DOT]        = {"dot",            "eps64*sum|t|", {1, 0, 0},   {1, 0, 0},    {1, 0, 0},     {1, 0, 0}},
    [M_MEAN]       = {"col mean",       "eps64*max|x|", {1, 0, 0},   {1, 0, 0},    {1, 0, 0},     {1, 0, 0}},
    [M_SD]         = {"col sd",         "eps64*max|x|", {8, 1, 0},   {8, 1, 0},    {8, 1, 0},     {8, 1, 0}},
    [M_STDZ]       = {"standardize",    "ulp",        {2, 0, 0},     {2, 0, 0},    {2, 0, 0},     {2, 0, 0}},
    [M_SUM1]       = {"sum to 1",       "eps",        {8, 0, 0},     {8, 2, 0},    {8, 0, 0},     {8, 2, 0}},
    [M_GSUM0]      = {"grad sum 0",     "eps*|s|",    {8, 0, 0},     {10, 2, 0},   {8, 0, 0},     {10, 2, 0}},
    [M_LOGCONS]    = {"log_sm=log(sm)", "eps*(1+|lp|)", {8, 0, 0},   {16, 2, 0},   {8, 0, 0},     {16, 2, 0}},
    [M_ONLINE2P]   = {"online=2-pass",  "ulp",        {8, 0, R32},   {16, 2, 2},   {8, 0, 1},     {16, 2, 2}},
    [M_MONO]       = {"monotone",       "ulp",        {0, 0, 0},     {2, 0, 0},    {0, 0, 0},     {2, 0, 0}},
    [M_SHIFT]      = {"shift",          "ulp",        {0, 0, 0},     {2, 0, 0},    {0, 0, 0},     {2, 0, 0}},
    [M_SHIFT_LOSS] = {"shift loss",     "eps64*|L|",  {0, 0, 0},     {8, 64, 1},   {0, 0, 0},     {8, 64, 1}},
    [M_LOSSONLY]   = {"loss only",      "eps64*|L|",  {0, 0, 0},     {8, 64, 1},   {0, 0, 0},     {8, 64, 1}},
};

enum { F32 = 0, F64 = 1, NUM_DT = 2 };

static const tolspec *tol_of(int metric, int dt, int cls) {
  const struct tolrow *t = &TOL[metric];
  if (dt == F32) return cls == CL_SCALAR ? &t->s32 : &t->v32;
  return cls == CL_SCALAR ? &t->s64 : &t->v64;
}

/* ======================================================================== */
/* Configuration, failures, statistics                                       */
/* ======================================================================== */

static uint64_t g_seed;
static bool g_quick, g_verbose;
static const struct smr_kernels *g_sc; /* the scalar table */
static const char *g_test = "";        /* name of the running test (verbose report) */
static struct timespec g_t0;            /* start of the running test */

static bool env_flag(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

PRINTF_LIKE(2, 3)
static _Noreturn void failf(int line, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ck_abort_msg("test_isa.c:%d: %s [replay: SMR_ISA_SEED=%" PRIu64 "]", line, msg, g_seed);
}
#define FAIL(...) failf(__LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) FAIL(__VA_ARGS__);                                            \
  } while (0)

typedef struct {
  double frac;   /* worst error / bound */
  double units;  /* worst error in the metric's unit */
  double bound;  /* the bound, in the same unit, where `units` was seen */
  unsigned long count;
  bool simd;     /* checked with the SIMD column */
  char at[256];  /* where `units` was seen */
  char atf[256]; /* where `frac` was seen */
} stat_t;
/* The active table's CBLAS matrix products (src/blas.c) are checked as one
   more "ISA" after the real ones (FOR_EACH_TABLE below). */
#define ISA_BLAS SMR_ISA_COUNT
static stat_t g_stat[NUM_METRICS][NUM_DT][ISA_BLAS + 1];

static const char *isa_label(int isa) {
  return isa == ISA_BLAS ? "blas" : smr_isa_name((smr_isa)isa);
}

static void start_clock(void) { clock_gettime(CLOCK_MONOTONIC, &g_t0); }

/* Checked fixture teardown: the verbose report of the test that just ran. */
static void report(void) {
  if (g_verbose) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "test_isa %-14s %.2f s\n", g_test,
            (double)(t1.tv_sec - g_t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - g_t0.tv_nsec));
    for (int m = 0; m < NUM_METRICS; m++)
      for (int dt = 0; dt < NUM_DT; dt++)
        for (int isa = 0; isa <= ISA_BLAS; isa++) {
          const stat_t *s = &g_stat[m][dt][isa];
          if (s->count == 0) continue;
          fprintf(stderr,
                  "test_isa %-14s %-15s %s %-7s worst %10.4g %-14s (bound there %10.4g), "
                  "worst/bound %.3f, %lu values, %s bounds [at %s] [worst/bound at %s]\n",
                  g_test, TOL[m].name, dt == F32 ? "f32" : "f64", isa_label(isa),
                  s->units, TOL[m].unit, s->bound, s->frac, s->count,
                  s->simd ? "SIMD" : "scalar", s->at, s->frac > 0 ? s->atf : "-");
        }
  }
  memset(g_stat, 0, sizeof g_stat);
}

/* ======================================================================== */
/* Dtypes                                                                    */
/* ======================================================================== */

static const char *dt_name(int dt) { return dt == F32 ? "f32" : "f64"; }
static size_t dt_size(int dt) { return dt == F32 ? sizeof(float) : sizeof(double); }
static double dt_eps(int dt) { return dt == F32 ? FLT_EPSILON : DBL_EPSILON; }
static double dt_tiny(int dt) { return dt == F32 ? FLT_TRUE_MIN : DBL_TRUE_MIN; }
static double dt_max(int dt) { return dt == F32 ? FLT_MAX : DBL_MAX; }
static double dt_min_normal(int dt) { return dt == F32 ? FLT_MIN : DBL_MIN; }

/* x rounded to the dtype. Out of line: GCC 12.2 at -O3 was seen to
   SLP-vectorize an inlined `dt == F32 ? (double)(float)x : x` over a small
   array and drop the conversion of the first two lanes (see
   test_kernels.c). The same for the other rounding helpers. */
NOINLINE static double dt_round(int dt, double x) { return dt == F32 ? (double)(float)x : x; }

NOINLINE static long double ld_round(int dt, long double x) {
  return dt == F32 ? (long double)(float)x : (long double)(double)x;
}

/* z / t divided in the dtype, as the temperature kernel does. */
NOINLINE static double dt_div(int dt, double z, double t) {
  if (dt == F32) {
    const float q = (float)z / (float)t;
    return q;
  }
  return z / t;
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

/* The spacing of dtype dt at |x|, never below its smallest subnormal;
   values beyond the finite range use the spacing at the max. */
static double ulp_t(int dt, long double x) {
  const double tiny = dt_tiny(dt);
  double ax = fabs((double)x); /* the binade is all that matters */
  if (!(ax > 0)) return tiny;
  if (ax > dt_max(dt)) ax = dt_max(dt);
  int e;
  (void)frexp(ax, &e); /* ax = f 2^e, 1/2 <= f < 1 */
  const double u = ldexp(1.0, e - (dt == F32 ? FLT_MANT_DIG : DBL_MANT_DIG));
  return u > tiny ? u : tiny;
}

enum { VC_NAN, VC_PINF, VC_NINF, VC_ZERO, VC_FIN };
static const char *const VC_NAMES[] = {"NaN", "+inf", "-inf", "zero", "finite nonzero"};

static int vclass(double v) {
  if (isnan(v)) return VC_NAN;
  if (v == INFINITY) return VC_PINF;
  if (v == -INFINITY) return VC_NINF;
  return v == 0 ? VC_ZERO : VC_FIN;
}

/* ======================================================================== */
/* Random numbers (splitmix64, independent of the library's generator)      */
/* ======================================================================== */

typedef struct {
  uint64_t s;
} trng;

static uint64_t tr_next(trng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The stream of one test and dtype. */
static trng tr_stream(uint64_t test_id, int dt) {
  trng r = {g_seed ^ (test_id * 0xD1B54A32D192ED03ull) ^ ((uint64_t)dt << 56)};
  (void)tr_next(&r);
  return r;
}

static double tr_uniform(trng *r) { return (double)(tr_next(r) >> 11) * 0x1p-53; }

static double tr_normal(trng *r) {
  const double u1 = 1.0 - tr_uniform(r); /* (0, 1] */
  const double u2 = tr_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static size_t tr_below(trng *r, size_t bound) { return (size_t)(tr_next(r) % bound); }

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes > 0 ? bytes : 1);
  CHECK(p != NULL, "out of memory (%zu bytes)", bytes);
  return p;
}

/* ======================================================================== */
/* Guarded buffers                                                           */
/* ======================================================================== */

#define GUARD_BYTES 64

static const uint32_t SENT32 = 0x7FE5A5A5u;            /* quiet NaN (f32), int32 label */
static const uint64_t SENT64 = 0x7FFDA5A5A5A5A5A5ull;  /* quiet NaN (f64) */
static const uint32_t PINF32 = 0x7F800000u;
static const uint64_t PINF64 = 0x7FF0000000000000ull;

#define MAX_HEAD (GUARD_BYTES + 3 * 8)
#define MAX_TAIL (GUARD_BYTES + 64)

typedef struct {
  unsigned char *mem, *data;
  size_t esz, len, head, total;
  unsigned char pat[8];          /* the NaN sentinel */
  unsigned char ghead[MAX_HEAD]; /* the guards as written */
  unsigned char gtail[MAX_TAIL];
} gbuf;

/* len elements of esz bytes starting `off` (0..3) elements past a 64-byte
   boundary, with GUARD_BYTES + off*esz bytes before and at least
   GUARD_BYTES after. The data holds the NaN sentinel (so an element left
   unwritten is visible); the guard elements alternate +inf (next to the
   data) and the NaN sentinel, so a read past either end poisons a max
   (+inf) as well as a sum (NaN). */
static void *gb_alloc(gbuf *b, size_t esz, size_t len, size_t off) {
  b->esz = esz;
  b->len = len;
  b->head = GUARD_BYTES + off * esz;
  b->total = (b->head + len * esz + GUARD_BYTES + 63) / 64 * 64;
  unsigned char inf[8];
  if (esz == 8) {
    memcpy(b->pat, &SENT64, 8);
    memcpy(inf, &PINF64, 8);
  } else {
    memcpy(b->pat, &SENT32, 4);
    memcpy(inf, &PINF32, 4);
  }
  b->mem = aligned_alloc(64, b->total);
  CHECK(b->mem != NULL, "out of memory (%zu bytes)", b->total);
  for (size_t i = 0; i < b->total; i += esz) memcpy(b->mem + i, b->pat, esz);
  b->data = b->mem + b->head;
  const size_t tail = b->total - b->head - len * esz;
  for (size_t e = 0; (e + 1) * esz <= b->head; e += 2) memcpy(b->data - (e + 1) * esz, inf, esz);
  for (size_t e = 0; (e + 1) * esz <= tail; e += 2) memcpy(b->data + (len + e) * esz, inf, esz);
  memcpy(b->ghead, b->mem, b->head);
  memcpy(b->gtail, b->data + len * esz, tail);
  return b->data;
}

static void gb_free(gbuf *b) {
  free(b->mem);
  b->mem = b->data = NULL;
}

/* Context of a kernel call, for messages and statistics. */
typedef struct {
  int dt, isa, cls;
  const char *kernel;
  const char *where; /* the case */
  size_t k;          /* row length (row/column of an element index) */
  const unsigned char *kinds; /* kind of each row, or NULL */
} cctx;

static const char *kind_name(int kind);

static const char *row_kind(const cctx *c, size_t idx) {
  return c->kinds != NULL && c->k > 0 ? kind_name(c->kinds[idx / c->k]) : "-";
}

static void note(int metric, const cctx *c, size_t idx, long double err, long double unit,
                 long double tol) {
  stat_t *s = &g_stat[metric][c->dt][c->isa];
  s->count++;
  s->simd = s->simd || c->cls == CL_SIMD;
  const double e = (double)err, t = (double)tol, u = (double)unit;
  const double frac = t > 0 ? e / t : (e > 0 ? INFINITY : 0.0);
  if (frac > s->frac) {
    s->frac = frac;
    if (g_verbose)
      snprintf(s->atf, sizeof s->atf, "%.200s, element %zu, row kind %.12s", c->where, idx,
               row_kind(c, idx));
  }
  const double units = u > 0 ? e / u : 0.0;
  if (s->count == 1 || units > s->units) {
    s->units = units;
    s->bound = u > 0 ? t / u : 0.0;
    if (g_verbose)
      snprintf(s->at, sizeof s->at, "%.200s, element %zu, row kind %.12s", c->where, idx,
               row_kind(c, idx));
  }
}

/* The guards of b are intact. */
static void gb_check(const gbuf *b, const cctx *c, const char *what) {
  for (size_t i = 0; i < b->head; i++)
    if (b->mem[i] != b->ghead[i])
      FAIL("%s %s isa=%s (%s): write %zu bytes before the %s buffer", c->kernel, dt_name(c->dt),
           isa_label(c->isa), c->where, b->head - i, what);
  const unsigned char *end = b->data + b->len * b->esz;
  for (size_t i = 0; end + i < b->mem + b->total; i++)
    if (end[i] != b->gtail[i])
      FAIL("%s %s isa=%s (%s): write %zu bytes after the %s buffer", c->kernel, dt_name(c->dt),
           isa_label(c->isa), c->where, i + 1, what);
}

/* Every element of b was overwritten (none still holds the sentinel). */
static void gb_written(const gbuf *b, const cctx *c, const char *what) {
  for (size_t i = 0; i < b->len; i++)
    if (memcmp(b->data + i * b->esz, b->pat, b->esz) == 0)
      FAIL("%s %s isa=%s (%s): %s element %zu not written", c->kernel, dt_name(c->dt),
           isa_label(c->isa), c->where, what, i);
}

/* A guarded copy of len values of dt (doubles representable in dt). */
static void *gb_from(gbuf *b, int dt, const double *v, size_t len, size_t off) {
  void *p = gb_alloc(b, dt_size(dt), len, off);
  for (size_t i = 0; i < len; i++) put(dt, p, i, v[i]);
  return p;
}

/* ======================================================================== */
/* Comparisons                                                               */
/* ======================================================================== */

/* One output value against its reference (odt: the dtype of the output
   value: the kernel's, or F64 for the double results). NaN must match NaN;
   where got or the reference rounded to odt is infinite, they must be
   equal; a reference of exactly 0 needs an exact zero; otherwise
   |got - ref| <= tol. sc_class >= 0: the class of the scalar result at the
   same element, which got must share, except that zero and finite nonzero
   may differ where the reference is within the tolerance of zero. */
static void check_val(int metric, const cctx *c, int odt, size_t idx, double got, long double ref,
                      long double tol, long double unit, int sc_class) {
  const char *why = NULL;
  long double err = 0;
  if (isnan(ref)) {
    if (!isnan(got)) why = "reference is NaN";
  } else if (isnan(got)) {
    why = "NaN where the reference is not";
  } else {
    const long double refr = fabsl(ref) < (long double)dt_max(odt) ? ref : ld_round(odt, ref);
    if (isinf(refr) || isinf(got)) {
      if ((long double)got != refr) why = "infinity mismatch";
    } else if (ref == 0) {
      if (got != 0) why = "the reference is exactly 0";
    } else {
      err = fabsl((long double)got - ref);
      note(metric, c, idx, err, unit, tol);
      if (!(err <= tol)) why = "error above the bound";
    }
  }
  if (why != NULL)
    FAIL("%s %s isa=%s [%s] (%s) element %zu (row %zu col %zu, row kind %s): got %.9g, "
         "reference %.17Lg: %s (|err| %.3Lg, bound %.3Lg = %.3Lg %s)",
         c->kernel, dt_name(c->dt), isa_label(c->isa), TOL[metric].name, c->where, idx,
         c->k ? idx / c->k : 0, c->k ? idx % c->k : 0, row_kind(c, idx), got, ref, why, err, tol,
         unit > 0 ? tol / unit : 0.0L, TOL[metric].unit);
  if (sc_class >= 0) {
    const int g = vclass(got);
    if (g != sc_class) {
      const bool zero_vs_tiny = (g == VC_ZERO && sc_class == VC_FIN) ||
                                (g == VC_FIN && sc_class == VC_ZERO);
      if (!(zero_vs_tiny && fabsl(ref) <= tol))
        FAIL("%s %s isa=%s (%s) element %zu (row %zu col %zu, row kind %s): %s (%.9g) where the "
             "scalar kernel gives %s (reference %.17Lg)",
             c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, idx,
             c->k ? idx / c->k : 0, c->k ? idx % c->k : 0, row_kind(c, idx), VC_NAMES[g], got,
             VC_NAMES[sc_class], ref);
    }
  }
}

/* got against another computed value `want` (a property between two
   results): NaN matches NaN, infinities must be equal, else
   |got - want| <= tol. */
static void check_pair(int metric, const cctx *c, size_t idx, double got, double want,
                       long double tol, long double unit, const char *what) {
  bool ok;
  long double err = 0;
  if (isnan(want) || isnan(got))
    ok = isnan(want) && isnan(got);
  else if (isinf(want) || isinf(got))
    ok = got == want;
  else {
    err = fabsl((long double)got - (long double)want);
    note(metric, c, idx, err, unit, tol);
    ok = err <= tol;
  }
  if (!ok)
    FAIL("%s %s isa=%s [%s] (%s) element %zu (row %zu col %zu, row kind %s): %s: %.17g vs %.17g "
         "(|diff| %.3Lg, bound %.3Lg)",
         c->kernel, dt_name(c->dt), isa_label(c->isa), TOL[metric].name, c->where,
         idx, c->k ? idx / c->k : 0, c->k ? idx % c->k : 0, row_kind(c, idx), what, got, want, err,
         tol);
}

/* ======================================================================== */
/* ISAs                                                                      */
/* ======================================================================== */

#define FOR_EACH_ISA(isa, t)                                                   \
  for (int isa = 0; isa < SMR_ISA_COUNT; isa++)                                \
    for (const struct smr_kernels *t = smr_kernels_for(isa); t != NULL; t = NULL)

/* The active table when it is not an ISA's own (its matrix products come
   from CBLAS), else NULL. */
static const struct smr_kernels *blas_table(void) {
  const struct smr_kernels *a = smr_kernels_active();
  return a != smr_kernels_for(smr_isa_active()) ? a : NULL;
}

/* Every ISA, then the active table as ISA_BLAS when it has CBLAS's
   matrix products (for linear_forward and xt_g; call them between
   blas_begin and blas_end). */
#define FOR_EACH_TABLE(isa, t)                                                 \
  for (int isa = 0; isa <= ISA_BLAS; isa++)                                    \
    for (const struct smr_kernels *t = isa < ISA_BLAS ? smr_kernels_for(isa) : blas_table(); \
         t != NULL; t = NULL)

/* CL_SCALAR when the entry is the scalar function itself. */
#define ENTRY_CLS(t, dt, name)                                                 \
  (((dt) == F32 ? (t)->f32.name == g_sc->f32.name : (t)->f64.name == g_sc->f64.name)        \
       ? CL_SCALAR                                                             \
       : CL_SIMD)

/* With one OpenBLAS thread the BLAS table leaves narrow products (small k)
   to the active ISA's kernels (src/blas.c), which the ISA's own table
   already checks: ISA_BLAS runs with two threads, so every shape goes
   through the GEMM (threaded where OpenBLAS splits it). */
static int blas_begin(int isa) {
  const int before = smr_blas_num_threads();
  if (isa == ISA_BLAS) smr_blas_set_num_threads(2);
  return before;
}

static void blas_end(int isa, int before) {
  if (isa == ISA_BLAS) smr_blas_set_num_threads(before);
}

/* ======================================================================== */
/* Sizes and row kinds                                                       */
/* ======================================================================== */

/* 3 vectors + 1 of the widest ISA: 16 floats / 8 doubles per 512 bits. */
static size_t small_max(int dt) { return dt == F32 ? 3 * 16 + 1 : 3 * 8 + 1; }

/* Powers of two and their neighbours above small_max, up to 4097. */
static size_t pow2_list(int dt, size_t *out) {
  size_t n = 0;
  for (size_t p = 4; p <= 4096; p *= 2)
    for (size_t d = 0; d < 3; d++) {
      const size_t k = p - 1 + d;
      if (k > small_max(dt)) out[n++] = k;
    }
  return n;
}

static size_t big_len(void) { return g_quick ? 100000 : 1000000; }

static const size_t NLIST[] = {1, 2, 3, 7, 64};
#define NUM_NLIST (sizeof NLIST / sizeof NLIST[0])
static const double SCALES[] = {1e-3, 1.0, 10.0, 100.0, 1e4};
#define NUM_SCALES (sizeof SCALES / sizeof SCALES[0])
static const double TEMPS[] = {1.0, 0.5, 3.7, 0.25, 0.01, 1000.0};
#define NUM_TEMPS (sizeof TEMPS / sizeof TEMPS[0])

enum kind {
  K_NORMAL,    /* scale * N(0,1) */
  K_EQUAL,     /* all equal */
  K_PM1000,    /* each +1000 or -1000 */
  K_UFLOW,     /* differences from the max near the exp underflow threshold */
  K_HUGE,      /* near the overflow threshold of z / T, and up to +-MAX */
  K_NEGINF,    /* some -inf */
  K_ALLNEGINF, /* all -inf */
  K_POSINF1,   /* one +inf (and maybe a -inf) */
  K_POSINFS,   /* several +inf */
  K_NAN,       /* a NaN (first, last or anywhere) */
  K_NANINF,    /* NaN with +inf and -inf */
  K_TIES,      /* the max repeated */
  K_ONEHOT,    /* everything but the max below it by 17..30 (f32) / 38..60 (f64) */
  K_TAILMAX,   /* the max is the last element */
  NUM_KINDS
};

static const char *const KIND_NAMES[NUM_KINDS] = {
    "normal", "equal", "+-1000", "underflow", "huge", "-inf", "all -inf",
    "one +inf", "several +inf", "NaN", "NaN+inf", "ties", "one-hot", "max last"};

static const char *kind_name(int kind) {
  return kind >= 0 && kind < NUM_KINDS ? KIND_NAMES[kind] : "?";
}

/* Every other row is normal (at the next scale); the rest cycle through the
   other kinds. */
static const unsigned char SCHED[] = {
    K_NORMAL, K_EQUAL,  K_NORMAL, K_PM1000,    K_NORMAL, K_UFLOW,   K_NORMAL, K_HUGE,
    K_NORMAL, K_NEGINF, K_NORMAL, K_ALLNEGINF, K_NORMAL, K_POSINF1, K_NORMAL, K_POSINFS,
    K_NORMAL, K_NAN,    K_NORMAL, K_NANINF,    K_NORMAL, K_TIES,    K_NORMAL, K_ONEHOT,
    K_NORMAL, K_TAILMAX};
#define NUM_SCHED (sizeof SCHED / sizeof SCHED[0])

static void fill_normal(int dt, double *x, size_t k, double scale, trng *r) {
  for (size_t j = 0; j < k; j++) x[j] = dt_round(dt, scale * tr_normal(r));
}

static double row_max(const double *x, size_t k) {
  double m = -INFINITY;
  for (size_t j = 0; j < k; j++)
    if (x[j] > m) m = x[j];
  return m;
}

/* One row of the given kind (values representable in dt). temp: the
   temperature the row will also be used with (K_HUGE aims at the z / temp
   overflow threshold). */
static void gen_row(int dt, int kind, double *x, size_t k, double scale, double temp, trng *r) {
  const double mx = dt_max(dt);
  switch (kind) {
  case K_NORMAL:
    fill_normal(dt, x, k, scale, r);
    break;
  case K_EQUAL: {
    const double v = dt_round(dt, scale * 10 * tr_normal(r));
    for (size_t j = 0; j < k; j++) x[j] = v;
    break;
  }
  case K_PM1000:
    for (size_t j = 0; j < k; j++) x[j] = tr_below(r, 2) ? 1000.0 : -1000.0;
    break;
  case K_UFLOW:
  case K_ONEHOT: {
    const bool uf = kind == K_UFLOW;
    const double lo = dt == F32 ? (uf ? -106 : -30) : (uf ? -748 : -60);
    const double hi = dt == F32 ? (uf ? -85 : -17) : (uf ? -700 : -38);
    const double c = dt_round(dt, 10 * tr_normal(r));
    const size_t jm = tr_below(r, k);
    for (size_t j = 0; j < k; j++)
      x[j] = j == jm ? c : dt_round(dt, c + lo + (hi - lo) * tr_uniform(r));
    break;
  }
  case K_HUGE: {
    const double thr = mx * (temp < 1 ? temp : 1);
    for (size_t j = 0; j < k; j++) {
      double v;
      switch (tr_below(r, 4)) {
      case 0: /* within a few eps of the threshold */
        v = thr * (1 + (double)((int)tr_below(r, 9) - 4) * dt_eps(dt));
        break;
      case 1:
        v = mx * (0.5 + 0.5 * tr_uniform(r));
        break;
      case 2:
        v = scale * tr_normal(r);
        break;
      default:
        v = thr * tr_uniform(r);
        break;
      }
      if (v > mx) v = mx;
      x[j] = dt_round(dt, tr_below(r, 2) ? v : -v);
    }
    break;
  }
  case K_NEGINF: {
    fill_normal(dt, x, k, scale, r);
    const size_t cnt = 1 + tr_below(r, k / 3 + 1);
    for (size_t c = 0; c < cnt; c++) x[tr_below(r, k)] = -INFINITY;
    break;
  }
  case K_ALLNEGINF:
    for (size_t j = 0; j < k; j++) x[j] = -INFINITY;
    break;
  case K_POSINF1:
    fill_normal(dt, x, k, scale, r);
    if (k > 2 && tr_below(r, 2)) x[tr_below(r, k)] = -INFINITY;
    x[tr_below(r, k)] = INFINITY;
    break;
  case K_POSINFS: {
    fill_normal(dt, x, k, scale, r);
    const size_t cnt = 2 + tr_below(r, 3);
    for (size_t c = 0; c < cnt; c++) x[tr_below(r, k)] = INFINITY;
    break;
  }
  case K_NAN: {
    fill_normal(dt, x, k, scale, r);
    const size_t u = tr_below(r, 4);
    x[u == 0 ? 0 : u == 1 ? k - 1 : tr_below(r, k)] = NAN;
    break;
  }
  case K_NANINF:
    fill_normal(dt, x, k, scale, r);
    x[tr_below(r, k)] = INFINITY;
    x[tr_below(r, k)] = -INFINITY;
    x[tr_below(r, k)] = NAN;
    break;
  case K_TIES: {
    fill_normal(dt, x, k, scale, r);
    const double m = row_max(x, k);
    const size_t cnt = 1 + tr_below(r, k / 4 + 1);
    for (size_t c = 0; c < cnt; c++) x[tr_below(r, k)] = m;
    if (tr_below(r, 2)) x[k - 1] = m;
    break;
  }
  case K_TAILMAX: {
    fill_normal(dt, x, k, scale, r);
    const double m = row_max(x, k);
    x[k - 1] = dt_round(dt, m + scale * (0.5 + tr_uniform(r)));
    break;
  }
  default:
    FAIL("bad row kind %d", kind);
  }
}

/* A label: a quarter of the rows get the first max (confident, correct:
   the cancellation-prone gradient entry), the rest a random class. */
static int32_t pick_label(const double *x, size_t k, trng *r) {
  if (tr_below(r, 4) == 0) {
    size_t jm = 0;
    double m = -INFINITY;
    for (size_t j = 0; j < k; j++)
      if (x[j] > m) {
        m = x[j];
        jm = j;
      }
    return (int32_t)jm;
  }
  return (int32_t)tr_below(r, k);
}

/* ======================================================================== */
/* Long-double reference of the row kernels                                  */
/* ======================================================================== */

typedef struct {
  bool nan_row;      /* a NaN, or no entry above -inf: the output row is NaN */
  size_t pinf;       /* +inf entries (NaN-free rows) */
  size_t jz;         /* first index of the max over the non-NaN entries */
  size_t jmax;       /* first index of the finite max */
  long double m;     /* the finite max (-inf if none) */
  long double rest;  /* sum over finite j != jmax of e^(x_j - m) */
  long double S;     /* 1 + rest */
  long double lsum;  /* log1p(rest) */
  long double dbar;  /* sum_j e^d_j |d_j| / S */
  size_t resc;       /* rises of the running max, left to right */
} rrow;

typedef struct {
  int dt;
  size_t n, k;
  double *x;       /* the rows as the kernel sees them */
  rrow *rows;
  long double *p;  /* extended softmax */
  uint32_t *perm;  /* per row, indices sorted by x (then by index) */
  double *xs;      /* per row, x in that order */
} refmat;

typedef struct {
  double x;
  uint32_t j;
} xj_pair;

static int cmp_xj(const void *a, const void *b) {
  const xj_pair *p = a, *q = b;
  if (p->x < q->x) return -1;
  if (p->x > q->x) return 1;
  return (p->j > q->j) - (p->j < q->j);
}

/* The reference of one row. For f32 rows exp and log1p run in double
   (2^-53 relative: 29 bits beyond an f32 bound, and much faster where long
   double is emulated, as the binary128 of AArch64); f64 rows use long
   double throughout. */
static void ref_row(int dt, const double *x, size_t k, rrow *rr, long double *p) {
  memset(rr, 0, sizeof *rr);
  rr->m = -INFINITY;
  bool any_nan = false;
  size_t finite = 0;
  double mz = -INFINITY, run = -INFINITY;
  for (size_t j = 0; j < k; j++) {
    const double v = x[j];
    if (v > run) {
      run = v;
      rr->resc++;
    }
    if (isnan(v)) {
      any_nan = true;
      continue;
    }
    if (v > mz || (j == 0 && v == mz)) {
      mz = v;
      rr->jz = j;
    }
    if (v == INFINITY) {
      rr->pinf++;
    } else if (v != -INFINITY) {
      if (finite == 0 || v > rr->m) {
        rr->m = v;
        rr->jmax = j;
      }
      finite++;
    }
  }
  rr->nan_row = any_nan || (rr->pinf == 0 && finite == 0);
  if (!rr->nan_row && rr->pinf == 0) {
    long double rest = 0, wd = 0;
    for (size_t j = 0; j < k; j++) {
      if (x[j] == -INFINITY) {
        p[j] = 0;
        continue;
      }
      const long double d = (long double)x[j] - rr->m;
      const long double e = j == rr->jmax ? 1.0L : dt == F32 ? (long double)exp((double)d) : expl(d);
      p[j] = e;
      if (j != rr->jmax) rest += e;
      wd += e * fabsl(d);
    }
    rr->rest = rest;
    rr->S = 1.0L + rest;
    rr->lsum = dt == F32 ? (long double)log1p((double)rest) : log1pl(rest);
    rr->dbar = wd / rr->S;
    for (size_t j = 0; j < k; j++) p[j] /= rr->S;
  } else {
    for (size_t j = 0; j < k; j++) {
      if (rr->nan_row)
        p[j] = NAN;
      else
        p[j] = x[j] == INFINITY ? 1.0L / (long double)rr->pinf : 0.0L;
    }
  }
}

/* The reference of the n x k matrix z as the kernel sees it: z, or
   fl(z / temp) when scaled. */
static void ref_build(refmat *R, int dt, const double *z, size_t n, size_t k, double temp,
                      bool scaled, bool want_perm) {
  const size_t len = n * k;
  R->dt = dt;
  R->n = n;
  R->k = k;
  R->x = xmalloc(len * sizeof *R->x);
  R->rows = xmalloc(n * sizeof *R->rows);
  R->p = xmalloc(len * sizeof *R->p);
  R->perm = xmalloc((want_perm ? len : 1) * sizeof *R->perm);
  R->xs = xmalloc((want_perm ? len : 1) * sizeof *R->xs);
  for (size_t i = 0; i < len; i++) R->x[i] = scaled ? dt_div(dt, z[i], temp) : z[i];
  xj_pair *tmp = xmalloc(k * sizeof *tmp);
  for (size_t i = 0; i < n; i++) {
    const double *x = R->x + i * k;
    ref_row(dt, x, k, &R->rows[i], R->p + i * k);
    if (R->rows[i].nan_row || !want_perm) continue;
    for (size_t j = 0; j < k; j++) {
      tmp[j].x = x[j];
      tmp[j].j = (uint32_t)j;
    }
    qsort(tmp, k, sizeof *tmp, cmp_xj);
    for (size_t j = 0; j < k; j++) {
      R->perm[i * k + j] = tmp[j].j;
      R->xs[i * k + j] = tmp[j].x;
    }
  }
  free(tmp);
}

static void ref_free(refmat *R) {
  free(R->x);
  free(R->rows);
  free(R->p);
  free(R->perm);
  free(R->xs);
}

/* log_softmax of element (i, j). */
static long double ref_lp(const refmat *R, size_t i, size_t j) {
  const rrow *rr = &R->rows[i];
  const double x = R->x[i * R->k + j];
  if (rr->nan_row) return NAN;
  if (rr->pinf > 0) return x == INFINITY ? -logl((long double)rr->pinf) : -INFINITY;
  if (x == -INFINITY) return -INFINITY;
  return ((long double)x - rr->m) - rr->lsum;
}

/* |d_j| + Dbar for a finite entry, 0 otherwise. */
static double ref_cond(const refmat *R, size_t i, size_t j) {
  const rrow *rr = &R->rows[i];
  const double x = R->x[i * R->k + j];
  if (rr->nan_row || rr->pinf > 0 || !isfinite(x)) return 0;
  return (double)(fabsl((long double)x - rr->m) + rr->dbar);
}

/* coef * eps * |v|, 0 when v is 0 (coef may then be huge, even inf: |d_j|
   of an entry far below the max). Tolerances are computed in double; only
   got - ref needs the reference's precision. */
static double rel_term(double coef, double eps, double v) {
  return v == 0 ? 0 : coef * eps * fabs(v);
}

/* -log p_label of row i (extended softmax). */
static long double ref_loss_row(const refmat *R, size_t i, size_t y) {
  const rrow *rr = &R->rows[i];
  const double xy = R->x[i * R->k + y];
  if (rr->nan_row) return NAN;
  if (rr->pinf > 0) return xy == INFINITY ? logl((long double)rr->pinf) : INFINITY;
  if (xy == -INFINITY) return INFINITY;
  return (rr->m - xy) + rr->lsum;
}

/* (p_j - [j == y]) * s; p_y - 1 = -rest / S at the first max (no
   cancellation in the reference either). */
static long double ref_grad(const refmat *R, size_t i, size_t j, size_t y, long double s) {
  const rrow *rr = &R->rows[i];
  if (rr->nan_row) return NAN;
  const long double p = R->p[i * R->k + j];
  long double q;
  if (j != y)
    q = p;
  else if (rr->pinf == 0 && y == rr->jmax)
    q = -rr->rest / rr->S;
  else
    q = p - 1;
  return q * s;
}

/* The summed CE loss of the reference, and its bound with spec ts. */
static long double ce_loss_ref(const refmat *R, const int32_t *labels, const tolspec *ts,
                               long double *tol, long double *unit) {
  long double total = 0, cond = 0, mag = 0;
  for (size_t i = 0; i < R->n; i++) {
    const size_t y = (size_t)labels[i];
    const long double l = ref_loss_row(R, i, y);
    total += l;
    if (!isfinite(l)) continue;
    const rrow *rr = &R->rows[i];
    const double xy = R->x[i * R->k + y];
    cond += 1 + (rr->pinf > 0 ? 0 : rr->dbar + fabsl(rr->m - xy));
    mag += fabsl(l);
  }
  *tol = ts->a * dt_eps(R->dt) * cond + (ts->b + ts->r * (double)(R->k + R->n)) * DBL_EPSILON * mag;
  /* the final rounding of the double result; below DBL_MIN every
     exponential of the sum is rounded to the subnormal grid on its own */
  if (ts->a + ts->b + ts->r > 0)
    *tol += ulp_t(F64, total) + (double)(R->n * R->k) * DBL_TRUE_MIN;
  *unit = DBL_EPSILON * (fabsl(total) > 0 && isfinite(total) ? fabsl(total) : 1.0L);
  return total;
}

/* ======================================================================== */
/* Calling the row kernels                                                   */
/* ======================================================================== */

enum rop { OP_SOFTMAX, OP_ONLINE, OP_TEMP, OP_LOGSM, NUM_ROPS };

static void call_rop(const struct smr_kernels *t, int dt, int op, const void *z, void *p, size_t n,
                     size_t k, double temp) {
  if (dt == F32) {
    switch (op) {
    case OP_SOFTMAX: t->f32.softmax(z, p, n, k); return;
    case OP_ONLINE: t->f32.softmax_online(z, p, n, k); return;
    case OP_TEMP: t->f32.softmax_temperature(z, p, n, k, (float)temp); return;
    default: t->f32.log_softmax(z, p, n, k); return;
    }
  }
  switch (op) {
  case OP_SOFTMAX: t->f64.softmax(z, p, n, k); return;
  case OP_ONLINE: t->f64.softmax_online(z, p, n, k); return;
  case OP_TEMP: t->f64.softmax_temperature(z, p, n, k, temp); return;
  default: t->f64.log_softmax(z, p, n, k); return;
  }
}

static void call_argmax(const struct smr_kernels *t, int dt, const void *p, size_t n, size_t k,
                        int32_t *lab) {
  if (dt == F32)
    t->f32.argmax_rows(p, n, k, lab);
  else
    t->f64.argmax_rows(p, n, k, lab);
}

/* Runs row op `op` of table t on the n x k matrix z into out (as doubles):
   input at in_off, output at out_off or in place; guards, sentinels and
   the input checked. am != NULL: argmax_rows of the same table on the
   output buffer. */
static void run_rop(const struct smr_kernels *t, const cctx *c, int op, const double *z,
                    double *out, size_t n, size_t k, double temp, bool in_place, size_t in_off,
                    size_t out_off, int32_t *am) {
  const int dt = c->dt;
  const size_t len = n * k, esz = dt_size(dt);
  gbuf bi, bo = {0};
  void *in = gb_from(&bi, dt, z, len, in_off);
  void *copy = NULL, *o = in;
  if (!in_place) {
    o = gb_alloc(&bo, esz, len, out_off);
    copy = xmalloc(len * esz);
    memcpy(copy, in, len * esz);
  }
  call_rop(t, dt, op, in, o, n, k, temp);
  gb_check(&bi, c, in_place ? "in-place" : "input");
  if (!in_place) {
    gb_check(&bo, c, "output");
    gb_written(&bo, c, "output");
    CHECK(memcmp(copy, in, len * esz) == 0, "%s %s isa=%s (%s): the input was modified",
          c->kernel, dt_name(dt), isa_label(c->isa), c->where);
  }
  for (size_t i = 0; i < len; i++) out[i] = get(dt, o, i);
  if (am != NULL) call_argmax(t, dt, o, n, k, am);
  free(copy);
  gb_free(&bi);
  if (!in_place) gb_free(&bo);
}

enum gmode { G_NONE, G_OUT, G_INPLACE };
static const char *const GMODE_NAMES[] = {"ce_logits (g = NULL)", "ce_logits", "ce_logits (g = z)"};

static double call_ce(const struct smr_kernels *t, int dt, const void *z, const int32_t *lab,
                      size_t n, size_t k, double scale, void *g) {
  if (dt == F32) return t->f32.ce_logits(z, lab, NULL, n, k, (float)scale, g);
  return t->f64.ce_logits(z, lab, NULL, n, k, scale, g);
}

/* The fused CE of table t in gradient mode gm; the gradient (unless
   G_NONE) into grad as doubles. */
static double run_ce(const struct smr_kernels *t, const cctx *c, const double *z,
                     const int32_t *labels, size_t n, size_t k, double scale, int gm, double *grad,
                     size_t in_off, size_t out_off) {
  const int dt = c->dt;
  const size_t len = n * k, esz = dt_size(dt);
  gbuf bz, bl, bg = {0};
  void *zin = gb_from(&bz, dt, z, len, in_off);
  void *copy = xmalloc(len * esz);
  memcpy(copy, zin, len * esz);
  int32_t *lab = gb_alloc(&bl, sizeof(int32_t), n, (in_off + 1) % 4);
  memcpy(lab, labels, n * sizeof *lab);
  void *g = gm == G_OUT ? gb_alloc(&bg, esz, len, out_off) : gm == G_INPLACE ? zin : NULL;
  const double loss = call_ce(t, dt, zin, lab, n, k, scale, g);
  gb_check(&bz, c, gm == G_INPLACE ? "z (= g)" : "z");
  gb_check(&bl, c, "labels");
  CHECK(memcmp(lab, labels, n * sizeof *lab) == 0, "%s %s isa=%s (%s): labels modified",
        c->kernel, dt_name(dt), isa_label(c->isa), c->where);
  if (gm != G_INPLACE)
    CHECK(memcmp(copy, zin, len * esz) == 0, "%s %s isa=%s (%s): z modified", c->kernel,
          dt_name(dt), isa_label(c->isa), c->where);
  if (gm == G_OUT) {
    gb_check(&bg, c, "gradient");
    gb_written(&bg, c, "gradient");
  }
  if (gm != G_NONE)
    for (size_t i = 0; i < len; i++) grad[i] = get(dt, g, i);
  if (gm == G_OUT) gb_free(&bg);
  gb_free(&bl);
  gb_free(&bz);
  free(copy);
  return loss;
}

/* ======================================================================== */
/* Row-kernel checks                                                         */
/* ======================================================================== */

/* softmax-like output against the reference; classes against (or, for the
   scalar table, into) scc. */
static void check_probs(int metric, const cctx *c, const refmat *R, const double *out,
                        unsigned char *scc) {
  const tolspec *ts = tol_of(metric, c->dt, c->cls);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    const size_t resc = R->rows[i].resc;
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      const long double ref = R->p[idx];
      const double u = ulp_t(c->dt, ref);
      const double tol =
          ts->a * u + rel_term(ts->b * ref_cond(R, i, j) + ts->r * (double)resc, eps, (double)ref);
      check_val(metric, c, c->dt, idx, out[idx], ref, tol, u, is_sc ? -1 : scc[idx]);
      if (is_sc) scc[idx] = (unsigned char)vclass(out[idx]);
    }
  }
}

static void check_logsm(const cctx *c, const refmat *R, const double *out, unsigned char *scc) {
  const tolspec *ts = tol_of(M_LOGSM, c->dt, c->cls);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    const double dbar = (double)R->rows[i].dbar;
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      const long double ref = ref_lp(R, i, j);
      const double u = ulp_t(c->dt, ref);
      const double tol = ts->a * u + ts->b * dbar * eps;
      check_val(M_LOGSM, c, c->dt, idx, out[idx], ref, tol, u, is_sc ? -1 : scc[idx]);
      if (is_sc) scc[idx] = (unsigned char)vclass(out[idx]);
    }
  }
}

static void check_grad(const cctx *c, const refmat *R, const int32_t *labels, double s,
                       const double *g, unsigned char *scc) {
  const tolspec *ts = tol_of(M_CE_GRAD, c->dt, c->cls);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    const size_t y = (size_t)labels[i];
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      const long double ref = ref_grad(R, i, j, y, s);
      const double u = ulp_t(c->dt, ref), p = (double)R->p[idx];
      double tol = ts->a * u + rel_term(ts->b * ref_cond(R, i, j), eps, p) * fabs(s);
      /* p_y - 1 formed in T: p_y's own bound, as an absolute error */
      if (j == y) tol += ts->r * ts->a * ulp_t(c->dt, p) * fabs(s);
      check_val(M_CE_GRAD, c, c->dt, idx, g[idx], ref, tol, u, is_sc ? -1 : scc[idx]);
      if (is_sc) scc[idx] = (unsigned char)vclass(g[idx]);
    }
  }
}

static void check_loss(const cctx *c, const refmat *R, const int32_t *labels, double got,
                       int *sc_class) {
  long double tol, unit;
  const long double ref =
      ce_loss_ref(R, labels, tol_of(M_CE_LOSS, c->dt, c->cls), &tol, &unit);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  cctx lc = *c;
  lc.k = 0;
  check_val(M_CE_LOSS, &lc, F64, 0, got, ref, tol, unit, is_sc ? -1 : *sc_class);
  if (is_sc) *sc_class = vclass(got);
}

/* Rows sum to 1 (the non-NaN rows). metric: the element bound of the
   kernel, whose per-rescale term r applies to the sum as a whole: the
   rescales round the denominator S only, so every p_j of the row shares
   that relative error (seed 386107084097: an online f64 row of 1e6 with
   14 rescales summed to 1 - 16.8 eps). */
static void prop_sum1(const cctx *c, const refmat *R, const double *p, int metric) {
  const tolspec *ts = tol_of(M_SUM1, c->dt, c->cls);
  const double r = tol_of(metric, c->dt, c->cls)->r;
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    if (R->rows[i].nan_row) continue;
    long double sum = 0;
    for (size_t j = 0; j < R->k; j++) sum += p[i * R->k + j];
    const long double tol =
        (ts->a + ts->b * R->rows[i].dbar + r * (double)R->rows[i].resc) * eps;
    const long double err = fabsl(sum - 1);
    note(M_SUM1, c, i * R->k, err, eps, tol);
    if (!(err <= tol))
      FAIL("%s %s isa=%s (%s) row %zu (kind %s): sums to 1 %+.3Lg, bound %.3Lg", c->kernel,
           dt_name(c->dt), isa_label(c->isa), c->where, i,
           row_kind(c, i * R->k), sum - 1, tol);
  }
}

/* Gradient rows sum to 0. */
static void prop_gsum0(const cctx *c, const refmat *R, const double *g, double s) {
  const tolspec *ts = tol_of(M_GSUM0, c->dt, c->cls);
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    if (R->rows[i].nan_row) continue;
    long double sum = 0;
    for (size_t j = 0; j < R->k; j++) sum += g[i * R->k + j];
    const long double unit = eps * fabs(s);
    const long double tol = (ts->a + ts->b * R->rows[i].dbar) * unit;
    note(M_GSUM0, c, i * R->k, fabsl(sum), unit, tol);
    if (!(fabsl(sum) <= tol))
      FAIL("%s %s isa=%s (%s) row %zu (kind %s): gradient row sums to %.3Lg, bound %.3Lg",
           c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
           row_kind(c, i * R->k), sum, tol);
  }
}

/* Argmax: the output at the first max of x is the row's largest output;
   argmax_rows of the output returns the first index holding it (<= that of
   x: an earlier entry may round to the same value); -1 on NaN rows. */
static void prop_argmax(const cctx *c, const refmat *R, const double *p, const int32_t *am) {
  for (size_t i = 0; i < R->n; i++) {
    const rrow *rr = &R->rows[i];
    const double *row = p + i * R->k;
    if (rr->nan_row) {
      CHECK(am[i] == -1, "%s %s isa=%s (%s) row %zu: argmax_rows of a NaN row is %d", c->kernel,
            dt_name(c->dt), isa_label(c->isa), c->where, i, (int)am[i]);
      continue;
    }
    double mp = -INFINITY;
    size_t first = 0;
    for (size_t j = 0; j < R->k; j++)
      if (row[j] > mp) {
        mp = row[j];
        first = j;
      }
    CHECK(row[rr->jz] == mp,
          "%s %s isa=%s (%s) row %zu (kind %s): output %.9g at the argmax %zu of z is not the "
          "row's largest %.9g (at %zu)",
          c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
          row_kind(c, i * R->k), row[rr->jz], rr->jz, mp, first);
    CHECK(am[i] >= 0 && (size_t)am[i] == first && first <= rr->jz,
          "%s %s isa=%s (%s) row %zu (kind %s): argmax_rows %d, first max of the output %zu, "
          "argmax of z %zu",
          c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
          row_kind(c, i * R->k), (int)am[i], first, rr->jz);
  }
}

/* Monotone: x_i < x_j => out_i <= out_j + a ulp(out_j); x_i == x_j =>
   out_i == out_j. Walks each row in the order of x. */
static void prop_mono(const cctx *c, const refmat *R, const double *out) {
  const tolspec *ts = tol_of(M_MONO, c->dt, c->cls);
  for (size_t i = 0; i < R->n; i++) {
    if (R->rows[i].nan_row) continue;
    const uint32_t *perm = R->perm + i * R->k;
    const double *x = R->xs + i * R->k, *o = out + i * R->k;
    double gmax = -INFINITY; /* max output of the previous group of equal x */
    size_t j = 0;
    while (j < R->k) {
      const double xv = x[j], ov = o[perm[j]];
      double gmin = ov, gm = ov;
      size_t e = j + 1;
      for (; e < R->k && x[e] == xv; e++) {
        const double v = o[perm[e]];
        if (!(v == ov))
          FAIL("%s %s isa=%s (%s) row %zu (kind %s): equal inputs %.9g at %" PRIu32 " and %" PRIu32
               " give %.9g and %.9g",
               c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
               row_kind(c, i * R->k), xv, perm[j], perm[e], ov, v);
        gmin = fmin(gmin, v);
        gm = fmax(gm, v);
      }
      if (gmax > -INFINITY) {
        const double u = ulp_t(c->dt, gmin);
        const long double over = gmax > gmin ? (long double)gmax - gmin : 0;
        note(M_MONO, c, i * R->k + perm[j], over, u, ts->a * u);
        if (!(over <= ts->a * u))
          FAIL("%s %s isa=%s (%s) row %zu (kind %s): not monotone: x %.9g (at %" PRIu32
               ") > the previous value but its output %.9g < %.9g",
               c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
               row_kind(c, i * R->k), xv, perm[j], gmin, gmax);
      }
      gmax = gm;
      j = e;
    }
  }
}

/* log_softmax = log(softmax) where softmax is a normal number. */
static void prop_logcons(const cctx *c, const refmat *R, const double *lp, const double *p) {
  const tolspec *ts = tol_of(M_LOGCONS, c->dt, c->cls);
  const double eps = dt_eps(c->dt), mn = dt_min_normal(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    if (R->rows[i].nan_row) continue;
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      if (!(p[idx] >= mn)) continue;
      /* log in double: within half a double ulp, far inside the bound */
      const double lg = log(p[idx]);
      const double unit = eps * (1 + fabs(lg));
      const double tol = (ts->a + ts->b * ref_cond(R, i, j)) * unit;
      check_pair(M_LOGCONS, c, idx, lp[idx], lg, tol, unit, "log_softmax vs log(softmax)");
    }
  }
}

/* online = two-pass. */
static void prop_online2p(const cctx *c, const refmat *R, const double *on, const double *sm) {
  const tolspec *ts = tol_of(M_ONLINE2P, c->dt, c->cls);
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    const double resc = (double)R->rows[i].resc;
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      const double u = ulp_t(c->dt, sm[idx]);
      const double tol =
          ts->a * u + rel_term(ts->b * ref_cond(R, i, j) + ts->r * resc, eps, sm[idx]);
      check_pair(M_ONLINE2P, c, idx, on[idx], sm[idx], tol, u, "online vs two-pass");
    }
  }
}

/* ======================================================================== */
/* One case: every row kernel of every ISA on one matrix                     */
/* ======================================================================== */

typedef struct {
  int dt;
  size_t n, k;
  const double *z;
  const int32_t *labels;
  const unsigned char *kinds;
  double temp, scale;
  size_t in_off, out_off;
  bool in_place;
  bool mono; /* run the monotonicity check */
} rcase;

enum { SC_SM, SC_ON, SC_TP, SC_LSM, SC_GOUT, SC_GINPL, NUM_SCC };

static void run_case(const rcase *cs) {
  const int dt = cs->dt;
  const size_t n = cs->n, k = cs->k, len = n * k;
  char where[200];
  snprintf(where, sizeof where, "n=%zu k=%zu t=%g scale=%g in+%zu out+%zu%s", n, k, cs->temp,
           cs->scale, cs->in_off, cs->out_off, cs->in_place ? " in place" : "");
  refmat R, RT;
  ref_build(&R, dt, cs->z, n, k, 1.0, false, cs->mono);
  const bool t1 = cs->temp == 1.0; /* z / 1 = z: the same reference */
  if (t1)
    RT = R;
  else
    ref_build(&RT, dt, cs->z, n, k, cs->temp, true, cs->mono);
  double *sm = xmalloc(len * sizeof *sm), *o = xmalloc(len * sizeof *o);
  int32_t *am = xmalloc(n * sizeof *am);
  unsigned char *scc[NUM_SCC];
  for (int s = 0; s < NUM_SCC; s++) scc[s] = xmalloc(len);
  int sc_loss[3] = {-1, -1, -1};
  double loss_out = 0;

  FOR_EACH_ISA(isa, t) {
    cctx c = {dt, isa, 0, "", where, k, cs->kinds};

    c.kernel = "softmax";
    c.cls = ENTRY_CLS(t, dt, softmax);
    run_rop(t, &c, OP_SOFTMAX, cs->z, sm, n, k, 1, cs->in_place, cs->in_off, cs->out_off, am);
    check_probs(M_SOFTMAX, &c, &R, sm, scc[SC_SM]);
    prop_sum1(&c, &R, sm, M_SOFTMAX);
    prop_argmax(&c, &R, sm, am);
    if (cs->mono) prop_mono(&c, &R, sm);

    c.kernel = "softmax_online";
    c.cls = ENTRY_CLS(t, dt, softmax_online);
    run_rop(t, &c, OP_ONLINE, cs->z, o, n, k, 1, cs->in_place, cs->in_off, cs->out_off, am);
    check_probs(M_ONLINE, &c, &R, o, scc[SC_ON]);
    prop_sum1(&c, &R, o, M_ONLINE);
    prop_argmax(&c, &R, o, am);
    if (cs->mono) prop_mono(&c, &R, o);
    c.cls = c.cls == CL_SIMD || ENTRY_CLS(t, dt, softmax) == CL_SIMD ? CL_SIMD : CL_SCALAR;
    prop_online2p(&c, &R, o, sm);

    c.kernel = "softmax_temperature";
    c.cls = ENTRY_CLS(t, dt, softmax_temperature);
    run_rop(t, &c, OP_TEMP, cs->z, o, n, k, cs->temp, cs->in_place, cs->in_off, cs->out_off, am);
    check_probs(M_TEMP, &c, &RT, o, scc[SC_TP]);
    prop_sum1(&c, &RT, o, M_TEMP);
    prop_argmax(&c, &RT, o, am);
    if (cs->mono) prop_mono(&c, &RT, o);

    c.kernel = "log_softmax";
    c.cls = ENTRY_CLS(t, dt, log_softmax);
    run_rop(t, &c, OP_LOGSM, cs->z, o, n, k, 1, cs->in_place, cs->in_off, cs->out_off, am);
    check_logsm(&c, &R, o, scc[SC_LSM]);
    prop_argmax(&c, &R, o, am);
    if (cs->mono) prop_mono(&c, &R, o);
    c.cls = c.cls == CL_SIMD || ENTRY_CLS(t, dt, softmax) == CL_SIMD ? CL_SIMD : CL_SCALAR;
    prop_logcons(&c, &R, o, sm);

    c.cls = ENTRY_CLS(t, dt, ce_logits);
    static const int GMODES[] = {G_OUT, G_INPLACE, G_NONE}; /* loss-only compares with G_OUT */
    for (int gi = 0; gi < 3; gi++) {
      const int gmode = GMODES[gi];
      c.kernel = GMODE_NAMES[gmode];
      const double loss = run_ce(t, &c, cs->z, cs->labels, n, k, cs->scale, gmode, o,
                                 cs->in_off, cs->out_off);
      check_loss(&c, &R, cs->labels, loss, &sc_loss[gmode]);
      if (gmode != G_NONE) {
        check_grad(&c, &R, cs->labels, cs->scale, o, scc[gmode == G_OUT ? SC_GOUT : SC_GINPL]);
        prop_gsum0(&c, &R, o, cs->scale);
      }
      if (gmode == G_OUT) loss_out = loss;
      if (gmode == G_NONE) {
        long double tol, unit;
        (void)ce_loss_ref(&R, cs->labels, tol_of(M_LOSSONLY, dt, c.cls), &tol, &unit);
        cctx lc = c;
        lc.k = 0;
        check_pair(M_LOSSONLY, &lc, 0, loss, loss_out, tol, unit, "loss-only vs loss with gradient");
      }
    }
  }
  for (int s = 0; s < NUM_SCC; s++) free(scc[s]);
  free(am);
  free(sm);
  free(o);
  ref_free(&R);
  if (!t1) ref_free(&RT);
}

/* ======================================================================== */
/* Sweeps                                                                    */
/* ======================================================================== */

/* Overrides of the sweep for test_rows_blocks: a fixed row count, and a
   row-kind schedule (NULL: SCHED). */
static size_t g_sweep_n;
static const unsigned char *g_sched;
static size_t g_nsched;

typedef struct {
  trng r;
  size_t c;      /* cases so far */
  size_t sched;  /* position in SCHED */
  size_t scale;  /* position in SCALES */
} sweeper;

/* Cases of row length k until `rows` rows and `cases` calls have been run;
   n cycles through NLIST, capped so that n * k <= max_elems. */
static void sweep_k(int dt, size_t k, sweeper *sw, size_t rows, size_t cases, size_t max_elems) {
  size_t done_rows = 0;
  for (size_t ci = 0; done_rows < rows || ci < cases; ci++, sw->c++) {
    size_t n = g_sweep_n != 0 ? g_sweep_n : NLIST[sw->c % NUM_NLIST];
    if (n * k > max_elems) n = max_elems / k > 0 ? max_elems / k : 1;
    const size_t len = n * k;
    double *z = xmalloc(len * sizeof *z);
    int32_t *labels = xmalloc(n * sizeof *labels);
    unsigned char *kinds = xmalloc(n);
    const double temp = TEMPS[sw->c % NUM_TEMPS];
    for (size_t i = 0; i < n; i++) {
      kinds[i] = g_sched != NULL ? g_sched[sw->sched++ % g_nsched] : SCHED[sw->sched++ % NUM_SCHED];
      const double scale = SCALES[sw->scale++ % NUM_SCALES];
      gen_row(dt, kinds[i], z + i * k, k, scale, temp, &sw->r);
      labels[i] = pick_label(z + i * k, k, &sw->r);
    }
    const rcase cs = {dt, n, k, z, labels, kinds, temp,
                      sw->c % 4 == 3 ? 1.0 : dt_round(dt, 1.0 / (double)n),
                      sw->c % 4, (sw->c / 4 + 1) % 4, sw->c % 3 == 2, true};
    run_case(&cs);
    free(z);
    free(labels);
    free(kinds);
    done_rows += n;
  }
}

START_TEST(test_rows_small) {
  const int dt = _i;
  g_test = "rows_small";
  sweeper sw = {tr_stream(1, dt), 0, 0, 0};
  sw.sched = tr_below(&sw.r, NUM_SCHED);
  for (size_t k = 1; k <= small_max(dt); k++)
    sweep_k(dt, k, &sw, g_quick ? 4 : NUM_SCHED, g_quick ? 1 : 2 * NUM_NLIST, 1u << 14);
}
END_TEST

START_TEST(test_rows_pow2) {
  const int dt = _i;
  g_test = "rows_pow2";
  sweeper sw = {tr_stream(2, dt), 0, 0, 0};
  sw.sched = tr_below(&sw.r, NUM_SCHED);
  size_t ks[64];
  const size_t nk = pow2_list(dt, ks);
  for (size_t i = 0; i < nk; i++) {
    if (g_quick && (i + (size_t)dt) % 3 != 0) continue; /* quick: one of p - 1, p, p + 1 */
    sweep_k(dt, ks[i], &sw, g_quick ? 2 : NUM_SCHED / 2, g_quick ? 1 : 2,
            g_quick ? 4096 : 1u << 14);
  }
}
END_TEST

/* The streaming path of the SIMD kernels (non-temporal stores from a
   scratch row, taken for outputs of at least smr_stream_min_bytes): the
   threshold set to 0 so that it runs on every row of the sweep, with every
   tail length to 49 and rows around powers of two, at the offsets, in place
   and out of place; the head of each row before the first aligned vector
   goes through plain stores. */
START_TEST(test_rows_stream) {
  const int dt = _i;
  g_test = "rows_stream";
  const size_t saved = atomic_load(&smr_stream_min_bytes);
  atomic_store(&smr_stream_min_bytes, 0);
  sweeper sw = {tr_stream(4, dt), 0, 0, 0};
  sw.sched = tr_below(&sw.r, NUM_SCHED);
  for (size_t k = 1; k <= 49; k += g_quick ? 6 : 1) sweep_k(dt, k, &sw, 2, 1, 1u << 12);
  size_t ks[64];
  const size_t nk = pow2_list(dt, ks);
  for (size_t i = 0; i < nk; i += g_quick ? 3 : 1) sweep_k(dt, ks[i], &sw, 2, 1, 1u << 13);
  atomic_store(&smr_stream_min_bytes, saved);
}
END_TEST

/* Short rows go through the exp loop a block at a time (kernels_simd.h,
   "Short rows": rows of at most CHUNK / 8 elements, 128 in f32 and 64 in
   f64; a block ends at 256 rows, at 4 KiB of elements, or before a row
   whose max is not finite). Many rows per call, so that blocks end at each
   of those limits: first with rows of finite max only (the ones with ties,
   one-hot and equal entries among them), then with the whole schedule,
   whose special rows end blocks early. */
static const unsigned char FINITE_SCHED[] = {K_NORMAL, K_EQUAL, K_NORMAL, K_TIES,
                                             K_NORMAL, K_ONEHOT, K_NORMAL, K_NAN,
                                             K_NORMAL, K_PM1000, K_NORMAL, K_UFLOW};
START_TEST(test_rows_blocks) {
  const int dt = _i;
  g_test = "rows_blocks";
  sweeper sw = {tr_stream(5, dt), 0, 0, 0};
  sw.sched = tr_below(&sw.r, NUM_SCHED);
  const size_t kmax = dt == F32 ? 8 * 16 + 1 : 8 * 8 + 1;
  for (int pass = 0; pass < 2; pass++) {
    g_sched = pass == 0 ? FINITE_SCHED : NULL;
    g_nsched = sizeof FINITE_SCHED;
    for (size_t k = 1; k <= kmax; k += g_quick ? 7 : 1) {
      /* two full blocks and a part of a third */
      const size_t rows = (4096 / (dt == F32 ? 4 : 8)) / k;
      g_sweep_n = 2 * (rows < 256 ? rows : 256) + 3;
      sweep_k(dt, k, &sw, 1, 1, 1u << 16);
    }
  }
  g_sched = NULL;
  g_sweep_n = 0;
}
END_TEST

/* One row of 1e6 elements (quick: 1e5, and 1e4 for the second and
   fourth): a normal row with ties of the max, a -inf and the max near the
   end; a normal row at scale 100 (mostly underflowing exponentials),
   temperature 0.5, in place; a NaN in the last element; two +inf. */
START_TEST(test_rows_big) {
  const int dt = _i;
  g_test = "rows_big";
  trng r = tr_stream(3, dt);
  double *z = xmalloc(big_len() * sizeof *z);
  int32_t label;
  for (int v = 0; v < 4; v++) {
    /* quick: the scale-100 and +inf rows at 1e4 */
    const size_t k = g_quick && v % 2 ? big_len() / 10 : big_len();
    unsigned char kind = K_NORMAL;
    fill_normal(dt, z, k, v == 1 ? 100.0 : 1.0, &r);
    if (v == 0) {
      kind = K_TIES;
      const double m = row_max(z, k);
      z[k - 2] = z[k - 1] = z[k / 2] = m;
      z[k / 3] = -INFINITY;
    } else if (v == 2) {
      kind = K_NAN;
      z[k - 1] = NAN;
    } else if (v == 3) {
      kind = K_POSINFS;
      z[k / 2 + 1] = z[k - 3] = INFINITY;
    }
    label = pick_label(z, k, &r);
    const rcase cs = {dt, 1, k, z, &label, &kind, v == 1 ? 0.5 : 1.0,
                      v == 3 ? 1.0 : dt_round(dt, 0.25), (size_t)v % 4, (size_t)(v + 1) % 4,
                      v == 1, v == 0};
    run_case(&cs);
  }
  free(z);
}
END_TEST

/* ======================================================================== */
/* Shift invariance                                                          */
/* ======================================================================== */

/* f(z + c) = f(z): z on a grid of 1/64 so that z + c (and (z + c) / t for
   t = 1/2, 2) is exact in the dtype. */
START_TEST(test_shift_invariance) {
  const int dt = _i;
  g_test = "shift";
  trng r = tr_stream(4, dt);
  const double shifts[] = {-1000, -3.5, 0.25, 100, 1000, 4096, 1e6, -1e9, 3e12};
  const size_t nshift = dt == F32 ? 6 : 9;
  const size_t ks[] = {1, 2, 3, 7, 8, 9, 16, 17, 31, 33, 49, 64, 65, 257, 1000, 4097};
  const size_t nks = sizeof ks / sizeof ks[0], n = 3;
  size_t c = 0;
  for (size_t ki = 0; ki < nks; ki++) {
    const size_t k = ks[ki], len = n * k;
    if (g_quick && k > 300 && ki % 2) continue;
    double *z = xmalloc(len * sizeof *z), *zs = xmalloc(len * sizeof *zs);
    double *a = xmalloc(len * sizeof *a), *b = xmalloc(len * sizeof *b);
    int32_t labels[3];
    for (size_t si = 0; si < nshift; si++, c++) {
      const double sh = shifts[(si + ki) % nshift];
      for (size_t i = 0; i < len; i++) {
        z[i] = round(tr_normal(&r) * 4 * 64) / 64;
        if (tr_below(&r, 50) == 0) z[i] = -INFINITY;
        zs[i] = z[i] + sh;
        CHECK(dt_round(dt, z[i]) == z[i] && dt_round(dt, zs[i]) == zs[i], "grid not exact");
      }
      for (size_t i = 0; i < n; i++) labels[i] = pick_label(z + i * k, k, &r);
      const double t = c % 2 ? 0.5 : 2.0, s = dt_round(dt, 1.0 / 3.0);
      refmat R;
      ref_build(&R, dt, z, n, k, 1, false, false);
      char where[120];
      snprintf(where, sizeof where, "n=%zu k=%zu shift %g", n, k, sh);
      FOR_EACH_ISA(isa, tb) {
        cctx cx = {dt, isa, 0, "", where, k, NULL};
        for (int op = 0; op < NUM_ROPS; op++) {
          static const char *const names[] = {"softmax", "softmax_online", "softmax_temperature",
                                              "log_softmax"};
          cx.kernel = names[op];
          cx.cls = op == OP_SOFTMAX ? ENTRY_CLS(tb, dt, softmax)
                   : op == OP_ONLINE ? ENTRY_CLS(tb, dt, softmax_online)
                   : op == OP_TEMP   ? ENTRY_CLS(tb, dt, softmax_temperature)
                                     : ENTRY_CLS(tb, dt, log_softmax);
          run_rop(tb, &cx, op, z, a, n, k, t, false, c % 4, (c + 1) % 4, NULL);
          run_rop(tb, &cx, op, zs, b, n, k, t, false, (c + 2) % 4, (c + 3) % 4, NULL);
          const tolspec *ts = tol_of(M_SHIFT, dt, cx.cls);
          for (size_t i = 0; i < len; i++) {
            const double u = ulp_t(dt, a[i]);
            check_pair(M_SHIFT, &cx, i, b[i], a[i], ts->a * u, u, "f(z + c) vs f(z)");
          }
        }
        cx.kernel = "ce_logits";
        cx.cls = ENTRY_CLS(tb, dt, ce_logits);
        const double la = run_ce(tb, &cx, z, labels, n, k, s, G_OUT, a, c % 4, (c + 1) % 4);
        const double lb = run_ce(tb, &cx, zs, labels, n, k, s, G_OUT, b, (c + 3) % 4, c % 4);
        const tolspec *ts = tol_of(M_SHIFT, dt, cx.cls);
        for (size_t i = 0; i < len; i++) {
          const double u = ulp_t(dt, a[i]);
          check_pair(M_SHIFT, &cx, i, b[i], a[i], ts->a * u, u, "gradient of z + c vs z");
        }
        long double tol, unit;
        (void)ce_loss_ref(&R, labels, tol_of(M_SHIFT_LOSS, dt, cx.cls), &tol, &unit);
        cctx lc = cx;
        lc.k = 0;
        check_pair(M_SHIFT_LOSS, &lc, 0, lb, la, tol, unit, "loss of z + c vs z");
      }
      ref_free(&R);
    }
    free(z);
    free(zs);
    free(a);
    free(b);
  }
}
END_TEST

/* ======================================================================== */
/* ce_prob                                                                   */
/* ======================================================================== */

static double call_ce_prob(const struct smr_kernels *t, const cctx *c, const double *p,
                           const double *y, size_t n, size_t k, size_t off) {
  const int dt = c->dt;
  const size_t len = n * k;
  gbuf bp, by;
  void *pb = gb_from(&bp, dt, p, len, off), *yb = gb_from(&by, dt, y, len, (off + 1) % 4);
  void *cp = xmalloc(len * dt_size(dt)), *cy = xmalloc(len * dt_size(dt));
  memcpy(cp, pb, len * dt_size(dt));
  memcpy(cy, yb, len * dt_size(dt));
  const double loss = dt == F32 ? t->f32.ce_prob(pb, yb, n, k) : t->f64.ce_prob(pb, yb, n, k);
  gb_check(&bp, c, "p");
  gb_check(&by, c, "y");
  CHECK(memcmp(cp, pb, len * dt_size(dt)) == 0 && memcmp(cy, yb, len * dt_size(dt)) == 0,
        "ce_prob %s isa=%s: input modified", dt_name(dt), isa_label(c->isa));
  free(cp);
  free(cy);
  gb_free(&bp);
  gb_free(&by);
  return loss;
}

/* -sum y log(p + 1e-15) over y != 0; the 1e-15 is added in double as the
   contract says ("accumulated in double"), the rest in long double. */
static long double ref_ce_prob(const double *p, const double *y, size_t len, long double *ysum,
                               long double *tsum) {
  long double acc = 0;
  *ysum = *tsum = 0;
  for (size_t i = 0; i < len; i++) {
    if (y[i] == 0) continue;
    const long double lg = logl((long double)(p[i] + 1e-15));
    acc += (long double)y[i] * lg;
    *ysum += fabsl((long double)y[i]) * (1 + fabsl(lg));
    *tsum += fabsl((long double)y[i] * lg);
  }
  return -acc;
}

START_TEST(test_ce_prob) {
  const int dt = _i;
  g_test = "ce_prob";
  trng r = tr_stream(5, dt);
  size_t ks[128], nk = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  ks[nk++] = big_len();
  size_t c = 0;
  for (size_t ki = 0; ki < nk; ki++) {
    const size_t k = ks[ki];
    for (int rep = 0; rep < (g_quick ? 1 : 2); rep++, c++) {
      size_t n = NLIST[c % NUM_NLIST];
      if (n * k > (1u << 14)) n = k >= (1u << 14) ? 1 : (1u << 14) / k;
      const size_t len = n * k;
      double *p = xmalloc(len * sizeof *p), *y = xmalloc(len * sizeof *y);
      for (size_t i = 0; i < n; i++) {
        /* a probability row from a normal row, rounded to the dtype */
        double *pr = p + i * k;
        fill_normal(dt, pr, k, 3.0, &r);
        const double m = row_max(pr, k);
        double s = 0;
        for (size_t j = 0; j < k; j++) s += (pr[j] = exp(pr[j] - m));
        for (size_t j = 0; j < k; j++) pr[j] = dt_round(dt, pr[j] / s);
        const size_t lab = tr_below(&r, k);
        const int mode = (int)((c + i) % 4); /* 0, 1: one-hot; 2: soft; 3: specials */
        for (size_t j = 0; j < k; j++)
          y[i * k + j] = mode == 2 ? dt_round(dt, tr_uniform(&r) < 0.3 ? tr_uniform(&r) : 0.0)
                                   : (j == lab ? 1.0 : 0.0);
        if (k > 1 && y[i * k + (lab + 1) % k] == 0) pr[(lab + 1) % k] = 0.0; /* 0 where y = 0 */
        if (mode == 3) {
          const size_t j = tr_below(&r, k);
          switch (tr_below(&r, 6)) {
          case 0: if (y[i * k + j] == 0) pr[j] = NAN; break; /* skipped */
          case 1: pr[lab] = NAN; break;                        /* NaN result */
          case 2: pr[lab] = -0.5; break;                       /* NaN: log of a negative */
          case 3: pr[lab] = 0.0; break;                        /* -log(1e-15) */
          case 4: pr[lab] = INFINITY; break;                   /* -inf */
          default: y[i * k + j] = NAN; break;                  /* NaN */
          }
        }
      }
      long double ysum, tsum;
      const long double ref = ref_ce_prob(p, y, len, &ysum, &tsum);
      char where[80];
      snprintf(where, sizeof where, "n=%zu k=%zu", n, k);
      int scl = -1;
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, ce_prob), "ce_prob", where, 0, NULL};
        const double got = call_ce_prob(t, &cx, p, y, n, k, c % 4);
        const tolspec *ts = tol_of(M_CE_PROB, dt, cx.cls);
        const long double unit = DBL_EPSILON * (tsum > 0 ? tsum : 1);
        const long double tol = ts->a * dt_eps(dt) * ysum +
                                (ts->b + ts->r * (double)len) * DBL_EPSILON * tsum +
                                ulp_t(F64, ref);
        check_val(M_CE_PROB, &cx, F64, 0, got, ref, tol, unit, isa == SMR_ISA_SCALAR ? -1 : scl);
        if (isa == SMR_ISA_SCALAR) scl = vclass(got);
      }
      free(p);
      free(y);
    }
  }
}
END_TEST

/* ======================================================================== */
/* argmax_rows, all_finite                                                   */
/* ======================================================================== */

START_TEST(test_argmax_rows) {
  const int dt = _i;
  g_test = "argmax_rows";
  trng r = tr_stream(6, dt);
  size_t ks[128], nk = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  ks[nk++] = big_len();
  size_t c = 0;
  for (size_t ki = 0; ki < nk; ki++) {
    const size_t k = ks[ki];
    const int reps = k <= 64 ? 8 : g_quick ? 2 : 4;
    for (int rep = 0; rep < reps; rep++, c++) {
      size_t n = NLIST[c % NUM_NLIST];
      if (n * k > (1u << 15)) n = k >= (1u << 15) ? 1 : (1u << 15) / k;
      const size_t len = n * k;
      double *v = xmalloc(len * sizeof *v);
      for (size_t i = 0; i < n; i++) {
        double *row = v + i * k;
        const int mode = (int)((c + i) % 6);
        for (size_t j = 0; j < k; j++)
          row[j] = mode == 5 ? dt_round(dt, tr_normal(&r))
                             : (double)tr_below(&r, 4) - 1.5; /* many ties */
        switch (mode) {
        case 1: row[tr_below(&r, k)] = NAN; break;
        case 2: row[tr_below(&r, k)] = INFINITY; row[tr_below(&r, k)] = INFINITY; break;
        case 3: for (size_t j = 0; j < k; j++) row[j] = -INFINITY; break;
        case 4:
          row[0] = -0.0;
          if (k > 1) row[1] = 0.0;
          for (size_t j = 2; j < k; j++) row[j] = tr_below(&r, 2) ? -0.0 : -1.0;
          break;
        case 5:
          if (tr_below(&r, 2)) row[k - 1] = row_max(row, k); /* a tie at the tail */
          if (tr_below(&r, 3) == 0) row[k - 1] = NAN;
          break;
        default: break;
        }
      }
      int32_t *want = xmalloc(n * sizeof *want), *sc = xmalloc(n * sizeof *sc);
      for (size_t i = 0; i < n; i++) { /* first max; -1 on NaN */
        const double *row = v + i * k;
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
      char where[80];
      snprintf(where, sizeof where, "n=%zu k=%zu", n, k);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, argmax_rows), "argmax_rows", where, k, NULL};
        gbuf bp, bl;
        void *p = gb_from(&bp, dt, v, len, c % 4);
        int32_t *lab = gb_alloc(&bl, sizeof(int32_t), n, (c + 1) % 4);
        call_argmax(t, dt, p, n, k, lab);
        gb_check(&bp, &cx, "p");
        gb_check(&bl, &cx, "labels");
        gb_written(&bl, &cx, "labels");
        for (size_t i = 0; i < n; i++) {
          CHECK(lab[i] == want[i], "argmax_rows %s isa=%s (%s) row %zu: %d, want %d", dt_name(dt),
                smr_isa_name((smr_isa)isa), where, i, (int)lab[i], (int)want[i]);
          if (isa == SMR_ISA_SCALAR)
            sc[i] = lab[i];
          else
            CHECK(lab[i] == sc[i], "argmax_rows %s isa=%s (%s) row %zu: %d, scalar %d",
                  dt_name(dt), smr_isa_name((smr_isa)isa), where, i, (int)lab[i], (int)sc[i]);
        }
        gb_free(&bp);
        gb_free(&bl);
      }
      free(v);
      free(want);
      free(sc);
    }
  }
}
END_TEST

static bool call_all_finite(const struct smr_kernels *t, const cctx *c, const double *v,
                            size_t len, size_t off) {
  gbuf b;
  void *x = gb_from(&b, c->dt, v, len, off);
  const bool f = c->dt == F32 ? t->f32.all_finite(x, len) : t->f64.all_finite(x, len);
  gb_check(&b, c, "x");
  gb_free(&b);
  return f;
}

START_TEST(test_all_finite) {
  const int dt = _i;
  g_test = "all_finite";
  trng r = tr_stream(7, dt);
  size_t ks[128], nk = 0;
  ks[nk++] = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  ks[nk++] = big_len();
  const double bad[] = {NAN, INFINITY, -INFINITY};
  const double extremes[] = {dt_max(dt), -dt_max(dt), dt_tiny(dt), -0.0, dt_min_normal(dt)};
  size_t c = 0;
  for (size_t ki = 0; ki < nk; ki++) {
    const size_t len = ks[ki];
    double *v = xmalloc((len > 0 ? len : 1) * sizeof *v);
    for (size_t i = 0; i < len; i++)
      v[i] = tr_below(&r, 4) == 0 ? extremes[tr_below(&r, 5)] : dt_round(dt, tr_normal(&r));
    /* positions: all for short arrays; else both ends, around vector
       boundaries and a few random ones */
    size_t pos[64], np = 0;
    if (len <= 64) {
      for (size_t i = 0; i < len; i++) pos[np++] = i;
    } else {
      const size_t fixed[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, len / 2, len - 17, len - 16,
                              len - 9, len - 8, len - 2, len - 1};
      for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) pos[np++] = fixed[i];
      for (int i = 0; i < (g_quick ? 2 : 8); i++) pos[np++] = tr_below(&r, len);
    }
    FOR_EACH_ISA(isa, t) {
      char where[64];
      snprintf(where, sizeof where, "len=%zu", len);
      cctx cx = {dt, isa, ENTRY_CLS(t, dt, all_finite), "all_finite", where, 0, NULL};
      CHECK(call_all_finite(t, &cx, v, len, c++ % 4), "all_finite %s isa=%s len %zu: false on "
            "finite data", dt_name(dt), smr_isa_name((smr_isa)isa), len);
      for (size_t pi = 0; pi < np; pi++) {
        const size_t at = pos[pi];
        const double keep = v[at];
        v[at] = bad[(pi + c) % 3];
        if (pi % 5 == 4 && len > 1) v[(at + len / 2) % len] = bad[(pi + c + 1) % 3];
        const bool f = call_all_finite(t, &cx, v, len, c++ % 4);
        CHECK(!f, "all_finite %s isa=%s len %zu: missed %g at %zu", dt_name(dt),
              smr_isa_name((smr_isa)isa), len, v[at], at);
        v[at] = keep;
        if (pi % 5 == 4 && len > 1) {
          /* restore the second one from a finite value */
          v[(at + len / 2) % len] = 1.0;
        }
      }
    }
    free(v);
  }
}
END_TEST

/* ======================================================================== */
/* Linear algebra: linear_forward, xt_g, colsum, axpy, sumsq                  */
/* ======================================================================== */

/* Shapes (n, d, k): every k of the sweep lists with n, d cycling, capped
   at n * d * k <= cap. */
static size_t la_shapes(int dt, size_t (*out)[3], size_t max_out, size_t cap) {
  static const size_t DS[] = {1, 2, 3, 5, 8, 13, 17, 33};
  size_t ks[128], nk = 0, ns = 0, c = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  for (size_t ki = 0; ki < nk; ki++)
    for (int rep = 0; rep < (g_quick ? 1 : 2) && ns < max_out; rep++, c++) {
      size_t n = NLIST[c % NUM_NLIST], d = DS[(c * 3 + 1) % 8];
      const size_t k = ks[ki];
      while (n * d * k > cap && n > 1) n /= 2;
      while (n * d * k > cap && d > 1) d /= 2;
      out[ns][0] = n;
      out[ns][1] = d;
      out[ns][2] = k;
      ns++;
    }
  return ns;
}

/* Shapes beyond the sweep, for the blocked kernels (kernels_simd.h,
   "Matrix products") and CBLAS: the tails of the 6-row register tile
   (37 = 6 * 6 + 1, 11 = 6 + 4 + 1) and of the 2-vector panel (k = 67, 35, 3),
   a depth beyond one block (d = 300 for linear_forward, n = 300 for xt_g;
   blocks are 128 or 256 deep), rows beyond one row block (n = 300 for
   linear_forward, d = 300 for xt_g), and n = 0 (Z untouched; dW cleared
   unless accumulating). Appended to la_shapes' list. */
static const size_t LA_EXTRA[][3] = {
    {37, 129, 67}, {300, 13, 35}, {13, 300, 35}, {11, 5, 3}, {0, 1, 1}, {0, 3, 7}, {5, 1, 1},
    /* the narrow xt_g (kernels_simd.h; k <= 64 where it fills at least as
       many lanes as the wide one: d well above k): row blocks of 32 and
       their tails (31, 32, 33, 65, 97), d tails around the vectors (33,
       47, 783, 785; 784 = 49 x 16), k across its register chunks (1, 10,
       16, 17, 32, 33, 64) and d cut into chunks of the scratch (k d beyond
       16384 f32 / 8192 f64 elements: 33 x 784, 64 x 784); the wide one
       where it fills more (33 x 17 x 64, 1 x 1 x 16, 97 x 300 x 64) */
    {65, 785, 10}, {33, 33, 10}, {31, 47, 17}, {32, 783, 33}, {97, 784, 64}, {40, 784, 33},
    {64, 96, 32}, {2, 784, 1}, {1, 784, 16}, {33, 17, 64}, {1, 1, 16}, {97, 300, 64},
    /* the transposed forward (k <= 13 f32 / 8 f64 with AVX-512): blocks
       of VW rows and their tails, d tails within a block of VW columns */
    {17, 15, 13}, {16, 16, 8}, {15, 17, 1}, {47, 9, 12},
    /* big enough (n d k >= 2^21) for the tasks on smr's threads: the
       narrow xt_g's over d (the second on one thread in the wide one), the
       wide one's over whole panels of k (the last task's panel partial:
       257), linear_forward's over rows (tails of the tasks' tiles) */
    {300, 784, 10}, {100, 401, 64}, {300, 100, 100}, {129, 70, 257}, {1001, 3, 700},
};
#define NUM_LA_EXTRA (sizeof LA_EXTRA / sizeof LA_EXTRA[0])

static size_t la_extra(size_t (*out)[3], size_t ns) {
  for (size_t e = 0; e < NUM_LA_EXTRA; e++, ns++)
    for (int c = 0; c < 3; c++) out[ns][c] = LA_EXTRA[e][c];
  return ns;
}

/* len random N(0,1) values; when `special` one of them becomes NaN, +inf or
   -inf. */
static void rand_fill(int dt, double *v, size_t len, trng *r, bool special) {
  for (size_t i = 0; i < len; i++) v[i] = dt_round(dt, tr_normal(r));
  if (special && len > 0) {
    static const double sp[] = {NAN, INFINITY, -INFINITY};
    v[tr_below(r, len)] = sp[tr_below(r, 3)];
  }
}

/* Compares a float output array with references computed by the caller:
   ref[i], mag[i] (sum of |terms|), terms[i]. */
static void check_la(int metric, const cctx *c, const double *got, const long double *ref,
                     const long double *mag, double terms, size_t len, unsigned char *scc) {
  const tolspec *ts = tol_of(metric, c->dt, c->cls);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  for (size_t i = 0; i < len; i++) {
    const long double unit = dt_eps(c->dt) * mag[i];
    check_val(metric, c, c->dt, i, got[i], ref[i], ts->a * terms * unit, unit,
              is_sc ? -1 : scc[i]);
    if (is_sc) scc[i] = (unsigned char)vclass(got[i]);
  }
}

/* The matrix products' contract on the SIMD ISAs (kernels_simd.h, "Matrix
   products"): every output element starts at its start value and takes its
   products in the order of the depth index, one fused multiply-add each, so
   the result is this chain's bit for bit, whatever the blocking or the
   register tile. `got` holds an element, start its start value, and the
   depth terms are a[t sa] * b[t sb] for t < len (NaN matches any NaN). */
static void check_fma_chain(const cctx *c, size_t idx, double got, double start, const double *a,
                            size_t sa, const double *b, size_t sb, size_t len) {
  double want = start;
  if (c->dt == F32) {
    float acc = (float)start;
    for (size_t t = 0; t < len; t++) acc = fmaf((float)a[t * sa], (float)b[t * sb], acc);
    want = acc;
  } else {
    for (size_t t = 0; t < len; t++) want = fma(a[t * sa], b[t * sb], want);
  }
  CHECK((isnan(want) && isnan(got)) || memcmp(&want, &got, sizeof got) == 0,
        "%s %s isa=%s (%s) element %zu (row %zu col %zu): got %a, the chain of fused "
        "multiply-adds in depth order gives %a",
        c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, idx, c->k ? idx / c->k : 0,
        c->k ? idx % c->k : 0, got, want);
}

/* A product's output buf (len elements) after a call on 3 threads against
   the values the call on 1 gave, bit for bit (NaN matches any NaN). */
static void check_same_bits(const cctx *c, const char *what, const void *buf, const double *one,
                            size_t len) {
  for (size_t i = 0; i < len; i++) {
    const double v = get(c->dt, buf, i);
    CHECK((isnan(v) && isnan(one[i])) || memcmp(&v, &one[i], sizeof v) == 0,
          "%s %s isa=%s (%s) %s element %zu: %a on 3 threads, %a on 1", c->kernel,
          dt_name(c->dt), isa_label(c->isa), c->where, what, i, v, one[i]);
  }
}

START_TEST(test_linear_forward) {
  const int dt = _i;
  g_test = "linear_forward";
  trng r = tr_stream(8, dt);
  static size_t shapes[256 + NUM_LA_EXTRA][3];
  const size_t ns = la_extra(shapes, la_shapes(dt, shapes, 256, g_quick ? 1u << 15 : 1u << 18));
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0], d = shapes[s][1], k = shapes[s][2];
    double *X = xmalloc(n * d * sizeof *X), *W = xmalloc(d * k * sizeof *W);
    double *b = xmalloc(k * sizeof *b), *Z = xmalloc(n * k * sizeof *Z);
    rand_fill(dt, X, n * d, &r, s % 6 == 1);
    rand_fill(dt, W, d * k, &r, s % 6 == 3);
    rand_fill(dt, b, k, &r, s % 6 == 5);
    long double *ref = xmalloc(n * k * sizeof *ref), *mag = xmalloc(n * k * sizeof *mag);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < k; j++) {
        long double acc = b[j], m = fabsl((long double)b[j]);
        for (size_t f = 0; f < d; f++) {
          const long double p = (long double)X[i * d + f] * W[f * k + j];
          acc += p;
          m += fabsl(p);
        }
        ref[i * k + j] = acc;
        mag[i * k + j] = m;
      }
    unsigned char *scc = xmalloc(n * k);
    char where[80];
    snprintf(where, sizeof where, "n=%zu d=%zu k=%zu", n, d, k);
    FOR_EACH_TABLE(isa, t) {
      cctx cx = {dt, isa, ENTRY_CLS(t, dt, linear_forward), "linear_forward", where, k, NULL};
      gbuf bx, bw, bb, bz;
      void *x = gb_from(&bx, dt, X, n * d, s % 4), *w = gb_from(&bw, dt, W, d * k, (s + 1) % 4);
      void *bias = gb_from(&bb, dt, b, k, (s + 2) % 4);
      void *z = gb_alloc(&bz, dt_size(dt), n * k, (s + 3) % 4);
      const int threads = blas_begin(isa);
      if (dt == F32)
        t->f32.linear_forward(x, w, bias, z, n, d, k);
      else
        t->f64.linear_forward(x, w, bias, z, n, d, k);
      blas_end(isa, threads);
      gb_check(&bx, &cx, "X");
      gb_check(&bw, &cx, "W");
      gb_check(&bb, &cx, "b");
      gb_check(&bz, &cx, "Z");
      gb_written(&bz, &cx, "Z");
      for (size_t i = 0; i < n * k; i++) Z[i] = get(dt, z, i);
      check_la(M_LINEAR, &cx, Z, ref, mag, (double)(d + 1), n * k, scc);
      if (cx.cls == CL_SIMD && isa != ISA_BLAS) {
        for (size_t i = 0; i < n * k; i++)
          check_fma_chain(&cx, i, Z[i], b[i % k], X + i / k * d, 1, W + i % k, k, d);
        /* on 3 threads (row tasks): the same bits */
        if (n * d * k >= (size_t)1 << 21) {
          for (size_t i = 0; i < n * k; i++) put(dt, z, i, NAN);
          const size_t before = smr_num_threads();
          ck_assert_int_eq(smr_set_num_threads(3), SMR_OK);
          if (dt == F32)
            t->f32.linear_forward(x, w, bias, z, n, d, k);
          else
            t->f64.linear_forward(x, w, bias, z, n, d, k);
          ck_assert_int_eq(smr_set_num_threads(before), SMR_OK);
          gb_check(&bz, &cx, "Z");
          check_same_bits(&cx, "Z", z, Z, n * k);
        }
      }
      gb_free(&bx);
      gb_free(&bw);
      gb_free(&bb);
      gb_free(&bz);
    }
    free(X);
    free(W);
    free(b);
    free(Z);
    free(ref);
    free(mag);
    free(scc);
  }
}
END_TEST

START_TEST(test_xt_g) {
  const int dt = _i;
  g_test = "xt_g";
  trng r = tr_stream(9, dt);
  static size_t shapes[256 + NUM_LA_EXTRA][3];
  const size_t ns = la_extra(shapes, la_shapes(dt, shapes, 256, g_quick ? 1u << 15 : 1u << 18));
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0], d = shapes[s][1], k = shapes[s][2];
    for (int acc = 0; acc < 2; acc++) {
      double *X = xmalloc(n * d * sizeof *X), *G = xmalloc(n * k * sizeof *G);
      double *D0 = xmalloc(d * k * sizeof *D0), *D = xmalloc(d * k * sizeof *D);
      rand_fill(dt, X, n * d, &r, s % 8 == 1 && acc);
      rand_fill(dt, G, n * k, &r, s % 8 == 5 && !acc);
      rand_fill(dt, D0, d * k, &r, s % 8 == 3 && acc);
      long double *ref = xmalloc(d * k * sizeof *ref), *mag = xmalloc(d * k * sizeof *mag);
      for (size_t f = 0; f < d; f++)
        for (size_t j = 0; j < k; j++) {
          long double a = acc ? D0[f * k + j] : 0, m = fabsl(a);
          for (size_t i = 0; i < n; i++) {
            const long double p = (long double)X[i * d + f] * G[i * k + j];
            a += p;
            m += fabsl(p);
          }
          ref[f * k + j] = a;
          mag[f * k + j] = m;
        }
      unsigned char *scc = xmalloc(d * k);
      char where[80];
      snprintf(where, sizeof where, "n=%zu d=%zu k=%zu accumulate=%d", n, d, k, acc);
      FOR_EACH_TABLE(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, xt_g), "xt_g", where, k, NULL};
        gbuf bx, bg, bd;
        void *x = gb_from(&bx, dt, X, n * d, s % 4), *g = gb_from(&bg, dt, G, n * k, (s + 1) % 4);
        /* accumulate = false: dW starts as sentinel NaNs, which must not leak in */
        void *dw = acc ? gb_from(&bd, dt, D0, d * k, (s + 2) % 4)
                       : gb_alloc(&bd, dt_size(dt), d * k, (s + 2) % 4);
        const int threads = blas_begin(isa);
        if (dt == F32)
          t->f32.xt_g(x, g, dw, n, d, k, acc);
        else
          t->f64.xt_g(x, g, dw, n, d, k, acc);
        blas_end(isa, threads);
        gb_check(&bx, &cx, "X");
        gb_check(&bg, &cx, "G");
        gb_check(&bd, &cx, "dW");
        for (size_t i = 0; i < d * k; i++) D[i] = get(dt, dw, i);
        check_la(M_XTG, &cx, D, ref, mag, (double)(n + 1), d * k, scc);
        if (cx.cls == CL_SIMD && isa != ISA_BLAS) {
          for (size_t i = 0; i < d * k; i++)
            check_fma_chain(&cx, i, D[i], acc ? D0[i] : 0.0, X + i / k, d, G + i % k, k, n);
          /* on 3 threads (xt_g cuts d or k into tasks): the same bits */
          if (n * d * k >= (size_t)1 << 21) {
            /* dW as before the first call (NaN: must not leak in) */
            for (size_t i = 0; i < d * k; i++) put(dt, dw, i, acc ? D0[i] : NAN);
            const size_t before = smr_num_threads();
            ck_assert_int_eq(smr_set_num_threads(3), SMR_OK);
            if (dt == F32)
              t->f32.xt_g(x, g, dw, n, d, k, acc);
            else
              t->f64.xt_g(x, g, dw, n, d, k, acc);
            ck_assert_int_eq(smr_set_num_threads(before), SMR_OK);
            gb_check(&bd, &cx, "dW");
            check_same_bits(&cx, "dW", dw, D, d * k);
          }
        }
        gb_free(&bx);
        gb_free(&bg);
        gb_free(&bd);
      }
      free(X);
      free(G);
      free(D0);
      free(D);
      free(ref);
      free(mag);
      free(scc);
    }
  }
}
END_TEST

START_TEST(test_colsum) {
  const int dt = _i;
  g_test = "colsum";
  trng r = tr_stream(10, dt);
  static size_t shapes[256][3];
  const size_t ns = la_shapes(dt, shapes, 256, g_quick ? 1u << 15 : 1u << 18);
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0] * shapes[s][1], k = shapes[s][2]; /* more rows */
    for (int acc = 0; acc < 2; acc++) {
      double *G = xmalloc(n * k * sizeof *G), *D0 = xmalloc(k * sizeof *D0);
      double *D = xmalloc(k * sizeof *D);
      rand_fill(dt, G, n * k, &r, s % 8 == 1);
      rand_fill(dt, D0, k, &r, s % 8 == 5 && acc);
      long double *ref = xmalloc(k * sizeof *ref), *mag = xmalloc(k * sizeof *mag);
      for (size_t j = 0; j < k; j++) {
        long double a = acc ? D0[j] : 0, m = fabsl(a);
        for (size_t i = 0; i < n; i++) {
          a += G[i * k + j];
          m += fabsl((long double)G[i * k + j]);
        }
        ref[j] = a;
        mag[j] = m;
      }
      unsigned char *scc = xmalloc(k);
      char where[80];
      snprintf(where, sizeof where, "n=%zu k=%zu accumulate=%d", n, k, acc);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, colsum), "colsum", where, 0, NULL};
        gbuf bg, bd;
        void *g = gb_from(&bg, dt, G, n * k, s % 4);
        void *db = acc ? gb_from(&bd, dt, D0, k, (s + 1) % 4)
                       : gb_alloc(&bd, dt_size(dt), k, (s + 1) % 4);
        if (dt == F32)
          t->f32.colsum(g, db, n, k, acc);
        else
          t->f64.colsum(g, db, n, k, acc);
        gb_check(&bg, &cx, "G");
        gb_check(&bd, &cx, "db");
        for (size_t j = 0; j < k; j++) D[j] = get(dt, db, j);
        check_la(M_COLSUM, &cx, D, ref, mag, (double)(n + 1), k, scc);
        gb_free(&bg);
        gb_free(&bd);
      }
      free(G);
      free(D0);
      free(D);
      free(ref);
      free(mag);
      free(scc);
    }
  }
}
END_TEST

/* Array lengths: 0, every small k, the powers of two and neighbours, 1e6. */
static size_t len_list(int dt, size_t *out) {
  size_t n = 0;
  out[n++] = 0;
  for (size_t k = 1; k <= small_max(dt); k++) out[n++] = k;
  n += pow2_list(dt, out + n);
  out[n++] = big_len();
  return n;
}

/* Per-row weights of the fused CE (the trainer's sample and class
   weights): loss = sum_i w_i CE_i and row i of g = (p_i - y_i) scale w_i,
   against a long-double reference, for every ISA, short rows (the block
   path) and long ones, weights 0, fractional and large, out of place and in
   place. A row of weight 0 holding a -inf label logit (CE = +inf) must add
   exactly 0. */
START_TEST(test_ce_weights) {
  const int dt = _i;
  g_test = "ce_weights";
  trng r = tr_stream(21, dt);
  const size_t ks[] = {1, 3, 10, 17, 64, 129, 300, 1000};
  const double wv[] = {0.0, 0.5, 1.0, 2.75, 1e-3, 7.0};
  for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
    const size_t k = ks[ki], n = 2 + (k < 64 ? 300 / k : 3), len = n * k;
    double *z = xmalloc(len * sizeof *z), *w = xmalloc(n * sizeof *w);
    int32_t *lab = xmalloc(n * sizeof *lab);
    for (size_t i = 0; i < len; i++) z[i] = dt_round(dt, 3.0 * tr_normal(&r));
    for (size_t i = 0; i < n; i++) {
      lab[i] = (int32_t)tr_below(&r, k);
      w[i] = wv[tr_below(&r, 6)];
    }
    w[0] = 0.0; /* its label logit is -inf: CE_0 = +inf, weighted 0 */
    if (k == 3) {
      /* a row whose label is its max with 1 - p = 5.4e-6 (seed 125325060773
         caught a reference that lost bits there) */
      const double row[3] = {-4.3794515324148815, 8.6913425607150732, -3.8953324388825621};
      for (size_t j = 0; j < 3; j++) z[3 + j] = dt_round(dt, row[j]);
      lab[1] = 1;
      w[1] = 0.5;
    }
    if (k > 1) z[lab[0]] = -INFINITY;
    const double scale = dt_round(dt, 1.0 / (double)n);
    long double ref_loss = 0.0L;
    long double *ref_g = xmalloc(len * sizeof *ref_g);
    for (size_t i = 0; i < n; i++) {
      const double *zi = z + i * k;
      long double m = -INFINITY, s = 0.0L;
      for (size_t j = 0; j < k; j++) m = zi[j] > m ? zi[j] : m;
      for (size_t j = 0; j < k; j++) s += expl((long double)zi[j] - m);
      if (w[i] != 0.0) ref_loss += (long double)w[i] * (m + logl(s) - zi[lab[i]]);
      /* p_label - 1 as -(the other terms)/s: p - 1 in long double would
         lose log2(1/(1 - p)) of its 64 bits (about 17 at 1 - p = 5e-6,
         leaving fewer than a double's 53) */
      long double others = 0.0L;
      for (size_t j = 0; j < k; j++)
        if (j != (size_t)lab[i]) others += expl((long double)zi[j] - m);
      for (size_t j = 0; j < k; j++)
        ref_g[i * k + j] = (j == (size_t)lab[i] ? -others / s : expl((long double)zi[j] - m) / s) *
                           (long double)scale * (long double)w[i];
    }
    const double eps = dt_eps(dt);
    FOR_EACH_ISA(isa, t) {
      for (int inpl = 0; inpl < 2; inpl++) {
        void *zb = xmalloc(len * 8), *gb = xmalloc(len * 8), *wb = xmalloc(n * 8);
        for (size_t i = 0; i < len; i++) put(dt, zb, i, z[i]);
        for (size_t i = 0; i < n; i++) put(dt, wb, i, w[i]);
        void *g = inpl ? zb : gb;
        const double loss = dt == F32 ? t->f32.ce_logits(zb, lab, wb, n, k, (float)scale, g)
                                      : t->f64.ce_logits(zb, lab, wb, n, k, scale, g);
        ck_assert_msg(fabsl(loss - ref_loss) <= 64 * eps * fabsl(ref_loss) + 1e-300,
                      "ce_weights %s isa=%d k=%zu in place %d: loss %.17g vs %.17Lg", dt_name(dt),
                      isa, k, inpl, loss, ref_loss);
        for (size_t i = 0; i < len; i++) {
          const long double ref = ref_g[i], got = get(dt, g, i);
          const long double tol = 64 * eps * fabsl(ref) + 4 * eps * scale * 1e-6;
          ck_assert_msg(fabsl(got - ref) <= tol,
                        "ce_weights %s isa=%d k=%zu in place %d: g[%zu] (row %zu, w %g) %.9Lg vs "
                        "%.9Lg",
                        dt_name(dt), isa, k, inpl, i, i / k, w[i / k], got, ref);
        }
        if (!inpl) {
          /* loss only: the same weighted sum */
          const double l2 = dt == F32 ? t->f32.ce_logits(zb, lab, wb, n, k, (float)scale, NULL)
                                      : t->f64.ce_logits(zb, lab, wb, n, k, scale, NULL);
          ck_assert_msg(fabsl(l2 - ref_loss) <= 64 * eps * fabsl(ref_loss),
                        "ce_weights %s isa=%d k=%zu loss only %.17g vs %.17Lg", dt_name(dt), isa,
                        k, l2, ref_loss);
        }
        free(zb);
        free(gb);
        free(wb);
      }
    }
    free(z);
    free(w);
    free(lab);
    free(ref_g);
  }
}
END_TEST

START_TEST(test_axpy) {
  const int dt = _i;
  g_test = "axpy";
  trng r = tr_stream(11, dt);
  size_t lens[128];
  const size_t nl = len_list(dt, lens);
  for (size_t li = 0; li < nl; li++) {
    const size_t len = lens[li];
    for (int rep = 0; rep < 2; rep++) {
      const size_t c = li * 2 + (size_t)rep;
      const double alphas[] = {0.0, -1.0, 1.0};
      const double a = c % 4 == 3 ? alphas[(c / 4) % 3] : dt_round(dt, tr_normal(&r));
      double *X = xmalloc((len + 1) * sizeof *X), *Y = xmalloc((len + 1) * sizeof *Y);
      double *out = xmalloc((len + 1) * sizeof *out);
      rand_fill(dt, X, len, &r, c % 5 == 2);
      rand_fill(dt, Y, len, &r, c % 5 == 4);
      long double *ref = xmalloc((len + 1) * sizeof *ref), *mag = xmalloc((len + 1) * sizeof *mag);
      for (size_t i = 0; i < len; i++) {
        const long double p = (long double)a * X[i];
        ref[i] = Y[i] + p;
        mag[i] = fabsl((long double)Y[i]) + fabsl(p);
      }
      unsigned char *scc = xmalloc(len + 1);
      char where[80];
      snprintf(where, sizeof where, "len=%zu a=%g", len, a);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, axpy), "axpy", where, 0, NULL};
        gbuf bx, by;
        void *x = gb_from(&bx, dt, X, len, c % 4), *y = gb_from(&by, dt, Y, len, (c + 1 + c / 4) % 4);
        if (dt == F32)
          t->f32.axpy(len, (float)a, x, y);
        else
          t->f64.axpy(len, a, x, y);
        gb_check(&bx, &cx, "x");
        gb_check(&by, &cx, "y");
        for (size_t i = 0; i < len; i++) out[i] = get(dt, y, i);
        check_la(M_AXPY, &cx, out, ref, mag, 1.0, len, scc);
        gb_free(&bx);
        gb_free(&by);
      }
      free(X);
      free(Y);
      free(out);
      free(ref);
      free(mag);
      free(scc);
    }
  }
}
END_TEST

START_TEST(test_sumsq) {
  const int dt = _i;
  g_test = "sumsq";
  trng r = tr_stream(12, dt);
  size_t lens[128];
  const size_t nl = len_list(dt, lens);
  for (size_t li = 0; li < nl; li++) {
    const size_t len = lens[li];
    for (int rep = 0; rep < 2; rep++) {
      const size_t c = li * 2 + (size_t)rep;
      double *X = xmalloc((len + 1) * sizeof *X);
      rand_fill(dt, X, len, &r, c % 7 == 3);
      if (rep == 1)
        for (size_t i = 0; i < len; i++) X[i] = dt_round(dt, X[i] * 1e3);
      long double ref = 0;
      for (size_t i = 0; i < len; i++) ref += (long double)X[i] * X[i];
      int scl = -1;
      char where[64];
      snprintf(where, sizeof where, "len=%zu", len);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, sumsq), "sumsq", where, 0, NULL};
        gbuf bx;
        void *x = gb_from(&bx, dt, X, len, c % 4);
        const double got = dt == F32 ? t->f32.sumsq(x, len) : t->f64.sumsq(x, len);
        gb_check(&bx, &cx, "x");
        gb_free(&bx);
        const tolspec *ts = tol_of(M_SUMSQ, dt, cx.cls);
        const long double unit = DBL_EPSILON * (ref > 0 ? ref : 1);
        check_val(M_SUMSQ, &cx, F64, 0, got, ref,
                  ts->a * (double)(len + 2) * unit + ulp_t(F64, ref), unit,
                  isa == SMR_ISA_SCALAR ? -1 : scl);
        if (isa == SMR_ISA_SCALAR) scl = vclass(got);
      }
      free(X);
    }
  }
}
END_TEST

/* sum x_i y_i in double against long double, every length of len_list,
   x and y at different misalignments, a NaN or an infinity in some cases:
   the recursive-summation bound (len + 2) eps64 sum |x_i y_i| (f32
   products are exact in double). */
START_TEST(test_dot) {
  const int dt = _i;
  g_test = "dot";
  trng r = tr_stream(13, dt);
  size_t lens[128];
  const size_t nl = len_list(dt, lens);
  for (size_t li = 0; li < nl; li++) {
    const size_t len = lens[li];
    for (int rep = 0; rep < 2; rep++) {
      const size_t c = li * 2 + (size_t)rep;
      double *X = xmalloc((len + 1) * sizeof *X), *Y = xmalloc((len + 1) * sizeof *Y);
      rand_fill(dt, X, len, &r, c % 7 == 3);
      rand_fill(dt, Y, len, &r, false);
      if (rep == 1)
        for (size_t i = 0; i < len; i++) Y[i] = dt_round(dt, Y[i] * 1e3);
      long double ref = 0, mag = 0;
      for (size_t i = 0; i < len; i++) {
        ref += (long double)X[i] * Y[i];
        mag += fabsl((long double)X[i] * Y[i]);
      }
      int scl = -1;
      char where[64];
      snprintf(where, sizeof where, "len=%zu", len);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, dot), "dot", where, 0, NULL};
        gbuf bx, by;
        void *x = gb_from(&bx, dt, X, len, c % 4);
        void *y = gb_from(&by, dt, Y, len, (c + 1) % 4);
        const double got = dt == F32 ? t->f32.dot(x, y, len) : t->f64.dot(x, y, len);
        gb_check(&bx, &cx, "x");
        gb_check(&by, &cx, "y");
        gb_free(&bx);
        gb_free(&by);
        const tolspec *ts = tol_of(M_DOT, dt, cx.cls);
        const long double unit = DBL_EPSILON * (mag > 0 && isfinite(mag) ? mag : 1);
        check_val(M_DOT, &cx, F64, 0, got, ref,
                  ts->a * (double)(len + 2) * unit + ulp_t(F64, ref), unit,
                  isa == SMR_ISA_SCALAR ? -1 : scl);
        if (isa == SMR_ISA_SCALAR) scl = vclass(got);
      }
      free(X);
      free(Y);
    }
  }
}
END_TEST

/* ======================================================================== */
/* col_mean_std, standardize                                                 */
/* ======================================================================== */

/* Shapes (n, d): n cycling through NLIST (and one tall case), d through the
   small and power-of-two lists. */
static size_t nd_shapes(int dt, size_t (*out)[2], size_t cap) {
  size_t ds[128], nd = 0, ns = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ds[nd++] = k;
  nd += pow2_list(dt, ds + nd);
  for (size_t i = 0; i < nd; i++) {
    size_t n = NLIST[i % NUM_NLIST];
    while (n * ds[i] > cap && n > 1) n /= 2;
    out[ns][0] = n;
    out[ns][1] = ds[i];
    ns++;
  }
  out[ns][0] = g_quick ? 10000 : 100000; /* tall: long column sums */
  out[ns][1] = 3;
  ns++;
  return ns;
}

START_TEST(test_col_mean_std) {
  const int dt = _i;
  g_test = "col_mean_std";
  trng r = tr_stream(13, dt);
  static size_t shapes[128][2];
  const size_t ns = nd_shapes(dt, shapes, g_quick ? 1u << 14 : 1u << 17);
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0], d = shapes[s][1];
    double *X = xmalloc(n * d * sizeof *X);
    for (size_t i = 0; i < n * d; i++) {
      const size_t f = i % d;
      const double offset = f % 3 == 0 ? 1e4 : f % 3 == 1 ? -3.0 : 0.0;
      X[i] = dt_round(dt, offset + tr_normal(&r) * (1.0 + (double)(f % 7)));
    }
    if (s % 5 == 2) X[tr_below(&r, n * d)] = s % 10 == 2 ? NAN : INFINITY;
    long double *mu = xmalloc(d * sizeof *mu), *sdl = xmalloc(d * sizeof *sdl);
    long double *amax = xmalloc(d * sizeof *amax);
    for (size_t f = 0; f < d; f++) {
      long double m = 0, v = 0, a = 0;
      for (size_t i = 0; i < n; i++) m += X[i * d + f];
      m /= (long double)n;
      for (size_t i = 0; i < n; i++) {
        const long double t = X[i * d + f] - m;
        v += t * t;
        a = fmaxl(a, fabsl((long double)X[i * d + f]));
      }
      mu[f] = m;
      sdl[f] = sqrtl(v / (long double)n);
      amax[f] = a;
    }
    int *scm = xmalloc(d * sizeof *scm), *scs = xmalloc(d * sizeof *scs);
    char where[64];
    snprintf(where, sizeof where, "n=%zu d=%zu", n, d);
    FOR_EACH_ISA(isa, t) {
      cctx cx = {dt, isa, ENTRY_CLS(t, dt, col_mean_std), "col_mean_std", where, 0, NULL};
      gbuf bx, bm, bs;
      void *x = gb_from(&bx, dt, X, n * d, s % 4);
      double *mean = gb_alloc(&bm, sizeof(double), d, (s + 1) % 4);
      double *sd = gb_alloc(&bs, sizeof(double), d, (s + 2) % 4);
      if (dt == F32)
        t->f32.col_mean_std(x, n, d, mean, sd);
      else
        t->f64.col_mean_std(x, n, d, mean, sd);
      gb_check(&bx, &cx, "X");
      gb_check(&bm, &cx, "mean");
      gb_check(&bs, &cx, "sd");
      gb_written(&bm, &cx, "mean");
      gb_written(&bs, &cx, "sd");
      const tolspec *tm = tol_of(M_MEAN, dt, cx.cls), *tsd = tol_of(M_SD, dt, cx.cls);
      const bool is_sc = isa == SMR_ISA_SCALAR;
      for (size_t f = 0; f < d; f++) {
        const long double unit = (double)(n + 2) * DBL_EPSILON * (amax[f] > 0 ? amax[f] : 1);
        const long double usd = DBL_EPSILON * (amax[f] > 0 ? amax[f] : 1);
        check_val(M_MEAN, &cx, F64, f, mean[f], mu[f], tm->a * unit + ulp_t(F64, mu[f]),
                  unit / (double)(n + 2),
                  is_sc ? -1 : scm[f]);
        check_val(M_SD, &cx, F64, f, sd[f], sdl[f],
                  tsd->a * (double)(n + 2) * DBL_EPSILON * sdl[f] + tsd->b * unit +
                      ulp_t(F64, sdl[f]),
                  usd,
                  is_sc ? -1 : scs[f]);
        if (is_sc) {
          scm[f] = vclass(mean[f]);
          scs[f] = vclass(sd[f]);
        }
      }
      gb_free(&bx);
      gb_free(&bm);
      gb_free(&bs);
    }
    free(X);
    free(mu);
    free(sdl);
    free(amax);
    free(scm);
    free(scs);
  }
}
END_TEST

START_TEST(test_standardize) {
  const int dt = _i;
  g_test = "standardize";
  trng r = tr_stream(14, dt);
  static size_t shapes[128][2];
  const size_t ns = nd_shapes(dt, shapes, g_quick ? 1u << 14 : 1u << 17);
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0], d = shapes[s][1];
    double *X = xmalloc(n * d * sizeof *X), *out = xmalloc(n * d * sizeof *out);
    double *mean = xmalloc(d * sizeof *mean), *scale = xmalloc(d * sizeof *scale);
    for (size_t f = 0; f < d; f++) {
      mean[f] = tr_normal(&r) * 10;
      scale[f] = 0.01 + tr_uniform(&r) * 100;
    }
    for (size_t i = 0; i < n * d; i++)
      X[i] = dt_round(dt, mean[i % d] + tr_normal(&r) * scale[i % d] * 3);
    if (s % 5 == 2) X[tr_below(&r, n * d)] = s % 10 == 2 ? NAN : -INFINITY;
    long double *ref = xmalloc(n * d * sizeof *ref);
    for (size_t i = 0; i < n * d; i++)
      ref[i] = ((long double)X[i] - mean[i % d]) / scale[i % d];
    unsigned char *scc = xmalloc(n * d);
    for (int inpl = 0; inpl < 2; inpl++) {
      char where[64];
      snprintf(where, sizeof where, "n=%zu d=%zu%s", n, d, inpl ? " in place" : "");
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, standardize), "standardize", where, d, NULL};
        gbuf bx, bs = {0}, bm, bc;
        void *x = gb_from(&bx, dt, X, n * d, s % 4);
        double *mb = gb_alloc(&bm, sizeof(double), d, (s + 1) % 4);
        double *cb = gb_alloc(&bc, sizeof(double), d, (s + 3) % 4);
        memcpy(mb, mean, d * sizeof *mb);
        memcpy(cb, scale, d * sizeof *cb);
        void *xs = inpl ? x : gb_alloc(&bs, dt_size(dt), n * d, (s + 2) % 4);
        if (dt == F32)
          t->f32.standardize(x, mb, cb, xs, n, d);
        else
          t->f64.standardize(x, mb, cb, xs, n, d);
        gb_check(&bx, &cx, "X");
        gb_check(&bm, &cx, "mean");
        gb_check(&bc, &cx, "scale");
        CHECK(memcmp(mb, mean, d * sizeof *mb) == 0 && memcmp(cb, scale, d * sizeof *cb) == 0,
              "standardize modified mean or scale");
        if (!inpl) {
          gb_check(&bs, &cx, "Xs");
          gb_written(&bs, &cx, "Xs");
        }
        for (size_t i = 0; i < n * d; i++) out[i] = get(dt, xs, i);
        const tolspec *ts = tol_of(M_STDZ, dt, cx.cls);
        const bool is_sc = isa == SMR_ISA_SCALAR && !inpl;
        for (size_t i = 0; i < n * d; i++) {
          const double u = ulp_t(dt, ref[i]);
          check_val(M_STDZ, &cx, dt, i, out[i], ref[i], ts->a * u, u, is_sc ? -1 : scc[i]);
          if (is_sc) scc[i] = (unsigned char)vclass(out[i]);
        }
        gb_free(&bx);
        gb_free(&bm);
        gb_free(&bc);
        if (!inpl) gb_free(&bs);
      }
    }
    free(X);
    free(out);
    free(mean);
    free(scale);
    free(ref);
    free(scc);
  }
}
END_TEST

/* ======================================================================== */
/* Tables and dispatch                                                       */
/* ======================================================================== */

#define ENTRY_NN(tbl, name) CHECK((tbl).name != NULL, "isa %s: %s missing", smr_isa_name((smr_isa)isa), #name)
#define ENTRIES_NN(tbl)                                                        \
  do {                                                                         \
    ENTRY_NN(tbl, softmax); ENTRY_NN(tbl, softmax_online);                     \
    ENTRY_NN(tbl, softmax_temperature); ENTRY_NN(tbl, log_softmax);            \
    ENTRY_NN(tbl, ce_logits); ENTRY_NN(tbl, ce_prob);                          \
    ENTRY_NN(tbl, argmax_rows); ENTRY_NN(tbl, linear_forward);                 \
    ENTRY_NN(tbl, xt_g); ENTRY_NN(tbl, colsum); ENTRY_NN(tbl, axpy);           \
    ENTRY_NN(tbl, momentum_step); ENTRY_NN(tbl, adam_step);                    \
    ENTRY_NN(tbl, sumsq); ENTRY_NN(tbl, dot); ENTRY_NN(tbl, all_finite);       \
    ENTRY_NN(tbl, col_mean_std); ENTRY_NN(tbl, standardize);                   \
  } while (0)

/* Every available ISA has a complete table; scalar is always there. */
START_TEST(test_tables) {
  g_test = "tables";
  CHECK(g_sc != NULL, "no scalar table");
  int count = 0;
  FOR_EACH_ISA(isa, t) {
    ENTRIES_NN(t->f32);
    ENTRIES_NN(t->f64);
    CHECK(smr_isa_available((smr_isa)isa), "table for unavailable isa %d", isa);
    count++;
  }
  for (int isa = 0; isa < SMR_ISA_COUNT; isa++)
    CHECK((smr_kernels_for(isa) != NULL) == smr_isa_available((smr_isa)isa),
          "table/availability mismatch for %s", smr_isa_name((smr_isa)isa));
  CHECK(count >= 1, "no table");
}
END_TEST

/* a is b, or b with the matrix products from CBLAS (src/blas.c). */
static bool same_table(const struct smr_kernels *a, const struct smr_kernels *b) {
  struct smr_kernels x = *a, y = *b;
  x.f32.linear_forward = y.f32.linear_forward = NULL;
  x.f32.xt_g = y.f32.xt_g = NULL;
  x.f64.linear_forward = y.f64.linear_forward = NULL;
  x.f64.xt_g = y.f64.xt_g = NULL;
  return memcmp(&x, &y, sizeof x) == 0;
}

/* SMR_EXPECT_ISA=name: the active ISA is `name` (proves dispatch under an
   emulated CPU). Nothing to check when unset. */
START_TEST(test_expect_isa) {
  g_test = "expect_isa";
  const char *want = getenv("SMR_EXPECT_ISA");
  if (want == NULL || want[0] == '\0') return;
  smr_isa isa;
  CHECK(smr_isa_from_name(want, &isa) == SMR_OK, "SMR_EXPECT_ISA=%s is not an ISA name", want);
  CHECK(strcmp(smr_isa_name(smr_isa_active()), want) == 0,
        "SMR_EXPECT_ISA=%s but the active ISA is %s (available:%s%s%s%s)", want,
        smr_isa_name(smr_isa_active()), smr_isa_available(SMR_ISA_SCALAR) ? " scalar" : "",
        smr_isa_available(SMR_ISA_AVX2) ? " avx2" : "",
        smr_isa_available(SMR_ISA_AVX512) ? " avx512" : "",
        smr_isa_available(SMR_ISA_NEON) ? " neon" : "");
  CHECK(smr_kernels_for(isa) != NULL && same_table(smr_kernels_active(), smr_kernels_for(isa)),
        "the active table is not the table of %s", want);
}
END_TEST

/* ======================================================================== */

static TCase *tcase(Suite *s, const char *name) {
  TCase *tc = tcase_create(name);
  tcase_set_timeout(tc, 600);
  tcase_add_checked_fixture(tc, start_clock, report);
  suite_add_tcase(s, tc);
  return tc;
}

#define DT_LOOP(tc, fn) tcase_add_loop_test(tc, fn, F32, NUM_DT)

static Suite *isa_suite(void) {
  Suite *s = suite_create("isa");
  TCase *tc = tcase(s, "dispatch");
  tcase_add_test(tc, test_tables);
  tcase_add_test(tc, test_expect_isa);
  tc = tcase(s, "rows");
  DT_LOOP(tc, test_rows_small);
  DT_LOOP(tc, test_rows_pow2);
  DT_LOOP(tc, test_rows_big);
  DT_LOOP(tc, test_rows_stream);
  DT_LOOP(tc, test_rows_blocks);
  DT_LOOP(tc, test_ce_weights);
  DT_LOOP(tc, test_shift_invariance);
  DT_LOOP(tc, test_ce_prob);
  tc = tcase(s, "table");
  DT_LOOP(tc, test_argmax_rows);
  DT_LOOP(tc, test_all_finite);
  DT_LOOP(tc, test_linear_forward);
  DT_LOOP(tc, test_xt_g);
  DT_LOOP(tc, test_colsum);
  DT_LOOP(tc, test_axpy);
  DT_LOOP(tc, test_sumsq);
  DT_LOOP(tc, test_dot);
  DT_LOOP(tc, test_col_mean_std);
  DT_LOOP(tc, test_standardize);
  return s;
}

int main(void) {
  smr_test_isa_guard();
  const char *seed = getenv("SMR_ISA_SEED");
  if (seed != NULL && seed[0] != '\0') {
    char *end;
    g_seed = strtoull(seed, &end, 0);
    if (*end != '\0') {
      fprintf(stderr, "test_isa: bad SMR_ISA_SEED '%s'\n", seed);
      return 2;
    }
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    trng r = {(uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
              ((uint64_t)getpid() << 32)};
    g_seed = tr_next(&r) % 1000000000000ull;
  }
  g_quick = env_flag("SMR_TEST_QUICK");
  g_verbose = env_flag("SMR_TEST_VERBOSE");
  g_sc = smr_kernels_for(SMR_ISA_SCALAR);
  printf("test_isa: seed %" PRIu64 " (replay with SMR_ISA_SEED=%" PRIu64 ")%s\n", g_seed, g_seed,
         g_quick ? ", quick" : "");
  if (g_verbose) {
    printf("test_isa: active %s; tables:", smr_isa_name(smr_isa_active()));
    FOR_EACH_TABLE(isa, t) {
      (void)t;
      printf(" %s", isa_label(isa));
    }
    printf("\n");
  }
  fflush(stdout);

  SRunner *sr = srunner_create(isa_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
