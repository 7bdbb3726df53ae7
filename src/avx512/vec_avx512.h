/*
 * vec_avx512.h - the vector layer of src/kernels_simd.h for AVX-512
 * (F, DQ, VL, BW) with SLEEF's avx512f exp. Included by the two dtype
 * files of this folder after defining SIMD_F64 to 0 or 1; compiled only
 * with this folder's flags.
 *
 * Tails use AVX-512 lane masks: a masked load never touches memory past
 * the row and a masked store never writes it.
 */
#include <immintrin.h>
#include <sleef.h>

#include <stdbool.h>
#include <stddef.h>

/* non-temporal stores (v_stream) and the fence that orders them */
#define SIMD_HAVE_STREAM 1
static inline void v_stream_fence(void) { _mm_sfence(); }

#if !SIMD_F64 /* ------------------------------------------------ float */

#define T float
#define VW 16
typedef __m512 V;
typedef __mmask16 VM;

static inline VM part_mask(size_t r) { return (VM)((1u << r) - 1u); } /* r < VW */
static inline V v_load(const T *p) { return _mm512_loadu_ps(p); }
static inline void v_store(T *p, V v) { _mm512_storeu_ps(p, v); }
static inline V v_load_part(const T *p, size_t r, T fill) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), part_mask(r), p);
}
static inline void v_store_part(T *p, size_t r, V v) { _mm512_mask_storeu_ps(p, part_mask(r), v); }
/* non-temporal store, p aligned to the vector (64 bytes) */
static inline void v_stream(T *p, V v) { _mm512_stream_ps(p, v); }
static inline V v_set1(T x) { return _mm512_set1_ps(x); }
static inline V v_add(V a, V b) { return _mm512_add_ps(a, b); }
static inline V v_sub(V a, V b) { return _mm512_sub_ps(a, b); }
static inline V v_mul(V a, V b) { return _mm512_mul_ps(a, b); }
static inline V v_div(V a, V b) { return _mm512_div_ps(a, b); }
static inline V v_fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
/* VMAXPS returns its second operand when either is NaN */
static inline V v_max(V a, V b) { return _mm512_max_ps(a, b); }
static inline V v_exp(V x) { return Sleef_expf16_u10avx512f(x); }
static inline T v_hmax(V a) { return _mm512_reduce_max_ps(a); }
static inline VM v_eq(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
static inline VM v_unord(V a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
static inline V v_select(VM m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }

/* 16 float lanes widened into two vectors of 8 doubles */
typedef struct {
  __m512d lo, hi;
} VA;
static inline __m512d lo_pd(V v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m512d hi_pd(V v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
static inline VA w_zero(void) {
  VA w = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  return w;
}
static inline void w_add(VA *w, V v) {
  w->lo = _mm512_add_pd(w->lo, lo_pd(v));
  w->hi = _mm512_add_pd(w->hi, hi_pd(v));
}
static inline void w_addmul(VA *w, V a, V b) {
  w->lo = _mm512_fmadd_pd(lo_pd(a), lo_pd(b), w->lo);
  w->hi = _mm512_fmadd_pd(hi_pd(a), hi_pd(b), w->hi);
}
static inline double w_hsum(VA w) { return _mm512_reduce_add_pd(_mm512_add_pd(w.lo, w.hi)); }

#else /* --------------------------------------------------------- double */

#define T double
#define VW 8
typedef __m512d V;
typedef __mmask8 VM;

static inline VM part_mask(size_t r) { return (VM)((1u << r) - 1u); } /* r < VW */
static inline V v_load(const T *p) { return _mm512_loadu_pd(p); }
static inline void v_store(T *p, V v) { _mm512_storeu_pd(p, v); }
static inline V v_load_part(const T *p, size_t r, T fill) {
  return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), part_mask(r), p);
}
static inline void v_store_part(T *p, size_t r, V v) { _mm512_mask_storeu_pd(p, part_mask(r), v); }
static inline void v_stream(T *p, V v) { _mm512_stream_pd(p, v); }
static inline V v_set1(T x) { return _mm512_set1_pd(x); }
static inline V v_add(V a, V b) { return _mm512_add_pd(a, b); }
static inline V v_sub(V a, V b) { return _mm512_sub_pd(a, b); }
static inline V v_mul(V a, V b) { return _mm512_mul_pd(a, b); }
static inline V v_div(V a, V b) { return _mm512_div_pd(a, b); }
static inline V v_fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
static inline V v_max(V a, V b) { return _mm512_max_pd(a, b); }
static inline V v_exp(V x) { return Sleef_expd8_u10avx512f(x); }
static inline T v_hmax(V a) { return _mm512_reduce_max_pd(a); }
static inline VM v_eq(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
static inline VM v_unord(V a) { return _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q); }
static inline V v_select(VM m, V a, V b) { return _mm512_mask_blend_pd(m, b, a); }

/* Kahan-compensated lanes: s - c is the sum */
typedef struct {
  __m512d s, c;
} VA;
static inline VA w_zero(void) {
  VA w = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  return w;
}
static inline void w_add(VA *w, V x) {
  const __m512d y = _mm512_sub_pd(x, w->c);
  const __m512d t = _mm512_add_pd(w->s, y);
  w->c = _mm512_sub_pd(_mm512_sub_pd(t, w->s), y);
  w->s = t;
}
/* Products add to the plain lane sum, like the scalar twin: Kahan's
   correction would turn an overflow to +inf into NaN (inf - inf). */
static inline void w_addmul(VA *w, V a, V b) { w->s = _mm512_fmadd_pd(a, b, w->s); }
static inline double w_hsum(VA w) { return _mm512_reduce_add_pd(_mm512_sub_pd(w.s, w.c)); }

#endif

/* Double vectors whatever T is: the per-row log1p and exp of the
   cross-entropy's short-row blocks (kernels_simd.h, d_map). */
#define DW 8
typedef __m512d VD;
static inline VD d_load(const double *p) { return _mm512_loadu_pd(p); }
static inline void d_store(double *p, VD v) { _mm512_storeu_pd(p, v); }
static inline VD d_log1p(VD x) { return Sleef_log1pd8_u10avx512f(x); }
static inline VD d_exp(VD x) { return Sleef_expd8_u10avx512f(x); }

static inline VM vm_or(VM a, VM b) { return (VM)(a | b); }
static inline bool vm_any(VM m) { return m != 0; }
static inline unsigned vm_count(VM m) { return (unsigned)__builtin_popcount((unsigned)m); }
static inline unsigned vm_first(VM m) { return m ? (unsigned)__builtin_ctz((unsigned)m) : VW; }

/* vector registers of the ISA (the matrix products size their register
   tiles by it, kernels_simd.h) */
#define SIMD_VREGS 32

/* v_transpose(r): the VW x VW block of rows r[0..VW) transposed in place
   (r[c] lane i becomes the old r[i] lane c); SIMD_HAVE_TRANSPOSE says the
   layer has it. Unpacks within 128-bit lanes, then 128-bit lane shuffles.
   Always inlined: out of line it costs its 16 vectors through memory (GCC
   12 stopped inlining it once the forward had a second caller). */
#define SIMD_HAVE_TRANSPOSE 1
#if !SIMD_F64
static inline __attribute__((always_inline)) void v_transpose(V r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), e = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
  }
  /* r[4 g + c], lane L: rows 4g..4g+3 of column 4 L + c */
  for (int c = 0; c < 4; c++) {
    const __m512 t0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
    const __m512 t1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
    const __m512 t2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    const __m512 t3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
    t[c] = _mm512_shuffle_f32x4(t0, t2, 0x88);
    t[8 + c] = _mm512_shuffle_f32x4(t0, t2, 0xdd);
    t[4 + c] = _mm512_shuffle_f32x4(t1, t3, 0x88);
    t[12 + c] = _mm512_shuffle_f32x4(t1, t3, 0xdd);
  }
  for (int i = 0; i < 16; i++) r[i] = t[i];
}
#else
static inline __attribute__((always_inline)) void v_transpose(V r[8]) {
  __m512d t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
  }
  for (int g = 0; g < 8; g += 4) {
    u[g] = _mm512_shuffle_f64x2(t[g], t[g + 2], 0x88);
    u[g + 1] = _mm512_shuffle_f64x2(t[g], t[g + 2], 0xdd);
    u[g + 2] = _mm512_shuffle_f64x2(t[g + 1], t[g + 3], 0x88);
    u[g + 3] = _mm512_shuffle_f64x2(t[g + 1], t[g + 3], 0xdd);
  }
  /* u[g + m]: columns {0, 4}, {2, 6}, {1, 5}, {3, 7} for m = 0..3 */
  static const int col[4] = {0, 2, 1, 3};
  for (int m = 0; m < 4; m++) {
    r[col[m]] = _mm512_shuffle_f64x2(u[m], u[4 + m], 0x88);
    r[col[m] + 4] = _mm512_shuffle_f64x2(u[m], u[4 + m], 0xdd);
  }
}
#endif
