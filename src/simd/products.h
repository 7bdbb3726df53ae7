/*
 * simd/products.h - the matrix products: linear_forward (Z = X W + b)
 * and xt_g (dW (+)= X^T G) with their register tiles and their tasks on
 * smr's threads, and colsum (db (+)= column sums of G).
 *
 * Part of the SIMD kernel body: included by src/kernels_simd.h only, once per
 * ISA and dtype, after the vector layer (simd/vec_contract.h). No include
 * guard on purpose.
 */

/* ------------------------------------------------------------------------ */
/* Matrix products                                                           */
/* ------------------------------------------------------------------------ */

/* linear_forward (Z = X W + b) and xt_g (dW (+)= X^T G) are both
   C (+)= A B with B row-major and C row-major, the shape of a GEMM, and run
   through one cache- and register-blocked loop nest (GotoBLAS's, without
   packing A):
     - the depth (the summed dimension: d for linear_forward, n for xt_g)
       is cut into blocks of GEMM_KC, and the rows of C into blocks of
       GEMM_MC, so that A's block (GEMM_MC x GEMM_KC) stays in L2 while
       every panel of B passes over it. linear_forward takes X's row blocks
       outermost, so X is read front to back (with k = 10 and d = 784, the
       depth outermost made that read strided and twice as slow);
     - B's block is copied, GEMM_NR vectors wide, into a contiguous panel
       on the stack (GEMM_PANEL_BYTES, in L1), zero-padded past k;
     - a register tile of GEMM_MR rows x GEMM_NR vectors of C takes one
       broadcast element of A per row and one panel row per step.
   Every element of C still starts at b (or 0, or dW) and takes its
   products in the order of the depth index, one fused multiply-add each:
   the same operations, in the same order, as the plain axpy loops these
   replace, so the result does not depend on the blocking. */
#define GEMM_MR 6 /* rows per register tile */
#define GEMM_NR 2 /* vectors per row of the tile: 12 accumulators, 16 registers */
#define GEMM_PANEL_BYTES 16384
#define GEMM_KC (GEMM_PANEL_BYTES / (GEMM_NR * VW * sizeof(T)))
#define GEMM_MC ((size_t)(128 << 10) / (GEMM_KC * sizeof(T)))

#if defined(__GNUC__)
#define GEMM_INLINE inline __attribute__((always_inline))
#else
#define GEMM_INLINE inline
#endif

static inline size_t gemm_min(size_t a, size_t b) { return a < b ? a : b; }

/* Vector q of a row of w elements, q VW < w (the lanes past w read as 0).
   A partial vector is the row's last, with w % VW lanes (so written, the
   compiler also sees that it is below VW). */
static inline V gemm_ld(const T *row, size_t q, size_t w) {
  return (q + 1) * VW <= w ? v_load(row + q * VW) : v_load_part(row + q * VW, w % VW, (T)0);
}

/* Stores vector q of a row of w elements, q VW < w (nothing past w). */
static inline void gemm_st(T *row, size_t q, size_t w, V v) {
  if ((q + 1) * VW <= w)
    v_store(row + q * VW, v);
  else
    v_store_part(row + q * VW, w % VW, v);
}

/* The panel: bp[p][0..nr VW) = B[p ldb + 0..w), zero past w, p < kc. */
static void gemm_pack(T *bp, const T *B, size_t ldb, size_t kc, size_t w, size_t nr) {
  for (size_t p = 0; p < kc; p++, B += ldb, bp += nr * VW)
    for (size_t q = 0; q < nr; q++) v_store(bp + q * VW, gemm_ld(B, q, w));
}

/* The register tile: for r < MR, C[r ldc + 0..w) = start_r + sum over
   p < kc of A(r, p) * bp[p], A(r, p) = a[r ar + p ap], where start_r is
   s[r lds + 0..w) (s == NULL: 0). MR and NR are constants at every call
   site (the loops unroll and acc lives in registers). pf > 0 (only with
   ap == 1, linear_forward): at each cache line of the depth, the same line
   of the pf rows after the tile's is prefetched, the next tile's X. The
   hardware prefetcher does not follow X's rows read 512 bytes at a time
   with a stride of d (docs/BENCHMARKS.md, "The tuning constants"). */
