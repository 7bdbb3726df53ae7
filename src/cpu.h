/*
 * cpu.h - CPU features for the dispatcher (internal; src/cpu.c). Each
 * answers whether this CPU, and the OS's saved register state, can run
 * the kernels of src/<isa>/; false on another architecture.
 */
#ifndef SMR_CPU_H
#define SMR_CPU_H

#include <stdbool.h>

bool smr_cpu_has_avx2(void);   /* AVX, AVX2, FMA; YMM state saved */
bool smr_cpu_has_avx512(void); /* and AVX-512 F, DQ, BW, VL; opmask and ZMM state saved */
bool smr_cpu_has_neon(void);   /* Advanced SIMD (AArch64) */

#endif /* SMR_CPU_H */
