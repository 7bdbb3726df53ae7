/*
 * api_kernels.c - the public row-wise kernels of smr.h: argument checks,
 * then one call through the active kernel table (src/kernels.h).
 *
 * Order of the checks, the same for every function:
 *   1. scalar arguments that are wrong whatever the data (k = 0, a bad
 *      temperature, no output requested / no loss pointer): SMR_EINVAL;
 *   2. n = 0: SMR_OK, nothing read, data pointers may be NULL (a requested
 *      loss is set to 0);
 *   3. a NULL data pointer: SMR_EINVAL;
 *   4. n * k does not fit in size_t: SMR_EOVERFLOW (before any memory is
 *      touched);
 *   5. labels outside [0, k): SMR_ERANGE, nothing written.
 * Losses come back from the kernels as sums over rows and are divided by n
 * here; the fused gradient gets the scale 1/n.
 */
#include "internal.h"
#include "kernels.h"

#include <math.h>

/* Steps 1 to 4 for a row-wise call with data pointers a and b.
   SMR_OK with n = 0 means "nothing to do". */
static smr_status check_rows(size_t n, size_t k, const void *a, const void *b) {
  size_t len;
  if (k == 0) return SMR_EINVAL;
  if (n == 0) return SMR_OK;
  if (a == NULL || b == NULL) return SMR_EINVAL;
  if (!smr_mul_ok(n, k, &len)) return SMR_EOVERFLOW;
  return SMR_OK;
}

/* Step 5 (call only after check_rows succeeded with n > 0). */
static smr_status check_labels(const int32_t *labels, size_t n, size_t k) {
  for (size_t i = 0; i < n; i++)
    if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)k) return SMR_ERANGE;
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* Softmax family                                                            */
/* ------------------------------------------------------------------------ */

SMR_API smr_status smr_softmax_f32(const float *z, float *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->f32.softmax(z, p, n, k);
  return SMR_OK;
}

SMR_API smr_status smr_softmax_f64(const double *z, double *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->f64.softmax(z, p, n, k);
  return SMR_OK;
}

SMR_API smr_status smr_softmax_online_f32(const float *z, float *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->f32.softmax_online(z, p, n, k);
  return SMR_OK;
}

SMR_API smr_status smr_softmax_online_f64(const double *z, double *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->f64.softmax_online(z, p, n, k);
  return SMR_OK;
}

SMR_API smr_status smr_softmax_temperature_f32(const float *z, float *p, size_t n, size_t k,
                                               float temperature) {
  if (!(isfinite(temperature) && temperature > 0.0f)) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->f32.softmax_temperature(z, p, n, k, temperature);
  return SMR_OK;
}

SMR_API smr_status smr_softmax_temperature_f64(const double *z, double *p, size_t n, size_t k,
                                               double temperature) {
  if (!(isfinite(temperature) && temperature > 0.0)) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->f64.softmax_temperature(z, p, n, k, temperature);
  return SMR_OK;
}

SMR_API smr_status smr_log_softmax_f32(const float *z, float *out, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, out);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->f32.log_softmax(z, out, n, k);
  return SMR_OK;
}

SMR_API smr_status smr_log_softmax_f64(const double *z, double *out, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, out);
  if (st != SMR_OK || n == 0) return st;
  smr_kernels_active()->f64.log_softmax(z, out, n, k);
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* One-hot                                                                   */
/* ------------------------------------------------------------------------ */

/* Not a table entry: it is a fill, written once per data set. */
SMR_API smr_status smr_one_hot_f32(const int32_t *labels, size_t n, size_t k, float *y) {
  smr_status st = check_rows(n, k, labels, y);
  if (st != SMR_OK || n == 0) return st;
  if ((st = check_labels(labels, n, k)) != SMR_OK) return st;
  for (size_t i = 0; i < n; i++) {
    float *row = y + i * k;
    for (size_t j = 0; j < k; j++) row[j] = 0.0f;
    row[labels[i]] = 1.0f;
  }
  return SMR_OK;
}

SMR_API smr_status smr_one_hot_f64(const int32_t *labels, size_t n, size_t k, double *y) {
  smr_status st = check_rows(n, k, labels, y);
  if (st != SMR_OK || n == 0) return st;
  if ((st = check_labels(labels, n, k)) != SMR_OK) return st;
  for (size_t i = 0; i < n; i++) {
    double *row = y + i * k;
    for (size_t j = 0; j < k; j++) row[j] = 0.0;
    row[labels[i]] = 1.0;
  }
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* Cross-entropy                                                             */
/* ------------------------------------------------------------------------ */

SMR_API smr_status smr_cross_entropy_f32(const float *p, const float *y, size_t n, size_t k,
                                         double *loss) {
  if (loss == NULL) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, p, y);
  if (st != SMR_OK) return st;
  *loss = n == 0 ? 0.0 : smr_kernels_active()->f32.ce_prob(p, y, n, k) / (double)n;
  return SMR_OK;
}

SMR_API smr_status smr_cross_entropy_f64(const double *p, const double *y, size_t n, size_t k,
                                         double *loss) {
  if (loss == NULL) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, p, y);
  if (st != SMR_OK) return st;
  *loss = n == 0 ? 0.0 : smr_kernels_active()->f64.ce_prob(p, y, n, k) / (double)n;
  return SMR_OK;
}

/* Checks shared by the fused loss; SMR_OK with n = 0 means "loss = 0, done". */
static smr_status check_ce_logits(const void *z, const int32_t *labels, size_t n, size_t k,
                                  const double *loss, const void *grad) {
  if (loss == NULL && grad == NULL) return SMR_EINVAL;
  smr_status st = check_rows(n, k, z, labels);
  if (st != SMR_OK || n == 0) return st;
  return check_labels(labels, n, k);
}

SMR_API smr_status smr_cross_entropy_logits_f32(const float *z, const int32_t *labels, size_t n,
                                                size_t k, double *loss, float *grad) {
  const smr_status st = check_ce_logits(z, labels, n, k, loss, grad);
  if (st != SMR_OK) return st;
  double sum = 0.0;
  if (n > 0)
    sum = smr_kernels_active()->f32.ce_logits(z, labels, n, k, (float)(1.0 / (double)n), grad);
  if (loss != NULL) *loss = n == 0 ? 0.0 : sum / (double)n;
  return SMR_OK;
}

SMR_API smr_status smr_cross_entropy_logits_f64(const double *z, const int32_t *labels, size_t n,
                                                size_t k, double *loss, double *grad) {
  const smr_status st = check_ce_logits(z, labels, n, k, loss, grad);
  if (st != SMR_OK) return st;
  double sum = 0.0;
  if (n > 0) sum = smr_kernels_active()->f64.ce_logits(z, labels, n, k, 1.0 / (double)n, grad);
  if (loss != NULL) *loss = n == 0 ? 0.0 : sum / (double)n;
  return SMR_OK;
}
