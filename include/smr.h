/*
 * smr.h - softmax regression: kernels, model, trainer, files.
 *
 * The contract of libsmr. Everything a user may rely on is stated here.
 *
 * Legend (used by every comment below)
 *   n  rows (samples)            X  n x d features, row-major
 *   d  features                  W  d x k weights, row-major
 *   k  classes (row length)      b  k biases
 *   Z  n x k logits              P  n x k probabilities, row-major
 *   labels  n class indices (int32_t), each in [0, k)
 *
 * General rules
 *   - Every function returns smr_status unless its prototype says otherwise.
 *     No function prints (except fit with options.verbose = true, which writes
 *     progress to stderr), aborts or exits on bad input.
 *   - n = 0 is valid everywhere: the call succeeds and reads/writes nothing;
 *     data pointers may then be NULL. k = 0 or d = 0 is SMR_EINVAL.
 *   - A product n*k, n*d or d*k whose bytes (times the element size) exceed
     PTRDIFF_MAX (no buffer can be that large) is SMR_EOVERFLOW.
 *   - On any error, output buffers may have been partially written unless a
 *     function says otherwise; models are never left half-updated.
 *   - Kernels accept any alignment. "Output may equal input" means the two
 *     pointers may be identical; partially overlapping buffers are undefined.
 *   - The library is thread-safe: concurrent calls on distinct outputs are
 *     fine; a model may be read (forward/predict) from many threads at once
 *     but must not be fitted concurrently with any other use.
 *
 * Special values in a row z (identical on every ISA; see docs/MATH.md)
 *   softmax is defined as the limit of exp(z_i)/sum_j exp(z_j):
 *   - any NaN in the row            -> the whole output row is NaN;
 *   - all entries -inf               -> the whole output row is NaN (0/0);
 *   - some -inf, some finite          -> exactly 0 at the -inf entries;
 *   - m >= 1 entries +inf (no NaN)    -> 1/m at each +inf entry, 0 elsewhere
 *                                        (one +inf: one-hot; two: 0.5 each);
 *   log_softmax is log of that: -log(m) at +inf entries, -inf elsewhere,
 *   -inf at -inf entries, NaN rows stay NaN.
 *   Finite inputs of any magnitude never overflow (the row max is subtracted
 *   before exp); probabilities below the smallest subnormal become 0.
 */
#ifndef SMR_H
#define SMR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SMR_BUILDING_LIBRARY) && defined(__GNUC__)
#define SMR_API __attribute__((visibility("default")))
#else
#define SMR_API
#endif

#define SMR_VERSION_MAJOR 0
#define SMR_VERSION_MINOR 1
#define SMR_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Status                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum smr_status {
  SMR_OK = 0,
  SMR_EINVAL,       /* NULL where data is required, zero classes/features, bad option */
  SMR_ERANGE,       /* a label outside [0, num_classes) (also: a feature beyond
                       float range in smr_dataset_features_f32) */
  SMR_EOVERFLOW,    /* a size product (n*k, n*d, d*k, times the element size)
                       exceeds PTRDIFF_MAX bytes */
  SMR_ENOMEM,
  SMR_EUNSUPPORTED, /* ISA not compiled in or not supported by this CPU */
  SMR_EIO,          /* a file could not be opened, read or written */
  SMR_EFORMAT,      /* malformed CSV or model file */
  SMR_ENONFINITE    /* training diverged: loss or parameters became NaN or inf */
} smr_status;

/* A static, never-NULL English description ("unknown status" for values
   outside the enum). */
SMR_API const char *smr_strerror(smr_status s);

/* "0.1.0": a static string. */
SMR_API const char *smr_version(void);

/* Where a loader failed, for messages "file:line:column: what".
   Passed as an optional last argument (may be NULL) to the file functions;
   filled only when they return an error. line/column are 1-based, 0 when
   not applicable (e.g. a binary model file, or an I/O error). */
typedef struct smr_error_detail {
  size_t line;
  size_t column;
  char message[256]; /* NUL-terminated, includes the file name */
} smr_error_detail;

/* ------------------------------------------------------------------------ */
/* Instruction sets and dispatch                                             */
/* ------------------------------------------------------------------------ */

typedef enum smr_isa { SMR_ISA_SCALAR, SMR_ISA_AVX2, SMR_ISA_AVX512, SMR_ISA_NEON } smr_isa;
#define SMR_ISA_COUNT 4

/* "scalar", "avx2", "avx512", "neon"; "unknown" for other values. */
SMR_API const char *smr_isa_name(smr_isa isa);
/* Parses one of the names above (exact, lower case).
   SMR_EINVAL for NULL or an unknown name. */
SMR_API smr_status smr_isa_from_name(const char *name, smr_isa *isa);
/* True when kernels for `isa` were compiled into this library. */
SMR_API bool smr_isa_compiled(smr_isa isa);
/* Compiled in and supported by this CPU (and OS-saved register state). */
SMR_API bool smr_isa_available(smr_isa isa);
/* The ISA whose kernels are used: the best available one, unless selected
   by smr_isa_select or at first use by the environment variable SMR_ISA. */
