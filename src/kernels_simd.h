/*
 * kernels_simd.h - the SIMD kernels, written once against a small vector
 * layer and compiled once per ISA and dtype.
 *
 * Each src/<isa>/kernels_<isa>_<dtype>.c defines the vector layer of its
 * ISA for one dtype (src/<isa>/vec_<isa>.h), then includes this file, which
 * defines static kernels and
 *
 *   void SIMD_INSTALL(struct SIMD_TABLE *t)
 *
 * that overwrites the entries implemented here. The file is compiled only
 * inside an ISA folder, with that folder's flags; it holds no intrinsics.
 *
 * The vector layer each ISA provides is specified in simd/vec_contract.h,
 * which checks what it can at compile time.
 *
 * Numerics (bounds in docs/ACCURACY.md, checked by tests/checkasm):
 *   - exp(z_j - m) is evaluated in T: d = z_j - m is rounded once, so the
 *     result carries a relative error up to |d| * eps / 2 on top of SLEEF's
 *     1 ulp; the bound per element is (A + B |z_j - m|) ulp.
 *   - sums of exponentials are formed four vectors at a time in T (two
 *     levels of pairwise addition) and then folded into the VA accumulator,
 *     so their error does not grow with k.
 *   - the row max m is excluded from the sums: rest = (ties - 1) +
 *     sum_{z_j != m} exp(z_j - m), and the row's log-sum-exp is
 *     m + log1p(rest) in double, exact to the last bit when the row is
 *     nearly one-hot (the same split as the scalar twin).
 *   - special rows (max -inf or +inf) take the plain-C slow path below,
 *     which applies the rules of smr.h exactly like src/scalar.
 */

#include "lse.h"     /* smr_lse_merge */
#include "threads.h" /* smr_parallel_for, smr_threads_count */
#include "tuning.h"  /* SMR_PRODUCT_PAR_MIN */

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define U 4 /* vectors per unrolled step */
/* loss-only CE: rest below this is recomputed (see simd_ce_logits) */
#define REREAD_BELOW (sizeof(T) == sizeof(float) ? 0x1p-20 : 0.125)

/* The kernels, by family (each file says what it holds). */
#include "simd/vec_contract.h"
#include "simd/names.h"
#include "simd/rows.h"
#include "simd/vector_ops.h"
#include "simd/products.h"

void SIMD_INSTALL(struct SIMD_TABLE *t);
void SIMD_INSTALL(struct SIMD_TABLE *t) {
  t->softmax = simd_softmax;
  t->softmax_online = simd_softmax_online;
  t->softmax_temperature = simd_softmax_temperature;
  t->log_softmax = simd_log_softmax;
  t->ce_logits = simd_ce_logits;
  t->lse_chunk = simd_lse_chunk;
  t->lce_grad = simd_lce_grad;
  t->argmax_rows = simd_argmax_rows;
  t->linear_forward = simd_linear_forward;
  t->xt_g = simd_xt_g;
  t->colsum = simd_colsum;
  t->axpy = simd_axpy;
  t->sumsq = simd_sumsq;
  t->dot = simd_dot;
  t->all_finite = simd_all_finite;
  /* ce_prob (the seed's reference formula), col_mean_std and standardize
     (once per fit or predict call, in double), and the optimizer steps
     momentum_step and adam_step (O(d k) per step, next to the O(n d k)
     products) stay with the scalar twin. */
}
