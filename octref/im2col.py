"""The textbook: im2col, a convolution as one matrix product, and Eq. 4 one line per path.

A cross-correlation of a zero-padded input with weights ``w`` of shape
``(C_out, C / groups, kh, kw)``::

    y[n, f, p, q] = sum_{c, i, j} w[f, c, i, j] x_pad[n, c, s_h p + d_h i, s_w q + d_w j]

is, for each output pixel (p, q), the dot product of a flattened filter with
a flattened patch of the input. :func:`im2col` lays out every patch as a
column, ``cols[n, c, i, j, p, q]``, by looping over the kh x kw kernel
offsets (i, j): for a fixed offset the entries of all output pixels are one
strided slice of ``x_pad``, copied in one go. Then the convolution is one
matrix product, ``y = W_mat @ cols`` with ``W_mat`` of shape
``(C_out, C * kh * kw)``. :func:`col2im` is the same loop with ``+=``: the
adjoint of im2col, ``<im2col(x), c> == <x, col2im(c)>``, which is what the
backward needs.

The octave convolution is Eq. 4 of Chen et al. (ICCV 2019), written as the
official Gluon ``Conv2D.hybrid_forward`` writes it (facebookresearch/OctConv,
commit 87c44f7, ``utils/gluon/utils/octconv.py``, lines 253-262): one line per
path, then two sums::

    Y^H = f(X^H; W^HH) + upsample(f(X^L; W^LH))
    Y^L = f(X^L; W^LL) + f(pool(X^H); W^HL)

Semantics: zero padding is multiplied
like any other input, so an infinite weight gives NaN where it meets the
padding (0 * inf; PyTorch's conv2d gives the same NaN border); float16 input is
computed in float32 and rounded back (spec.dtype, :mod:`octref.contract`).
This module is written to be read, not to be fast: it copies the input kh * kw
times. The package default, :mod:`octref.rowshift`, computes the same
products from a kw-times copy.
"""

import numpy as np

from octref.checks import check_int, check_pair, real_array
from octref.contract import (
    Cache,
    check_cache,
    check_conv_args,
    check_grad,
    check_memory,
    check_octave_grad,
    check_octconv_args,
)
from octref.octave import GROUPS, PATHS, Octave, OctaveWeights, conv_output_size
from octref.sampling import (
    pool2x2,
    pool2x2_backward,
    upsample2x_nearest,
    upsample2x_nearest_backward,
)

__all__ = ["im2col", "col2im", "conv_forward", "conv_backward",
           "octconv_forward", "octconv_backward"]


# --------------------------------------------------------------------------- im2col

def _check_geometry(x_shape, kernel, stride, padding, dilation, name):
    """The output size (H', W'), or a ValueError if the kernel does not fit."""
    out_size = conv_output_size(x_shape[2:], kernel, stride, padding, dilation)
    if min(out_size) < 1:
        padded = (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1])
        raise ValueError(f"{name}: the kernel {tuple(kernel)} with dilation {dilation} spans "
                         f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))} pixels, "
                         f"larger than the padded input {padded}")
    return out_size


def _offset_slices(i, j, out_size, stride, dilation):
    """Where kernel offset (i, j) reads x_pad for every output pixel: rows d i + s p, p < H'."""
    (out_h, out_w), (sh, sw), (dh, dw) = out_size, stride, dilation
    return (slice(dh * i, dh * i + sh * (out_h - 1) + 1, sh),
            slice(dw * j, dw * j + sw * (out_w - 1) + 1, sw))


