"""The ``octref`` command line: ``octref tour`` and ``octref train``. Nothing imports this module.

``octref tour [--image PATH] [--alpha A] [--out DIR] [--size N]`` runs the story
of the paper on one image and writes, to DIR (default ``octref-tour/``):

==========================  ==============================================================
``frequency.png``           octave bands of the image, their spectra, the energy split
``feature_maps.png``        a convolution layer's maps split into octaves
``sampling_grids.png``      where pooled and strided samples sit (the paper's Fig. 3)
``misalignment.png``        the measured shift of H->L->H, pooling versus strided conv
``receptive_field.png``     receptive fields through the high and the low group
``cost.png``                FLOPs and memory versus alpha, Table 1 beside counted values
``layer.png``               the layer run on the image, drawn as the paper's Fig. 2
``report.md``               every number above, a layer run at alpha, gradient checks
==========================  ==============================================================

Every number is measured once, by :mod:`octref.findings`; :mod:`octref.viz`
draws it and this module writes it. One line of progress per step goes to
standard error, and the closing line, where the files are, to standard
output (a reader that closed it, as ``| head -0`` does, costs nothing but
that line). A bad argument, an image that cannot be read or would not fit in
``--max-memory``, or an unwritable directory ends with one line
``octref: error: ...`` on standard error and exit status 2, before any work.

``octref train ...`` is :func:`octref.train.main` (the ``train`` extra): it
parses its own arguments, so this module only hands them over.
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
from octref import contract, data, findings, receptive_field, viz
from octref.findings import percent, plural, shape_text, shift_text

__all__ = ["main", "build_parser"]

DEFAULT_OUT = "octref-tour"
DEFAULT_SIZE = 320
MIN_SIZE = 16

FIGURES = ("frequency.png", "feature_maps.png", "sampling_grids.png", "misalignment.png",
           "receptive_field.png", "cost.png", "layer.png")
STEPS = 9


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
                      help="image file to use (any format Pillow reads; converted to "
                           f"grayscale); default: the bundled sample {data.SAMPLE_IMAGE}")
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
    tour.add_argument("--max-memory", metavar="GB", type=float, default=None,
                      help="refuse, before decoding, an image whose decoding or tour would "
                           "need more memory than this (default: octref's memory limit, "
                           f"{contract.DEFAULT_MEMORY_LIMIT / 2**30:g} GiB unless "
                           "OCTREF_MEMORY_LIMIT sets another)")
    # Listed for --help only: main() hands "train ..." to octref.train.main before parsing.
    commands.add_parser("train", add_help=False,
                        help="train an octave CNN on real MNIST digits (the train extra); "
                             "see octref train --help")
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
        0 on success (also when standard output was closed before the
        closing line), 2 for a usage error, an unusable image or directory,
        or memory running out, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:
        from octref.train import main as train_main  # the training stack loads only here
        return train_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "tour":
            started = time.perf_counter()
            report = tour(args.image, args.alpha, args.out, args.size,
                          max_memory=None if args.max_memory is None else args.max_memory * 1e9)
            _say(f"octref tour: wrote {len(FIGURES)} figures and {report.name} to "
                 f"{data.display_path(report.parent)}{os.sep} in "
                 f"{time.perf_counter() - started:.1f} s")
    except TourError as exc:
        _log(f"octref: error: {exc}")
        return 2
    except MemoryError:
        # The estimate before decoding (findings.tour_bytes) was too low for this machine.
        _log("octref: error: out of memory; a smaller --size or --max-memory refuses such "
             "an image before any work")
        return 2
    except KeyboardInterrupt:
        _log("octref: interrupted")
        return 130
    return 0


def _say(line):
    """Print the closing line; a closed standard output loses it and nothing else."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # Python would report the pipe again when it flushes at exit: point
        # the descriptor at /dev/null first (the recipe of the signal module's docs).
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass


