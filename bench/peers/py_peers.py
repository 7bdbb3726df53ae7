"""py_peers.py - PyTorch, SciPy and NumPy peers of smr's kernels, timed for
bench/compare.sh. Run with Debian's /usr/bin/python3 (python3-torch,
python3-scipy, python3-numpy); a missing package skips its peers.

    py_peers.py [-t THREADS] NxK...

Prints one CSV line per shape and measurement,
    impl,op,shape,threads,seconds_per_call,GBps
and '#' lines with versions. What is timed (f32, row-wise over axis 1):

    torch   softmax  torch.softmax(x, 1, out=y): the out= overload, so no
                     allocation is timed
    torch   ce_loss  F.cross_entropy(z, labels) under no_grad (mean loss)
    torch   ce_grad  F.cross_entropy(z, labels) then torch.autograd.grad:
                     forward + backward; torch allocates its saved
                     log-softmax and the gradient in every call
    scipy   softmax  scipy.special.softmax(x, axis=1) (allocates its
                     temporaries and result: it has no out=)
    numpy   memcpy   np.copyto(y, x), Python's memcpy of the same bytes

Bytes are the minimum traffic, as in smr-bench: softmax and memcpy read z
and write p (2 * n * k * 4), ce_grad reads z and writes the gradient
(2 * n * k * 4; the labels are not counted), ce_loss reads z (n * k * 4).
Timing as bench/peers/onednn_softmax.c: inputs up to 64 MiB rotate over 4
buffer pairs; one warm-up call, then the median of 7 samples of at least
20 ms and 3 calls (5 samples of at least 1 call above 64 MiB).
SciPy and NumPy are single-threaded, so they run only with -t 1.
"""

import argparse
import os
import sys
import time

NROT = 4
DRAM_BYTES = 64 << 20


def median_seconds(fn, nrot, dram):
    """Median seconds per call of fn(b), b rotating over nrot buffer sets."""
    samples, min_calls = (5, 1) if dram else (7, 3)
    fn(0)
    t = []
    for _ in range(samples):
        calls = 0
        t0 = time.perf_counter()
        while True:
            fn(calls % nrot)
            calls += 1
            el = time.perf_counter() - t0
            if el >= 0.02 and calls >= min_calls:
                break
        t.append(el / calls)
    t.sort()
    return t[len(t) // 2]


def emit(impl, op, n, k, threads, sec, nbytes):
    print(f"{impl},{op},{n}x{k},{threads},{sec:.9g},{nbytes / sec * 1e-9:.4f}", flush=True)


def bench_shape(np, torch, scipy_special, n, k, threads):
    nbytes = n * k * 4
    dram = nbytes > DRAM_BYTES
    nrot = 1 if dram else NROT
    rng = np.random.default_rng(k)
    xs = [(rng.random((n, k), dtype=np.float32) * 8 - 4) for _ in range(nrot)]
    ys = [x.copy() for x in xs]  # pages touched before timing
    run = lambda fn: median_seconds(fn, nrot, dram)

    if threads == 1:
        emit("numpy", "memcpy", n, k, threads, run(lambda b: np.copyto(ys[b], xs[b])), 2 * nbytes)
    if torch is not None:
        F = torch.nn.functional
        tx = [torch.from_numpy(x) for x in xs]
        ty = [torch.from_numpy(y) for y in ys]
        labels = torch.arange(n, dtype=torch.int64) % k
        emit("torch", "softmax", n, k, threads,
             run(lambda b: torch.softmax(tx[b], 1, out=ty[b])), 2 * nbytes)
        with torch.no_grad():
            emit("torch", "ce_loss", n, k, threads,
                 run(lambda b: F.cross_entropy(tx[b], labels)), nbytes)
        tz = [x.detach().requires_grad_(True) for x in tx]

        def ce_grad(b):
            loss = F.cross_entropy(tz[b], labels)
            return torch.autograd.grad(loss, tz[b])

        emit("torch", "ce_grad", n, k, threads, run(ce_grad), 2 * nbytes)
        del tx, ty, tz
    if scipy_special is not None and threads == 1:
        emit("scipy", "softmax", n, k, threads,
             run(lambda b: scipy_special.softmax(xs[b], axis=1)), 2 * nbytes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-t", "--threads", type=int, default=1)
    ap.add_argument("shapes", nargs="+", metavar="NxK")
    args = ap.parse_args()
    shapes = []
    for s in args.shapes:
        try:
            n, k = (int(v) for v in s.split("x"))
        except ValueError:
            sys.exit(f"py_peers: not a shape NxK: '{s}'")
        shapes.append((n, k))
    # before torch loads its OpenMP runtime
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    try:
        import numpy as np
    except ImportError:
        print("skipping PyTorch, SciPy, NumPy: python3-numpy not installed", file=sys.stderr)
        return 0
    print(f"# NumPy {np.__version__}")
    try:
        import torch
        torch.set_num_threads(args.threads)
        cap = next((l.split(":", 1)[1].strip() for l in torch.__config__.show().splitlines()
                    if "CPU capability usage" in l), "?")
        print(f"# PyTorch {torch.__version__}, CPU capability {cap} "
              f"(torch.__config__.show()), threads {torch.get_num_threads()}")
    except ImportError:
        torch = None
        print("skipping PyTorch: python3-torch not installed", file=sys.stderr)
    try:
        import scipy
        import scipy.special as scipy_special
        print(f"# SciPy {scipy.__version__}")
    except ImportError:
        scipy_special = None
        print("skipping SciPy: python3-scipy not installed", file=sys.stderr)
    if args.threads != 1:
        print(f"# SciPy, NumPy: single-threaded, not run with {args.threads} threads")
    for n, k in shapes:
        bench_shape(np, torch, scipy_special, n, k, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