SMR_API smr_isa smr_isa_active(void);
/* Makes `isa` active for the whole process (thread-safe; calls already
   running finish on the previous kernels). SMR_EUNSUPPORTED when not
   available, SMR_EINVAL for a value outside the enum; nothing changes then. */
SMR_API smr_status smr_isa_select(smr_isa isa);
/* The environment variable SMR_ISA=scalar|avx2|avx512|neon selects at first
   use. An unknown or unavailable value is not an error for any call: the best
   available ISA is used instead, and this function says what happened:
   SMR_OK (unset, empty, or honoured), SMR_EINVAL (unknown name),
   SMR_EUNSUPPORTED (known but not available here). */
SMR_API smr_status smr_isa_env_status(void);

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */
/* One thread count for the whole process: the trainer's row-parallel
   kernel calls (fit, smr_objective_*) run on a pool of that many threads
   (the caller's included), and the BLAS's matrix products on as many; the
   two take turns, so the machine never sees more. At first use it comes
   from the environment: SMR_NUM_THREADS=N, else OPENBLAS_NUM_THREADS=N
   (each an integer in [1, SMR_MAX_THREADS]; other values are ignored),
   else 1. The public row-wise kernels below (softmax, online softmax,
   softmax with temperature, log-softmax, cross-entropy from logits) run
   on the same pool when a call holds more than 2^18 elements: cut into
   row tasks of about 2^18 elements, whatever the count. Their outputs
   are bit for bit the same on 1 or N threads, and so is the cross-entropy
   loss (the tasks' sums are added in task order, on one thread too).

   smr's own threads never change a result: the work is cut into the same
   pieces for any count and the CE and bias-gradient (db) sums add the
   pieces in the same order, so from the same logits the objective, the
   losses and db are bit for bit the same on 1 or N threads. The logits Z
   and dW come from smr's own matrix kernels for up to 64 classes or a W of
   at most 1 MiB, and fits are then bit for bit the same on 1 or N
   threads; larger products come from the BLAS (when built with it), which
   OpenBLAS may round differently on another thread count: there, fits on
   different counts agree within rounding. On a given count every result
   is the same run to run. */
#define SMR_MAX_THREADS 256
/* n in [1, SMR_MAX_THREADS], else SMR_EINVAL (nothing changes). Process-
   wide; waits for a parallel job in flight. Also sets the BLAS's count
   (OpenBLAS has one setting per process: a program calling OpenBLAS itself
   sees it too). */
SMR_API smr_status smr_set_num_threads(size_t n);
/* The current count (>= 1). */
SMR_API size_t smr_num_threads(void);
/* What runs the large matrix products of fit and forward, for a program's
   "info" output: e.g. "OpenBLAS 0.3.21 (pthread, 1 thread, core Zen)", or
   "none (built-in blocked GEMM)" in a build without a BLAS. Valid until
   the next call in the same thread. */
SMR_API const char *smr_blas_info(void);

/* ------------------------------------------------------------------------ */
/* Row-wise kernels                                                          */
/* ------------------------------------------------------------------------ */
/* All operate on a row-major n x k matrix (n = 1 for a vector), k >= 1.
   Output may equal input. Special values: see the top of this file.
   Accuracy: f64 results are within a few ulp of the exact result; f32
   results within the bounds stated per ISA in docs/ACCURACY.md. */

/* Two-pass softmax: max, then exp + sum, then scale. */
SMR_API smr_status smr_softmax_f32(const float *z, float *p, size_t n, size_t k);
SMR_API smr_status smr_softmax_f64(const double *z, double *p, size_t n, size_t k);

/* One-pass online normalizer (running max and rescaled sum in one read),
   then one normalize pass. Same results as smr_softmax_* within rounding. */
SMR_API smr_status smr_softmax_online_f32(const float *z, float *p, size_t n, size_t k);
SMR_API smr_status smr_softmax_online_f64(const double *z, double *p, size_t n, size_t k);

/* softmax(z / T). T must be finite and > 0 (SMR_EINVAL otherwise). The
   division is done in the dtype, so z/T may overflow to +-inf, which then
   follows the special-value rules. */
SMR_API smr_status smr_softmax_temperature_f32(const float *z, float *p, size_t n, size_t k, float temperature);
SMR_API smr_status smr_softmax_temperature_f64(const double *z, double *p, size_t n, size_t k, double temperature);

/* out = z - max(z) - log(sum(exp(z - max(z)))), row-wise. */
SMR_API smr_status smr_log_softmax_f32(const float *z, float *out, size_t n, size_t k);
SMR_API smr_status smr_log_softmax_f64(const double *z, double *out, size_t n, size_t k);

/* y (n x k) = 1 at (i, labels[i]), 0 elsewhere. SMR_ERANGE if a label is
   outside [0, k); y is then left untouched. */
SMR_API smr_status smr_one_hot_f32(const int32_t *labels, size_t n, size_t k, float *y);
SMR_API smr_status smr_one_hot_f64(const int32_t *labels, size_t n, size_t k, double *y);

/* labels[i] = the index of the first maximum of row i of p (n x k), -1 for
   a row holding a NaN: the rule of smr_predict. k > INT32_MAX is
   SMR_EINVAL. */
