/*
 * smr_bench.c - the benchmark families of smr, in C, run by Google
 * Benchmark through shim.h.
 *
 *   smr-bench [--benchmark_filter=REGEX] [any Google Benchmark flag]
 *
 * Names: family/isa/dtype/n x k/threads:T. Families: softmax (two-pass),
 * online, naive (a plain three-pass scalar softmax written here: the
 * reference a user would write), log_softmax, ce_grad (out of place),
 * ce_grad_inplace, ce_loss (g == NULL), memcpy (the same bytes read and
 * written), read (a read-only reduction of the same bytes) and exp
 * (SLEEF's AVX-512 exp alone in its tightest loop, bench/exp_floor_avx512.c:
 * the compute floor of the kernels that take one exp per element). Every kernel runs
 * through the kernel table of each available ISA (smr_kernels_for).
 *
 * Counters: bytes_per_second counts the minimum traffic (input read once,
 * output written once), items_per_second elements of z; x_memcpy is the
 * kernel's bytes/s over memcpy's bytes/s for the same shape and dtype, and
 * x_read over a read-only reduction (the active ISA's sumsq kernel: one
 * read, nothing written), for read-only kernels; both measured in the same
 * process before the first benchmark of that shape and dtype, with the
 * same number of threads (median of 7 samples of at least 20 ms each).
 * Google Benchmark prints them with a "/s" suffix (they are rate counters:
 * reference time per call over measured time per call); they are plain
 * ratios.
 * In-cache shapes rotate over 4 input/output buffer pairs per call so no
 * call sees the previous call's warm buffer; DRAM shapes use one buffer
 * pair larger than any cache. With threads:2 each thread takes half the
 * rows.
 */
#include "exp_floor.h"
#include "kernels.h"
#include "shim.h"
#include "smr_config.h"
#include "smr.h"
#include "timing.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum fam { F_SOFTMAX, F_ONLINE, F_NAIVE, F_LOGSM, F_CE_GRAD, F_CE_INPLACE, F_CE_LOSS, F_MEMCPY,
           F_READ, F_EXP, NUM_FAM };
static const char *const fam_name[NUM_FAM] = {"softmax", "online",          "naive",
                                              "log_softmax", "ce_grad", "ce_grad_inplace",
                                              "ce_loss", "memcpy",      "read",
                                              "exp"};
static const bool fam_writes[NUM_FAM] = {true, true, true, true, true, true, false, true, false,
                                         true};

struct shape {
  size_t n, k;
};
/* L1 to DRAM; vocabulary-sized rows; short rows with many rows. */
static const struct shape shapes[] = {
    {16, 100},    {256, 1000},  {64, 4096},   {8, 32000},     {4, 128000},
    {2, 256000},  {262144, 3},  {100000, 10}, {10000, 100},   {8192, 32000},
};
#define NUM_SHAPES (sizeof shapes / sizeof shapes[0])
#define DRAM_BYTES ((size_t)64 << 20) /* inputs above this are "DRAM" shapes */

/* The buffers of one (shape, dtype), filled on first use (so a filtered
   run allocates only what it measures), with its reference rates. */
struct bufs {
  void *z[SMRT_ROTATIONS], *o[SMRT_ROTATIONS];
  int32_t *labels;
  size_t nrot;
  bool ready;
  double memcpy_bps[2], read_bps[2]; /* [threads - 1] */
};

struct job {
  enum fam f;
  int isa, dt; /* dt 0 = f32, 1 = f64 */
  struct shape s;
  struct bufs *b;
  char name[128];
};

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool prepare(const struct job *j);

static volatile double sink;

/* The read-only reference: the sum of squares of the active ISA (one read
   of the bytes, a few vector operations per load, nothing written). */
static double read_sum(const void *z, size_t len, int dt) {
  const struct smr_kernels *t = smr_kernels_active();
  return dt == 0 ? t->f32.sumsq(z, len) : t->f64.sumsq(z, len);
}

/* The three-pass softmax as written from the formula, in the dtype. */
static void naive_softmax(const void *zv, void *pv, size_t n, size_t k, int dt) {
  for (size_t i = 0; i < n; i++) {
    if (dt == 0) {
      const float *z = (const float *)zv + i * k;
      float *p = (float *)pv + i * k, m = -INFINITY, s = 0;
      for (size_t j = 0; j < k; j++) m = z[j] > m ? z[j] : m;
      for (size_t j = 0; j < k; j++) s += p[j] = expf(z[j] - m);
      for (size_t j = 0; j < k; j++) p[j] /= s;
    } else {
      const double *z = (const double *)zv + i * k;
      double *p = (double *)pv + i * k, m = -INFINITY, s = 0;
      for (size_t j = 0; j < k; j++) m = z[j] > m ? z[j] : m;
      for (size_t j = 0; j < k; j++) s += p[j] = exp(z[j] - m);
      for (size_t j = 0; j < k; j++) p[j] /= s;
    }
  }
}

