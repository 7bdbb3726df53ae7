/*
 * tuning.h - where the work is cut: the task and block sizes of every layer
 * that splits work over smr's threads, side by side (each one measured:
 * docs/BENCHMARKS.md, "The tuning constants"). None of them changes a
 * result's bits with the thread count: how work is cut depends on the sizes
 * alone, never on the threads (threads.h), and sums over tasks are added in
 * task order. The kernels' own constants (row chunks, short rows, register
 * tiles) live with the kernels (src/kernels_simd.h, src/simd/).
 */
#ifndef SMR_TUNING_H
#define SMR_TUNING_H

#include <stddef.h>

/* The kernels' matrix products (src/simd/products.h): products below this
   many multiply-adds (about 40 us on one core) stay on the calling thread;
   above it linear_forward runs in row tasks and xt_g in tasks over ranges
   of columns (d or k) on smr's threads. */
#define SMR_PRODUCT_PAR_MIN ((size_t)1 << 21)

/* The public row kernels (src/api_kernels.c): a call of more elements is
   cut into row tasks of about this many (a function of k alone): 1 MiB of
   f32 input, so a task's input and output stay in L2. */
#define SMR_API_TASK_ELEMS ((size_t)1 << 18)
/* tasks per wave of the public cross-entropy (their sums live on the
   stack) */
#define SMR_API_WAVE 64
/* the streamed outputs' scratch of two rows stays in L2 (512 KiB) up to
   rows of this many bytes (the threshold itself: smr_stream_min_bytes,
   internal.h) */
#define SMR_API_STREAM_MAX_ROW ((size_t)512 << 10)

/* The dense objective (src/train/dense.c, dense_tmpl.h). Row-parallel CE:
   elements per task (a task is ceil(SMR_FIT_TASK_ELEMS / k) rows, whatever
   the thread count: 64 KiB of f32 logits stay in L2 between the CE pass
   and the column sums), and how many tasks one parallel job takes: at most
   SMR_FIT_WAVE_MAX, and at most SMR_FIT_WAVE_ELEMS / k (the column sums of
   a wave wait in a buffer), but at least two per thread. */
#define SMR_FIT_TASK_ELEMS ((size_t)16384)
#define SMR_FIT_WAVE_MAX ((size_t)64)
#define SMR_FIT_WAVE_ELEMS ((size_t)1 << 19)
/* Row blocks of the pipeline: about SMR_FIT_BLOCK_BYTES of logits, at
   least SMR_FIT_BLOCK_MIN_ROWS rows, never more than the workspace_bytes
   cap, and a whole number of CE tasks (so the loss and db are the same bits
   whatever the block). The block stays in cache between the GEMM that
   writes it, the CE pass and the GEMM that reads it (1 to 4 MiB measured
   about even). */
#define SMR_FIT_BLOCK_BYTES ((size_t)2 << 20)
#define SMR_FIT_BLOCK_MIN_ROWS ((size_t)128)

/* The fused linear cross-entropy (src/lce.c): a chunk of classes is about
   SMR_LCE_W_CHUNK_BYTES of W (d x chunk, copied contiguous, kept hot while
   every row block uses it; at least 16 classes), and a row block about
   SMR_LCE_BLOCK_ELEMS logits or dX elements (16 MiB of f32: the products
   over a block run threaded, as one call). */
#define SMR_LCE_W_CHUNK_BYTES ((size_t)256 << 10)
#define SMR_LCE_BLOCK_ELEMS ((size_t)1 << 22)
/* its row-parallel parts (the running log-sum-exp, the gradient of the
   logits, dX's sums): tasks of about this many elements */
#define SMR_LCE_TASK_ELEMS ((size_t)1 << 15)

#endif /* SMR_TUNING_H */
