/*
 * rows.c - the row kernels of every table: softmax, softmax_online,
 * softmax_temperature, log_softmax, ce_logits (out of place, in place,
 * loss only, row weights), ce_prob, argmax_rows and all_finite, against
 * the long-double reference (ref.c) and the scalar table, on the row kinds
 * of ref.c at every short length, the powers of two and one long row.
 */
#include "checkasm.h"

/* ======================================================================== */
/* Calling the row kernels                                                   */
/* ======================================================================== */

/* test_rows_stream: softmax, softmax_temperature and ce_logits (with a
   gradient) get a scratch of SMR_STREAM_SCRATCH(k) elements (the streaming
   path), guarded like every other buffer. */
static bool g_stream;

/* t == NULL: the public function of smr.h (on the selected ISA). */
static void call_rop(const struct smr_kernels *t, int dt, int op, const void *z, void *p, size_t n,
                     size_t k, double temp, void *scratch) {
  if (t == NULL) {
    smr_status st;
    if (dt == F32)
      st = op == OP_SOFTMAX ? smr_softmax_f32(z, p, n, k)
         : op == OP_ONLINE  ? smr_softmax_online_f32(z, p, n, k)
         : op == OP_TEMP    ? smr_softmax_temperature_f32(z, p, n, k, (float)temp)
                            : smr_log_softmax_f32(z, p, n, k);
    else
      st = op == OP_SOFTMAX ? smr_softmax_f64(z, p, n, k)
         : op == OP_ONLINE  ? smr_softmax_online_f64(z, p, n, k)
         : op == OP_TEMP    ? smr_softmax_temperature_f64(z, p, n, k, temp)
                            : smr_log_softmax_f64(z, p, n, k);
    CHECK(st == SMR_OK, "public row kernel %d %s n=%zu k=%zu: status %d (%s)", op, dt_name(dt), n,
          k, (int)st, smr_strerror(st));
    return;
  }
  if (dt == F32) {
    switch (op) {
    case OP_SOFTMAX: t->f32.softmax(z, p, n, k, scratch); return;
    case OP_ONLINE: t->f32.softmax_online(z, p, n, k); return;
    case OP_TEMP: t->f32.softmax_temperature(z, p, n, k, (float)temp, scratch); return;
    default: t->f32.log_softmax(z, p, n, k); return;
    }
  }
  switch (op) {
  case OP_SOFTMAX: t->f64.softmax(z, p, n, k, scratch); return;
  case OP_ONLINE: t->f64.softmax_online(z, p, n, k); return;
  case OP_TEMP: t->f64.softmax_temperature(z, p, n, k, temp, scratch); return;
  default: t->f64.log_softmax(z, p, n, k); return;
  }
}

static void call_argmax(const struct smr_kernels *t, int dt, const void *p, size_t n, size_t k,
                        int32_t *lab) {
  if (dt == F32)
    t->f32.argmax_rows(p, n, k, lab);
  else
    t->f64.argmax_rows(p, n, k, lab);
}

/* Runs row op `op` of table t on the n x k matrix z into out (as doubles):
   input at in_off, output at out_off or in place; guards, sentinels and
   the input checked. am != NULL: argmax_rows of the same table on the
   output buffer. */
void run_rop(const struct smr_kernels *t, const cctx *c, int op, const double *z, double *out,
             size_t n, size_t k, double temp, bool in_place, size_t in_off, size_t out_off,
             int32_t *am) {
  const int dt = c->dt;
  const size_t len = n * k, esz = dt_size(dt);
  gbuf bi, bo = {0};
  void *in = gb_from(&bi, dt, z, len, in_off);
  void *copy = NULL, *o = in;
  if (!in_place) {
    o = gb_alloc(&bo, esz, len, out_off);
    copy = xmalloc(len * esz);
    memcpy(copy, in, len * esz);
  }
  gbuf bs = {0};
  void *scratch = g_stream && t != NULL ? gb_alloc(&bs, esz, SMR_STREAM_SCRATCH(k), 0) : NULL;
  call_rop(t, dt, op, in, o, n, k, temp, scratch);
  if (scratch != NULL) {
    gb_check(&bs, c, "scratch");
    gb_free(&bs);
  }
  gb_check(&bi, c, in_place ? "in-place" : "input");
  if (!in_place) {
    gb_check(&bo, c, "output");
    gb_written(&bo, c, "output");
    CHECK(memcmp(copy, in, len * esz) == 0, "%s %s isa=%s (%s): the input was modified",
          c->kernel, dt_name(dt), isa_label(c->isa), c->where);
  }
  for (size_t i = 0; i < len; i++) out[i] = get(dt, o, i);
  if (am != NULL) call_argmax(t, dt, o, n, k, am);
  free(copy);
  gb_free(&bi);
  if (!in_place) gb_free(&bo);
}

static const char *const GMODE_NAMES[] = {"ce_logits (g = NULL)", "ce_logits", "ce_logits (g = z)"};

/* t == NULL: smr_cross_entropy_logits (on the selected ISA), which must
   return SMR_OK; its mean loss into *loss (a guarded double) unless loss is
   NULL. Otherwise t's entry, whose sum comes back in *loss. */
static void call_ce(const struct smr_kernels *t, const cctx *c, const void *z, const int32_t *lab,
                    size_t n, size_t k, double scale, void *g, void *scratch, double *loss) {
  const int dt = c->dt;
  if (t != NULL) {
    *loss = dt == F32 ? t->f32.ce_logits(z, lab, NULL, n, k, (float)scale, g, scratch)
                      : t->f64.ce_logits(z, lab, NULL, n, k, scale, g, scratch);
    return;
  }
  gbuf bs;
  double *lp = loss != NULL ? gb_alloc(&bs, sizeof(double), 1, 0) : NULL;
  const smr_status st = dt == F32 ? smr_cross_entropy_logits_f32(z, lab, n, k, lp, g)
                                  : smr_cross_entropy_logits_f64(z, lab, n, k, lp, g);
  CHECK(st == SMR_OK, "%s %s isa=%s (%s): status %d", c->kernel, dt_name(dt), isa_label(c->isa),
        c->where, (int)st);
  if (lp != NULL) {
    gb_check(&bs, c, "loss");
    gb_written(&bs, c, "loss");
    *loss = *lp;
    gb_free(&bs);
  }
}

/* The fused CE of table t in gradient mode gm; the gradient (unless
   G_NONE) into grad as doubles. */
