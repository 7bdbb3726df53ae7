/* loop.c - the epoch loop over an objective (train.h): the solver's steps,
   the rate schedule, early stopping on the held-out (or training) loss,
   the callback, verbose output and the report. No dtype, no X. */
#include "train/solvers.h"
#include "train/train.h"

#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Grows a history array to hold at least `need` entries. */
static bool history_reserve(double **h, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap : 64;
  while (nc < need) nc = nc > SIZE_MAX / 2 ? need : nc * 2;
  double *p = smr_malloc_n(nc, sizeof *p);
  if (p == NULL) return false;
  if (*cap) memcpy(p, *h, *cap * sizeof *p);
  free(*h);
  *h = p;
  *cap = nc;
  return true;
}

static double holdout(smr_objective *obj) {
  return obj->holdout_loss != NULL ? obj->holdout_loss(obj) : (double)NAN;
}

/* One epoch of gd, sgd or adam: a step per batch; *loss = the mean of the
   batch objectives, *steps += the steps taken. */
static smr_status first_order_epoch(smr_first_order *F, double lr, double *loss, size_t *steps) {
  smr_objective *obj = F->obj;
  if (obj->shuffle != NULL) obj->shuffle(obj);
  double sum = 0.0;
  size_t b = 0;
  for (; b < obj->nbatches; b++) {
    double f;
    const smr_status st = smr_first_order_step(F, b, lr, &f);
    if (st != SMR_OK) return st;
    ++*steps;
    sum += f;
  }
  *loss = sum / (double)b;
  return SMR_OK;
}

/* Early stopping's state: the parameters this epoch started from and the
   best epoch's (swapped, never copied, when an epoch improves). */
typedef struct {
  void *ep, *best;
  size_t wait;
  bool have_best;
  double best_v;
} early_stop;

/* After epoch e: early stopping on the held-out loss (the training loss
   without held-out rows) and the callback. True when the fit stops here
   (the best parameters restored on a plateau). */
static bool epoch_end(smr_objective *obj, const smr_fit_options *o, early_stop *es,
                      smr_train_run *run, size_t e, double train_loss, double vloss) {
  bool plateau = false;
  if (o->early_stopping) {
    const double v = obj->holdout_loss != NULL ? vloss : train_loss;
    if (v < es->best_v - o->min_delta) {
      es->best_v = v;
      void *t = es->best;
      es->best = es->ep;
      es->ep = t;
      es->have_best = true;
      es->wait = 0;
    } else if (++es->wait >= o->patience) {
      plateau = true;
    }
  }
  const bool go_on =
      o->callback == NULL || o->callback(o->callback_user, e, train_loss, vloss);
  if (plateau) {
    if (es->have_best) {
      memcpy(obj->theta, es->best, obj->nparams * smr_param_size(obj));
      run->restored = true;
    }
    run->stopped = true;
  } else if (!go_on) {
    run->stopped = true;
  }
  if (run->stopped && o->verbose)
    fprintf(stderr, "smr fit: stopped after epoch %zu%s\n", e + 1,
            plateau ? " (no improvement; best parameters restored)" : "");
  return run->stopped;
}

