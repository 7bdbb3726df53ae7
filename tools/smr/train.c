/* train.c - smr train: options, data, the fit and its report. */
#include "cli.h"

/* ------------------------------------------------------------------------ */
/* smr train                                                                 */
/* ------------------------------------------------------------------------ */


void help_train(FILE *f) {
  fputs(
    "Usage: smr train DATA.csv -o MODEL [options]\n"
    "\n"
    "Trains a softmax regression model on DATA.csv (a header row, numeric\n"
    "features, one label column; '-' reads stdin) and writes it to MODEL.\n"
    "The classes are the distinct labels in sorted order (integers compared as\n"
    "numbers); the labels become the model's class names.\n"
    "\n"
    "Output and data:\n"
    "  -o, --output MODEL         model file to write (required)\n"
    "      --label-column NAME    the label column (default: the last column)\n"
    "      --delimiter C          field delimiter (default ','; 'tab' for a tab)\n"
    , f);
  fputs(CSV_HELP, f);
  fputs(
    "      --dtype f32|f64        model precision (default f64)\n"
    "      --seed N               weight initialization seed (default 0)\n"
    "      --standardize          learn per-feature mean/scale, store them in the model\n"
    "\n"
    "Optimization:\n"
    "      --epochs N             epochs, >= 1 (default 1000)\n"
    "      --batch-size N         mini-batch size, 0 = full batch (default 0)\n"
    "      --lr X                 learning rate of gd, sgd, adam, > 0 (default 0.1)\n"
    "      --l2 X                 L2 penalty (l2/2)*||W||^2, >= 0 (default 0)\n"
    "      --schedule S           constant|step|inv-time|cosine (default constant)\n"
    "      --step-size N          step: epochs per decay, >= 1 (default 100)\n"
    "      --gamma X              step: decay factor in (0, 1] (default 0.5)\n"
    "      --decay X              inv-time: lr / (1 + decay*epoch), >= 0 (default 0.01)\n"
    "      --lr-min X             cosine: final rate in [0, lr] (default 0)\n"
    "      --no-shuffle           keep row order for mini-batches\n"
    "      --shuffle-seed N       mini-batch / validation split seed (default 0)\n"
    "      --tol X                converged when max |gradient entry| <= X, >= 0;\n"
    "                             lbfgs stops there (default 1e-6)\n"
    "      --workspace-mb N       cap of the logits workspace in MiB, >= 1 (default 64)\n"
    "      --threads N            threads of the CE pass and the matrix products,\n"
    "                             1 to 256 (default: SMR_NUM_THREADS, else\n"
    "                             OPENBLAS_NUM_THREADS, else 1); results agree\n"
    "                             across counts within rounding\n"
    "\n"
    "Solvers (docs/TRAINING.md says when to pick each):\n"
    "      --solver S             gd|sgd|adam|lbfgs (default lbfgs; gd when --lr, a\n"
    "                             schedule option or --batch-size N > 0 is given)\n"
    "      --momentum X           sgd: momentum in [0, 1) (default 0.9)\n"
    "      --nesterov             sgd: Nesterov momentum\n"
    "      --beta1 X              adam: in [0, 1) (default 0.9)\n"
    "      --beta2 X              adam: in [0, 1) (default 0.999)\n"
    "      --adam-eps X           adam: > 0 (default 1e-8)\n"
    "      --lbfgs-history N      lbfgs: correction pairs kept; 0 = auto (default): 30,\n"
    "                             fewer (>= 10) when they would take > 256 MiB\n"
    "  lbfgs is full batch (--batch-size 0 or >= the training rows), an epoch is\n"
    "  one iteration, and it takes no --lr or schedule options. Options of\n"
    "  another solver are a usage error.\n"
    "\n"
    "Weights (the objective is the weighted mean CE + (l2/2)*||W||^2):\n"
    "      --class-weight W       none, balanced (n / (classes present * n_c)),\n"
    "                             or W0,W1,... one weight >= 0 per class (default none)\n"
    "      --sample-weight-column NAME  the column of per-row weights (>= 0); it is\n"
    "                             not a feature (drop it before predict/eval)\n"
    "\n"
    "Early stopping:\n"
    "      --early-stopping       stop when the monitored loss plateaus\n"
    "      --patience N           epochs without improvement, >= 1 (default 10)\n"
    "      --min-delta X          minimum improvement, >= 0 (default 1e-6)\n"
    "      --validation-fraction X  held-out fraction in [0, 1) (default 0)\n"
    "\n"
    "      --verbose              the library's per-epoch progress on stderr\n"
    "  -h, --help                 this help\n"
    "\n"
    "A progress line is shown on stderr when it is a terminal. The summary\n"
    "names the solver and gives the final objective, the largest gradient\n"
    "entry, whether it is <= --tol (converged yes/no) and the evaluations.\n"
    "Examples: smr train data/iris.csv --standardize --lr 0.5 -o iris.smr\n"
    "          smr train data/iris.csv --standardize --solver lbfgs --l2 0.01 -o iris.smr\n",
    f);
}

