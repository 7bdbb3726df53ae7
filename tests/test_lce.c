/*
 * test_lce.c - smr_linear_cross_entropy (the fused linear cross-entropy of
 * smr.h) against a plain long-double implementation written here from the
 * definition: the logits X W + b formed in full, the extended softmax of
 * smr.h's rules, the loss as sum_j t_j (lse - z_j) with the smoothed target
 * t, and the gradients as explicit products of dZ = w (p (1 + 2 z_loss lse)
 * - t). Every available ISA (smr_isa_select) and 1, 2, 3 threads, whose
 * results must be the same bits as one thread's. Shapes: K in {1, 2, 3,
 * 17, 1000, 70001}, class_chunk in {1, 7, K, K + 5, automatic}, n in {1, 5,
 * 300}, d in {1, 3, 64}, with and without b. Also: ignored rows (and all
 * rows ignored), label smoothing, z-loss, the sum reduction, gradients
 * left NULL, central differences of the loss in f64, NaN and +inf in the
 * inputs, the argument checks, n = 0. smr_linear_topk against a sort of
 * the dense logits (ties included), k_top in {1, 5, K}.
 *
 * Tolerance: the reference is exact to far below the dtype; the result is
 * allowed 4x the first-order error of its computation in the dtype:
 * logits (d + 2) eps sum_k |X_ik W_kj| + |b_j| eps; lse the p-weighted
 * logit error plus 16 eps (1 + |lse|) (exps in the dtype) and K eps64 (the
 * sums in double); the gradients the propagated errors of p and the
 * recursive-summation bound of their products (terms + 2) eps sum |terms|.
 */
#include "check_util.h"
#include "isa_guard.h"
#include "smr.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const smr_dtype DTS[2] = {SMR_F32, SMR_F64};
static bool g_quick; /* SMR_TEST_QUICK (emulated CPUs): fewer shapes and chunks */

static uint64_t g_rng = 12345;
static double urand(void) {
  g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(g_rng >> 11) * 0x1p-53;
}
static double nrand(void) {
  const double u = 1.0 - urand(), v = urand();
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ------------------------------------------------------------------------ */
/* The long-double reference                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
  long double loss, tol_loss;
  long double *lse, *tol_lse;      /* n */
  long double *dX, *tol_dX;        /* n x d */
  long double *dW, *tol_dW;        /* d x K */
  long double *db, *tol_db;        /* K */
} lref;

static void lref_free(lref *r) {
  free(r->lse);
  free(r->tol_lse);
  free(r->dX);
  free(r->tol_dX);
  free(r->dW);
  free(r->tol_dW);
  free(r->db);
  free(r->tol_db);
}

