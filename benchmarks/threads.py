"""What a second thread can buy octref: BLAS threads against two Python threads.

Usage::

    python benchmarks/threads.py                # issue 16's layers and the training step
    python benchmarks/threads.py --repeats 5
    python benchmarks/threads.py --quick        # a smoke run: tiny layers, one repeat

octref's engine runs its matrix products through numpy's BLAS, which can use
two threads, and everything else (column fills, row-tap sums, pooling,
upsampling, batch normalisation) in NumPy on one thread. This script measures
the two ways NumPy code can use a second core, on the layers of issue 16
(float32, forward+backward, alpha 0.5 and alpha 0) and on the training step of
issue 15:

* ``1 thread``: BLAS limited to one thread (the baseline);
* ``BLAS x2``: BLAS with two threads, everything else as it is;
* ``split x2``: two Python threads, each running the layer on half of the
  batch with a one-thread BLAS (NumPy releases the GIL inside its loops and
  products, so the halves can overlap). This is the upper end of what a thread
  pool inside the engine could do: its pieces are independent in the same way.
  The training step splits only its octave convolutions (batch normalisation
  needs the whole batch's statistics); the halves' outputs are joined with
  ``np.concatenate`` and their weight gradients summed, and the step is
  checked to give the same loss first.

Every case of one layer is timed in the same interleaved loop (wall time,
medians). The report gives times, speed-ups over one thread, and the
alpha 0.5 / alpha 0 ratio under each mode (issue 16's 2-thread target: 0.55).
The 1x256x14x14 layer has a batch of one and cannot be split.
"""

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run  # noqa: E402  (benchmarks/run.py: layers, problems, environment, tables)
import train_speed  # noqa: E402

from octref import Octave, network, rowshift  # noqa: E402
from octref.octave import PATHS, OctaveWeights  # noqa: E402

POOL = ThreadPoolExecutor(2)
MODES = ("1 thread", "BLAS x2", "split x2")


