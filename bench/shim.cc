// shim.cc - the C interface of shim.h over Google Benchmark.
#include "shim.h"

#include <benchmark/benchmark.h>

struct smrb_state {
  benchmark::State *s;
};

extern "C" {

void smrb_register(const char *name, smrb_fn fn, void *arg, int threads) {
  auto *b = benchmark::RegisterBenchmark(name, [fn, arg](benchmark::State &state) {
    smrb_state st{&state};
    fn(&st, arg);
  });
  b->UseRealTime();
  if (threads > 0) b->Threads(threads);
}

bool smrb_keep_running(smrb_state *st) { return st->s->KeepRunning(); }
int smrb_thread_index(const smrb_state *st) { return static_cast<int>(st->s->thread_index()); }
int smrb_threads(const smrb_state *st) { return static_cast<int>(st->s->threads()); }

void smrb_set_bytes(smrb_state *st, int64_t bytes) {
  st->s->SetBytesProcessed(bytes * static_cast<int64_t>(st->s->iterations()));
}

void smrb_set_items(smrb_state *st, int64_t items) {
  st->s->SetItemsProcessed(items * static_cast<int64_t>(st->s->iterations()));
}

void smrb_counter(smrb_state *st, const char *name, double value, bool rate) {
  st->s->counters[name] = benchmark::Counter(
      value * static_cast<double>(st->s->iterations()),
      rate ? benchmark::Counter::kIsRate : benchmark::Counter::kDefaults);
}

void smrb_skip(smrb_state *st, const char *message) { st->s->SkipWithError(message); }

int smrb_main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // extern "C"
