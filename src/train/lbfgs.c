/* lbfgs.c - L-BFGS over an objective (solvers.h), full batch, its state
   in double whatever the objective's dtype: the two-loop recursion, and a
   line search for the strong Wolfe conditions with an approximate form
   near the precision limit. */
#include "train/solvers.h"

#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool smr_lbfgs_alloc(smr_lbfgs *L, smr_objective *o, size_t mem) {
  const size_t P = o->nparams;
  memset(L, 0, sizeof *L);
  L->obj = o;
  L->P = P;
  L->mem = mem;
  size_t pm;
  if (!smr_mul_ok(P, mem, &pm)) return false;
  L->x = smr_malloc_n(P, sizeof(double));
  L->g = smr_malloc_n(P, sizeof(double));
  L->dir = smr_malloc_n(P, sizeof(double));
  L->xt = smr_malloc_n(P, sizeof(double));
  L->gt = smr_malloc_n(P, sizeof(double));
  L->xb = smr_malloc_n(P, sizeof(double));
  L->gb = smr_malloc_n(P, sizeof(double));
  L->S = smr_malloc_n(pm, sizeof(double));
  L->Y = smr_malloc_n(pm, sizeof(double));
  L->rho = smr_malloc_n(mem, sizeof(double));
  L->alpha = smr_malloc_n(mem, sizeof(double));
  return L->x && L->g && L->dir && L->xt && L->gt && L->xb && L->gb && L->S && L->Y && L->rho &&
         L->alpha;
}

void smr_lbfgs_free(smr_lbfgs *L) {
  free(L->x);
  free(L->g);
  free(L->dir);
  free(L->xt);
  free(L->gt);
  free(L->xb);
  free(L->gb);
  free(L->S);
  free(L->Y);
  free(L->rho);
  free(L->alpha);
  memset(L, 0, sizeof *L);
}

bool smr_lbfgs_start(smr_lbfgs *L) {
  smr_objective *o = L->obj;
  smr_param_to_f64(o, o->theta, L->x);
  L->f = o->evaluate(o, SMR_BATCH_ALL);
  smr_param_to_f64(o, o->grad, L->g);
  return isfinite(L->f);
}

double smr_lbfgs_grad_norm(const smr_lbfgs *L) { return smr_param_inf_norm(L->obj, L->g); }

/* Evaluates at x + a dir: the model takes that point (rounded), xt the
   point read back, gt its gradient; returns the objective (+inf when not
   finite) and *dphi = gt . dir. */
static double ls_eval(smr_lbfgs *L, double a, double *dphi) {
  smr_objective *o = L->obj;
  for (size_t i = 0; i < L->P; i++) L->xt[i] = L->x[i] + a * L->dir[i];
  smr_param_from_f64(o, L->xt, o->theta);
  smr_param_to_f64(o, o->theta, L->xt);
  const double f = o->evaluate(o, SMR_BATCH_ALL);
  smr_param_to_f64(o, o->grad, L->gt);
  if (!isfinite(f)) {
    *dphi = NAN;
    return INFINITY;
  }
  *dphi = smr_param_dot(o, L->gt, L->dir);
  return f;
}

/* A minimizer of the cubic through (a, fa, da) and (b, fb, db), kept at
   least a tenth of the interval away from its ends; the midpoint when the
   cubic gives nothing usable (an infinite value, a complex root). */
static double cubic_step(double a, double fa, double da, double b, double fb, double db) {
  const double lo = fmin(a, b), hi = fmax(a, b), wd = hi - lo;
  double t = NAN;
  if (isfinite(fa) && isfinite(fb) && isfinite(da) && isfinite(db)) {
    const double d1 = da + db - 3.0 * (fa - fb) / (a - b);
    const double disc = d1 * d1 - da * db;
    if (disc >= 0.0) {
      const double d2 = copysign(sqrt(disc), b - a);
      t = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
    }
  }
  if (!(t >= lo + 0.1 * wd && t <= hi - 0.1 * wd)) t = 0.5 * (a + b);
  return t;
}

/* The next trial step while f still descends at a1 (derivative d1 < 0)
   after a0 < a1 (d0): where the secant of the derivative through the two
   points reaches 0, the minimizer of the quadratic they define, kept within
   [4 a1, LS_EXTRAPOLATE a1]; 4 a1 (MINPACK-2's dcsrch factor) when the
   derivative did not grow. On a nearly linear stretch (the first
   iteration from W = 0 on a wide problem: 20000 x 100 x 1000 went 1, 4,
   16, 64) a fixed factor of 4 costs an evaluation per factor. */