static const struct option train_opts[] = {
  {"epochs", required_argument, NULL, O_EPOCHS},
  {"batch-size", required_argument, NULL, O_BATCH},
  {"l2", required_argument, NULL, O_L2},
  {"lr", required_argument, NULL, O_LR},
  {"schedule", required_argument, NULL, O_SCHEDULE},
  {"step-size", required_argument, NULL, O_STEP_SIZE},
  {"gamma", required_argument, NULL, O_GAMMA},
  {"decay", required_argument, NULL, O_DECAY},
  {"lr-min", required_argument, NULL, O_LR_MIN},
  {"no-shuffle", no_argument, NULL, O_NO_SHUFFLE},
  {"shuffle-seed", required_argument, NULL, O_SHUFFLE_SEED},
  {"early-stopping", no_argument, NULL, O_EARLY},
  {"patience", required_argument, NULL, O_PATIENCE},
  {"min-delta", required_argument, NULL, O_MIN_DELTA},
  {"validation-fraction", required_argument, NULL, O_VAL_FRACTION},
  {"standardize", no_argument, NULL, O_STANDARDIZE},
  {"verbose", no_argument, NULL, O_VERBOSE},
  {"dtype", required_argument, NULL, O_DTYPE},
  {"seed", required_argument, NULL, O_SEED},
  {"label-column", required_argument, NULL, O_LABEL_COLUMN},
  {"delimiter", required_argument, NULL, O_DELIMITER},
  {"solver", required_argument, NULL, O_SOLVER},
  {"momentum", required_argument, NULL, O_MOMENTUM},
  {"nesterov", no_argument, NULL, O_NESTEROV},
  {"beta1", required_argument, NULL, O_BETA1},
  {"beta2", required_argument, NULL, O_BETA2},
  {"adam-eps", required_argument, NULL, O_ADAM_EPS},
  {"lbfgs-history", required_argument, NULL, O_LBFGS_HISTORY},
  {"tol", required_argument, NULL, O_TOL},
  {"class-weight", required_argument, NULL, O_CLASS_WEIGHT},
  {"sample-weight-column", required_argument, NULL, O_SAMPLE_WEIGHT_COLUMN},
  {"workspace-mb", required_argument, NULL, O_WORKSPACE_MB},
  {"threads", required_argument, NULL, O_THREADS},
  CSV_LONG_OPTS,
  {"output", required_argument, NULL, 'o'},
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0},
};

static const char *const solver_names[] = {"gd", "sgd", "adam", "lbfgs"};

static bool opt_solver(const char *s, smr_solver *out) {
  static const smr_solver vals[] = {SMR_SOLVER_GD, SMR_SOLVER_SGD, SMR_SOLVER_ADAM,
                                    SMR_SOLVER_LBFGS};
  size_t i;
  if (!opt_choice("--solver", s, solver_names, 4, &i)) return false;
  *out = vals[i];
  return true;
}

static const char *solver_name(smr_solver s) {
  return (size_t)s < sizeof solver_names / sizeof solver_names[0] ? solver_names[s] : "unknown";
}

/* --class-weight none|balanced|W0,W1,...: a list is *count weights (finite,
   >= 0) in a new array *w (freed by the caller). */
