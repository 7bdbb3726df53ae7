#!/bin/sh
# dram_probe.sh - where the time per element of the f32 softmax and CE +
# gradient kernels goes, in core cycles, next to memcpy, a read-only
# reduction and SLEEF's exp loop alone (docs/BENCHMARKS.md, "The DRAM shape
# (8192x32000): where the time goes").
#
#   bench/dram_probe.sh BUILD_DIR N K ROT ROUNDS [KERNEL ...]
#   e.g. bench/dram_probe.sh build 8192 32000 1 7
#        bench/dram_probe.sh build 256 1000 4 7
#
# BUILD_DIR is a configured and built Meson build directory (release, with
# the avx512 folder: it links src/libsmr.a and friends and needs SLEEF).
# N x K f32 rows, ROT (1-4) buffer pairs rotated over (1 for shapes larger than
# the caches, 4 for 256x1000 like smr-bench), ROUNDS rounds; in each round
# every kernel is timed once, in turn (interleaved, so a change of load on
# the shared machine hits all kernels alike). One sample is one call (DRAM)
# or as many calls as take 0.1 s. Reported per kernel: the median over the
# rounds (and min-max) of
#   ns/el   thread CPU time per element
#   GHz     the core clock, measured right before and after the sample on
#           the same thread by a chain of dependent 64-bit adds (1 cycle
#           each on Zen 4; the imul chain printed at the start, 3 cycles
#           each, checks it)
#   cyc/el  ns/el x GHz: the cycles per element that perf stat -e cycles
#           would give, on a VM that exposes no PMU (this one: dmesg
#           "PMU not available due to virtualization")
#   GB/s    bytes counted as smr-bench counts them (input read once, output
#           written once, 8 B per element; 4 B for read) over thread CPU
#           time (wall time on a shared two-core machine also counts the
#           time other processes held this core: see cpu%)
#   x_mcp   memcpy's CPU time per byte in the same round over the kernel's
#           (list memcpy first; 0 when it is not in the list)
#   cpu%    thread CPU time over wall time of the sample
# Kernels: memcpy, read (the avx512 sumsq: smr-bench's read reference),
# exp (bench/exp_floor_avx512.c: load, SLEEF exp, plain store), exp_nt
# (the same loop with non-temporal stores: the write traffic of softmax's
# streaming path), softmax, ce_grad (ce_logits with a gradient, out of
# place), and softmax_plain / ce_grad_plain (the kernels with the streaming
# path not taken: no scratch), softmax_stream / ce_grad_stream (taken: a
# scratch of two rows passed to the kernel, src/kernels.h).
# Pin nothing: the machine has two cores and others use them.
# PROBE_BIN=path keeps the compiled driver for perf record (cpu-clock).
# PROBE_THREADS=2 splits the rows over two threads (smr-bench's threads:2);
# ns/el and cyc/el then add both threads' CPU time (core time per element),
# GB/s and x_mcp are per core.
set -eu
B=${1:?build dir}; shift
S=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat >"$T/probe.c" <<'EOF'
#define _GNU_SOURCE
#include "exp_floor.h"
#include "kernels.h"
#include "smr.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clk(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double cpu(void) { return clk(CLOCK_THREAD_CPUTIME_ID); }
static double wall(void) { return clk(CLOCK_MONOTONIC); }

/* cycles per ns: 2e6 dependent adds, best of 5 (an interrupt only slows) */
static double ghz_add(void) {
  double best = 0;
  for (int t = 0; t < 5; t++) {
    uint64_t x = 0;
    const double t0 = cpu();
    for (int i = 0; i < 20000; i++) __asm__ volatile(".rept 100\n\tadd $1, %0\n\t.endr" : "+r"(x));
    const double g = 2e6 / (cpu() - t0) / 1e9;
    if (g > best) best = g;
  }
  return best;
}
static double ghz_imul(void) {
  double best = 0;
  for (int t = 0; t < 5; t++) {
    uint64_t x = 3;
    const double t0 = cpu();
    for (int i = 0; i < 20000; i++) __asm__ volatile(".rept 100\n\timul %0, %0\n\t.endr" : "+r"(x));
    const double g = 3 * 2e6 / (cpu() - t0) / 1e9;
    if (g > best) best = g;
  }
  return best;
}

void exp_nt(const float *z, float *o, size_t len); /* probe_nt.c */

static size_t n, k, rot;
static float *zb[4], *ob[4];
static int32_t *lab;
static volatile double sink;

/* the "_stream" kernels pass the kernel a scratch of two rows (one per
   thread), which makes it stream its output; the others pass none */
