/* bench.c - smr bench: the kernels of smr.h timed on every ISA against
   memcpy (quickbench.c measures). */
#include "cli.h"
#include "quickbench.h"

/* ------------------------------------------------------------------------ */
/* smr bench                                                                 */
/* ------------------------------------------------------------------------ */

void help_bench(FILE *f) {
  fputs(
    "Usage: smr bench [options]\n"
    "\n"
    "A quick benchmark (seconds) of the row-wise kernels of the public API on\n"
    "each available instruction set: softmax, online softmax, log-softmax,\n"
    "cross-entropy from logits with its gradient out of place and in place,\n"
    "and its loss only, next to a memcpy of the same bytes timed in the same\n"
    "pass. Prints one table per ISA: a row per kernel, a column per n x k\n"
    "shape, each cell the GB/s of the minimum traffic (input read once, output\n"
    "written once; ce_loss only reads) and its ratio to memcpy. A cell is the\n"
    "median of up to 5 samples. The kernels run on --threads threads (calls of\n"
    "more than 2^18 elements are cut into row tasks, smr.h); the memcpy always\n"
    "on one. bench/smr-bench is the full suite.\n"
    "\n"
    "      --dtype f32|f64        element type (default f32)\n"
    "      --isa LIST|all         comma-separated ISAs among scalar, avx2, avx512,\n"
    "                             neon (default all: every one available here)\n"
    "      --shapes NxK[,NxK...]  n rows of k elements, n, k >= 1\n"
    "                             (default 256x1000,10000x100,8x32000,512x32768)\n"
    "      --kernels LIST|all     comma-separated rows among softmax, online,\n"
    "                             log_softmax, ce_grad, ce_grad_inplace, ce_loss\n"
    "                             (default all; the memcpy row is always there)\n"
    "      --time SECONDS         time per cell, > 0 (default 0.05)\n"
    "      --format table|csv     tables, or one CSV line per cell (default table)\n"
    "      --threads N            threads of the kernels, 1..256 (default 1)\n"
    "  -h, --help                 this help\n"
    "\n"
    "Example: smr bench --isa scalar,avx2 --shapes 256x1000 --dtype f64\n",
    f);
}

static const struct option bench_opts[] = {
  {"dtype", required_argument, NULL, O_DTYPE},
  {"isa", required_argument, NULL, O_ISA},
  {"shapes", required_argument, NULL, O_SHAPES},
  {"kernels", required_argument, NULL, O_KERNELS},
  {"time", required_argument, NULL, O_TIME},
  {"format", required_argument, NULL, O_FORMAT},
  {"threads", required_argument, NULL, O_THREADS},
  {"help", no_argument, NULL, 'h'},
  {NULL, 0, NULL, 0},
};

#define BENCH_MAX_SHAPES 16
#define BENCH_DEFAULT_SHAPES "256x1000,10000x100,8x32000,512x32768"

typedef struct bench_shape {
  size_t n, k;
} bench_shape;

typedef struct bench_cfg {
  smr_dtype dtype;
  unsigned isas;    /* bit i: measure smr_isa i */
  unsigned kernels; /* bit j: measure qb_kernel j (memcpy always) */
  bench_shape shape[BENCH_MAX_SHAPES];
  size_t nshapes;
  double time;
  bool csv;
  size_t threads; /* of the kernels (smr_set_num_threads) */
} bench_cfg;

typedef struct bench_results {
  double sec[SMR_ISA_COUNT][QB_NUM_KERNELS][BENCH_MAX_SHAPES]; /* per call */
} bench_results;

/* Walks a comma-separated list, empty items included: each call sets
   [*item, *item + *len) to the next item; false after the last one.
   *pos starts at the list and is NULL once it is used up. */
static bool list_next(const char **pos, const char **item, size_t *len) {
  if (*pos == NULL) return false;
  *item = *pos;
  *len = strcspn(*pos, ",");
  *pos = (*pos)[*len] == ',' ? *pos + *len + 1 : NULL;
  return true;
}

static bool item_is(const char *p, size_t len, const char *name) {
  return strlen(name) == len && strncmp(p, name, len) == 0;
}

/* An item, for messages: at most 64 bytes of it. */
static int item_width(size_t len) { return len > 64 ? 64 : (int)len; }

enum dim_status { DIM_OK, DIM_MALFORMED, DIM_ZERO, DIM_HUGE };

