/* csv.c - data sets from CSV text: reading (plain or gzip), parsing, accessors.
 *
 * The dialect (docs/FORMATS.md has the full description):
 *   - The first non-blank line is the header (column names). A UTF-8 byte
 *     order mark before it is skipped.
 *   - Records end at LF; a CR right before LF (or before the end of the
 *     text) is dropped. Lines that hold only spaces/tabs are skipped; the
 *     last line needs no newline.
 *   - Fields are separated by the delimiter (default ','; '"', CR, LF and
 *     NUL are not allowed as delimiters). Spaces and tabs around a field are
 *     trimmed, except a tab or space that is the delimiter itself.
 *   - A field may be double-quoted: the quotes are removed, "" stands for
 *     one quote, and the delimiter, CR and LF are literal inside. Only
 *     spaces/tabs may follow the closing quote. A quote inside an unquoted
 *     field, a NUL byte anywhere and an unterminated quote are errors.
 *   - Features: the field (after trimming, also inside quotes) must be
 *     non-empty and read completely by strtod (so decimal point and
 *     exponent follow the C library's current LC_NUMERIC locale, "C" unless
 *     the application changed it); NaN and +-inf, including values that
 *     overflow to inf (1e999), are rejected. Underflow to 0 or a subnormal
 *     is accepted.
 *   - Labels (see smr.h) are the field as read (trimmed when unquoted,
 *     verbatim inside quotes); integers are an optional '-' and digits;
 *     all-integer label columns give k = max + 1 (a negative label or one
 *     above INT32_MAX - 1 is SMR_ERANGE); any other label makes every label
 *     a name. Names are at most SMR_MAX_NAME_LEN bytes. Empty labels are
 *     rejected like empty features.
 *
 * Error positions: line = 1-based physical line where the offending field
 * starts (quoted fields may span lines), column = 1-based field number in
 * its record; 0 where not applicable. The message is "NAME:LINE:COL: what"
 * ("NAME:LINE: what" when column is 0, "NAME: what" when line is 0); NAME is
 * the path, the caller's name, or "<memory>". Errors are reported in reading
 * order, except the label checks that need the whole column (negative or
 * too large integer labels), which come after the last row was read.
 */
#include "internal.h"
#include <float.h>
#include "smr_config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if SMR_HAVE_ZLIB
#include <zlib.h>
#endif

struct smr_dataset {
  size_t n, d, k;         /* k = 0 without labels */
  double *X;              /* n x d */
  int32_t *labels;        /* n, or NULL */
  char **feature_names;   /* d */
  char **class_names;     /* k, or NULL for integer labels */
};

bool smr_has_zlib(void) { return SMR_HAVE_ZLIB != 0; }

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

static const char *display_name(const char *name) { return name != NULL ? name : "<memory>"; }

#if defined(__GNUC__)
#define SMR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SMR_PRINTF(f, a)
#endif

static smr_status fail(smr_error_detail *err, const char *name, smr_status s, size_t line,
                       size_t column, const char *fmt, ...) SMR_PRINTF(6, 7);

/* Sets err to "NAME:LINE:COL: what" and returns s. */
static smr_status fail(smr_error_detail *err, const char *name, smr_status s, size_t line,
                       size_t column, const char *fmt, ...) {
  if (err == NULL) return s;
  char what[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  name = display_name(name);
  if (line == 0)
    smr_set_error(err, 0, 0, "%s: %s", name, what);
  else if (column == 0)
    smr_set_error(err, line, 0, "%s:%zu: %s", name, line, what);
  else
    smr_set_error(err, line, column, "%s:%zu:%zu: %s", name, line, column, what);
  return s;
}

/* Thread-safe strerror (the XSI strerror_r under _POSIX_C_SOURCE). */
static void errno_text(int e, char *buf, size_t size) {
  if (strerror_r(e, buf, size) != 0) snprintf(buf, size, "error %d", e);
}

/* ------------------------------------------------------------------------ */
/* Growable arrays                                                           */
/* ------------------------------------------------------------------------ */

/* Makes room for `need` elements of `size` bytes in *p (capacity *cap),
   doubling. SMR_EOVERFLOW when the byte count does not fit in size_t. */
static smr_status reserve(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return SMR_OK;
  size_t ncap = *cap < 16 ? 16 : *cap;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) {
      ncap = need;
      break;
    }
    ncap *= 2;
  }
  size_t bytes;
  if (!smr_mul_ok(ncap, size, &bytes)) {
    ncap = need; /* retry without slack */
    if (!smr_mul_ok(ncap, size, &bytes)) return SMR_EOVERFLOW;
  }
  void *q = realloc(*p, bytes);
  if (q == NULL) return SMR_ENOMEM;
  *p = q;
  *cap = ncap;
  return SMR_OK;
}

