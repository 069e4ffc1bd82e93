"""Octave convolution pixel by pixel: Eq. 3 of the paper, transcribed.

This module is the ground truth: slow on purpose and obviously right. It
calls no pooling, upsampling or im2col helper; every output pixel is a sum over
kernel taps of input pixels found by the paper's index formulas, and the
backward pass scatters into exactly the pixels the forward read. Only the
channel dimension is vectorised (a small matrix product per pixel and tap), so
the index arithmetic is all that is left to read. Of octref it imports only
the types (:mod:`octref.octave`) and the argument checks shared with the fast
implementation (:mod:`octref.contract`), which compute nothing.

Eq. 3, with taps (i, j) in N_k = {-(k-1)/2, ..., (k-1)/2}^2::

    Y^H[p, q] = sum_{i,j} W^HH[i, j]^T X^H[p + i, q + j]
              + sum_{i,j} W^LH[i, j]^T X^L[floor(p/2) + i, floor(q/2) + j]
    Y^L[p, q] = sum_{i,j} W^LL[i, j]^T X^L[p + i, q + j]
              + sum_{i,j} W^HL[i, j]^T X^H(2(p + i) + 0.5, 2(q + j) + 0.5)

where X^H at a half-integer position is the mean of the 2x2 block around it
(the in-bounds pixels of that block, at an odd edge). Zero padding applies in
the coordinates of the map being read: a tap that falls outside the map (or,
for H->L, outside the pooled grid) reads zero.

The paper prints the H->L position as ``2p + 0.5 + i``. Read literally, the
offset i moves one *high*-resolution pixel, so the kernel spans k high pixels
around the block; Eq. 4, f(pool(X^H); W^HL), and every implementation
including the official one and both of octref's, step i at *low* resolution,
``2(p + i) + 0.5``, so the kernel spans 2k high pixels. The two agree for
k = 1 and differ for k > 1; :func:`high_to_low_literal` computes the literal
reading so the difference can be seen (and the tests prove it).

Stride 2 moves every reading one octave down (the official code pools every
path's input): X^H is read through its 2x2 block means, H->L through the block
means of those, X^L through its block means, and L->H reads X^L at
(p + i, q + j) with no upsampling. ``downsample="strided"`` reads H->L at
X^H[2p + i, 2q + j], the stride-2 convolution of the paper's Table 3.
"""

import numpy as np

from octref.contract import (
    Cache,
    check_cache,
    check_conv_args,
    check_grad,
    check_octave_grad,
    check_octconv_args,
)
from octref.octave import GROUPS, PATHS, Octave, OctaveWeights, path_ends

__all__ = ["conv_forward", "conv_backward", "octconv_forward", "octconv_backward",
           "high_to_low_literal"]


# --------------------------------------------------------------------------- plain conv

def _conv_reads(params, kernel, in_size):
    """Yield (p, q, i, j, row, col) for every output pixel, tap and in-bounds input pixel.

    ``row = s p + d i - pad``: a tap outside the input reads the zero padding
    and is skipped.
    """
    (sh, sw), (ph, pw), (dh, dw) = params.stride, params.padding, params.dilation
    for p in range(params.out_size[0]):
        for q in range(params.out_size[1]):
            for i in range(kernel[0]):
                for j in range(kernel[1]):
                    row, col = sh * p + dh * i - ph, sw * q + dw * j - pw
                    if 0 <= row < in_size[0] and 0 <= col < in_size[1]:
                        yield p, q, i, j, row, col


