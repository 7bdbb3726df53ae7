/*
 * kernels_neon_f32.c - the float kernels of src/kernels_simd.h on AArch64
 * Advanced SIMD.
 */
#include "kernels.h"

#define SIMD_F64 0
#define SIMD_ISA_ID 3 /* the symbols: simd_softmax_f32_neon, ... (simd/names.h) */
#include "vec_neon.h"

#define SIMD_TABLE smr_kernels_f32
#define SIMD_INSTALL smr_neon_install_f32
#include "kernels_simd.h"
