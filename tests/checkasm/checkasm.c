/*
 * checkasm.c - the harness of tests/checkasm/ (see checkasm.h for the files):
 * the tolerance table, failures and statistics, buffers, comparisons, the
 * random streams, the completeness of the tables, and main.
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
 *   SMR_ISA_SEED=N   replay: the seed is printed once ("checkasm: seed N
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
 * The public entries of smr.h on every ISA (api.c; the bounds docs/ACCURACY.md
 * states for the public API, here with the column of the selected ISA's
 * entry; dmax = the largest |d_j| of the row below the exp underflow
 * threshold, R its rescales as above):
 * public rows     (a + b dmax) eps |ref| + r R eps64 |ref| + 2 tiny  (softmax,
 *                 temperature, log_softmax, gradient; R only for online)
 * public loss     (a + r max_i dmax_i) eps |L| + b eps64 |L| + (1e-300 scalar,
 *                 k tiny SIMD: exps below the smallest subnormal are 0); the
 *                 mean CE and the seed form's ce_prob
 * public online=2-pass  a eps |sm| + r R eps64 |sm| + 2 tiny
 * public log_sm=log(sm) a eps (1 + |log p|), p normal
 * grad=(p-y)/n    |g - (p - y)/n| <= a eps |(p - y)/n| + b eps / n, with p and
 *                 y from smr_softmax and smr_one_hot; row sums |sum g| <= r eps / n
 * finite diff     |(L(z + h) - L(z - h)) / 2h - g| <= a  (h = 2^-7 f32,
 *                 2^-14 f64: O(h^2) truncation and the rounding of L)
 * lse_chunk       |m + log s - lse| <= a eps (1 + Dbar) + (b + r (k + chunks)) eps64
 *                 + ulp64(lse): the exps in T (SIMD: a = 8, as the CE loss;
 *                 scalar: exps in double of z_j - m rounded in T, a = 1), the
 *                 sum of k terms and two roundings per merge in double, the
 *                 log and the final sum
 * lce_grad        (a ulp(p) + b |z_j - lse| eps p) |f w| + 2 eps64 (1 + |2 lam lse|) p w
 *                 + r eps (|u w| + |g|) + 4 tiny: p = e^(z - lse)'s error (the
 *                 exp; SIMD: of z - hi rounded in T, then the row's scale
 *                 e^-lo f w rounded to T) scaled by f w, the rounding of
 *                 f = 1 + 2 lam lse in double (it may cancel), the
 *                 subtraction and the final rounding (the label's entry is
 *                 formed in double), roundings of a subnormal result
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
 * - public entries (M_API_*): the bounds tests/test_kernels.c asserted of
 *   the public API on every ISA before this harness took its numerics
 *   over (docs/ACCURACY.md): relative, rel 4 eps + 2 tiny for the scalar
 *   kernels, (12 + dmax) eps for SIMD ones (the scalar 4 plus SIMD_A = 8
 *   and the rounding of d_j); each public result must also be the selected
 *   table entry's, bit for bit, so the per-entry bounds above hold for it.
 * SMR_TEST_VERBOSE=1 prints the measured worst values against these.
 */
#include "checkasm.h"
#include "isa_guard.h"

#include <unistd.h>

/* ======================================================================== */
/* Tolerance table                                                           */
/* ======================================================================== */




#define R32 (DBL_EPSILON / FLT_EPSILON) /* DBL_EPSILON in f32 eps units */

const struct tolrow TOL[NUM_METRICS] = {
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
    /* the public entries of smr.h (api.c) */
    [M_API_ROW]    = {"public rows",    "eps*|ref|",  {4, 0, 1},     {12, 1, 1},   {4, 0, 1},     {12, 1, 1}},
    [M_API_LOSS]   = {"public loss",    "eps64*|L|",  {0, 64, 0},    {8, 64, 1},   {0, 64, 0},    {8, 64, 1}},
    [M_API_ONLINE2P] = {"public online=2-pass", "eps*|sm|", {8, 0, 1}, {8, 0, 1},  {8, 0, 1},     {8, 0, 1}},
    [M_API_LOGCONS] = {"public log_sm=log(sm)", "eps*(1+|lp|)", {8, 0, 0}, {8, 0, 0}, {8, 0, 0}, {8, 0, 0}},
    [M_API_PY]     = {"grad=(p-y)/n",   "eps*|ref|",  {4, 2, 8},     {4, 2, 8},    {4, 2, 8},     {4, 2, 8}},
    [M_FDIFF]      = {"finite diff",    "1",          {2e-4, 0, 0},  {2e-4, 0, 0}, {1e-7, 0, 0},  {1e-7, 0, 0}},
    [M_LSE]        = {"lse_chunk",      "eps64",      {1, 8, 1},     {8, 8, 1},    {1, 8, 1},     {8, 8, 1}},
    [M_LCE_GRAD]   = {"lce_grad",       "eps*|ref|",  {2, 1, 2},     {8, 1, 2},    {2, 1, 2},     {8, 1, 2}},
};


