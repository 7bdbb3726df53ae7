/* apply.c - what smr predict and smr eval share: their options and reading
   the features a model applies to. */
#include "cli.h"

/* ------------------------------------------------------------------------ */
/* smr predict / smr eval: shared loading                                    */
/* ------------------------------------------------------------------------ */

void help_predict(FILE *f) {
  fputs(
    "Usage: smr predict MODEL DATA.csv [options]\n"
    "\n"
    "Writes one line per row of DATA.csv ('-' reads stdin) to stdout: the\n"
    "predicted class name (or index when the model has no names), or with\n"
    "--proba a header of class names and the k probabilities of each row.\n"
    "A label column is optional: with as many columns as the model has\n"
    "features all are features; with one more, the label column is ignored.\n"
    "\n"
    "  -p, --proba                print probabilities (comma-separated, %.9g)\n"
    "  -t, --temperature T        softmax(logits / T), T > 0 (default 1)\n"
    "      --label-column NAME    ignore this column (it must exist)\n"
    "      --no-labels            every column is a feature\n"
    "      --delimiter C          field delimiter (default ','; 'tab' for a tab)\n"
    , f);
  fputs(CSV_HELP, f);
  fputs(
    "  -h, --help                 this help\n"
    "\n"
    "Example: smr predict iris.smr data/iris.csv --proba --temperature 2\n",
    f);
}

void help_eval(FILE *f) {
  fputs(
    "Usage: smr eval MODEL DATA.csv [options]\n"
    "\n"
    "Evaluates MODEL on labelled DATA.csv ('-' reads stdin): accuracy, mean\n"
    "log-loss (cross-entropy) and the confusion matrix (rows: true class,\n"
    "columns: predicted class). When the model has class names, the labels\n"
    "must be those names (integers match as numbers: 01 is 1); a model\n"
    "without names takes class indices 0..k-1.\n"
    "\n"
    "      --label-column NAME    the label column (default: the last column)\n"
    "      --delimiter C          field delimiter (default ','; 'tab' for a tab)\n"
    , f);
  fputs(CSV_HELP, f);
  fputs(
    "      --confusion MODE       full: the k x k matrix; top: the 20 most frequent\n"
    "                             confusions; auto (default): full, or top when\n"
    "                             stdout is a terminal and there are over 30 classes\n"
    "  -h, --help                 this help\n"
    "\n"
    "Example: smr eval iris.smr data/iris.csv\n",
    f);
}

static const struct option predict_opts[] = {
  {"proba", no_argument, NULL, O_PROBA},
  {"temperature", required_argument, NULL, O_TEMPERATURE},
  {"label-column", required_argument, NULL, O_LABEL_COLUMN},
  {"no-labels", no_argument, NULL, O_NO_LABELS},
  {"delimiter", required_argument, NULL, O_DELIMITER},
  CSV_LONG_OPTS,
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0},
};

static const struct option eval_opts[] = {
  {"label-column", required_argument, NULL, O_LABEL_COLUMN},
  {"delimiter", required_argument, NULL, O_DELIMITER},
  {"confusion", required_argument, NULL, O_CONFUSION},
  CSV_LONG_OPTS,
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0},
};


/* Parses predict (is_predict) or eval options. 0, EXIT_USAGE, or -1: help. */
int parse_apply(int argc, char **argv, bool is_predict, apply_cfg *cfg) {
  args a = {{NULL}, 0};
  const struct option *lo = is_predict ? predict_opts : eval_opts;
  const char *so = is_predict ? "-:hpt:" : short_opts_plain;
  int c;
  while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
    int r = common_opt(c, argv, lo, &a);
    if (r > 0) return r;
    if (r == 0) continue;
    bool ok = true;
    if (csv_opt(c, &cfg->csv, &ok)) {
      if (!ok) return EXIT_USAGE;
      continue;
    }
    switch (c) {
    case 'h': return -1;
    case 'p':
    case O_PROBA: cfg->proba = true; break;
    case 't':
    case O_TEMPERATURE:
      ok = opt_double("--temperature", optarg, GT0, &cfg->temperature);
      cfg->use_temperature = true;
      break;
    case O_NO_LABELS: cfg->no_labels = true; break;
    case O_LABEL_COLUMN:
      if (optarg[0] == '\0') return usage_fail("--label-column needs a non-empty name");
      cfg->csv.label_column = optarg;
      break;
    case O_DELIMITER: ok = opt_delimiter(optarg, &cfg->csv.delimiter); break;
    case O_CONFUSION: {
      static const char *const modes[] = {"auto", "full", "top"};
      size_t idx = 0;
      ok = opt_choice("--confusion", optarg, modes, 3, &idx);
      cfg->confusion = (enum confusion_mode)idx;
      break;
    }
    default: return usage_fail("internal error: unhandled option");
    }
    if (!ok) return EXIT_USAGE;
  }
  if (rest_positionals(argc, argv, &a) != 0) return EXIT_USAGE;
  if (a.npos < 2) return usage_fail(a.npos == 0 ? "missing MODEL and DATA.csv" : "missing DATA.csv");
  if (a.npos > 2) return usage_fail("expected MODEL DATA.csv, got %zu arguments", a.npos);
  if (cfg->no_labels && cfg->csv.label_column != NULL)
    return usage_fail("--no-labels and --label-column exclude each other");
  cfg->model_path = a.pos[0];
  cfg->data_path = a.pos[1];
  return 0;
}

