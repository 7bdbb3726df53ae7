/*
 * train_bench.c - training speed of smr: one full-batch epoch against the
 * GEMM floor, and the time L-BFGS takes to reach a reference optimum.
 * Plain C (clock_gettime, medians), no Google Benchmark. Prints one JSON
 * object per line on stdout; bench/train/compare_train.sh turns them into
 * the table of docs/BENCHMARKS.md.
 *
 *   smr-train-bench epoch N D K [REPS]
 *       f32, X ~ N(0,1) (n x d), labels uniform in [0, k), W ~ 0.01 N(0,1),
 *       b = 0, l2 = 1e-3. Per repetition, in an order rotated every
 *       repetition (so no measurement always runs right after the same
 *       other one):
 *         gemm_floor   the active kernel table's linear_forward (Z = XW+b)
 *                      then xt_g (dW = X^T G) on a preallocated n x k Z:
 *                      the two GEMMs an epoch cannot avoid;
 *         objective    smr_objective_f32 with dW, db: one full-batch
 *                      objective + gradient through the fused pipeline
 *                      (GEMM, fused CE/grad, GEMM, colsum, l2 terms);
 *         fit_epoch    smr_fit_f32, solver gd, epochs = 1, report NULL (no
 *                      extra evaluation): the objective plus fit's own work
 *                      (input checks, workspace, the update); the
 *                      parameters are reset before each call, untimed;
 *         stages       the pipeline by hand through the table on the full
 *                      n x k buffer, each stage timed: linear_forward,
 *                      ce_logits (in place), xt_g, colsum.
 *       Medians over REPS (default 7) after one untimed warm-up of each.
 *       Then, once: fit_steady_epoch = the median time between successive
 *       epochs of one smr_fit_f32 of REPS + 1 gd epochs (an epoch inside a
 *       longer fit: fit's setup and its workspace allocation, paid by every
 *       epochs = 1 call, are paid once there; fit_first_epoch is the fit
 *       call to the end of its first epoch).
 *       ratio_objective = objective / gemm_floor, ratio_fit_epoch =
 *       fit_epoch / gemm_floor (issue 5 target: <= 1.2).
 *
 *   smr-train-bench optimum DIGITS_CSV|SYNTH_DIR L2 REF f32|f64 [REPS]
 *       Standardizes the features (population standard deviation, scale 1
 *       for a constant column; in double, then rounded to the dtype) outside
 *       the timing, starts from W = 0, b = 0 (as scikit-learn does) and runs
 *       smr_fit (lbfgs, tol 0, l2) with a callback that returns false once
 *       the objective it is given is <= REF * (1 + 1e-6). The callback of
 *       iteration e sees the objective at the start of iteration e, after
 *       iteration e has run, so the stop comes one iteration after the
 *       target value was computed:
 *         time_s         smr_fit call -> that callback returning false (the
 *                        primary number: it includes the extra iteration);
 *         target_seen_s  smr_fit call -> the end of the iteration that
 *                        produced the target value (previous callback);
 *         fit_return_s   smr_fit call -> return (adds the report's own
 *                        final objective evaluation).
 *       Then the protocol of the scikit-learn side ("optimum_tol"): no
 *       callback, smr's own stop on max |gradient| <= tol, the loosest tol
 *       of a list (1e-2 ... 1e-8, then 0) whose fit ends at or below the
 *       target, that tol's fit call -> return timed (REPS fits in all, the
 *       scan's fit included).
 *       Medians over REPS (default 3). Also: iterations (epochs run),
 *       evaluations, the final objective as fit reports it and, re-evaluated
 *       in f64 on the f64-standardized data, its relative error to REF.
 *       A SYNTH_DIR is what bench/train/synth.py --out writes (meta.json,
 *       X.f32, y.i32); anything else is read as CSV (label last).
 *
 *   smr-train-bench loop objective|fit|floor N D K ITERS
 *       Only one of epoch's measurements, ITERS times (after one untimed
 *       call), on epoch's data: the target for perf record. Prints the
 *       median in ms.
 *
 * Threads: nothing is set here. The library's thread count applies to its
 * pool and the BLAS (SMR_NUM_THREADS, else OPENBLAS_NUM_THREADS, else 1
 * thread; smr.h); the JSON records both variables.
 */
#include "kernels.h"
#include "smr.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "timing.h"

static void die(const char *what, const char *detail) {
  fprintf(stderr, "smr-train-bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(2);
}

static void check(smr_status s, const char *what) {
  if (s != SMR_OK) die(what, smr_strerror(s));
}

static void *xmalloc(size_t n) {
  void *p = malloc(n > 0 ? n : 1);
  if (p == NULL) die("out of memory", NULL);
  return p;
}

static size_t parse_size(const char *s, const char *what) {
  char *end;
  errno = 0;
  const unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || end == s || v == 0) die("bad number for", what);
  return (size_t)v;
}