/* One call of job j on rows [r0, r1) of buffer pair b. */
static void run_once(const struct job *j, size_t b, size_t r0, size_t r1) {
  const struct smr_kernels *t = smr_kernels_for(j->isa);
  const size_t k = j->s.k, n = r1 - r0, sz = j->dt == 0 ? 4 : 8, off = r0 * k * sz;
  const void *z = (const char *)j->b->z[b] + off;
  void *o = (char *)j->b->o[b] + off;
  const int32_t *lab = j->b->labels + r0;
  switch (j->f) {
  case F_SOFTMAX:
    j->dt == 0 ? t->f32.softmax(z, o, n, k, NULL) : t->f64.softmax(z, o, n, k, NULL);
    break;
  case F_ONLINE:
    j->dt == 0 ? t->f32.softmax_online(z, o, n, k) : t->f64.softmax_online(z, o, n, k);
    break;
  case F_NAIVE: naive_softmax(z, o, n, k, j->dt); break;
  case F_LOGSM:
    j->dt == 0 ? t->f32.log_softmax(z, o, n, k) : t->f64.log_softmax(z, o, n, k);
    break;
  case F_CE_GRAD:
    sink = j->dt == 0 ? t->f32.ce_logits(z, lab, NULL, n, k, 1.0f, o, NULL)
                      : t->f64.ce_logits(z, lab, NULL, n, k, 1.0, o, NULL);
    break;
  case F_CE_INPLACE: /* overwrites the input: the values stay bounded (|g| <= 1) */
    sink = j->dt == 0 ? t->f32.ce_logits(o, lab, NULL, n, k, 1.0f, o, NULL)
                      : t->f64.ce_logits(o, lab, NULL, n, k, 1.0, o, NULL);
    break;
  case F_CE_LOSS:
    sink = j->dt == 0 ? t->f32.ce_logits(z, lab, NULL, n, k, 1.0f, NULL, NULL)
                      : t->f64.ce_logits(z, lab, NULL, n, k, 1.0, NULL, NULL);
    break;
  case F_MEMCPY: memcpy(o, z, n * k * sz); break;
  case F_READ: sink = read_sum(z, n * k, j->dt); break;
  case F_EXP:
#if SMR_HAVE_AVX512
    j->dt == 0 ? smrb_exp_floor_f32(z, o, n * k) : smrb_exp_floor_f64(z, o, n * k);
#endif
    break;
  case NUM_FAM: break;
  }
}

static size_t traffic(const struct job *j) {
  const size_t sz = j->dt == 0 ? 4 : 8, len = j->s.n * j->s.k;
  return len * sz * (fam_writes[j->f] ? 2 : 1);
}

static void bench(smrb_state *st, void *arg) {
  const struct job *j = arg;
  pthread_mutex_lock(&init_lock);
  const bool ok = prepare(j);
  pthread_mutex_unlock(&init_lock);
  if (!ok) {
    smrb_skip(st, "out of memory");
    return;
  }
  const size_t T = (size_t)smrb_threads(st), ti = (size_t)smrb_thread_index(st);
  const size_t r0 = j->s.n * ti / T, r1 = j->s.n * (ti + 1) / T;
  size_t b = 0;
  while (smrb_keep_running(st)) {
    run_once(j, b, r0, r1);
    b = (b + 1) % j->b->nrot;
  }
  /* counters per thread add up across threads */
  const double share = (double)(r1 - r0) / (double)j->s.n;
  smrb_set_bytes(st, (int64_t)((double)traffic(j) * share));
  smrb_set_items(st, (int64_t)((double)(j->s.n * j->s.k) * share));
  smrb_counter(st, "x_memcpy", (double)traffic(j) * share / j->b->memcpy_bps[T - 1], true);
  if (!fam_writes[j->f])
    smrb_counter(st, "x_read", (double)traffic(j) * share / j->b->read_bps[T - 1], true);
}

/* One timed sample of the reference: calls on rows [r0, r1), rotating over
   the buffers, until at least 20 ms have passed (long enough for the clock
   to ramp up and for small shapes to be timed over many calls). */
struct sample {
  const struct job *j;
  size_t r0, r1;
  double per_call; /* seconds */
};

static void sample_call(void *arg, size_t call) {
  const struct sample *sp = arg;
  run_once(sp->j, call % sp->j->b->nrot, sp->r0, sp->r1);
}

static void *sample_run(void *arg) {
  struct sample *sp = arg;
  /* 16 calls per clock read keep the clock out of small shapes */
  sp->per_call = smrt_sample(sample_call, sp, 16, 0.02, NULL);
  return NULL;
}

/* Median bytes/s of 7 samples of family f (memcpy or read) with the rows
   split over `threads` threads like the benchmarks (the slower thread's
   time per call counts). */
