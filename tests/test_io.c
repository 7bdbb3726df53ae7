/* test_io.c - CSV data sets and model files: shapes and values against an
 * independent reading of the data files, the dialect's corner cases, every
 * error with its position, bit-exact model round trips, rejection of
 * truncated/corrupted/implausible model files, and seeded fuzz loops
 * (seed printed; SMR_FUZZ_SEED=<n> replays another one).
 */
#include "smr.h"
#include "smr_config.h"
#include "isa_guard.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if SMR_HAVE_ZLIB
#include <zlib.h>
#endif

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static char tmp_dir[64]; /* made by main, emptied and removed at the end */

static void tmp_path(char *out, size_t size, const char *file) {
  snprintf(out, size, "%s/%s", tmp_dir, file);
}

static const char *data_dir(void) {
  const char *d = getenv("SMR_DATA_DIR");
  return d != NULL && d[0] != '\0' ? d : "data";
}

static void data_path(char *out, size_t size, const char *file) {
  snprintf(out, size, "%s/%s", data_dir(), file);
}

/* The whole file, NUL-terminated. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  ck_assert_ptr_nonnull(buf);
  for (;;) {
    if (n + 1 >= cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      ck_assert_ptr_nonnull(buf);
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    if (got == 0) break;
    n += got;
  }
  fclose(f);
  buf[n] = '\0';
  if (len != NULL) *len = n;
  return buf;
}

static void write_bytes(const char *path, const void *p, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(p, 1, len, f), len);
  ck_assert_int_eq(fclose(f), 0);
}

static smr_status parse(smr_dataset **ds, const char *text, const smr_csv_options *opt,
                        smr_error_detail *err) {
  return smr_dataset_parse_csv(ds, text, strlen(text), "t.csv", opt, err);
}

static smr_dataset *parse_ok(const char *text, const smr_csv_options *opt) {
  smr_dataset *ds = NULL;
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  smr_status st = parse(&ds, text, opt, &err);
  ck_assert_msg(st == SMR_OK, "parse failed (%s): %s", smr_strerror(st), err.message);
  ck_assert_ptr_nonnull(ds);
  return ds;
}

/* The parse must fail with `status` at (line, column), with a message that
   starts with "t.csv:LINE:COL: " (or the shorter forms for 0) and contains
   `what`. */
static void expect_error(const char *text, const smr_csv_options *opt, smr_status status,
                         size_t line, size_t column, const char *what) {
  smr_dataset *ds = (smr_dataset *)&ds; /* must be reset to NULL */
  smr_error_detail err;
  memset(&err, 0x55, sizeof err);
  smr_status st = parse(&ds, text, opt, &err);
  ck_assert_msg(st == status, "status %s, expected %s, for input \"%s\" (%s)", smr_strerror(st),
                smr_strerror(status), text, st == SMR_OK ? "" : err.message);
  ck_assert_ptr_null(ds);
  ck_assert_msg(err.line == line && err.column == column,
                "position %zu:%zu, expected %zu:%zu (%s)", err.line, err.column, line, column,
                err.message);
  char prefix[64];
  if (line == 0)
    snprintf(prefix, sizeof prefix, "t.csv: ");
  else if (column == 0)
    snprintf(prefix, sizeof prefix, "t.csv:%zu: ", line);
  else
    snprintf(prefix, sizeof prefix, "t.csv:%zu:%zu: ", line, column);
  ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0, "message '%s', prefix '%s'",
                err.message, prefix);
  ck_assert_msg(strstr(err.message, what) != NULL, "message '%s' lacks '%s'", err.message, what);
}

/* Deterministic generator for the fuzz loops (splitmix64). */
static uint64_t rng_state;
static uint64_t rnd(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static size_t rnd_below(size_t n) { return (size_t)(rnd() % n); }

static uint64_t fuzz_seed(void) {
  const char *s = getenv("SMR_FUZZ_SEED");
  return s != NULL && s[0] != '\0' ? strtoull(s, NULL, 0) : 0x5EEDC0DEull;
}

/* ------------------------------------------------------------------------ */
/* CSV: the bundled data sets against an independent reading                */
/* ------------------------------------------------------------------------ */

/* Splits the plain (unquoted, comma-separated, CRLF or LF) data file by hand
   and compares every value and label. */
static void check_against_text(const char *file, size_t n, size_t d, size_t k) {
  char path[512];
  data_path(path, sizeof path, file);
  smr_dataset *ds = NULL;
  smr_error_detail err;
  smr_status st = smr_dataset_read_csv(&ds, path, NULL, &err);
  ck_assert_msg(st == SMR_OK, "%s: %s", path, err.message);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), n);
  ck_assert_uint_eq(smr_dataset_num_features(ds), d);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), k);
  /* integer labels 0..k-1: the classes are their values, named by them */
  char want_name[24];
  for (size_t j = 0; j < k; j++) {
    snprintf(want_name, sizeof want_name, "%zu", j);
    ck_assert_str_eq(smr_dataset_class_name(ds, j), want_name);
  }
  ck_assert_ptr_null(smr_dataset_class_name(ds, k));
  const double *X = smr_dataset_features(ds);
  const int32_t *y = smr_dataset_labels(ds);
  ck_assert_ptr_nonnull(X);
  ck_assert_ptr_nonnull(y);

  char *text = slurp(path, NULL);
  char *save = NULL;
  char *line = strtok_r(text, "\n", &save);
  /* header: feature names */
  size_t j = 0;
  char *hsave = NULL;
  line[strcspn(line, "\r")] = '\0';
  for (char *f = strtok_r(line, ",", &hsave); f != NULL; f = strtok_r(NULL, ",", &hsave), j++)
    if (j < d) ck_assert_str_eq(smr_dataset_feature_name(ds, j), f);
  ck_assert_uint_eq(j, d + 1);
  ck_assert_ptr_null(smr_dataset_feature_name(ds, d));
  int32_t max_label = 0;
  size_t i = 0;
  while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
    line[strcspn(line, "\r")] = '\0';
    if (line[0] == '\0') continue;
    ck_assert_uint_lt(i, n);
    char *fsave = NULL;
    j = 0;
    for (char *f = strtok_r(line, ",", &fsave); f != NULL; f = strtok_r(NULL, ",", &fsave), j++) {
      if (j < d) {
        double v = strtod(f, NULL);
        ck_assert_msg(X[i * d + j] == v, "%s row %zu col %zu: %.17g != %.17g", file, i, j,
                      X[i * d + j], v);
      } else {
        long lab = strtol(f, NULL, 10);
        ck_assert_int_eq(y[i], lab);
        if (y[i] > max_label) max_label = y[i];
      }
    }
    ck_assert_uint_eq(j, d + 1);
    i++;
  }
  ck_assert_uint_eq(i, n);
  ck_assert_int_eq(max_label + 1, (int)k);
  free(text);

  /* f32 copy */
  float *F = malloc(n * d * sizeof(float));
  ck_assert_ptr_nonnull(F);
  ck_assert_int_eq(smr_dataset_features_f32(ds, F), SMR_OK);
  for (size_t c = 0; c < n * d; c++) ck_assert(F[c] == (float)X[c]);
  ck_assert_int_eq(smr_dataset_features_f32(ds, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_dataset_features_f32(NULL, F), SMR_EINVAL);
  free(F);
  smr_dataset_free(ds);
}

START_TEST(test_csv_iris) { check_against_text("iris.csv", 150, 4, 3); }
END_TEST

START_TEST(test_csv_wine) { check_against_text("wine.csv", 178, 13, 3); }
END_TEST

START_TEST(test_csv_digits) { check_against_text("digits.csv", 1797, 64, 10); }
END_TEST

START_TEST(test_csv_null_accessors) {
  ck_assert_uint_eq(smr_dataset_num_rows(NULL), 0);
  ck_assert_uint_eq(smr_dataset_num_features(NULL), 0);
  ck_assert_uint_eq(smr_dataset_num_classes(NULL), 0);
  ck_assert_ptr_null(smr_dataset_features(NULL));
  ck_assert_ptr_null(smr_dataset_labels(NULL));
  ck_assert_ptr_null(smr_dataset_class_name(NULL, 0));
  ck_assert_ptr_null(smr_dataset_class_names(NULL));
  ck_assert_ptr_null(smr_dataset_feature_name(NULL, 0));
  smr_dataset_free(NULL);
  ck_assert_int_eq(smr_has_zlib(), SMR_HAVE_ZLIB != 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* CSV: dialect                                                              */
/* ------------------------------------------------------------------------ */

START_TEST(test_csv_string_labels_sorted) {
  smr_dataset *ds = parse_ok("a,b,species\n1,2,virginica\n3,4,setosa\n5,6,versicolor\n"
                             "7,8,setosa\n",
                             NULL);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 4);
  ck_assert_uint_eq(smr_dataset_num_features(ds), 2);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 3);
  ck_assert_str_eq(smr_dataset_class_name(ds, 0), "setosa");
  ck_assert_str_eq(smr_dataset_class_name(ds, 1), "versicolor");
  ck_assert_str_eq(smr_dataset_class_name(ds, 2), "virginica");
  ck_assert_ptr_null(smr_dataset_class_name(ds, 3));
  const char *const *names = smr_dataset_class_names(ds);
  ck_assert_ptr_nonnull(names);
  ck_assert_str_eq(names[2], "virginica");
  const int32_t want[] = {2, 0, 1, 0};
  ck_assert_mem_eq(smr_dataset_labels(ds), want, sizeof want);
  const double X[] = {1, 2, 3, 4, 5, 6, 7, 8};
  ck_assert_mem_eq(smr_dataset_features(ds), X, sizeof X);
  smr_dataset_free(ds);

  /* one non-integer label turns the whole column into names; strcmp order
     ("10" < "2" < "x") */
  ds = parse_ok("a,l\n1,2\n2,10\n3,x\n4,2\n", NULL);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 3);
  ck_assert_str_eq(smr_dataset_class_name(ds, 0), "10");
  ck_assert_str_eq(smr_dataset_class_name(ds, 1), "2");
  ck_assert_str_eq(smr_dataset_class_name(ds, 2), "x");
  const int32_t want2[] = {1, 0, 2, 1};
  ck_assert_mem_eq(smr_dataset_labels(ds), want2, sizeof want2);
  smr_dataset_free(ds);

  /* integer labels: the classes are the distinct values in numeric order
     (never max + 1: a class 0 with no rows was a phantom), named by their
     canonical form; "007" and "7" are one class */
  ds = parse_ok("a,l\n1,4\n2,0\n3,007\n4,7\n", NULL);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 3);
  const int32_t want3[] = {1, 0, 2, 2};
  ck_assert_mem_eq(smr_dataset_labels(ds), want3, sizeof want3);
  ck_assert_str_eq(smr_dataset_class_name(ds, 0), "0");
  ck_assert_str_eq(smr_dataset_class_name(ds, 1), "4");
  ck_assert_str_eq(smr_dataset_class_name(ds, 2), "7");
  smr_dataset_free(ds);

  /* labels 1..3 are 3 classes, not 4 */
  ds = parse_ok("a,l\n1,1\n2,2\n3,3\n", NULL);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 3);
  const int32_t want4[] = {0, 1, 2};
  ck_assert_mem_eq(smr_dataset_labels(ds), want4, sizeof want4);
  smr_dataset_free(ds);

  /* 0/1000/2000: 3 classes; a label's value never sizes anything */
  ds = parse_ok("a,l\n1,2000\n2,0\n3,1000\n4,2000000000\n5,99999999999999999999999\n", NULL);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 5);
  const int32_t want5[] = {2, 0, 1, 3, 4};
  ck_assert_mem_eq(smr_dataset_labels(ds), want5, sizeof want5);
  ck_assert_str_eq(smr_dataset_class_name(ds, 4), "99999999999999999999999");
  smr_dataset_free(ds);

  /* negative integers are numbers: -1 < 1, and -1/1 is the same as -1/+1;
     -10 < -9 < -0 = 0 < 9 */
  const char *signs[] = {"a,l\n1,-1\n2,1\n3,1\n", "a,l\n1,-1\n2,+1\n3,1\n"};
  for (int v = 0; v < 2; v++) {
    ds = parse_ok(signs[v], NULL);
    ck_assert_uint_eq(smr_dataset_num_classes(ds), 2);
    ck_assert_str_eq(smr_dataset_class_name(ds, 0), "-1");
    ck_assert_str_eq(smr_dataset_class_name(ds, 1), "1");
    const int32_t want6[] = {0, 1, 1};
    ck_assert_mem_eq(smr_dataset_labels(ds), want6, sizeof want6);
    smr_dataset_free(ds);
  }
  ds = parse_ok("a,l\n1,9\n2,-9\n3,-0\n4,-10\n5,0\n", NULL);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 4);
  const int32_t want7[] = {3, 1, 2, 0, 2};
  ck_assert_mem_eq(smr_dataset_labels(ds), want7, sizeof want7);
  ck_assert_str_eq(smr_dataset_class_name(ds, 0), "-10");
  ck_assert_str_eq(smr_dataset_class_name(ds, 2), "0");
  smr_dataset_free(ds);
}
END_TEST

