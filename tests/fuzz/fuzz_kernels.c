/*
 * fuzz_kernels.c - libFuzzer target: the public row kernels on fuzzed
 * shapes and values, on every available ISA, against smr.h's rules.
 *
 * Input: byte 0: bit 0 dtype (f32/f64), bit 1 values as raw IEEE bits (NaN
 * payloads, subnormals, huge values) or through a table of special and
 * ordinary values; byte 1: k - 1 (k in 1..64); then the values (rows of k,
 * at most 16 rows), then one byte per row for its label.
 * Checks, per row and per ISA (smr_isa_select; the table is loaded once
 * per call):
 *   softmax (two-pass, online, temperature 1): a NaN anywhere or all -inf
 *   -> all NaN; m > 0 entries +inf -> exactly 1/m there and 0 elsewhere;
 *   otherwise every p in [0, 1], 0 at -inf entries, sum within 1e-5 (f32)
 *   or 1e-12 (f64) of 1;
 *   log_softmax: NaN where softmax is NaN, -inf where p = 0 by the rules,
 *   otherwise exp(out) within the same bound of p;
 *   cross-entropy from logits: NaN for a NaN row; otherwise >= 0 (or
 *   +inf), and its gradient row sums to 0 within the bound;
 *   every ISA's softmax agrees with the scalar table's: the same NaN
 *   pattern, values within the bound.
 */
#include "smr.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_K 64
#define MAX_ROWS 16

static void die(const char *what, int isa, size_t row) {
  fprintf(stderr, "fuzz_kernels: %s (isa %s, row %zu)\n", what, smr_isa_name((smr_isa)isa), row);
  abort();
}

static const double table[16] = {0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -7.25, 88.0,
                                 -1000.0, 1e30, -1e30, 1e300, INFINITY, -INFINITY, NAN, 5e-324};

typedef struct row_kind {
  bool nan;
  size_t pinf, ninf;
} row_kind;

static row_kind classify(const double *z, size_t k) {
  row_kind r = {false, 0, 0};
  for (size_t j = 0; j < k; j++) {
    if (isnan(z[j])) r.nan = true;
    else if (z[j] == INFINITY) r.pinf++;
    else if (z[j] == -INFINITY) r.ninf++;
  }
  return r;
}