static double parse_double(const char *s, const char *what) {
  char *end;
  errno = 0;
  const double v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || end == s || !isfinite(v)) die("bad number for", what);
  return v;
}

/* A JSON string value for an environment variable: "null" when unset. */
static void print_env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL) {
    printf("\"%s\":null", name);
    return;
  }
  printf("\"%s\":\"", name);
  for (const char *p = v; *p; p++)
    if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) putchar(*p);
  putchar('"');
}

/* ---------------------------------------------------------------- random */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_u64(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double uniform01(void) { return ((double)(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

static void fill_normal(float *x, size_t len) {
  const double two_pi = 6.283185307179586;
  for (size_t i = 0; i < len; i += 2) {
    const double r = sqrt(-2.0 * log(uniform01())), t = two_pi * uniform01();
    x[i] = (float)(r * cos(t));
    if (i + 1 < len) x[i + 1] = (float)(r * sin(t));
  }
}

/* ---------------------------------------------------------------- epoch */

enum { M_FLOOR, M_OBJ, M_FIT, M_STAGES, NUM_M };

/* Epoch callback of the steady-state fit: the time of each epoch's end. */
struct stamps {
  double *t;
  size_t cap, count;
  double t0;
};

static bool stamp_epoch(void *user, size_t epoch, double train_loss, double val_loss) {
  (void)train_loss;
  (void)val_loss;
  struct stamps *s = user;
  if (epoch < s->cap) s->t[epoch] = smrt_now() - s->t0;
  s->count = epoch + 1;
  return true;
}

/* Steady state: one smr_fit of reps + 1 gd epochs (fo) from W0, b0; the
   time between successive epoch callbacks is an epoch inside a longer fit,
   where the workspace is allocated once (the first epoch also pays fit's
   setup: *first_ms). Returns the median ms. */
static double steady_epoch_ms(smr_model *m, const float *X, const int32_t *y, size_t n,
                              const smr_fit_options *fo, const float *W0, const float *b0,
                              size_t reps, double *first_ms) {
  const size_t d = smr_model_num_features(m), k = smr_model_num_classes(m);
  float *W = smr_model_weights(m), *b = smr_model_bias(m);
  double *stamp = xmalloc((reps + 1) * sizeof *stamp), *t_steady = xmalloc(reps * sizeof(double));
  struct stamps st = {stamp, reps + 1, 0, 0.0};
  smr_fit_options so = *fo;
  so.epochs = reps + 1;
  so.callback = stamp_epoch;
  so.callback_user = &st;
  memcpy(W, W0, d * k * sizeof *W);
  memcpy(b, b0, k * sizeof *b);
  st.t0 = smrt_now();
  check(smr_fit_f32(m, X, y, n, &so, NULL), "smr_fit_f32 (steady)");
  if (st.count != reps + 1) die("the steady-state fit stopped early", NULL);
  for (size_t e = 1; e <= reps; e++) t_steady[e - 1] = stamp[e] - stamp[e - 1];
  const double steady_ms = 1e3 * smrt_median(t_steady, reps);
  *first_ms = 1e3 * stamp[0];
  free(stamp);
  free(t_steady);
  return steady_ms;
}

/* The JSON line of cmd_epoch from its samples (reps each; sorted here). */
static void print_epoch(size_t n, size_t d, size_t k, double l2, size_t reps, double *t[NUM_M],
                        double *t_ffwd, double *t_fxtg, double *t_fwd, double *t_ce,
                        double *t_xtg, double *t_col, double steady_ms, double first_ms) {
  const double floor_ms = 1e3 * smrt_median(t[M_FLOOR], reps), obj_ms = 1e3 * smrt_median(t[M_OBJ], reps),
               fit_ms = 1e3 * smrt_median(t[M_FIT], reps);
  const double flops = 4.0 * (double)n * (double)d * (double)k;
  printf("{\"bench\":\"epoch\",\"shape\":\"%zux%zux%zu\",\"n\":%zu,\"d\":%zu,\"k\":%zu,"
         "\"dtype\":\"f32\",\"l2\":%g,\"reps\":%zu,\"isa\":\"%s\",",
         n, d, k, n, d, k, l2, reps, smr_isa_name(smr_isa_active()));
  print_env("SMR_NUM_THREADS");
  putchar(',');
  print_env("OPENBLAS_NUM_THREADS");
  printf(",\"gemm_floor_ms\":%.4f,\"objective_ms\":%.4f,\"fit_epoch_ms\":%.4f,"
         "\"ratio_objective\":%.4f,\"ratio_fit_epoch\":%.4f,",
         floor_ms, obj_ms, fit_ms, obj_ms / floor_ms, fit_ms / floor_ms);
  printf("\"gemm_floor_ms_min\":%.4f,\"gemm_floor_ms_max\":%.4f,\"objective_ms_min\":%.4f,"
         "\"objective_ms_max\":%.4f,\"fit_epoch_ms_min\":%.4f,\"fit_epoch_ms_max\":%.4f,",
         1e3 * smrt_min(t[M_FLOOR], reps), 1e3 * smrt_max(t[M_FLOOR], reps), 1e3 * smrt_min(t[M_OBJ], reps),
         1e3 * smrt_max(t[M_OBJ], reps), 1e3 * smrt_min(t[M_FIT], reps), 1e3 * smrt_max(t[M_FIT], reps));
  printf("\"floor_forward_ms\":%.4f,\"floor_xt_g_ms\":%.4f,\"gemm_gflops\":%.2f,",
         1e3 * smrt_median(t_ffwd, reps), 1e3 * smrt_median(t_fxtg, reps), flops / (floor_ms * 1e6));
  printf("\"fit_steady_epoch_ms\":%.4f,\"ratio_fit_steady\":%.4f,\"fit_first_epoch_ms\":%.4f,",
         steady_ms, steady_ms / floor_ms, first_ms);
  printf("\"stages_ms\":%.4f,\"stage_forward_ms\":%.4f,\"stage_ce_ms\":%.4f,"
         "\"stage_xt_g_ms\":%.4f,\"stage_colsum_ms\":%.4f}\n",
         1e3 * smrt_median(t[M_STAGES], reps), 1e3 * smrt_median(t_fwd, reps), 1e3 * smrt_median(t_ce, reps),
         1e3 * smrt_median(t_xtg, reps), 1e3 * smrt_median(t_col, reps));
  fflush(stdout);
}

static int cmd_epoch(int argc, char **argv) {
  if (argc < 5 || argc > 6) die("usage: smr-train-bench epoch N D K [REPS]", NULL);
  const size_t n = parse_size(argv[2], "N"), d = parse_size(argv[3], "D"),
               k = parse_size(argv[4], "K");
  const size_t reps = argc > 5 ? parse_size(argv[5], "REPS") : 7;
  const double l2 = 1e-3, lr = 0.1;

  float *X = xmalloc(n * d * sizeof *X);
  int32_t *y = xmalloc(n * sizeof *y);
  fill_normal(X, n * d);
  for (size_t i = 0; i < n; i++) y[i] = (int32_t)(next_u64() % k);

  smr_model *m;
  check(smr_model_create(&m, d, k, SMR_F32, lr, 1), "smr_model_create");
  float *W = smr_model_weights(m), *b = smr_model_bias(m);
  float *W0 = xmalloc(d * k * sizeof *W0), *b0 = xmalloc(k * sizeof *b0);
  memcpy(W0, W, d * k * sizeof *W0);
  memcpy(b0, b, k * sizeof *b0);

  const struct smr_kernels_f32 *kt = &smr_kernels_active()->f32;
  float *Z = xmalloc(n * k * sizeof *Z);
  float *dW = xmalloc(d * k * sizeof *dW), *db = xmalloc(k * sizeof *db);
  /* the buffers are touched once before any timing (no first-touch faults
     in the measured calls of the floor and the stages) */
  memset(Z, 0, n * k * sizeof *Z);
  memset(dW, 0, d * k * sizeof *dW);
  memset(db, 0, k * sizeof *db);

  smr_fit_options oo = smr_fit_options_default();
  oo.l2 = l2;
  smr_fit_options fo = oo;
  fo.solver = SMR_SOLVER_GD;
  fo.epochs = 1;
  fo.batch_size = 0;

  double *t[NUM_M], *t_fwd = xmalloc(reps * sizeof(double)), *t_ce = xmalloc(reps * sizeof(double)),
                    *t_xtg = xmalloc(reps * sizeof(double)),
                    *t_col = xmalloc(reps * sizeof(double)),
                    *t_ffwd = xmalloc(reps * sizeof(double)),
                    *t_fxtg = xmalloc(reps * sizeof(double));
  for (int j = 0; j < NUM_M; j++) t[j] = xmalloc(reps * sizeof(double));
  volatile double sink = 0.0;
  const float scale = (float)(1.0 / (double)n);

  for (size_t r = 0; r <= reps; r++) { /* r == 0: warm-up, not recorded */
    for (int q = 0; q < NUM_M; q++) {
      const int which = (int)((q + r) % NUM_M);
      double t0, t1, t2, t3, t4;
      switch (which) {
      case M_FLOOR:
        t0 = smrt_now();
        kt->linear_forward(X, W, b, Z, n, d, k);
        t1 = smrt_now();
        kt->xt_g(X, Z, dW, n, d, k, false);
        t2 = smrt_now();
        if (r > 0) {
          t[M_FLOOR][r - 1] = t2 - t0;
          t_ffwd[r - 1] = t1 - t0;
          t_fxtg[r - 1] = t2 - t1;
        }
        break;
      case M_OBJ: {
        double obj;
        t0 = smrt_now();
        check(smr_objective_f32(m, X, y, n, &oo, &obj, dW, db), "smr_objective_f32");
        t1 = smrt_now();
        sink += obj;
        if (r > 0) t[M_OBJ][r - 1] = t1 - t0;
        break;
      }
      case M_FIT:
        memcpy(W, W0, d * k * sizeof *W);
        memcpy(b, b0, k * sizeof *b);
        t0 = smrt_now();
        check(smr_fit_f32(m, X, y, n, &fo, NULL), "smr_fit_f32");
        t1 = smrt_now();
        memcpy(W, W0, d * k * sizeof *W);
        memcpy(b, b0, k * sizeof *b);
        if (r > 0) t[M_FIT][r - 1] = t1 - t0;
        break;
      default: /* M_STAGES */
        t0 = smrt_now();
        kt->linear_forward(X, W, b, Z, n, d, k);
        t1 = smrt_now();
        sink += kt->ce_logits(Z, y, NULL, n, k, scale, Z, NULL);
        t2 = smrt_now();
        kt->xt_g(X, Z, dW, n, d, k, false);
        t3 = smrt_now();
        kt->colsum(Z, db, n, k, false);
        t4 = smrt_now();
        if (r > 0) {
          t_fwd[r - 1] = t1 - t0;
          t_ce[r - 1] = t2 - t1;
          t_xtg[r - 1] = t3 - t2;
          t_col[r - 1] = t4 - t3;
          t[M_STAGES][r - 1] = t4 - t0;
        }
        break;
      }
    }
  }
  (void)sink;

  double first_ms;
  const double steady_ms = steady_epoch_ms(m, X, y, n, &fo, W0, b0, reps, &first_ms);

  print_epoch(n, d, k, l2, reps, t, t_ffwd, t_fxtg, t_fwd, t_ce, t_xtg, t_col, steady_ms,
              first_ms);

  for (int j = 0; j < NUM_M; j++) free(t[j]);
  free(t_fwd), free(t_ce), free(t_xtg), free(t_col), free(t_ffwd), free(t_fxtg);
  free(Z), free(dW), free(db), free(W0), free(b0), free(X), free(y);
  smr_model_free(m);
  return 0;
}


/* ---------------------------------------------------------------- loop */

/* For perf record: only one of the measurements, ITERS times, on the data
   of `epoch` (one untimed call first). Prints the median ms. */
static int cmd_loop(int argc, char **argv) {
  if (argc != 7) die("usage: smr-train-bench loop objective|fit|floor N D K ITERS", NULL);
  const char *what = argv[2];
  const size_t n = parse_size(argv[3], "N"), d = parse_size(argv[4], "D"),
               k = parse_size(argv[5], "K"), iters = parse_size(argv[6], "ITERS");
  const int which = strcmp(what, "objective") == 0 ? M_OBJ
                    : strcmp(what, "fit") == 0     ? M_FIT
                    : strcmp(what, "floor") == 0   ? M_FLOOR
                                                   : -1;
  if (which < 0) die("loop: objective, fit or floor, not", what);
  float *X = xmalloc(n * d * sizeof *X);
  int32_t *y = xmalloc(n * sizeof *y);
  fill_normal(X, n * d);
  for (size_t i = 0; i < n; i++) y[i] = (int32_t)(next_u64() % k);
  smr_model *m;
  check(smr_model_create(&m, d, k, SMR_F32, 0.1, 1), "smr_model_create");
  float *W = smr_model_weights(m), *b = smr_model_bias(m);
  float *dW = xmalloc(d * k * sizeof *dW), *db = xmalloc(k * sizeof *db);
  float *Z = which == M_FLOOR ? xmalloc(n * k * sizeof *Z) : NULL;
  if (Z != NULL) memset(Z, 0, n * k * sizeof *Z);
  const struct smr_kernels_f32 *kt = &smr_kernels_active()->f32;
  smr_fit_options o = smr_fit_options_default();
  o.l2 = 1e-3;
  o.solver = SMR_SOLVER_GD;
  o.epochs = 1;
  double *t = xmalloc(iters * sizeof *t), obj;
  for (size_t r = 0; r <= iters; r++) {
    const double t0 = smrt_now();
    if (which == M_OBJ)
      check(smr_objective_f32(m, X, y, n, &o, &obj, dW, db), "smr_objective_f32");
    else if (which == M_FIT)
      check(smr_fit_f32(m, X, y, n, &o, NULL), "smr_fit_f32");
    else {
      kt->linear_forward(X, W, b, Z, n, d, k);
      kt->xt_g(X, Z, dW, n, d, k, false);
    }
    if (r > 0) t[r - 1] = smrt_now() - t0;
  }
  printf("{\"bench\":\"loop\",\"what\":\"%s\",\"shape\":\"%zux%zux%zu\",\"iters\":%zu,"
         "\"ms\":%.4f}\n", what, n, d, k, iters, 1e3 * smrt_median(t, iters));
  free(t), free(Z), free(dW), free(db), free(X), free(y);
  smr_model_free(m);
  return 0;
}

/* ---------------------------------------------------------------- optimum */

/* The integer value of "key" in a flat JSON object (meta.json), or 0. */
static size_t json_size(const char *text, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(text, pat);
  if (p == NULL) return 0;
  p += strlen(pat);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':') p++;
  char *end;
  const unsigned long long v = strtoull(p, &end, 10);
  return end == p ? 0 : (size_t)v;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) die("cannot open", path);
  if (fseek(f, 0, SEEK_END) != 0) die("cannot seek", path);
  const long sz = ftell(f);
  if (sz < 0) die("cannot tell", path);
  rewind(f);
  char *buf = xmalloc((size_t)sz + 1);
  if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) die("short read", path);
  fclose(f);
  buf[sz] = '\0';
  *len = (size_t)sz;
  return buf;
}

static char *path_join(const char *dir, const char *name) {
  const size_t a = strlen(dir), c = strlen(name);
  char *p = xmalloc(a + c + 2);
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, c + 1);
  return p;
}

