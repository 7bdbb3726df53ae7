/*
 * test_isa_switch.c - smr_isa_select on one thread while others compute.
 *
 * smr.h promises that smr_isa_select is thread-safe and that "calls
 * already running finish on the previous kernels": every public call must
 * run on one ISA from start to end. A call that mixed two ISAs (row tasks
 * on different kernels, the BLAS glue looking the ISA up at call time)
 * would give a loss summed from two kernels, or rows from two kernels.
 *
 * References: each available ISA's result, computed with that ISA
 * selected and nothing switching. Under a thread that keeps switching the
 * ISA, every result must equal one ISA's reference bit for bit (the whole
 * output buffer, the loss, the fitted parameters). The inputs are chosen so
 * that the ISAs' results differ in their last bits (checked: otherwise a
 * mix could not be seen and the test says so and fails). Run on two of
 * smr's threads so that the public kernels cut their calls into tasks.
 * tools/test.sh also runs this test in a ThreadSanitizer build.
 */
#include "check_util.h"
#include "smr.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1100 x 1000 f32: more than 2^18 elements, so the public kernels cut it
   into row tasks (api_kernels.c). */
#define ROWS 1100
#define COLS 1000
/* the fit: k <= 64, products on smr's own kernels through the BLAS glue */
#define FIT_N 2000
#define FIT_D 24
#define FIT_K 10

static smr_isa isas[SMR_ISA_COUNT];
static size_t num_isas;

static atomic_bool stop_switching;
static atomic_size_t switches;

static void *switcher(void *arg) {
  (void)arg;
  size_t i = 0;
  while (!atomic_load(&stop_switching)) {
    ck_assert_int_eq(smr_isa_select(isas[i++ % num_isas]), SMR_OK);
    atomic_fetch_add(&switches, 1);
  }
  return NULL;
}

static uint64_t rng = 88172645463325252ull;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) * 0x1p-53;
}

/* SMR_TEST_QUICK=1: the emulated CPUs of tools/test.sh, fewer rounds */
static bool quick(void) {
  const char *q = getenv("SMR_TEST_QUICK");
  return q != NULL && q[0] == '1';
}

static bool find_isas(void) {
  num_isas = 0;
  for (int i = 0; i < SMR_ISA_COUNT; i++)
    if (smr_isa_available((smr_isa)i)) isas[num_isas++] = (smr_isa)i;
  if (num_isas < 2) {
    printf("one ISA available: nothing to switch between; skipped\n");
    return false;
  }
  return true;
}

/* The index of the reference equal to got (len bytes), or -1. */
static int which_ref(const void *got, void *const *refs, size_t len) {
  for (size_t i = 0; i < num_isas; i++)
    if (memcmp(got, refs[i], len) == 0) return (int)i;
  return -1;
}

static bool refs_differ(void *const *refs, size_t len) {
  for (size_t i = 1; i < num_isas; i++)
    if (memcmp(refs[0], refs[i], len) != 0) return true;
  return false;
}

static void start(pthread_t *t) {
  atomic_store(&stop_switching, false);
  atomic_store(&switches, 0);
  ck_assert_int_eq(pthread_create(t, NULL, switcher, NULL), 0);
}

static void finish(pthread_t t) {
  atomic_store(&stop_switching, true);
  ck_assert_int_eq(pthread_join(t, NULL), 0);
  ck_assert_uint_gt(atomic_load(&switches), 0);
}

