/*
 * fuzz_csv.c - libFuzzer target: the CSV reader, in memory and from files
 * (plain and gzip), with every option combination the CLI can pass.
 *
 * Input: two option bytes, then the CSV bytes.
 *   byte 0: bits 0-2 delimiter (',' ';' '\t' ' ' '|' and 3 more ','),
 *           bits 3-4 label column (last, "label" by name, "1", none),
 *           bits 5-6 header (default, present, absent; 3 = default),
 *           bit 7 class names given (as `smr eval` passes a model's).
 *   byte 1: bits 0-1 max_bytes (default, 64, 4096, the text's length),
 *           bits 2-3 how the file is written (as is, gzip, gzip in two
 *           members, gzip plus a trailing byte).
 * Checks:
 *   - no crash, leak or undefined behaviour (the sanitizers);
 *   - a data set that is returned satisfies smr.h: n, d >= 1, finite
 *     features, labels in [0, k), k distinct class names in the reader's
 *     order (sorted; integers as numbers), feature names present;
 *   - an error has a message that starts with the source's name;
 *   - the same bytes parsed from memory and read from a file (written as
 *     is) give the same status, position and data set (unless one of them
 *     is the size limit, which the file reader checks as the text arrives) (the file reader
 *     parses in pieces: this compares the pieces with one parse); gzip
 *     members give the same as the plain text; trailing bytes after gzip
 *     are an error.
 */
#include "smr.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char path[64];

static void die(const char *what) {
  fprintf(stderr, "fuzz_csv: %s\n", what);
  abort();
}

static void write_file(const void *p, size_t len) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) die("cannot write the temporary file");
  if (len > 0 && fwrite(p, 1, len, f) != len) die("short write");
  if (fclose(f) != 0) die("close");
}

/* gzip of p (one member) appended to f. */
static void gzip_member(FILE *f, const uint8_t *p, size_t len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflate");
  size_t cap = deflateBound(&zs, (uLong)len) + 32;
  uint8_t *out = malloc(cap);
  if (out == NULL) die("memory");
  zs.next_in = (Bytef *)(uintptr_t)p;
  zs.avail_in = (uInt)len;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) die("deflate finish");
  fwrite(out, 1, cap - zs.avail_out, f);
  deflateEnd(&zs);
  free(out);
}

static void check_dataset(const smr_dataset *ds, const smr_csv_options *o) {
  const size_t n = smr_dataset_num_rows(ds), d = smr_dataset_num_features(ds);
  const size_t k = smr_dataset_num_classes(ds);
  if (n == 0 || d == 0) die("empty data set returned");
  const double *X = smr_dataset_features(ds);
  for (size_t i = 0; i < n * d; i++)
    if (!isfinite(X[i])) die("non-finite feature");
  for (size_t j = 0; j < d; j++)
    if (smr_dataset_feature_name(ds, j) == NULL) die("feature name missing");
  const int32_t *y = smr_dataset_labels(ds);
  if (o->no_labels) {
    if (y != NULL || k != 0) die("labels without a label column");
    return;
  }
  if (y == NULL || k == 0) die("no labels");
  for (size_t i = 0; i < n; i++)
    if (y[i] < 0 || (size_t)y[i] >= k) die("label outside [0, k)");
  if (o->class_names != NULL) {
    if (k != o->num_class_names) die("k differs from the given class names");
    return;
  }
  if (k > n) die("more classes than rows");
  for (size_t j = 0; j < k; j++) {
    const char *a = smr_dataset_class_name(ds, j);
    if (a == NULL) die("class name missing");
    if (j > 0 && strcmp(smr_dataset_class_name(ds, j - 1), a) == 0) die("repeated class name");
  }
  /* every class occurs */
  char *seen = calloc(k, 1);
  if (seen == NULL) die("memory");
  for (size_t i = 0; i < n; i++) seen[y[i]] = 1;
  for (size_t j = 0; j < k; j++)
    if (!seen[j]) die("a class without rows (a phantom class)");
  free(seen);
}

