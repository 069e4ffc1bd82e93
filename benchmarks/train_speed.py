"""One training step of the reference network: octref against the same network in PyTorch.

Usage::

    python benchmarks/train_speed.py               # 1 and 2 threads, 15 repeats
    python benchmarks/train_speed.py --repeats 5 --threads 1

A step is forward (training mode), softmax cross-entropy, backward and SGD
with momentum 0.9 and weight decay 5e-4, on a batch of 64 digits (28 x 28),
float32, for the reference network at alpha = 0.5
(``octref.network.build_network``, width 16). The PyTorch network is written
here from ``conv2d``, ``avg_pool2d`` (ceil mode), nearest ``interpolate``,
``batch_norm``, ``relu``, ``linear``, ``cross_entropy`` and ``torch.optim.SGD``,
starts from octref's initial weights, and is checked to compute the same loss
and the same first update before anything is timed.

Both run with the same thread count (numpy's BLAS through threadpoolctl,
``torch.set_num_threads``), interleaved: each repeat times one octref step and
one PyTorch step, in blocks with a short pause between libraries (idle
OpenBLAS and OpenMP workers spin for a while). The ratio of the medians is
the figure the issue sets a target for (<= 1.3). Then octref's step split by
layer kind, to say where the time goes, and octref's step time for each
alpha at one thread (interleaved, so the machine's drift hits all alike)
beside the counted MACs ratio and Table 1's formula. Results are written to
``benchmarks/train_speed.json``.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from octref import cost, network, nn  # noqa: E402

TARGET = 1.3
ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75)
OUT = Path(__file__).resolve().with_name("train_speed.json")
BATCH = 64
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 5e-4


def torch_network(torch, layers):
    """PyTorch parameters and a forward function equal to octref's ``layers``."""
    f = torch.nn.functional
    params, plan = [], []
    for layer in layers:
        if isinstance(layer, network.OctConv):
            w = {p: torch.nn.Parameter(torch.from_numpy(a.copy())) for p, a in
                 layer.params.items()}
            params += list(w.values())
            plan.append(("conv", layer, w))
        elif isinstance(layer, network.BatchNorm):
            bn = {}
            for group in ("high", "low"):
                if f"gamma.{group}" in layer.params:
                    bn[group] = (torch.nn.Parameter(torch.from_numpy(
                                     layer.params[f"gamma.{group}"].copy())),
                                 torch.nn.Parameter(torch.from_numpy(
                                     layer.params[f"beta.{group}"].copy())),
                                 torch.from_numpy(layer.state[f"mean.{group}"].copy()),
                                 torch.from_numpy(layer.state[f"var.{group}"].copy()))
                    params += list(bn[group][:2])
            plan.append(("bn", layer, bn))
        elif isinstance(layer, network.ReLU):
            plan.append(("relu", layer, None))
        elif isinstance(layer, network.GlobalAvgPool):
            plan.append(("gap", layer, None))
        else:
            lin = (torch.nn.Parameter(torch.from_numpy(layer.params["w"].copy())),
                   torch.nn.Parameter(torch.from_numpy(layer.params["b"].copy())))
            params += list(lin)
            plan.append(("linear", layer, lin))

    def pool(x):
        return f.avg_pool2d(x, 2, ceil_mode=True)

    def octconv(xh, xl, layer, w):
        if layer.stride == 2:
            xh_in = pool(xh) if xh is not None else None
            xl_in = pool(xl) if xl is not None else None
        else:
            xh_in, xl_in = xh, xl
        yh = f.conv2d(xh_in, w["hh"], padding=1) if "hh" in w else None
        yl = f.conv2d(xl_in, w["ll"], padding=1) if "ll" in w else None
        if "lh" in w:
            source = xl if layer.stride == 2 else xl_in
            up = f.conv2d(source, w["lh"], padding=1)
            if layer.stride == 1:
                up = f.interpolate(up, scale_factor=2, mode="nearest")
            up = up[..., :yh.shape[2], :yh.shape[3]] if yh is not None else up
            yh = up if yh is None else yh + up
        if "hl" in w:
            if layer.downsample == "strided":
                down = f.conv2d(xh_in, w["hl"], stride=2, padding=1)
            else:
                down = f.conv2d(pool(xh_in), w["hl"], padding=1)
            yl = down if yl is None else yl + down
        return yh, yl

    def forward(images):
        xh, xl = images, None
        for kind, layer, p in plan:
            if kind == "conv":
                xh, xl = octconv(xh, xl, layer, p)
            elif kind == "bn":
                xh, xl = (None if x is None else f.batch_norm(
                    x, p[g][2], p[g][3], p[g][0], p[g][1], training=True, momentum=0.1,
                    eps=nn.BN_EPS) for x, g in ((xh, "high"), (xl, "low")))
            elif kind == "relu":
                xh, xl = (None if x is None else f.relu(x) for x in (xh, xl))
            elif kind == "gap":
                xh = torch.cat([x.mean(dim=(2, 3)) for x in (xh, xl) if x is not None], dim=1)
            else:
                xh = f.linear(xh, *p)
        return xh

    return params, forward


