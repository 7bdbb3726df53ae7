/* api_kernels_tmpl.h - the public kernel functions of one dtype, included
   by api_kernels.c with
     T    the element type (float, double)
     SFX  the suffix (f32, f64): names smr_<kernel>_<SFX> and the table member
   No include guard on purpose. Checks in the order api_kernels.c states,
   then one call through the active table. */

#define FN(name) SMR_CAT(name, SFX)

/* ------------------------------------------------------------------------ */
/* Row tasks                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
  const struct SMR_CAT(smr_kernels, SFX) *kt; /* loaded once by the public call */
  enum api_op op;
  const T *z;
  T *out;                /* the output (the gradient for API_CE; may be NULL there) */
  const int32_t *labels; /* API_CE */
  size_t n, k, rows;     /* rows per task */
  size_t first;          /* task number of the wave's first (API_CE) */
  T t;                   /* the temperature or the CE scale */
  bool stream;           /* stream the output (a scratch per task) */
  double *sums;          /* API_CE: one per task of the wave */
} FN(rows_job);

/* rows_task_f32, rows_task_f64 */
static void FN(rows_task)(void *arg, size_t task) {
  const FN(rows_job) *j = arg;
  const size_t r0 = (j->first + task) * j->rows;
  const size_t rows = j->n - r0 < j->rows ? j->n - r0 : j->rows;
  const T *z = j->z + r0 * j->k;
  T *out = j->out != NULL ? j->out + r0 * j->k : NULL;
  /* NULL (plain stores) when not streaming or out of memory */
  T *scratch = j->stream && out != NULL ? malloc(SMR_STREAM_SCRATCH(j->k) * sizeof(T)) : NULL;
  switch (j->op) {
  case API_SOFTMAX: j->kt->softmax(z, out, rows, j->k, scratch); break;
  case API_ONLINE: j->kt->softmax_online(z, out, rows, j->k); break;
  case API_TEMPERATURE: j->kt->softmax_temperature(z, out, rows, j->k, j->t, scratch); break;
  case API_LOG_SOFTMAX: j->kt->log_softmax(z, out, rows, j->k); break;
  case API_CE:
    j->sums[task] = j->kt->ce_logits(z, j->labels + r0, NULL, rows, j->k, j->t, out, scratch);
    break;
  }
  free(scratch);
}

/* A softmax-family op over n rows: one kernel call on one thread (or a
   call too small to cut), else row tasks on the pool. */
/* rows_run_f32, rows_run_f64 */
static void FN(rows_run)(enum api_op op, const T *z, T *out, size_t n, size_t k, T t) {
  const struct SMR_CAT(smr_kernels, SFX) *kt = &smr_kernels_active()->SFX;
  const size_t rows = task_rows(k);
  const bool stream = (op == API_SOFTMAX || op == API_TEMPERATURE) && stream_output(n, k, sizeof(T));
  if (smr_threads_count() < 2 || n <= rows) {
    FN(rows_job) j = {kt, op, z, out, NULL, n, k, n, 0, t, stream, NULL};
    FN(rows_task)(&j, 0);
    return;
  }
  FN(rows_job) j = {kt, op, z, out, NULL, n, k, rows, 0, t, stream, NULL};
  smr_parallel_for((n + rows - 1) / rows, FN(rows_task), &j);
}

/* the mean over rows of the cross-entropy (and the gradient, scaled by
   1/n, into grad when not NULL), in tasks of task_rows(k) rows on any
   thread count, their sums added in task order. A finite total is divided
   by n once (the same bits as always); when it overflows, the mean is
   formed as sum(task / n), and a task whose own sum overflows is summed
   again as row / n (its logits are gone when grad == z: that task then
   stays +inf, smr.h) */
/* ce_run_f32, ce_run_f64 */
static double FN(ce_run)(const T *z, const int32_t *labels, size_t n, size_t k, T *grad) {
  const struct SMR_CAT(smr_kernels, SFX) *kt = &smr_kernels_active()->SFX;
  const size_t rows = task_rows(k), ntasks = (n + rows - 1) / rows;
  const double dn = (double)n;
  double sums[SMR_API_WAVE], total = 0.0, scaled = 0.0;
  FN(rows_job)
  j = {kt, API_CE, z, grad, labels, n, k, rows, 0, (T)(1.0 / dn),
       grad != NULL && stream_output(n, k, sizeof(T)), sums};
  for (; j.first < ntasks; j.first += SMR_API_WAVE) {
    const size_t nt = ntasks - j.first < SMR_API_WAVE ? ntasks - j.first : SMR_API_WAVE;
    smr_parallel_for(nt, FN(rows_task), &j);
    for (size_t t = 0; t < nt; t++) {
      total += sums[t];
      if (sums[t] == INFINITY && grad != z) {
        const size_t r0 = (j.first + t) * rows, r1 = n - r0 < rows ? n : r0 + rows;
        for (size_t i = r0; i < r1; i++)
          scaled += kt->ce_logits(z + i * k, labels + i, NULL, 1, k, (T)1, NULL, NULL) / dn;
      } else {
        scaled += sums[t] / dn;
      }
    }
  }
  return total != INFINITY ? total / dn : scaled;
}

