"""Benchmark octref's im2col OctConv: against vanilla conv, the loops, np.matmul and PyTorch.

Usage::

    python benchmarks/run.py            # the full run (a few minutes on 2 cores)
    python benchmarks/run.py --quick    # a smoke run of every section (seconds)
    python benchmarks/run.py --threads 1 --repeats 9

Every table is measured in one interleaved loop: each repeat calls every case
of the table once, in turn, and a case's time is the median over repeats, so
slow drift of a shared machine hits all cases of a ratio alike.

Sections:

1. OctConv (im2col) over vanilla conv (``octref.conv_forward``), same
   channels, alpha in {0, .125, .25, .5, .75}: time ratios forward and
   forward+backward beside Table 1's ``1 - 3/4 alpha (2 - alpha)``.
2. im2col over loops (``octref.loops``) on a small shape.
3. GFLOP/s of the forward (counted by ``octref.cost``) beside ``np.matmul``
   on the conv's own GEMM shape, same run.
4. Peak traced memory (tracemalloc) of forward+backward, alpha 0.5 over 0.
5. With PyTorch installed (``pip install -e .[bench]``): octref versus
   ``torch.nn.functional.conv2d`` with autograd, float32 and float64, and
   versus a PyTorch OctConv built from conv2d / avg_pool2d / interpolate,
   with the same thread count for both (``torch.set_num_threads`` and, via
   threadpoolctl, numpy's BLAS).

The figures the issue asks for are checked at the end ("Targets").
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from octref import Octave, cost, im2col, init_octave_weights, loops, split_channels  # noqa: E402

FULL_SHAPES = [(8, 64, 32), (4, 128, 56)]     # (N, C, H = W), k = 3, padding 1
QUICK_SHAPES = [(2, 16, 12)]
ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75)
DTYPES = (np.float64, np.float32)

# Figures the issue sets (benchmark targets, not tests).
TARGET_RATIO_F, TARGET_RATIO_FB = 0.55, 0.60
TARGET_TORCH = {"float64": (1.0, 1.5), "float32": (2.0, 2.5)}   # (forward, forward+backward)
TARGET_MATMUL_SHARE = 0.40
TARGET_MEMORY = 0.70


# --------------------------------------------------------------------------- measuring

def interleaved(cases, repeats, warmup=1, groups=None, pause=0.5):
    """Median seconds of each callable in ``cases`` (a dict), called round-robin.

    ``groups`` (lists of case names) splits each repeat into blocks, one per
    library: before a block the run sleeps ``pause`` seconds and calls the
    block's first case once untimed. Idle OpenBLAS (numpy) and OpenMP (torch)
    workers keep spinning for a while after a call; on 2 cores one library's
    spinning pool would otherwise slow the other's threads.
    """
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    groups = groups or [list(cases)]
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for group in groups:
            if len(groups) > 1:
                time.sleep(pause)
                cases[group[0]]()
            for name in group:
                start = time.perf_counter()
                cases[name]()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def problem(n, c, size, alpha, dtype, rng):
    """An octave input, weights and an upstream gradient for a C -> C, k = 3 layer."""
    c_high, c_low = split_channels(c, alpha)
    low = (size + 1) // 2
    x = Octave(rng.standard_normal((n, c_high, size, size)).astype(dtype) if c_high else None,
               rng.standard_normal((n, c_low, low, low)).astype(dtype) if c_low else None)
    w = init_octave_weights(c, c, 3, alpha, alpha, rng=rng, dtype=dtype)
    return x, w


def octconv_fb(x, w):
    """Forward then backward of octref's octconv; the output is its own upstream gradient."""
    def run():
        y, cache = im2col.octconv_forward(x, w)
        im2col.octconv_backward(y, cache)
    return run


def conv_fb(x, w):
    def run():
        y, cache = im2col.conv_forward(x, w, padding=1)
        im2col.conv_backward(y, cache)
    return run


# --------------------------------------------------------------------------- threads

