"""Fast octave convolution: im2col + one matrix product per path.

A cross-correlation ``y[n, f, p, q] = sum_{c, i, j} w[f, c, i, j] *
x_pad[n, c, s p + d i, s q + d j]`` becomes a matrix product once every
receptive field is laid out as a column: ``im2col`` copies, for each kernel
offset (i, j), one strided slice of the padded input into the column buffer;
the product with the weights reshaped to ``(C_out, C_in * kh * kw)`` is the
output. ``col2im`` is the same loop with ``+=``, the exact adjoint, and is the
input gradient's last step.

The octave convolution composes these convolutions with the pooling and
upsampling of :mod:`octref.sampling` exactly as Eq. 4 reads::

    Y^H = f(X^H; W^HH) + upsample(f(X^L; W^LH))
    Y^L = f(X^L; W^LL) + f(pool(X^H); W^HL)

Shapes follow PyTorch: NCHW maps, weights ``(C_out, C_in / groups, kh, kw)``.
"""

import numpy as np

from octref.contract import PATHS, ConvParams, check_conv_args, check_octconv_args
from octref.octave import Octave, OctaveWeights
from octref.sampling import (
    pool2x2,
    pool2x2_backward,
    upsample2x_nearest,
    upsample2x_nearest_backward,
)

__all__ = ["im2col", "col2im", "conv_forward", "conv_backward",
           "octconv_forward", "octconv_backward"]


# --------------------------------------------------------------------------- im2col

