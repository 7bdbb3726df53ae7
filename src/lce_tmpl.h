/* lce_tmpl.h - the fused linear cross-entropy of one dtype, included by
   lce.c with
     T    the element type (float, double)
     SFX  the suffix (f32, f64)
   No include guard on purpose. lce.c says how it works. */

/* The workspace and the per-row state of one call. */
typedef struct {
  const struct SMR_CAT(smr_kernels, SFX) *kt; /* loaded once by the public call */
  const T *X, *W, *b;
  const int32_t *labels;
  size_t n, d, K, C, R;
  double e, lam;                   /* label smoothing, z-loss */
  int32_t ignore;
  T *Wc, *WcT, *bc, *Z, *tmp, *dWc, *dbc, *zero_d; /* chunk and block buffers */
  double *m, *s, *zt, *zsum;       /* per row: lse state, label logit, sum of logits */
  double *lse, *w;                 /* per row: log-sum-exp, gradient weight */
  size_t k_top;                    /* > 0: the forward pass keeps each row's top k_top */
  double *tv;                      /* n x k_top logits, descending */
  int32_t *tc;                     /* n x k_top classes */
  size_t *tcnt;                    /* per row: entries in its list */
} FN(lce_ctx);

/* lce_init_f32, lce_init_f64: the call's inputs, table and sizes. */
static void FN(lce_init)(FN(lce_ctx) *c, const T *X, size_t n, size_t d, const T *W, const T *b,
                         size_t K, const int32_t *labels, size_t class_chunk) {
  memset(c, 0, sizeof *c);
  c->kt = &smr_kernels_active()->SFX;
  c->X = X;
  c->W = W;
  c->b = b;
  c->labels = labels;
  c->n = n;
  c->d = d;
  c->K = K;
  lce_sizes(n, d, K, sizeof(T), class_chunk, &c->C, &c->R);
}

/* lce_free_f32, lce_free_f64 */
static void FN(lce_free)(FN(lce_ctx) *c) {
  free(c->Wc);
  free(c->WcT);
  free(c->bc);
  free(c->Z);
  free(c->tmp);
  free(c->dWc);
  free(c->dbc);
  free(c->zero_d);
  free(c->m);
}

/* lce_alloc_f32, lce_alloc_f64: every buffer before anything is written. */
static smr_status FN(lce_alloc)(FN(lce_ctx) *c, bool want_dx, bool want_dw, bool want_db) {
  const size_t n = c->n > 0 ? c->n : 1;
  size_t dc, rc, rd;
  if (!smr_mul_ok(c->d, c->C, &dc) || !smr_mul_ok(c->R, c->C, &rc) ||
      !smr_mul_ok(c->R, c->d, &rd) || !smr_array_ok(dc, 2, sizeof(T)))
    return SMR_EOVERFLOW;
  c->Wc = malloc(dc * sizeof(T));
  c->WcT = want_dx ? malloc(dc * sizeof(T)) : NULL;
  c->bc = malloc(c->C * sizeof(T));
  c->Z = malloc(rc * sizeof(T));
  c->tmp = want_dx ? malloc(rd * sizeof(T)) : NULL;
  c->dWc = want_dw ? malloc(dc * sizeof(T)) : NULL;
  c->dbc = want_db ? malloc(c->C * sizeof(T)) : NULL;
  c->zero_d = want_dx ? calloc(c->d, sizeof(T)) : NULL;
  c->m = malloc(6 * n * sizeof(double));
  if (c->Wc == NULL || (want_dx && c->WcT == NULL) || c->bc == NULL || c->Z == NULL ||
      (want_dx && (c->tmp == NULL || c->zero_d == NULL)) || (want_dw && c->dWc == NULL) ||
      (want_db && c->dbc == NULL) || c->m == NULL) {
    FN(lce_free)(c);
    return SMR_ENOMEM;
  }
  c->s = c->m + n;
  c->zt = c->s + n;
  c->zsum = c->zt + n;
  c->lse = c->zsum + n;
  c->w = c->lse + n;
  return SMR_OK;
}

/* The chunk of classes [c0, c0 + cw): W's columns into Wc (d x cw) and,
   with `transpose` (the backward pass's dX), WcT (cw x d); b's into bc (0
   without b). */
/* lce_load_chunk_f32, lce_load_chunk_f64 */
static void FN(lce_load_chunk)(FN(lce_ctx) *c, size_t c0, size_t cw, bool transpose) {
  for (size_t j = 0; j < c->d; j++) memcpy(c->Wc + j * cw, c->W + j * c->K + c0, cw * sizeof(T));
  if (transpose && c->WcT != NULL)
    for (size_t q = 0; q < cw; q++)
      for (size_t j = 0; j < c->d; j++) c->WcT[q * c->d + j] = c->W[j * c->K + c0 + q];
  for (size_t q = 0; q < cw; q++) c->bc[q] = c->b != NULL ? c->b[c0 + q] : (T)0;
}

