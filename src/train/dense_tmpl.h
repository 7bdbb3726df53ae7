/* dense_tmpl.h - the dense objective for one dtype (dense.c): the fused
   row-block pipeline over a row-major X, as an smr_objective for the
   epoch loop, and smr_fit_<SFX> / smr_objective_<SFX> on top of it.
   Included with
     T    the element type (float, double)
     SFX  the suffix (f32, f64): names the functions and the table member
     DT   the model dtype (SMR_F32, SMR_F64)
   No include guard on purpose. */

#define FN(name) SMR_CAT(name, SFX)
#define KTABLE struct SMR_CAT(smr_kernels, SFX)

/* The dense objective: its smr_objective (first, so that the solvers'
   pointer is this one), the pipeline's workspace and the rows it runs on.
   Training and validation rows are already standardized (when the model
   has or gets a standardization). */
typedef struct {
  smr_objective base;
  const KTABLE *kt;
  const smr_fit_options *o;
  size_t d, k, dk;
  double l2;
  const T *W, *b; /* the parameters (the model's; theta in a fit) */
  T *Z;         /* zrows x k: logits, then gradients in place */
  size_t zrows; /* rows per block: the workspace cap, at most the batch */
  size_t crows; /* rows per task of the row-parallel CE (see ce_block) */
  size_t wave;  /* tasks per parallel job */
  double *wce;  /* wave: each task's CE sum */
  T *wdb;       /* wave x k: each task's column sums of G */
  T *dW, *db;   /* d x k, k: the gradient of the last evaluation */
  bool check_x; /* the next evaluation checks its rows of X (see objective_grad) */
  /* the rows (set by the fit): training X (nt x d), labels, weights (NULL:
     all 1); held-out rows; batches of bs rows, gathered through perm
     (reshuffled each epoch from rng) into Xb, yb, wb when gather is set */
  const T *Xt, *wt;
  const int32_t *yt;
  size_t nt;
  const T *Xv;
  const int32_t *yv;
  size_t nv;
  size_t bs;
  bool gather;
  size_t *perm;
  smr_rng *rng;
  T *Xb, *wb;
  int32_t *yb;
} FN(fit_ctx);

/* fit_min_f32, fit_min_f64 */
static size_t FN(fit_min)(size_t a, size_t b) { return a < b ? a : b; }

/* A context for batches of at most bs rows: the workspace holds a row block
   of at most o->workspace_bytes (at least one row). Buffers start NULL. */
/* ctx_make_f32, ctx_make_f64 */
static FN(fit_ctx) FN(ctx_make)(const KTABLE *kt, const smr_model *m,
                                const smr_fit_options *o, size_t bs) {
  FN(fit_ctx) c;
  memset(&c, 0, sizeof c);
  c.kt = kt;
  c.W = m->W;
  c.b = m->b;
  c.o = o;
  c.d = m->d;
  c.k = m->k;
  c.dk = m->d * m->k;
  c.l2 = o->l2;
  const size_t cap_rows = o->workspace_bytes / (c.k * sizeof(T));
  c.crows = (SMR_FIT_TASK_ELEMS + c.k - 1) / c.k;
  /* a block of about SMR_FIT_BLOCK_BYTES stays in L2 (one thread) or L3 between
     the GEMM that writes it, the CE pass and the GEMM that reads it, and
     its pages are touched once per fit; at least SMR_FIT_BLOCK_MIN_ROWS rows keep
     the dW update of each block (a pass over d x k) small next to its
     GEMM; whole CE tasks, so the loss and db do not depend on the block
     (nor does the rest with smr's own products: see ce_block) */
  size_t rows = SMR_FIT_BLOCK_BYTES / (c.k * sizeof(T));
  if (rows < SMR_FIT_BLOCK_MIN_ROWS) rows = SMR_FIT_BLOCK_MIN_ROWS;
  rows = (rows + c.crows - 1) / c.crows * c.crows;
  /* the cap (at least one row) in whole CE tasks too, where it holds one */
  size_t cap = cap_rows > 0 ? cap_rows : 1;
  if (cap >= c.crows) cap = cap / c.crows * c.crows;
  c.zrows = FN(fit_min)(bs, FN(fit_min)(rows, cap));
  /* the wave only groups tasks into jobs (never changes a result): at
     least two tasks per thread, at most SMR_FIT_WAVE_ELEMS column sums */
  const size_t threads = smr_threads_count();
  c.wave = FN(fit_min)(SMR_FIT_WAVE_MAX, SMR_FIT_WAVE_ELEMS / c.k);
  if (c.wave < 2 * threads) c.wave = 2 * threads;
  return c;
}