static bool opt_class_weight(const char *s, smr_class_weight *cw, double **w, size_t *count) {
  if (strcmp(s, "none") == 0 || strcmp(s, "balanced") == 0) {
    *cw = s[0] == 'n' ? SMR_CLASS_WEIGHT_NONE : SMR_CLASS_WEIGHT_BALANCED;
    return true;
  }
  size_t n = 1;
  for (const char *p = s; *p != '\0'; p++) n += *p == ',';
  double *v = alloc_array(n, sizeof *v);
  char *copy = malloc(strlen(s) + 1);
  if (copy != NULL) memcpy(copy, s, strlen(s) + 1);
  if (v == NULL || copy == NULL) {
    free(v);
    free(copy);
    usage_fail("--class-weight: %s", smr_strerror(SMR_ENOMEM));
    return false;
  }
  size_t i = 0;
  bool ok = true;
  for (char *field = copy, *next; ok && field != NULL; field = next, i++) {
    next = strchr(field, ',');
    if (next != NULL) *next++ = '\0';
    ok = parse_finite(field, &v[i]) && v[i] >= 0;
  }
  free(copy);
  if (!ok) {
    free(v);
    usage_fail("invalid value '%s' for --class-weight: expected none, balanced or a comma list "
               "of one finite number >= 0 per class", s);
    return false;
  }
  free(*w);
  *w = v;
  *count = n;
  *cw = SMR_CLASS_WEIGHT_GIVEN;
  return true;
}

/* Options that belong to some solvers only: given with another one, they
   are a usage error (train_cfg.given holds the bits of those given). */
enum {
  G_MOMENTUM = 1u << 0, G_NESTEROV = 1u << 1, G_BETA1 = 1u << 2, G_BETA2 = 1u << 3,
  G_ADAM_EPS = 1u << 4, G_LBFGS_HISTORY = 1u << 5, G_LR = 1u << 6, G_SCHEDULE = 1u << 7,
  G_STEP_SIZE = 1u << 8, G_GAMMA = 1u << 9, G_DECAY = 1u << 10, G_LR_MIN = 1u << 11,
  /* the options of gd, sgd and adam only */
  G_STEPPED_ONLY = G_LR | G_SCHEDULE | G_STEP_SIZE | G_GAMMA | G_DECAY | G_LR_MIN
};

typedef struct solver_only {
  unsigned bit;
  const char *name;
  unsigned solvers; /* bit s set: applies to solver s */
} solver_only;

#define S_BIT(s) (1u << (s))
#define S_STEPPED (S_BIT(SMR_SOLVER_GD) | S_BIT(SMR_SOLVER_SGD) | S_BIT(SMR_SOLVER_ADAM))
static const solver_only solver_only_opts[] = {
  {G_MOMENTUM, "--momentum", S_BIT(SMR_SOLVER_SGD)},
  {G_NESTEROV, "--nesterov", S_BIT(SMR_SOLVER_SGD)},
  {G_BETA1, "--beta1", S_BIT(SMR_SOLVER_ADAM)},
  {G_BETA2, "--beta2", S_BIT(SMR_SOLVER_ADAM)},
  {G_ADAM_EPS, "--adam-eps", S_BIT(SMR_SOLVER_ADAM)},
  {G_LBFGS_HISTORY, "--lbfgs-history", S_BIT(SMR_SOLVER_LBFGS)},
  {G_LR, "--lr", S_STEPPED},
  {G_SCHEDULE, "--schedule", S_STEPPED},
  {G_STEP_SIZE, "--step-size", S_STEPPED},
  {G_GAMMA, "--gamma", S_STEPPED},
  {G_DECAY, "--decay", S_STEPPED},
  {G_LR_MIN, "--lr-min", S_STEPPED},
};

typedef struct train_cfg {
  smr_fit_options fit;
  double lr;
  uint64_t seed;
  smr_dtype dtype;
  smr_csv_options csv;
  const char *output;
  const char *data;
  bool lr_min_set;
  unsigned given;                   /* G_* bits of the solver-specific options given */
  bool solver_set;                  /* --solver was given */
  double *class_weights;            /* --class-weight W0,W1,...: owned */
  size_t num_class_weights;
  const char *sample_weight_column; /* --sample-weight-column NAME, or NULL */
  size_t threads;                   /* --threads N, or 0: the environment's */
} train_cfg;

/* A usage error for the first solver-specific option given that does not
   apply to cfg->fit.solver; 0 when there is none. */
