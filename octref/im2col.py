"""Fast octave convolution: the paths of Eq. 4 as a few large matrix products.

A cross-correlation ``y[n, f, p, q] = sum_{c, i, j} w[f, c, i, j] *
x_pad[n, c, s_h p + d_h i, s_w q + d_w j]`` becomes matrix products in one of
two ways here.

**im2col** (public, the textbook layout): :func:`im2col` copies, for each
kernel offset (i, j), one strided slice of the input into a column buffer
``cols[n, c, i, j, p, q]``; the product with the weights reshaped to
``(C_out, C_in * kh * kw)`` is the output, and :func:`col2im`, the same loop
with ``+=``, is its exact adjoint. It serves every stride, but it copies the
input kh * kw times, and on NumPy that copy (one core, memory bound) costs
about as much as the multithreaded matrix product.

**Row-shifted columns** (the fast path, row stride 1). Only the kw horizontal
taps are copied, for every zero-padded input row::

    cols[c, j, n, r, q] = x_pad[n, c, r, s_w q + d_w j]        (C kw, N Hp W')

so the copy is kw / (kh kw) of im2col's. One matrix product with the kh row
taps' weights stacked, ``W_stack[(i, f), (c, j)] = w[f, c, i, j]``, gives
``Z = W_stack @ cols`` of shape (kh C_out, N Hp W'), and a row tap is a row
shift: ``y[n, f, p, q] = sum_i Z[(i, f), n, p + d_h i, q]``. The backward is
again one product each: with ``D[(i, f), n, r, q] = dy[n, f, r - d_h i, q]``
(zero outside), ``dW_stack = D @ cols^T`` and ``dcols = W_stack^T @ D``,
followed by a col2im along the columns only. Images go through in chunks small
enough for the buffers to stay in cache, and the buffers are reused: their
zero padding is written once and never overwritten.

The octave convolution composes these with the pooling and upsampling of
:mod:`octref.sampling` exactly as Eq. 4 reads::

    Y^H = f(X^H; W^HH) + upsample(f(X^L; W^LH))
    Y^L = f(X^L; W^LL) + f(pool(X^H); W^HL)

grouped so that each resolution is one pass: the maps a level reads (X^L and
pool(X^H)) share one column buffer, paths into the same output are one
product with their weights concatenated along the input channels
(``[W^HL W^LL]`` against ``[pool(X^H); X^L]``, when groups == 1), and the
upsampled L->H result is added by broadcasting instead of being materialised.

Shapes follow PyTorch: NCHW maps, weights ``(C_out, C_in / groups, kh, kw)``.
"""

from typing import NamedTuple

import numpy as np

from octref.contract import (
    Cache,
    ConvParams,
    check_cache,
    check_conv_args,
    check_grad,
    check_octave_grad,
    check_octconv_args,
)
from octref.octave import (
    GROUPS,
    PATHS,
    Octave,
    OctaveWeights,
    conv_output_size,
    path_ends,
    path_source,
    pooled_size,
)
from octref.sampling import (
    pool2x2,
    pool2x2_backward,
    upsample2x_nearest,
    upsample2x_nearest_backward,
)

__all__ = ["im2col", "col2im", "conv_forward", "conv_backward",
           "octconv_forward", "octconv_backward"]

# Bytes of column and product buffers per chunk of images: small enough for
# the L2 cache of one core (2 MiB here), and for the buffers not to dominate
# the memory of a small layer; large maps go one image at a time.
CHUNK_BYTES = 1 * 2**20


# --------------------------------------------------------------------------- im2col

