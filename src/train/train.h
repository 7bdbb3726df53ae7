/*
 * train.h - the dtype-free layer of the trainer (not installed): options
 * and schedules (options.c), row selection shared by the objectives
 * (rows.c), and the epoch loop with early stopping, callbacks and the
 * report (loop.c). The objectives (dense.c) build an smr_objective and
 * call smr_train_epochs; see objective.h for what plugs in where.
 */
#ifndef SMR_TRAIN_TRAIN_H
#define SMR_TRAIN_TRAIN_H

#include "internal.h"
#include "train/objective.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- options.c ---- */

/* Every double finite and the range rules of smr.h for the features in use
   (base_lr: the model's rate; n rows given to fit; k classes). */
bool smr_train_options_valid(const smr_fit_options *o, double base_lr, size_t n, size_t k);
/* The rate of a (0-based) epoch; constant within the epoch. */
double smr_train_schedule_rate(const smr_fit_options *o, double base_lr, size_t epoch);
/* L-BFGS pairs for P parameters: lbfgs_history, or the automatic choice. */
size_t smr_train_lbfgs_pairs(const smr_fit_options *o, size_t P);
/* Rows held out for validation: round(fraction * n); 0 without a split. */
size_t smr_train_validation_rows(double fraction, size_t n);
/* The report of a fit that did not start. */
void smr_train_report_empty(smr_fit_report *r);

/* ---- rows.c ---- */

/* Marks n_val rows as held out (mask[i] = 1): the first n_val entries of a
   Fisher-Yates permutation drawn from rng. perm has n entries. */
void smr_train_choose_validation(smr_rng *rng, size_t n, size_t n_val, size_t *perm,
                                 unsigned char *mask);
/* perm = a fresh uniform permutation of 0..n-1 (Fisher-Yates). */
void smr_train_shuffle(smr_rng *rng, size_t *perm, size_t n);

/* ---- loop.c ---- */

/* What the epochs did, for the objective's owner to publish. */
typedef struct smr_train_run {
  bool started;         /* the allocations succeeded (false: nothing changed) */
  double *history;      /* epochs_run entries (malloc'd, NULL when 0): the caller owns it */
  size_t epochs_run;
  size_t steps_done;    /* solver steps taken (batches, or L-BFGS iterations) */
  bool stopped;         /* early stopping or the callback ended the fit */
  bool restored;        /* early stopping put back the best epoch's parameters */
  bool converged;       /* L-BFGS: the gradient reached tol */
  bool have_final;      /* final_loss, grad_norm hold the values at theta */
  double final_loss, grad_norm;
} smr_train_run;

/* Runs o->epochs epochs of o->solver (resolved: never AUTO) over obj from
   theta, with the rate schedule on base_lr, early stopping, the callback
   and verbose output of o. SMR_ENOMEM before anything changes;
   SMR_ENONFINITE when an objective or the parameters become non-finite
   (theta then holds the parameters before the failing step), or at once
   when obj->data_bad is set (theta unchanged). run is filled in every
   case; free run->history when not publishing it. */
smr_status smr_train_epochs(smr_objective *obj, const smr_fit_options *o, double base_lr,
                            smr_train_run *run);

/* The report of a finished run at theta: the full-batch objective and
   gradient norm (evaluated unless the run holds them), converged, the
   evaluations, the held-out loss. loss_history is left to the caller. */
void smr_train_report(smr_objective *obj, const smr_fit_options *o, const smr_train_run *run,
                      smr_fit_report *report);

#endif /* SMR_TRAIN_TRAIN_H */
