/*
 * lce_bench.c - smr-lce-bench: the fused linear cross-entropy
 * (smr_linear_cross_entropy_f32, forward + backward: loss, dX, dW, db)
 * against the GEMM floor of the same shape, and its peak memory beyond its
 * inputs and outputs (issue 16).
 *
 *   smr-lce-bench N D K [REPS [CLASS_CHUNK]]
 *
 * One JSON line: lce_s, the median over REPS (default 3) calls; floor_s,
 * four times the median time of the products Z = X W_c over every class
 * chunk of the active kernel table (the FLOPs of forward, recompute, dX
 * and dW: four n x d x K products; the chunks copied beforehand, the
 * copies not timed), measured in the same run right after; ratio =
 * lce_s / floor_s; extra_mib, the growth of the peak resident set over the
 * first call (after X, W, dX, dW, db and the labels were allocated and
 * touched): what the call itself held at most. SMR_NUM_THREADS sets the
 * threads. The command lines behind docs/BENCHMARKS.md are there.
 */
#include "kernels.h"
#include "smr.h"
#include "timing.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double peak_mib(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_maxrss / 1024.0; /* KiB on Linux */
}

static void *alloc_touched(size_t bytes) {
  unsigned char *p = malloc(bytes);
  if (p == NULL) {
    fprintf(stderr, "smr-lce-bench: out of memory (%zu bytes)\n", bytes);
    exit(1);
  }
  memset(p, 1, bytes); /* not 0: malloc + memset 0 may become calloc, untouched */
  return p;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: smr-lce-bench N D K [REPS [CLASS_CHUNK]]\n");
    return 2;
  }
  const size_t n = strtoull(argv[1], NULL, 10), d = strtoull(argv[2], NULL, 10),
               K = strtoull(argv[3], NULL, 10);
  const int reps = argc > 4 ? atoi(argv[4]) : 3;
  smr_lce_options o = smr_lce_options_default();
  o.class_chunk = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
  if (n == 0 || d == 0 || K == 0 || reps < 1 || reps > 99) {
    fprintf(stderr, "smr-lce-bench: bad arguments\n");
    return 2;
  }
  float *X = alloc_touched(n * d * sizeof(float)), *W = alloc_touched(d * K * sizeof(float));
  float *dX = alloc_touched(n * d * sizeof(float)), *dW = alloc_touched(d * K * sizeof(float));
  float *db = alloc_touched(K * sizeof(float));
  int32_t *y = alloc_touched(n * sizeof(int32_t));
  uint64_t s = 88172645463325252ull;
  for (size_t i = 0; i < n * d; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    X[i] = (float)((double)(s >> 11) * 0x1p-53 - 0.5);
  }
  for (size_t i = 0; i < d * K; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    W[i] = (float)(((double)(s >> 11) * 0x1p-53 - 0.5) * 0.1);
  }
  for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i * 7919 % K);
  const double base = peak_mib();
  double t[99], loss = 0.0;
  for (int r = 0; r < reps; r++) {
    const double t0 = smrt_now();
    const smr_status st = smr_linear_cross_entropy_f32(X, n, d, W, NULL, K, y, &o, &loss, dX, dW,
                                                       db, NULL);
    t[r] = smrt_now() - t0;
    if (st != SMR_OK) {
      fprintf(stderr, "smr-lce-bench: %s\n", smr_strerror(st));
      return 1;
    }
  }
  const double extra = peak_mib() - base, lce = smrt_median(t, (size_t)reps);

  /* the floor: X W_c for every chunk of C classes (C as the call chose it
     by default: 256 KiB of W), the chunk copied first */
  size_t C = o.class_chunk != 0 ? o.class_chunk : (256u << 10) / (d * sizeof(float));
  if (C < 16) C = 16;
  if (C > K) C = K;
  const struct smr_kernels_f32 *kt = &smr_kernels_active()->f32;
  float *Wc = alloc_touched(d * C * sizeof(float)), *Z = alloc_touched(n * C * sizeof(float));
  float *zb = alloc_touched(C * sizeof(float));
  for (int r = 0; r < reps; r++) {
    double sum = 0.0;
    for (size_t c0 = 0; c0 < K; c0 += C) {
      const size_t cw = K - c0 < C ? K - c0 : C;
      for (size_t j = 0; j < d; j++) memcpy(Wc + j * cw, W + j * K + c0, cw * sizeof(float));
      const double t0 = smrt_now();
      kt->linear_forward(X, Wc, zb, Z, n, d, cw);
      sum += smrt_now() - t0;
    }
    t[r] = 4.0 * sum;
  }
  const double floor_s = smrt_median(t, (size_t)reps);
  const char *th = getenv("SMR_NUM_THREADS");
  printf("{\"bench\":\"lce\",\"n\":%zu,\"d\":%zu,\"K\":%zu,\"class_chunk\":%zu,\"threads\":\"%s\","
         "\"isa\":\"%s\",\"loss\":%.6f,\"lce_s\":%.4f,\"floor_s\":%.4f,\"ratio\":%.3f,"
         "\"inputs_outputs_mib\":%.1f,\"extra_mib\":%.1f}\n",
         n, d, K, o.class_chunk, th != NULL ? th : "default", smr_isa_name(smr_isa_active()), loss,
         lce, floor_s, lce / floor_s,
         (double)(2 * n * d + 2 * d * K + K) * sizeof(float) / 1048576.0 +
             (double)n * sizeof(int32_t) / 1048576.0,
         extra);
  free(X), free(W), free(dX), free(dW), free(db), free(y), free(Wc), free(Z), free(zb);
  return 0;
}
