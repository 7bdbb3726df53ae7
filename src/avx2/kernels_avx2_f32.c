/*
 * kernels_avx2_f32.c - the float kernels of src/kernels_simd.h on AVX2 + FMA.
 */
#include "kernels.h"

#define SIMD_F64 0
#define SIMD_ISA_ID 1 /* the symbols: simd_softmax_f32_avx2, ... (simd/names.h) */
#include "vec_avx2.h"

#define SIMD_TABLE smr_kernels_f32
#define SIMD_INSTALL smr_avx2_install_f32
#include "kernels_simd.h"
