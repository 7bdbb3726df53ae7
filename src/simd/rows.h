/*
 * simd/rows.h - the row kernels: softmax (two-pass, temperature,
 * online), log-softmax and the fused cross-entropy, with their long-row
 * streaming path, short-row blocks and the special rows of smr.h.
 *
 * Part of the SIMD kernel body: included by src/kernels_simd.h only, once per
 * ISA and dtype, after the vector layer (simd/vec_contract.h). No include
 * guard on purpose.
 */

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
   max pass of a row that is not in L1 waits on its loads
   (docs/BENCHMARKS.md, "The tuning constants") */
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
   caller passes a scratch of two rows (src/kernels.h: SMR_STREAM_SCRATCH;
   the caller decides, src/api_kernels.c) and the layer has streaming
   stores; otherwise the plain path runs. */
static inline T *stream_scratch(T *scratch) {
#if SIMD_HAVE_STREAM
  return scratch;
#else
  (void)scratch;
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

static void softmax_rows(const T *z, T *p, size_t n, size_t k, T t, bool scaled, T *scr) {
  if (k <= SHORT_ROW) {
    softmax_short(z, p, n, k, t, scaled);
    return;
  }
  const V tv = v_set1(t);
  T *scratch = stream_scratch(scr);
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
}

static void simd_softmax(const T *z, T *p, size_t n, size_t k, T *scratch) {
  softmax_rows(z, p, n, k, (T)1, false, scratch);
}

static void simd_softmax_temperature(const T *z, T *p, size_t n, size_t k, T t, T *scratch) {
  softmax_rows(z, p, n, k, t, true, scratch);
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

/* The running log-sum-exp of class chunks (kernels.h, lse_chunk): each
   row's chunk max and sum by the online pass, then smr_lse_merge. A chunk
   holding +inf stops that pass: its +inf entries are counted (or a NaN
   found) with a plain loop. */
static void simd_lse_chunk(const T *z, size_t n, size_t c, size_t ldz, double *m, double *s) {
  for (size_t i = 0; i < n; i++, z += ldz) {
    double cs = 0.0;
    const T cm = online_row(z, c, &cs);
    if (cm == (T)INFINITY) {
      cs = 0.0;
      for (size_t j = 0; j < c; j++) {
        if (isnan(z[j])) {
          cs = NAN;
          break;
        }
        if (z[j] == (T)INFINITY) cs += 1.0;
      }
    }
    smr_lse_merge(&m[i], &s[i], (double)cm, cs);
  }
}

/* The fused linear cross-entropy's gradient for a chunk of logits
   (kernels.h, lce_grad): e^(z - lse) as e^(z - hi) e^(-lo) with hi = lse
   rounded to T (so z - hi rounds like the softmax kernels' z - m) and the
   rest folded with the z-loss factor and the weight into one scale per
   row; the label's entry formed again in double (p - 1 would cancel). */
static void simd_lce_grad(T *z, size_t n, size_t c, size_t ldz, const double *lse, const double *w,
                          const int32_t *labels, size_t c0, double lam, double h, double u) {
  for (size_t i = 0; i < n; i++, z += ldz) {
    size_t j = 0;
    if (w[i] == 0.0) {
      for (; j + VW <= c; j += VW) v_store(z + j, v_set1((T)0));
      if (j < c) v_store_part(z + j, c - j, v_set1((T)0));
      continue;
    }
    const T hi = (T)lse[i];
    const double lo = lse[i] - (double)hi, f = lam > 0.0 ? 1.0 + 2.0 * lam * lse[i] : 1.0;
    const V hv = v_set1(hi), sv = v_set1((T)(exp(-lo) * f * w[i])), uv = v_set1((T)(u * w[i]));
    const int32_t y = labels[i];
    const bool has_y = y >= 0 && (size_t)y >= c0 && (size_t)y - c0 < c;
    double gy = 0.0;
    if (has_y) {
      const double p = exp((double)z[(size_t)y - c0] - lse[i]);
      gy = (p * f - u - h) * w[i];
    }
    for (; j + VW <= c; j += VW)
      v_store(z + j, v_sub(v_mul(v_exp(v_sub(v_load(z + j), hv)), sv), uv));
    if (j < c)
      v_store_part(z + j, c - j,
                   v_sub(v_mul(v_exp(v_sub(v_load_part(z + j, c - j, (T)0), hv)), sv), uv));
    if (has_y) z[(size_t)y - c0] = (T)gy;
  }
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
                             T scale, T *g, T *scr) {
  if (k <= SHORT_ROW) return ce_short(z, labels, w, n, k, scale, g);
  const V tv = v_set1((T)1);
  T *scratch = g != NULL ? stream_scratch(scr) : NULL;
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
  return total;
}
