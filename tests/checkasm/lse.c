/*
 * lse.c - the fused linear cross-entropy's entries of every table: the
 * running log-sum-exp of class chunks (lse_chunk, src/lse.h) and the
 * gradient of a chunk of logits (lce_grad).
 *
 * lse_chunk: rows of ref.c's kinds (hostile values included) cut into
 * chunks of 1, 7, 16, 100 classes and the whole row, merged in order into
 * (m, s) from the fresh state, the chunks read from a row of stride k as
 * the fused linear cross-entropy reads them. The state is checked exactly
 * where smr.h's rules fix it (a NaN row: s NaN; a row of -inf: (-inf, 0);
 * +inf entries: m = +inf and s their count) and otherwise m + log s against
 * the long-double log-sum-exp of ref.c within M_LSE. Guards on z, m and s.
 *
 * lce_grad: rows of ref.c's kinds whose log-sum-exp is finite, in a
 * strided buffer (the gaps must stay untouched), weights 0, 1/n and 3.5,
 * labels inside and outside the chunk (and negative), with and without
 * label smoothing and z-loss, against (e^(z - lse) f - t) w in long double
 * within M_LCE_GRAD.
 */
#include "checkasm.h"
#include "lse.h"

static void call_lse(const struct smr_kernels *t, int dt, const void *z, size_t n, size_t c,
                     size_t ldz, double *m, double *s) {
  if (dt == F32)
    t->f32.lse_chunk(z, n, c, ldz, m, s);
  else
    t->f64.lse_chunk(z, n, c, ldz, m, s);
}

/* Table t over the n x k matrix z in chunks of `chunk` classes; the final
   states into m and s. */
static void run_lse(const struct smr_kernels *t, const cctx *c, const double *z, size_t n,
                    size_t k, size_t chunk, size_t off, double *m, double *s) {
  const int dt = c->dt;
  const size_t esz = dt_size(dt);
  gbuf bz, bm, bs;
  void *zin = gb_from(&bz, dt, z, n * k, off);
  void *copy = xmalloc(n * k * esz);
  memcpy(copy, zin, n * k * esz);
  double *gm = gb_alloc(&bm, sizeof(double), n, (off + 1) % 4);
  double *gs = gb_alloc(&bs, sizeof(double), n, (off + 2) % 4);
  for (size_t i = 0; i < n; i++) {
    gm[i] = SMR_LSE_M0;
    gs[i] = SMR_LSE_S0;
  }
  for (size_t j0 = 0; j0 < k; j0 += chunk) {
    const size_t w = k - j0 < chunk ? k - j0 : chunk;
    call_lse(t, dt, (const char *)zin + j0 * esz, n, w, k, gm, gs);
  }
  gb_check(&bz, c, "z");
  gb_check(&bm, c, "m");
  gb_check(&bs, c, "s");
  CHECK(memcmp(copy, zin, n * k * esz) == 0, "lse_chunk %s isa=%s (%s): z modified",
        dt_name(dt), isa_label(c->isa), c->where);
  memcpy(m, gm, n * sizeof *m);
  memcpy(s, gs, n * sizeof *s);
  free(copy);
  gb_free(&bz);
  gb_free(&bm);
  gb_free(&bs);
}