/* X, W, b as doubles (values of the dtype). */
static void reference(const double *X, const double *W, const double *b, size_t n, size_t d,
                      size_t K, const int32_t *y, const smr_lce_options *o, double eps, lref *r) {
  r->lse = xmalloc(n * sizeof(long double));
  r->tol_lse = xmalloc(n * sizeof(long double));
  r->dX = calloc(n * d + 1, sizeof(long double));
  r->tol_dX = calloc(n * d + 1, sizeof(long double));
  r->dW = calloc(d * K + 1, sizeof(long double));
  r->tol_dW = calloc(d * K + 1, sizeof(long double));
  r->db = calloc(K + 1, sizeof(long double));
  r->tol_db = calloc(K + 1, sizeof(long double));
  long double *z = xmalloc(K * sizeof *z), *zerr = xmalloc(K * sizeof *zerr);
  long double *g = xmalloc(K * sizeof *g), *gerr = xmalloc(K * sizeof *gerr);
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += y[i] != o->ignore_index;
  const long double e = o->label_smoothing, lam = o->z_loss;
  long double total = 0, total_tol = 0;
  for (size_t i = 0; i < n; i++) {
    bool nan = false;
    size_t pinf = 0;
    long double m = -INFINITY, zmax = 0;
    for (size_t j = 0; j < K; j++) {
      long double acc = b != NULL ? (long double)b[j] : 0.0L, mag = b != NULL ? fabsl(b[j]) : 0;
      for (size_t k = 0; k < d; k++) {
        acc += (long double)X[i * d + k] * W[k * K + j];
        mag += fabsl((long double)X[i * d + k] * W[k * K + j]);
      }
      z[j] = acc;
      zerr[j] = isfinite(acc) ? (long double)(d + 2) * eps * mag : 0; /* inf, NaN: by the rules */
      if (isnan(acc)) nan = true;
      else if (acc == INFINITY) pinf++;
      else if (acc > m) m = acc;
      if (isfinite(mag) && mag > zmax) zmax = mag;
    }
    long double lse, S = 0;
    if (nan || (pinf == 0 && m == -INFINITY)) {
      lse = NAN;
    } else if (pinf > 0) {
      lse = INFINITY;
    } else {
      for (size_t j = 0; j < K; j++) S += expl(z[j] - m);
      lse = m + logl(S);
    }
    r->lse[i] = lse;
    long double perr = 0; /* sum_j p_j zerr_j */
    for (size_t j = 0; isfinite(lse) && j < K; j++) perr += expl(z[j] - lse) * zerr[j];
    /* a NaN or infinite lse is fixed by the rules: exact */
    r->tol_lse[i] = isfinite(lse) ? 4 * (perr + 16 * eps * (1 + fabsl(lse)) + (long double)K * DBL_EPSILON) : 0;
    if (y[i] == o->ignore_index) continue;
    const size_t yi = (size_t)y[i];
    /* loss: sum_j t_j (lse - z_j) = sum_j t_j (-log p_j), + z_loss lse^2 */
    long double li = 0, lt = r->tol_lse[i];
    for (size_t j = 0; j < K; j++) {
      const long double t = (j == yi ? 1 - e : 0) + e / (long double)K;
      if (t == 0) continue;
      long double nlp; /* -log p_j */
      if (isnan(lse)) nlp = NAN;
      else if (lse == INFINITY) nlp = z[j] == INFINITY ? logl((long double)pinf) : INFINITY;
      else nlp = lse - z[j];
      li += t * nlp;
      lt += t * 4 * zerr[j];
    }
    if (lam > 0) li += lam * lse * lse, lt += 2 * lam * fabsl(lse) * r->tol_lse[i];
    total += li;
    total_tol += lt + 4 * (long double)(n + 2) * DBL_EPSILON * fabsl(li);
    /* dZ = w (p (1 + 2 lam lse) - t) */
    const long double w = o->reduction == SMR_REDUCE_MEAN ? 1.0L / (long double)count : 1.0L;
    for (size_t j = 0; j < K; j++) {
      long double p;
      if (isnan(lse)) p = NAN;
      else if (lse == INFINITY) p = z[j] == INFINITY ? 1.0L / (long double)pinf : 0;
      else p = expl(z[j] - lse);
      const long double t = (j == yi ? 1 - e : 0) + e / (long double)K;
      const long double f = lam > 0 ? 1 + 2 * lam * lse : 1;
      g[j] = w * (lam > 0 ? p * f - t : p - t);
      gerr[j] = isfinite(lse) ? w * (fabsl(p * f) * (zerr[j] + r->tol_lse[i] / 4) +
                                     2 * eps * fabsl(p * f - t) + 2 * eps * e)
                              : 2 * eps * fabsl(w * (p * f - t)); /* p exact: 1/count or 0 */
    }
    for (size_t j = 0; j < K; j++) {
      r->db[j] += g[j];
      r->tol_db[j] += 4 * (gerr[j] + (long double)(n + 2) * eps * fabsl(g[j]));
      for (size_t k = 0; k < d; k++) {
        const long double xv = X[i * d + k], wv = W[k * K + j];
        r->dW[k * K + j] += xv * g[j];
        r->tol_dW[k * K + j] += 4 * (fabsl(xv) * gerr[j] + (long double)(n + 2) * eps * fabsl(xv * g[j]));
        r->dX[i * d + k] += g[j] * wv;
        r->tol_dX[i * d + k] += 4 * (gerr[j] * fabsl(wv) + (long double)(K + 2) * eps * fabsl(g[j] * wv));
      }
    }
  }
  r->loss = count == 0 ? 0 : o->reduction == SMR_REDUCE_MEAN ? total / (long double)count : total;
  r->tol_loss = count == 0 ? 0 : o->reduction == SMR_REDUCE_MEAN ? total_tol / (long double)count : total_tol;
  free(z);
  free(zerr);
  free(g);
  free(gerr);
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
  double loss;
  void *dX, *dW, *db, *lse; /* of the dtype, or NULL when not asked for */
} lout;