/* The row-parallel part of a block (rows [r0, r0 + rows) of chunk
   [c0, c0 + cw), its logits or gradient in Z): tasks of SMR_LCE_TASK_ELEMS
   logits on smr's pool, each on its own rows (so the bits never depend on
   the threads). */
typedef struct {
  const FN(lce_ctx) *c;
  size_t r0, rows, c0, cw, trows;
  int phase;
  T *dXb; /* LCE_ADD: dX's rows of the block, += tmp */
} FN(lce_job);

/* Rows i0 .. i0 + cnt of the block's Z become G, the gradient of the loss
   with respect to the logits, by the extended softmax's rules: for the rows
   the table's lce_grad does not take (a +inf or NaN log-sum-exp). */
/* lce_grad_rows_f32, lce_grad_rows_f64 */
static void FN(lce_grad_rows)(const FN(lce_ctx) *c, size_t r0, size_t i0, size_t cnt, size_t c0,
                              size_t cw) {
  const double uni = c->e / (double)c->K, hit = 1.0 - c->e;
  for (size_t i = i0; i < i0 + cnt; i++) {
    T *g = c->Z + i * cw;
    const size_t r = r0 + i;
    const double w = c->w[r], lse = c->lse[r], m = c->m[r], s = c->s[r];
    if (w == 0.0) {
      for (size_t q = 0; q < cw; q++) g[q] = (T)0;
      continue;
    }
    const double zl = 1.0 + 2.0 * c->lam * lse; /* the z-loss's factor on p */
    const size_t y = (size_t)c->labels[r];
    for (size_t q = 0; q < cw; q++) {
      const double z = (double)g[q];
      /* the extended softmax: +inf entries share 1, the rest 0 */
      const double p = m == INFINITY ? (z == INFINITY ? 1.0 / s : 0.0) : exp(z - lse);
      double v = c->lam > 0.0 ? p * zl : p;
      v -= (c0 + q == y ? hit : 0.0) + uni;
      g[q] = (T)(v * w);
    }
  }
}

/* Inserts (v, cls) into a row's top list (values descending, classes
   ascending among equal values: a later class goes after an equal one). */
/* topk_insert_f32, topk_insert_f64 */
static void FN(topk_insert)(double *tv, int32_t *tc, size_t *cnt, size_t k_top, double v,
                            int32_t cls) {
  size_t pos;
  if (*cnt < k_top)
    pos = (*cnt)++;
  else if (v > tv[k_top - 1])
    pos = k_top - 1;
  else
    return;
  while (pos > 0 && v > tv[pos - 1]) {
    tv[pos] = tv[pos - 1];
    tc[pos] = tc[pos - 1];
    pos--;
  }
  tv[pos] = v;
  tc[pos] = cls;
}

/* lce_task_f32, lce_task_f64 */
static void FN(lce_task)(void *arg, size_t task) {
  const FN(lce_job) *j = arg;
  const FN(lce_ctx) *c = j->c;
  const size_t i0 = task * j->trows, cnt = j->rows - i0 < j->trows ? j->rows - i0 : j->trows;
  const size_t cw = j->cw, r0 = j->r0;
  if (j->phase == LCE_GRAD) {
    const double h = 1.0 - c->e, u = c->e / (double)c->K;
    for (size_t a = i0; a < i0 + cnt;) {
      /* a run of rows for the table's entry: a finite lse, or weight 0 */
      size_t b = a;
      while (b < i0 + cnt && (c->w[r0 + b] == 0.0 || isfinite(c->lse[r0 + b]))) b++;
      if (b > a)
        c->kt->lce_grad(c->Z + a * cw, b - a, cw, cw, c->lse + r0 + a, c->w + r0 + a,
                        c->labels + r0 + a, j->c0, c->lam, h, u);
      if (b < i0 + cnt) FN(lce_grad_rows)(c, r0, b++, 1, j->c0, cw);
      a = b;
    }
    return;
  }
  if (j->phase == LCE_ADD) {
    const size_t d = c->d;
    for (size_t t = i0 * d; t < (i0 + cnt) * d; t++) j->dXb[t] += c->tmp[t];
    return;
  }
  c->kt->lse_chunk(c->Z + i0 * cw, cnt, cw, cw, c->m + r0 + i0, c->s + r0 + i0);
  for (size_t i = i0; i < i0 + cnt; i++) {
    const size_t r = r0 + i;
    if (c->k_top > 0) /* smr_linear_topk: no labels */
      for (size_t q = 0; q < cw; q++) {
        const double v = (double)c->Z[i * cw + q];
        if (!isnan(v))
          FN(topk_insert)(c->tv + r * c->k_top, c->tc + r * c->k_top, &c->tcnt[r], c->k_top, v,
                          (int32_t)(j->c0 + q));
      }
    if (c->labels == NULL) continue;
    const int32_t y = c->labels[r];
    if (y != c->ignore && (size_t)y >= j->c0 && (size_t)y < j->c0 + cw)
      c->zt[r] = (double)c->Z[i * cw + ((size_t)y - j->c0)];
    if (c->e > 0.0) {
      double t = 0.0;
      for (size_t q = 0; q < cw; q++) t += (double)c->Z[i * cw + q];
      c->zsum[r0 + i] += t;
    }
  }
}

