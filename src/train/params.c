/* params.c - the solvers' operations on flat parameter vectors of the
   objective's dtype (objective.h), through the kernel table of the call
   that built the objective. The only place in src/train/ outside the
   dense objective where the dtype is looked at. */
#include "train/objective.h"

#include <float.h>
#include <math.h>

double smr_param_eps(const smr_objective *o) {
  return o->dtype == SMR_F32 ? (double)FLT_EPSILON : DBL_EPSILON;
}

size_t smr_param_size(const smr_objective *o) {
  return o->dtype == SMR_F32 ? sizeof(float) : sizeof(double);
}

void smr_param_axpy(const smr_objective *o, double a, const void *x, void *y) {
  if (o->dtype == SMR_F32)
    o->tables->f32.axpy(o->nparams, (float)a, x, y);
  else
    o->tables->f64.axpy(o->nparams, a, x, y);
}

void smr_param_momentum(const smr_objective *o, double lr, double mu, bool nesterov,
                        const void *g, void *v, void *p) {
  if (o->dtype == SMR_F32)
    o->tables->f32.momentum_step(o->nparams, lr, mu, nesterov, g, v, p);
  else
    o->tables->f64.momentum_step(o->nparams, lr, mu, nesterov, g, v, p);
}

void smr_param_adam(const smr_objective *o, double lr, double b1, double b2, double eps,
                    double bc1, double sbc2, const void *g, void *m, void *v, void *p) {
  if (o->dtype == SMR_F32)
    o->tables->f32.adam_step(o->nparams, lr, b1, b2, eps, bc1, sbc2, g, m, v, p);
  else
    o->tables->f64.adam_step(o->nparams, lr, b1, b2, eps, bc1, sbc2, g, m, v, p);
}

bool smr_param_finite(const smr_objective *o) {
  const bool ok = o->dtype == SMR_F32 ? o->tables->f32.all_finite(o->theta, o->nparams)
                                      : o->tables->f64.all_finite(o->theta, o->nparams);
  if (o->allreduce == NULL) return ok;
  double bad = ok ? 0.0 : 1.0;
  o->allreduce(o, &bad, 1, SMR_ALLREDUCE_MAX);
  return bad == 0.0;
}

/* max |x_j| in the dtype (exact there; NaN entries compare false) */
#define ABS_MAX(T)                                                             \
  do {                                                                         \
    const T *v = x;                                                            \
    T g = (T)0;                                                                \
    for (size_t i = 0; i < o->nparams; i++) g = v[i] > g ? v[i] : -v[i] > g ? -v[i] : g; \
    m = (double)g;                                                             \
  } while (0)

double smr_param_absmax(const smr_objective *o, const void *x) {
  double m;
  if (o->dtype == SMR_F32)
    ABS_MAX(float);
  else
    ABS_MAX(double);
  if (o->allreduce != NULL) o->allreduce(o, &m, 1, SMR_ALLREDUCE_MAX);
  return m;
}
#undef ABS_MAX

void smr_param_to_f64(const smr_objective *o, const void *x, double *out) {
  if (o->dtype == SMR_F32) {
    const float *v = x;
    for (size_t i = 0; i < o->nparams; i++) out[i] = (double)v[i];
  } else {
    const double *v = x;
    for (size_t i = 0; i < o->nparams; i++) out[i] = v[i];
  }
}

void smr_param_from_f64(const smr_objective *o, const double *x, void *out) {
  if (o->dtype == SMR_F32) {
    float *v = out;
    for (size_t i = 0; i < o->nparams; i++) v[i] = (float)x[i];
  } else {
    double *v = out;
    for (size_t i = 0; i < o->nparams; i++) v[i] = x[i];
  }
}

double smr_param_dot(const smr_objective *o, const double *a, const double *b) {
  double s = o->tables->f64.dot(a, b, o->nparams);
  if (o->allreduce != NULL) o->allreduce(o, &s, 1, SMR_ALLREDUCE_SUM);
  return s;
}

double smr_param_inf_norm(const smr_objective *o, const double *x) {
  double m = 0.0;
  for (size_t i = 0; i < o->nparams; i++) {
    const double a = fabs(x[i]);
    m = a > m ? a : m; /* fmax(m, a): a NaN is passed over */
  }
  if (o->allreduce != NULL) o->allreduce(o, &m, 1, SMR_ALLREDUCE_MAX);
  return m;
}
