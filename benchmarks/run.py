"""Benchmark octref's fast engine (octref.rowshift) against the targets of issue 16.

Usage::

    python benchmarks/run.py                 # the full run, 1 and 2 threads (a few minutes)
    python benchmarks/run.py --quick         # a smoke run: tiny layers, no verdicts
    python benchmarks/run.py --threads 1 --repeats 9 --dtypes float32
    python benchmarks/run.py --unset-openblas-env   # the same with OPENBLAS_CORETYPE
                                                    # and OPENBLAS_L2_SIZE removed

For every layer, dtype and thread count, one interleaved loop times, in turn,
each of these cases (a case's time is the median over the repeats, so slow
drift of a shared machine hits every case of a ratio alike):

* ``oct``: octref's alpha = 0.5 OctConv (k = 3), forward and forward+backward;
* ``products``: the matrix products that same call makes, alone: every
  ``np.matmul`` of octref.rowshift is recorded during one call (operands,
  views and ``out=`` buffers as they were) and replayed;
* ``vanilla``: octref at alpha = 0, the same layer without a low group, and
  its products alone (so the alpha .5 / 0 ratio of the products alone is
  printed beside the whole call's);
* ``today``: the fast path as it was at commit 49653fc (``octref/im2col.py``
  loaded from git into a temporary module), alpha = 0.5: no speed lost; and
  the same code again as a second case (A/A), whose ratio to the first shows
  how far two timings of identical code drift apart in the same loop;
* ``torch``: a PyTorch OctConv from ``conv2d`` / ``avg_pool2d`` /
  ``interpolate`` with autograd (checked equal to octref's first), in a block
  of its own after a pause, since idle OpenBLAS and OpenMP workers spin.

Also measured: the peak memory traced by tracemalloc of forward+backward,
alpha 0.5 over alpha 0, and the fixed cost of a call (a 1x4x2x2 layer, where
the arithmetic is nil). Threads are set with threadpoolctl (numpy's BLAS) and
``torch.set_num_threads``. The report records the BLAS library and the kernel
it runs, and ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``.
"""

import argparse
import datetime
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from octref import Octave, init_octave_weights, rowshift, split_channels  # noqa: E402

#: (N, C, H = W, stride) of the layers of issue 16; C -> C, k = 3.
LAYERS = [(8, 64, 32, 1), (4, 128, 56, 1), (32, 64, 28, 1), (1, 256, 14, 1),
          (16, 32, 16, 1), (8, 64, 32, 2)]