/* lce_rows_f32, lce_rows_f64: one phase over the block's rows. */
static void FN(lce_rows)(const FN(lce_ctx) *c, int phase, size_t r0, size_t rows, size_t c0,
                         size_t cw, T *dXb) {
  const size_t width = phase == LCE_ADD ? c->d : cw;
  size_t trows = SMR_LCE_TASK_ELEMS / width;
  if (trows < 1) trows = 1;
  FN(lce_job) j = {c, r0, rows, c0, cw, trows, phase, dXb};
  smr_parallel_for((rows + trows - 1) / trows, FN(lce_task), &j);
}

/* Forward: every row's (max, sum of exp), label logit and sum of logits. */
/* lce_forward_f32, lce_forward_f64 */
static void FN(lce_forward)(FN(lce_ctx) *c) {
  for (size_t i = 0; i < c->n; i++) {
    c->m[i] = SMR_LSE_M0;
    c->s[i] = SMR_LSE_S0;
    c->zt[i] = NAN; /* an ignored row's label is in no chunk */
    c->zsum[i] = 0.0;
  }
  for (size_t c0 = 0; c0 < c->K; c0 += c->C) {
    const size_t cw = c->K - c0 < c->C ? c->K - c0 : c->C;
    FN(lce_load_chunk)(c, c0, cw, false);
    for (size_t r0 = 0; r0 < c->n; r0 += c->R) {
      const size_t rows = c->n - r0 < c->R ? c->n - r0 : c->R;
      c->kt->linear_forward(c->X + r0 * c->d, c->Wc, c->bc, c->Z, rows, c->d, cw);
      FN(lce_rows)(c, LCE_FWD, r0, rows, c0, cw, NULL);
    }
  }
}

/* Backward: dX, dW, db (those not NULL), chunk by chunk. */
/* lce_backward_f32, lce_backward_f64 */
static void FN(lce_backward)(FN(lce_ctx) *c, T *dX, T *dW, T *db) {
  for (size_t c0 = 0; c0 < c->K; c0 += c->C) {
    const size_t cw = c->K - c0 < c->C ? c->K - c0 : c->C;
    FN(lce_load_chunk)(c, c0, cw, true);
    for (size_t r0 = 0; r0 < c->n; r0 += c->R) {
      const size_t rows = c->n - r0 < c->R ? c->n - r0 : c->R;
      const T *Xb = c->X + r0 * c->d;
      c->kt->linear_forward(Xb, c->Wc, c->bc, c->Z, rows, c->d, cw);
      FN(lce_rows)(c, LCE_GRAD, r0, rows, c0, cw, NULL);
      if (dW != NULL) c->kt->xt_g(Xb, c->Z, c->dWc, rows, c->d, cw, r0 > 0);
      if (db != NULL) c->kt->colsum(c->Z, c->dbc, rows, cw, r0 > 0);
      if (dX != NULL) {
        T *dXb = dX + r0 * c->d;
        if (c0 == 0) {
          c->kt->linear_forward(c->Z, c->WcT, c->zero_d, dXb, rows, cw, c->d);
        } else {
          c->kt->linear_forward(c->Z, c->WcT, c->zero_d, c->tmp, rows, cw, c->d);
          FN(lce_rows)(c, LCE_ADD, r0, rows, c0, cw, dXb);
        }
      }
    }
    if (dW != NULL) {
      if (c->n == 0) memset(c->dWc, 0, c->d * cw * sizeof(T));
      for (size_t j = 0; j < c->d; j++)
        memcpy(dW + j * c->K + c0, c->dWc + j * cw, cw * sizeof(T));
    }
    if (db != NULL) {
      if (c->n == 0) memset(c->dbc, 0, cw * sizeof(T));
      memcpy(db + c0, c->dbc, cw * sizeof(T));
    }
  }
}

