/*
 * stats.c - the column statistics of every table: col_mean_std and
 * standardize, against long-double references
 */
#include "checkasm.h"

/* ======================================================================== */
/* col_mean_std, standardize                                                 */
/* ======================================================================== */

/* Shapes (n, d): n cycling through NLIST (and one tall case), d through the
   small and power-of-two lists. */
static size_t nd_shapes(int dt, size_t (*out)[2], size_t cap) {
  size_t ds[128], nd = 0, ns = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ds[nd++] = k;
  nd += pow2_list(dt, ds + nd);
  for (size_t i = 0; i < nd; i++) {
    size_t n = NLIST[i % NUM_NLIST];
    while (n * ds[i] > cap && n > 1) n /= 2;
    out[ns][0] = n;
    out[ns][1] = ds[i];
    ns++;
  }
  out[ns][0] = g_quick ? 10000 : 100000; /* tall: long column sums */
  out[ns][1] = 3;
  ns++;
  return ns;
}

START_TEST(test_col_mean_std) {
  const int dt = _i;
  g_test = "col_mean_std";
  trng r = tr_stream(13, dt);
  static size_t shapes[128][2];
  const size_t ns = nd_shapes(dt, shapes, g_quick ? 1u << 14 : 1u << 17);
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0], d = shapes[s][1];
    double *X = xmalloc(n * d * sizeof *X);
    for (size_t i = 0; i < n * d; i++) {
      const size_t f = i % d;
      const double offset = f % 3 == 0 ? 1e4 : f % 3 == 1 ? -3.0 : 0.0;
      X[i] = dt_round(dt, offset + tr_normal(&r) * (1.0 + (double)(f % 7)));
    }
    if (s % 5 == 2) X[tr_below(&r, n * d)] = s % 10 == 2 ? NAN : INFINITY;
    long double *mu = xmalloc(d * sizeof *mu), *sdl = xmalloc(d * sizeof *sdl);
    long double *amax = xmalloc(d * sizeof *amax);
    for (size_t f = 0; f < d; f++) {
      long double m = 0, v = 0, a = 0;
      for (size_t i = 0; i < n; i++) m += X[i * d + f];
      m /= (long double)n;
      for (size_t i = 0; i < n; i++) {
        const long double t = X[i * d + f] - m;
        v += t * t;
        a = fmaxl(a, fabsl((long double)X[i * d + f]));
      }
      mu[f] = m;
      sdl[f] = sqrtl(v / (long double)n);
      amax[f] = a;
    }
    int *scm = xmalloc(d * sizeof *scm), *scs = xmalloc(d * sizeof *scs);
    char where[64];
    snprintf(where, sizeof where, "n=%zu d=%zu", n, d);
    FOR_EACH_ISA(isa, t) {
      cctx cx = {dt, isa, ENTRY_CLS(t, dt, col_mean_std), "col_mean_std", where, 0, NULL};
      gbuf bx, bm, bs;
      void *x = gb_from(&bx, dt, X, n * d, s % 4);
      double *mean = gb_alloc(&bm, sizeof(double), d, (s + 1) % 4);
      double *sd = gb_alloc(&bs, sizeof(double), d, (s + 2) % 4);
      if (dt == F32)
        t->f32.col_mean_std(x, n, d, mean, sd);
      else
        t->f64.col_mean_std(x, n, d, mean, sd);
      gb_check(&bx, &cx, "X");
      gb_check(&bm, &cx, "mean");
      gb_check(&bs, &cx, "sd");
      gb_written(&bm, &cx, "mean");
      gb_written(&bs, &cx, "sd");
      const tolspec *tm = tol_of(M_MEAN, dt, cx.cls), *tsd = tol_of(M_SD, dt, cx.cls);
      const bool is_sc = isa == SMR_ISA_SCALAR;
      for (size_t f = 0; f < d; f++) {
        const long double unit = (double)(n + 2) * DBL_EPSILON * (amax[f] > 0 ? amax[f] : 1);
        const long double usd = DBL_EPSILON * (amax[f] > 0 ? amax[f] : 1);
        check_val(M_MEAN, &cx, F64, f, mean[f], mu[f], tm->a * unit + ulp_t(F64, mu[f]),
                  unit / (double)(n + 2),
                  is_sc ? -1 : scm[f]);
        check_val(M_SD, &cx, F64, f, sd[f], sdl[f],
                  tsd->a * (double)(n + 2) * DBL_EPSILON * sdl[f] + tsd->b * unit +
                      ulp_t(F64, sdl[f]),
                  usd,
                  is_sc ? -1 : scs[f]);
        if (is_sc) {
          scm[f] = vclass(mean[f]);
          scs[f] = vclass(sd[f]);
        }
      }
      gb_free(&bx);
      gb_free(&bm);
      gb_free(&bs);
    }
    free(X);
    free(mu);
    free(sdl);
    free(amax);
    free(scm);
    free(scs);
  }
}
END_TEST

