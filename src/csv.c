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
 *     verbatim inside quotes), at most SMR_MAX_NAME_LEN bytes, never
 *     empty. The classes are the distinct labels in sorted order: integers
 *     (an optional sign and digits, any length) by value through their
 *     canonical text, anything else by strcmp; a class is named by its
 *     label. Nothing is sized from a label's value.
 *   - The first line is the header unless opt->header says otherwise; by
 *     default a first line of only numbers is an error (data, not names?).
 *
 * Reading: files are parsed as they arrive, in pieces that end after the
 * last LF outside quotes (parse_piece), so memory holds the data set and
 * one piece; gzip is inflated here (every member; other bytes after one are
 * an error); at most opt->max_bytes of text are read.
 *
 * Error positions: line = 1-based physical line where the offending field
 * starts (quoted fields may span lines), column = 1-based field number in
 * its record; 0 where not applicable. The message is "NAME:LINE:COL: what"
 * ("NAME:LINE: what" when column is 0, "NAME: what" when line is 0); NAME is
 * the path, the caller's name, or "<memory>". Errors are reported in reading
 * order.
 */
#include "internal.h"
#include "smr_config.h"
#include "dataset.h"
#include "text_source.h"

#include <float.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


bool smr_has_zlib(void) { return SMR_HAVE_ZLIB != 0; }

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

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
    if (st != SMR_OK) return smr_fail_at(r->err, r->name, st, r->field_line, column, "field too large");
    if (i == r->len)
      return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column, "unterminated quoted field");
    if (r->t[i] == '\0')
      return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column, "NUL byte");
    if (i + 1 < r->len && r->t[i + 1] == '"') { /* "" -> " */
      st = field_append(r, "\"", 1);
      if (st != SMR_OK) return smr_fail_at(r->err, r->name, st, r->field_line, column, "field too large");
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
  if (st != SMR_OK) return smr_fail_at(r->err, r->name, st, r->field_line, column, "out of memory");
  while (i < r->len && is_space(r, t[i])) i++;
  if (i < r->len && t[i] == '"') {
    st = read_quoted(r, &i, column);
    if (st != SMR_OK) return st;
    while (i < r->len && is_space(r, t[i])) i++;
    if (i < r->len && t[i] == '\r' && (i + 1 == r->len || t[i + 1] == '\n')) i++;
    if (i < r->len && t[i] != '\n' && t[i] != r->delim)
      return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column,
                  "unexpected character after closing quote");
  } else {
    size_t start = i;
    while (i < r->len && t[i] != r->delim && t[i] != '\n') {
      if (t[i] == '"')
        return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column,
                    "quote inside an unquoted field");
      if (t[i] == '\0')
        return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column, "NUL byte");
      i++;
    }
    size_t stop = i;
    if ((i == r->len || t[i] == '\n') && stop > start && t[stop - 1] == '\r') stop--;
    while (stop > start && is_space(r, t[stop - 1])) stop--;
    st = field_append(r, t + start, stop - start);
    if (st != SMR_OK) return smr_fail_at(r->err, r->name, st, r->field_line, column, "field too large");
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
  if (len == 0) return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column, "empty field");
  s[len] = '\0'; /* the field buffer is ours; this only cuts trailing blanks */
  char *end = NULL;
  double v = strtod(s, &end);
  int shown = len > 40 ? 40 : (int)len;
  if (is_c_space(s[0]) || end != s + len)
    return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column, "not a number: '%.*s'", shown,
                s);
  if (!isfinite(v))
    return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column, "non-finite value '%.*s'",
                shown, s);
  *out = v;
  return SMR_OK;
}

/* An integer label: an optional sign and decimal digits, of any length.
   Its canonical form (no '+', no leading zeros, "0" for any zero) is
   written to out (at most len + 1 bytes, NUL-terminated); false for a
   label that is not an integer. Integers are compared as numbers through
   their canonical forms, so "+1", "01" and "1" are one class named "1". */
static bool canonical_int(const char *s, size_t len, char *out) {
  size_t i = 0;
  bool neg = false;
  if (len > 0 && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == len) return false;
  for (size_t j = i; j < len; j++)
    if (s[j] < '0' || s[j] > '9') return false;
  while (i + 1 < len && s[i] == '0') i++;
  if (s[i] == '0') neg = false; /* -0 is 0 */
  size_t o = 0;
  if (neg) out[o++] = '-';
  memmove(out + o, s + i, len - i); /* out may be s: o <= i */
  out[o + len - i] = '\0';
  return true;
}

