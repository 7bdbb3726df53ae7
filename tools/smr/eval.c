/* eval.c - smr eval: accuracy, loss and the confusion matrix (or its most
   frequent confusions). */
#include "cli.h"

/* ------------------------------------------------------------------------ */
/* Confusion matrix                                                          */
/* ------------------------------------------------------------------------ */

/* cm[t * k + p] counts rows of true class t predicted as p. Each column's
   width is found in one pass over the matrix, so printing is linear in its
   k x k cells (it rescanned a column for every cell: k = 1000 took 64 s). */
static int print_confusion(const smr_model *m, const size_t *cm, size_t k) {
  char buf[32];
  int *w = alloc_array(k, sizeof *w);
  if (w == NULL) return fail("%s", smr_strerror(SMR_ENOMEM));
  int w0 = (int)strlen("true\\pred");
  for (size_t j = 0; j < k; j++) {
    const int l = (int)strlen(class_label(m, j, buf));
    if (l > w0) w0 = l;
    w[j] = l;
  }
  for (size_t t = 0; t < k; t++)
    for (size_t j = 0; j < k; j++) {
      const int dig = snprintf(buf, sizeof buf, "%zu", cm[t * k + j]);
      if (dig > w[j]) w[j] = dig;
    }
  printf("%-*s", w0, "true\\pred");
  for (size_t j = 0; j < k; j++) printf("  %*s", w[j], class_label(m, j, buf));
  putchar('\n');
  for (size_t t = 0; t < k; t++) {
    printf("%-*s", w0, class_label(m, t, buf));
    for (size_t j = 0; j < k; j++) printf("  %*zu", w[j], cm[t * k + j]);
    putchar('\n');
  }
  free(w);
  return 0;
}

typedef struct confusion { size_t count; int32_t truth, pred; } confusion;

static int cmp_pair(const void *a, const void *b) {
  const confusion *x = a, *y = b;
  if (x->truth != y->truth) return x->truth < y->truth ? -1 : 1;
  return (x->pred > y->pred) - (x->pred < y->pred);
}

static int cmp_count_desc(const void *a, const void *b) {
  const confusion *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return cmp_pair(a, b);
}

/* The `top` most frequent confusions (true class predicted as another),
   counted by sorting the misclassified rows: O(n log n) time and O(n)
   memory whatever k is (a k x k matrix at k = 10^5 would be 80 GB). */
#define TOP_CONFUSIONS 20
static int print_top_confusions(const smr_model *m, const int32_t *truth, const int32_t *pred,
                                size_t n) {
  confusion *v = alloc_array(n, sizeof *v);
  if (v == NULL) return fail("%s", smr_strerror(SMR_ENOMEM));
  size_t wrong = 0, nan_rows = 0;
  for (size_t i = 0; i < n; i++) {
    if (pred[i] < 0) nan_rows++;
    else if (pred[i] != truth[i]) v[wrong++] = (confusion){1, truth[i], pred[i]};
  }
  qsort(v, wrong, sizeof *v, cmp_pair);
  size_t runs = 0;
  for (size_t i = 0; i < wrong; i++) {
    if (runs > 0 && cmp_pair(&v[runs - 1], &v[i]) == 0) v[runs - 1].count++;
    else v[runs++] = v[i];
  }
  qsort(v, runs, sizeof *v, cmp_count_desc);
  char a[32], b[32];
  printf("%zu misclassified rows in %zu distinct (true, predicted) pairs", wrong, runs);
  if (nan_rows > 0) printf(", %zu rows with NaN probabilities", nan_rows);
  printf("; the %s most frequent:\n", runs < TOP_CONFUSIONS ? "" : "20");
  for (size_t i = 0; i < runs && i < TOP_CONFUSIONS; i++)
    printf("  %zu  true %s, predicted %s\n", v[i].count,
           class_label(m, (size_t)v[i].truth, a), class_label(m, (size_t)v[i].pred, b));
  free(v);
  return 0;
}

/* Accuracy, and the confusion matrix when cm != NULL (k x k, zeroed here). */
double accuracy(const int32_t *truth, const int32_t *pred, size_t n, size_t k, size_t *correct,
                size_t *cm) {
  size_t c = 0;
  if (cm != NULL) memset(cm, 0, k * k * sizeof *cm);
  for (size_t i = 0; i < n; i++) {
    if (pred[i] == truth[i]) c++;
    if (cm != NULL && pred[i] >= 0 && truth[i] >= 0 && (size_t)truth[i] < k &&
        (size_t)pred[i] < k)
      cm[(size_t)truth[i] * k + (size_t)pred[i]]++;
  }
  *correct = c;
  return n == 0 ? 0.0 : (double)c / (double)n;
}

/* ------------------------------------------------------------------------ */
/* smr eval                                                                  */
/* ------------------------------------------------------------------------ */

