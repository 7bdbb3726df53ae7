/*
 * model_internal.h - helpers shared by model.c, model_ops.c and src/train/
 * (not installed).
 */
#ifndef SMR_MODEL_INTERNAL_H
#define SMR_MODEL_INTERNAL_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Rows per block when a standardized copy or a probability block is needed:
   bounds the workspace of forward/backward/predict/loss to a few rows. */
#define SMR_ROW_BLOCK ((size_t)256)

/* Bytes of one parameter of the given dtype. */
static inline size_t smr_dtype_size(smr_dtype dt) {
  return dt == SMR_F32 ? sizeof(float) : sizeof(double);
}

/* malloc(count * size), NULL on overflow (or count == 0). */
static inline void *smr_malloc_n(size_t count, size_t size) {
  size_t bytes;
  if (count == 0 || !smr_mul_ok(count, size, &bytes)) return NULL;
  return malloc(bytes);
}

/* True when every label is in [0, k). */
bool smr_labels_in_range(const int32_t *labels, size_t n, size_t k);

/* Takes ownership of `history` (len entries, may be NULL when len == 0),
   freeing the previous one. */
void smr_model_adopt_history(smr_model *m, double *history, size_t len);

/* Takes ownership of `mean` and `scale` (d entries each, validated by the
   caller), freeing the previous standardization. Cannot fail. */
void smr_model_adopt_standardization(smr_model *m, double *mean, double *scale);

#endif /* SMR_MODEL_INTERNAL_H */