/* The workspace Z and the per-task sums; false: out of memory (free with
   ctx_free_buffers either way). */
/* ctx_buffers_f32, ctx_buffers_f64 */
static bool FN(ctx_buffers)(FN(fit_ctx) *c) {
  c->Z = smr_malloc_n(c->zrows * c->k, sizeof(T));
  c->wce = smr_malloc_n(c->wave, sizeof(double));
  c->wdb = smr_malloc_n(c->wave * c->k, sizeof(T));
  return c->Z != NULL && c->wce != NULL && c->wdb != NULL;
}

/* ctx_free_buffers_f32, ctx_free_buffers_f64 */
static void FN(ctx_free_buffers)(FN(fit_ctx) *c) {
  free(c->Z);
  free(c->wce);
  free(c->wdb);
}

/* One wave of CE tasks over a row block of Z. */
typedef struct {
  const FN(fit_ctx) *c;
  T *Z;               /* the block */
  const int32_t *y;
  const T *w;         /* NULL: unweighted */
  size_t rows;        /* of the block */
  size_t first;       /* task number (in the block) of the wave's first */
  T scale;
  bool grad;
} FN(ce_wave);

/* ce_task_f32, ce_task_f64 */
static void FN(ce_task)(void *arg, size_t t) {
  const FN(ce_wave) *j = arg;
  const FN(fit_ctx) *c = j->c;
  const size_t r0 = (j->first + t) * c->crows;
  const size_t rows = FN(fit_min)(c->crows, j->rows - r0);
  T *z = j->Z + r0 * c->k;
  c->wce[t] = c->kt->ce_logits(z, j->y + r0, j->w != NULL ? j->w + r0 : NULL, rows, c->k,
                               j->scale, j->grad ? z : NULL, NULL);
  if (j->grad) c->kt->colsum(z, c->wdb + t * c->k, rows, c->k, false);
}

/* The row-parallel part of the pipeline on a block of `rows` logits in Z:
   adds w_i CE_i of the block's rows to *ce, and with grad, Z <- G = w
   (softmax - Y) * scale in place and db (+)= the column sums of G (db =
   when !accumulate). The block is cut into tasks of crows rows (a function
   of k alone); each task's CE sum and column sums are added to the running
   *ce and db in task order. Blocks are whole tasks (ctx_make), so the
   result is the same for any block size and any thread count, on one
   thread too. */
/* ce_block_f32, ce_block_f64 */
static void FN(ce_block)(const FN(fit_ctx) *c, const int32_t *y, const T *w, size_t rows, T scale,
                         bool grad, bool accumulate, double *ce) {
  const size_t ntasks = (rows + c->crows - 1) / c->crows;
  FN(ce_wave) j = {c, c->Z, y, w, rows, 0, scale, grad};
  double s = *ce;
  for (; j.first < ntasks; j.first += c->wave) {
    const size_t nt = FN(fit_min)(c->wave, ntasks - j.first);
    smr_parallel_for(nt, FN(ce_task), &j);
    for (size_t t = 0; t < nt; t++) {
      s += c->wce[t];
      if (!grad) continue;
      if (!accumulate && j.first + t == 0)
        memcpy(c->db, c->wdb, c->k * sizeof(T));
      else
        c->kt->axpy(c->k, (T)1, c->wdb + t * c->k, c->db);
    }
  }
  *ce = s;
}

/* (l2/2) ||W||^2, the penalty of the objective (bias unpenalized). */
/* l2_term_f32, l2_term_f64 */
static double FN(l2_term)(const FN(fit_ctx) *c) {
  return c->l2 > 0.0 ? 0.5 * c->l2 * c->kt->sumsq(c->W, c->dk) : 0.0;
}

/* sum_i w_i CE_i of the current parameters on n rows (w NULL: all 1), in
   blocks of zrows. */
