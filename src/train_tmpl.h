/* train_tmpl.h - body of train.c for one dtype. Included with
     T    the element type (float, double)
     T_EPS its machine epsilon
     SFX  the suffix (f32, f64): names smr_fit_<SFX> and the table member
     DT   the model dtype (SMR_F32, SMR_F64)
   No include guard on purpose. */

#define FN(name) SMR_CAT(name, SFX)
#define KTABLE struct SMR_CAT(smr_kernels, SFX)

/* What one fit works on. Training and validation rows are already
   standardized (when the model has or gets a standardization). */
typedef struct {
  const KTABLE *kt;
  smr_model *m;
  const smr_fit_options *o;
  size_t d, k, dk;
  double l2;
  T *Z;         /* zrows x k: logits, then gradients in place */
  size_t zrows; /* rows per block: the workspace cap, at most the batch */
  size_t crows; /* rows per task of the row-parallel CE (see ce_block) */
  size_t wave;  /* tasks per parallel job */
  double *wce;  /* wave: each task's CE sum */
  T *wdb;       /* wave x k: each task's column sums of G */
  T *dW, *db;   /* d x k, k: the gradient of the last evaluation */
  smr_param_snapshot bak; /* the parameters before the current step */
  T *sW, *sb, *tW, *tb;   /* sgd: velocity (sW, sb); adam: m (tW, tb), v (sW, sb) */
  size_t adam_t;          /* adam: steps taken */
  size_t evals;           /* objective + gradient evaluations */
  bool check_x; /* the next evaluation checks its rows of X (see objective_grad) */
  bool x_bad;   /* it found a NaN or an infinity there */
} FN(fit_ctx);

static size_t FN(fit_min)(size_t a, size_t b) { return a < b ? a : b; }

/* A context for batches of at most bs rows: the workspace holds a row block
   of at most o->workspace_bytes (at least one row). Buffers start NULL. */
static FN(fit_ctx) FN(ctx_make)(const KTABLE *kt, smr_model *m, const smr_fit_options *o,
                                size_t bs) {
  FN(fit_ctx) c;
  memset(&c, 0, sizeof c);
  c.kt = kt;
  c.m = m;
  c.o = o;
  c.d = m->d;
  c.k = m->k;
  c.dk = m->d * m->k;
  c.l2 = o->l2;
  const size_t cap_rows = o->workspace_bytes / (c.k * sizeof(T));
  c.crows = (PAR_TASK_ELEMS + c.k - 1) / c.k;
  /* a block of about BLOCK_BYTES stays in L2 (one thread) or L3 between
     the GEMM that writes it, the CE pass and the GEMM that reads it, and
     its pages are touched once per fit; at least BLOCK_MIN_ROWS rows keep
     the dW update of each block (a pass over d x k) small next to its
     GEMM; whole CE tasks, so the loss and db do not depend on the block
     (nor does the rest with smr's own products: see ce_block) */
  size_t rows = BLOCK_BYTES / (c.k * sizeof(T));
  if (rows < BLOCK_MIN_ROWS) rows = BLOCK_MIN_ROWS;
  rows = (rows + c.crows - 1) / c.crows * c.crows;
  /* the cap (at least one row) in whole CE tasks too, where it holds one */
  size_t cap = cap_rows > 0 ? cap_rows : 1;
  if (cap >= c.crows) cap = cap / c.crows * c.crows;
  c.zrows = FN(fit_min)(bs, FN(fit_min)(rows, cap));
  /* the wave only groups tasks into jobs (never changes a result): at
     least two tasks per thread, at most PAR_WAVE_ELEMS column sums */
  const size_t threads = smr_num_threads();
  c.wave = FN(fit_min)(PAR_WAVE_MAX, PAR_WAVE_ELEMS / c.k);
  if (c.wave < 2 * threads) c.wave = 2 * threads;
  return c;
}

/* The workspace Z and the per-task sums; false: out of memory (free with
   ctx_free_buffers either way). */
static bool FN(ctx_buffers)(FN(fit_ctx) *c) {
  c->Z = smr_malloc_n(c->zrows * c->k, sizeof(T));
  c->wce = smr_malloc_n(c->wave, sizeof(double));
  c->wdb = smr_malloc_n(c->wave * c->k, sizeof(T));
  return c->Z != NULL && c->wce != NULL && c->wdb != NULL;
}

static void FN(ctx_free_buffers)(FN(fit_ctx) *c) {
  free(c->Z);
  free(c->wce);
  free(c->wdb);
}

/* One wave of CE tasks over a row block of Z. */
typedef struct {
  const FN(fit_ctx) *c;
  T *Z;               /* the block */
  const int32_t *y;
  const T *w;         /* NULL: unweighted */
  size_t rows;        /* of the block */
  size_t first;       /* task number (in the block) of the wave's first */
  T scale;
  bool grad;
} FN(ce_wave);

static void FN(ce_task)(void *arg, size_t t) {
  const FN(ce_wave) *j = arg;
  const FN(fit_ctx) *c = j->c;
  const size_t r0 = (j->first + t) * c->crows;
  const size_t rows = FN(fit_min)(c->crows, j->rows - r0);
  T *z = j->Z + r0 * c->k;
  c->wce[t] = c->kt->ce_logits(z, j->y + r0, j->w != NULL ? j->w + r0 : NULL, rows, c->k,
                               j->scale, j->grad ? z : NULL);
  if (j->grad) c->kt->colsum(z, c->wdb + t * c->k, rows, c->k, false);
}

