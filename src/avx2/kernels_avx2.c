/*
 * kernels_avx2.c - installs the AVX2 kernels (one file per dtype, each
 * the shared body of src/kernels_simd.h over vec_avx2.h).
 */
#include "kernels.h"

void smr_avx2_install_f32(struct smr_kernels_f32 *t);
void smr_avx2_install_f64(struct smr_kernels_f64 *t);

void smr_avx2_install(struct smr_kernels *t) {
  smr_avx2_install_f32(&t->f32);
  smr_avx2_install_f64(&t->f64);
}
