/*
 * timing.h - the one timing helper of smr's benchmarks: smr-bench
 * (bench/smr_bench.c), the training benchmark (bench/train/train_bench.c)
 * and `smr bench` (tools/smr/quickbench.c). Header only, plain C.
 *
 *   smrt_now()       CLOCK_MONOTONIC, in seconds
 *   smrt_sample()    seconds per call of a function called in batches (one
 *                    clock read per batch keeps the clock out of small
 *                    calls) until at least a minimum time has passed
 *   smrt_median()    the median of samples (machines are shared and noisy:
 *                    every figure smr reports is a median), smrt_min/max
 *   smrt_rotations() how many input/output buffer pairs a shape cycles
 *                    over, so that no call finds the previous call's
 *                    buffers warm in cache: SMRT_ROTATIONS while a pair
 *                    fits in the given cache budget, else 1 (a shape past
 *                    every cache is cold anyway)
 */
#ifndef SMR_BENCH_TIMING_H
#define SMR_BENCH_TIMING_H

#include <stddef.h>
#include <time.h>

#define SMRT_ROTATIONS 4

static inline double smrt_now(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return 0.0;
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Calls fn(ctx, c) for c = 0, 1, ... in batches of `batch` calls until at
   least min_seconds have passed; *calls (may be NULL) = the calls made.
   Returns the seconds per call. */
static inline double smrt_sample(void (*fn)(void *ctx, size_t call), void *ctx, size_t batch,
                                 double min_seconds, size_t *calls) {
  size_t c = 0;
  double elapsed;
  const double t0 = smrt_now();
  do {
    for (size_t b = 0; b < batch; b++, c++) fn(ctx, c);
    elapsed = smrt_now() - t0;
  } while (elapsed < min_seconds);
  if (calls != NULL) *calls = c;
  return elapsed / (double)c;
}

/* The median of v[0..n), n >= 1; sorts v in place (insertion sort: the
   sample counts are small). */
static inline double smrt_median(double *v, size_t n) {
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
      const double t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static inline double smrt_min(const double *v, size_t n) {
  double m = v[0];
  for (size_t i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
  return m;
}

static inline double smrt_max(const double *v, size_t n) {
  double m = v[0];
  for (size_t i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
  return m;
}

/* Buffer pairs for a shape whose pair takes pair_bytes, given the bytes
   that may stay in some cache. */
static inline size_t smrt_rotations(size_t pair_bytes, size_t cache_bytes) {
  return pair_bytes <= cache_bytes ? SMRT_ROTATIONS : 1;
}

#endif /* SMR_BENCH_TIMING_H */