/* The row-parallel part of the pipeline on a block of `rows` logits in Z:
   adds w_i CE_i of the block's rows to *ce, and with grad, Z <- G = w
   (softmax - Y) * scale in place and db (+)= the column sums of G (db =
   when !accumulate). The block is cut into tasks of crows rows (a function
   of k alone); each task's CE sum and column sums are added to the running
   *ce and db in task order. Blocks are whole tasks (ctx_make), so the
   result is the same for any block size and any thread count, on one
   thread too. */
static void FN(ce_block)(const FN(fit_ctx) *c, const int32_t *y, const T *w, size_t rows, T scale,
                         bool grad, bool accumulate, double *ce) {
  const size_t ntasks = (rows + c->crows - 1) / c->crows;
  FN(ce_wave) j = {c, c->Z, y, w, rows, 0, scale, grad};
  double s = *ce;
  for (; j.first < ntasks; j.first += c->wave) {
    const size_t nt = FN(fit_min)(c->wave, ntasks - j.first);
    smr_parallel_for(nt, FN(ce_task), &j);
    for (size_t t = 0; t < nt; t++) {
      s += c->wce[t];
      if (!grad) continue;
      if (!accumulate && j.first + t == 0)
        memcpy(c->db, c->wdb, c->k * sizeof(T));
      else
        c->kt->axpy(c->k, (T)1, c->wdb + t * c->k, c->db);
    }
  }
  *ce = s;
}

/* (l2/2) ||W||^2, the penalty of the objective (bias unpenalized). */
static double FN(l2_term)(const FN(fit_ctx) *c) {
  return c->l2 > 0.0 ? 0.5 * c->l2 * c->kt->sumsq(c->m->W, c->dk) : 0.0;
}

/* sum_i w_i CE_i of the current parameters on n rows (w NULL: all 1), in
   blocks of zrows. */
static double FN(ce_sum)(const FN(fit_ctx) *c, const T *X, const int32_t *y, const T *w,
                         size_t n) {
  double s = 0.0;
  for (size_t r = 0; r < n; r += c->zrows) {
    size_t rows = FN(fit_min)(c->zrows, n - r);
    c->kt->linear_forward(X + r * c->d, c->m->W, c->m->b, c->Z, rows, c->d, c->k);
    FN(ce_block)(c, y + r, w != NULL ? w + r : NULL, rows, (T)1, false, false, &s);
  }
  return s;
}

/* The objective on nb rows at the current parameters, and its gradient
   into dW, db. The fused pipeline, one row block of the workspace at a
   time: Z = X W + b (GEMM), Z <- G = w (softmax(Z) - Y) / nb in place with
   the CE sum and db (+)= column sums of G on the way (ce_block, row-
   parallel), dW (+)= X^T G (GEMM); then dW += l2 W. No other n x k buffer;
   the column sums read each task's rows while they are in cache.
   With check_x set, the evaluation first proves its rows of X finite
   without reading them again when it can: a NaN or an infinity x_ij makes
   every logit of row i NaN or infinite (x_ij w_jc is, for any finite w_jc,
   and the products compute every term), so a block whose logits are all
   finite has finite rows, and X is read only behind a block that is not
   (finite rows can overflow). A bad row sets x_bad and ends the evaluation
   (NaN), before any parameter has changed. */
static double FN(objective_grad)(FN(fit_ctx) *c, const T *X, const int32_t *y, const T *w,
                                 size_t nb) {
  const KTABLE *kt = c->kt;
  const T *W = c->m->W, *b = c->m->b;
  const T scale = (T)(1.0 / (double)nb);
  double ce = 0.0;
  for (size_t r = 0; r < nb; r += c->zrows) {
    const size_t rows = FN(fit_min)(c->zrows, nb - r);
    const T *xr = X + r * c->d;
    kt->linear_forward(xr, W, b, c->Z, rows, c->d, c->k);
    if (c->check_x && !kt->all_finite(c->Z, rows * c->k) && !kt->all_finite(xr, rows * c->d)) {
      c->x_bad = true;
      return (double)NAN;
    }
    FN(ce_block)(c, y + r, w != NULL ? w + r : NULL, rows, scale, true, r > 0, &ce);
    kt->xt_g(xr, c->Z, c->dW, rows, c->d, c->k, r > 0);
  }
  if (c->l2 > 0.0) kt->axpy(c->dk, (T)c->l2, W, c->dW);
  c->check_x = false;
  c->evals++;
  return ce / (double)nb + FN(l2_term)(c);
}

/* max_j |gradient_j| of the last evaluation */
static T FN(abs_max)(const T *x, size_t len) {
  T g = (T)0;
  for (size_t i = 0; i < len; i++) g = x[i] > g ? x[i] : -x[i] > g ? -x[i] : g;
  return g;
}

/* max_j |gradient_j| of the last evaluation (the maximum formed in T is
   exact; NaN entries are skipped, so a NaN gradient is caught by the
   objective, which is NaN too) */