static char *copy_string(const char *s, size_t len) {
  char *c = malloc(len + 1);
  if (c != NULL) {
    memcpy(c, s, len);
    c[len] = '\0';
  }
  return c;
}

static void free_strings(char **v, size_t count) {
  if (v == NULL) return;
  for (size_t i = 0; i < count; i++) free(v[i]);
  free(v);
}

/* ------------------------------------------------------------------------ */
/* Tokenizer                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct csv_reader {
  const char *t;          /* text */
  size_t len, pos;
  size_t line;            /* physical line at pos, 1-based */
  char delim;
  const char *name;
  smr_error_detail *err;
  char *field;            /* the current field, NUL-terminated */
  size_t field_len, field_cap;
  size_t field_line;      /* line where the current field starts */
} csv_reader;

static bool is_space(const csv_reader *r, char c) {
  return (c == ' ' || c == '\t') && c != r->delim;
}

static smr_status field_append(csv_reader *r, const char *s, size_t n) {
  if (n > SIZE_MAX - 1 - r->field_len) return SMR_EOVERFLOW;
  smr_status st = reserve((void **)&r->field, &r->field_cap, r->field_len + n + 1, 1);
  if (st != SMR_OK) return st;
  memcpy(r->field + r->field_len, s, n);
  r->field_len += n;
  r->field[r->field_len] = '\0';
  return SMR_OK;
}

/* True (and consumed) if the line at pos holds only spaces/tabs. */
static bool skip_blank_line(csv_reader *r) {
  size_t i = r->pos;
  while (i < r->len && is_space(r, r->t[i])) i++;
  if (i < r->len && r->t[i] == '\r' && (i + 1 == r->len || r->t[i + 1] == '\n')) i++;
  if (i == r->len) {
    r->pos = i;
    return true;
  }
  if (r->t[i] != '\n') return false;
  r->pos = i + 1;
  r->line++;
  return true;
}

static smr_status read_quoted(csv_reader *r, size_t *pi, size_t column) {
  size_t i = *pi + 1; /* after the opening quote */
  for (;;) {
    size_t start = i;
    while (i < r->len && r->t[i] != '"' && r->t[i] != '\0') {
      if (r->t[i] == '\n') r->line++;
      i++;
    }
    smr_status st = field_append(r, r->t + start, i - start);
    if (st != SMR_OK) return fail(r->err, r->name, st, r->field_line, column, "field too large");
    if (i == r->len)
      return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column, "unterminated quoted field");
    if (r->t[i] == '\0')
      return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column, "NUL byte");
    if (i + 1 < r->len && r->t[i + 1] == '"') { /* "" -> " */
      st = field_append(r, "\"", 1);
      if (st != SMR_OK) return fail(r->err, r->name, st, r->field_line, column, "field too large");
      i += 2;
      continue;
    }
    *pi = i + 1;
    return SMR_OK;
  }
}

/* Reads one field at pos into r->field. *last is set when the field ended
   its record (at LF, consumed, or at the end of the text). */