/* A decimal dimension in [s, s + len): digits only. */
static enum dim_status parse_dim(const char *s, size_t len, size_t *out) {
  size_t v = 0;
  if (len == 0) return DIM_MALFORMED;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return DIM_MALFORMED;
    const size_t d = (size_t)(s[i] - '0');
    if (v > (SIZE_MAX - d) / 10) return DIM_HUGE;
    v = v * 10 + d;
  }
  *out = v;
  return v == 0 ? DIM_ZERO : DIM_OK;
}

static bool opt_shapes(const char *s, bench_cfg *cfg) {
  cfg->nshapes = 0;
  const char *pos = s, *p;
  size_t len;
  while (list_next(&pos, &p, &len)) {
    const char *x = memchr(p, 'x', len);
    const size_t nlen = x != NULL ? (size_t)(x - p) : len;
    bench_shape sh = {0, 0};
    enum dim_status dn = parse_dim(p, nlen, &sh.n);
    enum dim_status dk = x != NULL ? parse_dim(x + 1, len - nlen - 1, &sh.k) : DIM_MALFORMED;
    const char *why = NULL;
    if (dn == DIM_MALFORMED || dk == DIM_MALFORMED)
      why = "is not NxK (two positive integers, e.g. 256x1000)";
    else if (dn == DIM_HUGE || dk == DIM_HUGE) why = "has a dimension beyond SIZE_MAX";
    else if (dn == DIM_ZERO || dk == DIM_ZERO) why = "has a zero dimension (n and k must be >= 1)";
    else if (cfg->nshapes == BENCH_MAX_SHAPES) why = "is one shape too many (at most 16)";
    if (why != NULL) {
      usage_fail("invalid value '%s' for --shapes: '%.*s' %s", s, item_width(len), p, why);
      return false;
    }
    cfg->shape[cfg->nshapes++] = sh;
  }
  return true;
}

static unsigned available_isas(void) {
  unsigned m = 0;
  for (int i = 0; i < SMR_ISA_COUNT; i++)
    if (smr_isa_available((smr_isa)i)) m |= 1u << i;
  return m;
}

/* "all" (all_mask) or a comma-separated list of names[0..count) into
   *mask, one bit per name; otherwise a usage error naming what an item
   must be. */
static bool opt_name_list(const char *opt, const char *s, const char *const *names, int count,
                          unsigned all_mask, const char *what, const char *expected,
                          unsigned *mask) {
  *mask = 0;
  if (strcmp(s, "all") == 0) {
    *mask = all_mask;
    return true;
  }
  const char *pos = s, *p;
  size_t len;
  while (list_next(&pos, &p, &len)) {
    int found = -1;
    for (int i = 0; i < count && found < 0; i++)
      if (item_is(p, len, names[i])) found = i;
    if (found < 0) {
      usage_fail("invalid value '%s' for %s: '%.*s' is not %s (expected all, or a "
                 "comma-separated list of %s)", s, opt, item_width(len), p, what, expected);
      return false;
    }
    *mask |= 1u << found;
  }
  return true;
}

/* "all" (every ISA available here) or a list of names. Availability of
   named ISAs is checked later (bench_check_isas), not as a usage error. */
static bool opt_isa_list(const char *s, unsigned *mask) {
  const char *names[SMR_ISA_COUNT];
  for (int i = 0; i < SMR_ISA_COUNT; i++) names[i] = smr_isa_name((smr_isa)i);
  return opt_name_list("--isa", s, names, SMR_ISA_COUNT, available_isas(), "an ISA",
                       "scalar, avx2, avx512, neon", mask);
}

/* memcpy, the reference, is always measured. */
static bool opt_kernel_list(const char *s, unsigned *mask) {
  if (!opt_name_list("--kernels", s, qb_kernel_names, QB_NUM_KERNELS,
                     (1u << QB_NUM_KERNELS) - 1, "a kernel",
                     "softmax, online, log_softmax, ce_grad, ce_grad_inplace, ce_loss", mask))
    return false;
  *mask |= 1u << QB_MEMCPY;
  return true;
}

static bool opt_format(const char *s, bool *csv) {
  static const char *const names[] = {"table", "csv"};
  size_t i;
  if (!opt_choice("--format", s, names, 2, &i)) return false;
  *csv = i == 1;
  return true;
}

