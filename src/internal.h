/*
 * internal.h - ISA-independent helpers shared by the core (not installed).
 */
#ifndef SMR_INTERNAL_H
#define SMR_INTERNAL_H

#include "smr.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Token pasting for the f32/f64 template bodies (*_tmpl.h), which are
   included once per dtype with SFX defined as f32 or f64:
   SMR_CAT(smr_fit, SFX) -> smr_fit_f32. */
#define SMR_CAT_(a, b) a##_##b
#define SMR_CAT(a, b) SMR_CAT_(a, b)

/* a * b into *out; false (and *out untouched) if it overflows size_t. */
static inline bool smr_mul_ok(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return false;
  *out = a * b;
  return true;
}

/* True when an a x b array of es-byte elements can exist: its byte count
   fits in ptrdiff_t (no object is larger), so pointer arithmetic over it
   cannot wrap. The public functions return SMR_EOVERFLOW otherwise. */
static inline bool smr_array_ok(size_t a, size_t b, size_t es) {
  size_t ab, bytes;
  return smr_mul_ok(a, b, &ab) && smr_mul_ok(ab, es, &bytes) && bytes <= (size_t)PTRDIFF_MAX;
}

/* The public row kernels (src/api_kernels.c) stream outputs of at least
   this many bytes: they pass their kernel calls a scratch of two rows
   (src/kernels.h, "Outputs that cannot stay in cache"). Default SIZE_MAX,
   never: plain stores were faster at the DRAM shape (docs/BENCHMARKS.md,
   "The tuning constants"). Tests and bench/dram_probe.sh lower it to run
   the streaming path. Read with relaxed loads; change it only while no
   public row kernel runs. */
extern atomic_size_t smr_stream_min_bytes;

/* The model. W and b are of the model's dtype. */
struct smr_model {
  size_t d, k;
  smr_dtype dtype;
  double learning_rate;
  void *W;          /* d x k, followed by b */
  void *b;          /* k: W + d k, in W's allocation */
  double *mean;     /* d, or NULL: standardization */
  double *scale;    /* d, or NULL */
  char **class_names; /* k strings, or NULL */
  double *history;  /* loss history of the last fit */
  size_t history_len;
};

/* Deterministic generator: xoshiro256** seeded through splitmix64. */
typedef struct smr_rng { uint64_t s[4]; } smr_rng;
void smr_rng_seed(smr_rng *r, uint64_t seed);
uint64_t smr_rng_next(smr_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double smr_rng_uniform(smr_rng *r);
/* Standard normal (Box-Muller, one value per call; deterministic). */
double smr_rng_normal(smr_rng *r);
/* Uniform integer in [0, bound), bound >= 1, without modulo bias. */
uint64_t smr_rng_below(smr_rng *r, uint64_t bound);

/* Writes "fmt..." into err->message (if err) with line/column. */
void smr_set_error(smr_error_detail *err, size_t line, size_t column,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32), incremental:
   crc = smr_crc32(0, buf, len) for the first chunk. */
uint32_t smr_crc32(uint32_t crc, const void *buf, size_t len);

/* Sets err (may be NULL) to "NAME:LINE:COL: what" ("NAME:LINE: what" for
   column 0, "NAME: what" for line 0; NAME "<memory>" when NULL) and
   returns s. */
smr_status smr_fail_at(smr_error_detail *err, const char *name, smr_status s, size_t line,
                       size_t column, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
/* Thread-safe strerror (the XSI strerror_r under _POSIX_C_SOURCE). */
void smr_errno_text(int e, char *buf, size_t size);

#endif /* SMR_INTERNAL_H */
