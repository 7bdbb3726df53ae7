/*
 * kernels_tmpl.h - body of the scalar reference kernels, written once for
 * both dtypes. kernels_scalar.c includes it twice (no include guard on
 * purpose) after defining:
 *
 *   T             the element type, float or double
 *   FN(name)     name##_f32 or name##_f64
 *   COMPENSATED   0: plain double arithmetic (f32: double already carries
 *                    29 bits more than the result needs);
 *                 1: f64 needs the extra care, see exp_diff and sum_add.
 *
 * Shapes (legend of smr.h): z, p, g, out are n x k row-major; X, Xs are
 * n x d; W, dW are d x k; b, db are k. Arguments are trusted (kernels.h).
 *
 * Every row kernel follows the same plan:
 *   1. max pass: m = max of the row and jmax = its first index (NaN never
 *      wins a comparison, so m is NaN-free);
 *   2. classify the row from m (row_kind): -inf max -> NaN row, +inf max ->
 *      the rare slow path that counts +inf entries and looks for NaN;
 *   3. finite m: e_j = exp(z_j - m) <= 1, rest = sum over j != jmax of e_j,
 *      so the row sum is 1 + rest (e_jmax = exp(0) = 1 exactly). A NaN
 *      anywhere in the row makes rest NaN and, through it, the whole row.
 * Keeping `rest` apart from the leading 1 lets log(sum) be log1p(rest),
 * exact to the last bit even when the row is almost one-hot.
 */

#define FN(name) SMR_CAT(name, SFX)

/* ------------------------------------------------------------------------ */
/* Row helpers                                                               */
/* ------------------------------------------------------------------------ */

/* Element j of a row as the kernel sees it: z_j, or z_j / t divided in the
   dtype (so it may overflow to +-inf) for the temperature kernel. */
/* load_f32, load_f64 */
static inline T FN(load)(const T *z, size_t j, T t, bool scaled) {
  return scaled ? (T)(z[j] / t) : z[j];
}

/* The row max and the first index where it occurs. Starts at -inf and
   updates on x > m only, so NaN entries are skipped here; they are caught by
   the sum (finite m) or by classify (m = +inf). */
/* row_max_f32, row_max_f64 */
static inline T FN(row_max)(const T *z, size_t k, T t, bool scaled, size_t *jmax) {
  T m = (T)-INFINITY;
  size_t arg = 0;
  for (size_t j = 0; j < k; j++) {
    const T x = FN(load)(z, j, t, scaled);
    if (x > m) {
      m = x;
      arg = j;
    }
  }
  *jmax = arg;
  return m;
}

/* What the special-value rules of smr.h make of a row with max m.
   m = -inf: every entry is -inf or NaN -> NaN row (0/0, or a NaN).
   m = +inf: count the +inf entries (the limit gives 1/count each), unless a
   NaN hides in the row. Only rows holding an infinity as max get the extra
   read. */
/* classify_f32, classify_f64 */
static enum row_kind FN(classify)(const T *z, size_t k, T t, bool scaled, double m,
                                   size_t *count) {
  if (m == -INFINITY) return ROW_NAN;
  if (m != INFINITY) return ROW_FINITE;
  size_t c = 0;
  for (size_t j = 0; j < k; j++) {
    const T x = FN(load)(z, j, t, scaled);
    if (isnan(x)) return ROW_NAN;
    if (x == (T)INFINITY) c++;
  }
  *count = c;
  return ROW_POSINF;
}

/* fill_nan_f32, fill_nan_f64 */
static void FN(fill_nan)(T *p, size_t k) {
  for (size_t j = 0; j < k; j++) p[j] = (T)NAN;
}

/* Adds x to a sum of exponentials carried in double. */
/* sum_add_f32, sum_add_f64 */
static inline void FN(sum_add)(struct expsum *a, double x) {
#if COMPENSATED
  /* Kahan summation: c is what the rounding of s added (s = sum + c). The
     terms are positive, so sum_value stays within about half an ulp for any
     k instead of drifting like sqrt(k) ulp (about 10 ulp at k = 4096). */
  const double y = x - a->c;
  const double s = a->s + y;
  a->c = (s - a->s) - y;
  a->s = s;
#else
  a->s += x;
#endif
}

