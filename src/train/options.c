/* options.c - the fit options: defaults, validation, the learning-rate
   schedules and the automatic L-BFGS history (train.h). */
#include "train/train.h"

#include <math.h>
#include <string.h>

static const double smr_pi = 3.14159265358979323846;

smr_fit_options smr_fit_options_default(void) {
  smr_fit_options o;
  memset(&o, 0, sizeof o);
  o.epochs = 1000;
  o.batch_size = 0;
  o.l2 = 0.0;
  o.verbose = false;
  o.schedule = SMR_LR_CONSTANT;
  o.step_size = 100;
  o.gamma = 0.5;
  o.decay = 0.01;
  o.lr_min = 0.0;
  o.shuffle = true;
  o.shuffle_seed = 0;
  o.early_stopping = false;
  o.patience = 10;
  o.min_delta = 1e-6;
  o.validation_fraction = 0.0;
  o.standardize = false;
  o.callback = NULL;
  o.callback_user = NULL;
  o.solver = SMR_SOLVER_AUTO;
  o.momentum = 0.9;
  o.nesterov = false;
  o.beta1 = 0.9;
  o.beta2 = 0.999;
  o.adam_eps = 1e-8;
  o.lbfgs_history = 0; /* auto: lbfgs_pairs */
  o.tol = 1e-6;
  o.sample_weight = NULL;
  o.class_weight = SMR_CLASS_WEIGHT_NONE;
  o.class_weights = NULL;
  o.workspace_bytes = (size_t)64 << 20;
  return o;
}

/* Every double must be finite; the range rules of smr.h apply to the
   fields of the features in use (the schedule selected, early stopping),
   so a default-initialized field of an unused feature never matters. */
static bool weights_ok(const double *w, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (!(isfinite(w[i]) && w[i] >= 0.0)) return false;
  return true;
}

/* The L-BFGS history: lbfgs_history, or for 0 (the default)
   LBFGS_AUTO_PAIRS pairs while they take at most LBFGS_AUTO_BYTES (16 P
   bytes a pair over P parameters), fewer down to LBFGS_MIN_AUTO_PAIRS
   beyond that: more pairs, fewer evaluations, for a little more work per
   iteration (docs/BENCHMARKS.md, "The tuning constants"). */
#define LBFGS_AUTO_PAIRS 30
#define LBFGS_MIN_AUTO_PAIRS 10
#define LBFGS_AUTO_BYTES ((size_t)256 << 20)
size_t smr_train_lbfgs_pairs(const smr_fit_options *o, size_t P) {
  if (o->lbfgs_history != 0) return o->lbfgs_history;
  const size_t fit = LBFGS_AUTO_BYTES / (16 * (P > 0 ? P : 1));
  return fit >= LBFGS_AUTO_PAIRS ? LBFGS_AUTO_PAIRS
         : fit >= LBFGS_MIN_AUTO_PAIRS ? fit : LBFGS_MIN_AUTO_PAIRS;
}

static bool solver_valid(const smr_fit_options *o) {
  switch (o->solver) {
  case SMR_SOLVER_GD: return true;
  case SMR_SOLVER_SGD: return isfinite(o->momentum) && o->momentum >= 0.0 && o->momentum < 1.0;
  case SMR_SOLVER_ADAM:
    return isfinite(o->beta1) && isfinite(o->beta2) && isfinite(o->adam_eps) && o->beta1 >= 0.0 &&
           o->beta1 < 1.0 && o->beta2 >= 0.0 && o->beta2 < 1.0 && o->adam_eps > 0.0;
  case SMR_SOLVER_LBFGS:
  case SMR_SOLVER_AUTO: /* may become lbfgs */
    return isfinite(o->tol) && o->tol >= 0.0;
  }
  return false; /* a value outside the enum */
}

bool smr_train_options_valid(const smr_fit_options *o, double base_lr, size_t n, size_t k) {
  if (!isfinite(o->l2) || !isfinite(o->gamma) || !isfinite(o->decay) || !isfinite(o->lr_min) ||
      !isfinite(o->min_delta) || !isfinite(o->validation_fraction) || !isfinite(o->tol))
    return false;
  if (o->epochs == 0 || o->l2 < 0.0 || o->tol < 0.0 || o->workspace_bytes == 0) return false;
  if (!solver_valid(o)) return false;
  if (o->sample_weight != NULL && !weights_ok(o->sample_weight, n)) return false;
  switch (o->class_weight) {
  case SMR_CLASS_WEIGHT_NONE:
  case SMR_CLASS_WEIGHT_BALANCED: break;
  case SMR_CLASS_WEIGHT_GIVEN:
    if (o->class_weights == NULL || !weights_ok(o->class_weights, k)) return false;
    break;
  default: return false;
  }
  if (o->validation_fraction < 0.0 || o->validation_fraction >= 1.0) return false;
  if (o->min_delta < 0.0) return false;
  if (o->early_stopping && o->patience == 0) return false;
  switch (o->schedule) {
  case SMR_LR_CONSTANT: return true;
  case SMR_LR_STEP: return o->step_size >= 1 && o->gamma > 0.0 && o->gamma <= 1.0;
  case SMR_LR_INV_TIME: return o->decay >= 0.0;
  case SMR_LR_COSINE: return o->lr_min >= 0.0 && o->lr_min <= base_lr;
  }
  return false; /* a value outside the enum */
}

double smr_train_schedule_rate(const smr_fit_options *o, double lr, size_t epoch) {
  switch (o->schedule) {
  case SMR_LR_CONSTANT: break;
  case SMR_LR_STEP: return lr * pow(o->gamma, (double)(epoch / o->step_size));
  case SMR_LR_INV_TIME: return lr / (1.0 + o->decay * (double)epoch);
  case SMR_LR_COSINE:
    return o->lr_min +
           (lr - o->lr_min) * (1.0 + cos(smr_pi * (double)epoch / (double)o->epochs)) / 2.0;
  }
  return lr;
}

size_t smr_train_validation_rows(double fraction, size_t n) {
  if (fraction <= 0.0) return 0;
  return (size_t)floor(fraction * (double)n + 0.5);
}

void smr_train_report_empty(smr_fit_report *r) {
  if (r == NULL) return;
  r->epochs_run = 0;
  r->final_loss = NAN;
  r->stopped_early = false;
  r->loss_history = NULL;
  r->history_len = 0;
  r->final_val_loss = NAN;
  r->grad_norm = NAN;
  r->converged = false;
  r->evaluations = 0;
  r->solver = SMR_SOLVER_AUTO;
}

SMR_API size_t smr_fit_training_rows(const smr_fit_options *opt, size_t n) {
  const size_t nv = opt != NULL ? smr_train_validation_rows(opt->validation_fraction, n) : 0;
  return nv < n ? n - nv : 0;
}
