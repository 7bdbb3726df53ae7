/* train_tmpl.h - body of train.c for one dtype. Included with
     T    the element type (float, double)
     SFX  the suffix (f32, f64): names smr_fit_<SFX> and the table member
     DT   the model dtype (SMR_F32, SMR_F64)
   No include guard on purpose. */

#define FN(name) SMR_CAT(name, SFX)
#define KTABLE struct SMR_CAT(smr_kernels, SFX)

/* What one fit works on. Training and validation rows are already
   standardized (when the model has or gets a standardization). */
typedef struct {
  const KTABLE *kt;
  smr_model *m;
  size_t d, k, dk;
  double l2;
  T *Z;         /* zrows x k: logits, then gradients in place */
  size_t zrows; /* the batch size */
  T *dW, *db;   /* d x k, k */
  smr_param_snapshot bak; /* the parameters before the current step */
} FN(fit_ctx);

static size_t FN(fit_min)(size_t a, size_t b) { return a < b ? a : b; }

/* (l2/2) ||W||^2, the penalty of the objective (bias unpenalized). */
static double FN(l2_term)(const FN(fit_ctx) *c) {
  return c->l2 > 0.0 ? 0.5 * c->l2 * c->kt->sumsq(c->m->W, c->dk) : 0.0;
}

/* sum_i CE_i of the current parameters on n rows, in blocks of zrows. */
static double FN(ce_sum)(const FN(fit_ctx) *c, const T *X, const int32_t *y, size_t n) {
  double s = 0.0;
  for (size_t r = 0; r < n; r += c->zrows) {
    size_t rows = FN(fit_min)(c->zrows, n - r);
    c->kt->linear_forward(X + r * c->d, c->m->W, c->m->b, c->Z, rows, c->d, c->k);
    s += c->kt->ce_logits(c->Z, y + r, NULL, rows, c->k, (T)1, NULL);
  }
  return s;
}

/* One gradient step on nb rows. *obj = the batch objective at the
   parameters the step started from. SMR_ENONFINITE when that objective or
   the updated parameters are not finite; the parameters are then those
   before the step. */
static smr_status FN(fit_step)(FN(fit_ctx) *c, const T *X, const int32_t *y, size_t nb, double lr,
                               double *obj) {
  const KTABLE *kt = c->kt;
  T *W = c->m->W, *b = c->m->b;
  kt->linear_forward(X, W, b, c->Z, nb, c->d, c->k);
  /* Fused: the CE sum and, in place, G = (softmax(Z) - Y) / nb. */
  double ce = kt->ce_logits(c->Z, y, NULL, nb, c->k, (T)(1.0 / (double)nb), c->Z);
  *obj = ce / (double)nb + FN(l2_term)(c);
  if (!isfinite(*obj)) return SMR_ENONFINITE;

  kt->xt_g(X, c->Z, c->dW, nb, c->d, c->k, false);
  kt->colsum(c->Z, c->db, nb, c->k, false);
  if (c->l2 > 0.0) kt->axpy(c->dk, (T)c->l2, W, c->dW);

  smr_snapshot_take(c->m, &c->bak);
  kt->axpy(c->dk, (T)-lr, c->dW, W);
  kt->axpy(c->k, (T)-lr, c->db, b);
  if (!kt->all_finite(W, c->dk) || !kt->all_finite(b, c->k)) {
    smr_snapshot_restore(c->m, &c->bak);
    return SMR_ENONFINITE;
  }
  return SMR_OK;
}

/* Population mean and standard deviation per feature of the nt training
   rows Xt (through the table), turned into a standardization: scale 1 where
   the deviation is 0 or not finite. False when a mean is not finite. */
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

/* Copies rows perm[0..rows) of (X, y) into the batch buffers. */
static void FN(gather_rows)(const T *X, const int32_t *y, size_t d, const size_t *perm,
                            size_t rows, T *Xb, int32_t *yb) {
  for (size_t i = 0; i < rows; i++) {
    memcpy(Xb + i * d, X + perm[i] * d, d * sizeof(T));
    yb[i] = y[perm[i]];
  }
}

