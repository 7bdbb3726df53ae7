/*
 * api.c - the public row kernels of smr.h on every ISA, selected in turn
 * with smr_isa_select: smr_softmax, smr_softmax_online,
 * smr_softmax_temperature, smr_log_softmax, smr_cross_entropy_logits (loss
 * only, gradient apart, in place, without the loss) and smr_cross_entropy.
 *
 * Every public result is compared with
 *   (a) the selected ISA's table entry called on the whole matrix
 *       (run_rop / run_ce of rows.c): the same bits for every row output
 *       and gradient, including calls large enough to be cut into row
 *       tasks, on one and on two threads;
 *   (b) the long-double reference of ref.c within the public bounds of the
 *       tolerance table (M_API_*: what docs/ACCURACY.md promises for the
 *       public API);
 * and with references of its own: central differences of the loss, the
 * gradient against smr_softmax - smr_one_hot, online against two-pass,
 * log_softmax against log(softmax), and the seed's published values
 * (softmax of [1000, 1000, 1000] is 1/3, a confident wrong prediction
 * costs about 4.6, a uniform one log 3). Inputs: random rows at five
 * scales for row lengths around every vector tile, the special rows of
 * smr.h's rules, overflowing z / T, offsets 0..3 from alignment, in place.
 */
#include "checkasm.h"

static const char *const API_NAMES[NUM_ROPS] = {"smr_softmax", "smr_softmax_online",
                                                "smr_softmax_temperature", "smr_log_softmax"};

/* Row lengths below, at and above every vector tile (4, 8, 16 floats; 2, 4,
   8 doubles, unrolled up to 4x), plus a long tail. */
static const size_t KS[] = {1,  2,  3,  4,  5,   6,   7,   8,   9,   15,   16,  17,
                            31, 32, 33, 63, 64,  65,  127, 128, 129, 255,  256, 257,
                            1000, 4097};
#define NUM_KS (sizeof KS / sizeof KS[0])

/* SMR_TEST_QUICK (the emulated CPUs): a third of the row lengths (the
   longest always) and three of the five scales; the default run takes all. */
static size_t next_ki(size_t ki) {
  if (!g_quick || ki + 1 == NUM_KS) return ki + 1;
  return ki + 3 < NUM_KS ? ki + 3 : NUM_KS - 1;
}
#define KI_STEP (g_quick ? 3u : 1u)
#define SCALE_STEP (g_quick ? 2u : 1u)

/* ======================================================================== */
/* Selecting the ISAs                                                        */
/* ======================================================================== */

static smr_isa g_saved_isa;

/* Selects isa (available: its table exists); the ISA active before the
   first selection of a test is restored by api_restore(). */
static bool api_select(int isa, bool first) {
  if (first) g_saved_isa = smr_isa_active();
  CHECK(smr_isa_select((smr_isa)isa) == SMR_OK, "smr_isa_select(%s) failed",
        smr_isa_name((smr_isa)isa));
  return true;
}

static void api_restore(void) {
  CHECK(smr_isa_select(g_saved_isa) == SMR_OK, "cannot restore the ISA %s",
        smr_isa_name(g_saved_isa));
}

/* Every available ISA selected in turn, t its table. */
#define FOR_EACH_SELECTED(isa, t)                                              \
  FOR_EACH_ISA(isa, t)                                                         \
  if (api_select(isa, isa == 0))

/* ======================================================================== */
/* The public bounds                                                         */
/* ======================================================================== */

/* The largest z_j - m of row i below the exp underflow threshold of dt (x
   as the kernel sees it); 0 for a row without a finite max. */
static double row_dmax(const refmat *R, size_t i) {
  const double *x = R->x + i * R->k;
  double m = -INFINITY, dmax = 0;
  for (size_t j = 0; j < R->k; j++)
    if (x[j] > m) m = x[j];
  if (!isfinite(m)) return 0;
  const double limit = R->dt == F32 ? 104.0 : 746.0;
  for (size_t j = 0; j < R->k; j++) {
    const double d = m - x[j];
    if (d < limit && d > dmax) dmax = d;
  }
  return dmax;
}

/* Rises of the running max of row i (the online kernel's rescales). */
static size_t row_rescales(const refmat *R, size_t i) {
  const double *x = R->x + i * R->k;
  double m = -INFINITY;
  size_t c = 0;
  for (size_t j = 0; j < R->k; j++)
    if (x[j] > m) {
      m = x[j];
      c++;
    }
  return c;
}

/* The relative part of M_API_ROW for row i: (a + b dmax) eps + r R eps64. */
static double api_rel(const cctx *c, const refmat *R, size_t i, bool online) {
  const tolspec *ts = tol_of(M_API_ROW, c->dt, c->cls);
  double rel = (ts->a + ts->b * row_dmax(R, i)) * dt_eps(c->dt);
  if (online) rel += ts->r * (double)row_rescales(R, i) * DBL_EPSILON;
  return rel;
}

/* got (a value of dt) against ref within rel |ref| + 2 tiny. */
static void api_val(int metric, const cctx *c, size_t idx, double got, long double ref,
                    double rel) {
  const long double tol = (long double)rel * fabsl(ref) + 2 * dt_tiny(c->dt);
  const long double unit = dt_eps(c->dt) * (fabsl(ref) > 0 && isfinite(ref) ? fabsl(ref) : 1.0L);
  check_val(metric, c, c->dt, idx, got, ref, tol, unit, -1);
}

/* The mean CE loss against the reference rows (M_API_LOSS). */
static void api_loss(const cctx *c, const refmat *R, const int32_t *labels, double got) {
  const tolspec *ts = tol_of(M_API_LOSS, c->dt, c->cls);
  long double ref = 0;
  double dmax = 0;
  for (size_t i = 0; i < R->n; i++) {
    ref += ref_loss_row(R, i, (size_t)labels[i]);
    const double d = row_dmax(R, i);
    if (d > dmax) dmax = d;
  }
  ref /= (long double)R->n;
  const double rel = (ts->a + ts->r * dmax) * dt_eps(c->dt) + ts->b * DBL_EPSILON;
  const double abs_tol = c->cls == CL_SCALAR ? 1e-300 : (double)R->k * dt_tiny(c->dt);
  const long double unit = DBL_EPSILON * (fabsl(ref) > 0 && isfinite(ref) ? fabsl(ref) : 1.0L);
  cctx lc = *c;
  lc.k = 0;
  check_val(M_API_LOSS, &lc, F64, 0, got, ref, (long double)rel * fabsl(ref) + abs_tol, unit, -1);
}

/* False in test_api_tasks: its rows are ref.c's hostile kinds, where the
   public bounds do not apply (subnormal log-softmax outputs, rows at the
   overflow threshold); the entries' accuracy there is rows.c's to check,
   and what the tasks must show is the entry's bits. */
static bool g_api_ref = true;

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* The public result equals the table entry's, bit for bit. */
static void api_same(const cctx *c, const double *pub, const double *tab, size_t len,
                     const char *what) {
  for (size_t i = 0; i < len; i++)
    CHECK(same_bits(pub[i], tab[i]),
          "%s %s isa=%s (%s): %s element %zu is %.17g, the table entry gives %.17g", c->kernel,
          dt_name(c->dt), isa_label(c->isa), c->where, what, i, pub[i], tab[i]);
}