def blas_threads(threads):
    """Limit numpy's BLAS to ``threads`` (threadpoolctl) and describe the BLAS in use."""
    try:
        import threadpoolctl
    except ImportError:
        return None, "threadpoolctl not installed: numpy's BLAS threads unknown"
    limiter = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    info = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}), "
            f"{i['num_threads']} threads" for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"]
    return limiter, "; ".join(info)


def environment(threads, blas):
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [f"date: {datetime.datetime.now().isoformat(timespec='seconds')}",
             f"machine: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} "
             f"{platform.release()}",
             f"python {platform.python_version()}, numpy {np.__version__}, BLAS: {blas}",
             f"threads: {threads} (numpy BLAS and torch alike)",
             f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"]
    if hasattr(os, "getloadavg"):
        lines.append("load average at start: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    return lines


# --------------------------------------------------------------------------- sections

def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def section_ratios(shapes, repeats, rng, results):
    """OctConv over vanilla conv, forward and forward+backward, per alpha."""
    rows = []
    for dtype in DTYPES:
        for n, c, size in shapes:
            plain = rng.standard_normal((n, c, size, size)).astype(dtype)
            w_plain = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2 / (9 * c))).astype(dtype)
            cases = {"conv f": lambda p=plain, w=w_plain: im2col.conv_forward(p, w, padding=1),
                     "conv fb": conv_fb(plain, w_plain)}
            for alpha in ALPHAS:
                x, w = problem(n, c, size, alpha, dtype, rng)
                cases[f"{alpha} f"] = lambda x=x, w=w: im2col.octconv_forward(x, w)
                cases[f"{alpha} fb"] = octconv_fb(x, w)
            t = interleaved(cases, repeats)
            for alpha in ALPHAS:
                f, fb = t[f"{alpha} f"] / t["conv f"], t[f"{alpha} fb"] / t["conv fb"]
                rows.append((np.dtype(dtype).name, f"{n}x{c}x{size}x{size}", alpha,
                             f"{cost.flops_ratio(alpha):.3f}", f"{f:.3f}", f"{fb:.3f}",
                             f"{1e3 * t[f'{alpha} f']:.2f}", f"{1e3 * t[f'{alpha} fb']:.2f}"))
                results.setdefault("ratio", {})[(np.dtype(dtype).name, (n, c, size), alpha)] = \
                    (f, fb)
            rows.append((np.dtype(dtype).name, f"{n}x{c}x{size}x{size}", "conv", "1", "1", "1",
                         f"{1e3 * t['conv f']:.2f}", f"{1e3 * t['conv fb']:.2f}"))
    return ("## 1. OctConv / vanilla conv time (im2col, same channels, k = 3)\n\n"
            + table(["dtype", "N x C x H x W", "alpha", "theory (Table 1)", "forward ratio",
                     "fwd+bwd ratio", "forward ms", "fwd+bwd ms"], rows))


def section_loops(quick, repeats, rng):
    """im2col over loops on a small shape (the loops are slow on purpose)."""
    n, c, size = (1, 4, 6) if quick else (2, 8, 12)
    x, w = problem(n, c, size, 0.5, np.float64, rng)

    def loops_fb():
        y, cache = loops.octconv_forward(x, w)
        loops.octconv_backward(y, cache)
    # Timed apart: after seconds of pure-Python loops, the first BLAS call pays
    # for waking OpenBLAS's threads, which would bias whichever im2col case ran first.
    t = interleaved({"loops f": lambda: loops.octconv_forward(x, w), "loops fb": loops_fb},
                    repeats)
    t.update(interleaved({"im2col f": lambda: im2col.octconv_forward(x, w),
                          "im2col fb": octconv_fb(x, w)}, 5 * repeats))
    rows = [("forward", f"{1e3 * t['loops f']:.1f}", f"{1e3 * t['im2col f']:.3f}",
             f"{t['loops f'] / t['im2col f']:.0f}x"),
            ("forward+backward", f"{1e3 * t['loops fb']:.1f}", f"{1e3 * t['im2col fb']:.3f}",
             f"{t['loops fb'] / t['im2col fb']:.0f}x")]
    return (f"## 2. im2col versus loops (alpha 0.5, {n}x{c}x{size}x{size}, float64)\n\n"
            + table(["pass", "loops ms", "im2col ms", "speed-up"], rows))


