/* cli.c - messages, strict option values, getopt_long plumbing, data and model
   helpers shared by the commands (cli.h). */
#include "cli.h"

const char *g_cmd = NULL;

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

/* A runtime error: "smr: message". Returns EXIT_RUNTIME for `return fail(..)`. */
int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("smr: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return EXIT_RUNTIME;
}

/* A usage error: "smr CMD: message" plus a pointer to --help. */
int usage_fail(const char *fmt, ...) {
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
int fail_file(const char *path, smr_status s, const smr_error_detail *err) {
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

bool parse_u64(const char *s, uint64_t *out) {
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
bool opt_size(const char *opt, const char *s, size_t min, size_t max, size_t *out) {
  uint64_t v;
  if (!parse_u64(s, &v) || v < min || v > max) {
    usage_fail("invalid value '%s' for %s: expected an integer in [%zu, %zu]", s, opt, min, max);
    return false;
  }
  *out = (size_t)v;
  return true;
}

bool opt_u64(const char *opt, const char *s, uint64_t *out) {
  if (!parse_u64(s, out)) {
    usage_fail("invalid value '%s' for %s: expected an integer in [0, %" PRIu64 "]", s, opt,
               UINT64_MAX);
    return false;
  }
  return true;
}

/* A finite number; `what` describes the accepted range for the message. */
bool parse_finite(const char *s, double *out) {
  if (s == NULL || *s == '\0') return false;
  if (!(*s == '-' || *s == '+' || *s == '.' || (*s >= '0' && *s <= '9'))) return false;
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !isfinite(v)) return false;
  *out = v;
  return true;
}


bool opt_double(const char *opt, const char *s, enum range r, double *out) {
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
bool opt_choice(const char *opt, const char *s, const char *const *names, size_t count,
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

bool opt_dtype(const char *s, smr_dtype *out) {
  static const char *const names[] = {"f32", "f64"};
  static const smr_dtype vals[] = {SMR_F32, SMR_F64};
  size_t i;
  if (!opt_choice("--dtype", s, names, 2, &i)) return false;
  *out = vals[i];
  return true;
}

bool opt_schedule(const char *s, smr_lr_schedule *out) {
  static const char *const names[] = {"constant", "step", "inv-time", "cosine"};
  static const smr_lr_schedule vals[] = {SMR_LR_CONSTANT, SMR_LR_STEP, SMR_LR_INV_TIME,
                                         SMR_LR_COSINE};
  size_t i;
  if (!opt_choice("--schedule", s, names, 4, &i)) return false;
  *out = vals[i];
  return true;
}

/* One byte, or "\t" / "tab" for a tab. Quotes and line ends are reserved. */
bool opt_delimiter(const char *s, char *out) {
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

const char *dtype_name(smr_dtype t) { return t == SMR_F32 ? "f32" : "f64"; }

/* ------------------------------------------------------------------------ */
/* getopt_long plumbing                                                      */
/* ------------------------------------------------------------------------ */


/* Name of the option with code `val`, for messages. */
void option_name(const struct option *lo, int val, char *buf, size_t len) {
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
int common_opt(int c, char **argv, const struct option *lo, args *a) {
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
int rest_positionals(int argc, char **argv, args *a) {
  for (int i = optind; i < argc; i++) {
    if (a->npos == MAX_POSITIONAL) return usage_fail("too many arguments");
    a->pos[a->npos++] = argv[i];
  }
  return 0;
}

/* In-order scanning ("-": positionals come back as code 1, whatever
   POSIXLY_CORRECT says) and no getopt messages (":"): we print our own. */
const char short_opts_train[] = "-:ho:";
const char short_opts_plain[] = "-:h";

/* ------------------------------------------------------------------------ */
/* Small utilities                                                           */
/* ------------------------------------------------------------------------ */


/* malloc(n * size) with overflow check; n = 0 gives a 1-byte block so that
   NULL always means failure. */
void *alloc_array(size_t n, size_t size) {
  size_t bytes;
  if (!mul_ok(n, size, &bytes)) return NULL;
  return malloc(bytes == 0 ? 1 : bytes);
}

double now_seconds(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads a whole stream, at most max bytes (errno EFBIG beyond); *buf is
   malloc'd (NUL-terminated for convenience). */
bool read_stream(FILE *f, size_t max, char **buf, size_t *len) {
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
void put_field(FILE *f, const char *s) {
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
const char *class_label(const smr_model *m, size_t j, char buf[32]) {
  const char *name = smr_model_class_name(m, j);
  if (name != NULL) return name;
  snprintf(buf, 32, "%zu", j);
  return buf;
}

/* Flushes stdout and reports a failed write (e.g. a full disk). */
int finish_stdout(void) {
  if (fflush(stdout) != 0 || ferror(stdout)) return fail("error writing output: %s", strerror(errno));
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Data: CSV files ("-" is stdin) and features in the model's dtype          */
/* ------------------------------------------------------------------------ */


void source_free(data_source *src) { free(src->text); }

/* Parses the source; on error prints the message unless `quiet`. */
int read_data(data_source *src, const smr_csv_options *o, smr_dataset **ds, bool quiet) {
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
int features_as(const smr_dataset *ds, const char *path, smr_dtype dtype, const size_t *rows,
                size_t n, size_t d, void **out) {
  size_t nd;
  *out = NULL;
  void *buf = mul_ok(n, d, &nd)
                  ? alloc_array(nd, dtype == SMR_F32 ? sizeof(float) : sizeof(double))
                  : NULL;
  if (buf == NULL) return fail("%s", smr_strerror(SMR_ENOMEM));
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  const smr_status s = dtype == SMR_F32 ? smr_dataset_copy_f32(ds, rows, n, d, buf, &err)
                                        : smr_dataset_copy_f64(ds, rows, n, d, buf, &err);
  if (s != SMR_OK) {
    free(buf);
    /* SMR_ERANGE: converting would silently make +-inf (and a fit would
       then report a divergence that is really bad input) */
    if (s == SMR_ERANGE)
      return fail("%s: %s (use an f64 model: --dtype f64)", path, err.message);
    return fail("%s: %s", path, smr_strerror(s));
  }
  *out = buf;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* dtype-generic wrappers over the API                                       */
/* ------------------------------------------------------------------------ */

smr_status model_fit(smr_model *m, const void *X, const int32_t *y, size_t n,
                            const smr_fit_options *o, smr_fit_report *r) {
  return smr_model_dtype(m) == SMR_F32 ? smr_fit_f32(m, X, y, n, o, r)
                                       : smr_fit_f64(m, X, y, n, o, r);
}

smr_status model_loss(const smr_model *m, const void *X, const int32_t *y, size_t n,
                             double *loss) {
  return smr_model_dtype(m) == SMR_F32 ? smr_loss_f32(m, X, y, n, loss)
                                       : smr_loss_f64(m, X, y, n, loss);
}

smr_status model_predict(const smr_model *m, const void *X, size_t n, int32_t *labels) {
  return smr_model_dtype(m) == SMR_F32 ? smr_predict_f32(m, X, n, labels)
                                       : smr_predict_f64(m, X, n, labels);
}

/* P (n x k, model dtype) = softmax(logits / T); T = 1 uses predict_proba. */
smr_status model_proba(const smr_model *m, const void *X, size_t n, void *P,
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

double proba_at(const smr_model *m, const void *P, size_t idx) {
  return smr_model_dtype(m) == SMR_F32 ? (double)((const float *)P)[idx]
                                       : ((const double *)P)[idx];
}

smr_status model_argmax(const smr_model *m, const void *P, size_t n, int32_t *labels) {
  const size_t k = smr_model_num_classes(m);
  return smr_model_dtype(m) == SMR_F32 ? smr_argmax_f32(P, n, k, labels)
                                       : smr_argmax_f64(P, n, k, labels);
}

/* ------------------------------------------------------------------------ */
/* Model files (read/written here so I/O errors can name their cause)        */
/* ------------------------------------------------------------------------ */

int load_model(const char *path, smr_model **m) {
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
int save_model(const smr_model *m, const char *path) {
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


void progress_draw(progress *p) {
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
bool progress_cb(void *user, size_t epoch, double train_loss, double val_loss) {
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

void progress_end(progress *p) {
  if (p->pending) progress_draw(p);
  if (p->drawn) fputc('\n', stderr);
}

/* The data options train, predict and eval share: --header, --no-header,
   --max-input-mb. true when c was one of them (*ok: its value parsed). */
bool csv_opt(int c, smr_csv_options *csv, bool *ok) {
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

const struct option plain_opts[] = {
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0},
};
