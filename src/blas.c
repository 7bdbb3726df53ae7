/*
 * blas.c - linear_forward and xt_g through CBLAS (OpenBLAS), when the build
 * has it (meson option blas; SMR_HAVE_BLAS). Both are one GEMM:
 *   linear_forward  Z = X W + b: every row of Z set to b, then
 *                   Z = 1 * X W + 1 * Z (cblas ?gemm, no transposes). That
 *                   beats beta = 0 followed by a pass adding b (OpenBLAS
 *                   applies a beta != 1 to C in a pass of its own: three
 *                   passes over Z instead of two).
 *   xt_g            dW = X^T G + beta dW, TransA, beta = accumulate ? 1 : 0
 *                   (beta = 0 never reads dW, so NaN there does not leak).
 * GEMM sums the depth (d, n) in its own order: the results are within the
 * recursive-summation bound tests/checkasm checks, not bit-identical to
 * the built-in kernels. n = 0 never reaches the BLAS. CBLAS takes int
 * sizes: more than INT_MAX rows go in slices. Three cases go to the active
 * ISA's own kernel instead: n = 0 in xt_g (it clears dW unless
 * accumulating), d or k beyond INT_MAX (a W of 8 GiB and more), and the
 * shapes where the ISA's kernels are faster (narrow k, or a W that fits L2:
 * see smr_blas_builtin below).
 *
 * Threads. OpenBLAS (libopenblas0-pthread) starts one thread per core and
 * would use them all in every product, from every thread that calls the
 * library, on top of smr's own pool. So it gets smr's thread count
 * (smr_set_num_threads, else SMR_NUM_THREADS, else OPENBLAS_NUM_THREADS,
 * else 1), which dispatch.c chooses when it builds the kernel tables
 * (smr_blas_init, once per process). It is handed to OpenBLAS (openblas_set_num_threads) just before the first
 * product that reaches it, not at once: in a forked child OpenBLAS rebuilds
 * its thread pool on that call, which a process that never needs OpenBLAS
 * (only narrow products) should not pay for (under qemu-user each new
 * thread even prints the emulator's CPU warnings to stderr). The setting
 * is process-wide: a program that also calls OpenBLAS itself sees it too.
 * smr_blas_set_num_threads (from smr_set_num_threads) changes it later.
 */
#include "blas.h"
#include "internal.h"
#include "kernels.h"
#include "smr_config.h"

#include <stdbool.h>
#include <stddef.h>

#if SMR_HAVE_BLAS

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Which products stay with the ISA's own blocked kernels
   (src/kernels_simd.h), which run on smr's threads themselves
   (linear_forward in row tasks, xt_g in tasks over ranges of d or k: every
   element's chain of fused multiply-adds is the single call's, so the
   result is the same bit for bit on any thread count):
     - narrow products, k <= BUILTIN_MAX_K: OpenBLAS's kernels are built for
       wide matrices (about half the speed at k = 10);
     - W (d x k) of at most BUILTIN_MAX_W_BYTES: the built-in forward packs
       W's panels again for every block of rows, which costs nothing while
       W stays in L2 (1 MiB per core on Zen 4) and a trip to L3 beyond;
       past it OpenBLAS, which packs both operands, wins.
   So the choice depends on the shape alone, never on the thread count.
   The measurements: docs/BENCHMARKS.md, "The tuning constants". */
#define BUILTIN_MAX_K 64
#define BUILTIN_MAX_W_BYTES ((size_t)1 << 20)

/* Also d or k beyond CBLAS's int (a W of 8 GiB and more). */
bool smr_blas_builtin(size_t d, size_t k, size_t esize) {
  return k <= BUILTIN_MAX_K || d <= BUILTIN_MAX_W_BYTES / esize / k || d > INT_MAX || k > INT_MAX;
}

/* The chosen thread count, 0 for OpenBLAS's own (see the top). */
static atomic_int wanted_threads = 0;
static pthread_once_t handed_once = PTHREAD_ONCE_INIT;

static void hand_threads(void) {
  const int n = atomic_load_explicit(&wanted_threads, memory_order_relaxed);
  if (n > 0) smr_blas_set_num_threads(n);
}

/* Before a product reaches the BLAS: it runs on the chosen threads. */
static void blas_ready(void) { (void)pthread_once(&handed_once, hand_threads); }

#define T float
#define SFX f32
#define GEMM cblas_sgemm
#include "blas_tmpl.h"
#undef T
#undef SFX
#undef GEMM

#define T double
#define SFX f64
#define GEMM cblas_dgemm
#include "blas_tmpl.h"
#undef T
#undef SFX
#undef GEMM

/* Each ISA's BLAS table gets entries bound to that ISA's own table (its
   fallback for the shapes smr_blas_builtin keeps): one wrapper per ISA
   slot, since a table entry is a plain function pointer. Written once by
   dispatch's init, read-only afterwards. */
static const struct smr_kernels *own_tables[SMR_ISA_COUNT];