/* Fills cfg from the command line. Returns 0, EXIT_USAGE, or -1 for --help. */
static int parse_bench(int argc, char **argv, bench_cfg *cfg) {
  args a = {{NULL}, 0};
  int c;
  while ((c = getopt_long(argc, argv, short_opts_plain, bench_opts, NULL)) != -1) {
    int r = common_opt(c, argv, bench_opts, &a);
    if (r > 0) return r;
    if (r == 0) continue;
    bool ok = true;
    switch (c) {
    case 'h': return -1;
    case O_DTYPE: ok = opt_dtype(optarg, &cfg->dtype); break;
    case O_ISA: ok = opt_isa_list(optarg, &cfg->isas); break;
    case O_SHAPES: ok = opt_shapes(optarg, cfg); break;
    case O_KERNELS: ok = opt_kernel_list(optarg, &cfg->kernels); break;
    case O_TIME: ok = opt_double("--time", optarg, GT0, &cfg->time); break;
    case O_FORMAT: ok = opt_format(optarg, &cfg->csv); break;
    case O_THREADS: ok = opt_size("--threads", optarg, 1, SMR_MAX_THREADS, &cfg->threads); break;
    default: return usage_fail("internal error: unhandled option");
    }
    if (!ok) return EXIT_USAGE;
  }
  if (rest_positionals(argc, argv, &a) != 0) return EXIT_USAGE;
  if (a.npos != 0) return usage_fail("unexpected argument '%s'", a.pos[0]);
  /* Known once the dtype is: the bytes of n x k elements (twice that for
     input and output) must fit in size_t. */
  const size_t esize = cfg->dtype == SMR_F32 ? sizeof(float) : sizeof(double);
  for (size_t i = 0; i < cfg->nshapes; i++) {
    const bench_shape sh = cfg->shape[i];
    if (qb_footprint(cfg->dtype, sh.n, sh.k) == SIZE_MAX)
      return usage_fail("--shapes %zux%zu: n * k * %zu bytes (%s) does not fit in size_t", sh.n,
                        sh.k, esize, dtype_name(cfg->dtype));
  }
  return 0;
}

/* The names of the ISAs in mask, space-separated, into buf. */
static void isa_list(unsigned mask, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (!(mask & (1u << i))) continue;
    int w = snprintf(buf + used, len - used, "%s%s", used > 0 ? " " : "", smr_isa_name((smr_isa)i));
    if (w < 0 || (size_t)w >= len - used) return;
    used += (size_t)w;
  }
}

/* A named ISA this build or CPU cannot run is a runtime error (as for
   `smr demo --isa`): the option is well formed, the machine lacks it. */
static int bench_check_isas(unsigned mask) {
  char avail[64];
  isa_list(available_isas(), avail, sizeof avail);
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    const smr_isa isa = (smr_isa)i;
    if (!(mask & (1u << i)) || smr_isa_available(isa)) continue;
    return fail("--isa %s: %s (available here: %s)", smr_isa_name(isa),
                smr_isa_compiled(isa) ? "this CPU does not support it"
                                      : "not compiled into this build",
                avail);
  }
  return 0;
}

static void format_bytes(double b, char *buf, size_t len) {
  static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (b < 1024) {
    snprintf(buf, len, "%.0f B", b);
    return;
  }
  int u = 0;
  for (b /= 1024; b >= 1024 && u < 4; u++) b /= 1024;
  snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", b, unit[u]);
}

/* Under overcommit, buffers beyond the physical memory may not fail malloc
   but get the process killed while they are filled: refused up front. */
static int bench_check_memory(const bench_cfg *cfg) {
#ifdef _SC_PHYS_PAGES
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  const double phys = (double)pages * (double)page;
  char need[32], have[32];
  for (size_t i = 0; i < cfg->nshapes; i++) {
    const bench_shape sh = cfg->shape[i];
    const double bytes = (double)qb_footprint(cfg->dtype, sh.n, sh.k);
    if (bytes <= phys) continue;
    format_bytes(bytes, need, sizeof need);
    format_bytes(phys, have, sizeof have);
    return fail("shape %zux%zu (%s) needs %s of buffers, more than the %s of memory here",
                sh.n, sh.k, dtype_name(cfg->dtype), need, have);
  }
#else
  (void)cfg;
#endif
  return 0;
}

