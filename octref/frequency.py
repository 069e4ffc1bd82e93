"""Where the frequencies go: the octave split of a map and its spectrum.

The premise of Section 3.1: a feature map X splits into a smooth part that
half the resolution holds, and a remainder::

    X = up(pool(X)) + (X - up(pool(X))) = low + high.

``up(pool(.))`` replaces each 2x2 block by its mean. It is the orthogonal
projection onto maps that are constant on 2x2 blocks, so ``low`` and ``high``
are orthogonal and their energies add up: ``|X|^2 = |low|^2 + |high|^2``.
Repeating the split on ``pool(X)`` gives octave bands, each brought back to
full resolution by nearest upsampling; their sum telescopes back to X.

Spectra are discrete Fourier transforms of the map with its mean removed, in
cycles per pixel: the full-resolution grid resolves up to 0.5 (Nyquist), the
half-resolution grid up to 0.25. So the share of spectral energy at radius
``|f| < 0.25`` says how much of a map the low group could represent.
"""

from typing import NamedTuple

import numpy as np

from octref import conv_forward
from octref.checks import check_int
from octref.sampling import pool2x2, upsample2x_nearest

__all__ = ["HALF_RES_NYQUIST", "FILTER_BANK", "octave_split", "octave_bands", "power_spectrum",
           "radial_frequency", "energy_fraction_below", "radial_energy_profile",
           "HighPartBelowNyquist", "high_part_below_nyquist",
           "high_energy_fraction", "filter_responses"]

HALF_RES_NYQUIST = 0.25
"""Highest frequency, in cycles per full-resolution pixel, a half-resolution map holds."""

FILTER_BANK = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "3x3 mean": np.full((3, 3), 1 / 9),
    "Sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64) / 4,
    "Sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64) / 4,
    "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),
    "checkerboard": np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64) / 4,
}
"""Six fixed 3x3 filters, from smooth to sharp, each of shape (3, 3).

They stand in for a first layer's learned filters: a smoothing filter, two
edge detectors (Sobel x responds to vertical edges), a Laplacian and the
highest-frequency 3x3 pattern, whose response lives almost entirely above the
half-resolution Nyquist frequency.
"""


def octave_split(x):
    """One octave split: ``low = up(pool(x))`` and ``high = x - low``.

    Parameters
    ----------
    x : ndarray of shape (..., H, W)

    Returns
    -------
    low : ndarray of shape (..., H, W)
        Each 2x2 block replaced by its mean (ceil mode: the in-bounds pixels of
        a block at an odd edge).
    high : ndarray of shape (..., H, W)
        The remainder, ``x - low``; it sums to zero over every block.
    """
    x = np.asarray(x, dtype=np.float64)
    low = upsample2x_nearest(pool2x2(x), x.shape[-2:])
    return low, x - low


def octave_bands(x, levels):
    """Split x into ``levels`` octave bands and a low-pass residual, all at full resolution.

    With ``L_l = U^l(P^l(x))``, ``P`` = :func:`~octref.sampling.pool2x2` and ``U``
    the matching nearest upsampling back to the size each pooling started from,
    band l is ``L_l - L_(l+1)`` and the residual is ``L_levels``. Band 0 is
    the ``high`` of :func:`octave_split`; the bands and the residual sum back
    to x (the sum telescopes). When H and W divide by ``2^levels`` the bands
    are also mutually orthogonal, so their energies add up to that of x; at
    other sizes, pooling a pooled map weighs a partial block like a full one
    and the energies add up only nearly.

    Parameters
    ----------
    x : ndarray of shape (H, W)
    levels : int, >= 1

    Returns
    -------
    list of ``levels + 1`` ndarrays of shape (H, W)
        ``[band_0, ..., band_(levels-1), residual]``, finest first.
    """
    levels = check_int(levels, "levels", minimum=1)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (H, W), got shape {x.shape}")
    sizes = [x.shape]
    pooled = [x]
    for _ in range(levels):
        pooled.append(pool2x2(pooled[-1]))
        sizes.append(pooled[-1].shape)

    def to_full(level):
        # Walk back up through the same sizes, so odd sides crop correctly.
        out = pooled[level]
        for size in reversed(sizes[:level]):
            out = upsample2x_nearest(out, size)
        return out

    lows = [to_full(level) for level in range(levels + 1)]
    return [lows[level] - lows[level + 1] for level in range(levels)] + [lows[levels]]


