/*
 * cpu.c - what this CPU and OS can run (cpu.h): CPUID and XGETBV on x86,
 * the architecture on AArch64. Read by dispatch.c's initialization only.
 */
#include "cpu.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0: which register state the OS saves on a context switch. The CPU may
   support AVX-512 while the OS does not save ZMM state; then using it would
   corrupt registers, so both must agree. */
static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

struct x86_features {
  bool avx2;   /* AVX + AVX2 + FMA, YMM state saved */
  bool avx512; /* and AVX-512 F, DQ, BW, VL, opmask and ZMM state saved */
};

static struct x86_features x86_detect(void) {
  struct x86_features f = {false, false};
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
  if (!osxsave || !avx || !fma) return f;
  if (__get_cpuid_max(0, NULL) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;           /* XMM | YMM */
  const bool zmm_saved = (xcr0 & 0xE6) == 0xE6;         /* + opmask, ZMM */
  f.avx2 = ymm_saved && ((b >> 5) & 1);
  const uint32_t avx512_bits = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31); /* F DQ BW VL */
  f.avx512 = f.avx2 && zmm_saved && (b & avx512_bits) == avx512_bits;
  return f;
}

bool smr_cpu_has_avx2(void) { return x86_detect().avx2; }
bool smr_cpu_has_avx512(void) { return x86_detect().avx512; }
#else
bool smr_cpu_has_avx2(void) { return false; }
bool smr_cpu_has_avx512(void) { return false; }
#endif

/* Advanced SIMD is architectural on AArch64 (the only NEON target built). */
#if defined(__aarch64__)
bool smr_cpu_has_neon(void) { return true; }
#else
bool smr_cpu_has_neon(void) { return false; }
#endif
