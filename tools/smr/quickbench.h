/*
 * quickbench.h - the measurements behind `smr bench` (tools/smr/bench.c parses
 * its options and prints the tables).
 *
 * Only the public API: each kernel is timed through smr.h on whatever ISA
 * is active (the caller switches with smr_isa_select). bench/smr-bench is
 * the full suite; this is the quick one that ships with the tool.
 *
 * Legend: n rows, k row length (classes); z the n x k input logits, o the
 * n x k output, labels n class indices in [0, k).
 */
#ifndef SMR_QUICKBENCH_H
#define SMR_QUICKBENCH_H

#include "smr.h"

#include <stdbool.h>
#include <stddef.h>

/* Table rows, in print order. memcpy of the same bytes (z to o) is the
   reference every ratio is taken against. */
typedef enum qb_kernel {
  QB_SOFTMAX,       /* smr_softmax_*(z, o) */
  QB_ONLINE,        /* smr_softmax_online_*(z, o) */
  QB_LOG_SOFTMAX,   /* smr_log_softmax_*(z, o) */
  QB_CE_GRAD,       /* smr_cross_entropy_logits_*(z, labels, &loss, o) */
  QB_CE_INPLACE,    /* the same with grad == z (o holds the logits) */
  QB_CE_LOSS,       /* the same with grad == NULL: reads z only */
  QB_MEMCPY,        /* memcpy(o, z) */
  QB_NUM_KERNELS
} qb_kernel;

/* "softmax", "online", "log_softmax", "ce_grad", "ce_grad_inplace",
   "ce_loss", "memcpy": the family names of bench/smr-bench. */
extern const char *const qb_kernel_names[QB_NUM_KERNELS];

/* Bytes one call must move at least: z read once, plus o written once
   unless the kernel only reads (ce_loss). For shapes whose qb_footprint
   fits in size_t. */
size_t qb_traffic(qb_kernel kern, smr_dtype dtype, size_t n, size_t k);

/* The buffers of one shape and dtype, filled once from a fixed seed. */
typedef struct qb_buffers qb_buffers;

/* The bytes qb_buffers_create allocates for this shape (SIZE_MAX when that
   does not fit in size_t, or for n = 0 or k = 0). */
size_t qb_footprint(smr_dtype dtype, size_t n, size_t k);

/* Allocates and fills them: logits ~ N(0, 2^2) (Irwin-Hall, four uniforms),
   labels uniform in [0, k). SMR_EINVAL for n = 0, k = 0 or a bad dtype,
   SMR_EOVERFLOW when n * k * sizeof(element) does not fit in size_t,
   SMR_ENOMEM; *out is NULL on error. */
smr_status qb_buffers_create(qb_buffers **out, smr_dtype dtype, size_t n, size_t k);
void qb_buffers_free(qb_buffers *b);

/* Times `kern` on the active ISA: one warm-up call, then up to
   QB_SAMPLES samples of at least budget / QB_SAMPLES seconds each (at least
   one call each) until `budget` seconds are spent, but at least 3 when a
   sample holds several calls; *seconds is the median time per call. A call
   longer than the budget makes it one warm-up and one timed call. Returns the first non-OK status of a kernel call (nothing is measured
   then). */
#define QB_SAMPLES 5
smr_status qb_measure(qb_buffers *b, qb_kernel kern, double budget, double *seconds);

#endif /* SMR_QUICKBENCH_H */