/* Canonical integers as numbers: negatives first, then by magnitude
   (length, then digits). */
static int cmp_canonical_int(const char *a, const char *b) {
  const bool na = a[0] == '-', nb = b[0] == '-';
  if (na != nb) return na ? -1 : 1;
  const size_t la = strlen(a), lb = strlen(b);
  int c = la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
  return na ? -c : c;
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

static int cmp_int_ref(const void *a, const void *b) {
  const name_ref *x = a, *y = b;
  int c = cmp_canonical_int(x->s, y->s);
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
  bool all_int;             /* every label so far an integer */
  bool header_done, first_piece;
} csv_parse;

/* True when the whole field reads as a number (strtod, after trimming). */
static bool field_is_number(const char *s, size_t len) {
  while (len > 0 && (*s == ' ' || *s == '\t')) {
    s++;
    len--;
  }
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (len == 0 || len > 400 || is_c_space(s[0])) return false;
  char buf[401];
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *end = NULL;
  (void)strtod(buf, &end);
  return end == buf + len;
}

/* The first record: the header (column names), or with header =
   SMR_CSV_HEADER_ABSENT only its field count (columns named "1", "2", ...)
   and the record is read again as data. */
static smr_status read_header(csv_parse *p) {
  csv_reader *r = &p->r;
  const smr_csv_options *opt = p->opt;
  while (r->pos < r->len && skip_blank_line(r)) {
  }
  if (r->pos == r->len)
    return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->line, 0, "no header row");
  p->header_line = r->line;
  const bool absent = opt->header == SMR_CSV_HEADER_ABSENT;
  const size_t pos0 = r->pos, line0 = r->line;
  bool last = false, all_numbers = true;
  while (!last) {
    smr_status st = read_field(r, p->ncols + 1, &last);
    if (st != SMR_OK) return st;
    st = reserve((void **)&p->header, &p->header_cap, p->ncols + 1, sizeof(char *));
    if (st != SMR_OK)
      return smr_fail_at(r->err, r->name, st, r->field_line, p->ncols + 1, "too many columns");
    if (all_numbers && !field_is_number(r->field, r->field_len)) all_numbers = false;
    char num[24];
    if (absent) snprintf(num, sizeof num, "%zu", p->ncols + 1);
    p->header[p->ncols] = absent ? copy_string(num, strlen(num))
                                 : copy_string(r->field, r->field_len);
    if (p->header[p->ncols] == NULL)
      return smr_fail_at(r->err, r->name, SMR_ENOMEM, r->field_line, p->ncols + 1, "out of memory");
    p->ncols++;
  }
  if (absent) {
    r->pos = pos0; /* the record is data: read it again */
    r->line = line0;
  } else if (all_numbers && opt->header != SMR_CSV_HEADER_PRESENT) {
    return smr_fail_at(r->err, r->name, SMR_EFORMAT, p->header_line, 0,
                "the first line holds only numbers: data, not a header? Say which "
                "(smr_csv_options.header; smr: --no-header or --header)");
  }
  p->label_col = SIZE_MAX;
  if (!opt->no_labels) {
    if (opt->label_column != NULL) {
      for (size_t j = 0; j < p->ncols && p->label_col == SIZE_MAX; j++)
        if (strcmp(p->header[j], opt->label_column) == 0) p->label_col = j;
      if (p->label_col == SIZE_MAX)
        return smr_fail_at(r->err, r->name, SMR_EFORMAT, p->header_line, 0,
                    absent ? "label column %.60s: no such column number"
                           : "label column '%.60s' not found in the header",
                    opt->label_column);
    } else {
      p->label_col = p->ncols - 1;
    }
  }
  p->d = p->ncols - (p->label_col != SIZE_MAX ? 1 : 0);
  if (p->d == 0)
    return smr_fail_at(r->err, r->name, SMR_EFORMAT, p->header_line, 0, "no feature columns");
  p->header_done = true;
  return SMR_OK;
}

