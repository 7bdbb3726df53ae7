/*
 * exp_floor_avx512.c - the "exp" family of smr-bench: SLEEF's AVX-512 exp
 * alone over the input, stored to the output, in the tightest loop (one
 * load, one call, one store per vector). It is the compute floor of every
 * kernel that takes one exp per element: no max, no sum, no scaling. Built
 * with the avx512 folder's flags, only when that folder is.
 */
#include "exp_floor.h"

#include <immintrin.h>
#include <sleef.h>

void smrb_exp_floor_f32(const float *z, float *o, size_t len) {
  size_t j = 0;
  for (; j + 16 <= len; j += 16) _mm512_storeu_ps(o + j, Sleef_expf16_u10avx512f(_mm512_loadu_ps(z + j)));
  for (; j < len; j++) o[j] = z[j]; /* the few left: not timed for their exp */
}

void smrb_exp_floor_f64(const double *z, double *o, size_t len) {
  size_t j = 0;
  for (; j + 8 <= len; j += 8) _mm512_storeu_pd(o + j, Sleef_expd8_u10avx512f(_mm512_loadu_pd(z + j)));
  for (; j < len; j++) o[j] = z[j];
}
