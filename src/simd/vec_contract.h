/*
 * simd/vec_contract.h - the vector layer every ISA provides to the SIMD
 * kernels (src/<isa>/vec_<isa>.h), complete: what src/kernels_simd.h and
 * the simd/ family files use, nothing else. Included by kernels_simd.h after the
 * layer; the macros are checked here, the functions by the compiler.
 *
 * Before the layer, the ISA's dtype file defines SIMD_F64 (0: float, 1:
 * double). The layer then defines, for that dtype:
 *
 * Types and sizes
 *   T        the element type (float or double)
 *   V        a vector of VW lanes of T;  VW  lanes per vector
 *   VM       a lane mask
 *   VA       an accumulator of VW lanes in double (f32: the lanes widened
 *            to double; f64: Kahan-compensated lanes)
 *   VD, DW   a vector of DW doubles whatever T is (the per-row log1p and
 *            exp of the cross-entropy's short-row blocks, rows.h d_map)
 *   SIMD_VREGS  vector registers of the ISA (products.h sizes its register
 *            tiles by it)
 *
 * Every function static inline:
 *   V  v_load(const T *p), v_store(T *p, V)           unaligned
 *   V  v_load_part(const T *p, size_t r, T fill)      lanes >= r get fill
 *   void v_store_part(T *p, size_t r, V)              writes lanes < r only
 *   V  v_set1(T), v_add, v_sub, v_mul, v_div, v_fma(a, b, c) = a*b + c
 *   V  v_max(a, b)        max; when a is NaN the result is b (b never NaN)
 *   V  v_exp(V)           SLEEF, 1.0 ulp
 *   T  v_hmax(V)          largest lane (no NaN lanes)
 *   VM v_eq(a, b), v_unord(a)  lane masks (ordered compares)
 *   VM vm_or(VM, VM);  bool vm_any(VM);  unsigned vm_count(VM)
 *   unsigned vm_first(VM)  index of the first set lane, VW when none
 *   V  v_select(VM m, V a, V b)           m ? a : b per lane
 *   VA w_zero(void); void w_add(VA *, V);
 *   void w_addmul(VA *, V a, V b)  adds a*b, exactly formed in double for
 *            f32 (one fused multiply-add per double lane); f64: to the
 *            plain lane sum, outside Kahan's correction
 *   double w_hsum(VA)
 *   VD d_load(const double *), void d_store(double *, VD),
 *   VD d_log1p(VD), VD d_exp(VD)   SLEEF, 1.0 ulp
 *
 * Optional, each with a 0/1 macro:
 *   SIMD_HAVE_STREAM     void v_stream(T *p, V) (a non-temporal store, p
 *                        aligned to the vector's size) and
 *                        void v_stream_fence(void)
 *   SIMD_HAVE_TRANSPOSE  void v_transpose(V r[VW]): the VW x VW block of
 *                        rows r[0..VW) transposed in place (r[c] lane i
 *                        becomes the old r[i] lane c); always inlined (the
 *                        narrow forward product of products.h uses it for
 *                        k <= VW)
 *
 * A new ISA: a folder src/<isa>/ with this layer, two dtype files that
 * include it and kernels_simd.h, an installer, and its line in dispatch.c
 * (docs/ARCHITECTURE.md).
 */

#if !defined(SIMD_F64) || !defined(VW) || !defined(DW) || !defined(SIMD_VREGS)
#error "the vector layer must define SIMD_F64, VW, DW and SIMD_VREGS (simd/vec_contract.h)"
#endif
#if !defined(SIMD_HAVE_STREAM)
#error "the vector layer must say SIMD_HAVE_STREAM 0 or 1 (simd/vec_contract.h)"
#endif
#if !defined(SIMD_HAVE_TRANSPOSE)
#error "the vector layer must say SIMD_HAVE_TRANSPOSE 0 or 1 (simd/vec_contract.h)"
#endif
#if SIMD_VREGS < 16
#error "products.h's register tiles need at least 16 vector registers"
#endif
