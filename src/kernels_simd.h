/*
 * kernels_simd.h - the SIMD kernels, written once against a small vector
 * layer and compiled once per ISA and dtype.
 *
 * Each src/<isa>/kernels_<isa>_<dtype>.c defines the vector layer of its
 * ISA for one dtype (src/<isa>/vec_<isa>.h), then includes this file, which
 * defines static kernels and
 *
 *   void SIMD_INSTALL(struct SIMD_TABLE *t)
 *
 * that overwrites the entries implemented here. The file is compiled only
 * inside an ISA folder, with that folder's flags; it holds no intrinsics.
 *
 * The vector layer (every function static inline; V holds VW lanes of T):
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
 *   SIMD_HAVE_STREAM 1 when the layer has v_stream(T *p, V) (a
 *      non-temporal store, p aligned to the vector's size) and
 *      v_stream_fence(); 0 otherwise
 *   VA accumulator of VW lanes in double: w_zero(), w_add(VA *, V),
 *      w_addmul(VA *, V a, V b) (adds a*b, exactly formed in double for
 *      f32, by one fused multiply-add per double lane; f64: to the plain
 *      lane sum, outside Kahan's correction),
 *      double w_hsum(W).
 *      f32: the lanes widened to double; f64: Kahan-compensated lanes.
 *
 * Numerics (bounds in docs/ACCURACY.md, checked by tests/test_isa.c):
 *   - exp(z_j - m) is evaluated in T: d = z_j - m is rounded once, so the
 *     result carries a relative error up to |d| * eps / 2 on top of SLEEF's
 *     1 ulp; the bound per element is (A + B |z_j - m|) ulp.
 *   - sums of exponentials are formed four vectors at a time in T (two
 *     levels of pairwise addition) and then folded into the VA accumulator,
 *     so their error does not grow with k.
 *   - the row max m is excluded from the sums: rest = (ties - 1) +
 *     sum_{z_j != m} exp(z_j - m), and the row's log-sum-exp is
 *     m + log1p(rest) in double, exact to the last bit when the row is
 *     nearly one-hot (the same split as the scalar twin).
 *   - special rows (max -inf or +inf) take the plain-C slow path below,
 *     which applies the rules of smr.h exactly like src/scalar.
 */

#include "threads.h" /* smr_parallel_for, smr_threads_count */

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define U 4 /* vectors per unrolled step */
/* loss-only CE: rest below this is recomputed (see simd_ce_logits) */
#define REREAD_BELOW (sizeof(T) == sizeof(float) ? 0x1p-20 : 0.125)

/* ------------------------------------------------------------------------ */
/* Row passes                                                                */
/* ------------------------------------------------------------------------ */

/* Element load, optionally divided by the temperature t in T (the same
   correctly rounded division as the scalar twin). */
static inline V ld(const T *z, V tv, bool scaled) {
  const V x = v_load(z);
  return scaled ? v_div(x, tv) : x;
}

static inline V ld_part(const T *z, size_t r, T fill, V tv, bool scaled) {
  const V x = v_load_part(z, r, fill);
  return scaled ? v_div(x, tv) : x;
}

/* The row max, NaN entries ignored (-inf when there is no number). Four
   independent accumulators hide the latency of max. */
static inline T row_max(const T *z, size_t k, V tv, bool scaled) {
  const V ninf = v_set1((T)-INFINITY);
  V a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
  size_t j = 0;
  for (; j + U * VW <= k; j += U * VW) {
    a0 = v_max(ld(z + j, tv, scaled), a0);
    a1 = v_max(ld(z + j + VW, tv, scaled), a1);
    a2 = v_max(ld(z + j + 2 * VW, tv, scaled), a2);
    a3 = v_max(ld(z + j + 3 * VW, tv, scaled), a3);
  }
  for (; j + VW <= k; j += VW) a0 = v_max(ld(z + j, tv, scaled), a0);
  if (j < k) a1 = v_max(ld_part(z + j, k - j, (T)-INFINITY, tv, scaled), a1);
  return v_hmax(v_max(v_max(a0, a1), v_max(a2, a3)));
}

/* The exponentials of a row are taken a chunk at a time: one loop that only
   loads, subtracts, calls SLEEF and stores, then a second loop over the
   stored chunk (still in L1) for the sum. SLEEF's exp is an out-of-line call
   and every vector register is caller-saved, so sums carried across the
   calls would be spilled and reloaded on every call; split this way the exp
   loop runs at SLEEF's own throughput (docs/BENCHMARKS.md, "The exp
   floor").
   CHUNK elements of T are 4 KiB: a chunk of z and of its exponentials fit
   in L1 together. */
#define CHUNK (4096 / sizeof(T))
/* rows at least this long prefetch the next row during their exp loop. The
   max pass of a row that is not in L1 waits on its loads: at 256 x 1000
   f32 (4000-byte rows, input and output together twice the 1 MiB L2 of
   Zen 4) the prefetch made softmax 3.6-4.5 % faster (docs/BENCHMARKS.md) */
#define PREFETCH_ROW_BYTES 2048

/* dst[0..len) = exp(z_j - m) (z_j / t when scaled). While it computes,
   touches pf[0..pf_len) (the next row, or the next chunk) so that memory
   streams in during the exp work instead of during the next max pass. */
static inline void exp_chunk(const T *z, size_t len, V mv, V tv, bool scaled, T *dst,
                             const T *pf, size_t pf_len) {
  size_t j = 0;
  for (; j + VW <= len; j += VW) {
    if (j < pf_len) __builtin_prefetch(pf + j);
    v_store(dst + j, v_exp(v_sub(ld(z + j, tv, scaled), mv)));
  }
  /* the tail: lanes past the row are neither read nor written */
  if (j < len)
    v_store_part(dst + j, len - j,
                 v_exp(v_sub(ld_part(z + j, len - j, (T)-INFINITY, tv, scaled), mv)));
}