/* ------------------------------------------------------------------------ */
/* Softmax family                                                            */
/* ------------------------------------------------------------------------ */

/* smr_softmax_f32, smr_softmax_f64 */
SMR_API smr_status FN(smr_softmax)(const T *z, T *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, sizeof(T), z, p);
  if (st != SMR_OK || n == 0) return st;
  FN(rows_run)(API_SOFTMAX, z, p, n, k, (T)1);
  return SMR_OK;
}

/* smr_softmax_online_f32, smr_softmax_online_f64 */
SMR_API smr_status FN(smr_softmax_online)(const T *z, T *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, sizeof(T), z, p);
  if (st != SMR_OK || n == 0) return st;
  FN(rows_run)(API_ONLINE, z, p, n, k, (T)1);
  return SMR_OK;
}

/* smr_softmax_temperature_f32, smr_softmax_temperature_f64 */
SMR_API smr_status FN(smr_softmax_temperature)(const T *z, T *p, size_t n, size_t k,
                                               T temperature) {
  if (!(isfinite(temperature) && temperature > (T)0)) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, sizeof(T), z, p);
  if (st != SMR_OK || n == 0) return st;
  FN(rows_run)(API_TEMPERATURE, z, p, n, k, temperature);
  return SMR_OK;
}

/* smr_log_softmax_f32, smr_log_softmax_f64 */
SMR_API smr_status FN(smr_log_softmax)(const T *z, T *out, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, sizeof(T), z, out);
  if (st != SMR_OK || n == 0) return st;
  FN(rows_run)(API_LOG_SOFTMAX, z, out, n, k, (T)1);
  return SMR_OK;
}

/* smr_argmax_f32, smr_argmax_f64: one kernel call (a pass over the rows) */
/* smr_argmax_f32, smr_argmax_f64 */
SMR_API smr_status FN(smr_argmax)(const T *p, size_t n, size_t k, int32_t *labels) {
  const smr_status st = check_rows(n, k, sizeof(T), p, labels);
  if (st != SMR_OK || n == 0) return st;
  if (k > (size_t)INT32_MAX) return SMR_EINVAL;
  smr_kernels_active()->SFX.argmax_rows(p, n, k, labels);
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* One-hot                                                                   */
/* ------------------------------------------------------------------------ */

/* Not a table entry: it is a fill, written once per data set. */
/* smr_one_hot_f32, smr_one_hot_f64 */
SMR_API smr_status FN(smr_one_hot)(const int32_t *labels, size_t n, size_t k, T *y) {
  smr_status st = check_rows(n, k, sizeof(T), labels, y);
  if (st != SMR_OK || n == 0) return st;
  if ((st = check_labels(labels, n, k)) != SMR_OK) return st;
  for (size_t i = 0; i < n; i++) {
    T *row = y + i * k;
    for (size_t j = 0; j < k; j++) row[j] = (T)0;
    row[labels[i]] = (T)1;
  }
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* Cross-entropy                                                             */
/* ------------------------------------------------------------------------ */

/* smr_cross_entropy_f32, smr_cross_entropy_f64 */
SMR_API smr_status FN(smr_cross_entropy)(const T *p, const T *y, size_t n, size_t k,
                                         double *loss) {
  if (loss == NULL) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, sizeof(T), p, y);
  if (st != SMR_OK) return st;
  *loss = n == 0 ? 0.0 : smr_kernels_active()->SFX.ce_prob(p, y, n, k) / (double)n; /* one call */
  return SMR_OK;
}

/* smr_cross_entropy_logits_f32, smr_cross_entropy_logits_f64 */
SMR_API smr_status FN(smr_cross_entropy_logits)(const T *z, const int32_t *labels, size_t n,
                                                size_t k, double *loss, T *grad) {
  const smr_status st = check_ce_logits(z, labels, n, k, sizeof(T), loss, grad);
  if (st != SMR_OK) return st;
  const double mean = n > 0 ? FN(ce_run)(z, labels, n, k, grad) : 0.0;
  if (loss != NULL) *loss = mean;
  return SMR_OK;
}

#undef FN
