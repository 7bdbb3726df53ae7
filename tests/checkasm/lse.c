/*
 * lse.c - the running log-sum-exp of class chunks (lse_chunk, src/lse.h)
 * of every table: rows of ref.c's kinds (hostile values included) cut into
 * chunks of 1, 7, 16, 100 classes and the whole row, merged in order into
 * (m, s) from the fresh state, the chunks read from a row of stride k as
 * the fused linear cross-entropy reads them. The state is checked exactly
 * where smr.h's rules fix it (a NaN row: s NaN; a row of -inf: (-inf, 0);
 * +inf entries: m = +inf and s their count) and otherwise m + log s against
 * the long-double log-sum-exp of ref.c within M_LSE. Guards on z, m and s.
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

void checkasm_lse(Suite *s) {
  TCase *tc = checkasm_tcase(s, "lse");
  DT_LOOP(tc, test_lse_chunk);
}
