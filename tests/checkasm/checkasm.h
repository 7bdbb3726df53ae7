/*
 * checkasm.h - the cross-ISA kernel harness: what its check files share.
 *
 * One binary (test_checkasm) runs every entry of every available kernel
 * table (src/kernels.h), f32 and f64, on identical inputs, and compares each
 * result with the scalar table and with the one long-double reference
 * (ref.c), within the one tolerance table (TOL, checkasm.c, where the
 * bounds are derived). One check file per kernel family, as in src/simd/:
 *
 *   rows.c        softmax, softmax_online, softmax_temperature, log_softmax,
 *                 ce_logits (weights too), ce_prob, argmax_rows, all_finite
 *   products.c    linear_forward, xt_g, colsum (and CBLAS as one more table)
 *   vector_ops.c  axpy, sumsq, dot
 *   stats.c       col_mean_std, standardize
 *   lse.c         lse_chunk and lce_grad: the fused linear cross-entropy's
 *                 running log-sum-exp of class chunks and chunk gradient
 *   api.c         the public row kernels of smr.h on every ISA selected in
 *                 turn: the selected table's entry bit for bit (through the
 *                 row tasks, on one and two threads), the accuracy smr.h
 *                 and docs/ACCURACY.md promise, and checks with references
 *                 of their own (finite differences of the loss, p - onehot,
 *                 the seed's published values)
 *   checkasm.c    tolerances, buffers, comparisons, the random streams, the
 *                 tables' completeness, and main
 *
 * A seed is printed at start and appended to every failure; SMR_ISA_SEED=N
 * replays it (each test draws from its own stream, so CK_RUN_CASE replays a
 * single one). SMR_TEST_QUICK=1 shrinks the sweeps for emulated runs;
 * SMR_TEST_VERBOSE=1 prints the worst error of every check against its
 * bound. The contract tests of the public API (arguments, n = 0, statuses,
 * SMR_ISA, the seed's published values) are tests/test_kernels.c.
 */
#ifndef SMR_CHECKASM_H
#define SMR_CHECKASM_H

#include "blas.h"
#include "kernels.h"
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

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define NOINLINE
#define PRINTF_LIKE(f, a)
#endif

/* ------------------------------------------------------------------------ */
/* The tolerance table (checkasm.c)                                          */
/* ------------------------------------------------------------------------ */

enum { CL_SCALAR, CL_SIMD, NUM_CL };

typedef struct {
  double a, b, r;
} tolspec;

enum metric {
  M_SOFTMAX, M_ONLINE, M_TEMP, M_LOGSM, M_CE_GRAD, M_CE_LOSS, M_CE_PROB,
  M_LINEAR, M_XTG, M_COLSUM, M_AXPY, M_SUMSQ, M_DOT, M_MEAN, M_SD, M_STDZ,
  M_SUM1, M_GSUM0, M_LOGCONS, M_ONLINE2P, M_MONO, M_SHIFT, M_SHIFT_LOSS, M_LOSSONLY,
  /* the public entries (api.c) */
  M_API_ROW, M_API_LOSS, M_API_ONLINE2P, M_API_LOGCONS, M_API_PY, M_FDIFF,
  M_LSE, M_LCE_GRAD, NUM_METRICS
};

struct tolrow {
  const char *name; /* as printed */
  const char *unit; /* the unit of the verbose report */
  tolspec s32, v32, s64, v64; /* scalar f32, SIMD f32, scalar f64, SIMD f64 */
};
extern const struct tolrow TOL[NUM_METRICS];

enum { F32 = 0, F64 = 1, NUM_DT = 2 };

const tolspec *tol_of(int metric, int dt, int cls);

/* ------------------------------------------------------------------------ */
/* Configuration, failures, statistics                                       */
/* ------------------------------------------------------------------------ */

extern uint64_t g_seed;
extern bool g_quick, g_verbose;
extern const struct smr_kernels *g_sc; /* the scalar table */
extern const char *g_test;             /* name of the running test (verbose report) */

PRINTF_LIKE(3, 4)
_Noreturn void failf(const char *file, int line, const char *fmt, ...);
#define FAIL(...) failf(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) FAIL(__VA_ARGS__);                                            \
  } while (0)

/* The active table's CBLAS matrix products (src/blas.c) are checked as one
   more "ISA" after the real ones (FOR_EACH_TABLE below). */