START_TEST(test_csv_class_names_mapping) {
  const char *names[] = {"virginica", "setosa", "versicolor"};
  smr_csv_options opt = {.class_names = names, .num_class_names = 3};
  smr_dataset *ds = parse_ok("a,b,species\n1,2,virginica\n3,4,setosa\n5,6,versicolor\n", &opt);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 3);
  const int32_t want[] = {0, 1, 2};
  ck_assert_mem_eq(smr_dataset_labels(ds), want, sizeof want);
  ck_assert_str_eq(smr_dataset_class_name(ds, 0), "virginica");
  ck_assert_str_eq(smr_dataset_class_name(ds, 2), "versicolor");
  smr_dataset_free(ds);

  /* integer-looking labels are matched as names too; k = num_class_names
     even when a class does not occur */
  const char *digits[] = {"2", "0", "1", "9"};
  smr_csv_options opt2 = {.class_names = digits, .num_class_names = 4};
  ds = parse_ok("x,label\n1,1\n2,2\n3,0\n", &opt2);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 4);
  const int32_t want2[] = {2, 0, 1};
  ck_assert_mem_eq(smr_dataset_labels(ds), want2, sizeof want2);
  smr_dataset_free(ds);

  /* duplicate names: the first one wins */
  const char *dup[] = {"b", "a", "b"};
  smr_csv_options opt3 = {.class_names = dup, .num_class_names = 3};
  ds = parse_ok("x,label\n1,b\n2,a\n", &opt3);
  const int32_t want3[] = {0, 1};
  ck_assert_mem_eq(smr_dataset_labels(ds), want3, sizeof want3);
  smr_dataset_free(ds);

  /* bad option combinations */
  smr_dataset *bad = NULL;
  smr_csv_options opt4 = {.class_names = dup, .num_class_names = 0};
  ck_assert_int_eq(parse(&bad, "x,l\n1,a\n", &opt4, NULL), SMR_EINVAL);
  const char *with_null[] = {"a", NULL};
  smr_csv_options opt5 = {.class_names = with_null, .num_class_names = 2};
  ck_assert_int_eq(parse(&bad, "x,l\n1,a\n", &opt5, NULL), SMR_EINVAL);
  ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_csv_label_column_by_name) {
  smr_csv_options opt = {.label_column = "label"};
  smr_dataset *ds = parse_ok("f1,label,f2\n1,0,2\n3,1,4\n5,1,6\n", &opt);
  ck_assert_uint_eq(smr_dataset_num_features(ds), 2);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 2);
  ck_assert_str_eq(smr_dataset_feature_name(ds, 0), "f1");
  ck_assert_str_eq(smr_dataset_feature_name(ds, 1), "f2");
  const double X[] = {1, 2, 3, 4, 5, 6};
  ck_assert_mem_eq(smr_dataset_features(ds), X, sizeof X);
  const int32_t y[] = {0, 1, 1};
  ck_assert_mem_eq(smr_dataset_labels(ds), y, sizeof y);
  smr_dataset_free(ds);

  /* first column as label */
  smr_csv_options first = {.label_column = "y"};
  ds = parse_ok("y,a\n1,0.5\n0,0.25\n", &first);
  ck_assert_uint_eq(smr_dataset_num_features(ds), 1);
  const double X2[] = {0.5, 0.25};
  ck_assert_mem_eq(smr_dataset_features(ds), X2, sizeof X2);
  smr_dataset_free(ds);
}
END_TEST

START_TEST(test_csv_no_labels) {
  smr_csv_options opt = {.no_labels = true};
  smr_dataset *ds = parse_ok("a,b,c\n1,2,3\n4,5,6\n", &opt);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 2);
  ck_assert_uint_eq(smr_dataset_num_features(ds), 3);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 0);
  ck_assert_ptr_null(smr_dataset_labels(ds));
  ck_assert_ptr_null(smr_dataset_class_names(ds));
  ck_assert_str_eq(smr_dataset_feature_name(ds, 2), "c");
  const double X[] = {1, 2, 3, 4, 5, 6};
  ck_assert_mem_eq(smr_dataset_features(ds), X, sizeof X);
  smr_dataset_free(ds);

  /* no_labels wins over label_column; a single column is fine */
  smr_csv_options opt2 = {.no_labels = true, .label_column = "nope"};
  ds = parse_ok("only\n1\n2\n", &opt2);
  ck_assert_uint_eq(smr_dataset_num_features(ds), 1);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 2);
  smr_dataset_free(ds);
}
END_TEST

START_TEST(test_csv_delimiters) {
  smr_csv_options semi = {.delimiter = ';'};
  smr_dataset *ds = parse_ok("a;b;label\n1.5;-2e3;0\n0x10;.5;1\n", &semi);
  const double X[] = {1.5, -2000, 16, 0.5};
  ck_assert_mem_eq(smr_dataset_features(ds), X, sizeof X);
  smr_dataset_free(ds);

  /* tab-separated: tabs delimit, spaces are still trimmed */
  smr_csv_options tab = {.delimiter = '\t'};
  ds = parse_ok("a\tb\tlabel\n 1 \t2\t0\n3\t 4\t1 \n", &tab);
  const double X2[] = {1, 2, 3, 4};
  ck_assert_mem_eq(smr_dataset_features(ds), X2, sizeof X2);
  smr_dataset_free(ds);
  /* so an empty field between two tabs is empty, not blank-trimmed away */
  expect_error("a\tb\tlabel\n1\t\t0\n", &tab, SMR_EFORMAT, 2, 2, "empty field");

  smr_csv_options quote = {.delimiter = '"'};
  smr_dataset *bad = NULL;
  ck_assert_int_eq(parse(&bad, "a\"b\n1\"0\n", &quote, NULL), SMR_EINVAL);
  smr_csv_options nl = {.delimiter = '\n'};
  ck_assert_int_eq(parse(&bad, "a\n1\n", &nl, NULL), SMR_EINVAL);
  ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_csv_quotes) {
  const char *text = "\"a,1\",\"b\"\"q\",label\n"
                     "\"1.5\", 2 ,\"x,y\"\n"
                     " 3 ,\" 4 \", \"he said \"\"hi\"\"\" \n"
                     "5,6,\"two\nlines\"\n"
                     "7,8,x\n";
  smr_dataset *ds = parse_ok(text, NULL);
  ck_assert_str_eq(smr_dataset_feature_name(ds, 0), "a,1");
  ck_assert_str_eq(smr_dataset_feature_name(ds, 1), "b\"q");
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 4);
  const double X[] = {1.5, 2, 3, 4, 5, 6, 7, 8};
  ck_assert_mem_eq(smr_dataset_features(ds), X, sizeof X);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 4);
  ck_assert_str_eq(smr_dataset_class_name(ds, 0), "he said \"hi\"");
  ck_assert_str_eq(smr_dataset_class_name(ds, 1), "two\nlines");
  ck_assert_str_eq(smr_dataset_class_name(ds, 2), "x");
  ck_assert_str_eq(smr_dataset_class_name(ds, 3), "x,y");
  const int32_t y[] = {3, 0, 1, 2};
  ck_assert_mem_eq(smr_dataset_labels(ds), y, sizeof y);
  smr_dataset_free(ds);

  /* a quoted newline advances the line count used in later errors */
  expect_error("a,label\n1,\"x\ny\"\n2,\n", NULL, SMR_EFORMAT, 4, 2, "empty field");
  /* quoted labels keep their spaces: " a" and "a" differ */
  ds = parse_ok("x,l\n1,\" a\"\n2,a\n", NULL);
  ck_assert_uint_eq(smr_dataset_num_classes(ds), 2);
  ck_assert_str_eq(smr_dataset_class_name(ds, 0), " a");
  smr_dataset_free(ds);
}
END_TEST

START_TEST(test_csv_line_endings_and_blanks) {
  const double X[] = {1, 2, 3, 4};
  const int32_t y[] = {0, 1};
  const char *texts[] = {
      "a,b,l\r\n1,2,0\r\n3,4,1\r\n",           /* CRLF */
      "a,b,l\n1,2,0\n3,4,1",                   /* no final newline */
      "a,b,l\r\n1,2,0\r\n3,4,1\r",             /* CR at the very end */
      "\n\n  \na,b,l\n\n1,2,0\n \t \n\r\n3,4,1\n\n\n", /* blank lines */
      "\357\273\277a,b,l\n1,2,0\n3,4,1\n", /* UTF-8 BOM */
      "a , b ,\tl\n 1,2 ,0\n3\t,4, 1\n",        /* blanks around fields */
  };
  for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
    smr_dataset *ds = parse_ok(texts[t], NULL);
    ck_assert_uint_eq(smr_dataset_num_rows(ds), 2);
    ck_assert_uint_eq(smr_dataset_num_features(ds), 2);
    ck_assert_mem_eq(smr_dataset_features(ds), X, sizeof X);
    ck_assert_mem_eq(smr_dataset_labels(ds), y, sizeof y);
    ck_assert_str_eq(smr_dataset_feature_name(ds, 0), "a");
    ck_assert_str_eq(smr_dataset_feature_name(ds, 1), "b");
    smr_dataset_free(ds);
  }
  /* lines are counted across blank lines and CRLF */
  expect_error("\r\na,l\r\n\r\n1,0\r\n\r\nx,1\r\n", NULL, SMR_EFORMAT, 6, 1, "not a number");
  /* text with no NUL terminator: parse exactly len bytes */
  const char text[] = "a,l\n1,0\n2,1\n99";
  smr_dataset *ds = NULL;
  ck_assert_int_eq(smr_dataset_parse_csv(&ds, text, sizeof text - 3, NULL, NULL, NULL), SMR_OK);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 2);
  smr_dataset_free(ds);
}
END_TEST

