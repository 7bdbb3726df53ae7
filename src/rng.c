/* rng.c - xoshiro256** (Blackman & Vigna) seeded through splitmix64, and
   the public stratified split (a splitmix64 stream). Integer-only state
   updates, so streams are identical on every platform. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void smr_rng_seed(smr_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t smr_rng_next(smr_rng *r) {
  uint64_t *s = r->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double smr_rng_uniform(smr_rng *r) {
  return (double)(smr_rng_next(r) >> 11) * 0x1.0p-53;
}

double smr_rng_normal(smr_rng *r) {
  /* Box-Muller, one value per call: u1 in (0, 1] so log(u1) is finite. */
  double u1 = 1.0 - smr_rng_uniform(r);
  double u2 = smr_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t smr_rng_below(smr_rng *r, uint64_t bound) {
  /* Rejection on the top of the range removes modulo bias. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do x = smr_rng_next(r); while (x >= limit);
  return x % bound;
}

/* Uniform in [0, bound), bound >= 1, from a splitmix64 stream (rejection
   on the top of the range: no modulo bias). */
static uint64_t splitmix_below(uint64_t *x, uint64_t bound) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t v;
  do v = splitmix64(x); while (v >= limit);
  return v % bound;
}

static int cmp_index(const void *a, const void *b) {
  const size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

SMR_API smr_status smr_split_stratified(const int32_t *labels, size_t n, size_t k,
                                        double train_fraction, uint64_t seed, size_t *train,
                                        size_t *ntrain, size_t *test, size_t *ntest) {
  if (k == 0 || ntrain == NULL || ntest == NULL ||
      (n > 0 && (labels == NULL || train == NULL || test == NULL)) ||
      !(train_fraction >= 0.0 && train_fraction <= 1.0))
    return SMR_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)k) return SMR_ERANGE;
  *ntrain = *ntest = 0;
  if (n == 0) return SMR_OK;
  size_t *rows = malloc(n * sizeof *rows); /* no larger than the caller's lists */
  if (rows == NULL) return SMR_ENOMEM;
  uint64_t st = seed;
  for (size_t c = 0; c < k; c++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if ((size_t)labels[i] == c) rows[m++] = i;
    for (size_t i = m; i > 1; i--) { /* Fisher-Yates */
      const size_t j = (size_t)splitmix_below(&st, i);
      const size_t t = rows[i - 1];
      rows[i - 1] = rows[j];
      rows[j] = t;
    }
    const size_t mt = (size_t)floor(train_fraction * (double)m + 0.5);
    for (size_t i = 0; i < m; i++) {
      if (i < mt)
        train[(*ntrain)++] = rows[i];
      else
        test[(*ntest)++] = rows[i];
    }
  }
  free(rows);
  qsort(train, *ntrain, sizeof *train, cmp_index);
  qsort(test, *ntest, sizeof *test, cmp_index);
  return SMR_OK;
}
