/*
 * test_threads.c - smr_set_num_threads and the row-parallel trainer.
 *
 * What smr.h promises: the objective, the loss and db are bit for bit the
 * same for any thread count; dW (the BLAS's) within rounding; everything
 * the same run to run on a given count; concurrent callers and a forked
 * child get the same results. References are independent of the library:
 * the objective and db computed here in long double from the model's
 * parameters.
 */
#include "blas.h"
#include "check_util.h"
#include "internal.h"
#include "isa_guard.h"
#include "kernels.h"
#include "smr.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const smr_dtype dtypes[2] = {SMR_F32, SMR_F64};

static uint64_t rng_state = 1;
static double urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) * 0x1p-53;
}

/* A problem in the model's dtype: X (n x d), labels, sample weights (about
   one in seven 0), and a model with random parameters. */
typedef struct {
  smr_dtype dt;
  size_t n, d, k;
  void *X;
  int32_t *y;
  double *sw;
  smr_model *m;
} problem;

static problem make_problem(smr_dtype dt, size_t n, size_t d, size_t k, uint64_t seed) {
  problem p = {dt, n, d, k, xmalloc(n * d * esize(dt)), xmalloc(n * sizeof(int32_t)),
               xmalloc(n * sizeof(double)), NULL};
  rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n * d; i++) set_at(dt, p.X, i, 4.0 * urand() - 2.0);
  for (size_t i = 0; i < n; i++) {
    p.y[i] = (int32_t)(urand() * (double)k);
    p.sw[i] = urand() < 1.0 / 7 ? 0.0 : 0.25 + 2.0 * urand();
  }
  ck_assert_int_eq(smr_model_create(&p.m, d, k, dt, 0.1, seed), SMR_OK);
  for (size_t i = 0; i < d * k; i++) set_at(dt, smr_model_weights(p.m), i, urand() - 0.5);
  for (size_t j = 0; j < k; j++) set_at(dt, smr_model_bias(p.m), j, urand() - 0.5);
  return p;
}

static void problem_free(problem *p) {
  free(p->X);
  free(p->y);
  free(p->sw);
  smr_model_free(p->m);
}

static smr_status objective(const problem *p, const smr_fit_options *o, double *obj, void *dW,
                            void *db) {
  return p->dt == SMR_F32 ? smr_objective_f32(p->m, p->X, p->y, p->n, o, obj, dW, db)
                          : smr_objective_f64(p->m, p->X, p->y, p->n, o, obj, dW, db);
}

/* The weighted objective and db in long double, from the parameters and
   inputs as stored (so only the library's own rounding differs). */
static void reference(const problem *p, double l2, long double *obj, long double *db) {
  const size_t d = p->d, k = p->k;
  const void *W = smr_model_weights(p->m), *b = smr_model_bias(p->m);
  long double *z = xmalloc(k * sizeof *z), ce = 0;
  for (size_t j = 0; j < k; j++) db[j] = 0;
  for (size_t i = 0; i < p->n; i++) {
    long double mx = -INFINITY, s = 0;
    for (size_t j = 0; j < k; j++) {
      long double v = get_at(p->dt, b, j);
      for (size_t l = 0; l < d; l++)
        v += (long double)get_at(p->dt, p->X, i * d + l) * get_at(p->dt, W, l * k + j);
      z[j] = v;
      if (v > mx) mx = v;
    }
    for (size_t j = 0; j < k; j++) s += expl(z[j] - mx);
    ce += p->sw[i] * (mx + logl(s) - z[p->y[i]]);
    for (size_t j = 0; j < k; j++)
      db[j] += p->sw[i] * (expl(z[j] - mx) / s - (j == (size_t)p->y[i])) / p->n;
  }
  long double ss = 0;
  for (size_t i = 0; i < d * k; i++) ss += (long double)get_at(p->dt, W, i) * get_at(p->dt, W, i);
  *obj = ce / p->n + 0.5L * l2 * ss;
  free(z);
}

/* ------------------------------------------------------------------------ */

