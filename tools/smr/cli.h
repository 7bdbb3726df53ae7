/*
 * cli.h - what the commands of the smr tool share (tools/smr/, not
 * installed). smr.c holds main and the command table; one file per
 * command (train.c, predict.c, eval.c, demo.c, bench.c, info.c); apply.c
 * the loading predict and eval share; cli.c the messages, option parsing
 * and the data and model helpers. Only the public API (smr.h) is used.
 *
 * Exit codes: 0 success, 1 runtime error (I/O, malformed input, diverged
 * training), 2 usage error (bad option or value). Messages go to stderr
 * as "smr COMMAND: ..."; results go to stdout.
 */
#ifndef SMR_CLI_H
#define SMR_CLI_H

#include "smr.h"

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#if defined(__GNUC__)
#define SMR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SMR_PRINTF(a, b)
#endif

/* The command running (for messages), set by main. */
extern const char *g_cmd;

enum range { GT0, GE0, GT0_LE1, GE0_LT1 };

#define MAX_POSITIONAL 8

typedef struct args {
  const char *pos[MAX_POSITIONAL];
  size_t npos;
} args;

typedef struct data_source {
  const char *path;   /* as given; "-" for stdin */
  char *text;         /* stdin contents, read once */
  size_t len;
} data_source;

typedef struct progress {
  size_t epochs;
  double last_draw;
  bool drawn;    /* a line is on the screen */
  bool pending;  /* the latest epoch is not shown yet */
  size_t epoch;
  double train_loss, val_loss;
} progress;

enum {
  O_EPOCHS = 256, O_BATCH, O_L2, O_LR, O_SCHEDULE, O_STEP_SIZE, O_GAMMA, O_DECAY, O_LR_MIN,
  O_NO_SHUFFLE, O_SHUFFLE_SEED, O_EARLY, O_PATIENCE, O_MIN_DELTA, O_VAL_FRACTION,
  O_STANDARDIZE, O_VERBOSE, O_DTYPE, O_SEED, O_LABEL_COLUMN, O_DELIMITER, O_PROBA,
  O_TEMPERATURE, O_NO_LABELS, O_ISA, O_SHAPES, O_TIME, O_KERNELS, O_FORMAT,
  O_SOLVER, O_MOMENTUM, O_NESTEROV, O_BETA1, O_BETA2, O_ADAM_EPS, O_LBFGS_HISTORY, O_TOL,
  O_CLASS_WEIGHT, O_SAMPLE_WEIGHT_COLUMN, O_WORKSPACE_MB, O_THREADS, O_HEADER, O_NO_HEADER,
  O_MAX_INPUT_MB, O_CONFUSION
};

#define CSV_HELP                                                                        \
  "      --header               the first line is a header even if it holds only\n"   \
  "                             numbers\n"                                              \
  "      --no-header            no header: every line is data (columns are named\n"    \
  "                             1, 2, ...; --label-column N picks one by number).\n"   \
  "                             Without either, a first line of only numbers is\n"     \
  "                             an error\n"                                             \
  "      --max-input-mb N       read at most N MiB of text (after gzip), >= 1\n"        \
  "                             (default 1024)\n"

#define CSV_LONG_OPTS                                 \
  {"header", no_argument, NULL, O_HEADER},            \
  {"no-header", no_argument, NULL, O_NO_HEADER},      \
  {"max-input-mb", required_argument, NULL, O_MAX_INPUT_MB}

enum confusion_mode { CONFUSION_AUTO, CONFUSION_FULL, CONFUSION_TOP };

typedef struct apply_cfg {
  const char *model_path, *data_path;
  smr_csv_options csv;
  bool proba, no_labels, use_temperature;
  double temperature;
  enum confusion_mode confusion;
} apply_cfg;

/* In-order scanning ("-": positionals come back as code 1, whatever
   POSIXLY_CORRECT says) and no getopt messages (":"): we print our own. */
extern const char short_opts_train[];
extern const char short_opts_plain[];
extern const struct option plain_opts[];

/* ---- cli.c: messages (to stderr, "smr COMMAND: ...") ---- */
/* Prints the message; returns EXIT_RUNTIME. */
int fail(const char *fmt, ...) SMR_PRINTF(1, 2);
/* Prints the message and a hint at --help; returns EXIT_USAGE. */
int usage_fail(const char *fmt, ...) SMR_PRINTF(1, 2);
/* A library error on a file: err's message when it has one. */
int fail_file(const char *path, smr_status s, const smr_error_detail *err);
/* Flushes stdout: 0, or EXIT_RUNTIME when writing failed (a full disk). */
int finish_stdout(void);

/* ---- cli.c: option values (the whole string, range-checked) ---- */
bool parse_u64(const char *s, uint64_t *out);
bool parse_finite(const char *s, double *out);
bool opt_size(const char *opt, const char *s, size_t min, size_t max, size_t *out);
bool opt_u64(const char *opt, const char *s, uint64_t *out);
bool opt_double(const char *opt, const char *s, enum range r, double *out);
bool opt_choice(const char *opt, const char *s, const char *const *names, size_t count,
                size_t *idx);