static double reference_bps(struct job j, enum fam f, int threads) {
  j.f = f;
  double t[7];
  run_once(&j, 0, 0, j.s.n);
  for (int r = 0; r < 7; r++) {
    struct sample sm[2] = {{&j, 0, j.s.n / 2, 0}, {&j, j.s.n / 2, j.s.n, 0}};
    if (threads == 1) {
      sm[0].r1 = j.s.n;
      sample_run(&sm[0]);
      t[r] = sm[0].per_call;
      continue;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, sample_run, &sm[1]) != 0) {
      sm[1].r0 = 0; /* no second thread: time the whole on this one */
      sample_run(&sm[1]);
      t[r] = sm[1].per_call;
      continue;
    }
    sample_run(&sm[0]);
    pthread_join(th, NULL);
    const double a = sm[0].per_call, b = sm[1].per_call;
    t[r] = a > b ? a : b;
  }
  return (double)traffic(&j) / smrt_median(t, 7);
}

/* Allocates and fills the buffers of j's (shape, dtype) and measures its
   memcpy and read references, once. Called under init_lock. */
static bool prepare(const struct job *jp) {
  struct bufs *b = jp->b;
  if (b->ready) return true;
  const struct shape s = jp->s;
  const int dt = jp->dt;
  const size_t sz = dt == 0 ? 4 : 8, bytes = s.n * s.k * sz;
  b->nrot = smrt_rotations(bytes, DRAM_BYTES);
  b->labels = malloc(s.n * sizeof *b->labels);
  if (b->labels == NULL) return false;
  unsigned long long x = 0x9E3779B97F4A7C15ull + s.k;
  for (size_t r = 0; r < b->nrot; r++) {
    b->z[r] = malloc(bytes);
    b->o[r] = malloc(bytes);
    if (b->z[r] == NULL || b->o[r] == NULL) return false;
    for (size_t i = 0; i < s.n * s.k; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const double v = (double)(x >> 11) * 0x1p-53 * 8.0 - 4.0;
      if (dt == 0) {
        ((float *)b->z[r])[i] = (float)v;
        ((float *)b->o[r])[i] = (float)v;
      } else {
        ((double *)b->z[r])[i] = v;
        ((double *)b->o[r])[i] = v;
      }
    }
  }
  for (size_t i = 0; i < s.n; i++) b->labels[i] = (int32_t)(i % s.k);
  struct job base = *jp;
  base.isa = SMR_ISA_SCALAR;
  for (int threads = 1; threads <= 2; threads++) {
    b->memcpy_bps[threads - 1] = reference_bps(base, F_MEMCPY, threads);
    b->read_bps[threads - 1] = reference_bps(base, F_READ, threads);
  }
  b->ready = true;
  return true;
}

#define MAX_JOBS (NUM_SHAPES * 2 * NUM_FAM * SMR_ISA_COUNT * 2)
static struct job *jobs[MAX_JOBS];
static struct bufs *groups[NUM_SHAPES * 2];

static void free_all(size_t njobs, size_t ngroups) {
  for (size_t i = 0; i < njobs; i++) free(jobs[i]);
  for (size_t g = 0; g < ngroups; g++) {
    for (size_t r = 0; r < SMRT_ROTATIONS; r++) {
      free(groups[g]->z[r]);
      free(groups[g]->o[r]);
    }
    free(groups[g]->labels);
    free(groups[g]);
  }
}

int main(int argc, char **argv) {
  size_t njobs = 0, ngroups = 0;
  for (size_t si = 0; si < NUM_SHAPES; si++) {
    for (int dt = 0; dt < 2; dt++) {
      const struct shape s = shapes[si];
      struct bufs *b = calloc(1, sizeof *b);
      if (b == NULL) return 1;
      groups[ngroups++] = b;
      struct job base = {F_MEMCPY, SMR_ISA_SCALAR, dt, s, b, ""};
      for (int f = 0; f < NUM_FAM; f++) {
        for (int isa = 0; isa < SMR_ISA_COUNT; isa++) {
          if (smr_kernels_for(isa) == NULL) continue;
          /* families that do not use the table run once, under "-" */
          const bool tabled = f != F_NAIVE && f != F_MEMCPY && f != F_READ;
          if (!tabled && isa > 0) continue;
          /* SLEEF's exp alone: AVX-512 only (the floor of the exp kernels) */
          if (f == F_EXP && (!SMR_HAVE_AVX512 || isa != SMR_ISA_AVX512)) continue;
          for (int threads = 1; threads <= 2; threads++) {
            struct job *j = malloc(sizeof *j);
            if (j == NULL) return 1;
            jobs[njobs++] = j;
            *j = base;
            j->f = (enum fam)f;
            j->isa = isa;
            snprintf(j->name, sizeof j->name, "%s/%s/%s/%zux%zu", fam_name[f],
                     tabled ? smr_isa_name((smr_isa)isa) : "-", dt == 0 ? "f32" : "f64", s.n, s.k);
            smrb_register(j->name, bench, j, threads);
          }
        }
      }
    }
  }
  const int rc = smrb_main(argc, argv);
  free_all(njobs, ngroups);
  return rc;
}