static int check_solver_options(const train_cfg *cfg) {
  const smr_solver s = cfg->fit.solver;
  for (size_t i = 0; i < sizeof solver_only_opts / sizeof solver_only_opts[0]; i++) {
    const solver_only *o = &solver_only_opts[i];
    if (!(cfg->given & o->bit) || (o->solvers & S_BIT(s))) continue;
    if (o->solvers == S_STEPPED) /* so s is lbfgs */
      return usage_fail("%s does not apply to --solver lbfgs: it has no learning rate (its "
                        "line search chooses every step); only gd, sgd and adam use one",
                        o->name);
    size_t only = 0; /* the one solver the option belongs to */
    while (!(o->solvers & S_BIT(only))) only++;
    return usage_fail("%s applies only to --solver %s, not to %s%s", o->name, solver_names[only],
                      solver_name(s), cfg->solver_set ? "" : " (the default solver)");
  }
  return 0;
}

/* Fills cfg from the command line. Returns 0, EXIT_USAGE, or -1 for --help. */
/* One of train's own options (code c, value optarg) into cfg: 0, or
   EXIT_USAGE after printing why. */
static int train_option(int c, train_cfg *cfg) {
  smr_fit_options *fo = &cfg->fit;
  bool ok = true;
  switch (c) {
  case 'o':
    cfg->output = optarg;
    if (optarg[0] == '\0') return usage_fail("--output needs a non-empty path");
    break;
  case O_EPOCHS: ok = opt_size("--epochs", optarg, 1, SIZE_MAX, &fo->epochs); break;
  case O_BATCH: ok = opt_size("--batch-size", optarg, 0, SIZE_MAX, &fo->batch_size); break;
  case O_L2: ok = opt_double("--l2", optarg, GE0, &fo->l2); break;
  case O_LR:
    ok = opt_double("--lr", optarg, GT0, &cfg->lr);
    cfg->given |= G_LR;
    break;
  case O_SCHEDULE:
    ok = opt_schedule(optarg, &fo->schedule);
    cfg->given |= G_SCHEDULE;
    break;
  case O_STEP_SIZE:
    ok = opt_size("--step-size", optarg, 1, SIZE_MAX, &fo->step_size);
    cfg->given |= G_STEP_SIZE;
    break;
  case O_GAMMA:
    ok = opt_double("--gamma", optarg, GT0_LE1, &fo->gamma);
    cfg->given |= G_GAMMA;
    break;
  case O_DECAY:
    ok = opt_double("--decay", optarg, GE0, &fo->decay);
    cfg->given |= G_DECAY;
    break;
  case O_LR_MIN:
    ok = opt_double("--lr-min", optarg, GE0, &fo->lr_min);
    cfg->lr_min_set = true;
    cfg->given |= G_LR_MIN;
    break;
  case O_NO_SHUFFLE: fo->shuffle = false; break;
  case O_SHUFFLE_SEED: ok = opt_u64("--shuffle-seed", optarg, &fo->shuffle_seed); break;
  case O_EARLY: fo->early_stopping = true; break;
  case O_PATIENCE: ok = opt_size("--patience", optarg, 1, SIZE_MAX, &fo->patience); break;
  case O_MIN_DELTA: ok = opt_double("--min-delta", optarg, GE0, &fo->min_delta); break;
  case O_VAL_FRACTION:
    ok = opt_double("--validation-fraction", optarg, GE0_LT1, &fo->validation_fraction);
    break;
  case O_STANDARDIZE: fo->standardize = true; break;
  case O_VERBOSE: fo->verbose = true; break;
  case O_DTYPE: ok = opt_dtype(optarg, &cfg->dtype); break;
  case O_SEED: ok = opt_u64("--seed", optarg, &cfg->seed); break;
  case O_LABEL_COLUMN:
    if (optarg[0] == '\0') return usage_fail("--label-column needs a non-empty name");
    cfg->csv.label_column = optarg;
    break;
  case O_DELIMITER: ok = opt_delimiter(optarg, &cfg->csv.delimiter); break;
  case O_SOLVER:
    ok = opt_solver(optarg, &fo->solver);
    cfg->solver_set = true;
    break;
  case O_MOMENTUM:
    ok = opt_double("--momentum", optarg, GE0_LT1, &fo->momentum);
    cfg->given |= G_MOMENTUM;
    break;
  case O_NESTEROV:
    fo->nesterov = true;
    cfg->given |= G_NESTEROV;
    break;
  case O_BETA1:
    ok = opt_double("--beta1", optarg, GE0_LT1, &fo->beta1);
    cfg->given |= G_BETA1;
    break;
  case O_BETA2:
    ok = opt_double("--beta2", optarg, GE0_LT1, &fo->beta2);
    cfg->given |= G_BETA2;
    break;
  case O_ADAM_EPS:
    ok = opt_double("--adam-eps", optarg, GT0, &fo->adam_eps);
    cfg->given |= G_ADAM_EPS;
    break;
  case O_LBFGS_HISTORY:
    ok = opt_size("--lbfgs-history", optarg, 0, SIZE_MAX, &fo->lbfgs_history);
    cfg->given |= G_LBFGS_HISTORY;
    break;
  case O_TOL: ok = opt_double("--tol", optarg, GE0, &fo->tol); break;
  case O_CLASS_WEIGHT:
    ok = opt_class_weight(optarg, &fo->class_weight, &cfg->class_weights,
                          &cfg->num_class_weights);
    break;
  case O_SAMPLE_WEIGHT_COLUMN:
    if (optarg[0] == '\0') return usage_fail("--sample-weight-column needs a non-empty name");
    cfg->sample_weight_column = optarg;
    break;
  case O_WORKSPACE_MB: {
    size_t mb;
    ok = opt_size("--workspace-mb", optarg, 1, SIZE_MAX >> 20, &mb);
    if (ok) fo->workspace_bytes = mb << 20;
    break;
  }
  case O_THREADS: ok = opt_size("--threads", optarg, 1, SMR_MAX_THREADS, &cfg->threads); break;
  default: return usage_fail("internal error: unhandled option");
  }
  return ok ? 0 : EXIT_USAGE;
}

