/*
 * isa_guard.h - the first call in the main() of every Check test.
 *
 * tests/meson.build registers each Check test once more per compiled ISA
 * (model@avx2, ...) with SMR_ISA=<isa>. When this CPU (or this build) does
 * not have that ISA, dispatch would silently fall back to another one, so
 * the test is skipped instead: exit status 77, which meson reports as SKIP.
 * An SMR_ISA that names no ISA at all is a mistake and fails (exit 1).
 */
#ifndef SMR_TEST_ISA_GUARD_H
#define SMR_TEST_ISA_GUARD_H

#include "smr.h"

#include <stdio.h>
#include <stdlib.h>

static inline void smr_test_isa_guard(void) {
  const char *isa = getenv("SMR_ISA");
  if (isa == NULL || isa[0] == '\0') return;
  const smr_status st = smr_isa_env_status();
  if (st == SMR_OK) return;
  if (st == SMR_EUNSUPPORTED) {
    printf("SMR_ISA=%s: not available on this CPU or not compiled in; skipped\n", isa);
    fflush(stdout);
    exit(77);
  }
  fprintf(stderr, "SMR_ISA=%s: not a known ISA name (%s)\n", isa, smr_strerror(st));
  exit(EXIT_FAILURE);
}

#endif