START_TEST(test_set_num_threads) {
  ck_assert_uint_ge(smr_num_threads(), 1);
  ck_assert_int_eq(smr_set_num_threads(3), SMR_OK);
  ck_assert_uint_eq(smr_num_threads(), 3);
  ck_assert_int_eq(smr_set_num_threads(0), SMR_EINVAL);
  ck_assert_int_eq(smr_set_num_threads(SMR_MAX_THREADS + 1), SMR_EINVAL);
  ck_assert_int_eq(smr_set_num_threads((size_t)-1), SMR_EINVAL);
  ck_assert_uint_eq(smr_num_threads(), 3);
  ck_assert_int_eq(smr_set_num_threads(SMR_MAX_THREADS), SMR_OK);
  ck_assert_uint_eq(smr_num_threads(), SMR_MAX_THREADS);
  ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
  ck_assert_uint_eq(smr_num_threads(), 1);
}
END_TEST

/* Shapes that cut into many tasks: k = 10 (1639 rows a task), k = 300 (55
   rows), k = 40000 (one row a task), k = 1000 with a W of 800 KB in f32
   (smr's own products, blas.c) and 1.6 MB in f64 (the BLAS's); each with
   the default workspace and with a cap of n / 3 + 1 rows (src/train/dense_tmpl.h
   rounds it down to whole tasks). */
static const size_t SHAPES[][3] = {{20000, 6, 10}, {700, 5, 300}, {40, 3, 40000}, {100, 200, 1000}};
#define NUM_SHAPES (sizeof SHAPES / sizeof SHAPES[0])
static const size_t COUNTS[] = {1, 3, 2, 8}; /* 8: waves of 16 tasks at k = 40000, not 13 */
#define ALL_COUNTS (sizeof COUNTS / sizeof COUNTS[0])

/* Under SMR_TEST_QUICK=1 (the emulated CPUs of tools/test.sh, where every
   extra thread count costs minutes) only 1 and 3 threads: an odd count
   that does not divide the tasks evenly. The native runs take all four. */
static size_t num_counts(void) {
  const char *q = getenv("SMR_TEST_QUICK");
  return q != NULL && q[0] == '1' ? 2 : ALL_COUNTS;
}