#define ISA_BLAS SMR_ISA_COUNT
const char *isa_label(int isa);

/* The Check fixture of every test case: the clock, and the verbose report. */
void start_clock(void);
void report(void);

/* ------------------------------------------------------------------------ */
/* Dtypes                                                                    */
/* ------------------------------------------------------------------------ */

const char *dt_name(int dt);
size_t dt_size(int dt);
double dt_eps(int dt);
double dt_tiny(int dt);
double dt_max(int dt);
double dt_min_normal(int dt);
double dt_round(int dt, double x);            /* x rounded to the dtype */
long double ld_round(int dt, long double x);
double dt_div(int dt, double z, double t);    /* z / t divided in the dtype */
double get(int dt, const void *a, size_t i);
void put(int dt, void *a, size_t i, double v);
double ulp_t(int dt, long double x);          /* the spacing of dt at |x| */

enum { VC_NAN, VC_PINF, VC_NINF, VC_ZERO, VC_FIN };
int vclass(double v);

/* ------------------------------------------------------------------------ */
/* Random numbers (splitmix64, independent of the library's generator)      */
/* ------------------------------------------------------------------------ */

typedef struct {
  uint64_t s;
} trng;

uint64_t tr_next(trng *r);
trng tr_stream(uint64_t test_id, int dt); /* the stream of one test and dtype */
double tr_uniform(trng *r);
double tr_normal(trng *r);
size_t tr_below(trng *r, size_t bound);
void *xmalloc(size_t bytes);
/* len N(0,1) values rounded to dt; with `special`, one is NaN or +-inf. */
void rand_fill(int dt, double *v, size_t len, trng *r, bool special);

/* ------------------------------------------------------------------------ */
/* Guarded buffers and comparisons                                           */
/* ------------------------------------------------------------------------ */

#define GUARD_BYTES 64
#define MAX_HEAD (GUARD_BYTES + 3 * 8)
#define MAX_TAIL (GUARD_BYTES + 64)

typedef struct {
  unsigned char *mem, *data;
  size_t esz, len, head, total;
  unsigned char pat[8];          /* the NaN sentinel */
  unsigned char ghead[MAX_HEAD]; /* the guards as written */
  unsigned char gtail[MAX_TAIL];
} gbuf;

/* Context of a kernel call, for messages and statistics. */
typedef struct {
  int dt, isa, cls;
  const char *kernel;
  const char *where; /* the case */
  size_t k;          /* row length (row/column of an element index) */
  const unsigned char *kinds; /* kind of each row, or NULL */
} cctx;

void *gb_alloc(gbuf *b, size_t esz, size_t len, size_t off);
void gb_free(gbuf *b);
void gb_check(const gbuf *b, const cctx *c, const char *what);
void gb_written(const gbuf *b, const cctx *c, const char *what);
void *gb_from(gbuf *b, int dt, const double *v, size_t len, size_t off);

const char *row_kind(const cctx *c, size_t idx);
void note(int metric, const cctx *c, size_t idx, long double err, long double unit,
          long double tol);
void check_val(int metric, const cctx *c, int odt, size_t idx, double got, long double ref,
               long double tol, long double unit, int sc_class);
void check_pair(int metric, const cctx *c, size_t idx, double got, double want,
                long double tol, long double unit, const char *what);
void check_la(int metric, const cctx *c, const double *got, const long double *ref,
              const long double *mag, double terms, size_t len, unsigned char *scc);

/* ------------------------------------------------------------------------ */
/* ISAs                                                                      */
/* ------------------------------------------------------------------------ */

#define FOR_EACH_ISA(isa, t)                                                   \
  for (int isa = 0; isa < SMR_ISA_COUNT; isa++)                                \
    for (const struct smr_kernels *t = smr_kernels_for(isa); t != NULL; t = NULL)

const struct smr_kernels *blas_table(void);

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

int blas_begin(int isa);
void blas_end(int isa, int before);

/* ------------------------------------------------------------------------ */
/* Sizes                                                                     */
/* ------------------------------------------------------------------------ */

size_t small_max(int dt);               /* 3 vectors + 1 of the widest ISA */
size_t pow2_list(int dt, size_t *out);  /* powers of two and neighbours to 4097 */
size_t big_len(void);                   /* 1e6 (1e5 quick) */
size_t len_list(int dt, size_t *out);   /* 0, small, pow2_list, big_len */

