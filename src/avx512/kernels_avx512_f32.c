/*
 * kernels_avx512_f32.c - the float kernels of src/kernels_simd.h on AVX-512.
 */
#include "kernels.h"

#define SIMD_F64 0
#define SIMD_ISA_ID 2 /* the symbols: simd_softmax_f32_avx512, ... (simd/names.h) */
#include "vec_avx512.h"

#define SIMD_TABLE smr_kernels_f32
#define SIMD_INSTALL smr_avx512_install_f32
#include "kernels_simd.h"
