/*
 * vec_neon.h - the vector layer of src/kernels_simd.h for AArch64 Advanced
 * SIMD with SLEEF's advsimd exp. Included by the two dtype files of this
 * folder after defining SIMD_F64 to 0 or 1.
 *
 * NEON has no masked loads: a tail is copied through a small stack buffer,
 * so nothing past the end of a row is read or written. Masks are compare
 * results (all-ones lanes).
 */
#include <arm_neon.h>
#include <sleef.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No non-temporal stores: outputs are written through the cache (see
   SIMD_HAVE_STREAM in kernels_simd.h). */
#define SIMD_HAVE_STREAM 0
/* no v_transpose: the narrow forward product uses its other path */
#define SIMD_HAVE_TRANSPOSE 0

#if !SIMD_F64 /* ------------------------------------------------ float */

#define T float
#define VW 4
typedef float32x4_t V;
typedef uint32x4_t VM;

static inline V v_load(const T *p) { return vld1q_f32(p); }
static inline void v_store(T *p, V v) { vst1q_f32(p, v); }
static inline V v_set1(T x) { return vdupq_n_f32(x); }
static inline V v_add(V a, V b) { return vaddq_f32(a, b); }
static inline V v_sub(V a, V b) { return vsubq_f32(a, b); }
static inline V v_mul(V a, V b) { return vmulq_f32(a, b); }
static inline V v_div(V a, V b) { return vdivq_f32(a, b); }
static inline V v_fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
/* FMAXNM returns the number when one operand is NaN (b is never NaN) */
static inline V v_max(V a, V b) { return vmaxnmq_f32(a, b); }
static inline V v_exp(V x) { return Sleef_expf4_u10advsimd(x); }
static inline T v_hmax(V a) { return vmaxnmvq_f32(a); }
static inline VM v_eq(V a, V b) { return vceqq_f32(a, b); }
static inline VM v_unord(V a) { return vmvnq_u32(vceqq_f32(a, a)); }
static inline V v_select(VM m, V a, V b) { return vbslq_f32(m, a, b); }
static inline VM vm_or(VM a, VM b) { return vorrq_u32(a, b); }
static inline bool vm_any(VM m) { return vmaxvq_u32(m) != 0; }
static inline unsigned vm_count(VM m) { return vaddvq_u32(vshrq_n_u32(m, 31)); }
static inline unsigned vm_first(VM m) {
  uint32_t b[VW];
  vst1q_u32(b, m);
  for (unsigned i = 0; i < VW; i++)
    if (b[i]) return i;
  return VW;
}

/* 4 float lanes widened into two vectors of 2 doubles */
typedef struct {
  float64x2_t lo, hi;
} VA;
static inline VA w_zero(void) {
  VA w = {vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
  return w;
}
static inline void w_add(VA *w, V v) {
  w->lo = vaddq_f64(w->lo, vcvt_f64_f32(vget_low_f32(v)));
  w->hi = vaddq_f64(w->hi, vcvt_high_f64_f32(v));
}
static inline void w_addmul(VA *w, V a, V b) {
  w->lo = vfmaq_f64(w->lo, vcvt_f64_f32(vget_low_f32(a)), vcvt_f64_f32(vget_low_f32(b)));
  w->hi = vfmaq_f64(w->hi, vcvt_high_f64_f32(a), vcvt_high_f64_f32(b));
}
static inline double w_hsum(VA w) { return vaddvq_f64(vaddq_f64(w.lo, w.hi)); }

#else /* --------------------------------------------------------- double */

#define T double
#define VW 2
typedef float64x2_t V;
typedef uint64x2_t VM;

static inline V v_load(const T *p) { return vld1q_f64(p); }
static inline void v_store(T *p, V v) { vst1q_f64(p, v); }
static inline V v_set1(T x) { return vdupq_n_f64(x); }
static inline V v_add(V a, V b) { return vaddq_f64(a, b); }
static inline V v_sub(V a, V b) { return vsubq_f64(a, b); }
static inline V v_mul(V a, V b) { return vmulq_f64(a, b); }
static inline V v_div(V a, V b) { return vdivq_f64(a, b); }
static inline V v_fma(V a, V b, V c) { return vfmaq_f64(c, a, b); }
static inline V v_max(V a, V b) { return vmaxnmq_f64(a, b); }
static inline V v_exp(V x) { return Sleef_expd2_u10advsimd(x); }
static inline T v_hmax(V a) { return vmaxnmvq_f64(a); }
static inline VM v_eq(V a, V b) { return vceqq_f64(a, b); }
static inline VM v_unord(V a) {
  return vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(vceqq_f64(a, a))));
}
static inline V v_select(VM m, V a, V b) { return vbslq_f64(m, a, b); }
static inline VM vm_or(VM a, VM b) { return vorrq_u64(a, b); }
static inline bool vm_any(VM m) { return vmaxvq_u32(vreinterpretq_u32_u64(m)) != 0; }
static inline unsigned vm_count(VM m) { return (unsigned)vaddvq_u64(vshrq_n_u64(m, 63)); }
static inline unsigned vm_first(VM m) {
  if (vgetq_lane_u64(m, 0)) return 0;
  return vgetq_lane_u64(m, 1) ? 1 : VW;
}

/* Kahan-compensated lanes: s - c is the sum */
typedef struct {
  float64x2_t s, c;
} VA;
static inline VA w_zero(void) {
  VA w = {vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
  return w;
}
static inline void w_add(VA *w, V x) {
  const float64x2_t y = vsubq_f64(x, w->c);
  const float64x2_t t = vaddq_f64(w->s, y);
  w->c = vsubq_f64(vsubq_f64(t, w->s), y);
  w->s = t;
}
/* Products add to the plain lane sum, like the scalar twin: Kahan's
   correction would turn an overflow to +inf into NaN (inf - inf). */
static inline void w_addmul(VA *w, V a, V b) { w->s = vfmaq_f64(w->s, a, b); }
static inline double w_hsum(VA w) { return vaddvq_f64(vsubq_f64(w.s, w.c)); }

#endif

/* Double vectors whatever T is: the per-row log1p and exp of the
   cross-entropy's short-row blocks (kernels_simd.h, d_map). */
#define DW 2
typedef float64x2_t VD;
static inline VD d_load(const double *p) { return vld1q_f64(p); }
static inline void d_store(double *p, VD v) { vst1q_f64(p, v); }
static inline VD d_log1p(VD x) { return Sleef_log1pd2_u10advsimd(x); }
static inline VD d_exp(VD x) { return Sleef_expd2_u10advsimd(x); }

/* Tails through a stack buffer: only lanes < r touch memory. */
static inline V v_load_part(const T *p, size_t r, T fill) { /* r < VW */
  T b[VW];
  for (size_t i = 0; i < VW; i++) b[i] = i < r ? p[i] : fill;
  return v_load(b);
}
static inline void v_store_part(T *p, size_t r, V v) {
  T b[VW];
  v_store(b, v);
  for (size_t i = 0; i < r; i++) p[i] = b[i];
}

/* vector registers of the ISA (the matrix products size their register
   tiles by it, kernels_simd.h) */
#define SIMD_VREGS 32
