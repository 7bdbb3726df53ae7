/* dense.c - the dense objective (dense_tmpl.h, once per dtype): smr_fit
   and smr_objective on a row-major X through the fused kernels of the
   table:
     Z  = X W + b                    linear_forward
     G  = (softmax(Z) - Y) / n       ce_logits (in place, also the CE sum)
     dW = X^T G + l2 W, db = colsum G  xt_g, colsum, axpy
   The CE pass and the column sums run on smr's threads (src/threads.h) in
   tasks of a fixed size; the matrix products on the BLAS's. The solvers
   and the epoch loop are dtype-free (loop.c, lbfgs.c, first_order.c). */
#include "kernels.h"
#include "model_internal.h"
#include "threads.h"
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row-parallel CE (dense_tmpl.h, ce_block): elements per task (a task is
   ceil(PAR_TASK_ELEMS / k) rows, whatever the thread count: 64 KiB of f32
   logits stay in L2 between the CE pass and the column sums), and how many
   tasks one parallel job takes: at most PAR_WAVE_MAX, and at most
   PAR_WAVE_ELEMS / k (the column sums of a wave wait in a buffer), but at
   least two per thread. */
#define PAR_TASK_ELEMS ((size_t)16384)
/* Row blocks of the pipeline (dense_tmpl.h, ctx_make): about BLOCK_BYTES
   of logits, at least BLOCK_MIN_ROWS rows, never more than the
   workspace_bytes cap, and a whole number of CE tasks (so the loss and db
   are the same bits whatever the block). The block stays in cache between
   the GEMM that writes it, the CE pass and the GEMM that reads it
   (1 to 4 MiB measured about even; docs/BENCHMARKS.md, "The tuning
   constants"). */
#define BLOCK_BYTES ((size_t)2 << 20)
#define BLOCK_MIN_ROWS ((size_t)128)
#define PAR_WAVE_MAX ((size_t)64)
#define PAR_WAVE_ELEMS ((size_t)1 << 19)

#define T float
#define SFX f32
#define DT SMR_F32
#include "train/dense_tmpl.h"
#undef T
#undef SFX
#undef DT

#define T double
#define SFX f64
#define DT SMR_F64
#include "train/dense_tmpl.h"
#undef T
#undef SFX
#undef DT