SMR_API smr_status smr_argmax_f32(const float *p, size_t n, size_t k, int32_t *labels);
SMR_API smr_status smr_argmax_f64(const double *p, size_t n, size_t k, int32_t *labels);

/* The seed's form: loss = -(1/n) * sum_i sum_k y_ik * log(p_ik + 1e-15),
   accumulated in double. Computed as written: NaN in p or y gives NaN, a
   negative p + 1e-15 gives NaN. Terms with y_ik == 0 are skipped (so a p of
   0 or NaN where y is 0 does not matter). n = 0 gives loss = 0. */
SMR_API smr_status smr_cross_entropy_f32(const float *p, const float *y, size_t n, size_t k, double *loss);
SMR_API smr_status smr_cross_entropy_f64(const double *p, const double *y, size_t n, size_t k, double *loss);

/* Fused, from logits: loss = (1/n) * sum_i (logsumexp(z_i) - z_i[label_i])
   (the mean is finite whenever it is representable: a sum of rows that
   overflows, f64 row losses near DBL_MAX, is formed again as sum(row / n);
   only with grad == z, where the logits are overwritten, can a task of
   2^18 elements whose own sum overflows still give +inf);
   grad (may be NULL; may equal z) = (softmax(z) - onehot(labels)) / n.
   loss may be NULL when grad is not (and vice versa; both NULL is EINVAL).
   Max and sums are carried in double (also for f32). Labels are checked
   first: SMR_ERANGE if one is outside [0, k), and nothing is written.
   Special values follow the extended softmax p above: row i contributes
   -log(p_i[label_i]) (so +inf when that probability is 0, NaN for a NaN row),
   and its gradient row is (p_i - onehot) / n. n = 0 gives loss = 0. */
SMR_API smr_status smr_cross_entropy_logits_f32(const float *z, const int32_t *labels, size_t n, size_t k, double *loss, float *grad);
SMR_API smr_status smr_cross_entropy_logits_f64(const double *z, const int32_t *labels, size_t n, size_t k, double *loss, double *grad);

/* ------------------------------------------------------------------------ */
/* Vocabulary-scale: the fused linear cross-entropy                          */
/* ------------------------------------------------------------------------ */

typedef enum smr_reduction { SMR_REDUCE_MEAN = 0, SMR_REDUCE_SUM } smr_reduction;

typedef struct smr_lce_options {
  size_t class_chunk;     /* classes per chunk; 0 = chosen from the cache size */
  int32_t ignore_index;   /* rows whose label equals it add nothing; default -100 */
  double label_smoothing; /* in [0, 1): target = (1 - e) onehot + e / K; default 0 */
  double z_loss;          /* >= 0: adds z_loss * lse^2 per row (PaLM's z-loss); default 0 */
  smr_reduction reduction; /* mean over the counted rows (default) or sum */
} smr_lce_options;

/* The defaults above. */
SMR_API smr_lce_options smr_lce_options_default(void);

/* The cross-entropy of the logits z_i = X_i W + b (X: n x d, W: d x K
   row-major, the model's layout; b: K, may be NULL for none) against
   labels, without ever holding more than a row block x class_chunk of
   logits: the classes are taken a chunk at a time and each row's
   log-sum-exp is merged chunk by chunk (smr_lse_merge's rule), then the
   backward pass recomputes each chunk's logits from it.
     loss = reduction over the counted rows (label != ignore_index) of
            lse_i - (1 - e) z_i[label_i] - (e / K) sum_j z_ij + z_loss lse_i^2
   (e = label_smoothing); SMR_REDUCE_MEAN divides by the number of counted
   rows; with none counted the loss is 0 and every gradient 0. dX (n x d),
   dW (d x K) and db (K) receive the gradient of that loss (each may be
   NULL: not computed; they are overwritten, not accumulated into); lse (n,
   may be NULL) each row's log-sum-exp (also for ignored rows). Sums over
   rows and classes run in the dtype (f32 in f32) in a fixed order: the
   results are the same bits on any thread count; another class_chunk
   changes them only within rounding.
   Special values as for smr_cross_entropy_logits (the extended softmax of
   smr.h): a row whose logits hold a NaN has a NaN loss and lse and a NaN
   gradient row; +inf logits share the probability (lse = +inf; the row's
   loss is log(count) when its label is one of them and nothing is
   smoothed, else +inf); a row of -inf only is a NaN row.
   Errors: X, W or labels NULL with n > 0, d = 0, K = 0, K > INT32_MAX, a
   bad option (label_smoothing outside [0, 1), z_loss negative or not
   finite, an unknown reduction) or loss NULL: SMR_EINVAL; a label outside
   [0, K) that is not ignore_index: SMR_ERANGE; sizes beyond memory:
   SMR_EOVERFLOW; SMR_ENOMEM. Nothing is written on error. n = 0 gives
   loss 0 and zeroed dW and db. */
SMR_API smr_status smr_linear_cross_entropy_f32(const float *X, size_t n, size_t d, const float *W,
                                                const float *b, size_t K, const int32_t *labels,
                                                const smr_lce_options *opt, double *loss,
                                                float *dX, float *dW, float *db, float *lse);