/* The value of the sum: Kahan's s still misses the rounding error c of its
   last addition (s = true sum + c). */
/* sum_value_f32, sum_value_f64 */
static inline double FN(sum_value)(const struct expsum *a) {
#if COMPENSATED
  return a->s - a->c;
#else
  return a->s;
#endif
}

/* Multiplies the sum by r (the online rescale). */
/* sum_scale_f32, sum_scale_f64 */
static inline void FN(sum_scale)(struct expsum *a, double r) {
  a->s *= r;
#if COMPENSATED
  a->c *= r;
#endif
}

/* exp(x - m) for x <= m, in double. */
/* exp_diff_f32, exp_diff_f64 */
static inline double FN(exp_diff)(double x, double m) {
  const double d = x - m;
  const double e = exp(d);
#if COMPENSATED
  /* x - m is rounded, by up to |d| * 2^-53, and exp turns that absolute
     error into a relative one: up to 745/2 ulp for the smallest nonzero
     probabilities. TwoSum recovers the rounding error err exactly and
     exp(d + err) = e * (1 + err) to first order (err^2 < 2^-80). Zero,
     NaN (and infinite d) results are returned as they are. */
  if (!(e > 0.0)) return e;
  const double mv = d - x;          /* the part of d that came from -m */
  const double xv = d - mv;         /* the part of d that came from x */
  const double err = (x - xv) + (-m - mv);
  return e + e * err;
#else
  return e;
#endif
}

/* rest = sum over j != skip of exp(z_j - m); when store != NULL also
   store[j] = (T)exp(z_j - m) for those j (store may equal z: element j is
   read before it is written). */
/* sum_exp_except_f32, sum_exp_except_f64 */
static double FN(sum_exp_except)(const T *z, size_t k, T t, bool scaled, double m,
                                  size_t skip, T *store) {
  struct expsum acc = {0.0, 0.0};
  for (size_t j = 0; j < k; j++) {
    if (j == skip) continue;
    const double e = FN(exp_diff)((double)FN(load)(z, j, t, scaled), m);
    if (store != NULL) store[j] = (T)e;
    FN(sum_add)(&acc, e);
  }
  return FN(sum_value)(&acc);
}

/* ------------------------------------------------------------------------ */
/* Softmax (two-pass), temperature                                           */
/* ------------------------------------------------------------------------ */

/* p = softmax(load(z)) for one row. p may equal z. Plain softmax is
   scaled = false; the temperature kernel divides each z_j by t in the
   dtype every time it reads it (three reads, no buffer; the division is
   deterministic, so every read sees the same value). */
/* softmax_row_f32, softmax_row_f64 */
static void FN(softmax_row)(const T *z, T *p, size_t k, T t, bool scaled) {
  size_t jmax = 0, count = 0;
  const double m = (double)FN(row_max)(z, k, t, scaled, &jmax);
  switch (FN(classify)(z, k, t, scaled, m, &count)) {
  case ROW_NAN:
    FN(fill_nan)(p, k);
    return;
  case ROW_POSINF: {
    const T share = (T)1 / (T)count;
    for (size_t j = 0; j < k; j++)
      p[j] = FN(load)(z, j, t, scaled) == (T)INFINITY ? share : (T)0;
    return;
  }
  case ROW_FINITE:
    break;
  }
  /* exp(z_j - m) is stored (rounded to T) while the sum runs in double;
     then p_j = e_j / sum: a division, not a product with 1/sum, so each
     p_j takes one more rounding only (f32: e_j rounded to float, then the
     quotient rounded again, about 1.5 ulp at worst). */
  const double rest = FN(sum_exp_except)(z, k, t, scaled, m, jmax, p);
  p[jmax] = (T)1;
  const double sum = 1.0 + rest;
  for (size_t j = 0; j < k; j++) p[j] = (T)((double)p[j] / sum);
}

/* scalar_softmax_f32, scalar_softmax_f64 */
static void FN(scalar_softmax)(const T *z, T *p, size_t n, size_t k, T *scratch) {
  (void)scratch; /* no streaming stores in the scalar kernels */
  for (size_t i = 0; i < n; i++) FN(softmax_row)(z + i * k, p + i * k, k, (T)1, false);
}

