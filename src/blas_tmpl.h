/* blas_tmpl.h - the CBLAS matrix products of one dtype, included by blas.c
   with
     T     the element type (float, double)
     SFX   the suffix (f32, f64) of the names
     GEMM  cblas_sgemm or cblas_dgemm
   No include guard on purpose. Shapes as in kernels.h; blas.c says why
   the products are formed this way. */

#define FN(name) SMR_CAT(name, SFX)

/* The ISA's own linear_forward over rows [t R, (t + 1) R) of the product. */
typedef struct {
  void (*forward)(const T *X, const T *W, const T *b, T *Z, size_t n, size_t d, size_t k);
  const T *X, *W, *b;
  T *Z;
  size_t n, d, k;
} FN(forward_job);

static void FN(forward_task)(void *arg, size_t t) {
  const FN(forward_job) *j = arg;
  const size_t r0 = t * FORWARD_TASK_ROWS, rows = min_size(FORWARD_TASK_ROWS, j->n - r0);
  j->forward(j->X + r0 * j->d, j->W, j->b, j->Z + r0 * j->k, rows, j->d, j->k);
}

static void FN(blas_linear_forward)(const T *X, const T *W, const T *b, T *Z, size_t n, size_t d,
                                    size_t k) {
  /* narrow products, and d or k beyond CBLAS's int: the ISA's own kernel,
     in row tasks on smr's threads */
  if (builtin_wins(k) || d > INT_MAX || k > INT_MAX) {
    FN(forward_job) j = {smr_kernels_for(smr_isa_active())->SFX.linear_forward, X, W, b, Z, n, d, k};
    smr_parallel_for((n + FORWARD_TASK_ROWS - 1) / FORWARD_TASK_ROWS, FN(forward_task), &j);
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

static void FN(blas_xt_g)(const T *X, const T *G, T *dW, size_t n, size_t d, size_t k,
                          bool accumulate) {
  /* narrow products, n = 0 (dW cleared or kept), and d or k beyond CBLAS's
     int: the ISA's own kernel */
  if (builtin_wins(k) || n == 0 || d > INT_MAX || k > INT_MAX) {
    smr_kernels_for(smr_isa_active())->SFX.xt_g(X, G, dW, n, d, k, accumulate);
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