SMR_API smr_status smr_linear_cross_entropy_f64(const double *X, size_t n, size_t d,
                                                const double *W, const double *b, size_t K,
                                                const int32_t *labels, const smr_lce_options *opt,
                                                double *loss, double *dX, double *dW, double *db,
                                                double *lse);

/* The k_top largest logits of each row of X W + b (b may be NULL) and their
   softmax probabilities, without n x K memory: classes (n x k_top) sorted
   by logit descending, ties by the lower class first; probs (n x k_top,
   may be NULL) the extended softmax of smr.h at those classes. A row whose
   logits hold a NaN or no entry above -inf gets classes -1 and NaN
   probabilities (as smr_predict). The cost is O(n K (d + k_top)) at worst
   (a sorted insertion per class that enters a row's list). k_top = 0 or
   k_top > K, d = 0, K = 0, K > INT32_MAX, W NULL, or X or classes NULL
   with n > 0: SMR_EINVAL; SMR_EOVERFLOW, SMR_ENOMEM. */
SMR_API smr_status smr_linear_topk_f32(const float *X, size_t n, size_t d, const float *W,
                                       const float *b, size_t K, size_t k_top, int32_t *classes,
                                       float *probs);
SMR_API smr_status smr_linear_topk_f64(const double *X, size_t n, size_t d, const double *W,
                                       const double *b, size_t K, size_t k_top, int32_t *classes,
                                       double *probs);

/* ------------------------------------------------------------------------ */
/* Model                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct smr_model smr_model;
typedef enum smr_dtype { SMR_F32, SMR_F64 } smr_dtype;

/* W (d x k, row-major) ~ 0.01 * N(0,1) from a generator seeded by `seed`
   (xoshiro256** seeded through splitmix64, Box-Muller; identical on every
   platform); b = 0. learning_rate must be finite and > 0.
   SMR_EINVAL for d = 0, k = 0, k > INT32_MAX, a bad dtype or rate, or
   out == NULL; SMR_EOVERFLOW if d*k overflows; SMR_ENOMEM. *out is NULL on
   error. */
SMR_API smr_status smr_model_create(smr_model **out, size_t num_features, size_t num_classes,
                                    smr_dtype dtype, double learning_rate, uint64_t seed);
/* Frees everything the model owns; NULL is a no-op. */
SMR_API void smr_model_free(smr_model *m);
/* Getters return 0 / SMR_F32 / NULL for a NULL model. */
SMR_API size_t smr_model_num_features(const smr_model *m);
SMR_API size_t smr_model_num_classes(const smr_model *m);
SMR_API smr_dtype smr_model_dtype(const smr_model *m);
SMR_API double smr_model_learning_rate(const smr_model *m);
/* SMR_EINVAL unless finite and > 0. */
SMR_API smr_status smr_model_set_learning_rate(smr_model *m, double learning_rate);
/* Owned by the model, writable, valid until smr_model_free. */
SMR_API void *smr_model_weights(smr_model *m); /* d x k, of the model's dtype */
SMR_API void *smr_model_bias(smr_model *m);    /* k */

/* Optional input standardization x' = (x - mean) / scale, stored in the
   model (and in its file) and applied by forward, backward, fit, predict and
   predict_proba before the linear map. Both arrays have d entries; every
   scale must be finite and > 0, every mean finite (SMR_EINVAL otherwise).
   Passing mean = scale = NULL removes it. The model copies the arrays. */
SMR_API smr_status smr_model_set_standardization(smr_model *m, const double *mean, const double *scale);
/* Pointers to the model's arrays (d entries each), or NULL when unset. */
SMR_API const double *smr_model_feature_mean(const smr_model *m);
SMR_API const double *smr_model_feature_scale(const smr_model *m);

/* Optional class names (k NUL-terminated strings, each at most
   SMR_MAX_NAME_LEN bytes); copied. names = NULL removes them. SMR_EINVAL
   for a NULL model, a NULL entry or a longer name; SMR_ENOMEM; on error
   the previous names are kept. Names may repeat and may be empty. */
#define SMR_MAX_NAME_LEN 4096
SMR_API smr_status smr_model_set_class_names(smr_model *m, const char *const *names);
/* The name of class j, or NULL when the model has none or j >= k. */
SMR_API const char *smr_model_class_name(const smr_model *m, size_t j);

/* ------------------------------------------------------------------------ */
/* Training options                                                          */
/* ------------------------------------------------------------------------ */

typedef enum smr_lr_schedule {
  SMR_LR_CONSTANT = 0, /* lr                                                  */
  SMR_LR_STEP,         /* lr * gamma^floor(epoch / step_size)                 */
  SMR_LR_INV_TIME,     /* lr / (1 + decay * epoch)                            */
  SMR_LR_COSINE        /* lr_min + (lr - lr_min) * (1 + cos(pi*epoch/epochs))/2 */
} smr_lr_schedule;

/* The solvers (docs/TRAINING.md says when to pick each). Every solver
   minimizes the same objective:
     (1/n) sum_i w_i CE_i + (l2/2) ||W||^2,   bias unpenalized,
   with w_i = sample_weight[i] * the class weight of row i's label (1 when
   neither is given). That is scikit-learn's multinomial LogisticRegression
   with C = 1 / (l2 * n) and the same sample_weight / class_weight. */