START_TEST(test_standardize) {
  const int dt = _i;
  g_test = "standardize";
  trng r = tr_stream(14, dt);
  static size_t shapes[128][2];
  const size_t ns = nd_shapes(dt, shapes, g_quick ? 1u << 14 : 1u << 17);
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0], d = shapes[s][1];
    double *X = xmalloc(n * d * sizeof *X), *out = xmalloc(n * d * sizeof *out);
    double *mean = xmalloc(d * sizeof *mean), *scale = xmalloc(d * sizeof *scale);
    for (size_t f = 0; f < d; f++) {
      mean[f] = tr_normal(&r) * 10;
      scale[f] = 0.01 + tr_uniform(&r) * 100;
    }
    for (size_t i = 0; i < n * d; i++)
      X[i] = dt_round(dt, mean[i % d] + tr_normal(&r) * scale[i % d] * 3);
    if (s % 5 == 2) X[tr_below(&r, n * d)] = s % 10 == 2 ? NAN : -INFINITY;
    long double *ref = xmalloc(n * d * sizeof *ref);
    for (size_t i = 0; i < n * d; i++)
      ref[i] = ((long double)X[i] - mean[i % d]) / scale[i % d];
    unsigned char *scc = xmalloc(n * d);
    for (int inpl = 0; inpl < 2; inpl++) {
      char where[64];
      snprintf(where, sizeof where, "n=%zu d=%zu%s", n, d, inpl ? " in place" : "");
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, standardize), "standardize", where, d, NULL};
        gbuf bx, bs = {0}, bm, bc;
        void *x = gb_from(&bx, dt, X, n * d, s % 4);
        double *mb = gb_alloc(&bm, sizeof(double), d, (s + 1) % 4);
        double *cb = gb_alloc(&bc, sizeof(double), d, (s + 3) % 4);
        memcpy(mb, mean, d * sizeof *mb);
        memcpy(cb, scale, d * sizeof *cb);
        void *xs = inpl ? x : gb_alloc(&bs, dt_size(dt), n * d, (s + 2) % 4);
        if (dt == F32)
          t->f32.standardize(x, mb, cb, xs, n, d);
        else
          t->f64.standardize(x, mb, cb, xs, n, d);
        gb_check(&bx, &cx, "X");
        gb_check(&bm, &cx, "mean");
        gb_check(&bc, &cx, "scale");
        CHECK(memcmp(mb, mean, d * sizeof *mb) == 0 && memcmp(cb, scale, d * sizeof *cb) == 0,
              "standardize modified mean or scale");
        if (!inpl) {
          gb_check(&bs, &cx, "Xs");
          gb_written(&bs, &cx, "Xs");
        }
        for (size_t i = 0; i < n * d; i++) out[i] = get(dt, xs, i);
        const tolspec *ts = tol_of(M_STDZ, dt, cx.cls);
        const bool is_sc = isa == SMR_ISA_SCALAR && !inpl;
        for (size_t i = 0; i < n * d; i++) {
          const double u = ulp_t(dt, ref[i]);
          check_val(M_STDZ, &cx, dt, i, out[i], ref[i], ts->a * u, u, is_sc ? -1 : scc[i]);
          if (is_sc) scc[i] = (unsigned char)vclass(out[i]);
        }
        gb_free(&bx);
        gb_free(&bm);
        gb_free(&bc);
        if (!inpl) gb_free(&bs);
      }
    }
    free(X);
    free(out);
    free(mean);
    free(scale);
    free(ref);
    free(scc);
  }
}
END_TEST


void checkasm_stats(Suite *s) {
  TCase *tc = checkasm_tcase(s, "stats");
  DT_LOOP(tc, test_col_mean_std);
  DT_LOOP(tc, test_standardize);
}
