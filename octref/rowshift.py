"""The fast engine: octave convolution as a few large matrix products on row-shifted columns.

Same contract as :mod:`octref.loops` and :mod:`octref.im2col` (read those first:
this module computes exactly what they do, only faster). A cross-correlation
``y[n, f, p, q] = sum_{c, i, j} w[f, c, i, j] x_pad[n, c, p + d_h i, s_w q + d_w j]``
(row stride 1) is computed with **row-shifted columns**: only the kw horizontal
taps are copied, for every zero-padded input row::

    cols[c, j, n, r, q] = x_pad[n, c, r, s_w q + d_w j]        (C kw, N Hp W')

so the copy is kw / (kh kw) of im2col's. One matrix product with the kh row
taps' weights stacked, ``W_stack[(i, f), (c, j)] = w[f, c, i, j]``, gives
``Z = W_stack @ cols`` of shape (kh C_out, N Hp W'), and a row tap is a row
shift: ``y[n, f, p, q] = sum_i Z[(i, f), n, p + d_h i, q]``. The backward is
again one product each: with ``D[(i, f), n, r, q] = dy[n, f, r - d_h i, q]``
(zero outside), ``dW_stack = D @ cols^T`` and ``dcols = W_stack^T @ D``,
followed by a col2im along the columns only.

Images go through in pieces small enough for the buffers to stay in cache
(several images per piece for small maps); an image too large for one piece
is cut into bands of rows (the forward's bands overlap by the kernel's
``d_h (kh - 1)`` rows, the backward's do not), so the working memory is the
output plus one piece. The buffers are reused from piece to piece.

The octave convolution (Eq. 4) is grouped so that each resolution is one pass:

    Y^H = f(X^H; W^HH) + upsample(f(X^L; W^LH))
    Y^L = f(X^L; W^LL) + f(pool(X^H); W^HL)

the maps a level reads (X^L and pool(X^H)) share one column buffer; paths into
the same output are one product with their weights concatenated along the
input channels (``[W^HL W^LL]`` against ``[pool(X^H); X^L]``, when groups ==
1); and the L->H result of each piece is upsampled and added into Y^H while
it is in cache, never materialised whole. A stride-2 H->L path
(``downsample="strided"``) is a plain im2col product.

Shapes follow PyTorch: NCHW maps, weights ``(C_out, C_in / groups, kh, kw)``.
"""

import math
from typing import NamedTuple

import numpy as np

from octref.contract import (
    Cache,
    ConvParams,
    check_cache,
    check_conv_args,
    check_grad,
    check_memory,
    check_octave_grad,
    check_octconv_args,
)
from octref.im2col import col2im, im2col
from octref.octave import (
    GROUPS,
    PATHS,
    Octave,
    OctaveWeights,
    path_ends,
    path_source,
    pooled_size,
)
from octref.sampling import pool2x2, pool2x2_backward, upsample2x_nearest_backward

__all__ = ["conv_forward", "conv_backward", "octconv_forward", "octconv_backward"]

# Bytes of column and product buffers per piece of images: small enough for
# the L2 cache of one core (2 MiB here), and for the buffers not to dominate
# the memory of a small layer.
CHUNK_BYTES = 1 * 2**20
# An image whose buffers exceed this is cut into bands of rows of about this
# size: large maps stay within "output plus one piece" of memory, and mid-sized
# ones (one image of 4x128x56x56 needs 30 MiB) keep their long products.
BAND_BYTES = 32 * 2**20


# ------------------------------------------------------------------ plain im2col (any stride)

