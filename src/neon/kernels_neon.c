/*
 * kernels_neon.c - installs the NEON (AArch64 Advanced SIMD) kernels (one file per dtype, each
 * the shared body of src/kernels_simd.h over vec_neon.h).
 */
#include "kernels.h"

void smr_neon_install_f32(struct smr_kernels_f32 *t);
void smr_neon_install_f64(struct smr_kernels_f64 *t);

void smr_neon_install(struct smr_kernels *t) {
  smr_neon_install_f32(&t->f32);
  smr_neon_install_f64(&t->f64);
}
