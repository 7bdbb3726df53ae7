/*
 * threads.h - smr's thread count and its pool of worker threads (internal,
 * ISA-independent; src/threads.c). It calls nothing of smr's: dispatch.c
 * initializes it and forwards smr_set_num_threads to it.
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

/* The count from the start (once, from dispatch.c's initialization, which
   reads the environment and gives the BLAS the same count). */
void smr_threads_init(size_t count);

/* A new count (>= 1), for the next job: waits for a job in flight, and
   stops the workers when their number changes (smr_set_num_threads). */
void smr_threads_set_count(size_t count);

/* The count (>= 1): how many tasks a caller may want to cut work into.
   Never changes a result (see above). */
size_t smr_threads_count(void);

/* Runs fn(ctx, t) for every t in [0, ntasks) and returns when all have
   returned. Tasks run in any order, on the pool's threads and the caller's;
   they must write disjoint memory. Everything runs in the caller when the
   count is 1, when ntasks < 2, when the pool is busy with another caller's
   job (also: a task that calls this again) or when a worker thread cannot
   be started: never an error, the same results. */
void smr_parallel_for(size_t ntasks, void (*fn)(void *ctx, size_t task), void *ctx);

#endif /* SMR_THREADS_H */
