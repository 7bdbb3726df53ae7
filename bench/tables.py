#!/usr/bin/env python3
"""tables.py - smr-bench's JSON output as the markdown tables of
docs/BENCHMARKS.md (standard library only).

    smr-bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
        --benchmark_out=run.json --benchmark_out_format=json [--benchmark_filter=...]
    python3 bench/tables.py run.json [--isa avx512]

One table per shape: a row per family, a column per (dtype, threads). A
cell is G elements/s (the median aggregate when repetitions were run), then
in parentheses the ratio to memcpy of the same bytes at the same thread
count (x_memcpy), and for read-only families also the ratio to the
read-only reduction (x_read). Families that do not use the kernel table
(naive, memcpy, read) appear under the ISA "-".
"""
import json
import sys

FAMILIES = ["softmax", "online", "naive", "log_softmax", "ce_grad", "ce_grad_inplace",
            "ce_loss", "memcpy", "read"]


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    isa = "avx512"
    if "--isa" in argv:
        isa = argv[argv.index("--isa") + 1]
    with open(argv[1]) as f:
        data = json.load(f)
    cells = {}
    shapes, cols = [], []
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        parts = name.split("/")
        fam, bisa, dt, shape = parts[0], parts[1], parts[2], parts[3]
        threads = parts[-1].split(":")[1]
        if bisa not in (isa, "-"):
            continue
        col = (dt, threads)
        if shape not in shapes:
            shapes.append(shape)
        if col not in cols:
            cols.append(col)
        text = "%.2f (%.2f" % (b["items_per_second"] / 1e9, b["x_memcpy"])
        if "x_read" in b:
            text += "; read %.2f" % b["x_read"]
        cells[(fam, shape, col)] = text + ")"
    cols.sort()
    out = []
    for shape in shapes:
        out.append("**%s** (%s; G elements/s, ratio to memcpy)\n" % (shape.replace("x", "×"), isa))
        out.append("| family | " + " | ".join("%s, %s thr" % c for c in cols) + " |")
        out.append("| --- |" + " --- |" * len(cols))
        for fam in FAMILIES:
            row = [cells.get((fam, shape, c), "") for c in cols]
            if any(row):
                out.append("| %s | %s |" % (fam, " | ".join(row)))
        out.append("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
