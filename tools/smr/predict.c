/* predict.c - smr predict: labels or probabilities for each row. */
#include "cli.h"

/* ------------------------------------------------------------------------ */
/* smr predict                                                               */
/* ------------------------------------------------------------------------ */

static int write_predictions(const smr_model *m, const void *P, size_t n, bool proba) {
  size_t k = smr_model_num_classes(m);
  char buf[32];
  if (proba) {
    for (size_t j = 0; j < k; j++) {
      if (j > 0) putchar(',');
      put_field(stdout, class_label(m, j, buf));
    }
    putchar('\n');
    for (size_t i = 0; i < n; i++) {
      for (size_t j = 0; j < k; j++) printf(j == 0 ? "%.9g" : ",%.9g", proba_at(m, P, i * k + j));
      putchar('\n');
    }
    return finish_stdout();
  }
  int32_t *lab = alloc_array(n, sizeof *lab);
  if (lab == NULL) return fail("%s", smr_strerror(SMR_ENOMEM));
  const smr_status st = model_argmax(m, P, n, lab);
  if (st != SMR_OK) {
    free(lab);
    return fail("%s", smr_strerror(st));
  }
  for (size_t i = 0; i < n; i++) {
    if (lab[i] < 0) fputs("NaN", stdout);
    else put_field(stdout, class_label(m, (size_t)lab[i], buf));
    putchar('\n');
  }
  free(lab);
  return finish_stdout();
}

int cmd_predict(int argc, char **argv) {
  apply_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.temperature = 1.0;
  int rc = parse_apply(argc, argv, true, &cfg);
  if (rc < 0) { help_predict(stdout); return finish_stdout(); }
  if (rc != 0) return rc;

  data_source src = {cfg.data_path, NULL, 0};
  smr_model *m = NULL;
  smr_dataset *ds = NULL;
  void *X = NULL, *P = NULL;
  rc = load_model(cfg.model_path, &m);
  if (rc != 0) goto done;
  size_t k = smr_model_num_classes(m);
  smr_dtype dt = smr_model_dtype(m);
  if (cfg.use_temperature && dt == SMR_F32) {
    float tf = (float)cfg.temperature;
    if (!(tf > 0.0f) || !isfinite(tf)) {
      rc = usage_fail("--temperature %g is not a positive finite f32 value (the model is f32)",
                      cfg.temperature);
      goto done;
    }
  }
  size_t n = 0, nk;
  rc = read_features(&src, &cfg, m, &ds, &X, &n);
  if (rc != 0) goto done;
  P = mul_ok(n, k, &nk) ? alloc_array(nk, dt == SMR_F32 ? sizeof(float) : sizeof(double)) : NULL;
  if (P == NULL) { rc = fail("%s", smr_strerror(SMR_ENOMEM)); goto done; }
  smr_status s = model_proba(m, X, n, P, cfg.temperature, cfg.use_temperature);
  if (s != SMR_OK) { rc = fail("prediction failed: %s", smr_strerror(s)); goto done; }
  rc = write_predictions(m, P, n, cfg.proba);

done:
  free(P);
  free(X);
  smr_dataset_free(ds);
  smr_model_free(m);
  source_free(&src);
  return rc;
}