/* Sum of e[0..len) into acc: four vectors added pairwise in T, then folded
   into the double accumulator. When excl, entries equal to 1 are left out
   and counted in *ties. Those are the occurrences of the max (exp(0) = 1
   exactly) and any z_j so close to m that exp(z_j - m) rounds to 1: either
   way the entry adds exactly 1 to the row sum, so rest = (ties - 1) + the
   sum of the others is the same value, and the stored exponentials are all
   it needs (z itself may already be overwritten, in place). */
static inline V excl_vec(V e, bool excl, size_t *ties) {
  if (!excl) return e;
  const VM one = v_eq(e, v_set1((T)1));
  *ties += vm_count(one);
  return v_select(one, v_set1((T)0), e);
}

static inline void sum_chunk(VA *acc, const T *e, size_t len, bool excl, size_t *ties) {
  size_t j = 0;
  for (; j + U * VW <= len; j += U * VW) {
    const V e0 = excl_vec(v_load(e + j), excl, ties);
    const V e1 = excl_vec(v_load(e + j + VW), excl, ties);
    const V e2 = excl_vec(v_load(e + j + 2 * VW), excl, ties);
    const V e3 = excl_vec(v_load(e + j + 3 * VW), excl, ties);
    w_add(acc, v_add(v_add(e0, e1), v_add(e2, e3)));
  }
  for (; j + VW <= len; j += VW) w_add(acc, excl_vec(v_load(e + j), excl, ties));
  if (j < len) w_add(acc, excl_vec(v_load_part(e + j, len - j, (T)0), excl, ties));
}

/* Outputs that cannot stay in cache are written with non-temporal stores:
   the exponentials of a row go to a scratch row (it stays in L2), and the
   normalize pass reads them from there and streams the results out. Plain
   stores would first read every output line from memory (a third stream
   next to the input read and the output write); these do not. Used when the
   output is at least smr_stream_min_bytes (src/kernels.h: the size of a
   large last-level cache, since smaller outputs may still be read from
   cache by the caller; the output of the whole public call when this is
   one row task of it, smr_stream_call_bytes) and a row at most STREAM_MAX_ROW_BYTES; when the
   layer has no streaming store or the scratch row cannot be allocated,
   the plain path runs. */
#define STREAM_MAX_ROW_BYTES ((size_t)512 << 10)

static T *stream_scratch(size_t n, size_t k) {
#if SIMD_HAVE_STREAM
  const size_t min = atomic_load_explicit(&smr_stream_min_bytes, memory_order_relaxed);
  const size_t own = n * k * sizeof(T), call = smr_stream_call_bytes;
  if (k * sizeof(T) > STREAM_MAX_ROW_BYTES || (own > call ? own : call) < min) return NULL;
  return malloc(2 * k * sizeof(T)); /* two rows: see struct pend */
#else
  (void)n, (void)k;
  return NULL;
#endif
}

/* dst = src * f over len elements, dst written with non-temporal stores
   where it is aligned to the vector (the same products as scale_row). The
   caller fences. */
static inline void scale_stream(T *dst, const T *src, size_t len, V fv, T f) {
#if SIMD_HAVE_STREAM
  size_t j = 0;
  while (j < len && (uintptr_t)(dst + j) % (VW * sizeof(T)) != 0) {
    dst[j] = src[j] * f;
    j++;
  }
  for (; j + VW <= len; j += VW) v_stream(dst + j, v_mul(v_load(src + j), fv));
  if (j < len) v_store_part(dst + j, len - j, v_mul(v_load_part(src + j, len - j, (T)0), fv));
#else
  (void)dst, (void)src, (void)len, (void)fv, (void)f;
#endif
}

/* The streaming path is pipelined: row i's results are streamed out chunk
   by chunk during row i + 1's exp pass (the scratch holds two rows), so
   the writes to memory overlap the exp work instead of stalling in one
   burst at the end of each row. A pending row: dst = src * f, then *fix =
   fixv (the cross-entropy's label entry) once the stores are fenced. */
struct pend {
  T *dst; /* NULL: nothing pending */
  const T *src;
  T f;
  T *fix;
  T fixv;
};

static inline void pend_chunk(const struct pend *pd, size_t j, size_t len) {
  scale_stream(pd->dst + j, pd->src + j, len, v_set1(pd->f), pd->f);
}

static inline void pend_finish(struct pend *pd) {
#if SIMD_HAVE_STREAM
  /* later plain stores to these lines (and other threads) see them */
  v_stream_fence();
#endif
  if (pd->fix != NULL) *pd->fix = pd->fixv;
  pd->dst = NULL;
}

/* Writes out a pending row of length k at once (before a special row and
   after the last row). */
static inline void pend_flush(struct pend *pd, size_t k) {
  if (pd == NULL || pd->dst == NULL) return;
  pend_chunk(pd, 0, k);
  pend_finish(pd);
}

/* The exp pass over a row with finite max m: stores exp(z_j - m) to out
   when out != NULL (out may equal z: each chunk of z is read before its
   exponentials overwrite it), else into a stack chunk, and returns rest,
   the sum of exp(z_j - m) over all entries but one occurrence of the max:
   the row sum is 1 + rest. excl = false skips the tie bookkeeping (plain
   softmax needs only the full sum; rest is then that sum - 1, exact since
   the sum is >= 1). pf: the next row to prefetch, or NULL. pd: a pending
   row (of length k) to stream out during this pass, or NULL. */
