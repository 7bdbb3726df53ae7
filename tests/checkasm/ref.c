/*
 * ref.c - the inputs of the row-kernel checks (row kinds: hostile values,
 * extremes, ties, NaN and infinities) and the one long-double reference of
 * the row kernels (softmax family, log_softmax, the CE loss and gradient),
 * written from the definitions and the special-value rules of smr.h,
 * independent of the library.
 */
#include "checkasm.h"


static const char *const KIND_NAMES[NUM_KINDS] = {
    "normal", "equal", "+-1000", "underflow", "huge", "-inf", "all -inf",
    "one +inf", "several +inf", "NaN", "NaN+inf", "ties", "one-hot", "max last"};

const char *kind_name(int kind) {
  return kind >= 0 && kind < NUM_KINDS ? KIND_NAMES[kind] : "?";
}

/* Every other row is normal (at the next scale); the rest cycle through the
   other kinds. */
const unsigned char SCHED[NUM_SCHED] = {
    K_NORMAL, K_EQUAL,  K_NORMAL, K_PM1000,    K_NORMAL, K_UFLOW,   K_NORMAL, K_HUGE,
    K_NORMAL, K_NEGINF, K_NORMAL, K_ALLNEGINF, K_NORMAL, K_POSINF1, K_NORMAL, K_POSINFS,
    K_NORMAL, K_NAN,    K_NORMAL, K_NANINF,    K_NORMAL, K_TIES,    K_NORMAL, K_ONEHOT,
    K_NORMAL, K_TAILMAX};

void fill_normal(int dt, double *x, size_t k, double scale, trng *r) {
  for (size_t j = 0; j < k; j++) x[j] = dt_round(dt, scale * tr_normal(r));
}

double row_max(const double *x, size_t k) {
  double m = -INFINITY;
  for (size_t j = 0; j < k; j++)
    if (x[j] > m) m = x[j];
  return m;
}

/* One row of the given kind (values representable in dt). temp: the
   temperature the row will also be used with (K_HUGE aims at the z / temp
   overflow threshold). */
void gen_row(int dt, int kind, double *x, size_t k, double scale, double temp, trng *r) {
  const double mx = dt_max(dt);
  switch (kind) {
  case K_NORMAL:
    fill_normal(dt, x, k, scale, r);
    break;
  case K_EQUAL: {
    const double v = dt_round(dt, scale * 10 * tr_normal(r));
    for (size_t j = 0; j < k; j++) x[j] = v;
    break;
  }
  case K_PM1000:
    for (size_t j = 0; j < k; j++) x[j] = tr_below(r, 2) ? 1000.0 : -1000.0;
    break;
  case K_UFLOW:
  case K_ONEHOT: {
    const bool uf = kind == K_UFLOW;
    const double lo = dt == F32 ? (uf ? -106 : -30) : (uf ? -748 : -60);
    const double hi = dt == F32 ? (uf ? -85 : -17) : (uf ? -700 : -38);
    const double c = dt_round(dt, 10 * tr_normal(r));
    const size_t jm = tr_below(r, k);
    for (size_t j = 0; j < k; j++)
      x[j] = j == jm ? c : dt_round(dt, c + lo + (hi - lo) * tr_uniform(r));
    break;
  }
  case K_HUGE: {
    const double thr = mx * (temp < 1 ? temp : 1);
    for (size_t j = 0; j < k; j++) {
      double v;
      switch (tr_below(r, 4)) {
      case 0: /* within a few eps of the threshold */
        v = thr * (1 + (double)((int)tr_below(r, 9) - 4) * dt_eps(dt));
        break;
      case 1:
        v = mx * (0.5 + 0.5 * tr_uniform(r));
        break;
      case 2:
        v = scale * tr_normal(r);
        break;
      default:
        v = thr * tr_uniform(r);
        break;
      }
      if (v > mx) v = mx;
      x[j] = dt_round(dt, tr_below(r, 2) ? v : -v);
    }
    break;
  }
  case K_NEGINF: {
    fill_normal(dt, x, k, scale, r);
    const size_t cnt = 1 + tr_below(r, k / 3 + 1);
    for (size_t c = 0; c < cnt; c++) x[tr_below(r, k)] = -INFINITY;
    break;
  }
  case K_ALLNEGINF:
    for (size_t j = 0; j < k; j++) x[j] = -INFINITY;
    break;
  case K_POSINF1:
    fill_normal(dt, x, k, scale, r);
    if (k > 2 && tr_below(r, 2)) x[tr_below(r, k)] = -INFINITY;
    x[tr_below(r, k)] = INFINITY;
    break;
  case K_POSINFS: {
    fill_normal(dt, x, k, scale, r);
    const size_t cnt = 2 + tr_below(r, 3);
    for (size_t c = 0; c < cnt; c++) x[tr_below(r, k)] = INFINITY;
    break;
  }
  case K_NAN: {
    fill_normal(dt, x, k, scale, r);
    const size_t u = tr_below(r, 4);
    x[u == 0 ? 0 : u == 1 ? k - 1 : tr_below(r, k)] = NAN;
    break;
  }
  case K_NANINF:
    fill_normal(dt, x, k, scale, r);
    x[tr_below(r, k)] = INFINITY;
    x[tr_below(r, k)] = -INFINITY;
    x[tr_below(r, k)] = NAN;
    break;
  case K_TIES: {
    fill_normal(dt, x, k, scale, r);
    const double m = row_max(x, k);
    const size_t cnt = 1 + tr_below(r, k / 4 + 1);
    for (size_t c = 0; c < cnt; c++) x[tr_below(r, k)] = m;
    if (tr_below(r, 2)) x[k - 1] = m;
    break;
  }
  case K_TAILMAX: {
    fill_normal(dt, x, k, scale, r);
    const double m = row_max(x, k);
    x[k - 1] = dt_round(dt, m + scale * (0.5 + tr_uniform(r)));
    break;
  }
  default:
    FAIL("bad row kind %d", kind);
  }
}

