/*
 * dispatch.c - which kernels run: ISA detection, one kernel table per
 * available ISA, and the process-wide active choice.
 *
 * Every ISA is one line of `isas` below (guarded by SMR_HAVE_<ISA>, which
 * the build defines when it compiles src/<isa>/) holding its CPU test and
 * its installer. At first use, init builds one immutable table per
 * available ISA: the scalar table, then the installers of every available
 * ISA up to and including that one, in rising order, so an entry an ISA
 * does not provide stays at the best lower implementation. The tables never
 * change afterwards; the active choice is a single atomic index into them,
 * so smr_isa_select can run concurrently with kernels (a call already
 * running keeps the table it loaded).
 *
 * With CBLAS (SMR_HAVE_BLAS), each table also has a copy whose matrix
 * products (linear_forward, xt_g) come from the BLAS (src/blas.c), bound at
 * install time to that ISA's own table for the shapes the BLAS leaves to
 * it: that copy is what smr_kernels_active returns, while smr_kernels_for
 * keeps returning the ISA's own table, so tests can compare the BLAS, every
 * ISA's blocked kernels and the scalar reference in one process.
 *
 * Callers load the active table once per public call and pass it down
 * (api_kernels.c, model_ops.c, the trainer), so a concurrent
 * smr_isa_select never mixes two ISAs within one call
 * (tests/test_isa_switch.c).
 */
#include "blas.h"
#include "cpu.h"
#include "internal.h"
#include "kernels.h"
#include "smr_config.h"
#include "threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The ISA list                                                              */
/* ------------------------------------------------------------------------ */

struct isa_desc {
  smr_isa isa;
  bool (*cpu_supports)(void);
  void (*install)(struct smr_kernels *t);
};

/* In rising order of smr_isa; scalar first, always present. Adding an ISA:
   one line here plus its files under src/<isa>/ and its SMR_HAVE_<ISA>. */
static bool cpu_any(void) { return true; }

static const struct isa_desc isas[] = {
  {SMR_ISA_SCALAR, cpu_any, smr_scalar_install},
#if SMR_HAVE_AVX2
  {SMR_ISA_AVX2, smr_cpu_has_avx2, smr_avx2_install},
#endif
#if SMR_HAVE_AVX512
  {SMR_ISA_AVX512, smr_cpu_has_avx512, smr_avx512_install},
#endif
#if SMR_HAVE_NEON
  {SMR_ISA_NEON, smr_cpu_has_neon, smr_neon_install},
#endif
};
#define NUM_ISAS (sizeof isas / sizeof isas[0])

/* ------------------------------------------------------------------------ */
/* Tables and the active choice                                              */
/* ------------------------------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static struct smr_kernels tables[SMR_ISA_COUNT]; /* written only by init */
#if SMR_HAVE_BLAS
/* tables[] with the BLAS's matrix products; written only by init */
static struct smr_kernels blas_tables[SMR_ISA_COUNT];
#define ACTIVE_TABLES blas_tables
#else
#define ACTIVE_TABLES tables
#endif
static bool available[SMR_ISA_COUNT];            /* written only by init */
static smr_status env_status = SMR_OK;           /* written only by init */
static atomic_int active_isa = SMR_ISA_SCALAR;

static bool isa_in_range(smr_isa isa) {
  return (unsigned)isa < (unsigned)SMR_ISA_COUNT;
}

static smr_isa best_available(void) {
  smr_isa best = SMR_ISA_SCALAR;
  for (int i = 0; i < SMR_ISA_COUNT; i++)
    if (available[i]) best = (smr_isa)i;
  return best;
}

/* An integer in [1, SMR_MAX_THREADS] (the whole string), or 0. */
static size_t env_threads(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || v[0] == '\0') return 0;
  char *end;
  errno = 0;
  const long n = strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < 1 || n > SMR_MAX_THREADS) return 0;
  return (size_t)n;
}

/* Runs once (pthread_once), before any table, choice or thread count is
   read: the CPU's features and the tables, then the pool, then the BLAS,
   then the active ISA. The only reader of the environment. */
