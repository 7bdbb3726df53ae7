/*
 * smr.c - the command-line tool: train, predict, eval, demo, bench, info.
 *
 * Everything numeric goes through the public API in smr.h; this file only
 * parses arguments, moves data between CSV, model files and the API, and
 * formats results. Exit codes: 0 success, 1 runtime error (I/O, malformed
 * input, diverged training), 2 usage error (bad option or value).
 * Messages go to stderr as "smr: ..."; results go to stdout.
 */
#include "smr.h"
#include "quickbench.h"
/* internal (src/): what runs the matrix products, for `smr info`; smr
   links the static libsmr, which resolves it */
#include "blas.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* tools/iris_data.c, generated from data/iris.csv by tools/embed.c. */
extern const unsigned char smr_iris_csv[];
extern const size_t smr_iris_csv_len;

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#if defined(__GNUC__)
#define SMR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SMR_PRINTF(a, b)
#endif

/* The subcommand being run, for usage messages ("smr train: ..."). */
static const char *g_cmd = NULL;

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

/* A runtime error: "smr: message". Returns EXIT_RUNTIME for `return fail(..)`. */
static int fail(const char *fmt, ...) SMR_PRINTF(1, 2);
static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("smr: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return EXIT_RUNTIME;
}

/* A usage error: "smr CMD: message" plus a pointer to --help. */
static int usage_fail(const char *fmt, ...) SMR_PRINTF(1, 2);
static int usage_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (g_cmd != NULL) fprintf(stderr, "smr %s: ", g_cmd);
  else fputs("smr: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (g_cmd != NULL) fprintf(stderr, "Try 'smr %s --help'.\n", g_cmd);
  else fputs("Try 'smr --help'.\n", stderr);
  return EXIT_USAGE;
}

/* A loader error as "smr: FILE:LINE:COL: message". The library's message
   already names the file; when it starts with `path` it is printed as is,
   otherwise the location is prefixed here. */
static int fail_file(const char *path, smr_status s, const smr_error_detail *err) {
  const char *msg = (err != NULL && err->message[0] != '\0') ? err->message : NULL;
  if (msg == NULL) return fail("%s: %s", path, smr_strerror(s));
  size_t plen = strlen(path);
  if (strncmp(msg, path, plen) == 0 && msg[plen] == ':') return fail("%s", msg);
  if (err->line > 0 && err->column > 0)
    return fail("%s:%zu:%zu: %s", path, err->line, err->column, msg);
  if (err->line > 0) return fail("%s:%zu: %s", path, err->line, msg);
  return fail("%s: %s", path, msg);
}

/* ------------------------------------------------------------------------ */
/* Strict value parsing (the whole string, range-checked)                    */
/* ------------------------------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *out) {
  if (s == NULL || *s < '0' || *s > '9') return false; /* no sign, no space */
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') return false;
  if (v > UINT64_MAX) return false;
  *out = (uint64_t)v;
  return true;
}

/* An integer option in [min, max]; prints a usage error when invalid. */
static bool opt_size(const char *opt, const char *s, size_t min, size_t max, size_t *out) {
  uint64_t v;
  if (!parse_u64(s, &v) || v < min || v > max) {
    usage_fail("invalid value '%s' for %s: expected an integer in [%zu, %zu]", s, opt, min, max);
    return false;
  }
  *out = (size_t)v;
  return true;
}

static bool opt_u64(const char *opt, const char *s, uint64_t *out) {
  if (!parse_u64(s, out)) {
    usage_fail("invalid value '%s' for %s: expected an integer in [0, %" PRIu64 "]", s, opt,
               UINT64_MAX);
    return false;
  }
  return true;
}

/* A finite number; `what` describes the accepted range for the message. */
static bool parse_finite(const char *s, double *out) {
  if (s == NULL || *s == '\0') return false;
  if (!(*s == '-' || *s == '+' || *s == '.' || (*s >= '0' && *s <= '9'))) return false;
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !isfinite(v)) return false;
  *out = v;
  return true;
}

enum range { GT0, GE0, GT0_LE1, GE0_LT1 };

static bool opt_double(const char *opt, const char *s, enum range r, double *out) {
  static const char *const expect[] = {
    [GT0] = "a finite number > 0",
    [GE0] = "a finite number >= 0",
    [GT0_LE1] = "a number in (0, 1]",
    [GE0_LT1] = "a number in [0, 1)",
  };
  double v;
  bool ok = parse_finite(s, &v);
  if (ok) {
    switch (r) {
    case GT0: ok = v > 0; break;
    case GE0: ok = v >= 0; break;
    case GT0_LE1: ok = v > 0 && v <= 1; break;
    case GE0_LT1: ok = v >= 0 && v < 1; break;
    }
  }
  if (!ok) {
    usage_fail("invalid value '%s' for %s: expected %s", s, opt, expect[r]);
    return false;
  }
  *out = v;
  return true;
}

/* s is one of names[0..count): *idx is its index. Otherwise a usage error
   listing them ("expected a, b or c"). */