static void lout_free(lout *o) {
  free(o->dX);
  free(o->dW);
  free(o->db);
  free(o->lse);
}

/* One call; which gradients: bit 0 dX, 1 dW, 2 db, 3 lse. */
static smr_status call_lce(smr_dtype dt, const void *X, size_t n, size_t d, const void *W,
                           const void *b, size_t K, const int32_t *y, const smr_lce_options *o,
                           int which, lout *out) {
  const size_t es = esize(dt);
  memset(out, 0, sizeof *out);
  out->loss = -7.0;
  if (which & 1) out->dX = xmalloc(n * d * es + 1);
  if (which & 2) out->dW = xmalloc(d * K * es);
  if (which & 4) out->db = xmalloc(K * es);
  if (which & 8) out->lse = xmalloc(n * es + 1);
  if (dt == SMR_F32)
    return smr_linear_cross_entropy_f32(X, n, d, W, b, K, y, o, &out->loss, out->dX, out->dW,
                                        out->db, out->lse);
  return smr_linear_cross_entropy_f64(X, n, d, W, b, K, y, o, &out->loss, out->dX, out->dW,
                                      out->db, out->lse);
}

static void expect_near(const char *what, size_t idx, double got, long double ref, long double tol,
                        const char *ctx) {
  bool ok;
  if (isnan(ref)) ok = isnan(got);
  else if (isinf(ref)) ok = (long double)got == ref;
  else ok = !isnan(got) && fabsl((long double)got - ref) <= tol;
  /* ck_abort_msg only on failure: every ck_assert call writes to Check's
     pipe, which for every element of dW costs more than the test */
  if (!ok)
    ck_abort_msg("%s: %s[%zu] = %.17g, reference %.17Lg (bound %.3Lg)", ctx, what, idx, got, ref,
                 tol);
}

static void check_against(smr_dtype dt, const lout *got, const lref *r, size_t n, size_t d,
                          size_t K, const char *ctx) {
  expect_near("loss", 0, got->loss, r->loss, r->tol_loss, ctx);
  if (got->lse != NULL)
    for (size_t i = 0; i < n; i++)
      expect_near("lse", i, get_at(dt, got->lse, i), r->lse[i], r->tol_lse[i], ctx);
  if (got->dX != NULL)
    for (size_t i = 0; i < n * d; i++)
      expect_near("dX", i, get_at(dt, got->dX, i), r->dX[i], r->tol_dX[i], ctx);
  if (got->dW != NULL)
    for (size_t i = 0; i < d * K; i++)
      expect_near("dW", i, get_at(dt, got->dW, i), r->dW[i], r->tol_dW[i], ctx);
  if (got->db != NULL)
    for (size_t i = 0; i < K; i++)
      expect_near("db", i, get_at(dt, got->db, i), r->db[i], r->tol_db[i], ctx);
}

static void expect_same(const lout *a, const lout *b, size_t n, size_t d, size_t K, size_t es,
                        const char *ctx) {
  ck_assert_msg(memcmp(&a->loss, &b->loss, sizeof a->loss) == 0, "%s: loss %.17g vs %.17g", ctx,
                a->loss, b->loss);
  if (a->dX != NULL) ck_assert_msg(memcmp(a->dX, b->dX, n * d * es) == 0, "%s: dX differs", ctx);
  if (a->dW != NULL) ck_assert_msg(memcmp(a->dW, b->dW, d * K * es) == 0, "%s: dW differs", ctx);
  if (a->db != NULL) ck_assert_msg(memcmp(a->db, b->db, K * es) == 0, "%s: db differs", ctx);
  if (a->lse != NULL) ck_assert_msg(memcmp(a->lse, b->lse, n * es) == 0, "%s: lse differs", ctx);
}

