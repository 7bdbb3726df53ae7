/* model.c - creation, ownership and accessors of struct smr_model.
   The math on a model lives in model_ops.c (forward, backward, predict,
   loss) and src/train/ (fit). */
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool rate_ok(double lr) { return isfinite(lr) && lr > 0.0; }

bool smr_labels_in_range(const int32_t *labels, size_t n, size_t k) {
  for (size_t i = 0; i < n; i++)
    if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)k) return false;
  return true;
}

/* W ~ 0.01 * N(0,1), drawn in double in row-major order and rounded to the
   dtype, so an f32 and an f64 model of the same seed hold the same draws. */
static void init_weights(smr_model *m, uint64_t seed) {
  smr_rng rng;
  smr_rng_seed(&rng, seed);
  size_t dk = m->d * m->k;
  if (m->dtype == SMR_F32) {
    float *W = m->W;
    for (size_t i = 0; i < dk; i++) W[i] = (float)(0.01 * smr_rng_normal(&rng));
  } else {
    double *W = m->W;
    for (size_t i = 0; i < dk; i++) W[i] = 0.01 * smr_rng_normal(&rng);
  }
}

smr_status smr_model_create(smr_model **out, size_t num_features, size_t num_classes,
                            smr_dtype dtype, double learning_rate, uint64_t seed) {
  if (out == NULL) return SMR_EINVAL;
  *out = NULL;
  if (num_features == 0 || num_classes == 0 || num_classes > (size_t)INT32_MAX)
    return SMR_EINVAL;
  if (dtype != SMR_F32 && dtype != SMR_F64) return SMR_EINVAL;
  if (!rate_ok(learning_rate)) return SMR_EINVAL;
  size_t dk;
  if (!smr_mul_ok(num_features, num_classes, &dk) || dk > SIZE_MAX - num_classes)
    return SMR_EOVERFLOW;

  smr_model *m = calloc(1, sizeof *m);
  if (m == NULL) return SMR_ENOMEM;
  size_t es = smr_dtype_size(dtype);
  m->d = num_features;
  m->k = num_classes;
  m->dtype = dtype;
  m->learning_rate = learning_rate;
  /* W then b in one allocation: the trainer's flat parameter vector
     (src/train/objective.h). calloc checks (dk + k) * es for overflow;
     all-bits-zero is 0.0 (IEEE). */
  m->W = calloc(dk + num_classes, es);
  if (m->W == NULL) {
    smr_model_free(m);
    return SMR_ENOMEM;
  }
  m->b = (char *)m->W + dk * es;
  init_weights(m, seed);
  *out = m;
  return SMR_OK;
}

static void free_class_names(char **names, size_t k) {
  if (names == NULL) return;
  for (size_t j = 0; j < k; j++) free(names[j]);
  free(names);
}

void smr_model_free(smr_model *m) {
  if (m == NULL) return;
  free(m->W); /* and b */
  free(m->mean);
  free(m->scale);
  free_class_names(m->class_names, m->k);
  free(m->history);
  free(m);
}

size_t smr_model_num_features(const smr_model *m) { return m ? m->d : 0; }
size_t smr_model_num_classes(const smr_model *m) { return m ? m->k : 0; }
smr_dtype smr_model_dtype(const smr_model *m) { return m ? m->dtype : SMR_F32; }
double smr_model_learning_rate(const smr_model *m) { return m ? m->learning_rate : 0.0; }
void *smr_model_weights(smr_model *m) { return m ? m->W : NULL; }
void *smr_model_bias(smr_model *m) { return m ? m->b : NULL; }

smr_status smr_model_set_learning_rate(smr_model *m, double learning_rate) {
  if (m == NULL || !rate_ok(learning_rate)) return SMR_EINVAL;
  m->learning_rate = learning_rate;
  return SMR_OK;
}

/* ---- standardization ---------------------------------------------------- */

void smr_model_adopt_standardization(smr_model *m, double *mean, double *scale) {
  free(m->mean);
  free(m->scale);
  m->mean = mean;
  m->scale = scale;
}

smr_status smr_model_set_standardization(smr_model *m, const double *mean, const double *scale) {
  if (m == NULL) return SMR_EINVAL;
  if (mean == NULL && scale == NULL) {
    smr_model_adopt_standardization(m, NULL, NULL);
    return SMR_OK;
  }
  if (mean == NULL || scale == NULL) return SMR_EINVAL;
  for (size_t j = 0; j < m->d; j++)
    if (!isfinite(mean[j]) || !isfinite(scale[j]) || !(scale[j] > 0.0)) return SMR_EINVAL;
  double *mc = smr_malloc_n(m->d, sizeof *mc);
  double *sc = smr_malloc_n(m->d, sizeof *sc);
  if (mc == NULL || sc == NULL) {
    free(mc);
    free(sc);
    return SMR_ENOMEM;
  }
  memcpy(mc, mean, m->d * sizeof *mc);
  memcpy(sc, scale, m->d * sizeof *sc);
  smr_model_adopt_standardization(m, mc, sc);
  return SMR_OK;
}

const double *smr_model_feature_mean(const smr_model *m) { return m ? m->mean : NULL; }
const double *smr_model_feature_scale(const smr_model *m) { return m ? m->scale : NULL; }

/* ---- class names --------------------------------------------------------- */

smr_status smr_model_set_class_names(smr_model *m, const char *const *names) {
  if (m == NULL) return SMR_EINVAL;
  if (names == NULL) {
    free_class_names(m->class_names, m->k);
    m->class_names = NULL;
    return SMR_OK;
  }
  for (size_t j = 0; j < m->k; j++)
    if (names[j] == NULL || strnlen(names[j], SMR_MAX_NAME_LEN + 1) > SMR_MAX_NAME_LEN)
      return SMR_EINVAL;
  char **copy = calloc(m->k, sizeof *copy);
  if (copy == NULL) return SMR_ENOMEM;
  for (size_t j = 0; j < m->k; j++) {
    size_t len = strlen(names[j]);
    copy[j] = malloc(len + 1);
    if (copy[j] == NULL) {
      free_class_names(copy, m->k);
      return SMR_ENOMEM;
    }
    memcpy(copy[j], names[j], len + 1);
  }
  free_class_names(m->class_names, m->k);
  m->class_names = copy;
  return SMR_OK;
}

const char *smr_model_class_name(const smr_model *m, size_t j) {
  if (m == NULL || m->class_names == NULL || j >= m->k) return NULL;
  return m->class_names[j];
}

/* ---- internal: history -------------------------------------------------- */

void smr_model_adopt_history(smr_model *m, double *history, size_t len) {
  free(m->history);
  m->history = history;
  m->history_len = len;
}