/* The data in double (n x d) and labels; k = number of classes. */
struct data {
  const char *name;
  size_t n, d, k;
  double *X;
  int32_t *y;
};

static void load_synth(const char *dir, struct data *D) {
  size_t len;
  char *mp = path_join(dir, "meta.json");
  char *meta = read_file(mp, &len);
  D->n = json_size(meta, "n");
  D->d = json_size(meta, "d");
  D->k = json_size(meta, "k");
  if (D->n == 0 || D->d == 0 || D->k == 0) die("meta.json lacks n, d or k", mp);
  free(meta);
  free(mp);
  char *xp = path_join(dir, "X.f32"), *yp = path_join(dir, "y.i32");
  char *xb = read_file(xp, &len);
  if (len != D->n * D->d * 4) die("X.f32 has the wrong size", xp);
  D->X = xmalloc(D->n * D->d * sizeof *D->X);
  for (size_t i = 0; i < D->n * D->d; i++) { /* float32 little-endian */
    const unsigned char *q = (const unsigned char *)xb + 4 * i;
    const uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                       (uint32_t)q[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    D->X[i] = f;
  }
  free(xb);
  char *ybuf = read_file(yp, &len);
  if (len != D->n * 4) die("y.i32 has the wrong size", yp);
  D->y = xmalloc(D->n * sizeof *D->y);
  for (size_t i = 0; i < D->n; i++) {
    const unsigned char *q = (const unsigned char *)ybuf + 4 * i;
    const uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                       (uint32_t)q[3] << 24;
    D->y[i] = (int32_t)u;
    if (D->y[i] < 0 || (size_t)D->y[i] >= D->k) die("label out of range in", yp);
  }
  free(ybuf);
  free(xp);
  free(yp);
  D->name = "synth";
}

static void load_csv(const char *path, struct data *D) {
  smr_dataset *ds;
  smr_error_detail err;
  const smr_status s = smr_dataset_read_csv(&ds, path, NULL, &err);
  if (s != SMR_OK) die("cannot read CSV", err.message);
  D->n = smr_dataset_num_rows(ds);
  D->d = smr_dataset_num_features(ds);
  D->k = smr_dataset_num_classes(ds);
  D->X = xmalloc(D->n * D->d * sizeof *D->X);
  D->y = xmalloc(D->n * sizeof *D->y);
  memcpy(D->X, smr_dataset_features(ds), D->n * D->d * sizeof *D->X);
  memcpy(D->y, smr_dataset_labels(ds), D->n * sizeof *D->y);
  smr_dataset_free(ds);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  D->name = strncmp(base, "digits", 6) == 0 ? "digits" : base;
}

/* In place: (x - mean) / sd per column, population sd, sd 1 when 0 (as
   ref_optimum.py and smr's o.standardize). */
static void standardize(double *X, size_t n, size_t d) {
  for (size_t j = 0; j < d; j++) {
    double mu = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++) mu += X[i * d + j];
    mu /= (double)n;
    for (size_t i = 0; i < n; i++) {
      const double v = X[i * d + j] - mu;
      ss += v * v;
    }
    double sd = sqrt(ss / (double)n);
    if (!(sd > 0.0 && isfinite(sd))) sd = 1.0;
    for (size_t i = 0; i < n; i++) X[i * d + j] = (X[i * d + j] - mu) / sd;
  }
}