typedef struct {
  size_t n, d, K;
  double *X, *W, *b; /* doubles of the dtype's values; b may be NULL */
  void *Xt, *Wt, *bt; /* in the dtype */
  int32_t *y;
} problem;

static void problem_make(problem *p, size_t n, size_t d, size_t K, bool with_b) {
  p->n = n, p->d = d, p->K = K;
  p->X = xmalloc(n * d * sizeof(double) + 8);
  p->W = xmalloc(d * K * sizeof(double));
  p->b = with_b ? xmalloc(K * sizeof(double)) : NULL;
  p->y = xmalloc(n * sizeof(int32_t) + 4);
  const double sc = 2.0 / sqrt((double)d);
  for (size_t i = 0; i < n * d; i++) p->X[i] = nrand();
  for (size_t i = 0; i < d * K; i++) p->W[i] = sc * nrand();
  for (size_t j = 0; with_b && j < K; j++) p->b[j] = 0.5 * nrand();
  for (size_t i = 0; i < n; i++) p->y[i] = (int32_t)(urand() * (double)K);
  p->Xt = p->Wt = p->bt = NULL;
}

/* Round the doubles to the dtype and make its buffers (after edits). */
static void problem_sync(problem *p, smr_dtype dt) {
  const size_t es = esize(dt);
  free(p->Xt), free(p->Wt), free(p->bt);
  p->Xt = xmalloc(p->n * p->d * es + 8);
  p->Wt = xmalloc(p->d * p->K * es);
  p->bt = p->b != NULL ? xmalloc(p->K * es) : NULL;
  for (size_t i = 0; i < p->n * p->d; i++) set_at(dt, p->Xt, i, p->X[i]), p->X[i] = get_at(dt, p->Xt, i);
  for (size_t i = 0; i < p->d * p->K; i++) set_at(dt, p->Wt, i, p->W[i]), p->W[i] = get_at(dt, p->Wt, i);
  for (size_t j = 0; p->b != NULL && j < p->K; j++) set_at(dt, p->bt, j, p->b[j]), p->b[j] = get_at(dt, p->bt, j);
}

static void problem_free(problem *p) {
  free(p->X), free(p->W), free(p->b), free(p->y);
  free(p->Xt), free(p->Wt), free(p->bt);
}

/* Every ISA within the bound of the reference; with `threads`, also on 2
   and 3 threads, bit-identical to one thread on that ISA (the thread count
   changes outermost: each change restarts the pool). */
static void run_isas(smr_dtype dt, const problem *p, const smr_lce_options *o, int which,
                     const char *what, bool threads) {
  lref r;
  memset(&r, 0, sizeof r);
  reference(p->X, p->W, p->b, p->n, p->d, p->K, p->y, o, dt == SMR_F32 ? FLT_EPSILON : DBL_EPSILON,
            &r);
  const smr_isa saved = smr_isa_active();
  const int threads0 = smr_num_threads();
  lout one[SMR_ISA_COUNT];
  memset(one, 0, sizeof one);
  for (int th = 1; th <= (threads ? 3 : 1); th++) {
    ck_assert_int_eq(smr_set_num_threads(th), SMR_OK);
    for (int isa = 0; isa < SMR_ISA_COUNT; isa++) {
      if (smr_isa_select((smr_isa)isa) != SMR_OK) continue;
      char ctx[200];
      snprintf(ctx, sizeof ctx, "%s %s isa=%s threads=%d n=%zu d=%zu K=%zu chunk=%zu b=%d", what,
               dt == SMR_F32 ? "f32" : "f64", smr_isa_name((smr_isa)isa), th, p->n, p->d, p->K,
               o->class_chunk, p->b != NULL);
      lout got;
      ck_assert_int_eq(call_lce(dt, p->Xt, p->n, p->d, p->Wt, p->bt, p->K, p->y, o, which, &got),
                       SMR_OK);
      if (th == 1) {
        check_against(dt, &got, &r, p->n, p->d, p->K, ctx);
        one[isa] = got;
      } else {
        expect_same(&one[isa], &got, p->n, p->d, p->K, esize(dt), ctx);
        lout_free(&got);
      }
    }
  }
  for (int isa = 0; isa < SMR_ISA_COUNT; isa++) lout_free(&one[isa]);
  ck_assert_int_eq(smr_isa_select(saved), SMR_OK);
  ck_assert_int_eq(smr_set_num_threads(threads0), SMR_OK);
  lref_free(&r);
}