/* ce_sum_f32, ce_sum_f64 */
static double FN(ce_sum)(const FN(fit_ctx) *c, const T *X, const int32_t *y, const T *w,
                         size_t n) {
  double s = 0.0;
  for (size_t r = 0; r < n; r += c->zrows) {
    size_t rows = FN(fit_min)(c->zrows, n - r);
    c->kt->linear_forward(X + r * c->d, c->W, c->b, c->Z, rows, c->d, c->k);
    FN(ce_block)(c, y + r, w != NULL ? w + r : NULL, rows, (T)1, false, false, &s);
  }
  return s;
}

/* The objective on nb rows at the current parameters, and its gradient
   into dW, db. The fused pipeline, one row block of the workspace at a
   time: Z = X W + b (GEMM), Z <- G = w (softmax(Z) - Y) / nb in place with
   the CE sum and db (+)= column sums of G on the way (ce_block, row-
   parallel), dW (+)= X^T G (GEMM); then dW += l2 W. No other n x k buffer;
   the column sums read each task's rows while they are in cache.
   With check_x set, the evaluation first proves its rows of X finite
   without reading them again when it can: a NaN or an infinity x_ij makes
   every logit of row i NaN or infinite (x_ij w_jc is, for any finite w_jc,
   and the products compute every term), so a block whose logits are all
   finite has finite rows, and X is read only behind a block that is not
   (finite rows can overflow). A bad row sets base.data_bad and ends the evaluation
   (NaN), before any parameter has changed. */
/* objective_grad_f32, objective_grad_f64 */
static double FN(objective_grad)(FN(fit_ctx) *c, const T *X, const int32_t *y, const T *w,
                                 size_t nb) {
  const KTABLE *kt = c->kt;
  const T *W = c->W, *b = c->b;
  const T scale = (T)(1.0 / (double)nb);
  double ce = 0.0;
  for (size_t r = 0; r < nb; r += c->zrows) {
    const size_t rows = FN(fit_min)(c->zrows, nb - r);
    const T *xr = X + r * c->d;
    kt->linear_forward(xr, W, b, c->Z, rows, c->d, c->k);
    if (c->check_x && !kt->all_finite(c->Z, rows * c->k) && !kt->all_finite(xr, rows * c->d)) {
      c->base.data_bad = true;
      return (double)NAN;
    }
    FN(ce_block)(c, y + r, w != NULL ? w + r : NULL, rows, scale, true, r > 0, &ce);
    kt->xt_g(xr, c->Z, c->dW, rows, c->d, c->k, r > 0);
  }
  if (c->l2 > 0.0) kt->axpy(c->dk, (T)c->l2, W, c->dW);
  c->check_x = false;
  c->base.evaluations++;
  return ce / (double)nb + FN(l2_term)(c);
}

/* Population mean and standard deviation per feature of the nt training
   rows Xt (through the table), turned into a standardization: scale 1 where
   the deviation is 0 or not finite. False when a mean is not finite. */
/* feature_stats_f32, feature_stats_f64 */
static bool FN(feature_stats)(const KTABLE *kt, const T *Xt, size_t nt, size_t d, double *mean,
                              double *scale) {
  kt->col_mean_std(Xt, nt, d, mean, scale);
  bool ok = true;
  for (size_t j = 0; j < d; j++) {
    if (!(isfinite(scale[j]) && scale[j] > 0.0)) scale[j] = 1.0;
    if (!isfinite(mean[j])) ok = false;
  }
  return ok;
}

/* Splits X into training rows (Xt, yt) and held-out rows (Xv, yv) by mask,
   keeping the original order. */
/* split_rows_f32, split_rows_f64 */
static void FN(split_rows)(const T *X, const int32_t *y, size_t n, size_t d,
                           const unsigned char *mask, T *Xt, int32_t *yt, T *Xv, int32_t *yv) {
  size_t it = 0, iv = 0;
  for (size_t i = 0; i < n; i++) {
    if (mask[i]) {
      memcpy(Xv + iv * d, X + i * d, d * sizeof(T));
      yv[iv++] = y[i];
    } else {
      memcpy(Xt + it * d, X + i * d, d * sizeof(T));
      yt[it++] = y[i];
    }
  }
}

/* Copies rows perm[0..rows) of (X, y, w) into the batch buffers (w and wb
   NULL without weights). */