/* Reads prediction input once (a FIFO or a pipe can be read only once)
   into *X (n x d, the model's dtype). With --no-labels every column is a
   feature; with --label-column that column is dropped; otherwise the file
   holds d columns (all features) or d + 1 (the last is a label, dropped):
   it is read with its last column as a label, and when that leaves d - 1
   features the labels are the last feature, read back as numbers from
   their text (the class names). */
int read_features(data_source *src, const apply_cfg *cfg, const smr_model *m,
                         smr_dataset **ds, void **X, size_t *n_out) {
  const size_t d = smr_model_num_features(m);
  const smr_dtype dt = smr_model_dtype(m);
  smr_csv_options o = cfg->csv;
  const char *path = src->path;
  o.no_labels = cfg->no_labels;
  int rc = read_data(src, &o, ds, false);
  if (rc != 0) return rc;
  const size_t dc = smr_dataset_num_features(*ds), n = smr_dataset_num_rows(*ds);
  const bool guessed = !cfg->no_labels && cfg->csv.label_column == NULL;
  *n_out = n;
  if (dc == d) return features_as(*ds, path, dt, NULL, n, d, X);
  if (!guessed || dc + 1 != d) {
    if (guessed)
      return fail("%s: %zu columns, but the model expects %zu features (or %zu columns with a "
                  "label)", path, dc + 1, d, d + 1);
    return fail("%s: %zu feature columns, but the model expects %zu", path, dc, d);
  }
  /* the last column is a feature: its values are the class names' text */
  const int32_t *y = smr_dataset_labels(*ds);
  size_t nd;
  double *col = alloc_array(n, sizeof *col);
  if (col == NULL) return fail("%s", smr_strerror(SMR_ENOMEM));
  for (size_t i = 0; i < n; i++) {
    const char *t = smr_dataset_class_name(*ds, (size_t)y[i]);
    char *end = NULL;
    errno = 0;
    col[i] = strtod(t, &end);
    if (end == t || *end != '\0' || !isfinite(col[i])) {
      free(col);
      return fail("%s: data row %zu, column %zu: not a number: '%.40s' (with %zu columns "
                  "every column is a feature)", path, i + 1, d, t, d);
    }
  }
  void *Xd = NULL;
  rc = features_as(*ds, path, dt, NULL, n, dc, &Xd);
  void *full = rc == 0 && mul_ok(n, d, &nd)
                   ? alloc_array(nd, dt == SMR_F32 ? sizeof(float) : sizeof(double))
                   : NULL;
  if (rc == 0 && full == NULL) rc = fail("%s", smr_strerror(SMR_ENOMEM));
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (dt == SMR_F32) {
      if (fabs(col[i]) > (double)FLT_MAX) {
        rc = fail("%s: data row %zu, column %zu: %g does not fit in f32", path, i + 1, d, col[i]);
        break;
      }
      memcpy((float *)full + i * d, (float *)Xd + i * dc, dc * sizeof(float));
      ((float *)full)[i * d + dc] = (float)col[i];
    } else {
      memcpy((double *)full + i * d, (double *)Xd + i * dc, dc * sizeof(double));
      ((double *)full)[i * d + dc] = col[i];
    }
  }
  free(col);
  free(Xd);
  if (rc != 0) {
    free(full);
    return rc;
  }
  *X = full;
  return 0;
}