typedef enum smr_solver {
  SMR_SOLVER_GD = 0, /* (mini-)batch gradient descent: W -= lr * grad       */
  SMR_SOLVER_SGD,    /* with momentum: v = momentum*v + grad; W -= lr * v
                        (Nesterov: W -= lr * (grad + momentum*v)), the update
                        of PyTorch's optim.SGD                               */
  SMR_SOLVER_ADAM,   /* Adam with bias correction (PyTorch's optim.Adam)    */
  SMR_SOLVER_LBFGS,  /* full-batch L-BFGS with a strong-Wolfe line search;
                        an epoch is one iteration; stops when the largest
                        gradient entry is <= tol                            */
  SMR_SOLVER_AUTO    /* the default: lbfgs when the fit is full batch
                        (batch_size 0 or >= the training rows), gd with
                        mini-batches. lbfgs reaches the optimum in tens of
                        iterations where gd takes thousands of epochs
                        (docs/BENCHMARKS.md, "Training speed"). */
} smr_solver;

typedef enum smr_class_weight {
  SMR_CLASS_WEIGHT_NONE = 0,  /* every class weighs 1 */
  SMR_CLASS_WEIGHT_BALANCED,  /* class c weighs n_t / (K_present * n_c) over the
                                 n_t training rows, K_present the number of
                                 classes that occur (scikit-learn's "balanced") */
  SMR_CLASS_WEIGHT_GIVEN      /* class_weights[c] */
} smr_class_weight;

/* Called after every epoch with the epoch number (0-based), the training
   objective of that epoch and the validation loss (NaN without a validation
   split). Returning false stops training (report->stopped_early = true). */
typedef bool (*smr_epoch_callback)(void *user, size_t epoch, double train_loss,
                                   double val_loss);

typedef struct smr_fit_options {
  size_t epochs;      /* default 1000; 0 is SMR_EINVAL */
  size_t batch_size;  /* 0 = full batch (default); >= n is full batch too */
  double l2;          /* objective adds (l2/2)*||W||^2, bias unpenalized; default 0 */
  bool   verbose;     /* progress on stderr */

  /* learning-rate schedule; the base rate is the model's learning rate */
  smr_lr_schedule schedule; /* default SMR_LR_CONSTANT */
  size_t step_size;   /* SMR_LR_STEP: epochs per decay, >= 1; default 100 */
  double gamma;       /* SMR_LR_STEP: factor in (0, 1]; default 0.5 */
  double decay;       /* SMR_LR_INV_TIME: >= 0; default 0.01 */
  double lr_min;      /* SMR_LR_COSINE: final rate, in [0, lr]; default 0 */

  /* mini-batch order: rows are reshuffled every epoch from this seed */
  bool     shuffle;      /* default true (only matters with mini-batches) */
  uint64_t shuffle_seed; /* default 0 */

  /* early stopping on a plateau of the monitored loss (the validation loss
     when validation_fraction > 0, else the training objective): stop when it
     has not improved by more than min_delta for `patience` epochs in a row.
     On stopping, the parameters of the best epoch are restored. */
  bool   early_stopping;      /* default false */
  size_t patience;            /* >= 1; default 10 */
  double min_delta;           /* >= 0; default 1e-6 */
  double validation_fraction; /* in [0, 1); default 0. Held-out rows are a
                                 seeded random subset (shuffle_seed). */

  /* standardize: compute mean and (population) standard deviation of each
     feature on the training rows, store them in the model (scale 1 where
     the deviation is 0) and train on standardized inputs. Default false:
     the model's existing standardization, if any, is used as is. */
  bool standardize;

  smr_epoch_callback callback; /* may be NULL */
  void *callback_user;

  /* the solver; default SMR_SOLVER_AUTO: lbfgs for a full batch, gd for
     mini-batches (the model's learning rate is the step of gd, sgd and
     adam; lbfgs does not use it). lbfgs needs the full batch (batch_size 0
     or >= the training rows; SMR_EINVAL otherwise). */
  smr_solver solver;
  double momentum;       /* sgd: in [0, 1); default 0.9 */
  bool   nesterov;       /* sgd: Nesterov momentum; default false */
  double beta1, beta2;   /* adam: each in [0, 1); defaults 0.9, 0.999 */
  double adam_eps;       /* adam: > 0; default 1e-8 */
  size_t lbfgs_history;  /* lbfgs: correction pairs kept; default 0 = auto:
                            30, or fewer (at least 10) when 30 pairs would
                            take more than 256 MiB (16 bytes per pair and
                            parameter, d k + k parameters) */
  double tol;            /* lbfgs: stop when max_j |gradient_j| <= tol (the
                            gradient of the objective above); >= 0;
                            default 1e-6 */

  /* weights (see smr_solver for the objective): sample_weight has one entry
     per row given to fit, each finite and >= 0 (NULL: all 1); class_weights
     has k entries, finite and >= 0, used with SMR_CLASS_WEIGHT_GIVEN. The
     training rows' weights must not sum to 0. The validation loss stays the
     unweighted mean CE. */
  const double *sample_weight;
  smr_class_weight class_weight; /* default SMR_CLASS_WEIGHT_NONE */
  const double *class_weights;

  /* The logits workspace holds at most this many bytes (at least one row):
     batches are processed in row blocks of about 2 MiB (at least 128 rows)
     under this cap, with the same result up to the order of additions
     (the same bits with smr's own products; docs/TRAINING.md). Default
     64 MiB; 0 is SMR_EINVAL. */
  size_t workspace_bytes;
} smr_fit_options;

