/* blas_tmpl.h - the CBLAS matrix products of one dtype, included by blas.c
   with
     T     the element type (float, double)
     SFX   the suffix (f32, f64) of the names
     GEMM  cblas_sgemm or cblas_dgemm
   No include guard on purpose. Shapes as in kernels.h; blas.c says why
   the products are formed this way. `own` is the table of the ISA whose
   BLAS copy holds the entry (bound at install time), never looked up at
   call time. */

#define FN(name) SMR_CAT(name, SFX)

/* blas_linear_forward_f32, blas_linear_forward_f64 */
static void FN(blas_linear_forward)(const struct SMR_CAT(smr_kernels, SFX) *own, const T *X,
                                    const T *W, const T *b, T *Z, size_t n, size_t d, size_t k) {
  /* the shapes where the ISA's own kernel wins, and d or k beyond CBLAS's
     int: the ISA's own kernel (in row tasks on smr's threads) */
  if (smr_blas_builtin(d, k, sizeof(T))) {
    own->linear_forward(X, W, b, Z, n, d, k);
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

/* blas_xt_g_f32, blas_xt_g_f64 */
static void FN(blas_xt_g)(const struct SMR_CAT(smr_kernels, SFX) *own, const T *X, const T *G,
                          T *dW, size_t n, size_t d, size_t k, bool accumulate) {
  /* the shapes where the ISA's own kernel wins, n = 0 (dW cleared or
     kept), and d or k beyond CBLAS's int: the ISA's own kernel (in tasks
     on smr's threads) */
  if (n == 0 || smr_blas_builtin(d, k, sizeof(T))) {
    own->xt_g(X, G, dW, n, d, k, accumulate);
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
