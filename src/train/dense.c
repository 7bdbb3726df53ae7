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
#include "tuning.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The CE tasks, their waves and the row blocks: src/tuning.h. */

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