static inline double exp_row(const T *z, size_t k, T m, V tv, bool scaled, T *out, bool excl,
                             const T *pf, struct pend *pd) {
  const V mv = v_set1(m);
  T buf[CHUNK];
  VA acc = w_zero();
  size_t ties = 0;
  for (size_t j = 0; j < k; j += CHUNK) {
    const size_t len = k - j < CHUNK ? k - j : CHUNK;
    T *dst = out != NULL ? out + j : buf;
    exp_chunk(z + j, len, mv, tv, scaled, dst, pf != NULL ? pf + j : z, pf != NULL ? len : 0);
    sum_chunk(&acc, dst, len, excl, &ties);
    if (pd != NULL && pd->dst != NULL) pend_chunk(pd, j, len);
  }
  if (pd != NULL && pd->dst != NULL) pend_finish(pd);
  /* excl: ties >= 1 (m is attained); otherwise the sum holds exp(0) = 1 */
  return excl ? (double)(ties - 1) + w_hsum(acc) : w_hsum(acc) - 1.0;
}

/* The next row to prefetch during row i's exp pass (long rows only). */
static inline const T *next_row(const T *z, size_t i, size_t n, size_t k) {
  return i + 1 < n && k * sizeof(T) >= PREFETCH_ROW_BYTES ? z + k : NULL;
}

/* out = x * f over a row (the normalize pass of two-pass softmax). */
static inline void scale_row(T *out, size_t k, V f) {
  size_t j = 0;
  for (; j + U * VW <= k; j += U * VW) {
    v_store(out + j, v_mul(v_load(out + j), f));
    v_store(out + j + VW, v_mul(v_load(out + j + VW), f));
    v_store(out + j + 2 * VW, v_mul(v_load(out + j + 2 * VW), f));
    v_store(out + j + 3 * VW, v_mul(v_load(out + j + 3 * VW), f));
  }
  for (; j + VW <= k; j += VW) v_store(out + j, v_mul(v_load(out + j), f));
  if (j < k) v_store_part(out + j, k - j, v_mul(v_load_part(out + j, k - j, (T)0), f));
}

/* Row output dst = e * f, then *fix = fixv (when fix is not NULL): at once
   with plain stores (e is dst), or on the streaming path (stream is the
   pending slot) left pending for the next row's exp pass. */
static inline void emit_row(struct pend *stream, T *dst, const T *e, size_t k, T f, T *fix,
                            T fixv) {
  if (stream != NULL) {
    const struct pend next = {dst, e, f, fix, fixv};
    *stream = next;
    return;
  }
  scale_row(dst, k, v_set1(f));
  if (fix != NULL) *fix = fixv;
}

static inline bool finite_max(T m) { return m > (T)-INFINITY && m < (T)INFINITY; }

/* ------------------------------------------------------------------------ */
/* Short rows: a block of rows through one exp loop                          */
/* ------------------------------------------------------------------------ */

/* A row of at most SHORT_ROW elements would cost one partly used SLEEF call
   per row in exp_row, and the calls would dominate (k = 10: one call of 16
   lanes per 10 elements). Short rows are instead taken a block at a time:
   the max of each row as before, that max spread over its row in a buffer
   mb, then one exp loop over the whole block, exp(z - mb), with every call
   full. The sums, scales and outputs stay per row and are the same
   operations as on the long-row path, so the results are bit for bit the
   same, except the cross-entropy's per-row log1p(rest) and exp(z_y - m),
   which come from SLEEF (1 ulp in double) instead of libm (ce_short). */
#define SHORT_ROW (CHUNK / 8)
/* rows per block at most (the per-row arrays of a block live on the stack) */
#define SHORT_BLOCK 256

/* p[0..k) = v */
static inline void fill_row(T *p, size_t k, V v) {
  size_t j = 0;
  for (; j + VW <= k; j += VW) v_store(p + j, v);
  if (j < k) v_store_part(p + j, k - j, v);
}

/* The next block of at most n rows of length k from z: rows are taken while
   their max is finite and the block holds at most CHUNK elements. ms[r] =
   the max of row r, mb = each max spread over its row. Returns the number
   of rows (at most SHORT_BLOCK); 0 when the first row's max is not finite
   (it goes alone through the special path). */
static inline size_t short_block(const T *z, size_t n, size_t k, V tv, bool scaled, T *ms,
                                 T *mb) {
  size_t b = 0;
  for (; b < n && b < SHORT_BLOCK && (b + 1) * k <= CHUNK; b++) {
    const T m = row_max(z + b * k, k, tv, scaled);
    if (!finite_max(m)) break;
    ms[b] = m;
    fill_row(mb + b * k, k, v_set1(m));
  }
  return b;
}

/* dst[0..len) = exp(z_j - mb_j) (z_j / t when scaled); dst may equal z. */
static inline void exp_block(const T *z, size_t len, const T *mb, V tv, bool scaled, T *dst) {
  size_t j = 0;
  for (; j + VW <= len; j += VW)
    v_store(dst + j, v_exp(v_sub(ld(z + j, tv, scaled), v_load(mb + j))));
  if (j < len) {
    const size_t r = len - j;
    v_store_part(dst + j, r,
                 v_exp(v_sub(ld_part(z + j, r, (T)-INFINITY, tv, scaled),
                             v_load_part(mb + j, r, (T)0))));
  }
}

