/*
 * onednn_softmax.c - oneDNN's softmax primitive (C API, accurate algorithm,
 * forward inference, f32, softmax over axis 1 of a dense n x k tensor) and
 * a memcpy of the same bytes, timed in one process for bench/compare.sh.
 *
 *   onednn-softmax [-t THREADS] NxK...
 *
 * Prints one CSV line per shape and measurement:
 *   impl,op,shape,threads,seconds_per_call,GBps
 * and '#' lines with the oneDNN version and the implementation it chose.
 * -t only labels the lines: oneDNN's CPU runtime is OpenMP here, so the
 * caller sets OMP_NUM_THREADS.
 *
 * Timing follows smr-bench (bench/smr_bench.c): bytes are the minimum
 * traffic (z read once, p written once: 2 * n * k * 4), inputs are uniform
 * in [-4, 4); shapes up to 64 MiB of input rotate over 4 input/output
 * pairs so no call finds the previous call's output in cache, larger ones
 * use one pair. One warm-up call, then the median of 7 samples of at least
 * 20 ms and 3 calls each (5 samples of at least 1 call above 64 MiB, where
 * a call takes a tenth of a second or more).
 *
 * oneDNN 2.x (Debian 12 has 2.6) creates the primitive descriptor from an
 * operation descriptor (dnnl_softmax_v2_forward_desc_init); oneDNN 3.x
 * creates it directly (dnnl_softmax_forward_primitive_desc_create).
 */
#define _POSIX_C_SOURCE 200809L
#include <dnnl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NROT 4
#define DRAM_BYTES ((size_t)64 << 20)

#define CHECK(call)                                                                      \
  do {                                                                                   \
    const dnnl_status_t st_ = (call);                                                    \
    if (st_ != dnnl_success) {                                                           \
      fprintf(stderr, "onednn-softmax: %s failed: status %d\n", #call, (int)st_);        \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One shape's buffers and what a timed call needs. */
struct ctx {
  size_t n, k, nrot;
  float *z[NROT], *p[NROT];
  dnnl_stream_t stream;
  dnnl_primitive_t prim;
  dnnl_memory_t src[NROT], dst[NROT];
};

typedef void (*call_fn)(struct ctx *c, size_t b);

static void call_softmax(struct ctx *c, size_t b) {
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, c->src[b]}, {DNNL_ARG_DST, c->dst[b]}};
  CHECK(dnnl_primitive_execute(c->prim, c->stream, 2, args));
  CHECK(dnnl_stream_wait(c->stream));
}

static void call_memcpy(struct ctx *c, size_t b) {
  memcpy(c->p[b], c->z[b], c->n * c->k * sizeof(float));
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median seconds per call of fn, rotating over c's buffer pairs. */
static double time_call(struct ctx *c, call_fn fn) {
  const int dram = c->nrot == 1;
  const int samples = dram ? 5 : 7;
  const size_t min_calls = dram ? 1 : 3;
  double t[7];
  fn(c, 0);
  for (int s = 0; s < samples; s++) {
    size_t calls = 0;
    const double t0 = now();
    double el;
    do {
      fn(c, calls % c->nrot);
      calls++;
      el = now() - t0;
    } while (el < 0.02 || calls < min_calls);
    t[s] = el / (double)calls;
  }
  qsort(t, (size_t)samples, sizeof t[0], cmp_double);
  return t[samples / 2];
}

/* The values smr-bench uses: xorshift64 mapped to [-4, 4). */
static void fill(float *z, size_t len, unsigned long long *x) {
  for (size_t i = 0; i < len; i++) {
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    z[i] = (float)((double)(*x >> 11) * 0x1p-53 * 8.0 - 4.0);
  }
}

/* Creates c->prim for an n x k f32 tensor in row-major (ab) layout and
   memory objects over c's own buffers; returns the implementation name. */
static const char *make_primitive(struct ctx *c, dnnl_engine_t eng) {
  const dnnl_dims_t dims = {(dnnl_dim_t)c->n, (dnnl_dim_t)c->k};
  dnnl_primitive_desc_t pd;
#if DNNL_VERSION_MAJOR >= 3
  dnnl_memory_desc_t md;
  CHECK(dnnl_memory_desc_create_with_tag(&md, 2, dims, dnnl_f32, dnnl_ab));
  CHECK(dnnl_softmax_forward_primitive_desc_create(&pd, eng, dnnl_forward_inference,
                                                   dnnl_softmax_accurate, md, md, 1, NULL));
  for (size_t b = 0; b < c->nrot; b++) {
    CHECK(dnnl_memory_create(&c->src[b], md, eng, c->z[b]));
    CHECK(dnnl_memory_create(&c->dst[b], md, eng, c->p[b]));
  }
  CHECK(dnnl_memory_desc_destroy(md));
#else
  dnnl_memory_desc_t md;
  dnnl_softmax_v2_desc_t sd;
  CHECK(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab));
  CHECK(dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference, dnnl_softmax_accurate,
                                          &md, &md, 1));
  CHECK(dnnl_primitive_desc_create(&pd, &sd, NULL, eng, NULL));
  for (size_t b = 0; b < c->nrot; b++) {
    CHECK(dnnl_memory_create(&c->src[b], &md, eng, c->z[b]));
    CHECK(dnnl_memory_create(&c->dst[b], &md, eng, c->p[b]));
  }
#endif
  static char impl[128];
  const char *s = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&s) != dnnl_success)
    s = "?";
  snprintf(impl, sizeof impl, "%s", s);
  CHECK(dnnl_primitive_create(&c->prim, pd));
  CHECK(dnnl_primitive_desc_destroy(pd));
  return impl;
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
  case dnnl_cpu_isa_avx2: return "avx2";
  case dnnl_cpu_isa_avx512_core: return "avx512_core";
  case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
  case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
  default: return "other";
  }
}

