/*
 * test_model.c - the model: creation, accessors, forward, backward,
 * predict, predict_proba and loss, in f32 and f64.
 *
 * Every numerical result is compared with an independent reference written
 * here in plain long double (no kernel table), with central finite
 * differences of the loss, or with a closed form (two classes = logistic
 * regression). Error paths are exercised one by one.
 */
#include "internal.h" /* smr_rng: reproducible test data */
#include "check_util.h"
#include "isa_guard.h"
#include "smr.h"

#include <check.h>
#include <pthread.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Test data and dtype helpers                                               */
/* ------------------------------------------------------------------------ */

static const smr_dtype dtypes[2] = {SMR_F32, SMR_F64};

static void fill_normal(double *x, size_t len, double mu, double sd, uint64_t seed) {
  smr_rng r;
  smr_rng_seed(&r, seed);
  for (size_t i = 0; i < len; i++) x[i] = mu + sd * smr_rng_normal(&r);
}

static void fill_labels(int32_t *y, size_t n, size_t k, uint64_t seed) {
  smr_rng r;
  smr_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++) y[i] = (int32_t)smr_rng_below(&r, k);
}

static double eps_of(smr_dtype dt) { return dt == SMR_F32 ? (double)FLT_EPSILON : DBL_EPSILON; }
/* A buffer of the dtype holding x; for f32 the values are rounded and x is
   overwritten with the rounded values, so references see what the model
   sees. */
static void *as_dtype(smr_dtype dt, double *x, size_t len) {
  void *out = xmalloc(len * esize(dt));
  for (size_t i = 0; i < len; i++) {
    if (dt == SMR_F32) {
      ((float *)out)[i] = (float)x[i];
      x[i] = (double)((float *)out)[i];
    } else {
      ((double *)out)[i] = x[i];
    }
  }
  return out;
}

/* Sets W (d x k) and b (k) of a model from doubles (rounded to its dtype). */
static void set_params(smr_model *m, const double *W, const double *b) {
  smr_dtype dt = smr_model_dtype(m);
  size_t dk = smr_model_num_features(m) * smr_model_num_classes(m);
  for (size_t i = 0; i < dk; i++) set_at(dt, smr_model_weights(m), i, W[i]);
  for (size_t j = 0; j < smr_model_num_classes(m); j++) set_at(dt, smr_model_bias(m), j, b[j]);
}

static void get_params_ld(smr_model *m, long double *W, long double *b) {
  smr_dtype dt = smr_model_dtype(m);
  size_t dk = smr_model_num_features(m) * smr_model_num_classes(m);
  for (size_t i = 0; i < dk; i++) W[i] = get_at(dt, smr_model_weights(m), i);
  for (size_t j = 0; j < smr_model_num_classes(m); j++) b[j] = get_at(dt, smr_model_bias(m), j);
}

/* A model with random parameters of scale `sd` (so gradients are not tiny). */
static smr_model *random_model(smr_dtype dt, size_t d, size_t k, double sd, uint64_t seed) {
  smr_model *m = NULL;
  ck_assert_int_eq(smr_model_create(&m, d, k, dt, 0.1, seed), SMR_OK);
  double *W = xmalloc(d * k * sizeof *W), *b = xmalloc(k * sizeof *b);
  fill_normal(W, d * k, 0.0, sd, seed + 1000);
  fill_normal(b, k, 0.0, sd, seed + 2000);
  set_params(m, W, b);
  free(W);
  free(b);
  return m;
}

/* ------------------------------------------------------------------------ */
/* The reference: plain long double, straight from the seed's formulas       */
/* ------------------------------------------------------------------------ */

/* x' = (x - mean) / scale when mean != NULL. */
static long double ref_x(const double *X, size_t i, size_t j, size_t d, const double *mean,
                         const double *scale) {
  long double x = X[i * d + j];
  return mean ? (x - mean[j]) / scale[j] : x;
}

/* Z = X'W + b, P = softmax(Z) (max subtracted), mag[i*k+c] = |b_c| +
   sum_j |x'_ij W_jc| (the scale of the rounding error of Z). Any output may
   be NULL. */
static void ref_forward(const double *X, size_t n, size_t d, size_t k, const long double *W,
                        const long double *b, const double *mean, const double *scale,
                        long double *Z, long double *P, long double *mag) {
  long double *z = xmalloc(k * sizeof *z);
  for (size_t i = 0; i < n; i++) {
    long double mx = -INFINITY;
    for (size_t c = 0; c < k; c++) {
      long double s = b[c], a = fabsl(b[c]);
      for (size_t j = 0; j < d; j++) {
        long double x = ref_x(X, i, j, d, mean, scale);
        s += x * W[j * k + c];
        a += fabsl(x * W[j * k + c]);
      }
      z[c] = s;
      if (s > mx) mx = s;
      if (Z) Z[i * k + c] = s;
      if (mag) mag[i * k + c] = a;
    }
    long double sum = 0;
    for (size_t c = 0; c < k; c++) sum += expl(z[c] - mx);
    if (P)
      for (size_t c = 0; c < k; c++) P[i * k + c] = expl(z[c] - mx) / sum;
  }
  free(z);
}

/* Mean CE: (1/n) sum_i logsumexp(z_i) - z_i[y_i]. */
static long double ref_loss(const long double *Z, const int32_t *y, size_t n, size_t k) {
  long double tot = 0;
  for (size_t i = 0; i < n; i++) {
    long double mx = -INFINITY, s = 0;
    for (size_t c = 0; c < k; c++)
      if (Z[i * k + c] > mx) mx = Z[i * k + c];
    for (size_t c = 0; c < k; c++) s += expl(Z[i * k + c] - mx);
    tot += mx + logl(s) - Z[i * k + (size_t)y[i]];
  }
  return tot / (long double)n;
}

/* dW = X'^T (P - Y) / n, db = colsum(P - Y) / n; magW/magb: sums of
   absolute terms (error scale). */
static void ref_backward(const double *X, const long double *P, const int32_t *y, size_t n,
                         size_t d, size_t k, const double *mean, const double *scale,
                         long double *dW, long double *db, long double *magW, long double *magb) {
  for (size_t i = 0; i < d * k; i++) dW[i] = magW[i] = 0;
  for (size_t c = 0; c < k; c++) db[c] = magb[c] = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t c = 0; c < k; c++) {
      long double g = (P[i * k + c] - (c == (size_t)y[i] ? 1.0L : 0.0L)) / (long double)n;
      db[c] += g;
      magb[c] += fabsl(g);
      for (size_t j = 0; j < d; j++) {
        long double x = ref_x(X, i, j, d, mean, scale);
        dW[j * k + c] += x * g;
        magW[j * k + c] += fabsl(x * g);
      }
    }
}

/* ------------------------------------------------------------------------ */
/* dtype-generic calls                                                        */
/* ------------------------------------------------------------------------ */