def octref_step(layers, state):
    def step(images, labels):
        logits = network.forward(layers, images, train=True)
        loss, dlogits = nn.softmax_cross_entropy(logits, labels)
        network.backward(layers, dlogits)
        state["v"] = network.sgd_step(layers, state.get("v"), lr=LR, momentum=MOMENTUM,
                                      weight_decay=WEIGHT_DECAY)
        return loss
    return step


def torch_step(torch, params, forward):
    optimiser = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)

    def step(images, labels):
        optimiser.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(forward(images), labels)
        loss.backward()
        optimiser.step()
        return loss.item()
    return step


def check_same(torch, rng):
    """Same initial loss and the same parameters after two steps, or an AssertionError."""
    layers = network.build_network(0.5, rng=np.random.default_rng(0))
    params, forward = torch_network(torch, layers)
    ours, theirs = octref_step(layers, {}), torch_step(torch, params, forward)
    images = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH)
    for _ in range(2):
        a = ours(images, labels)
        b = theirs(torch.from_numpy(images), torch.from_numpy(labels))
        assert abs(a - b) < 1e-4 * max(1, abs(b)), (a, b)
    first = network.conv_layers(layers)[1]
    theirs_w = [p for p in params if p.shape == first.params["hh"].shape][0]
    np.testing.assert_allclose(first.params["hh"], theirs_w.detach().numpy(), rtol=1e-3,
                               atol=1e-5)
    return abs(a - b)


def set_threads(torch, threads):
    import threadpoolctl

    torch.set_num_threads(threads)
    return threadpoolctl.threadpool_limits(limits=threads, user_api="blas")


def time_steps(torch, repeats, rng, pause=0.3):
    layers = network.build_network(0.5, rng=np.random.default_rng(0))
    params, forward = torch_network(torch, layers)
    ours, theirs = octref_step(layers, {}), torch_step(torch, params, forward)
    images = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH)
    t_images, t_labels = torch.from_numpy(images), torch.from_numpy(labels)
    for _ in range(2):
        ours(images, labels)
        theirs(t_images, t_labels)
    times = {"octref": [], "torch": []}
    for _ in range(repeats):
        for name, fn, args in (("octref", ours, (images, labels)),
                               ("torch", theirs, (t_images, t_labels))):
            time.sleep(pause)
            fn(*args)  # untimed: wake this library's thread pool
            started = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - started)
    return {k: statistics.median(v) for k, v in times.items()}, times


def alpha_steps(repeats, rng, width=16):
    """Median seconds of an octref training step for each alpha, interleaved (one per repeat)."""
    images = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH)
    steps, macs = {}, {}
    for alpha in ALPHAS:
        layers = network.build_network(alpha, width=width, rng=np.random.default_rng(0))
        steps[alpha] = octref_step(layers, {})
        steps[alpha](images, labels)
        counted = network.network_cost(layers)
        macs[alpha] = counted["macs"] / counted["vanilla_macs"]
    times = {alpha: [] for alpha in ALPHAS}
    for _ in range(repeats):
        for alpha in ALPHAS:
            started = time.perf_counter()
            steps[alpha](images, labels)
            times[alpha].append(time.perf_counter() - started)
    medians = {alpha: statistics.median(v) for alpha, v in times.items()}
    return [{"alpha": a, "seconds": medians[a], "time_ratio": medians[a] / medians[0.0],
             "macs_ratio": macs[a], "table1_flops_ratio": cost.flops_ratio(a)} for a in ALPHAS]