bool opt_dtype(const char *s, smr_dtype *out);
bool opt_schedule(const char *s, smr_lr_schedule *out);
bool opt_delimiter(const char *s, char *out);
const char *dtype_name(smr_dtype t);
/* The data options train, predict and eval share: --header, --no-header,
   --max-input-mb. true when c was one of them (*ok: its value parsed). */
bool csv_opt(int c, smr_csv_options *csv, bool *ok);

/* ---- cli.c: getopt_long plumbing ---- */
/* Name of the option with code `val`, for messages. */
void option_name(const struct option *lo, int val, char *buf, size_t len);
/* Handles the codes every command shares: positionals (1), unknown
   options ('?') and missing values (':'). 0 if handled, EXIT_USAGE on a
   usage error, -1 when `c` is the command's own option. */
int common_opt(int c, char **argv, const struct option *lo, args *a);
/* Arguments after "--" are positionals too. */
int rest_positionals(int argc, char **argv, args *a);

/* ---- cli.c: memory, time, output ---- */
/* a * b into *out; false when it overflows. */
static inline bool mul_ok(size_t a, size_t b, size_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
/* malloc(n * size) with overflow check; n = 0 gives a 1-byte block so that
   NULL always means failure. */
void *alloc_array(size_t n, size_t size);
double now_seconds(void);
/* A CSV field: quoted when it holds a delimiter, quote or line end. */
void put_field(FILE *f, const char *s);
/* The name of class j (its index when the model has no names). */
const char *class_label(const smr_model *m, size_t j, char buf[32]);

/* ---- cli.c: data, models, the fit's progress ---- */
bool read_stream(FILE *f, size_t max, char **buf, size_t *len);
void source_free(data_source *src);
/* Parses the source; on error prints the message unless `quiet`. */
int read_data(data_source *src, const smr_csv_options *o, smr_dataset **ds, bool quiet);
/* Rows `rows` (all when NULL) and the first d features of the data set in
   `dtype`, in a new buffer *out. 0, or the exit status of the error it
   printed (out of memory; an f32 value beyond float's range). */
int features_as(const smr_dataset *ds, const char *path, smr_dtype dtype, const size_t *rows,
                size_t n, size_t d, void **out);
/* The API call of the model's dtype. */
smr_status model_fit(smr_model *m, const void *X, const int32_t *y, size_t n,
                     const smr_fit_options *o, smr_fit_report *r);
smr_status model_loss(const smr_model *m, const void *X, const int32_t *y, size_t n,
                      double *loss);
smr_status model_predict(const smr_model *m, const void *X, size_t n, int32_t *labels);
/* P (n x k, model dtype) = softmax(logits / T); T = 1 uses predict_proba. */
smr_status model_proba(const smr_model *m, const void *X, size_t n, void *P, double temperature,
                       bool use_temperature);
smr_status model_argmax(const smr_model *m, const void *P, size_t n, int32_t *labels);
double proba_at(const smr_model *m, const void *P, size_t idx);
int load_model(const char *path, smr_model **m);
int save_model(const smr_model *m, const char *path);
void progress_draw(progress *p);
bool progress_cb(void *user, size_t epoch, double train_loss, double val_loss);
void progress_end(progress *p);

/* ---- apply.c: what predict and eval share ---- */
/* Parses predict (is_predict) or eval options. 0, EXIT_USAGE, or -1: help. */
int parse_apply(int argc, char **argv, bool is_predict, apply_cfg *cfg);
/* The features the model applies to, in its dtype: the data's columns, or
   all but the label column when the model has one feature fewer. */
int read_features(data_source *src, const apply_cfg *cfg, const smr_model *m, smr_dataset **ds,
                  void **X, size_t *n_out);

/* ---- eval.c: the figures train and demo print too ---- */
/* Accuracy (*correct: the rows right), and the confusion matrix when cm !=
   NULL (k x k, zeroed here). */
double accuracy(const int32_t *truth, const int32_t *pred, size_t n, size_t k, size_t *correct,
                size_t *cm);
/* Prints accuracy, log-loss and the confusion matrix of m on (X, y): the
   k x k matrix, or the most frequent confusions (mode). */
int report_eval(const smr_model *m, const void *X, const int32_t *y, size_t n, const char *prefix,
                enum confusion_mode mode);

/* ---- the commands ---- */
int cmd_train(int argc, char **argv);
void help_train(FILE *f);
int cmd_predict(int argc, char **argv);
void help_predict(FILE *f);
int cmd_eval(int argc, char **argv);
void help_eval(FILE *f);
int cmd_demo(int argc, char **argv);
void help_demo(FILE *f);
int cmd_bench(int argc, char **argv);
void help_bench(FILE *f);
int cmd_info(int argc, char **argv);
void help_info(FILE *f);

#endif /* SMR_CLI_H */
