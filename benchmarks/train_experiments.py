"""The full training experiments of issue 15: Fig. 4, Table 1 (time) and Table 3 in miniature.

Usage::

    python benchmarks/train_experiments.py                 # the committed results
    python benchmarks/train_experiments.py --epochs 1 --seeds 0 --train-size 500   # smoke

Trains the reference octave CNN (``octref.network.build_network``) on a
reduced budget, width 8, the first 2,000 of the fixed 4,000 training digits,
3 epochs, seeds 0-9 (about 5 minutes on two quiet cores), and tests it on
the 1,000 held-out digits:

1. alpha in {0, 0.125, 0.25, 0.5, 0.75}, average pooling, every seed:
   accuracy against counted MACs (the paper's Fig. 4) and seconds per epoch
   against alpha (beside Table 1's FLOPs ratio);
2. at alpha = 0.5, every seed: strided H->L, H->L removed, L->H removed
   (Table 3; the average-pooling runs of part 1 are its baseline);
3. for the alpha = 0.5 average-pooling runs: the share of the second
   convolution's high and low maps below half their Nyquist frequency, at
   initialisation and after training.

BLAS is limited to one thread (before NumPy is imported) so that the time
per epoch compares arithmetic, not thread scheduling on a shared machine.
Writes ``benchmarks/train_experiments.json`` and ``.md`` (with the date and
machine) and the figures in ``docs/training/``; notebook 8 and
``docs/training.md`` show them.
"""

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from octref import cost, experiments, train  # noqa: E402

ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75)
TABLE3 = {"avgpool": ("avgpool", ()), "strided": ("strided", ()),
          "no H->L": ("avgpool", ("hl",)), "no L->H": ("avgpool", ("lh",))}
SPECTRA_LAYER = 1  # the second convolution: both groups in and out, 28 x 28 | 14 x 14


def run_all(epochs, seeds, train_size, width, log=print, on_run=None, done=()):
    """Every run of the three experiments; a list of experiments.run dicts.

    ``on_run(runs)`` is called after each run with the runs so far, so an
    interrupted experiment still leaves its finished runs written. Runs in
    ``done`` (from an earlier call with the same budget) are kept, not redone.
    """
    data = train.load_data(train_size)
    plan = [(alpha, "avgpool", ()) for alpha in ALPHAS]
    plan += [(0.5, d, r) for name, (d, r) in TABLE3.items() if name != "avgpool"]
    runs = []
    for seed in seeds:  # seeds outermost: a stopped run still has every config once
        for alpha, downsample, removed in plan:
            earlier = [r for r in done if (r["alpha"], r["downsample"], tuple(r["removed"]),
                                           r["seed"]) == (alpha, downsample, removed, seed)]
            if earlier:
                runs.append(earlier[0])
                continue
            config = train.TrainConfig(alpha=alpha, downsample=downsample, removed=removed,
                                       epochs=epochs, seed=seed, train_size=train_size,
                                       width=width)
            started = time.perf_counter()
            spectra = SPECTRA_LAYER if (alpha == 0.5 and downsample == "avgpool"
                                        and not removed) else None
            result = experiments.run(config, data, spectra_layer=spectra)
            runs.append(result)
            log(f"alpha {alpha:<5} {downsample:<7} removed {','.join(removed) or '-':<3} "
                f"seed {seed}: test {100 * result['test_accuracy']:.1f}%  "
                f"{result['seconds_per_epoch']:.1f} s/epoch  "
                f"({time.perf_counter() - started:.0f} s)")
            if on_run is not None:
                on_run(runs)
    return runs