#define BLAS_ENTRIES(I)                                                                  \
  static void fwd_f32_##I(const float *X, const float *W, const float *b, float *Z,      \
                          size_t n, size_t d, size_t k) {                                 \
    blas_linear_forward_f32(&own_tables[I]->f32, X, W, b, Z, n, d, k);                   \
  }                                                                                       \
  static void fwd_f64_##I(const double *X, const double *W, const double *b, double *Z,  \
                          size_t n, size_t d, size_t k) {                                 \
    blas_linear_forward_f64(&own_tables[I]->f64, X, W, b, Z, n, d, k);                   \
  }                                                                                       \
  static void xtg_f32_##I(const float *X, const float *G, float *dW, size_t n, size_t d, \
                          size_t k, bool acc) {                                           \
    blas_xt_g_f32(&own_tables[I]->f32, X, G, dW, n, d, k, acc);                          \
  }                                                                                       \
  static void xtg_f64_##I(const double *X, const double *G, double *dW, size_t n,        \
                          size_t d, size_t k, bool acc) {                                 \
    blas_xt_g_f64(&own_tables[I]->f64, X, G, dW, n, d, k, acc);                          \
  }
BLAS_ENTRIES(0)
BLAS_ENTRIES(1)
BLAS_ENTRIES(2)
BLAS_ENTRIES(3)
#undef BLAS_ENTRIES
_Static_assert(SMR_ISA_COUNT == 4, "one BLAS_ENTRIES line per ISA slot");

#define BLAS_SLOT(I) {fwd_f32_##I, xtg_f32_##I, fwd_f64_##I, xtg_f64_##I}
static const struct {
  void (*fwd32)(const float *, const float *, const float *, float *, size_t, size_t, size_t);
  void (*xtg32)(const float *, const float *, float *, size_t, size_t, size_t, bool);
  void (*fwd64)(const double *, const double *, const double *, double *, size_t, size_t,
                size_t);
  void (*xtg64)(const double *, const double *, double *, size_t, size_t, size_t, bool);
} slots[SMR_ISA_COUNT] = {BLAS_SLOT(0), BLAS_SLOT(1), BLAS_SLOT(2), BLAS_SLOT(3)};
#undef BLAS_SLOT

void smr_blas_install(struct smr_kernels *t, int isa, const struct smr_kernels *own) {
  own_tables[isa] = own;
  t->f32.linear_forward = slots[isa].fwd32;
  t->f32.xt_g = slots[isa].xtg32;
  t->f64.linear_forward = slots[isa].fwd64;
  t->f64.xt_g = slots[isa].xtg64;
}

void smr_blas_init(int threads) {
  atomic_store_explicit(&wanted_threads, threads < 1 ? 0 : threads, memory_order_relaxed);
}

#if SMR_HAVE_OPENBLAS

void smr_blas_set_num_threads(int n) {
  atomic_store_explicit(&wanted_threads, n < 1 ? 0 : n, memory_order_relaxed);
  openblas_set_num_threads(n < 1 ? 0 : n);
}

int smr_blas_num_threads(void) {
  const int n = atomic_load_explicit(&wanted_threads, memory_order_relaxed);
  return n > 0 ? n : openblas_get_num_threads();
}

const char *smr_blas_name(void) {
  static _Thread_local char buf[160];
  /* openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen
     MAX_THREADS=64"; its first two words are the name and version */
  const char *cfg = openblas_get_config();
  int len = 0;
  for (int words = 0; cfg[len] != '\0'; len++)
    if (cfg[len] == ' ' && ++words == 2) break;
  static const char *const modes[] = {"sequential", "pthread", "OpenMP"};
  const int mode = openblas_get_parallel();
  const int threads = smr_blas_num_threads();
  snprintf(buf, sizeof buf, "%.*s (%s, %d thread%s, core %s)", len, cfg,
           mode >= 0 && mode <= 2 ? modes[mode] : "unknown threading", threads,
           threads == 1 ? "" : "s", openblas_get_corename());
  return buf;
}

#else /* another CBLAS: no portable way to ask or set */

void smr_blas_set_num_threads(int n) { (void)n; }

int smr_blas_num_threads(void) { return 1; }

const char *smr_blas_name(void) { return "CBLAS (not OpenBLAS: implementation unknown)"; }

#endif

#else /* no BLAS: the ISA's blocked kernels (src/kernels_simd.h) stay */

bool smr_blas_builtin(size_t d, size_t k, size_t esize) {
  (void)d, (void)k, (void)esize;
  return true;
}

void smr_blas_install(struct smr_kernels *t, int isa, const struct smr_kernels *own) {
  (void)t, (void)isa, (void)own;
}

void smr_blas_init(int threads) { (void)threads; }

void smr_blas_set_num_threads(int n) { (void)n; }

int smr_blas_num_threads(void) { return 1; }

const char *smr_blas_name(void) { return "none (built-in blocked GEMM)"; }

#endif
