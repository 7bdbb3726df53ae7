/*
 * blas.h - the two matrix products of the kernel table (linear_forward,
 * xt_g) through CBLAS, when the build has it (SMR_HAVE_BLAS: OpenBLAS,
 * Debian libopenblas-dev). Internal, ISA-independent (src/blas.c).
 */
#ifndef SMR_BLAS_H
#define SMR_BLAS_H

#include <stdbool.h>
#include <stddef.h>

struct smr_kernels;

/* Overwrites linear_forward and xt_g of both dtypes in t, the BLAS copy of
   ISA `isa`'s table, with cblas_sgemm / cblas_dgemm versions, which hand
   the shapes where the ISA's own kernels win (smr_blas_builtin) to `own`,
   that ISA's own table (bound here, never looked up at call time). `own`
   must stay valid and unchanged for the life of the process. Without BLAS:
   does nothing. */
void smr_blas_install(struct smr_kernels *t, int isa, const struct smr_kernels *own);

/* The BLAS's thread count from the start (dispatch.c, once, when the
   kernel tables are built); OpenBLAS gets it before its first product.
   See the top of blas.c. Without BLAS: does nothing. */
void smr_blas_init(int threads);

/* What runs the matrix products (smr_blas_info, after initialization): e.g.
   "OpenBLAS 0.3.21 (pthread, 1 thread, core Zen)", or
   "none (built-in blocked GEMM)". Valid until the next call in the same
   thread. */
const char *smr_blas_name(void);

/* The number of threads of the BLAS's matrix products, from now on
   (process-wide: OpenBLAS has one setting; call it while no product runs).
   n < 1: OpenBLAS's own default (OPENBLAS_NUM_THREADS, else one per
   core). Without OpenBLAS: does nothing. */
void smr_blas_set_num_threads(int n);

/* The BLAS's thread count (1 without OpenBLAS). */
int smr_blas_num_threads(void);

/* True when linear_forward and xt_g with d features, k classes and
   elements of esize bytes run on the active ISA's own kernels (the same
   bits on any thread count), false when on the BLAS. Always true without
   BLAS. The choice depends on the shape alone (blas.c: BUILTIN_MAX_K,
   BUILTIN_MAX_W_BYTES). */
bool smr_blas_builtin(size_t d, size_t k, size_t esize);

#endif /* SMR_BLAS_H */
