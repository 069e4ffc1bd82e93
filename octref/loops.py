"""Octave convolution pixel by pixel: Eq. 3 of the paper, one function per path.

This module is the ground truth: slow on purpose and plainly right. It calls no
pooling, upsampling or im2col helper. Every output pixel is a sum over kernel
taps of input pixels found by the paper's index formulas, written out once per
path, and the backward pass scatters into exactly the pixels the forward read.
Only batch and channels are vectorised (a small matrix product per pixel and
tap), so what is left to read is the index arithmetic. Of octref it imports the
types (:mod:`octref.octave`) and the argument checks (:mod:`octref.contract`),
which validate and cast; output sizes and which paths exist it works out from
the arrays it is given, so that it is an independent witness of both.

Eq. 3 (Chen et al., "Drop an Octave", ICCV 2019), with taps (i, j) in
N_k = {-(k-1)/2, ..., (k-1)/2}^2 and ``W[i, j]`` short for the weight at
kernel position (i + (k-1)/2, j + (k-1)/2)::

    Y^H[p, q] = sum_{i,j} W^HH[i, j]^T X^H[p + i, q + j]                   H->H
              + sum_{i,j} W^LH[i, j]^T X^L[floor(p/2) + i, floor(q/2) + j]   L->H
    Y^L[p, q] = sum_{i,j} W^LL[i, j]^T X^L[p + i, q + j]                   L->L
              + sum_{i,j} W^HL[i, j]^T X^H(2(p + i) + 0.5, 2(q + j) + 0.5)   H->L

X^H at a half-integer position is the mean of the 2x2 block of X^H centred
there, over the pixels of the block inside the map (ceil-mode average pooling
at an odd edge). About that H->L term: the paper prints X^H at
(2p+0.5+i, 2q+0.5+j); unrolling Eq. 4 gives the 2x2 block centred at
(2(p+i)+0.5, 2(q+j)+0.5); the two differ for k > 1 and every implementation,
octref's included, computes Eq. 4. :func:`high_to_low_literal` computes the
printed reading so the difference can be seen.

The four functions :func:`high_to_high`, :func:`low_to_high`,
:func:`low_to_low` and :func:`high_to_low` are the four terms. Each yields,
for every output pixel (p, q) and tap (i, j), the *read*: a list of
``(row, col, weight)``, the input pixels the term reads and how much each
counts (1 for a pixel, 1/4 each for a full 2x2 block). The forward multiplies
the value of a read by ``W[i, j]``; the backward sends the gradient back along
the same list, which makes it the adjoint by construction.

Zero padding: a tap that falls outside the map it reads (for H->L, a block
with no pixel inside X^H) reads an explicit 0.0, the empty read ``[]``, and
that zero is multiplied by the weight, as in a convolution of a zero-padded
map (PyTorch's conv2d, the scipy oracle of the tests): an infinite weight
gives NaN on the border (0 * inf), not a silently skipped tap. A block
that is partly inside is a real read: the mean of its pixels inside.

Stride 2 moves every read one octave down, as the official code pools the
input of every path: H->H and L->L read the 2x2 block means of X^H and X^L at
(p + i, q + j); H->L reads the block means of those block means; L->H reads
X^L at (p + i, q + j) (its pooling and its upsampling cancel).
``downsample="strided"`` makes H->L read X^H[2p + i, 2q + j], the stride-2
convolution of the paper's Table 3.

Dtypes follow :mod:`octref.contract`: the arrays arrive cast to the compute
dtype (float32 for float16 input, float64 for integers) and the results are
cast to the output dtype at the end.
"""

import math

import numpy as np

from octref.contract import (
    Cache,
    check_cache,
    check_conv_args,
    check_grad,
    check_octave_grad,
    check_octconv_args,
)
from octref.octave import Octave, OctaveWeights

__all__ = ["conv_forward", "conv_backward", "octconv_forward", "octconv_backward",
           "high_to_low_literal", "pixel", "block_mean", "block_mean_of_block_means",
           "high_to_high", "low_to_high", "low_to_low", "high_to_low"]