double run_ce(const struct smr_kernels *t, const cctx *c, const double *z, const int32_t *labels,
              size_t n, size_t k, double scale, int gm, double *grad, size_t in_off,
              size_t out_off) {
  const int dt = c->dt, mode = gm & ~G_NOLOSS;
  const size_t len = n * k, esz = dt_size(dt);
  gbuf bz, bl, bg = {0};
  void *zin = gb_from(&bz, dt, z, len, in_off);
  void *copy = xmalloc(len * esz);
  memcpy(copy, zin, len * esz);
  int32_t *lab = gb_alloc(&bl, sizeof(int32_t), n, (in_off + 1) % 4);
  memcpy(lab, labels, n * sizeof *lab);
  const bool apart = mode == G_OUT;
  void *g = apart ? gb_alloc(&bg, esz, len, out_off) : mode == G_INPLACE ? zin : NULL;
  gbuf bs = {0};
  void *scratch =
      g_stream && t != NULL && g != NULL ? gb_alloc(&bs, esz, SMR_STREAM_SCRATCH(k), 0) : NULL;
  double loss = NAN;
  call_ce(t, c, zin, lab, n, k, scale, g, scratch, t == NULL && (gm & G_NOLOSS) ? NULL : &loss);
  if (scratch != NULL) {
    gb_check(&bs, c, "scratch");
    gb_free(&bs);
  }
  gb_check(&bz, c, mode == G_INPLACE ? "z (= g)" : "z");
  gb_check(&bl, c, "labels");
  CHECK(memcmp(lab, labels, n * sizeof *lab) == 0, "%s %s isa=%s (%s): labels modified",
        c->kernel, dt_name(dt), isa_label(c->isa), c->where);
  if (mode != G_INPLACE)
    CHECK(memcmp(copy, zin, len * esz) == 0, "%s %s isa=%s (%s): z modified", c->kernel,
          dt_name(dt), isa_label(c->isa), c->where);
  if (apart) {
    gb_check(&bg, c, "gradient");
    gb_written(&bg, c, "gradient");
  }
  if (mode != G_NONE)
    for (size_t i = 0; i < len; i++) grad[i] = get(dt, g, i);
  if (apart) gb_free(&bg);
  gb_free(&bl);
  gb_free(&bz);
  free(copy);
  return loss;
}

/* ======================================================================== */
/* Row-kernel checks                                                         */
/* ======================================================================== */

/* softmax-like output against the reference; classes against (or, for the
   scalar table, into) scc. */
static void check_probs(int metric, const cctx *c, const refmat *R, const double *out,
                        unsigned char *scc) {
  const tolspec *ts = tol_of(metric, c->dt, c->cls);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    const size_t resc = R->rows[i].resc;
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      const long double ref = R->p[idx];
      const double u = ulp_t(c->dt, ref);
      const double tol =
          ts->a * u + rel_term(ts->b * ref_cond(R, i, j) + ts->r * (double)resc, eps, (double)ref);
      check_val(metric, c, c->dt, idx, out[idx], ref, tol, u, is_sc ? -1 : scc[idx]);
      if (is_sc) scc[idx] = (unsigned char)vclass(out[idx]);
    }
  }
}

static void check_logsm(const cctx *c, const refmat *R, const double *out, unsigned char *scc) {
  const tolspec *ts = tol_of(M_LOGSM, c->dt, c->cls);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    const double dbar = (double)R->rows[i].dbar;
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      const long double ref = ref_lp(R, i, j);
      const double u = ulp_t(c->dt, ref);
      const double tol = ts->a * u + ts->b * dbar * eps;
      check_val(M_LOGSM, c, c->dt, idx, out[idx], ref, tol, u, is_sc ? -1 : scc[idx]);
      if (is_sc) scc[idx] = (unsigned char)vclass(out[idx]);
    }
  }
}

static void check_grad(const cctx *c, const refmat *R, const int32_t *labels, double s,
                       const double *g, unsigned char *scc) {
  const tolspec *ts = tol_of(M_CE_GRAD, c->dt, c->cls);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    const size_t y = (size_t)labels[i];
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      const long double ref = ref_grad(R, i, j, y, s);
      const double u = ulp_t(c->dt, ref), p = (double)R->p[idx];
      double tol = ts->a * u + rel_term(ts->b * ref_cond(R, i, j), eps, p) * fabs(s);
      /* p_y - 1 formed in T: p_y's own bound, as an absolute error */
      if (j == y) tol += ts->r * ts->a * ulp_t(c->dt, p) * fabs(s);
      check_val(M_CE_GRAD, c, c->dt, idx, g[idx], ref, tol, u, is_sc ? -1 : scc[idx]);
      if (is_sc) scc[idx] = (unsigned char)vclass(g[idx]);
    }
  }
}

static void check_loss(const cctx *c, const refmat *R, const int32_t *labels, double got,
                       int *sc_class) {
  long double tol, unit;
  const long double ref =
      ce_loss_ref(R, labels, tol_of(M_CE_LOSS, c->dt, c->cls), &tol, &unit);
  const bool is_sc = c->isa == SMR_ISA_SCALAR;
  cctx lc = *c;
  lc.k = 0;
  check_val(M_CE_LOSS, &lc, F64, 0, got, ref, tol, unit, is_sc ? -1 : *sc_class);
  if (is_sc) *sc_class = vclass(got);
}

/* Rows sum to 1 (the non-NaN rows). metric: the element bound of the
   kernel, whose per-rescale term r applies to the sum as a whole: the
   rescales round the denominator S only, so every p_j of the row shares
   that relative error (seed 386107084097: an online f64 row of 1e6 with
   14 rescales summed to 1 - 16.8 eps). */
static void prop_sum1(const cctx *c, const refmat *R, const double *p, int metric) {
  const tolspec *ts = tol_of(M_SUM1, c->dt, c->cls);
  const double r = tol_of(metric, c->dt, c->cls)->r;
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    if (R->rows[i].nan_row) continue;
    long double sum = 0;
    for (size_t j = 0; j < R->k; j++) sum += p[i * R->k + j];
    const long double tol =
        (ts->a + ts->b * R->rows[i].dbar + r * (double)R->rows[i].resc) * eps;
    const long double err = fabsl(sum - 1);
    note(M_SUM1, c, i * R->k, err, eps, tol);
    if (!(err <= tol))
      FAIL("%s %s isa=%s (%s) row %zu (kind %s): sums to 1 %+.3Lg, bound %.3Lg", c->kernel,
           dt_name(c->dt), isa_label(c->isa), c->where, i,
           row_kind(c, i * R->k), sum - 1, tol);
  }
}

/* Gradient rows sum to 0. */
static void prop_gsum0(const cctx *c, const refmat *R, const double *g, double s) {
  const tolspec *ts = tol_of(M_GSUM0, c->dt, c->cls);
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    if (R->rows[i].nan_row) continue;
    long double sum = 0;
    for (size_t j = 0; j < R->k; j++) sum += g[i * R->k + j];
    const long double unit = eps * fabs(s);
    const long double tol = (ts->a + ts->b * R->rows[i].dbar) * unit;
    note(M_GSUM0, c, i * R->k, fabsl(sum), unit, tol);
    if (!(fabsl(sum) <= tol))
      FAIL("%s %s isa=%s (%s) row %zu (kind %s): gradient row sums to %.3Lg, bound %.3Lg",
           c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
           row_kind(c, i * R->k), sum, tol);
  }
}