START_TEST(test_objective_any_thread_count) {
  const smr_dtype dt = dtypes[_i % 2];
  const size_t *sh = SHAPES[_i / 2];
  problem p = make_problem(dt, sh[0], sh[1], sh[2], 7 + (uint64_t)_i);
  const size_t dk = p.d * p.k, k = p.k;
  const double eps = dt == SMR_F32 ? FLT_EPSILON : DBL_EPSILON;
  long double ref_obj, *ref_db = xmalloc(k * sizeof *ref_db);
  const double l2 = 0.01;
  reference(&p, l2, &ref_obj, ref_db);
  void *dW0 = xmalloc(dk * esize(dt)), *db0 = xmalloc(k * esize(dt));
  void *dW = xmalloc(dk * esize(dt)), *db = xmalloc(k * esize(dt));
  void *dW2 = xmalloc(dk * esize(dt)), *db2 = xmalloc(k * esize(dt));
  double obj0 = 0; /* of the first setting: one thread, no cap */
  for (int cap = 0; cap < 2; cap++) {
    smr_fit_options o = smr_fit_options_default();
    o.l2 = l2;
    o.sample_weight = p.sw;
    if (cap) o.workspace_bytes = (p.n / 3 + 1) * k * esize(dt);
    /* blas 0: the BLAS kept on one thread (white box: blas.h), so the
       logits and dW are the same and only smr's pool changes: everything
       bit for bit the same. blas 1: the BLAS on as many threads (the
       public setting): its products may round differently. */
    for (int blas = 0; blas < 2; blas++) {
      for (size_t c = 0; c < num_counts(); c++) {
        ck_assert_int_eq(smr_set_num_threads(COUNTS[c]), SMR_OK);
        if (blas == 0) smr_blas_set_num_threads(1);
        double obj;
        ck_assert_int_eq(objective(&p, &o, &obj, dW, db), SMR_OK);
        if (blas == 0 && c == 0 && cap == 1 && smr_blas_builtin(p.d, k, esize(dt))) {
          /* blocks in whole CE tasks (src/train/dense_tmpl.h, ctx_make) and smr's own
             products: the capped workspace gives the uncapped bits */
          ck_assert_msg(memcmp(&obj, &obj0, sizeof obj) == 0,
                        "objective %.17g with the cap, %.17g without", obj, obj0);
          ck_assert_msg(memcmp(db, db0, k * esize(dt)) == 0, "db differs with the cap");
          ck_assert_msg(memcmp(dW, dW0, dk * esize(dt)) == 0, "dW differs with the cap");
        }
        if (blas == 0 && c == 0) {
          /* against long double: a task lost or counted twice moves the
             objective by about 1/13 of itself */
          ck_assert_msg(fabsl(obj - ref_obj) <= 64 * eps * (1 + fabsl(ref_obj)) * (1 + sh[1]),
                        "objective %.17g vs long double %.17Lg", obj, ref_obj);
          for (size_t j = 0; j < k; j++)
            ck_assert_msg(fabsl(get_at(dt, db, j) - ref_db[j]) <= 64 * eps * (1 + sh[1]),
                          "db[%zu] %.9g vs long double %.9Lg", j, get_at(dt, db, j), ref_db[j]);
          obj0 = obj;
          memcpy(dW0, dW, dk * esize(dt));
          memcpy(db0, db, k * esize(dt));
          continue;
        }
        /* where the products are smr's own (blas.c: narrow k, or W in
           L2) they are the same on any count (row tasks, column tasks):
           bit for bit the same too */
        if (blas == 0 || smr_blas_builtin(p.d, k, esize(dt))) {
          ck_assert_msg(memcmp(&obj, &obj0, sizeof obj) == 0,
                        "objective %.17g on %zu threads, %.17g on 1", obj, COUNTS[c], obj0);
          ck_assert_msg(memcmp(db, db0, k * esize(dt)) == 0, "db differs on %zu threads",
                        COUNTS[c]);
          ck_assert_msg(memcmp(dW, dW0, dk * esize(dt)) == 0, "dW differs on %zu threads",
                        COUNTS[c]);
        } else {
          ck_assert_msg(fabs(obj - obj0) <= 64 * eps * (1 + fabs(obj0)) * (1 + sh[1]),
                        "objective %.17g on %zu threads, %.17g on 1", obj, COUNTS[c], obj0);
          for (size_t j = 0; j < k; j++) {
            const double a = get_at(dt, db, j), e = get_at(dt, db0, j);
            ck_assert_msg(fabs(a - e) <= 64 * eps * (1 + sh[1]), "db[%zu] %.9g on %zu threads, %.9g on 1",
                          j, a, COUNTS[c], e);
          }
          for (size_t i = 0; i < dk; i++) {
            const double a = get_at(dt, dW, i), e = get_at(dt, dW0, i);
            ck_assert_msg(fabs(a - e) <= 64 * eps * (1 + fabs(e)) * (1 + sh[1]) * 4,
                          "dW[%zu] %.9g on %zu threads, %.9g on 1", i, a, COUNTS[c], e);
          }
        }
        /* the same setting again: bit for bit the same */
        double obj2;
        ck_assert_int_eq(objective(&p, &o, &obj2, dW2, db2), SMR_OK);
        ck_assert(memcmp(&obj2, &obj, sizeof obj) == 0);
        ck_assert(memcmp(dW2, dW, dk * esize(dt)) == 0);
        ck_assert(memcmp(db2, db, k * esize(dt)) == 0);
      }
    }
  }
  ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
  free(ref_db);
  free(dW0);
  free(db0);
  free(dW);
  free(db);
  free(dW2);
  free(db2);
  problem_free(&p);
}
END_TEST

/* On a given count two fits are bit for bit the same (lbfgs and shuffled
   sgd); with at most 64 classes the products are smr's own on every count,
   so fits on 1 and 2 threads are the same bit for bit too. */
