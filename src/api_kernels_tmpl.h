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
  enum api_op op;
  const T *z;
  T *out;                /* the output (the gradient for API_CE; may be NULL there) */
  const int32_t *labels; /* API_CE */
  size_t n, k, rows;     /* rows per task */
  size_t first;          /* task number of the wave's first (API_CE) */
  T t;                   /* the temperature or the CE scale */
  size_t bytes;          /* the whole output, for the streaming choice */
  double *sums;          /* API_CE: one per task of the wave */
} FN(rows_job);

static void FN(rows_task)(void *arg, size_t task) {
  const FN(rows_job) *j = arg;
  const size_t r0 = (j->first + task) * j->rows;
  const size_t rows = j->n - r0 < j->rows ? j->n - r0 : j->rows;
  const T *z = j->z + r0 * j->k;
  T *out = j->out != NULL ? j->out + r0 * j->k : NULL;
  smr_stream_call_bytes = j->bytes;
  switch (j->op) {
  case API_SOFTMAX: smr_kernels_active()->SFX.softmax(z, out, rows, j->k); break;
  case API_ONLINE: smr_kernels_active()->SFX.softmax_online(z, out, rows, j->k); break;
  case API_TEMPERATURE:
    smr_kernels_active()->SFX.softmax_temperature(z, out, rows, j->k, j->t);
    break;
  case API_LOG_SOFTMAX: smr_kernels_active()->SFX.log_softmax(z, out, rows, j->k); break;
  case API_CE:
    j->sums[task] =
        smr_kernels_active()->SFX.ce_logits(z, j->labels + r0, NULL, rows, j->k, j->t, out);
    break;
  }
  smr_stream_call_bytes = 0;
}

/* A softmax-family op over n rows: one kernel call on one thread (or a
   call too small to cut), else row tasks on the pool. */
static void FN(rows_run)(enum api_op op, const T *z, T *out, size_t n, size_t k, T t) {
  const size_t rows = task_rows(k);
  if (smr_num_threads() < 2 || n <= rows) {
    FN(rows_job) j = {op, z, out, NULL, n, k, n, 0, t, 0, NULL};
    FN(rows_task)(&j, 0);
    return;
  }
  FN(rows_job)
  j = {op, z, out, NULL, n, k, rows, 0, t, n * k * sizeof(T), NULL};
  smr_parallel_for((n + rows - 1) / rows, FN(rows_task), &j);
}

/* sum over rows of the cross-entropy (and the gradient, scaled, into grad
   when not NULL), in tasks of task_rows(k) rows on any thread count, their
   sums added in task order */
static double FN(ce_run)(const T *z, const int32_t *labels, size_t n, size_t k, T scale, T *grad) {
  const size_t rows = task_rows(k), ntasks = (n + rows - 1) / rows;
  double sums[API_WAVE], total = 0.0;
  FN(rows_job)
  j = {API_CE, z, grad, labels, n, k, rows, 0, scale, ntasks > 1 ? n * k * sizeof(T) : 0, sums};
  for (; j.first < ntasks; j.first += API_WAVE) {
    const size_t nt = ntasks - j.first < API_WAVE ? ntasks - j.first : API_WAVE;
    smr_parallel_for(nt, FN(rows_task), &j);
    for (size_t t = 0; t < nt; t++) total += sums[t];
  }
  return total;
}

/* ------------------------------------------------------------------------ */
/* Softmax family                                                            */
/* ------------------------------------------------------------------------ */

SMR_API smr_status FN(smr_softmax)(const T *z, T *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  FN(rows_run)(API_SOFTMAX, z, p, n, k, (T)1);
  return SMR_OK;
}

SMR_API smr_status FN(smr_softmax_online)(const T *z, T *p, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  FN(rows_run)(API_ONLINE, z, p, n, k, (T)1);
  return SMR_OK;
}

SMR_API smr_status FN(smr_softmax_temperature)(const T *z, T *p, size_t n, size_t k,
                                               T temperature) {
  if (!(isfinite(temperature) && temperature > (T)0)) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, z, p);
  if (st != SMR_OK || n == 0) return st;
  FN(rows_run)(API_TEMPERATURE, z, p, n, k, temperature);
  return SMR_OK;
}

SMR_API smr_status FN(smr_log_softmax)(const T *z, T *out, size_t n, size_t k) {
  const smr_status st = check_rows(n, k, z, out);
  if (st != SMR_OK || n == 0) return st;
  FN(rows_run)(API_LOG_SOFTMAX, z, out, n, k, (T)1);
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* One-hot                                                                   */
/* ------------------------------------------------------------------------ */

/* Not a table entry: it is a fill, written once per data set. */
SMR_API smr_status FN(smr_one_hot)(const int32_t *labels, size_t n, size_t k, T *y) {
  smr_status st = check_rows(n, k, labels, y);
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

SMR_API smr_status FN(smr_cross_entropy)(const T *p, const T *y, size_t n, size_t k,
                                         double *loss) {
  if (loss == NULL) return SMR_EINVAL;
  const smr_status st = check_rows(n, k, p, y);
  if (st != SMR_OK) return st;
  *loss = n == 0 ? 0.0 : smr_kernels_active()->SFX.ce_prob(p, y, n, k) / (double)n;
  return SMR_OK;
}

SMR_API smr_status FN(smr_cross_entropy_logits)(const T *z, const int32_t *labels, size_t n,
                                                size_t k, double *loss, T *grad) {
  const smr_status st = check_ce_logits(z, labels, n, k, loss, grad);
  if (st != SMR_OK) return st;
  double sum = 0.0;
  if (n > 0) sum = FN(ce_run)(z, labels, n, k, (T)(1.0 / (double)n), grad);
  if (loss != NULL) *loss = n == 0 ? 0.0 : sum / (double)n;
  return SMR_OK;
}

#undef FN