/* ======================================================================== */
/* The public calls                                                          */
/* ======================================================================== */

static int rop_cls(const struct smr_kernels *t, int dt, int op) {
  switch (op) {
  case OP_SOFTMAX: return ENTRY_CLS(t, dt, softmax);
  case OP_ONLINE: return ENTRY_CLS(t, dt, softmax_online);
  case OP_TEMP: return ENTRY_CLS(t, dt, softmax_temperature);
  default: return ENTRY_CLS(t, dt, log_softmax);
  }
}

/* Public row op on the selected ISA (table t) into out: the table entry's
   bits, and each element within M_API_ROW of the reference. */
static void api_rop(const struct smr_kernels *t, int isa, int dt, int op, const double *z,
                    double *out, size_t n, size_t k, double temp, bool in_place, size_t in_off,
                    size_t out_off, const char *what) {
  char where[160];
  snprintf(where, sizeof where, "%s n=%zu k=%zu t=%g in+%zu out+%zu%s", what, n, k, temp, in_off,
           out_off, in_place ? " in place" : "");
  const cctx c = {dt, isa, rop_cls(t, dt, op), API_NAMES[op], where, k, NULL};
  double *tab = xmalloc(n * k * sizeof *tab);
  run_rop(NULL, &c, op, z, out, n, k, temp, in_place, in_off, out_off, NULL);
  run_rop(t, &c, op, z, tab, n, k, temp, in_place, in_off, out_off, NULL);
  api_same(&c, out, tab, n * k, "output");
  free(tab);
  if (!g_api_ref) return;
  refmat R;
  ref_build(&R, dt, z, n, k, op == OP_TEMP ? temp : 1.0, op == OP_TEMP, false);
  for (size_t i = 0; i < n; i++) {
    const double rel = api_rel(&c, &R, i, op == OP_ONLINE);
    for (size_t j = 0; j < k; j++) {
      const size_t idx = i * k + j;
      api_val(M_API_ROW, &c, idx, out[idx], op == OP_LOGSM ? ref_lp(&R, i, j) : R.p[idx], rel);
    }
  }
  ref_free(&R);
}

/* smr_cross_entropy_logits on the selected ISA in mode gm (want_loss false:
   loss = NULL, only with a gradient): run_ce of rows.c with t = NULL. */
static double pub_ce(const cctx *c, const double *z, const int32_t *labels, size_t n, size_t k,
                     int gm, bool want_loss, double *grad, size_t in_off, size_t out_off) {
  return run_ce(NULL, c, z, labels, n, k, 0.0, want_loss ? gm : gm | G_NOLOSS, grad, in_off,
                out_off);
}

static const char *const CE_NAMES[] = {"smr_cross_entropy_logits (grad = NULL)",
                                       "smr_cross_entropy_logits",
                                       "smr_cross_entropy_logits (grad = z)"};

/* The public fused CE on the selected ISA (table t) in mode gm: its
   gradient is the table entry's with scale 1/n, bit for bit; loss and
   gradient within M_API_LOSS and M_API_ROW of the reference. Returns the
   loss (NaN when not asked for); the gradient into grad. */
static double api_ce(const struct smr_kernels *t, int isa, int dt, const double *z,
                     const int32_t *labels, size_t n, size_t k, int gm, bool want_loss,
                     double *grad, size_t in_off, const char *what) {
  char where[160];
  snprintf(where, sizeof where, "%s n=%zu k=%zu in+%zu%s", what, n, k, in_off,
           want_loss ? "" : " loss = NULL");
  const cctx c = {dt, isa, ENTRY_CLS(t, dt, ce_logits), CE_NAMES[gm], where, k, NULL};
  const size_t out_off = (in_off + 1) % 4;
  const double loss = pub_ce(&c, z, labels, n, k, gm, want_loss, grad, in_off, out_off);
  if (gm != G_NONE) {
    double *tab = xmalloc(n * k * sizeof *tab);
    (void)run_ce(t, &c, z, labels, n, k, dt_round(dt, 1.0 / (double)n), gm, tab, in_off, out_off);
    api_same(&c, grad, tab, n * k, "gradient");
    free(tab);
  }
  if (!g_api_ref) return loss;
  refmat R;
  ref_build(&R, dt, z, n, k, 1.0, false, false);
  if (want_loss) api_loss(&c, &R, labels, loss);
  if (gm != G_NONE) {
    for (size_t i = 0; i < n; i++) {
      const double rel = api_rel(&c, &R, i, false);
      for (size_t j = 0; j < k; j++)
        api_val(M_API_ROW, &c, i * k + j, grad[i * k + j],
                ref_grad(&R, i, j, (size_t)labels[i], 1.0L / (long double)n), rel);
    }
  }
  ref_free(&R);
  return loss;
}

/* Every gradient mode of the fused CE on one matrix (the loss asked for
   in every other call with a gradient). */
static void api_ce_modes(const struct smr_kernels *t, int isa, int dt, const double *z,
                         const int32_t *labels, size_t n, size_t k, size_t c, size_t off,
                         const char *what) {
  double *g = xmalloc(n * k * sizeof *g);
  for (int gm = G_NONE; gm <= G_INPLACE; gm++)
    (void)api_ce(t, isa, dt, z, labels, n, k, gm, gm == G_NONE || c % 2 == 0, g, off, what);
  free(g);
}

/* ======================================================================== */
/* Random rows                                                               */
/* ======================================================================== */

/* Random normal rows at every scale and shape, rotating through in place
   and offsets 0..3 of input and output. */
static void sweep_op(int dt, int op, double temp, trng *r) {
  double *z = xmalloc(5 * 4097 * sizeof *z), *out = xmalloc(5 * 4097 * sizeof *out);
  FOR_EACH_SELECTED(isa, t) {
    size_t c = 0;
    for (size_t ki = 0; ki < NUM_KS; ki = next_ki(ki)) {
      const size_t k = KS[ki];
      for (size_t n = 1; n <= (k > 257 ? 2u : 5u); n += 2)
        for (size_t s = 0; s < NUM_SCALES; s += SCALE_STEP, c++) {
          fill_normal(dt, z, n * k, SCALES[s], r);
          api_rop(t, isa, dt, op, z, out, n, k, temp, c % 3 == 0, c % 4, (c / 4) % 4, "random");
        }
    }
  }
  api_restore();
  free(z);
  free(out);
}

START_TEST(test_api_softmax) {
  g_test = "api_softmax";
  trng r = tr_stream(101, _i);
  sweep_op(_i, OP_SOFTMAX, 1.0, &r);
}
END_TEST

START_TEST(test_api_online) {
  g_test = "api_online";
  trng r = tr_stream(102, _i);
  sweep_op(_i, OP_ONLINE, 1.0, &r);
}
END_TEST

START_TEST(test_api_temperature) {
  g_test = "api_temperature";
  trng r = tr_stream(103, _i);
  static const double ts[] = {0.01, 0.25, 1.0, 3.7, 1000.0};
  for (size_t i = 0; i < 5; i++) sweep_op(_i, OP_TEMP, ts[i], &r);
}
END_TEST

