/*
 * check_util.h - small helpers shared by the Check suites that work on
 * either dtype through void buffers (test_model, test_train, test_solvers,
 * test_threads, test_kernels). static inline: a suite that does not use
 * one does not warn.
 */
#ifndef SMR_TEST_CHECK_UTIL_H
#define SMR_TEST_CHECK_UTIL_H

#include "smr.h"

#include <check.h>
#include <stddef.h>
#include <stdlib.h>

/* malloc that fails the test instead of returning NULL (0 bytes: 1). */
static inline void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  ck_assert_ptr_nonnull(p);
  return p;
}

static inline size_t esize(smr_dtype dt) {
  return dt == SMR_F32 ? sizeof(float) : sizeof(double);
}

/* Element i of a buffer of dtype dt, as a double. */
static inline double get_at(smr_dtype dt, const void *buf, size_t i) {
  return dt == SMR_F32 ? (double)((const float *)buf)[i] : ((const double *)buf)[i];
}

/* Element i of a buffer of dtype dt = v (rounded for f32). */
static inline void set_at(smr_dtype dt, void *buf, size_t i, double v) {
  if (dt == SMR_F32)
    ((float *)buf)[i] = (float)v;
  else
    ((double *)buf)[i] = v;
}

#endif /* SMR_TEST_CHECK_UTIL_H */
