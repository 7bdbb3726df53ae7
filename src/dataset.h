/*
 * dataset.h - the data set the readers build (internal; accessors in
 * src/dataset.c, the CSV reader in src/csv.c).
 */
#ifndef SMR_DATASET_H
#define SMR_DATASET_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

struct smr_dataset {
  size_t n, d, k;         /* k = 0 without labels */
  double *X;              /* n x d */
  int32_t *labels;        /* n, or NULL */
  char **feature_names;   /* d */
  char **class_names;     /* k, or NULL for integer labels */
};

/* Frees count strings and the array (v may be NULL). */
void smr_free_strings(char **v, size_t count);

#endif /* SMR_DATASET_H */
