#!/usr/bin/python3
"""The Python peers of smr-train-bench (issue 5's training-speed targets).

    py_train_peers.py sklearn --data digits --csv data/digits.csv --l2 1e-3 --ref 0.0861454862407
    py_train_peers.py sklearn --data synth --dir /tmp/synth --l2 1e-3 --ref 5.4084740888657645
    py_train_peers.py torch --shapes 60000x784x10,20000x256x1000,20000x100x1000,1797x64x10
    py_train_peers.py report --results RESULTS.jsonl --meta META.txt [--doc docs/BENCHMARKS.md]

sklearn: time to the reference optimum. The features are standardized outside
the timing exactly as bench/train/ref_optimum.py does (mean 0, population
standard deviation 1, scale 1 for a constant column; synth: the float32 file
widened to float64). LogisticRegression(solver="lbfgs", C=1/(l2*n),
multinomial) is fitted with each tol of the list, loosest first, until the
fitted objective mean CE + (l2/2)||W||^2 (computed here in float64) is
<= ref * (1 + 1e-6); that tol is then timed (time.perf_counter around fit())
--reps times in all, the scan's own fit included; the median is reported.

torch: per-epoch time of a full-batch PyTorch CPU loop in float32:
nn.Linear(d, k) (weights 0.01 N(0,1), bias 0), F.cross_entropy, optim.SGD
(lr 0.1, weight_decay = l2 on the weights only, like smr's gd with l2): one
epoch = zero_grad, forward, loss, backward, step. X ~ N(0,1), labels uniform.
Median over --reps epochs after 2 warm-up epochs; torch.set_num_threads(1)
(or --threads).

report: the markdown block of docs/BENCHMARKS.md (issue 5's targets, met or
not) from the JSON lines of smr-train-bench and the two peers, plus the
"key: value" lines compare_train.sh writes; --doc replaces the text between
<!-- train:begin --> and <!-- train:end --> (appending a heading and the
markers when missing). Standard library only.

sklearn and torch print one JSON object per line on stdout. Threads: OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS default to 1 unless already set
(before numpy is imported). Needs Debian's /usr/bin/python3 (python3-numpy,
python3-sklearn, python3-torch); a missing module is reported as
{"peer": ..., "skipped": "..."} with exit status 0.
"""
import argparse
import json
import os
import statistics
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS_TOLS = [0.1, 0.03, 0.01, 0.003, 0.001, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-7]
SYNTH_TOLS = [10, 3, 1, 0.7, 0.5, 0.3, 0.1, 0.03, 0.01, 0.003, 1e-3, 1e-4, 1e-5, 1e-6]


def emit(obj):
    print(json.dumps(obj), flush=True)


def standardize(X):
    mu = X.mean(axis=0)
    sd = X.std(axis=0)  # ddof=0
    sd[~(sd > 0)] = 1.0
    return (X - mu) / sd


def objective(X, y, W, b, l2):
    """mean_i CE_i + (l2/2)||W||^2 in float64; W is d x k."""
    import numpy as np
    Z = X @ W + b
    m = Z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))
    return float(np.mean(lse - Z[np.arange(y.size), y]) + 0.5 * l2 * np.sum(W * W))


def load(args):
    import numpy as np
    if args.data == "digits":
        raw = np.loadtxt(args.csv, delimiter=",", skiprows=1)
        X, y = raw[:, :-1], raw[:, -1].astype(np.int64)
    else:
        sys.path.insert(0, HERE)
        from synth import read_synth
        Xf, y, _ = read_synth(args.dir)
        X, y = Xf.astype(np.float64), y.astype(np.int64)
    return standardize(X), y