/* gather_rows_f32, gather_rows_f64 */
static void FN(gather_rows)(const T *X, const int32_t *y, const T *w, size_t d,
                            const size_t *perm, size_t rows, T *Xb, int32_t *yb, T *wb) {
  for (size_t i = 0; i < rows; i++) {
    memcpy(Xb + i * d, X + perm[i] * d, d * sizeof(T));
    yb[i] = y[perm[i]];
    if (w != NULL) wb[i] = w[perm[i]];
  }
}

/* The weight of each training row (nt rows, labels yt): the sample weight
   (sw: of the rows given to fit, mask marking the held-out ones, or NULL)
   times the class weight of its label. False when the weights sum to 0. */
/* row_weights_f32, row_weights_f64 */
static bool FN(row_weights)(const smr_fit_options *o, const double *sw, const unsigned char *mask,
                            size_t n, const int32_t *yt, size_t nt, size_t k, size_t *count,
                            T *wt) {
  size_t it = 0;
  for (size_t i = 0; i < n; i++)
    if (mask == NULL || !mask[i]) wt[it++] = (T)(sw != NULL ? sw[i] : 1.0);
  if (o->class_weight != SMR_CLASS_WEIGHT_NONE) {
    for (size_t j = 0; j < k; j++) count[j] = 0;
    for (size_t i = 0; i < nt; i++) count[yt[i]]++;
    size_t present = 0;
    for (size_t j = 0; j < k; j++) present += count[j] > 0;
    for (size_t i = 0; i < nt; i++) {
      const size_t c = (size_t)yt[i];
      const double cw = o->class_weight == SMR_CLASS_WEIGHT_GIVEN
                            ? o->class_weights[c]
                            : (double)nt / ((double)present * (double)count[c]);
      wt[i] = (T)((double)wt[i] * cw);
    }
  }
  /* the weights are >= 0: they sum to more than 0 when one of them does
     (a loop without a float-to-double reduction: gcc 12 for AArch64 fails
     to vectorize that one, an internal compiler error) */
  for (size_t i = 0; i < nt; i++)
    if (wt[i] > (T)0) return true;
  return false;
}

/* ---- the smr_objective methods (objective.h) ---- */

/* dense_evaluate_f32, dense_evaluate_f64 */
static double FN(dense_evaluate)(smr_objective *obj, size_t batch) {
  FN(fit_ctx) *c = (FN(fit_ctx) *)obj;
  if (batch == SMR_BATCH_ALL) return FN(objective_grad)(c, c->Xt, c->yt, c->wt, c->nt);
  const size_t r = batch * c->bs, rows = FN(fit_min)(c->bs, c->nt - r);
  const T *xb = c->Xt + r * c->d, *wbp = c->wt != NULL ? c->wt + r : NULL;
  const int32_t *ybp = c->yt + r;
  if (c->gather) {
    FN(gather_rows)(c->Xt, c->yt, c->wt, c->d, c->perm + r, rows, c->Xb, c->yb, c->wb);
    xb = c->Xb;
    ybp = c->yb;
    wbp = c->wb;
  }
  return FN(objective_grad)(c, xb, ybp, wbp, rows);
}

/* dense_shuffle_f32, dense_shuffle_f64 */
static void FN(dense_shuffle)(smr_objective *obj) {
  FN(fit_ctx) *c = (FN(fit_ctx) *)obj;
  smr_train_shuffle(c->rng, c->perm, c->nt);
}

/* dense_holdout_f32, dense_holdout_f64 */
static double FN(dense_holdout)(smr_objective *obj) {
  FN(fit_ctx) *c = (FN(fit_ctx) *)obj;
  return FN(ce_sum)(c, c->Xv, c->yv, NULL, c->nv) / (double)c->nv;
}

/* The rows' side of a fit: every buffer it needs besides the objective's
   workspace, all allocated before anything changes. */
typedef struct {
  T *Xt_own, *Xv, *Xb, *wt, *wb, *grad;
  int32_t *yt_own, *yv, *yb;
  size_t *perm, *count;
  unsigned char *mask;
  double *mean, *scale;
} FN(fit_bufs);