#define LS_EXTRAPOLATE 1000.0
static double extrapolate(double a0, double d0, double a1, double d1) {
  if (!(d1 > d0)) return 4.0 * a1;
  const double s = a1 + (a1 - a0) * (-d1 / (d1 - d0));
  return s < 4.0 * a1 ? 4.0 * a1 : s > LS_EXTRAPOLATE * a1 ? LS_EXTRAPOLATE * a1 : s;
}

/* Line search for a step a along dir satisfying the strong Wolfe
   conditions f(a) <= f0 + c1 a dphi0 and |dphi(a)| <= c2 |dphi0| (c1 =
   1e-4, c2 = 0.9; Nocedal & Wright, Algorithms 3.5 and 3.6, with cubic
   interpolation), or their approximate form near the precision limit:
   close to the minimum, f0 - f(a) falls below the rounding of the
   objective and the decrease test fails on noise, while the derivatives
   still say where the minimum is. A point that meets the curvature
   condition, whose f exceeds f0 by at most LS_EPS_F eps(T) |f0| and whose
   gradient is smaller (max norm) than at x is then accepted (Hager &
   Zhang's approximate Wolfe conditions, CG_DESCENT, 2005, with progress
   measured by the gradient where f cannot measure it; once the gradient is
   rounding noise it stops getting smaller and the search fails as
   before). Returns true with the accepted point in xt, gt and
   its objective in *ft; when the search runs out of evaluations (LS_MAX)
   or the bracket collapses, the best point seen that decreased f is
   accepted; false when there is none (the model then holds x again). */
#define LS_MAX 25
#define LS_EPS_F 16.0
static bool line_search(smr_lbfgs *L, double a, double dphi0, double *ft) {
  smr_objective *o = L->obj;
  const double c1 = 1e-4, c2 = 0.9, f0 = L->f;
  const double eps_f = LS_EPS_F * smr_param_eps(o) * fabs(f0);
  double a_prev = 0.0, f_prev = f0, d_prev = dphi0;
  double a_lo = 0.0, f_lo = f0, d_lo = dphi0, a_hi = 0.0, f_hi = f0, d_hi = dphi0;
  double f_best = f0, a_next = a;
  bool bracket = false, have_best = false;
  for (int it = 0; it < LS_MAX; it++) {
    double da;
    const double fa = ls_eval(L, a, &da);
    const bool armijo = fa <= f0 + c1 * a * dphi0; /* sufficient decrease */
    if (!armijo && fa <= f0 + eps_f && fabs(da) <= -c2 * dphi0 &&
        smr_param_inf_norm(o, L->gt) < smr_param_inf_norm(o, L->g)) {
      *ft = fa; /* approximate Wolfe */
      return true;
    }
    bool keep = false; /* the point at a becomes the low end (and the best) */
    if (!bracket) {
      if (!armijo || (it > 0 && fa >= f_prev)) {
        bracket = true;
        a_lo = a_prev, f_lo = f_prev, d_lo = d_prev;
        a_hi = a, f_hi = fa, d_hi = da;
      } else if (fabs(da) <= -c2 * dphi0) {
        *ft = fa;
        return true;
      } else if (da >= 0.0) {
        bracket = true;
        a_hi = a_prev, f_hi = f_prev, d_hi = d_prev;
        a_lo = a, f_lo = fa, d_lo = da;
        keep = true;
      } else {
        keep = true; /* still descending: a longer step */
        a_next = extrapolate(a_prev, d_prev, a, da);
        a_prev = a, f_prev = fa, d_prev = da;
      }
    } else {
      if (!armijo || fa >= f_lo) {
        a_hi = a, f_hi = fa, d_hi = da;
      } else {
        if (fabs(da) <= -c2 * dphi0) {
          *ft = fa;
          return true;
        }
        if (da * (a_hi - a_lo) >= 0.0) a_hi = a_lo, f_hi = f_lo, d_hi = d_lo;
        a_lo = a, f_lo = fa, d_lo = da;
        keep = true;
      }
    }
    if (keep) {
      memcpy(L->xb, L->xt, L->P * sizeof(double));
      memcpy(L->gb, L->gt, L->P * sizeof(double));
      f_best = fa;
      have_best = true;
    }
    if (!bracket) {
      a = a_next;
      continue;
    }
    if (fabs(a_hi - a_lo) <= 1e-14 * fmax(a_hi, a_lo)) break;
    a = cubic_step(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi);
  }
  if (have_best && f_best < f0) {
    memcpy(L->xt, L->xb, L->P * sizeof(double));
    memcpy(L->gt, L->gb, L->P * sizeof(double));
    smr_param_from_f64(o, L->xt, o->theta);
    *ft = f_best;
    return true;
  }
  smr_param_from_f64(o, L->x, o->theta);
  return false;
}