def cmd_sklearn(args):
    try:
        import numpy as np
        import sklearn
        from sklearn.linear_model import LogisticRegression
    except ImportError as e:
        emit({"peer": "sklearn", "data": args.data, "skipped": "import failed: %s" % e})
        return 0
    import warnings
    X, y = load(args)
    n = X.shape[0]
    k = int(y.max()) + 1
    C = 1.0 / (args.l2 * n)
    target = args.ref * (1.0 + 1e-6)
    tols = [float(t) for t in args.tols.split(",")] if args.tols else (
        DIGITS_TOLS if args.data == "digits" else SYNTH_TOLS)

    def make(tol):
        kw = dict(C=C, solver="lbfgs", tol=tol, max_iter=100000)
        try:
            return LogisticRegression(multi_class="multinomial", **kw)
        except TypeError:  # a scikit-learn without multi_class: multinomial is the default
            return LogisticRegression(**kw)

    def fit(tol):
        clf = make(tol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            clf.fit(X, y)
            t = time.perf_counter() - t0
        if clf.coef_.shape[0] != k:
            raise SystemExit("sklearn saw %d classes, expected %d" % (clf.coef_.shape[0], k))
        f = objective(X, y, clf.coef_.T, clf.intercept_, args.l2)
        return t, f, int(np.max(clf.n_iter_))

    tried = []
    chosen = None
    for tol in tols:
        t, f, it = fit(tol)
        tried.append({"tol": tol, "time_s": t, "objective": f, "iterations": it,
                      "rel_err": (f - args.ref) / args.ref})
        print("sklearn %s tol=%g: %.3f s, %d iterations, rel err %.2e" % (
            args.data, tol, t, it, (f - args.ref) / args.ref), file=sys.stderr, flush=True)
        if f <= target:
            chosen = (tol, t, f, it)
            break
    out = {"peer": "sklearn", "data": args.data, "n": n, "d": X.shape[1], "k": k,
           "l2": args.l2, "C": C, "ref": args.ref, "sklearn_version": sklearn.__version__,
           "threads_env": {v: os.environ.get(v) for v in
                           ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
           "scan": tried}
    if chosen is None:
        out.update({"reached": False})
        emit(out)
        return 1
    tol, t, f, it = chosen
    times = [t]
    for _ in range(args.reps - 1):
        ti, fi, iti = fit(tol)
        times.append(ti)
    out.update({"reached": True, "tol": tol, "iterations": it, "objective": f,
                "rel_err": (f - args.ref) / args.ref, "reps": len(times),
                "time_s": statistics.median(times), "time_s_min": min(times),
                "time_s_max": max(times), "times_s": times})
    emit(out)
    return 0


def cmd_torch(args):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        emit({"peer": "torch", "skipped": "import failed: %s" % e})
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for spec in args.shapes.split(","):
        n, d, k = (int(v) for v in spec.lower().split("x"))
        X = torch.randn(n, d, dtype=torch.float32)
        y = torch.randint(0, k, (n,), dtype=torch.int64)
        lin = torch.nn.Linear(d, k)
        with torch.no_grad():
            lin.weight.normal_(0.0, 0.01)
            lin.bias.zero_()
        opt = torch.optim.SGD([{"params": [lin.weight], "weight_decay": args.l2},
                               {"params": [lin.bias], "weight_decay": 0.0}], lr=0.1)

        def epoch():
            opt.zero_grad()
            loss = F.cross_entropy(lin(X), y)
            loss.backward()
            opt.step()
            return loss

        for _ in range(2):
            epoch()
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            epoch()
            times.append(time.perf_counter() - t0)
        emit({"peer": "torch", "shape": spec, "n": n, "d": d, "k": k, "dtype": "f32",
              "l2": args.l2, "threads": torch.get_num_threads(), "torch_version": torch.__version__,
              "reps": args.reps, "epoch_ms": 1e3 * statistics.median(times),
              "epoch_ms_min": 1e3 * min(times), "epoch_ms_max": 1e3 * max(times)})
    return 0


# ---------------------------------------------------------------- report
# (stdlib only: runs under any python3)

BEGIN, END = "<!-- train:begin -->", "<!-- train:end -->"
HEADING = "## Training speed (issue 5)"
A_SHAPES = ("60000x784x10", "20000x256x1000")
# (C)'s "same shapes" are (B)'s problems: Digits and the synthetic one; the
# (A) shapes are measured too, as extras
C_SHAPES = ("1797x64x10", "20000x100x1000")
A_MAX, B_MIN, C_MIN = 1.2, 5.0, 3.0


def ms(v):
    """A time in ms with three significant digits down to 0.001 ms (the
    Digits epoch is about 0.1 ms)."""
    return "%.1f" % v if v >= 10 else "%.2f" % v if v >= 1 else "%.3f" % v


def fmt_s(v):
    return "%.4f" % v if v < 1 else "%.2f" % v


def with_rounds(r, f):
    vals = r.get(f + "_rounds", [])
    if len(vals) > 1:
        return "%s [%s]" % (fmt_s(r[f]), ", ".join(fmt_s(v) for v in vals))
    return fmt_s(r[f])


def shape_txt(s):
    return s.replace("x", "\u00d7")


def status(ok):
    return "met" if ok else "**not met**"


def merge_rounds(rows, key, fields):
    """One row per key: the first round's, with `fields` replaced by their
    median over the rounds (a row per round), "rounds" their number and
    "<field>_rounds" the values. "reached" holds only if every round reached."""
    groups = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    out = {}
    for k, g in groups.items():
        m = dict(g[0])
        m["rounds"] = len(g)
        m["reached"] = all(r.get("reached", True) for r in g)
        for f in fields:
            vals = [r[f] for r in g if f in r]
            if vals:
                m[f] = statistics.median(vals)
                m[f + "_rounds"] = vals
        out[k] = m
    return out


def render(rows, meta):
    epoch = {r["shape"]: r for r in rows if r.get("bench") == "epoch"}
    opt = merge_rounds([r for r in rows if r.get("bench") == "optimum"],
                       lambda r: (r["data"], r["dtype"]), ("time_s", "target_seen_s"))
    opt_tol = merge_rounds([r for r in rows if r.get("bench") == "optimum_tol"],
                           lambda r: (r["data"], r["dtype"]), ("time_s",))
    iters = {(r["data"], r["dtype"]): r["iteration_ms"] for r in rows
             if r.get("bench") == "optimum_iterations"}
    torch = {r["shape"]: r for r in rows if r.get("peer") == "torch" and "shape" in r}
    sk = merge_rounds([r for r in rows if r.get("peer") == "sklearn" and r.get("reached")],
                      lambda r: r["data"], ("time_s",))
    sk_other = {r["data"]: r for r in rows if r.get("peer") == "sklearn" and not r.get("reached")}
    skipped = [r for r in rows if "skipped" in r]
    sk_ver = next((r["sklearn_version"] for r in rows if "sklearn_version" in r), "?")
    torch_ver = next((r["torch_version"] for r in rows if "torch_version" in r), "?")
    L = []
    L.append("Measured by `%s` on %s; all numbers from that one run, %s thread%s "
             "for every program." % (
                 meta.get("command", "?"), meta.get("date", "?"), meta.get("threads", "1"),
                 "" if meta.get("threads", "1") == "1" else "s"))
    L.append("")
    L.append("- machine: %s; %s" % (meta.get("machine", "?"), meta.get("compiler", "?")))
    L.append("- BLAS (`smr info`): %s; ISA: %s" % (meta.get("blas", "unknown"),
                                                  meta.get("isa", "unknown")))
    L.append("- peers: scikit-learn %s, PyTorch %s (Debian's packages; both on OpenBLAS "
             "through libblas.so.3)" % (sk_ver, torch_ver))
    L.append("- load average (1, 5, 15 min) at start: %s; at end: %s. The machine is shared "
             "(%s CPUs): other builds and benchmarks may have run at the same time, so "
             "single numbers can be off by 10-20 %%; medians are reported." % (
                 meta.get("load_start", "?"), meta.get("load_end", "?"), meta.get("cpus", "?")))
    for s in meta.get("skipped", []):
        L.append("- skipped: %s" % s)
    for r in skipped:
        L.append("- skipped: %s %s" % (r.get("peer", "?"), r["skipped"]))
    L.append("")

    # ---- summary
    summ = ["| target | case | measured | goal | status |", "| --- | --- | ---: | ---: | --- |"]
    met_all = {"A": [], "B": [], "C": []}
    for s in A_SHAPES:
        e = epoch.get(s)
        if e is None:
            summ.append("| (A) epoch / GEMM floor | %s | - | \u2264 %.1f | not measured |"
                        % (shape_txt(s), A_MAX))
            met_all["A"].append(False)
            continue
        for key, what in (("ratio_objective", "objective + gradient"),
                          ("ratio_fit_epoch", "gd fit epoch")):
            ok = e[key] <= A_MAX
            met_all["A"].append(ok)
            summ.append("| (A) epoch / GEMM floor | %s, %s | %.2f | \u2264 %.1f | %s |" % (
                shape_txt(s), what, e[key], A_MAX, status(ok)))
        summ.append("| (A) epoch / GEMM floor, extra | %s, gd epoch inside a %d-epoch fit "
                    "| %.2f | \u2264 %.1f | %s |" % (
                        shape_txt(s), e["reps"] + 1, e["ratio_fit_steady"], A_MAX,
                        "met" if e["ratio_fit_steady"] <= A_MAX else "not met"))
    for data in ("digits", "synth"):
        for dt in ("f32", "f64"):
            o = opt.get((data, dt))
            skr = sk.get(data)
            if o is None or skr is None or not o.get("reached"):
                why = ("smr did not reach the target" if o is not None and not o.get("reached")
                       else "not measured")
                summ.append("| (B) sklearn / smr, time to optimum | %s, %s | - | \u2265 %.0f | %s |"
                            % (data, dt, B_MIN, why))
                met_all["B"].append(False)
                continue
            ot = opt_tol.get((data, dt))
            # the target: reach the optimum within 1e-6 (smr's objective
            # re-evaluated in f64), which smr's f32 fit does; smr in f64 is
            # an extra row (scikit-learn computes in f64 either way)
            extra = dt != "f32"
            if ot is not None and ot.get("reached"):
                ratio = skr["time_s"] / ot["time_s"]
                ok = ratio >= B_MIN
                if not extra:
                    met_all["B"].append(ok)
                summ.append("| (B) sklearn / smr, time to optimum, both stopped by their tol%s "
                            "| %s, %s | %.2f | \u2265 %.0f | %s |"
                            % (", extra: smr in f64" if extra else "", data, dt, ratio, B_MIN,
                               ("met" if ok else "not met") if extra else status(ok)))
            else:
                if not extra:
                    met_all["B"].append(False)
                summ.append("| (B) sklearn / smr, time to optimum, both stopped by their tol "
                            "| %s, %s | - | \u2265 %.0f | %s |"
                            % (data, dt, B_MIN, "not measured" if ot is None
                               else "smr: no tol reached"))
            ratio = skr["time_s"] / o["time_s"]
            summ.append("| (B) sklearn / smr, extra: smr stopped by a callback | %s, %s | %.2f "
                        "| \u2265 %.0f | %s |" % (data, dt, ratio, B_MIN,
                                                "met" if ratio >= B_MIN else "not met"))
    for s in list(C_SHAPES) + list(A_SHAPES):
        extra = s not in C_SHAPES
        what = "(C) PyTorch / smr, per epoch" + (", extra: an (A) shape" if extra else "")
        e, t = epoch.get(s), torch.get(s)
        if e is None or t is None:
            summ.append("| %s | %s | - | \u2265 %.0f | not measured |"
                        % (what, shape_txt(s), C_MIN))
            if not extra:
                met_all["C"].append(False)
            continue
        ratio = t["epoch_ms"] / e["fit_epoch_ms"]
        ok = ratio >= C_MIN
        if not extra:
            met_all["C"].append(ok)
        summ.append("| %s | %s | %.2f | \u2265 %.0f | %s |" % (
            what, shape_txt(s), ratio, C_MIN, ("met" if ok else "not met") if extra else status(ok)))
    L.append("### Summary")
    L.append("")
    L += summ
    L.append("")
    L.append("Targets met (the extra rows not counted): %s." % ", ".join(
        "(%s) %s" % (t, "yes" if v and all(v) else ("partly (%d of %d cases)" % (sum(v), len(v))
                                                      if any(v) else "no"))
        for t, v in met_all.items()))
    L.append("")

    # ---- (A)
    L.append("### (A) One full-batch epoch against the GEMM floor, f32")
    L.append("")
    L.append("GEMM floor = the active kernel table's `linear_forward` (Z = XW + b) plus `xt_g` "
             "(dW = X\u1d40G) on the same shapes; objective = `smr_objective_f32` with the "
             "gradient (l2 = 1e-3); fit epoch = `smr_fit_f32`, gd, epochs = 1, no report. "
             "Epoch in a longer fit = the median time between successive epochs of one "
             "gd `smr_fit_f32` of repetitions + 1 epochs (the workspace and fit's setup paid "
             "once, not per epoch). The stage columns run the same pipeline by hand through "
             "the table on one n\u00d7k buffer. Median of %s interleaved repetitions, ms." % (
                 next(iter(epoch.values()))["reps"] if epoch else "?"))
    L.append("")
    L.append("| shape | GEMM floor (XW+b / X\u1d40G) | objective | ratio | fit epoch | ratio "
             "| epoch in a longer fit | ratio | stages: XW+b, CE+grad, X\u1d40G, colsum "
             "| floor GFLOP/s |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s, e in epoch.items():
        L.append("| %s%s | %s (%s / %s) | %s | %.2f | %s | %.2f | %s | %.2f "
                 "| %s, %s, %s, %s | %.0f |" % (
                     shape_txt(s), "" if s in A_SHAPES else " (a (C) shape, not an (A) target)",
                     ms(e["gemm_floor_ms"]), ms(e["floor_forward_ms"]), ms(e["floor_xt_g_ms"]),
                     ms(e["objective_ms"]), e["ratio_objective"], ms(e["fit_epoch_ms"]),
                     e["ratio_fit_epoch"], ms(e["fit_steady_epoch_ms"]), e["ratio_fit_steady"],
                     ms(e["stage_forward_ms"]), ms(e["stage_ce_ms"]),
                     ms(e["stage_xt_g_ms"]), ms(e["stage_colsum_ms"]), e["gemm_gflops"]))
    L.append("")

    # ---- (B)
    L.append("### (B) Time to the reference optimum (within 1e-6 relative), l2 = 1e-3")
    L.append("")
    L.append("smr: `smr-train-bench optimum`, L-BFGS from W = 0 on pre-standardized data, "
             "stopped by a callback once the objective is \u2264 ref\u00b7(1 + 1e-6); the time "
             "runs from the `smr_fit` call to that callback, which comes one iteration after "
             "the target value was computed (\"seen at\"). smr, tol: the protocol of the "
             "scikit-learn side, no callback, smr's own stop on max |gradient| \u2264 tol with "
             "the loosest tol of a list (1e-2 ... 1e-8, then 0) whose fit ends within 1e-6, "
             "`smr_fit` call to return timed (the target ratio uses this one). scikit-learn: "
             "`LogisticRegression(solver=\"lbfgs\", C=1/(l2\u00b7n))`, multinomial, with the "
             "loosest tol of a list that reaches 1e-6, `fit()` timed. The two sides run in %s "
             "interleaved rounds (smr f32, smr f64, scikit-learn; Digits 5 runs of each per "
             "round, synth 1); times are the median over rounds of each round's median, the "
             "per-round values follow in brackets. rel. err. = (objective \u2212 ref)/ref, "
             "smr's re-evaluated in f64." % (
                 max([o.get("rounds", 1) for o in opt.values()] or [1])))
    L.append("")
    L.append("| data | dtype | smr s [rounds] (seen at) | smr iterations / evaluations "
             "| smr ms per iteration: 1st / median | smr rel. err. "
             "| smr tol | smr s at tol [rounds] | smr iterations / evaluations at tol "
             "| sklearn tol | sklearn iterations | sklearn s [rounds] | sklearn rel. err. "
             "| sklearn / smr (callback) | sklearn / smr (tol) |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | ---: | ---: |")
    for data in ("digits", "synth"):
        for dt in ("f32", "f64"):
            o = opt.get((data, dt))
            if o is None:
                continue
            skr = sk.get(data)
            ot = opt_tol.get((data, dt))
            tol_ok = ot is not None and ot.get("reached")
            tol_cells = ("%g | %s | %d / %d" % (ot["tol"], with_rounds(ot, "time_s"),
                                                ot["iterations"], ot["evaluations"])
                         if tol_ok else "%s | - | -" % ("-" if ot is None else "no tol reached"))
            sk_cells = ("%g | %d | %s | %.1e | %.2f | %s" % (
                skr["tol"], skr["iterations"], with_rounds(skr, "time_s"), skr["rel_err"],
                skr["time_s"] / o["time_s"],
                "%.2f" % (skr["time_s"] / ot["time_s"]) if tol_ok else "-")
                if skr is not None and o.get("reached")
                else ("no tol reached | - | - | - | - | -" if data in sk_other else
                      "- | - | - | - | - | -"))
            ref = "%d\u00d7%d\u00d7%d" % (o["n"], o["d"], o["k"])
            it = iters.get((data, dt), [])
            it_txt = ("%.2f / %.2f" % (it[0], statistics.median(it[1:])) if len(it) > 1
                      else "-")
            L.append("| %s (%s) | %s | %s | %d / %d | %s | %.1e | %s | %s |" % (
                data, ref, dt,
                ("%s (%s)" % (with_rounds(o, "time_s"), fmt_s(o["target_seen_s"])))
                if o.get("reached") else "not reached",
                o["iterations"], o["evaluations"], it_txt, o["rel_err_f64_check"], tol_cells,
                sk_cells))
    L.append("")

    # ---- (C)
    L.append("### (C) Per epoch against a full-batch PyTorch CPU loop, f32")
    L.append("")
    L.append("PyTorch: `nn.Linear` + `F.cross_entropy` + `optim.SGD` (weight decay 1e-3 on the "
             "weights), one epoch = zero_grad, forward, backward, step, median of %s after 2 "
             "warm-up epochs. smr: the gd fit epoch of (A) (`smr_fit_f32`, epochs = 1), and "
             "an epoch inside a longer fit." % (
                 next(iter(torch.values()))["reps"] if torch else "?"))
    L.append("")
    L.append("| shape | PyTorch ms (min\u2013max) | smr gd epoch ms | smr epoch in a longer fit ms "
             "| smr GEMM floor ms | PyTorch / smr | PyTorch / smr, longer fit | PyTorch / floor |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s, e in epoch.items():
        t = torch.get(s)
        if t is None:
            continue
        L.append("| %s | %s (%s\u2013%s) | %s | %s | %s | %.2f | %.2f | %.2f |" % (
            shape_txt(s), ms(t["epoch_ms"]), ms(t["epoch_ms_min"]), ms(t["epoch_ms_max"]),
            ms(e["fit_epoch_ms"]), ms(e["fit_steady_epoch_ms"]), ms(e["gemm_floor_ms"]),
            t["epoch_ms"] / e["fit_epoch_ms"], t["epoch_ms"] / e["fit_steady_epoch_ms"],
            t["epoch_ms"] / e["gemm_floor_ms"]))
    L.append("")
    L.append("PyTorch / floor is the most (C) can show while smr's two products take what "
             "they take now: smr's epoch contains them. PyTorch runs its products on "
             "Debian's OpenBLAS (libblas.so.3); smr's kernel table uses OpenBLAS or its own "
             "blocked kernels depending on the build and the shape. Likewise in (B) both "
             "sides spend most of their time in the same two products per evaluation, so "
             "the ratio there is bounded by scikit-learn's time over (smr's evaluations "
             "\u00d7 the cost of one evaluation).")
    return "\n".join(L)


def read_meta(path):
    meta = {"skipped": []}
    with open(path) as f:
        for line in f:
            key, _, val = line.rstrip("\n").partition(": ")
            if key == "skipped":
                meta["skipped"].append(val)
            elif key:
                meta[key] = val
    return meta


def cmd_report(args):
    rows = []
    with open(args.results) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    block = render(rows, read_meta(args.meta))
    print(block)
    if args.doc:
        with open(args.doc) as f:
            text = f.read()
        if BEGIN not in text or END not in text:
            text = text.rstrip("\n") + "\n\n%s\n\n%s\n%s\n" % (HEADING, BEGIN, END)
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + BEGIN + "\n" + block + "\n" + END + tail
        with open(args.doc, "w") as f:
            f.write(text)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sklearn", help="time to the reference optimum")
    s.add_argument("--data", choices=("digits", "synth"), required=True)
    s.add_argument("--csv", default=os.path.join(HERE, "..", "..", "data", "digits.csv"))
    s.add_argument("--dir", help="synth.py --out directory (for --data synth)")
    s.add_argument("--l2", type=float, default=1e-3)
    s.add_argument("--ref", type=float, required=True)
    s.add_argument("--tols", help="comma-separated, loosest first (default: a built-in list)")
    s.add_argument("--reps", type=int, default=3)
    t = sub.add_parser("torch", help="per-epoch time of a full-batch PyTorch loop")
    t.add_argument("--shapes", default="60000x784x10,20000x256x1000,20000x100x1000,1797x64x10")
    t.add_argument("--reps", type=int, default=7)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--l2", type=float, default=1e-3)
    r = sub.add_parser("report", help="the markdown block from the JSON lines")
    r.add_argument("--results", required=True, help="JSON lines of smr-train-bench and the peers")
    r.add_argument("--meta", required=True, help="'key: value' lines from compare_train.sh")
    r.add_argument("--doc", help="write the block into this file between the train markers")
    a = ap.parse_args()
    if a.cmd == "report":
        return cmd_report(a)
    if a.cmd == "sklearn" and a.data == "synth" and not a.dir:
        ap.error("--data synth needs --dir")
    return cmd_sklearn(a) if a.cmd == "sklearn" else cmd_torch(a)


if __name__ == "__main__":
    sys.exit(main())
