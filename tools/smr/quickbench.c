/*
 * quickbench.c - timing of the public row-wise kernels for `smr bench`.
 *
 * Buffers: shapes whose input fits in QB_ROTATE_MAX_BYTES get SMRT_ROTATIONS
 * input/output pairs and consecutive calls take them in turn, so no call
 * reads what the previous call just left in L1/L2; a larger input already
 * exceeds any L2, and one pair keeps the memory at twice the input.
 * Timing: CLOCK_MONOTONIC, median of samples (robust to a noisy machine).
 */
#include "quickbench.h"
#include "timing.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QB_MIN_SAMPLES 3
#define QB_ROTATE_MAX_BYTES ((size_t)8 << 20)
#define QB_SEED 0x5EEDu

const char *const qb_kernel_names[QB_NUM_KERNELS] = {
  [QB_SOFTMAX] = "softmax",
  [QB_ONLINE] = "online",
  [QB_LOG_SOFTMAX] = "log_softmax",
  [QB_CE_GRAD] = "ce_grad",
  [QB_CE_INPLACE] = "ce_grad_inplace",
  [QB_CE_LOSS] = "ce_loss",
  [QB_MEMCPY] = "memcpy",
};

struct qb_buffers {
  smr_dtype dtype;
  size_t n, k, bytes; /* bytes of one n x k matrix */
  size_t nrot;
  void *z[SMRT_ROTATIONS], *o[SMRT_ROTATIONS];
  int32_t *labels;
};

/* Keeps the loss of the fused kernels observable. */
static volatile double qb_sink;

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

/* Normal-ish with mean 0 and standard deviation 2: the sum of four 16-bit
   uniforms has mean 2 and variance 4/12, so (sum - 2) * 2 * sqrt(3). Cheap
   enough to fill 64 MiB in a blink; the kernels' speed does not depend on
   the tails. */
static double normalish(uint64_t *s) {
  const uint64_t r = splitmix64(s);
  double sum = 0.0;
  for (int i = 0; i < 4; i++) sum += (double)((r >> (16 * i)) & 0xFFFFu) * 0x1p-16;
  return (sum - 2.0) * 3.4641016151377546;
}

size_t qb_traffic(qb_kernel kern, smr_dtype dtype, size_t n, size_t k) {
  const size_t bytes = n * k * (dtype == SMR_F32 ? sizeof(float) : sizeof(double));
  return kern == QB_CE_LOSS ? bytes : 2 * bytes;
}

/* The rotation rule of qb_buffers_create. */
static size_t rotations(size_t bytes) { return smrt_rotations(bytes, QB_ROTATE_MAX_BYTES); }

size_t qb_footprint(smr_dtype dtype, size_t n, size_t k) {
  const size_t esize = dtype == SMR_F32 ? sizeof(float) : sizeof(double);
  /* 2 * bytes must fit too: it is the traffic of a call (qb_traffic). */
  if (n == 0 || k == 0 || n > SIZE_MAX / k || n * k > SIZE_MAX / esize / 2) return SIZE_MAX;
  const size_t bytes = n * k * esize;
  const size_t rot = rotations(bytes);
  if (bytes > (SIZE_MAX - n * sizeof(int32_t)) / 2 / rot) return SIZE_MAX;
  return 2 * rot * bytes + n * sizeof(int32_t);
}

void qb_buffers_free(qb_buffers *b) {
  if (b == NULL) return;
  for (size_t r = 0; r < SMRT_ROTATIONS; r++) {
    free(b->z[r]);
    free(b->o[r]);
  }
  free(b->labels);
  free(b);
}

smr_status qb_buffers_create(qb_buffers **out, smr_dtype dtype, size_t n, size_t k) {
  *out = NULL;
  if (n == 0 || k == 0 || (dtype != SMR_F32 && dtype != SMR_F64)) return SMR_EINVAL;
  if (qb_footprint(dtype, n, k) == SIZE_MAX) return SMR_EOVERFLOW;
  const size_t esize = dtype == SMR_F32 ? sizeof(float) : sizeof(double);
  qb_buffers *b = calloc(1, sizeof *b);
  if (b == NULL) return SMR_ENOMEM;
  b->dtype = dtype;
  b->n = n;
  b->k = k;
  b->bytes = n * k * esize;
  b->nrot = rotations(b->bytes);
  b->labels = malloc(n * sizeof *b->labels); /* n * 4 <= n * k * esize */
  if (b->labels == NULL) goto nomem;
  for (size_t r = 0; r < b->nrot; r++) {
    b->z[r] = malloc(b->bytes);
    b->o[r] = malloc(b->bytes);
    if (b->z[r] == NULL || b->o[r] == NULL) goto nomem;
  }
  uint64_t s = QB_SEED;
  const uint64_t classes = k < (size_t)INT32_MAX ? (uint64_t)k : (uint64_t)INT32_MAX;
  for (size_t i = 0; i < n; i++) b->labels[i] = (int32_t)(splitmix64(&s) % classes);
  for (size_t r = 0; r < b->nrot; r++) {
    if (dtype == SMR_F32) {
      float *z = b->z[r];
      for (size_t i = 0; i < n * k; i++) z[i] = (float)normalish(&s);
    } else {
      double *z = b->z[r];
      for (size_t i = 0; i < n * k; i++) z[i] = normalish(&s);
    }
    memcpy(b->o[r], b->z[r], b->bytes); /* touches every page of o too */
  }
  *out = b;
  return SMR_OK;
nomem:
  qb_buffers_free(b);
  return SMR_ENOMEM;
}