/* Argmax: the output at the first max of x is the row's largest output;
   argmax_rows of the output returns the first index holding it (<= that of
   x: an earlier entry may round to the same value); -1 on NaN rows. */
static void prop_argmax(const cctx *c, const refmat *R, const double *p, const int32_t *am) {
  for (size_t i = 0; i < R->n; i++) {
    const rrow *rr = &R->rows[i];
    const double *row = p + i * R->k;
    if (rr->nan_row) {
      CHECK(am[i] == -1, "%s %s isa=%s (%s) row %zu: argmax_rows of a NaN row is %d", c->kernel,
            dt_name(c->dt), isa_label(c->isa), c->where, i, (int)am[i]);
      continue;
    }
    double mp = -INFINITY;
    size_t first = 0;
    for (size_t j = 0; j < R->k; j++)
      if (row[j] > mp) {
        mp = row[j];
        first = j;
      }
    CHECK(row[rr->jz] == mp,
          "%s %s isa=%s (%s) row %zu (kind %s): output %.9g at the argmax %zu of z is not the "
          "row's largest %.9g (at %zu)",
          c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
          row_kind(c, i * R->k), row[rr->jz], rr->jz, mp, first);
    CHECK(am[i] >= 0 && (size_t)am[i] == first && first <= rr->jz,
          "%s %s isa=%s (%s) row %zu (kind %s): argmax_rows %d, first max of the output %zu, "
          "argmax of z %zu",
          c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
          row_kind(c, i * R->k), (int)am[i], first, rr->jz);
  }
}

/* Monotone: x_i < x_j => out_i <= out_j + a ulp(out_j); x_i == x_j =>
   out_i == out_j. Walks each row in the order of x. */
static void prop_mono(const cctx *c, const refmat *R, const double *out) {
  const tolspec *ts = tol_of(M_MONO, c->dt, c->cls);
  for (size_t i = 0; i < R->n; i++) {
    if (R->rows[i].nan_row) continue;
    const uint32_t *perm = R->perm + i * R->k;
    const double *x = R->xs + i * R->k, *o = out + i * R->k;
    double gmax = -INFINITY; /* max output of the previous group of equal x */
    size_t j = 0;
    while (j < R->k) {
      const double xv = x[j], ov = o[perm[j]];
      double gmin = ov, gm = ov;
      size_t e = j + 1;
      for (; e < R->k && x[e] == xv; e++) {
        const double v = o[perm[e]];
        if (!(v == ov))
          FAIL("%s %s isa=%s (%s) row %zu (kind %s): equal inputs %.9g at %" PRIu32 " and %" PRIu32
               " give %.9g and %.9g",
               c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
               row_kind(c, i * R->k), xv, perm[j], perm[e], ov, v);
        gmin = fmin(gmin, v);
        gm = fmax(gm, v);
      }
      if (gmax > -INFINITY) {
        const double u = ulp_t(c->dt, gmin);
        const long double over = gmax > gmin ? (long double)gmax - gmin : 0;
        note(M_MONO, c, i * R->k + perm[j], over, u, ts->a * u);
        if (!(over <= ts->a * u))
          FAIL("%s %s isa=%s (%s) row %zu (kind %s): not monotone: x %.9g (at %" PRIu32
               ") > the previous value but its output %.9g < %.9g",
               c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, i,
               row_kind(c, i * R->k), xv, perm[j], gmin, gmax);
      }
      gmax = gm;
      j = e;
    }
  }
}

/* log_softmax = log(softmax) where softmax is a normal number. */
static void prop_logcons(const cctx *c, const refmat *R, const double *lp, const double *p) {
  const tolspec *ts = tol_of(M_LOGCONS, c->dt, c->cls);
  const double eps = dt_eps(c->dt), mn = dt_min_normal(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    if (R->rows[i].nan_row) continue;
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      if (!(p[idx] >= mn)) continue;
      /* log in double: within half a double ulp, far inside the bound */
      const double lg = log(p[idx]);
      const double unit = eps * (1 + fabs(lg));
      const double tol = (ts->a + ts->b * ref_cond(R, i, j)) * unit;
      check_pair(M_LOGCONS, c, idx, lp[idx], lg, tol, unit, "log_softmax vs log(softmax)");
    }
  }
}

/* online = two-pass. */
static void prop_online2p(const cctx *c, const refmat *R, const double *on, const double *sm) {
  const tolspec *ts = tol_of(M_ONLINE2P, c->dt, c->cls);
  const double eps = dt_eps(c->dt);
  for (size_t i = 0; i < R->n; i++) {
    const double resc = (double)R->rows[i].resc;
    for (size_t j = 0; j < R->k; j++) {
      const size_t idx = i * R->k + j;
      const double u = ulp_t(c->dt, sm[idx]);
      const double tol =
          ts->a * u + rel_term(ts->b * ref_cond(R, i, j) + ts->r * resc, eps, sm[idx]);
      check_pair(M_ONLINE2P, c, idx, on[idx], sm[idx], tol, u, "online vs two-pass");
    }
  }
}

/* ======================================================================== */
/* One case: every row kernel of every ISA on one matrix                     */
/* ======================================================================== */

typedef struct {
  int dt;
  size_t n, k;
  const double *z;
  const int32_t *labels;
  const unsigned char *kinds;
  double temp, scale;
  size_t in_off, out_off;
  bool in_place;
  bool mono; /* run the monotonicity check */
} rcase;

enum { SC_SM, SC_ON, SC_TP, SC_LSM, SC_GOUT, SC_GINPL, NUM_SCC };

