#!/usr/bin/python3
"""Reference optima of smr's training objective, computed independently in float64.

Objective (the one smr's trainer minimizes, and scikit-learn's multinomial
LogisticRegression up to a constant factor):

    f(W, b) = (1/n) sum_i [ logsumexp(z_i) - z_i[y_i] ] + (l2/2) ||W||_F^2,
    Z = X W + b,   W: d x k,   b: k (not penalized),

on features standardized column-wise to zero mean and unit population variance
(ddof=0); a constant column keeps scale 1, i.e. becomes (x - mean) / 1 = 0.
scikit-learn minimizes C * sum_i CE_i + 0.5 ||W||^2; dividing by C*n gives f with
l2 = 1 / (C * n), so C = 1 / (l2 * n).

Two independent minimizations, required to agree to 1e-10 relative:
  (a) scipy L-BFGS-B on theta = [W row-major, b] with the analytic gradient,
      gtol 1e-12, tiny ftol, from theta = 0;
  (b) damped Newton with the exact Hessian, also from theta = 0 (dense
      (d+1)k x (d+1)k Hessian; 650 x 650 for digits). For problems too large for
      a dense Hessian (more than DENSE_MAX parameters, e.g. the synthetic one with
      101000) (b) is Newton-CG from theta = 0 with exact Hessian-vector products.
Third cross-check: scikit-learn's own fit (tol 1e-12) evaluated with f.

Usage:
    /usr/bin/python3 bench/train/ref_optimum.py                  # default set
    /usr/bin/python3 bench/train/ref_optimum.py iris:1e-2 digits:1e-3 --json out.json
    /usr/bin/python3 bench/train/ref_optimum.py synth:/tmp/synth:1e-3 --no-sklearn
A spec is NAME:L2 with NAME one of iris, wine, digits (data/NAME.csv), a path to a
CSV in the same dialect (header, features, last column `label`), or
synth:DIR:L2 for a directory written by synth.py --out DIR.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import scipy.optimize

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "..", "data"))

DEFAULT_SPECS = ["iris:1e-2", "wine:1e-2", "digits:1e-3",
                 "iris:1e-1", "wine:1e-1", "digits:1e-1"]
DENSE_MAX = 4000          # largest parameter count for the dense-Hessian Newton


# ---------------------------------------------------------------- data

def load_csv(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    A = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    if header[-1] != "label":
        raise SystemExit("%s: last column is %r, not 'label'" % (path, header[-1]))
    X = A[:, :-1]
    y = A[:, -1]
    if np.any(y != np.round(y)) or y.min() < 0:
        raise SystemExit("%s: labels must be integers >= 0" % path)
    return X, y.astype(np.int64)


def standardize(X):
    """Zero mean, unit population variance (ddof=0); constant columns get scale 1."""
    mu = X.mean(axis=0)
    sd = X.std(axis=0)          # ddof=0
    sd[sd == 0] = 1.0
    return (X - mu) / sd


def load_spec(spec):
    parts = spec.split(":")
    if parts[0] == "synth":
        if len(parts) != 3:
            raise SystemExit("synth spec is synth:DIR:L2, got %r" % spec)
        sys.path.insert(0, HERE)
        from synth import read_synth
        X32, y, meta = read_synth(parts[1])
        name = "synth(seed=%d)" % meta["seed"]
        return name, X32.astype(np.float64), y.astype(np.int64), float(parts[2]), meta["k"]
    name, l2 = ":".join(parts[:-1]), float(parts[-1])
    path = name if os.path.sep in name or name.endswith(".csv") else os.path.join(DATA, name + ".csv")
    X, y = load_csv(path)
    return os.path.basename(name).replace(".csv", ""), X, y, l2, int(y.max()) + 1


# ---------------------------------------------------------------- objective

class Problem:
    def __init__(self, X, y, k, l2):
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.y = y
        self.n, self.d = X.shape
        self.k = k
        self.l2 = l2
        self.rows = np.arange(self.n)
        self.npar = (self.d + 1) * k

    def split(self, theta):
        d, k = self.d, self.k
        return theta[:d * k].reshape(d, k), theta[d * k:]

    def _probs(self, W, b):
        """Z = XW + b; returns (P = softmax(Z), per-row CE)."""
        Z = self.X @ W
        Z += b
        zy = Z[self.rows, self.y].copy()
        m = Z.max(axis=1, keepdims=True)
        Z -= m
        np.exp(Z, out=Z)
        s = Z.sum(axis=1, keepdims=True)
        Z /= s
        ce = (np.log(s[:, 0]) + m[:, 0]) - zy
        return Z, ce

    def f(self, theta):
        W, b = self.split(theta)
        _, ce = self._probs(W, b)
        return ce.mean() + 0.5 * self.l2 * np.dot(W.ravel(), W.ravel())

    def fg(self, theta):
        W, b = self.split(theta)
        P, ce = self._probs(W, b)
        f = ce.mean() + 0.5 * self.l2 * np.dot(W.ravel(), W.ravel())
        P[self.rows, self.y] -= 1.0
        P /= self.n
        gW = self.X.T @ P
        gW += self.l2 * W
        gb = P.sum(axis=0)
        return f, np.concatenate([gW.ravel(), gb])

    def accuracy(self, theta):
        W, b = self.split(theta)
        return float(np.mean(np.argmax(self.X @ W + b, axis=1) == self.y))

    # Null space. Adding the same constant to every class's bias leaves every
    # softmax unchanged, and b is not penalized, so v = (W = 0, b = 1_k) is a zero
    # direction of f and of its Hessian H: H is only PSD. (Shifting every W column
    # by the same w is also invisible to the data term, but l2 > 0 gives that
    # direction curvature l2*k*|w|^2.) The gradient is always orthogonal to v
    # (sum_c dF/db_c = mean_i sum_c (p_ic - y_ic) = 0), and H maps v-perp into
    # itself, so we solve with H + v v^T / k: that matrix is positive definite
    # (l2 > 0 on W; softmax probabilities > 0 on b-perp-1), and its solution for a
    # right-hand side in v-perp is exactly the minimum-norm Newton step
    # (pseudo-inverse of H), with no component along v. Fixing b_{k-1} = 0 would
    # be equivalent; the projector keeps the parametrization of (a).

    def hessian(self, theta):
        """Dense exact Hessian in the order of theta, i.e. of the augmented
        (d+1) x k matrix [W; b] row-major: index (a, c) -> a*k + c."""
        n, d, k = self.n, self.d, self.k
        W, b = self.split(theta)
        P, _ = self._probs(W, b)
        Xa = np.hstack([self.X, np.ones((n, 1))])
        D = d + 1
        H = np.zeros((D, k, D, k))
        for c in range(k):       # sum_i xa xa^T p_ic  on the class diagonal
            H[:, c, :, c] = Xa.T @ (Xa * P[:, c:c + 1])
        M = (Xa[:, :, None] * P[:, None, :]).reshape(n, D * k)
        H = H.reshape(D * k, D * k) - M.T @ M    # minus sum_i (xa x p)(xa x p)^T
        H /= n
        idx = np.arange(d * k)
        H[idx, idx] += self.l2
        return H

    def null_vec(self):
        v = np.zeros(self.npar)
        v[self.d * self.k:] = 1.0
        return v

    def hessvec(self, theta, P, vec):
        """H vec (exact) given P = softmax at theta."""
        V, vb = self.split(vec)
        dZ = self.X @ V
        dZ += vb
        dZ -= (P * dZ).sum(axis=1, keepdims=True)
        dZ *= P
        dZ /= self.n
        hW = self.X.T @ dZ
        hW += self.l2 * V
        return np.concatenate([hW.ravel(), dZ.sum(axis=0)])


# ---------------------------------------------------------------- optimizers

def solve_lbfgs(pb):
    it = [0]

    def cb(_):
        it[0] += 1
    r = scipy.optimize.minimize(pb.fg, np.zeros(pb.npar), jac=True, method="L-BFGS-B",
                                callback=cb,
                                options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 10 ** 6,
                                         "maxfun": 10 ** 7, "maxcor": 30, "maxls": 100})
    return r.x, r.nit, str(r.message)


def line_search(pb, theta, f0, g, step):
    """Backtracking Armijo; returns new theta, f (or the old ones if no decrease)."""
    slope = float(np.dot(g, step))
    t = 1.0
    for _ in range(60):
        cand = theta + t * step
        fc = pb.f(cand)
        if fc <= f0 + 1e-4 * t * slope:
            return cand, fc, t
        t *= 0.5
    return theta, f0, 0.0


def newton_step_accept(pb, theta, f, g, step):
    """Globalized Newton update. Far from the optimum: Armijo backtracking on f.
    Close to it the predicted decrease -g.step/2 falls below what f can resolve in
    float64 (~1e-17 |f|), so comparing f values is noise and would reject the step:
    there the full step is taken and kept only if it shrinks |grad|_inf (the
    quadratic-convergence region). Returns (theta, f, g, done)."""
    dec = -float(np.dot(g, step))
    if dec > 1e3 * np.finfo(float).eps * max(abs(f), 1e-300):
        th, fn, t = line_search(pb, theta, f, g, step)
        if t == 0.0:
            return theta, f, g, True
        fn, gn = pb.fg(th)
        return th, fn, gn, False
    th = theta + step
    fn, gn = pb.fg(th)
    if np.max(np.abs(gn)) < np.max(np.abs(g)):
        return th, fn, gn, False
    return theta, f, g, True


def solve_newton_dense(pb, theta0=None, maxit=100):
    theta = np.zeros(pb.npar) if theta0 is None else theta0.copy()
    v = pb.null_vec()
    vvk = np.outer(v, v) / pb.k
    f, g = pb.fg(theta)
    it = 0
    for it in range(1, maxit + 1):
        H = pb.hessian(theta) + vvk
        step = -np.linalg.solve(H, g)
        theta, f, g, done = newton_step_accept(pb, theta, f, g, step)
        if done or np.max(np.abs(g)) == 0.0:
            break
    return theta, it


def solve_newton_cg(pb, theta0=None, maxit=100, cg_max=1000):
    """Truncated Newton with exact Hessian-vector products (matrix-free), for
    problems too large for a dense Hessian. Conjugate gradients solve
    (H + v v^T/k) s = -g to a relative residual min(0.1, |g|_2) (forcing term that
    keeps Newton's quadratic convergence); same globalization as the dense one."""
    theta = np.zeros(pb.npar) if theta0 is None else theta0.copy()
    v = pb.null_vec()
    f, g = pb.fg(theta)
    it = 0
    cg_total = 0
    for it in range(1, maxit + 1):
        W, b = pb.split(theta)
        P, _ = pb._probs(W, b)

        def A(x):
            return pb.hessvec(theta, P, x) + v * (np.dot(v, x) / pb.k)
        s = np.zeros_like(g)
        r = -g.copy()
        p = r.copy()
        rr = np.dot(r, r)
        r0 = np.sqrt(rr)
        tol = max(min(0.1, r0) * r0, 1e-18)
        for _ in range(cg_max):
            Ap = A(p)
            alpha = rr / np.dot(p, Ap)
            s += alpha * p
            r -= alpha * Ap
            cg_total += 1
            rr_new = np.dot(r, r)
            if np.sqrt(rr_new) <= tol:
                break
            p = r + (rr_new / rr) * p
            rr = rr_new
        theta, f, g, done = newton_step_accept(pb, theta, f, g, s)
        if done or np.max(np.abs(g)) == 0.0:
            break
    pb.cg_total = cg_total
    return theta, it


def sklearn_objective(pb, tol=1e-12, max_iter=100000):
    from sklearn.linear_model import LogisticRegression
    import warnings
    C = 1.0 / (pb.l2 * pb.n)
    clf = LogisticRegression(C=C, multi_class="multinomial", solver="lbfgs",
                             tol=tol, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(pb.X, pb.y)
    if clf.coef_.shape[0] != pb.k:
        raise SystemExit("sklearn saw %d classes, expected %d" % (clf.coef_.shape[0], pb.k))
    theta = np.concatenate([clf.coef_.T.ravel(), clf.intercept_])
    return pb.f(theta), int(np.max(clf.n_iter_))


# ---------------------------------------------------------------- driver

def run(spec, use_sklearn=True):
    name, X, y, l2, k = load_spec(spec)
    Xs = standardize(X)
    pb = Problem(Xs, y, k, l2)
    out = {"data": name, "n": pb.n, "d": pb.d, "k": k, "l2": l2}
    present = np.unique(y).size
    if present < k:
        print("warning: %s: only %d of %d classes present; no finite optimum" % (name, present, k),
              file=sys.stderr)

    t0 = time.perf_counter()
    th_a, nit_a, msg_a = solve_lbfgs(pb)
    t_a = time.perf_counter() - t0
    f_a = pb.f(th_a)

    t0 = time.perf_counter()
    if pb.npar <= DENSE_MAX:
        th_b, nit_b = solve_newton_dense(pb)
        how_b = "dense Newton from 0"
    else:
        th_b, nit_b = solve_newton_cg(pb)
        how_b = "Newton-CG from 0 (%d Hessian-vector products)" % pb.cg_total
    t_b = time.perf_counter() - t0
    f_b, g_b = pb.fg(th_b)

    rel_ab = abs(f_a - f_b) / abs(f_b)
    out.update({
        "objective": f_b,
        "grad_inf": float(np.max(np.abs(g_b))),
        "accuracy": pb.accuracy(th_b),
        "lbfgs_objective": f_a,
        "lbfgs_grad_inf": float(np.max(np.abs(pb.fg(th_a)[1]))),
        "lbfgs_iterations": nit_a,
        "lbfgs_message": msg_a,
        "lbfgs_seconds": t_a,
        "newton_method": how_b,
        "newton_iterations": nit_b,
        "newton_seconds": t_b,
        "rel_diff_lbfgs_newton": rel_ab,
        "agree_1e-10": bool(rel_ab <= 1e-10),
        "C_sklearn": 1.0 / (l2 * pb.n),
    })
    if use_sklearn:
        t0 = time.perf_counter()
        f_s, nit_s = sklearn_objective(pb)
        out.update({"sklearn_objective": f_s, "sklearn_iterations": nit_s,
                    "sklearn_seconds": time.perf_counter() - t0,
                    "rel_diff_sklearn": abs(f_s - f_b) / abs(f_b)})
    if not out["agree_1e-10"]:
        print("warning: %s l2=%g: L-BFGS and Newton differ by %.3g relative"
              % (name, l2, rel_ab), file=sys.stderr)
    return out


def table(rows):
    lines = ["| data | n | d | k | l2 | objective | \\|grad\\|_inf | accuracy | sklearn objective |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        sk = "%.12g" % r["sklearn_objective"] if "sklearn_objective" in r else "-"
        lines.append("| %s | %d | %d | %d | %g | %.12g | %.1e | %.4f | %s |" % (
            r["data"], r["n"], r["d"], r["k"], r["l2"], r["objective"], r["grad_inf"],
            r["accuracy"], sk))
    lines += ["", "| data | l2 | L-BFGS-B objective | rel. diff to Newton | L-BFGS-B iters, "
              "\\|grad\\|_inf, stop | Newton (b) | sklearn rel. diff, iters |",
              "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        sk = ("%.1e, %d" % (r["rel_diff_sklearn"], r["sklearn_iterations"])
              if "sklearn_objective" in r else "-")
        lines.append("| %s | %g | %.12g | %.1e | %d, %.1e, %s | %s, %d iters | %s |" % (
            r["data"], r["l2"], r["lbfgs_objective"], r["rel_diff_lbfgs_newton"],
            r["lbfgs_iterations"], r["lbfgs_grad_inf"], r["lbfgs_message"],
            r["newton_method"], r["newton_iterations"], sk))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("specs", nargs="*", help="NAME:L2 (default: %s)" % " ".join(DEFAULT_SPECS))
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--no-sklearn", action="store_true", help="skip the scikit-learn cross-check")
    a = ap.parse_args()
    rows = [run(s, use_sklearn=not a.no_sklearn) for s in (a.specs or DEFAULT_SPECS)]
    print(table(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
            f.write("\n")
    bad = [r for r in rows if not r["agree_1e-10"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