SMR_API smr_fit_options smr_fit_options_default(void);

typedef struct smr_fit_report {
  size_t epochs_run; double final_loss; bool stopped_early;
  /* one entry per epoch run: the training objective (mean CE + l2 term)
     at the parameters the epoch started from (full batch), or the mean of
     the mini-batch objectives over the epoch. */
  const double *loss_history; size_t history_len;  /* owned by the model, valid until the next fit or free */
  double final_val_loss;  /* NaN without a validation split */
  /* max_j |gradient_j| of the full-batch objective at the parameters fit
     returns, and whether it is <= opt->tol (lbfgs reports converged when it
     stopped for that reason; the other solvers when it holds at the end). */
  double grad_norm; bool converged;
  size_t evaluations; /* objective + gradient evaluations (batches for gd, sgd, adam) */
  smr_solver solver;  /* the solver that ran (never SMR_SOLVER_AUTO) */
} smr_fit_report;

/* ------------------------------------------------------------------------ */
/* Forward, backward, fit, predict                                           */
/* ------------------------------------------------------------------------ */
/* _f32 functions require an SMR_F32 model and _f64 an SMR_F64 one
   (SMR_EINVAL otherwise). X is n x d; inputs are never modified. When the
   model has a standardization, it is applied to X first (in a workspace;
   SMR_ENOMEM possible). NaN/inf in X propagate through the special-value
   rules of the kernels. */

/* Z = X W + b and P = softmax(Z). Z or P may be NULL (not both: SMR_EINVAL);
   Z may equal P (the buffer then ends holding P). */
SMR_API smr_status smr_forward_f32(const smr_model *m, const float *X, size_t n, float *Z, float *P);
/* dW (d x k) = X^T (P - Y) / n, db (k) = column sums of (P - Y) / n, with Y
   the one-hot labels: the gradients of the mean CE (+ nothing else, no l2).
   SMR_ERANGE for a bad label (nothing written). n = 0: dW = db = 0. */
SMR_API smr_status smr_backward_f32(const smr_model *m, const float *X, const float *P, const int32_t *labels,
                                    size_t n, float *dW, float *db);
/* Trains in place. opt and report may be NULL (defaults; no report).
   n >= 1 required (SMR_EINVAL for n = 0). SMR_ERANGE for a bad label,
   SMR_EINVAL for a bad option, both before anything changes.
   NaN or inf anywhere in X: SMR_ENONFINITE at once, the model untouched.
   SMR_ENONFINITE when the objective or the parameters become NaN/inf: the
   model is left with the parameters it had before the failing step, and the
   report (if given) covers the epochs completed before it.
   With validation_fraction f, round(f * n) rows are held out (at least one
   held out and one kept, else SMR_EINVAL). report->final_loss and
   final_val_loss are measured at the parameters fit returns.
   Deterministic: the same model, data, options, ISA and thread count
   (smr_set_num_threads) give the same parameters bit for bit. */
SMR_API smr_status smr_fit_f32(smr_model *m, const float *X, const int32_t *labels, size_t n,
                               const smr_fit_options *opt, smr_fit_report *report);
/* The objective smr_fit minimizes, at the model's current parameters:
   *obj = (1/n) sum_i w_i CE_i + (l2/2) ||W||^2 with opt's l2 and weights
   (opt NULL: the defaults; see smr_solver), and, when dW and db are not
   NULL (both or neither), its gradient (d x k, k). The model's
   standardization is applied to X first. The same fused pipeline and row
   blocks (opt->workspace_bytes) as fit. SMR_ERANGE for a bad label,
   SMR_EINVAL for a bad option or weights summing to 0, SMR_ENOMEM. NaN/inf
   in X give a non-finite objective. */
SMR_API smr_status smr_objective_f32(const smr_model *m, const float *X, const int32_t *labels,
                                     size_t n, const smr_fit_options *opt, double *obj,
                                     float *dW, float *db);
/* labels[i] = index of the first maximum of row i of predict_proba, so
   predict == argmax(predict_proba) always; -1 for a row whose probabilities
   are NaN (a NaN in its features). */
SMR_API smr_status smr_predict_f32(const smr_model *m, const float *X, size_t n, int32_t *labels);
/* P (n x k) = softmax(X W + b). */
SMR_API smr_status smr_predict_proba_f32(const smr_model *m, const float *X, size_t n, float *P);
/* Mean CE of the model on (X, labels), without the l2 term. */
SMR_API smr_status smr_loss_f32(const smr_model *m, const float *X, const int32_t *labels, size_t n, double *loss);

SMR_API smr_status smr_forward_f64(const smr_model *m, const double *X, size_t n, double *Z, double *P);
SMR_API smr_status smr_backward_f64(const smr_model *m, const double *X, const double *P, const int32_t *labels,
                                    size_t n, double *dW, double *db);
