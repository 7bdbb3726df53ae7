/* api_kernels_tmpl.h - the public kernel functions of one dtype, included
   by api_kernels.c with
     T    the element type (float, double)
     SFX  the suffix (f32, f64): names smr_<kernel>_<SFX> and the table member
   No include guard on purpose. Checks in the order api_kernels.c states,
   then one call through the active table. */

#define FN(name) SMR_CAT(name, SFX)

/* ------------------------------------------------------------------------ */
/* Softmax family                                                            */
/* ------------------------------------------------------------------------ */

SMR_API smr_status FN(smr_softmax)(const T *z, T *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->SFX.softmax(z, p, n, k);
  return SMR_OK;
}

SMR_API smr_status FN(smr_softmax_online)(const T *z, T *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->SFX.softmax_online(z, p, n, k);
  return SMR_OK;
}

SMR_API smr_status FN(smr_softmax_temperature)(const T *z, T *p, size_t n, size_t k,
                                               T temperature) {
  if (!(isfinite(temperature) && temperature > (T)0)) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->SFX.softmax_temperature(z, p, n, k, temperature);
  return SMR_OK;
}

SMR_API smr_status FN(smr_log_softmax)(const T *z, T *out, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, out);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->SFX.log_softmax(z, out, n, k);
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* One-hot                                                                   */
/* ------------------------------------------------------------------------ */

/* Not a table entry: it is a fill, written once per data set. */
SMR_API smr_status FN(smr_one_hot)(const int32_t *labels, size_t n, size_t k, T *y) {
  smr_status st = check_rows(n, k, labels, y);
  if (st != SMR_OK || n == 0) return st;
  if ((st = check_labels(labels, n, k)) != SMR_OK) return st;
  for (size_t i = 0; i < n; i++) {
    T *row = y + i * k;
    for (size_t j = 0; j < k; j++) row[j] = (T)0;
    row[labels[i]] = (T)1;
  }
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* Cross-entropy                                                             */
/* ------------------------------------------------------------------------ */

SMR_API smr_status FN(smr_cross_entropy)(const T *p, const T *y, size_t n, size_t k,
                                         double *loss) {
  if (loss == NULL) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, p, y);
  if (st != SMR_OK) return st;
  *loss = n == 0 ? 0.0 : smr_kernels_active()->SFX.ce_prob(p, y, n, k) / (double)n;
  return SMR_OK;
}

SMR_API smr_status FN(smr_cross_entropy_logits)(const T *z, const int32_t *labels, size_t n,
                                                size_t k, double *loss, T *grad) {
  const smr_status st = check_ce_logits(z, labels, n, k, loss, grad);
  if (st != SMR_OK) return st;
  double sum = 0.0;
  if (n > 0)
    sum = smr_kernels_active()->SFX.ce_logits(z, labels, NULL, n, k, (T)(1.0 / (double)n), grad);
  if (loss != NULL) *loss = n == 0 ? 0.0 : sum / (double)n;
  return SMR_OK;
}

#undef FN
