/*
 * products.c - the matrix products of every table, and of CBLAS when the
 * active table takes them from it: linear_forward (Z = X W + b), xt_g
 * (dW = X^T G, accumulating or not) and colsum, against long-double sums
 * with the recursive-summation bound
 */
#include "checkasm.h"

/* ======================================================================== */
/* Linear algebra: linear_forward, xt_g, colsum, axpy, sumsq                  */
/* ======================================================================== */

/* Shapes (n, d, k): every k of the sweep lists with n, d cycling, capped
   at n * d * k <= cap. */
static size_t la_shapes(int dt, size_t (*out)[3], size_t max_out, size_t cap) {
  static const size_t DS[] = {1, 2, 3, 5, 8, 13, 17, 33};
  size_t ks[128], nk = 0, ns = 0, c = 0;
  for (size_t k = 1; k <= small_max(dt); k++) ks[nk++] = k;
  nk += pow2_list(dt, ks + nk);
  for (size_t ki = 0; ki < nk; ki++)
    for (int rep = 0; rep < (g_quick ? 1 : 2) && ns < max_out; rep++, c++) {
      size_t n = NLIST[c % NUM_NLIST], d = DS[(c * 3 + 1) % 8];
      const size_t k = ks[ki];
      while (n * d * k > cap && n > 1) n /= 2;
      while (n * d * k > cap && d > 1) d /= 2;
      out[ns][0] = n;
      out[ns][1] = d;
      out[ns][2] = k;
      ns++;
    }
  return ns;
}

/* Shapes beyond the sweep, for the blocked kernels (kernels_simd.h,
   "Matrix products") and CBLAS: the tails of the 6-row register tile
   (37 = 6 * 6 + 1, 11 = 6 + 4 + 1) and of the 2-vector panel (k = 67, 35, 3),
   a depth beyond one block (d = 300 for linear_forward, n = 300 for xt_g;
   blocks are 128 or 256 deep), rows beyond one row block (n = 300 for
   linear_forward, d = 300 for xt_g), and n = 0 (Z untouched; dW cleared
   unless accumulating). Appended to la_shapes' list. */
static const size_t LA_EXTRA[][3] = {
    {37, 129, 67}, {300, 13, 35}, {13, 300, 35}, {11, 5, 3}, {0, 1, 1}, {0, 3, 7}, {5, 1, 1},
    /* the narrow xt_g (kernels_simd.h; k <= 64 where it fills at least as
       many lanes as the wide one: d well above k): row blocks of 32 and
       their tails (31, 32, 33, 65, 97), d tails around the vectors (33,
       47, 783, 785; 784 = 49 x 16), k across its register chunks (1, 10,
       16, 17, 32, 33, 64) and d cut into chunks of the scratch (k d beyond
       16384 f32 / 8192 f64 elements: 33 x 784, 64 x 784); the wide one
       where it fills more (33 x 17 x 64, 1 x 1 x 16, 97 x 300 x 64) */
    {65, 785, 10}, {33, 33, 10}, {31, 47, 17}, {32, 783, 33}, {97, 784, 64}, {40, 784, 33},
    {64, 96, 32}, {2, 784, 1}, {1, 784, 16}, {33, 17, 64}, {1, 1, 16}, {97, 300, 64},
    /* the transposed forward (k <= 13 f32 / 8 f64 with AVX-512): blocks
       of VW rows and their tails, d tails within a block of VW columns */
    {17, 15, 13}, {16, 16, 8}, {15, 17, 1}, {47, 9, 12},
    /* big enough (n d k >= 2^21) for the tasks on smr's threads: the
       narrow xt_g's over d (the second on one thread in the wide one), the
       wide one's over whole panels of k (the last task's panel partial:
       257), linear_forward's over rows (tails of the tasks' tiles) */
    {300, 784, 10}, {100, 401, 64}, {300, 100, 100}, {129, 70, 257}, {1001, 3, 700},
};
#define NUM_LA_EXTRA (sizeof LA_EXTRA / sizeof LA_EXTRA[0])

static size_t la_extra(size_t (*out)[3], size_t ns) {
  for (size_t e = 0; e < NUM_LA_EXTRA; e++, ns++)
    for (int c = 0; c < 3; c++) out[ns][c] = LA_EXTRA[e][c];
  return ns;
}