static smr_status store_label(csv_parse *p, size_t column) {
  csv_reader *r = &p->r;
  const char *s = r->field; /* exact field content (no NUL inside) */
  size_t len = r->field_len;
  if (len == 0) return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column, "empty field");
  if (len > SMR_MAX_NAME_LEN)
    return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, column,
                "label longer than %d bytes", SMR_MAX_NAME_LEN);
  if (p->lookup != NULL) {
    size_t idx;
    char canon[SMR_MAX_NAME_LEN + 2];
    if (!lookup_name(p->lookup, p->lookup_count, s, &idx) &&
        !(canonical_int(s, len, canon) && lookup_name(p->lookup, p->lookup_count, canon, &idx)))
      return smr_fail_at(r->err, r->name, SMR_ERANGE, r->field_line, column, "unknown class name '%.60s'",
                  s);
    p->labels[p->n] = (int32_t)idx;
    return SMR_OK;
  }
  if (len + 1 > SIZE_MAX - p->arena_len)
    return smr_fail_at(r->err, r->name, SMR_EOVERFLOW, r->field_line, column, "labels too large");
  smr_status st = reserve((void **)&p->arena, &p->arena_cap, p->arena_len + len + 1, 1);
  if (st != SMR_OK) return smr_fail_at(r->err, r->name, st, r->field_line, column, "labels too large");
  char *dst = p->arena + p->arena_len;
  /* the text as read; its canonical form (never longer) replaces it at the
     end if every label is an integer */
  if (p->all_int && !canonical_int(s, len, dst)) p->all_int = false;
  memcpy(dst, s, len + 1);
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
    return smr_fail_at(r->err, r->name, SMR_EOVERFLOW, r->line, 0, "too many rows");
  double *X = realloc(p->X, bytes);
  if (X == NULL) return smr_fail_at(r->err, r->name, SMR_ENOMEM, r->line, 0, "out of memory");
  p->X = X;
  if (p->label_col != SIZE_MAX) {
    size_t l_cap = p->rows_cap, o_cap = p->rows_cap;
    smr_status st = reserve((void **)&p->labels, &l_cap, ncap, sizeof(int32_t));
    if (st == SMR_OK && p->lookup == NULL)
      st = reserve((void **)&p->label_off, &o_cap, ncap, sizeof(size_t));
    if (st != SMR_OK) return smr_fail_at(r->err, r->name, st, r->line, 0, "too many rows");
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
      return smr_fail_at(r->err, r->name, SMR_EFORMAT, line, col + 1, "expected %zu fields, got %zu",
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
    return smr_fail_at(r->err, r->name, SMR_EFORMAT, r->field_line, col + 1,
                "expected %zu fields, got %zu", p->ncols, col);
  p->n++;
  return SMR_OK;
}

/* Labels to classes: the distinct labels in sorted order (integers as
   numbers, anything else by strcmp); class j's name is its label (an
   integer's canonical form). The count of classes is at most the number of
   rows: no label value ever sizes anything. */
static smr_status finish_labels(csv_parse *p, size_t *k, char ***names) {
  csv_reader *r = &p->r;
  size_t bytes;
  if (!smr_mul_ok(p->n, sizeof(name_ref), &bytes))
    return smr_fail_at(r->err, r->name, SMR_EOVERFLOW, 0, 0, "too many rows");
  name_ref *v = malloc(bytes);
  if (v == NULL) return smr_fail_at(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
  for (size_t i = 0; i < p->n; i++) {
    char *t = p->arena + p->label_off[i];
    if (p->all_int) (void)canonical_int(t, strlen(t), t); /* in place */
    v[i].s = t;
    v[i].index = i;
  }
  qsort(v, p->n, sizeof *v, p->all_int ? cmp_int_ref : cmp_name_ref);
  size_t count = 0;
  for (size_t i = 0; i < p->n; i++)
    if (i == 0 || strcmp(v[i - 1].s, v[i].s) != 0) count++;
  if (count > (size_t)INT32_MAX) {
    free(v);
    return smr_fail_at(r->err, r->name, SMR_ERANGE, 0, 0, "too many distinct labels");
  }
  char **out = calloc(count, sizeof(char *));
  if (out == NULL) {
    free(v);
    return smr_fail_at(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
  }
  size_t c = 0;
  for (size_t i = 0; i < p->n; i++) {
    if (i == 0 || strcmp(v[i - 1].s, v[i].s) != 0) {
      out[c] = copy_string(v[i].s, strlen(v[i].s));
      if (out[c] == NULL) {
        smr_free_strings(out, count);
        free(v);
        return smr_fail_at(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
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
      smr_free_strings(v, count);
      return SMR_ENOMEM;
    }
  }
  *out = v;
  return SMR_OK;
}

static smr_status build_dataset(csv_parse *p, smr_dataset **out) {
  csv_reader *r = &p->r;
  smr_dataset *ds = calloc(1, sizeof *ds);
  if (ds == NULL) return smr_fail_at(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
  ds->n = p->n;
  ds->d = p->d;
  smr_status st = SMR_OK;
  if (p->label_col != SIZE_MAX) {
    if (p->lookup != NULL) {
      ds->k = p->opt->num_class_names;
      st = copy_names(p->opt->class_names, ds->k, &ds->class_names);
      if (st != SMR_OK) st = smr_fail_at(r->err, r->name, st, 0, 0, "out of memory");
    } else {
      st = finish_labels(p, &ds->k, &ds->class_names);
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
    return smr_fail_at(r->err, r->name, SMR_ENOMEM, 0, 0, "out of memory");
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
    return smr_fail_at(err, name, SMR_EINVAL, 0, 0, "invalid delimiter");
  if ((unsigned)opt->header > (unsigned)SMR_CSV_HEADER_ABSENT)
    return smr_fail_at(err, name, SMR_EINVAL, 0, 0, "invalid header option");
  if (!opt->no_labels && opt->class_names != NULL) {
    if (opt->num_class_names == 0 || opt->num_class_names > (size_t)INT32_MAX)
      return smr_fail_at(err, name, SMR_EINVAL, 0, 0, "invalid number of class names");
    for (size_t i = 0; i < opt->num_class_names; i++)
      if (opt->class_names[i] == NULL)
        return smr_fail_at(err, name, SMR_EINVAL, 0, 0, "class name %zu is NULL", i);
  }
  return SMR_OK;
}

/* ------------------------------------------------------------------------ */
/* Incremental parsing                                                       */
/* ------------------------------------------------------------------------ */

/* Text is fed in pieces that end at a record boundary (after an LF outside
   quotes), or, with final, at the end of the input; the reader's line count
   carries over. */
static smr_status parse_piece(csv_parse *p, const char *t, size_t len, bool final,
                              size_t *consumed) {
  csv_reader *r = &p->r;
  r->t = t;
  r->len = len;
  r->pos = 0;
  smr_status st = SMR_OK;
  if (!p->header_done) {
    if (p->first_piece && (len >= 3 || final)) {
      p->first_piece = false;
      if (len >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0) r->pos = 3; /* UTF-8 BOM */
    }
    while (r->pos < r->len && skip_blank_line(r)) {
    }
    if (r->pos < r->len || final) st = read_header(p);
  }
  while (st == SMR_OK && p->header_done) {
    if (r->pos < r->len && skip_blank_line(r)) continue;
    if (r->pos == r->len) break;
    st = read_row(p);
  }
  if (r->pos > 0) p->first_piece = false; /* a BOM counts only at offset 0 */
  *consumed = r->pos;
  return st;
}

static smr_status parse_begin(csv_parse *p, const char *name, const smr_csv_options *opt,
                              smr_error_detail *err) {
  memset(p, 0, sizeof *p);
  p->r.line = 1;
  p->r.delim = opt->delimiter != 0 ? opt->delimiter : ',';
  p->r.name = name;
  p->r.err = err;
  p->opt = opt;
  p->all_int = true;
  p->first_piece = true;
  if (!opt->no_labels && opt->class_names != NULL) {
    smr_status st = build_lookup(opt->class_names, opt->num_class_names, &p->lookup,
                                 &p->lookup_count);
    if (st != SMR_OK) return smr_fail_at(err, name, st, 0, 0, "out of memory");
  }
  return SMR_OK;
}

/* After the last piece: the data set, or the error. Frees the parser. */
static smr_status parse_end(csv_parse *p, smr_status st, smr_dataset **out) {
  if (st == SMR_OK && !p->header_done)
    st = smr_fail_at(p->r.err, p->r.name, SMR_EFORMAT, p->r.line, 0, "no header row");
  if (st == SMR_OK && p->n == 0)
    st = smr_fail_at(p->r.err, p->r.name, SMR_EFORMAT, p->header_line, 0, "no data rows");
  if (st == SMR_OK) st = build_dataset(p, out);
  smr_free_strings(p->header, p->ncols);
  free(p->r.field);
  free(p->X);
  free(p->labels);
  free(p->lookup);
  free(p->arena);
  free(p->label_off);
  return st;
}

static size_t max_bytes_of(const smr_csv_options *opt) {
  return opt->max_bytes != 0 ? opt->max_bytes : SMR_CSV_DEFAULT_MAX_BYTES;
}

static smr_status too_large(smr_error_detail *err, const char *name, size_t limit) {
  return smr_fail_at(err, name, SMR_EFORMAT, 0, 0,
              "input larger than the limit of %zu bytes (smr_csv_options.max_bytes; smr: "
              "--max-input-mb)",
              limit);
}

smr_status smr_dataset_parse_csv(smr_dataset **out, const char *text, size_t len,
                                 const char *name, const smr_csv_options *opt,
                                 smr_error_detail *err) {
  if (out == NULL) return smr_fail_at(err, name, SMR_EINVAL, 0, 0, "out is NULL");
  *out = NULL;
  if (text == NULL && len > 0) return smr_fail_at(err, name, SMR_EINVAL, 0, 0, "text is NULL");
  smr_csv_options defaults = {0};
  if (opt == NULL) opt = &defaults;
  smr_status st = check_options(opt, name, err);
  if (st != SMR_OK) return st;
  if (len > max_bytes_of(opt)) return too_large(err, name, max_bytes_of(opt));
  csv_parse p;
  st = parse_begin(&p, name, opt, err);
  size_t used = 0;
  if (st == SMR_OK) st = parse_piece(&p, text != NULL ? text : "", len, true, &used);
  return parse_end(&p, st, out);
}

/* ------------------------------------------------------------------------ */
/* Files: plain or gzip (text_source.c), parsed in pieces                    */
/* ------------------------------------------------------------------------ */

/* The text is parsed as it arrives: memory holds the data set and one
   piece of text (at least TEXT_CHUNK, more only for a longer record), and
   at most max_bytes of text are read. A NUL byte ends the reading at once
   (the parser reports it with its position). */
smr_status smr_dataset_read_csv(smr_dataset **out, const char *path, const smr_csv_options *opt,
                                smr_error_detail *err) {
  if (out == NULL || path == NULL) return smr_fail_at(err, path, SMR_EINVAL, 0, 0, "NULL argument");
  *out = NULL;
  smr_csv_options defaults = {0};
  if (opt == NULL) opt = &defaults;
  smr_status st = check_options(opt, path, err);
  if (st != SMR_OK) return st;
  const size_t limit = max_bytes_of(opt);
  text_source src;
  st = smr_source_open(&src, path, err);
  csv_parse p;
  smr_status pst = parse_begin(&p, path, opt, err);
  if (st == SMR_OK) st = pst;
  char *buf = NULL;
  size_t cap = 0, have = 0, scanned = 0, safe = 0, total = 0;
  bool inq = false, done = false;
  while (st == SMR_OK && !done) {
    if (cap - have < TEXT_CHUNK) {
      st = reserve((void **)&buf, &cap, have + TEXT_CHUNK, 1);
      if (st != SMR_OK) {
        st = smr_fail_at(err, path, st, 0, 0, "out of memory");
        break;
      }
    }
    size_t got = 0;
    st = smr_source_read(&src, buf + have, cap - have, &got);
    if (st != SMR_OK) break;
    if (got > limit - total) {
      st = too_large(err, path, limit);
      break;
    }
    total += got;
    have += got;
    done = got == 0;
    /* the last LF outside quotes: the pieces end there */
    for (; scanned < have; scanned++) {
      const char c = buf[scanned];
      if (c == '"') inq = !inq;
      else if (c == '\n' && !inq) safe = scanned + 1;
      else if (c == '\0') done = true;
    }
    size_t used = 0;
    st = parse_piece(&p, buf, done ? have : safe, done, &used);
    if (st != SMR_OK || done) break;
    memmove(buf, buf + used, have - used);
    have -= used;
    scanned -= used;
    safe -= used;
  }
  free(buf);
  smr_source_close(&src);
  return parse_end(&p, st, out);
}
