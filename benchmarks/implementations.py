"""Loops -> im2col -> fast: the speed-ups of octref's three implementations, measured.

Usage::

    python benchmarks/implementations.py              # three small layers (about a minute)
    python benchmarks/implementations.py --quick      # one tiny layer (seconds)
    python benchmarks/implementations.py --repeats 9 --threads 1

The three implementations compute the same octave convolution (the tests
prove it; this script checks it once more before timing):

* ``octref.loops``: Eq. 3 pixel by pixel, the ground truth;
* ``octref.im2col``: the textbook, Eq. 4 one line per path, each path im2col
  and one matrix product;
* the fast engine, ``octref.octconv_forward`` (the package default,
  ``octref.rowshift``): row-shifted columns and merged products.

Each layer is C -> C channels, alpha 0.5, k = 3, batch N, H x W input. Every
repeat calls all six cases (three implementations, forward and
forward+backward) once, in turn, and a case's time is its median over the
repeats, so the slow drift of a shared machine hits all cases of a ratio
alike. Notebook 03 quotes these speed-ups.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import octref  # noqa: E402
from octref import Octave, im2col, init_octave_weights, loops, split_channels  # noqa: E402

LAYERS = [(1, 8, 8), (2, 8, 16), (2, 16, 16)]     # (N, C, H = W)
QUICK_LAYERS = [(1, 4, 6)]
IMPLEMENTATIONS = {"loops": loops, "im2col": im2col, "fast": octref}


def interleaved(cases, repeats):
    """Median seconds of each callable in ``cases``, called round-robin after one warm-up."""
    for run in cases.values():
        run()
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def layer(n, c, size, rng):
    """An octave input and weights of a C -> C, alpha 0.5, k = 3 layer."""
    c_high, c_low = split_channels(c, 0.5)
    low = (size + 1) // 2
    x = Octave(rng.standard_normal((n, c_high, size, size)),
               rng.standard_normal((n, c_low, low, low)))
    return x, init_octave_weights(c, c, 3, 0.5, 0.5, rng=rng)


def forward(module, x, w):
    return lambda: module.octconv_forward(x, w)


def forward_backward(module, x, w):
    """Forward then backward; the output is its own upstream gradient."""
    def run():
        y, cache = module.octconv_forward(x, w)
        module.octconv_backward(y, cache)
    return run


def check_agreement(x, w):
    """The three implementations give the same output and gradients (float64 round-off)."""
    results = []
    for module in IMPLEMENTATIONS.values():
        y, cache = module.octconv_forward(x, w)
        dx, dw, _ = module.octconv_backward(y, cache)
        results.append([*y, *dx, *dw])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def measure(layers, repeats, rng):
    """{(N, C, H): {case: median seconds}} with cases "<impl> <f|fb>"."""
    table = {}
    for n, c, size in layers:
        x, w = layer(n, c, size, rng)
        check_agreement(x, w)
        cases = {}
        for name, module in IMPLEMENTATIONS.items():
            cases[f"{name} f"] = forward(module, x, w)
            cases[f"{name} fb"] = forward_backward(module, x, w)
        table[(n, c, size)] = interleaved(cases, repeats)
    return table


def report(table):
    lines = ["| layer (N, C, H) | pass | loops ms | im2col ms | fast ms | "
             "loops/im2col | im2col/fast | loops/fast |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (n, c, size), t in table.items():
        for kind, label in (("f", "forward"), ("fb", "forward+backward")):
            slow, mid, fast = (t[f"{name} {kind}"] for name in IMPLEMENTATIONS)
            lines.append(f"| ({n}, {c}, {size}) | {label} | {slow * 1e3:.1f} | {mid * 1e3:.2f} "
                         f"| {fast * 1e3:.2f} | {slow / mid:.0f}x | {mid / fast:.1f}x | "
                         f"{slow / fast:.0f}x |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one tiny layer, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per case")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit numpy's BLAS threads (needs threadpoolctl)")
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    limiter = None
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        import threadpoolctl
        limiter = threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas")
    try:
        print(f"fast engine: {octref.octconv_forward.__module__}.octconv_forward; "
              f"numpy {np.__version__}; median of {repeats} interleaved repeats; "
              f"BLAS threads: {args.threads or 'default'}\n")
        table = measure(QUICK_LAYERS if args.quick else LAYERS, repeats,
                        np.random.default_rng(0))
        print(report(table))
    finally:
        if limiter is not None:
            limiter.unregister()
    return 0


if __name__ == "__main__":
    sys.exit(main())
