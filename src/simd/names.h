/*
 * simd/names.h - the symbol of every out-of-line SIMD function carries its
 * dtype and ISA (simd_softmax_f32_avx512), so that perf, gdb, nm and grep
 * tell the six copies apart. Included by src/kernels_simd.h before the
 * family files; each ISA's dtype file defines SIMD_F64 and SIMD_ISA_ID
 * (1 avx2, 2 avx512, 3 neon: the order of smr_isa). No include guard on
 * purpose.
 *
 * The table entries are mapped by their full names, one line each (grep
 * finds a kernel's definition from here); the helpers through SIMD_FN.
 */

#define SIMD_PASTE_(a, b, c) a##_##b##_##c
#define SIMD_PASTE(a, b, c) SIMD_PASTE_(a, b, c)
#if SIMD_F64
#define SIMD_SFX f64
#else
#define SIMD_SFX f32
#endif
#if SIMD_ISA_ID == 1
#define SIMD_ISA_NAME avx2
#elif SIMD_ISA_ID == 2
#define SIMD_ISA_NAME avx512
#elif SIMD_ISA_ID == 3
#define SIMD_ISA_NAME neon
#else
#error "SIMD_ISA_ID: 1 avx2, 2 avx512, 3 neon (simd/names.h)"
#endif
/* name_<dtype>_<isa> */
#define SIMD_FN(name) SIMD_PASTE(name, SIMD_SFX, SIMD_ISA_NAME)

/* the helpers */
#define gemm_pack SIMD_FN(gemm_pack)
#define gemm_panel SIMD_FN(gemm_panel)
#define fwdt SIMD_FN(fwdt)
#define forward_rows SIMD_FN(forward_rows)
#define fwd_task SIMD_FN(fwd_task)
#define xtg_wide SIMD_FN(xtg_wide)
#define xtg_narrow SIMD_FN(xtg_narrow)
#define xtg_task SIMD_FN(xtg_task)
#define xtg_wide_task SIMD_FN(xtg_wide_task)
#define stream_scratch SIMD_FN(stream_scratch)
#define special_posinf SIMD_FN(special_posinf)
#define fill_nan SIMD_FN(fill_nan)
#define special_softmax SIMD_FN(special_softmax)
#define softmax_short SIMD_FN(softmax_short)
#define softmax_rows SIMD_FN(softmax_rows)
#define special_log_softmax SIMD_FN(special_log_softmax)
#define log_softmax_short SIMD_FN(log_softmax_short)
#define special_ce SIMD_FN(special_ce)
#define ce_short SIMD_FN(ce_short)
#define exp_row SIMD_FN(exp_row)
#define online_row SIMD_FN(online_row)