/* bufs_free_f32, bufs_free_f64 */
static void FN(bufs_free)(FN(fit_bufs) *B) {
  free(B->Xt_own);
  free(B->Xv);
  free(B->Xb);
  free(B->wt);
  free(B->wb);
  free(B->grad);
  free(B->yt_own);
  free(B->yv);
  free(B->yb);
  free(B->perm);
  free(B->count);
  free(B->mask);
  free(B->mean);
  free(B->scale);
}

/* The buffers for n rows of which nv are held out, batches of bs of the nt
   training rows; false: out of memory (free with bufs_free either way). */
/* bufs_alloc_f32, bufs_alloc_f64 */
static bool FN(bufs_alloc)(FN(fit_bufs) *B, const smr_fit_options *o, const smr_model *m,
                           size_t n, size_t nv, size_t bs, bool gather) {
  const size_t d = m->d, k = m->k, nt = n - nv;
  const bool weighted = o->sample_weight != NULL || o->class_weight != SMR_CLASS_WEIGHT_NONE;
  memset(B, 0, sizeof *B);
  if (o->standardize) {
    B->mean = smr_malloc_n(d, sizeof *B->mean);
    B->scale = smr_malloc_n(d, sizeof *B->scale);
    if (B->mean == NULL || B->scale == NULL) return false;
  }
  if ((nv > 0 || o->standardize || m->mean != NULL) &&
      (B->Xt_own = smr_malloc_n(nt * d, sizeof(T))) == NULL)
    return false;
  if (nv > 0) {
    B->Xv = smr_malloc_n(nv * d, sizeof(T));
    B->yv = smr_malloc_n(nv, sizeof *B->yv);
    B->yt_own = smr_malloc_n(nt, sizeof *B->yt_own);
    B->mask = smr_malloc_n(n, 1);
    if (B->Xv == NULL || B->yv == NULL || B->yt_own == NULL || B->mask == NULL) return false;
  }
  if (weighted) {
    B->wt = smr_malloc_n(nt, sizeof(T));
    B->count = smr_malloc_n(k, sizeof *B->count);
    if (B->wt == NULL || B->count == NULL) return false;
  }
  if (gather) {
    B->Xb = smr_malloc_n(bs * d, sizeof(T));
    B->yb = smr_malloc_n(bs, sizeof *B->yb);
    if (B->Xb == NULL || B->yb == NULL) return false;
    if (weighted && (B->wb = smr_malloc_n(bs, sizeof(T))) == NULL) return false;
  }
  if ((nv > 0 || gather) && (B->perm = smr_malloc_n(n, sizeof *B->perm)) == NULL) return false;
  return (B->grad = smr_malloc_n(m->d * k + k, sizeof(T))) != NULL;
}

/* The training and held-out rows of (X, labels) into c, standardized with
   the statistics of the training rows (o->standardize: into B->mean,
   B->scale) or the model's; the weights. SMR_EINVAL when the training
   rows weigh nothing, SMR_ENONFINITE when a mean is not finite. */
/* prepare_rows_f32, prepare_rows_f64 */
static smr_status FN(prepare_rows)(FN(fit_ctx) *c, FN(fit_bufs) *B, const smr_model *m,
                                   const T *X, const int32_t *labels, size_t n, size_t nv,
                                   smr_rng *rng) {
  const smr_fit_options *o = c->o;
  const KTABLE *kt = c->kt;
  const size_t d = m->d, nt = n - nv;
  if (nv > 0) smr_train_choose_validation(rng, n, nv, B->perm, B->mask);
  const double *use_mean = m->mean, *use_scale = m->scale;
  c->Xt = X;
  c->yt = labels;
  if (nv > 0) {
    /* raw training rows first: the statistics come from them only */
    FN(split_rows)(X, labels, n, d, B->mask, B->Xt_own, B->yt_own, B->Xv, B->yv);
    c->yt = B->yt_own;
  }
  if (B->wt != NULL &&
      !FN(row_weights)(o, o->sample_weight, B->mask, n, c->yt, nt, m->k, B->count, B->wt))
    return SMR_EINVAL; /* the training rows weigh nothing */
  if (o->standardize) {
    if (!FN(feature_stats)(kt, nv > 0 ? B->Xt_own : X, nt, d, B->mean, B->scale))
      return SMR_ENONFINITE;
    use_mean = B->mean;
    use_scale = B->scale;
  }
  if (nv > 0) {
    if (use_mean != NULL) {
      kt->standardize(B->Xt_own, use_mean, use_scale, B->Xt_own, nt, d);
      kt->standardize(B->Xv, use_mean, use_scale, B->Xv, nv, d);
    }
  } else if (B->Xt_own != NULL) {
    kt->standardize(X, use_mean, use_scale, B->Xt_own, nt, d);
  }
  if (B->Xt_own != NULL) c->Xt = B->Xt_own;
  c->wt = B->wt;
  c->nt = nt;
  c->Xv = B->Xv;
  c->yv = B->yv;
  c->nv = nv;
  return SMR_OK;
}