START_TEST(test_api_log_softmax) {
  g_test = "api_log_softmax";
  trng r = tr_stream(104, _i);
  sweep_op(_i, OP_LOGSM, 1.0, &r);
}
END_TEST

/* The fused CE: loss and gradient (none, apart, in place) at every shape. */
START_TEST(test_api_ce_logits) {
  const int dt = _i;
  g_test = "api_ce_logits";
  trng r = tr_stream(105, dt);
  double *z = xmalloc(5 * 4097 * sizeof *z);
  int32_t labels[5];
  FOR_EACH_SELECTED(isa, t) {
    size_t c = 0;
    for (size_t ki = 0; ki < NUM_KS; ki = next_ki(ki)) {
      const size_t k = KS[ki];
      for (size_t n = 1; n <= (k > 257 ? 2u : 5u); n += 2)
        for (size_t s = 0; s < NUM_SCALES; s += SCALE_STEP, c++) {
          fill_normal(dt, z, n * k, SCALES[s], &r);
          for (size_t i = 0; i < n; i++) labels[i] = (int32_t)tr_below(&r, k);
          api_ce_modes(t, isa, dt, z, labels, n, k, c, c % 4, "random");
        }
    }
  }
  api_restore();
  free(z);
}
END_TEST

/* ======================================================================== */
/* Consistency between the public kernels                                    */
/* ======================================================================== */

/* smr_softmax_online agrees with smr_softmax (M_API_ONLINE2P). Row 0 in
   increasing order forces a rescale at every entry. */
START_TEST(test_api_online_two_pass) {
  const int dt = _i;
  g_test = "api_online_two_pass";
  trng r = tr_stream(106, dt);
  double *z = xmalloc(3 * 4097 * sizeof *z), *a = xmalloc(3 * 4097 * sizeof *a),
         *b = xmalloc(3 * 4097 * sizeof *b);
  FOR_EACH_SELECTED(isa, t) {
    const cctx c = {dt, isa, ENTRY_CLS(t, dt, softmax_online), "smr_softmax_online vs smr_softmax",
                    "random", 0, NULL};
    const tolspec *ts = tol_of(M_API_ONLINE2P, dt, c.cls);
    for (size_t ki = 0; ki < NUM_KS; ki = next_ki(ki)) {
      const size_t k = KS[ki], n = 3;
      for (size_t s = 0; s < NUM_SCALES; s += SCALE_STEP) {
        fill_normal(dt, z, n * k, SCALES[s], &r);
        if (s == 1) /* row 0 ascending: the worst case for the rescales */
          for (size_t j = 0; j < k; j++) z[j] = dt_round(dt, (double)j / (double)k * 5.0);
        run_rop(NULL, &c, OP_SOFTMAX, z, a, n, k, 1.0, false, 0, 0, NULL);
        run_rop(NULL, &c, OP_ONLINE, z, b, n, k, 1.0, false, 0, 0, NULL);
        refmat R;
        ref_build(&R, dt, z, n, k, 1.0, false, false);
        for (size_t i = 0; i < n * k; i++) {
          const double rel =
              ts->a * dt_eps(dt) + ts->r * (double)row_rescales(&R, i / k) * DBL_EPSILON;
          const long double tol = rel * fabs(a[i]) + 2 * dt_tiny(dt);
          check_pair(M_API_ONLINE2P, &c, i, b[i], a[i], tol, dt_eps(dt) * (fabs(a[i]) + dt_tiny(dt)),
                     "online vs two-pass");
        }
        ref_free(&R);
      }
    }
  }
  api_restore();
  free(z);
  free(a);
  free(b);
}
END_TEST

/* smr_log_softmax = log(smr_softmax) wherever softmax is a normal number
   (M_API_LOGCONS); below, log_softmax is below log(DBL_MIN or FLT_MIN) + 1. */
START_TEST(test_api_log_consistency) {
  const int dt = _i;
  g_test = "api_log_consistency";
  trng r = tr_stream(107, dt);
  double *z = xmalloc(3 * 4097 * sizeof *z), *p = xmalloc(3 * 4097 * sizeof *p),
         *lp = xmalloc(3 * 4097 * sizeof *lp);
  const double min_normal = dt_min_normal(dt);
  FOR_EACH_SELECTED(isa, t) {
    const cctx c = {dt, isa, ENTRY_CLS(t, dt, log_softmax), "smr_log_softmax vs log(smr_softmax)",
                    "random", 0, NULL};
    const tolspec *ts = tol_of(M_API_LOGCONS, dt, c.cls);
    for (size_t ki = 0; ki < NUM_KS; ki = next_ki(ki)) {
      const size_t k = KS[ki], n = 3;
      for (size_t s = 0; s < NUM_SCALES; s += SCALE_STEP) {
        fill_normal(dt, z, n * k, SCALES[s], &r);
        run_rop(NULL, &c, OP_SOFTMAX, z, p, n, k, 1.0, false, 0, 0, NULL);
        run_rop(NULL, &c, OP_LOGSM, z, lp, n, k, 1.0, false, 0, 0, NULL);
        for (size_t i = 0; i < n * k; i++) {
          if (p[i] < min_normal) {
            CHECK(lp[i] < log(min_normal) + 1, "%s log_softmax %g where p = %g", dt_name(dt),
                  lp[i], p[i]);
            continue;
          }
          const double lg = log(p[i]);
          const double unit = dt_eps(dt) * (1 + fabs(lg));
          check_pair(M_API_LOGCONS, &c, i, lp[i], lg, ts->a * unit, unit, "log_softmax vs log p");
        }
      }
    }
  }
  api_restore();
  free(z);
  free(p);
  free(lp);
}
END_TEST

/* The fused gradient is (smr_softmax - smr_one_hot) / n, and its rows sum
   to ~0 (M_API_PY). */
