/*
 * lse.h - the running log-sum-exp of a row whose classes come in chunks
 * (the fused linear cross-entropy: the logits of a row are never all in
 * memory at once). A row's state is (m, s): the largest logit seen so far
 * and s = sum_j e^(z_j - m) over the classes seen, in double. A chunk's own
 * (cm, cs) merges into it by the online rule of the one-pass softmax; the
 * table entry lse_chunk (kernels.h) forms a chunk's (cm, cs) and merges it,
 * and the same merge combines the states of two processes holding
 * different classes. Special values follow smr.h's rules for a whole row:
 *   - a NaN anywhere makes s NaN for good;
 *   - +inf entries: m = +inf and s counts them (each e^(inf - inf) taken as
 *     1), so the row's softmax is 1/s on each of them;
 *   - -inf entries add 0; a row of -inf only stays (m, s) = (-inf, 0), the
 *     row with no entry above -inf that smr.h makes a NaN row.
 * Merging is exact in those cases and otherwise rounds in double (two
 * exps, a product and a sum per merge): the chunk size changes the bits of
 * s only within that rounding. Nothing of smr's is called.
 */
#ifndef SMR_LSE_H
#define SMR_LSE_H

#include <math.h>

/* The state of a row before its first chunk. */
#define SMR_LSE_M0 (-INFINITY)
#define SMR_LSE_S0 0.0

/* Merges (cm, cs) into (*m, *s); either may be a fresh state. */
static inline void smr_lse_merge(double *m, double *s, double cm, double cs) {
  if (isnan(*s) || isnan(cs)) {
    *s = NAN;
    return;
  }
  if (cm == INFINITY) {
    *s = *m == INFINITY ? *s + cs : cs;
    *m = INFINITY;
    return;
  }
  if (*m == INFINITY || cm == -INFINITY) return; /* the chunk adds 0 */
  if (*m == -INFINITY) {
    *m = cm;
    *s = cs;
    return;
  }
  if (cm > *m) {
    *s = *s * exp(*m - cm) + cs;
    *m = cm;
  } else {
    *s += cs * exp(cm - *m);
  }
}

/* The row's log-sum-exp from its state: NaN for a NaN row (a NaN, or no
   entry above -inf), +inf when it holds +inf, else m + log(s). */
static inline double smr_lse_value(double m, double s) {
  if (isnan(s) || s == 0.0) return NAN;
  if (m == INFINITY) return INFINITY;
  return m + log(s);
}

#endif /* SMR_LSE_H */
