/*
 * objective.h - what a solver sees of a training problem (not installed).
 *
 * The solvers (lbfgs.c, first_order.c) and the epoch loop (loop.c) are
 * written once, without a dtype and without X: they see an objective, a
 * flat vector of P parameters theta with its gradient, a number of batches
 * per epoch and a reduce hook. An implementation owns the data, its
 * layout, the parameters' storage and how a loss is computed.
 *
 * The first implementation is the dense row-block pipeline (dense.c,
 * dense_tmpl.h): X is n x d row-major, theta is the model's W (d x k) then
 * b (k), one allocation of the model. The next ones plug in here:
 *   - sparse X (CSR): a new implementation whose evaluate runs the gather
 *     and scatter products instead of the GEMMs; theta, batches and the
 *     solvers are unchanged.
 *   - vocabulary-scale K: evaluate runs the class-chunked fused linear
 *     cross-entropy (never n x K logits); only the workspace differs.
 *   - MPI, rows mode: each process evaluates its shard and sums loss and
 *     gradient inside evaluate (one allreduce of P + 1 values); theta is
 *     replicated, so `allreduce` stays NULL and the solvers need nothing.
 *   - MPI, classes mode: each process holds its range of classes, so theta
 *     is only its slice (its columns of W and b): evaluate merges per-row
 *     (max, sum of exp, target logit) across processes, and `allreduce`
 *     sums the solvers' dot products and takes the maxima of their norms
 *     and finiteness flags, so that every process takes the same steps.
 *
 * Contract of an implementation:
 *   - evaluate(o, batch) returns the objective at theta over that batch of
 *     the current epoch (SMR_BATCH_ALL: over every training row) and leaves
 *     its gradient in o->grad; the value is NaN or infinite when it is not
 *     finite. It increments o->evaluations when it ran to the end.
 *   - after shuffle(o) (NULL: batches never change), batch b of the epoch
 *     may hold other rows.
 *   - holdout_loss(o): the mean CE over held-out rows at theta, NaN when
 *     there are none (NULL: none).
 *   - allreduce(o, v, n, op): v[0..n) becomes the sum (or maximum) over
 *     every process of the same call; NULL: one process. Every solver
 *     quantity that is a reduction over theta (dot products, norms,
 *     "every entry finite") goes through it, and nothing else does.
 */
#ifndef SMR_TRAIN_OBJECTIVE_H
#define SMR_TRAIN_OBJECTIVE_H

#include "kernels.h"
#include "smr.h"

#include <stdbool.h>
#include <stddef.h>

#define SMR_BATCH_ALL ((size_t)-1)

typedef enum smr_allreduce_op { SMR_ALLREDUCE_SUM, SMR_ALLREDUCE_MAX } smr_allreduce_op;

typedef struct smr_objective smr_objective;
struct smr_objective {
  smr_dtype dtype;   /* of theta and grad */
  size_t nparams;    /* P: parameters held by this process */
  size_t nbatches;   /* batches per epoch, >= 1 (1: full batch) */
  void *theta;       /* P values: the parameters the solvers move */
  void *grad;        /* P values: the gradient of the last evaluation */
  size_t evaluations; /* evaluations run to the end */
  /* set by evaluate when the data, not the parameters, made the objective
     non-finite (a NaN or an infinity in X found on the way): the loop then
     stops with SMR_ENONFINITE and nothing is published */
  bool data_bad;
  /* the kernel table of the public call that built the objective: the
     solvers' vector operations run on it */
  const struct smr_kernels *tables;
  double (*evaluate)(smr_objective *o, size_t batch);
  void (*shuffle)(smr_objective *o);
  double (*holdout_loss)(smr_objective *o);
  void (*allreduce)(const smr_objective *o, double *v, size_t n, smr_allreduce_op op);
};

/* ---- vectors of P values of the objective's dtype (params.c) ---- */

/* The unit roundoff of the dtype (FLT_EPSILON or DBL_EPSILON). */
double smr_param_eps(const smr_objective *o);
/* Bytes of one parameter. */
size_t smr_param_size(const smr_objective *o);
/* y += a x over P values (a rounded to the dtype first). */
void smr_param_axpy(const smr_objective *o, double a, const void *x, void *y);
/* The table's momentum_step / adam_step over all P parameters. */
void smr_param_momentum(const smr_objective *o, double lr, double mu, bool nesterov,
                        const void *g, void *v, void *p);
void smr_param_adam(const smr_objective *o, double lr, double b1, double b2, double eps,
                    double bc1, double sbc2, const void *g, void *m, void *v, void *p);
/* Whether theta is finite on every process. */
bool smr_param_finite(const smr_objective *o);
/* max_j |x_j| over every process (NaN entries are passed over). */
double smr_param_absmax(const smr_objective *o, const void *x);
/* x (P values of the dtype) to doubles, and back (rounded). */
void smr_param_to_f64(const smr_objective *o, const void *x, double *out);
void smr_param_from_f64(const smr_objective *o, const double *x, void *out);
/* a . b over P doubles, summed over every process. */
double smr_param_dot(const smr_objective *o, const double *a, const double *b);
/* max_j |x_j| over P doubles, over every process (NaN passed over). */
double smr_param_inf_norm(const smr_objective *o, const double *x);

#endif /* SMR_TRAIN_OBJECTIVE_H */
