"""How far a trip to the low group and back moves an image: pooling versus strided conv.

Section 3.3 and Table 3 of the paper: the H->L path can downsample by 2x2
average pooling (Eq. 4) or by a stride-2 convolution. Place high-resolution
pixel centres at integers. Low pixel p of a pooled map is the mean of high
pixels 2p and 2p + 1, centred at ``2p + 0.5``; a stride-2 convolution samples
high pixel ``2p``, half a pixel up and to the left of that centre. Nearest
upsampling, the way back (L->H), fills high pixel p from low pixel
``floor(p / 2)``, whatever the low pixel means.

The round trip ``R(X) = up(D(X))`` makes the difference measurable, per axis:

* pooling, ``R(X)[p] = (X[2m] + X[2m + 1]) / 2`` with ``m = floor(p / 2)``:
  content at an even pixel moves +0.5, at an odd pixel -0.5, on average 0;
* strided, ``R(X)[p] = X[2m]``: pixel p shows input pixel ``2m <= p``, so
  content moves +0.5 pixel on average, down and to the right, and an impulse
  on an odd row or column is lost entirely.

Every round trip here is computed by octref's own octave convolution
(:func:`octref.im2col.octconv_forward`) with 1x1 identity weights, so the
operator measured is the one the package implements. Shifts are (row, col),
positive down and to the right, and mean "content at position x appears at
x + shift".
"""

from dataclasses import dataclass

import numpy as np

from octref.contract import DOWNSAMPLE_MODES
from octref.im2col import octconv_forward
from octref.octave import Octave, OctaveWeights

__all__ = ["low_sample_position", "upsample_source", "round_trip",
           "centroid", "PhaseShifts", "impulse_shifts", "edge_shifts", "edge_position",
           "cross_power_spectrum", "shift_from_cross_power", "estimate_shift", "image_shifts"]

_ONE = np.ones((1, 1, 1, 1))
_PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


def _check_downsample(downsample):
    if downsample not in DOWNSAMPLE_MODES:
        raise ValueError(f"downsample must be one of {DOWNSAMPLE_MODES}, got {downsample!r}")


def low_sample_position(p, downsample):
    """Where low-resolution sample p sits on the high-resolution grid, in one axis.

    Parameters
    ----------
    p : int or ndarray of int
        Low-resolution index.
    downsample : {"avgpool", "strided"}

    Returns
    -------
    float or ndarray
        ``2p + 0.5`` (the centre of the pooled 2x2 block) or ``2p`` (the
        pixel a stride-2 convolution reads).
    """
    _check_downsample(downsample)
    return 2 * np.asarray(p) + (0.5 if downsample == "avgpool" else 0.0)


def upsample_source(p):
    """The low-resolution pixel nearest upsampling copies into high pixel p: ``floor(p / 2)``.

    Parameters
    ----------
    p : int or ndarray of int
        High-resolution index.

    Returns
    -------
    int or ndarray of int
    """
    return np.asarray(p) // 2


def round_trip(x, downsample):
    """H->L->H with octref's octave convolution and 1x1 identity weights: ``up(D(x))``.

    Layer 1 (alpha 0 -> 1) has only the H->L path, ``f(pool(X^H); 1)`` or,
    with ``downsample="strided"``, ``f(X^H; 1)`` at stride 2, that is
    ``X^H[::2, ::2]``. Layer 2 (alpha 1 -> 0) has only the L->H path,
    ``up(f(X^L; 1))``.

    Parameters
    ----------
    x : ndarray of shape (H, W)
    downsample : {"avgpool", "strided"}

    Returns
    -------
    ndarray of shape (H, W)
        ``up(pool(x))`` or ``up(x[::2, ::2])``.
    """
    _check_downsample(downsample)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (H, W), got shape {x.shape}")
    low, _ = octconv_forward(Octave(x[None, None], None), OctaveWeights(None, _ONE, None, None),
                             downsample=downsample)
    high, _ = octconv_forward(Octave(None, low.low), OctaveWeights(None, None, _ONE, None))
    # With no high input to set its size, layer 2 upsamples to 2 ceil(H/2): crop odd sides.
    return high.high[0, 0, :x.shape[0], :x.shape[1]]


