/* demo.c - smr demo: the embedded Iris data set, split, trained and
   evaluated. */
#include "cli.h"

/* iris_data.c, generated from data/iris.csv by tools/embed.c. */
extern const unsigned char smr_iris_csv[];
extern const size_t smr_iris_csv_len;

/* ------------------------------------------------------------------------ */
/* smr demo                                                                  */
/* ------------------------------------------------------------------------ */

void help_demo(FILE *f) {
  fputs(
    "Usage: smr demo [options]\n"
    "\n"
    "Trains and evaluates softmax regression on the Iris data embedded in\n"
    "this binary (150 rows, 4 features, 3 classes): a seeded stratified\n"
    "70/30 split, standardized inputs, full-batch L-BFGS (l2 0.001) to\n"
    "max |gradient| <= 1e-6, or gradient descent with --lr. Prints\n"
    "training and held-out accuracy, held-out log-loss, the held-out\n"
    "confusion matrix and the active instruction set.\n"
    "\n"
    "      --seed N               split and initialization seed (default 42)\n"
    "      --dtype f32|f64        model precision (default f64)\n"
    "      --epochs N             epochs or L-BFGS iterations at most (default 1000)\n"
    "      --lr X                 gradient descent with this learning rate\n"
    "      --isa NAME             use this instruction set (scalar, avx2, avx512, neon)\n"
    "  -h, --help                 this help\n",
    f);
}

static const struct option demo_opts[] = {
  {"seed", required_argument, NULL, O_SEED},
  {"dtype", required_argument, NULL, O_DTYPE},
  {"epochs", required_argument, NULL, O_EPOCHS},
  {"lr", required_argument, NULL, O_LR},
  {"isa", required_argument, NULL, O_ISA},
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0},
};

typedef struct demo_cfg {
  uint64_t seed;
  smr_dtype dtype;
  double lr;
  smr_fit_options fit;
} demo_cfg;

/* demo's options into cfg (and --isa selected): 0, EXIT_USAGE or
   EXIT_RUNTIME after printing why, or -1: help. */
static int parse_demo(int argc, char **argv, demo_cfg *cfg) {
  args a = {{NULL}, 0};
  const char *isa_name = NULL;
  int c;
  while ((c = getopt_long(argc, argv, short_opts_plain, demo_opts, NULL)) != -1) {
    int r = common_opt(c, argv, demo_opts, &a);
    if (r > 0) return r;
    if (r == 0) continue;
    bool ok = true;
    switch (c) {
    case 'h': return -1;
    case O_SEED: ok = opt_u64("--seed", optarg, &cfg->seed); break;
    case O_DTYPE: ok = opt_dtype(optarg, &cfg->dtype); break;
    case O_EPOCHS: ok = opt_size("--epochs", optarg, 1, SIZE_MAX, &cfg->fit.epochs); break;
    case O_LR:
      ok = opt_double("--lr", optarg, GT0, &cfg->lr);
      cfg->fit.solver = SMR_SOLVER_GD; /* a learning rate: gradient descent */
      break;
    case O_ISA: isa_name = optarg; break;
    default: return usage_fail("internal error: unhandled option");
    }
    if (!ok) return EXIT_USAGE;
  }
  if (rest_positionals(argc, argv, &a) != 0) return EXIT_USAGE;
  if (a.npos != 0) return usage_fail("unexpected argument '%s'", a.pos[0]);
  if (isa_name != NULL) {
    smr_isa isa;
    if (smr_isa_from_name(isa_name, &isa) != SMR_OK)
      return usage_fail("invalid value '%s' for --isa: expected scalar, avx2, avx512 or neon",
                        isa_name);
    smr_status s = smr_isa_select(isa);
    if (s != SMR_OK) return fail("ISA %s: %s", isa_name, smr_strerror(s));
  }
  return 0;
}