def summarise(runs):
    """Mean and spread over seeds for every experiment."""
    def select(alpha, downsample="avgpool", removed=()):
        return [r for r in runs if r["alpha"] == alpha and r["downsample"] == downsample
                and tuple(r["removed"]) == tuple(removed)]

    sweep = []
    base_time = None
    for alpha in ALPHAS:
        chosen = select(alpha)
        if not chosen:
            continue
        seconds = experiments.spread([r["seconds_per_epoch"] for r in chosen])
        if alpha == 0.0:
            base_time = seconds["mean"]
        sweep.append({
            "alpha": alpha,
            "accuracy": experiments.spread([r["test_accuracy"] for r in chosen]),
            "macs": chosen[0]["cost"]["macs"],
            "macs_ratio": chosen[0]["cost"]["macs_ratio"],
            "memory_ratio": chosen[0]["cost"]["memory_ratio"],
            "table1_flops_ratio": cost.flops_ratio(alpha),
            "seconds_per_epoch": seconds,
            "time_ratio": seconds["mean"] / base_time if base_time else None,
        })
    table3 = []
    for name, (downsample, removed) in TABLE3.items():
        chosen = select(0.5, downsample, removed)
        if chosen:
            table3.append({"name": name, "downsample": downsample, "removed": list(removed),
                           "accuracy": experiments.spread([r["test_accuracy"] for r in chosen]),
                           "macs": chosen[0]["cost"]["macs"]})
    spectra = {}
    for when in ("init", "trained"):
        for group in ("high", "low"):
            values = [r["spectra"][when][group] for r in runs if "spectra" in r
                      and when in r["spectra"]]
            if values:
                spectra[f"{when}.{group}"] = experiments.spread(values)
    return {"sweep": sweep, "table3": table3, "spectra": spectra}


def machine():
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "blas_threads": 1}


def _pm(s, scale=100, digits=1):
    return (f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f} "
            f"({scale * s['min']:.{digits}f}-{scale * s['max']:.{digits}f})")


