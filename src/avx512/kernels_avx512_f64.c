/*
 * kernels_avx512_f64.c - the double kernels of src/kernels_simd.h on AVX-512.
 */
#include "kernels.h"

#define SIMD_F64 1
#define SIMD_ISA_ID 2 /* the symbols: simd_softmax_f64_avx512, ... (simd/names.h) */
#include "vec_avx512.h"

#define SIMD_TABLE smr_kernels_f64
#define SIMD_INSTALL smr_avx512_install_f64
#include "kernels_simd.h"
