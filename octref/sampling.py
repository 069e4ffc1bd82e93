"""Moving between octaves: 2x2 average pooling, nearest upsampling, and their adjoints.

These are the "pool" and "upsample" of Eq. 4. Each forward has its adjoint
(transpose) right below it; the backward pass of a linear map is its adjoint,
``<A x, y> = <x, A^T y>``, and the tests check exactly that identity.

Pooling is the official code's: 2x2 windows, stride 2, ceil mode, and the mean
is taken over the in-bounds pixels only, so an odd side of 2m + 1 pixels pools
to m + 1 and the last window averages 2 (or, in the corner, 1) pixels instead
of 4. The pooled sample sits at the centre of its block, ``2p + 0.5`` on the
high-resolution grid. Nearest upsampling is its partner: high pixel ``p`` reads
low pixel ``floor(p / 2)``, cropped to the high size.

Dtypes as everywhere in octref: integer and boolean maps give float64, float16
is summed in float32 and rounded back. Each function checks its sizes and
names the argument that does not fit.
"""

import numpy as np

from octref.checks import check_pair, real_array
from octref.octave import ceil_half

__all__ = ["pool2x2", "pool2x2_backward", "upsample2x_nearest", "upsample2x_nearest_backward"]


def _pool_counts(height, width, dtype):
    """(ceil(H/2), ceil(W/2)) array of how many in-bounds pixels each 2x2 window holds."""
    rows = np.minimum(2, height - 2 * np.arange((height + 1) // 2))
    cols = np.minimum(2, width - 2 * np.arange((width + 1) // 2))
    return np.outer(rows, cols).astype(dtype)


def _as_float(x, name):
    """(x in its compute dtype, the output dtype), or a TypeError / ValueError naming x.

    Integer and boolean maps compute in float64; float16 computes in float32
    (a 2x2 sum of float16 values overflows long before their mean does) and is
    rounded back at the end, as everywhere in octref.
    """
    x = real_array(x, name)
    if x.ndim < 2 or min(x.shape[-2:]) == 0:
        raise ValueError(f"{name} must have at least 2 dimensions (..., H, W) with H, W >= 1, "
                         f"got shape {x.shape}")
    if x.dtype.kind != "f":
        return x.astype(np.float64), np.dtype(np.float64)
    if x.dtype == np.float16:
        return x.astype(np.float32), x.dtype
    return x, x.dtype


def _pair_sums(x, axis):
    """Sums of neighbouring pairs (2m, 2m + 1) along ``axis`` (-1 or -2), ceil mode.

    Strided slices added elementwise: a reshape to (..., h, 2, w, 2) summed
    over two axes does the same work about ten times slower in NumPy. An odd
    last pixel has no partner and is kept alone.
    """
    even = x[..., ::2] if axis == -1 else x[..., ::2, :]
    odd = x[..., 1::2] if axis == -1 else x[..., 1::2, :]
    if even.shape == odd.shape:
        return even + odd
    sums = even.copy()
    if axis == -1:
        sums[..., :odd.shape[-1]] += odd
    else:
        sums[..., :odd.shape[-2], :] += odd
    return sums


def _check_halves(name_small, small, name_big, big):
    """ValueError unless ``small`` == (ceil(H/2), ceil(W/2)) for ``big`` = (H, W)."""
    expected = (ceil_half(big[0]), ceil_half(big[1]))
    if tuple(small) != expected:
        raise ValueError(f"{name_small} must be (ceil(H/2), ceil(W/2)) = {expected} for "
                         f"{name_big} (H, W) = {tuple(big)}, got {tuple(small)}")


def pool2x2(x):
    """2x2 average pooling, stride 2, ceil mode, mean over in-bounds pixels.

    ``y[..., p, q] = mean{ x[..., 2p + a, 2q + b] : a, b in {0, 1}, in bounds }``,
    the value at the block centre ``(2p + 0.5, 2q + 0.5)``.

    Parameters
    ----------
    x : ndarray of shape (..., H, W)
        Integer and boolean input is averaged in float64, float16 in float32.

    Returns
    -------
    ndarray of shape (..., ceil(H/2), ceil(W/2))
        The dtype of x (float64 for integer and boolean x).
    """
    x, out_dtype = _as_float(x, "x")
    height, width = x.shape[-2:]
    sums = _pair_sums(_pair_sums(x, -2), -1)
    if height % 2 == 0 and width % 2 == 0:
        sums *= x.dtype.type(0.25)
    else:
        sums = sums / _pool_counts(height, width, x.dtype)
    return sums.astype(out_dtype, copy=False)


def pool2x2_backward(dy, in_size):
    """Adjoint of :func:`pool2x2`: spread each gradient evenly over its window.

    ``dx[..., r, c] = dy[..., r // 2, c // 2] / count(r // 2, c // 2)``, where
    count is the number of in-bounds pixels of that window (4 inside, 2 on an
    odd edge, 1 in an odd corner).

    Parameters
    ----------
    dy : ndarray of shape (..., ceil(H/2), ceil(W/2))
        Integer and boolean input is computed in float64, float16 in float32.
    in_size : (int, int)
        (H, W), the size of the map that was pooled.

    Returns
    -------
    ndarray of shape (..., H, W)

    Raises
    ------
    ValueError
        When dy's spatial size is not (ceil(H/2), ceil(W/2)).
    """
    dy, out_dtype = _as_float(dy, "dy")
    height, width = check_pair(in_size, "in_size", 1)
    _check_halves("dy's spatial size", dy.shape[-2:], "in_size", (height, width))
    if height % 2 == 0 and width % 2 == 0:
        share = dy * dy.dtype.type(0.25)
    else:
        share = dy / _pool_counts(height, width, dy.dtype)
    return _repeat2x2(share, (height, width)).astype(out_dtype, copy=False)


def _repeat2x2(x, out_size):
    """Pixel (r, c) of x copied to (2r + a, 2c + b), a, b in {0, 1}, cropped to out_size.

    Four strided assignments, one per parity (a, b): faster in NumPy than
    materialising a broadcast (..., h, 2, w, 2) view.
    """
    height, width = out_size
    out = np.empty(x.shape[:-2] + (height, width), dtype=x.dtype)
    for a in (0, 1):
        for b in (0, 1):
            part = out[..., a::2, b::2]
            part[...] = x[..., :part.shape[-2], :part.shape[-1]]
    return out


def upsample2x_nearest(x, out_size):
    """Nearest-neighbour upsampling by 2, cropped to ``out_size``.

    ``y[..., p, q] = x[..., p // 2, q // 2]``.

    Parameters
    ----------
    x : ndarray of shape (..., h, w)
        Integer and boolean input gives float64 (as everywhere in octref).
    out_size : (int, int)
        (H, W) with ceil(H/2) == h and ceil(W/2) == w, i.e. H in {2h - 1, 2h}.

    Returns
    -------
    ndarray of shape (..., H, W)

    Raises
    ------
    ValueError
        When x's spatial size is not (ceil(H/2), ceil(W/2)) for out_size.
    """
    x, out_dtype = _as_float(x, "x")
    out_size = check_pair(out_size, "out_size", 1)
    _check_halves("x's spatial size", x.shape[-2:], "out_size", out_size)
    return _repeat2x2(x, out_size).astype(out_dtype, copy=False)


def upsample2x_nearest_backward(dy, in_size):
    """Adjoint of :func:`upsample2x_nearest`: sum each 2x2 block of the gradient.

    ``dx[..., r, c] = sum{ dy[..., 2r + a, 2c + b] : a, b in {0, 1}, in bounds }``.

    Parameters
    ----------
    dy : ndarray of shape (..., H, W)
        Integer and boolean input is summed in float64, float16 in float32.
    in_size : (int, int)
        (h, w) = (ceil(H/2), ceil(W/2)), the size of the map that was upsampled.

    Returns
    -------
    ndarray of shape (..., h, w)

    Raises
    ------
    ValueError
        When in_size is not (ceil(H/2), ceil(W/2)) for dy's spatial size.
    """
    dy, out_dtype = _as_float(dy, "dy")
    in_size = check_pair(in_size, "in_size", 1)
    _check_halves("in_size", in_size, "dy's spatial size", dy.shape[-2:])
    return _pair_sums(_pair_sums(dy, -2), -1).astype(out_dtype, copy=False)