SMR_API smr_status smr_fit_f64(smr_model *m, const double *X, const int32_t *labels, size_t n,
                               const smr_fit_options *opt, smr_fit_report *report);
SMR_API smr_status smr_objective_f64(const smr_model *m, const double *X, const int32_t *labels,
                                     size_t n, const smr_fit_options *opt, double *obj,
                                     double *dW, double *db);
SMR_API smr_status smr_predict_f64(const smr_model *m, const double *X, size_t n, int32_t *labels);
SMR_API smr_status smr_predict_proba_f64(const smr_model *m, const double *X, size_t n, double *P);
SMR_API smr_status smr_loss_f64(const smr_model *m, const double *X, const int32_t *labels, size_t n, double *loss);

/* The rows fit trains on out of n: n less the round(validation_fraction n)
   held out (opt NULL: the defaults, n). 0 when nothing would be left. */
SMR_API size_t smr_fit_training_rows(const smr_fit_options *opt, size_t n);

/* ------------------------------------------------------------------------ */
/* Model files                                                               */
/* ------------------------------------------------------------------------ */
/* A versioned little-endian binary format (docs/FORMATS.md): magic, version,
   dtype, sizes, learning rate, W, b, optional standardization and class
   names, CRC-32. Save/load round-trips bit-exactly. Load rejects truncated,
   corrupted, implausibly sized or unknown-version files with SMR_EFORMAT and
   never allocates from a size it has not checked against the file's length.
   SMR_EIO when the file cannot be opened/read/written.
   Save writes a temporary file "PATH.tmp-PID-XXXXXX" beside `path` and
   renames it over `path`, so a failed save never leaves a truncated model
   (nor damages an existing one). An existing model keeps its permission
   bits (and its owner where the process may set it); a symbolic link at
   `path` stays a link and its target is replaced. An existing character
   device or FIFO (/dev/stdout, a pipe) is written through instead, with
   its write errors reported (SMR_EIO, errno ENOSPC for /dev/full); any
   other existing non-regular file (a directory, a block device, a socket)
   is refused with SMR_EIO and left alone. A writer killed between write
   and rename leaves its temporary behind: the next save to the same path
   removes the temporaries whose writer process no longer runs on this
   machine. */
SMR_API smr_status smr_model_save(const smr_model *m, const char *path);
/* smr_model_save that also says what failed in err (may be NULL). */
SMR_API smr_status smr_model_save_file(const smr_model *m, const char *path,
                                       smr_error_detail *err);
SMR_API smr_status smr_model_load(smr_model **out, const char *path);
/* smr_model_load that also says what failed ("PATH: checksum mismatch",
   "PATH: truncated", ...) in err (may be NULL). */
SMR_API smr_status smr_model_load_file(smr_model **out, const char *path,
                                       smr_error_detail *err);
/* The same, to and from memory. save_buffer allocates *buf (free() it). */
SMR_API smr_status smr_model_save_buffer(const smr_model *m, void **buf, size_t *len);
SMR_API smr_status smr_model_load_buffer(smr_model **out, const void *buf, size_t len,
                                         smr_error_detail *err);

/* ------------------------------------------------------------------------ */
/* Data sets (CSV)                                                           */
/* ------------------------------------------------------------------------ */
/* CSV: a header row (see smr_csv_header), then one row per sample,
   comma-separated (or the given delimiter), numeric features (anything
   strtod reads fully, except NaN and inf, which are rejected), and one
   label column: the column named `label_column`, or the last column when
   it is NULL. The classes are the distinct labels in sorted order: when
   every label is an integer (an optional sign and digits, of any length)
   they are compared as numbers ("+1", "01" and "1" are one class), else as
   strings by strcmp; class j is named by its label (an integer by its
   canonical form: no '+', no leading zeros) and k is the number of
   distinct labels. No label value sizes anything. Empty lines and a final
   line without newline are fine; a CR before LF is ignored; fields may be
   double-quoted ("a,b", "" for a quote). Every row must have the header's
   column count. Errors are SMR_EFORMAT (SMR_ERANGE for a name missing from
   class_names; SMR_EIO when the file cannot be opened or read; SMR_EINVAL
   for bad arguments or options) with file, line and column in err; column
   is the 1-based field number. A header without data rows is SMR_EFORMAT.
   Spaces and tabs around fields are trimmed; a UTF-8 BOM is skipped;
   quoted fields may span lines; a NUL byte is an error. Files are parsed
   as they are read, in pieces of about 1 MiB: memory holds the data set and
   one piece (more for a longer record), and at most max_bytes of text are
   read. Gzip-compressed files (recognized by their first two bytes) are
   read transparently when the library was built with zlib
   (smr_has_zlib()); every member of a multi-member file is read, and bytes
   after a member that do not start another one are SMR_EFORMAT. Errors
   are reported in reading order: one earlier in the text comes before
   the size limit or trailing bytes further on. */

typedef struct smr_dataset smr_dataset;