static GEMM_INLINE void gemm_tile(const size_t MR, const size_t NR, const T *a, size_t ar,
                                  size_t ap, const T *bp, size_t kc, const T *s, size_t lds,
                                  T *c, size_t ldc, size_t w, size_t pf) {
  V acc[GEMM_MR][GEMM_NR];
  for (size_t r = 0; r < MR; r++)
    for (size_t q = 0; q < NR; q++)
      acc[r][q] = s != NULL ? gemm_ld(s + r * lds, q, w) : v_set1((T)0);
  const size_t line = pf > 0 ? 64 / sizeof(T) : kc; /* depth steps per prefetch */
  for (size_t p0 = 0; p0 < kc; p0 += line) {
    for (size_t r = 0; r < pf; r++) __builtin_prefetch(a + (MR + r) * ar);
    for (size_t p = p0, p1 = gemm_min(p0 + line, kc); p < p1; p++, a += ap, bp += NR * VW) {
      V bv[GEMM_NR];
      for (size_t q = 0; q < NR; q++) bv[q] = v_load(bp + q * VW);
      for (size_t r = 0; r < MR; r++) {
        const V x = v_set1(a[r * ar]);
        for (size_t q = 0; q < NR; q++) acc[r][q] = v_fma(x, bv[q], acc[r][q]);
      }
    }
  }
  for (size_t r = 0; r < MR; r++)
    for (size_t q = 0; q < NR; q++) gemm_st(c + r * ldc, q, w, acc[r][q]);
}

/* m rows of C against one panel of NR vectors: GEMM_MR rows at a time,
   then 4, 2, 1 for the rest. A's rows are ar apart (and A's depth ap).
   With ap == 1 each full tile prefetches the rows of the next. */
static GEMM_INLINE void gemm_rows(const size_t NR, size_t m, const T *a, size_t ar, size_t ap,
                                  const T *bp, size_t kc, const T *s, size_t lds, T *c,
                                  size_t ldc, size_t w) {
  size_t i = 0;
  for (; i + GEMM_MR <= m; i += GEMM_MR)
    gemm_tile(GEMM_MR, NR, a + i * ar, ar, ap, bp, kc, s ? s + i * lds : s, lds, c + i * ldc,
              ldc, w, ap == 1 ? gemm_min(GEMM_MR, m - i - GEMM_MR) : 0);
#define GEMM_REST(MR)                                                          \
  do {                                                                         \
    gemm_tile(MR, NR, a + i * ar, ar, ap, bp, kc, s ? s + i * lds : s, lds,    \
              c + i * ldc, ldc, w, 0);                                         \
    i += MR;                                                                   \
  } while (0)
  if (GEMM_MR > 4 && m - i >= 4) GEMM_REST(4);
  if (m - i >= 2) GEMM_REST(2);
  if (m - i >= 1) GEMM_REST(1);
#undef GEMM_REST
}

/* The same with nr (1..GEMM_NR, the panel's width in vectors) made a
   constant; ar == 1 (xt_g) or ap == 1 (linear_forward) as constants too. */
#define GEMM_ROWS_NR(NR)                                                       \
  do {                                                                         \
    if (ar == 1)                                                               \
      gemm_rows(NR, m, a, 1, ap, bp, kc, s, lds, c, ldc, w);                   \
    else                                                                       \
      gemm_rows(NR, m, a, ar, 1, bp, kc, s, lds, c, ldc, w);                   \
  } while (0)

static void gemm_panel(size_t nr, size_t m, const T *a, size_t ar, size_t ap, const T *bp,
                       size_t kc, const T *s, size_t lds, T *c, size_t ldc, size_t w) {
  if (nr == 1)
    GEMM_ROWS_NR(1);
  else
    GEMM_ROWS_NR(2);
}
#undef GEMM_ROWS_NR

#if SIMD_HAVE_TRANSPOSE
/* The narrow forward turned around, Z^T = W^T X^T: with k = 10 of 16
   lanes the tile above wastes 6 lanes of every FMA; here VW rows of X are
   loaded VW columns at a time and transposed in registers (v_transpose),
   so lane r of the vector for depth f holds X_(i0+r)f, and column j of Z
   for the VW rows takes k FMAs per depth step, one per class: VW k FMAs
   per VW x VW block of X instead of VW^2 ceil(k / VW), plus the transpose.
   Z_ij still starts at b_j and takes X_if W_fj for f in order, one fused
   multiply-add each: the same bits. Needs VW vectors of X and k
   accumulators in the register file: k <= FWDT_MAX_K. */
