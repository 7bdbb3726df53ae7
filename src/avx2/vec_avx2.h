/*
 * vec_avx2.h - the vector layer of src/kernels_simd.h for AVX2 + FMA with
 * SLEEF's avx2 exp. Included by the two dtype files of this folder after
 * defining SIMD_F64 to 0 or 1; compiled only with this folder's flags.
 *
 * Tails use VMASKMOV: lanes outside the mask are neither read nor written
 * (no fault past the end of a buffer), then blended with the fill value.
 * Masks are compare results (all-ones lanes); VM is the same vector type.
 */
#include <immintrin.h>
#include <sleef.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* non-temporal stores (v_stream) and the fence that orders them */
#define SIMD_HAVE_STREAM 1
static inline void v_stream_fence(void) { _mm_sfence(); }

#if !SIMD_F64 /* ------------------------------------------------ float */

#define T float
#define VW 8
typedef __m256 V;
typedef __m256 VM;

/* part_mask(r): the first r lanes set, read from a sliding window. */
static inline __m256i part_mask(size_t r) { /* r < VW */
  static const int32_t win[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(const void *)(win + 8 - r));
}
static inline V v_load(const T *p) { return _mm256_loadu_ps(p); }
static inline void v_store(T *p, V v) { _mm256_storeu_ps(p, v); }
/* non-temporal store, p aligned to the vector (32 bytes) */
static inline void v_stream(T *p, V v) { _mm256_stream_ps(p, v); }
static inline V v_load_part(const T *p, size_t r, T fill) {
  const __m256i m = part_mask(r);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline void v_store_part(T *p, size_t r, V v) { _mm256_maskstore_ps(p, part_mask(r), v); }
static inline V v_set1(T x) { return _mm256_set1_ps(x); }
static inline V v_add(V a, V b) { return _mm256_add_ps(a, b); }
static inline V v_sub(V a, V b) { return _mm256_sub_ps(a, b); }
static inline V v_mul(V a, V b) { return _mm256_mul_ps(a, b); }
static inline V v_div(V a, V b) { return _mm256_div_ps(a, b); }
static inline V v_fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
/* VMAXPS returns its second operand when either is NaN */
static inline V v_max(V a, V b) { return _mm256_max_ps(a, b); }
static inline V v_exp(V x) { return Sleef_expf8_u10avx2(x); }
static inline T v_hmax(V a) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
static inline VM v_eq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
static inline VM v_unord(V a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
static inline V v_select(VM m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
static inline VM vm_or(VM a, VM b) { return _mm256_or_ps(a, b); }
static inline unsigned vm_bits(VM m) { return (unsigned)_mm256_movemask_ps(m); }

/* 8 float lanes widened into two vectors of 4 doubles */
typedef struct {
  __m256d lo, hi;
} VA;
static inline __m256d lo_pd(V v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
static inline __m256d hi_pd(V v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
static inline VA w_zero(void) {
  VA w = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  return w;
}
static inline void w_add(VA *w, V v) {
  w->lo = _mm256_add_pd(w->lo, lo_pd(v));
  w->hi = _mm256_add_pd(w->hi, hi_pd(v));
}
static inline void w_addmul(VA *w, V a, V b) {
  w->lo = _mm256_fmadd_pd(lo_pd(a), lo_pd(b), w->lo);
  w->hi = _mm256_fmadd_pd(hi_pd(a), hi_pd(b), w->hi);
}
static inline double hsum_pd(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}
static inline double w_hsum(VA w) { return hsum_pd(_mm256_add_pd(w.lo, w.hi)); }

#else /* --------------------------------------------------------- double */

#define T double
#define VW 4
typedef __m256d V;
typedef __m256d VM;

static inline __m256i part_mask(size_t r) { /* r < VW */
  static const int64_t win[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(const void *)(win + 4 - r));
}
static inline V v_load(const T *p) { return _mm256_loadu_pd(p); }
static inline void v_store(T *p, V v) { _mm256_storeu_pd(p, v); }
static inline void v_stream(T *p, V v) { _mm256_stream_pd(p, v); }
static inline V v_load_part(const T *p, size_t r, T fill) {
  const __m256i m = part_mask(r);
  return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m));
}
static inline void v_store_part(T *p, size_t r, V v) { _mm256_maskstore_pd(p, part_mask(r), v); }
static inline V v_set1(T x) { return _mm256_set1_pd(x); }
static inline V v_add(V a, V b) { return _mm256_add_pd(a, b); }
static inline V v_sub(V a, V b) { return _mm256_sub_pd(a, b); }
static inline V v_mul(V a, V b) { return _mm256_mul_pd(a, b); }
static inline V v_div(V a, V b) { return _mm256_div_pd(a, b); }
static inline V v_fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
static inline V v_max(V a, V b) { return _mm256_max_pd(a, b); }
static inline V v_exp(V x) { return Sleef_expd4_u10avx2(x); }
static inline T v_hmax(V a) {
  __m128d m = _mm_max_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  m = _mm_max_sd(m, _mm_unpackhi_pd(m, m));
  return _mm_cvtsd_f64(m);
}
static inline VM v_eq(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
static inline VM v_unord(V a) { return _mm256_cmp_pd(a, a, _CMP_UNORD_Q); }
static inline V v_select(VM m, V a, V b) { return _mm256_blendv_pd(b, a, m); }
static inline VM vm_or(VM a, VM b) { return _mm256_or_pd(a, b); }
static inline unsigned vm_bits(VM m) { return (unsigned)_mm256_movemask_pd(m); }

/* Kahan-compensated lanes: s - c is the sum */
typedef struct {
  __m256d s, c;
} VA;
static inline VA w_zero(void) {
  VA w = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  return w;
}
static inline void w_add(VA *w, V x) {
  const __m256d y = _mm256_sub_pd(x, w->c);
  const __m256d t = _mm256_add_pd(w->s, y);
  w->c = _mm256_sub_pd(_mm256_sub_pd(t, w->s), y);
  w->s = t;
}
/* Products add to the plain lane sum, like the scalar twin: Kahan's
   correction would turn an overflow to +inf into NaN (inf - inf). */
static inline void w_addmul(VA *w, V a, V b) { w->s = _mm256_fmadd_pd(a, b, w->s); }
static inline double w_hsum(VA w) {
  const __m256d v = _mm256_sub_pd(w.s, w.c);
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

#endif

/* Double vectors whatever T is: the per-row log1p and exp of the
   cross-entropy's short-row blocks (kernels_simd.h, d_map). */
#define DW 4
typedef __m256d VD;
static inline VD d_load(const double *p) { return _mm256_loadu_pd(p); }
static inline void d_store(double *p, VD v) { _mm256_storeu_pd(p, v); }
static inline VD d_log1p(VD x) { return Sleef_log1pd4_u10avx2(x); }
static inline VD d_exp(VD x) { return Sleef_expd4_u10avx2(x); }

static inline bool vm_any(VM m) { return vm_bits(m) != 0; }
static inline unsigned vm_count(VM m) { return (unsigned)__builtin_popcount(vm_bits(m)); }
static inline unsigned vm_first(VM m) {
  const unsigned b = vm_bits(m);
  return b ? (unsigned)__builtin_ctz(b) : VW;
}

/* vector registers of the ISA (the matrix products size their register
   tiles by it, kernels_simd.h) */
#define SIMD_VREGS 16

/* v_transpose(r): the VW x VW block of rows r[0..VW) transposed in place
   (r[c] lane i becomes the old r[i] lane c); SIMD_HAVE_TRANSPOSE says the
   layer has it. Unpacks within 128-bit lanes, then a lane exchange.
   Always inlined, as in vec_avx512.h. */
#define SIMD_HAVE_TRANSPOSE 1
#if !SIMD_F64
static inline __attribute__((always_inline)) void v_transpose(V r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 8; g += 4) {
    u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
    u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  /* u[4 g + c], lane L: rows 4g..4g+3 of column 4 L + c */
  for (int c = 0; c < 4; c++) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}
#else
static inline __attribute__((always_inline)) void v_transpose(V r[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
#endif