static void dispatch_init(void) {
  struct smr_kernels running;
  memset(&running, 0, sizeof running);
  for (size_t i = 0; i < NUM_ISAS; i++) {
    if (!isas[i].cpu_supports()) continue;
    isas[i].install(&running);
    tables[isas[i].isa] = running;
    available[isas[i].isa] = true;
  }

  /* SMR_NUM_THREADS=N, else OPENBLAS_NUM_THREADS=N, else 1 (smr.h) */
  size_t threads = env_threads("SMR_NUM_THREADS");
  if (threads == 0) threads = env_threads("OPENBLAS_NUM_THREADS");
  if (threads == 0) threads = 1;
  smr_threads_init(threads);

  smr_blas_init((int)threads);
#if SMR_HAVE_BLAS
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    blas_tables[i] = tables[i];
    if (available[i]) smr_blas_install(&blas_tables[i], i, &tables[i]);
  }
#endif

  smr_isa choice = best_available();
  const char *env = getenv("SMR_ISA");
  if (env != NULL && env[0] != '\0') {
    smr_isa wanted;
    if (smr_isa_from_name(env, &wanted) != SMR_OK)
      env_status = SMR_EINVAL;
    else if (!available[wanted])
      env_status = SMR_EUNSUPPORTED;
    else
      choice = wanted;
  }
  atomic_store_explicit(&active_isa, (int)choice, memory_order_release);
}

static void ensure_init(void) { (void)pthread_once(&init_once, dispatch_init); }

const struct smr_kernels *smr_kernels_active(void) {
  ensure_init();
  return &ACTIVE_TABLES[atomic_load_explicit(&active_isa, memory_order_acquire)];
}

const struct smr_kernels *smr_kernels_for(int isa) {
  ensure_init();
  if (isa < 0 || isa >= SMR_ISA_COUNT || !available[isa]) return NULL;
  return &tables[isa];
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */
/* ------------------------------------------------------------------------ */

static const char *const isa_names[SMR_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

SMR_API const char *smr_isa_name(smr_isa isa) {
  return isa_in_range(isa) ? isa_names[isa] : "unknown";
}

SMR_API smr_status smr_isa_from_name(const char *name, smr_isa *isa) {
  if (name == NULL || isa == NULL) return SMR_EINVAL;
  for (int i = 0; i < SMR_ISA_COUNT; i++) {
    if (strcmp(name, isa_names[i]) == 0) {
      *isa = (smr_isa)i;
      return SMR_OK;
    }
  }
  return SMR_EINVAL;
}

SMR_API bool smr_isa_compiled(smr_isa isa) {
  for (size_t i = 0; i < NUM_ISAS; i++)
    if (isas[i].isa == isa) return true;
  return false;
}

SMR_API bool smr_isa_available(smr_isa isa) {
  if (!isa_in_range(isa)) return false;
  ensure_init();
  return available[isa];
}

SMR_API smr_isa smr_isa_active(void) {
  ensure_init();
  return (smr_isa)atomic_load_explicit(&active_isa, memory_order_acquire);
}

SMR_API smr_status smr_isa_select(smr_isa isa) {
  if (!isa_in_range(isa)) return SMR_EINVAL;
  ensure_init();
  if (!available[isa]) return SMR_EUNSUPPORTED;
  atomic_store_explicit(&active_isa, (int)isa, memory_order_release);
  return SMR_OK;
}

SMR_API smr_status smr_isa_env_status(void) {
  ensure_init();
  return env_status;
}

SMR_API smr_status smr_set_num_threads(size_t n) {
  if (n < 1 || n > SMR_MAX_THREADS) return SMR_EINVAL;
  ensure_init(); /* the environment has been read: n wins */
  smr_threads_set_count(n);
  smr_blas_set_num_threads((int)n);
  return SMR_OK;
}

SMR_API size_t smr_num_threads(void) {
  ensure_init();
  return smr_threads_count();
}

SMR_API const char *smr_blas_info(void) {
  ensure_init(); /* the BLAS's thread count has been chosen */
  return smr_blas_name();
}
