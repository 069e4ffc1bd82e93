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
(:func:`octref.octconv_forward`) with 1x1 identity weights, so the
operator measured is the one the package implements. Shifts are (row, col),
positive down and to the right, and mean "content at position x appears at
x + shift".
"""

from dataclasses import dataclass

import numpy as np

from octref import octconv_forward
from octref.checks import check_choice, check_int
from octref.contract import DOWNSAMPLE_MODES
from octref.octave import Octave, OctaveWeights

__all__ = ["low_sample_position", "upsample_source", "round_trip",
           "centroid", "PhaseShifts", "impulse_shifts", "edge_shifts", "edge_position",
           "cross_power_spectrum", "MAX_SHIFT", "CUTOFF", "shift_from_cross_power",
           "estimate_shift", "ImageShifts", "image_shifts"]

_ONE = np.ones((1, 1, 1, 1))
_PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


def _check_downsample(downsample):
    return check_choice(downsample, "downsample", DOWNSAMPLE_MODES)


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
    if check_int(size, "size", minimum=6) % 2:
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


#: Highest shift, in pixels along each axis, :func:`shift_from_cross_power` measures.
MAX_SHIFT = 1.0
#: Radius of the disc of frequencies the shift is read from, in cycles per pixel:
#: the half-resolution Nyquist frequency, the most a round trip can carry through.
CUTOFF = 0.25
# Cross-power below this share of the total is round-off, not signal.
_NEGLIGIBLE = 1e-12


def shift_from_cross_power(cross, cutoff=CUTOFF):
    """The shift, at most one pixel per axis, that a cross-power spectrum encodes.

    A shift s multiplies a spectrum by ``exp(-2 pi i f . s)``, so the shift
    is the phase slope: the d that minimises
    ``sum_f |C(f)| (angle(C(f)) + 2 pi f . d)^2`` over the frequencies
    ``0 < |f| < cutoff`` that hold more than round-off.

    Why this cannot wrap around a period. A periodic image matches itself
    shifted by any whole number of periods, so a method that searches for the
    best whole-pixel shift (the peak of the cross-correlation) may land a
    period away: on a grating of period 4.46 px it reported a strided round
    trip as moving the content 18 px. This estimator searches nothing: it
    assumes ``|s| <= MAX_SHIFT = 1`` px per axis, which every round trip
    obeys (each output pixel reads only its own 2x2 block), and at
    ``|f| < 0.25`` such a shift turns the phase by at most
    ``2 pi 0.25 sqrt(2) = 2.22 < pi`` rad, so each phase, and the fit, is
    unambiguous.

    For a moved map that is a filtered copy of the reference, this is the
    filter's group delay weighted by the map's spectrum, the centroid of its
    impulse response for a linear-phase filter: what :func:`impulse_shifts`
    measures.

    Parameters
    ----------
    cross : ndarray of shape (H, W), complex
        From :func:`cross_power_spectrum` (or an average of several).
    cutoff : float in (0, 0.25]
        Radius of the frequency disc used, in cycles per pixel.

    Returns
    -------
    ndarray of shape (2,)
        (row, col) shift, positive when ``moved`` shows the content of
        ``reference`` further down / right. NaN along an axis (or both) when
        no frequency in the disc holds energy along it: a map constant down
        its columns has no row shift, the round trip of a one-pixel
        checkerboard is constant and has none.
    """
    if not 0 < cutoff <= CUTOFF:
        raise ValueError(f"cutoff must be in (0, {CUTOFF}] cycles per pixel, got {cutoff!r}")
    cross = np.asarray(cross)
    f_row, f_col = np.meshgrid(np.fft.fftfreq(cross.shape[0]), np.fft.fftfreq(cross.shape[1]),
                               indexing="ij")
    radius = np.hypot(f_row, f_col)
    weight = np.abs(cross)
    used = (radius > 0) & (radius < cutoff) & (weight > _NEGLIGIBLE * weight.sum())
    weight = weight[used]
    design = 2 * np.pi * np.stack([f_row[used], f_col[used]], axis=1)
    normal = design.T @ (weight[:, None] * design)
    rhs = -design.T @ (weight * np.angle(cross[used]))
    shift = np.full(2, np.nan)
    eigenvalues, eigenvectors = np.linalg.eigh(normal)
    if eigenvalues[1] <= 0:
        return shift
    if eigenvalues[0] > 1e-9 * eigenvalues[1]:
        return np.linalg.solve(normal, rhs)
    # Energy along one direction only: the shift along that direction alone
    # is defined, and it is an axis shift only when the direction is an axis.
    direction = eigenvectors[:, 1]
    for axis in (0, 1):
        if abs(direction[1 - axis]) < 1e-9:
            shift[axis] = rhs[axis] / normal[axis, axis]
    return shift


def estimate_shift(reference, moved, cutoff=CUTOFF):
    """Sub-pixel shift, at most one pixel per axis, that best maps ``reference`` onto ``moved``.

    :func:`shift_from_cross_power` of :func:`cross_power_spectrum`. Exact for
    a Fourier (sub-pixel) shift of a periodic map by up to one pixel per
    axis; a larger shift is outside what it measures (see
    :func:`shift_from_cross_power`).

    Parameters
    ----------
    reference, moved : ndarrays of shape (H, W), H, W >= 4
    cutoff : float in (0, 0.25]
        In cycles per pixel, see :func:`shift_from_cross_power`.

    Returns
    -------
    ndarray of shape (2,)
        (row, col) shift, positive when ``moved`` shows the content of
        ``reference`` further down / right; NaN along an axis it cannot see.
    """
    return shift_from_cross_power(cross_power_spectrum(reference, moved), cutoff)


@dataclass(frozen=True)
class ImageShifts(PhaseShifts):
    """:class:`PhaseShifts` of an image, with what the measurement rests on.

    Attributes
    ----------
    energy_used : float in [0, 1]
        Share of the image's energy (mean removed) at the frequencies
        ``0 < |f| < 0.25`` the shift is read from; NaN for a constant image.
    undefined : str
        Why ``mean`` is NaN along an axis, or "" when it is defined.
    """

    energy_used: float = np.nan
    undefined: str = ""


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
      ``cos^2(pi f)`` per axis with no delay for pooling,
      ``exp(-i pi f) cos(pi f)``, a delay of exactly 0.5 px, for strided
      sampling. The mean is therefore exact for every image that has energy
      below 0.25 cycles/px along both axes, periodic textures included (the
      estimator cannot wrap around a period, see
      :func:`shift_from_cross_power`).

    Parameters
    ----------
    image : ndarray of shape (H, W), H, W >= 4
    downsample : {"avgpool", "strided"}

    Returns
    -------
    ImageShifts
        Equal ``weights``; ``mean`` from the averaged spectrum, as above;
        NaN along an axis the image gives no handle on, with the reason in
        ``undefined``.
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
    energy_used = _energy_used(even)
    return ImageShifts(np.array(_PHASES), np.array(shifts), np.ones(len(_PHASES)), mean,
                       energy_used, _why_undefined(even, mean, energy_used))


def _energy_used(image):
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    f_row, f_col = np.meshgrid(np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]),
                               indexing="ij")
    total = power.sum()
    return float(power[np.hypot(f_row, f_col) < CUTOFF].sum() / total) if total > 0 else np.nan


def _why_undefined(image, mean, energy_used):
    missing = [axis for axis, value in zip(("row", "column"), mean) if np.isnan(value)]
    if not missing:
        return ""
    if np.ptp(image) == 0:
        return "the image is uniform: there is no content to follow"
    if not energy_used > 0:
        return ("the image has no energy below 0.25 cycles/px, so the round trip keeps "
                "nothing of it: no content survives to be located")
    if len(missing) == 2:
        return ("below 0.25 cycles/px the image varies along one slanted direction only: "
                "the shift along it can be seen, not its row and column parts")
    return (f"the image does not change from {missing[0]} to {missing[0]} (below 0.25 "
            f"cycles/px): a {missing[0]} shift cannot be seen")
