/* exp_floor.h - SLEEF's exp alone over a buffer (bench/exp_floor_avx512.c). */
#ifndef SMRB_EXP_FLOOR_H
#define SMRB_EXP_FLOOR_H
#include <stddef.h>
void smrb_exp_floor_f32(const float *z, float *o, size_t len);
void smrb_exp_floor_f64(const double *z, double *o, size_t len);
#endif