QUICK_LAYERS = [(2, 16, 8, 1), (2, 16, 8, 2)]
#: The commit whose fast path is "today" for the no-speed-lost comparison.
TODAY = "49653fc"
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: 1 thread: CPU time of the process (robust on a shared, overloaded machine:
#: it leaves out the time spent waiting for a core); more threads: wall time.
CLOCKS = {True: time.process_time, False: time.perf_counter}

# Targets of issue 16, checked only in a full run.
TARGET_PRODUCTS = 1.2                        # octref / its products, 1 thread
TARGET_ALPHA = {1: 0.50, 2: 0.55}            # alpha .5 / alpha 0, C >= 64
TARGET_ALPHA_STRIDE2 = 0.70
TARGET_TORCH = {"float32": (1.3, 1.5), "float64": (1.0, 1.2)}   # 1 thread
TARGET_MEMORY = 0.7
TARGET_FIXED_US = 50.0


# --------------------------------------------------------------------------- measuring

def interleaved(cases, repeats, groups, pause, clock=time.perf_counter):
    """Median seconds of each callable in ``cases``, called round-robin ``repeats`` times.

    ``groups`` splits each round into blocks (one per library); before a block
    the run sleeps ``pause`` seconds and calls its first case once, untimed.
    ``clock`` is wall time, or the process's CPU time for single-threaded
    runs on a shared machine (it leaves out the time spent waiting for a core).
    """
    for fn in cases.values():
        fn()
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for group in groups:
            if pause:
                time.sleep(pause)
            cases[group[0]]()
            for name in group:
                start = clock()
                cases[name]()
                times[name].append(clock() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def peak_memory(fn):
    """Peak bytes traced by tracemalloc while fn runs (numpy reports its buffers)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


class _RecordingNumpy:
    """Stands in for ``numpy`` inside octref.rowshift and records every matmul call."""

    def __init__(self, calls):
        self._calls = calls

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, a, b, out=None):
        self._calls.append((a, b, out))
        return np.matmul(a, b, out=out)


def record_products(run):
    """The matmul calls ``run()`` makes in octref.rowshift, and a function replaying them.

    The operands are the very views (of the engine's buffers) the call used,
    kept alive by the record; the replay calls np.matmul on them in the same
    order, with the same ``out=``, so it is the products alone.
    """
    calls = []
    rowshift.np = _RecordingNumpy(calls)
    try:
        run()
    finally:
        rowshift.np = np

    def replay():
        for a, b, out in calls:
            np.matmul(a, b, out=out)
    return replay, len(calls)


def load_today():
    """octref/im2col.py as it was at TODAY, as a temporary module (None if it cannot load)."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{TODAY}:octref/im2col.py"],
                                check=True, capture_output=True, text=True).stdout
        spec = importlib.util.spec_from_loader("octref_today_im2col", loader=None)
        module = importlib.util.module_from_spec(spec)
        exec(compile(source, f"{TODAY}:octref/im2col.py", "exec"), module.__dict__)
        return module
    except (OSError, subprocess.CalledProcessError, ImportError, SyntaxError) as exc:
        print(f"- today's fast path ({TODAY}) not loaded: {exc}")
        return None


# --------------------------------------------------------------------------- problems

def problem(n, c, size, alpha, dtype, rng):
    """An octave input and weights for a C -> C, k = 3 layer."""
    c_high, c_low = split_channels(c, alpha)
    low = (size + 1) // 2
    x = Octave(rng.standard_normal((n, c_high, size, size)).astype(dtype) if c_high else None,
               rng.standard_normal((n, c_low, low, low)).astype(dtype) if c_low else None)
    w = init_octave_weights(c, c, 3, alpha, alpha, rng=rng, dtype=dtype)
    return x, w


def octref_cases(module, x, w, stride):
    """(forward, forward+backward) callables; the output is its own upstream gradient."""
    def forward():
        return module.octconv_forward(x, w, stride=stride)

    def forward_backward():
        y, cache = module.octconv_forward(x, w, stride=stride)
        module.octconv_backward(y, cache)
    return forward, forward_backward


def torch_octconv(torch, xh, xl, w, stride):
    """Eq. 4 with PyTorch's own ops (groups 1, padding 1); stride 2 pools every input first."""
    f = torch.nn.functional

    def pool(a):
        return f.avg_pool2d(a, 2, ceil_mode=True, count_include_pad=False)
    if stride == 2:
        xh, xl_lh, xl = pool(xh), xl, pool(xl)
        y_high = f.conv2d(xh, w["hh"], padding=1) + f.conv2d(xl_lh, w["lh"], padding=1)
    else:
        y_high = f.conv2d(xh, w["hh"], padding=1)
        y_high = y_high + f.interpolate(f.conv2d(xl, w["lh"], padding=1),
                                        size=y_high.shape[-2:], mode="nearest")
    y_low = f.conv2d(xl, w["ll"], padding=1) + f.conv2d(pool(xh), w["hl"], padding=1)
    return y_high, y_low


def torch_cases(torch, x, w, stride, dtype):
    """PyTorch's (forward, forward+backward), after checking it computes what octref does."""
    txh = torch.from_numpy(x.high).requires_grad_()
    txl = torch.from_numpy(x.low).requires_grad_()
    tws = {p: torch.from_numpy(getattr(w, p)).requires_grad_() for p in ("hh", "hl", "lh", "ll")}
    ours, _ = rowshift.octconv_forward(x, w, stride=stride)
    with torch.no_grad():
        theirs = torch_octconv(torch, txh, txl, tws, stride)
    tol = 1e-9 if dtype == np.float64 else 1e-3
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.numpy(), rtol=tol, atol=tol)

    def forward():
        with torch.no_grad():
            torch_octconv(torch, txh, txl, tws, stride)

    def forward_backward():
        yh, yl = torch_octconv(torch, txh, txl, tws, stride)
        torch.autograd.backward((yh, yl), (yh.detach(), yl.detach()))
    return forward, forward_backward


