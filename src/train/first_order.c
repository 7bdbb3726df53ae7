/* first_order.c - gd, sgd (momentum, Nesterov) and adam over an objective
   (solvers.h): one step per batch, the update in the parameters' own
   dtype through the kernel table (params.c). */
#include "train/solvers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool smr_first_order_alloc(smr_first_order *F, smr_objective *obj, const smr_fit_options *o) {
  memset(F, 0, sizeof *F);
  F->obj = obj;
  F->solver = o->solver;
  F->momentum = o->momentum;
  F->nesterov = o->nesterov;
  F->beta1 = o->beta1;
  F->beta2 = o->beta2;
  F->adam_eps = o->adam_eps;
  const size_t P = obj->nparams, es = smr_param_size(obj);
  F->bak = calloc(P, es);
  if (F->bak == NULL) return false;
  /* the optimizer state starts at 0 (calloc: all-bits-zero is 0.0) */
  if (o->solver == SMR_SOLVER_SGD || o->solver == SMR_SOLVER_ADAM) {
    if ((F->v = calloc(P, es)) == NULL) return false;
  }
  if (o->solver == SMR_SOLVER_ADAM) {
    if ((F->m = calloc(P, es)) == NULL) return false;
  }
  return true;
}

void smr_first_order_free(smr_first_order *F) {
  free(F->bak);
  free(F->v);
  free(F->m);
  memset(F, 0, sizeof *F);
}

smr_status smr_first_order_step(smr_first_order *F, size_t batch, double lr, double *objective) {
  smr_objective *o = F->obj;
  const size_t bytes = o->nparams * smr_param_size(o);
  *objective = o->evaluate(o, batch);
  if (!isfinite(*objective)) return SMR_ENONFINITE;

  memcpy(F->bak, o->theta, bytes);
  switch (F->solver) {
  case SMR_SOLVER_SGD:
    smr_param_momentum(o, lr, F->momentum, F->nesterov, o->grad, F->v, o->theta);
    break;
  case SMR_SOLVER_ADAM: {
    F->adam_t++;
    const double bc1 = 1.0 - pow(F->beta1, (double)F->adam_t);
    const double sbc2 = sqrt(1.0 - pow(F->beta2, (double)F->adam_t));
    smr_param_adam(o, lr, F->beta1, F->beta2, F->adam_eps, bc1, sbc2, o->grad, F->m, F->v,
                   o->theta);
    break;
  }
  default: /* SMR_SOLVER_GD */
    smr_param_axpy(o, -lr, o->grad, o->theta);
    break;
  }
  if (!smr_param_finite(o)) {
    memcpy(o->theta, F->bak, bytes);
    return SMR_ENONFINITE;
  }
  return SMR_OK;
}
