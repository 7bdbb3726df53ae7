/*
 * kernels.h - the kernel table: the one door between the library and the
 * per-ISA kernels.
 *
 * Every kernel the library and the trainer use is an entry here. The public
 * kernel functions (src/api_kernels.c) validate their arguments and call
 * through the table; model and trainer code call only the table.
 *
 * Kernels trust their arguments: n >= 0, k >= 1, d >= 1, no size overflow,
 * labels in [0, k), pointers valid for the sizes (NULL allowed only where an
 * entry says so). They never allocate and never fail.
 *
 * Each ISA provides `void smr_<isa>_install(struct smr_kernels *t)` that
 * overwrites the entries it implements; dispatch.c starts from the scalar
 * table and applies the installers in rising ISA order, so an entry an ISA
 * lacks stays at the best lower implementation.
 *
 * Shapes (legend as in smr.h): z, p, g are n x k; X is n x d; W, dW are
 * d x k; b, db are k; all row-major and contiguous.
 */
#ifndef SMR_KERNELS_H
#define SMR_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One set of entries per dtype; T is float or double. */
#define SMR_KERNEL_ENTRIES(T)                                                  \
  /* p = softmax(z) row-wise, two-pass (max; exp+sum; scale). p may == z.     \
     scratch: NULL, or SMR_STREAM_SCRATCH(k) elements (see below). */         \
  void (*softmax)(const T *z, T *p, size_t n, size_t k, T *scratch);           \
  /* same result, one-pass online max/sum then normalize. p may == z. */       \
  void (*softmax_online)(const T *z, T *p, size_t n, size_t k);                \
  /* p = softmax(z / t), t finite > 0. p may == z. scratch: as softmax. */    \
  void (*softmax_temperature)(const T *z, T *p, size_t n, size_t k, T t,       \
                              T *scratch);                                     \
  /* out = log_softmax(z). out may == z. */                                    \
  void (*log_softmax)(const T *z, T *out, size_t n, size_t k);                 \
  /* Fused CE from logits. Returns sum_i w_i (lse(z_i) - z_i[labels_i]) in   \
     double (NOT divided by n). If g != NULL, row i of g = (softmax(z_i) -    \
     onehot_i) * scale * w_i (the product formed in double); g may == z.      \
     g == NULL is the loss-only variant (one read). w: per-row weights, or    \
     NULL for all 1 (then the result is bit for bit the unweighted one); a    \
     row of weight 0 adds exactly 0 to the loss. scratch: as softmax (used   \
     only with g). */                                                         \
  double (*ce_logits)(const T *z, const int32_t *labels, const T *w, size_t n, \
                      size_t k, T scale, T *g, T *scratch);                    \
  /* The running log-sum-exp of class chunks (src/lse.h): for each of n rows \
     of c logits (row i at z + i ldz, ldz >= c), forms the chunk's max and   \
     sum of exponentials and merges them into (m[i], s[i]) by               \
     smr_lse_merge. c >= 1. */                                                \
  void (*lse_chunk)(const T *z, size_t n, size_t c, size_t ldz, double *m,     \
                    double *s);                                                \
  /* The gradient of the fused linear cross-entropy (src/lce.c) with respect \
     to a chunk of logits, in place: for each of n rows of c logits (row i   \
     at z + i ldz; classes c0 .. c0 + c - 1), with p = e^(z_ij - lse_i),      \
     z_ij <- (p (1 + 2 lam lse_i) - u - [c0 + j == labels_i] h) w_i, formed  \
     in double for the label's entry. lse_i finite; w_i == 0 gives 0. */    \
  void (*lce_grad)(T *z, size_t n, size_t c, size_t ldz, const double *lse,    \
                   const double *w, const int32_t *labels, size_t c0,          \
                   double lam, double h, double u);                            \
  /* The seed's CE from probabilities: returns                                \
     -sum_i sum_j y_ij * log(p_ij + 1e-15), skipping y_ij == 0 (not /n). */   \
  double (*ce_prob)(const T *p, const T *y, size_t n, size_t k);              \
  /* labels[i] = first index of the max of row i; -1 if the row has a NaN. */ \
  void (*argmax_rows)(const T *p, size_t n, size_t k, int32_t *labels);       \
  /* Z = X W + b (b broadcast over rows). */                                  \
  void (*linear_forward)(const T *X, const T *W, const T *b, T *Z, size_t n,  \
                         size_t d, size_t k);                                  \
  /* dW = X^T G (accumulate: dW += X^T G). */                                 \
  void (*xt_g)(const T *X, const T *G, T *dW, size_t n, size_t d, size_t k,   \
               bool accumulate);                                               \
  /* db = column sums of G (accumulate: db += ...). */                        \
  void (*colsum)(const T *G, T *db, size_t n, size_t k, bool accumulate);     \
  /* y += a * x over len elements (the optimizer's update loop). */           \
  void (*axpy)(size_t len, T a, const T *x, T *y);                             \
  /* Momentum step over len parameters p with gradient g and velocity v:      \
     v = mu v + g; p -= lr (nesterov ? g + mu v : v); in double, rounded. */  \
  void (*momentum_step)(size_t len, double lr, double mu, bool nesterov,       \
                        const T *g, T *v, T *p);                               \
  /* Adam step t (bias corrections bc1 = 1 - b1^t, sbc2 = sqrt(1 - b2^t)):    \
     m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;                               \
     p -= (lr / bc1) m / (sqrt(v) / sbc2 + eps); in double, rounded. */       \
  void (*adam_step)(size_t len, double lr, double b1, double b2, double eps,  \
                    double bc1, double sbc2, const T *g, T *m, T *v, T *p);   \
  /* sum of squares in double. */                                              \
  double (*sumsq)(const T *x, size_t len);                                     \
  /* sum of x_i y_i in double (L-BFGS's dot products: the f64 entry). */     \
  double (*dot)(const T *x, const T *y, size_t len);                           \
  /* true when every element is finite. */                                     \
  bool (*all_finite)(const T *x, size_t len);                                  \
  /* Per column f of X (n >= 1 rows): mean[f] and the population standard  \
     deviation sd[f], in double, two passes (mean, then squared deviations) \
     so there is no cancellation. */                                          \
  void (*col_mean_std)(const T *X, size_t n, size_t d, double *mean,         \
                       double *sd);                                            \
  /* Xs = (X - mean) / scale, row-wise over d features. Xs may == X. */       \
  void (*standardize)(const T *X, const double *mean, const double *scale,   \
                      T *Xs, size_t n, size_t d);