# --------------------------------------------------------------------------- environment

def set_threads(threads, torch):
    """Limit numpy's BLAS (threadpoolctl) and torch to ``threads``; return the limiter."""
    import threadpoolctl
    if torch is not None:
        torch.set_num_threads(threads)
    return threadpoolctl.threadpool_limits(limits=threads, user_api="blas")


def environment(torch, uses_torch=True):
    import threadpoolctl
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "; ".join(f"{i['internal_api']} {i.get('version')}, kernel {i.get('architecture')}"
                     f", {i.get('threading_layer')}" for i in threadpoolctl.threadpool_info()
                     if i["user_api"] == "blas")
    import scipy
    lines = [f"date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}",
             f"machine: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} "
             f"{platform.release()}",
             f"python {platform.python_version()}, numpy {np.__version__}, scipy "
             f"{scipy.__version__}"
             + (f", torch {torch.__version__ if torch else '(not installed)'}"
                if uses_torch else ""),
             f"numpy's BLAS: {blas}"]
    lines += [f"{name}={os.environ.get(name, '(unset)')}" for name in OPENBLAS_ENV]
    if hasattr(os, "getloadavg"):
        lines.append("load average at start: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    return lines


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def name(layer):
    n, c, size, stride = layer
    return f"{n}x{c}x{size}x{size}" + (" s2" if stride == 2 else "")


# --------------------------------------------------------------------------- sections

def measure_times(layers, dtypes, threads_list, repeats, torch, today, pause, rng):
    """{(layer, dtype, threads): {case: seconds}} and the number of products recorded."""
    results = {}
    for threads in threads_list:
        limiter = set_threads(threads, torch)
        for layer in layers:
            n, c, size, stride = layer
            for dtype in dtypes:
                x, w = problem(n, c, size, 0.5, dtype, rng)
                x0, w0 = problem(n, c, size, 0.0, dtype, rng)
                oct_f, oct_fb = octref_cases(rowshift, x, w, stride)
                van_f, van_fb = octref_cases(rowshift, x0, w0, stride)
                prod_f, _ = record_products(oct_f)
                prod_fb, _ = record_products(oct_fb)
                van_prod_f, _ = record_products(van_f)
                van_prod_fb, _ = record_products(van_fb)
                cases = {"oct f": oct_f, "oct fb": oct_fb, "prod f": prod_f,
                         "prod fb": prod_fb, "van f": van_f, "van fb": van_fb,
                         "van prod f": van_prod_f, "van prod fb": van_prod_fb}
                if today is not None:
                    cases["today f"], cases["today fb"] = octref_cases(today, x, w, stride)
                    # The same code again, as a separate case: an A/A control whose
                    # ratio shows how far two timings of identical code drift apart.
                    cases["again f"], cases["again fb"] = octref_cases(today, x, w, stride)
                groups = [list(cases)]
                if torch is not None:
                    cases["torch f"], cases["torch fb"] = torch_cases(torch, x, w, stride,
                                                                      dtype)
                    groups.append(["torch f", "torch fb"])
                print(f"  measuring {name(layer)} {np.dtype(dtype).name}, {threads} thread(s)",
                      file=sys.stderr, flush=True)
                results[(layer, np.dtype(dtype).name, threads)] = interleaved(
                    cases, repeats, groups, pause, CLOCKS[threads == 1])
        limiter.restore_original_limits()
    return results


def measure_memory(layers, dtypes, rng):
    rows, ratios = [], {}
    for layer in layers:
        n, c, size, stride = layer
        for dtype in dtypes:
            peaks = {}
            for alpha in (0.0, 0.5):
                x, w = problem(n, c, size, alpha, dtype, rng)
                peaks[alpha] = peak_memory(octref_cases(rowshift, x, w, stride)[1])
            ratio = peaks[0.5] / peaks[0.0]
            ratios[(layer, np.dtype(dtype).name)] = ratio
            rows.append((name(layer), np.dtype(dtype).name, f"{peaks[0.0] / 2**20:.2f}",
                         f"{peaks[0.5] / 2**20:.2f}", f"{ratio:.3f}"))
    return ratios, ("## Peak traced memory of forward+backward (inputs excluded)\n\n"
                    + table(["layer", "dtype", "alpha 0 MiB", "alpha 0.5 MiB", "ratio"], rows))


def measure_large_map(today, side):
    """Peak traced memory of a forward on one 1-channel map per group, side x side (issue 13).

    Returns the table: peak beyond the output, for octref.rowshift and today's
    fast path, and the part of it that is octref's own copy of the input.
    """
    rng = np.random.default_rng(1)
    x = Octave(rng.standard_normal((1, 1, side, side)),
               rng.standard_normal((1, 1, (side + 1) // 2, (side + 1) // 2)))
    w = init_octave_weights(2, 2, 3, 0.5, 0.5, rng=rng)
    rows = []
    for label, module in (("octref.rowshift", rowshift), (f"today ({TODAY})", today)):
        if module is None:
            continue
        kept = {}

        def forward(module=module, kept=kept):
            kept["y"], _ = module.octconv_forward(x, w)
        peak = peak_memory(forward)
        out = sum(a.nbytes for a in kept.pop("y"))
        rows.append((label, f"{out / 2**20:.0f}", f"{peak / 2**20:.0f}",
                     f"{(peak - out) / 2**20:.0f}"))
    copy = sum(a.nbytes for a in x) / 2**20
    return (f"## Peak traced memory of one forward on 1x1x{side}x{side} (+ its low group), "
            "float64\n\n"
            + table(["engine", "output MiB", "peak MiB", "beyond the output MiB"], rows)
            + f"\n\nOf what is beyond the output, {copy:.0f} MiB is the copy of the input the "
              "backward needs (a forward's cache is octref's own).")


#: The passes every call of the engine must make, timed by measure_floor:
#: (what, owner, attribute).
FLOOR_PASSES = [("column fills", rowshift._Buffers, "fill"),
                ("row-tap sums", rowshift, "_sum_row_taps"),
                ("weight stacking", rowshift, "_stack_weights")]


def measure_floor(layers, dtypes, repeats, rng, clock=time.process_time):
    """The unavoidable passes of a forward, timed one by one, against its products alone.

    During octref's alpha 0.5 forward (1 thread) every call of the functions
    in FLOOR_PASSES is timed (wrapped); the products alone are replayed. Each
    is a copy the row-shift design cannot drop: the fills write every input
    value kw times, the row-tap sums read kh product rows per output value
    and write it once, the stacking reorders the weights (which may change
    between calls) into the products' layout. So octref / products cannot
    fall below 1 + (their sum) / products in this design; im2col would drop
    the row-tap sums but fill kh = 3 times as much.
    """
    originals = {what: getattr(owner, attr) for what, owner, attr in FLOOR_PASSES}
    spent = {}

    def timed(what):
        function = originals[what]

        def wrapper(*args, **kwargs):
            start = clock()
            result = function(*args, **kwargs)
            spent[what] += clock() - start
            return result
        return wrapper

    rows = []
    for layer in layers:
        n, c, size, stride = layer
        for dtype in dtypes:
            x, w = problem(n, c, size, 0.5, dtype, rng)
            forward, _ = octref_cases(rowshift, x, w, stride)
            products, _ = record_products(forward)
            samples = {what: [] for what in originals}
            prods = []
            for what, owner, attr in FLOOR_PASSES:
                setattr(owner, attr, timed(what))
            try:
                for _ in range(max(3, repeats)):
                    spent.update({what: 0.0 for what in originals})
                    forward()
                    for what in originals:
                        samples[what].append(spent[what])
                    start = clock()
                    products()
                    prods.append(clock() - start)
            finally:
                for what, owner, attr in FLOOR_PASSES:
                    setattr(owner, attr, originals[what])
            prod = statistics.median(prods)
            passes = [statistics.median(samples[what]) for what in originals]
            rows.append((name(layer), np.dtype(dtype).name, f"{1e3 * prod:.2f}",
                         *(f"{p / prod:.2f}" for p in passes),
                         f"{1 + sum(passes) / prod:.2f}"))
    return ("## The passes a call cannot drop (forward, alpha 0.5, 1 thread)\n\n"
            "Each pass timed inside octref's forward, as a share of the forward's products "
            "alone; the last column is the least octref / products can be with them.\n\n"
            + table(["layer", "dtype", "products ms"]
                    + [f"{what} / products" for what in originals] + ["floor"], rows))


def measure_fixed_cost(repeats, rng, clock=time.process_time):
    """Median microseconds of a call on a 1x4x2x2 layer (alpha 0.5), where arithmetic is nil."""
    x, w = problem(1, 4, 2, 0.5, np.float32, rng)
    forward, forward_backward = octref_cases(rowshift, x, w, 1)
    loops = 200
    out = {}
    for key, fn in (("forward", forward), ("forward+backward", forward_backward)):
        fn()
        samples = []
        for _ in range(max(3, repeats)):
            start = clock()
            for _ in range(loops):
                fn()
            samples.append((clock() - start) / loops)
        out[key] = 1e6 * statistics.median(samples)
    return out


def times_tables(results, threads_list, has_torch, has_today):
    sections = []
    for threads in threads_list:
        rows = []
        for (layer, dtype, t), times in results.items():
            if t != threads:
                continue
            row = [name(layer), dtype]
            for p in ("f", "fb"):
                oct_ = times[f"oct {p}"]
                row += [f"{1e3 * oct_:.2f}", f"{oct_ / times[f'prod {p}']:.2f}",
                        f"{oct_ / times[f'van {p}']:.3f}",
                        f"{times[f'prod {p}'] / times[f'van prod {p}']:.3f}"]
                if has_torch:
                    row.append(f"{oct_ / times[f'torch {p}']:.2f}")
                if has_today:
                    row += [f"{oct_ / times[f'today {p}']:.2f}",
                            f"{times[f'again {p}'] / times[f'today {p}']:.2f}"]
            rows.append(row)
        headers = ["layer", "dtype"]
        for p in ("fwd", "fwd+bwd"):
            headers += [f"{p} ms", f"{p} / products", f"{p} alpha .5 / 0",
                        f"{p} products alone alpha .5 / 0"]
            if has_torch:
                headers.append(f"{p} / torch")
            if has_today:
                headers += [f"{p} / {TODAY}", f"{p} A/A"]
        sections.append(f"## {threads} thread(s): octref alpha 0.5, ratios of medians\n\n"
                        + table(headers, rows))
    return "\n\n".join(sections)


def today_ratios(results):
    """{threads: (octref / today ratios, A/A ratios)} over every layer, dtype, fwd and fwd+bwd."""
    out = {}
    for (_, _, threads), t in results.items():
        ratios, controls = out.setdefault(threads, ([], []))
        for p in ("f", "fb"):
            ratios.append(t[f"oct {p}"] / t[f"today {p}"])
            controls.append(t[f"again {p}"] / t[f"today {p}"])
    return out


def today_summary(results):
    rows = []
    for threads, (ratios, controls) in today_ratios(results).items():
        for label, values in ((f"octref / {TODAY}", ratios), (f"{TODAY} / {TODAY} (A/A)",
                                                              controls)):
            rows.append((f"{threads}", label, f"{statistics.median(values):.3f}",
                         f"{min(values):.2f}-{max(values):.2f}"))
    return ("## No speed lost against today (issue 11): all layers, dtypes, fwd and fwd+bwd\n\n"
            "The A/A row times today's code against itself as two separate cases in the same "
            "loop: the spread of two timings of identical code.\n\n"
            + table(["threads", "ratio", "median", "range"], rows))


def verdicts(results, memory, fixed, has_torch, has_today):
    rows = []

    def check(what, value, target, fmt="{:.3f}"):
        verdict = "met" if value <= target else f"missed by {value / target - 1:.0%}"
        rows.append((what, f"<= {target:g}", fmt.format(value), verdict))

    for (layer, dtype, threads), t in results.items():
        c, stride = layer[1], layer[3]
        for p, label in (("f", "fwd"), ("fb", "fwd+bwd")):
            where = f"{name(layer)} {dtype} {label}, {threads} thread(s)"
            if threads == 1:
                check(f"octref / products, {where}", t[f"oct {p}"] / t[f"prod {p}"],
                      TARGET_PRODUCTS)
                if has_torch:
                    check(f"octref / torch, {where}", t[f"oct {p}"] / t[f"torch {p}"],
                          TARGET_TORCH[dtype][p == "fb"])
            alpha_target = (TARGET_ALPHA_STRIDE2 if stride == 2
                            else TARGET_ALPHA.get(threads) if c >= 64 else None)
            if alpha_target is not None:
                check(f"alpha .5 / 0, {where}", t[f"oct {p}"] / t[f"van {p}"], alpha_target)
    if has_today:
        # Issue 11's "no speed lost": one figure per thread count, the median over
        # every layer, dtype, fwd and fwd+bwd (single ratios scatter as the A/A does).
        for threads, (ratios, _) in today_ratios(results).items():
            check(f"octref / {TODAY}, median of {len(ratios)} ratios, {threads} thread(s)",
                  statistics.median(ratios), 1.0)
    for (layer, dtype), ratio in memory.items():
        check(f"peak memory alpha .5 / 0, {name(layer)} {dtype}", ratio, TARGET_MEMORY)
    for key, us in fixed.items():
        check(f"fixed cost per call, {key} (us)", us, TARGET_FIXED_US, "{:.0f}")
    met = sum(row[3] == "met" for row in rows)
    return (f"## Targets: {met} of {len(rows)} met\n\n"
            + table(["figure", "target", "measured", "verdict"], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: tiny layers, one repeat, no verdicts")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 7, quick 1)")
    parser.add_argument("--threads", default=None,
                        help="comma-separated thread counts (default 1,2; quick 1)")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--layers", default=None,
                        help="comma-separated indices into LAYERS (default all)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--unset-openblas-env", action="store_true",
                        help="re-run this benchmark with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE "
                             "removed from its own environment (both together)")
    args = parser.parse_args(argv)
    if args.unset_openblas_env and any(v in os.environ for v in OPENBLAS_ENV):
        # OpenBLAS reads them when it loads, so only a fresh process sees the change.
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_ENV}
        argv = [a for a in (argv if argv is not None else sys.argv[1:])
                if a != "--unset-openblas-env"]
        return subprocess.call([sys.executable, __file__, *argv], env=env)

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed (pip install -e .[bench]): its columns are skipped.")
    layers = QUICK_LAYERS if args.quick else LAYERS
    if args.layers:
        layers = [layers[int(i)] for i in args.layers.split(",")]
    threads_list = [int(t) for t in (args.threads or ("1" if args.quick else "1,2")).split(",")]
    repeats = args.repeats or (1 if args.quick else 7)
    dtypes = [np.dtype(d).type for d in args.dtypes.split(",")]
    rng = np.random.default_rng(0)
    today = load_today()

    print("# octref.rowshift benchmarks" + (" (--quick: smoke run, no verdicts)"
                                            if args.quick else ""))
    print()
    print("\n".join(f"- {line}" for line in environment(torch)))
    print(f"- {repeats} interleaved rounds, medians; today = octref/im2col.py at {TODAY}; "
          "1 thread timed in process CPU time, 2 threads in wall time")
    results = measure_times(layers, dtypes, threads_list, repeats, torch, today,
                            0.0 if args.quick else 0.3, rng)
    print()
    print(times_tables(results, threads_list, torch is not None, today is not None))
    if today is not None:
        print()
        print(today_summary(results))
    memory, memory_table = measure_memory(layers, dtypes, rng)
    print()
    print(memory_table)
    if not args.quick:
        print()
        print(measure_large_map(today, 4000))
    limiter = set_threads(1, torch)
    print()
    print(measure_floor(layers, dtypes, repeats, rng))
    fixed = measure_fixed_cost(repeats, rng)
    limiter.restore_original_limits()
    print()
    print("## Fixed cost per call (1x4x2x2, alpha 0.5, float32, 1 thread)\n\n"
          + table(["call", "microseconds"], [(k, f"{v:.0f}") for k, v in fixed.items()]))
    if not args.quick:
        print()
        print(verdicts(results, memory, fixed, torch is not None, today is not None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