const tolspec *tol_of(int metric, int dt, int cls) {
  const struct tolrow *t = &TOL[metric];
  if (dt == F32) return cls == CL_SCALAR ? &t->s32 : &t->v32;
  return cls == CL_SCALAR ? &t->s64 : &t->v64;
}

/* ======================================================================== */
/* Configuration, failures, statistics                                       */
/* ======================================================================== */

uint64_t g_seed;
bool g_quick, g_verbose;
const struct smr_kernels *g_sc; /* the scalar table */
const char *g_test = "";        /* name of the running test (verbose report) */
static struct timespec g_t0;            /* start of the running test */

static bool env_flag(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

_Noreturn void failf(const char *file, int line, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ck_abort_msg("%s:%d: %s [replay: SMR_ISA_SEED=%" PRIu64 "]", file, line, msg, g_seed);
}

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
static stat_t g_stat[NUM_METRICS][NUM_DT][ISA_BLAS + 1];

const char *isa_label(int isa) {
  return isa == ISA_BLAS ? "blas" : smr_isa_name((smr_isa)isa);
}

void start_clock(void) { clock_gettime(CLOCK_MONOTONIC, &g_t0); }

/* Checked fixture teardown: the verbose report of the test that just ran. */
void report(void) {
  if (g_verbose) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "checkasm %-14s %.2f s\n", g_test,
            (double)(t1.tv_sec - g_t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - g_t0.tv_nsec));
    for (int m = 0; m < NUM_METRICS; m++)
      for (int dt = 0; dt < NUM_DT; dt++)
        for (int isa = 0; isa <= ISA_BLAS; isa++) {
          const stat_t *s = &g_stat[m][dt][isa];
          if (s->count == 0) continue;
          fprintf(stderr,
                  "checkasm %-14s %-15s %s %-7s worst %10.4g %-14s (bound there %10.4g), "
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

const char *dt_name(int dt) { return dt == F32 ? "f32" : "f64"; }
size_t dt_size(int dt) { return dt == F32 ? sizeof(float) : sizeof(double); }
double dt_eps(int dt) { return dt == F32 ? FLT_EPSILON : DBL_EPSILON; }
double dt_tiny(int dt) { return dt == F32 ? FLT_TRUE_MIN : DBL_TRUE_MIN; }
double dt_max(int dt) { return dt == F32 ? FLT_MAX : DBL_MAX; }
double dt_min_normal(int dt) { return dt == F32 ? FLT_MIN : DBL_MIN; }

/* x rounded to the dtype. Out of line: GCC 12.2 at -O3 was seen to
   SLP-vectorize an inlined `dt == F32 ? (double)(float)x : x` over a small
   array and drop the conversion of the first two lanes (see
   test_kernels.c). The same for the other rounding helpers. */
NOINLINE double dt_round(int dt, double x) { return dt == F32 ? (double)(float)x : x; }

NOINLINE long double ld_round(int dt, long double x) {
  return dt == F32 ? (long double)(float)x : (long double)(double)x;
}

/* z / t divided in the dtype, as the temperature kernel does. */
NOINLINE double dt_div(int dt, double z, double t) {
  if (dt == F32) {
    const float q = (float)z / (float)t;
    return q;
  }
  return z / t;
}

double get(int dt, const void *a, size_t i) {
  return dt == F32 ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

void put(int dt, void *a, size_t i, double v) {
  if (dt == F32)
    ((float *)a)[i] = (float)v;
  else
    ((double *)a)[i] = v;
}

/* The spacing of dtype dt at |x|, never below its smallest subnormal;
   values beyond the finite range use the spacing at the max. */
double ulp_t(int dt, long double x) {
  const double tiny = dt_tiny(dt);
  double ax = fabs((double)x); /* the binade is all that matters */
  if (!(ax > 0)) return tiny;
  if (ax > dt_max(dt)) ax = dt_max(dt);
  int e;
  (void)frexp(ax, &e); /* ax = f 2^e, 1/2 <= f < 1 */
  const double u = ldexp(1.0, e - (dt == F32 ? FLT_MANT_DIG : DBL_MANT_DIG));
  return u > tiny ? u : tiny;
}

const char *const VC_NAMES[] = {"NaN", "+inf", "-inf", "zero", "finite nonzero"};

int vclass(double v) {
  if (isnan(v)) return VC_NAN;
  if (v == INFINITY) return VC_PINF;
  if (v == -INFINITY) return VC_NINF;
  return v == 0 ? VC_ZERO : VC_FIN;
}

/* ======================================================================== */
/* Random numbers (splitmix64, independent of the library's generator)      */
/* ======================================================================== */


uint64_t tr_next(trng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The stream of one test and dtype. */
trng tr_stream(uint64_t test_id, int dt) {
  trng r = {g_seed ^ (test_id * 0xD1B54A32D192ED03ull) ^ ((uint64_t)dt << 56)};
  (void)tr_next(&r);
  return r;
}

double tr_uniform(trng *r) { return (double)(tr_next(r) >> 11) * 0x1p-53; }

double tr_normal(trng *r) {
  const double u1 = 1.0 - tr_uniform(r); /* (0, 1] */
  const double u2 = tr_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

size_t tr_below(trng *r, size_t bound) { return (size_t)(tr_next(r) % bound); }

void *xmalloc(size_t bytes) {
  void *p = malloc(bytes > 0 ? bytes : 1);
  CHECK(p != NULL, "out of memory (%zu bytes)", bytes);
  return p;
}

/* ======================================================================== */
/* Guarded buffers                                                           */
/* ======================================================================== */


static const uint32_t SENT32 = 0x7FE5A5A5u;            /* quiet NaN (f32), int32 label */
static const uint64_t SENT64 = 0x7FFDA5A5A5A5A5A5ull;  /* quiet NaN (f64) */
static const uint32_t PINF32 = 0x7F800000u;
static const uint64_t PINF64 = 0x7FF0000000000000ull;



/* len elements of esz bytes starting `off` (0..3) elements past a 64-byte
   boundary, with GUARD_BYTES + off*esz bytes before and at least
   GUARD_BYTES after. The data holds the NaN sentinel (so an element left
   unwritten is visible); the guard elements alternate +inf (next to the
   data) and the NaN sentinel, so a read past either end poisons a max
   (+inf) as well as a sum (NaN). */
void *gb_alloc(gbuf *b, size_t esz, size_t len, size_t off) {
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

void gb_free(gbuf *b) {
  free(b->mem);
  b->mem = b->data = NULL;
}



const char *row_kind(const cctx *c, size_t idx) {
  return c->kinds != NULL && c->k > 0 ? kind_name(c->kinds[idx / c->k]) : "-";
}

void note(int metric, const cctx *c, size_t idx, long double err, long double unit,
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
void gb_check(const gbuf *b, const cctx *c, const char *what) {
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
void gb_written(const gbuf *b, const cctx *c, const char *what) {
  for (size_t i = 0; i < b->len; i++)
    if (memcmp(b->data + i * b->esz, b->pat, b->esz) == 0)
      FAIL("%s %s isa=%s (%s): %s element %zu not written", c->kernel, dt_name(c->dt),
           isa_label(c->isa), c->where, what, i);
}

/* A guarded copy of len values of dt (doubles representable in dt). */
void *gb_from(gbuf *b, int dt, const double *v, size_t len, size_t off) {
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
void check_val(int metric, const cctx *c, int odt, size_t idx, double got, long double ref,
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
void check_pair(int metric, const cctx *c, size_t idx, double got, double want,
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


/* The active table when it is not an ISA's own (its matrix products come
   from CBLAS), else NULL. */
const struct smr_kernels *blas_table(void) {
  const struct smr_kernels *a = smr_kernels_active();
  return a != smr_kernels_for(smr_isa_active()) ? a : NULL;
}



/* With one OpenBLAS thread the BLAS table leaves narrow products (small k)
   to the active ISA's kernels (src/blas.c), which the ISA's own table
   already checks: ISA_BLAS runs with two threads, so every shape goes
   through the GEMM (threaded where OpenBLAS splits it). */
int blas_begin(int isa) {
  const int before = smr_blas_num_threads();
  if (isa == ISA_BLAS) smr_blas_set_num_threads(2);
  return before;
}

void blas_end(int isa, int before) {
  if (isa == ISA_BLAS) smr_blas_set_num_threads(before);
}

/* ======================================================================== */
/* Sizes and row kinds                                                       */
/* ======================================================================== */

/* 3 vectors + 1 of the widest ISA: 16 floats / 8 doubles per 512 bits. */
size_t small_max(int dt) { return dt == F32 ? 3 * 16 + 1 : 3 * 8 + 1; }

/* Powers of two and their neighbours above small_max, up to 4097. */
size_t pow2_list(int dt, size_t *out) {
  size_t n = 0;
  for (size_t p = 4; p <= 4096; p *= 2)
    for (size_t d = 0; d < 3; d++) {
      const size_t k = p - 1 + d;
      if (k > small_max(dt)) out[n++] = k;
    }
  return n;
}

size_t big_len(void) { return g_quick ? 100000 : 1000000; }

const size_t NLIST[NUM_NLIST] = {1, 2, 3, 7, 64};
const double SCALES[NUM_SCALES] = {1e-3, 1.0, 10.0, 100.0, 1e4};
const double TEMPS[NUM_TEMPS] = {1.0, 0.5, 3.7, 0.25, 0.01, 1000.0};


/* len random N(0,1) values; when `special` one of them becomes NaN, +inf or
   -inf. */
void rand_fill(int dt, double *v, size_t len, trng *r, bool special) {
  for (size_t i = 0; i < len; i++) v[i] = dt_round(dt, tr_normal(r));
  if (special && len > 0) {
    static const double sp[] = {NAN, INFINITY, -INFINITY};
    v[tr_below(r, len)] = sp[tr_below(r, 3)];
  }
}

/* Compares a float output array with references computed by the caller:
   ref[i], mag[i] (sum of |terms|), terms[i]. */
void check_la(int metric, const cctx *c, const double *got, const long double *ref,
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

/* Array lengths: 0, every small k, the powers of two and neighbours, 1e6. */
size_t len_list(int dt, size_t *out) {
  size_t n = 0;
  out[n++] = 0;
  for (size_t k = 1; k <= small_max(dt); k++) out[n++] = k;
  n += pow2_list(dt, out + n);
  out[n++] = big_len();
  return n;
}

/* ======================================================================== */
/* Tables and dispatch                                                       */
/* ======================================================================== */

#define ENTRY_NN(tbl, name) CHECK((tbl).name != NULL, "isa %s: %s missing", smr_isa_name((smr_isa)isa), #name)
#define ENTRIES_NN(tbl)                                                        \
  do {                                                                         \
    ENTRY_NN(tbl, softmax); ENTRY_NN(tbl, softmax_online);                     \
    ENTRY_NN(tbl, softmax_temperature); ENTRY_NN(tbl, log_softmax);            \
    ENTRY_NN(tbl, ce_logits); ENTRY_NN(tbl, ce_prob); ENTRY_NN(tbl, lse_chunk); \
    ENTRY_NN(tbl, lce_grad);                                                   \
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
  CHECK(smr_kernels_active() != NULL, "no active table");
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

TCase *checkasm_tcase(Suite *s, const char *name) {
  TCase *tc = tcase_create(name);
  tcase_set_timeout(tc, 600);
  tcase_add_checked_fixture(tc, start_clock, report);
  suite_add_tcase(s, tc);
  return tc;
}

static Suite *checkasm_suite(void) {
  Suite *s = suite_create("checkasm");
  TCase *tc = checkasm_tcase(s, "dispatch");
  tcase_add_test(tc, test_tables);
  tcase_add_test(tc, test_expect_isa);
  checkasm_rows(s);
  checkasm_products(s);
  checkasm_vector_ops(s);
  checkasm_stats(s);
  checkasm_api(s);
  checkasm_lse(s);
  return s;
}

int main(void) {
  smr_test_isa_guard();
  const char *seed = getenv("SMR_ISA_SEED");
  if (seed != NULL && seed[0] != '\0') {
    char *end;
    g_seed = strtoull(seed, &end, 0);
    if (*end != '\0') {
      fprintf(stderr, "checkasm: bad SMR_ISA_SEED '%s'\n", seed);
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
  printf("checkasm: seed %" PRIu64 " (replay with SMR_ISA_SEED=%" PRIu64 ")%s\n", g_seed, g_seed,
         g_quick ? ", quick" : "");
  if (g_verbose) {
    printf("checkasm: active %s; tables:", smr_isa_name(smr_isa_active()));
    FOR_EACH_TABLE(isa, t) {
      (void)t;
      printf(" %s", isa_label(isa));
    }
    printf("\n");
  }
  fflush(stdout);

  SRunner *sr = srunner_create(checkasm_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