smr_status FN(smr_fit)(smr_model *m, const T *X, const int32_t *labels, size_t n,
                       const smr_fit_options *opt, smr_fit_report *report) {
  report_empty(report);
  if (m == NULL || m->dtype != DT || n == 0 || X == NULL || labels == NULL) return SMR_EINVAL;
  const smr_fit_options o = opt != NULL ? *opt : smr_fit_options_default();
  if (!options_valid(&o, m->learning_rate)) return SMR_EINVAL;
  const size_t d = m->d, k = m->k, dk = d * k;
  size_t nd, nk;
  if (!smr_mul_ok(n, d, &nd) || !smr_mul_ok(n, k, &nk)) return SMR_EOVERFLOW;
  const size_t nv = validation_rows(o.validation_fraction, n);
  if (o.validation_fraction > 0.0 && (nv < 1 || nv >= n)) return SMR_EINVAL;
  if (!smr_labels_in_range(labels, n, k)) return SMR_ERANGE;

  const KTABLE *kt = &smr_kernels_active()->SFX;
  /* NaN/inf features would make every objective non-finite: report the
     divergence now, with the model untouched. */
  if (!kt->all_finite(X, nd)) return SMR_ENONFINITE;

  const size_t nt = n - nv;
  const size_t bs = (o.batch_size == 0 || o.batch_size >= nt) ? nt : o.batch_size;
  const bool gather = bs < nt && o.shuffle;
  const bool copy_train = nv > 0 || o.standardize || m->mean != NULL;

  smr_status st = SMR_ENOMEM;
  T *Xt_own = NULL, *Xv = NULL, *Xb = NULL;
  int32_t *yt_own = NULL, *yv = NULL, *yb = NULL;
  size_t *perm = NULL;
  unsigned char *mask = NULL;
  double *mean = NULL, *scale = NULL, *hist = NULL;
  size_t hcap = 0;
  FN(fit_ctx) c = {kt, m, d, k, dk, o.l2, NULL, bs, NULL, NULL, {NULL, NULL}};
  smr_param_snapshot ep = {NULL, NULL}, best = {NULL, NULL};

  /* ---- every allocation of the fit, before anything changes ---- */
  if (o.standardize) {
    mean = smr_malloc_n(d, sizeof *mean);
    scale = smr_malloc_n(d, sizeof *scale);
    if (mean == NULL || scale == NULL) goto out;
  }
  if (copy_train && (Xt_own = smr_malloc_n(nt * d, sizeof(T))) == NULL) goto out;
  if (nv > 0) {
    Xv = smr_malloc_n(nv * d, sizeof(T));
    yv = smr_malloc_n(nv, sizeof *yv);
    yt_own = smr_malloc_n(nt, sizeof *yt_own);
    mask = smr_malloc_n(n, 1);
    if (Xv == NULL || yv == NULL || yt_own == NULL || mask == NULL) goto out;
  }
  if (gather) {
    Xb = smr_malloc_n(bs * d, sizeof(T));
    yb = smr_malloc_n(bs, sizeof *yb);
    if (Xb == NULL || yb == NULL) goto out;
  }
  if ((nv > 0 || gather) && (perm = smr_malloc_n(n, sizeof *perm)) == NULL) goto out;
  c.Z = smr_malloc_n(bs * k, sizeof(T));
  c.dW = smr_malloc_n(dk, sizeof(T));
  c.db = smr_malloc_n(k, sizeof(T));
  if (c.Z == NULL || c.dW == NULL || c.db == NULL) goto out;
  if (smr_snapshot_alloc(m, &c.bak) != SMR_OK) goto out;
  if (o.early_stopping &&
      (smr_snapshot_alloc(m, &ep) != SMR_OK || smr_snapshot_alloc(m, &best) != SMR_OK))
    goto out;
  if (!history_reserve(&hist, &hcap, FN(fit_min)(o.epochs, 1024))) goto out;

  /* ---- the training (and validation) rows, standardized ---- */
  smr_rng rng;
  smr_rng_seed(&rng, o.shuffle_seed);
  if (nv > 0) choose_validation(&rng, n, nv, perm, mask);
  const double *use_mean = m->mean, *use_scale = m->scale;
  const T *Xt = X;
  const int32_t *yt = labels;
  if (nv > 0) {
    /* raw training rows first: the statistics come from them only */
    FN(split_rows)(X, labels, n, d, mask, Xt_own, yt_own, Xv, yv);
    yt = yt_own;
  }
  if (o.standardize) {
    if (!FN(feature_stats)(kt, nv > 0 ? Xt_own : X, nt, d, mean, scale)) {
      st = SMR_ENONFINITE;
      goto out;
    }
    use_mean = mean;
    use_scale = scale;
  }
  if (nv > 0) {
    if (use_mean != NULL) {
      kt->standardize(Xt_own, use_mean, use_scale, Xt_own, nt, d);
      kt->standardize(Xv, use_mean, use_scale, Xv, nv, d);
    }
  } else if (copy_train) {
    kt->standardize(X, use_mean, use_scale, Xt_own, nt, d);
  }
  if (copy_train) Xt = Xt_own;

  /* ---- epochs ---- */
  size_t epochs_run = 0, steps_done = 0, wait = 0;
  bool stopped = false, have_best = false;
  double best_v = INFINITY;
  const size_t every = o.epochs / 10 > 0 ? o.epochs / 10 : 1;
  st = SMR_OK;
  for (size_t e = 0; e < o.epochs; e++) {
    if (!history_reserve(&hist, &hcap, e + 1)) {
      st = SMR_ENOMEM;
      break;
    }
    const double lr = schedule_rate(&o, m->learning_rate, e);
    /* The monitored losses belong to the parameters the epoch starts from. */
    if (o.early_stopping) smr_snapshot_take(m, &ep);
    const double vloss = nv > 0 ? FN(ce_sum)(&c, Xv, yv, nv) / (double)nv : (double)NAN;
    if (gather) shuffle_rows(&rng, perm, nt);
    double obj_sum = 0.0;
    size_t batches = 0;
    for (size_t r = 0; r < nt; r += bs) {
      size_t rows = FN(fit_min)(bs, nt - r);
      const T *xb = Xt + r * d;
      const int32_t *ybp = yt + r;
      if (gather) {
        FN(gather_rows)(Xt, yt, d, perm + r, rows, Xb, yb);
        xb = Xb;
        ybp = yb;
      }
      double obj;
      st = FN(fit_step)(&c, xb, ybp, rows, lr, &obj);
      if (st != SMR_OK) break;
      steps_done++;
      batches++;
      obj_sum += obj;
    }
    if (st != SMR_OK) break;
    const double train_loss = obj_sum / (double)batches;
    hist[e] = train_loss;
    epochs_run = e + 1;
    if (o.verbose && (e % every == 0 || e + 1 == o.epochs)) {
      if (nv > 0)
        fprintf(stderr, "smr fit: epoch %zu/%zu  loss %.6f  val_loss %.6f  lr %.4g\n", e + 1,
                o.epochs, train_loss, vloss, lr);
      else
        fprintf(stderr, "smr fit: epoch %zu/%zu  loss %.6f  lr %.4g\n", e + 1, o.epochs,
                train_loss, lr);
    }

    bool plateau = false;
    if (o.early_stopping) {
      const double v = nv > 0 ? vloss : train_loss;
      if (v < best_v - o.min_delta) {
        best_v = v;
        smr_snapshot_swap(&best, &ep);
        have_best = true;
        wait = 0;
      } else if (++wait >= o.patience) {
        plateau = true;
      }
    }
    const bool go_on =
        o.callback == NULL || o.callback(o.callback_user, e, train_loss, vloss);
    if (plateau) {
      if (have_best) smr_snapshot_restore(m, &best);
      stopped = true;
    } else if (!go_on) {
      stopped = true;
    }
    if (stopped) {
      if (o.verbose)
        fprintf(stderr, "smr fit: stopped after epoch %zu%s\n", e + 1,
                plateau ? " (no improvement; best parameters restored)" : "");
      break;
    }
  }
  if (st == SMR_ENONFINITE && o.verbose)
    fprintf(stderr, "smr fit: diverged in epoch %zu (non-finite loss or parameters)\n",
            epochs_run + 1);

  /* ---- publish: standardization (once a step used it), history, report ---- */
  if (o.standardize && steps_done > 0) {
    smr_model_adopt_standardization(m, mean, scale);
    mean = scale = NULL;
  }
  if (epochs_run == 0) {
    free(hist);
    hist = NULL;
  }
  smr_model_adopt_history(m, hist, epochs_run);
  hist = NULL;
  if (report != NULL) {
    report->epochs_run = epochs_run;
    report->final_loss = FN(ce_sum)(&c, Xt, yt, nt) / (double)nt + FN(l2_term)(&c);
    report->stopped_early = stopped;
    report->loss_history = m->history;
    report->history_len = epochs_run;
    report->final_val_loss = nv > 0 ? FN(ce_sum)(&c, Xv, yv, nv) / (double)nv : (double)NAN;
  }

out:
  free(Xt_own);
  free(Xv);
  free(Xb);
  free(yt_own);
  free(yv);
  free(yb);
  free(perm);
  free(mask);
  free(mean);
  free(scale);
  free(hist);
  free(c.Z);
  free(c.dW);
  free(c.db);
  smr_snapshot_free(&c.bak);
  smr_snapshot_free(&ep);
  smr_snapshot_free(&best);
  return st;
}

#undef KTABLE
#undef FN