/* The final states of every table for one matrix and chunk size. */
static void lse_case(int dt, const double *z, size_t n, size_t k, size_t chunk, size_t off,
                     const unsigned char *kinds) {
  char where[96];
  snprintf(where, sizeof where, "n=%zu k=%zu chunk=%zu z+%zu", n, k, chunk, off);
  refmat R;
  ref_build(&R, dt, z, n, k, 1.0, false, false);
  double *m = xmalloc(n * sizeof *m), *s = xmalloc(n * sizeof *s);
  const size_t nch = (k + chunk - 1) / chunk;
  FOR_EACH_ISA(isa, t) {
    const cctx c = {dt, isa, ENTRY_CLS(t, dt, lse_chunk), "lse_chunk", where, 1, kinds};
    const tolspec *ts = tol_of(M_LSE, dt, c.cls);
    run_lse(t, &c, z, n, k, chunk, off, m, s);
    for (size_t i = 0; i < n; i++) {
      const rrow *rr = &R.rows[i];
      bool has_nan = false;
      for (size_t j = 0; j < k; j++) has_nan = has_nan || isnan(z[i * k + j]);
      if (has_nan) {
        CHECK(isnan(s[i]), "lse_chunk %s isa=%s (%s) row %zu (%s): a NaN row gives s = %g",
              dt_name(dt), isa_label(isa), where, i, row_kind(&c, i), s[i]);
      } else if (rr->pinf > 0) {
        CHECK(m[i] == INFINITY && s[i] == (double)rr->pinf,
              "lse_chunk %s isa=%s (%s) row %zu (%s): %zu +inf entries give (m, s) = (%g, %g)",
              dt_name(dt), isa_label(isa), where, i, row_kind(&c, i), rr->pinf, m[i], s[i]);
      } else if (rr->nan_row) { /* no entry above -inf */
        CHECK(m[i] == -INFINITY && s[i] == 0.0,
              "lse_chunk %s isa=%s (%s) row %zu (%s): a row of -inf gives (m, s) = (%g, %g)",
              dt_name(dt), isa_label(isa), where, i, row_kind(&c, i), m[i], s[i]);
      } else {
        const long double ref = rr->m + rr->lsum;
        const long double tol = ts->a * dt_eps(dt) * (1 + rr->dbar) +
                                (ts->b + ts->r * (double)(k + nch)) * DBL_EPSILON +
                                ulp_t(F64, ref);
        check_val(M_LSE, &c, F64, i, smr_lse_value(m[i], s[i]), ref, tol, DBL_EPSILON, -1);
      }
    }
  }
  free(m);
  free(s);
  ref_free(&R);
}

/* Rows of every kind at every short length, the powers of two and their
   neighbours, and one long row; every chunk size. */
START_TEST(test_lse_chunk) {
  const int dt = _i;
  g_test = "lse_chunk";
  trng r = tr_stream(20, dt);
  size_t ks[160], nk = 0;
  for (size_t k = 1; k <= small_max(dt); k += g_quick ? 4 : 1) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  ks[nk++] = big_len();
  static const size_t CHUNKS[] = {1, 7, 16, 100, SIZE_MAX};
  size_t sched = tr_below(&r, NUM_SCHED), ci = 0;
  for (size_t ki = 0; ki < nk; ki++) {
    const size_t k = ks[ki], n = k > 4097 ? 1 : NLIST[ki % NUM_NLIST];
    double *z = xmalloc(n * k * sizeof *z);
    unsigned char *kinds = xmalloc(n);
    for (size_t i = 0; i < n; i++) {
      kinds[i] = SCHED[sched++ % NUM_SCHED];
      gen_row(dt, kinds[i], z + i * k, k, SCALES[(ki + i) % NUM_SCALES], 1.0, &r);
    }
    for (size_t c = 0; c < sizeof CHUNKS / sizeof CHUNKS[0]; c++, ci++) {
      if (k > 4097 && CHUNKS[c] < 100) continue; /* a million merges of one */
      lse_case(dt, z, n, k, CHUNKS[c] < k ? CHUNKS[c] : k, ci % 4, kinds);
    }
    free(z);
    free(kinds);
  }
}
END_TEST

/* Rows with a finite log-sum-exp (every kind but NaN, +inf and all -inf). */
static const unsigned char FINITE_KINDS[] = {K_NORMAL, K_EQUAL,  K_PM1000, K_UFLOW, K_HUGE,
                                             K_NEGINF, K_TIES,   K_ONEHOT, K_TAILMAX};
#define NUM_FINITE_KINDS (sizeof FINITE_KINDS / sizeof FINITE_KINDS[0])