def _log(line):
    """One line to standard error; a closed standard error is not an error of the tour."""
    try:
        print(line, file=sys.stderr, flush=True)
    except BrokenPipeError:
        pass


# --------------------------------------------------------------------------- the tour

def tour(image_path=None, alpha=0.5, out=DEFAULT_OUT, size=DEFAULT_SIZE, *,
         max_memory=None, log=None):
    """Write the tour's figures and report to ``out``.

    Parameters
    ----------
    image_path : str, optional
        None for the bundled sample.
    alpha : float in [0, 1]
    out : str or Path
    size : int, >= 16
    max_memory : float, optional
        Bytes the decoding and the tour may use; a larger estimate is refused
        before the image is decoded. Default: octref's memory limit
        (:func:`octref.contract.memory_limit`).
    log : callable, optional
        Receives one line of progress per step; default: print to stderr.

    Returns
    -------
    Path
        The report's path.

    Raises
    ------
    TourError
        Bad alpha, size or memory limit, an unreadable or too large image, or
        an unwritable directory.
    """
    log = log or _log
    if not math.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
        raise TourError(f"--alpha must be in [0, 1], got {alpha:g}")
    alpha = float(alpha) + 0.0  # -0.0 + 0.0 is 0.0: no "alpha = -0"
    if size < MIN_SIZE:
        raise TourError(f"--size must be at least {MIN_SIZE}, got {size}")
    if max_memory is None:
        max_memory = contract.memory_limit()
    if not math.isfinite(max_memory) or max_memory <= 0:
        raise TourError(f"--max-memory must be a positive number of GB, got {max_memory / 1e9:g}")
    out = _prepare_directory(Path(out))
    image, original_shape, name = _load(image_path, size, max_memory)

    report = _Report(name, original_shape, image.shape, alpha)
    log(f"[1/{STEPS}] image {name}: {shape_text(original_shape)}, used at "
        f"{shape_text(image.shape)}")

    def step(index, label, measure, draw, write):
        tick = time.perf_counter()
        found = measure()
        if draw is not None:
            fig = draw(found)
            try:
                fig.savefig(out / label, dpi=100)
            except OSError as exc:
                raise TourError(f"cannot write {data.display_path(out / label)}: "
                                f"{exc.strerror or exc}") from None
        summary = write(found)
        log(f"[{index}/{STEPS}] {label}: {summary} ({time.perf_counter() - tick:.1f} s)")

    step(2, "frequency.png", lambda: findings.measure_frequency(image),
         viz.plot_frequency_decomposition, report.frequency)
    step(3, "feature_maps.png", lambda: findings.measure_feature_maps(image, alpha),
         viz.plot_feature_maps, report.feature_maps)
    step(4, "sampling_grids.png", lambda: None, lambda _: viz.plot_sampling_grids(),
         lambda _: "where pooled and strided samples sit")
    step(5, "misalignment.png", lambda: findings.measure_misalignment(image),
         viz.plot_misalignment, report.misalignment)
    step(6, "receptive_field.png", findings.measure_receptive_fields,
         viz.plot_receptive_fields, report.receptive_fields)
    step(7, "cost.png", lambda: findings.measure_cost(alpha), viz.plot_cost, report.cost)
    # The layer run on the image, drawn as the paper's Fig. 2 with its live shapes.
    step(8, "layer.png", lambda: findings.measure_layer(image, alpha),
         lambda found: viz.plot_octave_layer(1, len(found.high_filters) + len(found.low_filters),
                                             findings.KERNEL_SIZE, 0.0, found.alpha,
                                             *image.shape),
         report.layer)
    step(9, "gradient check", lambda: findings.measure_gradients(alpha), None,
         report.gradients)

    path = out / "report.md"
    try:
        path.write_text(report.text(), encoding="utf-8")
    except OSError as exc:
        raise TourError(f"cannot write {data.display_path(path)}: "
                        f"{exc.strerror or exc}") from None
    return path