static float *scratch_for(const char *kn) {
  static _Thread_local float *scr;
  if (strstr(kn, "_stream") == NULL) return NULL;
  if (scr == NULL && (scr = malloc(SMR_STREAM_SCRATCH(k) * sizeof(float))) == NULL) exit(2);
  return scr;
}

/* one call of kernel kn on rows [r0, r1) of buffer pair b */
static void run_rows(const char *kn, int b, size_t r0, size_t r1) {
  const struct smr_kernels *t = smr_kernels_for(SMR_ISA_AVX512);
  const float *z = zb[b] + r0 * k;
  float *o = ob[b] + r0 * k;
  const size_t len = (r1 - r0) * k;
  const size_t n = r1 - r0; /* NOLINT: shadows the shape's n */
  if (!strcmp(kn, "memcpy")) memcpy(o, z, len * 4);
  else if (!strcmp(kn, "read")) sink = t->f32.sumsq(z, len);
  else if (!strcmp(kn, "exp")) smrb_exp_floor_f32(z, o, len);
  else if (!strcmp(kn, "exp_nt")) exp_nt(z, o, len);
  else if (!strncmp(kn, "softmax", 7)) t->f32.softmax(z, o, n, k, scratch_for(kn));
  else if (!strncmp(kn, "ce_grad", 7)) sink = t->f32.ce_logits(z, lab, NULL, n, k, 1.0f, o, scratch_for(kn));
  else { fprintf(stderr, "unknown kernel %s\n", kn); exit(2); }
}

/* PROBE_THREADS=2: the rows split in two halves, the second on a helper
   thread whose CPU time is added to the caller's (cycles per element are
   then core-cycles: both cores' cycles over all elements) */
static int nthr = 1;
static double helper_cpu;
struct half { const char *kn; int b; };
static void *helper(void *a) {
  const struct half *h = a;
  const double t0 = cpu();
  run_rows(h->kn, h->b, n / 2, n);
  helper_cpu += cpu() - t0;
  return NULL;
}
static void run(const char *kn, int b) {
  if (nthr == 1) {
    run_rows(kn, b, 0, n);
    return;
  }
  struct half h = {kn, b};
  pthread_t th;
  if (pthread_create(&th, NULL, helper, &h) != 0) exit(1);
  run_rows(kn, b, 0, n / 2);
  pthread_join(th, NULL);
}