START_TEST(test_lce_grad) {
  const int dt = _i;
  g_test = "lce_grad";
  trng r = tr_stream(21, dt);
  size_t cs[160], nc = 0;
  for (size_t c = 1; c <= small_max(dt); c += g_quick ? 4 : 1) cs[nc++] = c;
  nc += pow2_list(dt, cs + nc);
  for (size_t ci = 0; ci < nc; ci++) {
    const size_t c = cs[ci], n = NLIST[ci % NUM_NLIST], ld = c + 3, c0 = tr_below(&r, 6);
    const double e = ci % 2 ? 0.1 : 0.0, lam = ci % 3 == 1 ? 1e-3 : 0.0;
    const size_t K = c0 + c + 3;
    const double h = 1.0 - e, u = e / (double)K;
    double *z = xmalloc(n * ld * sizeof *z), *w = xmalloc(n * sizeof *w), *lse = xmalloc(n * sizeof *lse);
    int32_t *lab = xmalloc(n * sizeof *lab);
    unsigned char *kinds = xmalloc(n);
    for (size_t i = 0; i < n; i++) {
      kinds[i] = FINITE_KINDS[tr_below(&r, NUM_FINITE_KINDS)];
      gen_row(dt, kinds[i], z + i * ld, c, SCALES[(ci + i) % NUM_SCALES], 1.0, &r);
      for (size_t j = c; j < ld; j++) z[i * ld + j] = 0.0; /* the gaps */
      w[i] = i % 4 == 1 ? 0.0 : i % 4 == 2 ? 3.5 : 1.0 / (double)n;
      lab[i] = (int32_t)(tr_below(&r, c + 4)) + (int32_t)c0 - 2; /* -2 .. c0 + c + 1 */
    }
    /* each row's log-sum-exp over its chunk and three more classes at the row's max */
    refmat R;
    double *zc = xmalloc(n * c * sizeof *zc);
    for (size_t i = 0; i < n; i++) memcpy(zc + i * c, z + i * ld, c * sizeof *zc);
    ref_build(&R, dt, zc, n, c, 1.0, false, false);
    for (size_t i = 0; i < n; i++) lse[i] = (double)(R.rows[i].m + R.rows[i].lsum + logl(1.5L));
    char where[96];
    snprintf(where, sizeof where, "n=%zu c=%zu c0=%zu e=%g z_loss=%g", n, c, c0, e, lam);
    FOR_EACH_ISA(isa, t) {
      const cctx cx = {dt, isa, ENTRY_CLS(t, dt, lce_grad), "lce_grad", where, ld, kinds};
      const tolspec *ts = tol_of(M_LCE_GRAD, dt, cx.cls);
      gbuf bz;
      void *zb = gb_from(&bz, dt, z, n * ld, ci % 4);
      if (dt == F32)
        t->f32.lce_grad(zb, n, c, ld, lse, w, lab, c0, lam, h, u);
      else
        t->f64.lce_grad(zb, n, c, ld, lse, w, lab, c0, lam, h, u);
      gb_check(&bz, &cx, "z");
      for (size_t i = 0; i < n; i++) {
        const long double f = lam > 0 ? 1 + 2 * (long double)lam * lse[i] : 1;
        for (size_t j = 0; j < ld; j++) {
          const size_t idx = i * ld + j;
          const double got = get(dt, zb, idx);
          if (j >= c) {
            CHECK(got == 0.0, "lce_grad %s isa=%s (%s): the gap after row %zu was written",
                  dt_name(dt), isa_label(isa), where, i);
            continue;
          }
          const long double p = expl((long double)z[idx] - lse[i]);
          const long double tt = (lab[i] >= 0 && (size_t)lab[i] == c0 + j ? h : 0.0) + u;
          const long double ref = (p * f - tt) * w[i];
          const double eps = dt_eps(dt);
          /* p's error (a ulp of the dtype, a tiny at least, and |d| eps
             from rounding z - lse), scaled by f w; f's own rounding in
             double (1 + 2 lam lse may cancel); the subtraction's and the
             result's roundings */
          const long double fw = fabsl(f * w[i]);
          const long double tol =
              p > 0 ? (ts->a * ulp_t(dt, p) + ts->b * fabsl((long double)z[idx] - lse[i]) * eps * p) * fw +
                          2 * DBL_EPSILON * (1 + fabsl(2 * lam * lse[i])) * p * w[i]
                    : 0;
          const long double tol_all = tol + ts->r * eps * (fabsl(u * w[i]) + fabsl(ref)) + 4 * dt_tiny(dt);
          check_val(M_LCE_GRAD, &cx, dt, idx, got, w[i] == 0 ? 0.0L : ref, tol_all,
                    eps * (fabsl(ref) > 0 ? fabsl(ref) : 1), -1);
        }
      }
      gb_free(&bz);
    }
    ref_free(&R);
    free(zc), free(z), free(w), free(lse), free(lab), free(kinds);
  }
}
END_TEST

void checkasm_lse(Suite *s) {
  TCase *tc = checkasm_tcase(s, "lse");
  DT_LOOP(tc, test_lse_chunk);
  DT_LOOP(tc, test_lce_grad);
}
