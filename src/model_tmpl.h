/* model_tmpl.h - body of model_ops.c for one dtype. Included with
     T    the element type (float, double)
     SFX  the suffix (f32, f64): names the public functions and the kernel
          table member
     DT   the model dtype (SMR_F32, SMR_F64)
   No include guard on purpose. */

#define FN(name) SMR_CAT(name, SFX)

/* Common argument checks of the functions below, in the order the contract
   implies: model and dtype, then (for n > 0) sizes. */
/* model_ok_f32, model_ok_f64 */
static bool FN(model_ok)(const smr_model *m) { return m != NULL && m->dtype == DT; }

/* sizes_ok_f32, sizes_ok_f64 */
static smr_status FN(sizes_ok)(const smr_model *m, size_t n) {
  if (!smr_array_ok(n, m->d, sizeof(T)) || !smr_array_ok(n, m->k, sizeof(T))) return SMR_EOVERFLOW;
  return SMR_OK;
}

/* The workspace of a blocked pass: `zcols` columns of logits/gradients per
   row (0 for none) plus a standardized copy of the rows when the model has
   a standardization. Rows per block: min(n, SMR_ROW_BLOCK). */
typedef struct {
  size_t rows; /* rows per block */
  T *xs;       /* rows x d, or NULL without standardization */
  T *z;        /* rows x zcols, or NULL */
} FN(block_ws);

/* block_ws_init_f32, block_ws_init_f64 */
static smr_status FN(block_ws_init)(FN(block_ws) *ws, const smr_model *m, size_t n, size_t zcols) {
  ws->rows = n < SMR_ROW_BLOCK ? n : SMR_ROW_BLOCK;
  ws->xs = NULL;
  ws->z = NULL;
  if (m->mean != NULL) {
    ws->xs = smr_malloc_n(ws->rows * m->d, sizeof(T));
    if (ws->xs == NULL) return SMR_ENOMEM;
  }
  if (zcols > 0) {
    ws->z = smr_malloc_n(ws->rows * zcols, sizeof(T));
    if (ws->z == NULL) {
      free(ws->xs);
      ws->xs = NULL;
      return SMR_ENOMEM;
    }
  }
  return SMR_OK;
}

/* block_ws_free_f32, block_ws_free_f64 */
static void FN(block_ws_free)(FN(block_ws) *ws) {
  free(ws->xs);
  free(ws->z);
}

/* Rows [r, r + rows) of X as the linear map sees them: X itself, or its
   standardized copy in the workspace. */
/* input_rows_f32, input_rows_f64 */
static const T *FN(input_rows)(const struct smr_kernels *kt, const smr_model *m,
                               const FN(block_ws) *ws, const T *X, size_t r, size_t rows) {
  const T *src = X + r * m->d;
  if (m->mean == NULL) return src;
  kt->SFX.standardize(src, m->mean, m->scale, ws->xs, rows, m->d);
  return ws->xs;
}

/* min_rows_f32, min_rows_f64 */
static size_t FN(min_rows)(size_t a, size_t b) { return a < b ? a : b; }

/* smr_forward_f32, smr_forward_f64 */
smr_status FN(smr_forward)(const smr_model *m, const T *X, size_t n, T *Z, T *P) {
  if (!FN(model_ok)(m) || (Z == NULL && P == NULL)) return SMR_EINVAL;
  if (n == 0) return SMR_OK;
  if (X == NULL) return SMR_EINVAL;
  smr_status st = FN(sizes_ok)(m, n);
  if (st != SMR_OK) return st;

  const struct smr_kernels *kt = smr_kernels_active();
  const size_t d = m->d, k = m->k;
  /* Logits go to Z, or straight into P when only P is wanted. */
  T *out = Z != NULL ? Z : P;
  FN(block_ws) ws;
  st = FN(block_ws_init)(&ws, m, n, 0);
  if (st != SMR_OK) return st;
  /* The same row blocks and kernel calls as predict, so that predict ==
     argmax(predict_proba) holds bit for bit whatever a kernel's row tiling. */
  for (size_t r = 0; r < n; r += ws.rows) {
    size_t rows = FN(min_rows)(ws.rows, n - r);
    const T *xin = FN(input_rows)(kt, m, &ws, X, r, rows);
    kt->SFX.linear_forward(xin, m->W, m->b, out + r * k, rows, d, k);
    if (P != NULL) kt->SFX.softmax(out + r * k, P + r * k, rows, k, NULL);
  }
  FN(block_ws_free)(&ws);
  return SMR_OK;
}

/* smr_predict_proba_f32, smr_predict_proba_f64 */
smr_status FN(smr_predict_proba)(const smr_model *m, const T *X, size_t n, T *P) {
  if (!FN(model_ok)(m)) return SMR_EINVAL;
  if (n == 0) return SMR_OK;
  if (P == NULL) return SMR_EINVAL;
  return FN(smr_forward)(m, X, n, NULL, P);
}

/* Probabilities are computed block by block in a workspace, so the caller
   needs no n x k buffer; argmax of exactly those probabilities makes
   predict == argmax(predict_proba) hold bit for bit. */