def _im2col(x, kernel, stride, padding, dilation):
    """im2col of validated arguments."""
    n, c, height, width = x.shape
    (kh, kw), (ph, pw) = kernel, padding
    out_h, out_w = conv_output_size((height, width), kernel, stride, padding, dilation)
    padded = n * c * (height + 2 * ph) * (width + 2 * pw)
    check_memory(x.dtype.itemsize * (padded + n * c * kh * kw * out_h * out_w),
                 f"im2col of x {x.shape} with kernel {tuple(kernel)}, padding {tuple(padding)} "
                 "(the padded input and the column buffer)")
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((n, c, kh, kw, out_h, out_w), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _offset_slices(i, j, (out_h, out_w), stride, dilation)
            cols[:, :, i, j] = x_pad[:, :, rows, columns]
    return cols


def _col2im(cols, x_shape, stride, padding, dilation):
    """col2im of validated arguments: the loop of :func:`_im2col` with ``+=``."""
    n, c, kh, kw, out_h, out_w = cols.shape
    (ph, pw), (height, width) = padding, x_shape[2:]
    dx_pad = np.zeros((n, c, height + 2 * ph, width + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _offset_slices(i, j, (out_h, out_w), stride, dilation)
            dx_pad[:, :, rows, columns] += cols[:, :, i, j]
    # What fell on the zero padding has no input pixel to go to.
    return dx_pad[:, :, ph:ph + height, pw:pw + width]


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Lay out every receptive field of x as a column.

    ``cols[n, c, i, j, p, q] = x_pad[n, c, s_h p + d_h i, s_w q + d_w j]``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
        Any real dtype; the columns have the same dtype.
    kernel_size, stride, padding, dilation : int or (int, int)
        (rows, cols) of each; the output size is
        ``H' = (H + 2 pad - d (kh - 1) - 1) // s + 1``.

    Returns
    -------
    cols : ndarray of shape (N, C, kh, kw, H', W')
        Reshaped to ``(N, C * kh * kw, H' * W')`` it is the column matrix.

    Raises
    ------
    ValueError, TypeError
        An argument of the wrong type, shape or range, a kernel larger than the
        padded input, or (``MemoryLimitError``) columns larger than octref's
        memory limit.
    """
    x = real_array(x, "x")
    if x.ndim != 4 or min(x.shape) == 0:
        raise ValueError(f"x must be a non-empty 4-D array (N, C, H, W), got shape {x.shape}")
    kernel = check_pair(kernel_size, "kernel_size", 1)
    stride, padding = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
    dilation = check_pair(dilation, "dilation", 1)
    _check_geometry(x.shape, kernel, stride, padding, dilation, "kernel_size")
    return _im2col(x, kernel, stride, padding, dilation)


def col2im(cols, x_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Adjoint of :func:`im2col`: add every column entry back where it was read.

    Parameters
    ----------
    cols : ndarray of shape (N, C, kh, kw, H', W')
    x_shape : (int, int, int, int)
        (N, C, H, W), the shape of the input of :func:`im2col`.
    stride, padding, dilation : int or (int, int)
        As given to :func:`im2col`.

    Returns
    -------
    ndarray of shape x_shape, the dtype of cols
        ``dx`` with ``<im2col(x), cols> == <x, col2im(cols)>`` for every x;
        entries that fell on the zero padding are dropped.

    Raises
    ------
    ValueError
        When ``cols`` is not the shape :func:`im2col` gives for ``x_shape``
        and these options.
    """
    cols = real_array(cols, "cols")
    if cols.ndim != 6:
        raise ValueError(f"cols must be 6-D (N, C, kh, kw, H', W'), got shape {cols.shape}")
    if not isinstance(x_shape, (tuple, list)) or len(x_shape) != 4:
        raise ValueError(f"x_shape must be a 4-tuple (N, C, H, W), got {x_shape!r}")
    x_shape = tuple(check_int(s, "x_shape", minimum=1) for s in x_shape)
    stride, padding = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
    dilation = check_pair(dilation, "dilation", 1)
    kernel = cols.shape[2:4]
    if min(kernel) < 1:
        raise ValueError(f"cols must have a kernel of at least (1, 1), got shape {cols.shape}")
    out_size = _check_geometry(x_shape, kernel, stride, padding, dilation, "x_shape")
    expected = x_shape[:2] + kernel + tuple(out_size)
    if cols.shape != expected:
        raise ValueError(f"x_shape {x_shape} does not match cols: im2col of that shape with "
                         f"stride {stride}, padding {padding}, dilation {dilation} gives cols "
                         f"of shape {expected}, got {cols.shape}")
    return _col2im(cols, x_shape, stride, padding, dilation)


# --------------------------------------------------------------------------- conv

def _conv(x, w, stride, padding, dilation, groups):
    """Grouped cross-correlation of validated arrays: im2col, then one (batched) product."""
    n = x.shape[0]
    c_out, c_per_group, kh, kw = w.shape
    cols = _im2col(x, (kh, kw), stride, padding, dilation)
    out_h, out_w = cols.shape[-2:]
    # Group g reads input channels [g C/G, (g+1) C/G): a contiguous block of the
    # column matrix's rows, so one reshape exposes the groups to one matmul.
    cols = cols.reshape(n, groups, c_per_group * kh * kw, out_h * out_w)
    w_mat = w.reshape(groups, c_out // groups, c_per_group * kh * kw)
    return (w_mat @ cols).reshape(n, c_out, out_h, out_w)


def _conv_backward(dout, x, w, stride, padding, dilation, groups):
    """(dx, dw) of :func:`_conv`: the two transposed products, then col2im."""
    n = x.shape[0]
    c_out, c_per_group, kh, kw = w.shape
    cols = _im2col(x, (kh, kw), stride, padding, dilation)     # rebuilt, not cached
    check_memory(2 * cols.nbytes, f"the backward of a convolution of x {x.shape} with w "
                 f"{w.shape} (the column buffer and its gradient)")
    cols_mat = cols.reshape(n, groups, c_per_group * kh * kw, -1)
    dout_mat = dout.reshape(n, groups, c_out // groups, -1)
    w_mat = w.reshape(groups, c_out // groups, c_per_group * kh * kw)
    # y = W cols  =>  dW = dy cols^T (summed over the batch), dcols = W^T dy.
    dw = (dout_mat @ cols_mat.swapaxes(-1, -2)).sum(axis=0).reshape(w.shape)
    dcols = (w_mat.swapaxes(-1, -2) @ dout_mat).reshape(cols.shape)
    return _col2im(dcols, x.shape, stride, padding, dilation), dw


def conv_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D cross-correlation (PyTorch's ``conv2d``) as one matrix product.

    ``out[n, f, p, q] = b[f] + sum_{c, i, j} w[f, c, i, j]
    x_pad[n, g(f) C/G + c, s p + d i, s q + d j]``, computed as
    ``W_mat @ im2col(x)`` per group.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
        Integer or boolean input is computed in float64, float16 in float32.
    w : ndarray of shape (C_out, C_in / groups, kh, kw)
    b : ndarray of shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
    groups : int
        Must divide C_in and C_out.

    Returns
    -------
    out : ndarray of shape (N, C_out, H', W')
        ``H' = (H + 2 pad - d (kh - 1) - 1) // s + 1``; dtype of x (float64
        for integer x).
    cache : Cache
        What :func:`conv_backward` needs (the input, not its columns).
    """
    x, w, b, params = check_conv_args(x, w, b, stride, padding, dilation, groups)
    out = _conv(x, w, params.stride, params.padding, params.dilation, params.groups)
    if b is not None:
        out += b[:, None, None]
    cache = Cache("octref.im2col.conv_forward", x, w, b is not None, params)
    return out.astype(params.out_dtype, copy=False), cache


def conv_backward(dout, cache):
    """Gradients of :func:`conv_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, H', W')
        Upstream gradient dL/d out.
    cache : Cache
        From :func:`conv_forward` of this module.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_out, C_in / groups, kh, kw)
    db : ndarray of shape (C_out,), or None when the forward had no bias
    """
    _, x, w, has_bias, params, _ = check_cache(cache, "octref.im2col.conv_forward")
    dout = check_grad(dout, (x.shape[0], w.shape[0]) + params.out_size, "dout", params.dtype)
    dx, dw = _conv_backward(dout, x, w, params.stride, params.padding, params.dilation,
                            params.groups)
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return tuple(None if a is None else a.astype(params.out_dtype, copy=False)
                 for a in (dx, dw, db))


# --------------------------------------------------------------------------- Eq. 4

def _path_options(spec, path):
    """(stride, padding, dilation, groups) of one path's convolution f."""
    stride = 2 if path == "hl" and spec.downsample == "strided" else 1
    return (stride, stride), (spec.padding, spec.padding), (1, 1), spec.path_groups[path]


def _sampling(spec):
    """The down, pool and up of Eq. 4 for this call, and their adjoints.

    ``down``: stride 2 pools every path's input first, as the official code
    does (identity at stride 1). ``pool``: H->L's 2x2 average pooling
    (identity for downsample="strided", whose f has stride 2). ``up``: L->H's
    nearest upsampling to the high grid (identity at stride 2, where it and
    the pooling cancel). Each adjoint takes the array the forward resampled,
    for its size.
    """
    stride2, avgpool = spec.stride == 2, spec.downsample == "avgpool"
    high_size = spec.out_size.get("high")

    def down(a):
        return pool2x2(a) if stride2 else a

    def pool(a):
        return pool2x2(a) if avgpool else a

    def up(a):
        return a if stride2 else upsample2x_nearest(a, high_size)

    def down_t(da, a):
        return pool2x2_backward(da, a.shape[2:]) if stride2 else da

    def pool_t(da, a):
        return pool2x2_backward(da, a.shape[2:]) if avgpool else da

    def up_t(da, a):
        return da if stride2 else upsample2x_nearest_backward(da, a.shape[2:])

    return down, pool, up, down_t, pool_t, up_t


def _sum(a, b):
    """a + b, where None is an absent path (the Gluon code's ``_sum``)."""
    return b if a is None else a if b is None else a + b


def octconv_forward(x, w, b=None, *, stride=1, padding=None, groups=1, downsample="avgpool"):
    """Octave convolution, Eq. 4: each path a convolution, then two sums.

    ``Y^H = f(X^H; W^HH) + upsample(f(X^L; W^LH))`` and
    ``Y^L = f(X^L; W^LL) + f(pool(X^H); W^HL)``, where f is
    :func:`conv_forward`'s convolution with the same ``padding`` and
    ``groups`` on every path (depthwise: each path's own, from the layout),
    pool is :func:`~octref.sampling.pool2x2` and upsample
    :func:`~octref.sampling.upsample2x_nearest`. Absent paths are skipped.

    * ``stride=2`` pools every path's input first, as the official code does
      (H->L pools twice, :func:`octref.octave.path_source`), and L->H is
      f(X^L) with no upsampling.
    * ``downsample="strided"`` computes H->L as f(X^H; W^HL) with stride 2,
      the paper's Table 3 ablation (stride 1 only).

    Parameters
    ----------
    x : Octave
        ``x.high`` (N, C_in_high, H, W) and ``x.low`` (N, C_in_low,
        ceil(H/2), ceil(W/2)); either may be None.
    w : OctaveWeights
        ``hh``, ``hl``, ``lh``, ``ll`` of shape (C_out_part, C_in_part / groups,
        k, k); None exactly for absent paths.
    b : Octave, optional
        ``b.high`` (C_out_high,) added to Y^H, ``b.low`` (C_out_low,) to Y^L.
    stride : {1, 2}
    padding : int or None
        None means size-preserving, (k - 1) / 2.
    groups : int
    downsample : {"avgpool", "strided"}

    Returns
    -------
    y : Octave
        ``y.high`` (N, C_out_high, H_out, W_out), ``y.low`` (N, C_out_low,
        ceil(H_out/2), ceil(W_out/2)); None for an absent output group.
    cache : Cache
        What :func:`octconv_backward` needs: private copies of x and w.
    """
    x, w, b, spec = check_octconv_args(x, w, b, stride, padding, groups, downsample)
    down, pool, up, *_ = _sampling(spec)
    paths = spec.paths

    def f(x_in, path):
        return _conv(x_in, getattr(w, path), *_path_options(spec, path))

    # Eq. 4, one line per path, as the official hybrid_forward (octconv.py, lines 255-262).
    y_hh = f(down(x.high), "hh") if "hh" in paths else None
    y_hl = f(pool(down(x.high)), "hl") if "hl" in paths else None
    y_lh = up(f(x.low, "lh")) if "lh" in paths else None
    y_ll = f(down(x.low), "ll") if "ll" in paths else None
    y_high = _sum(y_hh, y_lh)
    y_low = _sum(y_ll, y_hl)

    y = Octave(y_high, y_low)
    if b is not None:
        y = Octave(*(out if bias is None else out + bias[:, None, None]
                     for out, bias in zip(y, b)))
    has_bias = {g: b is not None and getattr(b, g) is not None for g in GROUPS}
    cache = Cache("octref.im2col.octconv_forward", x, w, has_bias, spec)
    return Octave(*(None if a is None else a.astype(spec.out_dtype, copy=False)
                    for a in y)), cache


def octconv_backward(dy, cache):
    """Gradients of :func:`octconv_forward`: the chain rule of its four lines.

    With f^T the gradients of a convolution and pool^T, up^T the adjoints of
    :mod:`octref.sampling`, each line read right to left::

        dX^H = f^T(dY^H; W^HH) + pool^T(f^T(dY^L; W^HL))
        dX^L = f^T(up^T(dY^H); W^LH) + f^T(dY^L; W^LL)

    (at stride 2 every path's input gradient also goes through pool^T, and
    L->H has no up^T).

    Parameters
    ----------
    dy : Octave
        dL/dY, shaped like y; None for an output group the layer does not have.
    cache : Cache
        From :func:`octconv_forward` of this module.

    Returns
    -------
    dx : Octave
        Shaped like x; None exactly where x had None.
    dw : OctaveWeights
        Shaped like w; None exactly for absent paths.
    db : Octave or None
        ``db.high`` (C_out_high,), ``db.low`` (C_out_low,); None where the
        forward had no bias (None when it had none at all).
    """
    _, x, w, has_bias, spec, _ = check_cache(cache, "octref.im2col.octconv_forward")
    dy_high, dy_low = (check_octave_grad(dy, spec).get(g) for g in GROUPS)
    down, pool, _, down_t, pool_t, up_t = _sampling(spec)
    paths, dw = spec.paths, {}

    def f_t(dout, x_in, path):
        dx_in, dw[path] = _conv_backward(dout, x_in, getattr(w, path),
                                         *_path_options(spec, path))
        return dx_in

    # The forward's lines, each differentiated from its output back to its input.
    dx_hh = down_t(f_t(dy_high, down(x.high), "hh"), x.high) if "hh" in paths else None
    if "hl" in paths:
        x_high_down = down(x.high)
        dx_hl = down_t(pool_t(f_t(dy_low, pool(x_high_down), "hl"), x_high_down), x.high)
    else:
        dx_hl = None
    dx_lh = f_t(up_t(dy_high, x.low), x.low, "lh") if "lh" in paths else None
    dx_ll = down_t(f_t(dy_low, down(x.low), "ll"), x.low) if "ll" in paths else None
    dx_high = _sum(dx_hh, dx_hl)
    dx_low = _sum(dx_lh, dx_ll)

    # An input group no path reads (a depthwise layer without its output) gets zeros.
    dx = Octave(*(None if a is None else np.zeros_like(a) if da is None else da
                  for a, da in zip(x, (dx_high, dx_low))))
    db = None
    if any(has_bias.values()):
        db = Octave(dy_high.sum(axis=(0, 2, 3)) if has_bias["high"] else None,
                    dy_low.sum(axis=(0, 2, 3)) if has_bias["low"] else None)

    def out(tree, kind):
        return None if tree is None else kind(
            *(None if a is None else a.astype(spec.out_dtype, copy=False) for a in tree))
    return (out(dx, Octave), out(OctaveWeights(*(dw.get(p) for p in PATHS)), OctaveWeights),
            out(db, Octave))