def _im2col_conv(x, w, params):
    """Grouped cross-correlation by im2col and one (batched) product: any stride."""
    n = x.shape[0]
    c_out, c_in_group, kh, kw = w.shape
    g = params.groups
    cols = im2col(x, (kh, kw), params.stride, params.padding, params.dilation)
    out_h, out_w = cols.shape[-2:]
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
    dw = np.matmul(dout_g, cols_g.transpose(0, 1, 3, 2)).sum(axis=0).reshape(w.shape)
    w_g = w.reshape(g, c_out // g, c_in_group * kh * kw)
    dcols = np.matmul(w_g.transpose(0, 2, 1), dout_g).reshape(cols.shape)
    return col2im(dcols, x.shape, params.stride, params.padding, params.dilation), dw


def _im2col_bytes(x_shape, w_shape, params, itemsize):
    """Working memory of :func:`_im2col_conv_backward`: columns, their gradient, dx."""
    n, c = x_shape[:2]
    kh, kw = w_shape[2:]
    columns = n * c * kh * kw * params.out_size[0] * params.out_size[1]
    return itemsize * (2 * columns + math.prod(x_shape))


# --------------------------------------------------------------------------- row-shifted columns

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


class _Grid(NamedTuple):
    """Geometry shared by every product of one pass (row stride 1)."""

    kernel: tuple      # (kh, kw)
    padding: tuple     # (ph, pw)
    dilation: tuple    # (dh, dw)
    stride_w: int
    in_size: tuple     # (H, W) of every input block
    out_size: tuple    # (H', W')

    @property
    def halo(self):
        """Extra padded rows a band of output rows reads: d_h (kh - 1)."""
        return self.dilation[0] * (self.kernel[0] - 1)

    @property
    def padded_rows(self):
        return self.in_size[0] + 2 * self.padding[0]


class _Product(NamedTuple):
    """One matrix product: weights of ``shape`` against the stacked input channels [start, stop).

    ``stack`` is the weights as :func:`_stack_weights` lays them out, octref's
    own copy: the forward builds it once and the backward reuses it.
    """

    shape: tuple       # (C_out, (stop - start) / groups, kh, kw)
    stack: np.ndarray  # (groups, kh C_out / groups, (stop - start) / groups kw)
    start: int
    stop: int
    groups: int


def _product(weights, start, stop, groups):
    """A :class:`_Product` of ``weights`` (a list, concatenated along the input channels)."""
    shape = (weights[0].shape[0], sum(w.shape[1] for w in weights)) + weights[0].shape[2:]
    return _Product(shape, _stack_weights(weights, groups), start, stop, groups)


class _Pieces(NamedTuple):
    """How a pass walks the batch: ``images`` per piece, or bands of ``rows`` of one image."""

    images: int
    rows: int          # output rows per forward band (all of them when images > 1)
    buffer_rows: int   # padded rows a buffer holds


def _grid(params, kernel, in_size):
    return _Grid(tuple(kernel), params.padding, params.dilation, params.stride[1],
                 tuple(in_size), params.out_size)


def _pieces(n, c_total, f_max, grid, itemsize):
    """Images per piece (even pieces that fit CHUNK_BYTES), or bands of one image's rows."""
    (kh, kw), out_w, hp = grid.kernel, grid.out_size[1], grid.padded_rows
    # Per padded row: the columns, their gradient, and one product buffer.
    per_row = itemsize * out_w * (2 * c_total * kw + kh * f_max)
    if per_row * hp <= BAND_BYTES:
        # (Pieces capped at the size of the pass's maps would help the memory
        # ratio of small layers, but cost up to 30 % of their speed: measured.)
        most = max(1, min(n, CHUNK_BYTES // (per_row * hp)))
        pieces = -(-n // most)                # 8 images, at most 7 a piece: 4 + 4, not 7 + 1
        return _Pieces(-(-n // pieces), grid.out_size[0], hp)
    out_h = grid.out_size[0]
    # At least 4 halos per band, so the overlap re-copies at most a quarter.
    rows = min(out_h, max(4 * grid.halo, 1, BAND_BYTES // per_row - grid.halo))
    bands = -(-out_h // rows)
    rows = -(-out_h // bands)
    return _Pieces(1, rows, rows + grid.halo)


def _forward_pieces(n, pieces, out_h):
    """(n0, nb, p0, p1): images [n0, n0 + nb), output rows [p0, p1)."""
    for n0 in range(0, n, pieces.images):
        for p0 in range(0, out_h, pieces.rows):
            yield n0, min(pieces.images, n - n0), p0, min(out_h, p0 + pieces.rows)


def _backward_pieces(n, pieces, hp):
    """(n0, nb, r0, r1): images [n0, n0 + nb), padded input rows [r0, r1), no overlap."""
    for n0 in range(0, n, pieces.images):
        for r0 in range(0, hp, pieces.buffer_rows):
            yield n0, min(pieces.images, n - n0), r0, min(hp, r0 + pieces.buffer_rows)


def _buffer_bytes(n, c_total, f_max, grid, itemsize, backward):
    """Bytes of the buffers of one pass (forward, or backward with its gradients)."""
    pieces = _pieces(n, c_total, f_max, grid, itemsize)
    (kh, kw), out_w = grid.kernel, grid.out_size[1]
    per_row = out_w * ((2 if backward else 1) * c_total * kw + kh * f_max)
    extra = 0 if backward else f_max * pieces.rows * out_w   # the L->H piece
    return itemsize * pieces.images * (pieces.buffer_rows * per_row + extra)


def _kernel_rows(w):
    """``w`` of shape (..., kw) as an array of shape (...) whose items are kernel rows of kw values.

    The weight stacks reorder the kernel's axes but never split a row of kw
    taps; copying whole rows as single (void) items makes those copies 2-3
    times faster than moving kw separate numbers (measured on 256-channel
    layers, whose weights outweigh their maps).
    """
    w = np.ascontiguousarray(w)
    return w.view(np.dtype((np.void, w.shape[-1] * w.itemsize)))[..., 0]


def _stack_weights(weights, groups):
    """``W_stack[g, (i, f), (c, j)] = w[g F/G + f, c, i, j]``: shape (G, kh F/G, C/G kw).

    ``w`` is the list ``weights`` concatenated along the input channels c
    (``[W^HL W^LL]`` for a merged product), written in one pass, no
    intermediate concatenation.
    """
    f, _, kh, kw = weights[0].shape
    fg = f // groups
    cg = sum(w.shape[1] for w in weights)
    stack = np.empty((groups, kh, fg, cg, kw), dtype=weights[0].dtype)
    rows = _kernel_rows(stack)                                  # (G, kh, F/G, C/G)
    c0 = 0
    for w in weights:
        c1 = c0 + w.shape[1]
        rows[:, :, :, c0:c1] = (_kernel_rows(w).reshape(groups, fg, c1 - c0, kh)
                                .transpose(0, 3, 1, 2))
        c0 = c1
    return stack.reshape(groups, kh * fg, cg * kw)


def _unstack_weights(dw_stack, shape, groups):
    """Inverse of :func:`_stack_weights`: (G, kh F/G, C/G kw) back to (F, C/G, kh, kw)."""
    # A plain transposing copy: moving kernel rows here (as the stacking does)
    # raised the backward's traced peak by one weight array (measured, not
    # explained), for a saving of well under 1 % of the backward.
    f, cg, kh, kw = shape
    return (dw_stack.reshape(groups, kh, f // groups, cg, kw).transpose(0, 2, 3, 1, 4)
            .reshape(shape))


class _Buffers:
    """Reusable per-piece column buffer ``cols`` of shape (C, kw, images, rows, W').

    Every fill writes the in-bounds entries of its rows and zeroes its padding
    rows; the padding columns are never written, so they stay zero.
    ``matrix(buffer, start, stop, groups, nb, rows)`` views channels [start,
    stop) as (G, C_part / G kw, nb rows W'), a BLAS-ready view with a leading
    dimension, no copy (a piece has all of the buffer's rows or one image).

    ``copies`` (optional, one per block: an array shaped like the block, or
    None): each fill also copies the rows it read into it, while they are in
    cache; the forward makes the copies of the inputs its cache keeps this way.
    """

    def __init__(self, blocks, grid, pieces, dtype, copies=None):
        kw = grid.kernel[1]
        c_total = sum(block.shape[1] for block in blocks)
        self.cols = np.zeros((c_total, kw, pieces.images, pieces.buffer_rows, grid.out_size[1]),
                             dtype=dtype)
        self.grid = grid
        self.blocks = blocks
        self.copies = copies or [None] * len(blocks)
        self.col_taps = _tap_slices(grid.in_size[1], grid.out_size[1], kw, grid.stride_w,
                                    grid.padding[1], grid.dilation[1])

    def fill(self, n0, nb, start, rows):
        """cols[c, j, n, r, q] = x_pad[n0 + n, c, start + r, s_w q + d_w j], r < rows."""
        ph, height = self.grid.padding[0], self.grid.in_size[0]
        first, last = max(start, ph), min(start + rows, ph + height)   # padded rows in x
        cols = self.cols[:, :, :nb, :rows]
        # A band's padding rows held data rows of the band before; a whole
        # image's padding rows are zero from the start and never written.
        banded = (start, rows) != (0, self.grid.padded_rows)
        if banded and first > start:
            cols[:, :, :, :first - start] = 0
        if banded and last < start + rows:
            cols[:, :, :, max(first, last) - start:] = 0
        if last <= first:
            return
        c0 = 0
        for block, copy in zip(self.blocks, self.copies):
            c1 = c0 + block.shape[1]
            images = block[n0:n0 + nb, :, first - ph:last - ph].transpose(1, 0, 2, 3)
            for j, tap in enumerate(self.col_taps):
                if tap is not None:
                    cols[c0:c1, j, :, first - start:last - start, tap[0]] = images[..., tap[1]]
            if copy is not None:
                rows_read = (slice(n0, n0 + nb), slice(None), slice(first - ph, last - ph))
                copy[rows_read] = block[rows_read]
            c0 = c1

    @staticmethod
    def matrix(buffer, start, stop, groups, nb, rows):
        part = buffer[start:stop, :, :nb, :rows]
        return part.reshape(groups, -1, nb * rows * part.shape[-1])


def _add_upsampled(y, low):
    """``y += upsample2x_nearest(low)`` in place, cropped to y, without a full-size temporary.

    The columns are upsampled first (half the size of y, contiguous rows), then
    added to both rows of each pair by broadcasting: strided adds over every
    other column are twice as slow in NumPy.
    """
    height, width = y.shape[-2:]
    # A few images at a time, so the widened copy stays small (a piece's size).
    step = max(1, CHUNK_BYTES // max(1, y[:1].nbytes // 2))
    for n0 in range(0, y.shape[0], step):
        part, wide = y[n0:n0 + step], np.repeat(low[n0:n0 + step], 2, axis=-1)[..., :width]
        if height == 2 * low.shape[-2]:
            # Splitting the row axis in two is always a view, so the add lands in y.
            row_pairs = part.reshape(part.shape[:-2] + (height // 2, 2, width))
            row_pairs += wide[..., None, :]
        else:
            part[..., 0::2, :] += wide
            part[..., 1::2, :] += wide[..., :height // 2, :]


def _sum_row_taps(z, target, rows, dh, add):
    """``target (+)= sum_i z[:, i, :, :, d_h i : d_h i + rows]``: the row taps as row shifts."""
    kh = z.shape[1]
    first = 0
    if not add:
        if kh == 1:
            np.copyto(target, z[:, 0, :, :, :rows])
            return
        np.add(z[:, 0, :, :, :rows], z[:, 1, :, :, dh:dh + rows], out=target)
        first = 2
    for i in range(first, kh):
        target += z[:, i, :, :, dh * i:dh * i + rows]


def _row_shift_forward(blocks, products, grid, outs, hows, copies=None):
    """Write the products over the channel-stacked input blocks into ``outs`` (row stride 1).

    Parameters
    ----------
    blocks : list of ndarray (N, C_a, H, W)
        Inputs at one resolution; their channels are stacked in order.
    products : list of _Product
        Each reads a contiguous range of the stacked channels.
    grid : _Grid
    outs : list of ndarray
        Per product, (N, C_out, H', W') or, for ``"up"``, the high-resolution
        map (N, C_out, 2H' or 2H' - 1, 2W' or 2W' - 1) it is upsampled into.
    hows : list of {"set", "add", "up"}
        Write, add, or upsample (nearest, by 2) and add.
    copies : list of (ndarray or None), optional
        Per block, an array to copy the block into on the way (see :class:`_Buffers`).
    """
    n, dtype = blocks[0].shape[0], blocks[0].dtype
    (kh, _), dh = grid.kernel, grid.dilation[0]
    out_h, out_w = grid.out_size
    c_total = sum(block.shape[1] for block in blocks)
    f_max = max(product.shape[0] for product in products)
    pieces = _pieces(n, c_total, f_max, grid, dtype.itemsize)
    buffers = _Buffers(blocks, grid, pieces, dtype, copies)
    stacks = [p.stack for p in products]
    z_flat = np.empty(kh * f_max * pieces.images * pieces.buffer_rows * out_w, dtype=dtype)
    low = (np.empty(pieces.images * f_max * pieces.rows * out_w, dtype=dtype)
           if "up" in hows else None)
    for n0, nb, p0, p1 in _forward_pieces(n, pieces, out_h):
        rows, hb = p1 - p0, p1 - p0 + grid.halo
        buffers.fill(n0, nb, p0, hb)
        for product, w_stack, out, how in zip(products, stacks, outs, hows):
            g, f = product.groups, product.shape[0]
            cols = buffers.matrix(buffers.cols, product.start, product.stop, g, nb, hb)
            z = z_flat[:g * w_stack.shape[1] * cols.shape[-1]].reshape(g, w_stack.shape[1], -1)
            np.matmul(w_stack, cols, out=z)
            z = z.reshape(g, kh, f // g, nb, hb, out_w)
            # Written straight into NCHW order (or the small L->H piece).
            dst = (low[:nb * f * rows * out_w].reshape(nb, f, rows, out_w) if how == "up"
                   else out[n0:n0 + nb, :, p0:p1])
            target = dst.reshape(nb, g, f // g, rows, out_w).transpose(1, 2, 0, 3, 4)
            _sum_row_taps(z, target, rows, dh, add=how == "add")
            if how == "up":
                _add_upsampled(out[n0:n0 + nb, :, 2 * p0:2 * p1], dst)


def _grad_rows(dout, up, n0, nb, lo, hi, out_w):
    """Rows [lo, hi) of images [n0, n0 + nb) of a product's output gradient.

    ``up``: ``dout`` is the gradient of the high-resolution map the product
    was upsampled into, and the rows are those of up^T(dout) (the 2x2 block
    sums), computed here for these rows only.
    """
    if not up:
        return dout[n0:n0 + nb, :, lo:hi]
    return upsample2x_nearest_backward(dout[n0:n0 + nb, :, 2 * lo:2 * hi], (hi - lo, out_w))


def _row_shift_backward(blocks, products, douts, grid, ups=None):
    """(d blocks, d weights) of :func:`_row_shift_forward` for the gradients ``douts``.

    ``douts[m]`` is dL/d(product m's output), (N, C_out, H', W'), or, where
    ``ups[m]``, the gradient of the high-resolution map it was upsampled into.
    """
    ups = ups or [False] * len(products)
    n, dtype = blocks[0].shape[0], blocks[0].dtype
    (kh, _), (ph, _), dh = grid.kernel, grid.padding, grid.dilation[0]
    height, width = grid.in_size
    out_h, out_w = grid.out_size
    c_total = sum(block.shape[1] for block in blocks)
    f_max = max(product.shape[0] for product in products)
    pieces = _pieces(n, c_total, f_max, grid, dtype.itemsize)
    buffers = _Buffers(blocks, grid, pieces, dtype)
    dcols = np.empty_like(buffers.cols)
    stacks = [p.stack for p in products]
    dstacks = [np.zeros_like(s) for s in stacks]
    d_bufs = [np.zeros((p.groups, kh, p.shape[0] // p.groups, pieces.images,
                        pieces.buffer_rows, out_w), dtype=dtype) for p in products]
    # A column tap that reads every input column (the centre one of a padded
    # stride-1 kernel) writes dx first, so dx needs no zero fill.
    full = next((j for j, tap in enumerate(buffers.col_taps)
                 if tap is not None and tap[1] == slice(0, width, 1)), None)
    dblocks = [(np.empty_like if full is not None else np.zeros_like)(block) for block in blocks]
    banded = pieces.buffer_rows != grid.padded_rows
    for n0, nb, r0, r1 in _backward_pieces(n, pieces, grid.padded_rows):
        rows = r1 - r0
        buffers.fill(n0, nb, r0, rows)
        written = np.zeros(c_total, dtype=bool)
        for product, w_stack, dw_stack, d, dout, up in zip(products, stacks, dstacks, d_bufs,
                                                           douts, ups):
            g = product.groups
            # The gradient rows this piece reads: [lo, hi).
            lo, hi = max(0, r0 - dh * (kh - 1)), min(out_h, r1)
            dy = (_grad_rows(dout, up, n0, nb, lo, hi, out_w)
                  .reshape(nb, g, -1, hi - lo, out_w).transpose(1, 2, 0, 3, 4))
            # D[g, i, f, n, r] = dy[n, g F/G + f, r0 + r - d_h i], zero outside dy.
            for i in range(kh):
                a, b = max(0, dh * i - r0), min(rows, dh * i + out_h - r0)
                d_i = d[:, i, :, :nb]
                # Rows outside dY: zero from the start for whole images, whose
                # pieces all write the same rows; a band's were another band's.
                if banded and a > 0:
                    d_i[..., :a, :] = 0
                if banded and b < rows:
                    d_i[..., max(a, b):rows, :] = 0
                if b > a:
                    d_i[..., a:b, :] = dy[..., r0 + a - dh * i - lo:r0 + b - dh * i - lo, :]
            d_matrix = d[:, :, :, :nb, :rows].reshape(g, kh * d.shape[2], -1)
            cols = buffers.matrix(buffers.cols, product.start, product.stop, g, nb, rows)
            dw_stack += np.matmul(d_matrix, cols.transpose(0, 2, 1))
            # dcols = W_stack^T D; products reading the same channels add up.
            dc = buffers.matrix(dcols, product.start, product.stop, g, nb, rows)
            seen = written[product.start:product.stop]
            if not seen.any():
                np.matmul(w_stack.transpose(0, 2, 1), d_matrix, out=dc)
            else:
                dcols[product.start + np.flatnonzero(~seen), :, :nb, :rows] = 0
                dc += np.matmul(w_stack.transpose(0, 2, 1), d_matrix)
            seen[:] = True
        # col2im along the columns; padded rows and columns are dropped.
        first, last = max(r0, ph), min(r1, ph + height)
        if last <= first:
            continue
        c0 = 0
        for block, dblock in zip(blocks, dblocks):
            c1 = c0 + block.shape[1]
            dimages = dblock[n0:n0 + nb, :, first - ph:last - ph].transpose(1, 0, 2, 3)
            part = dcols[c0:c1, :, :nb, first - r0:last - r0]
            if full is not None:
                dimages[...] = part[:, full, ..., buffers.col_taps[full][0]]
            for j, tap in enumerate(buffers.col_taps):
                if tap is not None and j != full:
                    dimages[..., tap[1]] += part[:, j, ..., tap[0]]
            c0 = c1
    dws = [_unstack_weights(ds, p.shape, p.groups) for ds, p in zip(dstacks, products)]
    return dblocks, dws


# --------------------------------------------------------------------------- conv

def _conv_memory(x, w, params, backward):
    """Refuse a plain convolution whose working memory exceeds the limit."""
    itemsize = params.dtype.itemsize
    if params.stride[0] != 1:
        nbytes = _im2col_bytes(x.shape, w.shape, params, itemsize)
    else:
        grid = _grid(params, w.shape[2:], x.shape[2:])
        nbytes = _buffer_bytes(x.shape[0], x.shape[1], w.shape[0], grid, itemsize, backward)
    out = x.shape[0] * w.shape[0] * params.out_size[0] * params.out_size[1]
    nbytes += itemsize * (out + (x.size if backward else 0))
    check_memory(nbytes, f"a convolution of x {x.shape} with w {w.shape} "
                 f"({'backward' if backward else 'forward'}: output and buffers)")


def conv_forward(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D cross-correlation (PyTorch's ``conv2d``) by matrix products.

    ``out[n, f, p, q] = b[f] + sum_{c, i, j} w[f, c, i, j]
    x_pad[n, g(f) C/G + c, s p + d i, s q + d j]``.

    Row-shifted columns when the row stride is 1, im2col otherwise (see the
    module docstring).

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
        What :func:`conv_backward` needs: copies of x and w, not their columns.
    """
    x, w, b, params = check_conv_args(x, w, b, stride, padding, dilation, groups)
    _conv_memory(x, w, params, backward=False)
    if params.stride[0] != 1:
        out = _im2col_conv(x, w, params)
    else:
        grid = _grid(params, w.shape[2:], x.shape[2:])
        out = np.empty((x.shape[0], w.shape[0]) + params.out_size, dtype=params.dtype)
        product = _product([w], 0, x.shape[1], params.groups)
        _row_shift_forward([x], [product], grid, [out], ["set"])
    if b is not None:
        out += b[:, None, None]
    cache = Cache("octref.rowshift.conv_forward", x, w, b is not None, params,
                  product if params.stride[0] == 1 else None)
    return out.astype(params.out_dtype, copy=False), cache


def conv_backward(dout, cache):
    """Gradients of :func:`conv_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, C_out, H', W')
        Upstream gradient dL/d out.
    cache : Cache
        From :func:`conv_forward`.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_out, C_in / groups, kh, kw)
    db : ndarray of shape (C_out,), or None when the forward had no bias
    """
    _, x, w, has_bias, params, product = check_cache(cache, "octref.rowshift.conv_forward")
    dout = check_grad(dout, (x.shape[0], w.shape[0]) + params.out_size, "dout", params.dtype)
    _conv_memory(x, w, params, backward=True)
    if params.stride[0] != 1:
        dx, dw = _im2col_conv_backward(dout, x, w, params)
    else:
        grid = _grid(params, w.shape[2:], x.shape[2:])
        (dx,), (dw,) = _row_shift_backward([x], [product], [dout], grid)
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    out = params.out_dtype
    return (dx.astype(out, copy=False), dw.astype(out, copy=False),
            None if db is None else db.astype(out, copy=False))


# --------------------------------------------------------------------------- octconv plan

class _Level(NamedTuple):
    """The paths whose inputs share one resolution, computed in one pass.

    ``sources[a] = (group, times)``: block a is x.<group> pooled ``times`` times.
    ``products[m]`` computes ``paths[m]`` (two paths when merged, their weights
    concatenated along the input channels in block order) and goes into
    output ``dsts[m]``: "high", "low", or "up" (L->H at stride 1, upsampled
    into the high output).
    """

    sources: list
    channels: list
    products: list
    paths: list
    dsts: list
    grid: _Grid


def _dst(path, spec):
    if path == "lh" and spec.stride == 1:
        return "up"
    return path_ends(path)[1]


def _octave_plan(x, w, spec):
    """(levels, strided): the passes of the forward and whether H->L is a stride-2 conv.

    Paths are grouped by the size of the map they read, high resolution first
    (so that Y^H exists when L->H is added into it). Inside a level, two paths
    into the same output with groups == 1 that read adjacent blocks become one
    product over their stacked channels (e.g. ``[W^HL W^LL]`` against
    ``[pool(X^H); X^L]``). Plain Python on a handful of items: this runs on
    every call, so it stays cheap.
    """
    strided = "hl" in spec.paths and spec.downsample == "strided"
    by_size = {}
    for path in spec.paths:
        if path == "hl" and strided:
            continue
        source = path_source(path, spec.stride, spec.downsample)
        size = pooled_size(spec.in_size[source[0]], source[1])
        by_size.setdefault(size, []).append((path, source, _dst(path, spec)))
    k, pad = spec.kernel, spec.padding
    levels = []
    for size in sorted(by_size, reverse=True):
        members = by_size[size]
        sources = list(dict.fromkeys(source for _, source, _ in members))
        channels = [getattr(x, group).shape[1] for group, _ in sources]
        offsets = [0]
        for c in channels:
            offsets.append(offsets[-1] + c)
        products, paths, dsts = [], [], []
        for dst in ("high", "low", "up"):
            into = sorted((sources.index(src), p) for p, src, d in members if d == dst)
            if (len(into) == 2 and into[1][0] == into[0][0] + 1
                    and spec.path_groups[into[0][1]] == spec.path_groups[into[1][1]] == 1):
                products.append(_product([getattr(w, p) for _, p in into], offsets[into[0][0]],
                                         offsets[into[1][0] + 1], 1))
                paths.append((into[0][1], into[1][1]))
                dsts.append(dst)
            else:
                for a, p in into:
                    products.append(_product([getattr(w, p)], offsets[a], offsets[a + 1],
                                             spec.path_groups[p]))
                    paths.append((p,))
                    dsts.append(dst)
        out_size = (size[0] + 2 * pad - k + 1, size[1] + 2 * pad - k + 1)
        grid = _Grid((k, k), (pad, pad), (1, 1), 1, size, out_size)
        levels.append(_Level(sources, channels, products, paths, dsts, grid))
    return levels, strided


def _strided_params(spec):
    return ConvParams((2, 2), (spec.padding,) * 2, (1, 1), spec.path_groups["hl"],
                      spec.out_size["low"], spec.dtype, spec.dtype)


def _octave_memory(spec, levels, w_hl, backward):
    """Refuse an octave convolution whose working memory exceeds the limit.

    Counted: the outputs (backward: dx, and the kept inputs), every pooled map,
    the largest pass's buffers, and the stride-2 H->L path's im2col columns.
    """
    itemsize = spec.dtype.itemsize
    n = spec.batch
    shapes = spec.in_shapes
    elements = sum(math.prod(shape) for shape in spec.out_shapes.values())
    if backward:
        elements += 2 * sum(math.prod(shape) for shape in shapes.values())
    for group, times in {s for level in levels for s in level.sources}:
        if times:
            size = pooled_size(spec.in_size[group], times)
            elements += n * shapes[group][1] * size[0] * size[1] * (1 + backward)
    nbytes = itemsize * elements
    nbytes += max((_buffer_bytes(n, sum(level.channels),
                                 max(p.shape[0] for p in level.products), level.grid,
                                 itemsize, backward) for level in levels), default=0)
    if w_hl is not None:     # the stride-2 H->L path
        nbytes += _im2col_bytes(shapes["high"], w_hl.shape, _strided_params(spec), itemsize)
    check_memory(nbytes, "an octave convolution of x "
                 f"{tuple(shapes.get(g) for g in GROUPS)} "
                 f"({'backward' if backward else 'forward'}: outputs, pooled maps and buffers)")


def _ours(array, given):
    """Whether ``array`` is octref's own (a cast of the caller's ``given``), not a view."""
    return array.base is None and array is not given


def _pooled_inputs(x, sources):
    """``{(group, times): x.<group> pooled times times}`` for ``sources``, each pooling once."""
    pooled = {}
    for group, times in sorted(set(sources)):
        pooled.setdefault((group, 0), getattr(x, group))
        for t in range(1, times + 1):
            if (group, t) not in pooled:
                pooled[(group, t)] = pool2x2(pooled[(group, t - 1)])
    return {source: pooled[source] for source in sources}

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
        ceil(H/2), ceil(W/2)); either may be None. Integers compute in
        float64, float16 in float32.
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
    cache : Cache
        What :func:`octconv_backward` needs (in ``saved``): the maps the passes
        read (copies of the inputs read unpooled, and the pooled inputs), the
        plan, not their columns.
    """
    # Casts without copies: the copies the backward needs are made here, once:
    # the weights in the layout of the products (their stacks), and each input
    # map a pass reads unpooled, copied by the pass's column fills while the
    # rows are in cache (pooled maps are new arrays anyway; at stride 2 no pass
    # reads X^H itself, so it is not copied).
    x_in = x
    x, w, b, spec = check_octconv_args(x, w, b, stride, padding, groups, downsample,
                                       private=False)
    levels, strided = _octave_plan(x, w, spec)
    w_hl = w.hl.copy() if strided else None
    _octave_memory(spec, levels, w_hl, backward=False)
    pooled = _pooled_inputs(x, [s for level in levels for s in level.sources])
    copies = {source: np.empty_like(a) for source, a in pooled.items()
              if source[1] == 0 and not _ours(a, getattr(x_in, source[0]))}
    y = {}
    for level in levels:
        hows, outs = [], []
        for dst in level.dsts:
            group = "high" if dst == "up" else dst
            if group not in y:
                # L->H adds into Y^H; only a layer without H->H starts it from zeros.
                y[group] = (np.zeros if dst == "up" else np.empty)(spec.out_shapes[group],
                                                                   dtype=spec.dtype)
                hows.append("add" if dst == "up" else "set")
            else:
                hows.append("add")
            if dst == "up":
                hows[-1] = "up"
            outs.append(y[group])
        _row_shift_forward([pooled[s] for s in level.sources], level.products, level.grid,
                           outs, hows, [copies.get(s) for s in level.sources])
    pooled.update(copies)
    x_high = None
    if strided:
        # The stride-2 H->L path reads X^H itself: a pass's copy, or a copy of its own.
        x_high = pooled.get(("high", 0))
        if x_high is None:
            x_high = x.high if _ours(x.high, x_in.high) else x.high.copy()
        out = _im2col_conv(x_high, w_hl, _strided_params(spec))
        y["low"] = y["low"] + out if "low" in y else out
    if b is not None:
        for group, bias in zip(GROUPS, b):
            if bias is not None:
                y[group] += bias[:, None, None]
    has_bias = {g: b is not None and bias is not None
                for g, bias in zip(GROUPS, b or (None, None))}
    cache = Cache("octref.rowshift.octconv_forward", None, None, has_bias, spec,
                  (levels, pooled, w_hl, x_high))
    y = Octave(*(y[g].astype(spec.out_dtype, copy=False) if g in y else None for g in GROUPS))
    return y, cache


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
    cache : Cache
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
    _, _, _, has_bias, spec, (levels, pooled, w_hl, x_high) = check_cache(
        cache, "octref.rowshift.octconv_forward")
    dys = check_octave_grad(dy, spec)
    _octave_memory(spec, levels, w_hl, backward=True)
    dsources, dws = {}, {}
    for level in levels:
        # L->H's gradient goes through up^T piece by piece, inside the pass.
        douts = [dys[path_ends(paths[0])[1]] for paths in level.paths]
        dblocks, dweights = _row_shift_backward([pooled[s] for s in level.sources],
                                                level.products, douts, level.grid,
                                                [dst == "up" for dst in level.dsts])
        for source, dblock in zip(level.sources, dblocks):
            dsources[source] = dsources[source] + dblock if source in dsources else dblock
        for paths, dweight in zip(level.paths, dweights):
            # A merged product's gradient splits back along the input channels.
            splits = np.cumsum([spec.layout.weight_shape(p, spec.kernel)[1]
                                for p in paths])[:-1]
            for p, part in zip(paths, np.split(dweight, splits, axis=1)):
                dws[p] = part
    dxs = {}
    if w_hl is not None:
        dxs["high"], dws["hl"] = _im2col_conv_backward(dys["low"], x_high, w_hl,
                                                       _strided_params(spec))
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
                # into the gradient already there (ours to modify).
                grad *= grad.dtype.type(0.25)
                _add_upsampled(finer, grad)
                grad = finer
            else:
                grad = pool2x2_backward(grad, size)
                if finer is not None:
                    grad += finer
        dxs[group] = dxs[group] + grad if group in dxs else grad
    # An input group no path reads (a depthwise layer that drops it) gets zeros.
    shapes = spec.in_shapes
    dx = Octave(*(None if g not in shapes else dxs[g] if g in dxs
                  else np.zeros(shapes[g], dtype=spec.dtype) for g in GROUPS))
    dw = OctaveWeights(*(dws.get(p) for p in PATHS))
    db = None
    if any(has_bias.values()):
        db = Octave(*(dys[g].sum(axis=(0, 2, 3)) if has_bias[g] else None for g in GROUPS))

    def out(a):
        return None if a is None else a.astype(spec.out_dtype, copy=False)
    db = None if db is None else Octave(*map(out, db))
    return Octave(*map(out, dx)), OctaveWeights(*map(out, dw)), db