static void run_case(const rcase *cs) {
  const int dt = cs->dt;
  const size_t n = cs->n, k = cs->k, len = n * k;
  char where[200];
  snprintf(where, sizeof where, "n=%zu k=%zu t=%g scale=%g in+%zu out+%zu%s", n, k, cs->temp,
           cs->scale, cs->in_off, cs->out_off, cs->in_place ? " in place" : "");
  refmat R, RT;
  ref_build(&R, dt, cs->z, n, k, 1.0, false, cs->mono);
  const bool t1 = cs->temp == 1.0; /* z / 1 = z: the same reference */
  if (t1)
    RT = R;
  else
    ref_build(&RT, dt, cs->z, n, k, cs->temp, true, cs->mono);
  double *sm = xmalloc(len * sizeof *sm), *o = xmalloc(len * sizeof *o);
  int32_t *am = xmalloc(n * sizeof *am);
  unsigned char *scc[NUM_SCC];
  for (int s = 0; s < NUM_SCC; s++) scc[s] = xmalloc(len);
  int sc_loss[3] = {-1, -1, -1};
  double loss_out = 0;

  FOR_EACH_ISA(isa, t) {
    cctx c = {dt, isa, 0, "", where, k, cs->kinds};

    c.kernel = "softmax";
    c.cls = ENTRY_CLS(t, dt, softmax);
    run_rop(t, &c, OP_SOFTMAX, cs->z, sm, n, k, 1, cs->in_place, cs->in_off, cs->out_off, am);
    check_probs(M_SOFTMAX, &c, &R, sm, scc[SC_SM]);
    prop_sum1(&c, &R, sm, M_SOFTMAX);
    prop_argmax(&c, &R, sm, am);
    if (cs->mono) prop_mono(&c, &R, sm);

    c.kernel = "softmax_online";
    c.cls = ENTRY_CLS(t, dt, softmax_online);
    run_rop(t, &c, OP_ONLINE, cs->z, o, n, k, 1, cs->in_place, cs->in_off, cs->out_off, am);
    check_probs(M_ONLINE, &c, &R, o, scc[SC_ON]);
    prop_sum1(&c, &R, o, M_ONLINE);
    prop_argmax(&c, &R, o, am);
    if (cs->mono) prop_mono(&c, &R, o);
    c.cls = c.cls == CL_SIMD || ENTRY_CLS(t, dt, softmax) == CL_SIMD ? CL_SIMD : CL_SCALAR;
    prop_online2p(&c, &R, o, sm);

    c.kernel = "softmax_temperature";
    c.cls = ENTRY_CLS(t, dt, softmax_temperature);
    run_rop(t, &c, OP_TEMP, cs->z, o, n, k, cs->temp, cs->in_place, cs->in_off, cs->out_off, am);
    check_probs(M_TEMP, &c, &RT, o, scc[SC_TP]);
    prop_sum1(&c, &RT, o, M_TEMP);
    prop_argmax(&c, &RT, o, am);
    if (cs->mono) prop_mono(&c, &RT, o);

    c.kernel = "log_softmax";
    c.cls = ENTRY_CLS(t, dt, log_softmax);
    run_rop(t, &c, OP_LOGSM, cs->z, o, n, k, 1, cs->in_place, cs->in_off, cs->out_off, am);
    check_logsm(&c, &R, o, scc[SC_LSM]);
    prop_argmax(&c, &R, o, am);
    if (cs->mono) prop_mono(&c, &R, o);
    c.cls = c.cls == CL_SIMD || ENTRY_CLS(t, dt, softmax) == CL_SIMD ? CL_SIMD : CL_SCALAR;
    prop_logcons(&c, &R, o, sm);

    c.cls = ENTRY_CLS(t, dt, ce_logits);
    static const int GMODES[] = {G_OUT, G_INPLACE, G_NONE}; /* loss-only compares with G_OUT */
    for (int gi = 0; gi < 3; gi++) {
      const int gmode = GMODES[gi];
      c.kernel = GMODE_NAMES[gmode];
      const double loss = run_ce(t, &c, cs->z, cs->labels, n, k, cs->scale, gmode, o,
                                 cs->in_off, cs->out_off);
      check_loss(&c, &R, cs->labels, loss, &sc_loss[gmode]);
      if (gmode != G_NONE) {
        check_grad(&c, &R, cs->labels, cs->scale, o, scc[gmode == G_OUT ? SC_GOUT : SC_GINPL]);
        prop_gsum0(&c, &R, o, cs->scale);
      }
      if (gmode == G_OUT) loss_out = loss;
      if (gmode == G_NONE) {
        long double tol, unit;
        (void)ce_loss_ref(&R, cs->labels, tol_of(M_LOSSONLY, dt, c.cls), &tol, &unit);
        cctx lc = c;
        lc.k = 0;
        check_pair(M_LOSSONLY, &lc, 0, loss, loss_out, tol, unit, "loss-only vs loss with gradient");
      }
    }
  }
  for (int s = 0; s < NUM_SCC; s++) free(scc[s]);
  free(am);
  free(sm);
  free(o);
  ref_free(&R);
  if (!t1) ref_free(&RT);
}

/* ======================================================================== */
/* Sweeps                                                                    */
/* ======================================================================== */

/* Overrides of the sweep for test_rows_blocks: a fixed row count, and a
   row-kind schedule (NULL: SCHED). */
static size_t g_sweep_n;
static const unsigned char *g_sched;
static size_t g_nsched;

typedef struct {
  trng r;
  size_t c;      /* cases so far */
  size_t sched;  /* position in SCHED */
  size_t scale;  /* position in SCALES */
} sweeper;

/* Cases of row length k until `rows` rows and `cases` calls have been run;
   n cycles through NLIST, capped so that n * k <= max_elems. */
static void sweep_k(int dt, size_t k, sweeper *sw, size_t rows, size_t cases, size_t max_elems) {
  size_t done_rows = 0;
  for (size_t ci = 0; done_rows < rows || ci < cases; ci++, sw->c++) {
    size_t n = g_sweep_n != 0 ? g_sweep_n : NLIST[sw->c % NUM_NLIST];
    if (n * k > max_elems) n = max_elems / k > 0 ? max_elems / k : 1;
    const size_t len = n * k;
    double *z = xmalloc(len * sizeof *z);
    int32_t *labels = xmalloc(n * sizeof *labels);
    unsigned char *kinds = xmalloc(n);
    const double temp = TEMPS[sw->c % NUM_TEMPS];
    for (size_t i = 0; i < n; i++) {
      kinds[i] = g_sched != NULL ? g_sched[sw->sched++ % g_nsched] : SCHED[sw->sched++ % NUM_SCHED];
      const double scale = SCALES[sw->scale++ % NUM_SCALES];
      gen_row(dt, kinds[i], z + i * k, k, scale, temp, &sw->r);
      labels[i] = pick_label(z + i * k, k, &sw->r);
    }
    const rcase cs = {dt, n, k, z, labels, kinds, temp,
                      sw->c % 4 == 3 ? 1.0 : dt_round(dt, 1.0 / (double)n),
                      sw->c % 4, (sw->c / 4 + 1) % 4, sw->c % 3 == 2, true};
    run_case(&cs);
    free(z);
    free(labels);
    free(kinds);
    done_rows += n;
  }
}

START_TEST(test_rows_small) {
  const int dt = _i;
  g_test = "rows_small";
  sweeper sw = {tr_stream(1, dt), 0, 0, 0};
  sw.sched = tr_below(&sw.r, NUM_SCHED);
  for (size_t k = 1; k <= small_max(dt); k++)
    sweep_k(dt, k, &sw, g_quick ? 4 : NUM_SCHED, g_quick ? 1 : 2 * NUM_NLIST, 1u << 14);
}
END_TEST