def centroid(x):
    """Intensity-weighted centre of a non-negative map, (row, col).

    Parameters
    ----------
    x : ndarray of shape (H, W)

    Returns
    -------
    ndarray of shape (2,)
        ``sum(p * x) / sum(x)`` per axis; NaN when x sums to zero.
    """
    x = np.asarray(x, dtype=np.float64)
    mass = x.sum()
    if mass == 0:
        return np.full(2, np.nan)
    rows, cols = np.indices(x.shape)
    return np.array([(rows * x).sum(), (cols * x).sum()]) / mass


@dataclass(frozen=True)
class PhaseShifts:
    """Shifts measured at each sub-pixel phase of the input, and their average.

    Attributes
    ----------
    phases : ndarray of shape (P, 2)
        The parity (row % 2, col % 2) of the input position of each
        measurement.
    shifts : ndarray of shape (P, 2)
        (row, col) shift at each phase; NaN where the round trip lost the input.
    weights : ndarray of shape (P,)
        What each phase contributes to the mean (an impulse's surviving mass).
    mean : ndarray of shape (2,)
        ``sum(weights * shifts) / sum(weights)`` over the phases with weight > 0.
    """

    phases: np.ndarray
    shifts: np.ndarray
    weights: np.ndarray
    mean: np.ndarray


def _phase_mean(phases, shifts, weights):
    phases, shifts, weights = np.asarray(phases), np.asarray(shifts), np.asarray(weights, float)
    kept = weights > 0
    mean = (weights[kept, None] * shifts[kept]).sum(axis=0) / weights[kept].sum()
    return PhaseShifts(phases, shifts, weights, mean)