#define FWDT_MAX_K (SIMD_VREGS - VW - 1 < VW ? SIMD_VREGS - VW - 1 : VW)
/* Up to this k it beats the tile above (docs/BENCHMARKS.md, "The tuning
   constants"): the transpose's shuffles cost about as much as the lanes
   saved once k is near VW. */
#define FWDT_USE_MAX_K (VW == 16 ? 13 : FWDT_MAX_K)

/* rows (<= VW) rows of Z at i0 = 0 of X, Z; K a constant. */
static GEMM_INLINE void fwdt_block(const size_t K, const T *X, const T *W, const T *b, T *Z,
                                   size_t rows, size_t d, size_t pf) {
  V acc[VW];
  for (size_t j = 0; j < K; j++) acc[j] = v_set1(b[j]);
  for (size_t f0 = 0; f0 < d; f0 += VW) {
    const size_t w = gemm_min(VW, d - f0);
    V xt[VW];
    /* the next block's rows, same columns, into L2 (into L1 was slower: it
       evicts the block being transposed) */
    for (size_t r = 0; r < pf; r++) __builtin_prefetch(X + (VW + r) * d + f0, 0, 2);
    for (size_t r = 0; r < VW; r++)
      xt[r] = r >= rows ? v_set1((T)0)
              : w == VW ? v_load(X + r * d + f0)
                        : v_load_part(X + r * d + f0, w, (T)0);
    v_transpose(xt);
    const T *wf = W + f0 * K;
    if (w == VW) {
      for (size_t q = 0; q < VW; q++)
        for (size_t j = 0; j < K; j++) acc[j] = v_fma(v_set1(wf[q * K + j]), xt[q], acc[j]);
    } else {
      for (size_t q = 0; q < w; q++)
        for (size_t j = 0; j < K; j++) acc[j] = v_fma(v_set1(wf[q * K + j]), xt[q], acc[j]);
    }
  }
  for (size_t j = K; j < VW; j++) acc[j] = v_set1((T)0);
  v_transpose(acc);
  for (size_t r = 0; r < rows; r++)
    if (K == VW)
      v_store(Z + r * K, acc[r]);
    else
      v_store_part(Z + r * K, K, acc[r]);
}

static GEMM_INLINE void fwdt_rows(const size_t K, const T *X, const T *W, const T *b, T *Z,
                                  size_t n, size_t d) {
  for (size_t i = 0; i < n; i += VW) {
    const size_t rows = gemm_min(VW, n - i);
    fwdt_block(K, X + i * d, W, b, Z + i * K, rows, d,
               n - i > VW ? gemm_min(VW, n - i - VW) : 0);
  }
}

static void fwdt(const T *X, const T *W, const T *b, T *Z, size_t n, size_t d, size_t k) {
  switch (k) {
#define FWDT_CASE(K)                                                           \
  case K:                                                                      \
    if (K <= FWDT_MAX_K) fwdt_rows(K <= FWDT_MAX_K ? K : 1, X, W, b, Z, n, d); \
    break;
    FWDT_CASE(1) FWDT_CASE(2) FWDT_CASE(3) FWDT_CASE(4) FWDT_CASE(5) FWDT_CASE(6)
    FWDT_CASE(7) FWDT_CASE(8) FWDT_CASE(9) FWDT_CASE(10) FWDT_CASE(11) FWDT_CASE(12)
    FWDT_CASE(13) FWDT_CASE(14) FWDT_CASE(15) FWDT_CASE(16)
#undef FWDT_CASE
  default:
    break;
  }
}
#endif

