/* model_ops.c - forward, backward, predict, predict_proba and loss of a
   model, for f32 and f64: one body (model_tmpl.h) included once per dtype.
   All math goes through the kernel table. */
#include "kernels.h"
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


#define T float
#define SFX f32
#define DT SMR_F32
#include "model_tmpl.h"
#undef T
#undef SFX
#undef DT

#define T double
#define SFX f64
#define DT SMR_F64
#include "model_tmpl.h"
#undef T
#undef SFX
#undef DT