START_TEST(test_kernels_one_isa_per_call) {
  if (!find_isas()) return;
  ck_assert_int_eq(smr_set_num_threads(2), SMR_OK);
  const size_t len = (size_t)ROWS * COLS;
  float *z = xmalloc(len * sizeof(float)), *p = xmalloc(len * sizeof(float));
  int32_t *y = xmalloc(ROWS * sizeof(int32_t));
  /* wide logits: exp and the row sums round differently per ISA */
  for (size_t i = 0; i < len; i++) z[i] = (float)(40.0 * urand() - 20.0);
  for (size_t i = 0; i < ROWS; i++) y[i] = (int32_t)(urand() * COLS);
  void *loss_ref[SMR_ISA_COUNT], *p_ref[SMR_ISA_COUNT];
  for (size_t i = 0; i < num_isas; i++) {
    ck_assert_int_eq(smr_isa_select(isas[i]), SMR_OK);
    loss_ref[i] = xmalloc(sizeof(double));
    p_ref[i] = xmalloc(len * sizeof(float));
    ck_assert_int_eq(smr_cross_entropy_logits_f32(z, y, ROWS, COLS, loss_ref[i], NULL), SMR_OK);
    ck_assert_int_eq(smr_softmax_f32(z, p_ref[i], ROWS, COLS), SMR_OK);
  }
  ck_assert_msg(refs_differ(loss_ref, sizeof(double)),
                "every ISA gives the same loss bits: a mixed call could not be seen");
  ck_assert_msg(refs_differ(p_ref, len * sizeof(float)),
                "every ISA gives the same softmax bits: a mixed call could not be seen");

  pthread_t t;
  start(&t);
  size_t seen[SMR_ISA_COUNT] = {0};
  const int iters = quick() ? 12 : 150; /* emulated: 12 */
  for (int it = 0; it < iters; it++) {
    double loss;
    ck_assert_int_eq(smr_cross_entropy_logits_f32(z, y, ROWS, COLS, &loss, NULL), SMR_OK);
    int r = which_ref(&loss, loss_ref, sizeof loss);
    ck_assert_msg(r >= 0, "iteration %d: loss %.17g is no single ISA's (two ISAs in one call)",
                  it, loss);
    seen[r]++;
    ck_assert_int_eq(smr_softmax_f32(z, p, ROWS, COLS), SMR_OK);
    r = which_ref(p, p_ref, len * sizeof(float));
    ck_assert_msg(r >= 0, "iteration %d: softmax output is no single ISA's", it);
  }
  finish(t);
  for (size_t i = 0; i < num_isas; i++)
    printf("loss from %s: %zu calls\n", smr_isa_name(isas[i]), seen[i]);
  for (size_t i = 0; i < num_isas; i++) {
    free(loss_ref[i]);
    free(p_ref[i]);
  }
  free(z);
  free(p);
  free(y);
}
END_TEST

/* A gradient-descent fit of FIT_EPOCHS full-batch epochs from a fixed start
   on the ISA active when each kernel runs; the parameters into out. */
#define FIT_EPOCHS 15
static void fit_once(const double *X, const int32_t *y, double *out) {
  smr_model *m = NULL;
  ck_assert_int_eq(smr_model_create(&m, FIT_D, FIT_K, SMR_F64, 0.5, 7), SMR_OK);
  smr_fit_options o = smr_fit_options_default();
  o.solver = SMR_SOLVER_GD;
  o.epochs = FIT_EPOCHS;
  o.l2 = 1e-3;
  ck_assert_int_eq(smr_fit_f64(m, X, y, FIT_N, &o, NULL), SMR_OK);
  memcpy(out, smr_model_weights(m), FIT_D * FIT_K * sizeof(double));
  memcpy(out + FIT_D * FIT_K, smr_model_bias(m), FIT_K * sizeof(double));
  smr_model_free(m);
}

START_TEST(test_fit_one_isa_per_call) {
  if (!find_isas()) return;
  ck_assert_int_eq(smr_set_num_threads(2), SMR_OK);
  const size_t np = FIT_D * FIT_K + FIT_K, bytes = np * sizeof(double);
  double *X = xmalloc(FIT_N * FIT_D * sizeof(double));
  int32_t *y = xmalloc(FIT_N * sizeof(int32_t));
  for (size_t i = 0; i < FIT_N * FIT_D; i++) X[i] = 6.0 * urand() - 3.0;
  for (size_t i = 0; i < FIT_N; i++) y[i] = (int32_t)(urand() * FIT_K);
  void *ref[SMR_ISA_COUNT];
  for (size_t i = 0; i < num_isas; i++) {
    ck_assert_int_eq(smr_isa_select(isas[i]), SMR_OK);
    ref[i] = xmalloc(bytes);
    fit_once(X, y, ref[i]);
  }
  ck_assert_msg(refs_differ(ref, bytes),
                "every ISA fits the same bits: a mixed fit could not be seen");
  double *got = xmalloc(bytes);
  pthread_t t;
  start(&t);
  const int fits = quick() ? 8 : 40; /* emulated: 8 */
  for (int it = 0; it < fits; it++) {
    fit_once(X, y, got);
    ck_assert_msg(which_ref(got, ref, bytes) >= 0,
                  "fit %d: parameters are no single ISA's (two ISAs in one fit)", it);
  }
  finish(t);
  for (size_t i = 0; i < num_isas; i++) free(ref[i]);
  free(got);
  free(X);
  free(y);
}
END_TEST

int main(void) {
  Suite *s = suite_create("isa_switch");
  TCase *tc = tcase_create("switch");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_kernels_one_isa_per_call);
  tcase_add_test(tc, test_fit_one_isa_per_call);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