# --------------------------------------------------------------------------- reading a map

def pixel(size, row, col):
    """X[row, col] of a map of spatial size ``size``, as a read.

    Parameters
    ----------
    size : (int, int)
        (rows, cols) of the map.
    row, col : int

    Returns
    -------
    list of (row, col, weight)
        ``[(row, col, 1.0)]`` inside the map; ``[]``, the zero padding, outside.
    """
    height, width = size
    if 0 <= row < height and 0 <= col < width:
        return [(row, col, 1.0)]
    return []


def block_mean(size, centre_row, centre_col):
    """The mean of the 2x2 block of a map centred at a half-integer position, as a read.

    The block is rows ``centre_row -/+ 0.5`` and cols ``centre_col -/+ 0.5``.
    Its pixels inside the map count equally (ceil-mode average pooling: 1/4
    each, or 1/2 or 1 at an odd edge); a block with no pixel inside is the
    zero padding, ``[]``.

    Parameters
    ----------
    size : (int, int)
        (rows, cols) of the map.
    centre_row, centre_col : float
        Half-integers, e.g. ``2 * (p + i) + 0.5``.

    Returns
    -------
    list of (row, col, weight)
    """
    top, left = math.floor(centre_row), math.floor(centre_col)
    inside = [(row, col) for row in (top, top + 1) for col in (left, left + 1)
              if 0 <= row < size[0] and 0 <= col < size[1]]
    return [(row, col, 1.0 / len(inside)) for row, col in inside]