/* scalar_softmax_temperature_f32, scalar_softmax_temperature_f64 */
static void FN(scalar_softmax_temperature)(const T *z, T *p, size_t n, size_t k, T t,
                                            T *scratch) {
  (void)scratch;
  for (size_t i = 0; i < n; i++) FN(softmax_row)(z + i * k, p + i * k, k, t, true);
}

/* ------------------------------------------------------------------------ */
/* Online softmax                                                            */
/* ------------------------------------------------------------------------ */

/* One read keeps the running max m and s = sum_j exp(z_j - m) over the
   entries seen so far. A new max x rescales what was summed against the
   old max: s = s * exp(m - x) + 1 (the new max contributes exp(0) = 1).
   -inf entries contribute exactly 0 and are skipped: while m is still
   -inf, exp(-inf - -inf) would be NaN. A NaN entry fails x > m and makes s
   NaN, which no later rescale (NaN * 0) undoes. When m ends at +inf, s is
   meaningless and classify rereads the row. */
/* softmax_online_row_f32, softmax_online_row_f64 */
static void FN(softmax_online_row)(const T *z, T *p, size_t k) {
  double m = -INFINITY;
  struct expsum s = {0.0, 0.0};
  for (size_t j = 0; j < k; j++) {
    const double x = (double)z[j];
    if (x > m) {
      FN(sum_scale)(&s, FN(exp_diff)(m, x));
      FN(sum_add)(&s, 1.0);
      m = x;
    } else if (x != -INFINITY) {
      FN(sum_add)(&s, FN(exp_diff)(x, m));
    }
  }
  size_t count = 0;
  switch (FN(classify)(z, k, (T)1, false, m, &count)) {
  case ROW_NAN:
    FN(fill_nan)(p, k);
    return;
  case ROW_POSINF: {
    const T share = (T)1 / (T)count;
    for (size_t j = 0; j < k; j++) p[j] = z[j] == (T)INFINITY ? share : (T)0;
    return;
  }
  case ROW_FINITE:
    break;
  }
  const double sum = FN(sum_value)(&s); /* NaN when the row holds a NaN */
  for (size_t j = 0; j < k; j++) p[j] = (T)(FN(exp_diff)((double)z[j], m) / sum);
}

/* scalar_softmax_online_f32, scalar_softmax_online_f64 */
static void FN(scalar_softmax_online)(const T *z, T *p, size_t n, size_t k) {
  for (size_t i = 0; i < n; i++) FN(softmax_online_row)(z + i * k, p + i * k, k);
}

/* ------------------------------------------------------------------------ */
/* Log-softmax                                                               */
/* ------------------------------------------------------------------------ */

/* out_j = (z_j - m) - log(1 + rest). Both terms are <= 0, so nothing
   cancels; log1p keeps log(sum) exact when the row is nearly one-hot. */
/* log_softmax_row_f32, log_softmax_row_f64 */
static void FN(log_softmax_row)(const T *z, T *out, size_t k) {
  size_t jmax = 0, count = 0;
  const double m = (double)FN(row_max)(z, k, (T)1, false, &jmax);
  switch (FN(classify)(z, k, (T)1, false, m, &count)) {
  case ROW_NAN:
    FN(fill_nan)(out, k);
    return;
  case ROW_POSINF: {
    /* log(1/count); 0.0 - log(1) is +0, like the finite one-hot case */
    const T share = (T)(0.0 - log((double)count));
    for (size_t j = 0; j < k; j++) out[j] = z[j] == (T)INFINITY ? share : (T)-INFINITY;
    return;
  }
  case ROW_FINITE:
    break;
  }
  const double log_sum = log1p(FN(sum_exp_except)(z, k, (T)1, false, m, jmax, NULL));
  for (size_t j = 0; j < k; j++) out[j] = (T)(((double)z[j] - m) - log_sum);
}

/* scalar_log_softmax_f32, scalar_log_softmax_f64 */
static void FN(scalar_log_softmax)(const T *z, T *out, size_t n, size_t k) {
  for (size_t i = 0; i < n; i++) FN(log_softmax_row)(z + i * k, out + i * k, k);
}

