/*
 * test_objective.c - the solvers and the epoch loop over the objective
 * interface (src/train/objective.h) alone, with objectives written here
 * that have no X: what sparse, vocabulary-scale and MPI objectives will
 * rely on.
 *
 * 1. A separable quadratic f(theta) = 1/2 sum_i a_i (theta_i - c_i)^2 in
 *    f64 and f32: L-BFGS must reach theta = c (the minimizer, known in
 *    closed form) to the precision of the dtype; gd with rate 1/max a_i
 *    must follow the update theta <- theta - lr grad written out here in
 *    double; adam and sgd must decrease f; a non-finite objective stops
 *    the loop with SMR_ENONFINITE and theta before the failing step; a
 *    data_bad objective stops with SMR_ENONFINITE and theta unchanged.
 * 2. The allreduce hook: the same quadratic held as two halves of theta
 *    by two threads, each running L-BFGS on its half, with the loss and
 *    every solver reduction summed (or maxed) across the two through a
 *    barrier. After a few iterations (far from the minimizer, where every
 *    step depends on the reductions) both must hold the point one process
 *    reaches, to rounding (their dot products are the two halves' sums
 *    added, not one sum); without the reduction of the dot products this
 *    fails (checked).
 */
#include "check_util.h"
#include "kernels.h"
#include "train/solvers.h"
#include "train/train.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { P = 37 };

/* The quadratic over theta[0..n) (a slice [off, off + n) of the full P). */
typedef struct {
  smr_objective base;
  const double *a, *c; /* P each: the full problem */
  size_t off;
  double *theta64, *grad64; /* f64 storage */
  float *theta32, *grad32;  /* f32 storage */
  double force;             /* NaN: evaluate returns NaN */
  bool bad;                 /* evaluate reports bad data */
  /* two processes: the other half's contribution arrives here */
  struct shared *sh;
  int rank;
} quad;

/* Two "processes" (threads) exchanging partial sums through a barrier. */
struct shared {
  pthread_barrier_t bar;
  double part[2][8];
};

static void reduce(const smr_objective *o, double *v, size_t n, smr_allreduce_op op) {
  const quad *q = (const quad *)o;
  struct shared *sh = q->sh;
  ck_assert_uint_le(n, 8);
  for (size_t i = 0; i < n; i++) sh->part[q->rank][i] = v[i];
  pthread_barrier_wait(&sh->bar);
  for (size_t i = 0; i < n; i++) {
    const double x = sh->part[0][i], y = sh->part[1][i];
    v[i] = op == SMR_ALLREDUCE_SUM ? x + y : (x > y ? x : y);
  }
  pthread_barrier_wait(&sh->bar); /* both have read before the next write */
}

static double quad_eval(smr_objective *o, size_t batch) {
  (void)batch;
  quad *q = (quad *)o;
  if (q->bad) {
    o->data_bad = true;
    return NAN;
  }
  double f = 0.0;
  for (size_t i = 0; i < o->nparams; i++) {
    const size_t g = q->off + i;
    const double t = o->dtype == SMR_F32 ? (double)q->theta32[i] : q->theta64[i];
    const double r = t - q->c[g];
    f += 0.5 * q->a[g] * r * r;
    if (o->dtype == SMR_F32)
      q->grad32[i] = (float)(q->a[g] * r);
    else
      q->grad64[i] = q->a[g] * r;
  }
  if (o->allreduce != NULL) o->allreduce(o, &f, 1, SMR_ALLREDUCE_SUM);
  o->evaluations++;
  return isnan(q->force) ? q->force : f;
}

static void quad_init(quad *q, smr_dtype dt, const double *a, const double *c, size_t off,
                      size_t n) {
  memset(q, 0, sizeof *q);
  q->a = a;
  q->c = c;
  q->off = off;
  q->force = 0.0;
  q->theta64 = calloc(n, sizeof(double));
  q->grad64 = calloc(n, sizeof(double));
  q->theta32 = calloc(n, sizeof(float));
  q->grad32 = calloc(n, sizeof(float));
  ck_assert(q->theta64 && q->grad64 && q->theta32 && q->grad32);
  q->base.dtype = dt;
  q->base.nparams = n;
  q->base.nbatches = 1;
  q->base.theta = dt == SMR_F32 ? (void *)q->theta32 : (void *)q->theta64;
  q->base.grad = dt == SMR_F32 ? (void *)q->grad32 : (void *)q->grad64;
  q->base.tables = smr_kernels_for(SMR_ISA_SCALAR);
  q->base.evaluate = quad_eval;
}

static void quad_free(quad *q) {
  free(q->theta64);
  free(q->grad64);
  free(q->theta32);
  free(q->grad32);
}

