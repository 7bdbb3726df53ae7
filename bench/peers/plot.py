"""plot.py - GB/s against shape, per implementation, from the combined CSV
of bench/compare.sh (see report.py), as grouped bars on a log scale: softmax
on the left, cross-entropy on the right, one row per thread count.

    plot.py COMPARE.csv "SHAPE..." OUT_STEM     (writes OUT_STEM.png and .svg)

Needs matplotlib (Debian python3-matplotlib).
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [
    ("softmax", [("memcpy", "memcpy", "memcpy (smr-bench)"), ("smr", "softmax", "smr"),
                 ("smr-online", "softmax", "smr online"), ("onednn", "softmax", "oneDNN"),
                 ("torch", "softmax", "PyTorch"), ("scipy", "softmax", "SciPy")]),
    ("cross-entropy from logits", [("smr", "ce_loss", "smr loss"),
                                   ("torch", "ce_loss", "PyTorch loss"),
                                   ("smr", "ce_grad", "smr loss + grad"),
                                   ("torch", "ce_grad", "PyTorch loss + grad")]),
]
COLORS = {"memcpy": "#999999", "smr": "#d62728", "smr-online": "#ff9896", "onednn": "#1f77b4",
          "torch": "#ff7f0e", "scipy": "#2ca02c"}


def main():
    path, shapes, stem = sys.argv[1], sys.argv[2].split(), sys.argv[3]
    g = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            g[(r["impl"], r["op"], r["shape"], int(r["threads"]))] = float(r["GBps"])
    threads = sorted({k[3] for k in g})
    plt.rcParams["svg.hashsalt"] = "smr-compare"  # stable SVG ids between runs
    fig, axes = plt.subplots(len(threads), 2, figsize=(14, 4.8 * len(threads)), squeeze=False)
    for row, t in enumerate(threads):
        for col, (title, series) in enumerate(PANELS):
            ax = axes[row][col]
            present = [s for s in series if any((s[0], s[1], sh, t) in g for sh in shapes)]
            width = 0.8 / max(1, len(present))
            lo, hi = float("inf"), 0.0
            for i, (impl, op, label) in enumerate(present):
                xs, ys = [], []
                for j, sh in enumerate(shapes):
                    if (impl, op, sh, t) in g:
                        xs.append(j - 0.4 + width * (i + 0.5))
                        ys.append(g[(impl, op, sh, t)])
                hatch = "//" if op == "ce_grad" else None
                ax.bar(xs, ys, width, label=label, color=COLORS[impl], hatch=hatch,
                       edgecolor="white" if hatch else None, linewidth=0)
                for x, y in zip(xs, ys):
                    ax.text(x, y * 1.05, f"{y:.3g}", ha="center", va="bottom", fontsize=6,
                            rotation=90)
                lo, hi = min([lo] + ys), max([hi] + ys)
            ax.set_yscale("log")
            if hi > 0:  # room below the shortest bar and above for labels and legend
                ax.set_ylim(lo / 2, hi * 6)
            ax.set_xticks(range(len(shapes)))
            ax.set_xticklabels([s.replace("x", "×") for s in shapes])
            ax.set_xlabel("shape n × k (f32)")
            ax.set_ylabel("GB/s (minimum traffic)")
            tl = "1 thread" if t == 1 else f"{t} threads"
            ax.set_title(f"{title}, {tl}")
            ax.grid(axis="y", which="both", alpha=0.3)
            ax.legend(fontsize=8, ncol=3, loc="upper left")
    fig.tight_layout()
    fig.savefig(stem + ".png", dpi=110)
    fig.savefig(stem + ".svg", metadata={"Date": None})
    return 0


if __name__ == "__main__":
    sys.exit(main())