#define MAX_ITERS 100000

struct cb_state {
  double target, t0;
  double *stamp;     /* stamp[e]: time of callback e, from t0 */
  double *loss;      /* loss[e]: the objective callback e saw */
  size_t calls;
  bool reached;
  size_t reached_epoch; /* the callback that saw the target */
  double t_stop;
};

static bool on_epoch(void *user, size_t epoch, double train_loss, double val_loss) {
  (void)val_loss;
  struct cb_state *s = user;
  const double t = smrt_now() - s->t0;
  if (epoch < MAX_ITERS) {
    s->stamp[epoch] = t;
    s->loss[epoch] = train_loss;
  }
  s->calls = epoch + 1;
  if (train_loss <= s->target) {
    s->reached = true;
    s->reached_epoch = epoch;
    s->t_stop = smrt_now() - s->t0;
    return false;
  }
  return true;
}

/* A new d x k model with W = 0, b = 0 (scikit-learn's start), in place of
   old (freed; may be NULL). */
static smr_model *zero_model(smr_model *old, size_t d, size_t k, smr_dtype dt) {
  smr_model_free(old);
  smr_model *m;
  check(smr_model_create(&m, d, k, dt, 1.0, 0), "smr_model_create");
  const size_t esz = dt == SMR_F32 ? sizeof(float) : sizeof(double);
  memset(smr_model_weights(m), 0, d * k * esz);
  memset(smr_model_bias(m), 0, k * esz);
  return m;
}