/* ------------------------------------------------------------------------ */
/* Cross-entropy                                                             */
/* ------------------------------------------------------------------------ */

/* One row of the fused loss: returns -log(p_label) = lse - z_label, and
   when g != NULL writes g_j = (p_j - [j == label]) * scale. g may equal z:
   z_label is read first, and each later pass reads z_j before writing g_j.
   The gradient of the mean CE is p - y (docs/MATH.md); scale is 1/n. */
/* ce_logits_row_f32, ce_logits_row_f64 */
static double FN(ce_logits_row)(const T *z, size_t label, size_t k, double scale, T *g) {
  const double zl = (double)z[label];
  size_t jmax = 0, count = 0;
  const double m = (double)FN(row_max)(z, k, (T)1, false, &jmax);
  switch (FN(classify)(z, k, (T)1, false, m, &count)) {
  case ROW_NAN:
    if (g != NULL) FN(fill_nan)(g, k);
    return NAN;
  case ROW_POSINF: {
    /* p = 1/count at the +inf entries and 0 elsewhere, so -log(p_label) is
       log(count) at a +inf label (0 for a unique one) and +inf otherwise */
    if (g != NULL) {
      const double share = 1.0 / (double)count;
      for (size_t j = 0; j < k; j++) {
        const double pj = z[j] == (T)INFINITY ? share : 0.0;
        g[j] = (T)((pj - (j == label ? 1.0 : 0.0)) * scale);
      }
    }
    return zl == INFINITY ? log((double)count) : INFINITY;
  }
  case ROW_FINITE:
    break;
  }
  const double rest = FN(sum_exp_except)(z, k, (T)1, false, m, jmax, g);
  const double sum = 1.0 + rest;
  if (g != NULL) {
    g[jmax] = (T)1; /* exp(z_jmax - m) */
    for (size_t j = 0; j < k; j++) g[j] = (T)((double)g[j] / sum * scale);
    /* p_label - 1 without cancellation: at the max it is -rest / sum;
       elsewhere p_label <= 1/2 and the subtraction is harmless. */
    const double q = label == jmax ? -rest / sum : FN(exp_diff)(zl, m) / sum - 1.0;
    g[label] = (T)(q * scale);
  }
  /* lse - z_label = (m - z_label) + log(1 + rest): +inf at a -inf label,
     NaN when the row holds a NaN (rest is NaN). */
  return (m - zl) + log1p(rest);
}

/* The running log-sum-exp of class chunks (kernels.h, lse_chunk): the
   chunk's max, its +inf count or NaN, and its sum of exp(z_j - max) in
   double, merged by smr_lse_merge (src/lse.h). */
/* scalar_lse_chunk_f32, scalar_lse_chunk_f64 */
static void FN(scalar_lse_chunk)(const T *z, size_t n, size_t c, size_t ldz, double *m,
                                 double *s) {
  for (size_t i = 0; i < n; i++, z += ldz) {
    double cm = -INFINITY, cs = 0.0;
    size_t pinf = 0;
    bool nan = false;
    for (size_t j = 0; j < c; j++) {
      const double v = (double)z[j];
      if (isnan(v))
        nan = true;
      else if (v == INFINITY)
        pinf++;
      else if (v > cm)
        cm = v;
    }
    if (nan) {
      cs = NAN;
    } else if (pinf > 0) {
      cm = INFINITY;
      cs = (double)pinf;
    } else if (cm != -INFINITY) {
      for (size_t j = 0; j < c; j++) cs += exp((double)z[j] - cm); /* -inf: exp gives 0 */
    }
    smr_lse_merge(&m[i], &s[i], cm, cs);
  }
}

/* The fused linear cross-entropy's gradient for a chunk of logits
   (kernels.h, lce_grad): each entry formed in double and rounded. */
/* scalar_lce_grad_f32, scalar_lce_grad_f64 */
static void FN(scalar_lce_grad)(T *z, size_t n, size_t c, size_t ldz, const double *lse,
                                const double *w, const int32_t *labels, size_t c0, double lam,
                                double h, double u) {
  for (size_t i = 0; i < n; i++, z += ldz) {
    const double f = lam > 0.0 ? 1.0 + 2.0 * lam * lse[i] : 1.0;
    for (size_t j = 0; j < c; j++) {
      if (w[i] == 0.0) {
        z[j] = (T)0;
        continue;
      }
      const double t = (labels[i] >= 0 && (size_t)labels[i] == c0 + j ? h : 0.0) + u;
      z[j] = (T)((exp((double)z[j] - lse[i]) * f - t) * w[i]);
    }
  }
}

