/*
 * kernels_avx2_f64.c - the double kernels of src/kernels_simd.h on AVX2 + FMA.
 */
#include "kernels.h"

#define SIMD_F64 1
#define SIMD_ISA_ID 1 /* the symbols: simd_softmax_f64_avx2, ... (simd/names.h) */
#include "vec_avx2.h"

#define SIMD_TABLE smr_kernels_f64
#define SIMD_INSTALL smr_avx2_install_f64
#include "kernels_simd.h"
