"""report.py - merges smr-bench's JSON and the peers' CSV lines into one CSV
and writes the side-by-side tables into docs/BENCHMARKS.md, between the
lines <!-- compare:begin --> and <!-- compare:end --> (appended under
"## Side by side with peers" when absent). Standard library only: it runs
with the Python that Meson itself needs. Called by bench/compare.sh.

    report.py --smr-json F... --isa ISA [--peers F]... [--meta F] [--skipped MSG]...
              --csv OUT --shapes "NxK..." [--doc BENCHMARKS.md] [--command CMD]
              [--plot REL]

With several rounds (compare.sh --rounds), each smr-bench JSON and each
peer line is one round, and every cell is the median over the rounds.

Combined CSV columns: impl,op,shape,threads,seconds_per_call,GBps, where
impl is smr, smr-online, memcpy (smr-bench's, same process as smr), onednn,
onednn-memcpy, torch, scipy or numpy, and op is softmax, ce_loss, ce_grad or
memcpy. GB/s count the minimum traffic (1 GB = 1e9 bytes).
"""

import argparse
import csv
import json
import os
import sys

BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"
HEADING = "## Side by side with peers"
DRAM_BYTES = 64 << 20
L2_SHAPE = "256x1000"  # the L2-resident target shape of issue 4

# smr-bench family -> (impl, op) of the combined CSV
FAMILIES = {"softmax": ("smr", "softmax"), "online": ("smr-online", "softmax"),
            "ce_grad": ("smr", "ce_grad"), "ce_loss": ("smr", "ce_loss"),
            "memcpy": ("memcpy", "memcpy")}


def read_smr(path, isa):
    """Rows of the median aggregates of smr-bench's JSON output."""
    with open(path) as f:
        data = json.load(f)
    rows = []
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    for b in data["benchmarks"]:
        if b.get("aggregate_name", "median") != "median" or b.get("error_occurred"):
            continue
        parts = b["run_name"].split("/")  # family/isa/dtype/NxK/real_time/threads:T
        fam, bisa, dtype, shape = parts[:4]
        if fam not in FAMILIES or bisa not in (isa, "-") or dtype != "f32":
            continue
        impl, op = FAMILIES[fam]
        threads = int(parts[-1].split(":")[1])
        sec = b["real_time"] * scale[b["time_unit"]]
        rows.append((impl, op, shape, threads, sec, b["bytes_per_second"] * 1e-9))
    return rows


def read_peers(paths):
    rows, notes = [], []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if line.startswith("#"):
                    if line[1:].strip() not in notes:
                        notes.append(line[1:].strip())
                elif line:
                    impl, op, shape, threads, sec, gbps = line.split(",")
                    rows.append((impl, op, shape, int(threads), float(sec), float(gbps)))
    return rows, notes