START_TEST(test_api_grad_is_p_minus_y) {
  const int dt = _i;
  g_test = "api_grad_is_p_minus_y";
  trng r = tr_stream(108, dt);
  const size_t n = 7;
  double *z = xmalloc(n * 300 * sizeof *z), *g = xmalloc(n * 300 * sizeof *g),
         *p = xmalloc(n * 300 * sizeof *p);
  int32_t labels[7];
  FOR_EACH_SELECTED(isa, t) {
    const cctx c = {dt, isa, ENTRY_CLS(t, dt, ce_logits), "smr_cross_entropy_logits gradient",
                    "(p - y) / n", 0, NULL};
    const tolspec *ts = tol_of(M_API_PY, dt, c.cls);
    const double eps = dt_eps(dt);
    for (size_t k = 1; k <= 300; k += 13) {
      fill_normal(dt, z, n * k, 4.0, &r);
      for (size_t i = 0; i < n; i++) labels[i] = (int32_t)tr_below(&r, k);
      (void)pub_ce(&c, z, labels, n, k, G_OUT, false, g, 0, 1);
      run_rop(NULL, &c, OP_SOFTMAX, z, p, n, k, 1.0, false, 0, 0, NULL);
      gbuf by;
      void *y = gb_alloc(&by, dt_size(dt), n * k, 0);
      const smr_status st =
          dt == F32 ? smr_one_hot_f32(labels, n, k, y) : smr_one_hot_f64(labels, n, k, y);
      CHECK(st == SMR_OK, "smr_one_hot: status %d", (int)st);
      for (size_t i = 0; i < n; i++) {
        long double rowsum = 0;
        for (size_t j = 0; j < k; j++) {
          const size_t idx = i * k + j;
          rowsum += g[idx];
          const long double want = ((long double)p[idx] - get(dt, y, idx)) / (long double)n;
          check_pair(M_API_PY, &c, idx, g[idx], (double)want,
                     ts->a * eps * fabsl(want) + ts->b * eps / (double)n, eps * fabsl(want),
                     "gradient vs (p - y) / n");
        }
        check_pair(M_API_PY, &c, i * k, (double)rowsum, 0.0, ts->r * eps / (double)n,
                   eps / (double)n, "gradient row sum");
      }
      gb_free(&by);
    }
  }
  api_restore();
  free(z);
  free(g);
  free(p);
}
END_TEST

/* Central differences of the public loss match its gradient (M_FDIFF). z
   is on a grid so that z +- h is exact in the dtype. */
START_TEST(test_api_finite_difference) {
  const int dt = _i;
  g_test = "api_finite_difference";
  trng r = tr_stream(109, dt);
  const size_t n = 3, k = 6;
  const double h = dt == F32 ? 0x1p-7 : 0x1p-14;
  double z[18], g[18], zp[18];
  const int32_t labels[3] = {0, 5, 2};
  FOR_EACH_SELECTED(isa, t) {
    const cctx c = {dt, isa, ENTRY_CLS(t, dt, ce_logits), "smr_cross_entropy_logits",
                    "finite difference", k, NULL};
    const double tol = tol_of(M_FDIFF, dt, c.cls)->a;
    for (size_t i = 0; i < n * k; i++) z[i] = round(tr_normal(&r) * 2 * 4096) / 4096;
    (void)pub_ce(&c, z, labels, n, k, G_OUT, false, g, 0, 1);
    for (size_t i = 0; i < n * k; i++) {
      memcpy(zp, z, sizeof z);
      zp[i] = z[i] + h;
      const double lp = pub_ce(&c, zp, labels, n, k, G_NONE, true, NULL, 0, 0);
      zp[i] = z[i] - h;
      const double lm = pub_ce(&c, zp, labels, n, k, G_NONE, true, NULL, 0, 0);
      check_pair(M_FDIFF, &c, i, (lp - lm) / (2 * h), g[i], tol, 1.0, "d loss / d z_i");
    }
  }
  api_restore();
}
END_TEST

/* ======================================================================== */
/* smr_cross_entropy (probabilities and targets)                            */
/* ======================================================================== */

/* smr_cross_entropy_<dt>(p, y) with p and y given as doubles. */
static double pub_ce_prob(const cctx *c, const double *p, const double *y, size_t n, size_t k) {
  const int dt = c->dt;
  gbuf bp, by;
  void *pb = gb_from(&bp, dt, p, n * k, 1), *yb = gb_from(&by, dt, y, n * k, 3);
  double loss = NAN;
  const smr_status st = dt == F32 ? smr_cross_entropy_f32(pb, yb, n, k, &loss)
                                  : smr_cross_entropy_f64(pb, yb, n, k, &loss);
  CHECK(st == SMR_OK, "smr_cross_entropy %s: status %d", dt_name(dt), (int)st);
  gb_check(&bp, c, "p");
  gb_check(&by, c, "y");
  gb_free(&bp);
  gb_free(&by);
  return loss;
}

/* -(1/n) sum y log(p + 1e-15) with p and y as stored; the contract adds
   1e-15 in double, so the reference does too. */
static long double ref_ce_prob_mean(int dt, const double *p, const double *y, size_t n,
                                    size_t k) {
  long double acc = 0;
  for (size_t i = 0; i < n * k; i++) {
    const double yv = dt_round(dt, y[i]), pv = dt_round(dt, p[i]);
    if (yv != 0) acc += (long double)yv * logl((long double)(pv + 1e-15));
  }
  return -acc / (long double)n;
}

/* got within M_API_LOSS (the scalar column: ce_prob is the scalar kernel
   on every ISA) of ref. */
static void api_ce_prob_val(const cctx *c, double got, long double ref) {
  const tolspec *ts = tol_of(M_API_LOSS, c->dt, c->cls);
  const long double unit = DBL_EPSILON * (fabsl(ref) > 0 && isfinite(ref) ? fabsl(ref) : 1.0L);
  check_val(M_API_LOSS, c, F64, 0, got, ref, ts->b * DBL_EPSILON * fabsl(ref) + 1e-300, unit, -1);
}

/* Random probability rows (from smr_softmax) with one-hot and soft targets,
   zeros in p where y is zero; then the special values as written. */
START_TEST(test_api_ce_prob) {
  const int dt = _i;
  g_test = "api_ce_prob";
  trng r = tr_stream(110, dt);
  double *z = xmalloc(4 * 1000 * sizeof *z), *p = xmalloc(4 * 1000 * sizeof *p),
         *y = xmalloc(4 * 1000 * sizeof *y);
  FOR_EACH_SELECTED(isa, t) {
    const cctx c = {dt, isa, ENTRY_CLS(t, dt, ce_prob), "smr_cross_entropy", "random", 0, NULL};
    for (size_t ki = 0; ki < NUM_KS && KS[ki] <= 1000; ki = next_ki(ki)) {
      const size_t k = KS[ki], n = 4;
      fill_normal(dt, z, n * k, 3.0, &r);
      run_rop(NULL, &c, OP_SOFTMAX, z, p, n, k, 1.0, false, 0, 0, NULL);
      for (int soft = 0; soft < 2; soft++) {
        for (size_t i = 0; i < n; i++) {
          const size_t lab = tr_below(&r, k);
          for (size_t j = 0; j < k; j++)
            y[i * k + j] = soft ? dt_round(dt, tr_uniform(&r) < 0.3 ? tr_uniform(&r) : 0.0)
                                : (j == lab ? 1.0 : 0.0);
          if (k > 1) { /* a zero probability where y is 0 does not matter */
            const size_t j0 = (lab + 1) % k;
            if (y[i * k + j0] == 0) p[i * k + j0] = 0.0;
          }
        }
        api_ce_prob_val(&c, pub_ce_prob(&c, p, y, n, k), ref_ce_prob_mean(dt, p, y, n, k));
      }
    }
    /* the special values as written */
    const cctx s = {dt, isa, c.cls, "smr_cross_entropy", "special values", 0, NULL};
    const double p1[3] = {NAN, 0.5, 0.5}, y1[3] = {0, 1, 0}; /* NaN where y = 0: skipped */
    const double l1 = pub_ce_prob(&s, p1, y1, 1, 3);
    api_ce_prob_val(&s, l1, ref_ce_prob_mean(dt, p1, y1, 1, 3));
    CHECK(isfinite(l1), "NaN p where y = 0 gives %g", l1);
    const double p2[3] = {NAN, 0.5, 0.5}, y2[3] = {1, 0, 0}; /* NaN where y != 0 */
    CHECK(isnan(pub_ce_prob(&s, p2, y2, 1, 3)), "NaN p where y != 0 is not NaN");
    const double p3[3] = {0.5, 0.5, 0}, y3[3] = {0, NAN, 0}; /* NaN in y */
    CHECK(isnan(pub_ce_prob(&s, p3, y3, 1, 3)), "NaN in y is not NaN");
    const double p4[3] = {-0.5, 0.5, 1}, y4[3] = {1, 0, 0}; /* negative p */
    CHECK(isnan(pub_ce_prob(&s, p4, y4, 1, 3)), "negative p is not NaN");
    const double p5[3] = {0, 0.5, 0.5}, y5[3] = {1, 0, 0}; /* p = 0: -log(1e-15) */
    api_ce_prob_val(&s, pub_ce_prob(&s, p5, y5, 1, 3), -logl((long double)1e-15));
    const double p6[3] = {INFINITY, 0.5, 0.5}, y6[3] = {1, 0, 0};
    CHECK(pub_ce_prob(&s, p6, y6, 1, 3) == -INFINITY, "p = +inf does not give -inf");
  }
  api_restore();
  free(z);
  free(p);
  free(y);
}
END_TEST