static double theta_at(const quad *q, size_t i) {
  return q->base.dtype == SMR_F32 ? (double)q->theta32[i] : q->theta64[i];
}

static void problem(double *a, double *c) {
  for (size_t i = 0; i < P; i++) {
    a[i] = 0.5 + (double)((i * 7) % 11);   /* curvatures 0.5 .. 10.5 */
    c[i] = (double)((int)(i * 13 % 17) - 8) / 3.0;
  }
}

static smr_fit_options opts(smr_solver s, size_t epochs) {
  smr_fit_options o = smr_fit_options_default();
  o.solver = s;
  o.epochs = epochs;
  o.tol = 0.0;
  return o;
}

START_TEST(test_lbfgs_reaches_minimizer) {
  const smr_dtype dt = _i ? SMR_F64 : SMR_F32;
  double a[P], c[P];
  problem(a, c);
  quad q;
  quad_init(&q, dt, a, c, 0, P);
  smr_fit_options o = opts(SMR_SOLVER_LBFGS, 200);
  o.tol = dt == SMR_F32 ? 1e-5 : 1e-12;
  smr_train_run run;
  ck_assert_int_eq(smr_train_epochs(&q.base, &o, 1.0, &run), SMR_OK);
  ck_assert(run.started && run.have_final);
  /* |g_i| = a_i |theta_i - c_i|: f64 converges to tol; f32 may stop at its
     precision limit first (the line search finds no decrease) */
  if (dt == SMR_F64)
    ck_assert_msg(run.converged, "f64: not converged after %zu iterations, |g| %g",
                  run.epochs_run, run.grad_norm);
  for (size_t i = 0; i < P; i++) {
    const double bound = dt == SMR_F64 ? 2e-12 / a[i] : 2e-5;
    ck_assert_msg(fabs(theta_at(&q, i) - c[i]) <= bound, "%s theta[%zu] = %.17g, minimizer %.17g",
                  dt == SMR_F32 ? "f32" : "f64", i, theta_at(&q, i), c[i]);
  }
  /* the history is the objective at each iteration's start: decreasing */
  for (size_t e = 1; e < run.epochs_run; e++) ck_assert(run.history[e] <= run.history[e - 1]);
  smr_fit_report rep;
  smr_train_report(&q.base, &o, &run, &rep);
  ck_assert(rep.converged == run.converged && rep.solver == SMR_SOLVER_LBFGS);
  ck_assert(rep.final_loss == run.final_loss && rep.grad_norm == run.grad_norm);
  free(run.history);
  quad_free(&q);
}
END_TEST

/* gd: theta_{t+1} = theta_t - lr a (theta_t - c), written out in double. */
START_TEST(test_gd_follows_update) {
  double a[P], c[P], ref[P] = {0};
  problem(a, c);
  quad q;
  quad_init(&q, SMR_F64, a, c, 0, P);
  const double lr = 1.0 / 10.5;
  smr_fit_options o = opts(SMR_SOLVER_GD, 25);
  smr_train_run run;
  ck_assert_int_eq(smr_train_epochs(&q.base, &o, lr, &run), SMR_OK);
  ck_assert_uint_eq(run.epochs_run, 25);
  ck_assert_uint_eq(run.steps_done, 25);
  for (int e = 0; e < 25; e++)
    for (size_t i = 0; i < P; i++) ref[i] -= lr * (a[i] * (ref[i] - c[i]));
  for (size_t i = 0; i < P; i++)
    ck_assert_msg(fabs(q.theta64[i] - ref[i]) <= 1e-14 * (1 + fabs(ref[i])), "%zu: %.17g vs %.17g",
                  i, q.theta64[i], ref[i]);
  free(run.history);
  quad_free(&q);
}
END_TEST

START_TEST(test_adam_sgd_decrease) {
  double a[P], c[P];
  problem(a, c);
  const smr_solver solvers[2] = {SMR_SOLVER_ADAM, SMR_SOLVER_SGD};
  for (int s = 0; s < 2; s++) {
    quad q;
    quad_init(&q, SMR_F32, a, c, 0, P);
    smr_fit_options o = opts(solvers[s], 60);
    smr_train_run run;
    ck_assert_int_eq(smr_train_epochs(&q.base, &o, solvers[s] == SMR_SOLVER_ADAM ? 0.1 : 0.02,
                                      &run),
                     SMR_OK);
    ck_assert_uint_eq(run.epochs_run, 60);
    ck_assert_msg(run.history[59] < 0.05 * run.history[0], "%s: %g -> %g",
                  solvers[s] == SMR_SOLVER_ADAM ? "adam" : "sgd", run.history[0], run.history[59]);
    free(run.history);
    quad_free(&q);
  }
}
END_TEST

