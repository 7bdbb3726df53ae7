/*
 * lce.c - the fused linear cross-entropy of smr.h (smr_linear_cross_entropy):
 * the loss of z = X W + b and its gradients for vocabulary-sized K without
 * the n x K logits.
 *
 * Classes are taken a chunk at a time (the outer loop): the chunk's columns
 * of W are copied into a contiguous d x C block (and, for dX, its C x d
 * transpose), which stays in cache while every row block of X uses it.
 * Forward: per row block, Z = X_blk W_c + b_c (the table's linear_forward),
 * then lse_chunk merges Z into each row's running (max, sum of exp) (lse.h),
 * and the label's logit (and, with label smoothing, the row's sum of
 * logits) is picked up. Backward, when a gradient is asked for: the same
 * chunks and blocks again, Z recomputed and turned into G in place from the
 * saved lse; then dW_c = X_blk^T G (xt_g, accumulated over the blocks in
 * order), db_c = column sums of G, and dX_blk += G W_c^T (a linear_forward
 * with the transpose, added chunk after chunk). Memory: the W chunk twice,
 * its gradient, one block of logits and one of dX rows, and four doubles
 * per row; never n x K, never d x K beyond dW itself.
 *
 * Every sum has a fixed order (chunks in order, blocks in order, the
 * products' own fixed orders): the same bits on any thread count. Another
 * chunk size reorders the sums of exp (lse.h) and of the products: the
 * results then move within rounding.
 */
#include "internal.h"
#include "kernels.h"
#include "lse.h"
#include "threads.h"
#include "tuning.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

smr_lce_options smr_lce_options_default(void) {
  smr_lce_options o;
  memset(&o, 0, sizeof o);
  o.class_chunk = 0;
  o.ignore_index = -100;
  o.label_smoothing = 0.0;
  o.z_loss = 0.0;
  o.reduction = SMR_REDUCE_MEAN;
  return o;
}

static smr_status check_options(const smr_lce_options *o) {
  if (!(o->label_smoothing >= 0.0 && o->label_smoothing < 1.0)) return SMR_EINVAL;
  if (!(isfinite(o->z_loss) && o->z_loss >= 0.0)) return SMR_EINVAL;
  if (o->reduction != SMR_REDUCE_MEAN && o->reduction != SMR_REDUCE_SUM) return SMR_EINVAL;
  return SMR_OK;
}

/* The checks shared by both dtypes, in smr.h's order; *count = the rows
   whose label is not ignore_index. */
static smr_status check_call(const void *X, size_t n, size_t d, const void *W, size_t K,
                             const int32_t *labels, const smr_lce_options *o, const double *loss,
                             size_t es, size_t *count) {
  if (loss == NULL || d == 0 || K == 0 || K > (size_t)INT32_MAX) return SMR_EINVAL;
  smr_status st = check_options(o);
  if (st != SMR_OK) return st;
  if (W == NULL || (n > 0 && (X == NULL || labels == NULL))) return SMR_EINVAL;
  if (!smr_array_ok(d, K, es) || !smr_array_ok(n, d, es) || !smr_array_ok(n, 4, sizeof(double)))
    return SMR_EOVERFLOW;
  size_t c = 0;
  for (size_t i = 0; i < n; i++) {
    if (labels[i] == o->ignore_index) continue;
    if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)K) return SMR_ERANGE;
    c++;
  }
  *count = c;
  return SMR_OK;
}

/* Classes per chunk and rows per block. */
static void lce_sizes(size_t n, size_t d, size_t K, size_t es, size_t class_chunk, size_t *C,
                      size_t *R) {
  size_t c = class_chunk;
  if (c == 0) {
    c = SMR_LCE_W_CHUNK_BYTES / (d * es);
    if (c < 16) c = 16;
  }
  *C = c < K ? c : K;
  const size_t wide = *C > d ? *C : d;
  size_t r = SMR_LCE_BLOCK_ELEMS / wide;
  if (r < 1) r = 1;
  *R = n < r ? (n > 0 ? n : 1) : r;
}

/* Row i's loss from its state: lse - (1 - e) z_y - (e / K) sum_j z_j +
   z_loss lse^2, with smr.h's special values (see smr.h). */
static double row_loss(double m, double s, double zt, double zsum, size_t K, double e, double lam,
                       double *lse_out) {
  const double lse = smr_lse_value(m, s);
  *lse_out = lse;
  if (isnan(lse)) return NAN;
  double ce;
  if (m == INFINITY) {
    if (e == 0.0)
      ce = zt == INFINITY ? log(s) : INFINITY;
    else
      ce = s == (double)K ? log((double)K) : INFINITY;
  } else if (e == 0.0) {
    ce = lse - zt;
  } else {
    ce = lse - (1.0 - e) * zt - (e / (double)K) * zsum;
  }
  return lam > 0.0 ? ce + lam * lse * lse : ce;
}

/* the phases of a block's row-parallel part (lce_tmpl.h, lce_rows) */
enum { LCE_FWD, LCE_GRAD, LCE_ADD };

#define FN(name) SMR_CAT(name, SFX)

#define T float
#define SFX f32
#include "lce_tmpl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "lce_tmpl.h"
#undef T
#undef SFX

#undef FN