static double FN(grad_inf)(const FN(fit_ctx) *c) {
  const T a = FN(abs_max)(c->dW, c->dk), b = FN(abs_max)(c->db, c->k);
  return (double)(a > b ? a : b);
}

/* One step of gd, sgd or adam on nb rows. *obj = the batch objective at
   the parameters the step started from. SMR_ENONFINITE when that objective
   or the updated parameters are not finite; the parameters are then those
   before the step. */
static smr_status FN(fit_step)(FN(fit_ctx) *c, const T *X, const int32_t *y, const T *w,
                               size_t nb, double lr, double *obj) {
  const KTABLE *kt = c->kt;
  const smr_fit_options *o = c->o;
  T *W = c->m->W, *b = c->m->b;
  *obj = FN(objective_grad)(c, X, y, w, nb);
  if (!isfinite(*obj)) return SMR_ENONFINITE;

  smr_snapshot_take(c->m, &c->bak);
  switch (o->solver) {
  case SMR_SOLVER_SGD:
    kt->momentum_step(c->dk, lr, o->momentum, o->nesterov, c->dW, c->sW, W);
    kt->momentum_step(c->k, lr, o->momentum, o->nesterov, c->db, c->sb, b);
    break;
  case SMR_SOLVER_ADAM: {
    c->adam_t++;
    const double bc1 = 1.0 - pow(o->beta1, (double)c->adam_t);
    const double sbc2 = sqrt(1.0 - pow(o->beta2, (double)c->adam_t));
    kt->adam_step(c->dk, lr, o->beta1, o->beta2, o->adam_eps, bc1, sbc2, c->dW, c->tW, c->sW, W);
    kt->adam_step(c->k, lr, o->beta1, o->beta2, o->adam_eps, bc1, sbc2, c->db, c->tb, c->sb, b);
    break;
  }
  default: /* SMR_SOLVER_GD */
    kt->axpy(c->dk, (T)-lr, c->dW, W);
    kt->axpy(c->k, (T)-lr, c->db, b);
    break;
  }
  if (!kt->all_finite(W, c->dk) || !kt->all_finite(b, c->k)) {
    smr_snapshot_restore(c->m, &c->bak);
    return SMR_ENONFINITE;
  }
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* L-BFGS                                                                    */
/* ------------------------------------------------------------------------ */

/* The state of L-BFGS over the P = d k + k parameters (W then b), kept in
   double. x always equals the model's parameters exactly (a trial point is
   rounded to T and read back), so s = x_new - x is the step really taken. */
typedef struct {
  size_t P, mem, count, head; /* pairs stored (at most mem), next slot */
  double *x, *g, *dir;        /* current point, its gradient, the search direction */
  double *xt, *gt;            /* the last trial point and its gradient */
  double *xb, *gb;            /* the best Armijo point of the line search */
  double *S, *Y, *rho, *alpha;
  double f;                   /* objective at x */
  const struct smr_kernels_f64 *k64; /* dot and axpy over the double state */
} FN(lbfgs);

static bool FN(lbfgs_alloc)(FN(lbfgs) *L, const struct smr_kernels_f64 *k64, size_t P, size_t mem) {
  memset(L, 0, sizeof *L);
  L->k64 = k64;
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

static void FN(lbfgs_free)(FN(lbfgs) *L) {
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
}

/* a . b over the state: the f64 table's dot (in the active ISA's vectors;
   its order is fixed by n and the ISA) */
static double FN(dot)(const FN(lbfgs) *L, const double *a, const double *b, size_t n) {
  return L->k64->dot(a, b, n);
}

static void FN(read_params)(const FN(fit_ctx) *c, double *x) {
  const T *W = c->m->W, *b = c->m->b;
  for (size_t i = 0; i < c->dk; i++) x[i] = (double)W[i];
  for (size_t j = 0; j < c->k; j++) x[c->dk + j] = (double)b[j];
}

static void FN(read_grad)(const FN(fit_ctx) *c, double *g) {
  for (size_t i = 0; i < c->dk; i++) g[i] = (double)c->dW[i];
  for (size_t j = 0; j < c->k; j++) g[c->dk + j] = (double)c->db[j];
}

/* The model's parameters = x (rounded to T). */
static void FN(write_params)(FN(fit_ctx) *c, const double *x) {
  T *W = c->m->W, *b = c->m->b;
  for (size_t i = 0; i < c->dk; i++) W[i] = (T)x[i];
  for (size_t j = 0; j < c->k; j++) b[j] = (T)x[c->dk + j];
}

static double FN(inf_norm)(const double *g, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double a = fabs(g[i]);
    m = a > m ? a : m; /* fmax(m, a): a NaN is passed over */
  }
  return m;
}

/* Evaluates at x + a dir: the model takes that point (rounded), xt the
   point read back, gt its gradient; returns the objective (+inf when not
   finite) and *dphi = gt . dir. */
static double FN(ls_eval)(FN(fit_ctx) *c, FN(lbfgs) *L, const T *X, const int32_t *y,
                          const T *w, size_t n, double a, double *dphi) {
  for (size_t i = 0; i < L->P; i++) L->xt[i] = L->x[i] + a * L->dir[i];
  FN(write_params)(c, L->xt);
  FN(read_params)(c, L->xt);
  const double f = FN(objective_grad)(c, X, y, w, n);
  FN(read_grad)(c, L->gt);
  if (!isfinite(f)) {
    *dphi = NAN;
    return INFINITY;
  }
  *dphi = FN(dot)(L, L->gt, L->dir, L->P);
  return f;
}

/* A minimizer of the cubic through (a, fa, da) and (b, fb, db), kept at
   least a tenth of the interval away from its ends; the midpoint when the
   cubic gives nothing usable (an infinite value, a complex root). */
static double FN(cubic_step)(double a, double fa, double da, double b, double fb, double db) {
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
static double FN(extrapolate)(double a0, double d0, double a1, double d1) {
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
static bool FN(line_search)(FN(fit_ctx) *c, FN(lbfgs) *L, const T *X, const int32_t *y,
                            const T *w, size_t n, double a, double dphi0, double *ft) {
  const double c1 = 1e-4, c2 = 0.9, f0 = L->f;
  const double eps_f = LS_EPS_F * T_EPS * fabs(f0);
  double a_prev = 0.0, f_prev = f0, d_prev = dphi0;
  double a_lo = 0.0, f_lo = f0, d_lo = dphi0, a_hi = 0.0, f_hi = f0, d_hi = dphi0;
  double f_best = f0, a_next = a;
  bool bracket = false, have_best = false;
  for (int it = 0; it < LS_MAX; it++) {
    double da;
    const double fa = FN(ls_eval)(c, L, X, y, w, n, a, &da);
    const bool armijo = fa <= f0 + c1 * a * dphi0; /* sufficient decrease */
    if (!armijo && fa <= f0 + eps_f && fabs(da) <= -c2 * dphi0 &&
        FN(inf_norm)(L->gt, L->P) < FN(inf_norm)(L->g, L->P)) {
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
        a_next = FN(extrapolate)(a_prev, d_prev, a, da);
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
    a = FN(cubic_step)(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi);
  }
  if (have_best && f_best < f0) {
    memcpy(L->xt, L->xb, L->P * sizeof(double));
    memcpy(L->gt, L->gb, L->P * sizeof(double));
    FN(write_params)(c, L->xt);
    *ft = f_best;
    return true;
  }
  FN(write_params)(c, L->x);
  return false;
}

/* dir = -H g by the two-loop recursion over the stored pairs (H0 =
   gamma I, gamma = s'y / y'y of the newest pair). */
static void FN(lbfgs_direction)(FN(lbfgs) *L) {
  const size_t P = L->P;
  double *q = L->dir;
  for (size_t i = 0; i < P; i++) q[i] = L->g[i];
  for (size_t t = 0; t < L->count; t++) {
    const size_t s = (L->head + L->mem - 1 - t) % L->mem; /* newest first */
    L->alpha[s] = L->rho[s] * FN(dot)(L, L->S + s * P, q, P);
    L->k64->axpy(P, -L->alpha[s], L->Y + s * P, q);
  }
  if (L->count > 0) {
    const size_t s = (L->head + L->mem - 1) % L->mem;
    const double *yy = L->Y + s * P;
    const double gamma = 1.0 / (L->rho[s] * FN(dot)(L, yy, yy, P));
    for (size_t i = 0; i < P; i++) q[i] *= gamma;
  }
  for (size_t t = L->count; t-- > 0;) {
    const size_t s = (L->head + L->mem - 1 - t) % L->mem; /* oldest first */
    const double beta = L->rho[s] * FN(dot)(L, L->Y + s * P, q, P);
    L->k64->axpy(P, L->alpha[s] - beta, L->S + s * P, q);
  }
  for (size_t i = 0; i < P; i++) q[i] = -q[i];
}

/* One L-BFGS iteration from x (objective L->f, gradient L->g): direction,
   line search, then the new pair. False when the line search found no
   decrease (the parameters are left at x): the objective cannot be
   lowered along the direction at the precision of T. */
static bool FN(lbfgs_iter)(FN(fit_ctx) *c, FN(lbfgs) *L, const T *X, const int32_t *y,
                           const T *w, size_t n) {
  const size_t P = L->P;
  FN(lbfgs_direction)(L);
  double dphi0 = FN(dot)(L, L->g, L->dir, P);
  if (!(dphi0 < 0.0)) { /* not a descent direction: forget the pairs */
    L->count = 0;
    for (size_t i = 0; i < P; i++) L->dir[i] = -L->g[i];
    dphi0 = -FN(dot)(L, L->g, L->g, P);
  }
  /* the first step has length 1 (at most a unit step along -g); later the
     quasi-Newton step a = 1 */
  double a0 = L->count == 0 ? fmin(1.0, 1.0 / sqrt(-dphi0)) : 1.0;
  double ft;
  if (!FN(line_search)(c, L, X, y, w, n, a0, dphi0, &ft)) {
    /* the pairs may describe the curvature badly (f32 rounding of the
       gradients they came from): once more along -g with no memory */
    if (L->count == 0) return false;
    L->count = 0;
    for (size_t i = 0; i < P; i++) L->dir[i] = -L->g[i];
    dphi0 = -FN(dot)(L, L->g, L->g, P);
    a0 = fmin(1.0, 1.0 / sqrt(-dphi0));
    if (!FN(line_search)(c, L, X, y, w, n, a0, dphi0, &ft)) return false;
  }
  double *s = L->S + L->head * P, *yv = L->Y + L->head * P;
  for (size_t i = 0; i < P; i++) {
    s[i] = L->xt[i] - L->x[i];
    yv[i] = L->gt[i] - L->g[i];
  }
  const double sy = FN(dot)(L, s, yv, P);
  if (sy > 1e-12 * FN(dot)(L, yv, yv, P)) { /* keep H positive definite */
    L->rho[L->head] = 1.0 / sy;
    L->head = (L->head + 1) % L->mem;
    if (L->count < L->mem) L->count++;
  }
  memcpy(L->x, L->xt, P * sizeof(double));
  memcpy(L->g, L->gt, P * sizeof(double));
  L->f = ft;
  return true;
}

/* Population mean and standard deviation per feature of the nt training
   rows Xt (through the table), turned into a standardization: scale 1 where
   the deviation is 0 or not finite. False when a mean is not finite. */
static bool FN(feature_stats)(const KTABLE *kt, const T *Xt, size_t nt, size_t d, double *mean,
                              double *scale) {
  kt->col_mean_std(Xt, nt, d, mean, scale);
  bool ok = true;
  for (size_t j = 0; j < d; j++) {
    if (!(isfinite(scale[j]) && scale[j] > 0.0)) scale[j] = 1.0;
    if (!isfinite(mean[j])) ok = false;
  }
  return ok;
}

/* Splits X into training rows (Xt, yt) and held-out rows (Xv, yv) by mask,
   keeping the original order. */
static void FN(split_rows)(const T *X, const int32_t *y, size_t n, size_t d,
                           const unsigned char *mask, T *Xt, int32_t *yt, T *Xv, int32_t *yv) {
  size_t it = 0, iv = 0;
  for (size_t i = 0; i < n; i++) {
    if (mask[i]) {
      memcpy(Xv + iv * d, X + i * d, d * sizeof(T));
      yv[iv++] = y[i];
    } else {
      memcpy(Xt + it * d, X + i * d, d * sizeof(T));
      yt[it++] = y[i];
    }
  }
}

/* Copies rows perm[0..rows) of (X, y, w) into the batch buffers (w and wb
   NULL without weights). */
static void FN(gather_rows)(const T *X, const int32_t *y, const T *w, size_t d,
                            const size_t *perm, size_t rows, T *Xb, int32_t *yb, T *wb) {
  for (size_t i = 0; i < rows; i++) {
    memcpy(Xb + i * d, X + perm[i] * d, d * sizeof(T));
    yb[i] = y[perm[i]];
    if (w != NULL) wb[i] = w[perm[i]];
  }
}

/* The weight of each training row (nt rows, labels yt): the sample weight
   (sw: of the rows given to fit, mask marking the held-out ones, or NULL)
   times the class weight of its label. False when the weights sum to 0. */
static bool FN(row_weights)(const smr_fit_options *o, const double *sw, const unsigned char *mask,
                            size_t n, const int32_t *yt, size_t nt, size_t k, size_t *count,
                            T *wt) {
  size_t it = 0;
  for (size_t i = 0; i < n; i++)
    if (mask == NULL || !mask[i]) wt[it++] = (T)(sw != NULL ? sw[i] : 1.0);
  if (o->class_weight != SMR_CLASS_WEIGHT_NONE) {
    for (size_t j = 0; j < k; j++) count[j] = 0;
    for (size_t i = 0; i < nt; i++) count[yt[i]]++;
    size_t present = 0;
    for (size_t j = 0; j < k; j++) present += count[j] > 0;
    for (size_t i = 0; i < nt; i++) {
      const size_t c = (size_t)yt[i];
      const double cw = o->class_weight == SMR_CLASS_WEIGHT_GIVEN
                            ? o->class_weights[c]
                            : (double)nt / ((double)present * (double)count[c]);
      wt[i] = (T)((double)wt[i] * cw);
    }
  }
  /* the weights are >= 0: they sum to more than 0 when one of them does
     (a loop without a float-to-double reduction: gcc 12 for AArch64 fails
     to vectorize that one, an internal compiler error) */
  for (size_t i = 0; i < nt; i++)
    if (wt[i] > (T)0) return true;
  return false;
}

smr_status FN(smr_fit)(smr_model *m, const T *X, const int32_t *labels, size_t n,
                       const smr_fit_options *opt, smr_fit_report *report) {
  report_empty(report);
  if (m == NULL || m->dtype != DT || n == 0 || X == NULL || labels == NULL) return SMR_EINVAL;
  smr_fit_options o = opt != NULL ? *opt : smr_fit_options_default();
  if (!options_valid(&o, m->learning_rate, n, m->k)) return SMR_EINVAL;
  const size_t d = m->d, k = m->k, dk = d * k;
  size_t nd, nk;
  if (!smr_mul_ok(n, d, &nd) || !smr_mul_ok(n, k, &nk) || !smr_array_ok(n, d, sizeof(T)))
    return SMR_EOVERFLOW;
  const size_t nv = validation_rows(o.validation_fraction, n);
  if (o.validation_fraction > 0.0 && (nv < 1 || nv >= n)) return SMR_EINVAL;
  if (!smr_labels_in_range(labels, n, k)) return SMR_ERANGE;

  const struct smr_kernels *tables = smr_kernels_active(); /* one load per fit */
  const KTABLE *kt = &tables->SFX;
  const size_t nt = n - nv;
  const size_t bs = (o.batch_size == 0 || o.batch_size >= nt) ? nt : o.batch_size;
  /* NaN/inf features would make every objective non-finite: report them
     with the model untouched. A full batch without held-out rows lets the
     first evaluation check them (objective_grad), which saves a read of X
     (about a fifth of a one-epoch fit at 60000 x 784 x 10); minibatches
     update before their last rows are seen, so read X now. */
  const bool lazy_check = bs == nt && nv == 0;
  if (!lazy_check && !kt->all_finite(X, nd)) return SMR_ENONFINITE;
  if (o.solver == SMR_SOLVER_AUTO) o.solver = bs == nt ? SMR_SOLVER_LBFGS : SMR_SOLVER_GD;
  const bool lbfgs = o.solver == SMR_SOLVER_LBFGS;
  if (lbfgs && bs < nt) return SMR_EINVAL; /* L-BFGS is full batch */
  const bool gather = bs < nt && o.shuffle;
  const bool copy_train = nv > 0 || o.standardize || m->mean != NULL;
  const bool weighted = o.sample_weight != NULL || o.class_weight != SMR_CLASS_WEIGHT_NONE;

  smr_status st = SMR_ENOMEM;
  T *Xt_own = NULL, *Xv = NULL, *Xb = NULL, *wt = NULL, *wb = NULL;
  int32_t *yt_own = NULL, *yv = NULL, *yb = NULL;
  size_t *perm = NULL, *count = NULL;
  unsigned char *mask = NULL;
  double *mean = NULL, *scale = NULL, *hist = NULL;
  size_t hcap = 0;
  FN(fit_ctx) c = FN(ctx_make)(kt, m, &o, bs);
  c.check_x = lazy_check;
  FN(lbfgs) L;
  memset(&L, 0, sizeof L);
  smr_param_snapshot ep = {NULL, NULL}, best = {NULL, NULL};

  /* ---- every allocation of the fit, before anything changes ---- */
  if (o.standardize) {
    mean = smr_malloc_n(d, sizeof *mean);
    scale = smr_malloc_n(d, sizeof *scale);
    if (mean == NULL || scale == NULL) goto out;
  }
  if (copy_train && (Xt_own = smr_malloc_n(nt * d, sizeof(T))) == NULL) goto out;
  if (nv > 0) {
    Xv = smr_malloc_n(nv * d, sizeof(T));
    yv = smr_malloc_n(nv, sizeof *yv);
    yt_own = smr_malloc_n(nt, sizeof *yt_own);
    mask = smr_malloc_n(n, 1);
    if (Xv == NULL || yv == NULL || yt_own == NULL || mask == NULL) goto out;
  }
  if (weighted) {
    wt = smr_malloc_n(nt, sizeof(T));
    count = smr_malloc_n(k, sizeof *count);
    if (wt == NULL || count == NULL) goto out;
  }
  if (gather) {
    Xb = smr_malloc_n(bs * d, sizeof(T));
    yb = smr_malloc_n(bs, sizeof *yb);
    if (Xb == NULL || yb == NULL) goto out;
    if (weighted && (wb = smr_malloc_n(bs, sizeof(T))) == NULL) goto out;
  }
  if ((nv > 0 || gather) && (perm = smr_malloc_n(n, sizeof *perm)) == NULL) goto out;
  c.dW = smr_malloc_n(dk, sizeof(T));
  c.db = smr_malloc_n(k, sizeof(T));
  if (!FN(ctx_buffers)(&c) || c.dW == NULL || c.db == NULL) goto out;
  if (o.solver == SMR_SOLVER_SGD || o.solver == SMR_SOLVER_ADAM) {
    /* optimizer state starts at 0 (calloc: all-bits-zero is 0.0) */
    c.sW = calloc(dk, sizeof(T));
    c.sb = calloc(k, sizeof(T));
    if (c.sW == NULL || c.sb == NULL) goto out;
    if (o.solver == SMR_SOLVER_ADAM) {
      c.tW = calloc(dk, sizeof(T));
      c.tb = calloc(k, sizeof(T));
      if (c.tW == NULL || c.tb == NULL) goto out;
    }
  }
  if (lbfgs && !FN(lbfgs_alloc)(&L, &tables->f64, dk + k, lbfgs_pairs(&o, dk + k))) goto out;
  if (smr_snapshot_alloc(m, &c.bak) != SMR_OK) goto out;
  if (o.early_stopping &&
      (smr_snapshot_alloc(m, &ep) != SMR_OK || smr_snapshot_alloc(m, &best) != SMR_OK))
    goto out;
  if (!history_reserve(&hist, &hcap, FN(fit_min)(o.epochs, 1024))) goto out;

  /* ---- the training (and validation) rows, standardized ---- */
  smr_rng rng;
  smr_rng_seed(&rng, o.shuffle_seed);
  if (nv > 0) choose_validation(&rng, n, nv, perm, mask);
  const double *use_mean = m->mean, *use_scale = m->scale;
  const T *Xt = X;
  const int32_t *yt = labels;
  if (nv > 0) {
    /* raw training rows first: the statistics come from them only */
    FN(split_rows)(X, labels, n, d, mask, Xt_own, yt_own, Xv, yv);
    yt = yt_own;
  }
  if (weighted && !FN(row_weights)(&o, o.sample_weight, mask, n, yt, nt, k, count, wt)) {
    st = SMR_EINVAL; /* the training rows weigh nothing */
    goto out;
  }
  if (o.standardize) {
    if (!FN(feature_stats)(kt, nv > 0 ? Xt_own : X, nt, d, mean, scale)) {
      st = SMR_ENONFINITE;
      goto out;
    }
    use_mean = mean;
    use_scale = scale;
  }
  if (nv > 0) {
    if (use_mean != NULL) {
      kt->standardize(Xt_own, use_mean, use_scale, Xt_own, nt, d);
      kt->standardize(Xv, use_mean, use_scale, Xv, nv, d);
    }
  } else if (copy_train) {
    kt->standardize(X, use_mean, use_scale, Xt_own, nt, d);
  }
  if (copy_train) Xt = Xt_own;

  /* ---- epochs ---- */
  size_t epochs_run = 0, steps_done = 0, wait = 0;
  bool stopped = false, have_best = false, converged = false, restored = false;
  double best_v = INFINITY;
  const size_t every = o.epochs / 10 > 0 ? o.epochs / 10 : 1;
  st = SMR_OK;
  if (lbfgs) {
    FN(read_params)(&c, L.x);
    L.f = FN(objective_grad)(&c, Xt, yt, wt, nt);
    FN(read_grad)(&c, L.g);
    if (!isfinite(L.f)) st = SMR_ENONFINITE;
  }
  for (size_t e = 0; e < o.epochs && st == SMR_OK; e++) {
    if (!history_reserve(&hist, &hcap, e + 1)) {
      st = SMR_ENOMEM;
      break;
    }
    if (lbfgs && FN(inf_norm)(L.g, L.P) <= o.tol) {
      converged = true; /* at the parameters this epoch would start from */
      break;
    }
    const double lr = schedule_rate(&o, m->learning_rate, e);
    /* The monitored losses belong to the parameters the epoch starts from. */
    if (o.early_stopping) smr_snapshot_take(m, &ep);
    const double vloss = nv > 0 ? FN(ce_sum)(&c, Xv, yv, NULL, nv) / (double)nv : (double)NAN;
    double train_loss;
    bool stalled = false;
    if (lbfgs) {
      train_loss = L.f;
      stalled = !FN(lbfgs_iter)(&c, &L, Xt, yt, wt, nt);
      steps_done++;
    } else {
      if (gather) shuffle_rows(&rng, perm, nt);
      double obj_sum = 0.0;
      size_t batches = 0;
      for (size_t r = 0; r < nt; r += bs) {
        size_t rows = FN(fit_min)(bs, nt - r);
        const T *xb = Xt + r * d, *wbp = wt != NULL ? wt + r : NULL;
        const int32_t *ybp = yt + r;
        if (gather) {
          FN(gather_rows)(Xt, yt, wt, d, perm + r, rows, Xb, yb, wb);
          xb = Xb;
          ybp = yb;
          wbp = wb;
        }
        double obj;
        st = FN(fit_step)(&c, xb, ybp, wbp, rows, lr, &obj);
        if (st != SMR_OK) break;
        steps_done++;
        batches++;
        obj_sum += obj;
      }
      if (st != SMR_OK) break;
      train_loss = obj_sum / (double)batches;
    }
    hist[e] = train_loss;
    epochs_run = e + 1;
    if (o.verbose && (e % every == 0 || e + 1 == o.epochs)) {
      if (nv > 0)
        fprintf(stderr, "smr fit: epoch %zu/%zu  loss %.6f  val_loss %.6f  lr %.4g\n", e + 1,
                o.epochs, train_loss, vloss, lr);
      else
        fprintf(stderr, "smr fit: epoch %zu/%zu  loss %.6f  lr %.4g\n", e + 1, o.epochs,
                train_loss, lr);
    }

    bool plateau = false;
    if (o.early_stopping) {
      const double v = nv > 0 ? vloss : train_loss;
      if (v < best_v - o.min_delta) {
        best_v = v;
        smr_snapshot_swap(&best, &ep);
        have_best = true;
        wait = 0;
      } else if (++wait >= o.patience) {
        plateau = true;
      }
    }
    const bool go_on =
        o.callback == NULL || o.callback(o.callback_user, e, train_loss, vloss);
    if (plateau) {
      if (have_best) {
        smr_snapshot_restore(m, &best);
        restored = true;
      }
      stopped = true;
    } else if (!go_on) {
      stopped = true;
    }
    if (stopped) {
      if (o.verbose)
        fprintf(stderr, "smr fit: stopped after epoch %zu%s\n", e + 1,
                plateau ? " (no improvement; best parameters restored)" : "");
      break;
    }
    if (stalled) {
      /* L-BFGS: no decrease along the direction at the precision of T */
      if (o.verbose)
        fprintf(stderr, "smr fit: L-BFGS stopped after iteration %zu: the line search found no "
                        "decrease (precision limit)\n", e + 1);
      break;
    }
  }
  if (c.x_bad) {
    st = SMR_ENONFINITE; /* as if found before the fit: nothing published */
    goto out;
  }
  if (st == SMR_ENONFINITE && o.verbose)
    fprintf(stderr, "smr fit: diverged in epoch %zu (non-finite loss or parameters)\n",
            epochs_run + 1);

  /* ---- publish: standardization (once a step used it), history, report ---- */
  if (o.standardize && (steps_done > 0 || (lbfgs && st == SMR_OK))) {
    smr_model_adopt_standardization(m, mean, scale);
    mean = scale = NULL;
  }
  if (epochs_run == 0) {
    free(hist);
    hist = NULL;
  }
  smr_model_adopt_history(m, hist, epochs_run);
  hist = NULL;
  if (report != NULL) {
    report->epochs_run = epochs_run;
    /* the full-batch objective and gradient where fit leaves the model:
       L-BFGS holds them (its x is the model's parameters, read back) unless
       early stopping restored other parameters; the same evaluation would
       give the same values, one evaluation later */
    const size_t evals = c.evals; /* not counting the report's own */
    if (lbfgs && st == SMR_OK && !restored) {
      report->final_loss = L.f;
      report->grad_norm = FN(inf_norm)(L.g, L.P);
    } else {
      report->final_loss = FN(objective_grad)(&c, Xt, yt, wt, nt);
      report->grad_norm = FN(grad_inf)(&c);
    }
    report->converged = lbfgs ? converged : report->grad_norm <= o.tol;
    report->evaluations = evals;
    report->solver = o.solver;
    report->stopped_early = stopped;
    report->loss_history = m->history;
    report->history_len = epochs_run;
    report->final_val_loss =
        nv > 0 ? FN(ce_sum)(&c, Xv, yv, NULL, nv) / (double)nv : (double)NAN;
  }

out:
  free(Xt_own);
  free(Xv);
  free(Xb);
  free(wt);
  free(wb);
  free(count);
  free(yt_own);
  free(yv);
  free(yb);
  free(perm);
  free(mask);
  free(mean);
  free(scale);
  free(hist);
  FN(ctx_free_buffers)(&c);
  free(c.dW);
  free(c.db);
  free(c.sW);
  free(c.sb);
  free(c.tW);
  free(c.tb);
  FN(lbfgs_free)(&L);
  smr_snapshot_free(&c.bak);
  smr_snapshot_free(&ep);
  smr_snapshot_free(&best);
  return st;
}

smr_status FN(smr_objective)(const smr_model *m, const T *X, const int32_t *labels, size_t n,
                             const smr_fit_options *opt, double *obj, T *dW, T *db) {
  if (m == NULL || m->dtype != DT || n == 0 || X == NULL || labels == NULL || obj == NULL ||
      (dW == NULL) != (db == NULL))
    return SMR_EINVAL;
  const smr_fit_options o = opt != NULL ? *opt : smr_fit_options_default();
  if (!options_valid(&o, m->learning_rate, n, m->k)) return SMR_EINVAL;
  const size_t d = m->d, k = m->k, dk = d * k;
  size_t nd, nk;
  if (!smr_mul_ok(n, d, &nd) || !smr_mul_ok(n, k, &nk) || !smr_array_ok(n, d, sizeof(T)))
    return SMR_EOVERFLOW;
  if (!smr_labels_in_range(labels, n, k)) return SMR_ERANGE;
  const bool weighted = o.sample_weight != NULL || o.class_weight != SMR_CLASS_WEIGHT_NONE;
  /* objective_grad only reads the model's parameters */
  FN(fit_ctx) c = FN(ctx_make)(&smr_kernels_active()->SFX, (smr_model *)m, &o, n);
  smr_status st = SMR_ENOMEM;
  T *Xs = NULL, *w = NULL;
  size_t *count = NULL;
  c.dW = dW != NULL ? dW : smr_malloc_n(dk, sizeof(T));
  c.db = db != NULL ? db : smr_malloc_n(k, sizeof(T));
  if (!FN(ctx_buffers)(&c) || c.dW == NULL || c.db == NULL) goto out;
  if (m->mean != NULL) {
    if ((Xs = smr_malloc_n(nd, sizeof(T))) == NULL) goto out;
    c.kt->standardize(X, m->mean, m->scale, Xs, n, d);
  }
  if (weighted) {
    w = smr_malloc_n(n, sizeof(T));
    count = smr_malloc_n(k, sizeof *count);
    if (w == NULL || count == NULL) goto out;
    if (!FN(row_weights)(&o, o.sample_weight, NULL, n, labels, n, k, count, w)) {
      st = SMR_EINVAL;
      goto out;
    }
  }
  *obj = FN(objective_grad)(&c, Xs != NULL ? Xs : X, labels, w, n);
  st = SMR_OK;
out:
  FN(ctx_free_buffers)(&c);
  if (dW == NULL) free(c.dW);
  if (db == NULL) free(c.db);
  free(Xs);
  free(w);
  free(count);
  return st;
}

#undef KTABLE
#undef FN