START_TEST(test_rows_pow2) {
  const int dt = _i;
  g_test = "rows_pow2";
  sweeper sw = {tr_stream(2, dt), 0, 0, 0};
  sw.sched = tr_below(&sw.r, NUM_SCHED);
  size_t ks[64];
  const size_t nk = pow2_list(dt, ks);
  for (size_t i = 0; i < nk; i++) {
    if (g_quick && (i + (size_t)dt) % 3 != 0) continue; /* quick: one of p - 1, p, p + 1 */
    sweep_k(dt, ks[i], &sw, g_quick ? 2 : NUM_SCHED / 2, g_quick ? 1 : 2,
            g_quick ? 4096 : 1u << 14);
  }
}
END_TEST

/* The streaming path of the SIMD kernels (non-temporal stores from the
   caller's scratch of two rows): a scratch passed to every call of the
   sweep, with every tail length to 49 and rows around powers of two, at
   the offsets, in place and out of place; the head of each row before the
   first aligned vector goes through plain stores. The scratch is guarded. */
START_TEST(test_rows_stream) {
  const int dt = _i;
  g_test = "rows_stream";
  g_stream = true;
  sweeper sw = {tr_stream(4, dt), 0, 0, 0};
  sw.sched = tr_below(&sw.r, NUM_SCHED);
  for (size_t k = 1; k <= 49; k += g_quick ? 6 : 1) sweep_k(dt, k, &sw, 2, 1, 1u << 12);
  size_t ks[64];
  const size_t nk = pow2_list(dt, ks);
  for (size_t i = 0; i < nk; i += g_quick ? 3 : 1) sweep_k(dt, ks[i], &sw, 2, 1, 1u << 13);
  g_stream = false;
}
END_TEST

/* Short rows go through the exp loop a block at a time (kernels_simd.h,
   "Short rows": rows of at most CHUNK / 8 elements, 128 in f32 and 64 in
   f64; a block ends at 256 rows, at 4 KiB of elements, or before a row
   whose max is not finite). Many rows per call, so that blocks end at each
   of those limits: first with rows of finite max only (the ones with ties,
   one-hot and equal entries among them), then with the whole schedule,
   whose special rows end blocks early. */
static const unsigned char FINITE_SCHED[] = {K_NORMAL, K_EQUAL, K_NORMAL, K_TIES,
                                             K_NORMAL, K_ONEHOT, K_NORMAL, K_NAN,
                                             K_NORMAL, K_PM1000, K_NORMAL, K_UFLOW};
START_TEST(test_rows_blocks) {
  const int dt = _i;
  g_test = "rows_blocks";
  sweeper sw = {tr_stream(5, dt), 0, 0, 0};
  sw.sched = tr_below(&sw.r, NUM_SCHED);
  const size_t kmax = dt == F32 ? 8 * 16 + 1 : 8 * 8 + 1;
  for (int pass = 0; pass < 2; pass++) {
    g_sched = pass == 0 ? FINITE_SCHED : NULL;
    g_nsched = sizeof FINITE_SCHED;
    for (size_t k = 1; k <= kmax; k += g_quick ? 7 : 1) {
      /* two full blocks and a part of a third */
      const size_t rows = (4096 / (dt == F32 ? 4 : 8)) / k;
      g_sweep_n = 2 * (rows < 256 ? rows : 256) + 3;
      sweep_k(dt, k, &sw, 1, 1, 1u << 16);
    }
  }
  g_sched = NULL;
  g_sweep_n = 0;
}
END_TEST

/* One row of 1e6 elements (quick: 1e5, and 1e4 for the second and
   fourth): a normal row with ties of the max, a -inf and the max near the
   end; a normal row at scale 100 (mostly underflowing exponentials),
   temperature 0.5, in place; a NaN in the last element; two +inf. */
START_TEST(test_rows_big) {
  const int dt = _i;
  g_test = "rows_big";
  trng r = tr_stream(3, dt);
  double *z = xmalloc(big_len() * sizeof *z);
  int32_t label;
  for (int v = 0; v < 4; v++) {
    /* quick: the scale-100 and +inf rows at 1e4 */
    const size_t k = g_quick && v % 2 ? big_len() / 10 : big_len();
    unsigned char kind = K_NORMAL;
    fill_normal(dt, z, k, v == 1 ? 100.0 : 1.0, &r);
    if (v == 0) {
      kind = K_TIES;
      const double m = row_max(z, k);
      z[k - 2] = z[k - 1] = z[k / 2] = m;
      z[k / 3] = -INFINITY;
    } else if (v == 2) {
      kind = K_NAN;
      z[k - 1] = NAN;
    } else if (v == 3) {
      kind = K_POSINFS;
      z[k / 2 + 1] = z[k - 3] = INFINITY;
    }
    label = pick_label(z, k, &r);
    const rcase cs = {dt, 1, k, z, &label, &kind, v == 1 ? 0.5 : 1.0,
                      v == 3 ? 1.0 : dt_round(dt, 0.25), (size_t)v % 4, (size_t)(v + 1) % 4,
                      v == 1, v == 0};
    run_case(&cs);
  }
  free(z);
}
END_TEST

/* ======================================================================== */
/* Shift invariance                                                          */
/* ======================================================================== */

/* f(z + c) = f(z): z on a grid of 1/64 so that z + c (and (z + c) / t for
   t = 1/2, 2) is exact in the dtype. */
