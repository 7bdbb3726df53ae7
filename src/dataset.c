/* dataset.c - the public accessors of a data set (smr.h), its typed copies
   and free. */
#include "dataset.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void smr_free_strings(char **v, size_t count) {
  if (v == NULL) return;
  for (size_t i = 0; i < count; i++) free(v[i]);
  free(v);
}

void smr_dataset_free(smr_dataset *ds) {
  if (ds == NULL) return;
  free(ds->X);
  free(ds->labels);
  smr_free_strings(ds->feature_names, ds->d);
  smr_free_strings(ds->class_names, ds->k);
  free(ds);
}

size_t smr_dataset_num_rows(const smr_dataset *ds) { return ds != NULL ? ds->n : 0; }
size_t smr_dataset_num_features(const smr_dataset *ds) { return ds != NULL ? ds->d : 0; }
size_t smr_dataset_num_classes(const smr_dataset *ds) { return ds != NULL ? ds->k : 0; }
const double *smr_dataset_features(const smr_dataset *ds) { return ds != NULL ? ds->X : NULL; }
const int32_t *smr_dataset_labels(const smr_dataset *ds) {
  return ds != NULL ? ds->labels : NULL;
}

const char *smr_dataset_class_name(const smr_dataset *ds, size_t j) {
  if (ds == NULL || ds->class_names == NULL || j >= ds->k) return NULL;
  return ds->class_names[j];
}

const char *const *smr_dataset_class_names(const smr_dataset *ds) {
  if (ds == NULL) return NULL;
  return (const char *const *)ds->class_names;
}

const char *smr_dataset_feature_name(const smr_dataset *ds, size_t j) {
  if (ds == NULL || j >= ds->d) return NULL;
  return ds->feature_names[j];
}

/* The checks of smr_dataset_copy_*. */
static smr_status copy_check(const smr_dataset *ds, const size_t *rows, size_t n, size_t d,
                             const void *out) {
  if (ds == NULL || d > ds->d) return SMR_EINVAL;
  if (rows == NULL && n > ds->n) return SMR_EINVAL;
  if (rows != NULL)
    for (size_t i = 0; i < n; i++)
      if (rows[i] >= ds->n) return SMR_EINVAL;
  if (out == NULL && n > 0 && d > 0) return SMR_EINVAL;
  return SMR_OK;
}

smr_status smr_dataset_copy_f32(const smr_dataset *ds, const size_t *rows, size_t n, size_t d,
                                float *out, smr_error_detail *err) {
  const smr_status st = copy_check(ds, rows, n, d, out);
  if (st != SMR_OK || d == 0) return st;
  for (size_t i = 0; i < n; i++) { /* first, so that nothing is written on error */
    const size_t r = rows != NULL ? rows[i] : i;
    const double *src = ds->X + r * ds->d;
    for (size_t j = 0; j < d; j++)
      if (fabs(src[j]) > (double)FLT_MAX) {
        smr_set_error(err, r + 1, j + 1, "data row %zu, column '%s': %g does not fit in f32",
                      r + 1, ds->feature_names[j], src[j]);
        return SMR_ERANGE;
      }
  }
  for (size_t i = 0; i < n; i++) {
    const double *src = ds->X + (rows != NULL ? rows[i] : i) * ds->d;
    for (size_t j = 0; j < d; j++) out[i * d + j] = (float)src[j];
  }
  return SMR_OK;
}

smr_status smr_dataset_copy_f64(const smr_dataset *ds, const size_t *rows, size_t n, size_t d,
                                double *out, smr_error_detail *err) {
  (void)err; /* every value fits */
  const smr_status st = copy_check(ds, rows, n, d, out);
  if (st != SMR_OK || d == 0) return st;
  for (size_t i = 0; i < n; i++)
    memcpy(out + i * d, ds->X + (rows != NULL ? rows[i] : i) * ds->d, d * sizeof *out);
  return SMR_OK;
}

smr_status smr_dataset_features_f32(const smr_dataset *ds, float *out) {
  if (ds == NULL || (out == NULL && ds->n > 0)) return SMR_EINVAL;
  size_t cells = ds->n * ds->d; /* checked when the data set was built */
  for (size_t i = 0; i < cells; i++)
    if (fabs(ds->X[i]) > (double)FLT_MAX) return SMR_ERANGE;
  for (size_t i = 0; i < cells; i++) out[i] = (float)ds->X[i];
  return SMR_OK;
}