/* The matrix products' contract on the SIMD ISAs (kernels_simd.h, "Matrix
   products"): every output element starts at its start value and takes its
   products in the order of the depth index, one fused multiply-add each, so
   the result is this chain's bit for bit, whatever the blocking or the
   register tile. `got` holds an element, start its start value, and the
   depth terms are a[t sa] * b[t sb] for t < len (NaN matches any NaN). */
static void check_fma_chain(const cctx *c, size_t idx, double got, double start, const double *a,
                            size_t sa, const double *b, size_t sb, size_t len) {
  double want = start;
  if (c->dt == F32) {
    float acc = (float)start;
    for (size_t t = 0; t < len; t++) acc = fmaf((float)a[t * sa], (float)b[t * sb], acc);
    want = acc;
  } else {
    for (size_t t = 0; t < len; t++) want = fma(a[t * sa], b[t * sb], want);
  }
  CHECK((isnan(want) && isnan(got)) || memcmp(&want, &got, sizeof got) == 0,
        "%s %s isa=%s (%s) element %zu (row %zu col %zu): got %a, the chain of fused "
        "multiply-adds in depth order gives %a",
        c->kernel, dt_name(c->dt), isa_label(c->isa), c->where, idx, c->k ? idx / c->k : 0,
        c->k ? idx % c->k : 0, got, want);
}

/* A product's output buf (len elements) after a call on 3 threads against
   the values the call on 1 gave, bit for bit (NaN matches any NaN). */
static void check_same_bits(const cctx *c, const char *what, const void *buf, const double *one,
                            size_t len) {
  for (size_t i = 0; i < len; i++) {
    const double v = get(c->dt, buf, i);
    CHECK((isnan(v) && isnan(one[i])) || memcmp(&v, &one[i], sizeof v) == 0,
          "%s %s isa=%s (%s) %s element %zu: %a on 3 threads, %a on 1", c->kernel,
          dt_name(c->dt), isa_label(c->isa), c->where, what, i, v, one[i]);
  }
}

START_TEST(test_linear_forward) {
  const int dt = _i;
  g_test = "linear_forward";
  trng r = tr_stream(8, dt);
  static size_t shapes[256 + NUM_LA_EXTRA][3];
  const size_t ns = la_extra(shapes, la_shapes(dt, shapes, 256, g_quick ? 1u << 15 : 1u << 18));
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0], d = shapes[s][1], k = shapes[s][2];
    double *X = xmalloc(n * d * sizeof *X), *W = xmalloc(d * k * sizeof *W);
    double *b = xmalloc(k * sizeof *b), *Z = xmalloc(n * k * sizeof *Z);
    rand_fill(dt, X, n * d, &r, s % 6 == 1);
    rand_fill(dt, W, d * k, &r, s % 6 == 3);
    rand_fill(dt, b, k, &r, s % 6 == 5);
    long double *ref = xmalloc(n * k * sizeof *ref), *mag = xmalloc(n * k * sizeof *mag);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < k; j++) {
        long double acc = b[j], m = fabsl((long double)b[j]);
        for (size_t f = 0; f < d; f++) {
          const long double p = (long double)X[i * d + f] * W[f * k + j];
          acc += p;
          m += fabsl(p);
        }
        ref[i * k + j] = acc;
        mag[i * k + j] = m;
      }
    unsigned char *scc = xmalloc(n * k);
    char where[80];
    snprintf(where, sizeof where, "n=%zu d=%zu k=%zu", n, d, k);
    FOR_EACH_TABLE(isa, t) {
      cctx cx = {dt, isa, ENTRY_CLS(t, dt, linear_forward), "linear_forward", where, k, NULL};
      gbuf bx, bw, bb, bz;
      void *x = gb_from(&bx, dt, X, n * d, s % 4), *w = gb_from(&bw, dt, W, d * k, (s + 1) % 4);
      void *bias = gb_from(&bb, dt, b, k, (s + 2) % 4);
      void *z = gb_alloc(&bz, dt_size(dt), n * k, (s + 3) % 4);
      const int threads = blas_begin(isa);
      if (dt == F32)
        t->f32.linear_forward(x, w, bias, z, n, d, k);
      else
        t->f64.linear_forward(x, w, bias, z, n, d, k);
      blas_end(isa, threads);
      gb_check(&bx, &cx, "X");
      gb_check(&bw, &cx, "W");
      gb_check(&bb, &cx, "b");
      gb_check(&bz, &cx, "Z");
      gb_written(&bz, &cx, "Z");
      for (size_t i = 0; i < n * k; i++) Z[i] = get(dt, z, i);
      check_la(M_LINEAR, &cx, Z, ref, mag, (double)(d + 1), n * k, scc);
      if (cx.cls == CL_SIMD && isa != ISA_BLAS) {
        for (size_t i = 0; i < n * k; i++)
          check_fma_chain(&cx, i, Z[i], b[i % k], X + i / k * d, 1, W + i % k, k, d);
        /* on 3 threads (row tasks): the same bits */
        if (n * d * k >= (size_t)1 << 21) {
          for (size_t i = 0; i < n * k; i++) put(dt, z, i, NAN);
          const size_t before = smr_num_threads();
          ck_assert_int_eq(smr_set_num_threads(3), SMR_OK);
          if (dt == F32)
            t->f32.linear_forward(x, w, bias, z, n, d, k);
          else
            t->f64.linear_forward(x, w, bias, z, n, d, k);
          ck_assert_int_eq(smr_set_num_threads(before), SMR_OK);
          gb_check(&bz, &cx, "Z");
          check_same_bits(&cx, "Z", z, Z, n * k);
        }
      }
      gb_free(&bx);
      gb_free(&bw);
      gb_free(&bb);
      gb_free(&bz);
    }
    free(X);
    free(W);
    free(b);
    free(Z);
    free(ref);
    free(mag);
    free(scc);
  }
}
END_TEST