def _tap_slices(n_in, n_out, kernel, stride, padding, dilation):
    """Per kernel tap t: (output slice, input slice) of the positions in bounds, or None.

    Output position o reads input ``s o + d t - pad``; only those in [0, n_in)
    are listed, so zero padding is never materialised: the other outputs keep
    the zeros their buffer was made with.
    """
    taps = []
    for t in range(kernel):
        shift = dilation * t - padding
        first = max(0, -(shift // stride))              # ceil(-shift / s)
        last = min(n_out - 1, (n_in - 1 - shift) // stride)
        if last < first:
            taps.append(None)
            continue
        start = stride * first + shift
        taps.append((slice(first, last + 1),
                     slice(start, start + stride * (last - first) + 1, stride)))
    return taps


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
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    n, c, height, width = x.shape
    out_h, out_w = conv_output_size((height, width), (kh, kw), stride, padding, dilation)
    cols = np.zeros((n, c, kh, kw, out_h, out_w), dtype=x.dtype)
    rows = _tap_slices(height, out_h, kh, sh, ph, dh)
    columns = _tap_slices(width, out_w, kw, sw, pw, dw)
    for i, row in enumerate(rows):
        for j, col in enumerate(columns):
            if row is not None and col is not None:
                cols[:, :, i, j, row[0], col[0]] = x[:, :, row[1], col[1]]
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
        ``dx`` with ``<im2col(x), cols> == <x, col2im(cols)>`` for every x;
        entries that fell on the zero padding are dropped.
    """
    n, c, kh, kw, out_h, out_w = cols.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    height, width = x_shape[2:]
    dx = np.zeros(tuple(x_shape), dtype=cols.dtype)
    rows = _tap_slices(height, out_h, kh, sh, ph, dh)
    columns = _tap_slices(width, out_w, kw, sw, pw, dw)
    for i, row in enumerate(rows):
        for j, col in enumerate(columns):
            if row is not None and col is not None:
                dx[:, :, row[1], col[1]] += cols[:, :, i, j, row[0], col[0]]
    return dx


def _im2col_conv(x, w, params):
    """Grouped cross-correlation by im2col and one (batched) product: any stride."""
    n = x.shape[0]
    c_out, c_in_group, kh, kw = w.shape
    g = params.groups
    cols = im2col(x, (kh, kw), params.stride, params.padding, params.dilation)
    out_h, out_w = cols.shape[-2:]
    # Group g reads channels [g C/G, (g+1) C/G): contiguous in cols, so one
    # reshape exposes the groups and a single batched matmul does them all.
    cols_g = cols.reshape(n, g, c_in_group * kh * kw, out_h * out_w)
    w_g = w.reshape(g, c_out // g, c_in_group * kh * kw)
    return np.matmul(w_g, cols_g).reshape(n, c_out, out_h, out_w)


def _im2col_conv_backward(dout, x, w, params):
    """(dx, dw) of :func:`_im2col_conv`; the columns are rebuilt, not kept."""
    n = dout.shape[0]
    c_out, c_in_group, kh, kw = w.shape
    g = params.groups
    out_h, out_w = dout.shape[-2:]
    cols = im2col(x, (kh, kw), params.stride, params.padding, params.dilation)
    dout_g = dout.reshape(n, g, c_out // g, out_h * out_w)
    cols_g = cols.reshape(n, g, c_in_group * kh * kw, out_h * out_w)
    # dW[f, k] = sum_{n, pixels} dout[n, f, pixel] * cols[n, k, pixel]
    dw = np.matmul(dout_g, cols_g.transpose(0, 1, 3, 2)).sum(axis=0).reshape(w.shape)
    # dcols = W^T dout, then col2im scatters each column back to its pixels.
    w_g = w.reshape(g, c_out // g, c_in_group * kh * kw)
    dcols = np.matmul(w_g.transpose(0, 2, 1), dout_g).reshape(cols.shape)
    return col2im(dcols, x.shape, params.stride, params.padding, params.dilation), dw


# --------------------------------------------------------------------------- row-shifted columns

class _Grid(NamedTuple):
    """Geometry shared by every product of a :func:`_row_shift_forward` call (stride_h 1)."""

    kernel: tuple      # (kh, kw)
    padding: tuple     # (ph, pw)
    dilation: tuple    # (dh, dw)
    stride_w: int
    in_size: tuple     # (H, W) of every input block
    out_size: tuple    # (H', W')


class _Product(NamedTuple):
    """One matrix product: ``w`` against the stacked input channels [start, stop)."""

    w: np.ndarray      # (C_out, (stop - start) / groups, kh, kw)
    start: int
    stop: int
    groups: int


def _grid(params, kernel, in_size):
    return _Grid(tuple(kernel), params.padding, params.dilation, params.stride[1],
                 tuple(in_size), params.out_size)


def _stack_weights(w, groups):
    """``W_stack[g, (i, f), (c, j)] = w[g F/G + f, c, i, j]``: shape (G, kh F/G, C/G kw)."""
    f, cg, kh, kw = w.shape
    fg = f // groups
    return (w.reshape(groups, fg, cg, kh, kw).transpose(0, 3, 1, 2, 4)
            .reshape(groups, kh * fg, cg * kw))


def _unstack_weights(dw_stack, shape, groups):
    """Inverse of :func:`_stack_weights`: (G, kh F/G, C/G kw) back to (F, C/G, kh, kw)."""
    f, cg, kh, kw = shape
    return (dw_stack.reshape(groups, kh, f // groups, cg, kw).transpose(0, 2, 3, 1, 4)
            .reshape(shape))


class _Buffers:
    """Reusable per-chunk buffers whose zero padding is written once.

    ``cols`` is (C, kw, nb, Hp, W'): every chunk writes exactly the in-bounds
    entries, so the padding rows and columns stay zero. ``matrix(buffer, start,
    stop, groups, nb)`` views channels [start, stop) of the first nb images as
    (G, C_part / G kw, nb Hp W'), a BLAS-ready view with a leading dimension,
    no copy.
    """

    def __init__(self, blocks, grid, chunk, dtype):
        (_, kw), (ph, _) = grid.kernel, grid.padding
        self.hp = grid.in_size[0] + 2 * ph
        self.chunk = chunk
        c_total = sum(block.shape[1] for block in blocks)
        self.cols = np.zeros((c_total, kw, chunk, self.hp, grid.out_size[1]), dtype=dtype)
        self.grid = grid
        self.blocks = blocks
        self.col_taps = _tap_slices(grid.in_size[1], grid.out_size[1], kw, grid.stride_w,
                                    grid.padding[1], grid.dilation[1])

    def fill(self, n0, nb):
        """cols[c, j, n, r, q] = x_pad[n0 + n, c, r, s_w q + d_w j] for the stacked blocks."""
        ph, height = self.grid.padding[0], self.grid.in_size[0]
        c0 = 0
        for block in self.blocks:
            c1 = c0 + block.shape[1]
            images = block[n0:n0 + nb].transpose(1, 0, 2, 3)   # (C_a, nb, H, W)
            for j, tap in enumerate(self.col_taps):
                if tap is not None:
                    self.cols[c0:c1, j, :nb, ph:ph + height, tap[0]] = images[..., tap[1]]
            c0 = c1

    @staticmethod
    def matrix(buffer, start, stop, groups, nb):
        part = buffer[start:stop, :, :nb]
        return part.reshape(groups, -1, nb * part.shape[-2] * part.shape[-1])


def _chunk_size(n, blocks, products, grid, itemsize):
    """Images per chunk so that the columns and one product buffer fit CHUNK_BYTES."""
    (kh, kw), hp = grid.kernel, grid.in_size[0] + 2 * grid.padding[0]
    c_total = sum(block.shape[1] for block in blocks)
    f_max = max(product.w.shape[0] for product in products)
    per_image = itemsize * hp * grid.out_size[1] * (2 * c_total * kw + kh * f_max)
    most = max(1, min(n, CHUNK_BYTES // per_image))
    # Even chunks: 8 images at most 7 per chunk go 4 + 4, not 7 + 1.
    chunks = -(-n // most)
    return -(-n // chunks)


def _row_shift_forward(blocks, products, grid):
    """Outputs of the products over the channel-stacked input blocks (row stride 1).

    Parameters
    ----------
    blocks : list of ndarray (N, C_a, H, W)
        Inputs at one resolution; their channels are stacked in order.
    products : list of _Product
        Each reads a contiguous range of the stacked channels.
    grid : _Grid

    Returns
    -------
    list of ndarray (N, C_out, H', W'), one per product.
    """
    n, dtype = blocks[0].shape[0], blocks[0].dtype
    (kh, _), dh = grid.kernel, grid.dilation[0]
    out_h, out_w = grid.out_size
    chunk = _chunk_size(n, blocks, products, grid, dtype.itemsize)
    buffers = _Buffers(blocks, grid, chunk, dtype)
    stacks = [_stack_weights(p.w, p.groups) for p in products]
    outs = [np.empty((n, p.w.shape[0], out_h, out_w), dtype=dtype) for p in products]
    z_flat = np.empty(max(s.size // s.shape[-1] for s in stacks) * chunk * buffers.hp * out_w,
                      dtype=dtype)
    for n0 in range(0, n, chunk):
        nb = min(chunk, n - n0)
        buffers.fill(n0, nb)
        for product, w_stack, out in zip(products, stacks, outs):
            g = product.groups
            cols = buffers.matrix(buffers.cols, product.start, product.stop, g, nb)
            z = z_flat[:g * w_stack.shape[1] * cols.shape[-1]].reshape(g, w_stack.shape[1], -1)
            np.matmul(w_stack, cols, out=z)
            # Row tap i of output row p is Z's block i at padded row p + d_h i: the
            # sum of kh row-shifted views, written straight into NCHW order.
            z = z.reshape(g, kh, -1, nb, buffers.hp, out_w)
            target = out[n0:n0 + nb].reshape(nb, g, -1, out_h, out_w).transpose(1, 2, 0, 3, 4)
            if kh == 1:
                np.copyto(target, z[:, 0, :, :, :out_h])
            else:
                np.add(z[:, 0, :, :, :out_h], z[:, 1, :, :, dh:dh + out_h], out=target)
                for i in range(2, kh):
                    target += z[:, i, :, :, dh * i:dh * i + out_h]
    return outs


def _row_shift_backward(blocks, products, douts, grid):
    """(d blocks, d weights) of :func:`_row_shift_forward` for the gradients ``douts``."""
    n, dtype = blocks[0].shape[0], blocks[0].dtype
    (kh, _), (ph, _), dh = grid.kernel, grid.padding, grid.dilation[0]
    height = grid.in_size[0]
    out_h, out_w = grid.out_size
    chunk = _chunk_size(n, blocks, products, grid, dtype.itemsize)
    buffers = _Buffers(blocks, grid, chunk, dtype)
    dcols = np.empty_like(buffers.cols)
    stacks = [_stack_weights(p.w, p.groups) for p in products]
    dstacks = [np.zeros_like(s) for s in stacks]
    # D[g, i, f, n, r, q] = dy[n, g F/G + f, r - d_h i, q]; the other rows stay zero.
    d_bufs = [np.zeros((p.groups, kh, p.w.shape[0] // p.groups, chunk, buffers.hp, out_w),
                       dtype=dtype) for p in products]
    # A column tap that reads every input column (the centre one of a padded
    # stride-1 kernel) writes dx first, so dx needs no zero fill.
    width = grid.in_size[1]
    full = next((j for j, tap in enumerate(buffers.col_taps)
                 if tap is not None and tap[1] == slice(0, width, 1)), None)
    dblocks = [(np.empty_like if full is not None else np.zeros_like)(block) for block in blocks]
    c_total = buffers.cols.shape[0]
    for n0 in range(0, n, chunk):
        nb = min(chunk, n - n0)
        buffers.fill(n0, nb)
        written = np.zeros(c_total, dtype=bool)
        for product, w_stack, dw_stack, d, dout in zip(products, stacks, dstacks, d_bufs, douts):
            g = product.groups
            dy = dout[n0:n0 + nb].reshape(nb, g, -1, out_h, out_w).transpose(1, 2, 0, 3, 4)
            for i in range(kh):
                d[:, i, :, :nb, dh * i:dh * i + out_h] = dy
            d_matrix = d[:, :, :, :nb].reshape(g, kh * d.shape[2], -1)
            cols = buffers.matrix(buffers.cols, product.start, product.stop, g, nb)
            dw_stack += np.matmul(d_matrix, cols.transpose(0, 2, 1))
            # dcols = W_stack^T D; products reading the same channels add up.
            dc = buffers.matrix(dcols, product.start, product.stop, g, nb)
            seen = written[product.start:product.stop]
            if not seen.any():
                np.matmul(w_stack.transpose(0, 2, 1), d_matrix, out=dc)
            else:
                dcols[product.start + np.flatnonzero(~seen), :, :nb] = 0
                dc += np.matmul(w_stack.transpose(0, 2, 1), d_matrix)
            seen[:] = True
        # col2im along the columns; padded rows and columns are dropped.
        c0 = 0
        for block, dblock in zip(blocks, dblocks):
            c1 = c0 + block.shape[1]
            dimages = dblock[n0:n0 + nb].transpose(1, 0, 2, 3)
            if full is not None:
                tap = buffers.col_taps[full]
                dimages[...] = dcols[c0:c1, full, :nb, ph:ph + height, tap[0]]
            for j, tap in enumerate(buffers.col_taps):
                if tap is not None and j != full:
                    dimages[..., tap[1]] += dcols[c0:c1, j, :nb, ph:ph + height, tap[0]]
            c0 = c1
    dws = [_unstack_weights(ds, p.w.shape, p.groups) for ds, p in zip(dstacks, products)]
    return dblocks, dws


# --------------------------------------------------------------------------- conv

def _conv(x, w, params):
    """Grouped cross-correlation of validated arrays; the fast path when the row stride is 1."""
    if params.stride[0] != 1:
        return _im2col_conv(x, w, params)
    grid = _grid(params, w.shape[2:], x.shape[2:])
    return _row_shift_forward([x], [_Product(w, 0, x.shape[1], params.groups)], grid)[0]


def _conv_backward(dout, x, w, params):
    """(dx, dw) of :func:`_conv`."""
    if params.stride[0] != 1:
        return _im2col_conv_backward(dout, x, w, params)
    grid = _grid(params, w.shape[2:], x.shape[2:])
    (dx,), (dw,) = _row_shift_backward([x], [_Product(w, 0, x.shape[1], params.groups)],
                                       [dout], grid)
    return dx, dw


def conv_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D cross-correlation (PyTorch's ``conv2d``) by matrix products.

    ``out[n, f, p, q] = b[f] + sum_{c, i, j} w[f, c, i, j]
    x_pad[n, g(f) C/G + c, s p + d i, s q + d j]``.

    Row-shifted columns when the row stride is 1, im2col otherwise (see the
    module docstring).

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
        What :func:`conv_backward` needs (the input itself, not its columns).
    """
    x, w, b, params = check_conv_args(x, w, b, stride, padding, dilation, groups)
    out = _conv(x, w, params)
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
    cache : tuple
        From :func:`conv_forward`.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_out, C_in / groups, kh, kw)
    db : ndarray of shape (C_out,), or None when the forward had no bias
    """
    _, x, w, has_bias, params, _ = check_cache(cache, "octref.im2col.conv_forward")
    dout = check_grad(dout, (x.shape[0], w.shape[0]) + params.out_size, "dout", w.dtype)
    dx, dw = _conv_backward(dout, x, w, params)
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    out = params.out_dtype
    return (dx.astype(out, copy=False), dw.astype(out, copy=False),
            None if db is None else db.astype(out, copy=False))


# --------------------------------------------------------------------------- octconv plan

class _Level(NamedTuple):
    """The paths whose inputs share one resolution, computed in one pass.

    ``sources[a] = (group, times)``: block a is x.<group> pooled ``times`` times.
    ``products[m]`` computes ``paths[m]`` (two paths when merged, their weights
    concatenated along the input channels in block order).
    """

    blocks: list
    sources: list
    products: list
    paths: list
    grid: _Grid


def _pooled_input(x, source, cache):
    """x.<group> pooled ``times`` times, each pooling computed once."""
    if source not in cache:
        group, times = source
        cache[source] = pool2x2(_pooled_input(x, (group, times - 1), cache)) if times else \
            getattr(x, group)
    return cache[source]


def _octave_plan(x, w, spec):
    """(levels, strided): the passes of the forward and the stride-2 H->L path if any.

    Paths are grouped by the size of the map they read. Inside a level, two
    paths into the same output with groups == 1 read the two blocks, so they
    become one product over all stacked channels (e.g. ``[W^HL W^LL]`` against
    ``[pool(X^H); X^L]``).
    """
    pooled = {}
    strided = "hl" if ("hl" in spec.paths and spec.downsample == "strided") else None
    by_size = {}
    for path in spec.paths:
        if path == strided:
            continue
        source = path_source(path, spec.stride, spec.downsample)
        block = _pooled_input(x, source, pooled)
        by_size.setdefault(block.shape[2:], []).append((path, source, block))
    pad = (spec.padding, spec.padding)
    levels = []
    for size, members in by_size.items():
        sources, blocks = [], []
        for _, source, block in members:
            if source not in sources:
                sources.append(source)
                blocks.append(block)
        offsets = np.cumsum([0] + [b.shape[1] for b in blocks])
        params = ConvParams((1, 1), pad, (1, 1), 1,
                            conv_output_size(size, (spec.kernel,) * 2, (1, 1), pad, (1, 1)))
        products, paths = [], []
        for dst in GROUPS:
            into = sorted((sources.index(src), p) for p, src, _ in members
                          if _dst(p, spec) == dst)
            blocks_read = [a for a, _ in into]
            if (len(into) == 2 and blocks_read[1] == blocks_read[0] + 1
                    and all(spec.path_groups[p] == 1 for _, p in into)):
                weight = np.concatenate([getattr(w, p) for _, p in into], axis=1)
                products.append(_Product(weight, int(offsets[blocks_read[0]]),
                                         int(offsets[blocks_read[1] + 1]), 1))
                paths.append(tuple(p for _, p in into))
            else:
                for a, p in into:
                    products.append(_Product(getattr(w, p), int(offsets[a]),
                                             int(offsets[a + 1]), spec.path_groups[p]))
                    paths.append((p,))
        # L->H at stride 1 writes a low-resolution map that is upsampled later.
        for a, p in [(sources.index(src), p) for p, src, _ in members if _dst(p, spec) == "up"]:
            products.append(_Product(getattr(w, p), int(offsets[a]), int(offsets[a + 1]),
                                     spec.path_groups[p]))
            paths.append((p,))
        levels.append(_Level(blocks, sources, products, paths,
                             _grid(params, (spec.kernel,) * 2, size)))
    return levels, strided


def _dst(path, spec):
    """Where a path's product goes: "h", "l", or "up" (L->H at stride 1, upsampled into h)."""
    if path == "lh" and spec.stride == 1:
        return "up"
    return path_ends(path)[1]


def _strided_params(spec):
    return ConvParams((2, 2), (spec.padding,) * 2, (1, 1), spec.path_groups["hl"],
                      spec.out_size["low"])


# --------------------------------------------------------------------------- octconv

def octconv_forward(x, w, b=None, *, stride=1, padding=None, groups=1, downsample="avgpool"):
    """Octave convolution (Eq. 4) by matrix products, one pass per resolution.

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
        What :func:`octconv_backward` needs: the inputs (and pooled inputs),
        not their columns.
    """
    x, w, b, spec = check_octconv_args(x, w, b, stride, padding, groups, downsample)
    levels, strided = _octave_plan(x, w, spec)
    y, upsampled = {}, []
    for level in levels:
        outs = _row_shift_forward(level.blocks, level.products, level.grid)
        for paths, out in zip(level.paths, outs):
            dst = _dst(paths[0], spec)
            if dst == "up":
                upsampled.append(out)
            elif dst in y:
                y[dst] += out
            else:
                y[dst] = out
    if strided:
        out = _im2col_conv(x.high, w.hl, _strided_params(spec))
        y["low"] = y["low"] + out if "low" in y else out
    for out in upsampled:
        if "high" in y:
            _add_upsampled(y["high"], out)
        else:
            y["high"] = upsample2x_nearest(out, spec.out_size["high"])
    if b is not None:
        for group, bias in zip(GROUPS, b):
            if bias is not None:
                y[group] += bias[:, None, None]
    has_bias = {g: b is not None and bias is not None
                for g, bias in zip(GROUPS, b or (None, None))}
    cache = Cache("octref.im2col.octconv_forward", x, w, has_bias, spec, levels)
    y = Octave(*(y[g].astype(spec.out_dtype, copy=False) if g in y else None for g in GROUPS))
    return y, cache


def _add_upsampled(y, low):
    """``y += upsample2x_nearest(low)`` in place, without materialising the upsampled map.

    The columns are upsampled first (a copy of half the size of y, with
    contiguous rows), then added to both rows of each pair by broadcasting:
    strided adds over every other column are twice as slow in NumPy.
    """
    height, width = y.shape[-2:]
    wide = np.repeat(low, 2, axis=-1)[..., :width]
    if height % 2 == 0 and y.flags.c_contiguous:
        row_pairs = y.reshape(y.shape[:-2] + (height // 2, 2, width))
        row_pairs += wide[..., None, :]
    else:
        y[..., 0::2, :] += wide
        y[..., 1::2, :] += wide[..., :height // 2, :]


def octconv_backward(dy, cache):
    """Gradients of :func:`octconv_forward`, one pass per resolution.

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
    _, x, w, has_bias, spec, levels = check_cache(cache, "octref.im2col.octconv_forward")
    dys = check_octave_grad(dy, spec)
    dsources, dws = {}, {}
    for level in levels:
        douts = []
        for paths in level.paths:
            grad = dys[path_ends(paths[0])[1]]
            if _dst(paths[0], spec) == "up":
                grad = upsample2x_nearest_backward(grad, spec.in_size["low"])
            douts.append(grad)
        dblocks, dweights = _row_shift_backward(level.blocks, level.products, douts, level.grid)
        for source, dblock in zip(level.sources, dblocks):
            dsources[source] = dsources[source] + dblock if source in dsources else dblock
        for paths, dweight in zip(level.paths, dweights):
            # A merged product's gradient splits back along the input channels.
            splits = np.cumsum([getattr(w, p).shape[1] for p in paths])[:-1]
            for p, part in zip(paths, np.split(dweight, splits, axis=1)):
                dws[p] = part
    dxs = {}
    if "hl" in spec.paths and spec.downsample == "strided":
        dx_hl, dws["hl"] = _im2col_conv_backward(dys["low"], x.high, w.hl,
                                                 _strided_params(spec))
        dxs["high"] = dx_hl
    # A source pooled t times passes its gradient down through pool^T t times;
    # sources of one group share the trip from the deepest one up.
    for group in GROUPS:
        depths = [t for g, t in dsources if g == group]
        if not depths:
            continue
        grad = dsources[(group, max(depths))]
        for times in range(max(depths), 0, -1):
            size = pooled_size(spec.in_size[group], times - 1)
            finer = dsources.get((group, times - 1))
            if finer is not None and size[0] % 2 == 0 and size[1] % 2 == 0:
                # Even sizes: pool^T is a quarter of nearest upsampling, added in place
                # into the gradient already there (ours to modify) without a full-size temporary.
                _add_upsampled(finer, grad * grad.dtype.type(0.25))
                grad = finer
            else:
                grad = pool2x2_backward(grad, size)
                if finer is not None:
                    grad += finer
        dxs[group] = dxs[group] + grad if group in dxs else grad
    # An input group no path reads (a depthwise layer that drops it) gets zeros.
    dx = Octave(*(None if a is None else dxs[g] if g in dxs else np.zeros_like(a)
                  for g, a in zip(GROUPS, x)))
    dw = OctaveWeights(*(dws.get(p) for p in PATHS))
    db = None
    if any(has_bias.values()):
        db = Octave(*(dys[g].sum(axis=(0, 2, 3)) if has_bias[g] else None for g in GROUPS))

    def out(a):
        return None if a is None else a.astype(spec.out_dtype, copy=False)
    db = None if db is None else Octave(*map(out, db))
    return Octave(*map(out, dx)), OctaveWeights(*map(out, dw)), db