def conv_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D cross-correlation, one output pixel at a time.

    ``out[n, f, p, q] = b[f] + sum_{c, i, j} w[f, c, i, j]
    x[n, g(f) C/G + c, s p + d i - pad, s q + d j - pad]`` (zero outside x).

    Parameters and returns as :func:`octref.im2col.conv_forward`: x (N, C_in,
    H, W), w (C_out, C_in / groups, kh, kw), b (C_out,) or None; out (N,
    C_out, H', W') with ``H' = (H + 2 pad - d (kh - 1) - 1) // s + 1``.
    Integer input is computed in float64.
    """
    x, w, b, params = check_conv_args(x, w, b, stride, padding, dilation, groups)
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    per_in, per_out = c_in // params.groups, c_out // params.groups
    out = np.zeros((n, c_out) + params.out_size, dtype=x.dtype)
    for g in range(params.groups):
        fs = slice(g * per_out, (g + 1) * per_out)
        cs = slice(g * per_in, (g + 1) * per_in)
        for p, q, i, j, row, col in _conv_reads(params, w.shape[2:], x.shape[2:]):
            out[:, fs, p, q] += x[:, cs, row, col] @ w[fs, :, i, j].T
    if b is not None:
        out += b[:, None, None]
    cache = Cache("octref.loops.conv_forward", x, w, b is not None, params)
    return out.astype(params.out_dtype, copy=False), cache


def conv_backward(dout, cache):
    """Gradients of :func:`conv_forward`: scatter back along the same reads.

    Returns ``(dx, dw, db)`` shaped like x, w and b (db None without bias).
    """
    _, x, w, has_bias, params, _ = check_cache(cache, "octref.loops.conv_forward")
    dout = check_grad(dout, (x.shape[0], w.shape[0]) + params.out_size, "dout", x.dtype)
    c_in, c_out = x.shape[1], w.shape[0]
    per_in, per_out = c_in // params.groups, c_out // params.groups
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for g in range(params.groups):
        fs = slice(g * per_out, (g + 1) * per_out)
        cs = slice(g * per_in, (g + 1) * per_in)
        for p, q, i, j, row, col in _conv_reads(params, w.shape[2:], x.shape[2:]):
            dx[:, cs, row, col] += dout[:, fs, p, q] @ w[fs, :, i, j]
            dw[fs, :, i, j] += dout[:, fs, p, q].T @ x[:, cs, row, col]
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    out = params.out_dtype
    return (dx.astype(out, copy=False), dw.astype(out, copy=False),
            None if db is None else db.astype(out, copy=False))


# --------------------------------------------------------------------------- Eq. 3

def _octave_sizes(size):
    """Sizes of a map and of its successive ceil-mode halvings: [size, ceil(size/2), ...]."""
    sizes = [tuple(size)]
    for _ in range(2):
        sizes.append(tuple((n + 1) // 2 for n in sizes[-1]))
    return sizes


def _pixels_behind(row, col, level, sizes):
    """The input pixels behind position (row, col) of the map halved ``level`` times.

    Level 0 is the input map itself: one pixel, weight 1. At level l >= 1 the
    position stands for the mean of the in-bounds pixels of the 2x2 block at
    (2 row + a, 2 col + b), a, b in {0, 1}, of level l - 1: the value at the
    block centre (2 row + 0.5, 2 col + 0.5). Returns [(r, c, weight), ...],
    empty when (row, col) lies outside that level's grid (zero padding).
    """
    height, width = sizes[level]
    if not (0 <= row < height and 0 <= col < width):
        return []
    if level == 0:
        return [(row, col, 1.0)]
    below_h, below_w = sizes[level - 1]
    block = [(2 * row + a, 2 * col + b) for a in (0, 1) for b in (0, 1)
             if 2 * row + a < below_h and 2 * col + b < below_w]
    return [(r, c, weight / len(block))
            for (block_row, block_col) in block
            for (r, c, weight) in _pixels_behind(block_row, block_col, level - 1, sizes)]


def _read_position(path, p, q, i, j, spec):
    """Where output pixel (p, q), tap offset (i, j) of a path reads its input.

    Returns (row, col, level): the position on the input map halved
    ``level`` times (see :func:`_pixels_behind`).
    """
    halvings = spec.stride - 1  # stride 2 reads every input one octave down
    if path in ("hh", "ll"):
        return p + i, q + j, halvings
    if path == "lh":
        if spec.stride == 2:
            return p + i, q + j, 0  # no upsampling at stride 2
        return p // 2 + i, q // 2 + j, 0  # X^L[floor(p/2) + i, floor(q/2) + j]
    if spec.downsample == "strided":
        return 2 * p + i, 2 * q + j, 0  # X^H[2p + i, 2q + j]: stride-2 convolution
    return p + i, q + j, 1 + halvings  # block centred at (2(p + i) + 0.5, 2(q + j) + 0.5)


def _octave_reads(path, spec, in_size):
    """Yield (p, q, tap_i, tap_j, row, col, weight) for one path of Eq. 3.

    ``tap_i`` indexes the weight; the offset is ``i = tap_i - padding``, which
    runs over N_k when the padding is (k - 1) / 2.
    """
    sizes = _octave_sizes(in_size)
    out_h, out_w = spec.out_size[path_ends(path)[1]]
    for p in range(out_h):
        for q in range(out_w):
            for tap_i in range(spec.kernel):
                for tap_j in range(spec.kernel):
                    i, j = tap_i - spec.padding, tap_j - spec.padding
                    row, col, level = _read_position(path, p, q, i, j, spec)
                    for r, c, weight in _pixels_behind(row, col, level, sizes):
                        yield p, q, tap_i, tap_j, r, c, weight


def _group_slices(c_in, c_out, groups):
    """(input channel slice, output channel slice) of each group."""
    per_in, per_out = c_in // groups, c_out // groups
    return [(slice(g * per_in, (g + 1) * per_in), slice(g * per_out, (g + 1) * per_out))
            for g in range(groups)]


def octconv_forward(x, w, b=None, *, stride=1, padding=None, groups=1, downsample="avgpool"):
    """Octave convolution by Eq. 3, pixel by pixel.

    Same contract as :func:`octref.im2col.octconv_forward` (Eq. 4); see the
    module docstring for the index formulas. Integer input computes in float64.

    Parameters
    ----------
    x : Octave
        ``x.high`` (N, C_in_high, H, W), ``x.low`` (N, C_in_low, ceil(H/2),
        ceil(W/2)); either may be None.
    w : OctaveWeights
        (C_out_part, C_in_part / groups, k, k) each; None for absent paths.
    b : Octave, optional
        ``b.high`` (C_out_high,), ``b.low`` (C_out_low,): one bias per output map.
    stride : {1, 2}
    padding : int or None
        None means (k - 1) / 2.
    groups : int
    downsample : {"avgpool", "strided"}

    Returns
    -------
    y : Octave
        ``y.high`` (N, C_out_high, H_out, W_out), ``y.low`` (N, C_out_low,
        ceil(H_out/2), ceil(W_out/2)).
    cache : tuple
    """
    x, w, b, spec = check_octconv_args(x, w, b, stride, padding, groups, downsample)
    y = {}
    for path in spec.paths:
        src, dst = path_ends(path)
        x_src, w_path = getattr(x, src), getattr(w, path)
        if dst not in y:
            y[dst] = np.zeros((spec.batch, w_path.shape[0]) + spec.out_size[dst],
                              dtype=x_src.dtype)
        slices = _group_slices(x_src.shape[1], w_path.shape[0], spec.path_groups[path])
        for p, q, ti, tj, r, c, weight in _octave_reads(path, spec, x_src.shape[2:]):
            for cs, fs in slices:
                y[dst][:, fs, p, q] += weight * (x_src[:, cs, r, c] @ w_path[fs, :, ti, tj].T)
    has_bias = {}
    for group, bias in zip(GROUPS, b or (None, None)):
        has_bias[group] = bias is not None
        if bias is not None:
            y[group] += bias[:, None, None]
    y = Octave(*(y[g].astype(spec.out_dtype, copy=False) if g in y else None for g in GROUPS))
    return y, Cache("octref.loops.octconv_forward", x, w, has_bias, spec)


def octconv_backward(dy, cache):
    """Gradients of :func:`octconv_forward`, scattered along Eq. 3's reads.

    Wherever the forward added ``weight * W[tap]^T X[r, c]`` to Y[p, q], the
    backward adds ``weight * W[tap] dY[p, q]`` to dX[r, c] and
    ``weight * dY[p, q] X[r, c]^T`` to dW[tap]: a read through a 2x2 block
    mean spreads 1/count of the gradient to each in-bounds pixel, and a read at
    floor(p/2) collects the gradient of every high pixel that read it.

    Parameters
    ----------
    dy : Octave
        Shaped like the forward's output; None for an absent output group.
    cache : tuple
        From :func:`octconv_forward`.

    Returns
    -------
    dx : Octave, dw : OctaveWeights, db : Octave or None
        Shaped like x, w and b; None exactly where the forward had None.
    """
    _, x, w, has_bias, spec, _ = check_cache(cache, "octref.loops.octconv_forward")
    grads = check_octave_grad(dy, spec)
    dx = {g: np.zeros_like(a) for g, a in zip(GROUPS, x) if a is not None}
    dw = {}
    for path in spec.paths:
        src, dst = path_ends(path)
        x_src, w_path, dy_dst = getattr(x, src), getattr(w, path), grads[dst]
        dw[path] = np.zeros_like(w_path)
        slices = _group_slices(x_src.shape[1], w_path.shape[0], spec.path_groups[path])
        for p, q, ti, tj, r, c, weight in _octave_reads(path, spec, x_src.shape[2:]):
            for cs, fs in slices:
                dx[src][:, cs, r, c] += weight * (dy_dst[:, fs, p, q] @ w_path[fs, :, ti, tj])
                dw[path][fs, :, ti, tj] += weight * (dy_dst[:, fs, p, q].T @ x_src[:, cs, r, c])
    db = None
    if any(has_bias.values()):
        db = Octave(*(grads[g].sum(axis=(0, 2, 3)) if has_bias[g] else None for g in GROUPS))

    def out(a):
        return None if a is None else a.astype(spec.out_dtype, copy=False)
    db = None if db is None else Octave(*map(out, db))
    return (Octave(*(out(dx.get(g)) for g in GROUPS)),
            OctaveWeights(*(out(dw.get(p)) for p in PATHS)), db)


# --------------------------------------------------------------------------- the pitfall

def high_to_low_literal(x_high, w_hl, *, groups=1):
    """The H->L path of Eq. 3 read literally: offsets at high resolution.

    ``Y^L[p, q] = sum_{i,j in N_k} W^HL[i, j]^T mean{ X^H[2p + i + a, 2q + j + b] }``
    over the in-bounds pixels, a, b in {0, 1}: the 2x2 block centred at
    ``(2p + 0.5 + i, 2q + 0.5 + j)`` with i stepping one *high* pixel. This
    is NOT the operator of Eq. 4 (f(pool(X^H); W^HL), where i steps one low
    pixel, two high pixels) unless k = 1; no implementation computes it and
    octref provides it only to show the difference.

    Parameters
    ----------
    x_high : ndarray of shape (N, C_in_high, H, W)
    w_hl : ndarray of shape (C_out_low, C_in_high / groups, k, k), k odd
    groups : int

    Returns
    -------
    ndarray of shape (N, C_out_low, ceil(H/2), ceil(W/2))
    """
    (x_high, _), w, _, spec = check_octconv_args(
        Octave(x_high, None), OctaveWeights(None, w_hl, None, None), None, 1, None, groups,
        "avgpool")
    w_hl = w.hl
    height, width = x_high.shape[2:]
    half = spec.kernel // 2
    out = np.zeros((x_high.shape[0], w_hl.shape[0]) + spec.out_size["low"], dtype=x_high.dtype)
    slices = _group_slices(x_high.shape[1], w_hl.shape[0], spec.path_groups["hl"])
    for p in range(out.shape[2]):
        for q in range(out.shape[3]):
            for tap_i in range(spec.kernel):
                for tap_j in range(spec.kernel):
                    top, left = 2 * p + tap_i - half, 2 * q + tap_j - half
                    block = [(top + a, left + b) for a in (0, 1) for b in (0, 1)
                             if 0 <= top + a < height and 0 <= left + b < width]
                    for r, c in block:
                        for cs, fs in slices:
                            out[:, fs, p, q] += (x_high[:, cs, r, c] @ w_hl[fs, :, tap_i, tap_j].T
                                                 / len(block))
    return out.astype(spec.out_dtype, copy=False)