struct smr_kernels_f32 { SMR_KERNEL_ENTRIES(float) };
struct smr_kernels_f64 { SMR_KERNEL_ENTRIES(double) };

struct smr_kernels {
  struct smr_kernels_f32 f32;
  struct smr_kernels_f64 f64;
};

/* The active table (initialized on first call, thread-safe, never NULL):
   the active ISA's table, with linear_forward and xt_g from CBLAS when the
   build has it (SMR_HAVE_BLAS, src/blas.c). */
const struct smr_kernels *smr_kernels_active(void);
/* The table of a given available ISA (its own kernels, never CBLAS's), or
   NULL when it is not available. Tests use this to compare ISAs within one
   process. */
const struct smr_kernels *smr_kernels_for(int isa);

/* Outputs that cannot stay in cache. softmax, softmax_temperature and
   ce_logits (with a gradient) take a scratch argument from their caller:
   NULL (plain stores), or SMR_STREAM_SCRATCH(k) elements of the dtype. With
   a scratch, an ISA that has non-temporal stores keeps the exponentials of
   two rows there and streams the outputs to memory, so the output lines
   are never read (src/simd/rows.h, "Outputs that cannot stay in cache");
   an ISA without them ignores it. Whether to stream is the caller's choice
   (the public row kernels: src/api_kernels.c); the result is the same bit
   for bit either way. */
#define SMR_STREAM_SCRATCH(k) (2 * (k))

/* Installers, one per ISA folder. */
void smr_scalar_install(struct smr_kernels *t);
void smr_avx2_install(struct smr_kernels *t);   /* src/avx2/   */
void smr_avx512_install(struct smr_kernels *t); /* src/avx512/ */
void smr_neon_install(struct smr_kernels *t);   /* src/neon/   */

#endif /* SMR_KERNELS_H */