/* p[0..len) *= f[0..len) */
static inline void mul_block(T *p, size_t len, const T *f) {
  size_t j = 0;
  for (; j + VW <= len; j += VW) v_store(p + j, v_mul(v_load(p + j), v_load(f + j)));
  if (j < len) v_store_part(p + j, len - j, v_mul(v_load_part(p + j, len - j, (T)0), v_load_part(f + j, len - j, (T)0)));
}

/* rest of one row from its stored exponentials (as exp_row computes it) */
static inline double row_rest(const T *e, size_t k, bool excl) {
  VA acc = w_zero();
  size_t ties = 0;
  sum_chunk(&acc, e, k, excl, &ties);
  return excl ? (double)(ties - 1) + w_hsum(acc) : w_hsum(acc) - 1.0;
}

/* ------------------------------------------------------------------------ */
/* Special rows: the rules of smr.h in plain C (rare: max -inf or +inf)      */
/* ------------------------------------------------------------------------ */

static inline T elem(const T *z, size_t j, T t, bool scaled) {
  return scaled ? (T)(z[j] / t) : z[j];
}

/* For a row whose max m is not finite: returns true and sets *count to the
   number of +inf entries when the row is the +inf case (m = +inf, no NaN);
   false when the whole row is NaN (m = -inf, or a NaN next to +inf). */
static bool special_posinf(const T *z, size_t k, T t, bool scaled, T m, size_t *count) {
  if (m != (T)INFINITY) return false;
  size_t c = 0;
  for (size_t j = 0; j < k; j++) {
    const T x = elem(z, j, t, scaled);
    if (isnan(x)) return false;
    if (x == (T)INFINITY) c++;
  }
  *count = c;
  return true;
}

static void fill_nan(T *p, size_t k) {
  for (size_t j = 0; j < k; j++) p[j] = (T)NAN;
}

static void special_softmax(const T *z, T *p, size_t k, T t, bool scaled, T m) {
  size_t count = 0;
  if (!special_posinf(z, k, t, scaled, m, &count)) {
    fill_nan(p, k);
    return;
  }
  const T share = (T)1 / (T)count;
  for (size_t j = 0; j < k; j++) p[j] = elem(z, j, t, scaled) == (T)INFINITY ? share : (T)0;
}

/* ------------------------------------------------------------------------ */
/* Softmax: two-pass, temperature, online                                    */
/* ------------------------------------------------------------------------ */

/* Pass 1 reads the row for its max; pass 2 reads it again (from cache),
   stores e_j = exp(z_j - m) and sums; pass 3 scales the stored row by
   1/sum while it is still in cache (for rows that fit). Large outputs:
   pass 2 stores to a scratch row and pass 3 streams the results out. */
static void softmax_short(const T *z, T *p, size_t n, size_t k, T t, bool scaled) {
  const V tv = v_set1(t);
  T ms[SHORT_BLOCK], mb[CHUNK];
  double sums[SHORT_BLOCK];
  for (size_t i = 0; i < n;) {
    const T *zi = z + i * k;
    T *pi = p + i * k;
    const size_t b = short_block(zi, n - i, k, tv, scaled, ms, mb);
    if (b == 0) {
      special_softmax(zi, pi, k, t, scaled, row_max(zi, k, tv, scaled));
      i++;
      continue;
    }
    exp_block(zi, b * k, mb, tv, scaled, pi);
    for (size_t r = 0; r < b; r++) sums[r] = 1.0 + row_rest(pi + r * k, k, false);
    for (size_t r = 0; r < b; r++) ms[r] = (T)(1.0 / sums[r]); /* vectorized */
    for (size_t r = 0; r < b; r++) fill_row(mb + r * k, k, v_set1(ms[r]));
    mul_block(pi, b * k, mb);
    i += b;
  }
}

static void softmax_rows(const T *z, T *p, size_t n, size_t k, T t, bool scaled) {
  if (k <= SHORT_ROW) {
    softmax_short(z, p, n, k, t, scaled);
    return;
  }
  const V tv = v_set1(t);
  T *scratch = stream_scratch(n, k);
  struct pend pd = {NULL, NULL, (T)0, NULL, (T)0};
  struct pend *stream = scratch != NULL ? &pd : NULL;
  for (size_t i = 0; i < n; i++, z += k, p += k) {
    const T m = row_max(z, k, tv, scaled);
    if (!finite_max(m)) {
      pend_flush(stream, k);
      special_softmax(z, p, k, t, scaled, m);
      continue;
    }
    T *e = scratch != NULL ? scratch + (i % 2) * k : p;
    const double rest = exp_row(z, k, m, tv, scaled, e, false, next_row(z, i, n, k), stream);
    /* a NaN in the row makes the sum, and so every p_j, NaN */
    emit_row(stream, p, e, k, (T)(1.0 / (1.0 + rest)), NULL, (T)0);
  }
  pend_flush(&pd, k);
  free(scratch);
}

static void simd_softmax(const T *z, T *p, size_t n, size_t k) {
  softmax_rows(z, p, n, k, (T)1, false);
}

static void simd_softmax_temperature(const T *z, T *p, size_t n, size_t k, T t) {
  softmax_rows(z, p, n, k, t, true);
}

/* The online normalizer: one read of z gives the row max and the sum of
   exponentials, chunk by chunk. A chunk's max (NaN ignored) raises the
   running max M when larger, and the running sum is rescaled by
   exp(M_old - M) in double; then the chunk's exp(z_j - M) go to a stack
   chunk (z is left intact, so the kernels work in place) and their sum is
   added. Chunks before the first number hold only -inf (exp taken against
   0: 0) or NaN. Returns M: the row max, -inf when the row has no number,
   +inf (the pass stops there) when it holds +inf; *sum = sum_j exp(z_j - M),
   NaN when the row holds a NaN, for a finite M. */