static smr_status read_field(csv_reader *r, size_t column, bool *last) {
  const char *t = r->t;
  size_t i = r->pos;
  r->field_len = 0;
  r->field_line = r->line;
  smr_status st = field_append(r, "", 0); /* ensures a NUL-terminated buffer */
  if (st != SMR_OK) return fail(r->err, r->name, st, r->field_line, column, "out of memory");
  while (i < r->len && is_space(r, t[i])) i++;
  if (i < r->len && t[i] == '"') {
    st = read_quoted(r, &i, column);
    if (st != SMR_OK) return st;
    while (i < r->len && is_space(r, t[i])) i++;
    if (i < r->len && t[i] == '\r' && (i + 1 == r->len || t[i + 1] == '\n')) i++;
    if (i < r->len && t[i] != '\n' && t[i] != r->delim)
      return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column,
                  "unexpected character after closing quote");
  } else {
    size_t start = i;
    while (i < r->len && t[i] != r->delim && t[i] != '\n') {
      if (t[i] == '"')
        return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column,
                    "quote inside an unquoted field");
      if (t[i] == '\0')
        return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column, "NUL byte");
      i++;
    }
    size_t stop = i;
    if ((i == r->len || t[i] == '\n') && stop > start && t[stop - 1] == '\r') stop--;
    while (stop > start && is_space(r, t[stop - 1])) stop--;
    st = field_append(r, t + start, stop - start);
    if (st != SMR_OK) return fail(r->err, r->name, st, r->field_line, column, "field too large");
  }
  if (i == r->len) {
    *last = true;
  } else if (t[i] == '\n') {
    *last = true;
    r->line++;
    i++;
  } else { /* delimiter */
    *last = false;
    i++;
  }
  r->pos = i;
  return SMR_OK;
}

/* Skips the rest of a record, counting its fields into *count. */
static smr_status skip_record(csv_reader *r, size_t *count) {
  bool last = false;
  while (!last) {
    smr_status st = read_field(r, *count + 1, &last);
    if (st != SMR_OK) return st;
    (*count)++;
  }
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

static bool is_c_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The current field as a finite double: spaces/tabs trimmed (also inside
   quotes), then strtod must read all of it. */
static smr_status parse_feature(csv_reader *r, size_t column, double *out) {
  char *s = r->field;
  size_t len = r->field_len;
  while (len > 0 && (*s == ' ' || *s == '\t')) {
    s++;
    len--;
  }
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (len == 0) return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column, "empty field");
  s[len] = '\0'; /* the field buffer is ours; this only cuts trailing blanks */
  char *end = NULL;
  double v = strtod(s, &end);
  int shown = len > 40 ? 40 : (int)len;
  if (is_c_space(s[0]) || end != s + len)
    return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column, "not a number: '%.*s'", shown,
                s);
  if (!isfinite(v))
    return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column, "non-finite value '%.*s'",
                shown, s);
  *out = v;
  return SMR_OK;
}

typedef enum int_label { LABEL_NOT_INT, LABEL_INT, LABEL_NEGATIVE, LABEL_TOO_LARGE } int_label;

/* Optional '-' then decimal digits; values above INT32_MAX - 1 (so that
   k = max + 1 fits in int32_t) are LABEL_TOO_LARGE. */
static int_label classify_label(const char *s, size_t len, int32_t *value) {
  size_t i = 0;
  bool neg = false;
  if (len > 0 && s[0] == '-') {
    neg = true;
    i = 1;
  }
  if (i == len) return LABEL_NOT_INT;
  uint64_t v = 0;
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return LABEL_NOT_INT;
    if (v <= UINT64_MAX / 16) v = v * 10 + (uint64_t)(s[i] - '0'); /* saturates far above */
  }
  if (neg && v != 0) return LABEL_NEGATIVE;
  if (v > (uint64_t)INT32_MAX - 1) return LABEL_TOO_LARGE;
  *value = (int32_t)v;
  return LABEL_INT;
}

/* ------------------------------------------------------------------------ */
/* Class-name lookup (opt->class_names)                                      */
/* ------------------------------------------------------------------------ */

typedef struct name_ref {
  const char *s;
  size_t index;
} name_ref;

static int cmp_name_ref(const void *a, const void *b) {
  const name_ref *x = a, *y = b;
  int c = strcmp(x->s, y->s);
  if (c != 0) return c;
  return (x->index > y->index) - (x->index < y->index);
}