static const char *runtime_name(unsigned rt) {
  switch (rt) {
  case DNNL_RUNTIME_SEQ: return "sequential";
  case DNNL_RUNTIME_OMP: return "OpenMP";
  case DNNL_RUNTIME_TBB: return "TBB";
  case DNNL_RUNTIME_THREADPOOL: return "threadpool";
  default: return "other";
  }
}

static int bench_shape(dnnl_engine_t eng, dnnl_stream_t stream, size_t n, size_t k, int threads) {
  struct ctx c = {.n = n, .k = k, .stream = stream};
  const size_t bytes = n * k * sizeof(float);
  c.nrot = bytes > DRAM_BYTES ? 1 : NROT;
  unsigned long long x = 0x9E3779B97F4A7C15ull + k;
  for (size_t b = 0; b < c.nrot; b++) {
    c.z[b] = malloc(bytes);
    c.p[b] = malloc(bytes);
    if (c.z[b] == NULL || c.p[b] == NULL) {
      fprintf(stderr, "onednn-softmax: out of memory for %zux%zu\n", n, k);
      return 1;
    }
    fill(c.z[b], n * k, &x);
    memcpy(c.p[b], c.z[b], bytes); /* touch the output pages before timing */
  }
  const char *impl = make_primitive(&c, eng);
  printf("# oneDNN softmax implementation for %zux%zu: %s\n", n, k, impl);
  const double traffic = 2.0 * (double)bytes;
  const double tm = time_call(&c, call_memcpy);
  printf("onednn-memcpy,memcpy,%zux%zu,%d,%.9g,%.4f\n", n, k, threads, tm, traffic / tm * 1e-9);
  const double ts = time_call(&c, call_softmax);
  printf("onednn,softmax,%zux%zu,%d,%.9g,%.4f\n", n, k, threads, ts, traffic / ts * 1e-9);
  fflush(stdout);
  CHECK(dnnl_primitive_destroy(c.prim));
  for (size_t b = 0; b < c.nrot; b++) {
    CHECK(dnnl_memory_destroy(c.src[b]));
    CHECK(dnnl_memory_destroy(c.dst[b]));
    free(c.z[b]);
    free(c.p[b]);
  }
  return 0;
}

int main(int argc, char **argv) {
  int threads = 1, first = 1;
  if (argc > 2 && strcmp(argv[1], "-t") == 0) {
    threads = atoi(argv[2]);
    first = 3;
  }
  if (first >= argc) {
    fprintf(stderr, "usage: onednn-softmax [-t THREADS] NxK...\n");
    return 2;
  }
  const dnnl_version_t *v = dnnl_version();
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  printf("# oneDNN %d.%d.%d, CPU runtime %s, effective CPU ISA %s (0x%x)\n", v->major, v->minor,
         v->patch, runtime_name(v->cpu_runtime), isa_name(isa), (unsigned)isa);
  dnnl_engine_t eng;
  dnnl_stream_t stream;
  CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
  CHECK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
  int rc = 0;
  for (int i = first; i < argc && rc == 0; i++) {
    size_t n, k;
    char tail;
    if (sscanf(argv[i], "%zux%zu%c", &n, &k, &tail) != 2 || n == 0 || k == 0) {
      fprintf(stderr, "onednn-softmax: not a shape NxK: '%s'\n", argv[i]);
      return 2;
    }
    rc = bench_shape(eng, stream, n, k, threads);
  }
  CHECK(dnnl_stream_destroy(stream));
  CHECK(dnnl_engine_destroy(eng));
  return rc;
}