START_TEST(test_fit_run_to_run) {
  const smr_dtype dt = dtypes[_i % 2];
  const bool lbfgs = _i / 2 == 0;
  problem p = make_problem(dt, 6000, 5, 7, 3);
  const size_t dk = p.d * p.k, bytes = (dk + p.k) * esize(dt);
  void *start = xmalloc(bytes), *first = xmalloc(bytes), *one = xmalloc(bytes);
  memcpy(start, smr_model_weights(p.m), dk * esize(dt));
  memcpy((char *)start + dk * esize(dt), smr_model_bias(p.m), p.k * esize(dt));
  smr_fit_options o = smr_fit_options_default();
  o.l2 = 1e-2;
  o.sample_weight = p.sw;
  o.validation_fraction = 0.1;
  if (lbfgs) {
    o.solver = SMR_SOLVER_LBFGS;
    o.epochs = 200;
    o.tol = dt == SMR_F32 ? 1e-4 : 1e-7;
  } else {
    o.solver = SMR_SOLVER_SGD;
    o.batch_size = 256;
    o.epochs = 3;
    o.shuffle_seed = 11;
  }
  double loss1 = 0, val1 = 0;
  for (size_t c = 1; c <= 2; c++) {
    ck_assert_int_eq(smr_set_num_threads(c), SMR_OK);
    for (int run = 0; run < 2; run++) {
      memcpy(smr_model_weights(p.m), start, dk * esize(dt));
      memcpy(smr_model_bias(p.m), (char *)start + dk * esize(dt), p.k * esize(dt));
      smr_fit_report r;
      ck_assert_int_eq(dt == SMR_F32 ? smr_fit_f32(p.m, p.X, p.y, p.n, &o, &r)
                                     : smr_fit_f64(p.m, p.X, p.y, p.n, &o, &r),
                       SMR_OK);
      void *got = run == 0 ? first : (void *)xmalloc(bytes);
      memcpy(got, smr_model_weights(p.m), dk * esize(dt));
      memcpy((char *)got + dk * esize(dt), smr_model_bias(p.m), p.k * esize(dt));
      if (run == 1) {
        ck_assert_msg(memcmp(got, first, bytes) == 0, "two fits on %zu threads differ", c);
        free(got);
      }
      if (c == 1 && run == 0) {
        memcpy(one, first, bytes);
        loss1 = r.final_loss;
        val1 = r.final_val_loss;
      }
      if (c == 2 && run == 0) {
        /* k = 7: the products are smr's own on both counts, so the whole
           fit is the same bit for bit */
        ck_assert_msg(memcmp(first, one, bytes) == 0, "the fit differs on 1 and 2 threads");
        ck_assert(memcmp(&r.final_loss, &loss1, sizeof loss1) == 0);
        ck_assert(memcmp(&r.final_val_loss, &val1, sizeof val1) == 0);
        if (lbfgs) ck_assert_msg(r.converged, "grad %g after %zu iterations", r.grad_norm, r.epochs_run);
      }
    }
  }
  ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
  free(start);
  free(first);
  free(one);
  problem_free(&p);
}
END_TEST

/* Threads that call the library at once: one of them gets the pool, the
   others run their tasks themselves; every result is the serial one. */
typedef struct {
  const problem *p;
  const smr_fit_options *o;
  double obj;
  int mismatches;
  double want;
} caller;

static void *call_objective(void *arg) {
  caller *c = arg;
  for (int i = 0; i < 6; i++) {
    if (objective(c->p, c->o, &c->obj, NULL, NULL) != SMR_OK ||
        memcmp(&c->obj, &c->want, sizeof c->obj) != 0)
      c->mismatches++;
  }
  return NULL;
}

START_TEST(test_concurrent_callers) {
  problem p = make_problem(SMR_F64, 20000, 4, 10, 5);
  smr_fit_options o = smr_fit_options_default();
  o.sample_weight = p.sw;
  double want;
  ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
  ck_assert_int_eq(objective(&p, &o, &want, NULL, NULL), SMR_OK);
  ck_assert_int_eq(smr_set_num_threads(2), SMR_OK);
  enum { CALLERS = 4 };
  caller cs[CALLERS];
  pthread_t tid[CALLERS];
  for (int i = 0; i < CALLERS; i++) {
    cs[i] = (caller){&p, &o, 0, 0, want};
    ck_assert_int_eq(pthread_create(&tid[i], NULL, call_objective, &cs[i]), 0);
  }
  for (int i = 0; i < CALLERS; i++) {
    ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
    ck_assert_int_eq(cs[i].mismatches, 0);
  }
  ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
  problem_free(&p);
}
END_TEST

/* The public row kernels cut calls of more than 2^18 elements into row
   tasks on the pool (api_kernels.c). Shapes of several tasks (3001 x 200:
   3 tasks in f32, 2 in f64; 70000 x 10; 8 rows of 300000: a task per row),
   rows with ties, -inf, a NaN row and a +inf row: every output is the same
   bit for bit on 1, 2 and 3 threads, with and without the streaming path
   (smr_stream_min_bytes lowered below the whole output, above a task's),
   and on one thread the softmax family equals one direct kernel call. The
   loss of finite rows agrees with long double. */
enum { OP_SOFTMAX, OP_ONLINE, OP_TEMP, OP_LOGSM, OP_CE, OP_CE_LOSS, NUM_OPS };

