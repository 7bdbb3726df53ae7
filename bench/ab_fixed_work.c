/* ab_fixed_work.c - a fixed amount of work through the public API, for
   comparing two builds by instructions executed (callgrind) where wall
   clocks are too noisy (docs/BENCHMARKS.md, "Issue 15: the restructuring,
   before and after"). Not built by meson:

     gcc -O2 -Iinclude bench/ab_fixed_work.c BUILD/src/libsmr.a -lsleef \
         -lopenblas -lz -lm -lpthread -o ab_fixed_work
     SMR_ISA=avx2 valgrind --tool=callgrind ./ab_fixed_work rows   # or fit

   rows: softmax, online softmax, log-softmax and the cross-entropy with
   and without its gradient, 3 times on 10000x100, 256x1000 and 8x32000;
   fit: 4 L-BFGS iterations and one adam epoch on 20000x100x200. */
#include <smr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static float *buf(size_t n) { float *p = malloc(n * sizeof *p); for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 100.0f - 5.0f; return p; }
int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "rows";
  if (strcmp(what, "rows") == 0) {
    const size_t shapes[3][2] = {{10000, 100}, {256, 1000}, {8, 32000}};
    for (int s = 0; s < 3; s++) {
      size_t n = shapes[s][0], k = shapes[s][1];
      float *z = buf(n * k), *o = buf(n * k);
      int32_t *y = malloc(n * sizeof *y);
      for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i % k);
      double loss = 0;
      for (int r = 0; r < 3; r++) {
        smr_softmax_f32(z, o, n, k);
        smr_softmax_online_f32(z, o, n, k);
        smr_log_softmax_f32(z, o, n, k);
        smr_cross_entropy_logits_f32(z, y, n, k, &loss, o);
        smr_cross_entropy_logits_f32(z, y, n, k, &loss, NULL);
      }
      free(z); free(o); free(y);
    }
  } else {
    size_t n = 20000, d = 100, k = 200;
    float *X = buf(n * d);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i % k);
    smr_model *m;
    smr_model_create(&m, d, k, SMR_F32, 0.1, 1);
    smr_fit_options o = smr_fit_options_default();
    o.epochs = 4; o.l2 = 1e-3;
    smr_fit_f32(m, X, y, n, &o, NULL);
    o.solver = SMR_SOLVER_ADAM; o.batch_size = 256; o.epochs = 1;
    smr_fit_f32(m, X, y, n, &o, NULL);
    smr_model_free(m);
  }
  return 0;
}