static inline T online_row(const T *z, size_t k, double *sum) {
  const V one = v_set1((T)1);
  T buf[CHUNK];
  T m = (T)-INFINITY;
  double s = 0.0;
  for (size_t j = 0; j < k; j += CHUNK) {
    const size_t len = k - j < CHUNK ? k - j : CHUNK;
    const T cm = row_max(z + j, len, one, false);
    if (cm == (T)INFINITY) return cm;
    if (cm > m) {
      /* a sum of entries of -inf or NaN only is 0 or NaN: * 0 keeps it */
      s *= m == (T)-INFINITY ? 0.0 : exp((double)m - (double)cm);
      m = cm;
    }
    /* prefetch the next chunk (the hardware prefetcher stops at pages) */
    const size_t next = j + len, ahead = k - next < CHUNK ? k - next : CHUNK;
    exp_chunk(z + j, len, v_set1(m == (T)-INFINITY ? (T)0 : m), one, false, buf, z + next, ahead);
    VA acc = w_zero();
    size_t ties = 0;
    sum_chunk(&acc, buf, len, false, &ties);
    s += w_hsum(acc);
  }
  *sum = s;
  return m;
}

/* The online kernel: the normalizer in one read, then p = exp(z - m) / sum
   in a second (two exps per element; the two-pass kernel takes one exp and
   one extra read, see docs/BENCHMARKS.md for which wins where). */
static void simd_softmax_online(const T *z, T *p, size_t n, size_t k) {
  /* a block of short rows is read once from memory and then stays in L1:
     the two-pass block already makes one read */
  if (k <= SHORT_ROW) {
    softmax_short(z, p, n, k, (T)1, false);
    return;
  }
  for (size_t i = 0; i < n; i++, z += k, p += k) {
    double sum = 0.0;
    const T m = online_row(z, k, &sum);
    if (!finite_max(m)) {
      special_softmax(z, p, k, (T)1, false, m);
      continue;
    }
    /* a NaN in the row makes the sum, and so every p_j, NaN */
    const V mv = v_set1(m), f = v_set1((T)(1.0 / sum));
    size_t j = 0;
    for (; j + VW <= k; j += VW) v_store(p + j, v_mul(v_exp(v_sub(v_load(z + j), mv)), f));
    if (j < k)
      v_store_part(p + j, k - j,
                   v_mul(v_exp(v_sub(v_load_part(z + j, k - j, (T)-INFINITY), mv)), f));
  }
}

/* ------------------------------------------------------------------------ */
/* Log-softmax                                                               */
/* ------------------------------------------------------------------------ */

static void special_log_softmax(const T *z, T *out, size_t k, T m) {
  size_t count = 0;
  if (!special_posinf(z, k, (T)1, false, m, &count)) {
    fill_nan(out, k);
    return;
  }
  const T share = (T)(0.0 - log((double)count));
  for (size_t j = 0; j < k; j++) out[j] = z[j] == (T)INFINITY ? share : (T)-INFINITY;
}

/* out[0..len) = (z - mb) - lb */
static inline void logsm_block(const T *z, size_t len, const T *mb, const T *lb, T *out) {
  size_t j = 0;
  for (; j + VW <= len; j += VW)
    v_store(out + j, v_sub(v_sub(v_load(z + j), v_load(mb + j)), v_load(lb + j)));
  if (j < len) {
    const size_t r = len - j;
    v_store_part(out + j, r,
                 v_sub(v_sub(v_load_part(z + j, r, (T)0), v_load_part(mb + j, r, (T)0)),
                       v_load_part(lb + j, r, (T)0)));
  }
}

static void log_softmax_short(const T *z, T *out, size_t n, size_t k) {
  const V tv = v_set1((T)1);
  T ms[SHORT_BLOCK], mb[CHUNK], buf[CHUNK];
  double rests[SHORT_BLOCK];
  for (size_t i = 0; i < n;) {
    const T *zi = z + i * k;
    T *oi = out + i * k;
    const size_t b = short_block(zi, n - i, k, tv, false, ms, mb);
    if (b == 0) {
      special_log_softmax(zi, oi, k, row_max(zi, k, tv, false));
      i++;
      continue;
    }
    exp_block(zi, b * k, mb, tv, false, buf);
    for (size_t r = 0; r < b; r++) rests[r] = row_rest(buf + r * k, k, true);
    /* the exponentials are summed: buf now holds each row's log1p(rest) */
    for (size_t r = 0; r < b; r++) fill_row(buf + r * k, k, v_set1((T)log1p(rests[r])));
    logsm_block(zi, b * k, mb, buf, oi);
    i += b;
  }
}

/* out_j = (z_j - m) - log1p(rest): both terms <= 0, nothing cancels. */
static void simd_log_softmax(const T *z, T *out, size_t n, size_t k) {
  if (k <= SHORT_ROW) {
    log_softmax_short(z, out, n, k);
    return;
  }
  const V tv = v_set1((T)1);
  for (size_t i = 0; i < n; i++, z += k, out += k) {
    const T m = row_max(z, k, tv, false);
    if (!finite_max(m)) {
      special_log_softmax(z, out, k, m);
      continue;
    }
    const double rest = exp_row(z, k, m, tv, false, NULL, true, next_row(z, i, n, k), NULL);
    const V mv = v_set1(m), lv = v_set1((T)log1p(rest));
    size_t j = 0;
    for (; j + VW <= k; j += VW) v_store(out + j, v_sub(v_sub(v_load(z + j), mv), lv));
    if (j < k)
      v_store_part(out + j, k - j, v_sub(v_sub(v_load_part(z + j, k - j, (T)0), mv), lv));
  }
}

