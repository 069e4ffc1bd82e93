"""The ``octref`` command line: ``octref tour`` and friends. Nothing imports this module.

``octref tour [--image PATH] [--alpha A] [--out DIR] [--size N]`` runs the story
of the paper on one image and writes, to DIR (default ``octref-tour/``):

==========================  ==============================================================
``frequency.png``           octave bands of the image, their spectra, the energy split
``feature_maps.png``        a convolution layer's maps split into octaves; which go low
``sampling_grids.png``      where pooled and strided samples sit (the paper's Fig. 3)
``misalignment.png``        the measured shift of H->L->H, pooling versus strided conv
``receptive_field.png``     receptive fields through the high and the low group
``cost.png``                FLOPs and memory versus alpha, Table 1 beside counted values
``report.md``               every number above, a layer run at alpha, gradient checks
==========================  ==============================================================

One line of progress per step goes to standard error, and the closing line,
where the files are, to standard output. A bad argument or an unreadable
image or directory ends with one line ``octref: error: ...`` on standard
error and exit status 2.
"""

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import octref
from octref import cost, data, frequency, misalignment, receptive_field, viz
from octref.gradcheck import check_octconv_gradients
from octref.im2col import octconv_forward
from octref.octave import Octave, OctaveWeights, init_octave_weights, split_channels

__all__ = ["main", "build_parser"]

DEFAULT_OUT = "octref-tour"
DEFAULT_SIZE = 320
MIN_SIZE = 16


FIGURES = ("frequency.png", "feature_maps.png", "sampling_grids.png", "misalignment.png",
           "receptive_field.png", "cost.png")


class TourError(Exception):
    """A problem the user can fix (argument, image, directory): one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``octref: error: ...`` line like every other."""

    def error(self, message):
        # self.prog is "octref" for the main parser and "octref tour" for the subcommand.
        self.exit(2, f"octref: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The argument parser of the ``octref`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _Parser(
        prog="octref",
        description="octref: a pure-NumPy reference implementation of Octave Convolution "
                    "(Chen et al., ICCV 2019).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {octref.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    tour = commands.add_parser(
        "tour", help="run the paper's story on an image: figures and a report",
        description="Split an image into octaves, measure the misalignment of strided "
                    "downsampling, the receptive fields of the low path and the cost of an "
                    "octave layer; write the figures (PNG) and report.md to DIR.")
    tour.add_argument("--image", metavar="PATH",
                      help="image to use (any format Pillow reads; converted to grayscale); "
                           f"default: the bundled sample {data.SAMPLE_IMAGE}")
    tour.add_argument("--alpha", metavar="A", type=float, default=0.5,
                      help="fraction of channels in the low-frequency group, 0 <= A <= 1 "
                           "(default 0.5)")
    tour.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                      help=f"directory for the figures and the report (default {DEFAULT_OUT}/, "
                           "created if missing)")
    tour.add_argument("--size", metavar="N", type=int, default=DEFAULT_SIZE,
                      help="average the image down by 2x2 pooling until its longer side is at "
                           f"most N pixels (default {DEFAULT_SIZE}); both sides must stay at "
                           f"least {MIN_SIZE} px")
    return parser