def median_over_rounds(rows):
    """One row per (impl, op, shape, threads): the median GB/s of its rounds."""
    by = {}
    for r in rows:
        by.setdefault(r[:4], []).append(r)
    out = []
    for key, rs in by.items():
        rs.sort(key=lambda r: r[5])
        out.append(rs[len(rs) // 2] if len(rs) % 2 else
                   key + ((rs[len(rs) // 2 - 1][4] + rs[len(rs) // 2][4]) / 2,
                          (rs[len(rs) // 2 - 1][5] + rs[len(rs) // 2][5]) / 2))
    return out


def shape_bytes(shape):
    n, k = (int(v) for v in shape.split("x"))
    return n * k * 4


def shape_label(shape):
    """The shape, its input size and where one input buffer fits."""
    b = shape_bytes(shape)
    size = f"{b / 2**20:.0f} MiB" if b >= 2**20 else f"{b / 2**10:.0f} KiB"
    where = "DRAM" if b > DRAM_BYTES else ("L2" if b <= 2**20 else "L3")
    return f"{shape.replace('x', '×')} ({size}, {where})"


def merge_impl_notes(notes):
    """One line for the implementation oneDNN chose, instead of one per shape."""
    key = "oneDNN softmax implementation for "
    impls = [n[len(key):].split(": ", 1) for n in notes if n.startswith(key)]
    rest = [n for n in notes if not n.startswith(key)]
    if not impls:
        return rest
    if len({i for _, i in impls}) == 1:
        return rest + [f"oneDNN softmax implementation: {impls[0][1]} (every shape)"]
    return rest + ["oneDNN softmax implementation: " + ", ".join(f"{s} {i}" for s, i in impls)]


def fmt(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def tables(rows, isa, threads_list, shapes):
    g = {(r[0], r[1], r[2], r[3]): r[5] for r in rows}
    out = []
    for t in threads_list:
        get = lambda impl, op, s: g.get((impl, op, s, t))
        tl = "1 thread" if t == 1 else f"{t} threads"
        out += [f"### Softmax, f32, {tl}: GB/s, and smr's ratio to each peer", "",
                f"| shape | memcpy | smr ({isa}) | smr online | oneDNN | PyTorch | SciPy "
                "| smr / oneDNN | smr / PyTorch | smr / memcpy |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for s in shapes:
            m, a = get("memcpy", "memcpy", s), get("smr", "softmax", s)
            d, p = get("onednn", "softmax", s), get("torch", "softmax", s)
            out.append(f"| {shape_label(s)} | {fmt(m)} | **{fmt(a)}** "
                       f"| {fmt(get('smr-online', 'softmax', s))} | {fmt(d)} | {fmt(p)} "
                       f"| {fmt(get('scipy', 'softmax', s))} | {fmt(ratio(a, d))} "
                       f"| {fmt(ratio(a, p))} | {fmt(ratio(a, m))} |")
        out += ["", f"### Cross-entropy from logits, f32, {tl}: GB/s", "",
                "| shape | smr loss | PyTorch loss | smr / PyTorch "
                "| smr loss + grad | PyTorch loss + grad | smr / PyTorch |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for s in shapes:
            al, pl = get("smr", "ce_loss", s), get("torch", "ce_loss", s)
            ag, pg = get("smr", "ce_grad", s), get("torch", "ce_grad", s)
            out.append(f"| {shape_label(s)} | {fmt(al)} | {fmt(pl)} | {fmt(ratio(al, pl))} "
                       f"| {fmt(ag)} | {fmt(pg)} | {fmt(ratio(ag, pg))} |")
        out += ["", f"### memcpy of the same bytes in each process, {tl}: GB/s", "",
                "| shape | smr-bench (glibc memcpy) | oneDNN program (glibc memcpy) "
                "| Python (np.copyto) |",
                "| --- | ---: | ---: | ---: |"]
        for s in shapes:
            out.append(f"| {shape_label(s)} | {fmt(get('memcpy', 'memcpy', s))} "
                       f"| {fmt(get('onednn-memcpy', 'memcpy', s))} "
                       f"| {fmt(get('numpy', 'memcpy', s))} |")
        out.append("")
    return out


def targets(rows, shapes):
    """Issue 4's targets, single-threaded, checked on this run."""
    g = {(r[0], r[2]): r[5] for r in rows if r[1] == "softmax" and r[3] == 1}
    dram = [s for s in shapes if shape_bytes(s) > DRAM_BYTES]
    checks = []
    if dram:
        s = max(dram, key=shape_bytes)
        stand_in = "" if s == "8192x32000" else " (stand-in for 8192×32000)"
        checks += [(f"DRAM softmax {s.replace('x', '×')}{stand_in}", s, "onednn", "oneDNN", 2),
                   (f"DRAM softmax {s.replace('x', '×')}{stand_in}", s, "torch", "PyTorch", 3)]
    if L2_SHAPE in shapes:
        checks.append((f"L2 softmax {L2_SHAPE.replace('x', '×')}", L2_SHAPE, "onednn", "oneDNN", 2))
    out = []
    for what, s, peer, name, want in checks:
        r = ratio(g.get(("smr", s)), g.get((peer, s)))
        verdict = "not measured" if r is None else ("met" if r >= want else "not met")
        out.append(f"- {what}: smr / {name} = {fmt(r)} (target ≥ {want}): {verdict}")
    return out


def block(args, rows, notes, shapes, threads_list):
    meta = []
    if args.meta:
        with open(args.meta) as f:
            meta = [l.rstrip("\n") for l in f if l.strip()]
    b = [BEGIN, "",
         "Generated by bench/compare.sh; edit the script, not this block.", "",
         "```sh", args.command, "```", ""]
    b += [f"- {m}" for m in meta]
    b += [f"- {n}" for n in merge_impl_notes(notes)]
    b += [f"- skipped: {s}" for s in args.skipped]
    b += ["",
          "Each implementation runs on the same shapes in the same run, one after "
          "the other (smr-bench, then the oneDNN program, then the Python peers), "
          "f32, with the thread count of each table for every implementation "
          "(`OMP_NUM_THREADS` for oneDNN, `torch.set_num_threads` for PyTorch; "
          "SciPy and NumPy are single-threaded and appear only in the 1-thread "
          "tables). "
          "GB/s is the minimum traffic over the median time per call, 1 GB = 10⁹ "
          "bytes: softmax and memcpy read z and write p (8·n·k bytes), "
          "cross-entropy with its gradient reads z and writes the gradient "
          "(8·n·k; the n labels are not counted), the loss alone reads z "
          "(4·n·k). smr's figures are smr-bench's medians of 5 repetitions; the "
          "peers are medians of 7 samples of at least 20 ms (5 samples of at "
          "least one call for DRAM shapes)"
          + (f", and each cell is the median of {args.rounds} rounds of the whole "
             "sequence" if args.rounds > 1 else "") + ". Inputs up to 64 MiB rotate over 4 "
          "buffer pairs, as in smr-bench, so a call never finds its buffers warm "
          "from the previous call (the L2/L3/DRAM label says where one input "
          "buffer fits; the 4 pairs of a 1 MiB shape span 8 MiB). What is timed: smr `smr_softmax_f32` "
          "(two-pass) and `smr_softmax_online_f32` through the kernel table, "
          "`smr_cross_entropy_logits_f32` with and without the gradient; oneDNN "
          "`dnnl_softmax_v2` (`dnnl_softmax_accurate`, forward inference, axis 1, "
          "`ab` layout) through the C API; PyTorch `torch.softmax(x, 1, out=y)` "
          "(no allocation timed), `F.cross_entropy(z, labels)` under `no_grad` for "
          "the loss, and `F.cross_entropy` + `torch.autograd.grad` for loss + "
          "gradient (PyTorch allocates its saved log-softmax and the gradient "
          "in every call); SciPy `scipy.special.softmax(x, axis=1)` (no `out=`, "
          "allocates). Ratios divide GB/s of the same shape; the memcpy columns "
          "show how much the processes differ on the same copy.", ""]
    b += ["Issue 4's targets in this run:", ""] + targets(rows, shapes) + [""]
    b += tables(rows, args.isa, threads_list, shapes)
    if args.plot:
        b += [f"![GB/s per implementation and shape]({args.plot})", ""]
    b.append(END)
    return b


def write_doc(path, lines):
    with open(path) as f:
        text = f.read().split("\n")
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        i, j = text.index(BEGIN), text.index(END)
        text = text[:i] + lines + text[j + 1:]
    else:
        while text and text[-1] == "":
            text.pop()
        text += ["", HEADING, ""] + lines + [""]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(text))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smr-json", action="append", required=True)
    ap.add_argument("--isa", required=True)
    ap.add_argument("--peers", action="append", default=[])
    ap.add_argument("--meta")
    ap.add_argument("--skipped", action="append", default=[])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--doc")
    ap.add_argument("--command", default="bash bench/compare.sh")
    ap.add_argument("--plot", help="the plot's path relative to the doc")
    ap.add_argument("--shapes", required=True, help="space-separated, in table order")
    args = ap.parse_args()

    rows = [r for p in args.smr_json for r in read_smr(p, args.isa)]
    peer_rows, notes = read_peers(args.peers)
    rows = median_over_rounds(rows + peer_rows)
    args.rounds = len(args.smr_json)
    with open(args.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["impl", "op", "shape", "threads", "seconds_per_call", "GBps"])
        for r in rows:
            w.writerow([r[0], r[1], r[2], r[3], f"{r[4]:.9g}", f"{r[5]:.4f}"])
    shapes = args.shapes.split()
    threads_list = sorted({r[3] for r in rows})
    lines = block(args, rows, notes, shapes, threads_list)
    if args.doc:
        write_doc(args.doc, lines)
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