static void run_all(smr_dtype dt, const problem *p, const smr_lce_options *o, int which,
                    const char *what) {
  run_isas(dt, p, o, which, what, true);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static const size_t SHAPES[][3] = {/* K, n, d */
                                   {1, 5, 3},    {2, 1, 1},   {3, 300, 3}, {17, 5, 64},
                                   {17, 300, 1}, {1000, 5, 3}, {1000, 1, 64}, {70001, 1, 3},
                                   {4000, 40, 8} /* 160000 logits: several row tasks */};
#define NUM_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Every shape with class_chunk 1, 7, K, K + 5 and automatic, with and
   without b (chunk 1 only up to K = 1000); 2 and 3 threads with the
   automatic chunk. */
START_TEST(test_shapes) {
  const smr_dtype dt = DTS[_i % 2];
  const size_t s = (size_t)_i / 2;
  const size_t K = SHAPES[s][0], n = SHAPES[s][1], d = SHAPES[s][2];
  const size_t chunks[] = {1, 7, K, K + 5, 0};
  if (g_quick && (K > 1000 || n * d * K > 20000)) return;
  for (int with_b = 0; with_b < 2; with_b++) {
    problem p;
    g_rng = 1000 + (uint64_t)_i * 2 + (uint64_t)with_b;
    problem_make(&p, n, d, K, with_b);
    problem_sync(&p, dt);
    for (size_t c = 0; c < 5; c++) {
      if (chunks[c] == 1 && K > 1000) continue;
      if (g_quick && (c == 0 || c == 3)) continue;
      smr_lce_options o = smr_lce_options_default();
      o.class_chunk = chunks[c];
      run_isas(dt, &p, &o, 15, "shape", chunks[c] == 0);
    }
    problem_free(&p);
  }
}
END_TEST

/* ignore_index (some rows, every row), smoothing, z-loss, the sum, some
   gradients NULL; a class_chunk of 7 and 64. */
START_TEST(test_options) {
  const smr_dtype dt = DTS[_i];
  problem p;
  g_rng = 77 + (uint64_t)_i;
  problem_make(&p, 40, 5, 300, true);
  problem_sync(&p, dt);
  for (size_t i = 0; i < p.n; i += 3) p.y[i] = -100;
  for (size_t c = 0; c < 2; c++) {
    smr_lce_options o = smr_lce_options_default();
    o.class_chunk = c ? 64 : 7;
    run_all(dt, &p, &o, 15, "ignored rows");
    o.label_smoothing = 0.1;
    run_all(dt, &p, &o, 15, "smoothing");
    o.z_loss = 1e-3;
    run_all(dt, &p, &o, 15, "smoothing + z-loss");
    o.reduction = SMR_REDUCE_SUM;
    run_all(dt, &p, &o, 15, "sum");
    o = smr_lce_options_default();
    o.ignore_index = 7; /* a class index: its rows are ignored */
    for (size_t i = 0; i < p.n; i += 3) p.y[i] = 7;
    run_all(dt, &p, &o, 3, "dX and dW only");
    run_all(dt, &p, &o, 4, "db only");
    run_all(dt, &p, &o, 8, "loss and lse only");
    for (size_t i = 0; i < p.n; i += 3) p.y[i] = -100;
  }
  /* every row ignored: loss 0, zero gradients */
  for (size_t i = 0; i < p.n; i++) p.y[i] = -100;
  smr_lce_options o = smr_lce_options_default();
  lout out;
  ck_assert_int_eq(call_lce(dt, p.Xt, p.n, p.d, p.Wt, p.bt, p.K, p.y, &o, 7, &out), SMR_OK);
  ck_assert(out.loss == 0.0);
  for (size_t i = 0; i < p.n * p.d; i++) ck_assert(get_at(dt, out.dX, i) == 0.0);
  for (size_t i = 0; i < p.d * p.K; i++) ck_assert(get_at(dt, out.dW, i) == 0.0);
  for (size_t i = 0; i < p.K; i++) ck_assert(get_at(dt, out.db, i) == 0.0);
  lout_free(&out);
  problem_free(&p);
}
END_TEST

/* f64: central differences of the loss against dX, dW and db. */
START_TEST(test_finite_differences) {
  problem p;
  g_rng = 4242;
  problem_make(&p, 4, 3, 11, true);
  problem_sync(&p, SMR_F64);
  smr_lce_options o = smr_lce_options_default();
  o.class_chunk = 4;
  o.label_smoothing = 0.05;
  o.z_loss = 0.01;
  lout g;
  ck_assert_int_eq(call_lce(SMR_F64, p.Xt, p.n, p.d, p.Wt, p.bt, p.K, p.y, &o, 7, &g), SMR_OK);
  const double h = 1e-6;
  double *arrays[3] = {p.Xt, p.Wt, p.bt};
  const void *grads[3] = {g.dX, g.dW, g.db};
  const size_t lens[3] = {p.n * p.d, p.d * p.K, p.K};
  for (int a = 0; a < 3; a++)
    for (size_t i = 0; i < lens[a]; i++) {
      const double keep = arrays[a][i];
      lout lp, lm;
      arrays[a][i] = keep + h;
      ck_assert_int_eq(call_lce(SMR_F64, p.Xt, p.n, p.d, p.Wt, p.bt, p.K, p.y, &o, 0, &lp), SMR_OK);
      arrays[a][i] = keep - h;
      ck_assert_int_eq(call_lce(SMR_F64, p.Xt, p.n, p.d, p.Wt, p.bt, p.K, p.y, &o, 0, &lm), SMR_OK);
      arrays[a][i] = keep;
      const double fd = (lp.loss - lm.loss) / (2 * h), an = ((const double *)grads[a])[i];
      ck_assert_msg(fabs(fd - an) <= 1e-7 * (1 + fabs(an)), "array %d [%zu]: difference %.12g, gradient %.12g", a, i, fd, an);
    }
  lout_free(&g);
  problem_free(&p);
}
END_TEST

/* NaN in X (that row's loss, lse and dX row NaN; the mean NaN), +inf in b
   (every row's lse +inf; a row labelled there costs log 1 = 0, others
   +inf): as the reference's extended softmax says. */
START_TEST(test_special_values) {
  const smr_dtype dt = DTS[_i];
  problem p;
  g_rng = 99 + (uint64_t)_i;
  problem_make(&p, 6, 3, 20, true);
  p.X[1 * 3 + 2] = NAN;
  problem_sync(&p, dt);
  smr_lce_options o = smr_lce_options_default();
  o.class_chunk = 6;
  run_all(dt, &p, &o, 15, "NaN in X");
  p.X[1 * 3 + 2] = 0.5;
  p.b[4] = INFINITY;
  p.y[0] = 4;
  problem_sync(&p, dt);
  o.ignore_index = 2; /* keep the sum finite where it can be: only the label-4 row */
  for (size_t i = 1; i < p.n; i++) p.y[i] = 2;
  run_all(dt, &p, &o, 15, "+inf in b");
  problem_free(&p);
}
END_TEST

/* The argument checks; nothing written on error; n = 0. */
START_TEST(test_arguments) {
  float X[6] = {1, 2, 3, 4, 5, 6}, W[6] = {1, 0, 0, 1, 1, 1}, b[3] = {0}, dW[6], db[3];
  int32_t y[2] = {0, 2}, bad[2] = {0, 3};
  double loss = -1;
  smr_lce_options o = smr_lce_options_default();
  ck_assert_int_eq(o.ignore_index, -100);
  ck_assert(o.class_chunk == 0 && o.label_smoothing == 0 && o.z_loss == 0 &&
            o.reduction == SMR_REDUCE_MEAN);
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 3, y, NULL, NULL, NULL, NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 0, W, b, 3, y, NULL, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 0, y, NULL, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_cross_entropy_f32(NULL, 2, 2, W, b, 3, y, NULL, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, NULL, b, 3, y, NULL, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 3, NULL, NULL, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  o.label_smoothing = 1.0;
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 3, y, &o, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  o.label_smoothing = NAN;
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 3, y, &o, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  o = smr_lce_options_default();
  o.z_loss = -1e-3;
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 3, y, &o, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  o.z_loss = INFINITY;
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 3, y, &o, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  o = smr_lce_options_default();
  o.reduction = (smr_reduction)7;
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 3, y, &o, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  for (int i = 0; i < 6; i++) dW[i] = 42;
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, 3, bad, NULL, &loss, NULL, dW, NULL, NULL), SMR_ERANGE);
  ck_assert(loss == -1 && dW[0] == 42 && dW[5] == 42); /* nothing written */
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, 2, 2, W, b, (size_t)INT32_MAX + 1, y, NULL, &loss, NULL, NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_cross_entropy_f32(X, SIZE_MAX / 2, 4, W, b, 3, y, NULL, &loss, NULL, NULL, NULL, NULL), SMR_EOVERFLOW);
  /* n = 0: loss 0, dW and db zeroed, X and labels may be NULL */
  for (int i = 0; i < 3; i++) db[i] = 42;
  ck_assert_int_eq(smr_linear_cross_entropy_f32(NULL, 0, 2, W, b, 3, NULL, NULL, &loss, NULL, dW, db, NULL), SMR_OK);
  ck_assert(loss == 0);
  for (int i = 0; i < 6; i++) ck_assert(dW[i] == 0);
  for (int i = 0; i < 3; i++) ck_assert(db[i] == 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* smr_linear_topk                                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
  long double v;
  int32_t c;
} vc;