/* Prints accuracy, log-loss and the confusion matrix of m on (X, y): the
   k x k matrix, or the most frequent confusions (mode). */
int report_eval(const smr_model *m, const void *X, const int32_t *y, size_t n,
                       const char *prefix, enum confusion_mode mode) {
  size_t k = smr_model_num_classes(m), kk;
  if (mode == CONFUSION_AUTO) mode = k > 30 && isatty(STDOUT_FILENO) ? CONFUSION_TOP : CONFUSION_FULL;
  int32_t *pred = alloc_array(n, sizeof *pred);
  size_t *cm = NULL;
  int rc = 0;
  if (mode == CONFUSION_FULL) {
    cm = mul_ok(k, k, &kk) && kk <= SIZE_MAX / sizeof *cm ? alloc_array(kk, sizeof *cm) : NULL;
    if (cm == NULL) {
      free(pred);
      return fail("a %zu x %zu confusion matrix does not fit in memory (use --confusion top)", k,
                  k);
    }
  }
  if (pred == NULL) { rc = fail("%s", smr_strerror(SMR_ENOMEM)); goto done; }
  double loss;
  smr_status s = model_predict(m, X, n, pred);
  if (s == SMR_OK) s = model_loss(m, X, y, n, &loss);
  if (s != SMR_OK) { rc = fail("evaluation failed: %s", smr_strerror(s)); goto done; }
  size_t correct;
  double acc = accuracy(y, pred, n, k, &correct, cm);
  printf("%saccuracy: %.4f (%zu/%zu)\n", prefix, acc, correct, n);
  printf("%slog-loss: %.6f\n", prefix, loss);
  if (mode == CONFUSION_FULL) {
    printf("%sconfusion matrix (rows: true class, columns: predicted class):\n", prefix);
    rc = print_confusion(m, cm, k);
  } else {
    printf("%sconfusions: ", prefix);
    rc = print_top_confusions(m, y, pred, n);
  }
done:
  free(cm);
  free(pred);
  return rc;
}

int cmd_eval(int argc, char **argv) {
  apply_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  int rc = parse_apply(argc, argv, false, &cfg);
  if (rc < 0) { help_eval(stdout); return finish_stdout(); }
  if (rc != 0) return rc;

  data_source src = {cfg.data_path, NULL, 0};
  smr_model *m = NULL;
  smr_dataset *ds = NULL;
  void *X = NULL;
  const char **names = NULL;
  char *index_names = NULL;
  rc = load_model(cfg.model_path, &m);
  if (rc != 0) goto done;
  size_t d = smr_model_num_features(m), k = smr_model_num_classes(m);
  /* Labels are looked up among the model's names, so indices agree; a
     model without names (trained on class indices through the C API) takes
     the indices 0..k-1 as its names. */
  names = alloc_array(k, sizeof *names);
  index_names = smr_model_class_name(m, 0) == NULL ? alloc_array(k, 24) : NULL;
  if (names == NULL || (smr_model_class_name(m, 0) == NULL && index_names == NULL)) {
    rc = fail("%s", smr_strerror(SMR_ENOMEM));
    goto done;
  }
  for (size_t j = 0; j < k; j++) {
    if (index_names != NULL) {
      snprintf(index_names + 24 * j, 24, "%zu", j);
      names[j] = index_names + 24 * j;
    } else {
      names[j] = smr_model_class_name(m, j);
    }
  }
  cfg.csv.class_names = names;
  cfg.csv.num_class_names = k;
  rc = read_data(&src, &cfg.csv, &ds, false);
  if (rc != 0) goto done;
  size_t n = smr_dataset_num_rows(ds);
  const int32_t *y = smr_dataset_labels(ds);
  if (smr_dataset_num_features(ds) != d) {
    rc = fail("%s: %zu feature columns, but the model expects %zu", cfg.data_path,
              smr_dataset_num_features(ds), d);
    goto done;
  }
  if (n == 0) { rc = fail("%s: no data rows", cfg.data_path); goto done; }
  if (y == NULL) { rc = fail("%s: no labels", cfg.data_path); goto done; }
  for (size_t i = 0; i < n; i++) {
    if (y[i] < 0 || (size_t)y[i] >= k) {
      rc = fail("%s: row %zu: label %" PRId32 " is not a class of the model (0..%zu)",
                cfg.data_path, i + 1, y[i], k - 1);
      goto done;
    }
  }
  if ((rc = features_as(ds, src.path, smr_model_dtype(m), NULL, n, d, &X)) != 0) goto done;
  printf("rows: %zu\n", n);
  rc = report_eval(m, X, y, n, "", cfg.confusion);
  if (rc == 0) rc = finish_stdout();

done:
  free(X);
  free(names);
  free(index_names);
  smr_dataset_free(ds);
  smr_model_free(m);
  source_free(&src);
  return rc;
}