def section_gflops(shapes, repeats, rng, results):
    """Forward GFLOP/s (2 x counted MACs / time) beside np.matmul on the conv's GEMM."""
    rows = []
    for dtype in DTYPES:
        for n, c, size in shapes:
            plain = rng.standard_normal((n, c, size, size)).astype(dtype)
            w_plain = rng.standard_normal((c, c, 3, 3)).astype(dtype)
            x, w = problem(n, c, size, 0.5, dtype, rng)
            a = rng.standard_normal((c, 9 * c)).astype(dtype)
            b = rng.standard_normal((9 * c, n * size * size)).astype(dtype)
            out = np.empty((c, n * size * size), dtype=dtype)
            t = interleaved({"matmul": lambda a=a, b=b, o=out: np.matmul(a, b, out=o),
                             "conv": lambda p=plain, w=w_plain: im2col.conv_forward(p, w,
                                                                                   padding=1),
                             "oct": lambda x=x, w=w: im2col.octconv_forward(x, w)}, repeats)
            flops_conv = 2 * cost.conv_cost(c, c, 3, size, size, batch=n).total_macs
            flops_oct = 2 * cost.octconv_cost(c, c, 3, 0.5, 0.5, size, size,
                                              batch=n).total_macs
            gf = {"matmul": flops_conv / t["matmul"] / 1e9, "conv": flops_conv / t["conv"] / 1e9,
                  "oct": flops_oct / t["oct"] / 1e9}
            results.setdefault("gflops", {})[(np.dtype(dtype).name, (n, c, size))] = gf
            rows.append((np.dtype(dtype).name, f"{n}x{c}x{size}x{size}", f"{gf['matmul']:.1f}",
                         f"{gf['conv']:.1f} ({gf['conv'] / gf['matmul']:.0%})",
                         f"{gf['oct']:.1f} ({gf['oct'] / gf['matmul']:.0%})"))
    return ("## 3. Forward GFLOP/s (2 x MACs counted by octref.cost / time)\n\n"
            + table(["dtype", "N x C x H x W", "np.matmul (C, 9C) @ (9C, NHW)",
                     "conv forward (% of matmul)", "OctConv alpha 0.5 forward (% of matmul)"],
                    rows))


def peak_memory(fn):
    """Peak bytes traced by tracemalloc while fn runs (numpy reports its buffers)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def section_memory(shapes, rng, results):
    rows = []
    for n, c, size in shapes:
        for dtype in DTYPES:
            peaks = {}
            for alpha in (0.0, 0.5):
                x, w = problem(n, c, size, alpha, dtype, rng)
                peaks[alpha] = peak_memory(octconv_fb(x, w))
            ratio = peaks[0.5] / peaks[0.0]
            results.setdefault("memory", {})[(np.dtype(dtype).name, (n, c, size))] = ratio
            rows.append((np.dtype(dtype).name, f"{n}x{c}x{size}x{size}",
                         f"{peaks[0.0] / 2**20:.1f}", f"{peaks[0.5] / 2**20:.1f}",
                         f"{ratio:.3f}", f"{cost.memory_ratio(0.5):.3f}"))
    return ("## 4. Peak traced memory of forward+backward (inputs excluded)\n\n"
            + table(["dtype", "N x C x H x W", "alpha 0 MiB", "alpha 0.5 MiB", "ratio",
                     "Table 1 activations"], rows))


def torch_octconv(torch, xh, xl, w):
    """OctConv in PyTorch (stride 1, groups 1, padding 1): Eq. 4 with torch's own ops."""
    f = torch.nn.functional
    y_high = f.conv2d(xh, w["hh"], padding=1)
    y_high = y_high + f.interpolate(f.conv2d(xl, w["lh"], padding=1), size=y_high.shape[-2:],
                                    mode="nearest")
    pooled = f.avg_pool2d(xh, 2, ceil_mode=True, count_include_pad=False)
    y_low = f.conv2d(xl, w["ll"], padding=1) + f.conv2d(pooled, w["hl"], padding=1)
    return y_high, y_low


