/*
 * kernels_neon_f64.c - the double kernels of src/kernels_simd.h on AArch64
 * Advanced SIMD.
 */
#include "kernels.h"

#define SIMD_F64 1
#define SIMD_ISA_ID 3 /* the symbols: simd_softmax_f64_neon, ... (simd/names.h) */
#include "vec_neon.h"

#define SIMD_TABLE smr_kernels_f64
#define SIMD_INSTALL smr_neon_install_f64
#include "kernels_simd.h"