/* scalar_ce_logits_f32, scalar_ce_logits_f64 */
static double FN(scalar_ce_logits)(const T *z, const int32_t *labels, const T *w, size_t n,
                                    size_t k, T scale, T *g, T *scratch) {
  (void)scratch;
  double total = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double wi = w != NULL ? (double)w[i] : 1.0;
    const double ce = FN(ce_logits_row)(z + i * k, (size_t)labels[i], k, (double)scale * wi,
                                         g != NULL ? g + i * k : NULL);
    if (wi != 0.0) total += wi * ce;
  }
  return total;
}

/* The seed's formula as written: -sum y log(p + 1e-15) over the entries with
   y != 0, in double. NaN in p or y, or p < -1e-15, gives NaN. */
/* scalar_ce_prob_f32, scalar_ce_prob_f64 */
static double FN(scalar_ce_prob)(const T *p, const T *y, size_t n, size_t k) {
  double acc = 0.0;
  const size_t len = n * k;
  for (size_t i = 0; i < len; i++) {
    if (y[i] == (T)0) continue;
    acc += (double)y[i] * log((double)p[i] + 1e-15);
  }
  return -acc;
}

/* ------------------------------------------------------------------------ */
/* Linear algebra and utilities for the model and trainer                    */
/* ------------------------------------------------------------------------ */

/* labels[i] = first index of the row max (ties: the first wins);
   -1 when the row holds a NaN. */
/* scalar_argmax_rows_f32, scalar_argmax_rows_f64 */
static void FN(scalar_argmax_rows)(const T *p, size_t n, size_t k, int32_t *labels) {
  for (size_t i = 0; i < n; i++) {
    const T *row = p + i * k;
    int32_t best = 0;
    for (size_t j = 0; j < k; j++) {
      if (isnan(row[j])) {
        best = -1;
        break;
      }
      if (row[j] > row[best]) best = (int32_t)j;
    }
    labels[i] = best;
  }
}

/* Z = X W + b. For each row i, Z_i starts at b and adds X_if * W_f for
   f = 0..d-1: the inner loop runs over the contiguous rows of Z and W.
   Accumulated in the dtype, in this fixed order. */
/* scalar_linear_forward_f32, scalar_linear_forward_f64 */
static void FN(scalar_linear_forward)(const T *X, const T *W, const T *b, T *Z, size_t n,
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

/* dW = X^T G (or dW += X^T G): row i of X scales row i of G into every row
   f of dW. Accumulated in the dtype over i = 0..n-1. */
/* scalar_xt_g_f32, scalar_xt_g_f64 */
static void FN(scalar_xt_g)(const T *X, const T *G, T *dW, size_t n, size_t d, size_t k,
                             bool accumulate) {
  if (!accumulate)
    for (size_t i = 0; i < d * k; i++) dW[i] = (T)0;
  for (size_t i = 0; i < n; i++) {
    const T *gi = G + i * k;
    for (size_t f = 0; f < d; f++) {
      const T x = X[i * d + f];
      T *dwf = dW + f * k;
      for (size_t j = 0; j < k; j++) dwf[j] += x * gi[j];
    }
  }
}

/* db = sum over rows of G (or db += ...), in the dtype. */
/* scalar_colsum_f32, scalar_colsum_f64 */
static void FN(scalar_colsum)(const T *G, T *db, size_t n, size_t k, bool accumulate) {
  if (!accumulate)
    for (size_t j = 0; j < k; j++) db[j] = (T)0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < k; j++) db[j] += G[i * k + j];
}

/* scalar_axpy_f32, scalar_axpy_f64 */
static void FN(scalar_axpy)(size_t len, T a, const T *x, T *y) {
  for (size_t i = 0; i < len; i++) y[i] += a * x[i];
}