static int parse_train(int argc, char **argv, train_cfg *cfg) {
  args a = {{NULL}, 0};
  smr_fit_options *fo = &cfg->fit;
  int c;
  while ((c = getopt_long(argc, argv, short_opts_train, train_opts, NULL)) != -1) {
    int r = common_opt(c, argv, train_opts, &a);
    if (r > 0) return r;
    if (r == 0) continue;
    bool ok = true;
    if (csv_opt(c, &cfg->csv, &ok)) {
      if (!ok) return EXIT_USAGE;
      continue;
    }
    if (c == 'h') return -1;
    if ((r = train_option(c, cfg)) != 0) return r;
  }
  if (rest_positionals(argc, argv, &a) != 0) return EXIT_USAGE;
  if (a.npos != 1) return usage_fail(a.npos == 0 ? "missing DATA.csv" : "expected one DATA.csv");
  if (cfg->output == NULL) return usage_fail("missing -o MODEL (the model file to write)");
  /* the default solver: lbfgs for a full batch (the library's
     SMR_SOLVER_AUTO), but gd when a learning-rate option or a batch size
     says the user means gradient steps */
  if (!cfg->solver_set)
    fo->solver = (cfg->given & G_STEPPED_ONLY) != 0 || fo->batch_size > 0 ? SMR_SOLVER_GD
                                                                          : SMR_SOLVER_LBFGS;
  int rs = check_solver_options(cfg);
  if (rs != 0) return rs;
  if (cfg->csv.label_column != NULL && cfg->sample_weight_column != NULL &&
      strcmp(cfg->csv.label_column, cfg->sample_weight_column) == 0)
    return usage_fail("--sample-weight-column and --label-column name the same column '%s'",
                      cfg->sample_weight_column);
  if (cfg->lr_min_set && fo->lr_min > cfg->lr)
    return usage_fail("--lr-min %g exceeds --lr %g", fo->lr_min, cfg->lr);
  if (!cfg->lr_min_set && fo->lr_min > cfg->lr) fo->lr_min = 0.0;
  cfg->data = a.pos[0];
  return 0;
}

/* Removes column `skip` from X (n x dc, elements of `es` bytes) in place:
   X becomes n x (dc - 1). */
static void drop_column(void *X, size_t n, size_t dc, size_t skip, size_t es) {
  unsigned char *b = X;
  for (size_t i = 0; i < n; i++) {
    unsigned char *dst = b + i * (dc - 1) * es;
    const unsigned char *src = b + i * dc * es;
    memmove(dst, src, skip * es);
    memmove(dst + skip * es, src + (skip + 1) * es, (dc - 1 - skip) * es);
  }
}

/* --sample-weight-column NAME: *col = the index of the first feature column
   called NAME, *w = its n values (a new array), each >= 0, not all 0.
   0, or the exit status of the error it printed. */