/* ------------------------------------------------------------------------ */
/* Cross-entropy                                                             */
/* ------------------------------------------------------------------------ */

/* the weight of row i (w NULL: 1) */
static inline double row_weight(const T *w, size_t i) { return w != NULL ? (double)w[i] : 1.0; }

/* p_label - 1 of a row with max m, label logit zl and rest (sum = 1 +
   rest), without cancellation: at the max it is -rest / sum; elsewhere
   p_label <= 1/2 and the subtraction is harmless. */
static inline double label_q(double zl, T m, double rest) {
  const double sum = 1.0 + rest;
  return zl == (double)m ? -rest / sum : exp(zl - (double)m) / sum - 1.0;
}

/* total + w * ce, where a row of weight 0 adds exactly 0 */
static inline double add_weighted(double total, double w, double ce) {
  return w != 0.0 ? total + w * ce : total;
}

/* A row whose max is +inf or -inf: exactly the scalar rules. */
static double special_ce(const T *z, size_t label, size_t k, double scale, T *g, T m,
                         double zl) {
  size_t count = 0;
  if (!special_posinf(z, k, (T)1, false, m, &count)) {
    if (g != NULL) fill_nan(g, k);
    return NAN;
  }
  if (g != NULL) {
    const double share = 1.0 / (double)count;
    for (size_t j = 0; j < k; j++) {
      const double pj = z[j] == (T)INFINITY ? share : 0.0;
      g[j] = (T)((pj - (j == label ? 1.0 : 0.0)) * scale);
    }
  }
  return zl == INFINITY ? log((double)count) : INFINITY;
}

/* x[0..b) = log1p(x) (exp when !log) in double through SLEEF (1 ulp), DW
   lanes at a time; the array holds b rounded up to DW, the lanes past b
   are set to 0 first. The per-row terms of a block of short rows: one
   libm call per row cost as much as the rest of a k = 10 row. */
static inline void d_map(double *x, size_t b, bool log) {
  for (size_t r = b; r % DW != 0; r++) x[r] = 0.0;
  for (size_t r = 0; r < b; r += DW) d_store(x + r, log ? d_log1p(d_load(x + r)) : d_exp(d_load(x + r)));
}

/* Short rows, a block at a time: the loss, and the gradient when g is not
   NULL (then stored in place of the exponentials). The loss takes rest
   with the max excluded on every row (no online pass to reread). The
   per-row log1p(rest) and exp(z_label - m) go through d_map, a vector of
   rows at a time (the long-row path calls libm once per row). */
static double ce_short(const T *z, const int32_t *labels, const T *w, size_t n, size_t k,
                       T scale, T *g) {
  const V tv = v_set1((T)1);
  T ms[SHORT_BLOCK], mb[CHUNK], buf[CHUNK];
  /* + DW: d_map's lanes past the block */
  double zls[SHORT_BLOCK], rests[SHORT_BLOCK], logs[SHORT_BLOCK + DW], els[SHORT_BLOCK + DW];
  double total = 0.0;
  for (size_t i = 0; i < n;) {
    const T *zi = z + i * k;
    const size_t b = short_block(zi, n - i, k, tv, false, ms, mb);
    if (b == 0) {
      const size_t label = (size_t)labels[i];
      const double wi = row_weight(w, i);
      total = add_weighted(total, wi,
                           special_ce(zi, label, k, (double)scale * wi, g != NULL ? g + i * k : NULL,
                                      row_max(zi, k, tv, false), (double)zi[label]));
      i++;
      continue;
    }
    /* read before g (maybe z) is written */
    for (size_t r = 0; r < b; r++) zls[r] = (double)zi[r * k + (size_t)labels[i + r]];
    T *e = g != NULL ? g + i * k : buf;
    exp_block(zi, b * k, mb, tv, false, e);
    for (size_t r = 0; r < b; r++) rests[r] = row_rest(e + r * k, k, true);
    memcpy(logs, rests, b * sizeof(double));
    d_map(logs, b, true);
    for (size_t r = 0; r < b; r++)
      total = add_weighted(total, row_weight(w, i + r), ((double)ms[r] - zls[r]) + logs[r]);
    if (g != NULL) {
      for (size_t r = 0; r < b; r++) els[r] = zls[r] - (double)ms[r];
      d_map(els, b, false);
      for (size_t r = 0; r < b; r++) {
        const double sc = (double)scale * row_weight(w, i + r);
        fill_row(mb + r * k, k, v_set1((T)(sc / (1.0 + rests[r]))));
      }
      mul_block(e, b * k, mb);
      /* p_label - 1 as label_q forms it, with exp(z_label - m) from els */
      for (size_t r = 0; r < b; r++) {
        const double sum = 1.0 + rests[r];
        const double q = zls[r] == (double)ms[r] ? -rests[r] / sum : els[r] / sum - 1.0;
        e[r * k + (size_t)labels[i + r]] = (T)(q * ((double)scale * row_weight(w, i + r)));
      }
    }
    i += b;
  }
  return total;
}

/* Fused loss and gradient: max pass, exp pass storing e_j into g (or the
   scratch row of a large output), scale pass g_j = e_j * scale / sum, then
   g_label = (p_label - 1) * scale formed without cancellation. Loss only (g == NULL): one online read of the row
   (two for nearly one-hot rows, see below). */
