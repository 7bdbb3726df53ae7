/*
 * fuzz_model.c - libFuzzer target: the model loader.
 *
 * Input: one mode byte, then the file's bytes. Mode bit 0: replace the last
 * 4 bytes with the CRC-32 of the others (zlib's crc32 is the format's), so
 * that mutations get past the checksum to the checks behind it.
 * Checks:
 *   - no crash, leak or undefined behaviour (the sanitizers);
 *   - a rejected buffer leaves *out NULL and a message starting "<memory>";
 *   - an accepted buffer is a usable model: its getters agree, it predicts
 *     on a small input, and it saves to exactly the bytes it was loaded
 *     from (the format has one encoding per model), which load again to a
 *     model that saves the same bytes;
 *   - loading the same bytes from a file gives the same status.
 */
#include "smr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char path[64];

static void die(const char *what) {
  fprintf(stderr, "fuzz_model: %s\n", what);
  abort();
}

static void use_model(smr_model *m) {
  const size_t d = smr_model_num_features(m), k = smr_model_num_classes(m);
  if (d == 0 || k == 0) die("an accepted model with d or k = 0");
  if (d * k > ((size_t)1 << 22)) return; /* large: do not predict */
  double Xd[3 * 64];
  float Xf[3 * 64];
  int32_t pred[3];
  const size_t n = d <= 64 ? 3 : 0;
  for (size_t i = 0; i < n * d; i++) {
    Xd[i] = (double)i - 3.5;
    Xf[i] = (float)Xd[i];
  }
  smr_status st = smr_model_dtype(m) == SMR_F32 ? smr_predict_f32(m, Xf, n, pred)
                                                 : smr_predict_f64(m, Xd, n, pred);
  if (st != SMR_OK) die("predict failed on a loaded model");
  for (size_t i = 0; i < n; i++)
    if (pred[i] < -1 || pred[i] >= (int32_t)k) die("prediction out of range");
  for (size_t j = 0; j < k; j++) (void)smr_model_class_name(m, j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (path[0] == '\0') snprintf(path, sizeof path, "/tmp/fuzz_model-%ld.smr", (long)getpid());
  const uint8_t mode = data[0];
  size_t len = size - 1;
  uint8_t *buf = malloc(len > 0 ? len : 1);
  if (buf == NULL) die("memory");
  if (len > 0) memcpy(buf, data + 1, len);
  if ((mode & 1) && len >= 4) {
    uint32_t c = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) buf[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
  }
  smr_model *m = (smr_model *)&m;
  smr_error_detail err;
  memset(&err, 0, sizeof err);
  const smr_status st = smr_model_load_buffer(&m, buf, len, &err);
  if (st != SMR_OK) {
    if (m != NULL) die("model returned with an error");
    if (strncmp(err.message, "<memory>", 8) != 0) die("message without the source name");
  } else {
    use_model(m);
    void *out = NULL, *again = NULL;
    size_t out_len = 0, again_len = 0;
    if (smr_model_save_buffer(m, &out, &out_len) != SMR_OK) die("save failed");
    if (out_len != len || memcmp(out, buf, len) != 0) die("save(load(x)) != x");
    smr_model *r = NULL;
    if (smr_model_load_buffer(&r, out, out_len, NULL) != SMR_OK) die("reload failed");
    if (smr_model_save_buffer(r, &again, &again_len) != SMR_OK) die("second save failed");
    if (again_len != out_len || memcmp(again, out, out_len) != 0) die("round trip not stable");
    smr_model_free(r);
    free(out);
    free(again);
    smr_model_free(m);
  }
  /* the file loader reads the header first, then the body: same verdict */
  FILE *f = fopen(path, "wb");
  if (f == NULL) die("cannot write the temporary file");
  if (len > 0) fwrite(buf, 1, len, f);
  if (fclose(f) != 0) die("close");
  smr_model *fm = NULL;
  const smr_status sf = smr_model_load_file(&fm, path, NULL);
  if ((sf == SMR_OK) != (st == SMR_OK) || (st != SMR_ENOMEM && sf != SMR_ENOMEM && sf != st))
    die("file and buffer loads differ");
  smr_model_free(fm);
  free(buf);
  return 0;
}