def _pad(x, padding):
    """Zero-pad the spatial axes of x; no copy when there is no padding."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Lay out every receptive field of x as a column.

    ``cols[n, c, i, j, p, q] = x_pad[n, c, s_h p + d_h i, s_w q + d_w j]``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding, dilation : (int, int)
        (rows, cols) of each; the output size is
        ``H' = (H + 2 pad - d (kh - 1) - 1) // s + 1``.

    Returns
    -------
    cols : ndarray of shape (N, C, kh, kw, H', W')
        Reshaped to ``(N, C * kh * kw, H' * W')`` it is the column matrix.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    x_pad = _pad(x, padding)
    n, c, hp, wp = x_pad.shape
    out_h = (hp - dh * (kh - 1) - 1) // sh + 1
    out_w = (wp - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, c, kh, kw, out_h, out_w), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(dh * i, dh * i + sh * (out_h - 1) + 1, sh)
            columns = slice(dw * j, dw * j + sw * (out_w - 1) + 1, sw)
            cols[:, :, i, j] = x_pad[:, :, rows, columns]
    return cols


def col2im(cols, x_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Adjoint of :func:`im2col`: add every column entry back where it was read.

    Parameters
    ----------
    cols : ndarray of shape (N, C, kh, kw, H', W')
    x_shape : (N, C, H, W)
        Shape of the unpadded input of :func:`im2col`.
    stride, padding, dilation : (int, int)

    Returns
    -------
    ndarray of shape x_shape
        ``dx`` with ``<im2col(x), cols> == <x, col2im(cols)>`` for every x.
    """
    n, c, kh, kw, out_h, out_w = cols.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    height, width = x_shape[2:]
    x_pad = np.zeros((n, c, height + 2 * ph, width + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(dh * i, dh * i + sh * (out_h - 1) + 1, sh)
            columns = slice(dw * j, dw * j + sw * (out_w - 1) + 1, sw)
            x_pad[:, :, rows, columns] += cols[:, :, i, j]
    return x_pad[:, :, ph:ph + height, pw:pw + width]


# --------------------------------------------------------------------------- conv

def _conv(x, w, params):
    """Grouped cross-correlation of validated arrays: (out, cols)."""
    n = x.shape[0]
    c_out, c_in_group, kh, kw = w.shape
    g = params.groups
    cols = im2col(x, (kh, kw), params.stride, params.padding, params.dilation)
    out_h, out_w = cols.shape[-2:]
    # Group g reads channels [g C/G, (g+1) C/G): contiguous in cols, so one
    # reshape exposes the groups and a single batched matmul does them all.
    cols_g = cols.reshape(n, g, c_in_group * kh * kw, out_h * out_w)
    w_g = w.reshape(g, c_out // g, c_in_group * kh * kw)
    out = np.matmul(w_g, cols_g)
    return out.reshape(n, c_out, out_h, out_w), cols


def _conv_backward(dout, cols, w, x_shape, params):
    """(dx, dw) of :func:`_conv` for the upstream gradient dout."""
    n = dout.shape[0]
    c_out, c_in_group, kh, kw = w.shape
    g = params.groups
    out_h, out_w = dout.shape[-2:]
    dout_g = dout.reshape(n, g, c_out // g, out_h * out_w)
    cols_g = cols.reshape(n, g, c_in_group * kh * kw, out_h * out_w)
    # dW[f, k] = sum_{n, pixels} dout[n, f, pixel] * cols[n, k, pixel]
    dw = np.matmul(dout_g, cols_g.transpose(0, 1, 3, 2)).sum(axis=0).reshape(w.shape)
    # dcols = W^T dout, then col2im scatters each column back to its pixels.
    w_g = w.reshape(g, c_out // g, c_in_group * kh * kw)
    dcols = np.matmul(w_g.transpose(0, 2, 1), dout_g).reshape(cols.shape)
    dx = col2im(dcols, x_shape, params.stride, params.padding, params.dilation)
    return dx, dw


def conv_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D cross-correlation (PyTorch's ``conv2d``) by im2col and matmul.

    ``out[n, f, p, q] = b[f] + sum_{c, i, j} w[f, c, i, j]
    x_pad[n, g(f) C/G + c, s p + d i, s q + d j]``.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
        Integer or boolean input is computed in float64.
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
    cache : tuple
        What :func:`conv_backward` needs.
    """
    x, w, b, params = check_conv_args(x, w, b, stride, padding, dilation, groups)
    out, cols = _conv(x, w, params)
    if b is not None:
        out += b[:, None, None]
    return out, (cols, w, x.shape, b is not None, params)


def conv_backward(dout, cache):
    """Gradients of :func:`conv_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, H', W')
        Upstream gradient dL/d out.
    cache : tuple
        From :func:`conv_forward`.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_out, C_in / groups, kh, kw)
    db : ndarray of shape (C_out,), or None when the forward had no bias
    """
    cols, w, x_shape, has_bias, params = cache
    dout = _check_grad(dout, (x_shape[0], w.shape[0]) + params.out_size, "dout", w.dtype)
    dx, dw = _conv_backward(dout, cols, w, x_shape, params)
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dw, db


def _check_grad(grad, shape, name, dtype):
    grad = np.asarray(grad)
    if grad.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {grad.dtype}")
    if grad.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {grad.shape}")
    return grad.astype(dtype, copy=False)


# --------------------------------------------------------------------------- octconv

def octconv_forward(x, w, b=None, *, stride=1, padding=None, groups=1, downsample="avgpool"):
    """Octave convolution (Eq. 4), each path by im2col.

    ``Y^H = f(X^H; W^HH) + upsample(f(X^L; W^LH))`` and
    ``Y^L = f(X^L; W^LL) + f(pool(X^H); W^HL)``, where f is a stride-1
    cross-correlation with the same ``padding`` and ``groups`` on every path,
    pool is :func:`~octref.sampling.pool2x2` and upsample is
    :func:`~octref.sampling.upsample2x_nearest`. Absent groups and paths are
    skipped (see :class:`~octref.octave.OctaveWeights`).

    * ``stride=2`` pools every path's input first (H->H: pool X^H; H->L: pool
      twice; L->L: pool X^L) and L->H is f(X^L) with no upsampling.
    * ``downsample="strided"`` computes H->L as f(X^H; W^HL) with stride 2
      instead of f(pool(X^H); W^HL): the paper's Table 3 ablation, whose
      samples sit half a pixel up-left of the pooled ones (stride 1 only).
    * Depthwise (``groups`` equal to the total input channels): only H->H and
      L->L, each depthwise.

    Parameters
    ----------
    x : Octave
        ``x.high`` (N, C_in_high, H, W) and ``x.low`` (N, C_in_low,
        ceil(H/2), ceil(W/2)); either may be None. Integers compute in float64.
    w : OctaveWeights
        ``hh``, ``hl``, ``lh``, ``ll`` of shape (C_out_part, C_in_part / groups,
        k, k); None exactly for absent paths.
    b : Octave, optional
        One bias vector per output map: ``b.high`` (C_out_high,), ``b.low``
        (C_out_low,), added once to Y^H and Y^L (as the official code).
    stride : {1, 2}
    padding : int or None
        None means size-preserving, (k - 1) / 2. Any layer with more than one
        path, or one crossing frequencies, needs odd k and that padding.
    groups : int
    downsample : {"avgpool", "strided"}

    Returns
    -------
    y : Octave
        ``y.high`` (N, C_out_high, H_out, W_out), ``y.low`` (N, C_out_low,
        ceil(H_out/2), ceil(W_out/2)); None for an absent output group.
    cache : tuple
        What :func:`octconv_backward` needs.
    """
    x, w, b, spec = check_octconv_args(x, w, b, stride, padding, groups, downsample)
    pad = (spec.padding, spec.padding)
    # The map each path convolves, at the resolution of its output.
    inputs = _path_inputs(x, spec)
    outputs, path_caches = {}, {}
    for path in spec.paths:
        strided = path == "hl" and spec.downsample == "strided"
        params = ConvParams((2, 2) if strided else (1, 1), pad, (1, 1), spec.groups[path],
                            None)
        outputs[path], cols = _conv(inputs[path], getattr(w, path), params)
        path_caches[path] = (cols, inputs[path].shape, params)

    y = {}
    for path in spec.paths:
        dst = path[1]
        out = outputs[path]
        if path == "lh" and spec.stride == 1:
            out = upsample2x_nearest(out, spec.out_size["h"])
        y[dst] = out if dst not in y else y[dst] + out
    if b is not None:
        for group, bias in zip("hl", b):
            if bias is not None:
                y[group] = y[group] + bias[:, None, None]
    x_shapes = {g: a.shape for g, a in zip("hl", x) if a is not None}
    has_bias = {g: b is not None and bias is not None for g, bias in zip("hl", b or (None, None))}
    cache = (spec, w, x_shapes, path_caches, has_bias)
    return Octave(y.get("h"), y.get("l")), cache


def _path_inputs(x, spec):
    """The map each path's convolution reads (Eq. 4, with the stride-2 pooling)."""
    high, low = x
    inputs = {}
    if spec.stride == 2:
        # Every path's input is pooled first; L->H then needs no upsampling.
        high = pool2x2(high) if high is not None else None
        if "lh" in spec.paths:
            inputs["lh"] = low
        low = pool2x2(low) if low is not None else None
    for path in spec.paths:
        if path == "hh":
            inputs[path] = high
        elif path == "hl":
            inputs[path] = high if spec.downsample == "strided" else pool2x2(high)
        elif path == "ll":
            inputs[path] = low
        elif spec.stride == 1:
            inputs[path] = low
    return inputs


def octconv_backward(dy, cache):
    """Gradients of :func:`octconv_forward`, path by path.

    The chain rule through Eq. 4, with pool^T and up^T the adjoints in
    :mod:`octref.sampling` and f^T the input gradient of a convolution::

        dX^H = f^T(dY^H; W^HH) + pool^T(f^T(dY^L; W^HL))
        dX^L = f^T(dY^L; W^LL) + f^T(up^T(dY^H); W^LH)

    (at stride 2 each path's input gradient also passes through pool^T, and
    the L->H path has no up^T).

    Parameters
    ----------
    dy : Octave
        dL/dY: ``dy.high`` shaped like ``y.high``, ``dy.low`` like ``y.low``;
        None for an output group the layer does not have.
    cache : tuple
        From :func:`octconv_forward`.

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
    spec, w, x_shapes, path_caches, has_bias = cache
    dys = _check_octave_grad(dy, spec, w, x_shapes)
    dxs, dws = {}, {}
    for path in spec.paths:
        src, dst = path
        cols, in_shape, params = path_caches[path]
        grad = dys[dst]
        if path == "lh" and spec.stride == 1:
            grad = upsample2x_nearest_backward(grad, spec.in_size["l"])
        dx_path, dws[path] = _conv_backward(grad, cols, getattr(w, path), in_shape, params)
        if path == "hl" and spec.downsample == "avgpool":
            dx_path = pool2x2_backward(dx_path, _pooled(x_shapes["h"][2:], spec.stride - 1))
        if spec.stride == 2 and path != "lh":
            dx_path = pool2x2_backward(dx_path, x_shapes[src][2:])
        dxs[src] = dx_path if src not in dxs else dxs[src] + dx_path
    # An input group no path reads (a depthwise layer that drops it) gets zeros.
    dx = Octave(*(None if g not in x_shapes else
                  dxs[g] if g in dxs else np.zeros(x_shapes[g], dtype=_compute_dtype(w))
                  for g in "hl"))
    dw = OctaveWeights(*(dws.get(p) for p in PATHS))
    db = None
    if any(has_bias.values()):
        db = Octave(*(dys[g].sum(axis=(0, 2, 3)) if has_bias[g] else None for g in "hl"))
    return dx, dw, db


def _compute_dtype(w):
    """The compute dtype, carried by the (cast) weights."""
    return next(a for a in w if a is not None).dtype


def _pooled(size, times):
    """Spatial size after pooling ``times`` times."""
    for _ in range(times):
        size = ((size[0] + 1) // 2, (size[1] + 1) // 2)
    return tuple(size)


def _check_octave_grad(dy, spec, w, x_shapes):
    """dy as a dict {group: array}, checked against the output shapes."""
    if not isinstance(dy, tuple) or len(dy) != 2:
        raise TypeError(f"dy must be an Octave(high, low), got {type(dy).__name__}")
    n = next(iter(x_shapes.values()))[0]
    grads = {}
    for group, grad in zip("hl", dy):
        name = f"dy.{'high' if group == 'h' else 'low'}"
        if group not in spec.out_size:
            if grad is not None:
                raise ValueError(f"{name} must be None: the layer has no such output")
            continue
        if grad is None:
            raise ValueError(f"{name} is None but the layer has that output")
        path = next(p for p in spec.paths if p[1] == group)
        shape = (n, getattr(w, path).shape[0]) + tuple(spec.out_size[group])
        grads[group] = _check_grad(grad, shape, name, getattr(w, path).dtype)
    return grads