/* Sorted, one entry per distinct name (the lowest index wins). */
static smr_status build_lookup(const char *const *names, size_t count, name_ref **out,
                               size_t *out_count) {
  size_t bytes;
  if (!smr_mul_ok(count, sizeof(name_ref), &bytes)) return SMR_EOVERFLOW;
  name_ref *v = malloc(bytes);
  if (v == NULL) return SMR_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    v[i].s = names[i];
    v[i].index = i;
  }
  qsort(v, count, sizeof *v, cmp_name_ref);
  size_t m = 0;
  for (size_t i = 0; i < count; i++)
    if (m == 0 || strcmp(v[m - 1].s, v[i].s) != 0) v[m++] = v[i];
  *out = v;
  *out_count = m;
  return SMR_OK;
}

static bool lookup_name(const name_ref *v, size_t count, const char *s, size_t *index) {
  size_t lo = 0, hi = count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(v[mid].s, s);
    if (c == 0) {
      *index = v[mid].index;
      return true;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct csv_parse {
  csv_reader r;
  const smr_csv_options *opt;
  char **header;            /* ncols names */
  size_t ncols, header_cap, header_line;
  size_t label_col;         /* SIZE_MAX: no labels */
  size_t n, d, rows_cap;
  double *X;
  int32_t *labels;
  name_ref *lookup;         /* opt->class_names, sorted */
  size_t lookup_count;
  /* string/integer labels, before the kind of the column is known */
  char *arena;              /* NUL-terminated label texts */
  size_t arena_len, arena_cap;
  size_t *label_off;        /* n offsets into arena */
  bool all_int;
  int_label first_bad;      /* first negative / too large integer label */
  size_t first_bad_line;
  char first_bad_text[48];
} csv_parse;

static smr_status read_header(csv_parse *p) {
  csv_reader *r = &p->r;
  while (r->pos < r->len && skip_blank_line(r)) {
  }
  if (r->pos == r->len)
    return fail(r->err, r->name, SMR_EFORMAT, r->line, 0, "no header row");
  p->header_line = r->line;
  bool last = false;
  while (!last) {
    smr_status st = read_field(r, p->ncols + 1, &last);
    if (st != SMR_OK) return st;
    st = reserve((void **)&p->header, &p->header_cap, p->ncols + 1, sizeof(char *));
    if (st != SMR_OK)
      return fail(r->err, r->name, st, r->field_line, p->ncols + 1, "too many columns");
    p->header[p->ncols] = copy_string(r->field, r->field_len);
    if (p->header[p->ncols] == NULL)
      return fail(r->err, r->name, SMR_ENOMEM, r->field_line, p->ncols + 1, "out of memory");
    p->ncols++;
  }
  const smr_csv_options *opt = p->opt;
  p->label_col = SIZE_MAX;
  if (!opt->no_labels) {
    if (opt->label_column != NULL) {
      for (size_t j = 0; j < p->ncols && p->label_col == SIZE_MAX; j++)
        if (strcmp(p->header[j], opt->label_column) == 0) p->label_col = j;
      if (p->label_col == SIZE_MAX)
        return fail(r->err, r->name, SMR_EFORMAT, p->header_line, 0,
                    "label column '%.60s' not found in the header", opt->label_column);
    } else {
      p->label_col = p->ncols - 1;
    }
  }
  p->d = p->ncols - (p->label_col != SIZE_MAX ? 1 : 0);
  if (p->d == 0)
    return fail(r->err, r->name, SMR_EFORMAT, p->header_line, 0, "no feature columns");
  return SMR_OK;
}

static smr_status store_label(csv_parse *p, size_t column) {
  csv_reader *r = &p->r;
  const char *s = r->field; /* exact field content (no NUL inside) */
  size_t len = r->field_len;
  if (len == 0) return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column, "empty field");
  if (p->lookup != NULL) {
    size_t idx;
    if (!lookup_name(p->lookup, p->lookup_count, s, &idx))
      return fail(r->err, r->name, SMR_ERANGE, r->field_line, column, "unknown class name '%.60s'",
                  s);
    p->labels[p->n] = (int32_t)idx;
    return SMR_OK;
  }
  if (len > SMR_MAX_NAME_LEN)
    return fail(r->err, r->name, SMR_EFORMAT, r->field_line, column,
                "label longer than %d bytes", SMR_MAX_NAME_LEN);
  if (p->all_int) {
    int32_t v = 0;
    int_label kind = classify_label(s, len, &v);
    if (kind == LABEL_NOT_INT) {
      p->all_int = false;
    } else if (kind == LABEL_INT) {
      p->labels[p->n] = v;
    } else if (p->first_bad == LABEL_INT) {
      p->first_bad = kind;
      p->first_bad_line = r->field_line;
      snprintf(p->first_bad_text, sizeof p->first_bad_text, "%.40s", s);
    }
  }
  if (len + 1 > SIZE_MAX - p->arena_len)
    return fail(r->err, r->name, SMR_EOVERFLOW, r->field_line, column, "labels too large");
  smr_status st = reserve((void **)&p->arena, &p->arena_cap, p->arena_len + len + 1, 1);
  if (st != SMR_OK) return fail(r->err, r->name, st, r->field_line, column, "labels too large");
  memcpy(p->arena + p->arena_len, s, len + 1);
  p->label_off[p->n] = p->arena_len;
  p->arena_len += len + 1;
  return SMR_OK;
}

/* Room for one more row in X, labels and label offsets. */
static smr_status grow_rows(csv_parse *p) {
  csv_reader *r = &p->r;
  if (p->n < p->rows_cap) return SMR_OK;
  size_t ncap = p->rows_cap < 16 ? 16 : p->rows_cap;
  while (ncap <= p->n) ncap = ncap > SIZE_MAX / 2 ? p->n + 1 : ncap * 2;
  size_t bytes;
  if (!smr_mul_ok(ncap, p->d, &bytes) || !smr_mul_ok(bytes, sizeof(double), &bytes))
    return fail(r->err, r->name, SMR_EOVERFLOW, r->line, 0, "too many rows");
  double *X = realloc(p->X, bytes);
  if (X == NULL) return fail(r->err, r->name, SMR_ENOMEM, r->line, 0, "out of memory");
  p->X = X;
  if (p->label_col != SIZE_MAX) {
    size_t l_cap = p->rows_cap, o_cap = p->rows_cap;
    smr_status st = reserve((void **)&p->labels, &l_cap, ncap, sizeof(int32_t));
    if (st == SMR_OK && p->lookup == NULL)
      st = reserve((void **)&p->label_off, &o_cap, ncap, sizeof(size_t));
    if (st != SMR_OK) return fail(r->err, r->name, st, r->line, 0, "too many rows");
  }
  p->rows_cap = ncap;
  return SMR_OK;
}

static smr_status read_row(csv_parse *p) {
  csv_reader *r = &p->r;
  smr_status st = grow_rows(p);
  if (st != SMR_OK) return st;
  double *row = p->X + p->n * p->d;
  size_t col = 0, feat = 0;
  bool last = false;
  while (!last) {
    st = read_field(r, col + 1, &last);
    if (st != SMR_OK) return st;
    if (col == p->ncols) { /* one field too many: count the rest */
      size_t line = r->field_line, got = col + 1;
      if (!last) {
        st = skip_record(r, &got);
        if (st != SMR_OK) return st;
      }
      return fail(r->err, r->name, SMR_EFORMAT, line, col + 1, "expected %zu fields, got %zu",
                  p->ncols, got);
    }
    if (col == p->label_col)
      st = store_label(p, col + 1);
    else
      st = parse_feature(r, col + 1, &row[feat++]);
    if (st != SMR_OK) return st;
    col++;
  }
  if (col < p->ncols)
    return fail(r->err, r->name, SMR_EFORMAT, r->field_line, col + 1,
                "expected %zu fields, got %zu", p->ncols, col);
  p->n++;
  return SMR_OK;
}

/* Integer labels: k = max + 1. */
static smr_status finish_int_labels(csv_parse *p, size_t *k) {
  csv_reader *r = &p->r;
  if (p->first_bad == LABEL_NEGATIVE)
    return fail(r->err, r->name, SMR_ERANGE, p->first_bad_line, p->label_col + 1,
                "negative label %s", p->first_bad_text);
  if (p->first_bad == LABEL_TOO_LARGE)
    return fail(r->err, r->name, SMR_ERANGE, p->first_bad_line, p->label_col + 1,
                "label %s too large (at most %ld)", p->first_bad_text, (long)INT32_MAX - 1);
  int32_t max = 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->labels[i] > max) max = p->labels[i];
  *k = (size_t)max + 1;
  return SMR_OK;
}