/* One stderr line, rewritten per cell, when stderr is a terminal. */
static void bench_progress(bool on, const char *isa, bench_shape sh, const char *kernel) {
  if (!on) return;
  fprintf(stderr, "\rmeasuring %s %zux%zu %-15s   ", isa, sh.n, sh.k, kernel);
  fflush(stderr);
}

/* Measures every (shape, ISA, kernel) cell into res. Shapes go outermost
   so that only one shape's buffers exist at a time; in each ISA's pass the
   memcpy reference is timed first, right before the kernels it scales. */
static int bench_measure(const bench_cfg *cfg, bench_results *res) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  int rc = 0;
  for (size_t si = 0; si < cfg->nshapes && rc == 0; si++) {
    const bench_shape sh = cfg->shape[si];
    qb_buffers *b = NULL;
    smr_status s = qb_buffers_create(&b, cfg->dtype, sh.n, sh.k);
    if (s != SMR_OK) {
      rc = fail("shape %zux%zu (%s): cannot allocate its buffers: %s", sh.n, sh.k,
                dtype_name(cfg->dtype), smr_strerror(s));
      break;
    }
    for (int i = 0; i < SMR_ISA_COUNT && rc == 0; i++) {
      if (!(cfg->isas & (1u << i))) continue;
      const char *isa = smr_isa_name((smr_isa)i);
      if ((s = smr_isa_select((smr_isa)i)) != SMR_OK) {
        rc = fail("ISA %s: %s", isa, smr_strerror(s));
        break;
      }
      for (int step = 0; step < QB_NUM_KERNELS && rc == 0; step++) {
        _Static_assert(QB_MEMCPY == QB_NUM_KERNELS - 1, "memcpy is the last row");
        const qb_kernel kern = (qb_kernel)((QB_MEMCPY + step) % QB_NUM_KERNELS); /* memcpy first */
        if (!(cfg->kernels & (1u << kern))) continue;
        bench_progress(tty, isa, sh, qb_kernel_names[kern]);
        s = qb_measure(b, kern, cfg->time, &res->sec[i][kern][si]);
        if (s != SMR_OK)
          rc = fail("%s on %s, %zux%zu: %s", qb_kernel_names[kern], isa, sh.n, sh.k,
                    smr_strerror(s));
      }
    }
    qb_buffers_free(b);
  }
  if (tty) fprintf(stderr, "\r%79s\r", "");
  return rc;
}

static double bench_gbps(const bench_cfg *cfg, const bench_results *res, int isa, qb_kernel kern,
                         size_t si) {
  const bench_shape sh = cfg->shape[si];
  return (double)qb_traffic(kern, cfg->dtype, sh.n, sh.k) / res->sec[isa][kern][si] * 1e-9;
}

/* "GB/s (ratio)" with 2 and 3 decimals (a scalar kernel in cache is a few
   thousandths of memcpy); values too small for that (under an emulator)
   get 2 significant digits instead of rounding to 0. */
static void format_cell(const bench_cfg *cfg, const bench_results *res, int isa, qb_kernel kern,
                        size_t si, char *buf, size_t len) {
  const double g = bench_gbps(cfg, res, isa, kern, si);
  const double x = g / bench_gbps(cfg, res, isa, QB_MEMCPY, si);
  char gs[24], xs[24];
  snprintf(gs, sizeof gs, g >= 0.01 ? "%.2f" : "%.2g", g);
  snprintf(xs, sizeof xs, x >= 0.001 ? "%.3f" : "%.2g", x);
  snprintf(buf, len, "%s (%s)", gs, xs);
}

static void bench_print_csv(const bench_cfg *cfg, const bench_results *res) {
  puts("isa,dtype,threads,kernel,n,k,bytes,seconds,gb_per_s,x_memcpy");
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (!(cfg->isas & (1u << i))) continue;
    for (int j = 0; j < QB_NUM_KERNELS; j++) {
      if (!(cfg->kernels & (1u << j))) continue;
      for (size_t si = 0; si < cfg->nshapes; si++) {
        const bench_shape sh = cfg->shape[si];
        const double g = bench_gbps(cfg, res, i, (qb_kernel)j, si);
        printf("%s,%s,%zu,%s,%zu,%zu,%zu,%.6g,%.6g,%.6g\n", smr_isa_name((smr_isa)i),
               dtype_name(cfg->dtype), j == QB_MEMCPY ? (size_t)1 : cfg->threads,
               qb_kernel_names[j], sh.n, sh.k,
               qb_traffic((qb_kernel)j, cfg->dtype, sh.n, sh.k), res->sec[i][j][si], g,
               g / bench_gbps(cfg, res, i, QB_MEMCPY, si));
      }
    }
  }
}