static int sample_weight_column(const smr_dataset *ds, const char *path, const char *name,
                                size_t *col, double **w) {
  const size_t n = smr_dataset_num_rows(ds), dc = smr_dataset_num_features(ds);
  size_t j = 0;
  for (; j < dc; j++) {
    const char *fname = smr_dataset_feature_name(ds, j);
    if (fname != NULL && strcmp(fname, name) == 0) break;
  }
  if (j == dc)
    return fail("%s: no column '%s' for --sample-weight-column among the features (the label "
                "column cannot hold the weights)", path, name);
  if (dc == 1) return fail("%s: no feature columns besides the sample weights '%s'", path, name);
  double *v = alloc_array(n, sizeof *v);
  if (v == NULL) return fail("%s", smr_strerror(SMR_ENOMEM));
  const double *X = smr_dataset_features(ds);
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    v[i] = X[i * dc + j];
    if (v[i] < 0) {
      free(v);
      return fail("%s: data row %zu, column '%s': the sample weight %g is negative", path, i + 1,
                  name, X[i * dc + j]);
    }
    sum += v[i];
  }
  if (!(sum > 0)) {
    free(v);
    return fail("%s: every sample weight in column '%s' is 0", path, name);
  }
  *col = j;
  *w = v;
  return 0;
}

/* Why fit returned, for the summary. */
static const char *stop_reason(const train_cfg *cfg, const smr_fit_report *rep) {
  if (rep->stopped_early) return " (stopped early)";
  if (rep->epochs_run >= cfg->fit.epochs) return " (ran all epochs, not stopped early)";
  if (cfg->fit.solver == SMR_SOLVER_LBFGS)
    return rep->converged ? " (converged: max |gradient entry| <= --tol)"
                          : " (stopped: the line search found no further decrease)";
  return " (stopped early)";
}

/* The options that depend on the data: the class weights' count, L-BFGS's
   full batch, the sample-weight column (*wcol, its weights *sw), and
   weights that leave something to train on. 0, or the exit status of the
   error it printed. */
static int data_options(train_cfg *cfg, const smr_dataset *ds, size_t *wcol, double **sw) {
  const size_t n = smr_dataset_num_rows(ds), k = smr_dataset_num_classes(ds);
  const int32_t *y = smr_dataset_labels(ds);
  if (cfg->fit.class_weight == SMR_CLASS_WEIGHT_GIVEN) {
    if (cfg->num_class_weights != k) {
      return usage_fail("--class-weight gives %zu weight%s, but %s has %zu classes",
                        cfg->num_class_weights, cfg->num_class_weights == 1 ? "" : "s",
                        cfg->data, k);
    }
    cfg->fit.class_weights = cfg->class_weights;
  }
  if (cfg->fit.solver == SMR_SOLVER_LBFGS && cfg->fit.batch_size != 0) {
    const size_t nt = smr_fit_training_rows(&cfg->fit, n);
    if (cfg->fit.batch_size < nt) {
      return usage_fail("--solver lbfgs is full batch: --batch-size %zu is smaller than the %zu "
                        "training rows (use 0 or at least %zu)", cfg->fit.batch_size, nt, nt);
    }
  }
  if (cfg->sample_weight_column != NULL) {
    const int rc = sample_weight_column(ds, cfg->data, cfg->sample_weight_column, wcol, sw);
    if (rc != 0) return rc;
    cfg->fit.sample_weight = *sw;
  }
  if (*sw != NULL || cfg->fit.class_weight == SMR_CLASS_WEIGHT_GIVEN) {
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
      total += (*sw != NULL ? (*sw)[i] : 1.0) *
               (cfg->fit.class_weights != NULL ? cfg->fit.class_weights[y[i]] : 1.0);
    if (!(total > 0))
      return fail("%s: the sample and class weights give every row weight 0", cfg->data);
  }
  return 0;
}

/* The one-paragraph report of a finished train on stdout. */
static void print_summary(const train_cfg *cfg, const smr_fit_report *rep, size_t d, size_t k,
                          size_t n, double acc, size_t correct) {
  printf("Trained an %s softmax regression (%zu features, %zu classes%s) on %zu rows of %s "
         "with solver %s for %zu epoch%s%s. Final training objective %.6g",
         dtype_name(cfg->dtype), d, k, cfg->fit.standardize ? ", standardized inputs" : "", n,
         cfg->data, solver_name(cfg->fit.solver), rep->epochs_run, rep->epochs_run == 1 ? "" : "s",
         stop_reason(cfg, rep), rep->final_loss);
  if (!isnan(rep->final_val_loss)) printf(", validation loss %.6g", rep->final_val_loss);
  printf(", gradient norm %.3g (max |entry|), converged %s, %zu evaluations", rep->grad_norm,
         rep->converged ? "yes" : "no", rep->evaluations);
  printf(", training accuracy %.4f (%zu/%zu). Model written to %s.\n", acc, correct, n,
         cfg->output);
}

