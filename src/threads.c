/*
 * threads.c - the thread count and the worker pool (see threads.h).
 *
 * The pool: count - 1 worker threads, started at the first job that needs
 * them, waiting on a condition variable between jobs. A job is published
 * under the pool's mutex with a new generation number; the workers and the
 * caller take tasks from one atomic counter until none are left, and the
 * caller waits until every worker has finished its last task. One job at a
 * time: `busy` is taken with trylock, and a caller that finds it taken (a
 * concurrent fit in another thread, or a task calling in again) runs its
 * tasks itself.
 *
 * fork: the workers do not exist in a child. pthread_atfork takes `busy`
 * around fork (so no job is in flight), and the child forgets its workers
 * and starts new ones at its first job.
 */
#include "threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static struct {
  pthread_mutex_t busy; /* held by the caller whose job the pool runs */
  pthread_mutex_t mu;   /* guards everything below but `next` */
  pthread_cond_t go, done;
  pthread_t *workers;
  size_t started;       /* workers running */
  unsigned long gen;    /* job number */
  unsigned long start_gen; /* gen when the running workers were started */
  bool quit;            /* workers of generation `gen` leave */
  void (*fn)(void *, size_t);
  void *ctx;
  size_t ntasks;
  size_t finished;      /* workers done with the current job */
  atomic_size_t next;   /* the next task to take */
} pool = {
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .go = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

/* The count: the pool's size (dispatch.c gives the BLAS the same). Changed
   only with `busy` held (smr_threads_set_count), read without. */
static atomic_size_t thread_count = 1;

static void run_tasks(void (*fn)(void *, size_t), void *ctx, size_t ntasks) {
  for (;;) {
    const size_t t = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
    if (t >= ntasks) return;
    fn(ctx, t);
  }
}

static void *worker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pool.mu);
  /* not pool.gen: the first job may have been published already */
  unsigned long seen = pool.start_gen;
  for (;;) {
    while (pool.gen == seen && !pool.quit) pthread_cond_wait(&pool.go, &pool.mu);
    if (pool.quit) break;
    seen = pool.gen;
    void (*fn)(void *, size_t) = pool.fn;
    void *ctx = pool.ctx;
    const size_t ntasks = pool.ntasks;
    pthread_mutex_unlock(&pool.mu);
    run_tasks(fn, ctx, ntasks);
    pthread_mutex_lock(&pool.mu);
    if (++pool.finished == pool.started) pthread_cond_signal(&pool.done);
  }
  pthread_mutex_unlock(&pool.mu);
  return NULL;
}

/* With `busy` held: all workers leave and are joined. */
static void stop_workers(void) {
  if (pool.started == 0) return;
  pthread_mutex_lock(&pool.mu);
  pool.quit = true;
  pthread_cond_broadcast(&pool.go);
  pthread_mutex_unlock(&pool.mu);
  for (size_t i = 0; i < pool.started; i++) pthread_join(pool.workers[i], NULL);
  pool.quit = false;
  pool.started = 0;
  free(pool.workers);
  pool.workers = NULL;
}

/* With `busy` held: count - 1 workers run (as many as could be started). */
static void start_workers(size_t count) {
  if (pool.started == count - 1) return;
  stop_workers();
  pool.workers = malloc((count - 1) * sizeof *pool.workers);
  if (pool.workers == NULL) return;
  pool.start_gen = pool.gen; /* no job is in flight */
  while (pool.started < count - 1 &&
         pthread_create(&pool.workers[pool.started], NULL, worker, NULL) == 0)
    pool.started++;
}

void smr_parallel_for(size_t ntasks, void (*fn)(void *ctx, size_t task), void *ctx) {
  const size_t count = atomic_load_explicit(&thread_count, memory_order_relaxed);
  if (ntasks < 2 || count < 2 || pthread_mutex_trylock(&pool.busy) != 0) {
    for (size_t t = 0; t < ntasks; t++) fn(ctx, t);
    return;
  }
  /* read again under `busy`: smr_set_num_threads may have changed it */
  start_workers(atomic_load_explicit(&thread_count, memory_order_relaxed));
  if (pool.started == 0) {
    pthread_mutex_unlock(&pool.busy);
    for (size_t t = 0; t < ntasks; t++) fn(ctx, t);
    return;
  }
  pthread_mutex_lock(&pool.mu);
  pool.fn = fn;
  pool.ctx = ctx;
  pool.ntasks = ntasks;
  pool.finished = 0;
  atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
  pool.gen++;
  pthread_cond_broadcast(&pool.go);
  pthread_mutex_unlock(&pool.mu);

  run_tasks(fn, ctx, ntasks);

  pthread_mutex_lock(&pool.mu);
  while (pool.finished < pool.started) pthread_cond_wait(&pool.done, &pool.mu);
  pthread_mutex_unlock(&pool.mu);
  pthread_mutex_unlock(&pool.busy);
}

/* fork: no job in flight while the process is copied; the child has no
   workers (they were not copied) and rebuilds the pool when it needs it. */
static void fork_prepare(void) { pthread_mutex_lock(&pool.busy); }
static void fork_parent(void) { pthread_mutex_unlock(&pool.busy); }
static void fork_child(void) {
  free(pool.workers);
  pool.workers = NULL;
  pool.started = 0;
  pool.quit = false;
  pthread_mutex_init(&pool.mu, NULL);
  pthread_cond_init(&pool.go, NULL);
  pthread_cond_init(&pool.done, NULL);
  pthread_mutex_unlock(&pool.busy);
}

void smr_threads_init(size_t count) {
  atomic_store_explicit(&thread_count, count, memory_order_relaxed);
  (void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void smr_threads_set_count(size_t count) {
  pthread_mutex_lock(&pool.busy);
  atomic_store_explicit(&thread_count, count, memory_order_relaxed);
  if (pool.started != count - 1) stop_workers(); /* restarted at the next job */
  pthread_mutex_unlock(&pool.busy);
}

size_t smr_threads_count(void) {
  return atomic_load_explicit(&thread_count, memory_order_relaxed);
}
