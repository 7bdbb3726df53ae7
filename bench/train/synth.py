#!/usr/bin/python3
"""Synthetic softmax-regression problem for training benchmarks.

    X ~ N(0, 1)                      n x d, float64, numpy default_rng(seed)
    W ~ N(0, 1) / sqrt(d)            d x k
    y = argmax(X W + Gumbel(0, 1))   i.e. a draw from softmax(X W) per row

The draws are made in exactly that order from one Generator (X, then W, then the
n x k Gumbel noise), so the data are a pure function of (n, d, k, seed).

`--out DIR` writes what a C benchmark reads:
    DIR/X.f32      n*d float32, raw little-endian, row-major (row i = sample i)
    DIR/y.i32      n int32, raw little-endian, class index in [0, k)
    DIR/meta.json  {"n", "d", "k", "seed", "x_file", "y_file", "classes_present"}
The labels are computed from the float64 X; X is then rounded to float32 for the
file. Reference optima (ref_optimum.py synth:DIR:L2) are computed on the float32
values as read back, widened to float64, then standardized like every data set.

    /usr/bin/python3 bench/train/synth.py --out /tmp/synth   # defaults n=20000 d=100 k=1000
"""
import argparse
import json
import os

import numpy as np


def make_synth(n=20000, d=100, k=1000, seed=0):
    """Return (X float64 n x d, y int32 n, W_true float64 d x k)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, k)) / np.sqrt(d)
    y = np.empty(n, dtype=np.int32)
    # Gumbel noise drawn in one call (same stream as a single rng.gumbel((n, k))),
    # the argmax done in blocks only to bound the size of the X W temporary.
    G = rng.gumbel(size=(n, k))
    step = 4096
    for s in range(0, n, step):
        e = min(n, s + step)
        y[s:e] = np.argmax(X[s:e] @ W + G[s:e], axis=1)
    return X, y, W


def write_synth(out, n=20000, d=100, k=1000, seed=0):
    X, y, _ = make_synth(n, d, k, seed)
    os.makedirs(out, exist_ok=True)
    X.astype("<f4").tofile(os.path.join(out, "X.f32"))
    y.astype("<i4").tofile(os.path.join(out, "y.i32"))
    meta = {"n": n, "d": d, "k": k, "seed": seed,
            "x_file": "X.f32", "y_file": "y.i32",
            "x_format": "float32 little-endian row-major n x d",
            "y_format": "int32 little-endian n",
            "classes_present": int(np.unique(y).size)}
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


def read_synth(out):
    """Read back what write_synth wrote: (X float32 n x d, y int32 n, meta)."""
    with open(os.path.join(out, "meta.json")) as f:
        meta = json.load(f)
    n, d = meta["n"], meta["d"]
    X = np.fromfile(os.path.join(out, meta["x_file"]), dtype="<f4").reshape(n, d)
    y = np.fromfile(os.path.join(out, meta["y_file"]), dtype="<i4")
    assert y.size == n
    return X, y, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    meta = write_synth(a.out, a.n, a.d, a.k, a.seed)
    print(json.dumps(meta))
    if meta["classes_present"] < a.k:
        print("warning: %d of %d classes have no rows; with an unpenalized bias the "
              "optimum is then not attained (that bias goes to -inf)"
              % (a.k - meta["classes_present"], a.k))


if __name__ == "__main__":
    main()