/* String labels: indices follow the distinct names sorted by strcmp. */
static smr_status finish_string_labels(csv_parse *p, size_t *k, char ***names) {
  csv_reader *r = &p->r;
  size_t bytes;
  if (!smr_mul_ok(p->n, sizeof(name_ref), &bytes))
    return fail(r->err, r->name, SMR_EOVERFLOW, 0, 0, "too many rows");
  name_ref *v = malloc(bytes);
  if (v == NULL) return fail(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
  for (size_t i = 0; i < p->n; i++) {
    v[i].s = p->arena + p->label_off[i];
    v[i].index = i;
  }
  qsort(v, p->n, sizeof *v, cmp_name_ref);
  size_t count = 0;
  for (size_t i = 0; i < p->n; i++)
    if (i == 0 || strcmp(v[i - 1].s, v[i].s) != 0) count++;
  if (count > (size_t)INT32_MAX) {
    free(v);
    return fail(r->err, r->name, SMR_ERANGE, 0, 0, "too many distinct labels");
  }
  char **out = calloc(count, sizeof(char *));
  if (out == NULL) {
    free(v);
    return fail(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
  }
  size_t c = 0;
  for (size_t i = 0; i < p->n; i++) {
    if (i == 0 || strcmp(v[i - 1].s, v[i].s) != 0) {
      out[c] = copy_string(v[i].s, strlen(v[i].s));
      if (out[c] == NULL) {
        free_strings(out, count);
        free(v);
        return fail(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
      }
      c++;
    }
    p->labels[v[i].index] = (int32_t)(c - 1);
  }
  free(v);
  *k = count;
  *names = out;
  return SMR_OK;
}

static smr_status copy_names(const char *const *src, size_t count, char ***out) {
  char **v = calloc(count, sizeof(char *));
  if (v == NULL) return SMR_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    v[i] = copy_string(src[i], strlen(src[i]));
    if (v[i] == NULL) {
      free_strings(v, count);
      return SMR_ENOMEM;
    }
  }
  *out = v;
  return SMR_OK;
}

static smr_status build_dataset(csv_parse *p, smr_dataset **out) {
  csv_reader *r = &p->r;
  smr_dataset *ds = calloc(1, sizeof *ds);
  if (ds == NULL) return fail(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
  ds->n = p->n;
  ds->d = p->d;
  smr_status st = SMR_OK;
  if (p->label_col != SIZE_MAX) {
    if (p->lookup != NULL) {
      ds->k = p->opt->num_class_names;
      st = copy_names(p->opt->class_names, ds->k, &ds->class_names);
      if (st != SMR_OK) st = fail(r->err, r->name, st, 0, 0, "out of memory");
    } else if (p->all_int) {
      st = finish_int_labels(p, &ds->k);
    } else {
      st = finish_string_labels(p, &ds->k, &ds->class_names);
    }
    if (st != SMR_OK) {
      smr_dataset_free(ds);
      return st;
    }
  }
  /* feature names: the header without the label column */
  ds->feature_names = calloc(p->d, sizeof(char *));
  if (ds->feature_names == NULL) {
    smr_dataset_free(ds);
    return fail(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
  }
  size_t f = 0;
  for (size_t j = 0; j < p->ncols; j++) {
    if (j == p->label_col) continue;
    ds->feature_names[f++] = p->header[j];
    p->header[j] = NULL;
  }
  /* shrink to fit; failure to shrink is harmless */
  size_t bytes = p->n * p->d * sizeof(double); /* <= the checked capacity */
  double *X = realloc(p->X, bytes);
  ds->X = X != NULL ? X : p->X;
  p->X = NULL;
  if (p->label_col != SIZE_MAX) {
    int32_t *L = realloc(p->labels, p->n * sizeof(int32_t));
    ds->labels = L != NULL ? L : p->labels;
    p->labels = NULL;
  }
  *out = ds;
  return SMR_OK;
}

static smr_status check_options(const smr_csv_options *opt, const char *name,
                                smr_error_detail *err) {
  char c = opt->delimiter;
  if (c == '"' || c == '\n' || c == '\r')
    return fail(err, name, SMR_EINVAL, 0, 0, "invalid delimiter");
  if (!opt->no_labels && opt->class_names != NULL) {
    if (opt->num_class_names == 0 || opt->num_class_names > (size_t)INT32_MAX)
      return fail(err, name, SMR_EINVAL, 0, 0, "invalid number of class names");
    for (size_t i = 0; i < opt->num_class_names; i++)
      if (opt->class_names[i] == NULL)
        return fail(err, name, SMR_EINVAL, 0, 0, "class name %zu is NULL", i);
  }
  return SMR_OK;
}

smr_status smr_dataset_parse_csv(smr_dataset **out, const char *text, size_t len,
                                 const char *name, const smr_csv_options *opt,
                                 smr_error_detail *err) {
  if (out == NULL) return fail(err, name, SMR_EINVAL, 0, 0, "out is NULL");
  *out = NULL;
  if (text == NULL && len > 0) return fail(err, name, SMR_EINVAL, 0, 0, "text is NULL");
  smr_csv_options defaults = {0};
  if (opt == NULL) opt = &defaults;
  smr_status st = check_options(opt, name, err);
  if (st != SMR_OK) return st;

  csv_parse p;
  memset(&p, 0, sizeof p);
  p.r.t = text;
  p.r.len = len;
  p.r.line = 1;
  p.r.delim = opt->delimiter != 0 ? opt->delimiter : ',';
  p.r.name = name;
  p.r.err = err;
  p.opt = opt;
  p.all_int = true;
  p.first_bad = LABEL_INT;
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.r.pos = 3; /* UTF-8 BOM */

  if (!opt->no_labels && opt->class_names != NULL) {
    st = build_lookup(opt->class_names, opt->num_class_names, &p.lookup, &p.lookup_count);
    if (st != SMR_OK) st = fail(err, name, st, 0, 0, "out of memory");
  }
  if (st == SMR_OK) st = read_header(&p);
  while (st == SMR_OK) {
    if (p.r.pos < p.r.len && skip_blank_line(&p.r)) continue;
    if (p.r.pos == p.r.len) break;
    st = read_row(&p);
  }
  if (st == SMR_OK && p.n == 0)
    st = fail(err, name, SMR_EFORMAT, p.header_line, 0, "no data rows");
  if (st == SMR_OK) st = build_dataset(&p, out);

  free_strings(p.header, p.ncols);
  free(p.r.field);
  free(p.X);
  free(p.labels);
  free(p.lookup);
  free(p.arena);
  free(p.label_off);
  return st;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

/* Reads the whole file (decompressing gzip when built with zlib). */
static smr_status slurp(const char *path, char **out, size_t *out_len, smr_error_detail *err) {
  char ebuf[128];
  char *buf = NULL;
  size_t len = 0;
  smr_status st = SMR_OK;
#if SMR_HAVE_ZLIB
  size_t cap = 0;
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (f == NULL) {
    if (errno == 0) return fail(err, path, SMR_ENOMEM, 0, 0, "cannot open: out of memory");
    errno_text(errno, ebuf, sizeof ebuf);
    return fail(err, path, SMR_EIO, 0, 0, "cannot open: %s", ebuf);
  }
  gzbuffer(f, 1u << 17);
  for (;;) {
    if (cap - len < (1u << 16)) {
      if (len > SIZE_MAX - (1u << 16)) {
        st = fail(err, path, SMR_EOVERFLOW, 0, 0, "file too large");
        break;
      }
      st = reserve((void **)&buf, &cap, len + (1u << 16), 1);
      if (st != SMR_OK) {
        st = fail(err, path, st, 0, 0, "file too large for memory");
        break;
      }
    }
    size_t room = cap - len;
    unsigned want = room > (1u << 30) ? (1u << 30) : (unsigned)room;
    errno = 0;
    int got = gzread(f, buf + len, want);
    if (got < 0) {
      int e = errno, zerr = Z_OK;
      const char *msg = gzerror(f, &zerr);
      if (zerr == Z_ERRNO) {
        errno_text(e, ebuf, sizeof ebuf);
        st = fail(err, path, SMR_EIO, 0, 0, "read error: %s", ebuf);
      } else if (zerr == Z_MEM_ERROR) {
        st = fail(err, path, SMR_ENOMEM, 0, 0, "out of memory");
      } else {
        st = fail(err, path, SMR_EFORMAT, 0, 0, "corrupt gzip data: %s", msg);
      }
      break;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  int zc = gzclose_r(f);
  if (st == SMR_OK && zc == Z_BUF_ERROR)
    st = fail(err, path, SMR_EFORMAT, 0, 0, "truncated gzip data");
  else if (st == SMR_OK && zc != Z_OK)
    st = fail(err, path, SMR_EIO, 0, 0, "error closing the file");
#else
  bool open_failed;
  unsigned char *bytes = NULL;
  st = smr_read_file(path, SIZE_MAX, &bytes, &len, &open_failed);
  buf = (char *)bytes;
  if (st == SMR_EIO) {
    errno_text(errno, ebuf, sizeof ebuf);
    st = fail(err, path, SMR_EIO, 0, 0, open_failed ? "cannot open: %s" : "read error: %s", ebuf);
  } else if (st == SMR_EFORMAT) {
    st = fail(err, path, SMR_EOVERFLOW, 0, 0, "file too large");
  } else if (st == SMR_ENOMEM) {
    st = fail(err, path, SMR_ENOMEM, 0, 0, "file too large for memory");
  }
#endif
  if (st != SMR_OK) {
    free(buf);
    return st;
  }
  *out = buf;
  *out_len = len;
  return SMR_OK;
}

smr_status smr_dataset_read_csv(smr_dataset **out, const char *path, const smr_csv_options *opt,
                                smr_error_detail *err) {
  if (out == NULL || path == NULL) return fail(err, path, SMR_EINVAL, 0, 0, "NULL argument");
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  smr_status st = slurp(path, &text, &len, err);
  if (st != SMR_OK) return st;
  st = smr_dataset_parse_csv(out, text, len, path, opt, err);
  free(text);
  return st;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */
/* ------------------------------------------------------------------------ */

void smr_dataset_free(smr_dataset *ds) {
  if (ds == NULL) return;
  free(ds->X);
  free(ds->labels);
  free_strings(ds->feature_names, ds->d);
  free_strings(ds->class_names, ds->k);
  free(ds);
}

size_t smr_dataset_num_rows(const smr_dataset *ds) { return ds != NULL ? ds->n : 0; }
size_t smr_dataset_num_features(const smr_dataset *ds) { return ds != NULL ? ds->d : 0; }
size_t smr_dataset_num_classes(const smr_dataset *ds) { return ds != NULL ? ds->k : 0; }
const double *smr_dataset_features(const smr_dataset *ds) { return ds != NULL ? ds->X : NULL; }
const int32_t *smr_dataset_labels(const smr_dataset *ds) {
  return ds != NULL ? ds->labels : NULL;
}

const char *smr_dataset_class_name(const smr_dataset *ds, size_t j) {
  if (ds == NULL || ds->class_names == NULL || j >= ds->k) return NULL;
  return ds->class_names[j];
}

const char *const *smr_dataset_class_names(const smr_dataset *ds) {
  if (ds == NULL) return NULL;
  return (const char *const *)ds->class_names;
}

const char *smr_dataset_feature_name(const smr_dataset *ds, size_t j) {
  if (ds == NULL || j >= ds->d) return NULL;
  return ds->feature_names[j];
}

smr_status smr_dataset_features_f32(const smr_dataset *ds, float *out) {
  if (ds == NULL || (out == NULL && ds->n > 0)) return SMR_EINVAL;
  size_t cells = ds->n * ds->d; /* checked when the data set was built */
  for (size_t i = 0; i < cells; i++)
    if (fabs(ds->X[i]) > (double)FLT_MAX) return SMR_ERANGE;
  for (size_t i = 0; i < cells; i++) out[i] = (float)ds->X[i];
  return SMR_OK;
}