def power_spectrum(x):
    """Centred power spectrum of x with its mean removed.

    ``S = |fftshift(fft2(x - mean(x)))|^2 / (H W)``, so that by Parseval
    ``S.sum() == ((x - mean(x))**2).sum()``: the spectrum splits the map's
    energy about its mean among frequencies. No window is applied; the
    borders of a photograph add a faint cross through the centre.

    Parameters
    ----------
    x : ndarray of shape (H, W)

    Returns
    -------
    ndarray of shape (H, W)
        Zero frequency at index (H // 2, W // 2).
    """
    x = np.asarray(x, dtype=np.float64)
    spectrum = np.fft.fftshift(np.fft.fft2(x - x.mean()))
    return np.abs(spectrum) ** 2 / x.size


def radial_frequency(shape):
    """Distance of each centred DFT bin from zero frequency, in cycles per pixel.

    Parameters
    ----------
    shape : (int, int)
        (H, W).

    Returns
    -------
    ndarray of shape (H, W)
        ``sqrt(f_row^2 + f_col^2)``, laid out like :func:`power_spectrum`;
        from 0 at the centre to sqrt(0.5) ~ 0.707 at the corners.
    """
    f_row = np.fft.fftshift(np.fft.fftfreq(shape[0]))
    f_col = np.fft.fftshift(np.fft.fftfreq(shape[1]))
    return np.hypot(f_row[:, None], f_col[None, :])


def energy_fraction_below(x, cutoff=HALF_RES_NYQUIST):
    """Share of x's spectral energy (mean removed) at radius below ``cutoff``.

    Parameters
    ----------
    x : ndarray of shape (H, W)
    cutoff : float
        In cycles per pixel; the default 0.25 is the Nyquist frequency of the
        half-resolution grid.

    Returns
    -------
    float in [0, 1]
        0 for a constant map.
    """
    power = power_spectrum(x)
    total = power.sum()
    if total == 0:
        return 0.0
    return float(power[radial_frequency(power.shape) < cutoff].sum() / total)


def radial_energy_profile(x, bins=32):
    """Spectral energy of x (mean removed) per ring of radial frequency.

    Parameters
    ----------
    x : ndarray of shape (H, W)
    bins : int
        Number of equal-width rings between 0 and sqrt(0.5) cycles per pixel.

    Returns
    -------
    edges : ndarray of shape (bins + 1,)
        Ring boundaries in cycles per pixel.
    density : ndarray of shape (bins,)
        Mean power per DFT bin in each ring, so rings of different area
        compare fairly. The zero-frequency bin (the mean, removed) is left
        out; a ring with no DFT bin in it, as happens near the centre of a
        small map's spectrum, is NaN. ``nansum(density * count)`` over the
        rings is the energy of x about its mean.
    """
    power = power_spectrum(x)
    radius = radial_frequency(power.shape)
    edges = np.linspace(0.0, np.sqrt(0.5), bins + 1)
    ring = np.clip(np.digitize(radius.ravel(), edges) - 1, 0, bins - 1)
    keep = radius.ravel() > 0
    energy = np.bincount(ring[keep], weights=power.ravel()[keep], minlength=bins)
    count = np.bincount(ring[keep], minlength=bins)
    return edges, np.divide(energy, count, out=np.full(bins, np.nan), where=count > 0)


class HighPartBelowNyquist(NamedTuple):
    """Where the energy of ``high = x - up(pool(x))`` below 0.25 cycles/px comes from.

    Every field is a share of the high part's whole energy (mean removed);
    ``total = passed + aliased + cross``.
    """

    total: float
    """Share of the high part's energy at ``|f| < 0.25``."""
    passed: float
    """The image's own content there, let through by ``1 - cos^2(pi f_r) cos^2(pi f_c)``."""
    aliased: float
    """Content from above 0.25 folded below it by pooling and nearest upsampling."""
    cross: float
    """Twice the real inner product of the two (they are not orthogonal)."""