/* One call of `kern` on buffer pair r. */
static smr_status run_once(const qb_buffers *b, qb_kernel kern, size_t r) {
  const void *z = b->z[r];
  void *o = b->o[r];
  const int32_t *y = b->labels;
  const size_t n = b->n, k = b->k;
  const bool f32 = b->dtype == SMR_F32;
  double loss = 0.0;
  smr_status s = SMR_OK;
  switch (kern) {
  case QB_SOFTMAX: s = f32 ? smr_softmax_f32(z, o, n, k) : smr_softmax_f64(z, o, n, k); break;
  case QB_ONLINE:
    s = f32 ? smr_softmax_online_f32(z, o, n, k) : smr_softmax_online_f64(z, o, n, k);
    break;
  case QB_LOG_SOFTMAX:
    s = f32 ? smr_log_softmax_f32(z, o, n, k) : smr_log_softmax_f64(z, o, n, k);
    break;
  case QB_CE_GRAD:
    s = f32 ? smr_cross_entropy_logits_f32(z, y, n, k, &loss, o)
            : smr_cross_entropy_logits_f64(z, y, n, k, &loss, o);
    break;
  case QB_CE_INPLACE: /* o starts as a copy of z; after a call it holds the
                         gradient, |g| <= 1/n, as good as logits for timing */
    s = f32 ? smr_cross_entropy_logits_f32(o, y, n, k, &loss, o)
            : smr_cross_entropy_logits_f64(o, y, n, k, &loss, o);
    break;
  case QB_CE_LOSS:
    s = f32 ? smr_cross_entropy_logits_f32(z, y, n, k, &loss, NULL)
            : smr_cross_entropy_logits_f64(z, y, n, k, &loss, NULL);
    break;
  case QB_MEMCPY: memcpy(o, z, b->bytes); break;
  case QB_NUM_KERNELS: s = SMR_EINVAL; break;
  }
  qb_sink = loss;
  return s;
}

/* One rotation step and call of the measured kernel (smrt_sample's fn). */
struct qb_run {
  qb_buffers *b;
  qb_kernel kern;
  size_t rot;
  smr_status st;
};

static void qb_call(void *ctx, size_t call) {
  (void)call;
  struct qb_run *r = ctx;
  r->rot = r->rot + 1 == r->b->nrot ? 0 : r->rot + 1;
  const smr_status s = run_once(r->b, r->kern, r->rot);
  if (s != SMR_OK) r->st = s;
}

smr_status qb_measure(qb_buffers *b, qb_kernel kern, double budget, double *seconds) {
  if (kern == QB_CE_INPLACE)
    for (size_t r = 0; r < b->nrot; r++) memcpy(b->o[r], b->z[r], b->bytes);
  /* The warm-up call is never timed: a first call may also fault in code
     and resolve symbols (log, exp) that later calls find ready. */
  struct qb_run run = {b, kern, 0, SMR_OK};
  double t0 = smrt_now();
  run.st = run_once(b, kern, run.rot);
  const double warm = smrt_now() - t0;
  if (run.st != SMR_OK) return run.st;
  const double target = budget / QB_SAMPLES;
  /* Reading the clock after every call would add its cost to tiny calls. */
  const size_t batch = warm * 256 < target ? 16 : 1;
  double sample[QB_SAMPLES];
  size_t ns = 0, calls = 0;
  const double start = smrt_now();
  do {
    sample[ns++] = smrt_sample(qb_call, &run, batch, target, &calls);
    if (run.st != SMR_OK) return run.st;
    /* While samples hold several calls each, at least QB_MIN_SAMPLES, so
       that one preempted sample (a busy machine) cannot be the median. */
  } while (ns < QB_SAMPLES &&
           (smrt_now() - start < budget || (ns < QB_MIN_SAMPLES && calls > 1)));
  *seconds = smrt_median(sample, ns);
  return SMR_OK;
}