static double simd_ce_logits(const T *z, const int32_t *labels, const T *w, size_t n, size_t k,
                             T scale, T *g) {
  if (k <= SHORT_ROW) return ce_short(z, labels, w, n, k, scale, g);
  const V tv = v_set1((T)1);
  T *scratch = g != NULL ? stream_scratch(n, k) : NULL;
  struct pend pd = {NULL, NULL, (T)0, NULL, (T)0};
  struct pend *stream = scratch != NULL ? &pd : NULL;
  double total = 0.0;
  for (size_t i = 0; i < n; i++, z += k) {
    const size_t label = (size_t)labels[i];
    const double zl = (double)z[label]; /* read before g (maybe z) is written */
    const double wi = row_weight(w, i), sc = (double)scale * wi;
    if (g == NULL) {
      double sum = 0.0;
      const T m = online_row(z, k, &sum);
      if (!finite_max(m)) {
        total = add_weighted(total, wi, special_ce(z, label, k, sc, NULL, m, zl));
        continue;
      }
      /* lse - z_label = (m - z_label) + log1p(rest). The online sum holds
         1 + rest in double, so rest = sum - 1 has an absolute error of a
         few 2^-53: relative eps64 / rest. That is far below the f32 eps
         while rest >= 2^-20, and within a few f64 eps while rest >= 1/8.
         Rows below that (nearly one-hot: rare for raw logits, common for a
         confident model) reread the row, still in cache, for rest with the
         max excluded as in the fused path. */
      double rest = sum - 1.0;
      if (rest < REREAD_BELOW) rest = exp_row(z, k, m, tv, false, NULL, true, NULL, NULL);
      total = add_weighted(total, wi, ((double)m - zl) + log1p(rest));
      continue;
    }
    T *gi = g + i * k;
    const T m = row_max(z, k, tv, false);
    if (!finite_max(m)) {
      pend_flush(stream, k);
      total = add_weighted(total, wi, special_ce(z, label, k, sc, gi, m, zl));
      continue;
    }
    T *e = scratch != NULL ? scratch + (i % 2) * k : gi;
    const double rest = exp_row(z, k, m, tv, false, e, true, next_row(z, i, n, k), stream);
    emit_row(stream, gi, e, k, (T)(sc / (1.0 + rest)), gi + label,
             (T)(label_q(zl, m, rest) * sc));
    total = add_weighted(total, wi, ((double)m - zl) + log1p(rest));
  }
  pend_flush(&pd, k);
  free(scratch);
  return total;
}

/* ------------------------------------------------------------------------ */
/* Predict and trainer loops                                                 */
/* ------------------------------------------------------------------------ */

/* First index of the row max; -1 when the row holds a NaN. */
static void simd_argmax_rows(const T *p, size_t n, size_t k, int32_t *labels) {
  for (size_t i = 0; i < n; i++, p += k) {
    /* one read for the max and a NaN check */
    const V ninf = v_set1((T)-INFINITY);
    V a = ninf;
    VM nan = v_unord(ninf);
    size_t j = 0;
    for (; j + VW <= k; j += VW) {
      const V x = v_load(p + j);
      a = v_max(x, a);
      nan = vm_or(nan, v_unord(x));
    }
    if (j < k) {
      const V x = v_load_part(p + j, k - j, (T)-INFINITY);
      a = v_max(x, a);
      nan = vm_or(nan, v_unord(x));
    }
    if (vm_any(nan)) {
      labels[i] = -1;
      continue;
    }
    const V mv = v_set1(v_hmax(a));
    /* the first occurrence; NaN padding never compares equal */
    int32_t best = 0;
    for (j = 0; j < k; j += VW) {
      const V x = k - j >= VW ? v_load(p + j) : v_load_part(p + j, k - j, (T)NAN);
      const unsigned f = vm_first(v_eq(x, mv));
      if (f < VW) {
        best = (int32_t)(j + f);
        break;
      }
    }
    labels[i] = best;
  }
}

/* y[0..len) += a * x[0..len) (fused multiply-add). */
static inline void axpy_row(size_t len, V av, const T *x, T *y) {
  size_t j = 0;
  for (; j + U * VW <= len; j += U * VW) {
    v_store(y + j, v_fma(av, v_load(x + j), v_load(y + j)));
    v_store(y + j + VW, v_fma(av, v_load(x + j + VW), v_load(y + j + VW)));
    v_store(y + j + 2 * VW, v_fma(av, v_load(x + j + 2 * VW), v_load(y + j + 2 * VW)));
    v_store(y + j + 3 * VW, v_fma(av, v_load(x + j + 3 * VW), v_load(y + j + 3 * VW)));
  }
  for (; j + VW <= len; j += VW) v_store(y + j, v_fma(av, v_load(x + j), v_load(y + j)));
  if (j < len) {
    const size_t r = len - j;
    v_store_part(y + j, r, v_fma(av, v_load_part(x + j, r, (T)0), v_load_part(y + j, r, (T)0)));
  }
}

static void simd_axpy(size_t len, T a, const T *x, T *y) { axpy_row(len, v_set1(a), x, y); }

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
   with a stride of d: 60000 x 784 x 10 f32 took 20.5 ms, 16.3 ms with
   this, 13.2 ms per 60000 rows with X in cache (Zen 4, one thread);
   taller tiles (8, 12 rows) or deeper blocks were no faster. */
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
/* Up to this k it beats the tile above (measured, Zen 4, 60000 x 784 one
   thread: f32 k = 10 16.4 -> 11.9 ms, k = 13 14.2 ms, even at k = 14;
   f64 k = 3..8 27-30 -> 18-20 ms): the transpose's shuffles cost about as
   much as the lanes saved once k is near VW. */
#define FWDT_USE_MAX_K (VW == 16 ? 13 : FWDT_MAX_K)