def _prepare_directory(out):
    """Create ``out`` if needed and make sure a file can be written there."""
    shown = data.display_path(out)
    if out.exists() and not out.is_dir():
        raise TourError(f"--out {shown!r} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise TourError(f"cannot write to directory {shown!r}: {exc.strerror or exc}") from None
    return out


def _gb(size):
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.0f} MB"


def _load(image_path, size, max_memory):
    """(image, original shape, display name) or a TourError; memory checked before decoding."""
    name = data.SAMPLE_IMAGE if image_path is None else data.display_path(image_path)
    try:
        header = data.read_header(image_path)
        shape = (header.height, header.width)
        used, _ = data.downscaled_shape(shape, size)
        if min(used) < MIN_SIZE:
            raise TourError(f"the image is {shape_text(used)} at --size {size}; both sides "
                            f"must be at least {MIN_SIZE}")
        for what, need, hint in (
                (f"the tour at {shape_text(used)} (--size {size})", findings.tour_bytes(used),
                 "a smaller --size lowers it; --max-memory raises the limit"),
                ("decoding it", data.load_bytes(header),
                 "the whole image is decoded before it is averaged down; --max-memory raises "
                 "the limit")):
            if need > max_memory:
                raise TourError(f"the image {name} is {shape_text(shape)}: {what} needs about "
                                f"{_gb(need)}, more than the limit of {_gb(max_memory)} "
                                f"({hint})")
        original = data.load_image(image_path)
    except (OSError, ValueError) as exc:
        raise TourError(str(exc)) from None
    image = data.downscale(original, size)
    if np.ptp(image) == 0:
        hint = " (a larger --size keeps more detail)" if image.shape != original.shape else ""
        raise TourError(f"the image {name} is uniform at {shape_text(image.shape)} (every pixel "
                        f"{image.flat[0]:g}): there is nothing to split into frequencies{hint}")
    return image, original.shape, name


# --------------------------------------------------------------------------- the report