struct res { double ns, ghz, cyc, gbs, xm; };
static int cmpd(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double med(double *v, int m) {
  double c[256];
  memcpy(c, v, (size_t)m * sizeof *v);
  qsort(c, (size_t)m, sizeof *c, cmpd);
  return m % 2 ? c[m / 2] : 0.5 * (c[m / 2 - 1] + c[m / 2]);
}
static double mn(double *v, int m) { double r = v[0]; for (int i = 1; i < m; i++) r = v[i] < r ? v[i] : r; return r; }
static double mx(double *v, int m) { double r = v[0]; for (int i = 1; i < m; i++) r = v[i] > r ? v[i] : r; return r; }

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  n = strtoul(argv[1], 0, 10), k = strtoul(argv[2], 0, 10), rot = strtoul(argv[3], 0, 10);
  if (rot < 1 || rot > 4 || n < 2 || k < 1) { fprintf(stderr, "N >= 2, K >= 1, ROT 1-4\n"); return 2; }
  const int rounds = atoi(argv[4]);
  const char *def[] = {"memcpy", "read", "exp", "exp_nt", "softmax", "ce_grad", "softmax_plain", "softmax_stream"};
  const char **kn = argc > 5 ? (const char **)argv + 5 : def;
  const int nk = argc > 5 ? argc - 5 : (int)(sizeof def / sizeof *def);
  if (rounds < 1 || rounds > 256 || nk > 16) { fprintf(stderr, "ROUNDS 1-256, at most 16 kernels\n"); return 2; }
  if (smr_kernels_for(SMR_ISA_AVX512) == NULL) { fprintf(stderr, "no avx512\n"); return 1; }
  const size_t len = n * k;
  if (getenv("PROBE_THREADS") != NULL) nthr = atoi(getenv("PROBE_THREADS")) == 2 ? 2 : 1;
  unsigned long long x = 0x9E3779B97F4A7C15ull + k;
  for (size_t r = 0; r < rot; r++) {
    zb[r] = aligned_alloc(64, (len * 4 + 63) / 64 * 64);
    ob[r] = aligned_alloc(64, (len * 4 + 63) / 64 * 64);
    if (!zb[r] || !ob[r]) return 1;
    for (size_t i = 0; i < len; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      zb[r][i] = ob[r][i] = (float)((double)(x >> 11) * 0x1p-53 * 8.0 - 4.0);
    }
  }
  lab = malloc(n * sizeof *lab);
  for (size_t i = 0; i < n; i++) lab[i] = (int32_t)(i % k);
  printf("# %zux%zu f32, %zu buffer pair(s), %d thread(s), %d rounds; clock check: add chain %.3f GHz, imul chain %.3f GHz\n",
         n, k, rot, nthr, rounds, ghz_add(), ghz_imul());
  static double ns[16][256], gh[16][256], cy[16][256], gb[16][256], xm[16][256], cp[16][256];
  int b = 0;
  for (int r = 0; r < rounds; r++) {
    double mcp = 0;
    for (int q = 0; q < nk; q++) {
      run(kn[q], b); /* warm: the first call of a kernel is not timed */
      b = (int)((b + 1) % rot);
      const double g0 = ghz_add();
      helper_cpu = 0;
      const double w0 = wall(), c0 = cpu();
      size_t calls = 0;
      do {
        run(kn[q], b);
        b = (int)((b + 1) % rot);
        calls++;
      } while (wall() - w0 < 0.1);
      const double c1 = cpu() + helper_cpu, w1 = wall();
      const double g1 = ghz_add(), g = 0.5 * (g0 + g1), els = (double)calls * (double)len;
      const double bytes = els * (strcmp(kn[q], "read") ? 8.0 : 4.0);
      if (!strcmp(kn[q], "memcpy")) mcp = (c1 - c0) / els;
      ns[q][r] = (c1 - c0) / els * 1e9;
      gh[q][r] = g;
      cy[q][r] = ns[q][r] * g;
      gb[q][r] = bytes / (c1 - c0) / 1e9;
      xm[q][r] = mcp > 0 ? mcp / ((c1 - c0) / els) * (strcmp(kn[q], "read") ? 1.0 : 0.5) : 0;
      cp[q][r] = 100.0 * (c1 - c0) / (w1 - w0);
    }
  }
  printf("%-15s %8s %8s %8s %18s %7s %6s %5s\n", "kernel", "ns/el", "GHz", "cyc/el", "(min-max)", "GB/s", "x_mcp", "cpu%");
  for (int q = 0; q < nk; q++)
    printf("%-15s %8.3f %8.3f %8.3f %8.3f-%-8.3f %7.2f %6.2f %5.0f\n", kn[q], med(ns[q], rounds), med(gh[q], rounds),
           med(cy[q], rounds), mn(cy[q], rounds), mx(cy[q], rounds), med(gb[q], rounds), med(xm[q], rounds),
           med(cp[q], rounds));
  return 0;
}
EOF
cat >"$T/probe_nt.c" <<'EOF'
#include <immintrin.h>
#include <sleef.h>
#include <stddef.h>
void exp_nt(const float *z, float *o, size_t len);
/* SLEEF's exp with non-temporal stores (o aligned to 64 bytes) */
void exp_nt(const float *z, float *o, size_t len) {
  size_t j = 0;
  for (; j + 16 <= len; j += 16) _mm512_stream_ps(o + j, Sleef_expf16_u10avx512f(_mm512_loadu_ps(z + j)));
  for (; j < len; j++) o[j] = z[j];
  _mm_sfence();
}
EOF
cc -O3 -std=c11 -mavx512f -mavx512dq -mavx512vl -mavx512bw -mfma -c "$T/probe_nt.c" -o "$T/probe_nt.o"
# the optional libraries the build linked (OpenBLAS, zlib), if any
EXTRA="$(grep -o '[^ ]*libopenblas\.so' "$B/build.ninja" | head -1) $(grep -o '[^ ]*libz\.so' "$B/build.ninja" | head -1)"
# shellcheck disable=SC2086 # EXTRA: zero to two paths, split on purpose
cc -O2 -std=c11 -I"$S/bench" -I"$S/include" -I"$S/src" -I"$B/src" "$T/probe.c" "$T/probe_nt.o" -o "$T/probe" \
  -Wl,--start-group "$B/bench/libsmrb_exp_floor.a" "$B/src/libsmr.a" "$B/src/scalar/libsmr_scalar.a" \
  "$B/src/avx2/libsmr_avx2.a" "$B/src/avx512/libsmr_avx512.a" -Wl,--end-group \
  -lsleef -lm -pthread $EXTRA
# PROBE_BIN=path keeps the driver (for perf record -e cpu-clock / perf annotate)
if [ -n "${PROBE_BIN:-}" ]; then cp "$T/probe" "$PROBE_BIN"; fi
"$T/probe" "$@"