/* ======================================================================== */
/* Special values                                                            */
/* ======================================================================== */

#define SPECIAL_K 4
/* Rows covering every rule of smr.h, plus ordinary rows in between. */
static const double SPECIAL_ROWS[][SPECIAL_K] = {
    {NAN, 1, 2, 3},                               /* NaN row */
    {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, /* all -inf: NaN row */
    {-INFINITY, 0, 1, -INFINITY},                 /* -inf entries -> 0 */
    {INFINITY, 0, 1, 2},                          /* one +inf -> one-hot */
    {INFINITY, 3, INFINITY, -INFINITY},           /* two +inf -> 1/2 each */
    {INFINITY, NAN, 1, 0},                        /* +inf with NaN after it -> NaN */
    {1, 2, NAN, INFINITY},                        /* NaN before the +inf -> NaN */
    {NAN, -INFINITY, -INFINITY, -INFINITY},       /* NaN, everything else -inf */
    {-INFINITY, -INFINITY, NAN, -INFINITY},
    {INFINITY, INFINITY, INFINITY, INFINITY},     /* four +inf -> 1/4 */
    {-INFINITY, INFINITY, -INFINITY, -INFINITY},
    {0.5, -1, 2, 1},                              /* ordinary */
    {-INFINITY, -INFINITY, 7, -INFINITY},         /* one finite among -inf */
    {NAN, NAN, NAN, NAN},
    {1e30, -1e30, 0, INFINITY},
    {-1e30, 1e30, 0, -INFINITY},
    {1e30, 1e30, -1e30, 0},
    {2, 2, 2, NAN},                               /* NaN last */
};
#define NUM_SPECIAL (sizeof SPECIAL_ROWS / sizeof SPECIAL_ROWS[0])

/* Every public row kernel on every special row, one row per call and all
   rows in one matrix, out of place and in place; temperature at several t,
   including t < 1 where finite z / t overflows to +-inf; k = 1. */
START_TEST(test_api_special_rows) {
  const int dt = _i;
  g_test = "api_special_rows";
  const size_t nr = NUM_SPECIAL, k = SPECIAL_K;
  double all[NUM_SPECIAL * SPECIAL_K], out[NUM_SPECIAL * SPECIAL_K];
  for (size_t i = 0; i < nr; i++)
    for (size_t j = 0; j < k; j++) all[i * k + j] = dt_round(dt, SPECIAL_ROWS[i][j]);
  static const double ts[] = {1.0, 0.5, 2.0, 1e-30};
  FOR_EACH_SELECTED(isa, t) {
    for (int op = 0; op < NUM_ROPS; op++)
      for (size_t ti = 0; ti < (op == OP_TEMP ? 4u : 1u); ti++) {
        const double temp = dt_round(dt, ts[ti]);
        if (temp == 0) continue;
        for (int inpl = 0; inpl < 2; inpl++) {
          for (size_t i = 0; i < nr; i++)
            api_rop(t, isa, dt, op, all + i * k, out, 1, k, temp, inpl, i % 4, 3 - i % 4,
                    "special row");
          api_rop(t, isa, dt, op, all, out, nr, k, temp, inpl, 1, 2, "special matrix");
        }
      }
    static const double singles[] = {INFINITY, -INFINITY, NAN, 3, -1e30, 0};
    for (size_t s = 0; s < 6; s++)
      for (int op = 0; op < NUM_ROPS; op++)
        api_rop(t, isa, dt, op, &singles[s], out, 1, 1, 0.5, false, 0, 1, "k=1 special");
  }
  api_restore();
}
END_TEST

/* Finite z whose quotient z / t overflows: the rules apply to z / t. */
START_TEST(test_api_temperature_overflow) {
  const int dt = _i;
  g_test = "api_temperature_overflow";
  const double big = dt_max(dt) * 0.75;
  const double rows[][3] = {{big, 1, 0}, {big, big, -big}, {-big, 0, 1}, {-big, -big, -big}};
  double p[3];
  FOR_EACH_SELECTED(isa, t) {
    for (size_t i = 0; i < 4; i++) {
      api_rop(t, isa, dt, OP_TEMP, rows[i], p, 1, 3, 0.5, false, 0, 0, "temperature overflow");
      api_rop(t, isa, dt, OP_TEMP, rows[i], p, 1, 3, 0.5, true, 2, 0, "temperature overflow");
    }
    /* the rules spelled out on top of the reference */
    api_rop(t, isa, dt, OP_TEMP, rows[0], p, 1, 3, 0.5, false, 0, 0, "overflow rule");
    CHECK(p[0] == 1 && p[1] == 0 && p[2] == 0, "isa=%s: [big, 1, 0] / 0.5 gives %g %g %g",
          isa_label(isa), p[0], p[1], p[2]);
    api_rop(t, isa, dt, OP_TEMP, rows[1], p, 1, 3, 0.5, false, 0, 0, "overflow rule");
    CHECK(p[0] == 0.5 && p[1] == 0.5 && p[2] == 0, "isa=%s: [big, big, -big] / 0.5 gives %g %g %g",
          isa_label(isa), p[0], p[1], p[2]);
    api_rop(t, isa, dt, OP_TEMP, rows[3], p, 1, 3, 0.5, false, 0, 0, "overflow rule");
    CHECK(isnan(p[0]) && isnan(p[1]) && isnan(p[2]), "isa=%s: all -big / 0.5 is not NaN",
          isa_label(isa));
  }
  api_restore();
}
END_TEST

/* The public fused CE on every special row, for every label, in every
   gradient mode; the rules spelled out on four rows. */
START_TEST(test_api_special_ce) {
  const int dt = _i;
  g_test = "api_special_ce";
  const size_t k = SPECIAL_K;
  double row[SPECIAL_K], g[SPECIAL_K];
  FOR_EACH_SELECTED(isa, t) {
    for (size_t i = 0; i < NUM_SPECIAL; i++) {
      for (size_t j = 0; j < k; j++) row[j] = dt_round(dt, SPECIAL_ROWS[i][j]);
      for (int32_t lab = 0; lab < (int32_t)k; lab++)
        for (int gm = G_NONE; gm <= G_INPLACE; gm++)
          (void)api_ce(t, isa, dt, row, &lab, 1, k, gm, true, g, (size_t)lab, "special");
    }
    /* unique +inf label -> 0; one of two -> log 2; 0 probability -> inf */
    const double r1[4] = {INFINITY, 0, 1, 2}, r2[4] = {INFINITY, 3, INFINITY, 0},
                 r3[4] = {-INFINITY, 0, 1, 2}, r4[4] = {1, NAN, 2, 3};
    const int32_t lab = 0;
    double loss = api_ce(t, isa, dt, r1, &lab, 1, 4, G_OUT, true, g, 0, "rule");
    CHECK(loss == 0 && g[0] == 0 && g[1] == 0, "isa=%s: +inf at the label: loss %g, g %g %g",
          isa_label(isa), loss, g[0], g[1]);
    loss = api_ce(t, isa, dt, r2, &lab, 1, 4, G_OUT, true, g, 0, "rule");
    CHECK(fabsl(loss - logl(2.0L)) <= 2 * DBL_EPSILON * logl(2.0L), "isa=%s: loss %.17g, not log 2",
          isa_label(isa), loss);
    CHECK(g[0] == -0.5 && g[2] == 0.5 && g[1] == 0, "isa=%s: two +inf: g %g %g %g",
          isa_label(isa), g[0], g[1], g[2]);
    loss = api_ce(t, isa, dt, r3, &lab, 1, 4, G_OUT, true, g, 0, "rule");
    CHECK(loss == INFINITY && g[0] == -1, "isa=%s: -inf at the label: loss %g, g %g",
          isa_label(isa), loss, g[0]);
    loss = api_ce(t, isa, dt, r4, &lab, 1, 4, G_INPLACE, true, g, 0, "rule");
    CHECK(isnan(loss) && isnan(g[0]) && isnan(g[3]), "isa=%s: a NaN row: loss %g", isa_label(isa),
          loss);
  }
  api_restore();
}
END_TEST

/* ======================================================================== */
/* In place, alignment, row tasks                                            */
/* ======================================================================== */

/* In place gives the same bits as out of place (same alignment). */
START_TEST(test_api_in_place) {
  const int dt = _i;
  g_test = "api_in_place";
  trng r = tr_stream(111, dt);
  double *z = xmalloc(3 * 4097 * sizeof *z), *a = xmalloc(3 * 4097 * sizeof *a),
         *b = xmalloc(3 * 4097 * sizeof *b);
  int32_t labels[3];
  FOR_EACH_SELECTED(isa, t) {
    for (size_t ki = 0; ki < NUM_KS; ki = next_ki(ki)) {
      const size_t k = KS[ki], n = 3, off = ki % 4;
      fill_normal(dt, z, n * k, 5.0, &r);
      if (k > 2) z[k + 1] = -INFINITY;
      for (int op = 0; op < NUM_ROPS; op++) {
        const cctx c = {dt, isa, rop_cls(t, dt, op), API_NAMES[op], "in place", k, NULL};
        run_rop(NULL, &c, op, z, a, n, k, 0.6, false, off, off, NULL);
        run_rop(NULL, &c, op, z, b, n, k, 0.6, true, off, off, NULL);
        api_same(&c, b, a, n * k, "in place vs out of place");
      }
      for (size_t i = 0; i < n; i++) labels[i] = (int32_t)tr_below(&r, k);
      const cctx c = {dt, isa, ENTRY_CLS(t, dt, ce_logits), "smr_cross_entropy_logits",
                      "in place", k, NULL};
      const double la = pub_ce(&c, z, labels, n, k, G_OUT, true, a, off, off);
      const double lb = pub_ce(&c, z, labels, n, k, G_INPLACE, true, b, (off + 1) % 4, 0);
      CHECK(same_bits(la, lb), "isa=%s %s k=%zu: loss in place %.17g, apart %.17g",
            isa_label(isa), dt_name(dt), k, lb, la);
      api_same(&c, b, a, n * k, "gradient in place vs apart");
    }
  }
  api_restore();
  free(z);
  free(a);
  free(b);
}
END_TEST

/* Input and output 0..3 elements off a 64-byte boundary, every pair. */
START_TEST(test_api_offsets) {
  const int dt = _i;
  g_test = "api_offsets";
  trng r = tr_stream(112, dt);
  const size_t n = 3;
  static const size_t ks[] = {1, 7, 37, 70};
  double z[3 * 70], out[3 * 70];
  int32_t labels[3];
  FOR_EACH_SELECTED(isa, t) {
    for (size_t ki = 0; ki < 4; ki++) {
      const size_t k = ks[ki];
      fill_normal(dt, z, n * k, 3.0, &r);
      for (size_t i = 0; i < n; i++) labels[i] = (int32_t)tr_below(&r, k);
      for (size_t oi = 0; oi < 4; oi++) {
        for (size_t oo = 0; oo < 4; oo++)
          for (int op = 0; op < NUM_ROPS; op++)
            api_rop(t, isa, dt, op, z, out, n, k, 2.0, false, oi, oo, "offsets");
        api_ce_modes(t, isa, dt, z, labels, n, k, 0, oi, "offsets");
      }
    }
  }
  api_restore();
}
END_TEST

/* Calls large enough to be cut into row tasks (the public entries cut
   about 2^18 elements per task), on one and on two of smr's threads: every
   row output and gradient is the table entry's on the whole matrix, bit
   for bit; the loss is the same on both thread counts. Shapes: short rows
   (the block paths), rows around a vector, long rows. */
START_TEST(test_api_tasks) {
  const int dt = _i;
  g_test = "api_tasks";
  trng r = tr_stream(113, dt);
  /* quick: the second shape only (two tasks of rows through the block path) */
  static const size_t shapes[][2] = {{100003, 3}, {20011, 17}, {700, 1000}, {65, 4097}};
  const size_t s0 = g_quick ? 1 : 0, nshapes = g_quick ? 2 : 4;
  const int threads_before = smr_num_threads();
  g_api_ref = false;
  FOR_EACH_SELECTED(isa, t) {
    for (size_t si = s0; si < nshapes; si++) {
      const size_t n = shapes[si][0], k = shapes[si][1], len = n * k;
      double *z = xmalloc(len * sizeof *z), *out = xmalloc(len * sizeof *out),
             *g = xmalloc(len * sizeof *g);
      int32_t *labels = xmalloc(n * sizeof *labels);
      for (size_t i = 0; i < n; i++) {
        gen_row(dt, SCHED[(si + i) % NUM_SCHED], z + i * k, k, SCALES[i % NUM_SCALES], 1.0, &r);
        labels[i] = pick_label(z + i * k, k, &r);
      }
      double loss[2];
      for (int nt = 1; nt <= 2; nt++) {
        CHECK(smr_set_num_threads(nt) == SMR_OK, "smr_set_num_threads(%d)", nt);
        char where[64];
        snprintf(where, sizeof where, "tasks, %d thread%s", nt, nt > 1 ? "s" : "");
        for (int op = 0; op < NUM_ROPS; op++)
          api_rop(t, isa, dt, op, z, out, n, k, 0.5, op == OP_LOGSM, si % 4, (si + 1) % 4, where);
        loss[nt - 1] = api_ce(t, isa, dt, z, labels, n, k, G_OUT, true, g, si % 4, where);
      }
      CHECK(same_bits(loss[0], loss[1]), "isa=%s %s %zu x %zu: loss %.17g on one thread, %.17g on two",
            isa_label(isa), dt_name(dt), n, k, loss[0], loss[1]);
      free(z);
      free(out);
      free(g);
      free(labels);
    }
  }
  g_api_ref = true;
  CHECK(smr_set_num_threads(threads_before) == SMR_OK, "cannot restore the thread count");
  api_restore();
}
END_TEST

/* ======================================================================== */
/* The seed's test cases (the published values)                              */
/* ======================================================================== */

/* x within rel |want| + abs of a published value. */
static void seed_close(const char *what, int isa, int dt, double got, long double want, double rel,
                       double abs_tol) {
  CHECK(fabsl((long double)got - want) <= rel * fabsl(want) + abs_tol,
        "%s %s isa=%s: %.17g, published %.21Lg (rel %g, abs %g)", what, dt_name(dt),
        isa_label(isa), got, want, rel, abs_tol);
}

/* softmax([1000, 1000, 1000]) = softmax([0, 0, 0]) = 1/3 each, no overflow;
   softmax([1000, 0, 0]) ~ [1, 0, 0]; softmax([-1000, -999, -998]) finite
   and positive (the three softmax kernels; log_softmax on the last). */
START_TEST(test_seed_softmax_values) {
  const int dt = _i;
  g_test = "seed_softmax_values";
  static const double big[3] = {1000, 1000, 1000}, zero[3] = {0, 0, 0}, mixed[3] = {1000, 0, 0},
                      neg[3] = {-1000, -999, -998};
  double p[3];
  FOR_EACH_SELECTED(isa, t) {
    for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
      api_rop(t, isa, dt, op, big, p, 1, 3, 1.0, false, 0, 0, "[1000, 1000, 1000]");
      for (int j = 0; j < 3; j++)
        seed_close(API_NAMES[op], isa, dt, p[j], 1.0L / 3.0L, 2 * dt_eps(dt), 0);
      api_rop(t, isa, dt, op, zero, p, 1, 3, 1.0, false, 0, 0, "[0, 0, 0]");
      for (int j = 0; j < 3; j++)
        seed_close(API_NAMES[op], isa, dt, p[j], 1.0L / 3.0L, 2 * dt_eps(dt), 0);
      api_rop(t, isa, dt, op, mixed, p, 1, 3, 1.0, false, 0, 0, "[1000, 0, 0]");
      seed_close(API_NAMES[op], isa, dt, p[0], 1.0L, dt_eps(dt), 0);
      for (int j = 1; j < 3; j++)
        CHECK(p[j] >= 0 && p[j] < 1e-300, "%s %s isa=%s: [1000, 0, 0] gives p%d = %g",
              API_NAMES[op], dt_name(dt), isa_label(isa), j, p[j]);
      api_rop(t, isa, dt, op, neg, p, 1, 3, 1.0, false, 0, 0, "[-1000, -999, -998]");
      for (int j = 0; j < 3; j++)
        CHECK(isfinite(p[j]) && p[j] > 0.0, "%s %s isa=%s: [-1000, -999, -998] gives p%d = %g",
              API_NAMES[op], dt_name(dt), isa_label(isa), j, p[j]);
    }
    api_rop(t, isa, dt, OP_LOGSM, neg, p, 1, 3, 1.0, false, 0, 0, "[-1000, -999, -998]");
  }
  api_restore();
}
END_TEST

