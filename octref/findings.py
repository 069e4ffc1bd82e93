"""What the tour measures, each number computed once: plain data for figures and report.

``octref tour`` runs one ``measure_*`` function per step; :mod:`octref.viz`
draws the object it returns and :mod:`octref.cli` writes its numbers to
``report.md``, so a figure and the report can never disagree. Nothing here
imports Matplotlib. The text helpers at the end (:func:`percent`,
:func:`signed`, :func:`shape_text`, :func:`plural`) are the one way both
write a number.

A measurement that an image does not define (the variance shares of a
constant image, the shift of content that the round trip erases) is NaN,
with the reason in a ``note`` or ``undefined`` field; the helpers print NaN
as "undefined".
"""

import math
from dataclasses import dataclass

import numpy as np

import octref
from octref import cost, frequency, misalignment, receptive_field
from octref.gradcheck import check_octconv_gradients
from octref.layer import IMPLEMENTATIONS
from octref.octave import Octave, OctaveWeights, init_octave_weights, split_channels

__all__ = ["LEVELS", "KERNEL_SIZE", "TEST_SIZE", "FIELD_SIZE", "GRADCHECK_IMPLS", "Frequency",
           "measure_frequency", "FeatureMaps", "measure_feature_maps", "Misalignment",
           "measure_misalignment", "ReceptiveFields", "measure_receptive_fields", "Cost",
           "measure_cost", "Layer", "measure_layer", "Gradients", "measure_gradients",
           "BYTES_PER_PIXEL", "BASE_BYTES", "tour_bytes", "percent", "signed", "shift_text",
           "shape_text", "plural"]

#: Octave bands of the frequency step (a residual comes on top).
LEVELS = 3
#: k of the receptive-field step's k x k layers.
KERNEL_SIZE = 3
#: Side of the impulse and step-edge test images of the misalignment step.
TEST_SIZE = 8
#: Side of the image the receptive fields are measured on.
FIELD_SIZE = 24
#: The implementations whose backward the tour checks: all of them.
GRADCHECK_IMPLS = IMPLEMENTATIONS


# --------------------------------------------------------------------------- 1. frequency

@dataclass(frozen=True)
class Frequency:
    """The octave bands of an image and where their energy lies.

    Attributes
    ----------
    image : ndarray of shape (H, W)
    names : tuple of str
        ``"band 0"``, ..., ``"band L-1"``, ``"residual"``.
    components : tuple of ndarrays of shape (H, W)
        :func:`octref.frequency.octave_bands`; they sum back to the image.
    low : ndarray of shape (H, W)
        ``up(pool(X))``, the sum of every component but band 0.
    variance_shares : ndarray of shape (L + 1,)
        Each component's energy about its mean over the image's; NaN for a
        constant image.
    below : ndarray of shape (L + 1,)
        Share of each component's energy below 0.25 cycles/px.
    image_below, low_below, high_below : float
        The same share for X, up(pool(X)) and X - up(pool(X)) (band 0).
    high_parts : octref.frequency.HighPartBelowNyquist
        Where the high part's energy below 0.25 comes from.
    reconstruction_error : float
        ``max |sum of components - X|``.
    spectra : tuple of ndarrays of shape (H, W)
        :func:`octref.frequency.power_spectrum` of X, then of each component.
    profiles : dict of str to (edges, density)
        :func:`octref.frequency.radial_energy_profile` (48 rings) of
        ``"X"``, each name in ``names`` and ``"low"``.
    note : str
        Why the shares are undefined, or "".
    """

    image: np.ndarray
    names: tuple
    components: tuple
    low: np.ndarray
    variance_shares: np.ndarray
    below: np.ndarray
    image_below: float
    low_below: float
    high_below: float
    high_parts: frequency.HighPartBelowNyquist
    reconstruction_error: float
    spectra: tuple
    profiles: dict
    note: str

    @property
    def context(self):
        """One sentence that reads the shares below 0.25 against X's own."""
        if not math.isfinite(self.low_below):
            return ("up(pool(X)) is constant: all of X's variation is in the high part, which "
                    "only the full-resolution group can hold.")
        return (f"X itself has {percent(self.image_below)} of its energy below 0.25, the "
                f"baseline for the low part's {percent(self.low_below)}; the split shows in the "
                f"high part, {percent(1 - self.high_below)} above 0.25, where a "
                "half-resolution map holds nothing.")