/* c as the objective of a fit of m over its prepared rows (theta: the
   model's W then b). */
/* objective_init_f32, objective_init_f64 */
static void FN(objective_init)(FN(fit_ctx) *c, FN(fit_bufs) *B, smr_model *m,
                               const struct smr_kernels *tables, size_t bs, bool gather,
                               smr_rng *rng) {
  const size_t dk = m->d * m->k;
  c->dW = B->grad;
  c->db = B->grad + dk;
  c->bs = bs;
  c->gather = gather;
  c->perm = B->perm;
  c->rng = rng;
  c->Xb = B->Xb;
  c->yb = B->yb;
  c->wb = B->wb;
  c->base.dtype = DT;
  c->base.nparams = dk + m->k;
  c->base.nbatches = (c->nt + bs - 1) / bs;
  c->base.theta = m->W; /* b follows W (model.c) */
  c->base.grad = B->grad;
  c->base.tables = tables;
  c->base.evaluate = FN(dense_evaluate);
  c->base.shuffle = gather ? FN(dense_shuffle) : NULL;
  c->base.holdout_loss = c->nv > 0 ? FN(dense_holdout) : NULL;
  c->base.allreduce = NULL;
}

/* smr_fit_f32, smr_fit_f64: the dense objective over the rows given, run
   by the epoch loop (loop.c). */
smr_status FN(smr_fit)(smr_model *m, const T *X, const int32_t *labels, size_t n,
                       const smr_fit_options *opt, smr_fit_report *report) {
  smr_train_report_empty(report);
  if (m == NULL || m->dtype != DT || n == 0 || X == NULL || labels == NULL) return SMR_EINVAL;
  smr_fit_options o = opt != NULL ? *opt : smr_fit_options_default();
  if (!smr_train_options_valid(&o, m->learning_rate, n, m->k)) return SMR_EINVAL;
  size_t nd, nk;
  if (!smr_mul_ok(n, m->d, &nd) || !smr_mul_ok(n, m->k, &nk) ||
      !smr_array_ok(n, m->d, sizeof(T)))
    return SMR_EOVERFLOW;
  const size_t nv = smr_train_validation_rows(o.validation_fraction, n);
  if (o.validation_fraction > 0.0 && (nv < 1 || nv >= n)) return SMR_EINVAL;
  if (!smr_labels_in_range(labels, n, m->k)) return SMR_ERANGE;

  const struct smr_kernels *tables = smr_kernels_active(); /* one load per fit */
  const size_t nt = n - nv;
  const size_t bs = (o.batch_size == 0 || o.batch_size >= nt) ? nt : o.batch_size;
  /* NaN/inf features would make every objective non-finite: report them
     with the model untouched. A full batch without held-out rows lets the
     first evaluation check them (objective_grad), which saves a read of X
     (about a fifth of a one-epoch fit at 60000 x 784 x 10); minibatches
     update before their last rows are seen, so read X now. */
  const bool lazy_check = bs == nt && nv == 0;
  if (!lazy_check && !tables->SFX.all_finite(X, nd)) return SMR_ENONFINITE;
  if (o.solver == SMR_SOLVER_AUTO) o.solver = bs == nt ? SMR_SOLVER_LBFGS : SMR_SOLVER_GD;
  if (o.solver == SMR_SOLVER_LBFGS && bs < nt) return SMR_EINVAL; /* L-BFGS is full batch */
  const bool gather = bs < nt && o.shuffle;

  FN(fit_bufs) B;
  FN(fit_ctx) c = FN(ctx_make)(&tables->SFX, m, &o, bs);
  c.check_x = lazy_check;
  smr_train_run run;
  memset(&run, 0, sizeof run);
  smr_status st = SMR_ENOMEM;
  smr_rng rng;
  smr_rng_seed(&rng, o.shuffle_seed);
  /* the rows' side allocates before anything changes (the loop does the
     same for its own) */
  if (!FN(bufs_alloc)(&B, &o, m, n, nv, bs, gather) || !FN(ctx_buffers)(&c)) goto out;
  st = FN(prepare_rows)(&c, &B, m, X, labels, n, nv, &rng);
  if (st != SMR_OK) goto out;
  FN(objective_init)(&c, &B, m, tables, bs, gather, &rng);
  st = smr_train_epochs(&c.base, &o, m->learning_rate, &run);
  if (!run.started || c.base.data_bad) goto out; /* nothing to publish */

  /* publish: the standardization (once a step used it), history, report */
  if (o.standardize && (run.steps_done > 0 || (o.solver == SMR_SOLVER_LBFGS && st == SMR_OK))) {
    smr_model_adopt_standardization(m, B.mean, B.scale);
    B.mean = B.scale = NULL;
  }
  smr_model_adopt_history(m, run.history, run.epochs_run);
  run.history = NULL;
  if (report != NULL) {
    smr_train_report(&c.base, &o, &run, report);
    report->loss_history = m->history;
    report->history_len = run.epochs_run;
  }
out:
  free(run.history);
  FN(bufs_free)(&B);
  FN(ctx_free_buffers)(&c);
  return st;
}

