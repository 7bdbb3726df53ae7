/*
 * vector_ops.c - the vector operations of every table: axpy, sumsq and
 * dot, against long-double references
 */
#include "checkasm.h"

START_TEST(test_axpy) {
  const int dt = _i;
  g_test = "axpy";
  trng r = tr_stream(11, dt);
  size_t lens[128];
  const size_t nl = len_list(dt, lens);
  for (size_t li = 0; li < nl; li++) {
    const size_t len = lens[li];
    for (int rep = 0; rep < 2; rep++) {
      const size_t c = li * 2 + (size_t)rep;
      const double alphas[] = {0.0, -1.0, 1.0};
      const double a = c % 4 == 3 ? alphas[(c / 4) % 3] : dt_round(dt, tr_normal(&r));
      double *X = xmalloc((len + 1) * sizeof *X), *Y = xmalloc((len + 1) * sizeof *Y);
      double *out = xmalloc((len + 1) * sizeof *out);
      rand_fill(dt, X, len, &r, c % 5 == 2);
      rand_fill(dt, Y, len, &r, c % 5 == 4);
      long double *ref = xmalloc((len + 1) * sizeof *ref), *mag = xmalloc((len + 1) * sizeof *mag);
      for (size_t i = 0; i < len; i++) {
        const long double p = (long double)a * X[i];
        ref[i] = Y[i] + p;
        mag[i] = fabsl((long double)Y[i]) + fabsl(p);
      }
      unsigned char *scc = xmalloc(len + 1);
      char where[80];
      snprintf(where, sizeof where, "len=%zu a=%g", len, a);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, axpy), "axpy", where, 0, NULL};
        gbuf bx, by;
        void *x = gb_from(&bx, dt, X, len, c % 4), *y = gb_from(&by, dt, Y, len, (c + 1 + c / 4) % 4);
        if (dt == F32)
          t->f32.axpy(len, (float)a, x, y);
        else
          t->f64.axpy(len, a, x, y);
        gb_check(&bx, &cx, "x");
        gb_check(&by, &cx, "y");
        for (size_t i = 0; i < len; i++) out[i] = get(dt, y, i);
        check_la(M_AXPY, &cx, out, ref, mag, 1.0, len, scc);
        gb_free(&bx);
        gb_free(&by);
      }
      free(X);
      free(Y);
      free(out);
      free(ref);
      free(mag);
      free(scc);
    }
  }
}
END_TEST

START_TEST(test_sumsq) {
  const int dt = _i;
  g_test = "sumsq";
  trng r = tr_stream(12, dt);
  size_t lens[128];
  const size_t nl = len_list(dt, lens);
  for (size_t li = 0; li < nl; li++) {
    const size_t len = lens[li];
    for (int rep = 0; rep < 2; rep++) {
      const size_t c = li * 2 + (size_t)rep;
      double *X = xmalloc((len + 1) * sizeof *X);
      rand_fill(dt, X, len, &r, c % 7 == 3);
      if (rep == 1)
        for (size_t i = 0; i < len; i++) X[i] = dt_round(dt, X[i] * 1e3);
      long double ref = 0;
      for (size_t i = 0; i < len; i++) ref += (long double)X[i] * X[i];
      int scl = -1;
      char where[64];
      snprintf(where, sizeof where, "len=%zu", len);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, sumsq), "sumsq", where, 0, NULL};
        gbuf bx;
        void *x = gb_from(&bx, dt, X, len, c % 4);
        const double got = dt == F32 ? t->f32.sumsq(x, len) : t->f64.sumsq(x, len);
        gb_check(&bx, &cx, "x");
        gb_free(&bx);
        const tolspec *ts = tol_of(M_SUMSQ, dt, cx.cls);
        const long double unit = DBL_EPSILON * (ref > 0 ? ref : 1);
        check_val(M_SUMSQ, &cx, F64, 0, got, ref,
                  ts->a * (double)(len + 2) * unit + ulp_t(F64, ref), unit,
                  isa == SMR_ISA_SCALAR ? -1 : scl);
        if (isa == SMR_ISA_SCALAR) scl = vclass(got);
      }
      free(X);
    }
  }
}
END_TEST

/* sum x_i y_i in double against long double, every length of len_list,
   x and y at different misalignments, a NaN or an infinity in some cases:
   the recursive-summation bound (len + 2) eps64 sum |x_i y_i| (f32
   products are exact in double). */
START_TEST(test_dot) {
  const int dt = _i;
  g_test = "dot";
  trng r = tr_stream(13, dt);
  size_t lens[128];
  const size_t nl = len_list(dt, lens);
  for (size_t li = 0; li < nl; li++) {
    const size_t len = lens[li];
    for (int rep = 0; rep < 2; rep++) {
      const size_t c = li * 2 + (size_t)rep;
      double *X = xmalloc((len + 1) * sizeof *X), *Y = xmalloc((len + 1) * sizeof *Y);
      rand_fill(dt, X, len, &r, c % 7 == 3);
      rand_fill(dt, Y, len, &r, false);
      if (rep == 1)
        for (size_t i = 0; i < len; i++) Y[i] = dt_round(dt, Y[i] * 1e3);
      long double ref = 0, mag = 0;
      for (size_t i = 0; i < len; i++) {
        ref += (long double)X[i] * Y[i];
        mag += fabsl((long double)X[i] * Y[i]);
      }
      int scl = -1;
      char where[64];
      snprintf(where, sizeof where, "len=%zu", len);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, dot), "dot", where, 0, NULL};
        gbuf bx, by;
        void *x = gb_from(&bx, dt, X, len, c % 4);
        void *y = gb_from(&by, dt, Y, len, (c + 1) % 4);
        const double got = dt == F32 ? t->f32.dot(x, y, len) : t->f64.dot(x, y, len);
        gb_check(&bx, &cx, "x");
        gb_check(&by, &cx, "y");
        gb_free(&bx);
        gb_free(&by);
        const tolspec *ts = tol_of(M_DOT, dt, cx.cls);
        const long double unit = DBL_EPSILON * (mag > 0 && isfinite(mag) ? mag : 1);
        check_val(M_DOT, &cx, F64, 0, got, ref,
                  ts->a * (double)(len + 2) * unit + ulp_t(F64, ref), unit,
                  isa == SMR_ISA_SCALAR ? -1 : scl);
        if (isa == SMR_ISA_SCALAR) scl = vclass(got);
      }
      free(X);
      free(Y);
    }
  }
}
END_TEST


void checkasm_vector_ops(Suite *s) {
  TCase *tc = checkasm_tcase(s, "vector_ops");
  DT_LOOP(tc, test_axpy);
  DT_LOOP(tc, test_sumsq);
  DT_LOOP(tc, test_dot);
}