/* The objective of m's parameters re-evaluated in f64 on the f64
   (standardized) data of D. */
static double objective_f64(smr_model *m, smr_dtype dt, const struct data *D, double l2) {
  const size_t d = D->d, k = D->k;
  smr_model *m64;
  check(smr_model_create(&m64, d, k, SMR_F64, 1.0, 0), "smr_model_create");
  double *W64 = smr_model_weights(m64), *b64 = smr_model_bias(m64);
  if (dt == SMR_F32) {
    const float *Wf = smr_model_weights(m), *bf = smr_model_bias(m);
    for (size_t i = 0; i < d * k; i++) W64[i] = Wf[i];
    for (size_t j = 0; j < k; j++) b64[j] = bf[j];
  } else {
    memcpy(W64, smr_model_weights(m), d * k * sizeof *W64);
    memcpy(b64, smr_model_bias(m), k * sizeof *b64);
  }
  smr_fit_options eo = smr_fit_options_default();
  eo.l2 = l2;
  double f64obj;
  check(smr_objective_f64(m64, D->X, D->y, D->n, &eo, &f64obj, NULL, NULL),
        "smr_objective_f64");
  smr_model_free(m64);
  return f64obj;
}

/* The tol scan of cmd_optimum (see there): the loosest tol of TOLS whose
   fit ends at or below target, timed reps times. */