def main(argv=None):
    """Run the ``octref`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        0 on success, 2 for a usage error or an unusable image or directory,
        130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "tour":
            started = time.perf_counter()
            report = tour(args.image, args.alpha, args.out, args.size)
            print(f"octref tour: wrote {len(FIGURES)} figures and {report.name} to "
                  f"{report.parent}{os.sep} in {time.perf_counter() - started:.1f} s")
    except TourError as exc:
        print(f"octref: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("octref: interrupted", file=sys.stderr)
        return 130
    return 0


# --------------------------------------------------------------------------- the tour

def tour(image_path=None, alpha=0.5, out=DEFAULT_OUT, size=DEFAULT_SIZE, *, log=None):
    """Write the tour's figures and report to ``out``.

    Parameters
    ----------
    image_path : str, optional
        None for the bundled sample.
    alpha : float in [0, 1]
    out : str or Path
    size : int, >= 16
    log : callable, optional
        Receives one line of progress per step; default: print to stderr.

    Returns
    -------
    Path
        The report's path.

    Raises
    ------
    TourError
        Bad alpha or size, an unreadable image, or an unwritable directory.
    """
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    if not math.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
        raise TourError(f"--alpha must be in [0, 1], got {alpha:g}")
    if size < MIN_SIZE:
        raise TourError(f"--size must be at least {MIN_SIZE}, got {size}")
    out = _prepare_directory(Path(out))
    steps = 9
    report = _Report()

    image, original_shape, name = _load(image_path, size)
    report.header(name, original_shape, image.shape, alpha)
    log(f"[1/{steps}] image {name}: {original_shape[0]} x {original_shape[1]} px, used at "
        f"{image.shape[0]} x {image.shape[1]}")

    def figure(index, filename, build, summary):
        tick = time.perf_counter()
        fig = build()
        try:
            fig.savefig(out / filename, dpi=100)
        except OSError as exc:
            raise TourError(f"cannot write {out / filename}: {exc.strerror or exc}") from None
        log(f"[{index}/{steps}] {filename}: {summary()} ({time.perf_counter() - tick:.1f} s)")

    builders = {
        "frequency.png": (lambda: viz.plot_frequency_decomposition(image),
                          lambda: report.frequency(image)),
        "feature_maps.png": (lambda: viz.plot_feature_maps(image, alpha),
                             lambda: report.feature_maps(image, alpha)),
        "sampling_grids.png": (viz.plot_sampling_grids,
                               lambda: "where pooled and strided samples sit"),
        "misalignment.png": (lambda: viz.plot_misalignment(image),
                             lambda: report.misalignment(image)),
        "receptive_field.png": (viz.plot_receptive_fields, lambda: report.receptive_fields(3)),
        "cost.png": (lambda: viz.plot_cost(alpha), lambda: report.cost(alpha)),
    }
    for index, filename in enumerate(FIGURES, start=2):
        figure(index, filename, *builders[filename])

    tick = time.perf_counter()
    summary = report.layer(image, alpha)
    log(f"[8/{steps}] octave layer on the image: {summary} "
        f"({time.perf_counter() - tick:.1f} s)")
    tick = time.perf_counter()
    summary = report.gradients(alpha)
    log(f"[9/{steps}] gradient check: {summary} ({time.perf_counter() - tick:.1f} s)")

    path = out / "report.md"
    try:
        path.write_text(report.text(), encoding="utf-8")
    except OSError as exc:
        raise TourError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _prepare_directory(out):
    """Create ``out`` if needed and make sure a file can be written there."""
    if out.exists() and not out.is_dir():
        raise TourError(f"--out {str(out)!r} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise TourError(f"cannot write to directory {str(out)!r}: "
                        f"{exc.strerror or exc}") from None
    return out


def _load(image_path, size):
    """(image, original shape, display name) or a TourError."""
    try:
        original = data.load_image(image_path)
    except (OSError, ValueError) as exc:
        raise TourError(str(exc)) from None
    image = data.downscale(original, size)
    if min(image.shape) < MIN_SIZE:
        raise TourError(f"the image is {image.shape[0]} x {image.shape[1]} px at --size {size}; "
                        f"both sides must be at least {MIN_SIZE}")
    if np.ptp(image) == 0:
        raise TourError(f"the image {image_path or data.SAMPLE_IMAGE} is uniform (every pixel "
                        f"{image.flat[0]:g}): there is nothing to split into frequencies")
    name = data.SAMPLE_IMAGE if image_path is None else str(image_path)
    return image, original.shape, name


# --------------------------------------------------------------------------- the report

class _Report:
    """Collects the tour's numbers as Markdown, section by section."""

    def __init__(self):
        self.lines = []

    def text(self):
        return "\n".join(self.lines) + "\n"

    def _table(self, header, rows):
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "---|" * len(header))
        for row in rows:
            self.lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
        self.lines.append("")

    def header(self, name, original_shape, shape, alpha):
        self.lines += [
            "# octref tour", "",
            f"Image: `{name}`, {original_shape[0]} x {original_shape[1]} px, grayscale, "
            f"used at {shape[0]} x {shape[1]} px (2x2 average pooling). alpha = {alpha:g}.",
            "Octave convolution: Chen et al., \"Drop an Octave\", ICCV 2019. "
            f"octref {octref.__version__}.", ""]

    def frequency(self, image, levels=3):
        bands = frequency.octave_bands(image, levels)
        low, high = frequency.octave_split(image)
        variance = ((image - image.mean()) ** 2).sum()
        error = float(np.abs(sum(bands) - image).max())
        below_low = frequency.energy_fraction_below(low)
        below_high = frequency.energy_fraction_below(high)
        self.lines += ["## 1. Frequency decomposition (`frequency.png`)", "",
                       "X = (X - up(pool(X))) + up(pool(X)), repeated on pool(X). Share of the "
                       "variance of X in each component, and share of the component's own "
                       "spectral energy below 0.25 cycles/px (the half-resolution Nyquist "
                       "frequency):", ""]
        names = ([f"band {level}" for level in range(levels)]
                 + [f"residual (pooled {levels} times)"])
        names[0] += ": X - up(pool(X))"
        rows = [(n, _pct(((c - c.mean()) ** 2).sum() / variance),
                 _pct(frequency.energy_fraction_below(c))) for n, c in zip(names, bands)]
        self._table(["component", "share of var(X)", "energy below 0.25 cycles/px"], rows)
        self.lines += [f"- low group up(pool(X)): {_pct(below_low)} of its energy below 0.25 "
                       f"cycles/px; high part X - up(pool(X)): {_pct(below_high)}.",
                       f"- The components sum back to X: max |sum - X| = {error:.1e}.", ""]
        return f"low part {_pct(below_low)}, high part {_pct(below_high)} below 0.25 cycles/px"

    def feature_maps(self, image, alpha):
        names, maps = frequency.filter_responses(image)
        lost = frequency.high_energy_fraction(maps)
        _, c_low = split_channels(len(names), alpha)
        low_group = set(np.argsort(lost, kind="stable")[:c_low].tolist())
        self.lines += ["## 2. Feature maps (`feature_maps.png`)", "",
                       "Six 3x3 filters on the image; share of each map's variance in its "
                       f"high part f - up(pool(f)). With alpha = {alpha:g}, the {c_low} maps "
                       "that lose least at half resolution go to the low group.", ""]
        self._table(["filter", "high part (share of variance)", "group"],
                    [(n, _pct(lost[c]), "low X^L" if c in low_group else "high X^H")
                     for c, n in enumerate(names)])
        return (f"{c_low} of {len(names)} maps to the low group; high part from "
                f"{_pct(lost.min())} to {_pct(lost.max())} of the variance")

    def misalignment(self, image):
        self.lines += ["## 3. Misalignment (`sampling_grids.png`, `misalignment.png`)", "",
                       "Mean shift (row, col) in pixels, + = down / right, of the round trip "
                       "H->L->H = up(down(X)) through octref's octave convolution "
                       "(1x1 identity weights):", ""]
        rows = []
        for label, measure in (
                ("impulse, 4 phases (centroid, mass-weighted)", misalignment.impulse_shifts),
                ("step edge, 2 phases (centroid of differences)", misalignment.edge_shifts),
                ("this image, 4 phases (cross-power spectrum)",
                 lambda d: misalignment.image_shifts(image, d))):
            means = [measure(d).mean for d in misalignment.DOWNSAMPLE_MODES]
            rows.append([label] + [f"({_signed(m[0])}, {_signed(m[1])})" for m in means])
        self._table(["input", "2x2 average pool", "stride-2 conv"], rows)
        spread = misalignment.image_shifts(image, "strided")
        worst = np.abs(spread.shifts - spread.mean).max()
        self.lines += ["Expected: (0, 0) for pooling and (+0.5, +0.5) for strided sampling. "
                       f"A single strided phase of the image alone is off by up to {worst:.3f} "
                       "px (aliasing); averaging the four phases' spectra cancels it.", ""]
        return f"image shift avg pool {rows[-1][1]}, strided {rows[-1][2]} px"

    def receptive_fields(self, kernel_size):
        self.lines += ["## 4. Receptive fields (`receptive_field.png`)", "",
                       f"Support (rows x cols) of dY^H[p]/dX by octref's backward pass, "
                       f"k = {kernel_size}:", ""]
        rows, widths = [], []
        for scenario in receptive_field.SCENARIOS:
            field = receptive_field.receptive_field(scenario, kernel_size)
            measured = receptive_field.support_size(field)
            rows.append((scenario, f"{measured[0]} x {measured[1]}",
                         receptive_field.expected_support(scenario, kernel_size)))
            widths.append(f"{scenario} {measured[0]}")
        self._table(["route", "support, px", "expected width"], rows)
        return ", ".join(widths) + " px"

    def cost(self, alpha):
        self.lines += ["## 5. Cost (`cost.png`)", "",
                       "Octave layer over vanilla layer, alpha_in = alpha_out = alpha: "
                       "`octref.cost.table1`, counted on a 64 -> 64 channel 3x3 layer at "
                       "56 x 56 px, beside the formulas of Table 1 and the paper's printed "
                       "values.", ""]
        rows = []
        for row in cost.table1(sorted(set(cost.TABLE1_ALPHAS) | {alpha})):
            printed = cost.TABLE1_PRINTED.get(row.alpha)
            rows.append((f"{row.alpha:g}" + (" (--alpha)" if row.alpha == alpha else ""),
                         f"{row.flops_counted:.5f}", f"{row.flops_theory:.5f}",
                         f"{printed[0]}%" if printed else "-",
                         f"{row.memory_counted:.5f}", f"{row.memory_theory:.5f}",
                         f"{printed[1]}%" if printed else "-"))
        self._table(["alpha", "MACs, counted", "MACs, 1 - 3/4 a (2 - a)", "paper",
                     "memory, counted", "memory, 1 - 3/4 a", "paper"], rows)
        chosen = cost.table1([alpha])[0]
        return (f"at alpha = {alpha:g}: MACs x{chosen.flops_counted:.3f}, memory "
                f"x{chosen.memory_counted:.3f} of vanilla")

    def layer(self, image, alpha):
        names, maps = frequency.filter_responses(image)
        lost = frequency.high_energy_fraction(maps)
        order = np.argsort(lost, kind="stable")
        c_high, c_low = split_channels(len(names), alpha)
        bank = np.stack([frequency.FILTER_BANK[n] for n in names])[:, None]
        high_filters, low_filters = bank[np.sort(order[c_low:])], bank[np.sort(order[:c_low])]
        weights = OctaveWeights(hh=high_filters if c_high else None,
                                hl=low_filters if c_low else None, lh=None, ll=None)
        y, _ = octconv_forward(Octave(image[None, None], None), weights)
        stored = sum(a.size for a in y if a is not None)
        vanilla = len(names) * image.size
        shapes = ", ".join(f"Y^{g} {a.shape}" for g, a in zip("HL", y) if a is not None)
        self.lines += ["## 6. One octave layer on the image", "",
                       f"First layer, alpha_in = 0 -> alpha_out = {alpha:g}, the six filters "
                       f"above ({c_high} high, {c_low} low): {shapes}. Output activations: "
                       f"{stored} values, {stored / vanilla:.4f} of the {vanilla} of a "
                       f"vanilla layer (Table 1 for alpha_out: 1 - 3/4 alpha = "
                       f"{1 - 0.75 * c_low / len(names):.4f} with alpha = {c_low}/"
                       f"{len(names)}).", ""]
        return f"{shapes}; {stored / vanilla:.3f} of the vanilla activations"

    def gradients(self, alpha, channels=4, size=5):
        rng = np.random.default_rng(0)
        c_high, c_low = split_channels(channels, alpha)
        low_size = (size + 1) // 2
        x = Octave(rng.standard_normal((1, c_high, size, size)) if c_high else None,
                   rng.standard_normal((1, c_low, low_size, low_size)) if c_low else None)
        w = init_octave_weights(channels, channels, 3, alpha, alpha, rng=rng)
        b = Octave(rng.standard_normal(c_high) if c_high else None,
                   rng.standard_normal(c_low) if c_low else None)
        self.lines += ["## 7. Gradient check", "",
                       f"`octref.gradcheck.check_octconv_gradients` on a {channels} -> "
                       f"{channels} channel 3x3 layer, alpha_in = alpha_out = {alpha:g}, "
                       f"{size} x {size} px (odd: ceil-mode pooling), with bias; arrays of at "
                       "most 40 values checked element by element (full), larger ones along "
                       "a random direction.", ""]
        summary = []
        for impl in ("im2col", "loops"):
            results = check_octconv_gradients(x, w, b, impl=impl, full_limit=40,
                                              rng=np.random.default_rng(1))
            passed = sum(r.passed for r in results)
            worst = max(r.rel_error for r in results)
            self.lines += [f"`{impl}`: {passed}/{len(results)} passed, largest relative "
                           f"error {worst:.1e}", "", "```"]
            self.lines += [str(r) for r in results] + ["```", ""]
            summary.append(f"{impl} {passed}/{len(results)} passed")
        return ", ".join(summary)


def _pct(value):
    return f"{100 * value:.1f}%"


def _signed(value):
    return f"{round(float(value), 3) + 0.0:+.3f}"