static int cmp_vc(const void *a, const void *b) {
  const vc *p = a, *q = b;
  if (p->v > q->v) return -1;
  if (p->v < q->v) return 1;
  return (p->c > q->c) - (p->c < q->c);
}

/* Against a sort of the dense logits in long double. X, W and b hold small
   integers, so every logit is exact in the dtype whatever the order of its
   sum (the kernel's chunking cannot move a tie), and ties are common. */
static void topk_case(smr_dtype dt, size_t n, size_t d, size_t K, size_t k_top, bool with_b,
                      int special) {
  problem p;
  problem_make(&p, n, d, K, with_b);
  for (size_t i = 0; i < n * d; i++) p.X[i] = (double)((int)(urand() * 5) - 2);
  for (size_t i = 0; i < d * K; i++) p.W[i] = (double)((int)(urand() * 7) - 3);
  for (size_t j = 0; with_b && j < K; j++) p.b[j] = (double)(int)(urand() * 3);
  if (special == 1) p.X[0] = NAN;                     /* row 0: a NaN row */
  if (special == 2 && with_b) p.b[K / 2] = INFINITY;  /* every row: one +inf class */
  problem_sync(&p, dt);
  const double eps = dt == SMR_F32 ? FLT_EPSILON : DBL_EPSILON;
  int32_t *cls = xmalloc(n * k_top * sizeof *cls);
  void *pr = xmalloc(n * k_top * esize(dt));
  vc *row = xmalloc(K * sizeof *row);
  const smr_isa saved = smr_isa_active();
  for (int isa = 0; isa < SMR_ISA_COUNT; isa++) {
    if (smr_isa_select((smr_isa)isa) != SMR_OK) continue;
    const smr_status st = dt == SMR_F32 ? smr_linear_topk_f32(p.Xt, n, d, p.Wt, p.bt, K, k_top, cls, pr)
                                        : smr_linear_topk_f64(p.Xt, n, d, p.Wt, p.bt, K, k_top, cls, pr);
    ck_assert_int_eq(st, SMR_OK);
    for (size_t i = 0; i < n; i++) {
      bool nan = false;
      size_t pinf = 0;
      long double m = -INFINITY;
      for (size_t j = 0; j < K; j++) {
        long double z = with_b ? p.b[j] : 0;
        for (size_t k = 0; k < d; k++) z += (long double)p.X[i * d + k] * p.W[k * K + j];
        row[j].v = z;
        row[j].c = (int32_t)j;
        if (isnan(z)) nan = true;
        else if (z == INFINITY) pinf++;
        else if (z > m) m = z;
      }
      const char *isan = smr_isa_name((smr_isa)isa);
      if (nan || (pinf == 0 && m == -INFINITY)) {
        for (size_t t = 0; t < k_top; t++)
          if (cls[i * k_top + t] != -1 || !isnan(get_at(dt, pr, i * k_top + t)))
            ck_abort_msg("isa=%s row %zu: a NaN row gives class %d", isan, i, cls[i * k_top + t]);
        continue;
      }
      long double S = 0;
      for (size_t j = 0; pinf == 0 && j < K; j++) S += expl(row[j].v - m);
      const long double lse = m + logl(S);
      qsort(row, K, sizeof *row, cmp_vc);
      for (size_t t = 0; t < k_top; t++) {
        const int32_t got = cls[i * k_top + t];
        const double gp = get_at(dt, pr, i * k_top + t);
        const long double want_p = pinf > 0 ? (row[t].v == INFINITY ? 1.0L / pinf : 0)
                                            : expl(row[t].v - lse);
        const long double tiny = dt == SMR_F32 ? FLT_TRUE_MIN : DBL_TRUE_MIN;
        if (got != row[t].c ||
            !(fabsl(gp - want_p) <= (16 * eps + (long double)K * DBL_EPSILON) * want_p + 2 * tiny))
          ck_abort_msg("%s isa=%s n=%zu d=%zu K=%zu k_top=%zu row %zu rank %zu: class %d p %.9g, "
                       "the sort gives class %d p %.9Lg",
                       dt == SMR_F32 ? "f32" : "f64", isan, n, d, K, k_top, i, t, got, gp,
                       row[t].c, want_p);
      }
    }
  }
  ck_assert_int_eq(smr_isa_select(saved), SMR_OK);
  free(cls), free(pr), free(row);
  problem_free(&p);
}