static bool opt_choice(const char *opt, const char *s, const char *const *names, size_t count,
                       size_t *idx) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(s, names[i]) == 0) {
      *idx = i;
      return true;
    }
  char list[160] = "";
  size_t used = 0;
  for (size_t i = 0; i < count && used < sizeof list; i++) {
    const int w = snprintf(list + used, sizeof list - used, "%s%s",
                           i == 0 ? "" : i + 1 == count ? " or " : ", ", names[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  usage_fail("invalid value '%s' for %s: expected %s", s, opt, list);
  return false;
}

static bool opt_dtype(const char *s, smr_dtype *out) {
  static const char *const names[] = {"f32", "f64"};
  static const smr_dtype vals[] = {SMR_F32, SMR_F64};
  size_t i;
  if (!opt_choice("--dtype", s, names, 2, &i)) return false;
  *out = vals[i];
  return true;
}

static bool opt_schedule(const char *s, smr_lr_schedule *out) {
  static const char *const names[] = {"constant", "step", "inv-time", "cosine"};
  static const smr_lr_schedule vals[] = {SMR_LR_CONSTANT, SMR_LR_STEP, SMR_LR_INV_TIME,
                                         SMR_LR_COSINE};
  size_t i;
  if (!opt_choice("--schedule", s, names, 4, &i)) return false;
  *out = vals[i];
  return true;
}

/* One byte, or "\t" / "tab" for a tab. Quotes and line ends are reserved. */
static bool opt_delimiter(const char *s, char *out) {
  char c = 0;
  if (strcmp(s, "\\t") == 0 || strcmp(s, "tab") == 0) c = '\t';
  else if (s[0] != '\0' && s[1] == '\0') c = s[0];
  if (c == 0 || c == '"' || c == '\n' || c == '\r') {
    usage_fail("invalid value '%s' for --delimiter: expected one character (not a quote or line end; "
               "'tab' for a tab)", s);
    return false;
  }
  *out = c;
  return true;
}

static const char *dtype_name(smr_dtype t) { return t == SMR_F32 ? "f32" : "f64"; }

/* ------------------------------------------------------------------------ */
/* getopt_long plumbing                                                      */
/* ------------------------------------------------------------------------ */

#define MAX_POSITIONAL 8

typedef struct args {
  const char *pos[MAX_POSITIONAL];
  size_t npos;
} args;

/* Name of the option with code `val`, for messages. */
static void option_name(const struct option *lo, int val, char *buf, size_t len) {
  for (; lo->name != NULL; lo++) {
    if (lo->val == val) {
      snprintf(buf, len, "--%s", lo->name);
      return;
    }
  }
  if (val > 0 && val < 128) snprintf(buf, len, "-%c", val);
  else snprintf(buf, len, "option");
}

/* Handles the codes every subcommand shares: positionals (1), unknown
   options ('?') and missing values (':'). Returns 0 if handled, EXIT_USAGE on
   a usage error, -1 when `c` is a subcommand's own option. */
static int common_opt(int c, char **argv, const struct option *lo, args *a) {
  char name[64];
  switch (c) {
  case 1:
    if (a->npos == MAX_POSITIONAL) return usage_fail("too many arguments");
    a->pos[a->npos++] = optarg;
    return 0;
  case ':':
    option_name(lo, optopt, name, sizeof name);
    return usage_fail("option %s requires a value", name);
  case '?':
    /* optopt is 0 for an unknown long option, the character of an unknown
       short option, or the code of a long option given a value it does not
       take ("--help=x"). */
    if (optopt == 0) return usage_fail("unknown option '%s'", argv[optind - 1]);
    for (const struct option *o = lo; o->name != NULL; o++)
      if (o->val == optopt && o->has_arg == no_argument && strncmp(argv[optind - 1], "--", 2) == 0) {
        option_name(lo, optopt, name, sizeof name);
        return usage_fail("option %s does not take a value", name);
      }
    if (optopt > 0 && optopt < 128) return usage_fail("unknown option '-%c'", optopt);
    return usage_fail("unknown option '%s'", argv[optind - 1]);
  default:
    return -1;
  }
}

/* Arguments after "--" are positionals too. */
static int rest_positionals(int argc, char **argv, args *a) {
  for (int i = optind; i < argc; i++) {
    if (a->npos == MAX_POSITIONAL) return usage_fail("too many arguments");
    a->pos[a->npos++] = argv[i];
  }
  return 0;
}

/* In-order scanning ("-": positionals come back as code 1, whatever
   POSIXLY_CORRECT says) and no getopt messages (":"): we print our own. */
static const char short_opts_train[] = "-:ho:";
static const char short_opts_plain[] = "-:h";

/* ------------------------------------------------------------------------ */
/* Small utilities                                                           */
/* ------------------------------------------------------------------------ */

static bool mul_ok(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return false;
  *out = a * b;
  return true;
}

/* malloc(n * size) with overflow check; n = 0 gives a 1-byte block so that
   NULL always means failure. */
static void *alloc_array(size_t n, size_t size) {
  size_t bytes;
  if (!mul_ok(n, size, &bytes)) return NULL;
  return malloc(bytes == 0 ? 1 : bytes);
}

static double now_seconds(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads a whole stream, at most max bytes (errno EFBIG beyond); *buf is
   malloc'd (NUL-terminated for convenience). */
static bool read_stream(FILE *f, size_t max, char **buf, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  if (b == NULL) return false;
  errno = 0;
  for (;;) {
    if (cap - n < 2) {
      if (cap > SIZE_MAX / 2) { free(b); errno = ENOMEM; return false; }
      char *nb = realloc(b, cap * 2);
      if (nb == NULL) { free(b); errno = ENOMEM; return false; }
      b = nb;
      cap *= 2;
    }
    size_t got = fread(b + n, 1, cap - n - 1, f);
    n += got;
    if (n > max) { free(b); errno = EFBIG; return false; }
    if (got == 0) break;
  }
  if (ferror(f)) {
    int e = errno != 0 ? errno : EIO;
    free(b);
    errno = e;
    return false;
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  return true;
}

/* A CSV field: quoted when it holds a delimiter, quote or line end. */
static void put_field(FILE *f, const char *s) {
  if (strpbrk(s, ",\"\r\n") == NULL) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s != '\0'; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* The class's name, or its index when the model has no names. */
static const char *class_label(const smr_model *m, size_t j, char buf[32]) {
  const char *name = smr_model_class_name(m, j);
  if (name != NULL) return name;
  snprintf(buf, 32, "%zu", j);
  return buf;
}

/* Flushes stdout and reports a failed write (e.g. a full disk). */
static int finish_stdout(void) {
  if (fflush(stdout) != 0 || ferror(stdout)) return fail("error writing output: %s", strerror(errno));
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Data: CSV files ("-" is stdin) and features in the model's dtype          */
/* ------------------------------------------------------------------------ */

typedef struct data_source {
  const char *path;   /* as given; "-" for stdin */
  char *text;         /* stdin contents, read once */
  size_t len;
} data_source;

static void source_free(data_source *src) { free(src->text); }

/* Parses the source; on error prints the message unless `quiet`. */
static int read_data(data_source *src, const smr_csv_options *o, smr_dataset **ds, bool quiet) {
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  smr_status s;
  *ds = NULL;
  if (strcmp(src->path, "-") == 0) {
    const size_t max = o->max_bytes != 0 ? o->max_bytes : SMR_CSV_DEFAULT_MAX_BYTES;
    if (src->text == NULL && !read_stream(stdin, max, &src->text, &src->len)) {
      if (quiet) return EXIT_RUNTIME;
      if (errno == EFBIG)
        return fail("<stdin>: input larger than the limit of %zu bytes (--max-input-mb)", max);
      return fail("<stdin>: %s", strerror(errno));
    }
    s = smr_dataset_parse_csv(ds, src->text, src->len, "<stdin>", o, &err);
    if (s != SMR_OK) return quiet ? EXIT_RUNTIME : fail_file("<stdin>", s, &err);
    return 0;
  }
  s = smr_dataset_read_csv(ds, src->path, o, &err);
  if (s != SMR_OK) return quiet ? EXIT_RUNTIME : fail_file(src->path, s, &err);
  return 0;
}

/* Rows `rows` (all when NULL) and the first `d` columns of the data set's
   features, converted to `dtype` in a new buffer (n x d) stored in *out.
   0, or the exit status of the error it printed: out of memory, or (f32) a
   value beyond float range, which converting would silently make +-inf
   (and a fit would then report a divergence that is really bad input). */
static int features_as(const smr_dataset *ds, const char *path, smr_dtype dtype,
                       const size_t *rows, size_t n, size_t d, void **out) {
  size_t nd;
  *out = NULL;
  void *buf = mul_ok(n, d, &nd)
                  ? alloc_array(nd, dtype == SMR_F32 ? sizeof(float) : sizeof(double))
                  : NULL;
  if (buf == NULL) return fail("%s", smr_strerror(SMR_ENOMEM));
  const double *X = smr_dataset_features(ds);
  size_t dc = smr_dataset_num_features(ds);
  for (size_t i = 0; i < n; i++) {
    const size_t row = rows != NULL ? rows[i] : i;
    const double *src = X + row * dc;
    if (dtype == SMR_F32) {
      float *dst = (float *)buf + i * d;
      for (size_t j = 0; j < d; j++) {
        if (fabs(src[j]) > (double)FLT_MAX) {
          free(buf);
          return fail("%s: data row %zu, column '%s': %g does not fit in f32 (use an f64 "
                      "model: --dtype f64)",
                      path, row + 1, smr_dataset_feature_name(ds, j), src[j]);
        }
        dst[j] = (float)src[j];
      }
    } else {
      memcpy((double *)buf + i * d, src, d * sizeof(double));
    }
  }
  *out = buf;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* dtype-generic wrappers over the API                                       */
/* ------------------------------------------------------------------------ */

static smr_status model_fit(smr_model *m, const void *X, const int32_t *y, size_t n,
                            const smr_fit_options *o, smr_fit_report *r) {
  return smr_model_dtype(m) == SMR_F32 ? smr_fit_f32(m, X, y, n, o, r)
                                       : smr_fit_f64(m, X, y, n, o, r);
}

static smr_status model_loss(const smr_model *m, const void *X, const int32_t *y, size_t n,
                             double *loss) {
  return smr_model_dtype(m) == SMR_F32 ? smr_loss_f32(m, X, y, n, loss)
                                       : smr_loss_f64(m, X, y, n, loss);
}

static smr_status model_predict(const smr_model *m, const void *X, size_t n, int32_t *labels) {
  return smr_model_dtype(m) == SMR_F32 ? smr_predict_f32(m, X, n, labels)
                                       : smr_predict_f64(m, X, n, labels);
}

/* P (n x k, model dtype) = softmax(logits / T); T = 1 uses predict_proba. */
static smr_status model_proba(const smr_model *m, const void *X, size_t n, void *P,
                              double temperature, bool use_temperature) {
  size_t k = smr_model_num_classes(m);
  smr_status s;
  if (smr_model_dtype(m) == SMR_F32) {
    if (!use_temperature) return smr_predict_proba_f32(m, X, n, P);
    s = smr_forward_f32(m, X, n, P, NULL);
    if (s != SMR_OK) return s;
    return smr_softmax_temperature_f32(P, P, n, k, (float)temperature);
  }
  if (!use_temperature) return smr_predict_proba_f64(m, X, n, P);
  s = smr_forward_f64(m, X, n, P, NULL);
  if (s != SMR_OK) return s;
  return smr_softmax_temperature_f64(P, P, n, k, temperature);
}

static double proba_at(const smr_model *m, const void *P, size_t idx) {
  return smr_model_dtype(m) == SMR_F32 ? (double)((const float *)P)[idx]
                                       : ((const double *)P)[idx];
}

/* First maximum of each row; -1 for a row with a NaN (as smr_predict). */
static void argmax_rows(const smr_model *m, const void *P, size_t n, size_t k, int32_t *out) {
  for (size_t i = 0; i < n; i++) {
    int32_t best = 0;
    double bv = proba_at(m, P, i * k);
    bool nan = isnan(bv);
    for (size_t j = 1; j < k && !nan; j++) {
      double v = proba_at(m, P, i * k + j);
      if (isnan(v)) nan = true;
      else if (v > bv) { bv = v; best = (int32_t)j; }
    }
    out[i] = nan ? -1 : best;
  }
}

/* ------------------------------------------------------------------------ */
/* Model files (read/written here so I/O errors can name their cause)        */
/* ------------------------------------------------------------------------ */

static int load_model(const char *path, smr_model **m) {
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  smr_status s = smr_model_load_file(m, path, &err);
  if (s == SMR_OK) return 0;
  /* err.message is "PATH: what"; say what kind of file was expected. */
  const char *what = err.message;
  size_t plen = strlen(path);
  if (strncmp(what, path, plen) == 0 && strncmp(what + plen, ": ", 2) == 0) what += plen + 2;
  if (what[0] == '\0') what = smr_strerror(s);
  if (s == SMR_EFORMAT) return fail("%s: not a valid smr model: %s", path, what);
  return fail("%s: %s", path, what);
}

/* smr_model_save_file writes a temporary file and renames it, so a failure
   leaves any existing model intact; its message names the path and cause. */
static int save_model(const smr_model *m, const char *path) {
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  smr_status s = smr_model_save_file(m, path, &err);
  if (s == SMR_OK) return 0;
  if (err.message[0] != '\0') return fail("%s", err.message);
  return fail("%s: cannot write the model: %s", path, smr_strerror(s));
}

/* ------------------------------------------------------------------------ */
/* Progress (the fit callback)                                               */
/* ------------------------------------------------------------------------ */

typedef struct progress {
  size_t epochs;
  double last_draw;
  bool drawn;    /* a line is on the screen */
  bool pending;  /* the latest epoch is not shown yet */
  size_t epoch;
  double train_loss, val_loss;
} progress;

static void progress_draw(progress *p) {
  if (isnan(p->val_loss))
    fprintf(stderr, "\repoch %zu/%zu  loss %.4f   ", p->epoch + 1, p->epochs, p->train_loss);
  else
    fprintf(stderr, "\repoch %zu/%zu  loss %.4f  val %.4f   ", p->epoch + 1, p->epochs,
            p->train_loss, p->val_loss);
  fflush(stderr);
  p->drawn = true;
  p->pending = false;
}

/* Rewrites one stderr line at most ten times a second; progress_end shows
   the last epoch. */
static bool progress_cb(void *user, size_t epoch, double train_loss, double val_loss) {
  progress *p = user;
  p->epoch = epoch;
  p->train_loss = train_loss;
  p->val_loss = val_loss;
  p->pending = true;
  double t = now_seconds();
  if (p->drawn && t - p->last_draw < 0.1) return true;
  p->last_draw = t;
  progress_draw(p);
  return true;
}

static void progress_end(progress *p) {
  if (p->pending) progress_draw(p);
  if (p->drawn) fputc('\n', stderr);
}

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
static double accuracy(const int32_t *truth, const int32_t *pred, size_t n, size_t k,
                       size_t *correct, size_t *cm) {
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
/* smr train                                                                 */
/* ------------------------------------------------------------------------ */

#define CSV_HELP                                                                        \
  "      --header               the first line is a header even if it holds only\n"   \
  "                             numbers\n"                                              \
  "      --no-header            no header: every line is data (columns are named\n"    \
  "                             1, 2, ...; --label-column N picks one by number).\n"   \
  "                             Without either, a first line of only numbers is\n"     \
  "                             an error\n"                                             \
  "      --max-input-mb N       read at most N MiB of text (after gzip), >= 1\n"        \
  "                             (default 1024)\n"

static void help_train(FILE *f) {
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

enum {
  O_EPOCHS = 256, O_BATCH, O_L2, O_LR, O_SCHEDULE, O_STEP_SIZE, O_GAMMA, O_DECAY, O_LR_MIN,
  O_NO_SHUFFLE, O_SHUFFLE_SEED, O_EARLY, O_PATIENCE, O_MIN_DELTA, O_VAL_FRACTION,
  O_STANDARDIZE, O_VERBOSE, O_DTYPE, O_SEED, O_LABEL_COLUMN, O_DELIMITER, O_PROBA,
  O_TEMPERATURE, O_NO_LABELS, O_ISA, O_SHAPES, O_TIME, O_KERNELS, O_FORMAT,
  O_SOLVER, O_MOMENTUM, O_NESTEROV, O_BETA1, O_BETA2, O_ADAM_EPS, O_LBFGS_HISTORY, O_TOL,
  O_CLASS_WEIGHT, O_SAMPLE_WEIGHT_COLUMN, O_WORKSPACE_MB, O_THREADS, O_HEADER, O_NO_HEADER,
  O_MAX_INPUT_MB, O_CONFUSION
};

/* The data options train, predict and eval share: --header, --no-header,
   --max-input-mb. true when c was one of them (*ok: its value parsed). */
static bool csv_opt(int c, smr_csv_options *csv, bool *ok) {
  *ok = true;
  switch (c) {
  case O_HEADER: csv->header = SMR_CSV_HEADER_PRESENT; return true;
  case O_NO_HEADER: csv->header = SMR_CSV_HEADER_ABSENT; return true;
  case O_MAX_INPUT_MB: {
    size_t mb = 0;
    *ok = opt_size("--max-input-mb", optarg, 1, SIZE_MAX >> 20, &mb);
    csv->max_bytes = mb << 20;
    return true;
  }
  default: return false;
  }
}

#define CSV_LONG_OPTS                                 \
  {"header", no_argument, NULL, O_HEADER},            \
  {"no-header", no_argument, NULL, O_NO_HEADER},      \
  {"max-input-mb", required_argument, NULL, O_MAX_INPUT_MB}

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
    switch (c) {
    case 'h': return -1;
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
    if (!ok) return EXIT_USAGE;
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

static int cmd_train(int argc, char **argv) {
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

  /* the options that depend on the data */
  if (cfg.fit.class_weight == SMR_CLASS_WEIGHT_GIVEN) {
    if (cfg.num_class_weights != k) {
      rc = usage_fail("--class-weight gives %zu weight%s, but %s has %zu classes",
                      cfg.num_class_weights, cfg.num_class_weights == 1 ? "" : "s", cfg.data, k);
      goto done;
    }
    cfg.fit.class_weights = cfg.class_weights;
  }
  if (cfg.fit.solver == SMR_SOLVER_LBFGS && cfg.fit.batch_size != 0) {
    const double f = cfg.fit.validation_fraction;
    const size_t nv = f > 0 ? (size_t)floor(f * (double)n + 0.5) : 0;
    const size_t nt = nv < n ? n - nv : 0;
    if (cfg.fit.batch_size < nt) {
      rc = usage_fail("--solver lbfgs is full batch: --batch-size %zu is smaller than the %zu "
                      "training rows (use 0 or at least %zu)", cfg.fit.batch_size, nt, nt);
      goto done;
    }
  }
  size_t wcol = SIZE_MAX;
  if (cfg.sample_weight_column != NULL) {
    rc = sample_weight_column(ds, cfg.data, cfg.sample_weight_column, &wcol, &sw);
    if (rc != 0) goto done;
    d = dc - 1;
    cfg.fit.sample_weight = sw;
  }
  if (sw != NULL || cfg.fit.class_weight == SMR_CLASS_WEIGHT_GIVEN) {
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
      total += (sw != NULL ? sw[i] : 1.0) *
               (cfg.fit.class_weights != NULL ? cfg.fit.class_weights[y[i]] : 1.0);
    if (!(total > 0)) {
      rc = fail("%s: the sample and class weights give every row weight 0", cfg.data);
      goto done;
    }
  }

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

  printf("Trained an %s softmax regression (%zu features, %zu classes%s) on %zu rows of %s "
         "with solver %s for %zu epoch%s%s. Final training objective %.6g",
         dtype_name(cfg.dtype), d, k, cfg.fit.standardize ? ", standardized inputs" : "", n,
         cfg.data, solver_name(cfg.fit.solver), rep.epochs_run, rep.epochs_run == 1 ? "" : "s",
         stop_reason(&cfg, &rep), rep.final_loss);
  if (!isnan(rep.final_val_loss)) printf(", validation loss %.6g", rep.final_val_loss);
  printf(", gradient norm %.3g (max |entry|), converged %s, %zu evaluations", rep.grad_norm,
         rep.converged ? "yes" : "no", rep.evaluations);
  printf(", training accuracy %.4f (%zu/%zu). Model written to %s.\n", acc, correct, n,
         cfg.output);
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

/* ------------------------------------------------------------------------ */
/* smr predict / smr eval: shared loading                                    */
/* ------------------------------------------------------------------------ */

static void help_predict(FILE *f) {
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

static void help_eval(FILE *f) {
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

enum confusion_mode { CONFUSION_AUTO, CONFUSION_FULL, CONFUSION_TOP };

typedef struct apply_cfg {
  const char *model_path, *data_path;
  smr_csv_options csv;
  bool proba, no_labels, use_temperature;
  double temperature;
  enum confusion_mode confusion;
} apply_cfg;

/* Parses predict (is_predict) or eval options. 0, EXIT_USAGE, or -1: help. */
static int parse_apply(int argc, char **argv, bool is_predict, apply_cfg *cfg) {
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
static int read_features(data_source *src, const apply_cfg *cfg, const smr_model *m,
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
  argmax_rows(m, P, n, k, lab);
  for (size_t i = 0; i < n; i++) {
    if (lab[i] < 0) fputs("NaN", stdout);
    else put_field(stdout, class_label(m, (size_t)lab[i], buf));
    putchar('\n');
  }
  free(lab);
  return finish_stdout();
}

static int cmd_predict(int argc, char **argv) {
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

/* ------------------------------------------------------------------------ */
/* smr eval                                                                  */
/* ------------------------------------------------------------------------ */

/* Prints accuracy, log-loss and the confusion matrix of m on (X, y): the
   k x k matrix, or the most frequent confusions (mode). */
static int report_eval(const smr_model *m, const void *X, const int32_t *y, size_t n,
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

static int cmd_eval(int argc, char **argv) {
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

/* ------------------------------------------------------------------------ */
/* smr demo                                                                  */
/* ------------------------------------------------------------------------ */

static void help_demo(FILE *f) {
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

/* splitmix64: a small seeded generator for the demo's split. */
static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound >= 1, by rejection (no modulo bias). */
static uint64_t below(uint64_t *s, uint64_t bound) {
  uint64_t lim = UINT64_MAX - UINT64_MAX % bound;
  uint64_t v;
  do v = splitmix64(s); while (v >= lim);
  return v % bound;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

/* Stratified split: in each class, a seeded shuffle puts round(70%) of its
   rows into train and the rest into test. Both lists end sorted. */
static void stratified_split(const int32_t *y, size_t n, size_t k, uint64_t seed, size_t *train,
                             size_t *ntrain, size_t *test, size_t *ntest, size_t *scratch) {
  uint64_t st = seed;
  *ntrain = *ntest = 0;
  for (size_t c = 0; c < k; c++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if ((size_t)y[i] == c) scratch[m++] = i;
    for (size_t i = m; i > 1; i--) { /* Fisher-Yates */
      size_t j = (size_t)below(&st, i);
      size_t t = scratch[i - 1];
      scratch[i - 1] = scratch[j];
      scratch[j] = t;
    }
    size_t mt = (m * 7 + 5) / 10;
    for (size_t i = 0; i < m; i++) {
      if (i < mt) train[(*ntrain)++] = scratch[i];
      else test[(*ntest)++] = scratch[i];
    }
  }
  qsort(train, *ntrain, sizeof *train, cmp_size);
  qsort(test, *ntest, sizeof *test, cmp_size);
}

static int cmd_demo(int argc, char **argv) {
  args a = {{NULL}, 0};
  uint64_t seed = 42;
  smr_dtype dtype = SMR_F64;
  double lr = 0.5;
  smr_fit_options fo = smr_fit_options_default();
  fo.epochs = 1000;
  fo.l2 = 1e-3;
  fo.standardize = true;
  fo.solver = SMR_SOLVER_LBFGS;
  const char *isa_name = NULL;
  int c;
  while ((c = getopt_long(argc, argv, short_opts_plain, demo_opts, NULL)) != -1) {
    int r = common_opt(c, argv, demo_opts, &a);
    if (r > 0) return r;
    if (r == 0) continue;
    bool ok = true;
    switch (c) {
    case 'h': help_demo(stdout); return finish_stdout();
    case O_SEED: ok = opt_u64("--seed", optarg, &seed); break;
    case O_DTYPE: ok = opt_dtype(optarg, &dtype); break;
    case O_EPOCHS: ok = opt_size("--epochs", optarg, 1, SIZE_MAX, &fo.epochs); break;
    case O_LR:
      ok = opt_double("--lr", optarg, GT0, &lr);
      fo.solver = SMR_SOLVER_GD; /* a learning rate: gradient descent */
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

  idx = alloc_array(n, 3 * sizeof *idx);
  ytr = alloc_array(n, sizeof *ytr);
  yte = alloc_array(n, sizeof *yte);
  pred = alloc_array(n, sizeof *pred);
  if (idx == NULL || ytr == NULL || yte == NULL || pred == NULL) {
    rc = fail("%s", smr_strerror(SMR_ENOMEM));
    goto done;
  }
  size_t *train = idx, *test = idx + n, ntr, nte;
  stratified_split(y, n, k, seed, train, &ntr, test, &nte, idx + 2 * n);
  for (size_t i = 0; i < ntr; i++) ytr[i] = y[train[i]];
  for (size_t i = 0; i < nte; i++) yte[i] = y[test[i]];
  if ((rc = features_as(ds, "<embedded iris.csv>", dtype, train, ntr, d, &Xtr)) != 0 ||
      (rc = features_as(ds, "<embedded iris.csv>", dtype, test, nte, d, &Xte)) != 0)
    goto done;

  s = smr_model_create(&m, d, k, dtype, lr, seed);
  if (s == SMR_OK && k == 3) s = smr_model_set_class_names(m, species);
  if (s != SMR_OK) { rc = fail("cannot create the model: %s", smr_strerror(s)); goto done; }

  progress prog = {.epochs = fo.epochs};
  if (isatty(STDERR_FILENO)) {
    fo.callback = progress_cb;
    fo.callback_user = &prog;
  }
  smr_fit_report rep;
  memset(&rep, 0, sizeof rep);
  double t0 = now_seconds();
  s = model_fit(m, Xtr, ytr, ntr, &fo, &rep);
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
         "): %zu training, %zu held-out rows\n", n, d, k, seed, ntr, nte);
  if (fo.solver == SMR_SOLVER_GD)
    printf("model: %s, standardized inputs, full-batch gradient descent, lr %g, l2 %g, "
           "%zu epochs (%.1f ms)\n", dtype_name(dtype), lr, fo.l2, rep.epochs_run, secs * 1e3);
  else
    printf("model: %s, standardized inputs, full-batch L-BFGS, l2 %g, %zu iterations to "
           "max |gradient| %.2g (%.1f ms)\n", dtype_name(dtype), fo.l2, rep.epochs_run,
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

/* ------------------------------------------------------------------------ */
/* smr bench                                                                 */
/* ------------------------------------------------------------------------ */

static void help_bench(FILE *f) {
  fputs(
    "Usage: smr bench [options]\n"
    "\n"
    "A quick benchmark (seconds) of the row-wise kernels of the public API on\n"
    "each available instruction set: softmax, online softmax, log-softmax,\n"
    "cross-entropy from logits with its gradient out of place and in place,\n"
    "and its loss only, next to a memcpy of the same bytes timed in the same\n"
    "pass. Prints one table per ISA: a row per kernel, a column per n x k\n"
    "shape, each cell the GB/s of the minimum traffic (input read once, output\n"
    "written once; ce_loss only reads) and its ratio to memcpy. A cell is the\n"
    "median of up to 5 samples. The kernels run on --threads threads (calls of\n"
    "more than 2^18 elements are cut into row tasks, smr.h); the memcpy always\n"
    "on one. bench/smr-bench is the full suite.\n"
    "\n"
    "      --dtype f32|f64        element type (default f32)\n"
    "      --isa LIST|all         comma-separated ISAs among scalar, avx2, avx512,\n"
    "                             neon (default all: every one available here)\n"
    "      --shapes NxK[,NxK...]  n rows of k elements, n, k >= 1\n"
    "                             (default 256x1000,10000x100,8x32000,512x32768)\n"
    "      --kernels LIST|all     comma-separated rows among softmax, online,\n"
    "                             log_softmax, ce_grad, ce_grad_inplace, ce_loss\n"
    "                             (default all; the memcpy row is always there)\n"
    "      --time SECONDS         time per cell, > 0 (default 0.05)\n"
    "      --format table|csv     tables, or one CSV line per cell (default table)\n"
    "      --threads N            threads of the kernels, 1..256 (default 1)\n"
    "  -h, --help                 this help\n"
    "\n"
    "Example: smr bench --isa scalar,avx2 --shapes 256x1000 --dtype f64\n",
    f);
}

static const struct option bench_opts[] = {
  {"dtype", required_argument, NULL, O_DTYPE},
  {"isa", required_argument, NULL, O_ISA},
  {"shapes", required_argument, NULL, O_SHAPES},
  {"kernels", required_argument, NULL, O_KERNELS},
  {"time", required_argument, NULL, O_TIME},
  {"format", required_argument, NULL, O_FORMAT},
  {"threads", required_argument, NULL, O_THREADS},
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0},
};

#define BENCH_MAX_SHAPES 16
#define BENCH_DEFAULT_SHAPES "256x1000,10000x100,8x32000,512x32768"

typedef struct bench_shape {
  size_t n, k;
} bench_shape;

typedef struct bench_cfg {
  smr_dtype dtype;
  unsigned isas;    /* bit i: measure smr_isa i */
  unsigned kernels; /* bit j: measure qb_kernel j (memcpy always) */
  bench_shape shape[BENCH_MAX_SHAPES];
  size_t nshapes;
  double time;
  bool csv;
  size_t threads; /* of the kernels (smr_set_num_threads) */
} bench_cfg;

typedef struct bench_results {
  double sec[SMR_ISA_COUNT][QB_NUM_KERNELS][BENCH_MAX_SHAPES]; /* per call */
} bench_results;

/* Walks a comma-separated list, empty items included: each call sets
   [*item, *item + *len) to the next item; false after the last one.
   *pos starts at the list and is NULL once it is used up. */
static bool list_next(const char **pos, const char **item, size_t *len) {
  if (*pos == NULL) return false;
  *item = *pos;
  *len = strcspn(*pos, ",");
  *pos = (*pos)[*len] == ',' ? *pos + *len + 1 : NULL;
  return true;
}

static bool item_is(const char *p, size_t len, const char *name) {
  return strlen(name) == len && strncmp(p, name, len) == 0;
}

/* An item, for messages: at most 64 bytes of it. */
static int item_width(size_t len) { return len > 64 ? 64 : (int)len; }

enum dim_status { DIM_OK, DIM_MALFORMED, DIM_ZERO, DIM_HUGE };

/* A decimal dimension in [s, s + len): digits only. */
static enum dim_status parse_dim(const char *s, size_t len, size_t *out) {
  size_t v = 0;
  if (len == 0) return DIM_MALFORMED;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return DIM_MALFORMED;
    const size_t d = (size_t)(s[i] - '0');
    if (v > (SIZE_MAX - d) / 10) return DIM_HUGE;
    v = v * 10 + d;
  }
  *out = v;
  return v == 0 ? DIM_ZERO : DIM_OK;
}

static bool opt_shapes(const char *s, bench_cfg *cfg) {
  cfg->nshapes = 0;
  const char *pos = s, *p;
  size_t len;
  while (list_next(&pos, &p, &len)) {
    const char *x = memchr(p, 'x', len);
    const size_t nlen = x != NULL ? (size_t)(x - p) : len;
    bench_shape sh = {0, 0};
    enum dim_status dn = parse_dim(p, nlen, &sh.n);
    enum dim_status dk = x != NULL ? parse_dim(x + 1, len - nlen - 1, &sh.k) : DIM_MALFORMED;
    const char *why = NULL;
    if (dn == DIM_MALFORMED || dk == DIM_MALFORMED)
      why = "is not NxK (two positive integers, e.g. 256x1000)";
    else if (dn == DIM_HUGE || dk == DIM_HUGE) why = "has a dimension beyond SIZE_MAX";
    else if (dn == DIM_ZERO || dk == DIM_ZERO) why = "has a zero dimension (n and k must be >= 1)";
    else if (cfg->nshapes == BENCH_MAX_SHAPES) why = "is one shape too many (at most 16)";
    if (why != NULL) {
      usage_fail("invalid value '%s' for --shapes: '%.*s' %s", s, item_width(len), p, why);
      return false;
    }
    cfg->shape[cfg->nshapes++] = sh;
  }
  return true;
}

static unsigned available_isas(void) {
  unsigned m = 0;
  for (int i = 0; i < SMR_ISA_COUNT; i++)
    if (smr_isa_available((smr_isa)i)) m |= 1u << i;
  return m;
}

/* "all" (every ISA available here) or a list of names. Availability of
   named ISAs is checked later (bench_check_isas), not as a usage error. */
static bool opt_isa_list(const char *s, unsigned *mask) {
  *mask = 0;
  if (strcmp(s, "all") == 0) {
    *mask = available_isas();
    return true;
  }
  const char *pos = s, *p;
  size_t len;
  while (list_next(&pos, &p, &len)) {
    int found = -1;
    for (int i = 0; i < SMR_ISA_COUNT && found < 0; i++)
      if (item_is(p, len, smr_isa_name((smr_isa)i))) found = i;
    if (found < 0) {
      usage_fail("invalid value '%s' for --isa: '%.*s' is not an ISA (expected all, or a "
                 "comma-separated list of scalar, avx2, avx512, neon)", s, item_width(len), p);
      return false;
    }
    *mask |= 1u << found;
  }
  return true;
}

static bool opt_kernel_list(const char *s, unsigned *mask) {
  *mask = 0;
  if (strcmp(s, "all") == 0) {
    *mask = (1u << QB_NUM_KERNELS) - 1;
    return true;
  }
  const char *pos = s, *p;
  size_t len;
  while (list_next(&pos, &p, &len)) {
    int found = -1;
    for (int j = 0; j < QB_NUM_KERNELS && found < 0; j++)
      if (item_is(p, len, qb_kernel_names[j])) found = j;
    if (found < 0) {
      usage_fail("invalid value '%s' for --kernels: '%.*s' is not a kernel (expected all, or a "
                 "comma-separated list of softmax, online, log_softmax, ce_grad, "
                 "ce_grad_inplace, ce_loss)", s, item_width(len), p);
      return false;
    }
    *mask |= 1u << found;
  }
  *mask |= 1u << QB_MEMCPY;
  return true;
}

static bool opt_format(const char *s, bool *csv) {
  static const char *const names[] = {"table", "csv"};
  size_t i;
  if (!opt_choice("--format", s, names, 2, &i)) return false;
  *csv = i == 1;
  return true;
}

/* Fills cfg from the command line. Returns 0, EXIT_USAGE, or -1 for --help. */
static int parse_bench(int argc, char **argv, bench_cfg *cfg) {
  args a = {{NULL}, 0};
  int c;
  while ((c = getopt_long(argc, argv, short_opts_plain, bench_opts, NULL)) != -1) {
    int r = common_opt(c, argv, bench_opts, &a);
    if (r > 0) return r;
    if (r == 0) continue;
    bool ok = true;
    switch (c) {
    case 'h': return -1;
    case O_DTYPE: ok = opt_dtype(optarg, &cfg->dtype); break;
    case O_ISA: ok = opt_isa_list(optarg, &cfg->isas); break;
    case O_SHAPES: ok = opt_shapes(optarg, cfg); break;
    case O_KERNELS: ok = opt_kernel_list(optarg, &cfg->kernels); break;
    case O_TIME: ok = opt_double("--time", optarg, GT0, &cfg->time); break;
    case O_FORMAT: ok = opt_format(optarg, &cfg->csv); break;
    case O_THREADS: ok = opt_size("--threads", optarg, 1, SMR_MAX_THREADS, &cfg->threads); break;
    default: return usage_fail("internal error: unhandled option");
    }
    if (!ok) return EXIT_USAGE;
  }
  if (rest_positionals(argc, argv, &a) != 0) return EXIT_USAGE;
  if (a.npos != 0) return usage_fail("unexpected argument '%s'", a.pos[0]);
  /* Known once the dtype is: the bytes of n x k elements (twice that for
     input and output) must fit in size_t. */
  const size_t esize = cfg->dtype == SMR_F32 ? sizeof(float) : sizeof(double);
  for (size_t i = 0; i < cfg->nshapes; i++) {
    const bench_shape sh = cfg->shape[i];
    if (qb_footprint(cfg->dtype, sh.n, sh.k) == SIZE_MAX)
      return usage_fail("--shapes %zux%zu: n * k * %zu bytes (%s) does not fit in size_t", sh.n,
                        sh.k, esize, dtype_name(cfg->dtype));
  }
  return 0;
}

/* The names of the ISAs in mask, space-separated, into buf. */
static void isa_list(unsigned mask, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (!(mask & (1u << i))) continue;
    int w = snprintf(buf + used, len - used, "%s%s", used > 0 ? " " : "", smr_isa_name((smr_isa)i));
    if (w < 0 || (size_t)w >= len - used) return;
    used += (size_t)w;
  }
}

/* A named ISA this build or CPU cannot run is a runtime error (as for
   `smr demo --isa`): the option is well formed, the machine lacks it. */
static int bench_check_isas(unsigned mask) {
  char avail[64];
  isa_list(available_isas(), avail, sizeof avail);
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    const smr_isa isa = (smr_isa)i;
    if (!(mask & (1u << i)) || smr_isa_available(isa)) continue;
    return fail("--isa %s: %s (available here: %s)", smr_isa_name(isa),
                smr_isa_compiled(isa) ? "this CPU does not support it"
                                      : "not compiled into this build",
                avail);
  }
  return 0;
}

static void format_bytes(double b, char *buf, size_t len) {
  static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (b < 1024) {
    snprintf(buf, len, "%.0f B", b);
    return;
  }
  int u = 0;
  for (b /= 1024; b >= 1024 && u < 4; u++) b /= 1024;
  snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", b, unit[u]);
}

/* Under overcommit, buffers beyond the physical memory may not fail malloc
   but get the process killed while they are filled: refused up front. */
static int bench_check_memory(const bench_cfg *cfg) {
#ifdef _SC_PHYS_PAGES
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  const double phys = (double)pages * (double)page;
  char need[32], have[32];
  for (size_t i = 0; i < cfg->nshapes; i++) {
    const bench_shape sh = cfg->shape[i];
    const double bytes = (double)qb_footprint(cfg->dtype, sh.n, sh.k);
    if (bytes <= phys) continue;
    format_bytes(bytes, need, sizeof need);
    format_bytes(phys, have, sizeof have);
    return fail("shape %zux%zu (%s) needs %s of buffers, more than the %s of memory here",
                sh.n, sh.k, dtype_name(cfg->dtype), need, have);
  }
#else
  (void)cfg;
#endif
  return 0;
}

/* One stderr line, rewritten per cell, when stderr is a terminal. */
static void bench_progress(bool on, const char *isa, bench_shape sh, const char *kernel) {
  if (!on) return;
  fprintf(stderr, "\rmeasuring %s %zux%zu %-15s   ", isa, sh.n, sh.k, kernel);
  fflush(stderr);
}

/* Measures every (shape, ISA, kernel) cell into res. Shapes go outermost
   so that only one shape's buffers exist at a time; in each ISA's pass the
   memcpy reference is timed first, right before the kernels it scales. */
static int bench_measure(const bench_cfg *cfg, bench_results *res) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  int rc = 0;
  for (size_t si = 0; si < cfg->nshapes && rc == 0; si++) {
    const bench_shape sh = cfg->shape[si];
    qb_buffers *b = NULL;
    smr_status s = qb_buffers_create(&b, cfg->dtype, sh.n, sh.k);
    if (s != SMR_OK) {
      rc = fail("shape %zux%zu (%s): cannot allocate its buffers: %s", sh.n, sh.k,
                dtype_name(cfg->dtype), smr_strerror(s));
      break;
    }
    for (int i = 0; i < SMR_ISA_COUNT && rc == 0; i++) {
      if (!(cfg->isas & (1u << i))) continue;
      const char *isa = smr_isa_name((smr_isa)i);
      if ((s = smr_isa_select((smr_isa)i)) != SMR_OK) {
        rc = fail("ISA %s: %s", isa, smr_strerror(s));
        break;
      }
      for (int step = 0; step < QB_NUM_KERNELS && rc == 0; step++) {
        _Static_assert(QB_MEMCPY == QB_NUM_KERNELS - 1, "memcpy is the last row");
        const qb_kernel kern = (qb_kernel)((QB_MEMCPY + step) % QB_NUM_KERNELS); /* memcpy first */
        if (!(cfg->kernels & (1u << kern))) continue;
        bench_progress(tty, isa, sh, qb_kernel_names[kern]);
        s = qb_measure(b, kern, cfg->time, &res->sec[i][kern][si]);
        if (s != SMR_OK)
          rc = fail("%s on %s, %zux%zu: %s", qb_kernel_names[kern], isa, sh.n, sh.k,
                    smr_strerror(s));
      }
    }
    qb_buffers_free(b);
  }
  if (tty) fprintf(stderr, "\r%79s\r", "");
  return rc;
}

static double bench_gbps(const bench_cfg *cfg, const bench_results *res, int isa, qb_kernel kern,
                         size_t si) {
  const bench_shape sh = cfg->shape[si];
  return (double)qb_traffic(kern, cfg->dtype, sh.n, sh.k) / res->sec[isa][kern][si] * 1e-9;
}

/* "GB/s (ratio)" with 2 and 3 decimals (a scalar kernel in cache is a few
   thousandths of memcpy); values too small for that (under an emulator)
   get 2 significant digits instead of rounding to 0. */
static void format_cell(const bench_cfg *cfg, const bench_results *res, int isa, qb_kernel kern,
                        size_t si, char *buf, size_t len) {
  const double g = bench_gbps(cfg, res, isa, kern, si);
  const double x = g / bench_gbps(cfg, res, isa, QB_MEMCPY, si);
  char gs[24], xs[24];
  snprintf(gs, sizeof gs, g >= 0.01 ? "%.2f" : "%.2g", g);
  snprintf(xs, sizeof xs, x >= 0.001 ? "%.3f" : "%.2g", x);
  snprintf(buf, len, "%s (%s)", gs, xs);
}

static void bench_print_csv(const bench_cfg *cfg, const bench_results *res) {
  puts("isa,dtype,threads,kernel,n,k,bytes,seconds,gb_per_s,x_memcpy");
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (!(cfg->isas & (1u << i))) continue;
    for (int j = 0; j < QB_NUM_KERNELS; j++) {
      if (!(cfg->kernels & (1u << j))) continue;
      for (size_t si = 0; si < cfg->nshapes; si++) {
        const bench_shape sh = cfg->shape[si];
        const double g = bench_gbps(cfg, res, i, (qb_kernel)j, si);
        printf("%s,%s,%zu,%s,%zu,%zu,%zu,%.6g,%.6g,%.6g\n", smr_isa_name((smr_isa)i),
               dtype_name(cfg->dtype), j == QB_MEMCPY ? (size_t)1 : cfg->threads,
               qb_kernel_names[j], sh.n, sh.k,
               qb_traffic((qb_kernel)j, cfg->dtype, sh.n, sh.k), res->sec[i][j][si], g,
               g / bench_gbps(cfg, res, i, QB_MEMCPY, si));
      }
    }
  }
}

static void bench_print_tables(const bench_cfg *cfg, const bench_results *res, smr_isa active) {
  char buf[64], avail[64];
  isa_list(available_isas(), avail, sizeof avail);
  printf("smr %s bench: CPU ISAs %s, active %s, dtype %s, threads %zu (memcpy 1)\n",
         smr_version(), avail, smr_isa_name(active), dtype_name(cfg->dtype), cfg->threads);
  fputs("shapes:", stdout);
  const size_t esize = cfg->dtype == SMR_F32 ? sizeof(float) : sizeof(double);
  for (size_t si = 0; si < cfg->nshapes; si++) {
    format_bytes((double)(cfg->shape[si].n * cfg->shape[si].k * esize), buf, sizeof buf);
    printf("%s %zux%zu (%s)", si == 0 ? "" : ",", cfg->shape[si].n, cfg->shape[si].k, buf);
  }
  printf("; %g s per cell, median of up to %d samples\n", cfg->time, QB_SAMPLES);
  puts("cells: GB/s of the minimum traffic (input read once + output written once; ce_loss: "
       "input read once) and, in parentheses, the ratio to the memcpy row");

  /* Column widths: the widest header or cell of any table. */
  int width[BENCH_MAX_SHAPES];
  for (size_t si = 0; si < cfg->nshapes; si++) {
    width[si] = snprintf(buf, sizeof buf, "%zux%zu", cfg->shape[si].n, cfg->shape[si].k);
    for (int i = 0; i < SMR_ISA_COUNT; i++)
      for (int j = 0; j < QB_NUM_KERNELS; j++) {
        if (!(cfg->isas & (1u << i)) || !(cfg->kernels & (1u << j))) continue;
        format_cell(cfg, res, i, (qb_kernel)j, si, buf, sizeof buf);
        if ((int)strlen(buf) > width[si]) width[si] = (int)strlen(buf);
      }
  }
  const int w0 = (int)strlen("ce_grad_inplace");
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (!(cfg->isas & (1u << i))) continue;
    printf("\nisa: %s\n%-*s", smr_isa_name((smr_isa)i), w0, "kernel");
    for (size_t si = 0; si < cfg->nshapes; si++) {
      snprintf(buf, sizeof buf, "%zux%zu", cfg->shape[si].n, cfg->shape[si].k);
      printf("  %*s", width[si], buf);
    }
    putchar('\n');
    for (int j = 0; j < QB_NUM_KERNELS; j++) {
      if (!(cfg->kernels & (1u << j))) continue;
      printf("%-*s", w0, qb_kernel_names[j]);
      for (size_t si = 0; si < cfg->nshapes; si++) {
        format_cell(cfg, res, i, (qb_kernel)j, si, buf, sizeof buf);
        printf("  %*s", width[si], buf);
      }
      putchar('\n');
    }
  }
}

static int cmd_bench(int argc, char **argv) {
  bench_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.dtype = SMR_F32;
  cfg.isas = available_isas();
  cfg.kernels = (1u << QB_NUM_KERNELS) - 1;
  cfg.time = 0.05;
  cfg.threads = 1;
  if (!opt_shapes(BENCH_DEFAULT_SHAPES, &cfg)) return EXIT_USAGE;
  int rc = parse_bench(argc, argv, &cfg);
  if (rc < 0) { help_bench(stdout); return finish_stdout(); }
  if (rc != 0) return rc;
  if ((rc = bench_check_isas(cfg.isas)) != 0 || (rc = bench_check_memory(&cfg)) != 0) return rc;

  bench_results res;
  memset(&res, 0, sizeof res);
  const smr_isa active = smr_isa_active(); /* first use: reads SMR_ISA */
  (void)smr_set_num_threads(cfg.threads); /* in range: parsed */
  rc = bench_measure(&cfg, &res);
  smr_status s = smr_isa_select(active);
  if (rc != 0) return rc;
  if (s != SMR_OK) return fail("cannot restore ISA %s: %s", smr_isa_name(active), smr_strerror(s));
  if (cfg.csv) bench_print_csv(&cfg, &res);
  else bench_print_tables(&cfg, &res, active);
  return finish_stdout();
}

/* ------------------------------------------------------------------------ */
/* smr info                                                                  */
/* ------------------------------------------------------------------------ */

static void help_info(FILE *f) {
  fputs(
    "Usage: smr info\n"
    "\n"
    "Prints the version, whether gzip input is supported, the BLAS that runs\n"
    "the trainer's matrix products (or none), the instruction sets compiled\n"
    "in and available on this CPU, the active one, and what became of the\n"
    "SMR_ISA environment variable (scalar|avx2|avx512|neon).\n"
    "\n"
    "  -h, --help                 this help\n",
    f);
}

static const struct option plain_opts[] = {
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0},
};

/* Prints an environment value with control characters escaped. */
static void put_sanitized(const char *s) {
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch < 0x20 || ch == 0x7f) printf("\\x%02x", ch);
    else putchar(ch);
  }
}

static int cmd_info(int argc, char **argv) {
  args a = {{NULL}, 0};
  int c;
  while ((c = getopt_long(argc, argv, short_opts_plain, plain_opts, NULL)) != -1) {
    int r = common_opt(c, argv, plain_opts, &a);
    if (r > 0) return r;
    if (r == 0) continue;
    if (c == 'h') { help_info(stdout); return finish_stdout(); }
    return usage_fail("internal error: unhandled option");
  }
  if (rest_positionals(argc, argv, &a) != 0) return EXIT_USAGE;
  if (a.npos != 0) return usage_fail("unexpected argument '%s'", a.pos[0]);

  smr_isa active = smr_isa_active(); /* first use: reads SMR_ISA */
  smr_status env = smr_isa_env_status();
  printf("smr %s\n", smr_version());
  printf("zlib: %s\n", smr_has_zlib() ? "yes" : "no");
  printf("blas: %s\n", smr_blas_info());
  printf("threads: %zu\n", smr_num_threads());
  printf("isa      compiled  available\n");
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    smr_isa isa = (smr_isa)i;
    printf("%-8s %-9s %s\n", smr_isa_name(isa), smr_isa_compiled(isa) ? "yes" : "no",
           smr_isa_available(isa) ? "yes" : "no");
  }
  printf("active: %s\n", smr_isa_name(active));
  const char *v = getenv("SMR_ISA");
  fputs("SMR_ISA: ", stdout);
  if (v == NULL || v[0] == '\0') {
    printf("%s (best available ISA)\n", v == NULL ? "unset" : "empty");
  } else {
    putchar('"');
    put_sanitized(v);
    putchar('"');
    if (env == SMR_OK) printf(" honoured\n");
    else if (env == SMR_EINVAL) printf(" is not a known ISA name, using %s\n", smr_isa_name(active));
    else if (env == SMR_EUNSUPPORTED) printf(" is not available here, using %s\n", smr_isa_name(active));
    else printf(" (%s), using %s\n", smr_strerror(env), smr_isa_name(active));
  }
  return finish_stdout();
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static void help_main(FILE *f) {
  fprintf(f,
    "Usage: smr COMMAND [options]\n"
    "\n"
    "Softmax regression (multinomial logistic regression) from the command line.\n"
    "\n"
    "Commands:\n"
    "  train DATA.csv -o MODEL    train a model (see 'smr train --help')\n"
    "  predict MODEL DATA.csv     predicted classes, or --proba probabilities\n"
    "  eval MODEL DATA.csv        accuracy, log-loss and confusion matrix\n"
    "  demo                       train and evaluate on the embedded Iris data\n"
    "  bench                      kernel throughput per instruction set (seconds)\n"
    "  info                       version, instruction sets, SMR_ISA\n"
    "  help [COMMAND]             this help, or a command's\n"
    "\n"
    "Options:\n"
    "  -h, --help                 this help\n"
    "      --version              print the version\n"
    "\n"
    "Environment: SMR_ISA=scalar|avx2|avx512|neon selects the kernels;\n"
    "SMR_NUM_THREADS=N the threads of training and of the BLAS (default 1).\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n");
}

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  void (*help)(FILE *f);
} command;

static const command commands[] = {
  {"train", cmd_train, help_train},
  {"predict", cmd_predict, help_predict},
  {"eval", cmd_eval, help_eval},
  {"demo", cmd_demo, help_demo},
  {"bench", cmd_bench, help_bench},
  {"info", cmd_info, help_info},
};

static const command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("smr: missing command\n\n", stderr);
    help_main(stderr);
    return EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    help_main(stdout);
    return finish_stdout();
  }
  if (strcmp(name, "--version") == 0) {
    printf("smr %s\n", smr_version());
    return finish_stdout();
  }
  if (strcmp(name, "help") == 0) {
    if (argc == 2) { help_main(stdout); return finish_stdout(); }
    const command *cmd = find_command(argv[2]);
    if (argc > 3) return usage_fail("help takes one COMMAND, got %d arguments", argc - 2);
    if (cmd == NULL) return usage_fail("unknown command '%s'", argv[2]);
    cmd->help(stdout);
    return finish_stdout();
  }
  const command *cmd = find_command(name);
  if (cmd == NULL) {
    if (name[0] == '-') return usage_fail("unknown option '%s'", name);
    return usage_fail("unknown command '%s'", name);
  }
  g_cmd = cmd->name;
  opterr = 0;
  optind = 1;
  return cmd->run(argc - 1, argv + 1);
}
