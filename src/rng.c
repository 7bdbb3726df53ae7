/* rng.c - xoshiro256** (Blackman & Vigna) seeded through splitmix64.
   Integer-only state updates, so streams are identical on every platform. */
#include "internal.h"

#include <math.h>

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