def _energy(x):
    return float(((x - x.mean()) ** 2).sum())


def _below(x):
    """Share of x's energy below 0.25 cycles/px, NaN for a constant map."""
    return frequency.energy_fraction_below(x) if _energy(x) > 0 else math.nan


def measure_frequency(image, levels=LEVELS):
    """The frequency step: octave bands, energy shares, spectra.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    levels : int, >= 1

    Returns
    -------
    Frequency
    """
    image = np.asarray(image, dtype=np.float64)
    components = tuple(frequency.octave_bands(image, levels))
    names = tuple(f"band {level}" for level in range(levels)) + ("residual",)
    low = image - components[0]
    variance = _energy(image)
    note = "" if variance > 0 else "the image is uniform: it has no frequencies to split"
    shares = np.array([_energy(c) / variance if variance > 0 else math.nan for c in components])
    profiles = {name: frequency.radial_energy_profile(x, bins=48)
                for name, x in zip(("X",) + names + ("low",), (image,) + components + (low,))}
    return Frequency(
        image=image, names=names, components=components, low=low, variance_shares=shares,
        below=np.array([_below(c) for c in components]), image_below=_below(image),
        low_below=_below(low), high_below=_below(components[0]),
        high_parts=frequency.high_part_below_nyquist(image),
        reconstruction_error=float(np.abs(sum(components) - image).max()),
        spectra=tuple(frequency.power_spectrum(x) for x in (image,) + components),
        profiles=profiles, note=note)


# --------------------------------------------------------------------------- 2. feature maps

@dataclass(frozen=True)
class FeatureMaps:
    """One convolution layer's maps, each split into octaves.

    Attributes
    ----------
    names : tuple of str
        The filters of :data:`octref.frequency.FILTER_BANK`, in order.
    maps, lows, highs : ndarrays of shape (C, H, W)
        ``f``, ``up(pool(f))`` and ``f - up(pool(f))`` per filter.
    high_share : ndarray of shape (C,)
        :func:`octref.frequency.high_energy_fraction`: what storing the map
        at half resolution would lose.
    alpha : float
    c_high, c_low : int
        :func:`octref.octave.split_channels` of C at alpha: an octave layer
        with these filters computes its first ``c_high`` maps at full
        resolution and its last ``c_low`` at half, by position.
    """

    names: tuple
    maps: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    high_share: np.ndarray
    alpha: float
    c_high: int
    c_low: int


def measure_feature_maps(image, alpha, filters=None):
    """The feature-map step.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    alpha : float in [0, 1]
    filters : dict of str to ndarray of shape (k, k), optional
        :data:`octref.frequency.FILTER_BANK` when omitted.

    Returns
    -------
    FeatureMaps
    """
    names, maps = frequency.filter_responses(image, filters)
    lows, highs = frequency.octave_split(maps)
    c_high, c_low = split_channels(len(names), alpha)
    return FeatureMaps(tuple(names), maps, lows, highs, frequency.high_energy_fraction(maps),
                       float(alpha), c_high, c_low)


# --------------------------------------------------------------------------- 3. misalignment

@dataclass(frozen=True)
class Misalignment:
    """The shift of the round trip H->L->H, per downsampling mode.

    Attributes
    ----------
    size : int
        Side of the impulse and step-edge test images.
    impulse, edge : dict of str to octref.misalignment.PhaseShifts
        :func:`~octref.misalignment.impulse_shifts`,
        :func:`~octref.misalignment.edge_shifts`, per mode.
    image : dict of str to octref.misalignment.ImageShifts
        :func:`~octref.misalignment.image_shifts` of the tour's image.
    edge_rows : dict of (int, str) to ndarray of shape (size,)
        One row of the round trip of the vertical step edge, per (parity, mode).
    crop : (int, int, int)
        (top, left, side) of the busiest window of the image.
    crop_trips : dict of str to ndarray of shape (side, side)
        ``"input"`` and the round trip of each mode in that window.
    strided_spread : float
        ``max |one phase - mean|`` of the image's strided shifts; NaN when undefined.
    """

    size: int
    impulse: dict
    edge: dict
    image: dict
    edge_rows: dict
    crop: tuple
    crop_trips: dict
    strided_spread: float