def high_part_below_nyquist(x, cutoff=HALF_RES_NYQUIST):
    """Why the high part of a map keeps energy below the half-resolution Nyquist frequency.

    The round trip ``up(pool(.))`` is not an ideal low-pass filter. Averaged
    over the four 2x2 phases it is the filter ``cos^2(pi f_r) cos^2(pi f_c)``
    (per axis, pooling's ``exp(i pi f) cos(pi f)`` times upsampling's
    conjugate), so the high part ``x - up(pool(x))`` holds
    ``(1 - cos^2(pi f_r) cos^2(pi f_c)) X(f)``: at ``f = (0.2, 0)``, still
    35 % of the image's amplitude. What remains of ``high`` is aliasing: a
    2x2 block mean folds content from ``f + (1/2, 0)``, ``f + (0, 1/2)`` and
    ``f + (1/2, 1/2)`` onto f, and nearest upsampling repeats it. This splits
    the high part's energy below ``cutoff`` into those two terms.

    Parameters
    ----------
    x : ndarray of shape (H, W)
        Not constant.
    cutoff : float
        In cycles per pixel.

    Returns
    -------
    HighPartBelowNyquist
        Shares of the high part's energy; NaN when the high part is zero.
    """
    x = np.asarray(x, dtype=np.float64)
    _, high = octave_split(x)
    f_row = np.fft.fftfreq(x.shape[0])[:, None]
    f_col = np.fft.fftfreq(x.shape[1])[None, :]
    passed = ((1 - np.cos(np.pi * f_row) ** 2 * np.cos(np.pi * f_col) ** 2)
              * np.fft.fft2(x - x.mean()))
    actual = np.fft.fft2(high - high.mean())
    aliased = actual - passed
    whole = (np.abs(actual) ** 2).sum()
    if whole == 0:
        return HighPartBelowNyquist(*[np.nan] * 4)
    below = np.hypot(f_row, f_col) < cutoff

    def share(values):
        return float(values[below].sum() / whole)

    return HighPartBelowNyquist(share(np.abs(actual) ** 2), share(np.abs(passed) ** 2),
                                share(np.abs(aliased) ** 2),
                                share(2 * np.real(passed * np.conj(aliased))))


def high_energy_fraction(x):
    """Share of a map's variance that half resolution loses: ``|high|^2 / |x - mean|^2``.

    Parameters
    ----------
    x : ndarray of shape (..., H, W)

    Returns
    -------
    ndarray of shape (...)
        One number in [0, 1] per map (0 for a constant map): small for a
        smooth map that the low group could hold, near 1 for a map made of
        pixel-scale detail.
    """
    x = np.asarray(x, dtype=np.float64)
    _, high = octave_split(x)
    variance = ((x - x.mean(axis=(-2, -1), keepdims=True)) ** 2).sum(axis=(-2, -1))
    lost = (high ** 2).sum(axis=(-2, -1))
    return np.divide(lost, variance, out=np.zeros_like(lost), where=variance > 0)


def filter_responses(image, filters=None):
    """The feature maps of one convolution layer on a grayscale image.

    ``maps[c] = f(image; filters[c])``, a stride-1 cross-correlation with zero
    padding (k - 1) / 2 by :func:`octref.conv_forward`, so each map has the
    size of the image.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    filters : dict of str to ndarray of shape (k, k), k odd, optional
        :data:`FILTER_BANK` when omitted.

    Returns
    -------
    names : list of str
        The filters' names, in order.
    maps : ndarray of shape (C, H, W)
        One feature map per filter.
    """
    filters = FILTER_BANK if filters is None else filters
    names = list(filters)
    weights = np.stack([np.asarray(filters[name], dtype=np.float64) for name in names])
    k = weights.shape[-1]
    maps, _ = conv_forward(np.asarray(image, dtype=np.float64)[None, None], weights[:, None],
                           padding=(k - 1) // 2)
    return names, maps[0]
