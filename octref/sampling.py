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
"""

import numpy as np

__all__ = ["pool2x2", "pool2x2_backward", "upsample2x_nearest", "upsample2x_nearest_backward"]


def _pool_counts(height, width, dtype):
    """(ceil(H/2), ceil(W/2)) array of how many in-bounds pixels each 2x2 window holds."""
    rows = np.minimum(2, height - 2 * np.arange((height + 1) // 2))
    cols = np.minimum(2, width - 2 * np.arange((width + 1) // 2))
    return np.outer(rows, cols).astype(dtype)


def _as_float(x):
    """x as a float array: integer and boolean maps average in float64."""
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        return x.astype(np.float64)
    if x.dtype.kind != "f":
        raise TypeError(f"expected a real numeric array, got dtype {x.dtype}")
    return x


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


def pool2x2(x):
    """2x2 average pooling, stride 2, ceil mode, mean over in-bounds pixels.

    ``y[..., p, q] = mean{ x[..., 2p + a, 2q + b] : a, b in {0, 1}, in bounds }``,
    the value at the block centre ``(2p + 0.5, 2q + 0.5)``.

    Parameters
    ----------
    x : ndarray of shape (..., H, W)
        Integer and boolean input is averaged in float64.

    Returns
    -------
    ndarray of shape (..., ceil(H/2), ceil(W/2))
    """
    x = _as_float(x)
    height, width = x.shape[-2:]
    sums = _pair_sums(_pair_sums(x, -2), -1)
    if height % 2 == 0 and width % 2 == 0:
        sums *= x.dtype.type(0.25)
        return sums
    return sums / _pool_counts(height, width, x.dtype)


def pool2x2_backward(dy, in_size):
    """Adjoint of :func:`pool2x2`: spread each gradient evenly over its window.

    ``dx[..., r, c] = dy[..., r // 2, c // 2] / count(r // 2, c // 2)``, where
    count is the number of in-bounds pixels of that window (4 inside, 2 on an
    odd edge, 1 in an odd corner).

    Parameters
    ----------
    dy : ndarray of shape (..., ceil(H/2), ceil(W/2))
        Integer and boolean input is computed in float64.
    in_size : (int, int)
        (H, W), the size of the map that was pooled.

    Returns
    -------
    ndarray of shape (..., H, W)
    """
    dy = _as_float(dy)
    height, width = in_size
    if height % 2 == 0 and width % 2 == 0:
        share = dy * dy.dtype.type(0.25)
    else:
        share = dy / _pool_counts(height, width, dy.dtype)
    return _repeat2x2(share, (height, width))


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
    out_size : (int, int)
        (H, W) with ceil(H/2) == h and ceil(W/2) == w, i.e. H in {2h - 1, 2h}.

    Returns
    -------
    ndarray of shape (..., H, W)
    """
    height, width = out_size
    if ((height + 1) // 2, (width + 1) // 2) != x.shape[-2:]:
        raise ValueError(f"out_size must be (2h or 2h - 1, 2w or 2w - 1) for x of spatial size "
                         f"{x.shape[-2:]}, got {tuple(out_size)}")
    return _repeat2x2(x, (height, width))


def upsample2x_nearest_backward(dy, in_size):
    """Adjoint of :func:`upsample2x_nearest`: sum each 2x2 block of the gradient.

    ``dx[..., r, c] = sum{ dy[..., 2r + a, 2c + b] : a, b in {0, 1}, in bounds }``.

    Parameters
    ----------
    dy : ndarray of shape (..., H, W)
    in_size : (int, int)
        (h, w) = (ceil(H/2), ceil(W/2)), the size of the map that was upsampled.

    Returns
    -------
    ndarray of shape (..., h, w)
    """
    h, w = in_size
    if ((dy.shape[-2] + 1) // 2, (dy.shape[-1] + 1) // 2) != (h, w):
        raise ValueError(f"in_size must be (ceil(H/2), ceil(W/2)) for dy of spatial size "
                         f"{dy.shape[-2:]}, got {tuple(in_size)}")
    return _pair_sums(_pair_sums(dy, -2), -1)