def impulse_shifts(downsample, size=8):
    """Shift of a unit impulse through the round trip, at each of its four phases.

    The impulse sits at ``(size // 2 + a, size // 2 + b)`` for a, b in {0, 1};
    its shift is the centroid of the response minus that position. The mean
    weighs each phase by the response's mass (its sum), so a phase the round
    trip drops (mass 0) counts for nothing: it is the centroid shift of the
    operator's response averaged over where an impulse may fall.

    Expected: pooling moves the four phases by (+-0.5, +-0.5), each with mass 1,
    mean (0, 0); strided sampling keeps only phase (0, 0), as a 2x2 block of
    mass 4 centred at +(0.5, 0.5), mean (0.5, 0.5).

    Parameters
    ----------
    downsample : {"avgpool", "strided"}
    size : int
        Side of the square test image, even, >= 6.

    Returns
    -------
    PhaseShifts
        ``weights`` are the response masses.
    """
    _check_downsample(downsample)
    _check_size(size)
    shifts, masses = [], []
    for a, b in _PHASES:
        position = np.array([size // 2 + a, size // 2 + b])
        impulse = np.zeros((size, size))
        impulse[tuple(position)] = 1.0
        response = round_trip(impulse, downsample)
        masses.append(response.sum())
        shifts.append(centroid(response) - position)
    return _phase_mean(_PHASES, shifts, masses)


def edge_shifts(downsample, size=8):
    """Shift of a step edge through the round trip, per axis and phase.

    A vertical step ``X[:, q] = [q > e]`` lies between columns e and e + 1, at
    ``e + 0.5``; its location after the round trip is the centroid of the
    response's column differences (each difference placed between the two
    columns it compares). The shift is the move of that location. Rows are
    measured the same way with a horizontal step. Both parities of e are
    used, with equal weight: even e puts the edge inside a 2x2 block (between
    pixels 2m and 2m + 1), odd e on a block boundary.

    Expected: pooling leaves the edge in place at both phases, mean (0, 0);
    strided sampling leaves an edge on a block boundary in place and moves
    one inside a block by +1 (both pixels of the block show pixel 2m, the
    dark side), mean (0.5, 0.5).

    Parameters
    ----------
    downsample : {"avgpool", "strided"}
    size : int
        Side of the square test image, even, >= 6.

    Returns
    -------
    PhaseShifts
        ``phases`` (e % 2, e % 2), even first; ``shifts[:, 0]`` from the
        horizontal edge, ``shifts[:, 1]`` from the vertical one; equal weights.
    """
    _check_downsample(downsample)
    _check_size(size)
    phases, shifts = [], []
    for parity in (0, 1):
        edge = edge_position(size, parity)
        step = (np.arange(size) > edge).astype(np.float64)
        shift = []
        for axis in (0, 1):
            image = np.broadcast_to(step[:, None] if axis == 0 else step[None, :],
                                    (size, size))
            difference = np.diff(round_trip(image, downsample), axis=axis).mean(axis=1 - axis)
            location = (np.arange(size - 1) + 0.5) @ difference / difference.sum()
            shift.append(location - (edge + 0.5))
        phases.append((parity, parity))
        shifts.append(shift)
    return _phase_mean(phases, shifts, np.ones(2))


def edge_position(size, parity):
    """The e of the step ``[q > e]`` of :func:`edge_shifts`: mid-image, ``e % 2 == parity``.

    Parameters
    ----------
    size : int
        Even side of the test image, >= 6.
    parity : {0, 1}

    Returns
    -------
    int
        ``2 floor((size / 2 - 1) / 2) + parity``.
    """
    return (size // 2 - 1) // 2 * 2 + parity


def _check_size(size):
    # 6 keeps the edge two pixels from the border, so pooling's blur stays inside.
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 6 or size % 2:
        raise ValueError(f"size must be an even int >= 6, got {size!r}")


def cross_power_spectrum(reference, moved):
    """``C(f) = F[moved](f) conj(F[reference](f))`` of the maps with their means removed.

    Parameters
    ----------
    reference, moved : ndarrays of shape (H, W), H, W >= 4

    Returns
    -------
    ndarray of shape (H, W), complex
        Unshifted (zero frequency at index (0, 0), as ``numpy.fft.fft2``).
    """
    reference = np.asarray(reference, dtype=np.float64)
    moved = np.asarray(moved, dtype=np.float64)
    if reference.shape != moved.shape or reference.ndim != 2 or min(reference.shape) < 4:
        raise ValueError(f"reference and moved must be 2-D of the same shape, at least 4 x 4, "
                         f"got {reference.shape} and {moved.shape}")
    return (np.fft.fft2(moved - moved.mean())
            * np.conj(np.fft.fft2(reference - reference.mean())))


def shift_from_cross_power(cross, cutoff=0.125):
    """The shift a cross-power spectrum encodes: whole pixels by peak, the fraction by phase slope.

    1. The whole-pixel shift ``n`` is the peak of the circular
       cross-correlation ``c = ifft2(C)``, ``c(s) ~ sum_p moved[p] reference[p - s]``.
    2. A shift s multiplies a spectrum by ``exp(-2 pi i f . s)``, so after
       removing n, the fraction d minimises
       ``sum_f |C(f)| (angle(C(f)) + 2 pi f . d)^2`` over the frequencies
       ``0 < |f| < cutoff``, where natural images keep most of their energy
       and the phase does not wrap.

    For a moved map that is a filtered copy of the reference, this is the
    filter's group delay at low frequencies, the centroid of its impulse
    response: the quantity :func:`impulse_shifts` measures.

    Parameters
    ----------
    cross : ndarray of shape (H, W), complex
        From :func:`cross_power_spectrum` (or an average of several).
    cutoff : float
        Highest frequency used for the fraction, in cycles per pixel (at
        least the lowest non-zero frequency, 1 / min(H, W)).

    Returns
    -------
    ndarray of shape (2,)
        (row, col) shift, positive when ``moved`` shows the content of
        ``reference`` further down / right.
    """
    correlation = np.fft.ifft2(cross).real
    peak = np.array(np.unravel_index(np.argmax(correlation), correlation.shape))
    size = np.array(correlation.shape)
    whole = np.where(peak <= size // 2, peak, peak - size)

    f_row, f_col = np.meshgrid(np.fft.fftfreq(size[0]), np.fft.fftfreq(size[1]), indexing="ij")
    residual = cross * np.exp(2j * np.pi * (f_row * whole[0] + f_col * whole[1]))
    # A small map may have no frequency below the cutoff on one axis; its
    # first harmonic (1 / side) is then used, still far from phase wrapping.
    radius = np.hypot(f_row, f_col)
    used = (radius > 0) & (radius <= max(cutoff, 1.0 / size.min()))
    weight = np.abs(residual[used])
    design = 2 * np.pi * np.stack([f_row[used], f_col[used]], axis=1)
    normal = design.T @ (weight[:, None] * design)
    if abs(np.linalg.det(normal)) <= 1e-12 * max(np.trace(normal) ** 2, 1e-300):
        raise ValueError("the maps have no energy at low frequencies along both axes "
                         "(constant in a direction?): their shift cannot be measured")
    fraction = np.linalg.solve(normal, -design.T @ (weight * np.angle(residual[used])))
    return whole + fraction


def estimate_shift(reference, moved, cutoff=0.125):
    """Sub-pixel shift that best maps ``reference`` onto ``moved``.

    :func:`shift_from_cross_power` of :func:`cross_power_spectrum`. Exact for
    a whole-pixel circular shift and for a Fourier (sub-pixel) shift of a
    periodic map.

    Parameters
    ----------
    reference, moved : ndarrays of shape (H, W), H, W >= 4
    cutoff : float
        In cycles per pixel, see :func:`shift_from_cross_power`.

    Returns
    -------
    ndarray of shape (2,)
        (row, col) shift, positive when ``moved`` shows the content of
        ``reference`` further down / right.
    """
    return shift_from_cross_power(cross_power_spectrum(reference, moved), cutoff)


def image_shifts(image, downsample):
    """Shift of a real image through the round trip, at four phases and on average.

    The image is cropped to even sides and rolled circularly by (a, b) pixels,
    a, b in {0, 1}, so its content falls on each parity in turn; each rolled
    copy goes through :func:`round_trip`.

    * ``shifts[i]``: :func:`estimate_shift` of phase i alone. These scatter
      by a few hundredths of a pixel around the mean, image-dependent: the
      round trip also aliases high frequencies, and the alias terms of the
      cross-power spectrum have the image's own phases.
    * ``mean``: the shift of the cross-power spectrum averaged over the four
      phases. Rolling by one pixel flips the sign of each alias term, so the
      average cancels them and measures the phase-averaged operator alone:
      ``cos^2`` filters with no delay for pooling, a delay of exactly
      (0.5, 0.5) for strided sampling.

    Parameters
    ----------
    image : ndarray of shape (H, W), H, W >= 4
    downsample : {"avgpool", "strided"}

    Returns
    -------
    PhaseShifts
        Equal ``weights``; ``mean`` from the averaged spectrum, as above.
    """
    _check_downsample(downsample)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 4:
        raise ValueError(f"image must be 2-D and at least 4 x 4, got shape {image.shape}")
    even = image[:image.shape[0] // 2 * 2, :image.shape[1] // 2 * 2]
    crosses = []
    for a, b in _PHASES:
        rolled = np.roll(even, (-a, -b), axis=(0, 1))
        crosses.append(cross_power_spectrum(rolled, round_trip(rolled, downsample)))
    shifts = [shift_from_cross_power(cross) for cross in crosses]
    mean = shift_from_cross_power(sum(crosses) / len(crosses))
    return PhaseShifts(np.array(_PHASES), np.array(shifts), np.ones(len(_PHASES)), mean)