/* rows (<= VW) rows of Z at i0 = 0 of X, Z; K a constant. */
static GEMM_INLINE void fwdt_block(const size_t K, const T *X, const T *W, const T *b, T *Z,
                                   size_t rows, size_t d, size_t pf) {
  V acc[VW];
  for (size_t j = 0; j < K; j++) acc[j] = v_set1(b[j]);
  for (size_t f0 = 0; f0 < d; f0 += VW) {
    const size_t w = gemm_min(VW, d - f0);
    V xt[VW];
    /* the next block's rows, same columns, into L2 (into L1 was 7 % slower
       at k = 10, 40 % at k = 3: it evicts the block being transposed) */
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

/* Products below PAR_MIN multiply-adds (about 40 us on one core) stay on
   the calling thread; above it linear_forward runs in row tasks and xt_g
   in tasks over ranges of columns (d or k) on smr's threads. */
#define PAR_MIN ((size_t)1 << 21)

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
  const size_t threads = n * d * k >= PAR_MIN ? smr_threads_count() : 1;
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
   operations as xtg_wide, so the same bits (test_isa checks both against
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
       stride of d, defeats the hardware prefetcher (60000 x 784 x 10
       f32, Zen 4, one thread: 27 ms without, 10.4 ms with, 8.8 ms with X
       in cache; blocks of 8 to 256 rows measured, 24-64 best).
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
   count only sets the width of the ranges). Products below PAR_MIN stay
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
  const size_t threads = n * d * k >= PAR_MIN ? smr_threads_count() : 1;
  const size_t vecs = (d + VW - 1) / VW, per = (vecs + threads - 1) / threads;
  /* the wide orientation for k beyond the narrow path, and on one thread
     where it fills more lanes: its vectors per row of X, d ceil(k / VW),
     below the narrow one's k ceil(d / VW) (d = 100, k = 16..64 with 16
     lanes: 5-10 % faster) */
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
   on Zen 4): about a tenth of an L-BFGS iteration on Digits (k = 10). */
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

/* adds x*x to the lanes (w_addmul of the vec layer) */
static inline void w_addsq(VA *w, V v) { w_addmul(w, v, v); }

/* Sum of squares in double (f32: squares formed exactly in double). */
static double simd_sumsq(const T *x, size_t len) {
  VA a0 = w_zero(), a1 = w_zero();
  size_t j = 0;
  for (; j + 2 * VW <= len; j += 2 * VW) {
    w_addsq(&a0, v_load(x + j));
    w_addsq(&a1, v_load(x + j + VW));
  }
  for (; j + VW <= len; j += VW) w_addsq(&a0, v_load(x + j));
  if (j < len) w_addsq(&a1, v_load_part(x + j, len - j, (T)0));
  return w_hsum(a0) + w_hsum(a1);
}

/* Sum of x_i y_i in double (f32: products exact in double); four lane
   sums, so independent chains keep the adds busy. */
static double simd_dot(const T *x, const T *y, size_t len) {
  VA a0 = w_zero(), a1 = w_zero(), a2 = w_zero(), a3 = w_zero();
  size_t j = 0;
  for (; j + 4 * VW <= len; j += 4 * VW) {
    w_addmul(&a0, v_load(x + j), v_load(y + j));
    w_addmul(&a1, v_load(x + j + VW), v_load(y + j + VW));
    w_addmul(&a2, v_load(x + j + 2 * VW), v_load(y + j + 2 * VW));
    w_addmul(&a3, v_load(x + j + 3 * VW), v_load(y + j + 3 * VW));
  }
  for (; j + VW <= len; j += VW) w_addmul(&a0, v_load(x + j), v_load(y + j));
  if (j < len) w_addmul(&a1, v_load_part(x + j, len - j, (T)0), v_load_part(y + j, len - j, (T)0));
  return (w_hsum(a0) + w_hsum(a1)) + (w_hsum(a2) + w_hsum(a3));
}

/* x * 0 is 0 for finite x and NaN for inf or NaN; the sum of those stays 0
   exactly when every element is finite. */
static bool simd_all_finite(const T *x, size_t len) {
  const V zero = v_set1((T)0);
  V a0 = zero, a1 = zero;
  size_t j = 0;
  for (; j + 2 * VW <= len; j += 2 * VW) {
    a0 = v_add(a0, v_mul(v_load(x + j), zero));
    a1 = v_add(a1, v_mul(v_load(x + j + VW), zero));
  }
  for (; j + VW <= len; j += VW) a0 = v_add(a0, v_mul(v_load(x + j), zero));
  if (j < len) a1 = v_add(a1, v_mul(v_load_part(x + j, len - j, (T)0), zero));
  return !vm_any(v_unord(v_add(a0, a1)));
}

void SIMD_INSTALL(struct SIMD_TABLE *t);
void SIMD_INSTALL(struct SIMD_TABLE *t) {
  t->softmax = simd_softmax;
  t->softmax_online = simd_softmax_online;
  t->softmax_temperature = simd_softmax_temperature;
  t->log_softmax = simd_log_softmax;
  t->ce_logits = simd_ce_logits;
  t->argmax_rows = simd_argmax_rows;
  t->linear_forward = simd_linear_forward;
  t->xt_g = simd_xt_g;
  t->colsum = simd_colsum;
  t->axpy = simd_axpy;
  t->sumsq = simd_sumsq;
  t->dot = simd_dot;
  t->all_finite = simd_all_finite;
  /* ce_prob (the seed's reference formula), col_mean_std and standardize
     (once per fit or predict call, in double), and the optimizer steps
     momentum_step and adam_step (O(d k) per step, next to the O(n d k)
     products) stay with the scalar twin. */
}
