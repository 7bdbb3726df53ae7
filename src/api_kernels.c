/*
 * api_kernels.c - the public row-wise kernels of smr.h: argument checks,
 * then one call through the active kernel table (src/kernels.h).
 *
 * Order of the checks, the same for every function:
 *   1. scalar arguments that are wrong whatever the data (k = 0, a bad
 *      temperature, no output requested / no loss pointer): SMR_EINVAL;
 *   2. n = 0: SMR_OK, nothing read, data pointers may be NULL (a requested
 *      loss is set to 0);
 *   3. a NULL data pointer: SMR_EINVAL;
 *   4. n * k elements of the dtype take more than PTRDIFF_MAX bytes (no
 *      buffer can be that large): SMR_EOVERFLOW (before any memory is
 *      touched);
 *   5. labels outside [0, k): SMR_ERANGE, nothing written.
 * Losses come back from the kernels as sums over rows and are divided by n
 * here; the fused gradient gets the scale 1/n. A sum that overflows to
 * +inf although no row's loss is infinite (f64 rows near DBL_MAX) is
 * formed again as a sum of row / n, so a finite mean is never reported
 * as +inf.
 *
 * ISA: each public call loads the active table once and hands it to its
 * tasks, so an smr_isa_select on another thread never mixes two ISAs in
 * one call (dispatch.c).
 *
 * Threads: a call of more than SMR_API_TASK_ELEMS elements is cut into row
 * tasks of about SMR_API_TASK_ELEMS elements (a function of k alone) run on
 * smr's threads (threads.h; smr_set_num_threads). Rows are independent,
 * so the outputs are the same bit for bit on any thread count. The
 * cross-entropy's sum is cut the same way on one thread too and the
 * tasks' sums are added in task order, so the loss is the same on any
 * thread count as well.
 *
 * Streaming: a softmax, temperature or gradient output of at least
 * smr_stream_min_bytes as a whole (internal.h; rows of at most
 * SMR_API_STREAM_MAX_ROW bytes) is written with non-temporal stores: each task
 * allocates the kernel's scratch of two rows (SMR_STREAM_SCRATCH, kernels.h)
 * and passes it down, or runs the plain path when that allocation fails.
 * The choice is made for the whole call, not per task, and changes no bit.
 */
#include "internal.h"
#include "kernels.h"
#include "threads.h"
#include "tuning.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

atomic_size_t smr_stream_min_bytes = SIZE_MAX; /* off: see internal.h */

/* Steps 1 to 4 for a row-wise call with data pointers a and b.
   SMR_OK with n = 0 means "nothing to do". */
static smr_status check_rows(size_t n, size_t k, size_t es, const void *a, const void *b) {
  if (k == 0) return SMR_EINVAL;
  if (n == 0) return SMR_OK;
  if (a == NULL || b == NULL) return SMR_EINVAL;
  if (!smr_array_ok(n, k, es)) return SMR_EOVERFLOW;
  return SMR_OK;
}

/* Step 5 (call only after check_rows succeeded with n > 0). */
static smr_status check_labels(const int32_t *labels, size_t n, size_t k) {
  for (size_t i = 0; i < n; i++)
    if (labels[i] < 0 || (uint64_t)labels[i] >= (uint64_t)k) return SMR_ERANGE;
  return SMR_OK;
}

/* Checks shared by the fused loss; SMR_OK with n = 0 means "loss = 0, done". */
static smr_status check_ce_logits(const void *z, const int32_t *labels, size_t n, size_t k,
                                  size_t es, const double *loss, const void *grad) {
  if (loss == NULL && grad == NULL) return SMR_EINVAL;
  smr_status st = check_rows(n, k, es, z, labels);
  if (st != SMR_OK || n == 0) return st;
  return check_labels(labels, n, k);
}


enum api_op { API_SOFTMAX, API_ONLINE, API_TEMPERATURE, API_LOG_SOFTMAX, API_CE };

/* Whether a call of n x k elements of es bytes streams its output. */
static bool stream_output(size_t n, size_t k, size_t es) {
  const size_t min = atomic_load_explicit(&smr_stream_min_bytes, memory_order_relaxed);
  return k * es <= SMR_API_STREAM_MAX_ROW && n * k * es >= min;
}

/* rows per task for rows of k elements */
static size_t task_rows(size_t k) {
  const size_t r = SMR_API_TASK_ELEMS / k;
  return r > 0 ? r : 1;
}

#define T float
#define SFX f32
#include "api_kernels_tmpl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "api_kernels_tmpl.h"
#undef T
#undef SFX
