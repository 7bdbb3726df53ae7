/* rows.c - which rows a fit holds out and in which order it visits them
   (train.h): shared by every objective, drawn from the fit's seeded
   generator. */
#include "train/train.h"

#include <string.h>

void smr_train_choose_validation(smr_rng *rng, size_t n, size_t n_val, size_t *perm,
                                 unsigned char *mask) {
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = 0; i < n_val; i++) {
    size_t j = i + (size_t)smr_rng_below(rng, (uint64_t)(n - i));
    size_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  memset(mask, 0, n);
  for (size_t i = 0; i < n_val; i++) mask[perm[i]] = 1;
}

void smr_train_shuffle(smr_rng *rng, size_t *perm, size_t n) {
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)smr_rng_below(rng, (uint64_t)i);
    size_t t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
}