int cmd_train(int argc, char **argv) {
  train_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.fit = smr_fit_options_default();
  cfg.lr = 0.1;
  cfg.dtype = SMR_F64;
  int rc = parse_train(argc, argv, &cfg);
  if (rc != 0) {
    free(cfg.class_weights);
    if (rc < 0) { help_train(stdout); return finish_stdout(); }
    return rc;
  }

  if (cfg.threads != 0) (void)smr_set_num_threads(cfg.threads); /* in range: parsed */
  data_source src = {cfg.data, NULL, 0};
  smr_dataset *ds = NULL;
  smr_model *m = NULL;
  void *X = NULL;
  int32_t *pred = NULL;
  double *sw = NULL;
  rc = read_data(&src, &cfg.csv, &ds, false);
  if (rc != 0) goto done;

  size_t n = smr_dataset_num_rows(ds), dc = smr_dataset_num_features(ds), d = dc;
  size_t k = smr_dataset_num_classes(ds);
  const int32_t *y = smr_dataset_labels(ds);
  if (n == 0) { rc = fail("%s: no data rows", cfg.data); goto done; }
  if (dc == 0) { rc = fail("%s: no feature columns", cfg.data); goto done; }
  if (k == 0 || y == NULL) { rc = fail("%s: no labels", cfg.data); goto done; }

  size_t wcol = SIZE_MAX;
  if ((rc = data_options(&cfg, ds, &wcol, &sw)) != 0) goto done;
  if (wcol != SIZE_MAX) d = dc - 1;

  smr_status s = smr_model_create(&m, d, k, cfg.dtype, cfg.lr, cfg.seed);
  if (s != SMR_OK) { rc = fail("cannot create a %zu x %zu model: %s", d, k, smr_strerror(s)); goto done; }
  const char *const *names = smr_dataset_class_names(ds);
  if (names != NULL && (s = smr_model_set_class_names(m, names)) != SMR_OK) {
    rc = fail("cannot store the class names: %s", smr_strerror(s));
    goto done;
  }
  if ((rc = features_as(ds, src.path, cfg.dtype, NULL, n, dc, &X)) != 0) goto done;
  if (wcol != SIZE_MAX)
    drop_column(X, n, dc, wcol, cfg.dtype == SMR_F32 ? sizeof(float) : sizeof(double));
  pred = alloc_array(n, sizeof *pred);
  if (pred == NULL) { rc = fail("%s", smr_strerror(SMR_ENOMEM)); goto done; }

  progress prog = {.epochs = cfg.fit.epochs};
  if (!cfg.fit.verbose && isatty(STDERR_FILENO)) {
    cfg.fit.callback = progress_cb;
    cfg.fit.callback_user = &prog;
  }
  smr_fit_report rep;
  memset(&rep, 0, sizeof rep);
  s = model_fit(m, X, y, n, &cfg.fit, &rep);
  progress_end(&prog);
  if (s == SMR_ENONFINITE) {
    rc = fail("training diverged after %zu epochs (loss or weights became NaN/inf); "
              "try a smaller --lr or --standardize", rep.epochs_run);
    goto done;
  }
  if (s != SMR_OK) { rc = fail("training failed: %s", smr_strerror(s)); goto done; }

  s = model_predict(m, X, n, pred);
  if (s != SMR_OK) { rc = fail("prediction failed: %s", smr_strerror(s)); goto done; }
  size_t correct;
  double acc = accuracy(y, pred, n, k, &correct, NULL);
  rc = save_model(m, cfg.output);
  if (rc != 0) goto done;

  print_summary(&cfg, &rep, d, k, n, acc, correct);
  rc = finish_stdout();

done:
  free(sw);
  free(cfg.class_weights);
  free(pred);
  free(X);
  smr_model_free(m);
  smr_dataset_free(ds);
  source_free(&src);
  return rc;
}
