/*
 * throughput.c - elements/s of every row kernel on every available ISA,
 * for one in-cache and one DRAM-sized shape (docs/BENCHMARKS.md).
 *
 *   smr-throughput [--reps N] [--quick]
 *
 * Each figure is the median of N timed calls (default 11) after one warm-up
 * call, through the kernel table of each ISA (smr_kernels_for), so all ISAs
 * run in one process on the same buffers. The in-cache shape rotates over
 * several buffers totalling about 1 MiB; the DRAM shape is one 512 MiB
 * (f32) input. memcpy of the same bytes (input read + output written) is
 * the reference for the streaming kernels. This is the first, plain
 * measurement; the Google Benchmark harness (bench/, issue 4) supersedes it.
 */
#include "kernels.h"
#include "smr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

enum kern { K_SOFTMAX, K_ONLINE, K_TEMP, K_LOGSM, K_CE_GRAD, K_CE_LOSS, K_ARGMAX, K_MEMCPY, NUM_K };
static const char *const kname[NUM_K] = {"softmax",    "softmax_online", "softmax_temp",
                                         "log_softmax", "ce_grad",       "ce_loss",
                                         "argmax",     "memcpy"};

struct shape {
  const char *name;
  size_t n, k, nbuf; /* nbuf buffers of n x k, used in rotation */
};

static void run(const struct smr_kernels_f32 *t, enum kern kk, float *z, float *out,
                const int32_t *lab, int32_t *arg, size_t n, size_t k) {
  switch (kk) {
  case K_SOFTMAX: t->softmax(z, out, n, k); break;
  case K_ONLINE: t->softmax_online(z, out, n, k); break;
  case K_TEMP: t->softmax_temperature(z, out, n, k, 0.7f); break;
  case K_LOGSM: t->log_softmax(z, out, n, k); break;
  case K_CE_GRAD: (void)t->ce_logits(z, lab, n, k, 1.0f / (float)n, out); break;
  case K_CE_LOSS: (void)t->ce_logits(z, lab, n, k, 1.0f, NULL); break;
  case K_ARGMAX: t->argmax_rows(z, n, k, arg); break;
  case K_MEMCPY: memcpy(out, z, n * k * sizeof *z); break;
  case NUM_K: break;
  }
}

int main(int argc, char **argv) {
  int reps = 11;
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (strcmp(argv[i], "--quick") == 0)
      quick = true;
    else {
      fprintf(stderr, "usage: smr-throughput [--reps N] [--quick]\n");
      return 2;
    }
  }
  if (reps < 1) reps = 1;
  const struct shape shapes[2] = {
      {"in-cache 64x1000 (x4 buffers, 1 MiB)", 64, 1000, 4},
      {quick ? "DRAM 512x32000 (64 MiB)" : "DRAM 4096x32000 (512 MiB)", quick ? 512 : 4096,
       32000, 1},
  };
  printf("smr-throughput: f32, median of %d calls, G elements/s (ratio to memcpy of the same "
         "bytes)\n", reps);
  for (int s = 0; s < 2; s++) {
    const struct shape *sh = &shapes[s];
    const size_t len = sh->n * sh->k;
    float **z = malloc(sh->nbuf * sizeof *z), **o = malloc(sh->nbuf * sizeof *o);
    int32_t *lab = malloc(sh->n * sizeof *lab), *arg = malloc(sh->n * sizeof *arg);
    if (z == NULL || o == NULL || lab == NULL || arg == NULL) return 1;
    unsigned long long x = 88172645463325252ull;
    for (size_t b = 0; b < sh->nbuf; b++) {
      z[b] = malloc(len * sizeof **z);
      o[b] = malloc(len * sizeof **o);
      if (z[b] == NULL || o[b] == NULL) return 1;
      for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        z[b][i] = (float)((double)(x >> 11) * 0x1p-53 * 8.0 - 4.0);
        o[b][i] = 0.0f;
      }
    }
    for (size_t i = 0; i < sh->n; i++) lab[i] = (int32_t)(i % sh->k);
    printf("\n%s\n%-16s", sh->name, "kernel");
    for (int isa = 0; isa < SMR_ISA_COUNT; isa++)
      if (smr_kernels_for(isa) != NULL) printf("%22s", smr_isa_name((smr_isa)isa));
    printf("\n");
    double *times = malloc((size_t)reps * sizeof *times);
    double memcpy_rate = 0;
    for (int kk = NUM_K - 1; kk >= 0; kk--) { /* memcpy first: the reference */
      printf("%-16s", kname[kk]);
      for (int isa = 0; isa < SMR_ISA_COUNT; isa++) {
        const struct smr_kernels *t = smr_kernels_for(isa);
        if (t == NULL) continue;
        if (kk == K_MEMCPY && isa > 0) {
          printf("%22s", "");
          continue;
        }
        run(&t->f32, (enum kern)kk, z[0], o[0], lab, arg, sh->n, sh->k);
        for (int r = 0; r < reps; r++) {
          const size_t b = (size_t)r % sh->nbuf;
          const double t0 = now();
          run(&t->f32, (enum kern)kk, z[b], o[b], lab, arg, sh->n, sh->k);
          times[r] = now() - t0;
        }
        qsort(times, (size_t)reps, sizeof *times, cmp_double);
        const double rate = (double)len / times[reps / 2] / 1e9;
        if (kk == K_MEMCPY) memcpy_rate = rate;
        char cell[32];
        snprintf(cell, sizeof cell, "%.2f (%.2f)", rate, rate / memcpy_rate);
        printf("%22s", cell);
      }
      printf("\n");
    }
    free(times);
    for (size_t b = 0; b < sh->nbuf; b++) {
      free(z[b]);
      free(o[b]);
    }
    free(z);
    free(o);
    free(lab);
    free(arg);
  }
  return 0;
}