static void public_op(smr_dtype dt, int op, const void *z, const int32_t *y, size_t n, size_t k,
                      void *out, double *loss) {
  smr_status st;
  *loss = 0.0;
  if (dt == SMR_F32) {
    switch (op) {
    case OP_SOFTMAX: st = smr_softmax_f32(z, out, n, k); break;
    case OP_ONLINE: st = smr_softmax_online_f32(z, out, n, k); break;
    case OP_TEMP: st = smr_softmax_temperature_f32(z, out, n, k, 0.7f); break;
    case OP_LOGSM: st = smr_log_softmax_f32(z, out, n, k); break;
    case OP_CE: st = smr_cross_entropy_logits_f32(z, y, n, k, loss, out); break;
    default: st = smr_cross_entropy_logits_f32(z, y, n, k, loss, NULL); break;
    }
  } else {
    switch (op) {
    case OP_SOFTMAX: st = smr_softmax_f64(z, out, n, k); break;
    case OP_ONLINE: st = smr_softmax_online_f64(z, out, n, k); break;
    case OP_TEMP: st = smr_softmax_temperature_f64(z, out, n, k, 0.7); break;
    case OP_LOGSM: st = smr_log_softmax_f64(z, out, n, k); break;
    case OP_CE: st = smr_cross_entropy_logits_f64(z, y, n, k, loss, out); break;
    default: st = smr_cross_entropy_logits_f64(z, y, n, k, loss, NULL); break;
    }
  }
  ck_assert_int_eq(st, SMR_OK);
}

/* the softmax family through the active table in one call */
static void direct_op(smr_dtype dt, int op, const void *z, size_t n, size_t k, void *out) {
  const struct smr_kernels *t = smr_kernels_active();
  if (dt == SMR_F32) {
    if (op == OP_SOFTMAX) t->f32.softmax(z, out, n, k, NULL);
    if (op == OP_ONLINE) t->f32.softmax_online(z, out, n, k);
    if (op == OP_TEMP) t->f32.softmax_temperature(z, out, n, k, 0.7f, NULL);
    if (op == OP_LOGSM) t->f32.log_softmax(z, out, n, k);
  } else {
    if (op == OP_SOFTMAX) t->f64.softmax(z, out, n, k, NULL);
    if (op == OP_ONLINE) t->f64.softmax_online(z, out, n, k);
    if (op == OP_TEMP) t->f64.softmax_temperature(z, out, n, k, 0.7, NULL);
    if (op == OP_LOGSM) t->f64.log_softmax(z, out, n, k);
  }
}

static const size_t PK_SHAPES[][2] = {{3001, 200}, {70000, 10}, {8, 300000}};
#define NUM_PK_SHAPES (sizeof PK_SHAPES / sizeof PK_SHAPES[0])