/* A label: a quarter of the rows get the first max (confident, correct:
   the cancellation-prone gradient entry), the rest a random class. */
int32_t pick_label(const double *x, size_t k, trng *r) {
  if (tr_below(r, 4) == 0) {
    size_t jm = 0;
    double m = -INFINITY;
    for (size_t j = 0; j < k; j++)
      if (x[j] > m) {
        m = x[j];
        jm = j;
      }
    return (int32_t)jm;
  }
  return (int32_t)tr_below(r, k);
}

/* ======================================================================== */
/* Long-double reference of the row kernels                                  */
/* ======================================================================== */


typedef struct {
  double x;
  uint32_t j;
} xj_pair;

static int cmp_xj(const void *a, const void *b) {
  const xj_pair *p = a, *q = b;
  if (p->x < q->x) return -1;
  if (p->x > q->x) return 1;
  return (p->j > q->j) - (p->j < q->j);
}

/* The reference of one row. For f32 rows exp and log1p run in double
   (2^-53 relative: 29 bits beyond an f32 bound, and much faster where long
   double is emulated, as the binary128 of AArch64); f64 rows use long
   double throughout. */
static void ref_row(int dt, const double *x, size_t k, rrow *rr, long double *p) {
  memset(rr, 0, sizeof *rr);
  rr->m = -INFINITY;
  bool any_nan = false;
  size_t finite = 0;
  double mz = -INFINITY, run = -INFINITY;
  for (size_t j = 0; j < k; j++) {
    const double v = x[j];
    if (v > run) {
      run = v;
      rr->resc++;
    }
    if (isnan(v)) {
      any_nan = true;
      continue;
    }
    if (v > mz || (j == 0 && v == mz)) {
      mz = v;
      rr->jz = j;
    }
    if (v == INFINITY) {
      rr->pinf++;
    } else if (v != -INFINITY) {
      if (finite == 0 || v > rr->m) {
        rr->m = v;
        rr->jmax = j;
      }
      finite++;
    }
  }
  rr->nan_row = any_nan || (rr->pinf == 0 && finite == 0);
  if (!rr->nan_row && rr->pinf == 0) {
    long double rest = 0, wd = 0;
    for (size_t j = 0; j < k; j++) {
      if (x[j] == -INFINITY) {
        p[j] = 0;
        continue;
      }
      const long double d = (long double)x[j] - rr->m;
      const long double e = j == rr->jmax ? 1.0L : dt == F32 ? (long double)exp((double)d) : expl(d);
      p[j] = e;
      if (j != rr->jmax) rest += e;
      wd += e * fabsl(d);
    }
    rr->rest = rest;
    rr->S = 1.0L + rest;
    rr->lsum = dt == F32 ? (long double)log1p((double)rest) : log1pl(rest);
    rr->dbar = wd / rr->S;
    for (size_t j = 0; j < k; j++) p[j] /= rr->S;
  } else {
    for (size_t j = 0; j < k; j++) {
      if (rr->nan_row)
        p[j] = NAN;
      else
        p[j] = x[j] == INFINITY ? 1.0L / (long double)rr->pinf : 0.0L;
    }
  }
}

/* The reference of the n x k matrix z as the kernel sees it: z, or
   fl(z / temp) when scaled. */