/* Rows [0, n) of Z = X W + b on the calling thread. */
static void forward_rows(const T *X, const T *W, const T *b, T *Z, size_t n, size_t d, size_t k) {
#if SIMD_HAVE_TRANSPOSE
  if (k <= FWDT_USE_MAX_K) {
    fwdt(X, W, b, Z, n, d, k);
    return;
  }
#endif
  _Alignas(64) T wp[GEMM_KC * GEMM_NR * VW];
  for (size_t ic = 0; ic < n; ic += GEMM_MC) {
    const size_t mc = gemm_min(GEMM_MC, n - ic);
    for (size_t pc = 0; pc < d; pc += GEMM_KC) {
      const size_t kc = gemm_min(GEMM_KC, d - pc);
      for (size_t jc = 0; jc < k; jc += GEMM_NR * VW) {
        const size_t w = gemm_min(GEMM_NR * VW, k - jc), nr = (w + VW - 1) / VW;
        gemm_pack(wp, W + pc * k + jc, k, kc, w, nr);
        T *c = Z + ic * k + jc;
        /* the first depth block starts from b, the others from Z */
        gemm_panel(nr, mc, X + ic * d + pc, d, 1, wp, kc, pc == 0 ? b + jc : c, pc == 0 ? 0 : k,
                   c, k, w);
      }
    }
  }
}

typedef struct {
  const T *X, *W, *b;
  T *Z;
  size_t n, d, k, rows;
} fwd_job;

static void fwd_task(void *arg, size_t t) {
  const fwd_job *j = arg;
  const size_t r0 = t * j->rows;
  forward_rows(j->X + r0 * j->d, j->W, j->b, j->Z + r0 * j->k, gemm_min(j->rows, j->n - r0),
               j->d, j->k);
}

/* Z = X W + b: Z_ij starts at b_j and takes X_if W_fj for f in order.
   Each row of Z depends on its row of X alone, so the rows can be cut into
   tasks anyhow: the result is the single call's bit for bit, on any
   thread count. Two tasks per thread. */
static void simd_linear_forward(const T *X, const T *W, const T *b, T *Z, size_t n, size_t d,
                                size_t k) {
  const size_t threads = n * d * k >= SMR_PRODUCT_PAR_MIN ? smr_threads_count() : 1;
  /* rows per task: whole register tiles (VW-row blocks transposed, else
     GEMM_MR rows), so only the last task has a tail */
#if SIMD_HAVE_TRANSPOSE
  const size_t quantum = k <= FWDT_USE_MAX_K ? VW : GEMM_MR;
#else
  const size_t quantum = GEMM_MR;
#endif
  if (threads <= 1 || n <= quantum) {
    forward_rows(X, W, b, Z, n, d, k);
    return;
  }
  size_t rows = (n + 2 * threads - 1) / (2 * threads);
  rows = (rows + quantum - 1) / quantum * quantum;
  fwd_job j = {X, W, b, Z, n, d, k, rows};
  smr_parallel_for((n + rows - 1) / rows, fwd_task, &j);
}

/* Columns [j0, j1) of dW (+)= X^T G in the orientation above (C = dW,
   d x k): the GEMM for wide k. dW_fj starts at 0 (or dW_fj) and takes
   X_if G_ij for i in order. n >= 1; j0 a multiple of the panel width. */
static void xtg_wide(const T *X, const T *G, T *dW, size_t n, size_t d, size_t k,
                     bool accumulate, size_t j0, size_t j1) {
  _Alignas(64) T gp[GEMM_KC * GEMM_NR * VW];
  for (size_t ic = 0; ic < n; ic += GEMM_KC) {
    const size_t kc = gemm_min(GEMM_KC, n - ic);
    const bool from_zero = ic == 0 && !accumulate;
    for (size_t fc = 0; fc < d; fc += GEMM_MC) {
      const size_t mc = gemm_min(GEMM_MC, d - fc);
      for (size_t jc = j0; jc < j1; jc += GEMM_NR * VW) {
        const size_t w = gemm_min(GEMM_NR * VW, j1 - jc), nr = (w + VW - 1) / VW;
        gemm_pack(gp, G + ic * k + jc, k, kc, w, nr);
        T *c = dW + fc * k + jc;
        gemm_panel(nr, mc, X + ic * d + fc, 1, d, gp, kc, from_zero ? NULL : c, k, c, k, w);
      }
    }
  }
}

