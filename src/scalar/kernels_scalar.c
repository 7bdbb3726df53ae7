/*
 * kernels_scalar.c - the scalar reference kernels: plain C for every entry
 * of the kernel table (src/kernels.h), in float and double.
 *
 * These are what every SIMD kernel is measured against, so they favour the
 * obviously right formulation: max, sums and every intermediate of the row
 * kernels are carried in double, also for f32 (one rounding to float at
 * each store). The f64 instantiation adds two compensations (Kahan sums and
 * a TwoSum-corrected exp(z - m)) so that it stays within a few ulp of the
 * exact result; docs/MATH.md explains the choices.
 *
 * Never compile with -ffast-math: the special-value rules and the
 * compensated arithmetic rely on IEEE semantics. ISO C mode (-std=c11) also
 * keeps GCC from contracting a*b+c into an FMA, so results are the same on
 * every target.
 */
#include "internal.h"
#include "kernels.h"
#include "lse.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the special-value rules of smr.h make of a row (see classify). */
enum row_kind {
  ROW_FINITE, /* finite max: the general path; a NaN shows up in the sum */
  ROW_NAN,    /* the whole output row is NaN */
  ROW_POSINF  /* max +inf and no NaN: 1/count at each +inf entry */
};

/* A sum of exponentials: s is the sum, c the Kahan compensation (f64). */
struct expsum {
  double s, c;
};

#define T float
#define SFX f32
#define COMPENSATED 0
#include "kernels_tmpl.h"
#undef T
#undef SFX
#undef COMPENSATED

#define T double
#define SFX f64
#define COMPENSATED 1
#include "kernels_tmpl.h"
#undef T
#undef SFX
#undef COMPENSATED

void smr_scalar_install(struct smr_kernels *t) {
  install_f32(&t->f32);
  install_f64(&t->f64);
}