void ref_build(refmat *R, int dt, const double *z, size_t n, size_t k, double temp,
               bool scaled, bool want_perm) {
  const size_t len = n * k;
  R->dt = dt;
  R->n = n;
  R->k = k;
  R->x = xmalloc(len * sizeof *R->x);
  R->rows = xmalloc(n * sizeof *R->rows);
  R->p = xmalloc(len * sizeof *R->p);
  R->perm = xmalloc((want_perm ? len : 1) * sizeof *R->perm);
  R->xs = xmalloc((want_perm ? len : 1) * sizeof *R->xs);
  for (size_t i = 0; i < len; i++) R->x[i] = scaled ? dt_div(dt, z[i], temp) : z[i];
  xj_pair *tmp = xmalloc(k * sizeof *tmp);
  for (size_t i = 0; i < n; i++) {
    const double *x = R->x + i * k;
    ref_row(dt, x, k, &R->rows[i], R->p + i * k);
    if (R->rows[i].nan_row || !want_perm) continue;
    for (size_t j = 0; j < k; j++) {
      tmp[j].x = x[j];
      tmp[j].j = (uint32_t)j;
    }
    qsort(tmp, k, sizeof *tmp, cmp_xj);
    for (size_t j = 0; j < k; j++) {
      R->perm[i * k + j] = tmp[j].j;
      R->xs[i * k + j] = tmp[j].x;
    }
  }
  free(tmp);
}

void ref_free(refmat *R) {
  free(R->x);
  free(R->rows);
  free(R->p);
  free(R->perm);
  free(R->xs);
}

/* log_softmax of element (i, j). */
long double ref_lp(const refmat *R, size_t i, size_t j) {
  const rrow *rr = &R->rows[i];
  const double x = R->x[i * R->k + j];
  if (rr->nan_row) return NAN;
  if (rr->pinf > 0) return x == INFINITY ? -logl((long double)rr->pinf) : -INFINITY;
  if (x == -INFINITY) return -INFINITY;
  return ((long double)x - rr->m) - rr->lsum;
}

/* |d_j| + Dbar for a finite entry, 0 otherwise. */
double ref_cond(const refmat *R, size_t i, size_t j) {
  const rrow *rr = &R->rows[i];
  const double x = R->x[i * R->k + j];
  if (rr->nan_row || rr->pinf > 0 || !isfinite(x)) return 0;
  return (double)(fabsl((long double)x - rr->m) + rr->dbar);
}

/* coef * eps * |v|, 0 when v is 0 (coef may then be huge, even inf: |d_j|
   of an entry far below the max). Tolerances are computed in double; only
   got - ref needs the reference's precision. */
double rel_term(double coef, double eps, double v) {
  return v == 0 ? 0 : coef * eps * fabs(v);
}

/* -log p_label of row i (extended softmax). */
long double ref_loss_row(const refmat *R, size_t i, size_t y) {
  const rrow *rr = &R->rows[i];
  const double xy = R->x[i * R->k + y];
  if (rr->nan_row) return NAN;
  if (rr->pinf > 0) return xy == INFINITY ? logl((long double)rr->pinf) : INFINITY;
  if (xy == -INFINITY) return INFINITY;
  return (rr->m - xy) + rr->lsum;
}

/* (p_j - [j == y]) * s; p_y - 1 = -rest / S at the first max (no
   cancellation in the reference either). */
long double ref_grad(const refmat *R, size_t i, size_t j, size_t y, long double s) {
  const rrow *rr = &R->rows[i];
  if (rr->nan_row) return NAN;
  const long double p = R->p[i * R->k + j];
  long double q;
  if (j != y)
    q = p;
  else if (rr->pinf == 0 && y == rr->jmax)
    q = -rr->rest / rr->S;
  else
    q = p - 1;
  return q * s;
}

/* The summed CE loss of the reference, and its bound with spec ts. */
long double ce_loss_ref(const refmat *R, const int32_t *labels, const tolspec *ts,
                        long double *tol, long double *unit) {
  long double total = 0, cond = 0, mag = 0;
  for (size_t i = 0; i < R->n; i++) {
    const size_t y = (size_t)labels[i];
    const long double l = ref_loss_row(R, i, y);
    total += l;
    if (!isfinite(l)) continue;
    const rrow *rr = &R->rows[i];
    const double xy = R->x[i * R->k + y];
    cond += 1 + (rr->pinf > 0 ? 0 : rr->dbar + fabsl(rr->m - xy));
    mag += fabsl(l);
  }
  *tol = ts->a * dt_eps(R->dt) * cond + (ts->b + ts->r * (double)(R->k + R->n)) * DBL_EPSILON * mag;
  /* the final rounding of the double result; below DBL_MIN every
     exponential of the sum is rounded to the subnormal grid on its own */
  if (ts->a + ts->b + ts->r > 0)
    *tol += ulp_t(F64, total) + (double)(R->n * R->k) * DBL_TRUE_MIN;
  *unit = DBL_EPSILON * (fabsl(total) > 0 && isfinite(total) ? fabsl(total) : 1.0L);
  return total;
}