/* dir = -H g by the two-loop recursion over the stored pairs (H0 =
   gamma I, gamma = s'y / y'y of the newest pair). */
static void direction(smr_lbfgs *L) {
  const smr_objective *o = L->obj;
  const struct smr_kernels_f64 *k64 = &o->tables->f64;
  const size_t P = L->P;
  double *q = L->dir;
  for (size_t i = 0; i < P; i++) q[i] = L->g[i];
  for (size_t t = 0; t < L->count; t++) {
    const size_t s = (L->head + L->mem - 1 - t) % L->mem; /* newest first */
    L->alpha[s] = L->rho[s] * smr_param_dot(o, L->S + s * P, q);
    k64->axpy(P, -L->alpha[s], L->Y + s * P, q);
  }
  if (L->count > 0) {
    const size_t s = (L->head + L->mem - 1) % L->mem;
    const double *yy = L->Y + s * P;
    const double gamma = 1.0 / (L->rho[s] * smr_param_dot(o, yy, yy));
    for (size_t i = 0; i < P; i++) q[i] *= gamma;
  }
  for (size_t t = L->count; t-- > 0;) {
    const size_t s = (L->head + L->mem - 1 - t) % L->mem; /* oldest first */
    const double beta = L->rho[s] * smr_param_dot(o, L->Y + s * P, q);
    k64->axpy(P, L->alpha[s] - beta, L->S + s * P, q);
  }
  for (size_t i = 0; i < P; i++) q[i] = -q[i];
}

/* One L-BFGS iteration from x (objective L->f, gradient L->g): direction,
   line search, then the new pair. False when the line search found no
   decrease (the parameters are left at x): the objective cannot be
   lowered along the direction at the precision of T. */
bool smr_lbfgs_iter(smr_lbfgs *L) {
  const smr_objective *o = L->obj;
  const size_t P = L->P;
  direction(L);
  double dphi0 = smr_param_dot(o, L->g, L->dir);
  if (!(dphi0 < 0.0)) { /* not a descent direction: forget the pairs */
    L->count = 0;
    for (size_t i = 0; i < P; i++) L->dir[i] = -L->g[i];
    dphi0 = -smr_param_dot(o, L->g, L->g);
  }
  /* the first step has length 1 (at most a unit step along -g); later the
     quasi-Newton step a = 1 */
  double a0 = L->count == 0 ? fmin(1.0, 1.0 / sqrt(-dphi0)) : 1.0;
  double ft;
  if (!line_search(L, a0, dphi0, &ft)) {
    /* the pairs may describe the curvature badly (f32 rounding of the
       gradients they came from): once more along -g with no memory */
    if (L->count == 0) return false;
    L->count = 0;
    for (size_t i = 0; i < P; i++) L->dir[i] = -L->g[i];
    dphi0 = -smr_param_dot(o, L->g, L->g);
    a0 = fmin(1.0, 1.0 / sqrt(-dphi0));
    if (!line_search(L, a0, dphi0, &ft)) return false;
  }
  double *s = L->S + L->head * P, *yv = L->Y + L->head * P;
  for (size_t i = 0; i < P; i++) {
    s[i] = L->xt[i] - L->x[i];
    yv[i] = L->gt[i] - L->g[i];
  }
  const double sy = smr_param_dot(o, s, yv);
  if (sy > 1e-12 * smr_param_dot(o, yv, yv)) { /* keep H positive definite */
    L->rho[L->head] = 1.0 / sy;
    L->head = (L->head + 1) % L->mem;
    if (L->count < L->mem) L->count++;
  }
  memcpy(L->x, L->xt, P * sizeof(double));
  memcpy(L->g, L->gt, P * sizeof(double));
  L->f = ft;
  return true;
}