/* smr_objective_f32, smr_objective_f64 */
smr_status FN(smr_objective)(const smr_model *m, const T *X, const int32_t *labels, size_t n,
                             const smr_fit_options *opt, double *obj, T *dW, T *db) {
  if (m == NULL || m->dtype != DT || n == 0 || X == NULL || labels == NULL || obj == NULL ||
      (dW == NULL) != (db == NULL))
    return SMR_EINVAL;
  const smr_fit_options o = opt != NULL ? *opt : smr_fit_options_default();
  if (!smr_train_options_valid(&o, m->learning_rate, n, m->k)) return SMR_EINVAL;
  const size_t d = m->d, k = m->k, dk = d * k;
  size_t nd, nk;
  if (!smr_mul_ok(n, d, &nd) || !smr_mul_ok(n, k, &nk) || !smr_array_ok(n, d, sizeof(T)))
    return SMR_EOVERFLOW;
  if (!smr_labels_in_range(labels, n, k)) return SMR_ERANGE;
  const bool weighted = o.sample_weight != NULL || o.class_weight != SMR_CLASS_WEIGHT_NONE;
  /* objective_grad only reads the model's parameters */
  FN(fit_ctx) c = FN(ctx_make)(&smr_kernels_active()->SFX, m, &o, n);
  smr_status st = SMR_ENOMEM;
  T *Xs = NULL, *w = NULL;
  size_t *count = NULL;
  c.dW = dW != NULL ? dW : smr_malloc_n(dk, sizeof(T));
  c.db = db != NULL ? db : smr_malloc_n(k, sizeof(T));
  if (!FN(ctx_buffers)(&c) || c.dW == NULL || c.db == NULL) goto out;
  if (m->mean != NULL) {
    if ((Xs = smr_malloc_n(nd, sizeof(T))) == NULL) goto out;
    c.kt->standardize(X, m->mean, m->scale, Xs, n, d);
  }
  if (weighted) {
    w = smr_malloc_n(n, sizeof(T));
    count = smr_malloc_n(k, sizeof *count);
    if (w == NULL || count == NULL) goto out;
    if (!FN(row_weights)(&o, o.sample_weight, NULL, n, labels, n, k, count, w)) {
      st = SMR_EINVAL;
      goto out;
    }
  }
  *obj = FN(objective_grad)(&c, Xs != NULL ? Xs : X, labels, w, n);
  st = SMR_OK;
out:
  FN(ctx_free_buffers)(&c);
  if (dW == NULL) free(c.dW);
  if (db == NULL) free(c.db);
  free(Xs);
  free(w);
  free(count);
  return st;
}

#undef KTABLE
#undef FN