class _Report:
    """Writes the tour's findings as Markdown, one section per step."""

    def __init__(self, name, original_shape, shape, alpha):
        pooled = original_shape != shape
        self.lines = [
            "# octref tour", "",
            f"Image: `{name}`, {shape_text(original_shape)}, grayscale, used at "
            f"{shape_text(shape)}" + (", by 2x2 average pooling" if pooled else "")
            + f". alpha = {alpha:g}.",
            "Octave convolution: Chen et al., \"Drop an Octave\", ICCV 2019. "
            f"octref {octref.__version__}. Sizes are rows x columns (H x W); shifts are "
            "(row, col) in pixels, + = down / right.", ""]

    def text(self):
        return "\n".join(self.lines) + "\n"

    def _table(self, header, rows):
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "---|" * len(header))
        for row in rows:
            self.lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
        self.lines.append("")

    def frequency(self, found):
        self.lines += ["## 1. Frequency decomposition (`frequency.png`)", "",
                       "X = (X - up(pool(X))) + up(pool(X)), repeated on pool(X). Share of the "
                       "variance of X in each component, and share of the component's own "
                       "spectral energy below 0.25 cycles/px (the half-resolution Nyquist "
                       "frequency):", ""]
        levels = len(found.names) - 1
        names = list(found.names[:-1]) + [f"residual (pooled {levels} times)"]
        names[0] += ": X - up(pool(X))"
        self._table(["component", "share of var(X)", "energy below 0.25 cycles/px"],
                    [(n, percent(share), percent(below)) for n, share, below
                     in zip(names, found.variance_shares, found.below)])
        parts = found.high_parts
        self.lines += [
            f"- Energy below 0.25 cycles/px: X itself {percent(found.image_below)}, the low "
            f"part up(pool(X)) {percent(found.low_below)}, the high part X - up(pool(X)) "
            f"{percent(found.high_below)}.",
            f"- In context: {found.context}"]
        if parts.total > 0:
            self.lines += [
                f"- Why the high part keeps {percent(found.high_below)} below 0.25: a 2x2 block "
                "mean is not an ideal low-pass filter. Averaged over the four 2x2 phases, "
                "up(pool(.)) multiplies the spectrum by cos^2(pi f_row) cos^2(pi f_col), so the "
                "high part keeps 1 - cos^2 cos^2 of the image's own content at every frequency "
                "(at 0.2 cycles/px along one axis, 35% of its amplitude): "
                f"{percent(parts.passed)} of the high part's energy. The rest is aliasing, "
                "content from above 0.25 that pooling folds below it and nearest upsampling "
                f"repeats: {percent(parts.aliased)}, with {percent(parts.cross)} from the "
                "overlap of the two (`octref.frequency.high_part_below_nyquist`)."]
        self.lines += [
            f"- The components sum back to X: max |sum - X| = "
            f"{found.reconstruction_error:.1e}.", ""]
        return (f"X {percent(found.image_below)}, low part {percent(found.low_below)}, high "
                f"part {percent(found.high_below)} below 0.25 cycles/px")

    def feature_maps(self, found):
        count = len(found.names)
        self.lines += [
            "## 2. Feature maps (`feature_maps.png`)", "",
            f"{count} fixed 3x3 filters on the image; share of each map's variance in its high "
            "part f - up(pool(f)), what storing the map at half resolution would lose.", "",
            "An octave layer does not choose which maps go to the low group. Its split is "
            f"fixed: with alpha = {found.alpha:g}, {plural(found.c_low, 'output channel')} "
            f"of {count} (the last, by position) are computed at half resolution whatever they "
            "hold, and training adapts the filters of those channels until little of their "
            "maps is lost. The column `channel` is where each fixed filter below would land "
            "in such a layer (section 6 runs it).", ""]
        self._table(["filter", "high part (share of variance)", "channel"],
                    [(n, percent(found.high_share[c]),
                      f"{c + 1}: {'low X^L' if c >= found.c_high else 'high X^H'}")
                     for c, n in enumerate(found.names)])
        return (f"high part from {percent(found.high_share.min())} to "
                f"{percent(found.high_share.max())} of the variance; "
                f"{found.c_low} of {count} channels low by position")

    def misalignment(self, found):
        self.lines += ["## 3. Misalignment (`sampling_grids.png`, `misalignment.png`)", "",
                       "Mean shift (row, col) in pixels, + = down / right, of the round trip "
                       "H->L->H = up(down(X)) through octref's octave convolution "
                       "(1x1 identity weights):", ""]
        modes = ("avgpool", "strided")
        rows = [[label] + [shift_text(getattr(found, kind)[m].mean) for m in modes]
                for kind, label in (
                    ("impulse", "impulse, 4 phases (centroid, mass-weighted)"),
                    ("edge", "step edge, 2 phases (centroid of differences)"),
                    ("image", "this image, 4 phases (cross-power spectrum)"))]
        self._table(["input", "2x2 average pool", "stride-2 conv"], rows)
        strided = found.image["strided"]
        self.lines += [
            "Expected: (0, 0) for pooling and (+0.5, +0.5) for strided sampling.",
            "Two signs, one fact: `sampling_grids.png` shows the strided sample at offset "
            "(-0.5, -0.5) from its 2x2 block centre (where it is read); upsampling puts it back "
            "at the centre, so the content moves by (+0.5, +0.5) (what is measured here).", ""]
        if strided.undefined:
            self.lines += [f"On this image the shift is partly or wholly undefined: "
                           f"{strided.undefined}.", ""]
        else:
            self.lines += [
                "The image's shift is the phase slope of the cross-power spectrum below 0.25 "
                f"cycles/px, where the image holds {percent(strided.energy_used)} of its "
                "energy; it assumes a shift of at most 1 px per axis (true of every round "
                "trip), so it cannot wrap around the period of a texture. A single strided "
                f"phase alone is off by up to {found.strided_spread:.3f} px (aliasing); "
                "averaging the four phases' spectra cancels it.", ""]
        return (f"image shift avg pool {rows[-1][1]}, strided {rows[-1][2]} px")

    def receptive_fields(self, found):
        self.lines += ["## 4. Receptive fields (`receptive_field.png`)", "",
                       f"Support (rows x cols) of dY^H[p]/dX by octref's backward pass, "
                       f"k = {found.kernel_size}:", ""]
        self._table(["route", "support, px", "expected width"],
                    [(s, f"{found.supports[s][0]} x {found.supports[s][1]}", found.expected[s])
                     for s in receptive_field.SCENARIOS])
        return ", ".join(f"{s} {found.supports[s][0]}" for s in receptive_field.SCENARIOS) + " px"

    def cost(self, found):
        layer = found.layer
        self.lines += ["## 5. Cost (`cost.png`)", "",
                       "Octave layer over vanilla layer, alpha_in = alpha_out = alpha: "
                       f"`octref.cost.table1`, counted on a {layer['channels']} -> "
                       f"{layer['channels']} channel {layer['kernel_size']}x"
                       f"{layer['kernel_size']} layer at "
                       f"{shape_text((layer['height'], layer['width']))}, beside the formulas "
                       "of Table 1 and the paper's printed values.", ""]
        self._table(["alpha", "MACs, counted", "MACs, 1 - 3/4 a (2 - a)", "paper",
                     "memory, counted", "memory, 1 - 3/4 a", "paper"], found.cells("(--alpha)"))
        chosen = found.chosen
        return (f"at alpha = {found.alpha:g}: MACs x{chosen.flops_counted:.3f}, memory "
                f"x{chosen.memory_counted:.3f} of vanilla")

    def layer(self, found):
        count = len(found.high_filters) + len(found.low_filters)
        shapes = ", ".join(f"{name} {shape}" for name, shape in found.shapes.items())

        def listed(names):
            return ", ".join(names) if names else "none"

        self.lines += [
            "## 6. One octave layer on the image", "",
            "![the layer, drawn as the paper's Fig. 2 with its shapes](layer.png)", "",
            f"First layer, alpha_in = 0 -> alpha_out = {found.alpha:g}, `octref.octconv_forward`"
            f" with the {count} filters above as weights, split by position as every octave "
            f"layer splits its channels: w_hh = the first {len(found.high_filters)} "
            f"({listed(found.high_filters)}), w_hl = the last {len(found.low_filters)} "
            f"({listed(found.low_filters)}). Outputs (N, C, H, W): {shapes}. Output "
            f"activations: {found.stored} values, {found.ratio:.4f} of the {found.vanilla} of "
            f"a vanilla layer (Table 1 for alpha_out: 1 - 3/4 alpha = {found.theory:.4f} with "
            f"alpha = {len(found.low_filters)}/{count}).", ""]
        return f"{shapes}; {found.ratio:.3f} of the vanilla activations"

    def gradients(self, found):
        self.lines += [
            "## 7. Gradient check", "",
            f"`octref.gradcheck.check_octconv_gradients` on a {found.channels} -> "
            f"{found.channels} channel 3x3 layer, alpha_in = alpha_out = {found.alpha:g}, "
            f"{shape_text((found.size, found.size))} (odd: ceil-mode pooling), with bias; "
            f"arrays of at most {found.full_limit} values checked element by element (full), "
            "larger ones along a random direction.", ""]
        summary = []
        for impl, results in found.results.items():
            passed = sum(r.passed for r in results)
            worst = max(r.rel_error for r in results)
            self.lines += [f"`{impl}`: {passed}/{len(results)} passed, largest relative "
                           f"error {worst:.1e}", "", "```"]
            self.lines += [str(r) for r in results] + ["```", ""]
            summary.append(f"{impl} {passed}/{len(results)} passed")
        return ", ".join(summary)