def markdown(results):
    s, cfg = results["summary"], results["config"]
    lines = [
        "# Training experiments (issue 15)",
        "",
        f"`{results['command']}`, {results['date']}, {results['elapsed_minutes']:.0f} min"
        + ("." if results["complete"] else f" (**incomplete**: {len(results['runs'])} runs)."),
        f"Machine: {results['machine']['platform']}, {results['machine']['cpus']} CPUs "
        f"(shared with other work), NumPy {results['machine']['numpy']}, one BLAS thread.",
        f"Reference network, width {cfg['width']}, {cfg['epochs']} epochs, "
        f"{cfg['train_size']} training digits, seeds {cfg['seeds']}; test accuracy on the "
        "1,000 held-out digits, "
        "mean ± sample std (min-max) over seeds.",
        "",
        "## Accuracy against MACs (Fig. 4) and time against alpha (Table 1)",
        "",
        "| alpha | test accuracy % | conv MACs / image | MACs ratio | Table 1 FLOPs | "
        "s / epoch | time ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in s["sweep"]:
        ratio = "" if row["time_ratio"] is None else f"{row['time_ratio']:.2f}"
        lines.append(f"| {row['alpha']} | {_pm(row['accuracy'])} | {row['macs']:,} | "
                     f"{row['macs_ratio']:.3f} | {row['table1_flops_ratio']:.3f} | "
                     f"{_pm(row['seconds_per_epoch'], 1, 1)} | {ratio} |")
    lines += ["", "## Table 3 in miniature (alpha = 0.5)", "",
              "| H->L / paths | test accuracy % | conv MACs / image |", "|---|---|---|"]
    for row in s["table3"]:
        lines.append(f"| {row['name']} | {_pm(row['accuracy'])} | {row['macs']:,} |")
    lines += ["", "## Spectra of the second convolution's maps (alpha = 0.5)", "",
              "Share of energy below half of each grid's Nyquist frequency (high maps: "
              "0.25 cycles/px; low maps: 0.25 cycles per low pixel).", "",
              "| maps | at initialisation | trained |", "|---|---|---|"]
    for group in ("high", "low"):
        init, trained = s["spectra"].get(f"init.{group}"), s["spectra"].get(f"trained.{group}")
        if init and trained:
            lines.append(f"| {group} | {_pm(init, 100, 1)} % | {_pm(trained, 100, 1)} % |")
    return "\n".join(lines) + "\n"


def figures(results, folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    s = results["summary"]
    sweep = s["sweep"]

    fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(11, 4.2))
    macs = [r["macs"] / 1e6 for r in sweep]
    acc = [100 * r["accuracy"]["mean"] for r in sweep]
    err = [100 * r["accuracy"]["std"] for r in sweep]
    ax_acc.errorbar(macs, acc, yerr=err, fmt="o-", capsize=4)
    for r, x, y in zip(sweep, macs, acc):
        ax_acc.annotate(f"α={r['alpha']}", (x, y), textcoords="offset points", xytext=(4, -12))
    ax_acc.set(xlabel="convolution MACs per image (millions)", ylabel="test accuracy (%)",
               title="accuracy against cost (Fig. 4 in miniature)")
    ax_acc.grid(alpha=0.3)
    # Epoch times of runs that shared the machine with other work are noisy; the
    # interleaved step times of train_speed.py (width 16, one thread) are drawn when present.
    speed = ROOT / "benchmarks" / "train_speed.json"
    if speed.exists():
        rows = json.loads(speed.read_text(encoding="utf-8"))["alpha_steps"]
        title = "time per training step against α (train_speed.py)"
    else:
        rows, title = sweep, "time per epoch against α"
    alphas = [r["alpha"] for r in rows]
    ax_time.plot(alphas, [r["time_ratio"] for r in rows], "o-", label="measured time / α=0")
    ax_time.plot(alphas, [r["macs_ratio"] for r in rows], "s--", label="counted MACs / α=0")
    ax_time.plot(alphas, [r["table1_flops_ratio"] for r in rows], ":", label="Table 1 formula")
    ax_time.set(xlabel="α", ylabel="ratio to the vanilla network", ylim=(0, 1.3), title=title)
    ax_time.grid(alpha=0.3)
    ax_time.legend()
    fig.tight_layout()
    fig.savefig(folder / "accuracy_and_time.png", dpi=100)
    plt.close(fig)

    fig, (ax_t3, ax_sp) = plt.subplots(1, 2, figsize=(11, 4.2))
    t3 = s["table3"]
    ax_t3.bar(range(len(t3)), [100 * r["accuracy"]["mean"] for r in t3],
              yerr=[100 * r["accuracy"]["std"] for r in t3], capsize=4, color="C0")
    for i, r in enumerate(t3):
        seeds = [x for x in results["runs"] if x["alpha"] == 0.5
                 and x["downsample"] == r["downsample"] and x["removed"] == r["removed"]]
        ax_t3.plot([i] * len(seeds), [100 * x["test_accuracy"] for x in seeds], "k.")
    ax_t3.set_xticks(range(len(t3)), [r["name"] for r in t3])
    low = min(100 * r["accuracy"]["min"] for r in t3)
    ax_t3.set(ylim=(low - 1, 100), ylabel="test accuracy (%)",
              title="Table 3 in miniature (α = 0.5; dots: seeds)")
    ax_t3.grid(alpha=0.3, axis="y")
    groups = ["high", "low"]
    for offset, when in ((-0.2, "init"), (0.2, "trained")):
        values = [s["spectra"][f"{when}.{g}"] for g in groups]
        ax_sp.bar(np.arange(2) + offset, [100 * v["mean"] for v in values], width=0.4,
                  yerr=[100 * v["std"] for v in values], capsize=4,
                  label="at initialisation" if when == "init" else "trained")
    ax_sp.set_xticks(range(2), ["high maps (28×28)", "low maps (14×14)"])
    ax_sp.set(ylabel="energy below half the grid's Nyquist (%)", ylim=(0, 100),
              title="what training did to the groups (2nd conv)")
    ax_sp.legend()
    ax_sp.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(folder / "table3_and_spectra.png", dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs of the existing results with the same budget")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "train_experiments"))
    parser.add_argument("--figures", default=str(ROOT / "docs" / "training"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    planned = len(args.seeds) * (len(ALPHAS) + len(TABLE3) - 1)

    def write(runs):
        results = {
            "command": "python benchmarks/train_experiments.py " + " ".join(
                sys.argv[1:] if argv is None else argv),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "elapsed_minutes": (time.perf_counter() - started) / 60,
            "machine": machine(),
            "config": {"epochs": args.epochs, "seeds": args.seeds,
                       "train_size": args.train_size, "width": args.width},
            "complete": len(runs) == planned,
            "runs": runs,
        }
        results["summary"] = summarise(runs)
        out = Path(args.out)
        out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n",
                                            encoding="utf-8")
        out.with_suffix(".md").write_text(markdown(results), encoding="utf-8")
        if len(runs) % (len(ALPHAS) + len(TABLE3) - 1) == 0:
            figures(results, Path(args.figures))
        return results

    done = []
    previous = Path(args.out).with_suffix(".json")
    if args.resume and previous.exists():
        old = json.loads(previous.read_text(encoding="utf-8"))
        if {k: old["config"][k] for k in ("epochs", "train_size", "width")} == \
                {"epochs": args.epochs, "train_size": args.train_size, "width": args.width}:
            done = old["runs"]
    runs = run_all(args.epochs, args.seeds, args.train_size, args.width,
                   log=lambda m: print(m, file=sys.stderr, flush=True), on_run=write, done=done)
    results = write(runs)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