/* The first line of a CSV. */
typedef enum smr_csv_header {
  SMR_CSV_HEADER_DEFAULT = 0, /* a header of column names; a first line that
                                 holds only numbers (strtod) is SMR_EFORMAT
                                 (is it data? say which) */
  SMR_CSV_HEADER_PRESENT,     /* a header, whatever it holds */
  SMR_CSV_HEADER_ABSENT       /* no header: the first line is data; columns
                                 are named "1", "2", ... (label_column may
                                 name one by its number) */
} smr_csv_header;

/* Default of smr_csv_options.max_bytes: 1 GiB of text. */
#define SMR_CSV_DEFAULT_MAX_BYTES ((size_t)1 << 30)

typedef struct smr_csv_options {
  const char *label_column; /* NULL: the last column; else the first
                               column with that name */
  bool no_labels;           /* every column is a feature; no labels (wins
                               over label_column and class_names) */
  char delimiter;           /* 0: ','; '"', '\n', '\r' are SMR_EINVAL */
  /* When non-NULL, labels are mapped through these names (e.g. a model's
     class names): label = index of the equal name (an integer label that
     matches no name as written is looked up by its canonical form, so "01"
     finds "1"); an unknown name is SMR_ERANGE with its line and column;
     k = num_class_names. */
  const char *const *class_names;
  size_t num_class_names;
  smr_csv_header header;    /* default SMR_CSV_HEADER_DEFAULT */
  /* The most bytes of text (after gzip decompression) read or parsed; more
     is SMR_EFORMAT with a message naming this option. 0: the default,
     SMR_CSV_DEFAULT_MAX_BYTES. The data set itself takes at most about
     4 bytes per byte of text (8-byte doubles for fields of at least 2
     bytes, "0,"). */
  size_t max_bytes;
} smr_csv_options;

SMR_API bool smr_has_zlib(void);
SMR_API smr_status smr_dataset_read_csv(smr_dataset **out, const char *path,
                                        const smr_csv_options *opt, smr_error_detail *err);
/* Parses `len` bytes of CSV text (no NUL needed); `name` is used in
   messages (may be NULL). */
SMR_API smr_status smr_dataset_parse_csv(smr_dataset **out, const char *text, size_t len,
                                         const char *name, const smr_csv_options *opt,
                                         smr_error_detail *err);
SMR_API void smr_dataset_free(smr_dataset *ds);
SMR_API size_t smr_dataset_num_rows(const smr_dataset *ds);
SMR_API size_t smr_dataset_num_features(const smr_dataset *ds);
/* 0 when the data set has no labels. */
SMR_API size_t smr_dataset_num_classes(const smr_dataset *ds);
/* n x d row-major, owned by the data set. */
SMR_API const double *smr_dataset_features(const smr_dataset *ds);
/* n labels, or NULL without labels. */
SMR_API const int32_t *smr_dataset_labels(const smr_dataset *ds);
/* The name of class j (its label, see above; with opt->class_names, copies
   of those), or NULL without labels or for j >= k. */
SMR_API const char *smr_dataset_class_name(const smr_dataset *ds, size_t j);
/* The array of k class names, or NULL without labels. */
SMR_API const char *const *smr_dataset_class_names(const smr_dataset *ds);
/* The header name of feature j (label column excluded), NULL for j >= d. */
SMR_API const char *smr_dataset_feature_name(const smr_dataset *ds, size_t j);
/* Copies the features rounded to float (n x d) into out. SMR_ERANGE (out
   untouched) if a value is beyond float's finite range: nothing is silently
   turned into inf. */
SMR_API smr_status smr_dataset_features_f32(const smr_dataset *ds, float *out);
/* Rows rows[0..n) of the data set (rows NULL: rows 0..n-1) and their first
   d features (d <= its features), row-major n x d, into out: rounded to
   float, or as read. SMR_EINVAL for a NULL ds, a NULL out with n d > 0, d
   beyond the features or a row index beyond the rows. SMR_ERANGE (f32)
   for a value beyond float's finite range: nothing written, and err (may
   be NULL) says "data row R, column 'NAME': V does not fit in f32" (line
   R, 1-based; column the feature's 1-based index). */
SMR_API smr_status smr_dataset_copy_f32(const smr_dataset *ds, const size_t *rows, size_t n,
                                        size_t d, float *out, smr_error_detail *err);
SMR_API smr_status smr_dataset_copy_f64(const smr_dataset *ds, const size_t *rows, size_t n,
                                        size_t d, double *out, smr_error_detail *err);

/* A seeded stratified split of n rows with labels in [0, k): class by
   class, a Fisher-Yates shuffle of the class's rows (one splitmix64 stream
   from seed through all classes) sends the first round(train_fraction c)
   of its c rows (half up, in double) to train and the rest to test. Both
   lists come back in increasing order; each needs room for n entries.
   SMR_EINVAL for a NULL pointer, k = 0 or a fraction outside [0, 1];
   SMR_ERANGE for a label outside [0, k); SMR_ENOMEM. Deterministic on
   every platform. */
SMR_API smr_status smr_split_stratified(const int32_t *labels, size_t n, size_t k,
                                        double train_fraction, uint64_t seed, size_t *train,
                                        size_t *ntrain, size_t *test, size_t *ntest);

#ifdef __cplusplus
}
#endif
#endif /* SMR_H */
