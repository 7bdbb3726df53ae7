/*
 * simd/vector_ops.h - the vector operations over one array: the row
 * argmax of predict, the optimizer's axpy and the reductions sum of
 * squares, dot and all_finite.
 *
 * Part of the SIMD kernel body: included by src/kernels_simd.h only, once per
 * ISA and dtype, after the vector layer (simd/vec_contract.h). No include
 * guard on purpose.
 */

/* ------------------------------------------------------------------------ */
/* Predict and trainer loops                                                 */
/* ------------------------------------------------------------------------ */

/* First index of the row max; -1 when the row holds a NaN. */
static void simd_argmax_rows(const T *p, size_t n, size_t k, int32_t *labels) {
  for (size_t i = 0; i < n; i++, p += k) {
    /* one read for the max and a NaN check */
    const V ninf = v_set1((T)-INFINITY);
    V a = ninf;
    VM nan = v_unord(ninf);
    size_t j = 0;
    for (; j + VW <= k; j += VW) {
      const V x = v_load(p + j);
      a = v_max(x, a);
      nan = vm_or(nan, v_unord(x));
    }
    if (j < k) {
      const V x = v_load_part(p + j, k - j, (T)-INFINITY);
      a = v_max(x, a);
      nan = vm_or(nan, v_unord(x));
    }
    if (vm_any(nan)) {
      labels[i] = -1;
      continue;
    }
    const V mv = v_set1(v_hmax(a));
    /* the first occurrence; NaN padding never compares equal */
    int32_t best = 0;
    for (j = 0; j < k; j += VW) {
      const V x = k - j >= VW ? v_load(p + j) : v_load_part(p + j, k - j, (T)NAN);
      const unsigned f = vm_first(v_eq(x, mv));
      if (f < VW) {
        best = (int32_t)(j + f);
        break;
      }
    }
    labels[i] = best;
  }
}

/* y[0..len) += a * x[0..len) (fused multiply-add). */
static inline void axpy_row(size_t len, V av, const T *x, T *y) {
  size_t j = 0;
  for (; j + U * VW <= len; j += U * VW) {
    v_store(y + j, v_fma(av, v_load(x + j), v_load(y + j)));
    v_store(y + j + VW, v_fma(av, v_load(x + j + VW), v_load(y + j + VW)));
    v_store(y + j + 2 * VW, v_fma(av, v_load(x + j + 2 * VW), v_load(y + j + 2 * VW)));
    v_store(y + j + 3 * VW, v_fma(av, v_load(x + j + 3 * VW), v_load(y + j + 3 * VW)));
  }
  for (; j + VW <= len; j += VW) v_store(y + j, v_fma(av, v_load(x + j), v_load(y + j)));
  if (j < len) {
    const size_t r = len - j;
    v_store_part(y + j, r, v_fma(av, v_load_part(x + j, r, (T)0), v_load_part(y + j, r, (T)0)));
  }
}

static void simd_axpy(size_t len, T a, const T *x, T *y) { axpy_row(len, v_set1(a), x, y); }


/* ------------------------------------------------------------------------ */
/* Reductions                                                                */
/* ------------------------------------------------------------------------ */

/* adds x*x to the lanes (w_addmul of the vec layer) */
static inline void w_addsq(VA *w, V v) { w_addmul(w, v, v); }

/* Sum of squares in double (f32: squares formed exactly in double). */
static double simd_sumsq(const T *x, size_t len) {
  VA a0 = w_zero(), a1 = w_zero();
  size_t j = 0;
  for (; j + 2 * VW <= len; j += 2 * VW) {
    w_addsq(&a0, v_load(x + j));
    w_addsq(&a1, v_load(x + j + VW));
  }
  for (; j + VW <= len; j += VW) w_addsq(&a0, v_load(x + j));
  if (j < len) w_addsq(&a1, v_load_part(x + j, len - j, (T)0));
  return w_hsum(a0) + w_hsum(a1);
}

/* Sum of x_i y_i in double (f32: products exact in double); four lane
   sums, so independent chains keep the adds busy. */
static double simd_dot(const T *x, const T *y, size_t len) {
  VA a0 = w_zero(), a1 = w_zero(), a2 = w_zero(), a3 = w_zero();
  size_t j = 0;
  for (; j + 4 * VW <= len; j += 4 * VW) {
    w_addmul(&a0, v_load(x + j), v_load(y + j));
    w_addmul(&a1, v_load(x + j + VW), v_load(y + j + VW));
    w_addmul(&a2, v_load(x + j + 2 * VW), v_load(y + j + 2 * VW));
    w_addmul(&a3, v_load(x + j + 3 * VW), v_load(y + j + 3 * VW));
  }
  for (; j + VW <= len; j += VW) w_addmul(&a0, v_load(x + j), v_load(y + j));
  if (j < len) w_addmul(&a1, v_load_part(x + j, len - j, (T)0), v_load_part(y + j, len - j, (T)0));
  return (w_hsum(a0) + w_hsum(a1)) + (w_hsum(a2) + w_hsum(a3));
}

/* x * 0 is 0 for finite x and NaN for inf or NaN; the sum of those stays 0
   exactly when every element is finite. */
static bool simd_all_finite(const T *x, size_t len) {
  const V zero = v_set1((T)0);
  V a0 = zero, a1 = zero;
  size_t j = 0;
  for (; j + 2 * VW <= len; j += 2 * VW) {
    a0 = v_add(a0, v_mul(v_load(x + j), zero));
    a1 = v_add(a1, v_mul(v_load(x + j + VW), zero));
  }
  for (; j + VW <= len; j += VW) a0 = v_add(a0, v_mul(v_load(x + j), zero));
  if (j < len) a1 = v_add(a1, v_mul(v_load_part(x + j, len - j, (T)0), zero));
  return !vm_any(v_unord(v_add(a0, a1)));
}