START_TEST(test_public_kernels_thread_count) {
  const smr_dtype dt = dtypes[_i % 2];
  const size_t n = PK_SHAPES[_i / 2][0], k = PK_SHAPES[_i / 2][1], len = n * k, es = esize(dt);
  void *z = xmalloc(len * es), *want = xmalloc(len * es), *got = xmalloc(len * es);
  int32_t *y = xmalloc(n * sizeof *y);
  rng_state = 77 + (uint64_t)_i;
  for (size_t i = 0; i < len; i++) set_at(dt, z, i, 8.0 * urand() - 4.0);
  for (size_t i = 0; i < n; i++) y[i] = (int32_t)(urand() * (double)k);
  /* hostile rows among the first ones (finite rows stay for the loss) */
  set_at(dt, z, 1 * k + k / 2, NAN);
  set_at(dt, z, 2 * k, INFINITY);
  set_at(dt, z, 3 * k + 1, -INFINITY);
  set_at(dt, z, 4 * k, 4.0);
  set_at(dt, z, 4 * k + k - 1, 4.0);
  const size_t min0 = atomic_load(&smr_stream_min_bytes);
  /* part 0: all rows (a NaN loss); part 1: the finite rows from row 5 */
  for (int part = 0; part < 2; part++) {
    double want_ce_loss = NAN;
    const size_t r0 = part ? 5 : 0, pn = n - r0, plen = pn * k;
    const void *pz = (const char *)z + r0 * k * es;
    for (int op = 0; op < NUM_OPS; op++) {
      double want_loss = 0.0, loss;
      memset(want, 0, plen * es);
      ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
      public_op(dt, op, pz, y + r0, pn, k, want, &want_loss);
      if (op == OP_CE_LOSS) want_ce_loss = want_loss;
      if (op < OP_CE) {
        memset(got, 0, plen * es);
        direct_op(dt, op, pz, pn, k, got);
        ck_assert_msg(memcmp(got, want, plen * es) == 0, "op %d %zux%zu: 1 thread != one call", op,
                      pn, k);
      }
      for (int stream = 0; stream < 2; stream++) {
        /* streaming: the whole output is above the limit, a task below */
        atomic_store(&smr_stream_min_bytes, stream ? plen * es / 2 : min0);
        for (size_t c = 0; c < num_counts() && COUNTS[c] <= 3; c++) {
          const size_t th = COUNTS[c];
          ck_assert_int_eq(smr_set_num_threads(th), SMR_OK);
          memset(got, 0, plen * es);
          public_op(dt, op, pz, y + r0, pn, k, got, &loss);
          ck_assert_msg(memcmp(got, want, plen * es) == 0 || op == OP_CE_LOSS,
                        "op %d %zux%zu: output differs on %zu threads (stream %d)", op, pn, k, th,
                        stream);
          ck_assert_msg(memcmp(&loss, &want_loss, sizeof loss) == 0,
                        "op %d %zux%zu: loss %.17g != %.17g on %zu threads", op, pn, k, loss,
                        want_loss, th);
        }
      }
      atomic_store(&smr_stream_min_bytes, min0);
    }
    if (part == 1) ck_assert(isfinite(want_ce_loss));
  }
  ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
  /* the loss of the finite rows (from row 5) against long double */
  long double ref = 0;
  for (size_t i = 5; i < n; i++) {
    long double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < k; j++) mx = fmaxl(mx, get_at(dt, z, i * k + j));
    for (size_t j = 0; j < k; j++) sum += expl(get_at(dt, z, i * k + j) - mx);
    ref += mx + logl(sum) - get_at(dt, z, i * k + (size_t)y[i]);
  }
  {
    double loss;
    ck_assert_int_eq(smr_set_num_threads(2), SMR_OK);
    public_op(dt, OP_CE_LOSS, (const char *)z + 5 * k * es, y + 5, n - 5, k, NULL, &loss);
    const long double r = ref / (long double)(n - 5);
    ck_assert_msg(fabsl(loss - r) <= (dt == SMR_F32 ? 1e-6L : 1e-13L) * fabsl(r),
                  "loss %.17g vs %.17Lg", loss, r);
    ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
  }
  free(z);
  free(want);
  free(got);
  free(y);
}
END_TEST

/* A child forked after the pool has run a job has no workers: it starts
   its own and gets the same result. */
START_TEST(test_fork_child) {
  problem p = make_problem(SMR_F32, 20000, 4, 10, 9);
  smr_fit_options o = smr_fit_options_default();
  ck_assert_int_eq(smr_set_num_threads(2), SMR_OK);
  double want;
  ck_assert_int_eq(objective(&p, &o, &want, NULL, NULL), SMR_OK);
  fflush(NULL);
  const pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    double got;
    const bool ok = objective(&p, &o, &got, NULL, NULL) == SMR_OK &&
                    memcmp(&got, &want, sizeof got) == 0 && smr_num_threads() == 2;
    _exit(ok ? 0 : 1);
  }
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  double again;
  ck_assert_int_eq(objective(&p, &o, &again, NULL, NULL), SMR_OK);
  ck_assert(memcmp(&again, &want, sizeof again) == 0);
  ck_assert_int_eq(smr_set_num_threads(1), SMR_OK);
  problem_free(&p);
}
END_TEST

int main(void) {
  smr_test_isa_guard();
  Suite *s = suite_create("threads");
  TCase *tc = tcase_create("threads");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_set_num_threads);
  tcase_add_loop_test(tc, test_objective_any_thread_count, 0, (int)(2 * NUM_SHAPES));
  tcase_add_loop_test(tc, test_fit_run_to_run, 0, 4);
  tcase_add_loop_test(tc, test_public_kernels_thread_count, 0, (int)(2 * NUM_PK_SHAPES));
  tcase_add_test(tc, test_concurrent_callers);
  tcase_add_test(tc, test_fork_child);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