smr_status smr_train_epochs(smr_objective *obj, const smr_fit_options *o, double base_lr,
                            smr_train_run *run) {
  memset(run, 0, sizeof *run);
  run->final_loss = run->grad_norm = NAN;
  const bool lbfgs = o->solver == SMR_SOLVER_LBFGS;
  const size_t bytes = obj->nparams * smr_param_size(obj);
  smr_lbfgs L;
  smr_first_order F;
  memset(&L, 0, sizeof L);
  memset(&F, 0, sizeof F);
  early_stop es = {NULL, NULL, 0, false, INFINITY};
  double *hist = NULL;
  size_t hcap = 0;

  /* ---- every allocation, before anything changes ---- */
  smr_status st = SMR_ENOMEM;
  if (lbfgs ? !smr_lbfgs_alloc(&L, obj, smr_train_lbfgs_pairs(o, obj->nparams))
            : !smr_first_order_alloc(&F, obj, o))
    goto out;
  if (o->early_stopping &&
      ((es.ep = malloc(bytes)) == NULL || (es.best = malloc(bytes)) == NULL))
    goto out;
  if (!history_reserve(&hist, &hcap, o->epochs < 1024 ? o->epochs : 1024)) goto out;

  const size_t every = o->epochs / 10 > 0 ? o->epochs / 10 : 1;
  st = SMR_OK;
  run->started = true;
  if (lbfgs && !smr_lbfgs_start(&L)) st = SMR_ENONFINITE;
  for (size_t e = 0; e < o->epochs && st == SMR_OK; e++) {
    if (!history_reserve(&hist, &hcap, e + 1)) {
      st = SMR_ENOMEM;
      break;
    }
    if (lbfgs && smr_lbfgs_grad_norm(&L) <= o->tol) {
      run->converged = true; /* at the parameters this epoch would start from */
      break;
    }
    const double lr = smr_train_schedule_rate(o, base_lr, e);
    /* The monitored losses belong to the parameters the epoch starts from. */
    if (o->early_stopping) memcpy(es.ep, obj->theta, bytes);
    const double vloss = holdout(obj);
    double train_loss;
    bool stalled = false;
    if (lbfgs) {
      train_loss = L.f;
      stalled = !smr_lbfgs_iter(&L);
      run->steps_done++;
    } else {
      st = first_order_epoch(&F, lr, &train_loss, &run->steps_done);
      if (st != SMR_OK) break;
    }
    hist[e] = train_loss;
    run->epochs_run = e + 1;
    if (o->verbose && (e % every == 0 || e + 1 == o->epochs)) {
      if (obj->holdout_loss != NULL)
        fprintf(stderr, "smr fit: epoch %zu/%zu  loss %.6f  val_loss %.6f  lr %.4g\n", e + 1,
                o->epochs, train_loss, vloss, lr);
      else
        fprintf(stderr, "smr fit: epoch %zu/%zu  loss %.6f  lr %.4g\n", e + 1, o->epochs,
                train_loss, lr);
    }

    if (epoch_end(obj, o, &es, run, e, train_loss, vloss)) break;
    if (stalled) {
      /* L-BFGS: no decrease along the direction at the precision of T */
      if (o->verbose)
        fprintf(stderr, "smr fit: L-BFGS stopped after iteration %zu: the line search found no "
                        "decrease (precision limit)\n", e + 1);
      break;
    }
  }
  if (obj->data_bad) {
    st = SMR_ENONFINITE; /* as if found before the fit: nothing to publish */
    goto out;
  }
  if (st == SMR_ENONFINITE && o->verbose)
    fprintf(stderr, "smr fit: diverged in epoch %zu (non-finite loss or parameters)\n",
            run->epochs_run + 1);
  /* L-BFGS holds the objective and gradient at theta (its x, read back)
     unless early stopping restored other parameters */
  if (lbfgs && st == SMR_OK && !run->restored) {
    run->have_final = true;
    run->final_loss = L.f;
    run->grad_norm = smr_lbfgs_grad_norm(&L);
  }
  if (run->epochs_run > 0) {
    run->history = hist;
    hist = NULL;
  }

out:
  free(hist);
  free(es.ep);
  free(es.best);
  smr_lbfgs_free(&L);
  smr_first_order_free(&F);
  return st;
}

void smr_train_report(smr_objective *obj, const smr_fit_options *o, const smr_train_run *run,
                      smr_fit_report *report) {
  report->epochs_run = run->epochs_run;
  /* the full-batch objective and gradient where the fit leaves theta; the
     same evaluation would give the same values, one evaluation later */
  const size_t evals = obj->evaluations; /* not counting the report's own */
  if (run->have_final) {
    report->final_loss = run->final_loss;
    report->grad_norm = run->grad_norm;
  } else {
    report->final_loss = obj->evaluate(obj, SMR_BATCH_ALL);
    report->grad_norm = smr_param_absmax(obj, obj->grad);
  }
  report->converged =
      o->solver == SMR_SOLVER_LBFGS ? run->converged : report->grad_norm <= o->tol;
  report->evaluations = evals;
  report->solver = o->solver;
  report->stopped_early = run->stopped;
  report->final_val_loss = holdout(obj);
}