#define NUM_NLIST 5
#define NUM_SCALES 5
#define NUM_TEMPS 6
extern const size_t NLIST[NUM_NLIST];
extern const double SCALES[NUM_SCALES];
extern const double TEMPS[NUM_TEMPS];

/* ------------------------------------------------------------------------ */
/* Row inputs and the long-double reference of the row kernels (ref.c)      */
/* ------------------------------------------------------------------------ */

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

const char *kind_name(int kind);
/* Every other row is normal (at the next scale); the rest cycle through the
   other kinds. */
#define NUM_SCHED 26
extern const unsigned char SCHED[NUM_SCHED];

void fill_normal(int dt, double *x, size_t k, double scale, trng *r);
double row_max(const double *x, size_t k);
/* One row of the given kind (values representable in dt). temp: the
   temperature the row will also be used with (K_HUGE aims at the z / temp
   overflow threshold). */
void gen_row(int dt, int kind, double *x, size_t k, double scale, double temp, trng *r);
int32_t pick_label(const double *x, size_t k, trng *r);

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

/* The reference of the n x k matrix z as the kernel sees it: z, or
   fl(z / temp) when scaled. */
void ref_build(refmat *R, int dt, const double *z, size_t n, size_t k, double temp, bool scaled,
               bool want_perm);
void ref_free(refmat *R);
long double ref_lp(const refmat *R, size_t i, size_t j);  /* log p_ij */
double ref_cond(const refmat *R, size_t i, size_t j);     /* |d_j| + Dbar of the row */
double rel_term(double coef, double eps, double v);
long double ref_loss_row(const refmat *R, size_t i, size_t y);
long double ref_grad(const refmat *R, size_t i, size_t j, size_t y, long double s);
/* The summed CE loss of the reference, and its bound with spec ts. */
long double ce_loss_ref(const refmat *R, const int32_t *labels, const tolspec *ts,
                        long double *tol, long double *unit);

/* ------------------------------------------------------------------------ */
/* Calling the row kernels (rows.c)                                          */
/* ------------------------------------------------------------------------ */

enum rop { OP_SOFTMAX, OP_ONLINE, OP_TEMP, OP_LOGSM, NUM_ROPS };
/* the fused CE's gradient: none, apart, g == z; G_OUT or G_INPLACE may be
   or-ed with G_NOLOSS: the public entry is called with loss = NULL (a table
   entry returns its loss anyway) */
enum gmode { G_NONE, G_OUT, G_INPLACE, G_NOLOSS = 4 };

/* Row op `op` of table t (t == NULL: the public function of smr.h, which
   must return SMR_OK) on the n x k matrix z into out (as doubles): input
   at in_off, output at out_off or in place; guards, sentinels and the
   input checked. am != NULL: argmax_rows of t on the output. */
void run_rop(const struct smr_kernels *t, const cctx *c, int op, const double *z, double *out,
             size_t n, size_t k, double temp, bool in_place, size_t in_off, size_t out_off,
             int32_t *am);
/* The fused CE entry of table t (the sum of the rows' losses; t == NULL:
   the mean from smr_cross_entropy_logits, NaN with G_NOLOSS, `scale` then
   unused) with the gradient scale `scale` in mode gm; the gradient (unless
   G_NONE) into grad as doubles; guards, sentinels and the inputs checked. */
double run_ce(const struct smr_kernels *t, const cctx *c, const double *z, const int32_t *labels,
              size_t n, size_t k, double scale, int gm, double *grad, size_t in_off,
              size_t out_off);

/* ------------------------------------------------------------------------ */
/* The check files' tests                                                    */
/* ------------------------------------------------------------------------ */

/* A test case of the harness (fixture: start_clock, report). */
TCase *checkasm_tcase(Suite *s, const char *name);
#define DT_LOOP(tc, fn) tcase_add_loop_test(tc, fn, F32, NUM_DT)

void checkasm_rows(Suite *s);
void checkasm_products(Suite *s);
void checkasm_vector_ops(Suite *s);
void checkasm_stats(Suite *s);
void checkasm_api(Suite *s);
void checkasm_lse(Suite *s);

#endif