int cmd_demo(int argc, char **argv) {
  demo_cfg cfg = {.seed = 42, .dtype = SMR_F64, .lr = 0.5, .fit = smr_fit_options_default()};
  cfg.fit.epochs = 1000;
  cfg.fit.l2 = 1e-3;
  cfg.fit.standardize = true;
  cfg.fit.solver = SMR_SOLVER_LBFGS;
  const int pr = parse_demo(argc, argv, &cfg);
  if (pr < 0) {
    help_demo(stdout);
    return finish_stdout();
  }
  if (pr != 0) return pr;

  static const char iris_name[] = "iris.csv (embedded)";
  static const char *const species[] = {"setosa", "versicolor", "virginica"};
  smr_dataset *ds = NULL;
  smr_model *m = NULL;
  size_t *idx = NULL;
  void *Xtr = NULL, *Xte = NULL;
  int32_t *ytr = NULL, *yte = NULL, *pred = NULL;
  int rc = 0;
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  smr_status s = smr_dataset_parse_csv(&ds, (const char *)smr_iris_csv, smr_iris_csv_len, iris_name,
                                       NULL, &err);
  if (s != SMR_OK) { rc = fail_file(iris_name, s, &err); goto done; }
  size_t n = smr_dataset_num_rows(ds), d = smr_dataset_num_features(ds);
  size_t k = smr_dataset_num_classes(ds);
  const int32_t *y = smr_dataset_labels(ds);
  if (n == 0 || d == 0 || k == 0 || y == NULL) { rc = fail("%s: unexpected shape", iris_name); goto done; }

  idx = alloc_array(n, 2 * sizeof *idx);
  ytr = alloc_array(n, sizeof *ytr);
  yte = alloc_array(n, sizeof *yte);
  pred = alloc_array(n, sizeof *pred);
  if (idx == NULL || ytr == NULL || yte == NULL || pred == NULL) {
    rc = fail("%s", smr_strerror(SMR_ENOMEM));
    goto done;
  }
  size_t *train = idx, *test = idx + n, ntr, nte;
  /* in each class, a seeded shuffle puts round(70%) of its rows into train */
  s = smr_split_stratified(y, n, k, 0.7, cfg.seed, train, &ntr, test, &nte);
  if (s != SMR_OK) { rc = fail("cannot split %s: %s", iris_name, smr_strerror(s)); goto done; }
  for (size_t i = 0; i < ntr; i++) ytr[i] = y[train[i]];
  for (size_t i = 0; i < nte; i++) yte[i] = y[test[i]];
  if ((rc = features_as(ds, "<embedded iris.csv>", cfg.dtype, train, ntr, d, &Xtr)) != 0 ||
      (rc = features_as(ds, "<embedded iris.csv>", cfg.dtype, test, nte, d, &Xte)) != 0)
    goto done;

  s = smr_model_create(&m, d, k, cfg.dtype, cfg.lr, cfg.seed);
  if (s == SMR_OK && k == 3) s = smr_model_set_class_names(m, species);
  if (s != SMR_OK) { rc = fail("cannot create the model: %s", smr_strerror(s)); goto done; }

  progress prog = {.epochs = cfg.fit.epochs};
  if (isatty(STDERR_FILENO)) {
    cfg.fit.callback = progress_cb;
    cfg.fit.callback_user = &prog;
  }
  smr_fit_report rep;
  memset(&rep, 0, sizeof rep);
  double t0 = now_seconds();
  s = model_fit(m, Xtr, ytr, ntr, &cfg.fit, &rep);
  double secs = now_seconds() - t0;
  progress_end(&prog);
  if (s != SMR_OK) { rc = fail("training failed: %s", smr_strerror(s)); goto done; }

  double train_loss;
  s = model_predict(m, Xtr, ntr, pred);
  if (s == SMR_OK) s = model_loss(m, Xtr, ytr, ntr, &train_loss);
  if (s != SMR_OK) { rc = fail("evaluation failed: %s", smr_strerror(s)); goto done; }
  size_t correct;
  double acc = accuracy(ytr, pred, ntr, k, &correct, NULL);

  printf("smr %s demo: softmax regression on the embedded Iris data\n", smr_version());
  printf("data: %zu rows, %zu features, %zu classes; stratified 70/30 split (seed %" PRIu64
         "): %zu training, %zu held-out rows\n", n, d, k, cfg.seed, ntr, nte);
  if (cfg.fit.solver == SMR_SOLVER_GD)
    printf("model: %s, standardized inputs, full-batch gradient descent, lr %g, l2 %g, "
           "%zu epochs (%.1f ms)\n", dtype_name(cfg.dtype), cfg.lr, cfg.fit.l2, rep.epochs_run,
           secs * 1e3);
  else
    printf("model: %s, standardized inputs, full-batch L-BFGS, l2 %g, %zu iterations to "
           "max |gradient| %.2g (%.1f ms)\n", dtype_name(cfg.dtype), cfg.fit.l2, rep.epochs_run,
           rep.grad_norm, secs * 1e3);
  printf("training accuracy: %.4f (%zu/%zu)\n", acc, correct, ntr);
  printf("training log-loss: %.6f\n", train_loss);
  rc = report_eval(m, Xte, yte, nte, "held-out ", CONFUSION_FULL);
  if (rc != 0) goto done;
  printf("ISA: %s\n", smr_isa_name(smr_isa_active()));
  rc = finish_stdout();

done:
  free(pred);
  free(yte);
  free(ytr);
  free(Xte);
  free(Xtr);
  free(idx);
  smr_model_free(m);
  smr_dataset_free(ds);
  return rc;
}