/* Rows sum to one: |sum_j p_j - 1| <= 8 eps (M_SUM1's scalar a) for
   k = 1..70 and longer rows, at every scale (the three softmax kernels). */
START_TEST(test_seed_sum_to_one) {
  const int dt = _i;
  g_test = "seed_sum_to_one";
  trng r = tr_stream(114, dt);
  const size_t n = 4;
  double *z = xmalloc(n * 4097 * sizeof *z), *p = xmalloc(n * 4097 * sizeof *p);
  FOR_EACH_SELECTED(isa, t) {
    for (size_t k = 1; k <= 4097; k = k < 70 ? k + KI_STEP : k * 2 + 1)
      for (size_t s = 0; s < NUM_SCALES; s += SCALE_STEP) {
        fill_normal(dt, z, n * k, SCALES[s], &r);
        for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
          const cctx c = {dt, isa, rop_cls(t, dt, op), API_NAMES[op], "sum to one", k, NULL};
          run_rop(NULL, &c, op, z, p, n, k, 0.7, false, 0, 0, NULL);
          for (size_t i = 0; i < n; i++) {
            long double sum = 0;
            for (size_t j = 0; j < k; j++) sum += p[i * k + j];
            check_pair(M_SUM1, &c, i * k, (double)sum, 1.0,
                       tol_of(M_SUM1, dt, CL_SCALAR)->a * dt_eps(dt), dt_eps(dt), "row sum");
          }
        }
      }
  }
  api_restore();
  free(z);
  free(p);
}
END_TEST