/* smr_predict_f32, smr_predict_f64 */
smr_status FN(smr_predict)(const smr_model *m, const T *X, size_t n, int32_t *labels) {
  if (!FN(model_ok)(m)) return SMR_EINVAL;
  if (n == 0) return SMR_OK;
  if (X == NULL || labels == NULL) return SMR_EINVAL;
  smr_status st = FN(sizes_ok)(m, n);
  if (st != SMR_OK) return st;

  const struct smr_kernels *kt = smr_kernels_active();
  const size_t d = m->d, k = m->k;
  FN(block_ws) ws;
  st = FN(block_ws_init)(&ws, m, n, k);
  if (st != SMR_OK) return st;
  for (size_t r = 0; r < n; r += ws.rows) {
    size_t rows = FN(min_rows)(ws.rows, n - r);
    const T *xin = FN(input_rows)(kt, m, &ws, X, r, rows);
    kt->SFX.linear_forward(xin, m->W, m->b, ws.z, rows, d, k);
    kt->SFX.softmax(ws.z, ws.z, rows, k, NULL);
    kt->SFX.argmax_rows(ws.z, rows, k, labels + r);
  }
  FN(block_ws_free)(&ws);
  return SMR_OK;
}

/* smr_loss_f32, smr_loss_f64 */
smr_status FN(smr_loss)(const smr_model *m, const T *X, const int32_t *labels, size_t n,
                        double *loss) {
  if (!FN(model_ok)(m) || loss == NULL) return SMR_EINVAL;
  if (n == 0) {
    *loss = 0.0;
    return SMR_OK;
  }
  if (X == NULL || labels == NULL) return SMR_EINVAL;
  smr_status st = FN(sizes_ok)(m, n);
  if (st != SMR_OK) return st;
  if (!smr_labels_in_range(labels, n, m->k)) return SMR_ERANGE;

  const struct smr_kernels *kt = smr_kernels_active();
  const size_t d = m->d, k = m->k;
  FN(block_ws) ws;
  st = FN(block_ws_init)(&ws, m, n, k);
  if (st != SMR_OK) return st;
  /* sum / n as always while the sum is finite; if it overflows (f64 logits
     near DBL_MAX), the mean of blocks / n, a block whose own sum overflows
     summed as row / n: +inf only when the mean is */
  double sum = 0.0, scaled = 0.0;
  for (size_t r = 0; r < n; r += ws.rows) {
    size_t rows = FN(min_rows)(ws.rows, n - r);
    const T *xin = FN(input_rows)(kt, m, &ws, X, r, rows);
    kt->SFX.linear_forward(xin, m->W, m->b, ws.z, rows, d, k);
    const double part = kt->SFX.ce_logits(ws.z, labels + r, NULL, rows, k, (T)1, NULL, NULL);
    sum += part;
    if (part != INFINITY) {
      scaled += part / (double)n;
    } else {
      for (size_t i = 0; i < rows; i++)
        scaled += kt->SFX.ce_logits(ws.z + i * k, labels + r + i, NULL, 1, k, (T)1, NULL, NULL) / (double)n;
    }
  }
  FN(block_ws_free)(&ws);
  *loss = sum != INFINITY ? sum / (double)n : scaled;
  return SMR_OK;
}

/* dW = X^T G and db = colsum(G) with G = (P - Y) / n, accumulated over row
   blocks (see the seed's derivation: the CE gradient w.r.t. the logits is
   P - Y, the linear map turns it into X^T and a column sum). */
/* smr_backward_f32, smr_backward_f64 */
smr_status FN(smr_backward)(const smr_model *m, const T *X, const T *P, const int32_t *labels,
                            size_t n, T *dW, T *db) {
  if (!FN(model_ok)(m) || dW == NULL || db == NULL) return SMR_EINVAL;
  const size_t d = m->d, k = m->k;
  if (n == 0) {
    memset(dW, 0, d * k * sizeof(T));
    memset(db, 0, k * sizeof(T));
    return SMR_OK;
  }
  if (X == NULL || P == NULL || labels == NULL) return SMR_EINVAL;
  smr_status st = FN(sizes_ok)(m, n);
  if (st != SMR_OK) return st;
  if (!smr_labels_in_range(labels, n, k)) return SMR_ERANGE;

  const struct smr_kernels *kt = smr_kernels_active();
  FN(block_ws) ws;
  st = FN(block_ws_init)(&ws, m, n, k);
  if (st != SMR_OK) return st;
  const T scale = (T)(1.0 / (double)n);
  for (size_t r = 0; r < n; r += ws.rows) {
    size_t rows = FN(min_rows)(ws.rows, n - r);
    /* Bookkeeping only: G rows = (P rows - onehot) * (1/n). */
    const T *p = P + r * k;
    T *g = ws.z;
    for (size_t i = 0; i < rows; i++) {
      size_t y = (size_t)labels[r + i];
      for (size_t j = 0; j < k; j++) g[i * k + j] = (p[i * k + j] - (j == y ? (T)1 : (T)0)) * scale;
    }
    const T *xin = FN(input_rows)(kt, m, &ws, X, r, rows);
    kt->SFX.xt_g(xin, g, dW, rows, d, k, r > 0);
    kt->SFX.colsum(g, db, rows, k, r > 0);
  }
  FN(block_ws_free)(&ws);
  return SMR_OK;
}

#undef FN