/* A NaN objective stops the loop; theta is the last good point. */
START_TEST(test_nonfinite_and_bad_data) {
  double a[P], c[P];
  problem(a, c);
  quad q;
  quad_init(&q, SMR_F64, a, c, 0, P);
  q.force = NAN;
  smr_fit_options o = opts(SMR_SOLVER_GD, 5);
  smr_train_run run;
  ck_assert_int_eq(smr_train_epochs(&q.base, &o, 0.1, &run), SMR_ENONFINITE);
  ck_assert(run.started);
  ck_assert_uint_eq(run.epochs_run, 0);
  for (size_t i = 0; i < P; i++) ck_assert(q.theta64[i] == 0.0);
  q.force = 0.0;
  q.bad = true;
  o.solver = SMR_SOLVER_LBFGS;
  ck_assert_int_eq(smr_train_epochs(&q.base, &o, 0.1, &run), SMR_ENONFINITE);
  ck_assert(q.base.data_bad);
  ck_assert_ptr_null(run.history);
  for (size_t i = 0; i < P; i++) ck_assert(q.theta64[i] == 0.0);
  quad_free(&q);
}
END_TEST

/* Two halves of theta in two threads, reductions through the hook. */
struct half_job {
  quad q;
  smr_train_run run;
  smr_status st;
};

/* A few iterations, far from the minimizer, where the steps depend on
   every reduction (at convergence both would only meet at c). */
#define HALF_ITERS 4

static void *run_half(void *arg) {
  struct half_job *j = arg;
  smr_fit_options o = opts(SMR_SOLVER_LBFGS, HALF_ITERS);
  j->st = smr_train_epochs(&j->q.base, &o, 1.0, &j->run);
  return NULL;
}

START_TEST(test_allreduce_two_processes) {
  double a[P], c[P];
  problem(a, c);
  /* one process */
  quad one;
  quad_init(&one, SMR_F64, a, c, 0, P);
  smr_fit_options o = opts(SMR_SOLVER_LBFGS, HALF_ITERS);
  smr_train_run r1;
  ck_assert_int_eq(smr_train_epochs(&one.base, &o, 1.0, &r1), SMR_OK);
  /* two */
  struct shared sh;
  ck_assert_int_eq(pthread_barrier_init(&sh.bar, NULL, 2), 0);
  struct half_job h[2];
  const size_t cut = P / 2;
  quad_init(&h[0].q, SMR_F64, a, c, 0, cut);
  quad_init(&h[1].q, SMR_F64, a, c, cut, P - cut);
  pthread_t th[2];
  for (int r = 0; r < 2; r++) {
    h[r].q.sh = &sh;
    h[r].q.rank = r;
    h[r].q.base.allreduce = reduce;
    ck_assert_int_eq(pthread_create(&th[r], NULL, run_half, &h[r]), 0);
  }
  for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&sh.bar);
  for (int r = 0; r < 2; r++) {
    ck_assert_int_eq(h[r].st, SMR_OK);
    ck_assert_uint_eq(h[r].run.epochs_run, r1.epochs_run);
    ck_assert(h[r].run.converged == r1.converged);
    ck_assert_msg(fabs(h[r].run.final_loss - r1.final_loss) <= 1e-12 * (1 + r1.final_loss),
                  "rank %d: %.17g vs %.17g", r, h[r].run.final_loss, r1.final_loss);
  }
  double far = 0.0; /* still far from c: the comparison means something */
  for (size_t i = 0; i < P; i++) far = fmax(far, fabs(one.theta64[i] - c[i]));
  ck_assert_msg(far > 1e-3, "one process already at the minimizer (%g)", far);
  for (size_t i = 0; i < P; i++) {
    const double t = i < cut ? h[0].q.theta64[i] : h[1].q.theta64[i - cut];
    ck_assert_msg(fabs(t - one.theta64[i]) <= 1e-12 * (1 + fabs(one.theta64[i])),
                  "%zu: %.17g (two) vs %.17g (one)", i, t, one.theta64[i]);
  }
  free(r1.history);
  quad_free(&one);
  for (int r = 0; r < 2; r++) {
    free(h[r].run.history);
    quad_free(&h[r].q);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("objective");
  TCase *tc = tcase_create("solvers");
  tcase_add_loop_test(tc, test_lbfgs_reaches_minimizer, 0, 2);
  tcase_add_test(tc, test_gd_follows_update);
  tcase_add_test(tc, test_adam_sgd_decrease);
  tcase_add_test(tc, test_nonfinite_and_bad_data);
  tcase_add_test(tc, test_allreduce_two_processes);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