def section_torch(shapes, repeats, rng, threads, results, quick=False):
    try:
        import torch
    except ImportError:
        return "## 5. PyTorch\n\nPyTorch is not installed (pip install -e .[bench]): skipped."
    torch.set_num_threads(threads)
    f = torch.nn.functional
    rows = []
    for dtype in DTYPES:
        for n, c, size in shapes:
            plain = rng.standard_normal((n, c, size, size)).astype(dtype)
            w_plain = rng.standard_normal((c, c, 3, 3)).astype(dtype)
            x, w = problem(n, c, size, 0.5, dtype, rng)
            tx = torch.from_numpy(plain).requires_grad_()
            tw = torch.from_numpy(w_plain).requires_grad_()
            txh = torch.from_numpy(x.high).requires_grad_()
            txl = torch.from_numpy(x.low).requires_grad_()
            tws = {p: torch.from_numpy(getattr(w, p)).requires_grad_() for p in
                   ("hh", "hl", "lh", "ll")}
            # The PyTorch OctConv computes what octref does (checked, not assumed).
            ours, _ = im2col.octconv_forward(x, w)
            with torch.no_grad():
                theirs = torch_octconv(torch, txh, txl, tws)
            tol = 1e-9 if dtype == np.float64 else 1e-3
            for a, b in zip(ours, theirs):
                np.testing.assert_allclose(a, b.numpy(), rtol=tol, atol=tol)

            def torch_conv_fb(tx=tx, tw=tw):
                y = f.conv2d(tx, tw, padding=1)
                y.backward(y.detach())

            def torch_oct_fb(txh=txh, txl=txl, tws=tws):
                yh, yl = torch_octconv(torch, txh, txl, tws)
                torch.autograd.backward((yh, yl), (yh.detach(), yl.detach()))

            def torch_conv_f(tx=tx, tw=tw):
                with torch.no_grad():
                    f.conv2d(tx, tw, padding=1)

            def torch_oct_f(txh=txh, txl=txl, tws=tws):
                with torch.no_grad():
                    torch_octconv(torch, txh, txl, tws)

            t = interleaved({
                "conv f": lambda p=plain, w=w_plain: im2col.conv_forward(p, w, padding=1),
                "conv fb": conv_fb(plain, w_plain),
                "torch conv f": torch_conv_f, "torch conv fb": torch_conv_fb,
                "oct f": lambda x=x, w=w: im2col.octconv_forward(x, w),
                "oct fb": octconv_fb(x, w),
                "torch oct f": torch_oct_f, "torch oct fb": torch_oct_fb}, repeats,
                groups=[["conv f", "conv fb", "oct f", "oct fb"],
                        ["torch conv f", "torch conv fb", "torch oct f", "torch oct fb"]],
                pause=0.0 if quick else 0.5)
            name = np.dtype(dtype).name
            for what, ours_key, theirs_key in (("conv2d", "conv", "torch conv"),
                                               ("OctConv alpha 0.5", "oct", "torch oct")):
                rf = t[f"{ours_key} f"] / t[f"{theirs_key} f"]
                rfb = t[f"{ours_key} fb"] / t[f"{theirs_key} fb"]
                results.setdefault("torch", {})[(name, (n, c, size), what)] = (rf, rfb)
                rows.append((name, f"{n}x{c}x{size}x{size}", what,
                             f"{1e3 * t[f'{ours_key} f']:.2f} / {1e3 * t[f'{theirs_key} f']:.2f}",
                             f"{rf:.2f}",
                             f"{1e3 * t[f'{ours_key} fb']:.2f} / "
                             f"{1e3 * t[f'{theirs_key} fb']:.2f}",
                             f"{rfb:.2f}"))
    return (f"## 5. octref (im2col) versus PyTorch {torch.__version__} on the CPU, "
            f"{threads} thread(s) each\n\n"
            + table(["dtype", "N x C x H x W", "layer", "forward ms octref / torch",
                     "forward ratio", "fwd+bwd ms octref / torch", "fwd+bwd ratio"], rows))