START_TEST(test_csv_numbers) {
  smr_csv_options nl = {.no_labels = true};
  smr_dataset *ds = parse_ok("a,b,c,d,e\n1e-320,-0,+3,1.7976931348623157e308,\" -2.5 \"\n", &nl);
  const double *X = smr_dataset_features(ds);
  ck_assert(X[0] == 1e-320 && X[0] > 0); /* subnormal kept */
  ck_assert(X[1] == 0 && signbit(X[1]));
  ck_assert(X[2] == 3);
  ck_assert(X[3] == 1.7976931348623157e308);
  ck_assert(X[4] == -2.5);
  smr_dataset_free(ds);
}
END_TEST

/* smr_dataset_copy_*: chosen rows and leading columns, in order; the f32
   range error names the row and column and writes nothing; bad arguments. */
START_TEST(test_csv_copy_rows) {
  smr_csv_options nl = {.no_labels = true};
  smr_dataset *ds = parse_ok("a,b,c\n1,2,3\n4.5,5,6\n7,8,-9.25\n", &nl);
  const size_t rows[3] = {2, 0, 2};
  double d64[6];
  float f32[9];
  ck_assert_int_eq(smr_dataset_copy_f64(ds, rows, 3, 2, d64, NULL), SMR_OK);
  const double want[6] = {7, 8, 1, 2, 7, 8};
  for (int i = 0; i < 6; i++) ck_assert(d64[i] == want[i]);
  ck_assert_int_eq(smr_dataset_copy_f32(ds, NULL, 3, 3, f32, NULL), SMR_OK); /* all rows */
  const float wantf[9] = {1, 2, 3, 4.5f, 5, 6, 7, 8, -9.25f};
  for (int i = 0; i < 9; i++) ck_assert(f32[i] == wantf[i]);
  /* zero rows or columns: nothing read or written, out may be NULL */
  ck_assert_int_eq(smr_dataset_copy_f32(ds, NULL, 0, 3, NULL, NULL), SMR_OK);
  ck_assert_int_eq(smr_dataset_copy_f64(ds, rows, 3, 0, NULL, NULL), SMR_OK);
  /* bad arguments */
  const size_t bad_row[1] = {3};
  ck_assert_int_eq(smr_dataset_copy_f64(ds, bad_row, 1, 1, d64, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_dataset_copy_f64(ds, NULL, 4, 1, d64, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_dataset_copy_f32(ds, NULL, 1, 4, f32, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_dataset_copy_f32(ds, NULL, 1, 1, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_dataset_copy_f32(NULL, NULL, 0, 0, f32, NULL), SMR_EINVAL);
  smr_dataset_free(ds);
  /* f32 range: the message names the data row and the column */
  ds = parse_ok("a,b\n1,2\n0,-1e39\n", &nl);
  float guard[4] = {7, 7, 7, 7};
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  ck_assert_int_eq(smr_dataset_copy_f32(ds, NULL, 2, 2, guard, &err), SMR_ERANGE);
  for (int i = 0; i < 4; i++) ck_assert(guard[i] == 7); /* untouched */
  ck_assert_uint_eq(err.line, 2);
  ck_assert_uint_eq(err.column, 2);
  ck_assert_msg(strstr(err.message, "data row 2, column 'b'") != NULL, "%s", err.message);
  /* the column beyond d is not looked at */
  ck_assert_int_eq(smr_dataset_copy_f32(ds, NULL, 2, 1, guard, NULL), SMR_OK);
  ck_assert(guard[0] == 1 && guard[1] == 0 && guard[2] == 7);
  double wide[4];
  ck_assert_int_eq(smr_dataset_copy_f64(ds, NULL, 2, 2, wide, &err), SMR_OK);
  ck_assert(wide[3] == -1e39);
  smr_dataset_free(ds);
}
END_TEST

/* The reference of smr_split_stratified, from its definition in smr.h:
   splitmix64 (Steele, Lea & Flood), rejection for a uniform index, a
   Fisher-Yates shuffle per class, round half up. */
static uint64_t ref_splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void ref_split(const int32_t *y, size_t n, size_t k, double f, uint64_t seed,
                      unsigned char *in_train) {
  uint64_t s = seed;
  size_t *rows = malloc(n * sizeof *rows);
  ck_assert_ptr_nonnull(rows);
  for (size_t c = 0; c < k; c++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if ((size_t)y[i] == c) rows[m++] = i;
    for (size_t i = m; i > 1; i--) {
      uint64_t v, lim = UINT64_MAX - UINT64_MAX % i;
      do v = ref_splitmix(&s); while (v >= lim);
      const size_t j = (size_t)(v % i), t = rows[i - 1];
      rows[i - 1] = rows[j];
      rows[j] = t;
    }
    const size_t mt = (size_t)floor(f * (double)m + 0.5);
    for (size_t i = 0; i < m; i++) in_train[rows[i]] = i < mt;
  }
  free(rows);
}

START_TEST(test_split_stratified) {
  enum { N = 203, K = 5 };
  int32_t y[N];
  for (size_t i = 0; i < N; i++) y[i] = (int32_t)((i * i + 3 * i) % 7 % K); /* uneven classes */
  size_t train[N], test[N], ntr, nte;
  unsigned char want[N];
  const double fractions[] = {0.0, 0.25, 0.7, 0.5, 1.0};
  for (size_t fi = 0; fi < sizeof fractions / sizeof fractions[0]; fi++) {
    for (uint64_t seed = 0; seed < 4; seed++) {
      ck_assert_int_eq(smr_split_stratified(y, N, K, fractions[fi], seed, train, &ntr, test, &nte),
                       SMR_OK);
      ck_assert_uint_eq(ntr + nte, N);
      ref_split(y, N, K, fractions[fi], seed, want);
      for (size_t i = 0; i < ntr; i++) {
        ck_assert(want[train[i]]);
        if (i > 0) ck_assert(train[i - 1] < train[i]); /* increasing */
      }
      for (size_t i = 0; i < nte; i++) {
        ck_assert(!want[test[i]]);
        if (i > 0) ck_assert(test[i - 1] < test[i]);
      }
    }
  }
  /* a class of 1 row at 0.5 rounds half up: it trains */
  const int32_t one[3] = {0, 1, 1};
  ck_assert_int_eq(smr_split_stratified(one, 3, 2, 0.5, 9, train, &ntr, test, &nte), SMR_OK);
  ck_assert_uint_eq(ntr, 2);
  ck_assert_uint_eq(train[0], 0);
  /* another seed gives another split */
  size_t train2[N], ntr2;
  ck_assert_int_eq(smr_split_stratified(y, N, K, 0.5, 1, train, &ntr, test, &nte), SMR_OK);
  ck_assert_int_eq(smr_split_stratified(y, N, K, 0.5, 2, train2, &ntr2, test, &nte), SMR_OK);
  ck_assert(ntr == ntr2 && memcmp(train, train2, ntr * sizeof *train) != 0);
  /* arguments */
  ck_assert_int_eq(smr_split_stratified(NULL, 0, 1, 0.5, 0, NULL, &ntr, NULL, &nte), SMR_OK);
  ck_assert_uint_eq(ntr + nte, 0);
  ck_assert_int_eq(smr_split_stratified(y, N, 0, 0.5, 0, train, &ntr, test, &nte), SMR_EINVAL);
  ck_assert_int_eq(smr_split_stratified(y, N, K, 1.5, 0, train, &ntr, test, &nte), SMR_EINVAL);
  ck_assert_int_eq(smr_split_stratified(y, N, K, NAN, 0, train, &ntr, test, &nte), SMR_EINVAL);
  ck_assert_int_eq(smr_split_stratified(y, N, K, 0.5, 0, NULL, &ntr, test, &nte), SMR_EINVAL);
  ck_assert_int_eq(smr_split_stratified(y, N, K, 0.5, 0, train, NULL, test, &nte), SMR_EINVAL);
  ck_assert_int_eq(smr_split_stratified(y, N, K - 1, 0.5, 0, train, &ntr, test, &nte),
                   SMR_ERANGE);
}
END_TEST

/* Values beyond float's range are refused, not silently made inf. */
START_TEST(test_csv_features_f32_range) {
  smr_csv_options nl = {.no_labels = true};
  smr_dataset *ds = parse_ok("a,b\n1.5,-2.25\n3.4028234663852886e38,-1e-50\n", &nl);
  float out[4] = {0};
  ck_assert_int_eq(smr_dataset_features_f32(ds, out), SMR_OK);
  ck_assert(out[0] == 1.5f && out[1] == -2.25f && out[2] == FLT_MAX && out[3] == -0.0f);
  smr_dataset_free(ds);
  ds = parse_ok("a,b\n1,2\n-1e39,0\n", &nl);
  float guard[4] = {7, 7, 7, 7};
  ck_assert_int_eq(smr_dataset_features_f32(ds, guard), SMR_ERANGE);
  for (int i = 0; i < 4; i++) ck_assert(guard[i] == 7); /* untouched */
  ck_assert_int_eq(smr_dataset_features_f32(NULL, guard), SMR_EINVAL);
  smr_dataset_free(ds);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* CSV: errors and their positions                                           */
/* ------------------------------------------------------------------------ */

START_TEST(test_csv_errors) {
  expect_error("a,b,c\n1,2,0\n3,4\n", NULL, SMR_EFORMAT, 3, 3, "expected 3 fields, got 2");
  expect_error("a,b,c\n1,2,0,9,9\n", NULL, SMR_EFORMAT, 2, 4, "expected 3 fields, got 5");
  expect_error("a,b,c\n1,2,0\n1,x,0\n", NULL, SMR_EFORMAT, 3, 2, "not a number: 'x'");
  expect_error("a,b,c\n1,2 3,0\n", NULL, SMR_EFORMAT, 2, 2, "not a number");
  expect_error("a,b,c\n1,\v2,0\n", NULL, SMR_EFORMAT, 2, 2, "not a number");
  expect_error("a,b,c\n1,,0\n", NULL, SMR_EFORMAT, 2, 2, "empty field");
  expect_error("a,b,c\n1,  ,0\n", NULL, SMR_EFORMAT, 2, 2, "empty field");
  expect_error("a,b,c\n1,2,\n", NULL, SMR_EFORMAT, 2, 3, "empty field");
  expect_error("a,b,c\n1,\"\",0\n", NULL, SMR_EFORMAT, 2, 2, "empty field");
  expect_error("a,b,c\n1,2,0\nnan,2,0\n", NULL, SMR_EFORMAT, 3, 1, "non-finite value");
  expect_error("a,b,c\n1,inf,0\n", NULL, SMR_EFORMAT, 2, 2, "non-finite value");
  expect_error("a,b,c\n1,-Infinity,0\n", NULL, SMR_EFORMAT, 2, 2, "non-finite value");
  expect_error("a,b,c\n1,1e999,0\n", NULL, SMR_EFORMAT, 2, 2, "non-finite value");
  expect_error("a,b,c\n1,NAN(123),0\n", NULL, SMR_EFORMAT, 2, 2, "non-finite value");
  smr_csv_options species = {.label_column = "species"};
  expect_error("a,b,c\n1,2,0\n", &species, SMR_EFORMAT, 1, 0, "'species' not found");
  expect_error("\na,b,c\n", NULL, SMR_EFORMAT, 2, 0, "no data rows");
  expect_error("a,b,c\n\n\n", NULL, SMR_EFORMAT, 1, 0, "no data rows");
  expect_error("", NULL, SMR_EFORMAT, 1, 0, "no header row");
  expect_error("\n \n", NULL, SMR_EFORMAT, 3, 0, "no header row");
  expect_error("label\n0\n", NULL, SMR_EFORMAT, 1, 0, "no feature columns");
  const char *names[] = {"a", "b"};
  smr_csv_options map = {.class_names = names, .num_class_names = 2};
  expect_error("x,y\n1,a\n2,c\n", &map, SMR_ERANGE, 3, 2, "unknown class name 'c'");
  expect_error("x,y\n1,a\n2,A\n", &map, SMR_ERANGE, 3, 2, "unknown class name");
  /* quoting errors */
  expect_error("a,b\n\"1,0\n", NULL, SMR_EFORMAT, 2, 1, "unterminated quoted field");
  expect_error("a,b\n1,0\n2,\"1\n\n", NULL, SMR_EFORMAT, 3, 2, "unterminated quoted field");
  expect_error("a,b\n\"1\"x,0\n", NULL, SMR_EFORMAT, 2, 1, "after closing quote");
  expect_error("a,b\n1,0\"\n", NULL, SMR_EFORMAT, 2, 2, "quote inside");
  expect_error("a,b\n\"1\n\"x,0\n", NULL, SMR_EFORMAT, 2, 1, "after closing quote");
  /* the first error in reading order wins */
  expect_error("a,b,c\nx,2\n", NULL, SMR_EFORMAT, 2, 1, "not a number");
  expect_error("a,\"b\nc\",d\n1,2\n", NULL, SMR_EFORMAT, 3, 3, "expected 3 fields, got 2");

  /* NUL bytes (only reachable through an explicit length) */
  const char nul[] = "a,b\n1,\0\n";
  smr_dataset *ds = NULL;
  smr_error_detail err;
  ck_assert_int_eq(smr_dataset_parse_csv(&ds, nul, sizeof nul - 1, NULL, NULL, &err),
                   SMR_EFORMAT);
  ck_assert_uint_eq(err.line, 2);
  ck_assert_uint_eq(err.column, 2);
  ck_assert_str_eq(err.message, "<memory>:2:2: NUL byte");

  /* argument errors; err may be NULL */
  ck_assert_int_eq(smr_dataset_parse_csv(NULL, "a\n1\n", 4, NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_dataset_parse_csv(&ds, NULL, 4, NULL, NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_dataset_parse_csv(&ds, NULL, 0, NULL, NULL, NULL), SMR_EFORMAT);
  ck_assert_int_eq(smr_dataset_parse_csv(&ds, "a,b\nx,1\n", 8, NULL, NULL, NULL), SMR_EFORMAT);
  ck_assert_ptr_null(ds);
  ck_assert_int_eq(smr_dataset_read_csv(NULL, "x", NULL, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_dataset_read_csv(&ds, NULL, NULL, NULL), SMR_EINVAL);
}
END_TEST

START_TEST(test_csv_file_errors) {
  char path[256];
  tmp_path(path, sizeof path, "does-not-exist.csv");
  smr_dataset *ds = (smr_dataset *)&ds;
  smr_error_detail err;
  ck_assert_int_eq(smr_dataset_read_csv(&ds, path, NULL, &err), SMR_EIO);
  ck_assert_ptr_null(ds);
  ck_assert_uint_eq(err.line, 0);
  ck_assert_uint_eq(err.column, 0);
  ck_assert_msg(strstr(err.message, path) != NULL, "%s", err.message);
  ck_assert_msg(strstr(err.message, "No such file") != NULL, "%s", err.message);

  /* a directory cannot be read */
  ck_assert_int_eq(smr_dataset_read_csv(&ds, tmp_dir, NULL, &err), SMR_EIO);

  /* errors inside a file carry its path */
  tmp_path(path, sizeof path, "bad.csv");
  write_bytes(path, "a,b\n1,0\nzz,1\n", 13);
  ck_assert_int_eq(smr_dataset_read_csv(&ds, path, NULL, &err), SMR_EFORMAT);
  char want[320];
  snprintf(want, sizeof want, "%s:3:1: not a number: 'zz'", path);
  ck_assert_str_eq(err.message, want);
  unlink(path);
}
END_TEST

/* The first line (finding: scikit-learn's digits.csv, which has no
   header, trained on 1796 of its 1797 rows without a word). */
START_TEST(test_csv_header_option) {
  /* a first line of numbers only is an error by default, naming the option */
  expect_error("1,2,0\n3,4,1\n", NULL, SMR_EFORMAT, 1, 0, "only numbers");
  expect_error(" 1.5e3 , -2 ,0\n3,4,1\n", NULL, SMR_EFORMAT, 1, 0, "--no-header");
  /* one non-number makes it a header, as before */
  smr_dataset *ds = parse_ok("1,2,label\n3,4,1\n", NULL);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 1);
  smr_dataset_free(ds);
  /* PRESENT: a numeric header is taken as names */
  smr_csv_options present = {.header = SMR_CSV_HEADER_PRESENT};
  ds = parse_ok("1,2,0\n3,4,1\n5,6,0\n", &present);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 2);
  ck_assert_str_eq(smr_dataset_feature_name(ds, 1), "2");
  smr_dataset_free(ds);
  /* ABSENT: every line is a row; columns are named by number */
  smr_csv_options absent = {.header = SMR_CSV_HEADER_ABSENT};
  ds = parse_ok("\n1,2,0\n3,4,1\n5,6,0\n", &absent);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 3);
  ck_assert_uint_eq(smr_dataset_num_features(ds), 2);
  ck_assert_str_eq(smr_dataset_feature_name(ds, 0), "1");
  ck_assert_str_eq(smr_dataset_feature_name(ds, 1), "2");
  const double want[] = {1, 2, 3, 4, 5, 6};
  ck_assert_mem_eq(smr_dataset_features(ds), want, sizeof want);
  const int32_t wy[] = {0, 1, 0};
  ck_assert_mem_eq(smr_dataset_labels(ds), wy, sizeof wy);
  smr_dataset_free(ds);
  /* ABSENT with the label column given by number */
  smr_csv_options first = {.header = SMR_CSV_HEADER_ABSENT, .label_column = "1"};
  ds = parse_ok("7,2,0\n8,4,1\n", &first);
  ck_assert_str_eq(smr_dataset_class_name(ds, 0), "7");
  ck_assert_uint_eq(smr_dataset_num_features(ds), 2);
  smr_dataset_free(ds);
  smr_csv_options bad_col = {.header = SMR_CSV_HEADER_ABSENT, .label_column = "x"};
  expect_error("7,2,0\n", &bad_col, SMR_EFORMAT, 1, 0, "no such column");
  /* ABSENT errors point at the right line: the first line is data */
  expect_error("1,2,0\n3,x,1\n", &absent, SMR_EFORMAT, 2, 2, "not a number");
  ds = parse_ok("1,2,x\n", &absent);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 1);
  smr_dataset_free(ds);
  smr_csv_options bad = {.header = (smr_csv_header)7};
  expect_error("a,b\n1,0\n", &bad, SMR_EINVAL, 0, 0, "header");
}
END_TEST

#if SMR_HAVE_ZLIB
static void gzip_to(const char *path, const char *text, size_t len, bool append) {
  gzFile f = gzopen(path, append ? "ab" : "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(gzwrite(f, text, (unsigned)len), (int)len);
  ck_assert_int_eq(gzclose(f), Z_OK);
}
#endif

/* gzip members (finding: plain rows after a gzip member were silently
   ignored): every member is read; anything else after one is an error. */
START_TEST(test_csv_gzip_members) {
#if SMR_HAVE_ZLIB
  char gz[256];
  tmp_path(gz, sizeof gz, "members.csv.gz");
  const char *a = "x,y\n1,0\n2,1\n", *b = "3,0\n4,1\n";
  gzip_to(gz, a, strlen(a), false);
  gzip_to(gz, b, strlen(b), true); /* a second member */
  smr_dataset *ds = NULL;
  smr_error_detail err;
  ck_assert_int_eq(smr_dataset_read_csv(&ds, gz, NULL, &err), SMR_OK);
  ck_assert_uint_eq(smr_dataset_num_rows(ds), 4);
  smr_dataset_free(ds);
  /* a BOM-like sequence after a blank line is no BOM, also when a member
     ends inside it (found by fuzz_csv: the second piece took it for one) */
  const char *c1 = "\n\xEF\xBB", *c2 = "\xBF" "a,b\n1,0\n";
  gzip_to(gz, c1, strlen(c1), false);
  gzip_to(gz, c2, strlen(c2), true);
  ck_assert_msg(smr_dataset_read_csv(&ds, gz, NULL, &err) == SMR_OK, "%s", err.message);
  ck_assert_str_eq(smr_dataset_feature_name(ds, 0), "\xEF\xBB\xBF" "a");
  smr_dataset_free(ds);
  gzip_to(gz, a, strlen(a), false);
  gzip_to(gz, b, strlen(b), true);
  /* plain text after the member */
  FILE *f = fopen(gz, "ab");
  ck_assert_ptr_nonnull(f);
  fputs("5,0\n6,1\n", f);
  fclose(f);
  ds = (smr_dataset *)&ds;
  ck_assert_int_eq(smr_dataset_read_csv(&ds, gz, NULL, &err), SMR_EFORMAT);
  ck_assert_ptr_null(ds);
  ck_assert_msg(strstr(err.message, "after the end of the gzip stream") != NULL, "%s", err.message);
  /* a single stray byte after it */
  gzip_to(gz, a, strlen(a), false);
  f = fopen(gz, "ab");
  fputc(0, f);
  fclose(f);
  ck_assert_int_eq(smr_dataset_read_csv(&ds, gz, NULL, &err), SMR_EFORMAT);
  unlink(gz);
#endif
}
END_TEST

/* Bounded input (finding: a gzip bomb reached 4.2 GB before failing).
   max_bytes caps the text read, with a message naming the option; a NUL
   byte stops the reading at once. A gzip bomb of 64 MiB of zeros under a
   1 MiB cap fails as "larger than the limit" after at most a piece. */
START_TEST(test_csv_limits) {
  smr_csv_options small = {.max_bytes = 10};
  expect_error("a,b\n1,0\n2,1\n", &small, SMR_EFORMAT, 0, 0, "max_bytes");
  smr_csv_options fits = {.max_bytes = 12};
  smr_dataset *ds = parse_ok("a,b\n1,0\n2,1\n", &fits);
  smr_dataset_free(ds);
  char path[256];
  tmp_path(path, sizeof path, "limit.csv");
  const char *text = "a,b\n1,0\n2,1\n";
  write_bytes(path, text, strlen(text));
  smr_error_detail err;
  ck_assert_int_eq(smr_dataset_read_csv(&ds, path, &small, &err), SMR_EFORMAT);
  ck_assert_msg(strstr(err.message, "max_bytes") != NULL, "%s", err.message);
  ck_assert_int_eq(smr_dataset_read_csv(&ds, path, &fits, &err), SMR_OK);
  smr_dataset_free(ds);
#if SMR_HAVE_ZLIB
  const size_t big = (size_t)64 << 20;
  char *zeros = calloc(big, 1);
  ck_assert_ptr_nonnull(zeros);
  memcpy(zeros, "a,b\n", 4);
  for (size_t i = 4; i + 4 <= big; i += 4) memcpy(zeros + i, "0,0\n", 4);
  gzip_to(path, zeros, big, false);
  free(zeros);
  smr_csv_options mib = {.max_bytes = (size_t)1 << 20};
  ck_assert_int_eq(smr_dataset_read_csv(&ds, path, &mib, &err), SMR_EFORMAT);
  ck_assert_msg(strstr(err.message, "larger than the limit of 1048576") != NULL, "%s",
                err.message);
#endif
  /* /dev/zero: NUL bytes, reported at once (not after reading gigabytes) */
  ck_assert_int_eq(smr_dataset_read_csv(&ds, "/dev/zero", NULL, &err), SMR_EFORMAT);
  ck_assert_msg(strstr(err.message, "NUL byte") != NULL, "%s", err.message);
  unlink(path);
}
END_TEST

/* Files are parsed in pieces of about 1 MiB that end at record boundaries:
   the same data set as the text parsed whole, with records (a long header,
   quoted fields with newlines, a 3 MiB field) across piece ends, errors at
   the right line, and a BOM at the start. */
START_TEST(test_csv_pieces) {
  size_t cap = (size_t)8 << 20, len = 0;
  char *t = malloc(cap);
  ck_assert_ptr_nonnull(t);
  len += (size_t)sprintf(t + len, "\xEF\xBB\xBF");
  for (int j = 0; j < 20000; j++) len += (size_t)sprintf(t + len, "feature_%d,", j);
  len += (size_t)sprintf(t + len, "label\n");
  int rows = 0;
  while (len < ((size_t)6 << 20)) {
    for (int j = 0; j < 20000; j++) t[len++] = (char)('0' + (j + rows) % 10), t[len++] = ',';
    len += (size_t)sprintf(t + len, rows % 3 == 0 ? "\"class\n%d\"\n" : "c%d\n", rows % 5);
    rows++;
  }
  char path[256];
  tmp_path(path, sizeof path, "pieces.csv");
  write_bytes(path, t, len);
  smr_dataset *a = parse_ok(t, NULL), *b = NULL;
  smr_error_detail err;
  ck_assert_msg(smr_dataset_read_csv(&b, path, NULL, &err) == SMR_OK, "%s", err.message);
  ck_assert_uint_eq(smr_dataset_num_rows(b), (size_t)rows);
  ck_assert_uint_eq(smr_dataset_num_rows(a), smr_dataset_num_rows(b));
  ck_assert_uint_eq(smr_dataset_num_features(b), 20000);
  ck_assert_str_eq(smr_dataset_feature_name(b, 0), "feature_0");
  ck_assert_mem_eq(smr_dataset_features(a), smr_dataset_features(b),
                   (size_t)rows * 20000 * sizeof(double));
  ck_assert_mem_eq(smr_dataset_labels(a), smr_dataset_labels(b), (size_t)rows * sizeof(int32_t));
  smr_dataset_free(a);
  smr_dataset_free(b);
  /* one bad field in the last row: its line number counts every earlier
     line (quoted newlines too) */
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += t[i] == '\n';
  t[len - 100] = 'x'; /* among the last row's features */
  write_bytes(path, t, len);
  ck_assert_int_eq(smr_dataset_read_csv(&b, path, NULL, &err), SMR_EFORMAT);
  ck_assert_msg(strstr(err.message, "not a number") != NULL, "%s", err.message);
  ck_assert_uint_eq(err.line, (rows - 1) % 3 == 0 ? lines - 2 : lines - 1);
  /* a 3 MiB field: one record longer than a piece */
  len = (size_t)sprintf(t, "a,b\n");
  memset(t + len, '7', (size_t)3 << 20);
  len += (size_t)3 << 20;
  len += (size_t)sprintf(t + len, ",1\n2,0\n");
  write_bytes(path, t, len);
  smr_csv_options present = {.header = SMR_CSV_HEADER_PRESENT};
  ck_assert_int_eq(smr_dataset_read_csv(&b, path, &present, &err), SMR_EFORMAT);
  ck_assert_msg(strstr(err.message, "non-finite") != NULL, "%s", err.message);
  ck_assert_uint_eq(err.line, 2);
  free(t);
  unlink(path);
}
END_TEST

START_TEST(test_csv_gzip) {
#if SMR_HAVE_ZLIB
  char plain[512], gz[256];
  data_path(plain, sizeof plain, "iris.csv");
  tmp_path(gz, sizeof gz, "iris.csv.gz");
  size_t len = 0;
  char *text = slurp(plain, &len);
  gzFile f = gzopen(gz, "wb9");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(gzwrite(f, text, (unsigned)len), (int)len);
  ck_assert_int_eq(gzclose(f), Z_OK);

  smr_dataset *a = NULL, *b = NULL;
  smr_error_detail err;
  ck_assert_int_eq(smr_dataset_read_csv(&a, plain, NULL, &err), SMR_OK);
  ck_assert_int_eq(smr_dataset_read_csv(&b, gz, NULL, &err), SMR_OK);
  ck_assert_uint_eq(smr_dataset_num_rows(b), 150);
  ck_assert_uint_eq(smr_dataset_num_features(b), 4);
  ck_assert_uint_eq(smr_dataset_num_classes(b), 3);
  ck_assert_mem_eq(smr_dataset_features(a), smr_dataset_features(b), 150 * 4 * sizeof(double));
  ck_assert_mem_eq(smr_dataset_labels(a), smr_dataset_labels(b), 150 * sizeof(int32_t));
  smr_dataset_free(a);
  smr_dataset_free(b);

  /* a truncated gzip stream is an error, not a silently shorter data set */
  size_t glen = 0;
  char *gzbytes = slurp(gz, &glen);
  write_bytes(gz, gzbytes, glen / 2);
  b = (smr_dataset *)&b;
  smr_status st = smr_dataset_read_csv(&b, gz, NULL, &err);
  ck_assert_int_eq(st, SMR_EFORMAT);
  ck_assert_ptr_null(b);
  ck_assert_msg(strstr(err.message, gz) != NULL, "%s", err.message);
  /* corrupt deflate data */
  memset(gzbytes + 20, 0xFF, 40);
  write_bytes(gz, gzbytes, glen);
  st = smr_dataset_read_csv(&b, gz, NULL, &err);
  ck_assert_msg(st == SMR_EFORMAT, "%s: %s", smr_strerror(st), err.message);
  free(gzbytes);
  free(text);
  unlink(gz);
#else
  ck_assert(!smr_has_zlib());
#endif
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Model files                                                               */
/* ------------------------------------------------------------------------ */

#define MD 5
#define MK 3

/* A model whose parameters exercise bit-exactness: -0, subnormals, huge
   values, a NaN with a payload. */
static smr_model *make_model(smr_dtype dt, bool standardize, bool names) {
  smr_model *m = NULL;
  ck_assert_int_eq(smr_model_create(&m, MD, MK, dt, 0.123456789, 42), SMR_OK);
  if (dt == SMR_F32) {
    float *W = smr_model_weights(m), *b = smr_model_bias(m);
    uint32_t nan_bits = 0x7FC01234u;
    memcpy(&W[0], &nan_bits, 4);
    W[1] = -0.0f;
    W[2] = 1e-45f;
    W[3] = 3.4e38f;
    W[4] = -1.0f / 3.0f;
    b[0] = 0.1f;
    b[1] = -7.25f;
    b[2] = 1e-40f;
  } else {
    double *W = smr_model_weights(m), *b = smr_model_bias(m);
    uint64_t nan_bits = 0x7FF8000000ABCDEFull;
    memcpy(&W[0], &nan_bits, 8);
    W[1] = -0.0;
    W[2] = 4.9e-324;
    W[3] = 1.7976931348623157e308;
    W[4] = -1.0 / 3.0;
    b[0] = 0.1;
    b[1] = -7.25;
    b[2] = 1e-310;
  }
  if (standardize) {
    const double mean[MD] = {0.0, -1.5, 1e300, 5e-324, 3.0};
    const double scale[MD] = {1.0, 0.25, 1e-300, 2.0, 7.0};
    ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
  }
  if (names) {
    static char longest[SMR_MAX_NAME_LEN + 1];
    memset(longest, 'z', SMR_MAX_NAME_LEN);
    const char *n[MK] = {"", "versi,color \"x\"\n\xC3\xA9", longest};
    ck_assert_int_eq(smr_model_set_class_names(m, n), SMR_OK);
  }
  return m;
}

static void assert_same_model(smr_model *a, smr_model *b) {
  size_t d = smr_model_num_features(a), k = smr_model_num_classes(a);
  ck_assert_uint_eq(smr_model_num_features(b), d);
  ck_assert_uint_eq(smr_model_num_classes(b), k);
  ck_assert_int_eq(smr_model_dtype(b), smr_model_dtype(a));
  double la = smr_model_learning_rate(a), lb = smr_model_learning_rate(b);
  ck_assert_mem_eq(&la, &lb, sizeof la);
  size_t es = smr_model_dtype(a) == SMR_F32 ? 4 : 8;
  ck_assert_mem_eq(smr_model_weights(a), smr_model_weights(b), d * k * es);
  ck_assert_mem_eq(smr_model_bias(a), smr_model_bias(b), k * es);
  if (smr_model_feature_mean(a) == NULL) {
    ck_assert_ptr_null(smr_model_feature_mean(b));
    ck_assert_ptr_null(smr_model_feature_scale(b));
  } else {
    ck_assert_ptr_nonnull(smr_model_feature_mean(b));
    ck_assert_mem_eq(smr_model_feature_mean(a), smr_model_feature_mean(b), d * sizeof(double));
    ck_assert_mem_eq(smr_model_feature_scale(a), smr_model_feature_scale(b), d * sizeof(double));
  }
  for (size_t j = 0; j < k; j++) {
    const char *na = smr_model_class_name(a, j), *nb = smr_model_class_name(b, j);
    if (na == NULL)
      ck_assert_ptr_null(nb);
    else
      ck_assert_str_eq(na, nb);
  }
}

/* No "*.tmp-*" file may be left behind in the temporary directory. */
static void assert_no_temporaries(void) {
  DIR *dir = opendir(tmp_dir);
  ck_assert_ptr_nonnull(dir);
  struct dirent *e;
  while ((e = readdir(dir)) != NULL)
    ck_assert_msg(strstr(e->d_name, ".tmp-") == NULL, "leftover %s", e->d_name);
  closedir(dir);
}

START_TEST(test_model_roundtrip) {
  char path[256];
  tmp_path(path, sizeof path, "model.smr");
  for (int dt = 0; dt < 2; dt++)
    for (int variant = 0; variant < 4; variant++) {
      smr_model *m = make_model(dt == 0 ? SMR_F32 : SMR_F64, variant & 1, variant & 2);
      ck_assert_int_eq(smr_model_save(m, path), SMR_OK); /* also overwrites */
      assert_no_temporaries();
      smr_model *r = (smr_model *)&r;
      ck_assert_int_eq(smr_model_load(&r, path), SMR_OK);
      assert_same_model(m, r);

      /* buffers: same bytes as the file, and canonical (save(load(x)) == x) */
      void *buf = NULL, *buf2 = NULL;
      size_t len = 0, len2 = 0, flen = 0;
      ck_assert_int_eq(smr_model_save_buffer(m, &buf, &len), SMR_OK);
      char *file = slurp(path, &flen);
      ck_assert_uint_eq(flen, len);
      ck_assert_mem_eq(file, buf, len);
      smr_model *r2 = NULL;
      ck_assert_int_eq(smr_model_load_buffer(&r2, buf, len, NULL), SMR_OK);
      assert_same_model(m, r2);
      ck_assert_int_eq(smr_model_save_buffer(r2, &buf2, &len2), SMR_OK);
      ck_assert_uint_eq(len2, len);
      ck_assert_mem_eq(buf2, buf, len);
      /* the layout of docs/FORMATS.md */
      const unsigned char *p = buf;
      ck_assert_mem_eq(p, "SMRMODEL\x01\0\0\0", 12);
      ck_assert_int_eq(p[12], dt);
      ck_assert_int_eq(p[16], MD);
      ck_assert_int_eq(p[24], MK);
      ck_assert_int_eq(p[32], variant);
      free(file);
      free(buf);
      free(buf2);
      smr_model_free(r);
      smr_model_free(r2);
      smr_model_free(m);
    }
  unlink(path);
}
END_TEST

START_TEST(test_model_arguments) {
  smr_model *m = make_model(SMR_F64, false, false);
  void *buf = NULL;
  size_t len = 0;
  ck_assert_int_eq(smr_model_save_buffer(NULL, &buf, &len), SMR_EINVAL);
  ck_assert_int_eq(smr_model_save_buffer(m, NULL, &len), SMR_EINVAL);
  ck_assert_int_eq(smr_model_save_buffer(m, &buf, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_model_save(NULL, "x"), SMR_EINVAL);
  ck_assert_int_eq(smr_model_save(m, NULL), SMR_EINVAL);
  smr_model *r = NULL;
  ck_assert_int_eq(smr_model_load(NULL, "x"), SMR_EINVAL);
  ck_assert_int_eq(smr_model_load(&r, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_model_load_buffer(NULL, "x", 1, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_model_load_buffer(&r, NULL, 1, NULL), SMR_EINVAL);
  ck_assert_int_eq(smr_model_load_buffer(&r, NULL, 0, NULL), SMR_EFORMAT);
  ck_assert_ptr_null(r);
  smr_model_free(m);
}
END_TEST

/* What a save may replace (finding: `-o /dev/full` as root replaced the
   device node with a regular file, and a 0600 model became 0644). */
START_TEST(test_model_save_targets) {
  char path[256], link_path[256], dir_path[256];
  smr_model *m = make_model(SMR_F64, true, true);
  smr_error_detail err;
  /* a character device is written through: /dev/full reports ENOSPC and
     stays a device */
  errno = 0;
  ck_assert_int_eq(smr_model_save_file(m, "/dev/full", &err), SMR_EIO);
  ck_assert_int_eq(errno, ENOSPC);
  ck_assert_msg(strstr(err.message, "/dev/full") != NULL, "%s", err.message);
  struct stat sb;
  ck_assert_int_eq(stat("/dev/full", &sb), 0);
  ck_assert(S_ISCHR(sb.st_mode));
  ck_assert_int_eq(smr_model_save(m, "/dev/null"), SMR_OK);
  ck_assert_int_eq(stat("/dev/null", &sb), 0);
  ck_assert(S_ISCHR(sb.st_mode));
  /* a directory is refused with a message, and nothing is left beside it */
  tmp_path(dir_path, sizeof dir_path, "dir.smr");
  ck_assert_int_eq(mkdir(dir_path, 0700), 0);
  ck_assert_int_eq(smr_model_save_file(m, dir_path, &err), SMR_EIO);
  ck_assert_msg(strstr(err.message, "directory") != NULL, "%s", err.message);
  assert_no_temporaries();
  ck_assert_int_eq(rmdir(dir_path), 0);
  /* overwriting keeps the permission bits */
  tmp_path(path, sizeof path, "private.smr");
  ck_assert_int_eq(smr_model_save(m, path), SMR_OK);
  ck_assert_int_eq(chmod(path, 0600), 0);
  ck_assert_int_eq(smr_model_save(m, path), SMR_OK);
  ck_assert_int_eq(stat(path, &sb), 0);
  ck_assert_uint_eq(sb.st_mode & 07777, 0600);
  ck_assert_int_eq(chmod(path, 0640), 0);
  ck_assert_int_eq(smr_model_save(m, path), SMR_OK);
  ck_assert_int_eq(stat(path, &sb), 0);
  ck_assert_uint_eq(sb.st_mode & 07777, 0640);
  /* a symbolic link stays a link; its target gets the model */
  tmp_path(link_path, sizeof link_path, "link.smr");
  ck_assert_int_eq(symlink(path, link_path), 0);
  ck_assert_int_eq(smr_model_save(m, link_path), SMR_OK);
  ck_assert_int_eq(lstat(link_path, &sb), 0);
  ck_assert(S_ISLNK(sb.st_mode));
  smr_model *r = NULL;
  ck_assert_int_eq(smr_model_load(&r, path), SMR_OK);
  assert_same_model(m, r);
  smr_model_free(r);
  assert_no_temporaries();
  unlink(link_path);
  unlink(path);
  smr_model_free(m);
}
END_TEST

/* A writer killed between write and rename leaves "PATH.tmp-PID-XXXXXX";
   the next save to PATH removes it when PID no longer runs, and keeps a
   running writer's (and other targets') temporaries. */
START_TEST(test_model_save_stale_temporaries) {
  char path[256], stale[300], live[300], other[300];
  tmp_path(path, sizeof path, "m.smr");
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) _exit(0);
  ck_assert_int_eq(waitpid(child, NULL, 0), child); /* a pid that no longer runs */
  snprintf(stale, sizeof stale, "%s.tmp-%ld-abc123", path, (long)child);
  snprintf(live, sizeof live, "%s.tmp-%ld-abc123", path, (long)getppid());
  snprintf(other, sizeof other, "%s/n.smr.tmp-%ld-abc123", tmp_dir, (long)child);
  const char *files[3] = {stale, live, other};
  for (int i = 0; i < 3; i++) {
    FILE *f = fopen(files[i], "wb");
    ck_assert_ptr_nonnull(f);
    fputs("partial model", f);
    fclose(f);
  }
  smr_model *m = make_model(SMR_F32, false, false);
  ck_assert_int_eq(smr_model_save(m, path), SMR_OK);
  ck_assert_msg(access(stale, F_OK) != 0, "stale temporary %s left", stale);
  ck_assert_msg(access(live, F_OK) == 0, "a running writer's temporary was removed");
  ck_assert_msg(access(other, F_OK) == 0, "another target's temporary was removed");
  unlink(live);
  unlink(other);
  unlink(path);
  smr_model_free(m);
}
END_TEST

/* The loader checks the header before the body (finding: a 6 GiB sparse
   file given as a model was read whole before "bad magic"). Under an
   address-space limit of 512 MiB, in a child: a sparse 6 GiB file with a
   valid header, a 6 GiB file without one, and /dev/zero must all be
   SMR_EFORMAT, never ENOMEM. */
START_TEST(test_model_load_header_first) {
  char good[256], junk[256];
  tmp_path(good, sizeof good, "huge.smr");
  tmp_path(junk, sizeof junk, "huge.bin");
  smr_model *m = make_model(SMR_F32, false, false);
  ck_assert_int_eq(smr_model_save(m, good), SMR_OK);
  smr_model_free(m);
  ck_assert_int_eq(truncate(good, (off_t)6 << 30), 0);
  FILE *f = fopen(junk, "wb");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  ck_assert_int_eq(truncate(junk, (off_t)6 << 30), 0);
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    struct rlimit rl = {(rlim_t)512 << 20, (rlim_t)512 << 20};
    /* sanitizers reserve far more address space than that: skip the limit */
    if (getenv("ASAN_OPTIONS") == NULL && getenv("TSAN_OPTIONS") == NULL) setrlimit(RLIMIT_AS, &rl);
    const char *paths[3] = {good, junk, "/dev/zero"};
    for (int i = 0; i < 3; i++) {
      smr_model *r = NULL;
      smr_error_detail e;
      memset(&e, 0, sizeof e);
      smr_status st = smr_model_load_file(&r, paths[i], &e);
      if (st != SMR_EFORMAT) {
        fprintf(stderr, "%s: status %d (%s)\n", paths[i], (int)st, e.message);
        _exit(1);
      }
    }
    _exit(0);
  }
  int status = 0;
  ck_assert_int_eq(waitpid(child, &status, 0), child);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a load was not SMR_EFORMAT");
  unlink(good);
  unlink(junk);
}
END_TEST

START_TEST(test_model_file_errors) {
  char path[256], dir_path[256];
  tmp_path(path, sizeof path, "nonexistent.smr");
  smr_model *r = (smr_model *)&r;
  ck_assert_int_eq(smr_model_load(&r, path), SMR_EIO);
  ck_assert_ptr_null(r);
  ck_assert_int_eq(smr_model_load(&r, tmp_dir), SMR_EIO); /* a directory */

  smr_model *m = make_model(SMR_F32, true, true);
  tmp_path(path, sizeof path, "no-such-dir/model.smr");
  ck_assert_int_eq(smr_model_save(m, path), SMR_EIO);
  /* saving over a directory fails at the rename: nothing is left behind */
  tmp_path(dir_path, sizeof dir_path, "a-directory");
  ck_assert_int_eq(mkdir(dir_path, 0700), 0);
  ck_assert_int_eq(smr_model_save(m, dir_path), SMR_EIO);
  assert_no_temporaries();
  ck_assert_int_eq(rmdir(dir_path), 0);

  /* a failed save leaves the previous file intact */
  tmp_path(path, sizeof path, "keep.smr");
  ck_assert_int_eq(smr_model_save(m, path), SMR_OK);
  size_t before_len = 0, after_len = 0;
  char *before = slurp(path, &before_len);
  ck_assert_int_eq(chmod(tmp_dir, 0500), 0);
  smr_model *m2 = make_model(SMR_F64, false, false);
  smr_status st = smr_model_save(m2, path);
  ck_assert_int_eq(chmod(tmp_dir, 0700), 0);
  if (geteuid() != 0) ck_assert_int_eq(st, SMR_EIO); /* root may write anyway */
  if (st != SMR_OK) {
    char *after = slurp(path, &after_len);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_mem_eq(after, before, before_len);
    free(after);
  }
  free(before);
  unlink(path);

  /* a (sparse) file above the 2^40-byte cap is rejected from its size */
  tmp_path(path, sizeof path, "huge.smr");
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  bool sparse = ftruncate(fileno(f), (off_t)((int64_t)1 << 40) + 1) == 0;
  fclose(f);
  if (sparse) {
    ck_assert_int_eq(smr_model_load(&r, path), SMR_EFORMAT);
    ck_assert_ptr_null(r);
  }
  unlink(path);

  /* an empty file */
  tmp_path(path, sizeof path, "empty.smr");
  write_bytes(path, "", 0);
  ck_assert_int_eq(smr_model_load(&r, path), SMR_EFORMAT);
  ck_assert_ptr_null(r);
  smr_error_detail e;
  memset(&e, 0, sizeof e);
  ck_assert_int_eq(smr_model_load_file(&r, path, &e), SMR_EFORMAT);
  ck_assert_ptr_null(r);
  ck_assert_msg(strstr(e.message, path) != NULL && strstr(e.message, "<memory>") == NULL,
                "message '%s' should name the file", e.message);
  tmp_path(dir_path, sizeof dir_path, "nonexistent.smr");
  ck_assert_int_eq(smr_model_load_file(&r, dir_path, &e), SMR_EIO);
  ck_assert_msg(strstr(e.message, dir_path) != NULL && strstr(e.message, "No such file") != NULL,
                "message '%s'", e.message);
  ck_assert_int_eq(smr_model_load_file(&r, NULL, &e), SMR_EINVAL);
  unlink(path);
  smr_model_free(m);
  smr_model_free(m2);
}
END_TEST

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes the trailing CRC of a model buffer (zlib's crc32 when
   available, else a bitwise CRC-32 written here). */
static uint32_t crc32_ieee(const unsigned char *p, size_t len) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) {
    c ^= p[i];
    for (int j = 0; j < 8; j++) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}
static void fix_crc(unsigned char *p, size_t len) {
  if (len < 4) return;
  put_le(p + len - 4, crc32_ieee(p, len - 4), 4);
}

static void expect_load_error(const void *buf, size_t len, const char *what) {
  smr_model *r = (smr_model *)&r;
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  smr_status st = smr_model_load_buffer(&r, buf, len, &err);
  ck_assert_msg(st == SMR_EFORMAT, "status %s, expected malformed (want '%s')",
                smr_strerror(st), what);
  ck_assert_ptr_null(r);
  ck_assert_msg(strstr(err.message, what) != NULL, "message '%s' lacks '%s'", err.message, what);
  ck_assert_uint_eq(err.line, 0);
  ck_assert_uint_eq(err.column, 0);
}

START_TEST(test_model_corruption) {
  smr_model *m = make_model(SMR_F64, true, true);
  void *vbuf = NULL;
  size_t len = 0;
  ck_assert_int_eq(smr_model_save_buffer(m, &vbuf, &len), SMR_OK);
  const unsigned char *good = vbuf;
  unsigned char *p = malloc(len + 16);
  ck_assert_ptr_nonnull(p);

  /* our CRC agrees with the file's */
  uint32_t stored = (uint32_t)good[len - 4] | (uint32_t)good[len - 3] << 8 |
                    (uint32_t)good[len - 2] << 16 | (uint32_t)good[len - 1] << 24;
  ck_assert_uint_eq(stored, crc32_ieee(good, len - 4));
#if SMR_HAVE_ZLIB
  ck_assert_uint_eq(stored, crc32(0L, good, (uInt)(len - 4)));
#endif

  /* truncated at every length */
  for (size_t l = 0; l < len; l++) {
    smr_model *r = (smr_model *)&r;
    ck_assert_msg(smr_model_load_buffer(&r, good, l, NULL) == SMR_EFORMAT, "length %zu", l);
    ck_assert_ptr_null(r);
  }
  expect_load_error(good, 10, "truncated");
  expect_load_error(good, len - 1, "truncated");

  /* every byte flipped */
  for (size_t i = 0; i < len; i++) {
    memcpy(p, good, len);
    p[i] ^= 0xFF;
    smr_model *r = (smr_model *)&r;
    ck_assert_msg(smr_model_load_buffer(&r, p, len, NULL) == SMR_EFORMAT, "byte %zu", i);
    ck_assert_ptr_null(r);
  }
  /* a payload byte: caught by the CRC */
  memcpy(p, good, len);
  p[60] ^= 1;
  expect_load_error(p, len, "checksum mismatch");

  /* header fields, with a valid CRC so the checks behind it are reached */
  memcpy(p, good, len);
  p[0] = 'X';
  fix_crc(p, len);
  expect_load_error(p, len, "bad magic");
  memcpy(p, good, len);
  put_le(p + 8, 2, 4);
  fix_crc(p, len);
  expect_load_error(p, len, "unsupported version 2");
  memcpy(p, good, len);
  put_le(p + 12, 2, 4);
  fix_crc(p, len);
  expect_load_error(p, len, "bad dtype");
  memcpy(p, good, len);
  put_le(p + 32, 7, 4);
  fix_crc(p, len);
  expect_load_error(p, len, "unknown flags");
  memcpy(p, good, len);
  put_le(p + 36, 1, 4);
  fix_crc(p, len);
  expect_load_error(p, len, "reserved");
  memcpy(p, good, len);
  put_le(p + 16, 0, 8);
  fix_crc(p, len);
  expect_load_error(p, len, "zero features");
  memcpy(p, good, len);
  put_le(p + 24, 0, 8);
  fix_crc(p, len);
  expect_load_error(p, len, "zero classes");
  memcpy(p, good, len);
  put_le(p + 24, (uint64_t)INT32_MAX + 1, 8);
  fix_crc(p, len);
  expect_load_error(p, len, "too many classes");
  /* implausible sizes: rejected from the length, nothing allocated (ASan
     would report a failed huge allocation) */
  const uint64_t huge[][2] = {{(uint64_t)1 << 62, MK}, {(uint64_t)1 << 62, 1},
                              {(uint64_t)1 << 40, 1},  {UINT64_MAX, INT32_MAX}};
  for (size_t h = 0; h < sizeof huge / sizeof huge[0]; h++) {
    memcpy(p, good, len);
    put_le(p + 16, huge[h][0], 8);
    put_le(p + 24, huge[h][1], 8);
    fix_crc(p, len);
    expect_load_error(p, len, "truncated");
  }
  /* sizes that do not match the data: the sections are misread */
  const uint64_t off_by_one[][2] = {{MD - 1, MK}, {MD + 1, MK}, {MD, MK - 1}, {MD, MK + 1}};
  smr_model *r = (smr_model *)&r;
  for (size_t h = 0; h < sizeof off_by_one / sizeof off_by_one[0]; h++) {
    memcpy(p, good, len);
    put_le(p + 16, off_by_one[h][0], 8);
    put_le(p + 24, off_by_one[h][1], 8);
    fix_crc(p, len);
    ck_assert_int_eq(smr_model_load_buffer(&r, p, len, NULL), SMR_EFORMAT);
    ck_assert_ptr_null(r);
  }

  /* trailing garbage, with and without a CRC over it */
  memcpy(p, good, len);
  memcpy(p + len, "garbage!", 8);
  expect_load_error(p, len + 8, "trailing bytes");
  fix_crc(p, len + 8);
  expect_load_error(p, len + 8, "trailing bytes");

  /* values behind the CRC */
  memcpy(p, good, len);
  put_le(p + 40, 0, 8); /* learning rate 0 */
  fix_crc(p, len);
  expect_load_error(p, len, "learning rate");
  memcpy(p, good, len);
  put_le(p + 40, 0x7FF0000000000000ull, 8); /* +inf */
  fix_crc(p, len);
  expect_load_error(p, len, "learning rate");
  size_t mean_off = 48 + (MD * MK + MK) * 8, scale_off = mean_off + MD * 8;
  memcpy(p, good, len);
  put_le(p + mean_off + 8, 0x7FF8000000000000ull, 8); /* NaN mean */
  fix_crc(p, len);
  expect_load_error(p, len, "feature mean 1");
  memcpy(p, good, len);
  put_le(p + scale_off + 16, 0x8000000000000000ull, 8); /* scale -0 */
  fix_crc(p, len);
  expect_load_error(p, len, "feature scale 2");
  size_t names_off = scale_off + MD * 8;
  memcpy(p, good, len);
  put_le(p + names_off + 4 + 5, 0, 1); /* a NUL inside class name 1 */
  fix_crc(p, len);
  expect_load_error(p, len, "NUL byte in class name 1");
  memcpy(p, good, len);
  put_le(p + names_off + 4, SMR_MAX_NAME_LEN + 1, 4); /* name 1's length */
  fix_crc(p, len);
  expect_load_error(p, len, "class name 1 too long");

  /* the same checks through a file */
  char path[256];
  tmp_path(path, sizeof path, "corrupt.smr");
  memcpy(p, good, len);
  p[len / 2] ^= 0x10;
  write_bytes(path, p, len);
  ck_assert_int_eq(smr_model_load(&r, path), SMR_EFORMAT);
  write_bytes(path, good, len - 1);
  ck_assert_int_eq(smr_model_load(&r, path), SMR_EFORMAT);
  write_bytes(path, good, len);
  ck_assert_int_eq(smr_model_load(&r, path), SMR_OK);
  smr_model_free(r);
  unlink(path);

  free(p);
  free(vbuf);
  smr_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Fuzz                                                                      */
/* ------------------------------------------------------------------------ */

static bool valid_status(smr_status st) {
  return st == SMR_OK || st == SMR_EFORMAT || st == SMR_ERANGE || st == SMR_EOVERFLOW ||
         st == SMR_EINVAL;
}

static void check_dataset(const smr_dataset *ds, const smr_csv_options *opt) {
  size_t n = smr_dataset_num_rows(ds), d = smr_dataset_num_features(ds);
  size_t k = smr_dataset_num_classes(ds);
  ck_assert_uint_gt(n, 0);
  ck_assert_uint_gt(d, 0);
  const double *X = smr_dataset_features(ds);
  for (size_t i = 0; i < n * d; i++) ck_assert(isfinite(X[i]));
  for (size_t j = 0; j < d; j++) ck_assert_ptr_nonnull(smr_dataset_feature_name(ds, j));
  const int32_t *y = smr_dataset_labels(ds);
  if (opt->no_labels) {
    ck_assert_ptr_null(y);
    ck_assert_uint_eq(k, 0);
    return;
  }
  ck_assert_ptr_nonnull(y);
  ck_assert_uint_gt(k, 0);
  ck_assert_uint_le(k, INT32_MAX);
  for (size_t i = 0; i < n; i++) ck_assert(y[i] >= 0 && (size_t)y[i] < k);
  const char *const *names = smr_dataset_class_names(ds);
  if (names != NULL)
    for (size_t j = 0; j < k; j++) {
      ck_assert_ptr_nonnull(names[j]);
      ck_assert_ptr_eq(names[j], smr_dataset_class_name(ds, j));
      if (j > 0 && opt->class_names == NULL) ck_assert_int_ne(strcmp(names[j - 1], names[j]), 0);
    }
}

static size_t fuzz_accepted;

static void fuzz_csv_once(const char *text, size_t len, const smr_csv_options *opt) {
  smr_dataset *ds = NULL;
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  smr_status st = smr_dataset_parse_csv(&ds, text, len, "fuzz", opt, &err);
  ck_assert_msg(valid_status(st), "status %d", (int)st);
  if (st == SMR_OK) {
    fuzz_accepted++;
    ck_assert_ptr_nonnull(ds);
    check_dataset(ds, opt);
    smr_dataset_free(ds);
  } else {
    ck_assert_ptr_null(ds);
    ck_assert_msg(strncmp(err.message, "fuzz:", 5) == 0, "message '%s'", err.message);
  }
}

START_TEST(test_fuzz_csv) {
  uint64_t seed = fuzz_seed();
  rng_state = seed;
  fuzz_accepted = 0;
  printf("test_fuzz_csv: seed 0x%llx\n", (unsigned long long)seed);
  static const char alphabet[] = "0123456789,,,;\n\n\r\"\" .-+eE\tabxnaif\0";
  const char *names[] = {"x", "y", "z", "0", "1"};
  /* each option set with a text it accepts */
  const struct {
    smr_csv_options opt;
    const char *valid;
  } cases[] = {
      {{0}, "a,\"b\",label\n1,2.5,x\n-3,4e2,y\r\n\n\"5\",6,\"x\"\n7,8,z\n0.1,0.2,y\n"},
      {{0}, "a,b,label\n1,2.5,1\n-3,4e2,0\r\n\n\"5\",6,\"2\"\n7,8,0\n0.1,0.2,1\n"},
      {{.no_labels = true}, "a,b,c\n1,2.5,1\n-3,4e2,0\r\n\n\"5\",6,\"2\"\n7,8,0\n"},
      {{.label_column = "b"}, "a,b,c\n1,x,1\n-3,\"y\",0\r\n\n\"5\",x,\"2\"\n7,z,0\n"},
      {{.delimiter = ';'}, "a;b;label\n1;2.5;x\n-3;4e2;y\r\n\n\"5\";6;\"x;\"\n7;8;z\n"},
      {{.delimiter = '\t'}, "a\tb\tlabel\n1\t2.5\t3\n-3 \t 4e2\t1\r\n\n\"5\"\t6\t\"0\"\n"},
      {{.class_names = names, .num_class_names = 5},
       "a,b,label\n1,2.5,x\n-3,4e2,1\r\n\n\"5\",6,\"z\"\n7,8,0\n"},
  };
  size_t ncases = sizeof cases / sizeof cases[0];
  char buf[512];
  for (int it = 0; it < 4000; it++) { /* random bytes, CSV-ish alphabet */
    size_t len = rnd_below(160);
    bool raw = rnd_below(4) == 0;
    for (size_t i = 0; i < len; i++)
      buf[i] = raw ? (char)rnd() : alphabet[rnd_below(sizeof alphabet - 1)];
    fuzz_csv_once(buf, len, &cases[rnd_below(ncases)].opt);
  }
  for (size_t c = 0; c < ncases; c++) { /* the seeds themselves */
    size_t before = fuzz_accepted;
    fuzz_csv_once(cases[c].valid, strlen(cases[c].valid), &cases[c].opt);
    ck_assert_msg(fuzz_accepted == before + 1, "seed text %zu rejected", c);
  }
  for (int it = 0; it < 8000; it++) { /* mutations of a valid file */
    size_t c = rnd_below(ncases);
    size_t len = strlen(cases[c].valid);
    memcpy(buf, cases[c].valid, len);
    int edits = 1 + (int)rnd_below(3);
    for (int e = 0; e < edits; e++) {
      size_t at = len > 0 ? rnd_below(len) : 0;
      char ch = rnd_below(4) == 0 ? (char)rnd() : alphabet[rnd_below(sizeof alphabet - 1)];
      switch (rnd_below(5)) {
      case 0: /* replace */
        if (len > 0) buf[at] = ch;
        break;
      case 1: /* insert */
        if (len < sizeof buf - 1) {
          memmove(buf + at + 1, buf + at, len - at);
          buf[at] = ch;
          len++;
        }
        break;
      case 2: /* delete */
        if (len > 0) {
          memmove(buf + at, buf + at + 1, len - at - 1);
          len--;
        }
        break;
      case 3: /* a digit somewhere: often still valid */
        if (len > 0) buf[at] = (char)('0' + rnd_below(10));
        break;
      default: /* truncate */
        len = at;
        break;
      }
    }
    fuzz_csv_once(buf, len, &cases[c].opt);
  }
  printf("test_fuzz_csv: %zu of %zu inputs accepted\n", fuzz_accepted, 12000 + ncases);
}
END_TEST

/* A successful load must be self-consistent and canonical: saving it again
   gives back exactly the input bytes. */
static void fuzz_model_once(const unsigned char *p, size_t len) {
  smr_model *m = NULL;
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  smr_status st = smr_model_load_buffer(&m, p, len, &err);
  ck_assert_msg(st == SMR_OK || st == SMR_EFORMAT, "status %d", (int)st);
  if (st != SMR_OK) {
    ck_assert_ptr_null(m);
    ck_assert_msg(err.message[0] != '\0', "empty message");
    return;
  }
  fuzz_accepted++;
  ck_assert_ptr_nonnull(m);
  size_t d = smr_model_num_features(m), k = smr_model_num_classes(m);
  ck_assert_uint_gt(d, 0);
  ck_assert_uint_gt(k, 0);
  double lr = smr_model_learning_rate(m);
  ck_assert(isfinite(lr) && lr > 0);
  ck_assert_ptr_nonnull(smr_model_weights(m));
  ck_assert_ptr_nonnull(smr_model_bias(m));
  const double *mu = smr_model_feature_mean(m), *sc = smr_model_feature_scale(m);
  ck_assert((mu == NULL) == (sc == NULL));
  for (size_t j = 0; mu != NULL && j < d; j++) ck_assert(isfinite(mu[j]) && sc[j] > 0);
  void *again = NULL;
  size_t alen = 0;
  ck_assert_int_eq(smr_model_save_buffer(m, &again, &alen), SMR_OK);
  ck_assert_uint_eq(alen, len);
  ck_assert_mem_eq(again, p, len);
  free(again);
  smr_model_free(m);
}

START_TEST(test_fuzz_model) {
  uint64_t seed = fuzz_seed() ^ 0xABCDEFull;
  rng_state = seed;
  fuzz_accepted = 0;
  printf("test_fuzz_model: seed 0x%llx\n", (unsigned long long)seed);
  unsigned char buf[1024];
  /* random bytes, half of them behind a valid magic and version */
  for (int it = 0; it < 3000; it++) {
    size_t len = rnd_below(200);
    for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)rnd();
    if (it % 2 == 0 && len >= 12) memcpy(buf, "SMRMODEL\x01\0\0\0", 12);
    if (it % 4 == 0) fix_crc(buf, len);
    fuzz_model_once(buf, len);
  }
  /* mutations of valid files of every variant, CRC re-fixed for half */
  void *models[8];
  size_t lens[8];
  for (int v = 0; v < 8; v++) {
    smr_model *m = NULL;
    ck_assert_int_eq(smr_model_create(&m, 1 + (size_t)v % 3, 1 + (size_t)v % 4,
                                      v < 4 ? SMR_F32 : SMR_F64, 0.5, (uint64_t)v),
                     SMR_OK);
    if (v & 1) {
      double mean[3] = {1, 2, 3}, scale[3] = {1, 2, 3};
      ck_assert_int_eq(smr_model_set_standardization(m, mean, scale), SMR_OK);
    }
    if (v & 2) {
      const char *nm[4] = {"a", "bb", "", "dddd"};
      ck_assert_int_eq(smr_model_set_class_names(m, nm), SMR_OK);
    }
    ck_assert_int_eq(smr_model_save_buffer(m, &models[v], &lens[v]), SMR_OK);
    ck_assert_uint_le(lens[v], sizeof buf - 16);
    fuzz_model_once(models[v], lens[v]);
    smr_model_free(m);
  }
  for (int it = 0; it < 8000; it++) {
    int v = (int)rnd_below(8);
    size_t len = lens[v];
    memcpy(buf, models[v], len);
    int edits = 1 + (int)rnd_below(3);
    for (int e = 0; e < edits; e++) {
      size_t at = rnd_below(len);
      switch (rnd_below(6)) {
      case 0: buf[at] ^= (unsigned char)(1u << rnd_below(8)); break;
      case 1: buf[at] = (unsigned char)rnd(); break;
      case 2: /* a small integer in a header field */
        if (len >= 48) put_le(buf + 8 + 4 * rnd_below(8), rnd_below(6), 4);
        break;
      case 3: len = rnd_below(len + 1); break;
      case 4: /* append */
        if (len + 4 < sizeof buf) {
          put_le(buf + len, rnd(), 4);
          len += 4;
        }
        break;
      default: buf[at] = 0; break;
      }
      if (len == 0) break;
    }
    if (it % 2 == 0) fix_crc(buf, len);
    fuzz_model_once(buf, len);
  }
  for (int v = 0; v < 8; v++) free(models[v]);
  printf("test_fuzz_model: %zu of 11008 inputs accepted\n", fuzz_accepted);
}
END_TEST

/* ------------------------------------------------------------------------ */

static void remove_tmp_dir(void) {
  DIR *dir = opendir(tmp_dir);
  if (dir != NULL) {
    struct dirent *e;
    char path[512];
    while ((e = readdir(dir)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
      if (unlink(path) != 0) rmdir(path);
    }
    closedir(dir);
  }
  chmod(tmp_dir, 0700);
  rmdir(tmp_dir);
}

int main(void) {
  smr_test_isa_guard();
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/smr-test-io-XXXXXX");
  if (mkdtemp(tmp_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  Suite *s = suite_create("io");
  TCase *csv = tcase_create("csv");
  tcase_add_test(csv, test_csv_iris);
  tcase_add_test(csv, test_csv_wine);
  tcase_add_test(csv, test_csv_digits);
  tcase_add_test(csv, test_csv_null_accessors);
  tcase_add_test(csv, test_csv_string_labels_sorted);
  tcase_add_test(csv, test_csv_class_names_mapping);
  tcase_add_test(csv, test_csv_label_column_by_name);
  tcase_add_test(csv, test_csv_no_labels);
  tcase_add_test(csv, test_csv_delimiters);
  tcase_add_test(csv, test_csv_quotes);
  tcase_add_test(csv, test_csv_line_endings_and_blanks);
  tcase_add_test(csv, test_csv_numbers);
  tcase_add_test(csv, test_csv_features_f32_range);
  tcase_add_test(csv, test_csv_copy_rows);
  tcase_add_test(csv, test_split_stratified);
  tcase_add_test(csv, test_csv_errors);
  tcase_add_test(csv, test_csv_file_errors);
  tcase_add_test(csv, test_csv_gzip);
  tcase_add_test(csv, test_csv_header_option);
  tcase_add_test(csv, test_csv_gzip_members);
  tcase_add_test(csv, test_csv_limits);
  tcase_add_test(csv, test_csv_pieces);
  suite_add_tcase(s, csv);
  TCase *model = tcase_create("model");
  tcase_add_test(model, test_model_roundtrip);
  tcase_add_test(model, test_model_arguments);
  tcase_add_test(model, test_model_file_errors);
  tcase_add_test(model, test_model_save_targets);
  tcase_add_test(model, test_model_save_stale_temporaries);
  tcase_add_test(model, test_model_load_header_first);
  tcase_add_test(model, test_model_corruption);
  suite_add_tcase(s, model);
  TCase *fuzz = tcase_create("fuzz");
  tcase_set_timeout(fuzz, 600);
  tcase_add_test(fuzz, test_fuzz_csv);
  tcase_add_test(fuzz, test_fuzz_model);
  suite_add_tcase(s, fuzz);

  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  remove_tmp_dir();
  return failed == 0 ? 0 : 1;
}