static const double TOLS[] = {1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6,
                              3e-7, 1e-7, 3e-8, 1e-8, 0.0};
struct tol_scan {
  size_t ti;       /* index in TOLS of the tol found, or how many were tried */
  bool reached;
  double *t;       /* reps seconds, `done` of them measured */
  size_t done, iters, evals;
  double obj;
};

static void tol_scan(smr_model **m, smr_dtype dt, const struct data *D, const float *Xf,
                     const smr_fit_options *o, double target, size_t reps, struct tol_scan *ts) {
  const size_t ntols = sizeof TOLS / sizeof TOLS[0];
  smr_fit_options to = *o;
  to.callback = NULL;
  to.callback_user = NULL;
  smr_fit_report rep = {0};
  ts->t = xmalloc(reps * sizeof(double));
  ts->obj = NAN;
  ts->done = ts->iters = ts->evals = ts->ti = 0;
  ts->reached = false;
  for (; ts->ti < ntols && ts->done < reps; ts->ti++) {
    to.tol = TOLS[ts->ti];
    for (size_t r = 0; r < reps; r++) {
      *m = zero_model(*m, D->d, D->k, dt);
      const double t0 = smrt_now();
      const smr_status s = dt == SMR_F32 ? smr_fit_f32(*m, Xf, D->y, D->n, &to, &rep)
                                         : smr_fit_f64(*m, D->X, D->y, D->n, &to, &rep);
      const double t = smrt_now() - t0;
      check(s, "smr_fit");
      if (!(rep.final_loss <= target)) break; /* a tighter tol */
      ts->t[ts->done++] = t;
      ts->reached = true;
      ts->obj = rep.final_loss;
      ts->iters = rep.epochs_run;
      ts->evals = rep.evaluations;
    }
    if (ts->reached) break;
  }
}