START_TEST(test_shift_invariance) {
  const int dt = _i;
  g_test = "shift";
  trng r = tr_stream(4, dt);
  const double shifts[] = {-1000, -3.5, 0.25, 100, 1000, 4096, 1e6, -1e9, 3e12};
  const size_t nshift = dt == F32 ? 6 : 9;
  const size_t ks[] = {1, 2, 3, 7, 8, 9, 16, 17, 31, 33, 49, 64, 65, 257, 1000, 4097};
  const size_t nks = sizeof ks / sizeof ks[0], n = 3;
  size_t c = 0;
  for (size_t ki = 0; ki < nks; ki++) {
    const size_t k = ks[ki], len = n * k;
    if (g_quick && k > 300 && ki % 2) continue;
    double *z = xmalloc(len * sizeof *z), *zs = xmalloc(len * sizeof *zs);
    double *a = xmalloc(len * sizeof *a), *b = xmalloc(len * sizeof *b);
    int32_t labels[3];
    for (size_t si = 0; si < nshift; si++, c++) {
      const double sh = shifts[(si + ki) % nshift];
      for (size_t i = 0; i < len; i++) {
        z[i] = round(tr_normal(&r) * 4 * 64) / 64;
        if (tr_below(&r, 50) == 0) z[i] = -INFINITY;
        zs[i] = z[i] + sh;
        CHECK(dt_round(dt, z[i]) == z[i] && dt_round(dt, zs[i]) == zs[i], "grid not exact");
      }
      for (size_t i = 0; i < n; i++) labels[i] = pick_label(z + i * k, k, &r);
      const double t = c % 2 ? 0.5 : 2.0, s = dt_round(dt, 1.0 / 3.0);
      refmat R;
      ref_build(&R, dt, z, n, k, 1, false, false);
      char where[120];
      snprintf(where, sizeof where, "n=%zu k=%zu shift %g", n, k, sh);
      FOR_EACH_ISA(isa, tb) {
        cctx cx = {dt, isa, 0, "", where, k, NULL};
        for (int op = 0; op < NUM_ROPS; op++) {
          static const char *const names[] = {"softmax", "softmax_online", "softmax_temperature",
                                              "log_softmax"};
          cx.kernel = names[op];
          cx.cls = op == OP_SOFTMAX ? ENTRY_CLS(tb, dt, softmax)
                   : op == OP_ONLINE ? ENTRY_CLS(tb, dt, softmax_online)
                   : op == OP_TEMP   ? ENTRY_CLS(tb, dt, softmax_temperature)
                                     : ENTRY_CLS(tb, dt, log_softmax);
          run_rop(tb, &cx, op, z, a, n, k, t, false, c % 4, (c + 1) % 4, NULL);
          run_rop(tb, &cx, op, zs, b, n, k, t, false, (c + 2) % 4, (c + 3) % 4, NULL);
          const tolspec *ts = tol_of(M_SHIFT, dt, cx.cls);
          for (size_t i = 0; i < len; i++) {
            const double u = ulp_t(dt, a[i]);
            check_pair(M_SHIFT, &cx, i, b[i], a[i], ts->a * u, u, "f(z + c) vs f(z)");
          }
        }
        cx.kernel = "ce_logits";
        cx.cls = ENTRY_CLS(tb, dt, ce_logits);
        const double la = run_ce(tb, &cx, z, labels, n, k, s, G_OUT, a, c % 4, (c + 1) % 4);
        const double lb = run_ce(tb, &cx, zs, labels, n, k, s, G_OUT, b, (c + 3) % 4, c % 4);
        const tolspec *ts = tol_of(M_SHIFT, dt, cx.cls);
        for (size_t i = 0; i < len; i++) {
          const double u = ulp_t(dt, a[i]);
          check_pair(M_SHIFT, &cx, i, b[i], a[i], ts->a * u, u, "gradient of z + c vs z");
        }
        long double tol, unit;
        (void)ce_loss_ref(&R, labels, tol_of(M_SHIFT_LOSS, dt, cx.cls), &tol, &unit);
        cctx lc = cx;
        lc.k = 0;
        check_pair(M_SHIFT_LOSS, &lc, 0, lb, la, tol, unit, "loss of z + c vs z");
      }
      ref_free(&R);
    }
    free(z);
    free(zs);
    free(a);
    free(b);
  }
}
END_TEST

/* ======================================================================== */
/* ce_prob                                                                   */
/* ======================================================================== */

static double call_ce_prob(const struct smr_kernels *t, const cctx *c, const double *p,
                           const double *y, size_t n, size_t k, size_t off) {
  const int dt = c->dt;
  const size_t len = n * k;
  gbuf bp, by;
  void *pb = gb_from(&bp, dt, p, len, off), *yb = gb_from(&by, dt, y, len, (off + 1) % 4);
  void *cp = xmalloc(len * dt_size(dt)), *cy = xmalloc(len * dt_size(dt));
  memcpy(cp, pb, len * dt_size(dt));
  memcpy(cy, yb, len * dt_size(dt));
  const double loss = dt == F32 ? t->f32.ce_prob(pb, yb, n, k) : t->f64.ce_prob(pb, yb, n, k);
  gb_check(&bp, c, "p");
  gb_check(&by, c, "y");
  CHECK(memcmp(cp, pb, len * dt_size(dt)) == 0 && memcmp(cy, yb, len * dt_size(dt)) == 0,
        "ce_prob %s isa=%s: input modified", dt_name(dt), isa_label(c->isa));
  free(cp);
  free(cy);
  gb_free(&bp);
  gb_free(&by);
  return loss;
}

/* -sum y log(p + 1e-15) over y != 0; the 1e-15 is added in double as the
   contract says ("accumulated in double"), the rest in long double. */
static long double ref_ce_prob(const double *p, const double *y, size_t len, long double *ysum,
                               long double *tsum) {
  long double acc = 0;
  *ysum = *tsum = 0;
  for (size_t i = 0; i < len; i++) {
    if (y[i] == 0) continue;
    const long double lg = logl((long double)(p[i] + 1e-15));
    acc += (long double)y[i] * lg;
    *ysum += fabsl((long double)y[i]) * (1 + fabsl(lg));
    *tsum += fabsl((long double)y[i] * lg);
  }
  return -acc;
}

START_TEST(test_ce_prob) {
  const int dt = _i;
  g_test = "ce_prob";
  trng r = tr_stream(5, dt);
  size_t ks[128], nk = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  ks[nk++] = big_len();
  size_t c = 0;
  for (size_t ki = 0; ki < nk; ki++) {
    const size_t k = ks[ki];
    for (int rep = 0; rep < (g_quick ? 1 : 2); rep++, c++) {
      size_t n = NLIST[c % NUM_NLIST];
      if (n * k > (1u << 14)) n = k >= (1u << 14) ? 1 : (1u << 14) / k;
      const size_t len = n * k;
      double *p = xmalloc(len * sizeof *p), *y = xmalloc(len * sizeof *y);
      for (size_t i = 0; i < n; i++) {
        /* a probability row from a normal row, rounded to the dtype */
        double *pr = p + i * k;
        fill_normal(dt, pr, k, 3.0, &r);
        const double m = row_max(pr, k);
        double s = 0;
        for (size_t j = 0; j < k; j++) s += (pr[j] = exp(pr[j] - m));
        for (size_t j = 0; j < k; j++) pr[j] = dt_round(dt, pr[j] / s);
        const size_t lab = tr_below(&r, k);
        const int mode = (int)((c + i) % 4); /* 0, 1: one-hot; 2: soft; 3: specials */
        for (size_t j = 0; j < k; j++)
          y[i * k + j] = mode == 2 ? dt_round(dt, tr_uniform(&r) < 0.3 ? tr_uniform(&r) : 0.0)
                                   : (j == lab ? 1.0 : 0.0);
        if (k > 1 && y[i * k + (lab + 1) % k] == 0) pr[(lab + 1) % k] = 0.0; /* 0 where y = 0 */
        if (mode == 3) {
          const size_t j = tr_below(&r, k);
          switch (tr_below(&r, 6)) {
          case 0: if (y[i * k + j] == 0) pr[j] = NAN; break; /* skipped */
          case 1: pr[lab] = NAN; break;                        /* NaN result */
          case 2: pr[lab] = -0.5; break;                       /* NaN: log of a negative */
          case 3: pr[lab] = 0.0; break;                        /* -log(1e-15) */
          case 4: pr[lab] = INFINITY; break;                   /* -inf */
          default: y[i * k + j] = NAN; break;                  /* NaN */
          }
        }
      }
      long double ysum, tsum;
      const long double ref = ref_ce_prob(p, y, len, &ysum, &tsum);
      char where[80];
      snprintf(where, sizeof where, "n=%zu k=%zu", n, k);
      int scl = -1;
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, ce_prob), "ce_prob", where, 0, NULL};
        const double got = call_ce_prob(t, &cx, p, y, n, k, c % 4);
        const tolspec *ts = tol_of(M_CE_PROB, dt, cx.cls);
        const long double unit = DBL_EPSILON * (tsum > 0 ? tsum : 1);
        const long double tol = ts->a * dt_eps(dt) * ysum +
                                (ts->b + ts->r * (double)len) * DBL_EPSILON * tsum +
                                ulp_t(F64, ref);
        check_val(M_CE_PROB, &cx, F64, 0, got, ref, tol, unit, isa == SMR_ISA_SCALAR ? -1 : scl);
        if (isa == SMR_ISA_SCALAR) scl = vclass(got);
      }
      free(p);
      free(y);
    }
  }
}
END_TEST