def section_targets(results, shapes):
    rows = []

    def verdict(value, target):
        return "met" if value <= target else f"missed by {value / target - 1:.0%}"

    for (dtype, shape, alpha), (f, fb) in sorted(results.get("ratio", {}).items()):
        if alpha == 0.5:
            rows.append((f"OctConv/conv forward, {dtype} {shape}", f"<= {TARGET_RATIO_F}",
                         f"{f:.3f}", verdict(f, TARGET_RATIO_F)))
            rows.append((f"OctConv/conv fwd+bwd, {dtype} {shape}", f"<= {TARGET_RATIO_FB}",
                         f"{fb:.3f}", verdict(fb, TARGET_RATIO_FB)))
    for (dtype, shape, what), (f, fb) in sorted(results.get("torch", {}).items()):
        tf, tfb = TARGET_TORCH[dtype]
        rows.append((f"{what} forward vs torch, {dtype} {shape}", f"<= {tf}x", f"{f:.2f}x",
                     verdict(f, tf)))
        rows.append((f"{what} fwd+bwd vs torch, {dtype} {shape}", f"<= {tfb}x", f"{fb:.2f}x",
                     verdict(fb, tfb)))
    for (dtype, shape), gf in sorted(results.get("gflops", {}).items()):
        for key, what in (("conv", "conv"), ("oct", "OctConv 0.5")):
            share = gf[key] / gf["matmul"]
            rows.append((f"{what} forward GFLOP/s share of matmul, {dtype} {shape}",
                         f">= {TARGET_MATMUL_SHARE:.0%}", f"{share:.0%}",
                         "met" if share >= TARGET_MATMUL_SHARE
                         else f"missed by {1 - share / TARGET_MATMUL_SHARE:.0%}"))
    for (dtype, shape), ratio in sorted(results.get("memory", {}).items()):
        rows.append((f"peak memory alpha .5 / 0, {dtype} {shape}", f"<= {TARGET_MEMORY}",
                     f"{ratio:.3f}", verdict(ratio, TARGET_MEMORY)))
    return "## Targets\n\n" + table(["figure", "target", "measured", "verdict"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny shapes and few repeats: checks that every section runs")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved repeats per table (default 7, quick 2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and torch threads (default: os.cpu_count())")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch section")
    parser.add_argument("--sections", default="1,2,3,4,5",
                        help="comma-separated sections to run (default all: 1,2,3,4,5)")
    parser.add_argument("--dtypes", default="float64,float32",
                        help="comma-separated dtypes (default float64,float32)")
    args = parser.parse_args(argv)
    threads = args.threads or os.cpu_count()
    repeats = args.repeats or (2 if args.quick else 7)
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    rng = np.random.default_rng(0)
    limiter, blas = blas_threads(threads)
    results = {}
    print("# octref benchmarks" + (" (--quick: smoke run, figures meaningless)"
                                   if args.quick else ""))
    print()
    print("\n".join(f"- {line}" for line in environment(threads, blas)))
    global DTYPES
    DTYPES = tuple(np.dtype(name).type for name in args.dtypes.split(","))
    sections = {"1": lambda: section_ratios(shapes, repeats, rng, results),
                "2": lambda: section_loops(args.quick, repeats, rng),
                "3": lambda: section_gflops(shapes, repeats, rng, results),
                "4": lambda: section_memory(shapes, rng, results),
                "5": lambda: section_torch(shapes, repeats, rng, threads, results, args.quick)}
    chosen = [key.strip() for key in args.sections.split(",")]
    if args.no_torch and "5" in chosen:
        chosen.remove("5")
    for key in chosen:
        run = sections[key]
        print()
        print(run(), flush=True)
    print()
    print(section_targets(results, shapes))
    if limiter is not None:
        limiter.restore_original_limits()
    return 0


if __name__ == "__main__":
    sys.exit(main())