/* Narrow xt_g: dW^T (k x d) = G^T X. With k = 10 and 16 lanes, the
   orientation above wastes 6 of every 16 lanes (C's rows are k wide);
   turned around, the vectors run along d, which has no such waste, and the
   register tile is k rows of dW^T (a broadcast G_ij each) by XTG_NV
   vectors of X's row i. Each element still starts at 0 (or dW_fj) and
   takes X_if G_ij for i in order, one fused multiply-add each: the same
   operations as xtg_wide, so the same bits (tests/checkasm checks both against
   a chain of fmaf / fma).
     - d is cut into chunks whose k x dc block of dW^T fits the scratch
       (XTG_SCRATCH_BYTES on the stack: the kernels never allocate, and
       the pool's threads have glibc's default stacks): dW's block is
       transposed into it at the start and back at the end (O(d k), next
       to O(n d k));
     - within a chunk, n is cut into blocks of XTG_KC rows, each block
       runs over the chunk's tiles: a tile's X slice (XTG_KC rows of
       XTG_NV vectors) stays in L1 while the k rows pass over it in
       chunks of at most XTG_MR;
     - the first chunk of a tile prefetches the same columns of the next
       block's rows into L2: walking X a column tile at a time, with a
       stride of d, defeats the hardware prefetcher (docs/BENCHMARKS.md,
       "The tuning constants").
   XTG_MR x XTG_NV accumulators, XTG_NV vectors of X and a broadcast fill
   the register file (SIMD_VREGS). */
#define XTG_NV 2
#define XTG_MR ((SIMD_VREGS - 2 * XTG_NV) / XTG_NV)
#define XTG_KC 32
#define XTG_SCRATCH_BYTES 65536
#define XTG_SCRATCH (XTG_SCRATCH_BYTES / sizeof(T))
#define XTG_NARROW_MAX_K 64 /* the narrow path for k up to this, xtg_wide above */
_Static_assert(XTG_MR >= 1 && XTG_MR <= 14, "xtg_tile_mr instantiates mr = 1..14");
_Static_assert(XTG_SCRATCH / XTG_NARROW_MAX_K >= XTG_NV * VW, "a tile's columns fit the scratch");

/* Rows r < MR of dW^T's tile at s (row stride lds): for NV vectors (the
   last one w % VW wide when PART) of columns, add X_if G_ij for the kc
   rows i of x (stride ldx) and g (stride ldg). */
static GEMM_INLINE void xtg_tile(const size_t MR, const size_t NV, const bool PART, const T *x,
                                 size_t ldx, const T *g, size_t ldg, size_t kc, T *s, size_t lds,
                                 size_t w, size_t pf) {
  V acc[XTG_MR][XTG_NV];
  for (size_t r = 0; r < MR; r++)
    for (size_t q = 0; q < NV; q++) acc[r][q] = v_load(s + r * lds + q * VW);
  for (size_t p = 0; p < kc; p++, x += ldx, g += ldg) {
    if (p < pf)
      for (size_t q = 0; q < NV; q++) __builtin_prefetch(x + XTG_KC * ldx + q * VW, 0, 2);
    V xv[XTG_NV];
    for (size_t q = 0; q < NV; q++)
      xv[q] = PART && q == NV - 1 ? v_load_part(x + q * VW, w % VW, (T)0) : v_load(x + q * VW);
    for (size_t r = 0; r < MR; r++) {
      const V gv = v_set1(g[r]);
      for (size_t q = 0; q < NV; q++) acc[r][q] = v_fma(gv, xv[q], acc[r][q]);
    }
  }
  for (size_t r = 0; r < MR; r++)
    for (size_t q = 0; q < NV; q++) v_store(s + r * lds + q * VW, acc[r][q]);
}

/* xtg_tile with mr (1..XTG_MR) made a constant. */
static GEMM_INLINE void xtg_tile_mr(size_t mr, const size_t NV, const bool PART, const T *x,
                                    size_t ldx, const T *g, size_t ldg, size_t kc, T *s,
                                    size_t lds, size_t w, size_t pf) {
  /* cases past XTG_MR never run: compiled out (the clamp keeps acc's
     bounds in the dead code) */
  switch (mr) {
#define XTG_CASE(MR)                                                           \
  case MR:                                                                     \
    if (MR <= XTG_MR)                                                          \
      xtg_tile(MR <= XTG_MR ? MR : 1, NV, PART, x, ldx, g, ldg, kc, s, lds, w, pf); \
    break;
    XTG_CASE(1) XTG_CASE(2) XTG_CASE(3) XTG_CASE(4) XTG_CASE(5) XTG_CASE(6) XTG_CASE(7)
    XTG_CASE(8) XTG_CASE(9) XTG_CASE(10) XTG_CASE(11) XTG_CASE(12) XTG_CASE(13) XTG_CASE(14)
#undef XTG_CASE
  default:
    break;
  }
}