START_TEST(test_topk) {
  const smr_dtype dt = DTS[_i];
  g_rng = 555 + (uint64_t)_i;
  static const size_t cases[][3] = {/* n, d, K */
                                    {1, 1, 1}, {7, 3, 5}, {50, 1, 17}, {7, 3, 1000}, {5, 64, 3000}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const size_t n = cases[c][0], d = cases[c][1], K = cases[c][2];
    const size_t ks[3] = {1, K < 5 ? K : 5, K};
    for (size_t t = 0; t < 3; t++) {
      if (g_quick && K == 3000 && ks[t] == K) continue;
      topk_case(dt, n, d, K, ks[t], c % 2 == 0, 0);
    }
  }
  topk_case(dt, 6, 3, 40, 5, true, 1); /* a NaN row */
  topk_case(dt, 6, 3, 40, 5, true, 2); /* +inf logits */
  int32_t cl[2];
  float X[2] = {1, 2}, W[6] = {1, 2, 3, 4, 5, 6}, pr[2];
  ck_assert_int_eq(smr_linear_topk_f32(X, 1, 2, W, NULL, 3, 0, cl, pr), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_topk_f32(X, 1, 2, W, NULL, 3, 4, cl, pr), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_topk_f32(X, 1, 0, W, NULL, 3, 1, cl, pr), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_topk_f32(NULL, 1, 2, W, NULL, 3, 1, cl, pr), SMR_EINVAL);
  ck_assert_int_eq(smr_linear_topk_f32(X, 1, 2, W, NULL, 3, 2, cl, NULL), SMR_OK);
  ck_assert(cl[0] == 2 && cl[1] == 1); /* logits 9, 12, 15 */
  ck_assert_int_eq(smr_linear_topk_f32(NULL, 0, 2, W, NULL, 3, 1, NULL, NULL), SMR_OK);
}
END_TEST

int main(void) {
  smr_test_isa_guard();
  const char *q = getenv("SMR_TEST_QUICK");
  g_quick = q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
  Suite *s = suite_create("lce");
  TCase *tc = tcase_create("lce");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_shapes, 0, (int)(2 * NUM_SHAPES));
  tcase_add_loop_test(tc, test_options, 0, 2);
  tcase_add_test(tc, test_finite_differences);
  tcase_add_loop_test(tc, test_special_values, 0, 2);
  tcase_add_test(tc, test_arguments);
  tcase_add_loop_test(tc, test_topk, 0, 2);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
