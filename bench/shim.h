/*
 * shim.h - a C interface to Google Benchmark (C++), so the benchmarks of
 * bench/ are written in C against the public API and the kernel table.
 * shim.cc implements it; nothing here is part of libsmr.
 */
#ifndef SMR_BENCH_SHIM_H
#define SMR_BENCH_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smrb_state smrb_state;
typedef void (*smrb_fn)(smrb_state *st, void *arg);

/* Registers fn(st, arg) under name; threads > 0 runs it on that many
   threads (Google Benchmark's ->Threads), real time is reported. */
void smrb_register(const char *name, smrb_fn fn, void *arg, int threads);
/* The benchmark loop condition (state.KeepRunning()). */
bool smrb_keep_running(smrb_state *st);
int smrb_thread_index(const smrb_state *st);
int smrb_threads(const smrb_state *st);
/* Per-iteration work, turned into rates by Google Benchmark. */
void smrb_set_bytes(smrb_state *st, int64_t bytes_per_iteration);
void smrb_set_items(smrb_state *st, int64_t items_per_iteration);
/* A user counter; rate = true divides it by the elapsed time. */
void smrb_counter(smrb_state *st, const char *name, double value, bool rate);
void smrb_skip(smrb_state *st, const char *message);
/* Initializes Google Benchmark with argc/argv and runs what is registered. */
int smrb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