/* ======================================================================== */
/* argmax_rows, all_finite                                                   */
/* ======================================================================== */

START_TEST(test_argmax_rows) {
  const int dt = _i;
  g_test = "argmax_rows";
  trng r = tr_stream(6, dt);
  size_t ks[128], nk = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  ks[nk++] = big_len();
  size_t c = 0;
  for (size_t ki = 0; ki < nk; ki++) {
    const size_t k = ks[ki];
    const int reps = k <= 64 ? 8 : g_quick ? 2 : 4;
    for (int rep = 0; rep < reps; rep++, c++) {
      size_t n = NLIST[c % NUM_NLIST];
      if (n * k > (1u << 15)) n = k >= (1u << 15) ? 1 : (1u << 15) / k;
      const size_t len = n * k;
      double *v = xmalloc(len * sizeof *v);
      for (size_t i = 0; i < n; i++) {
        double *row = v + i * k;
        const int mode = (int)((c + i) % 6);
        for (size_t j = 0; j < k; j++)
          row[j] = mode == 5 ? dt_round(dt, tr_normal(&r))
                             : (double)tr_below(&r, 4) - 1.5; /* many ties */
        switch (mode) {
        case 1: row[tr_below(&r, k)] = NAN; break;
        case 2: row[tr_below(&r, k)] = INFINITY; row[tr_below(&r, k)] = INFINITY; break;
        case 3: for (size_t j = 0; j < k; j++) row[j] = -INFINITY; break;
        case 4:
          row[0] = -0.0;
          if (k > 1) row[1] = 0.0;
          for (size_t j = 2; j < k; j++) row[j] = tr_below(&r, 2) ? -0.0 : -1.0;
          break;
        case 5:
          if (tr_below(&r, 2)) row[k - 1] = row_max(row, k); /* a tie at the tail */
          if (tr_below(&r, 3) == 0) row[k - 1] = NAN;
          break;
        default: break;
        }
      }
      int32_t *want = xmalloc(n * sizeof *want), *sc = xmalloc(n * sizeof *sc);
      for (size_t i = 0; i < n; i++) { /* first max; -1 on NaN */
        const double *row = v + i * k;
        int32_t best = 0;
        for (size_t j = 0; j < k; j++) {
          if (isnan(row[j])) {
            best = -1;
            break;
          }
          if (row[j] > row[best]) best = (int32_t)j;
        }
        want[i] = best;
      }
      char where[80];
      snprintf(where, sizeof where, "n=%zu k=%zu", n, k);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, argmax_rows), "argmax_rows", where, k, NULL};
        gbuf bp, bl;
        void *p = gb_from(&bp, dt, v, len, c % 4);
        int32_t *lab = gb_alloc(&bl, sizeof(int32_t), n, (c + 1) % 4);
        call_argmax(t, dt, p, n, k, lab);
        gb_check(&bp, &cx, "p");
        gb_check(&bl, &cx, "labels");
        gb_written(&bl, &cx, "labels");
        for (size_t i = 0; i < n; i++) {
          CHECK(lab[i] == want[i], "argmax_rows %s isa=%s (%s) row %zu: %d, want %d", dt_name(dt),
                smr_isa_name((smr_isa)isa), where, i, (int)lab[i], (int)want[i]);
          if (isa == SMR_ISA_SCALAR)
            sc[i] = lab[i];
          else
            CHECK(lab[i] == sc[i], "argmax_rows %s isa=%s (%s) row %zu: %d, scalar %d",
                  dt_name(dt), smr_isa_name((smr_isa)isa), where, i, (int)lab[i], (int)sc[i]);
        }
        gb_free(&bp);
        gb_free(&bl);
      }
      free(v);
      free(want);
      free(sc);
    }
  }
}
END_TEST

static bool call_all_finite(const struct smr_kernels *t, const cctx *c, const double *v,
                            size_t len, size_t off) {
  gbuf b;
  void *x = gb_from(&b, c->dt, v, len, off);
  const bool f = c->dt == F32 ? t->f32.all_finite(x, len) : t->f64.all_finite(x, len);
  gb_check(&b, c, "x");
  gb_free(&b);
  return f;
}

START_TEST(test_all_finite) {
  const int dt = _i;
  g_test = "all_finite";
  trng r = tr_stream(7, dt);
  size_t ks[128], nk = 0;
  ks[nk++] = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  ks[nk++] = big_len();
  const double bad[] = {NAN, INFINITY, -INFINITY};
  const double extremes[] = {dt_max(dt), -dt_max(dt), dt_tiny(dt), -0.0, dt_min_normal(dt)};
  size_t c = 0;
  for (size_t ki = 0; ki < nk; ki++) {
    const size_t len = ks[ki];
    double *v = xmalloc((len > 0 ? len : 1) * sizeof *v);
    for (size_t i = 0; i < len; i++)
      v[i] = tr_below(&r, 4) == 0 ? extremes[tr_below(&r, 5)] : dt_round(dt, tr_normal(&r));
    /* positions: all for short arrays; else both ends, around vector
       boundaries and a few random ones */
    size_t pos[64], np = 0;
    if (len <= 64) {
      for (size_t i = 0; i < len; i++) pos[np++] = i;
    } else {
      const size_t fixed[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, len / 2, len - 17, len - 16,
                              len - 9, len - 8, len - 2, len - 1};
      for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) pos[np++] = fixed[i];
      for (int i = 0; i < (g_quick ? 2 : 8); i++) pos[np++] = tr_below(&r, len);
    }
    FOR_EACH_ISA(isa, t) {
      char where[64];
      snprintf(where, sizeof where, "len=%zu", len);
      cctx cx = {dt, isa, ENTRY_CLS(t, dt, all_finite), "all_finite", where, 0, NULL};
      CHECK(call_all_finite(t, &cx, v, len, c++ % 4), "all_finite %s isa=%s len %zu: false on "
            "finite data", dt_name(dt), smr_isa_name((smr_isa)isa), len);
      for (size_t pi = 0; pi < np; pi++) {
        const size_t at = pos[pi];
        const double keep = v[at];
        v[at] = bad[(pi + c) % 3];
        if (pi % 5 == 4 && len > 1) v[(at + len / 2) % len] = bad[(pi + c + 1) % 3];
        const bool f = call_all_finite(t, &cx, v, len, c++ % 4);
        CHECK(!f, "all_finite %s isa=%s len %zu: missed %g at %zu", dt_name(dt),
              smr_isa_name((smr_isa)isa), len, v[at], at);
        v[at] = keep;
        if (pi % 5 == 4 && len > 1) {
          /* restore the second one from a finite value */
          v[(at + len / 2) % len] = 1.0;
        }
      }
    }
    free(v);
  }
}
END_TEST