/* The timed fits of cmd_optimum with the callback (cs) that notes when the
   objective reaches the target: seconds to the stop (t_stop), to the
   evaluation that reached it (t_seen) and to fit's return (t_ret), per
   run. False when a run missed the target (then only that run counts). */
struct target_runs {
  double *t_stop, *t_seen, *t_ret;
  size_t iters, iters_to_target;
};

static bool time_to_target(smr_model **m, smr_dtype dt, const struct data *D, const float *Xf,
                           const smr_fit_options *o, struct cb_state *cs, size_t reps,
                           struct target_runs *tr, smr_fit_report *rep) {
  tr->t_stop = xmalloc(reps * sizeof(double));
  tr->t_seen = xmalloc(reps * sizeof(double));
  tr->t_ret = xmalloc(reps * sizeof(double));
  bool reached = true;
  for (size_t r = 0; r < reps; r++) {
    *m = zero_model(*m, D->d, D->k, dt);
    cs->calls = 0;
    cs->reached = false;
    cs->t0 = smrt_now();
    const smr_status s = dt == SMR_F32 ? smr_fit_f32(*m, Xf, D->y, D->n, o, rep)
                                       : smr_fit_f64(*m, D->X, D->y, D->n, o, rep);
    tr->t_ret[r] = smrt_now() - cs->t0;
    check(s, "smr_fit");
    reached = reached && cs->reached;
    tr->iters = rep->epochs_run;
    if (cs->reached) {
      tr->t_stop[r] = cs->t_stop;
      /* the target value was computed by the end of iteration e - 1 (by
         the initial evaluation for e = 0, before the first callback) */
      tr->t_seen[r] = cs->reached_epoch > 0 ? cs->stamp[cs->reached_epoch - 1] : cs->stamp[0];
      tr->iters_to_target = cs->reached_epoch;
    } else {
      tr->t_stop[r] = tr->t_seen[r] = tr->t_ret[r];
    }
    if (!cs->reached) break; /* one failed run says enough */
  }
  return reached;
}

