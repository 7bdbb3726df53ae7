/*
 * solvers.h - the solvers over an objective (objective.h): L-BFGS
 * (lbfgs.c) and the first-order steps gd, sgd and adam (first_order.c).
 * They know theta, its gradient and the objective's evaluate; never X,
 * never the dtype (params.c does the typed work), never the model.
 */
#ifndef SMR_TRAIN_SOLVERS_H
#define SMR_TRAIN_SOLVERS_H

#include "train/objective.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- L-BFGS, full batch, state in double ---- */

/* The state of L-BFGS over the P parameters. x always equals theta exactly
   (a trial point is rounded to the dtype and read back), so s = x_new - x
   is the step really taken. */
typedef struct smr_lbfgs {
  smr_objective *obj;
  size_t P, mem, count, head; /* pairs stored (at most mem), next slot */
  double *x, *g, *dir;        /* current point, its gradient, the search direction */
  double *xt, *gt;            /* the last trial point and its gradient */
  double *xb, *gb;            /* the best Armijo point of the line search */
  double *S, *Y, *rho, *alpha;
  double f;                   /* objective at x */
} smr_lbfgs;

/* Allocates the state for mem pairs; false: out of memory (free with
   smr_lbfgs_free either way). */
bool smr_lbfgs_alloc(smr_lbfgs *L, smr_objective *o, size_t mem);
void smr_lbfgs_free(smr_lbfgs *L);
/* Evaluates at theta (x, f, g); false when f is not finite. */
bool smr_lbfgs_start(smr_lbfgs *L);
/* One iteration from x: direction, line search, the new pair. False when
   the line search found no decrease (theta is then x again). */
bool smr_lbfgs_iter(smr_lbfgs *L);
/* max_j |g_j| at x. */
double smr_lbfgs_grad_norm(const smr_lbfgs *L);

/* ---- gd, sgd (momentum, Nesterov), adam: one step per batch ---- */

typedef struct smr_first_order {
  smr_objective *obj;
  smr_solver solver;  /* SMR_SOLVER_GD, _SGD or _ADAM */
  double momentum, beta1, beta2, adam_eps;
  bool nesterov;
  void *v;            /* sgd: velocity; adam: second moment (P values) */
  void *m;            /* adam: first moment */
  void *bak;          /* theta before the current step */
  size_t adam_t;      /* adam: steps taken */
} smr_first_order;

/* The state for o's solver and settings (velocity and moments start at 0);
   false: out of memory (free with smr_first_order_free either way). */
bool smr_first_order_alloc(smr_first_order *F, smr_objective *obj, const smr_fit_options *o);
void smr_first_order_free(smr_first_order *F);
/* One step on batch `batch` with rate lr. *objective = the batch objective
   at the parameters the step started from. SMR_ENONFINITE when that
   objective or the updated parameters are not finite; theta is then what
   it was before the step. */
smr_status smr_first_order_step(smr_first_order *F, size_t batch, double lr, double *objective);

#endif /* SMR_TRAIN_SOLVERS_H */