def measure_misalignment(image, size=TEST_SIZE, crop=16):
    """The misalignment step: every shift measured once.

    Parameters
    ----------
    image : ndarray of shape (H, W), H, W >= 4
    size : int
        Side of the impulse and edge test images, even, >= 6.
    crop : int
        Side of the window of the image shown with its round trips.

    Returns
    -------
    Misalignment
    """
    image = np.asarray(image, dtype=np.float64)
    modes = misalignment.DOWNSAMPLE_MODES
    edge_rows = {}
    for parity in (0, 1):
        step = (np.arange(size) > misalignment.edge_position(size, parity)).astype(np.float64)
        for mode in modes:
            edge_rows[parity, mode] = misalignment.round_trip(
                np.broadcast_to(step, (size, size)), mode)[0]
    even = image[:image.shape[0] // 2 * 2, :image.shape[1] // 2 * 2]
    side = min(crop, *even.shape)
    top, left = _busiest_crop(even, side)
    window = (slice(top, top + side), slice(left, left + side))
    crop_trips = {"input": even[window]}
    crop_trips.update({mode: misalignment.round_trip(even, mode)[window] for mode in modes})
    shifts = {mode: misalignment.image_shifts(image, mode) for mode in modes}
    strided = shifts["strided"]
    spread = np.abs(strided.shifts - strided.mean)
    return Misalignment(
        size=size, impulse={m: misalignment.impulse_shifts(m, size) for m in modes},
        edge={m: misalignment.edge_shifts(m, size) for m in modes}, image=shifts,
        edge_rows=edge_rows, crop=(top, left, side), crop_trips=crop_trips,
        strided_spread=float(np.nanmax(spread)) if np.isfinite(spread).any() else math.nan)


def _busiest_crop(image, crop):
    """(top, left), both even, of the crop x crop window with the largest variance."""
    best, where = -1.0, (0, 0)
    step = max(crop // 4 * 2, 2)
    for top in range(0, image.shape[0] - crop + 1, step):
        for left in range(0, image.shape[1] - crop + 1, step):
            spread = image[top:top + crop, left:left + crop].var()
            if spread > best:
                best, where = spread, (top, left)
    return where


# --------------------------------------------------------------------------- 4. receptive fields

@dataclass(frozen=True)
class ReceptiveFields:
    """Receptive fields of one output pixel of Y^H, per route (:mod:`octref.receptive_field`).

    Attributes
    ----------
    kernel_size, size : int
    fields : dict of str to ndarray of shape (size, size)
        ``dY^H[size // 2, size // 2] / dX`` per scenario.
    supports : dict of str to (int, int)
        Rows and columns of each field's support.
    expected : dict of str to int
        The width each route must have.
    """

    kernel_size: int
    size: int
    fields: dict
    supports: dict
    expected: dict


def measure_receptive_fields(kernel_size=KERNEL_SIZE, size=FIELD_SIZE):
    """The receptive-field step.

    Parameters
    ----------
    kernel_size : int, odd
    size : int
        Side of the image, large enough for the widest field, 2 (2k - 1), to
        stay inside.

    Returns
    -------
    ReceptiveFields
    """
    fields = {s: receptive_field.receptive_field(s, kernel_size, size)
              for s in receptive_field.SCENARIOS}
    return ReceptiveFields(kernel_size, size, fields,
                           {s: receptive_field.support_size(f) for s, f in fields.items()},
                           {s: receptive_field.expected_support(s, kernel_size)
                            for s in receptive_field.SCENARIOS})


# --------------------------------------------------------------------------- 5. cost

@dataclass(frozen=True)
class Cost:
    """Table 1: an octave layer's cost over a vanilla one, counted and by formula.

    Attributes
    ----------
    alpha : float or None
        The alpha asked for, added to the paper's.
    layer : dict
        ``channels``, ``kernel_size``, ``height``, ``width`` of the layer counted.
    rows : list of octref.cost.Table1Row
        :func:`octref.cost.table1` over the paper's alphas and ``alpha``.
    path_shares : dict of str to ndarray of shape (len(rows),)
        Each path's multiply-accumulates over the vanilla layer's, per row.
    """

    alpha: object
    layer: dict
    rows: list
    path_shares: dict

    @property
    def chosen(self):
        """The row of ``alpha``, or None."""
        return next((r for r in self.rows if r.alpha == self.alpha), None)

    def cells(self, mark):
        """The table as text, one list of 7 cells per row, ``mark`` after the chosen alpha.

        Columns: alpha, MACs counted, MACs by Table 1's formula, MACs printed
        in the paper, then the same three for memory; ratios to 5 decimals,
        the paper's whole percents, "-" where the paper prints none.
        """
        cells = []
        for r in self.rows:
            printed = cost.TABLE1_PRINTED.get(r.alpha)
            cells.append([f"{r.alpha:g}" + (f" {mark}" if r.alpha == self.alpha else ""),
                          f"{r.flops_counted:.5f}", f"{r.flops_theory:.5f}",
                          f"{printed[0]}%" if printed else "-",
                          f"{r.memory_counted:.5f}", f"{r.memory_theory:.5f}",
                          f"{printed[1]}%" if printed else "-"])
        return cells


def measure_cost(alpha=None, *, channels=64, kernel_size=3, height=56, width=56):
    """The cost step.

    Parameters
    ----------
    alpha : float in [0, 1], optional
    channels, kernel_size, height, width : int
        The layer counted: ``channels -> channels``, k x k, at H x W.

    Returns
    -------
    Cost
    """
    alpha = None if alpha is None else float(alpha) + 0.0
    layer = {"channels": channels, "kernel_size": kernel_size, "height": height, "width": width}
    alphas = sorted(set(cost.TABLE1_ALPHAS) | ({alpha} if alpha is not None else set()))
    rows = cost.table1(alphas, **layer)
    vanilla = cost.conv_cost(channels, channels, kernel_size, height, width).total_macs
    costs = [cost.octconv_cost(channels, channels, kernel_size, r.alpha, r.alpha, height, width)
             for r in rows]
    shares = {path: np.array([c.macs.get(path, 0) / vanilla for c in costs])
              for path in ("hh", "hl", "lh", "ll")}
    return Cost(alpha, layer, rows, shares)


# --------------------------------------------------------------------------- 6. one layer

@dataclass(frozen=True)
class Layer:
    """A first octave layer (alpha_in = 0 -> alpha_out = alpha) run on the image.

    Attributes
    ----------
    alpha : float
    high_filters, low_filters : tuple of str
        The filters of :data:`octref.frequency.FILTER_BANK` behind Y^H
        (weights ``w_hh``) and Y^L (``w_hl``): the first ``c_high`` and the
        last ``c_low``, by position, as every octave layer splits channels.
    shapes : dict of str to tuple
        ``"Y^H"`` and/or ``"Y^L"`` to the output's (N, C, H, W).
    stored, vanilla : int
        Output values of the octave layer and of a vanilla layer with the
        same filters.
    """

    alpha: float
    high_filters: tuple
    low_filters: tuple
    shapes: dict
    stored: int
    vanilla: int

    @property
    def ratio(self):
        """``stored / vanilla``."""
        return self.stored / self.vanilla

    @property
    def theory(self):
        """Table 1's memory ratio ``1 - 3/4 alpha`` at the alpha the split realises."""
        return 1 - 0.75 * len(self.low_filters) / (len(self.low_filters) + len(self.high_filters))


def measure_layer(image, alpha):
    """The layer step: :func:`octref.octconv_forward` with the filter bank as weights.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    alpha : float in [0, 1]

    Returns
    -------
    Layer
    """
    names = list(frequency.FILTER_BANK)
    c_high, c_low = split_channels(len(names), alpha)
    bank = np.stack([frequency.FILTER_BANK[n] for n in names])[:, None]
    weights = OctaveWeights(hh=bank[:c_high] if c_high else None,
                            hl=bank[c_high:] if c_low else None, lh=None, ll=None)
    image = np.asarray(image, dtype=np.float64)
    y, _ = octref.octconv_forward(Octave(image[None, None], None), weights)
    shapes = {name: out.shape for name, out in zip(("Y^H", "Y^L"), y) if out is not None}
    return Layer(float(alpha), tuple(names[:c_high]), tuple(names[c_high:]), shapes,
                 sum(math.prod(s) for s in shapes.values()), len(names) * image.size)


# --------------------------------------------------------------------------- 7. gradients

@dataclass(frozen=True)
class Gradients:
    """Gradient checks of each implementation's octave backward.

    Attributes
    ----------
    channels, size : int
        A ``channels -> channels`` 3x3 layer on a size x size input.
    alpha : float
    full_limit : int
        Arrays with at most this many values are checked element by element.
    results : dict of str to list of octref.gradcheck.GradCheckResult
        Per implementation in :data:`GRADCHECK_IMPLS`.
    """

    channels: int
    size: int
    alpha: float
    full_limit: int
    results: dict


def measure_gradients(alpha, channels=4, size=5, full_limit=40):
    """The gradient step: :func:`octref.gradcheck.check_octconv_gradients`, with bias.

    Parameters
    ----------
    alpha : float in [0, 1]
        alpha_in = alpha_out.
    channels, size : int
        Layer width and (odd, for ceil-mode pooling) input side.
    full_limit : int

    Returns
    -------
    Gradients
    """
    rng = np.random.default_rng(0)
    c_high, c_low = split_channels(channels, alpha)
    low_size = (size + 1) // 2
    x = Octave(rng.standard_normal((1, c_high, size, size)) if c_high else None,
               rng.standard_normal((1, c_low, low_size, low_size)) if c_low else None)
    w = init_octave_weights(channels, channels, 3, alpha, alpha, rng=rng)
    b = Octave(rng.standard_normal(c_high) if c_high else None,
               rng.standard_normal(c_low) if c_low else None)
    results = {impl: check_octconv_gradients(x, w, b, impl=impl, full_limit=full_limit,
                                             rng=np.random.default_rng(1))
               for impl in GRADCHECK_IMPLS}
    return Gradients(channels, size, float(alpha), full_limit, results)


# --------------------------------------------------------------------------- memory

#: Peak bytes the tour holds per pixel of the image it works on, beyond
#: :data:`BASE_BYTES`: about fifty-six float64 planes (bands, spectra, six
#: feature maps with their two octaves, round trips, complex cross spectra,
#: and what Matplotlib keeps while drawing them). Measured with tracemalloc
#: on the sample photograph at 300 x 256 and 600 x 512 px: 451 bytes per
#: added pixel; rounded up.
BYTES_PER_PIXEL = 600
#: Peak bytes of the tour on a tiny image (Matplotlib's own): 53 MB measured.
BASE_BYTES = 100 * 10 ** 6


def tour_bytes(shape):
    """Estimated peak memory of the tour on an image of this (H, W).

    Parameters
    ----------
    shape : (int, int)

    Returns
    -------
    int
        ``BASE_BYTES + BYTES_PER_PIXEL * H * W``.
    """
    return BASE_BYTES + BYTES_PER_PIXEL * shape[0] * shape[1]


# --------------------------------------------------------------------------- text

def _defined(value):
    return value is not None and math.isfinite(value)


def percent(value, digits=1):
    """``0.1234`` as ``"12.3%"``; NaN as ``"undefined"``."""
    return f"{100 * value:.{digits}f}%" if _defined(value) else "undefined"


def signed(value, digits=3):
    """``value`` with an explicit sign and never ``-0.000``; NaN as ``"undefined"``."""
    if not _defined(value):
        return "undefined"
    return f"{round(float(value), digits) + 0.0:+.{digits}f}"


def shift_text(shift, digits=3):
    """A (row, col) shift as ``"(+0.500, +0.500)"``; an undefined axis as ``"undefined"``.

    Both axes undefined print as one ``"undefined"``.
    """
    if not (_defined(shift[0]) or _defined(shift[1])):
        return "undefined"
    return f"({signed(shift[0], digits)}, {signed(shift[1], digits)})"


def shape_text(shape):
    """An image size, the one way the tour writes it: ``"300 x 256 px (H x W)"``."""
    return f"{shape[0]} x {shape[1]} px (H x W)"


def plural(count, word, many=None):
    """``"1 map"``, ``"3 maps"``: the count and the word, pluralised right."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