/* Outputs are strictly positive for moderate inputs (|z| <~ 20); z_i < z_j
   implies p_i <= p_j for every pair (all four kernels). */
START_TEST(test_seed_positive_monotone) {
  const int dt = _i;
  g_test = "seed_positive_monotone";
  trng r = tr_stream(115, dt);
  double *z = xmalloc(3 * 300 * sizeof *z), *p = xmalloc(3 * 300 * sizeof *p);
  FOR_EACH_SELECTED(isa, t) {
    for (size_t k = 1; k <= 300; k += 7) {
      fill_normal(dt, z, 3 * k, 3.0, &r);
      for (int op = OP_SOFTMAX; op <= OP_TEMP; op++) {
        const cctx c = {dt, isa, rop_cls(t, dt, op), API_NAMES[op], "positive", k, NULL};
        run_rop(NULL, &c, op, z, p, 3, k, 1.5, false, 1, 2, NULL);
        for (size_t i = 0; i < 3 * k; i++)
          CHECK(p[i] > 0.0, "%s %s isa=%s k=%zu: p[%zu] = %g for z = %g", API_NAMES[op],
                dt_name(dt), isa_label(isa), k, i, p[i], z[i]);
      }
    }
    for (size_t k = 1; k <= 70; k++)
      for (size_t s = 0; s < NUM_SCALES; s++) {
        fill_normal(dt, z, 2 * k, SCALES[s], &r);
        for (int op = 0; op < NUM_ROPS; op++) {
          const cctx c = {dt, isa, rop_cls(t, dt, op), API_NAMES[op], "monotone", k, NULL};
          run_rop(NULL, &c, op, z, p, 2, k, 0.3, false, 0, 0, NULL);
          for (size_t i = 0; i < 2; i++)
            for (size_t a = 0; a < k; a++)
              for (size_t b = 0; b < k; b++)
                CHECK(!(z[i * k + a] < z[i * k + b]) || p[i * k + a] <= p[i * k + b],
                      "%s %s isa=%s k=%zu: z %.9g < %.9g but p %.9g > %.9g", API_NAMES[op],
                      dt_name(dt), isa_label(isa), k, z[i * k + a], z[i * k + b], p[i * k + a],
                      p[i * k + b]);
        }
      }
  }
  api_restore();
  free(z);
  free(p);
}
END_TEST

