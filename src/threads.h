/*
 * threads.h - smr's thread count and its pool of worker threads (internal,
 * ISA-independent; src/threads.c).
 *
 * One number, set by smr_set_num_threads or at first use from the
 * environment, is both the size of the pool (the row-parallel kernel
 * calls of the trainer) and the BLAS's thread count. The two never run at
 * once: the calling thread runs a matrix product, then the pool's job,
 * then the next product, so N threads never become 2N.
 *
 * Results do not depend on the thread count: a job is a fixed list of
 * tasks (how the work is cut never depends on the threads), each task
 * writes its own result, and the caller combines them in task order. The
 * threads only decide which task runs where.
 */
#ifndef SMR_THREADS_H
#define SMR_THREADS_H

#include <stddef.h>

/* Chooses the thread count from the environment (once, from dispatch.c's
   initialization): SMR_NUM_THREADS=N (an integer >= 1), else
   OPENBLAS_NUM_THREADS=N, else 1. Hands it to the BLAS (smr_blas_init). */
void smr_threads_init(void);

/* Runs fn(ctx, t) for every t in [0, ntasks) and returns when all have
   returned. Tasks run in any order, on the pool's threads and the caller's;
   they must write disjoint memory. Everything runs in the caller when the
   count is 1, when ntasks < 2, when the pool is busy with another caller's
   job (also: a task that calls this again) or when a worker thread cannot
   be started: never an error, the same results. */
void smr_parallel_for(size_t ntasks, void (*fn)(void *ctx, size_t task), void *ctx);

#endif /* SMR_THREADS_H */