START_TEST(test_xt_g) {
  const int dt = _i;
  g_test = "xt_g";
  trng r = tr_stream(9, dt);
  static size_t shapes[256 + NUM_LA_EXTRA][3];
  const size_t ns = la_extra(shapes, la_shapes(dt, shapes, 256, g_quick ? 1u << 15 : 1u << 18));
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0], d = shapes[s][1], k = shapes[s][2];
    for (int acc = 0; acc < 2; acc++) {
      double *X = xmalloc(n * d * sizeof *X), *G = xmalloc(n * k * sizeof *G);
      double *D0 = xmalloc(d * k * sizeof *D0), *D = xmalloc(d * k * sizeof *D);
      rand_fill(dt, X, n * d, &r, s % 8 == 1 && acc);
      rand_fill(dt, G, n * k, &r, s % 8 == 5 && !acc);
      rand_fill(dt, D0, d * k, &r, s % 8 == 3 && acc);
      long double *ref = xmalloc(d * k * sizeof *ref), *mag = xmalloc(d * k * sizeof *mag);
      for (size_t f = 0; f < d; f++)
        for (size_t j = 0; j < k; j++) {
          long double a = acc ? D0[f * k + j] : 0, m = fabsl(a);
          for (size_t i = 0; i < n; i++) {
            const long double p = (long double)X[i * d + f] * G[i * k + j];
            a += p;
            m += fabsl(p);
          }
          ref[f * k + j] = a;
          mag[f * k + j] = m;
        }
      unsigned char *scc = xmalloc(d * k);
      char where[80];
      snprintf(where, sizeof where, "n=%zu d=%zu k=%zu accumulate=%d", n, d, k, acc);
      FOR_EACH_TABLE(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, xt_g), "xt_g", where, k, NULL};
        gbuf bx, bg, bd;
        void *x = gb_from(&bx, dt, X, n * d, s % 4), *g = gb_from(&bg, dt, G, n * k, (s + 1) % 4);
        /* accumulate = false: dW starts as sentinel NaNs, which must not leak in */
        void *dw = acc ? gb_from(&bd, dt, D0, d * k, (s + 2) % 4)
                       : gb_alloc(&bd, dt_size(dt), d * k, (s + 2) % 4);
        const int threads = blas_begin(isa);
        if (dt == F32)
          t->f32.xt_g(x, g, dw, n, d, k, acc);
        else
          t->f64.xt_g(x, g, dw, n, d, k, acc);
        blas_end(isa, threads);
        gb_check(&bx, &cx, "X");
        gb_check(&bg, &cx, "G");
        gb_check(&bd, &cx, "dW");
        for (size_t i = 0; i < d * k; i++) D[i] = get(dt, dw, i);
        check_la(M_XTG, &cx, D, ref, mag, (double)(n + 1), d * k, scc);
        if (cx.cls == CL_SIMD && isa != ISA_BLAS) {
          for (size_t i = 0; i < d * k; i++)
            check_fma_chain(&cx, i, D[i], acc ? D0[i] : 0.0, X + i / k, d, G + i % k, k, n);
          /* on 3 threads (xt_g cuts d or k into tasks): the same bits */
          if (n * d * k >= (size_t)1 << 21) {
            /* dW as before the first call (NaN: must not leak in) */
            for (size_t i = 0; i < d * k; i++) put(dt, dw, i, acc ? D0[i] : NAN);
            const size_t before = smr_num_threads();
            ck_assert_int_eq(smr_set_num_threads(3), SMR_OK);
            if (dt == F32)
              t->f32.xt_g(x, g, dw, n, d, k, acc);
            else
              t->f64.xt_g(x, g, dw, n, d, k, acc);
            ck_assert_int_eq(smr_set_num_threads(before), SMR_OK);
            gb_check(&bd, &cx, "dW");
            check_same_bits(&cx, "dW", dw, D, d * k);
          }
        }
        gb_free(&bx);
        gb_free(&bg);
        gb_free(&bd);
      }
      free(X);
      free(G);
      free(D0);
      free(D);
      free(ref);
      free(mag);
      free(scc);
    }
  }
}
END_TEST