/* the table entries */
#if SIMD_ISA_ID == 1 && !SIMD_F64
#define simd_softmax simd_softmax_f32_avx2
#define simd_softmax_online simd_softmax_online_f32_avx2
#define simd_softmax_temperature simd_softmax_temperature_f32_avx2
#define simd_log_softmax simd_log_softmax_f32_avx2
#define simd_ce_logits simd_ce_logits_f32_avx2
#define simd_lse_chunk simd_lse_chunk_f32_avx2
#define simd_lce_grad simd_lce_grad_f32_avx2
#define simd_argmax_rows simd_argmax_rows_f32_avx2
#define simd_linear_forward simd_linear_forward_f32_avx2
#define simd_xt_g simd_xt_g_f32_avx2
#define simd_colsum simd_colsum_f32_avx2
#define simd_axpy simd_axpy_f32_avx2
#define simd_sumsq simd_sumsq_f32_avx2
#define simd_dot simd_dot_f32_avx2
#define simd_all_finite simd_all_finite_f32_avx2
#elif SIMD_ISA_ID == 1 && SIMD_F64
#define simd_softmax simd_softmax_f64_avx2
#define simd_softmax_online simd_softmax_online_f64_avx2
#define simd_softmax_temperature simd_softmax_temperature_f64_avx2
#define simd_log_softmax simd_log_softmax_f64_avx2
#define simd_ce_logits simd_ce_logits_f64_avx2
#define simd_lse_chunk simd_lse_chunk_f64_avx2
#define simd_lce_grad simd_lce_grad_f64_avx2
#define simd_argmax_rows simd_argmax_rows_f64_avx2
#define simd_linear_forward simd_linear_forward_f64_avx2
#define simd_xt_g simd_xt_g_f64_avx2
#define simd_colsum simd_colsum_f64_avx2
#define simd_axpy simd_axpy_f64_avx2
#define simd_sumsq simd_sumsq_f64_avx2
#define simd_dot simd_dot_f64_avx2
#define simd_all_finite simd_all_finite_f64_avx2
#elif SIMD_ISA_ID == 2 && !SIMD_F64
#define simd_softmax simd_softmax_f32_avx512
#define simd_softmax_online simd_softmax_online_f32_avx512
#define simd_softmax_temperature simd_softmax_temperature_f32_avx512
#define simd_log_softmax simd_log_softmax_f32_avx512
#define simd_ce_logits simd_ce_logits_f32_avx512
#define simd_lse_chunk simd_lse_chunk_f32_avx512
#define simd_lce_grad simd_lce_grad_f32_avx512
#define simd_argmax_rows simd_argmax_rows_f32_avx512
#define simd_linear_forward simd_linear_forward_f32_avx512
#define simd_xt_g simd_xt_g_f32_avx512
#define simd_colsum simd_colsum_f32_avx512
#define simd_axpy simd_axpy_f32_avx512
#define simd_sumsq simd_sumsq_f32_avx512
#define simd_dot simd_dot_f32_avx512
#define simd_all_finite simd_all_finite_f32_avx512
#elif SIMD_ISA_ID == 2 && SIMD_F64
#define simd_softmax simd_softmax_f64_avx512
#define simd_softmax_online simd_softmax_online_f64_avx512
#define simd_softmax_temperature simd_softmax_temperature_f64_avx512
#define simd_log_softmax simd_log_softmax_f64_avx512
#define simd_ce_logits simd_ce_logits_f64_avx512
#define simd_lse_chunk simd_lse_chunk_f64_avx512
#define simd_lce_grad simd_lce_grad_f64_avx512
#define simd_argmax_rows simd_argmax_rows_f64_avx512
#define simd_linear_forward simd_linear_forward_f64_avx512
#define simd_xt_g simd_xt_g_f64_avx512
#define simd_colsum simd_colsum_f64_avx512
#define simd_axpy simd_axpy_f64_avx512
#define simd_sumsq simd_sumsq_f64_avx512
#define simd_dot simd_dot_f64_avx512
#define simd_all_finite simd_all_finite_f64_avx512
#elif SIMD_ISA_ID == 3 && !SIMD_F64
#define simd_softmax simd_softmax_f32_neon
#define simd_softmax_online simd_softmax_online_f32_neon
#define simd_softmax_temperature simd_softmax_temperature_f32_neon
#define simd_log_softmax simd_log_softmax_f32_neon
#define simd_ce_logits simd_ce_logits_f32_neon
#define simd_lse_chunk simd_lse_chunk_f32_neon
#define simd_lce_grad simd_lce_grad_f32_neon
#define simd_argmax_rows simd_argmax_rows_f32_neon
#define simd_linear_forward simd_linear_forward_f32_neon
#define simd_xt_g simd_xt_g_f32_neon
#define simd_colsum simd_colsum_f32_neon
#define simd_axpy simd_axpy_f32_neon
#define simd_sumsq simd_sumsq_f32_neon
#define simd_dot simd_dot_f32_neon
#define simd_all_finite simd_all_finite_f32_neon
#elif SIMD_ISA_ID == 3 && SIMD_F64
#define simd_softmax simd_softmax_f64_neon
#define simd_softmax_online simd_softmax_online_f64_neon
#define simd_softmax_temperature simd_softmax_temperature_f64_neon
#define simd_log_softmax simd_log_softmax_f64_neon
#define simd_ce_logits simd_ce_logits_f64_neon
#define simd_lse_chunk simd_lse_chunk_f64_neon
#define simd_lce_grad simd_lce_grad_f64_neon
#define simd_argmax_rows simd_argmax_rows_f64_neon
#define simd_linear_forward simd_linear_forward_f64_neon
#define simd_xt_g simd_xt_g_f64_neon
#define simd_colsum simd_colsum_f64_neon
#define simd_axpy simd_axpy_f64_neon
#define simd_sumsq simd_sumsq_f64_neon
#define simd_dot simd_dot_f64_neon
#define simd_all_finite simd_all_finite_f64_neon
#endif