/* One tile of w columns (NV vectors, the last partial when PART) over all
   k rows of dW^T, in chunks of mr rows (the last may be shorter). */
static GEMM_INLINE void xtg_tile_k(const size_t NV, const bool PART, const T *x, size_t ldx,
                                   const T *g, size_t k, size_t mr, size_t kc, T *s, size_t lds,
                                   size_t w, size_t pf) {
  for (size_t j = 0; j < k; j += mr)
    xtg_tile_mr(gemm_min(mr, k - j), NV, PART, x, ldx, g + j, k, kc, s + j * lds, lds, w,
                j == 0 ? pf : 0);
}

/* Columns [f0, f1) of dW (+)= X^T G, n >= 1. */
static void xtg_narrow(const T *X, const T *G, T *dW, size_t n, size_t d, size_t k,
                       bool accumulate, size_t f0, size_t f1) {
  _Alignas(64) T s[XTG_SCRATCH];
  const size_t step = XTG_NV * VW;
  const size_t dc_max = XTG_SCRATCH / k / step * step;
  /* rows of dW^T in chunks of at most XTG_MR, as even as possible */
  const size_t chunks = (k + XTG_MR - 1) / XTG_MR, mr = (k + chunks - 1) / chunks;
  for (size_t fc = f0; fc < f1; fc += dc_max) {
    const size_t dc = gemm_min(dc_max, f1 - fc), lds = (dc + VW - 1) / VW * VW;
    for (size_t j = 0; j < k; j++)
      for (size_t c = 0; c < lds; c++)
        s[j * lds + c] = accumulate && c < dc ? dW[(fc + c) * k + j] : (T)0;
    for (size_t ic = 0; ic < n; ic += XTG_KC) {
      const size_t kc = gemm_min(XTG_KC, n - ic);
      /* rows of the next block to prefetch, during this one's first rows */
      const size_t pf = n - ic > XTG_KC ? gemm_min(XTG_KC, n - ic - XTG_KC) : 0;
      const T *x = X + ic * d + fc, *g = G + ic * k;
      size_t c = 0;
      for (; c + step <= dc; c += step)
        xtg_tile_k(XTG_NV, false, x + c, d, g, k, mr, kc, s + c, lds, step, pf);
      for (; c + VW <= dc; c += VW)
        xtg_tile_k(1, false, x + c, d, g, k, mr, kc, s + c, lds, VW, pf);
      if (c < dc) xtg_tile_k(1, true, x + c, d, g, k, mr, kc, s + c, lds, dc - c, pf);
    }
    for (size_t c = 0; c < dc; c++)
      for (size_t j = 0; j < k; j++) dW[(fc + c) * k + j] = s[j * lds + c];
  }
}

/* xt_g in tasks on smr's threads: the narrow one over ranges of d, the
   wide one over ranges of k (whole panels). Each task takes every row i in
   order for its columns, so every element's chain of fused multiply-adds,
   and the result, is the single call's whatever the thread count (the
   count only sets the width of the ranges). Products below SMR_PRODUCT_PAR_MIN stay
   on the calling thread. */
typedef struct {
  const T *X, *G;
  T *dW;
  size_t n, d, k, width;
  bool accumulate;
} xtg_job;

static void xtg_task(void *arg, size_t t) {
  const xtg_job *j = arg;
  const size_t f0 = t * j->width;
  xtg_narrow(j->X, j->G, j->dW, j->n, j->d, j->k, j->accumulate, f0,
             gemm_min(f0 + j->width, j->d));
}

static void xtg_wide_task(void *arg, size_t t) {
  const xtg_job *j = arg;
  const size_t j0 = t * j->width;
  xtg_wide(j->X, j->G, j->dW, j->n, j->d, j->k, j->accumulate, j0, gemm_min(j0 + j->width, j->k));
}