def halves(x):
    """The two halves of the batch of an Octave (views, no copies)."""
    n = next(a for a in x if a is not None).shape[0]
    return [Octave(*(None if a is None else a[part] for a in x))
            for part in (slice(0, n // 2), slice(n // 2, n))]


def joined(parts):
    """One Octave from the halves' Octaves, concatenated along the batch."""
    return Octave(*(None if parts[0][g] is None else np.concatenate([p[g] for p in parts])
                    for g in range(2)))


def layer_cases(x, w, stride):
    """(whole, split): forward+backward on the whole batch, or on its halves in two threads."""
    def fb(xs):
        y, cache = rowshift.octconv_forward(xs, w, stride=stride)
        return rowshift.octconv_backward(y, cache)

    def whole():
        fb(x)

    parts = halves(x)

    def split():
        list(POOL.map(fb, parts))
    return whole, split


class SplitOctConv(network.OctConv):
    """The network's octave convolution, run on the two halves of the batch in two threads."""

    def forward(self, x, train=True):
        w = OctaveWeights(*(self.params.get(p) for p in PATHS))
        results = list(POOL.map(lambda xs: rowshift.octconv_forward(
            xs, w, stride=self.stride, downsample=self.downsample), halves(x)))
        self.cache = [cache for _, cache in results]
        return joined([y for y, _ in results])

    def backward(self, dy):
        results = list(POOL.map(lambda a: rowshift.octconv_backward(*a),
                                zip(halves(dy), self.cache)))
        self.grads = {p: a + b for p, a, b in zip(PATHS, results[0][1], results[1][1])
                      if a is not None}
        for path in self.removed:
            self.grads[path] = np.zeros_like(self.grads[path])
        return joined([dx for dx, _, _ in results])


def measure(modes, repeats):
    """{(case, mode): median seconds}: every (case, mode) timed in one interleaved loop."""
    import threadpoolctl
    limits = {"1 thread": 1, "BLAS x2": 2, "split x2": 1}
    times = {key: [] for key in modes}
    for _ in range(repeats + 1):          # the first round is untimed (warm-up)
        for (case, mode), fn in modes.items():
            with threadpoolctl.threadpool_limits(limits[mode], user_api="blas"):
                fn()
                start = time.perf_counter()
                fn()
                times[(case, mode)].append(time.perf_counter() - start)
    return {key: statistics.median(ts[1:]) for key, ts in times.items()}


def layers_report(layers, repeats):
    rng = np.random.default_rng(0)
    rows = []
    for layer in layers:
        n, c, size, stride = layer
        if n < 2:
            continue
        modes = {}
        for alpha in (0.5, 0.0):
            x, w = run.problem(n, c, size, alpha, np.float32, rng)
            whole, split = layer_cases(x, w, stride)
            modes.update({(alpha, "1 thread"): whole, (alpha, "BLAS x2"): whole,
                          (alpha, "split x2"): split})
        print(f"  measuring {run.name(layer)}", file=sys.stderr, flush=True)
        t = measure(modes, repeats)
        one = t[(0.5, "1 thread")]
        rows.append([run.name(layer)]
                    + [f"{1e3 * t[(0.5, m)]:.2f} ({one / t[(0.5, m)]:.2f}x)" for m in MODES]
                    + [f"{t[(0.5, m)] / t[(0.0, m)]:.3f}" for m in MODES])
    headers = (["layer"] + [f"alpha .5 ms, {m} (speed-up)" for m in MODES]
               + [f"alpha .5 / 0, {m}" for m in MODES])
    return ("## Issue 16's layers, float32, forward+backward\n\n" + run.table(headers, rows))


def training_report(repeats):
    rng = np.random.default_rng(1)
    images = rng.standard_normal((train_speed.BATCH, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, train_speed.BATCH)
    plain = network.build_network(0.5, rng=np.random.default_rng(0))
    split = network.build_network(0.5, rng=np.random.default_rng(0))
    for layer in split:
        if isinstance(layer, network.OctConv):
            layer.__class__ = SplitOctConv
    step_plain = train_speed.octref_step(plain, {})
    step_split = train_speed.octref_step(split, {})
    loss_plain, loss_split = step_plain(images, labels), step_split(images, labels)
    assert abs(loss_plain - loss_split) < 1e-5, (loss_plain, loss_split)
    print("  measuring the training step", file=sys.stderr, flush=True)
    # The engine's matrix products of one step, recorded and replayed alone.
    products, count = run.record_products(lambda: step_plain(images, labels))
    modes = {("step", "1 thread"): lambda: step_plain(images, labels),
             ("step", "BLAS x2"): lambda: step_plain(images, labels),
             ("step", "split x2"): lambda: step_split(images, labels),
             ("products", "1 thread"): products, ("products", "BLAS x2"): products}
    t = measure(modes, repeats)
    one = t[("step", "1 thread")]
    rows = [[m, f"{1e3 * t[('step', m)]:.1f}", f"{one / t[('step', m)]:.2f}",
             f"{t[('products', m)] / t[('step', m)]:.0%}" if ("products", m) in t else "-"]
            for m in MODES]
    return ("## Training step of issue 15 (alpha 0.5, batch 64, float32; convolutions split)\n\n"
            f"Same loss from both networks' first step: {loss_plain:.6f} and {loss_split:.6f}. "
            f"The {count} matrix products of one step, replayed alone, give the products' "
            "share of the step.\n\n"
            + run.table(["mode", "step ms", "speed-up over 1 thread", "products' share"], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 7, quick 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: tiny layers, one repeat (its numbers mean nothing)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 7)
    print("# What a second thread buys octref (benchmarks/threads.py)\n")
    print("\n".join(f"- {line}" for line in run.environment(None, uses_torch=False)))
    print(f"- {repeats} interleaved rounds, medians of wall time\n")
    print(layers_report(run.QUICK_LAYERS if args.quick else run.LAYERS, repeats))
    print()
    print(training_report(repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