static void bench_print_tables(const bench_cfg *cfg, const bench_results *res, smr_isa active) {
  char buf[64], avail[64];
  isa_list(available_isas(), avail, sizeof avail);
  printf("smr %s bench: CPU ISAs %s, active %s, dtype %s, threads %zu (memcpy 1)\n",
         smr_version(), avail, smr_isa_name(active), dtype_name(cfg->dtype), cfg->threads);
  fputs("shapes:", stdout);
  const size_t esize = cfg->dtype == SMR_F32 ? sizeof(float) : sizeof(double);
  for (size_t si = 0; si < cfg->nshapes; si++) {
    format_bytes((double)(cfg->shape[si].n * cfg->shape[si].k * esize), buf, sizeof buf);
    printf("%s %zux%zu (%s)", si == 0 ? "" : ",", cfg->shape[si].n, cfg->shape[si].k, buf);
  }
  printf("; %g s per cell, median of up to %d samples\n", cfg->time, QB_SAMPLES);
  puts("cells: GB/s of the minimum traffic (input read once + output written once; ce_loss: "
       "input read once) and, in parentheses, the ratio to the memcpy row");

  /* Column widths: the widest header or cell of any table. */
  int width[BENCH_MAX_SHAPES];
  for (size_t si = 0; si < cfg->nshapes; si++) {
    width[si] = snprintf(buf, sizeof buf, "%zux%zu", cfg->shape[si].n, cfg->shape[si].k);
    for (int i = 0; i < SMR_ISA_COUNT; i++)
      for (int j = 0; j < QB_NUM_KERNELS; j++) {
        if (!(cfg->isas & (1u << i)) || !(cfg->kernels & (1u << j))) continue;
        format_cell(cfg, res, i, (qb_kernel)j, si, buf, sizeof buf);
        if ((int)strlen(buf) > width[si]) width[si] = (int)strlen(buf);
      }
  }
  const int w0 = (int)strlen("ce_grad_inplace");
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (!(cfg->isas & (1u << i))) continue;
    printf("\nisa: %s\n%-*s", smr_isa_name((smr_isa)i), w0, "kernel");
    for (size_t si = 0; si < cfg->nshapes; si++) {
      snprintf(buf, sizeof buf, "%zux%zu", cfg->shape[si].n, cfg->shape[si].k);
      printf("  %*s", width[si], buf);
    }
    putchar('\n');
    for (int j = 0; j < QB_NUM_KERNELS; j++) {
      if (!(cfg->kernels & (1u << j))) continue;
      printf("%-*s", w0, qb_kernel_names[j]);
      for (size_t si = 0; si < cfg->nshapes; si++) {
        format_cell(cfg, res, i, (qb_kernel)j, si, buf, sizeof buf);
        printf("  %*s", width[si], buf);
      }
      putchar('\n');
    }
  }
}

int cmd_bench(int argc, char **argv) {
  bench_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.dtype = SMR_F32;
  cfg.isas = available_isas();
  cfg.kernels = (1u << QB_NUM_KERNELS) - 1;
  cfg.time = 0.05;
  cfg.threads = 1;
  if (!opt_shapes(BENCH_DEFAULT_SHAPES, &cfg)) return EXIT_USAGE;
  int rc = parse_bench(argc, argv, &cfg);
  if (rc < 0) { help_bench(stdout); return finish_stdout(); }
  if (rc != 0) return rc;
  if ((rc = bench_check_isas(cfg.isas)) != 0 || (rc = bench_check_memory(&cfg)) != 0) return rc;

  bench_results res;
  memset(&res, 0, sizeof res);
  const smr_isa active = smr_isa_active(); /* first use: reads SMR_ISA */
  (void)smr_set_num_threads(cfg.threads); /* in range: parsed */
  rc = bench_measure(&cfg, &res);
  smr_status s = smr_isa_select(active);
  if (rc != 0) return rc;
  if (s != SMR_OK) return fail("cannot restore ISA %s: %s", smr_isa_name(active), smr_strerror(s));
  if (cfg.csv) bench_print_csv(&cfg, &res);
  else bench_print_tables(&cfg, &res, active);
  return finish_stdout();
}