START_TEST(test_colsum) {
  const int dt = _i;
  g_test = "colsum";
  trng r = tr_stream(10, dt);
  static size_t shapes[256][3];
  const size_t ns = la_shapes(dt, shapes, 256, g_quick ? 1u << 15 : 1u << 18);
  for (size_t s = 0; s < ns; s++) {
    const size_t n = shapes[s][0] * shapes[s][1], k = shapes[s][2]; /* more rows */
    for (int acc = 0; acc < 2; acc++) {
      double *G = xmalloc(n * k * sizeof *G), *D0 = xmalloc(k * sizeof *D0);
      double *D = xmalloc(k * sizeof *D);
      rand_fill(dt, G, n * k, &r, s % 8 == 1);
      rand_fill(dt, D0, k, &r, s % 8 == 5 && acc);
      long double *ref = xmalloc(k * sizeof *ref), *mag = xmalloc(k * sizeof *mag);
      for (size_t j = 0; j < k; j++) {
        long double a = acc ? D0[j] : 0, m = fabsl(a);
        for (size_t i = 0; i < n; i++) {
          a += G[i * k + j];
          m += fabsl((long double)G[i * k + j]);
        }
        ref[j] = a;
        mag[j] = m;
      }
      unsigned char *scc = xmalloc(k);
      char where[80];
      snprintf(where, sizeof where, "n=%zu k=%zu accumulate=%d", n, k, acc);
      FOR_EACH_ISA(isa, t) {
        cctx cx = {dt, isa, ENTRY_CLS(t, dt, colsum), "colsum", where, 0, NULL};
        gbuf bg, bd;
        void *g = gb_from(&bg, dt, G, n * k, s % 4);
        void *db = acc ? gb_from(&bd, dt, D0, k, (s + 1) % 4)
                       : gb_alloc(&bd, dt_size(dt), k, (s + 1) % 4);
        if (dt == F32)
          t->f32.colsum(g, db, n, k, acc);
        else
          t->f64.colsum(g, db, n, k, acc);
        gb_check(&bg, &cx, "G");
        gb_check(&bd, &cx, "db");
        for (size_t j = 0; j < k; j++) D[j] = get(dt, db, j);
        check_la(M_COLSUM, &cx, D, ref, mag, (double)(n + 1), k, scc);
        gb_free(&bg);
        gb_free(&bd);
      }
      free(G);
      free(D0);
      free(D);
      free(ref);
      free(mag);
      free(scc);
    }
  }
}
END_TEST


void checkasm_products(Suite *s) {
  TCase *tc = checkasm_tcase(s, "products");
  DT_LOOP(tc, test_linear_forward);
  DT_LOOP(tc, test_xt_g);
  DT_LOOP(tc, test_colsum);
}