/* dW (+)= X^T G: dW_fj starts at 0 (or dW_fj) and takes X_if G_ij for i in
   order. */
static void simd_xt_g(const T *X, const T *G, T *dW, size_t n, size_t d, size_t k,
                      bool accumulate) {
  if (n == 0) {
    if (!accumulate)
      for (size_t i = 0; i < d * k; i++) dW[i] = (T)0;
    return;
  }
  const size_t threads = n * d * k >= SMR_PRODUCT_PAR_MIN ? smr_threads_count() : 1;
  const size_t vecs = (d + VW - 1) / VW, per = (vecs + threads - 1) / threads;
  /* the wide orientation for k beyond the narrow path, and on one thread
     where it fills more lanes: its vectors per row of X, d ceil(k / VW),
     below the narrow one's k ceil(d / VW) */
  if (k > XTG_NARROW_MAX_K || (per == vecs && d * ((k + VW - 1) / VW) < k * vecs)) {
    const size_t pw = GEMM_NR * VW, panels = (k + pw - 1) / pw;
    const size_t width = (panels + threads - 1) / threads * pw;
    if (threads <= 1 || width >= k) {
      xtg_wide(X, G, dW, n, d, k, accumulate, 0, k);
      return;
    }
    /* one range of whole panels per thread */
    xtg_job j = {X, G, dW, n, d, k, width, accumulate};
    smr_parallel_for((k + width - 1) / width, xtg_wide_task, &j);
    return;
  }
  if (per == vecs) {
    xtg_narrow(X, G, dW, n, d, k, accumulate, 0, d);
    return;
  }
  /* one range per thread, whole vectors (a task's share of each row of X
     is read once, contiguously) */
  xtg_job j = {X, G, dW, n, d, k, per * VW, accumulate};
  smr_parallel_for((d + j.width - 1) / j.width, xtg_task, &j);
}

/* Narrow G (at most COLSUM_VECS vectors a row): the column sums stay in
   registers across the rows. Row by row through db in memory made each
   row's tail load wait on the previous row's masked store (not forwarded
   on Zen 4). */
#define COLSUM_VECS 8

static GEMM_INLINE void colsum_regs(const size_t NV, const T *G, T *db, size_t n, size_t k,
                                    bool accumulate) {
  const size_t full = k / VW, r = k % VW; /* NV = full + (r != 0) */
  V acc[COLSUM_VECS];
  for (size_t q = 0; q < NV; q++)
    acc[q] = !accumulate ? v_set1((T)0) : q < full ? v_load(db + q * VW) : v_load_part(db + q * VW, r, (T)0);
  for (size_t i = 0; i < n; i++, G += k)
    for (size_t q = 0; q < NV; q++)
      acc[q] = v_add(acc[q], q < full ? v_load(G + q * VW) : v_load_part(G + q * VW, r, (T)0));
  for (size_t q = 0; q < NV; q++)
    if (q < full)
      v_store(db + q * VW, acc[q]);
    else
      v_store_part(db + q * VW, r, acc[q]);
}

/* db (+)= column sums of G, rows added in order: the same additions as the
   scalar twin, so the result is identical. Narrow G in registers (above);
   wider G row by row: G is read once, sequentially, while db stays in L1
   (a column-block order would stride through G once per block of
   columns). */
static void simd_colsum(const T *G, T *db, size_t n, size_t k, bool accumulate) {
  switch ((k + VW - 1) / VW) {
#define COLSUM_CASE(NV)                            \
  case NV:                                         \
    colsum_regs(NV, G, db, n, k, accumulate);      \
    return;
    COLSUM_CASE(1)
    COLSUM_CASE(2)
    COLSUM_CASE(3)
    COLSUM_CASE(4)
    COLSUM_CASE(5)
    COLSUM_CASE(6)
    COLSUM_CASE(7)
    COLSUM_CASE(8)
#undef COLSUM_CASE
  default:
    break;
  }
  if (!accumulate)
    for (size_t j = 0; j < k; j++) db[j] = (T)0;
  for (size_t i = 0; i < n; i++) axpy_row(k, v_set1((T)1), G + i * k, db);
}