static smr_status forward_any(const smr_model *m, const void *X, size_t n, void *Z, void *P) {
  return smr_model_dtype(m) == SMR_F32 ? smr_forward_f32(m, X, n, Z, P)
                                       : smr_forward_f64(m, X, n, Z, P);
}
static smr_status backward_any(const smr_model *m, const void *X, const void *P,
                               const int32_t *y, size_t n, void *dW, void *db) {
  return smr_model_dtype(m) == SMR_F32 ? smr_backward_f32(m, X, P, y, n, dW, db)
                                       : smr_backward_f64(m, X, P, y, n, dW, db);
}
static smr_status predict_any(const smr_model *m, const void *X, size_t n, int32_t *y) {
  return smr_model_dtype(m) == SMR_F32 ? smr_predict_f32(m, X, n, y) : smr_predict_f64(m, X, n, y);
}
static smr_status proba_any(const smr_model *m, const void *X, size_t n, void *P) {
  return smr_model_dtype(m) == SMR_F32 ? smr_predict_proba_f32(m, X, n, P)
                                       : smr_predict_proba_f64(m, X, n, P);
}
static smr_status loss_any(const smr_model *m, const void *X, const int32_t *y, size_t n,
                           double *loss) {
  return smr_model_dtype(m) == SMR_F32 ? smr_loss_f32(m, X, y, n, loss)
                                       : smr_loss_f64(m, X, y, n, loss);
}

/* Standardization used by several tests: mean 0.5 + j/4, scale 0.5 + j/3. */
static void make_standardization(size_t d, double *mean, double *scale) {
  for (size_t j = 0; j < d; j++) {
    mean[j] = 0.5 + 0.25 * (double)j;
    scale[j] = 0.5 + (double)j / 3.0;
  }
}

/* ------------------------------------------------------------------------ */
/* Creation and accessors                                                    */
/* ------------------------------------------------------------------------ */

START_TEST(test_create_init_weights) {
  smr_dtype dt = dtypes[_i];
  const size_t d = 50, k = 200;
  const uint64_t seed = 12345;
  smr_model *m = NULL;
  ck_assert_int_eq(smr_model_create(&m, d, k, dt, 0.25, seed), SMR_OK);
  ck_assert_ptr_nonnull(m);
  ck_assert_uint_eq(smr_model_num_features(m), d);
  ck_assert_uint_eq(smr_model_num_classes(m), k);
  ck_assert_int_eq(smr_model_dtype(m), dt);
  ck_assert(smr_model_learning_rate(m) == 0.25);
  ck_assert_ptr_null(smr_model_feature_mean(m));
  ck_assert_ptr_null(smr_model_feature_scale(m));
  ck_assert_ptr_null(smr_model_class_name(m, 0));

  /* W = 0.01 * N(0,1) drawn in double in row-major order from the
     documented generator, then rounded to the dtype; b = 0. */
  smr_rng r;
  smr_rng_seed(&r, seed);
  double sum = 0, sumsq = 0;
  for (size_t i = 0; i < d * k; i++) {
    double w = 0.01 * smr_rng_normal(&r);
    double got = get_at(dt, smr_model_weights(m), i);
    if (dt == SMR_F32)
      ck_assert(got == (double)(float)w);
    else
      ck_assert(got == w);
    sum += got;
    sumsq += got * got;
  }
  for (size_t j = 0; j < k; j++) ck_assert(get_at(dt, smr_model_bias(m), j) == 0.0);
  /* Sample moments of 10000 draws: sd within 3%, mean within 4 sigma. */
  double mean = sum / (double)(d * k);
  double sd = sqrt(sumsq / (double)(d * k) - mean * mean);
  ck_assert_double_lt(fabs(mean), 4 * 0.01 / 100.0);
  ck_assert_double_lt(fabs(sd - 0.01), 0.0003);

  /* Same seed, same weights; another seed, other weights. */
  smr_model *m2 = NULL, *m3 = NULL;
  ck_assert_int_eq(smr_model_create(&m2, d, k, dt, 0.25, seed), SMR_OK);
  ck_assert_int_eq(smr_model_create(&m3, d, k, dt, 0.25, seed + 1), SMR_OK);
  ck_assert_mem_eq(smr_model_weights(m), smr_model_weights(m2), d * k * esize(dt));
  ck_assert(memcmp(smr_model_weights(m), smr_model_weights(m3), d * k * esize(dt)) != 0);
  smr_model_free(m);
  smr_model_free(m2);
  smr_model_free(m3);
}
END_TEST

START_TEST(test_create_errors) {
  smr_model *m = (smr_model *)&m; /* any non-NULL value: must become NULL */
  ck_assert_int_eq(smr_model_create(NULL, 2, 2, SMR_F64, 0.1, 0), SMR_EINVAL);
  ck_assert_int_eq(smr_model_create(&m, 0, 2, SMR_F64, 0.1, 0), SMR_EINVAL);
  ck_assert_ptr_null(m);
  m = (smr_model *)&m;
  ck_assert_int_eq(smr_model_create(&m, 2, 0, SMR_F64, 0.1, 0), SMR_EINVAL);
  ck_assert_ptr_null(m);
  m = (smr_model *)&m;
  ck_assert_int_eq(smr_model_create(&m, 1, (size_t)INT32_MAX + 1, SMR_F32, 0.1, 0), SMR_EINVAL);
  ck_assert_ptr_null(m);
  ck_assert_int_eq(smr_model_create(&m, 2, 2, (smr_dtype)7, 0.1, 0), SMR_EINVAL);
  ck_assert_int_eq(smr_model_create(&m, 2, 2, (smr_dtype)-1, 0.1, 0), SMR_EINVAL);
  const double bad_rates[] = {0.0, -0.1, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
    m = (smr_model *)&m;
    ck_assert_int_eq(smr_model_create(&m, 2, 2, SMR_F32, bad_rates[i], 0), SMR_EINVAL);
    ck_assert_ptr_null(m);
  }
  m = (smr_model *)&m;
  ck_assert_int_eq(smr_model_create(&m, SIZE_MAX / 2, 3, SMR_F64, 0.1, 0), SMR_EOVERFLOW);
  ck_assert_ptr_null(m);
  /* d*k fits in size_t, the bytes do not: no allocation can succeed. */
  m = (smr_model *)&m;
  ck_assert_int_eq(smr_model_create(&m, SIZE_MAX / 16, 2, SMR_F64, 0.1, 0), SMR_ENOMEM);
  ck_assert_ptr_null(m);
  /* The smallest valid model. */
  ck_assert_int_eq(smr_model_create(&m, 1, 1, SMR_F32, 1e-300, 0), SMR_OK);
  smr_model_free(m);
}
END_TEST