static void same_dataset(const smr_dataset *a, const smr_dataset *b) {
  const size_t n = smr_dataset_num_rows(a), d = smr_dataset_num_features(a);
  const size_t k = smr_dataset_num_classes(a);
  if (n != smr_dataset_num_rows(b) || d != smr_dataset_num_features(b) ||
      k != smr_dataset_num_classes(b))
    die("memory and file parses differ in shape");
  if (memcmp(smr_dataset_features(a), smr_dataset_features(b), n * d * sizeof(double)) != 0)
    die("memory and file parses differ in features");
  if (k > 0 && memcmp(smr_dataset_labels(a), smr_dataset_labels(b), n * sizeof(int32_t)) != 0)
    die("memory and file parses differ in labels");
  for (size_t j = 0; j < k; j++) {
    const char *x = smr_dataset_class_name(a, j), *y = smr_dataset_class_name(b, j);
    if ((x == NULL) != (y == NULL) || (x != NULL && strcmp(x, y) != 0))
      die("memory and file parses differ in class names");
  }
  for (size_t j = 0; j < d; j++)
    if (strcmp(smr_dataset_feature_name(a, j), smr_dataset_feature_name(b, j)) != 0)
      die("memory and file parses differ in feature names");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  if (path[0] == '\0') {
    snprintf(path, sizeof path, "/tmp/fuzz_csv-%ld.csv", (long)getpid());
  }
  const uint8_t b0 = data[0], b1 = data[1];
  const uint8_t *text = data + 2;
  const size_t len = size - 2;
  static const char delims[8] = {',', ';', '\t', ' ', '|', ',', ',', ','};
  static const char *const names[] = {"a", "b", "0", "1", "-1", "x y", "10"};
  smr_csv_options o;
  memset(&o, 0, sizeof o);
  o.delimiter = delims[b0 & 7];
  switch ((b0 >> 3) & 3) {
  case 1: o.label_column = "label"; break;
  case 2: o.label_column = "1"; break;
  case 3: o.no_labels = true; break;
  default: break;
  }
  const int hdr = (b0 >> 5) & 3;
  o.header = hdr == 1 ? SMR_CSV_HEADER_PRESENT : hdr == 2 ? SMR_CSV_HEADER_ABSENT
                                                          : SMR_CSV_HEADER_DEFAULT;
  if (b0 & 0x80) {
    o.class_names = names;
    o.num_class_names = sizeof names / sizeof names[0];
  }
  switch (b1 & 3) {
  case 1: o.max_bytes = 64; break;
  case 2: o.max_bytes = 4096; break;
  case 3: o.max_bytes = len > 0 ? len : 1; break;
  default: break;
  }

  smr_dataset *mem = NULL, *file = NULL;
  smr_error_detail em, ef;
  memset(&em, 0, sizeof em);
  memset(&ef, 0, sizeof ef);
  const smr_status sm = smr_dataset_parse_csv(&mem, (const char *)text, len, "m", &o, &em);
  if (sm == SMR_OK) {
    check_dataset(mem, &o);
  } else {
    if (mem != NULL) die("data set returned with an error");
    if (strncmp(em.message, "m", 1) != 0) die("message without the source name");
  }

  const int mode = (b1 >> 2) & 3;
  const bool gz_magic = len >= 2 && text[0] == 0x1f && text[1] == 0x8b;
  if (mode == 0) {
    write_file(text, len);
  } else {
    FILE *f = fopen(path, "wb");
    if (f == NULL) die("cannot write the temporary file");
    if (mode == 2 && len > 1) {
      gzip_member(f, text, len / 2);
      gzip_member(f, text + len / 2, len - len / 2);
    } else {
      gzip_member(f, text, len);
    }
    if (mode == 3) fputc('x', f);
    if (fclose(f) != 0) die("close");
  }
  const smr_status sf = smr_dataset_read_csv(&file, path, &o, &ef);
  if (sf == SMR_OK) check_dataset(file, &o);
  else if (file != NULL) die("data set returned with an error");
  /* a trailing byte after gzip: an error (the text's own error when it
     has one, which comes first in reading order) */
  if (mode == 3 && (sf == SMR_OK || (sm == SMR_OK && sf != SMR_EFORMAT && sf != SMR_ENOMEM)))
    die("trailing byte after gzip accepted");
  /* the same text, whole or in pieces, plain or in gzip members: the same
     result (a text that itself starts with the gzip magic is gzip to the
     file reader, not in memory) */
  /* the size limit is checked as the text arrives: a file's earlier error
     may come first, while memory is checked whole at once */
  const bool limit_hit = (sm != SMR_OK && strstr(em.message, "larger than the limit") != NULL) ||
                         (sf != SMR_OK && strstr(ef.message, "larger than the limit") != NULL);
  if ((mode == 1 || mode == 2 || (mode == 0 && !gz_magic)) && sm != SMR_ENOMEM &&
      sf != SMR_ENOMEM && !limit_hit) {
    if (sm != sf) {
      fprintf(stderr, "memory: %s | file: %s\n", em.message, ef.message);
      die("memory and file parses differ in status");
    }
    if (sm == SMR_OK) same_dataset(mem, file);
    else if (em.line != ef.line || em.column != ef.column) {
      fprintf(stderr, "memory: %s | file: %s\n", em.message, ef.message);
      die("memory and file parses differ in the error position");
    }
  }
  smr_dataset_free(mem);
  smr_dataset_free(file);
  return 0;
}