def breakdown(repeats, rng):
    """Seconds per step spent in each layer kind of octref's network (forward + backward)."""
    layers = network.build_network(0.5, rng=np.random.default_rng(0))
    spent = {}

    def timed(layer, method):
        original = getattr(layer, method)
        kind = type(layer).__name__

        def wrapper(*args):
            started = time.perf_counter()
            out = original(*args)
            spent[kind] = spent.get(kind, 0.0) + time.perf_counter() - started
            return out
        setattr(layer, method, wrapper)

    for layer in layers:
        timed(layer, "forward")
        timed(layer, "backward")
    step = octref_step(layers, {})
    images = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH)
    step(images, labels)
    spent.clear()
    started = time.perf_counter()
    for _ in range(repeats):
        step(images, labels)
    total = (time.perf_counter() - started) / repeats
    per_kind = {k: v / repeats for k, v in spent.items()}
    per_kind["loss + SGD + rest"] = total - sum(per_kind.values())
    return total, per_kind


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-write", dest="write", action="store_false",
                        help=f"do not write {OUT.name}")
    args = parser.parse_args(argv)
    import torch

    rng = np.random.default_rng(0)
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}")
    print(f"machine: {cpu}, {os.cpu_count()} logical CPUs; load average "
          + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}")
    print(f"same network checked: loss after two steps differs by {check_same(torch, rng):.1e}")
    results = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
               "machine": cpu, "cpus": os.cpu_count(), "numpy": np.__version__,
               "torch": torch.__version__, "batch": BATCH, "versus_torch": [],
               "alpha_steps": {}, "breakdown": {},
               "load_average_at_start": list(os.getloadavg())}
    print()
    print("| threads | octref step (ms) | PyTorch step (ms) | ratio | target |")
    print("|---|---|---|---|---|")
    for threads in args.threads:
        limiter = set_threads(torch, threads)
        medians, _ = time_steps(torch, args.repeats, rng)
        ratio = medians["octref"] / medians["torch"]
        results["versus_torch"].append({"threads": threads, "octref": medians["octref"],
                                        "torch": medians["torch"], "ratio": ratio})
        print(f"| {threads} | {1e3 * medians['octref']:.1f} | {1e3 * medians['torch']:.1f} | "
              f"{ratio:.2f} | {'met' if ratio <= TARGET else 'missed'} (<= {TARGET}) |",
              flush=True)
        limiter.unregister()
    print()
    for threads in args.threads:
        limiter = set_threads(torch, threads)
        total, per_kind = breakdown(max(3, args.repeats // 3), rng)
        results["breakdown"][threads] = {"total": total, **per_kind}
        print(f"octref step at {threads} thread(s): {1e3 * total:.1f} ms; "
              + ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in
                          sorted(per_kind.items(), key=lambda kv: -kv[1])), flush=True)
        limiter.unregister()
    print()
    print("| alpha | octref step (ms), 1 thread | time / alpha 0 | counted MACs / alpha 0 | "
          "Table 1 FLOPs |")
    print("|---|---|---|---|---|")
    limiter = set_threads(torch, 1)
    rows = alpha_steps(args.repeats, rng)
    limiter.unregister()
    results["alpha_steps"] = rows
    for r in rows:
        print(f"| {r['alpha']} | {1e3 * r['seconds']:.1f} | {r['time_ratio']:.2f} | "
              f"{r['macs_ratio']:.3f} | {r['table1_flops_ratio']:.3f} |")
    results["load_average_at_end"] = list(os.getloadavg())
    if args.write:
        OUT.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