/* scalar_momentum_step_f32, scalar_momentum_step_f64 */
static void FN(scalar_momentum_step)(size_t len, double lr, double mu, bool nesterov,
                                      const T *g, T *v, T *p) {
  for (size_t i = 0; i < len; i++) {
    const double vi = mu * (double)v[i] + (double)g[i];
    v[i] = (T)vi;
    p[i] = (T)((double)p[i] - lr * (nesterov ? (double)g[i] + mu * vi : vi));
  }
}

/* scalar_adam_step_f32, scalar_adam_step_f64 */
static void FN(scalar_adam_step)(size_t len, double lr, double b1, double b2, double eps,
                                  double bc1, double sbc2, const T *g, T *m, T *v, T *p) {
  const double step = lr / bc1;
  for (size_t i = 0; i < len; i++) {
    const double gi = (double)g[i];
    const double mi = b1 * (double)m[i] + (1.0 - b1) * gi;
    const double vi = b2 * (double)v[i] + (1.0 - b2) * gi * gi;
    m[i] = (T)mi;
    v[i] = (T)vi;
    p[i] = (T)((double)p[i] - step * mi / (sqrt(vi) / sbc2 + eps));
  }
}

/* scalar_dot_f32, scalar_dot_f64 */
static double FN(scalar_dot)(const T *x, const T *y, size_t len) {
  double acc = 0.0;
  for (size_t i = 0; i < len; i++) acc += (double)x[i] * (double)y[i];
  return acc;
}

/* scalar_sumsq_f32, scalar_sumsq_f64 */
static double FN(scalar_sumsq)(const T *x, size_t len) { return FN(scalar_dot)(x, x, len); }

/* scalar_all_finite_f32, scalar_all_finite_f64 */
static bool FN(scalar_all_finite)(const T *x, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (!isfinite(x[i])) return false;
  return true;
}

/* Column means, then population deviations about them, in double. */
/* scalar_col_mean_std_f32, scalar_col_mean_std_f64 */
static void FN(scalar_col_mean_std)(const T *X, size_t n, size_t d, double *mean, double *sd) {
  for (size_t f = 0; f < d; f++) mean[f] = sd[f] = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t f = 0; f < d; f++) mean[f] += (double)X[i * d + f];
  for (size_t f = 0; f < d; f++) mean[f] /= (double)n;
  for (size_t i = 0; i < n; i++)
    for (size_t f = 0; f < d; f++) {
      const double t = (double)X[i * d + f] - mean[f];
      sd[f] += t * t;
    }
  for (size_t f = 0; f < d; f++) sd[f] = sqrt(sd[f] / (double)n);
}

/* Xs = (X - mean) / scale per feature, in double, rounded once. */
/* scalar_standardize_f32, scalar_standardize_f64 */
static void FN(scalar_standardize)(const T *X, const double *mean, const double *scale, T *Xs,
                                    size_t n, size_t d) {
  for (size_t i = 0; i < n; i++)
    for (size_t f = 0; f < d; f++)
      Xs[i * d + f] = (T)(((double)X[i * d + f] - mean[f]) / scale[f]);
}

/* install_f32, install_f64 */
static void FN(install)(struct FN(smr_kernels) *t) {
  t->softmax = FN(scalar_softmax);
  t->softmax_online = FN(scalar_softmax_online);
  t->softmax_temperature = FN(scalar_softmax_temperature);
  t->log_softmax = FN(scalar_log_softmax);
  t->ce_logits = FN(scalar_ce_logits);
  t->lse_chunk = FN(scalar_lse_chunk);
  t->lce_grad = FN(scalar_lce_grad);
  t->ce_prob = FN(scalar_ce_prob);
  t->argmax_rows = FN(scalar_argmax_rows);
  t->linear_forward = FN(scalar_linear_forward);
  t->xt_g = FN(scalar_xt_g);
  t->colsum = FN(scalar_colsum);
  t->axpy = FN(scalar_axpy);
  t->momentum_step = FN(scalar_momentum_step);
  t->adam_step = FN(scalar_adam_step);
  t->sumsq = FN(scalar_sumsq);
  t->dot = FN(scalar_dot);
  t->all_finite = FN(scalar_all_finite);
  t->col_mean_std = FN(scalar_col_mean_std);
  t->standardize = FN(scalar_standardize);
}

#undef FN