/* smr_linear_cross_entropy_f32, smr_linear_cross_entropy_f64 */
SMR_API smr_status FN(smr_linear_cross_entropy)(const T *X, size_t n, size_t d, const T *W,
                                                const T *b, size_t K, const int32_t *labels,
                                                const smr_lce_options *opt, double *loss, T *dX,
                                                T *dW, T *db, T *lse) {
  const smr_lce_options def = smr_lce_options_default();
  const smr_lce_options *o = opt != NULL ? opt : &def;
  size_t count = 0;
  smr_status st = check_call(X, n, d, W, K, labels, o, loss, sizeof(T), &count);
  if (st != SMR_OK) return st;
  FN(lce_ctx) c;
  FN(lce_init)(&c, X, n, d, W, b, K, labels, o->class_chunk);
  c.e = o->label_smoothing;
  c.lam = o->z_loss;
  c.ignore = o->ignore_index;
  const bool grad = dX != NULL || dW != NULL || db != NULL;
  st = FN(lce_alloc)(&c, dX != NULL, dW != NULL, db != NULL);
  if (st != SMR_OK) return st;

  FN(lce_forward)(&c);
  const double scale = o->reduction == SMR_REDUCE_MEAN && count > 0 ? 1.0 / (double)count : 1.0;
  double total = 0.0;
  for (size_t i = 0; i < n; i++) {
    double li;
    const double l = row_loss(c.m[i], c.s[i], c.zt[i], c.zsum[i], K, c.e, c.lam, &li);
    c.lse[i] = li;
    const bool counted = labels[i] != c.ignore;
    c.w[i] = counted ? scale : 0.0;
    if (counted) total += l;
    if (lse != NULL) lse[i] = (T)li;
  }
  *loss = count == 0 ? 0.0 : o->reduction == SMR_REDUCE_MEAN ? total / (double)count : total;
  if (grad) FN(lce_backward)(&c, dX, dW, db);
  FN(lce_free)(&c);
  return SMR_OK;
}

/* smr_linear_topk_f32, smr_linear_topk_f64 */
SMR_API smr_status FN(smr_linear_topk)(const T *X, size_t n, size_t d, const T *W, const T *b,
                                       size_t K, size_t k_top, int32_t *classes, T *probs) {
  if (d == 0 || K == 0 || K > (size_t)INT32_MAX || k_top == 0 || k_top > K) return SMR_EINVAL;
  if (W == NULL || (n > 0 && (X == NULL || classes == NULL))) return SMR_EINVAL;
  if (!smr_array_ok(d, K, sizeof(T)) || !smr_array_ok(n, d, sizeof(T)) ||
      !smr_array_ok(n, k_top, sizeof(double) + sizeof(int32_t)))
    return SMR_EOVERFLOW;
  if (n == 0) return SMR_OK;
  FN(lce_ctx) c;
  FN(lce_init)(&c, X, n, d, W, b, K, NULL, 0);
  smr_status st = FN(lce_alloc)(&c, false, false, false);
  if (st != SMR_OK) return st;
  c.k_top = k_top;
  c.tv = malloc(n * k_top * sizeof *c.tv);
  c.tc = malloc(n * k_top * sizeof *c.tc);
  c.tcnt = calloc(n, sizeof *c.tcnt);
  if (c.tv == NULL || c.tc == NULL || c.tcnt == NULL) {
    free(c.tv), free(c.tc), free(c.tcnt);
    FN(lce_free)(&c);
    return SMR_ENOMEM;
  }
  FN(lce_forward)(&c); /* the lse states and the top lists */
  const double *tv = c.tv;
  const int32_t *tc = c.tc;
  for (size_t i = 0; i < n; i++) {
    const double m = c.m[i], s = c.s[i], lse = smr_lse_value(m, s);
    for (size_t t = 0; t < k_top; t++) {
      const double v = tv[i * k_top + t];
      /* a NaN row (a NaN, or -inf only): no class, NaN probabilities */
      classes[i * k_top + t] = isnan(lse) ? -1 : tc[i * k_top + t];
      if (probs != NULL)
        probs[i * k_top + t] = (T)(isnan(lse)         ? NAN
                                   : m == INFINITY ? (v == INFINITY ? 1.0 / s : 0.0)
                                                   : exp(v - lse));
    }
  }
  free(c.tv), free(c.tc), free(c.tcnt);
  FN(lce_free)(&c);
  return SMR_OK;
}