/* p (one row, as doubles) against the rules for the row z. */
static void check_softmax_row(const double *z, const double *p, size_t k, bool f32, int isa,
                              size_t row, const char *what) {
  const row_kind r = classify(z, k);
  const double tol = f32 ? 1e-5 : 1e-12;
  if (r.nan || r.ninf == k) {
    for (size_t j = 0; j < k; j++)
      if (!isnan(p[j])) die(what, isa, row);
    return;
  }
  if (r.pinf > 0) {
    const double want = f32 ? (double)(1.0f / (float)r.pinf) : 1.0 / (double)r.pinf;
    for (size_t j = 0; j < k; j++)
      if (p[j] != (z[j] == INFINITY ? want : 0.0)) die(what, isa, row);
    return;
  }
  double sum = 0.0;
  for (size_t j = 0; j < k; j++) {
    if (!(p[j] >= 0.0 && p[j] <= 1.0)) die(what, isa, row);
    if (z[j] == -INFINITY && p[j] != 0.0) die(what, isa, row);
    sum += p[j];
  }
  if (fabs(sum - 1.0) > tol) die(what, isa, row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  const bool f32 = !(data[0] & 1), raw = (data[0] & 2) != 0;
  const size_t k = (size_t)(data[1] % MAX_K) + 1;
  const uint8_t *v = data + 2;
  size_t left = size - 2;
  const size_t per = raw ? (f32 ? 4 : 8) : 1;
  size_t n = left / (k * per + 1);
  if (n > MAX_ROWS) n = MAX_ROWS;
  if (n == 0) return 0;
  static double z[MAX_ROWS * MAX_K], out[MAX_ROWS * MAX_K], ref[MAX_ROWS * MAX_K];
  static float zf[MAX_ROWS * MAX_K], of[MAX_ROWS * MAX_K];
  static double zd[MAX_ROWS * MAX_K], od[MAX_ROWS * MAX_K];
  int32_t labels[MAX_ROWS];
  for (size_t i = 0; i < n * k; i++) {
    if (!raw) {
      z[i] = table[v[i] & 15] * ((v[i] >> 4) + 1);
    } else if (f32) {
      uint32_t b;
      memcpy(&b, v + 4 * i, 4);
      memcpy(&zf[i], &b, 4);
      z[i] = (double)zf[i];
    } else {
      memcpy(&z[i], v + 8 * i, 8);
    }
    if (f32) zf[i] = (float)z[i], z[i] = (double)zf[i];
    else zd[i] = z[i];
  }
  for (size_t i = 0; i < n; i++) labels[i] = (int32_t)(v[n * k * per + i] % k);

  bool have_ref = false;
  for (int isa = 0; isa < SMR_ISA_COUNT; isa++) {
    if (!smr_isa_available((smr_isa)isa)) continue;
    if (smr_isa_select((smr_isa)isa) != SMR_OK) die("select", isa, 0);
    for (int op = 0; op < 3; op++) {
      smr_status st;
      if (f32)
        st = op == 0 ? smr_softmax_f32(zf, of, n, k)
             : op == 1 ? smr_softmax_online_f32(zf, of, n, k)
                       : smr_softmax_temperature_f32(zf, of, n, k, 1.0f);
      else
        st = op == 0 ? smr_softmax_f64(zd, od, n, k)
             : op == 1 ? smr_softmax_online_f64(zd, od, n, k)
                       : smr_softmax_temperature_f64(zd, od, n, k, 1.0);
      if (st != SMR_OK) die("softmax status", isa, 0);
      for (size_t i = 0; i < n * k; i++) out[i] = f32 ? (double)of[i] : od[i];
      for (size_t i = 0; i < n; i++)
        check_softmax_row(z + i * k, out + i * k, k, f32, isa, i,
                          op == 0 ? "softmax rules" : op == 1 ? "online softmax rules"
                                                              : "temperature softmax rules");
      if (op != 0) continue;
      if (!have_ref) {
        memcpy(ref, out, n * k * sizeof(double));
        have_ref = true; /* scalar comes first */
      } else {
        for (size_t i = 0; i < n * k; i++)
          if (isnan(ref[i]) != isnan(out[i]) ||
              (!isnan(ref[i]) && fabs(ref[i] - out[i]) > (f32 ? 1e-5 : 1e-12)))
            die("ISAs disagree on softmax", isa, i / k);
      }
    }
    /* log-softmax against the two-pass softmax of the same ISA (computed
       again: out holds the last op's result) */
    double p[MAX_ROWS * MAX_K];
    if (f32) {
      smr_softmax_f32(zf, of, n, k);
      for (size_t i = 0; i < n * k; i++) p[i] = (double)of[i];
      if (smr_log_softmax_f32(zf, of, n, k) != SMR_OK) die("log_softmax status", isa, 0);
      for (size_t i = 0; i < n * k; i++) out[i] = (double)of[i];
    } else {
      smr_softmax_f64(zd, od, n, k);
      memcpy(p, od, n * k * sizeof(double));
      if (smr_log_softmax_f64(zd, od, n, k) != SMR_OK) die("log_softmax status", isa, 0);
      memcpy(out, od, n * k * sizeof(double));
    }
    for (size_t i = 0; i < n * k; i++) {
      if (isnan(p[i])) {
        if (!isnan(out[i])) die("log_softmax not NaN where softmax is", isa, i / k);
      } else if (p[i] == 0.0 && classify(z + (i / k) * k, k).pinf > 0) {
        if (out[i] != -INFINITY) die("log_softmax not -inf beside +inf", isa, i / k);
      } else if (isfinite(out[i]) && fabs(exp(out[i]) - p[i]) > (f32 ? 1e-5 : 1e-12)) {
        die("exp(log_softmax) != softmax", isa, i / k);
      }
    }
    /* cross-entropy from logits, row by row, with its gradient */
    for (size_t i = 0; i < n; i++) {
      double loss = -1.0, gsum = 0.0;
      smr_status st = f32 ? smr_cross_entropy_logits_f32(zf + i * k, labels + i, 1, k, &loss, of)
                          : smr_cross_entropy_logits_f64(zd + i * k, labels + i, 1, k, &loss, od);
      if (st != SMR_OK) die("CE status", isa, i);
      const row_kind r = classify(z + i * k, k);
      if (r.nan && !isnan(loss)) die("CE of a NaN row is not NaN", isa, i);
      if (!r.nan && r.ninf < k && !(loss >= 0.0)) die("CE negative or NaN", isa, i);
      bool finite_g = true;
      for (size_t j = 0; j < k; j++) {
        const double g = f32 ? (double)of[j] : od[j];
        finite_g = finite_g && isfinite(g);
        gsum += g;
      }
      if (finite_g && fabs(gsum) > (f32 ? 1e-5 : 1e-12) * (double)k)
        die("CE gradient row does not sum to 0", isa, i);
    }
  }
  return 0;
}
