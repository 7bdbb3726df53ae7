/* example_readme.c - the README's C API example as a complete program,
   built by tests/test_install.sh against the *installed* header and
   smr.pc only (what an embedder gets). Trains on a CSV, saves and reloads
   the model, and checks that the reloaded model predicts identically.
   usage: example_readme DATA.csv MODEL_PATH  (exit 0 on success) */
#include <smr.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    smr_status st_ = (call);                                                   \
    if (st_ != SMR_OK) {                                                       \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,            \
              smr_strerror(st_));                                              \
      return 1;                                                                \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  smr_error_detail err;
  smr_dataset *ds;
  if (smr_dataset_read_csv(&ds, argv[1], NULL, &err) != SMR_OK) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  const size_t n = smr_dataset_num_rows(ds), d = smr_dataset_num_features(ds),
               k = smr_dataset_num_classes(ds);
  const double *X = smr_dataset_features(ds);
  const int32_t *labels = smr_dataset_labels(ds);

  /* --- the README's ten lines --- */
  smr_model *m;
  CHECK(smr_model_create(&m, d, k, SMR_F64, 0.5, /*seed*/ 42));
  smr_fit_options opt = smr_fit_options_default();
  opt.l2 = 1e-3; opt.standardize = true; /* solver: lbfgs (full batch) */
  smr_fit_report rep;
  CHECK(smr_fit_f64(m, X, labels, n, &opt, &rep));
  int32_t *pred = malloc(n * sizeof *pred), *pred2 = malloc(n * sizeof *pred2);
  double *P = malloc(n * k * sizeof *P);
  if (pred == NULL || pred2 == NULL || P == NULL) return 1;
  CHECK(smr_predict_f64(m, X, n, pred));
  CHECK(smr_predict_proba_f64(m, X, n, P));
  CHECK(smr_model_save(m, argv[2]));
  smr_model_free(m);
  /* --- end --- */

  smr_model *r;
  CHECK(smr_model_load(&r, argv[2]));
  CHECK(smr_predict_f64(r, X, n, pred2));
  size_t correct = 0;
  for (size_t i = 0; i < n; i++) correct += pred[i] == labels[i];
  const int same = memcmp(pred, pred2, n * sizeof *pred) == 0;
  printf("example: %zu epochs, loss %.6f, training accuracy %.4f, reload %s, ISA %s\n",
         rep.epochs_run, rep.final_loss, (double)correct / (double)n,
         same ? "identical" : "DIFFERENT", smr_isa_name(smr_isa_active()));
  smr_model_free(r);
  smr_dataset_free(ds);
  free(pred);
  free(pred2);
  free(P);
  return same && correct * 10 >= n * 9 ? 0 : 1;
}