START_TEST(test_null_model_getters) {
  smr_model_free(NULL);
  ck_assert_uint_eq(smr_model_num_features(NULL), 0);
  ck_assert_uint_eq(smr_model_num_classes(NULL), 0);
  ck_assert_int_eq(smr_model_dtype(NULL), SMR_F32);
  ck_assert(smr_model_learning_rate(NULL) == 0.0);
  ck_assert_ptr_null(smr_model_weights(NULL));
  ck_assert_ptr_null(smr_model_bias(NULL));
  ck_assert_ptr_null(smr_model_feature_mean(NULL));
  ck_assert_ptr_null(smr_model_feature_scale(NULL));
  ck_assert_ptr_null(smr_model_class_name(NULL, 0));
  ck_assert_int_eq(smr_model_set_learning_rate(NULL, 0.1), SMR_EINVAL);
  ck_assert_int_eq(smr_model_set_standardization(NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_model_set_class_names(NULL, NULL), SMR_EINVAL);
}
END_TEST

START_TEST(test_learning_rate) {
  smr_model *m = NULL;
  ck_assert_int_eq(smr_model_create(&m, 3, 2, SMR_F64, 0.1, 1), SMR_OK);
  ck_assert_int_eq(smr_model_set_learning_rate(m, 0.5), SMR_OK);
  ck_assert(smr_model_learning_rate(m) == 0.5);
  const double bad[] = {0.0, -1.0, NAN, INFINITY};
  for (size_t i = 0; i < 4; i++) {
    ck_assert_int_eq(smr_model_set_learning_rate(m, bad[i]), SMR_EINVAL);
    ck_assert(smr_model_learning_rate(m) == 0.5);
  }
  smr_model_free(m);
}
END_TEST

START_TEST(test_standardization_accessors) {
  const size_t d = 3;
  smr_model *m = NULL;
  ck_assert_int_eq(smr_model_create(&m, d, 2, SMR_F32, 0.1, 1), SMR_OK);
  double mean[3] = {1, -2, 3}, scale[3] = {0.5, 2, 1e-3};
  ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  const double *gm = smr_model_feature_mean(m), *gs = smr_model_feature_scale(m);
  ck_assert_ptr_nonnull(gm);
  ck_assert_ptr_nonnull(gs);
  ck_assert_ptr_ne(gm, mean);
  ck_assert_ptr_ne(gs, scale);
  ck_assert_mem_eq(gm, mean, sizeof mean);
  ck_assert_mem_eq(gs, scale, sizeof scale);
  /* The model holds copies. */
  mean[0] = 99;
  scale[0] = 99;
  ck_assert(smr_model_feature_mean(m)[0] == 1.0);
  ck_assert(smr_model_feature_scale(m)[0] == 0.5);

  /* Invalid input leaves the stored arrays as they were. */
  double ok_mean[3] = {0, 0, 0}, ok_scale[3] = {1, 1, 1};
  const double bad_scale[][3] = {{1, 0, 1}, {1, -1, 1}, {1, INFINITY, 1}, {NAN, 1, 1}};
  const double bad_mean[][3] = {{0, NAN, 0}, {0, 0, INFINITY}, {-INFINITY, 0, 0}};
  for (size_t i = 0; i < 4; i++)
    ck_assert_int_eq(smr_model_set_standardization(m, ok_mean, bad_scale[i]), SMR_EINVAL);
  for (size_t i = 0; i < 3; i++)
    ck_assert_int_eq(smr_model_set_standardization(m, bad_mean[i], ok_scale), SMR_EINVAL);
  ck_assert_int_eq(smr_model_set_standardization(m, ok_mean, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_model_set_standardization(m, NULL, ok_scale), SMR_EINVAL);
  ck_assert(smr_model_feature_mean(m)[0] == 1.0);
  ck_assert(smr_model_feature_scale(m)[2] == 1e-3);

  ck_assert_int_eq(smr_model_set_standardization(m, NULL, NULL), SMR_OK);
  ck_assert_ptr_null(smr_model_feature_mean(m));
  ck_assert_ptr_null(smr_model_feature_scale(m));
  smr_model_free(m);
}
END_TEST

START_TEST(test_class_names) {
  smr_model *m = NULL;
  ck_assert_int_eq(smr_model_create(&m, 2, 3, SMR_F64, 0.1, 1), SMR_OK);
  char a[] = "setosa", b[] = "", c[] = "virginica";
  const char *names[3] = {a, b, c};
  ck_assert_int_eq(smr_model_set_class_names(m, names), SMR_OK);
  ck_assert_str_eq(smr_model_class_name(m, 0), "setosa");
  ck_assert_str_eq(smr_model_class_name(m, 1), "");
  ck_assert_str_eq(smr_model_class_name(m, 2), "virginica");
  ck_assert_ptr_ne(smr_model_class_name(m, 0), a);
  ck_assert_ptr_null(smr_model_class_name(m, 3));
  ck_assert_ptr_null(smr_model_class_name(m, SIZE_MAX));
  a[0] = 'X'; /* copied */
  ck_assert_str_eq(smr_model_class_name(m, 0), "setosa");

  /* A NULL entry or an over-long name: EINVAL, the old names stay. */
  const char *with_null[3] = {"x", NULL, "z"};
  ck_assert_int_eq(smr_model_set_class_names(m, with_null), SMR_EINVAL);
  char *longname = xmalloc(SMR_MAX_NAME_LEN + 2);
  memset(longname, 'n', SMR_MAX_NAME_LEN + 1);
  longname[SMR_MAX_NAME_LEN + 1] = '\0';
  const char *too_long[3] = {"x", longname, "z"};
  ck_assert_int_eq(smr_model_set_class_names(m, too_long), SMR_EINVAL);
  ck_assert_str_eq(smr_model_class_name(m, 2), "virginica");
  longname[SMR_MAX_NAME_LEN] = '\0'; /* exactly the maximum: fine */
  ck_assert_int_eq(smr_model_set_class_names(m, too_long), SMR_OK);
  ck_assert_uint_eq(strlen(smr_model_class_name(m, 1)), SMR_MAX_NAME_LEN);
  free(longname);

  ck_assert_int_eq(smr_model_set_class_names(m, NULL), SMR_OK);
  ck_assert_ptr_null(smr_model_class_name(m, 0));
  smr_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Forward, predict_proba, loss vs the long-double reference                */
/* ------------------------------------------------------------------------ */

/* Forward on n = 300 rows (more than one workspace block), with and without
   a standardization, checking Z and P against the reference within a
   rounding bound proportional to the magnitude of the terms. */
START_TEST(test_forward_vs_reference) {
  smr_dtype dt = dtypes[_i / 2];
  bool standardized = _i % 2;
  const size_t n = 300, d = 7, k = 5;
  const double eps = eps_of(dt);
  smr_model *m = random_model(dt, d, k, 0.7, 11);
  double mean[7], scale[7];
  make_standardization(d, mean, scale);
  if (standardized) ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  double *Xd = xmalloc(n * d * sizeof *Xd);
  fill_normal(Xd, n * d, 0.5, 1.5, 12);
  void *X = as_dtype(dt, Xd, n * d);
  long double W[35], b[5];
  get_params_ld(m, W, b);
  long double *Zr = xmalloc(n * k * sizeof *Zr), *Pr = xmalloc(n * k * sizeof *Pr),
              *mag = xmalloc(n * k * sizeof *mag);
  ref_forward(Xd, n, d, k, W, b, standardized ? mean : NULL, standardized ? scale : NULL, Zr, Pr,
              mag);

  void *Z = xmalloc(n * k * esize(dt)), *P = xmalloc(n * k * esize(dt));
  ck_assert_int_eq(forward_any(m, X, n, Z, P), SMR_OK);
  for (size_t i = 0; i < n * k; i++) {
    double tz = 4.0 * (double)(d + 3) * eps * (double)mag[i] + 1e-300;
    ck_assert_msg(fabsl(get_at(dt, Z, i) - Zr[i]) <= tz, "Z[%zu] = %.17g, ref %.17Lg", i,
                  get_at(dt, Z, i), Zr[i]);
    ck_assert_msg(fabsl(get_at(dt, P, i) - Pr[i]) <= tz + 8 * eps, "P[%zu] = %.17g, ref %.17Lg",
                  i, get_at(dt, P, i), Pr[i]);
  }
  /* Rows of P sum to 1 and are positive. */
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    for (size_t c = 0; c < k; c++) {
      ck_assert(get_at(dt, P, i * k + c) > 0.0);
      s += get_at(dt, P, i * k + c);
    }
    ck_assert_double_le(fabs(s - 1.0), 8 * eps);
  }

  /* Z only, P only (== predict_proba), and Z == P (the buffer ends as P). */
  void *Z2 = xmalloc(n * k * esize(dt)), *P2 = xmalloc(n * k * esize(dt));
  ck_assert_int_eq(forward_any(m, X, n, Z2, NULL), SMR_OK);
  ck_assert_mem_eq(Z2, Z, n * k * esize(dt));
  ck_assert_int_eq(forward_any(m, X, n, NULL, P2), SMR_OK);
  ck_assert_mem_eq(P2, P, n * k * esize(dt));
  memset(P2, 0, n * k * esize(dt));
  ck_assert_int_eq(proba_any(m, X, n, P2), SMR_OK);
  ck_assert_mem_eq(P2, P, n * k * esize(dt));
  ck_assert_int_eq(forward_any(m, X, n, Z2, Z2), SMR_OK);
  ck_assert_mem_eq(Z2, P, n * k * esize(dt));

  /* The same model without standardization on pre-standardized rows gives
     the same probabilities (up to the rounding of x'). */
  if (standardized) {
    double *Xs = xmalloc(n * d * sizeof *Xs);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < d; j++) Xs[i * d + j] = (Xd[i * d + j] - mean[j]) / scale[j];
    void *Xst = as_dtype(dt, Xs, n * d);
    ck_assert_int_eq(smr_model_set_standardization(m, NULL, NULL), SMR_OK);
    ck_assert_int_eq(proba_any(m, Xst, n, P2), SMR_OK);
    for (size_t i = 0; i < n * k; i++)
      ck_assert_double_le(fabs(get_at(dt, P2, i) - get_at(dt, P, i)), 64 * eps);
    free(Xs);
    free(Xst);
  }

  free(Xd);
  free(X);
  free(Zr);
  free(Pr);
  free(mag);
  free(Z);
  free(P);
  free(Z2);
  free(P2);
  smr_model_free(m);
}
END_TEST

/* smr_loss_f64 where every row's CE is finite (1.5e308) but their sum is
   not: the mean must be reported, not +inf (issue 14, finding 10). The
   logits of row i are x_i W + b = [1e308, -5e307]: CE = 1.5e308 exactly up
   to rounding. The 300 rows are one row block whose own sum overflows, so
   it is summed again as row / n. */
START_TEST(test_loss_mean_not_sum_overflow) {
  smr_model *m = NULL;
  ck_assert_int_eq(smr_model_create(&m, 1, 2, SMR_F64, 0.1, 1), SMR_OK);
  double *W = smr_model_weights(m), *b = smr_model_bias(m);
  W[0] = 1e308;
  W[1] = -5e307;
  b[0] = b[1] = 0.0;
  enum { N = 300 };
  double X[N];
  int32_t y[N];
  for (int i = 0; i < N; i++) {
    X[i] = 1.0;
    y[i] = 1;
  }
  double loss = 0.0;
  ck_assert_int_eq(smr_loss_f64(m, X, y, N, &loss), SMR_OK);
  ck_assert_msg(isfinite(loss) && fabs(loss - 1.5e308) <= N * DBL_EPSILON * 1.5e308,
                "loss %.17g", loss);
  /* a row whose own CE overflows keeps the mean infinite */
  X[7] = 1.2;
  ck_assert_int_eq(smr_loss_f64(m, X, y, N, &loss), SMR_OK);
  ck_assert(loss == INFINITY);
  smr_model_free(m);
}
END_TEST

START_TEST(test_loss_vs_reference) {
  smr_dtype dt = dtypes[_i / 2];
  bool standardized = _i % 2;
  const size_t n = 700, d = 4, k = 3;
  smr_model *m = random_model(dt, d, k, 1.0, 21);
  double mean[4], scale[4];
  make_standardization(d, mean, scale);
  if (standardized) ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  double *Xd = xmalloc(n * d * sizeof *Xd);
  fill_normal(Xd, n * d, 0.0, 2.0, 22);
  void *X = as_dtype(dt, Xd, n * d);
  int32_t *y = xmalloc(n * sizeof *y);
  fill_labels(y, n, k, 23);
  long double W[12], b[3];
  get_params_ld(m, W, b);
  long double *Zr = xmalloc(n * k * sizeof *Zr);
  ref_forward(Xd, n, d, k, W, b, standardized ? mean : NULL, standardized ? scale : NULL, Zr,
              NULL, NULL);
  long double ref = ref_loss(Zr, y, n, k);
  double loss = -1;
  ck_assert_int_eq(loss_any(m, X, y, n, &loss), SMR_OK);
  double tol = dt == SMR_F32 ? 1e-5 : 1e-13;
  ck_assert_msg(fabsl(loss - ref) <= tol * fabsl(ref), "loss %.17g ref %.17Lg", loss, ref);
  /* n = 0: loss 0, no data needed. */
  ck_assert_int_eq(loss_any(m, NULL, NULL, 0, &loss), SMR_OK);
  ck_assert(loss == 0.0);
  free(Xd);
  free(X);
  free(y);
  free(Zr);
  smr_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Backward                                                                  */
/* ------------------------------------------------------------------------ */

/* dW and db against the reference for P given (the library's P, so the
   test isolates backward), with and without standardization, n = 600
   (three workspace blocks). */
START_TEST(test_backward_vs_reference) {
  smr_dtype dt = dtypes[_i / 2];
  bool standardized = _i % 2;
  const size_t n = 600, d = 6, k = 4;
  const double eps = eps_of(dt);
  smr_model *m = random_model(dt, d, k, 0.5, 31);
  double mean[6], scale[6];
  make_standardization(d, mean, scale);
  if (standardized) ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  double *Xd = xmalloc(n * d * sizeof *Xd);
  fill_normal(Xd, n * d, 1.0, 1.0, 32);
  void *X = as_dtype(dt, Xd, n * d);
  int32_t *y = xmalloc(n * sizeof *y);
  fill_labels(y, n, k, 33);
  void *P = xmalloc(n * k * esize(dt));
  ck_assert_int_eq(forward_any(m, X, n, NULL, P), SMR_OK);
  long double *Pl = xmalloc(n * k * sizeof *Pl);
  for (size_t i = 0; i < n * k; i++) Pl[i] = get_at(dt, P, i);
  long double dWr[24], dbr[4], magW[24], magb[4];
  ref_backward(Xd, Pl, y, n, d, k, standardized ? mean : NULL, standardized ? scale : NULL, dWr,
               dbr, magW, magb);

  void *dW = xmalloc(d * k * esize(dt)), *db = xmalloc(k * esize(dt));
  ck_assert_int_eq(backward_any(m, X, P, y, n, dW, db), SMR_OK);
  /* Rounding bound: a few eps per term of the sums (n terms). */
  double c = 4.0 * (double)n * eps;
  for (size_t i = 0; i < d * k; i++)
    ck_assert_msg(fabsl(get_at(dt, dW, i) - dWr[i]) <= c * magW[i] + 1e-300,
                  "dW[%zu] = %.17g ref %.17Lg", i, get_at(dt, dW, i), dWr[i]);
  for (size_t j = 0; j < k; j++)
    ck_assert_msg(fabsl(get_at(dt, db, j) - dbr[j]) <= c * magb[j] + 1e-300,
                  "db[%zu] = %.17g ref %.17Lg", j, get_at(dt, db, j), dbr[j]);
  free(Xd);
  free(X);
  free(y);
  free(P);
  free(Pl);
  free(dW);
  free(db);
  smr_model_free(m);
}
END_TEST

/* The seed's "gradient shape" case: dW is exactly d x k and db exactly k
   (guard values around both buffers stay intact, every entry in between is
   written), also for n = 0 (zeros). */
START_TEST(test_gradient_shapes) {
  smr_dtype dt = dtypes[_i];
  const size_t n = 9, d = 5, k = 3, G = 16;
  const double guard = 777.25;
  smr_model *m = random_model(dt, d, k, 0.3, 41);
  double *Xd = xmalloc(n * d * sizeof *Xd);
  fill_normal(Xd, n * d, 0.0, 1.0, 42);
  void *X = as_dtype(dt, Xd, n * d);
  int32_t y[9];
  fill_labels(y, n, k, 43);
  void *P = xmalloc(n * k * esize(dt));
  ck_assert_int_eq(forward_any(m, X, n, NULL, P), SMR_OK);
  size_t nW = d * k + 2 * G, nb = k + 2 * G;
  void *bufW = xmalloc(nW * esize(dt)), *bufb = xmalloc(nb * esize(dt));
  for (size_t rep = 0; rep < 2; rep++) {
    size_t rows = rep == 0 ? n : 0;
    for (size_t i = 0; i < nW; i++) set_at(dt, bufW, i, guard);
    for (size_t i = 0; i < nb; i++) set_at(dt, bufb, i, guard);
    char *w0 = (char *)bufW + G * esize(dt), *b0 = (char *)bufb + G * esize(dt);
    ck_assert_int_eq(backward_any(m, rows ? X : NULL, rows ? P : NULL, rows ? y : NULL, rows, w0,
                                  b0),
                     SMR_OK);
    for (size_t i = 0; i < nW; i++) {
      bool inside = i >= G && i < G + d * k;
      double v = get_at(dt, bufW, i);
      if (inside)
        ck_assert_msg(v != guard && (rows || v == 0.0), "dW[%zu] not written", i - G);
      else
        ck_assert_msg(v == guard, "guard %zu of dW overwritten", i);
    }
    for (size_t i = 0; i < nb; i++) {
      bool inside = i >= G && i < G + k;
      double v = get_at(dt, bufb, i);
      if (inside)
        ck_assert_msg(v != guard && (rows || v == 0.0), "db[%zu] not written", i - G);
      else
        ck_assert_msg(v == guard, "guard %zu of db overwritten", i);
    }
  }
  /* Forward and predict also write exactly n x k and n entries. */
  void *bufZ = xmalloc((n * k + 2 * G) * esize(dt));
  for (size_t i = 0; i < n * k + 2 * G; i++) set_at(dt, bufZ, i, guard);
  ck_assert_int_eq(forward_any(m, X, n, (char *)bufZ + G * esize(dt), NULL), SMR_OK);
  for (size_t i = 0; i < n * k + 2 * G; i++)
    ck_assert((get_at(dt, bufZ, i) == guard) == (i < G || i >= G + n * k));
  int32_t lab[9 + 2 * 16];
  for (size_t i = 0; i < n + 2 * G; i++) lab[i] = -7;
  ck_assert_int_eq(predict_any(m, X, n, lab + G), SMR_OK);
  for (size_t i = 0; i < n + 2 * G; i++)
    ck_assert((lab[i] == -7) == (i < G || i >= G + n));
  free(Xd);
  free(X);
  free(P);
  free(bufW);
  free(bufb);
  free(bufZ);
  smr_model_free(m);
}
END_TEST

/* Central differences of smr_loss_f64 over every W and b entry. */
static void numerical_gradient_check(bool standardized) {
  const size_t n = 40, d = 4, k = 3;
  const double h = 1e-6, tiny = 1e-12;
  smr_model *m = random_model(SMR_F64, d, k, 0.5, 51);
  double mean[4], scale[4];
  make_standardization(d, mean, scale);
  if (standardized) ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  double *X = xmalloc(n * d * sizeof *X);
  fill_normal(X, n * d, 0.5, 1.0, 52);
  int32_t y[40];
  fill_labels(y, n, k, 53);
  double P[120], dW[12], db[3];
  ck_assert_int_eq(smr_forward_f64(m, X, n, NULL, P), SMR_OK);
  ck_assert_int_eq(smr_backward_f64(m, X, P, y, n, dW, db), SMR_OK);

  double *params[2] = {smr_model_weights(m), smr_model_bias(m)};
  const double *grads[2] = {dW, db};
  size_t counts[2] = {d * k, k};
  for (size_t g = 0; g < 2; g++)
    for (size_t i = 0; i < counts[g]; i++) {
      double saved = params[g][i], lp, lm;
      params[g][i] = saved + h;
      ck_assert_int_eq(smr_loss_f64(m, X, y, n, &lp), SMR_OK);
      params[g][i] = saved - h;
      ck_assert_int_eq(smr_loss_f64(m, X, y, n, &lm), SMR_OK);
      params[g][i] = saved;
      double num = (lp - lm) / (2 * h), ana = grads[g][i];
      /* well-conditioned data: no entry so small that rounding dominates */
      ck_assert_double_gt(fabs(ana), 1e-3);
      double rel = fabs(ana - num) / fmax(fmax(fabs(ana), fabs(num)), tiny);
      ck_assert_msg(rel <= 1e-7, "%s[%zu]: analytic %.12g numeric %.12g rel %.3g",
                    g ? "db" : "dW", i, ana, num, rel);
    }
  free(X);
  smr_model_free(m);
}

START_TEST(test_numerical_gradient_check) { numerical_gradient_check(false); }
END_TEST

START_TEST(test_backward_with_standardization) { numerical_gradient_check(true); }
END_TEST

/* ------------------------------------------------------------------------ */
/* Predict                                                                   */
/* ------------------------------------------------------------------------ */

static int32_t first_argmax(smr_dtype dt, const void *P, size_t i, size_t k) {
  size_t best = 0;
  for (size_t c = 0; c < k; c++) {
    double v = get_at(dt, P, i * k + c);
    if (isnan(v)) return -1;
    if (v > get_at(dt, P, i * k + best)) best = c;
  }
  return (int32_t)best;
}

/* The seed's integration case "predict vs predict_proba": predict ==
   argmax(predict_proba) for every row (n = 600 crosses workspace blocks),
   with ties (identical class columns), NaN rows (-1) and inf features. */
START_TEST(test_predict_equals_argmax_proba) {
  smr_dtype dt = dtypes[_i / 2];
  bool standardized = _i % 2;
  const size_t n = 600, d = 3, k = 4;
  smr_model *m = random_model(dt, d, k, 1.0, 61);
  /* Classes 1 and 2 identical: exact ties, first index wins. */
  for (size_t j = 0; j < d; j++)
    set_at(dt, smr_model_weights(m), j * k + 2, get_at(dt, smr_model_weights(m), j * k + 1));
  set_at(dt, smr_model_bias(m), 2, get_at(dt, smr_model_bias(m), 1));
  double mean[3], scale[3];
  make_standardization(d, mean, scale);
  if (standardized) ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  double *Xd = xmalloc(n * d * sizeof *Xd);
  fill_normal(Xd, n * d, 0.0, 3.0, 62);
  Xd[5 * d + 1] = NAN;
  Xd[300 * d + 0] = NAN;
  Xd[599 * d + 2] = NAN;
  Xd[10 * d + 0] = INFINITY;
  void *X = as_dtype(dt, Xd, n * d);
  void *P = xmalloc(n * k * esize(dt));
  int32_t *lab = xmalloc(n * sizeof *lab);
  ck_assert_int_eq(proba_any(m, X, n, P), SMR_OK);
  ck_assert_int_eq(predict_any(m, X, n, lab), SMR_OK);
  size_t nan_rows = 0, ties = 0;
  for (size_t i = 0; i < n; i++) {
    ck_assert_int_eq(lab[i], first_argmax(dt, P, i, k));
    if (lab[i] == -1) nan_rows++;
    if (lab[i] == 1) ties++;
    ck_assert_int_ne(lab[i], 2); /* never the second of a tie */
  }
  ck_assert_uint_eq(nan_rows, 3);
  ck_assert_uint_gt(ties, 0);
  ck_assert_int_eq(lab[5], -1);
  ck_assert_int_eq(lab[300], -1);
  ck_assert_int_eq(lab[599], -1);
  free(Xd);
  free(X);
  free(P);
  free(lab);
  smr_model_free(m);
}
END_TEST

/* The seed's "two classes behave like logistic regression": with K = 2,
   p_1 = sigmoid(z_1 - z_0), computed here from the weights. */
START_TEST(test_two_classes_logistic) {
  smr_dtype dt = dtypes[_i];
  const size_t n = 200, d = 3, k = 2;
  smr_model *m = random_model(dt, d, k, 1.0, 71);
  double *Xd = xmalloc(n * d * sizeof *Xd);
  fill_normal(Xd, n * d, 0.0, 2.0, 72);
  void *X = as_dtype(dt, Xd, n * d);
  void *P = xmalloc(n * k * esize(dt));
  ck_assert_int_eq(proba_any(m, X, n, P), SMR_OK);
  long double W[6], b[2];
  get_params_ld(m, W, b);
  for (size_t i = 0; i < n; i++) {
    long double t = b[1] - b[0];
    for (size_t j = 0; j < d; j++) t += Xd[i * d + j] * (W[j * k + 1] - W[j * k + 0]);
    long double p1 = 1.0L / (1.0L + expl(-t));
    double tol = dt == SMR_F32 ? 1e-5 : 1e-14;
    ck_assert_msg(fabsl(get_at(dt, P, i * k + 1) - p1) <= tol, "row %zu: %.17g vs %.17Lg", i,
                  get_at(dt, P, i * k + 1), p1);
    ck_assert_msg(fabsl(get_at(dt, P, i * k + 0) - (1.0L - p1)) <= tol, "row %zu", i);
  }
  free(Xd);
  free(X);
  free(P);
  smr_model_free(m);
}
END_TEST

/* The seed's edge cases on the model side: n = 1 and d = 1. */
START_TEST(test_single_sample_single_feature) {
  smr_dtype dt = dtypes[_i];
  const size_t shapes[2][2] = {{1, 4}, {5, 1}}; /* {n, d} */
  for (size_t s = 0; s < 2; s++) {
    size_t n = shapes[s][0], d = shapes[s][1], k = 3;
    smr_model *m = random_model(dt, d, k, 0.8, 81 + s);
    double Xd[20];
    fill_normal(Xd, n * d, 0.0, 1.0, 82 + s);
    void *X = as_dtype(dt, Xd, n * d);
    int32_t y[5];
    fill_labels(y, n, k, 83 + s);
    long double W[12], b[3], Zr[15], Pr[15], mag[15], dWr[12], dbr[3], mW[12], mb[3];
    get_params_ld(m, W, b);
    ref_forward(Xd, n, d, k, W, b, NULL, NULL, Zr, Pr, mag);
    void *P = xmalloc(n * k * esize(dt)), *dW = xmalloc(d * k * esize(dt)),
         *db = xmalloc(k * esize(dt));
    ck_assert_int_eq(forward_any(m, X, n, NULL, P), SMR_OK);
    long double Pl[15];
    for (size_t i = 0; i < n * k; i++) {
      Pl[i] = get_at(dt, P, i);
      ck_assert_double_le(fabsl(Pl[i] - Pr[i]), 16 * eps_of(dt) * (1 + mag[i]));
    }
    ck_assert_int_eq(backward_any(m, X, P, y, n, dW, db), SMR_OK);
    ref_backward(Xd, Pl, y, n, d, k, NULL, NULL, dWr, dbr, mW, mb);
    for (size_t i = 0; i < d * k; i++)
      ck_assert_double_le(fabsl(get_at(dt, dW, i) - dWr[i]), 16 * eps_of(dt) * (mW[i] + 1e-30));
    for (size_t j = 0; j < k; j++)
      ck_assert_double_le(fabsl(get_at(dt, db, j) - dbr[j]), 16 * eps_of(dt) * (mb[j] + 1e-30));
    double loss;
    ck_assert_int_eq(loss_any(m, X, y, n, &loss), SMR_OK);
    ck_assert_double_le(fabsl(loss - ref_loss(Zr, y, n, k)), 1e-5 * fabsl(ref_loss(Zr, y, n, k)));
    free(X);
    free(P);
    free(dW);
    free(db);
    smr_model_free(m);
  }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Edge cases and error paths                                                */
/* ------------------------------------------------------------------------ */

START_TEST(test_n_zero) {
  smr_dtype dt = dtypes[_i];
  smr_model *m = random_model(dt, 2, 3, 1.0, 91);
  double z[6] = {0};
  ck_assert_int_eq(forward_any(m, NULL, 0, z, NULL), SMR_OK);
  ck_assert_int_eq(forward_any(m, NULL, 0, NULL, z), SMR_OK);
  ck_assert_int_eq(proba_any(m, NULL, 0, NULL), SMR_OK);
  ck_assert_int_eq(predict_any(m, NULL, 0, NULL), SMR_OK);
  double loss = 5;
  ck_assert_int_eq(loss_any(m, NULL, NULL, 0, &loss), SMR_OK);
  ck_assert(loss == 0.0);
  /* backward with n = 0: dW = db = 0 */
  double dW[6], db[3];
  for (size_t i = 0; i < 6; i++) dW[i] = 3;
  for (size_t i = 0; i < 3; i++) db[i] = 3;
  ck_assert_int_eq(backward_any(m, NULL, NULL, NULL, 0, dW, db), SMR_OK);
  for (size_t i = 0; i < 6; i++) ck_assert(get_at(dt, dW, i) == 0.0);
  for (size_t i = 0; i < 3; i++) ck_assert(get_at(dt, db, i) == 0.0);
  smr_model_free(m);
}
END_TEST

/* _f32 functions on an f64 model and vice versa: SMR_EINVAL, nothing
   written. */
START_TEST(test_dtype_mismatch) {
  smr_model *m32 = random_model(SMR_F32, 2, 2, 1.0, 101);
  smr_model *m64 = random_model(SMR_F64, 2, 2, 1.0, 102);
  float xf[4] = {1, 2, 3, 4}, zf[4] = {9, 9, 9, 9}, pf[4] = {9, 9, 9, 9}, wf[4], bf[2];
  double xd[4] = {1, 2, 3, 4}, zd[4] = {9, 9, 9, 9}, pd[4] = {9, 9, 9, 9}, wd[4], bd[2];
  int32_t y[2] = {0, 1}, lab[2] = {-5, -5};
  double loss = -5;
  ck_assert_int_eq(smr_forward_f32(m64, xf, 2, zf, pf), SMR_EINVAL);
  ck_assert_int_eq(smr_forward_f64(m32, xd, 2, zd, pd), SMR_EINVAL);
  ck_assert_int_eq(smr_predict_proba_f32(m64, xf, 2, pf), SMR_EINVAL);
  ck_assert_int_eq(smr_predict_proba_f64(m32, xd, 2, pd), SMR_EINVAL);
  ck_assert_int_eq(smr_predict_f32(m64, xf, 2, lab), SMR_EINVAL);
  ck_assert_int_eq(smr_predict_f64(m32, xd, 2, lab), SMR_EINVAL);
  ck_assert_int_eq(smr_loss_f32(m64, xf, y, 2, &loss), SMR_EINVAL);
  ck_assert_int_eq(smr_loss_f64(m32, xd, y, 2, &loss), SMR_EINVAL);
  ck_assert_int_eq(smr_backward_f32(m64, xf, pf, y, 2, wf, bf), SMR_EINVAL);
  ck_assert_int_eq(smr_backward_f64(m32, xd, pd, y, 2, wd, bd), SMR_EINVAL);
  /* also with n = 0 */
  ck_assert_int_eq(smr_forward_f32(m64, NULL, 0, zf, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_predict_f64(m32, NULL, 0, NULL), SMR_EINVAL);
  for (size_t i = 0; i < 4; i++) {
    ck_assert(zf[i] == 9 && pf[i] == 9 && zd[i] == 9 && pd[i] == 9);
  }
  ck_assert(lab[0] == -5 && loss == -5);
  smr_model_free(m32);
  smr_model_free(m64);
}
END_TEST

START_TEST(test_null_arguments) {
  smr_dtype dt = dtypes[_i];
  smr_model *m = random_model(dt, 2, 2, 1.0, 111);
  double X[4] = {0}, Z[4], P[4] = {0.5, 0.5, 0.5, 0.5}, dW[4], db[2], loss;
  int32_t y[2] = {0, 1}, lab[2];
  ck_assert_int_eq(forward_any(NULL, X, 2, Z, P), SMR_EINVAL);
  ck_assert_int_eq(forward_any(m, X, 2, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(forward_any(m, NULL, 2, Z, P), SMR_EINVAL);
  ck_assert_int_eq(proba_any(m, X, 2, NULL), SMR_EINVAL);
  ck_assert_int_eq(proba_any(m, NULL, 2, P), SMR_EINVAL);
  ck_assert_int_eq(predict_any(m, X, 2, NULL), SMR_EINVAL);
  ck_assert_int_eq(predict_any(m, NULL, 2, lab), SMR_EINVAL);
  ck_assert_int_eq(loss_any(m, X, y, 2, NULL), SMR_EINVAL);
  ck_assert_int_eq(loss_any(m, NULL, y, 2, &loss), SMR_EINVAL);
  ck_assert_int_eq(loss_any(m, X, NULL, 2, &loss), SMR_EINVAL);
  ck_assert_int_eq(backward_any(m, X, P, y, 2, NULL, db), SMR_EINVAL);
  ck_assert_int_eq(backward_any(m, X, P, y, 2, dW, NULL), SMR_EINVAL);
  ck_assert_int_eq(backward_any(m, NULL, P, y, 2, dW, db), SMR_EINVAL);
  ck_assert_int_eq(backward_any(m, X, NULL, y, 2, dW, db), SMR_EINVAL);
  ck_assert_int_eq(backward_any(m, X, P, NULL, 2, dW, db), SMR_EINVAL);
  /* NULL model, every function, both dtypes */
  ck_assert_int_eq(smr_predict_f32(NULL, NULL, 0, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_predict_proba_f64(NULL, NULL, 0, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_loss_f32(NULL, NULL, NULL, 0, &loss), SMR_EINVAL);
  ck_assert_int_eq(smr_backward_f64(NULL, NULL, NULL, NULL, 0, dW, db), SMR_EINVAL);
  smr_model_free(m);
}
END_TEST

/* A label outside [0, k): SMR_ERANGE and nothing written. */
START_TEST(test_label_range) {
  smr_dtype dt = dtypes[_i];
  const size_t n = 4, d = 2, k = 3;
  smr_model *m = random_model(dt, d, k, 1.0, 121);
  double Xd[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  void *X = as_dtype(dt, Xd, n * d);
  void *P = xmalloc(n * k * esize(dt));
  ck_assert_int_eq(forward_any(m, X, n, NULL, P), SMR_OK);
  const int32_t bad[3][4] = {{0, 1, 3, 2}, {-1, 0, 0, 0}, {0, 0, 0, INT32_MIN}};
  for (size_t t = 0; t < 3; t++) {
    double dW[6], db[3], loss = 42;
    for (size_t i = 0; i < 6; i++) set_at(dt, dW, i, 5.0);
    for (size_t i = 0; i < 3; i++) set_at(dt, db, i, 5.0);
    ck_assert_int_eq(backward_any(m, X, P, bad[t], n, dW, db), SMR_ERANGE);
    for (size_t i = 0; i < 6; i++) ck_assert(get_at(dt, dW, i) == 5.0);
    for (size_t i = 0; i < 3; i++) ck_assert(get_at(dt, db, i) == 5.0);
    ck_assert_int_eq(loss_any(m, X, bad[t], n, &loss), SMR_ERANGE);
    ck_assert(loss == 42);
  }
  free(X);
  free(P);
  smr_model_free(m);
}
END_TEST

/* n * d or n * k beyond size_t: SMR_EOVERFLOW before any access (the data
   pointers are tiny on purpose). */
START_TEST(test_size_overflow) {
  smr_dtype dt = dtypes[_i];
  smr_model *m = random_model(dt, 3, 3, 1.0, 131);
  double small[9] = {0}, loss = 0;
  int32_t lab[9] = {0};
  const size_t huge[2] = {SIZE_MAX / 2 + 1, SIZE_MAX};
  for (size_t t = 0; t < 2; t++) {
    size_t n = huge[t];
    ck_assert_int_eq(forward_any(m, small, n, small, NULL), SMR_EOVERFLOW);
    ck_assert_int_eq(forward_any(m, small, n, NULL, small), SMR_EOVERFLOW);
    ck_assert_int_eq(proba_any(m, small, n, small), SMR_EOVERFLOW);
    ck_assert_int_eq(predict_any(m, small, n, lab), SMR_EOVERFLOW);
    ck_assert_int_eq(loss_any(m, small, lab, n, &loss), SMR_EOVERFLOW);
    ck_assert_int_eq(backward_any(m, small, small, lab, n, small, small), SMR_EOVERFLOW);
  }
  smr_model_free(m);
}
END_TEST

/* Inputs are never modified (X, P, labels), with a standardization. */
START_TEST(test_inputs_not_modified) {
  smr_dtype dt = dtypes[_i];
  const size_t n = 300, d = 3, k = 3;
  smr_model *m = random_model(dt, d, k, 1.0, 141);
  double mean[3], scale[3];
  make_standardization(d, mean, scale);
  ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  double *Xd = xmalloc(n * d * sizeof *Xd);
  fill_normal(Xd, n * d, 0.0, 1.0, 142);
  void *X = as_dtype(dt, Xd, n * d), *X0 = as_dtype(dt, Xd, n * d);
  int32_t *y = xmalloc(n * sizeof *y), *y0 = xmalloc(n * sizeof *y0);
  fill_labels(y, n, k, 143);
  memcpy(y0, y, n * sizeof *y);
  void *P = xmalloc(n * k * esize(dt)), *P0 = xmalloc(n * k * esize(dt));
  void *dW = xmalloc(d * k * esize(dt)), *db = xmalloc(k * esize(dt));
  int32_t *lab = xmalloc(n * sizeof *lab);
  double loss;
  ck_assert_int_eq(forward_any(m, X, n, NULL, P), SMR_OK);
  memcpy(P0, P, n * k * esize(dt));
  ck_assert_int_eq(backward_any(m, X, P, y, n, dW, db), SMR_OK);
  ck_assert_int_eq(predict_any(m, X, n, lab), SMR_OK);
  ck_assert_int_eq(loss_any(m, X, y, n, &loss), SMR_OK);
  ck_assert_mem_eq(X, X0, n * d * esize(dt));
  ck_assert_mem_eq(P, P0, n * k * esize(dt));
  ck_assert_mem_eq(y, y0, n * sizeof *y);
  ck_assert(smr_model_feature_mean(m)[1] == mean[1]);
  free(Xd);
  free(X);
  free(X0);
  free(y);
  free(y0);
  free(P);
  free(P0);
  free(dW);
  free(db);
  free(lab);
  smr_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Concurrent readers (smr.h: a model may be read from many threads)        */
/* ------------------------------------------------------------------------ */

struct reader_job {
  const smr_model *m;
  const void *X;
  size_t n;
  void *P;       /* n x k, this thread's own output */
  int32_t *pred; /* n */
  smr_status st;
};

static void *reader_main(void *arg) {
  struct reader_job *j = arg;
  for (int rep = 0; rep < 20 && j->st == SMR_OK; rep++) {
    j->st = proba_any(j->m, j->X, j->n, j->P);
    if (j->st == SMR_OK) j->st = predict_any(j->m, j->X, j->n, j->pred);
  }
  return NULL;
}

/* Four threads run predict_proba and predict on one standardized model at
   once (standardization uses a per-call workspace); each must match the
   single-threaded result bit for bit. */
START_TEST(test_concurrent_readers) {
  const smr_dtype dt = dtypes[_i];
  enum { THREADS = 4 };
  const size_t n = 700, d = 9, k = 5; /* n spans several 256-row blocks */
  smr_model *m = random_model(dt, d, k, 0.5, 77);
  double mean[9], scale[9];
  make_standardization(d, mean, scale);
  ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  double *Xd = xmalloc(n * d * sizeof *Xd);
  fill_normal(Xd, n * d, 1.0, 3.0, 78);
  void *X = as_dtype(dt, Xd, n * d);
  void *Pref = xmalloc(n * k * esize(dt));
  int32_t *yref = xmalloc(n * sizeof *yref);
  ck_assert_int_eq(proba_any(m, X, n, Pref), SMR_OK);
  ck_assert_int_eq(predict_any(m, X, n, yref), SMR_OK);

  pthread_t tid[THREADS];
  struct reader_job jobs[THREADS];
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (struct reader_job){m, X, n, xmalloc(n * k * esize(dt)),
                                  xmalloc(n * sizeof(int32_t)), SMR_OK};
    ck_assert_int_eq(pthread_create(&tid[t], NULL, reader_main, &jobs[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
  for (int t = 0; t < THREADS; t++) {
    ck_assert_int_eq(jobs[t].st, SMR_OK);
    ck_assert_mem_eq(jobs[t].P, Pref, n * k * esize(dt));
    ck_assert_mem_eq(jobs[t].pred, yref, n * sizeof(int32_t));
    free(jobs[t].P);
    free(jobs[t].pred);
  }
  free(Xd);
  free(X);
  free(Pref);
  free(yref);
  smr_model_free(m);
}
END_TEST

int main(void) {
  smr_test_isa_guard();
  Suite *s = suite_create("model");
  TCase *tc = tcase_create("model");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_create_init_weights, 0, 2);
  tcase_add_test(tc, test_create_errors);
  tcase_add_test(tc, test_null_model_getters);
  tcase_add_test(tc, test_learning_rate);
  tcase_add_test(tc, test_standardization_accessors);
  tcase_add_test(tc, test_class_names);
  tcase_add_loop_test(tc, test_forward_vs_reference, 0, 4);
  tcase_add_loop_test(tc, test_loss_vs_reference, 0, 4);
  tcase_add_test(tc, test_loss_mean_not_sum_overflow);
  tcase_add_loop_test(tc, test_backward_vs_reference, 0, 4);
  tcase_add_loop_test(tc, test_gradient_shapes, 0, 2);
  tcase_add_test(tc, test_numerical_gradient_check);
  tcase_add_test(tc, test_backward_with_standardization);
  tcase_add_loop_test(tc, test_predict_equals_argmax_proba, 0, 4);
  tcase_add_loop_test(tc, test_two_classes_logistic, 0, 2);
  tcase_add_loop_test(tc, test_single_sample_single_feature, 0, 2);
  tcase_add_loop_test(tc, test_n_zero, 0, 2);
  tcase_add_test(tc, test_dtype_mismatch);
  tcase_add_loop_test(tc, test_null_arguments, 0, 2);
  tcase_add_loop_test(tc, test_label_range, 0, 2);
  tcase_add_loop_test(tc, test_size_overflow, 0, 2);
  tcase_add_loop_test(tc, test_inputs_not_modified, 0, 2);
  tcase_add_loop_test(tc, test_concurrent_readers, 0, 2);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