/* softmax(z + c) = softmax(z) within rel 4 eps, abs 2 tiny; z on a grid of
   1/64 so that z + c is exact in the dtype (all four kernels). */
START_TEST(test_seed_shift_invariance) {
  const int dt = _i;
  g_test = "seed_shift_invariance";
  trng r = tr_stream(116, dt);
  static const double shifts[] = {-1000, -3.5, 0.25, 100, 1000, 4096, 1e6, -1e9, 3e12};
  const size_t k = 37, n = 3;
  double z[3 * 37], zs[3 * 37], p[3 * 37], ps[3 * 37];
  FOR_EACH_SELECTED(isa, t) {
    for (size_t si = 0; si < (dt == F32 ? 6u : 9u); si++) {
      const double c = shifts[si];
      for (size_t i = 0; i < n * k; i++) {
        z[i] = round(tr_normal(&r) * 4 * 64) / 64;
        zs[i] = z[i] + c;
        CHECK(dt_round(dt, zs[i]) == zs[i] && dt_round(dt, z[i]) == z[i], "shift not exact");
      }
      for (int op = 0; op < NUM_ROPS; op++) {
        const cctx cx = {dt, isa, rop_cls(t, dt, op), API_NAMES[op], "shift", k, NULL};
        run_rop(NULL, &cx, op, z, p, n, k, 1.0, false, 0, 0, NULL);
        run_rop(NULL, &cx, op, zs, ps, n, k, 1.0, false, 0, 0, NULL);
        for (size_t i = 0; i < n * k; i++)
          seed_close(API_NAMES[op], isa, dt, ps[i], p[i], 4 * dt_eps(dt), 2 * dt_tiny(dt));
      }
    }
  }
  api_restore();
}
END_TEST

/* The seed's cross-entropy cases: P = Y (loss ~ 0), 0.99 on a wrong class
   (~ 4.6), P uniform (log 3 ~ 1.1); the fused loss of confidently right
   logits (~ 0) and of equal logits (log 3). */
START_TEST(test_seed_cross_entropy) {
  const int dt = _i;
  g_test = "seed_cross_entropy";
  const size_t k = 3;
  const int32_t labels[4] = {0, 2, 1, 2};
  double y[12] = {0}, z[12], g[12];
  for (size_t i = 0; i < 4; i++) {
    y[i * k + (size_t)labels[i]] = 1.0;
    for (size_t j = 0; j < k; j++) z[i * k + j] = j == (size_t)labels[i] ? 60.0 : 0.0;
  }
  static const double pw[9] = {0.99, 0.01, 0, 0, 0.99, 0.01, 0.01, 0, 0.99};
  static const double yw[9] = {0, 1, 0, 0, 0, 1, 1, 0, 0};
  static const double yu[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, zu[9] = {0};
  static const int32_t lu[3] = {0, 1, 2};
  double pu[9];
  for (size_t i = 0; i < 9; i++) pu[i] = dt_round(dt, 1.0 / 3.0);
  FOR_EACH_SELECTED(isa, t) {
    const cctx c = {dt, isa, ENTRY_CLS(t, dt, ce_prob), "smr_cross_entropy", "seed", 0, NULL};
    double loss = pub_ce_prob(&c, y, y, 4, k);
    CHECK(fabs(loss) <= 1e-14, "%s isa=%s: perfect prediction loss %g", dt_name(dt),
          isa_label(isa), loss);
    api_ce_prob_val(&c, loss, ref_ce_prob_mean(dt, y, y, 4, k));
    loss = api_ce(t, isa, dt, z, labels, 4, k, G_NONE, true, NULL, 0, "perfect prediction");
    CHECK(loss >= 0 && loss <= 1e-20, "%s isa=%s: fused loss of a perfect prediction %g",
          dt_name(dt), isa_label(isa), loss);
    (void)api_ce(t, isa, dt, z, labels, 4, k, G_OUT, true, g, 0, "perfect prediction");

    loss = pub_ce_prob(&c, pw, yw, 3, k);
    CHECK(fabs(loss - 4.6) < 0.01, "%s isa=%s: confident wrong loss %g", dt_name(dt),
          isa_label(isa), loss);
    api_ce_prob_val(&c, loss, ref_ce_prob_mean(dt, pw, yw, 3, k));

    loss = pub_ce_prob(&c, pu, yu, 3, k);
    CHECK(fabs(loss - 1.1) < 0.01, "%s isa=%s: uniform loss %g", dt_name(dt), isa_label(isa),
          loss);
    seed_close("smr_cross_entropy uniform", isa, dt, loss, logl(3.0L), 2 * dt_eps(dt), 4e-15);
    api_ce_prob_val(&c, loss, ref_ce_prob_mean(dt, pu, yu, 3, k));
    loss = api_ce(t, isa, dt, zu, lu, 3, k, G_NONE, true, NULL, 0, "uniform");
    seed_close("smr_cross_entropy_logits uniform", isa, dt, loss, logl(3.0L), 64 * DBL_EPSILON, 0);
  }
  api_restore();
}
END_TEST

void checkasm_api(Suite *s) {
  TCase *tc = checkasm_tcase(s, "api");
  DT_LOOP(tc, test_seed_softmax_values);
  DT_LOOP(tc, test_seed_sum_to_one);
  DT_LOOP(tc, test_seed_positive_monotone);
  DT_LOOP(tc, test_seed_shift_invariance);
  DT_LOOP(tc, test_seed_cross_entropy);
  DT_LOOP(tc, test_api_softmax);
  DT_LOOP(tc, test_api_online);
  DT_LOOP(tc, test_api_temperature);
  DT_LOOP(tc, test_api_log_softmax);
  DT_LOOP(tc, test_api_ce_logits);
  DT_LOOP(tc, test_api_online_two_pass);
  DT_LOOP(tc, test_api_log_consistency);
  DT_LOOP(tc, test_api_grad_is_p_minus_y);
  DT_LOOP(tc, test_api_finite_difference);
  DT_LOOP(tc, test_api_ce_prob);
  DT_LOOP(tc, test_api_special_rows);
  DT_LOOP(tc, test_api_temperature_overflow);
  DT_LOOP(tc, test_api_special_ce);
  DT_LOOP(tc, test_api_in_place);
  DT_LOOP(tc, test_api_offsets);
  DT_LOOP(tc, test_api_tasks);
}
