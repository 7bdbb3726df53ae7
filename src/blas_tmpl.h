/* blas_tmpl.h - the CBLAS matrix products of one dtype, included by blas.c
   with
     T     the element type (float, double)
     SFX   the suffix (f32, f64) of the names
     GEMM  cblas_sgemm or cblas_dgemm
   No include guard on purpose. Shapes as in kernels.h; blas.c says why
   the products are formed this way. */

#define FN(name) SMR_CAT(name, SFX)

/* d or k beyond CBLAS's int: the definition, one row of Z at a time. */
static void FN(plain_linear_forward)(const T *X, const T *W, const T *b, T *Z, size_t n,
                                     size_t d, size_t k) {
  for (size_t i = 0; i < n; i++) {
    T *zi = Z + i * k;
    for (size_t j = 0; j < k; j++) zi[j] = b[j];
    for (size_t f = 0; f < d; f++) {
      const T x = X[i * d + f];
      const T *wf = W + f * k;
      for (size_t j = 0; j < k; j++) zi[j] += x * wf[j];
    }
  }
}

static void FN(blas_linear_forward)(const T *X, const T *W, const T *b, T *Z, size_t n, size_t d,
                                    size_t k) {
  if (builtin_wins(k)) {
    smr_kernels_for(smr_isa_active())->SFX.linear_forward(X, W, b, Z, n, d, k);
    return;
  }
  if (d > INT_MAX || k > INT_MAX) {
    FN(plain_linear_forward)(X, W, b, Z, n, d, k);
    return;
  }
  blas_ready();
  for (size_t i = 0; i < n; i++) memcpy(Z + i * k, b, k * sizeof(T));
  for (size_t i = 0; i < n; i += INT_MAX) {
    const int m = (int)min_size(n - i, INT_MAX);
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, (int)k, (int)d, (T)1, X + i * d, (int)d, W,
         (int)k, (T)1, Z + i * k, (int)k);
  }
}

/* d or k beyond CBLAS's int: the definition, one row of X at a time. */
static void FN(plain_xt_g)(const T *X, const T *G, T *dW, size_t n, size_t d, size_t k) {
  for (size_t i = 0; i < n; i++)
    for (size_t f = 0; f < d; f++) {
      const T x = X[i * d + f];
      T *dwf = dW + f * k;
      for (size_t j = 0; j < k; j++) dwf[j] += x * G[i * k + j];
    }
}

static void FN(blas_xt_g)(const T *X, const T *G, T *dW, size_t n, size_t d, size_t k,
                          bool accumulate) {
  if (builtin_wins(k)) {
    smr_kernels_for(smr_isa_active())->SFX.xt_g(X, G, dW, n, d, k, accumulate);
    return;
  }
  if (n == 0 || d > INT_MAX || k > INT_MAX) {
    if (!accumulate)
      for (size_t i = 0; i < d * k; i++) dW[i] = (T)0;
    FN(plain_xt_g)(X, G, dW, n, d, k);
    return;
  }
  blas_ready();
  for (size_t i = 0; i < n; i += INT_MAX) {
    const int m = (int)min_size(n - i, INT_MAX);
    const T beta = accumulate || i > 0 ? (T)1 : (T)0;
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)k, m, (T)1, X + i * d, (int)d,
         G + i * k, (int)k, beta, dW, (int)k);
  }
}

#undef FN