static int cmd_optimum(int argc, char **argv) {
  if (argc < 6 || argc > 7)
    die("usage: smr-train-bench optimum DIGITS_CSV|SYNTH_DIR L2 REF f32|f64 [REPS]", NULL);
  const char *path = argv[2];
  const double l2 = parse_double(argv[3], "L2"), ref = parse_double(argv[4], "REF");
  smr_dtype dt;
  if (strcmp(argv[5], "f32") == 0)
    dt = SMR_F32;
  else if (strcmp(argv[5], "f64") == 0)
    dt = SMR_F64;
  else
    die("dtype must be f32 or f64, not", argv[5]);
  const size_t reps = argc > 6 ? parse_size(argv[6], "REPS") : 3;
  const double target = ref * (1.0 + 1e-6);

  struct data D = {0};
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    load_synth(path, &D);
  else
    load_csv(path, &D);
  const size_t n = D.n, d = D.d, k = D.k;
  standardize(D.X, n, d);
  float *Xf = NULL;
  if (dt == SMR_F32) {
    Xf = xmalloc(n * d * sizeof *Xf);
    for (size_t i = 0; i < n * d; i++) Xf[i] = (float)D.X[i];
  }

  smr_fit_options o = smr_fit_options_default();
  o.solver = SMR_SOLVER_LBFGS;
  o.l2 = l2;
  o.tol = 0.0;
  o.epochs = MAX_ITERS;
  struct cb_state cs = {0};
  cs.target = target;
  cs.stamp = xmalloc(MAX_ITERS * sizeof(double));
  cs.loss = xmalloc(MAX_ITERS * sizeof(double));
  o.callback = on_epoch;
  o.callback_user = &cs;

  struct target_runs tr = {0};
  smr_fit_report rep = {0};
  smr_model *m = NULL;
  const bool reached = time_to_target(&m, dt, &D, Xf, &o, &cs, reps, &tr, &rep);
  double *t_stop = tr.t_stop, *t_seen = tr.t_seen, *t_ret = tr.t_ret;
  const size_t iters = tr.iters, iters_to_target = tr.iters_to_target;
  const size_t done = reached ? reps : 1;

  const double f64obj = objective_f64(m, dt, &D, l2);

  const size_t cb_evals = rep.evaluations;
  const double cb_final = rep.final_loss, cb_grad = rep.grad_norm;

  /* The protocol of the scikit-learn side: smr's own stopping rule (tol on
     max |gradient|), the loosest tol of TOLS whose fit ends at or below
     the target, then fit() timed REPS times in all (the scan's fit
     included), no callback. The report's final objective is L-BFGS's last
     evaluation (no extra evaluation). */
  struct tol_scan ts;
  tol_scan(&m, dt, &D, Xf, &o, target, reps, &ts);

  printf("{\"bench\":\"optimum\",\"data\":\"%s\",\"n\":%zu,\"d\":%zu,\"k\":%zu,\"dtype\":\"%s\","
         "\"l2\":%g,\"ref\":%.17g,\"target\":%.17g,\"reps\":%zu,\"isa\":\"%s\",",
         D.name, n, d, k, dt == SMR_F32 ? "f32" : "f64", l2, ref, target, done,
         smr_isa_name(smr_isa_active()));
  print_env("SMR_NUM_THREADS");
  putchar(',');
  print_env("OPENBLAS_NUM_THREADS");
  printf(",\"reached\":%s,\"time_s\":%.6f,\"time_s_min\":%.6f,\"time_s_max\":%.6f,"
         "\"target_seen_s\":%.6f,\"fit_return_s\":%.6f,",
         reached ? "true" : "false", smrt_median(t_stop, done), smrt_min(t_stop, done),
         smrt_max(t_stop, done), smrt_median(t_seen, done), smrt_median(t_ret, done));
  printf("\"iterations\":%zu,\"iterations_to_target\":%zu,\"evaluations\":%zu,"
         "\"final_objective\":%.17g,\"final_rel_err\":%.3e,\"objective_f64_check\":%.17g,"
         "\"rel_err_f64_check\":%.3e,\"grad_inf\":%.3e}\n",
         iters, iters_to_target, cb_evals, cb_final, (cb_final - ref) / ref,
         f64obj, (f64obj - ref) / ref, cb_grad);
  printf("{\"bench\":\"optimum_tol\",\"data\":\"%s\",\"dtype\":\"%s\",\"reached\":%s,",
         D.name, dt == SMR_F32 ? "f32" : "f64", ts.reached ? "true" : "false");
  if (ts.reached)
    printf("\"tol\":%g,\"reps\":%zu,\"time_s\":%.6f,\"time_s_min\":%.6f,\"time_s_max\":%.6f,"
           "\"iterations\":%zu,\"evaluations\":%zu,\"final_objective\":%.17g,"
           "\"final_rel_err\":%.3e}\n",
           TOLS[ts.ti], ts.done, smrt_median(ts.t, ts.done), smrt_min(ts.t, ts.done),
           smrt_max(ts.t, ts.done), ts.iters, ts.evals, ts.obj, (ts.obj - ref) / ref);
  else
    printf("\"tols_tried\":%zu}\n", ts.ti);
  /* of the last run: ms between successive callbacks (the first from the
     fit call), i.e. per iteration, initial evaluation included in the first;
     a long one is an iteration whose line search took several evaluations */
  printf("{\"bench\":\"optimum_iterations\",\"data\":\"%s\",\"dtype\":\"%s\",\"iteration_ms\":[",
         D.name, dt == SMR_F32 ? "f32" : "f64");
  for (size_t e = 0; e < cs.calls && e < MAX_ITERS; e++)
    printf("%s%.3f", e ? "," : "", 1e3 * (cs.stamp[e] - (e ? cs.stamp[e - 1] : 0.0)));
  printf("]}\n");
  fflush(stdout);

  smr_model_free(m);
  free(t_stop), free(t_seen), free(t_ret), free(ts.t), free(cs.stamp), free(cs.loss);
  free(Xf), free(D.X), free(D.y);
  return reached ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "epoch") == 0) return cmd_epoch(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "optimum") == 0) return cmd_optimum(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "loop") == 0) return cmd_loop(argc, argv);
  fprintf(stderr,
          "usage: smr-train-bench epoch N D K [REPS]\n"
          "       smr-train-bench optimum DIGITS_CSV|SYNTH_DIR L2 REF f32|f64 [REPS]\n"
          "       smr-train-bench loop objective|fit|floor N D K ITERS\n");
  return 2;
}