def block_mean_of_block_means(size, centre_row, centre_col):
    """The 2x2 block, centred at a half-integer position, of a map's 2x2 block means.

    The map's block means form a grid of ceil(rows / 2) x ceil(cols / 2), its
    pixel (r, c) being the :func:`block_mean` of the map at (2r + 0.5, 2c + 0.5).
    This is the :func:`block_mean` of that grid centred at (centre_row,
    centre_col): the map pooled twice. At an odd edge it is a mean of means,
    not a plain mean over the 4x4 block.

    Parameters
    ----------
    size : (int, int)
        (rows, cols) of the map.
    centre_row, centre_col : float
        Half-integers, positions on the grid of block means.

    Returns
    -------
    list of (row, col, weight)
        Pixels of the map itself.
    """
    means_size = ((size[0] + 1) // 2, (size[1] + 1) // 2)
    read = []
    for row, col, weight in block_mean(means_size, centre_row, centre_col):
        read += [(r, c, weight * w) for r, c, w in block_mean(size, 2 * row + 0.5, 2 * col + 0.5)]
    return read


def _value(x, read):
    """The value of a read in a map x (N, C, H, W): sum of weight * x[:, :, row, col], (N, C).

    An empty read (padding) is an explicit zero, which the caller multiplies by
    the weight like any other value.
    """
    value = np.zeros(x.shape[:2], dtype=x.dtype)
    for row, col, weight in read:
        value += weight * x[:, :, row, col]
    return value


def _conv_groups(in_channels, w):
    """The (input channels, output channels) slices of each convolution group of ``w``.

    ``w`` is (C_out, C_in / groups, ...), so groups = C_in / w.shape[1]; group
    g maps input channels g C_in/groups ... to output channels g C_out/groups ...
    """
    per_in = w.shape[1]
    groups = in_channels // per_in
    per_out = w.shape[0] // groups
    return [(slice(g * per_in, (g + 1) * per_in), slice(g * per_out, (g + 1) * per_out))
            for g in range(groups)]


# --------------------------------------------------------------------------- Eq. 3

def _taps(y_size, k, padding):
    """Every (p, q, i, j): output pixel (p, q) of a map of ``y_size``, tap offset (i, j).

    The offsets run over {-padding, ..., k - 1 - padding}, which is N_k of
    Eq. 3 when padding = (k - 1) / 2; the weight of offset i sits at kernel
    position i + padding.
    """
    for p in range(y_size[0]):
        for q in range(y_size[1]):
            for i in range(-padding, k - padding):
                for j in range(-padding, k - padding):
                    yield p, q, i, j


def high_to_high(x_high_size, y_high_size, spec):
    """H->H, the term ``W^HH[i, j]^T X^H[p + i, q + j]`` of Y^H[p, q]: where it reads X^H.

    Stride 2 reads the 2x2 block means of X^H at (p + i, q + j).

    Parameters
    ----------
    x_high_size, y_high_size : (int, int)
        Spatial sizes of X^H and Y^H.
    spec : OctaveSpec
        Its stride, padding and kernel are used.

    Yields
    ------
    p, q, i, j : int
    read : list of (row, col, weight)
        Pixels of X^H.
    """
    for p, q, i, j in _taps(y_high_size, spec.kernel, spec.padding):
        if spec.stride == 1:
            yield p, q, i, j, pixel(x_high_size, p + i, q + j)
        else:  # the block means of X^H at (p + i, q + j)
            yield p, q, i, j, block_mean(x_high_size, 2 * (p + i) + 0.5, 2 * (q + j) + 0.5)


def low_to_high(x_low_size, y_high_size, spec):
    """L->H, the term ``W^LH[i, j]^T X^L[floor(p/2) + i, floor(q/2) + j]`` of Y^H[p, q].

    The four high pixels (2 p_low + a, 2 q_low + b) share the read of low pixel
    (p_low, q_low): nearest upsampling. At stride 2 the high output has X^L's
    resolution and the read is X^L[p + i, q + j].

    Parameters and yields as :func:`high_to_high`, with ``x_low_size`` the
    size of X^L; the reads are pixels of X^L.
    """
    for p, q, i, j in _taps(y_high_size, spec.kernel, spec.padding):
        if spec.stride == 1:
            p_low, q_low = p // 2, q // 2
            yield p, q, i, j, pixel(x_low_size, p_low + i, q_low + j)
        else:  # pooling X^L and upsampling the result cancel
            yield p, q, i, j, pixel(x_low_size, p + i, q + j)


def low_to_low(x_low_size, y_low_size, spec):
    """L->L, the term ``W^LL[i, j]^T X^L[p + i, q + j]`` of Y^L[p, q]: where it reads X^L.

    Stride 2 reads the 2x2 block means of X^L at (p + i, q + j).

    Parameters and yields as :func:`high_to_high`, with the sizes of X^L and
    Y^L; the reads are pixels of X^L.
    """
    for p, q, i, j in _taps(y_low_size, spec.kernel, spec.padding):
        if spec.stride == 1:
            yield p, q, i, j, pixel(x_low_size, p + i, q + j)
        else:  # the block means of X^L at (p + i, q + j)
            yield p, q, i, j, block_mean(x_low_size, 2 * (p + i) + 0.5, 2 * (q + j) + 0.5)


def high_to_low(x_high_size, y_low_size, spec):
    """H->L, the term ``W^HL[i, j]^T X^H(2(p + i) + 0.5, 2(q + j) + 0.5)`` of Y^L[p, q].

    The 2x2 block of X^H centred at (2(p + i) + 0.5, 2(q + j) + 0.5): the
    offset i steps one *low* pixel, two high pixels, as in Eq. 4 (not the
    printed 2p + 0.5 + i, see :func:`high_to_low_literal`). Stride 2 reads the
    block means of those block means. ``downsample="strided"`` reads
    X^H[2p + i, 2q + j].

    Parameters and yields as :func:`high_to_high`, with the sizes of X^H and
    Y^L and ``spec.downsample`` used too; the reads are pixels of X^H.
    """
    for p, q, i, j in _taps(y_low_size, spec.kernel, spec.padding):
        if spec.downsample == "strided":
            yield p, q, i, j, pixel(x_high_size, 2 * p + i, 2 * q + j)
        elif spec.stride == 1:
            yield p, q, i, j, block_mean(x_high_size, 2 * (p + i) + 0.5, 2 * (q + j) + 0.5)
        else:  # stride 2: one octave further down
            yield p, q, i, j, block_mean_of_block_means(x_high_size, 2 * (p + i) + 0.5,
                                                        2 * (q + j) + 0.5)


def _path_output_size(path, x_size, spec):
    """The grid (rows, cols) a path's term is defined on, from the size of the map it reads.

    A convolution of n pixels gives n + 2 padding - k + 1; the block means of
    n pixels are ceil(n / 2) of them.
    """
    k, pad = spec.kernel, spec.padding
    sizes = []
    for n in x_size:
        if path in ("hh", "ll"):
            n_read = n if spec.stride == 1 else (n + 1) // 2
            sizes.append(n_read + 2 * pad - k + 1)
        elif path == "lh":
            # Each low pixel feeds two high rows (p // 2); stride 2 stays at X^L's size.
            n_conv = n + 2 * pad - k + 1
            sizes.append(2 * n_conv if spec.stride == 1 else n_conv)
        elif spec.downsample == "strided":
            sizes.append((n + 2 * pad - k) // 2 + 1)
        else:
            n_read = (n + 1) // 2 if spec.stride == 1 else ((n + 1) // 2 + 1) // 2
            sizes.append(n_read + 2 * pad - k + 1)
    return tuple(sizes)


def _output_sizes(x, w, spec):
    """The spatial sizes of Y^H and Y^L (None for an absent output), from the arrays alone.

    A path is present exactly when its weight is given (the contract has
    checked that its input is too). Y^H has H->H's grid when that path is
    present, X^H's size: L->H's grid, X^L upsampled, has 2 ceil(H/2) rows, one
    more than X^H when H is odd, and its last row is dropped (the loop over p
    stops at H). The two paths into Y^L have the same grid.

    Returns
    -------
    y_high_size, y_low_size : (int, int) or None
    """
    x_high, x_low = x
    y_high_size = y_low_size = None
    if w.hh is not None:
        y_high_size = _path_output_size("hh", x_high.shape[2:], spec)
    elif w.lh is not None:
        y_high_size = _path_output_size("lh", x_low.shape[2:], spec)
    if w.ll is not None:
        y_low_size = _path_output_size("ll", x_low.shape[2:], spec)
    elif w.hl is not None:
        y_low_size = _path_output_size("hl", x_high.shape[2:], spec)
    return y_high_size, y_low_size


def _new_output(size, w_one, w_other, spec):
    """Zeros (N, C_out, rows, cols) for an output fed by the weights given, or None."""
    if size is None:
        return None
    c_out = (w_one if w_one is not None else w_other).shape[0]
    return np.zeros((spec.batch, c_out) + size, dtype=spec.dtype)


def _add_term(y, x, w, reads, padding):
    """Add one term of Eq. 3 to y: ``y[:, :, p, q] += W[i, j]^T value(read)`` for every read.

    Parameters
    ----------
    y : ndarray of shape (N, C_out, rows, cols)
        The output, updated in place.
    x : ndarray of shape (N, C_in, H, W)
        The input map the term reads.
    w : ndarray of shape (C_out, C_in / groups, k, k)
    reads : iterable of (p, q, i, j, read)
        From one of the path functions.
    padding : int
        The offset i has its weight at kernel position i + padding.
    """
    conv_groups = _conv_groups(x.shape[1], w)
    for p, q, i, j, read in reads:
        x_read = _value(x, read)
        for c_in, c_out in conv_groups:
            y[:, c_out, p, q] += x_read[:, c_in] @ w[c_out, :, i + padding, j + padding].T


def _add_term_gradients(dx, dw, dy, x, w, reads, padding):
    """The backward of :func:`_add_term`: add the term's gradients to dx and dw in place.

    For every read, ``dW[i, j] += dY[p, q]^T value(read)``, and
    ``W[i, j] dY[p, q]`` goes back along the read: ``weight`` times it to each
    of its pixels. dx, dw and dy are shaped like x, w and y.
    """
    conv_groups = _conv_groups(x.shape[1], w)
    for p, q, i, j, read in reads:
        x_read = _value(x, read)
        dx_read = np.zeros_like(x_read)
        for c_in, c_out in conv_groups:
            dw[c_out, :, i + padding, j + padding] += dy[:, c_out, p, q].T @ x_read[:, c_in]
            dx_read[:, c_in] = dy[:, c_out, p, q] @ w[c_out, :, i + padding, j + padding]
        # The adjoint of reading: each pixel read gets its weight's share.
        for row, col, weight in read:
            dx[:, :, row, col] += weight * dx_read


def octconv_forward(x, w, b=None, *, stride=1, padding=None, groups=1, downsample="avgpool"):
    """Octave convolution by Eq. 3, pixel by pixel.

    ``Y^H = sum of the H->H and L->H terms, Y^L = sum of the L->L and H->L
    terms`` (module docstring), each term ``sum_{i,j} W[i, j]^T (its read)``,
    plus one bias per output map. Same contract as
    :func:`octref.im2col.octconv_forward` (Eq. 4).

    Parameters
    ----------
    x : Octave
        ``x.high`` (N, C_in_high, H, W), ``x.low`` (N, C_in_low, ceil(H/2),
        ceil(W/2)); either may be None.
    w : OctaveWeights
        ``w.hh``, ``w.hl``, ``w.lh``, ``w.ll`` of shape (C_out_part,
        C_in_part / groups, k, k) each; None for absent paths.
    b : Octave, optional
        ``b.high`` (C_out_high,), ``b.low`` (C_out_low,).
    stride : {1, 2}
    padding : int or None
        None means (k - 1) / 2.
    groups : int
    downsample : {"avgpool", "strided"}

    Returns
    -------
    y : Octave
        ``y.high`` (N, C_out_high, H_out, W_out), ``y.low`` (N, C_out_low,
        ceil(H_out/2), ceil(W_out/2)); H_out = H at stride 1, ceil(H/2) at
        stride 2. Integer input computes in float64, float16 in float32.
    cache : Cache
        For :func:`octconv_backward`.
    """
    x, w, b, spec = check_octconv_args(x, w, b, stride, padding, groups, downsample)
    x_high, x_low = x
    w_hh, w_hl, w_lh, w_ll = w
    y_high_size, y_low_size = _output_sizes(x, w, spec)
    y_high = _new_output(y_high_size, w_hh, w_lh, spec)
    y_low = _new_output(y_low_size, w_ll, w_hl, spec)
    pad = spec.padding

    # Eq. 3, term by term.
    if w_hh is not None:
        _add_term(y_high, x_high, w_hh, high_to_high(x_high.shape[2:], y_high_size, spec), pad)
    if w_lh is not None:
        _add_term(y_high, x_low, w_lh, low_to_high(x_low.shape[2:], y_high_size, spec), pad)
    if w_ll is not None:
        _add_term(y_low, x_low, w_ll, low_to_low(x_low.shape[2:], y_low_size, spec), pad)
    if w_hl is not None:
        _add_term(y_low, x_high, w_hl, high_to_low(x_high.shape[2:], y_low_size, spec), pad)

    b_high, b_low = b if b is not None else (None, None)
    if b_high is not None:
        y_high += b_high[:, None, None]
    if b_low is not None:
        y_low += b_low[:, None, None]
    has_bias = {"high": b_high is not None, "low": b_low is not None}
    y = Octave(*(None if y_map is None else y_map.astype(spec.out_dtype, copy=False)
                 for y_map in (y_high, y_low)))
    return y, Cache("octref.loops.octconv_forward", x, w, has_bias, spec)


def octconv_backward(dy, cache):
    """Gradients of :func:`octconv_forward`, scattered back along Eq. 3's reads.

    Every term of the forward, read by the same path function, sends its
    gradients back (:func:`_add_term_gradients`): 1/4 to each pixel of a full
    2x2 block, and a low pixel read by four high pixels collects all four.

    Parameters
    ----------
    dy : Octave
        Shaped like the forward's output; None for an absent output.
    cache : Cache
        From :func:`octconv_forward`.

    Returns
    -------
    dx : Octave, dw : OctaveWeights, db : Octave or None
        Shaped like x, w and b; None exactly where the forward had None.
    """
    _, x, w, has_bias, spec, _ = check_cache(cache, "octref.loops.octconv_forward")
    dy = check_octave_grad(dy, spec)
    dy_high, dy_low = dy.get("high"), dy.get("low")
    x_high, x_low = x
    w_hh, w_hl, w_lh, w_ll = w
    y_high_size, y_low_size = _output_sizes(x, w, spec)
    dx_high, dx_low = (None if a is None else np.zeros_like(a) for a in x)
    dw_hh, dw_hl, dw_lh, dw_ll = (None if a is None else np.zeros_like(a) for a in w)
    pad = spec.padding

    # The forward's terms, each read again and sent back.
    if w_hh is not None:
        _add_term_gradients(dx_high, dw_hh, dy_high, x_high, w_hh,
                            high_to_high(x_high.shape[2:], y_high_size, spec), pad)
    if w_lh is not None:
        _add_term_gradients(dx_low, dw_lh, dy_high, x_low, w_lh,
                            low_to_high(x_low.shape[2:], y_high_size, spec), pad)
    if w_ll is not None:
        _add_term_gradients(dx_low, dw_ll, dy_low, x_low, w_ll,
                            low_to_low(x_low.shape[2:], y_low_size, spec), pad)
    if w_hl is not None:
        _add_term_gradients(dx_high, dw_hl, dy_low, x_high, w_hl,
                            high_to_low(x_high.shape[2:], y_low_size, spec), pad)

    db = None
    if has_bias["high"] or has_bias["low"]:
        db = Octave(dy_high.sum(axis=(0, 2, 3)) if has_bias["high"] else None,
                    dy_low.sum(axis=(0, 2, 3)) if has_bias["low"] else None)

    def out(a):
        return None if a is None else a.astype(spec.out_dtype, copy=False)
    return (Octave(out(dx_high), out(dx_low)),
            OctaveWeights(out(dw_hh), out(dw_hl), out(dw_lh), out(dw_ll)),
            None if db is None else Octave(*map(out, db)))


# --------------------------------------------------------------------------- the pitfall

def high_to_low_literal(x_high, w_hl, *, groups=1):
    """The H->L term of Eq. 3 as printed: offsets stepping one *high* pixel.

    ``Y^L[p, q] = sum_{i,j in N_k} W^HL[i, j]^T X^H(2p + 0.5 + i, 2q + 0.5 + j)``,
    X^H at a half-integer position being the mean of the in-bounds pixels of
    the 2x2 block centred there. Eq. 4 (f(pool(X^H); W^HL)), which every
    implementation computes, centres the block at (2(p + i) + 0.5,
    2(q + j) + 0.5) instead; the two agree for k = 1 and differ for k > 1.
    octref provides this reading only to show the difference.

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
    w_hl, pad = w.hl, spec.padding
    x_high_size = x_high.shape[2:]
    y_low_size = ((x_high_size[0] + 1) // 2, (x_high_size[1] + 1) // 2)
    y_low = np.zeros((x_high.shape[0], w_hl.shape[0]) + y_low_size, dtype=spec.dtype)
    # The printed position: i steps one high pixel.
    literal_reads = ((p, q, i, j, block_mean(x_high_size, 2 * p + 0.5 + i, 2 * q + 0.5 + j))
                     for p, q, i, j in _taps(y_low_size, spec.kernel, pad))
    _add_term(y_low, x_high, w_hl, literal_reads, pad)
    return y_low.astype(spec.out_dtype, copy=False)


# --------------------------------------------------------------------------- plain conv
# The contract's plain convolution, pixel by pixel: the witness for every
# implementation's conv_forward / conv_backward.

def _conv_reads(out_size, in_size, kernel, stride, padding, dilation):
    """(p, q, i, j, read) for every output pixel and tap: x[s p + d i - pad, s q + d j - pad]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    for p in range(out_size[0]):
        for q in range(out_size[1]):
            for i in range(kernel[0]):
                for j in range(kernel[1]):
                    yield p, q, i, j, pixel(in_size, sh * p + dh * i - ph, sw * q + dw * j - pw)


def _conv_output_size(in_size, kernel, stride, padding, dilation):
    """H' = (H + 2 pad - d (kh - 1) - 1) // s + 1, per axis."""
    return tuple((n + 2 * pad - d * (k - 1) - 1) // s + 1
                 for n, k, s, pad, d in zip(in_size, kernel, stride, padding, dilation))


def conv_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D cross-correlation, one output pixel and tap at a time.

    ``out[n, f, p, q] = b[f] + sum_{c, i, j} w[f, c, i, j]
    x[n, g(f) C/G + c, s p + d i - pad, s q + d j - pad]``, with x zero outside.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
    w : ndarray of shape (C_out, C_in / groups, kh, kw)
    b : ndarray of shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
    groups : int

    Returns
    -------
    out : ndarray of shape (N, C_out, H', W')
        ``H' = (H + 2 pad - d (kh - 1) - 1) // s + 1``. Integer input is
        computed in float64, float16 in float32 and rounded back.
    cache : Cache
        For :func:`conv_backward`.
    """
    x, w, b, params = check_conv_args(x, w, b, stride, padding, dilation, groups)
    kernel = w.shape[2:]
    out_size = _conv_output_size(x.shape[2:], kernel, params.stride, params.padding,
                                 params.dilation)
    out = np.zeros((x.shape[0], w.shape[0]) + out_size, dtype=params.dtype)
    conv_groups = _conv_groups(x.shape[1], w)
    for p, q, i, j, read in _conv_reads(out_size, x.shape[2:], kernel, params.stride,
                                        params.padding, params.dilation):
        x_read = _value(x, read)
        for c_in, c_out in conv_groups:
            out[:, c_out, p, q] += x_read[:, c_in] @ w[c_out, :, i, j].T
    if b is not None:
        out += b[:, None, None]
    cache = Cache("octref.loops.conv_forward", x, w, b is not None, params)
    return out.astype(params.out_dtype, copy=False), cache


def conv_backward(dout, cache):
    """Gradients of :func:`conv_forward`, scattered back along the forward's reads.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, H', W')
    cache : Cache
        From :func:`conv_forward`.

    Returns
    -------
    dx, dw, db
        Shaped like x, w and b; db is None without a bias.
    """
    _, x, w, has_bias, params, _ = check_cache(cache, "octref.loops.conv_forward")
    kernel = w.shape[2:]
    out_size = _conv_output_size(x.shape[2:], kernel, params.stride, params.padding,
                                 params.dilation)
    dout = check_grad(dout, (x.shape[0], w.shape[0]) + out_size, "dout", params.dtype)
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    conv_groups = _conv_groups(x.shape[1], w)
    for p, q, i, j, read in _conv_reads(out_size, x.shape[2:], kernel, params.stride,
                                        params.padding, params.dilation):
        x_read = _value(x, read)
        dx_read = np.zeros_like(x_read)
        for c_in, c_out in conv_groups:
            dw[c_out, :, i, j] += dout[:, c_out, p, q].T @ x_read[:, c_in]
            dx_read[:, c_in] = dout[:, c_out, p, q] @ w[c_out, :, i, j]
        for row, col, weight in read:
            dx[:, :, row, col] += weight * dx_read
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    out = params.out_dtype
    return (dx.astype(out, copy=False), dw.astype(out, copy=False),
            None if db is None else db.astype(out, copy=False))