/* Per-row weights of the fused CE (the trainer's sample and class
   weights): loss = sum_i w_i CE_i and row i of g = (p_i - y_i) scale w_i,
   against a long-double reference, for every ISA, short rows (the block
   path) and long ones, weights 0, fractional and large, out of place and in
   place. A row of weight 0 holding a -inf label logit (CE = +inf) must add
   exactly 0. */
START_TEST(test_ce_weights) {
  const int dt = _i;
  g_test = "ce_weights";
  trng r = tr_stream(21, dt);
  const size_t ks[] = {1, 3, 10, 17, 64, 129, 300, 1000};
  const double wv[] = {0.0, 0.5, 1.0, 2.75, 1e-3, 7.0};
  for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
    const size_t k = ks[ki], n = 2 + (k < 64 ? 300 / k : 3), len = n * k;
    double *z = xmalloc(len * sizeof *z), *w = xmalloc(n * sizeof *w);
    int32_t *lab = xmalloc(n * sizeof *lab);
    for (size_t i = 0; i < len; i++) z[i] = dt_round(dt, 3.0 * tr_normal(&r));
    for (size_t i = 0; i < n; i++) {
      lab[i] = (int32_t)tr_below(&r, k);
      w[i] = wv[tr_below(&r, 6)];
    }
    w[0] = 0.0; /* its label logit is -inf: CE_0 = +inf, weighted 0 */
    if (k == 3) {
      /* a row whose label is its max with 1 - p = 5.4e-6 (seed 125325060773
         caught a reference that lost bits there) */
      const double row[3] = {-4.3794515324148815, 8.6913425607150732, -3.8953324388825621};
      for (size_t j = 0; j < 3; j++) z[3 + j] = dt_round(dt, row[j]);
      lab[1] = 1;
      w[1] = 0.5;
    }
    if (k > 1) z[lab[0]] = -INFINITY;
    const double scale = dt_round(dt, 1.0 / (double)n);
    long double ref_loss = 0.0L;
    long double *ref_g = xmalloc(len * sizeof *ref_g);
    for (size_t i = 0; i < n; i++) {
      const double *zi = z + i * k;
      long double m = -INFINITY, s = 0.0L;
      for (size_t j = 0; j < k; j++) m = zi[j] > m ? zi[j] : m;
      for (size_t j = 0; j < k; j++) s += expl((long double)zi[j] - m);
      if (w[i] != 0.0) ref_loss += (long double)w[i] * (m + logl(s) - zi[lab[i]]);
      /* p_label - 1 as -(the other terms)/s: p - 1 in long double would
         lose log2(1/(1 - p)) of its 64 bits (about 17 at 1 - p = 5e-6,
         leaving fewer than a double's 53) */
      long double others = 0.0L;
      for (size_t j = 0; j < k; j++)
        if (j != (size_t)lab[i]) others += expl((long double)zi[j] - m);
      for (size_t j = 0; j < k; j++)
        ref_g[i * k + j] = (j == (size_t)lab[i] ? -others / s : expl((long double)zi[j] - m) / s) *
                           (long double)scale * (long double)w[i];
    }
    const double eps = dt_eps(dt);
    FOR_EACH_ISA(isa, t) {
      for (int inpl = 0; inpl < 2; inpl++) {
        void *zb = xmalloc(len * 8), *gb = xmalloc(len * 8), *wb = xmalloc(n * 8);
        for (size_t i = 0; i < len; i++) put(dt, zb, i, z[i]);
        for (size_t i = 0; i < n; i++) put(dt, wb, i, w[i]);
        void *g = inpl ? zb : gb;
        const double loss = dt == F32 ? t->f32.ce_logits(zb, lab, wb, n, k, (float)scale, g, NULL)
                                      : t->f64.ce_logits(zb, lab, wb, n, k, scale, g, NULL);
        ck_assert_msg(fabsl(loss - ref_loss) <= 64 * eps * fabsl(ref_loss) + 1e-300,
                      "ce_weights %s isa=%d k=%zu in place %d: loss %.17g vs %.17Lg", dt_name(dt),
                      isa, k, inpl, loss, ref_loss);
        for (size_t i = 0; i < len; i++) {
          const long double ref = ref_g[i], got = get(dt, g, i);
          const long double tol = 64 * eps * fabsl(ref) + 4 * eps * scale * 1e-6;
          ck_assert_msg(fabsl(got - ref) <= tol,
                        "ce_weights %s isa=%d k=%zu in place %d: g[%zu] (row %zu, w %g) %.9Lg vs "
                        "%.9Lg",
                        dt_name(dt), isa, k, inpl, i, i / k, w[i / k], got, ref);
        }
        if (!inpl) {
          /* loss only: the same weighted sum */
          const double l2 = dt == F32 ? t->f32.ce_logits(zb, lab, wb, n, k, (float)scale, NULL, NULL)
                                      : t->f64.ce_logits(zb, lab, wb, n, k, scale, NULL, NULL);
          ck_assert_msg(fabsl(l2 - ref_loss) <= 64 * eps * fabsl(ref_loss),
                        "ce_weights %s isa=%d k=%zu loss only %.17g vs %.17Lg", dt_name(dt), isa,
                        k, l2, ref_loss);
        }
        free(zb);
        free(gb);
        free(wb);
      }
    }
    free(z);
    free(w);
    free(lab);
    free(ref_g);
  }
}
END_TEST


void checkasm_rows(Suite *s) {
  TCase *tc = checkasm_tcase(s, "rows");
  DT_LOOP(tc, test_rows_small);
  DT_LOOP(tc, test_rows_pow2);
  DT_LOOP(tc, test_rows_big);
  DT_LOOP(tc, test_rows_stream);
  DT_LOOP(tc, test_rows_blocks);
  DT_LOOP(tc, test_ce_weights);
  DT_LOOP(tc, test_shift_invariance);
  DT_LOOP(tc, test_ce_prob);
  DT_LOOP(tc, test_argmax_rows);
  DT_LOOP(tc, test_all_finite);
}
